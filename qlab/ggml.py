"""llama.cpp's block formats (GGML / GGUF), in readable numpy.

A GGUF file stores each weight tensor row by row, and each row as a sequence of
*blocks*: a few bytes of scale (and sometimes a minimum) followed by packed
integer codes. The structs below are copied from llama.cpp's
``ggml/src/ggml-common.h``; ``ggml_half`` is an IEEE float16. Everything here
is bit-exact with the ``gguf`` Python package's ``gguf.quants`` (which is
itself tested against libggml), checked in ``tests/test_ggml.py``.

Legacy formats: 32 weights per block, one scale ``d`` per block::

    typedef struct { ggml_half d; uint8_t qs[16]; } block_q4_0;      // x = d * (q - 8)
    typedef struct { ggml_half d; ggml_half m; uint8_t qs[16]; } block_q4_1;   // x = d * q + m
    typedef struct { ggml_half d; uint8_t qh[4]; uint8_t qs[16]; } block_q5_0;  // x = d * (q - 16)
    typedef struct { ggml_half d; ggml_half m; uint8_t qh[4]; uint8_t qs[16]; } block_q5_1;
    typedef struct { ggml_half d; int8_t qs[32]; } block_q8_0;       // x = d * q

In ``qs`` byte ``j`` holds element ``j`` in its **low** nibble and element
``j + 16`` in its high nibble (bitsandbytes, lesson 06, puts the *first* of two
neighbours in the *high* nibble). ``qh`` holds the fifth bit of element ``j`` in
bit ``j`` of a little-endian uint32.

k-quants (Kawrakow 2023, llama.cpp PR #1684): *super-blocks* of ``QK_K = 256``
weights split into sub-blocks of 16 or 32, each with its own small integer
scale (and min) that is itself quantized under one float16 super-block scale::

    typedef struct {                       // 2.625 bits per weight
        uint8_t scales[QK_K/16];           // 4-bit scale | 4-bit min per 16 weights
        uint8_t qs[QK_K/4];                // 2-bit codes
        ggml_half d, dmin;                 // x = d * sc * q - dmin * m
    } block_q2_K;
    typedef struct {                       // 3.4375 bits per weight
        uint8_t hmask[QK_K/8];             // high bit of the 3-bit codes
        uint8_t qs[QK_K/4];                // low 2 bits
        uint8_t scales[12];                // 6-bit signed scales, 16 weights each
        ggml_half d;                       // x = d * (sc - 32) * (q - 4)
    } block_q3_K;
    typedef struct {                       // 4.5 bits per weight
        ggml_half d, dmin;
        uint8_t scales[12];                // 6-bit scale and 6-bit min per 32 weights
        uint8_t qs[QK_K/2];                // 4-bit codes; x = d * sc * q - dmin * m
    } block_q4_K;
    typedef struct {                       // 5.5 bits per weight
        ggml_half d, dmin;
        uint8_t scales[12];
        uint8_t qh[QK_K/8];                // fifth bit
        uint8_t qs[QK_K/2];
    } block_q5_K;
    typedef struct {                       // 6.5625 bits per weight
        uint8_t ql[QK_K/2];                // low 4 bits
        uint8_t qh[QK_K/4];                // high 2 bits
        int8_t  scales[QK_K/16];           // 8-bit scale per 16 weights
        ggml_half d;                       // x = d * sc * (q - 32)
    } block_q6_K;

Bits per weight follow from the layouts alone (:func:`bits_per_weight`): Q4_0
stores 2 + 16 = 18 bytes for 32 weights, 4.5 bits; Q4_K 144 bytes for 256, 4.5;
Q6_K 210 bytes for 256, 6.5625.

:func:`quantize` writes the legacy formats exactly as llama.cpp's reference
quantizers (``quantize_row_*_ref`` in ``ggml-quants.c``) do; :func:`dequantize`
reads every format above. :func:`quantize_q4_k` is a *simple* Q4_K quantizer
(min/max per sub-block, 6-bit sub-scales under the float16 super-block scale);
llama.cpp's own Q4_K quantizer searches for better sub-block scales and mins
(``make_qkx2_quants``: a weighted least-squares fit over 20 candidate scales) and
so has a smaller error, which lesson 09 measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qlab._arrays import as_float_array, check_choice

__all__ = [
    "QK_K",
    "BlockLayout",
    "LAYOUTS",
    "QUANTIZE_TYPES",
    "bits_per_weight",
    "bytes_per_row",
    "quantize",
    "dequantize",
    "quantize_q4_k",
]

QK_K = 256  # weights per k-quant super-block


@dataclass(frozen=True)
class BlockLayout:
    """One GGML block: how many weights it holds and its fields in memory order."""

    name: str
    block_size: int  # weights per block
    fields: tuple[tuple[str, int], ...]  # (field name, bytes), in struct order

    @property
    def type_size(self) -> int:
        """Bytes per block (``sizeof(block_...)``)."""
        return sum(n for _, n in self.fields)

    def split(self, blocks: np.ndarray) -> dict[str, np.ndarray]:
        """The fields of a ``(n_blocks, type_size)`` uint8 array, as uint8 views."""
        out, start = {}, 0
        for field, n in self.fields:
            out[field] = blocks[:, start : start + n]
            start += n
        return out


LAYOUTS: dict[str, BlockLayout] = {
    layout.name: layout
    for layout in (
        BlockLayout("Q4_0", 32, (("d", 2), ("qs", 16))),
        BlockLayout("Q4_1", 32, (("d", 2), ("m", 2), ("qs", 16))),
        BlockLayout("Q5_0", 32, (("d", 2), ("qh", 4), ("qs", 16))),
        BlockLayout("Q5_1", 32, (("d", 2), ("m", 2), ("qh", 4), ("qs", 16))),
        BlockLayout("Q8_0", 32, (("d", 2), ("qs", 32))),
        BlockLayout("Q2_K", QK_K, (("scales", QK_K // 16), ("qs", QK_K // 4), ("d", 2), ("dmin", 2))),
        BlockLayout("Q3_K", QK_K, (("hmask", QK_K // 8), ("qs", QK_K // 4), ("scales", 12), ("d", 2))),
        BlockLayout("Q4_K", QK_K, (("d", 2), ("dmin", 2), ("scales", 12), ("qs", QK_K // 2))),
        BlockLayout(
            "Q5_K", QK_K, (("d", 2), ("dmin", 2), ("scales", 12), ("qh", QK_K // 8), ("qs", QK_K // 2))
        ),
        BlockLayout("Q6_K", QK_K, (("ql", QK_K // 2), ("qh", QK_K // 4), ("scales", QK_K // 16), ("d", 2))),
    )
}

QUANTIZE_TYPES: tuple[str, ...] = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")
"""Formats :func:`quantize` writes (the k-quants: :func:`quantize_q4_k`, or llama.cpp)."""


def _type_name(qtype: Any, allowed: tuple[str, ...], func: str) -> str:
    name = getattr(qtype, "name", qtype)  # also accepts gguf.GGMLQuantizationType members
    return check_choice(name, name="type", func=func, choices=allowed)


def bits_per_weight(qtype: Any) -> float:
    """Bits stored per weight by a GGML type: ``8 * sizeof(block) / weights per block``."""
    layout = LAYOUTS[_type_name(qtype, tuple(LAYOUTS), "bits_per_weight")]
    return 8 * layout.type_size / layout.block_size


def bytes_per_row(n: int, qtype: Any) -> int:
    """Bytes of one row of ``n`` weights (``n`` must be a multiple of the block size)."""
    layout = LAYOUTS[_type_name(qtype, tuple(LAYOUTS), "bytes_per_row")]
    if not isinstance(n, int) or n <= 0 or n % layout.block_size:
        raise ValueError(
            f"bytes_per_row: a {layout.name} row holds a multiple of {layout.block_size} weights"
        )
    return n // layout.block_size * layout.type_size


# --- helpers -----------------------------------------------------------------


def _half(x: np.ndarray) -> np.ndarray:
    """float32 -> the 2 bytes of a ggml_half (round to nearest even, as GGML_FP32_TO_FP16)."""
    with np.errstate(over="ignore"):  # |d| > 65504 becomes inf, as in llama.cpp
        return x.astype(np.float16).view(np.uint8)


def _unhalf(b: np.ndarray) -> np.ndarray:
    """The 2 bytes of a ggml_half -> float32, shape (n_blocks, 1)."""
    return np.ascontiguousarray(b).view(np.float16).astype(np.float32)


def _inverse(d: np.ndarray) -> np.ndarray:
    """``1/d`` where ``d != 0``, else 0 (llama.cpp: ``id = d ? 1.0f/d : 0.0f``), in float32."""
    safe = np.where(d == 0, np.float32(1), d)
    with np.errstate(over="ignore"):  # d subnormal: 1/d overflows, as in C
        return np.where(d == 0, np.float32(0), np.float32(1) / safe).astype(np.float32)


def _to_code(values: np.ndarray, top: int) -> np.ndarray:
    """``MIN(top, (int8_t)(v))``: truncation toward zero, as C's cast, then clamp.

    Cast before clamping, as gguf's reference does, so that the non-finite values of a
    block with a subnormal scale (see :func:`quantize`) give gguf's codes too.
    """
    with np.errstate(invalid="ignore"):
        return np.trunc(values).astype(np.uint8).clip(0, top)


def _pack_low_high(q: np.ndarray) -> np.ndarray:
    """32 codes per block -> 16 bytes: element j in the low nibble, element j + 16 in the high one."""
    return (q[:, :16] & 0x0F) | ((q[:, 16:] & 0x0F) << 4)


def _unpack_low_high(qs: np.ndarray) -> np.ndarray:
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1)


def _fifth_bits(q: np.ndarray) -> np.ndarray:
    """Bit 4 of each of 32 codes, packed little-endian into the 4 bytes of ``qh``."""
    return np.packbits((q >> 4) & 1, axis=1, bitorder="little")


def _round_away(x: np.ndarray) -> np.ndarray:
    """C's ``roundf``: halves go away from zero (numpy's ``rint`` would round them to even).

    Written as ``floor(a) + floor(2 (a - floor(a)))`` rather than ``floor(a + 0.5)``:
    for the float just below 0.5, ``a + 0.5`` rounds up to 1.0 in float32.
    """
    a = np.abs(x)
    whole = np.floor(a)
    return np.sign(x) * (whole + np.floor(2 * (a - whole)))


def _blocks(x: Any, qtype: str, func: str) -> tuple[np.ndarray, tuple[int, ...]]:
    arr, _ = as_float_array(x, name="x", func=func)
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    size = LAYOUTS[qtype].block_size
    if arr.shape[-1] % size:
        raise ValueError(
            f"{func}: a {qtype} row must hold a multiple of {size} values; the last axis has {arr.shape[-1]}"
        )
    return arr.reshape(-1, size), arr.shape


# --- quantization (llama.cpp's quantize_row_*_ref) -----------------------------------


def _quantize_q4_0(b: np.ndarray) -> list[np.ndarray]:
    # d is chosen so that the value of largest magnitude gets the code 0, i.e. -8 * d.
    extreme = np.take_along_axis(b, np.abs(b).argmax(axis=1, keepdims=True), axis=1)
    d = extreme / np.float32(-8)
    q = _to_code(b * _inverse(d) + np.float32(8.5), 15)
    return [_half(d), _pack_low_high(q)]


def _quantize_q4_1(b: np.ndarray) -> list[np.ndarray]:
    lo, hi = b.min(axis=1, keepdims=True), b.max(axis=1, keepdims=True)
    d = (hi - lo) / np.float32(15)
    q = _to_code((b - lo) * _inverse(d) + np.float32(0.5), 15)
    return [_half(d), _half(lo), _pack_low_high(q)]


def _quantize_q5_0(b: np.ndarray) -> list[np.ndarray]:
    extreme = np.take_along_axis(b, np.abs(b).argmax(axis=1, keepdims=True), axis=1)
    d = extreme / np.float32(-16)
    q = _to_code(b * _inverse(d) + np.float32(16.5), 31)
    return [_half(d), _fifth_bits(q), _pack_low_high(q)]


def _quantize_q5_1(b: np.ndarray) -> list[np.ndarray]:
    lo, hi = b.min(axis=1, keepdims=True), b.max(axis=1, keepdims=True)
    d = (hi - lo) / np.float32(31)
    q = _to_code((b - lo) * _inverse(d) + np.float32(0.5), 31)
    return [_half(d), _half(lo), _fifth_bits(q), _pack_low_high(q)]


def _quantize_q8_0(b: np.ndarray) -> list[np.ndarray]:
    d = np.abs(b).max(axis=1, keepdims=True) / np.float32(127)
    q = _round_away(b * _inverse(d)).astype(np.int8)
    return [_half(d), q.view(np.uint8)]


_QUANTIZERS = {
    "Q4_0": _quantize_q4_0,
    "Q4_1": _quantize_q4_1,
    "Q5_0": _quantize_q5_0,
    "Q5_1": _quantize_q5_1,
    "Q8_0": _quantize_q8_0,
}


def quantize(x: Any, qtype: Any) -> np.ndarray:
    """Quantize ``x`` row by row to a legacy GGML type: the blocks' bytes, exactly as llama.cpp writes them.

    ``x``: float array (numpy or torch) whose last axis is a multiple of 32;
    ``qtype``: ``"Q4_0"``, ``"Q4_1"``, ``"Q5_0"``, ``"Q5_1"`` or ``"Q8_0"`` (or a
    ``gguf.GGMLQuantizationType``). Returns a uint8 array shaped like
    ``gguf.quants.quantize``'s: ``(*x.shape[:-1], bytes_per_row(x.shape[-1]))``.
    Scales too large for float16 (``|d| > 65504``) are stored as inf, as llama.cpp does.
    A block of tiny values (``|x| ≲ 1e-36``) has a scale below float32's normal range: its
    inverse overflows to inf and ``0 · inf`` is NaN, as in llama.cpp's C; such a block's
    float16 scale is 0, so its codes carry no value, and they are the ones gguf writes.
    """
    name = _type_name(qtype, QUANTIZE_TYPES, "quantize")
    blocks, shape = _blocks(x, name, "quantize")
    with np.errstate(over="ignore", invalid="ignore"):  # the tiny blocks above: no warning for a learner
        out = np.concatenate(_QUANTIZERS[name](blocks), axis=1)
    return out.reshape(*shape[:-1], shape[-1] // LAYOUTS[name].block_size * LAYOUTS[name].type_size)


# --- dequantization ----------------------------------------------------------------


def _dequantize_q4_0(f: dict[str, np.ndarray]) -> np.ndarray:
    q = _unpack_low_high(f["qs"]).astype(np.int8) - np.int8(8)
    return _unhalf(f["d"]) * q.astype(np.float32)


def _dequantize_q4_1(f: dict[str, np.ndarray]) -> np.ndarray:
    q = _unpack_low_high(f["qs"]).astype(np.float32)
    return _unhalf(f["d"]) * q + _unhalf(f["m"])


def _five_bit_codes(f: dict[str, np.ndarray]) -> np.ndarray:
    high = np.unpackbits(np.ascontiguousarray(f["qh"]), axis=1, bitorder="little")
    return _unpack_low_high(f["qs"]) | (high << 4)


def _dequantize_q5_0(f: dict[str, np.ndarray]) -> np.ndarray:
    q = _five_bit_codes(f).astype(np.int8) - np.int8(16)
    return _unhalf(f["d"]) * q.astype(np.float32)


def _dequantize_q5_1(f: dict[str, np.ndarray]) -> np.ndarray:
    return _unhalf(f["d"]) * _five_bit_codes(f).astype(np.float32) + _unhalf(f["m"])


def _dequantize_q8_0(f: dict[str, np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(f["qs"]).view(np.int8).astype(np.float32) * _unhalf(f["d"])


def _crumbs(qs: np.ndarray, n_sub: int) -> np.ndarray:
    """2-bit codes: each run of 32 bytes holds four groups of 32 codes in bits 0-1, 2-3, 4-5, 6-7."""
    n = qs.shape[0]
    q = qs.reshape(n, -1, 1, 32) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    return (q & 3).reshape(n, n_sub, -1)


def _dequantize_q2_k(f: dict[str, np.ndarray]) -> np.ndarray:
    n = f["scales"].shape[0]
    scale = (_unhalf(f["d"]) * (f["scales"] & 0x0F).astype(np.float32)).reshape(n, 16, 1)
    minimum = (_unhalf(f["dmin"]) * (f["scales"] >> 4).astype(np.float32)).reshape(n, 16, 1)
    q = _crumbs(f["qs"], 16).astype(np.float32)
    return (scale * q - minimum).reshape(n, QK_K)


def _q3_k_scales(scales: np.ndarray) -> np.ndarray:
    """Sixteen 6-bit scales: low 4 bits in bytes 0-7 (two per byte), high 2 bits in bytes 8-11."""
    n = scales.shape[0]
    low = (scales[:, :8].reshape(n, 1, 8) >> np.array([0, 4], dtype=np.uint8).reshape(1, 2, 1)).reshape(n, 16)
    high = scales[:, 8:].reshape(n, 1, 4) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 4, 1)
    six = (low & 0x0F) | ((high.reshape(n, 16) & 0x03) << 4)
    return six.astype(np.int8) - np.int8(32)


def _dequantize_q3_k(f: dict[str, np.ndarray]) -> np.ndarray:
    n = f["qs"].shape[0]
    scale = (_unhalf(f["d"]) * _q3_k_scales(f["scales"]).astype(np.float32)).reshape(n, 16, 1)
    low = _crumbs(f["qs"], 16).astype(np.int8)
    bits = np.arange(8, dtype=np.uint8).reshape(1, 1, 8, 1)
    high = ((f["hmask"].reshape(n, -1, 1, 32) >> bits) & 1).reshape(n, 16, 16).astype(np.int8)
    q = low - ((1 - high) << 2)  # the high bit *set* means no offset of -4
    return (scale * q.astype(np.float32)).reshape(n, QK_K)


def _scale_min_k4(scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_K/Q5_K: eight 6-bit scales and eight 6-bit mins packed into 12 bytes (``get_scale_min_k4``).

    Bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7;
    bytes 4-7 the same for the mins; bytes 8-11 the low 4 bits of scales 4-7
    (low nibble) and of mins 4-7 (high nibble).
    """
    d, m, md = scales[:, 0:4], scales[:, 4:8], scales[:, 8:12]
    sc = np.concatenate([d & 0x3F, (md & 0x0F) | ((d >> 2) & 0x30)], axis=1)
    mn = np.concatenate([m & 0x3F, (md >> 4) | ((m >> 2) & 0x30)], axis=1)
    return sc, mn


def _dequantize_q4_k(f: dict[str, np.ndarray]) -> np.ndarray:
    n = f["qs"].shape[0]
    sc, mn = _scale_min_k4(f["scales"])
    scale = (_unhalf(f["d"]) * sc.astype(np.float32)).reshape(n, 8, 1)
    minimum = (_unhalf(f["dmin"]) * mn.astype(np.float32)).reshape(n, 8, 1)
    q = f["qs"].reshape(n, 4, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    q = (q & 0x0F).reshape(n, 8, 32).astype(np.float32)
    return (scale * q - minimum).reshape(n, QK_K)


def _dequantize_q5_k(f: dict[str, np.ndarray]) -> np.ndarray:
    n = f["qs"].shape[0]
    sc, mn = _scale_min_k4(f["scales"])
    scale = (_unhalf(f["d"]) * sc.astype(np.float32)).reshape(n, 8, 1)
    minimum = (_unhalf(f["dmin"]) * mn.astype(np.float32)).reshape(n, 8, 1)
    low = f["qs"].reshape(n, 4, 1, 32) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    high = f["qh"].reshape(n, 1, 1, 32) >> np.arange(8, dtype=np.uint8).reshape(1, 1, 8, 1)
    q = (low & 0x0F).reshape(n, 8, 32) | ((high & 1).reshape(n, 8, 32) << 4)
    return (scale * q.astype(np.float32) - minimum).reshape(n, QK_K)


def _dequantize_q6_k(f: dict[str, np.ndarray]) -> np.ndarray:
    n = f["ql"].shape[0]
    scale = _unhalf(f["d"]) * np.ascontiguousarray(f["scales"]).view(np.int8).astype(np.float32)
    low = f["ql"].reshape(n, 2, 1, 64) >> np.array([0, 4], dtype=np.uint8).reshape(1, 1, 2, 1)
    high = f["qh"].reshape(n, 2, 1, 32) >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(1, 1, 4, 1)
    q = (low & 0x0F).reshape(n, 8, 32) | ((high & 3).reshape(n, 8, 32) << 4)
    q = (q.astype(np.int8) - np.int8(32)).reshape(n, 16, 16).astype(np.float32)
    return (scale.reshape(n, 16, 1) * q).reshape(n, QK_K)


_DEQUANTIZERS = {
    "Q4_0": _dequantize_q4_0,
    "Q4_1": _dequantize_q4_1,
    "Q5_0": _dequantize_q5_0,
    "Q5_1": _dequantize_q5_1,
    "Q8_0": _dequantize_q8_0,
    "Q2_K": _dequantize_q2_k,
    "Q3_K": _dequantize_q3_k,
    "Q4_K": _dequantize_q4_k,
    "Q5_K": _dequantize_q5_k,
    "Q6_K": _dequantize_q6_k,
}


def dequantize(data: Any, qtype: Any) -> np.ndarray:
    """Decode GGML blocks back to float32: the inverse of :func:`quantize`, and the k-quants too.

    ``data``: uint8 array whose last axis holds whole blocks (as
    ``gguf.GGUFReader`` gives a tensor's ``data``); ``qtype``: any name in
    :data:`LAYOUTS`. Returns float32 of shape ``(*data.shape[:-1], weights per row)``.
    """
    name = _type_name(qtype, tuple(LAYOUTS), "dequantize")
    arr = np.asarray(data.detach().cpu().numpy() if hasattr(data, "detach") else data)
    if arr.dtype != np.uint8:
        raise TypeError(f"dequantize: GGML data must be uint8 bytes, got {arr.dtype}")
    layout = LAYOUTS[name]
    if arr.ndim == 0 or arr.shape[-1] == 0 or arr.shape[-1] % layout.type_size:
        raise ValueError(
            f"dequantize: each row must hold whole {name} blocks of {layout.type_size} bytes; "
            f"got a last axis of {arr.shape[-1] if arr.ndim else 0} bytes"
        )
    blocks = np.ascontiguousarray(arr).reshape(-1, layout.type_size)
    values = _DEQUANTIZERS[name](layout.split(blocks))
    return values.reshape(*arr.shape[:-1], arr.shape[-1] // layout.type_size * layout.block_size)


# --- a simple Q4_K quantizer ---------------------------------------------------------


def _pack_scale_min_k4(sc: np.ndarray, mn: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_scale_min_k4`: eight 6-bit scales and mins into 12 bytes."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = sc[:, :4] | ((sc[:, 4:] >> 4) << 6)
    out[:, 4:8] = mn[:, :4] | ((mn[:, 4:] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:] & 0x0F) | ((mn[:, 4:] & 0x0F) << 4)
    return out


def quantize_q4_k(x: Any) -> np.ndarray:
    """A simple Q4_K quantizer: 4-bit codes, a 6-bit scale and min per 32 weights, fp16 super-scales.

    Per sub-block of 32: ``min = min(x, 0)`` (stored as a non-negative ``m``),
    ``scale = (max - min) / 15``. The eight scales and eight mins of a
    super-block are quantized to 6 bits under ``d = max(scale) / 63`` and
    ``dmin = max(m) / 63`` (both float16), and the codes are then computed
    against the *quantized* scale and min, so the stored block decodes as
    ``x ≈ d·sc·q − dmin·m``. llama.cpp searches for better scales and mins
    (``make_qkx2_quants``); this is the plain min/max version. Returns bytes in
    the ``block_q4_K`` layout, shaped like :func:`quantize`'s output.
    """
    blocks, shape = _blocks(x, "Q4_K", "quantize_q4_k")
    n = blocks.shape[0]
    sub = blocks.reshape(n, 8, 32)
    lo = np.minimum(sub.min(axis=2), 0)  # llama.cpp also clamps the min at 0
    hi = sub.max(axis=2)
    scale = np.maximum(hi - lo, 0) / np.float32(15)
    mins = -lo

    d = (scale.max(axis=1, keepdims=True) / np.float32(63)).astype(np.float16)
    dmin = (mins.max(axis=1, keepdims=True) / np.float32(63)).astype(np.float16)
    d32, dmin32 = d.astype(np.float32), dmin.astype(np.float32)
    sc = np.clip(np.rint(scale * _inverse(d32)), 0, 63).astype(np.uint8)
    mn = np.clip(np.rint(mins * _inverse(dmin32)), 0, 63).astype(np.uint8)

    eff_scale = (d32 * sc.astype(np.float32))[:, :, None]
    eff_min = (dmin32 * mn.astype(np.float32))[:, :, None]
    q = np.clip(np.rint((sub + eff_min) * _inverse(eff_scale)), 0, 15).astype(np.uint8)

    pairs = q.reshape(n, 4, 2, 32)  # sub-blocks 2i (low nibble) and 2i+1 (high nibble)
    qs = (pairs[:, :, 0, :] | (pairs[:, :, 1, :] << 4)).reshape(n, 128)
    out = np.concatenate([d.view(np.uint8), dmin.view(np.uint8), _pack_scale_min_k4(sc, mn), qs], axis=1)
    return out.reshape(*shape[:-1], shape[-1] // QK_K * LAYOUTS["Q4_K"].type_size)


def _check_bits_table() -> None:  # keeps the docstring's figures honest at import time
    assert math.isclose(8 * 144 / 256, 4.5) and LAYOUTS["Q4_K"].type_size == 144
    assert LAYOUTS["Q6_K"].type_size == 210 and LAYOUTS["Q4_0"].type_size == 18


_check_bits_table()
