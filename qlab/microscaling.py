"""Block-scaled 4-bit floats: MXFP4 and NVFP4, as GGUF stores them.

Lesson 01's FP4 E2M1 has only 15 values, ``±{0, 0.5, 1, 1.5, 2, 3, 4, 6}``; on
its own it covers almost no range. Give every small block of values its own
scale (lesson 04's granularity, lesson 06's blocks) and it becomes a practical
weight format. Two such formats are in hardware today:

* **MXFP4** (OCP Microscaling Formats v1.0, 2023; Rouhani et al. 2023,
  arXiv:2310.10537): blocks of **32** E2M1 values sharing one **E8M0** scale, a
  bare power of two ``2**(e − 127)``. llama.cpp picks
  ``e = floor(log2(max|x|)) − 2 + 127``, so that the block's largest value lands
  in E2M1's top binade ``[4, 8)`` (values above 6 saturate to 6), then the
  nearest E2M1 value for each element (ties go to the smaller magnitude);
* **NVFP4** (NVIDIA Blackwell, 2025): blocks of **16** E2M1 values sharing one
  **unsigned E4M3** scale ``≈ max|x| / 6`` (a float with 3 mantissa bits instead
  of a power of two, so the largest value lands close to 6); NVIDIA's format
  adds one float32 scale per tensor, which GGUF's NVFP4 type leaves out.

GGUF layouts (``ggml-common.h``): ``block_mxfp4 { uint8_t e; uint8_t qs[16]; }``
(17 bytes per 32 values, 4.25 bits) and ``block_nvfp4 { uint8_t d[4]; uint8_t
qs[32]; }`` (four sub-blocks of 16, 36 bytes per 64 values, 4.5 bits). In ``qs``
the low nibble of byte ``j`` is element ``j``, the high nibble element ``j + 16``
(MXFP4) or ``j + 8`` (each NVFP4 sub-block). Nibbles index llama.cpp's table of
*doubled* E2M1 values ``kvalues = (0, 1, 2, 3, 4, 6, 8, 12, 0, −1, …, −12)``, so
the stored scales are halved to match.

:func:`mxfp4_quantize` is bit-exact with ``gguf.quants.quantize(..., MXFP4)``;
:func:`nvfp4_quantize` (which ``gguf`` 0.19 cannot do) writes blocks that
``gguf.quants.dequantize`` decodes to exactly :func:`nvfp4_dequantize`'s values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlab._arrays import as_float_array

__all__ = ["KVALUES", "mxfp4_quantize", "mxfp4_dequantize", "nvfp4_quantize", "nvfp4_dequantize"]

KVALUES = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.int8)
"""llama.cpp's E2M1 table, doubled (index = the 4-bit code: sign bit, then E2M1 magnitude order)."""


def _blocks(x: Any, size: int, func: str) -> tuple[np.ndarray, tuple[int, ...]]:
    arr, _ = as_float_array(x, name="x", func=func)
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 0 or arr.shape[-1] % size:
        raise ValueError(f"{func}: rows must hold a multiple of {size} values; got {arr.shape[-1:]}")
    return arr.reshape(-1, size), arr.shape


def _nearest_code(scaled_doubled: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Index of the kvalue nearest to each element; ``argmin`` takes the first on a tie."""
    errors = np.abs(d[..., None] * KVALUES.astype(np.float32) - scaled_doubled[..., None])
    return np.argmin(errors, axis=-1).astype(np.uint8)


def _e8m0_half(e: np.ndarray) -> np.ndarray:
    """``2**(e − 127) / 2`` as float32, exactly as ``ggml_e8m0_to_fp32_half`` builds its bits."""
    e32 = e.astype(np.uint32)
    bits = np.where(e32 < 2, np.uint32(0x00200000) << e32, (e32 - 1) << np.uint32(23))
    return bits.astype(np.uint32).view(np.float32)


def mxfp4_quantize(x: Any) -> np.ndarray:
    """MXFP4 blocks of 32 (GGUF layout: 1 byte E8M0 exponent + 16 bytes of codes), bit-exact with gguf."""
    b, shape = _blocks(x, 32, "mxfp4_quantize")
    amax = np.abs(b).max(axis=1, keepdims=True)
    safe = np.where(amax > 0, amax, np.float32(1))
    e = np.where(amax > 0, np.floor(np.log2(safe)) - 2 + 127, 0).astype(np.uint8)
    d = _e8m0_half(e)
    q = _nearest_code(b, d)
    qs = q[:, :16] | (q[:, 16:] << 4)
    out = np.concatenate([e, qs], axis=1)
    return out.reshape(*shape[:-1], shape[-1] // 32 * 17)


def mxfp4_dequantize(data: Any) -> np.ndarray:
    """Decode MXFP4 blocks: ``2**(e − 127) · E2M1(code)``."""
    raw = _bytes(data, 17, "mxfp4_dequantize")
    e, qs = raw[:, :1], raw[:, 1:]
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
    values = _e8m0_half(e) * KVALUES[codes].astype(np.float32)
    return values.reshape(*np.shape(data)[:-1], np.shape(data)[-1] // 17 * 32)


def _bytes(data: Any, type_size: int, func: str) -> np.ndarray:
    arr = np.asarray(data.detach().cpu().numpy() if hasattr(data, "detach") else data)
    if arr.dtype != np.uint8:
        raise TypeError(f"{func}: data must be uint8 bytes, got {arr.dtype}")
    if arr.ndim == 0 or arr.shape[-1] == 0 or arr.shape[-1] % type_size:
        raise ValueError(f"{func}: each row must hold whole blocks of {type_size} bytes")
    return np.ascontiguousarray(arr).reshape(-1, type_size)


def _ue4m3_decode(byte: np.ndarray) -> np.ndarray:
    """Unsigned E4M3 (bias 7) -> float32, halved (llama.cpp's doubled-kvalue convention)."""
    exponent = (byte >> 3).astype(np.int32) & 0xF
    mantissa = (byte & 0x7).astype(np.float32)
    value = np.where(
        exponent == 0,
        mantissa * 2.0**-9,
        (1.0 + mantissa / 8.0) * np.exp2(exponent.astype(np.float32) - 7),
    )
    return np.where((byte == 0) | (byte == 0x7F), 0.0, value * 0.5).astype(np.float32)


def _ue4m3_encode(x: np.ndarray) -> np.ndarray:
    """float32 >= 0 -> the nearest unsigned E4M3 byte (round to nearest even), saturating at 448."""
    import ml_dtypes

    clipped = np.clip(x, 0, 448).astype(np.float32)
    return clipped.astype(ml_dtypes.float8_e4m3fn).view(np.uint8) & 0x7F


def nvfp4_quantize(x: Any) -> np.ndarray:
    """NVFP4 in GGUF's layout (four 16-value sub-blocks per 64, each with an unsigned E4M3 scale).

    The scale of each sub-block is ``max|x| / 6`` rounded to E4M3; each value
    then gets the nearest E2M1 code of ``x / scale``.
    """
    b, shape = _blocks(x, 64, "nvfp4_quantize")
    n = b.shape[0]
    sub = b.reshape(n, 4, 16)
    scale_bytes = _ue4m3_encode(np.abs(sub).max(axis=2) / np.float32(6))
    d = _ue4m3_decode(scale_bytes)  # halved, to match the doubled kvalues
    q = _nearest_code(sub, d[..., None])
    qs = (q[..., :8] | (q[..., 8:] << 4)).reshape(n, 32)
    out = np.concatenate([scale_bytes, qs], axis=1)
    return out.reshape(*shape[:-1], shape[-1] // 64 * 36)


def nvfp4_dequantize(data: Any) -> np.ndarray:
    """Decode GGUF NVFP4 blocks: ``E4M3(scale) · E2M1(code)`` per 16 values."""
    raw = _bytes(data, 36, "nvfp4_dequantize")
    n = raw.shape[0]
    d = _ue4m3_decode(raw[:, :4]).reshape(n, 4, 1)
    qs = raw[:, 4:].reshape(n, 4, 8)
    codes = np.concatenate([qs & 0x0F, qs >> 4], axis=2)
    values = (d * KVALUES[codes].astype(np.float32)).reshape(n, 64)
    return values.reshape(*np.shape(data)[:-1], np.shape(data)[-1] // 36 * 64)
