"""Apple MLX's affine group-wise quantization (``mx.quantize`` / ``mx.dequantize``), in numpy.

MLX stores a weight of shape ``(..., n)`` in groups of ``group_size`` values
along the last axis, each group as ``bits``-bit codes ``q`` plus a float scale
``s`` and bias ``b``: ``ŵ = s · q + b``. That is lesson 03's zero-point
quantization with ``b = −s · z``, but with one twist: MLX **snaps the grid so
that one end of the range is exact and lands on a whole number of steps**,
read from MLX's CPU kernel (``mlx/backend/cpu/quantized.cpp``, ``quantize``)::

    n     = 2**bits - 1
    s     = max((max - min) / n, 1e-7)
    edge  = min if |min| > |max| else max      # the end of larger magnitude
    if edge is max: s = -s                     # so edge / s is <= 0 ... (see below)
    q0    = rint(edge / s)                     # edge in steps
    if q0 != 0: s = edge / q0; b = edge        # the edge is now exactly q0 steps
    else:       b = 0
    q     = clip(rint((w - b) / s), 0, n)

So ``b`` is the edge value itself (exact: a constant group comes back
exactly, unless it is smaller than half of MLX's scale floor, 0.5e-7, and
becomes 0), the codes run from that edge
(code 0) across the group, and the scale is *negative* whenever the group's
largest magnitude is positive — about half of all groups. A plain min/max
zero-point quantizer (lesson 03) gives different codes on almost every layer.

Codes are packed into uint32 words as one dense little-endian bit stream:
code ``i`` occupies bits ``i·bits … i·bits + bits − 1`` of the stream, so
4-bit codes go eight to a word, lowest bits first, and 3-, 5- and 6-bit codes
straddle word boundaries. ``mx.dequantize`` computes ``s * q + b`` in float32
without a fused multiply-add; so does :func:`mlx_dequantize`.

Everything here is bit-exact with ``mlx`` 0.32 on CPU (``tests/test_mlx_quant.py``
checks it wherever ``mlx`` is installed; on Linux ``pip install mlx mlx-cpu`` in one
command).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlab._arrays import as_float_array, check_int, restore, to_numpy

__all__ = ["MLX_BITS", "MLX_GROUP_SIZES", "mlx_quantize", "mlx_dequantize", "mlx_unpack"]

MLX_BITS: tuple[int, ...] = (2, 3, 4, 5, 6, 8)
MLX_GROUP_SIZES: tuple[int, ...] = (32, 64, 128)
_MIN_SCALE = np.float32(1e-7)


def _check(group_size: int, bits: int, func: str) -> tuple[int, int]:
    bits = check_int(bits, name="bits", func=func, low=2, high=8)
    if bits not in MLX_BITS:
        raise ValueError(f"{func}: MLX quantizes to {', '.join(map(str, MLX_BITS))} bits, not {bits}")
    group_size = check_int(group_size, name="group_size", func=func, low=1)
    if group_size not in MLX_GROUP_SIZES:
        raise ValueError(
            f"{func}: MLX's group sizes are {', '.join(map(str, MLX_GROUP_SIZES))}, not {group_size}"
        )
    return group_size, bits


def mlx_quantize(w: Any, group_size: int = 64, bits: int = 4) -> tuple[Any, Any, Any]:
    """Quantize ``w`` like ``mx.quantize(w, group_size, bits)``: ``(packed uint32 codes, scales, biases)``.

    ``w``: float array (numpy or torch) whose last axis is a multiple of
    ``group_size``, computed in float32. Shapes: codes ``(..., n * bits // 32)``,
    scales and biases ``(..., n // group_size)``; torch tensors if ``w`` was one.
    """
    func = "mlx_quantize"
    group_size, bits = _check(group_size, bits, func)
    arr, origin = as_float_array(w, name="w", func=func)
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 0 or arr.shape[-1] % group_size or (arr.shape[-1] * bits) % 32:
        raise ValueError(
            f"{func}: the last axis ({arr.shape[-1] if arr.ndim else 0} values) must be a multiple of "
            f"group_size={group_size} (and hold a whole number of 32-bit words of {bits}-bit codes)"
        )
    n_levels = np.float32(2**bits - 1)
    groups = arr.reshape(*arr.shape[:-1], -1, group_size)
    lo, hi = groups.min(axis=-1), groups.max(axis=-1)

    scale = np.maximum((hi - lo) / n_levels, _MIN_SCALE)
    edge_is_min = np.abs(lo) > np.abs(hi)
    edge = np.where(edge_is_min, lo, hi)
    scale = np.where(edge_is_min, scale, -scale)
    with np.errstate(over="ignore"):  # only for constant groups beyond ~3e31
        q0 = np.rint(edge / scale)
    exact = q0 != 0
    scale = np.where(exact, edge / np.where(exact, q0, 1), scale).astype(np.float32)
    bias = np.where(exact, edge, 0).astype(np.float32)

    codes = np.rint((groups - bias[..., None]) / scale[..., None])
    codes = np.clip(codes, 0, n_levels).astype(np.uint32).reshape(arr.shape)
    packed = _pack(codes, bits)
    return restore(packed, origin), restore(scale, origin), restore(bias, origin)


def _pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes as one little-endian bit stream, viewed as uint32 words."""
    stream = (codes[..., None] >> np.arange(bits, dtype=np.uint32)) & 1
    stream = stream.astype(np.uint8).reshape(*codes.shape[:-1], -1)
    return np.packbits(stream, axis=-1, bitorder="little").view(np.uint32)


def mlx_unpack(packed: Any, bits: int = 4) -> np.ndarray:
    """The integer codes of MLX-packed uint32 words (the inverse of the packing in :func:`mlx_quantize`)."""
    words = np.ascontiguousarray(to_numpy(packed))
    if words.dtype != np.uint32:
        raise TypeError(f"mlx_unpack: packed codes are uint32 words, got {words.dtype}")
    bits = check_int(bits, name="bits", func="mlx_unpack", low=2, high=8)
    stream = np.unpackbits(words.view(np.uint8), axis=-1, bitorder="little")
    stream = stream.reshape(*words.shape[:-1], -1, bits).astype(np.uint32)
    return (stream << np.arange(bits, dtype=np.uint32)).sum(axis=-1, dtype=np.uint32)


def mlx_dequantize(codes: Any, scales: Any, biases: Any, group_size: int = 64, bits: int = 4) -> Any:
    """``mx.dequantize``: ``scale * q + bias`` per group, in float32 (no fused multiply-add)."""
    func = "mlx_dequantize"
    group_size, bits = _check(group_size, bits, func)
    q = mlx_unpack(codes, bits)
    s = to_numpy(scales).astype(np.float32)
    b = to_numpy(biases).astype(np.float32)
    if s.shape != b.shape or q.shape[:-1] != s.shape[:-1] or q.shape[-1] != s.shape[-1] * group_size:
        raise ValueError(
            f"{func}: codes for {q.shape[-1]} values per row do not fit scales/biases of shape "
            f"{s.shape}/{b.shape} with group_size={group_size}"
        )
    groups = q.reshape(*s.shape, group_size).astype(np.float32)
    values = (s[..., None] * groups + b[..., None]).reshape(q.shape)
    like = codes if hasattr(codes, "detach") else None
    if like is not None:
        import torch

        return torch.from_numpy(values).to(like.device)
    return values
