"""Finding each value's 4-bit code fast, without searching: the float-bits trick.

The rule (bitsandbytes' ``torch.bucketize``) is simple: the code of a scaled value
``s`` is the number of midpoints between neighbouring table entries that lie
strictly below ``s``. A binary search per value does that, but for 16 million
values it is slow in numpy. This module gets the same answer with one table
lookup per value.

The trick: the top 16 bits of a float32 (sign, exponent, 7 mantissa bits) cut the
real line into 65,536 ordered intervals. Almost every interval lies entirely
between two midpoints, so every value in it has the same code; we precompute that
code per interval. Only the ~20 intervals that contain a midpoint (and the
NaN/Inf patterns) are marked "ambiguous"; the few values that fall into them are
resolved exactly with ``np.searchsorted``. The result is identical to the
search for every float32 input, NaN and ±0 included (tests check it).

Packing two codes into a byte uses the same idea: the two code bytes, read as one
16-bit number, index a 65,536-entry table of packed bytes.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .codebooks import get_4bit_code

try:  # optional: only used to round to float16/bfloat16 faster
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

CHUNK = 1 << 16
"""Values handled per step: temporaries of this size stay in the CPU cache, which
makes a chain of numpy operations several times faster than on whole arrays."""

_AMBIGUOUS = np.uint8(255)


@cache
def sorted_table(quant_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(midpoints between sorted table values, sorted position -> code)."""
    code = get_4bit_code(quant_type)
    # A stable sort keeps +0 (pattern 0) before -0 (pattern 8) in FP4, as torch.argsort
    # does, so 0.0 gets code 0 and tiny positive values get code 8.
    order = np.argsort(code, kind="stable").astype(np.uint8)
    midpoints = (code[order[:-1]] + code[order[1:]]) / np.float32(2)
    return midpoints.astype(np.float32), order


def exact_codes(s: np.ndarray, quant_type: str) -> np.ndarray:
    """The reference rule: count midpoints strictly below each value (NaN counts all)."""
    midpoints, order = sorted_table(quant_type)
    return order[np.searchsorted(midpoints, s, side="left")]


@cache
def _code_by_top_bits(quant_type: str) -> np.ndarray:
    """For each 16-bit prefix of a float32: the code of every value with that prefix, or 255."""
    midpoints, order = sorted_table(quant_type)
    prefix = np.arange(1 << 16, dtype=np.uint32) << 16
    ends = np.stack([prefix, prefix | 0xFFFF]).view(np.float32)  # the interval's two ends
    with np.errstate(invalid="ignore"):
        low, high = ends.min(axis=0), ends.max(axis=0)  # NaN prefixes give NaN here
        table = exact_codes(low, quant_type)
        holds_midpoint = np.searchsorted(midpoints, low, "left") != np.searchsorted(midpoints, high, "right")
    table[holds_midpoint | np.isnan(low) | np.isinf(ends).any(axis=0)] = _AMBIGUOUS
    return table


def codes_of(scaled: np.ndarray, quant_type: str) -> np.ndarray:
    """4-bit code (uint8, 0..15) of every float32 value of ``scaled``; same as :func:`exact_codes`."""
    table = _code_by_top_bits(quant_type)
    bits = scaled.view(np.uint32)
    codes = np.empty(scaled.size, dtype=np.uint8)
    for start in range(0, scaled.size, CHUNK):  # a loop over cache-sized chunks, not over values
        chunk = table.take(bits[start : start + CHUNK] >> 16)
        unsure = np.flatnonzero(chunk == _AMBIGUOUS)
        if unsure.size:
            chunk[unsure] = exact_codes(scaled[start + unsure], quant_type)
        codes[start : start + CHUNK] = chunk
    return codes


@cache
def _pack_table() -> np.ndarray:
    """Packed byte ``(first << 4) | second`` for every pair of codes, indexed by the pair read as uint16."""
    first, second = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    pairs = np.stack([first.ravel(), second.ravel()], axis=1).astype(np.uint8)
    table = np.zeros(1 << 16, dtype=np.uint8)
    table[pairs.view(np.uint16).ravel()] = ((pairs[:, 0] << 4) | (pairs[:, 1] & 0x0F)).astype(np.uint8)
    return table


def pack_nibbles(codes: np.ndarray) -> np.ndarray:
    """Two 4-bit codes per byte, the first in the high nibble (``codes`` must have even length)."""
    return _pack_table().take(np.ascontiguousarray(codes).view(np.uint16))


@cache
def _pair_table(quant_type: str) -> np.ndarray:
    """For each byte 0..255, its two table values (high nibble first) as one 8-byte word."""
    code = get_4bit_code(quant_type)
    byte = np.arange(256)
    pairs = np.stack([code[byte >> 4], code[byte & 0x0F]], axis=1).astype(np.float32)
    return pairs.view(np.uint64).reshape(-1)


def dequantize_into(
    out: np.ndarray, packed: np.ndarray, scales: np.ndarray, blocksize: int, quant_type: str
) -> None:
    """``out[i] = table[code_i] · scale of i's block``, computed in float32, for an even-length ``out``.

    ``out`` may be float32, float16 or bfloat16 (ml_dtypes); the float32 product
    is rounded to it at the end, as bitsandbytes does. Each byte is looked up once
    (two values at a time) and each chunk is scaled, and rounded, while it is still
    in the cache. ``CHUNK`` is a multiple of every block size.
    """
    pairs = _pair_table(quant_type)
    n = out.size
    buffer = out if out.dtype == np.float32 else np.empty(min(CHUNK, n), dtype=np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        chunk = out[start:stop] if buffer is out else buffer[: stop - start]
        # mode="clip" lets numpy write straight into `chunk` (indices are bytes: nothing is clipped)
        pairs.take(packed[start // 2 : stop // 2], out=chunk.view(np.uint64), mode="clip")
        full = (stop - start) - (stop - start) % blocksize
        head = chunk[:full].reshape(-1, blocksize)
        first_block = start // blocksize
        np.multiply(head, scales[first_block : first_block + head.shape[0], None], out=head)
        if full < stop - start:
            chunk[full:] *= scales[first_block + head.shape[0]]
        if buffer is not out:
            round_into(out[start:stop], chunk)


def round_into(dst: np.ndarray, src: np.ndarray) -> None:
    """Round float32 ``src`` to ``dst``'s half-precision dtype (to nearest even).

    torch does this several times faster than numpy's float16 conversion, with
    the same result, so qlab uses it when it is installed.
    """
    if torch is None:
        dst[...] = src
        return
    target = torch.float16 if dst.dtype == np.float16 else torch.bfloat16
    torch.from_numpy(dst.view(np.int16)).view(target).copy_(torch.from_numpy(src))
