"""4-bit blockwise quantization: FP4 and NF4, with optional double quantization.

This is bitsandbytes' ``quantize_4bit`` / ``dequantize_4bit``, the storage format
behind ``Linear4bit`` and QLoRA (Dettmers et al. 2023, arXiv:2305.14314):

1. Flatten the tensor and cut it into blocks of ``blocksize`` values (64 by default).
2. Per block, ``absmax = max |x|`` (float32) and ``s = x / absmax`` in [-1, 1].
3. Each ``s`` becomes the index (0..15) of the nearest value in a 16-entry table:
   NF4 (normal quantiles) or FP4 (a tiny float), see :mod:`qlab.codebooks`.
   "Nearest" means: count the midpoints between neighbouring table values that
   lie strictly below ``s`` (an exact tie goes to the lower value).
4. Two 4-bit indices share one byte, the *first* in the high nibble.

Dequantizing is ``table[index] · absmax`` in float32, then rounded to the
original dtype. Storage: n/2 bytes of codes + 4 bytes per block, i.e.
4 + 32/64 = 4.5 bits per parameter for blocksize 64.

**Double quantization** (``compress_statistics=True``, QLoRA §3) stores the
float32 block scales in 8 bits too: subtract their mean ("offset"), then use the
8-bit blockwise quantizer of :mod:`qlab.blockwise` with blocks of 256 scales.
That costs 8/64 + 32/(64·256) ≈ 0.127 bits per parameter instead of 0.5.

Exact details copied from bitsandbytes 0.50 so results match bit for bit: the
scale is applied as ``x · (1/absmax)`` for full blocks but ``x / absmax`` for a
shorter last block; the last block's absmax is stored clamped to >= 1e-38
(full all-zero blocks store 0); an odd count is padded with one 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from math import prod
from typing import Any

import numpy as np

from ._arrays import (
    as_float_array,
    check_choice,
    float32_mean,
    output_origin,
    restore,
    restore_fields,
    to_numpy,
)
from .backend import dispatch
from .blockwise import BlockwiseState, block_scales, quantize_blocks_8bit
from .codebooks import create_dynamic_map, get_4bit_code

BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
"""Block sizes bitsandbytes accepts for 4-bit quantization."""
QUANT_TYPES = ("nf4", "fp4")
NESTED_BLOCKSIZE = 256  # double quantization: block scales are quantized 256 at a time
_CHUNK = 1 << 16  # values processed at once; keeps temporaries in the CPU cache


@dataclass
class QuantState:
    """Everything needed to dequantize 4-bit codes (mirrors ``bitsandbytes.functional.QuantState``).

    Attributes:
        absmax: float32 scale per block; with double quantization, the uint8
            codes of (scale - offset) instead.
        shape: the original tensor's shape.
        dtype: the original dtype name ("float32", "float16", "bfloat16").
        blocksize: values per block.
        quant_type: "nf4" or "fp4".
        code: the 16-entry table (a constant of the format, not stored per tensor).
        offset: double quantization only: the mean subtracted from the scales.
        state2: double quantization only: how the scales were quantized.
    """

    absmax: Any
    shape: tuple[int, ...]
    dtype: str
    blocksize: int
    quant_type: str
    code: Any = field(repr=False, default=None)
    offset: Any = None
    state2: BlockwiseState | None = None

    @property
    def nested(self) -> bool:
        return self.state2 is not None


def check_4bit_args(quant_type: str, blocksize: Any, func: str) -> None:
    check_choice(quant_type, name="quant_type", func=func, choices=QUANT_TYPES)
    if isinstance(blocksize, bool) or blocksize not in BLOCKSIZES:
        raise ValueError(
            f"{func}: invalid blocksize {blocksize!r}; choose one of {', '.join(map(str, BLOCKSIZES))}"
        )


@cache
def _bin_tables(quant_type: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Tables that find each value's code with two lookups instead of a search.

    [-1, 1] is cut into 2^16 equal bins. Every bin contains at most one of the
    15 midpoints, so a value's code is "codes below this bin" plus one if it lies
    above the bin's midpoint. Because rounding is monotone, this gives exactly
    the same answer as counting midpoints below the value (bitsandbytes'
    ``torch.bucketize``), while costing two gathers per value.
    Returns (code_by_bin_and_side of shape (bins, 2), midpoint_in_bin, bins/2).
    """
    code = get_4bit_code(quant_type)
    # Stable sort keeps +0 (pattern 0) before -0 (pattern 8) for FP4, as torch.argsort does,
    # so 0.0 gets code 0 and tiny positive values get code 8.
    order = np.argsort(code, kind="stable")
    midpoints = (code[order[:-1]] + code[order[1:]]) / np.float32(2)
    bins = 1 << 16
    half = np.float32(bins // 2)
    bin_of_mid = np.floor((midpoints + np.float32(1)) * half).astype(np.int64)
    assert np.all(np.diff(bin_of_mid) > 0), "two midpoints share a bin"
    below = np.searchsorted(bin_of_mid, np.arange(bins + 1), side="left")  # midpoints in lower bins
    mid_in_bin = np.full(bins + 1, np.inf, dtype=np.float32)
    mid_in_bin[bin_of_mid] = midpoints
    sorted_index = np.stack([below, np.minimum(below + 1, 15)], axis=1)
    return order[sorted_index].astype(np.uint8), mid_in_bin, float(half)


def _codes_of(scaled: np.ndarray, quant_type: str) -> np.ndarray:
    """4-bit code (uint8 0..15) of each value of ``scaled`` (already in [-1, 1], or NaN)."""
    by_bin, mid_in_bin, half = _bin_tables(quant_type)
    by_bin_flat = by_bin.reshape(-1)
    codes = np.empty(scaled.size, dtype=np.uint8)
    # Work through the array in cache-sized chunks: each step below makes a
    # temporary, and temporaries that stay in the CPU cache are several times faster.
    for start in range(0, scaled.size, _CHUNK):
        s = scaled[start : start + _CHUNK]
        nan = np.isnan(s)
        has_nan = nan.any()
        if has_nan:
            s = np.where(nan, np.float32(1), s)
        b = ((s + np.float32(1)) * np.float32(half)).astype(np.int32)
        above = s > mid_in_bin.take(b)
        b <<= 1
        b += above
        chunk = by_bin_flat.take(b)
        if has_nan:  # NaN sorts after every midpoint in torch.bucketize: the largest code
            chunk[nan] = by_bin[-1, 1]
        codes[start : start + _CHUNK] = chunk
    return codes


def scale_blocks(flat: np.ndarray, blocksize: int) -> tuple[np.ndarray, np.ndarray]:
    """Split into blocks and scale into [-1, 1]; returns (scaled values (flat), absmax per block)."""
    n = flat.size
    full = n - n % blocksize
    blocks = flat[:full].reshape(-1, blocksize)
    # max|x| as max(max x, -min x): two reads, no temporary |x| array; NaN propagates as in torch
    absmax = np.maximum(blocks.max(axis=1, initial=-np.inf), -blocks.min(axis=1, initial=np.inf)).astype(
        np.float32
    )
    scaled = np.empty(n, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):  # inf and NaN are kept as bitsandbytes keeps them
        inverse = np.float32(1) / np.maximum(absmax, np.float32(1e-38))
        np.multiply(blocks, inverse[:, None], out=scaled[:full].reshape(-1, blocksize))
        if full < n:
            tail = flat[full:]
            tail_max = np.abs(tail).max()
            tail_max = np.float32(np.nan if np.isnan(tail).any() else max(tail_max, np.float32(1e-38)))
            np.divide(tail, tail_max, out=scaled[full:])
            absmax = np.append(absmax, tail_max).astype(np.float32)
        np.clip(scaled, -1, 1, out=scaled)
    return scaled, absmax


def pack_nibbles(codes: np.ndarray) -> np.ndarray:
    """Two 4-bit codes per byte, the first in the high nibble; odd counts get a padding code."""
    return ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8)


def unpack_nibbles(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pack_nibbles` for the first ``n`` codes."""
    flat = packed.reshape(-1)
    return np.stack([flat >> 4, flat & 0x0F], axis=1).reshape(-1)[:n]


@dispatch
def quantize_4bit(
    A: Any,
    quant_type: str = "nf4",
    blocksize: int = 64,
    compress_statistics: bool = False,
    *,
    allow_nonfinite: bool = False,
) -> tuple[Any, QuantState]:
    """Quantize ``A`` to packed 4-bit codes (bitsandbytes ``functional.quantize_4bit``).

    Args:
        A: float32/float16/bfloat16 array or tensor of any shape.
        quant_type: "nf4" (default, best for normally distributed weights) or "fp4".
        blocksize: values per absmax block, one of 32, 64, ..., 4096.
        compress_statistics: double quantization of the block scales (QLoRA).
        allow_nonfinite: accept NaN/Inf and treat them exactly as bitsandbytes does
            (a NaN makes its whole block NaN; +-Inf comes back as +Inf and NaNs).

    Returns:
        ``(packed, state)``: uint8 of shape ((n+1)//2, 1) and a :class:`QuantState`.
    """
    func = "quantize_4bit"
    check_4bit_args(quant_type, blocksize, func)
    x, origin = as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
    flat = x.reshape(-1)
    scaled, absmax = scale_blocks(flat, blocksize)
    if scaled.size % 2:
        scaled = np.append(scaled, np.float32(0))
    packed = pack_nibbles(_codes_of(scaled, quant_type)).reshape(-1, 1)
    state = QuantState(absmax, tuple(x.shape), origin.dtype, blocksize, quant_type, get_4bit_code(quant_type))
    if compress_statistics:
        state.offset, state.absmax, state.state2 = double_quantize(absmax)
        restore_fields(state.state2, origin, ("absmax", "code"))
    restore_fields(state, origin, ("absmax", "code", "offset"))
    return restore(packed, origin), state


def double_quantize(
    absmax: np.ndarray, offset: float | None = None
) -> tuple[np.ndarray, np.ndarray, BlockwiseState]:
    """Quantize float32 block scales to 8 bits: returns (offset, uint8 codes, state of the scales).

    ``offset`` defaults to the mean of the scales, rounded as bitsandbytes
    rounds it (see :func:`qlab._arrays.float32_mean`).
    """
    absmax = np.asarray(absmax, dtype=np.float32)
    mean = float32_mean(absmax) if offset is None else np.float32(offset)
    table = create_dynamic_map()
    codes, absmax2 = quantize_blocks_8bit(absmax - mean, table, NESTED_BLOCKSIZE)
    state2 = BlockwiseState(absmax=absmax2, code=table, blocksize=NESTED_BLOCKSIZE, dtype="float32")
    return np.asarray(mean), codes, state2


@dispatch
def dequantize_4bit(A: Any, state: QuantState) -> Any:
    """Undo :func:`quantize_4bit`: ``table[code] · absmax`` in float32, cast to ``state.dtype``."""
    func = "dequantize_4bit"
    if not isinstance(state, QuantState):
        raise TypeError(
            f"{func}: state must be the qlab QuantState returned by quantize_4bit, got {type(state).__name__}"
        )
    check_4bit_args(state.quant_type, state.blocksize, func)
    packed = np.ascontiguousarray(to_numpy(A))
    if packed.dtype != np.uint8:
        raise TypeError(f"{func}: packed codes must be uint8, got {packed.dtype}")
    n = prod(state.shape)
    if packed.size != (n + 1) // 2:
        raise ValueError(f"{func}: shape {state.shape} needs {(n + 1) // 2} packed bytes, got {packed.size}")
    scales = block_scales(state) if state.nested else np.asarray(to_numpy(state.absmax), dtype=np.float32)
    if scales.size != -(-n // state.blocksize):
        raise ValueError(
            f"{func}: {n} values in blocks of {state.blocksize} need {-(-n // state.blocksize)} scales, got {scales.size}"
        )
    values = _lookup_pairs(packed.reshape(-1), state.quant_type)[:n]
    full = n - n % state.blocksize
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN scales: kept, as bitsandbytes keeps them
        head = values[:full].reshape(-1, state.blocksize)
        np.multiply(head, scales[: head.shape[0], None], out=head)
        if full < n:
            values[full:] *= scales[-1]
    return restore(values.reshape(state.shape), output_origin(A, state.dtype), float_dtype=state.dtype)


@cache
def _table_pairs(quant_type: str) -> np.ndarray:
    """For each byte 0..255, its two table values (high nibble first), as one 8-byte word."""
    code = get_4bit_code(quant_type)
    byte = np.arange(256)
    pairs = np.stack([code[byte >> 4], code[byte & 0x0F]], axis=1).astype(np.float32)
    return pairs.view(np.uint64).reshape(-1)


def _lookup_pairs(packed: np.ndarray, quant_type: str) -> np.ndarray:
    """Float32 table values of every nibble of ``packed``: one 8-byte gather per byte."""
    return _table_pairs(quant_type).take(packed).view(np.float32)
