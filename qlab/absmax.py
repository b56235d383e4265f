"""Absmax (symmetric) quantization at 2 to 8 bits.

The simplest quantizer: pick the step so that the largest magnitude lands on
the largest code, then round. With ``qmax = 2**(bits-1) - 1`` (127 for int8)
and per group (see :mod:`qlab.granularity`)::

    scale     = max|X| / qmax             # units per code: the step of the grid
    codes     = round(X / scale)          # integers in [-qmax, qmax]
    X_hat     = scale * codes

``scale`` means *units per code* throughout qlab, as in PyTorch
(``torch.quantize_per_tensor``), ONNX (``QuantizeLinear``) and GGUF (the block
scale ``d`` of Q8_0/Q4_0). Maxime Labonne's "Introduction to Weight
Quantization" (2023) and the LLM.int8() paper (Dettmers et al. 2022,
arXiv:2208.07339) write the reciprocal, ``127 / max|X|``, and call *that* the
scale: Labonne's scale 127/max|X| is our :attr:`AbsmaxParams.inv_scale`
(``1 / scale``); the codes and the reconstruction are the same numbers up to
float rounding. Rounding is round-half-to-even (``np.rint``, the same as
``torch.round``), so 2.5 -> 2.

Worked example (8 bits): max|X| = 3.2 gives ``scale = 3.2 / 127 = 0.025197...``;
a weight 0.1 gets the code ``round(0.1 / 0.025197) = round(3.97) = 4`` and comes
back as ``4 * 0.025197 = 0.100787...``: an error of ``0.1 - 0.100787 =
-0.000787``. Any value is off by at most half a step, ``scale / 2``.

The grid is symmetric around 0 and has ``2 * qmax + 1`` levels: the code
``-2**(bits-1)`` (-128 for int8) is never used. In exchange 0 is always exactly
representable and no zero point is needed. When the data is skewed (e.g. all
positive after a ReLU) half of the codes are wasted; :mod:`qlab.zeropoint`
fixes that.

Stored per group: one float32 ``scale`` (32 bits), so int8 in groups of 64
costs ``8 + 32/64 = 8.5`` bits per parameter (:func:`qlab.bits_per_parameter`).

Edge cases, chosen so that nothing divides by zero and no warning is raised:

* an all-zero group gets ``scale = 1``; its codes are 0 and come back as 0;
* a group whose max|X| is below ``2**-100`` is scaled as if its max were
  ``2**-100``: ``max|X| / qmax`` would otherwise underflow float32 (to 0 or to a
  subnormal with few significant bits) for tiny inputs. The grid is then coarser
  than needed, and the error bound (half a step) still holds;
* near the float32 maximum the product ``scale * codes`` is formed in float64
  and clipped, so it cannot overflow to inf on its way back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qlab._arrays import Origin, as_float_array, check_int, is_tensor, restore, to_numpy
from qlab.granularity import GroupedScales, make_grouping

__all__ = ["AbsmaxParams", "absmax_quantize", "absmax_dequantize"]

MIN_BITS, MAX_BITS = 2, 8

# Smallest max|X| used to compute a scale: 2**-100 / 127 is still a normal float32
# (full precision), while a subnormal max|X| such as 1e-45 divided by 127 underflows to 0.
_TINY_ABSMAX = np.float32(2.0**-100)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class AbsmaxParams(GroupedScales):
    """Everything needed, besides the codes, to dequantize.

    ``scale`` (units per code, ``max|X| / qmax``) has the keepdims shape of
    :attr:`Grouping.scale_shape` (e.g. ``(rows, 1)`` per output channel of a
    weight, ``(rows, cols // g, 1)`` group-wise) and is float32; a torch tensor
    if the input was one. ``step`` is the same array; ``inv_scale`` is
    ``1 / scale`` (Labonne's and LLM.int8()'s "scale", ``qmax / max|X|``).
    """

    scale: Any  # float32 array / tensor, keepdims shape: units per code
    bits: int
    axis: int | None  # non-negative, or None
    group_size: int | None
    shape: tuple[int, ...]  # shape of the original tensor (and of the codes)
    dtype: str  # dtype of the original tensor; dequantization returns it

    # qmax (codes lie in [-qmax, qmax]), step, inv_scale and grouping come from GroupedScales


def absmax_quantize(
    X: Any, bits: int = 8, axis: int | None = None, group_size: int | None = None
) -> tuple[Any, AbsmaxParams]:
    """Quantize ``X`` symmetrically to ``bits``-bit integer codes (stored as int8).

    ``axis``/``group_size`` pick the granularity (see :mod:`qlab.granularity`):
    per tensor by default, ``axis=0`` one scale per row of a ``(out, in)``
    weight, ``group_size=g`` one scale per ``g`` values along the last axis.
    Returns ``(codes, params)``; codes have ``X``'s shape and, like the scale,
    are torch tensors if ``X`` is one.
    """
    func = "absmax_quantize"
    bits = check_int(bits, name="bits", func=func, low=MIN_BITS, high=MAX_BITS)
    arr, origin = as_float_array(X, name="X", func=func)
    grouping = make_grouping(arr.shape, axis, group_size, func=func)
    qmax = np.float32(2 ** (bits - 1) - 1)

    Xg = grouping.split(arr)
    absmax = np.max(np.abs(Xg), axis=grouping.reduce_axes, keepdims=True)
    # All-zero group: pretend max|X| = qmax, i.e. scale 1 (zeros stay zeros).
    safe_absmax = np.where(absmax > 0, np.maximum(absmax, _TINY_ABSMAX), qmax)
    scale = (safe_absmax / qmax).astype(np.float32)

    # The clip only guards against float rounding at the edges: the float32 scale may
    # be a hair below max|X| / qmax, so |X / scale| can exceed qmax by an ulp.
    codes = np.clip(np.rint(Xg / scale), -qmax, qmax).astype(np.int8)

    params = AbsmaxParams(
        scale=restore(scale, origin),
        bits=bits,
        axis=grouping.axis,
        group_size=grouping.group_size,
        shape=grouping.shape,
        dtype=origin.dtype,
    )
    return restore(grouping.merge(codes), origin), params


def absmax_dequantize(codes: Any, params: AbsmaxParams) -> Any:
    """Map codes back to floats: ``scale * codes``, in the original dtype.

    The result is a torch tensor if ``codes`` is one, else a numpy array.
    """
    func = "absmax_dequantize"
    q = _check_codes(codes, params.shape, -params.qmax, params.qmax, func=func)
    grouping = params.grouping
    scale = to_numpy(params.scale).astype(np.float32)
    # Multiply in float64: the product of a float32 and a code of at most 8 bits is
    # exact there, so rounding it to float32 gives the same number as a float32
    # multiply (``scale * q`` in torch), but a value within an ulp of the float32
    # maximum cannot overflow to inf (and warn) on its way back; the clip keeps it finite.
    X_hat = grouping.split(q).astype(np.float64) * scale
    X_hat = np.clip(X_hat, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32)
    return restore(grouping.merge(X_hat), _origin_of(codes, params.dtype), float_dtype=params.dtype)


def _check_codes(codes: Any, shape: tuple[int, ...], low: int, high: int, *, func: str) -> np.ndarray:
    """Codes as a numpy integer array of ``shape`` with values in ``[low, high]``."""
    q = to_numpy(codes)
    if q.dtype.kind not in "iu":
        raise TypeError(
            f"{func}: codes must be an integer array (as returned by the quantizer), got {q.dtype}"
        )
    if q.shape != tuple(shape):
        raise ValueError(
            f"{func}: codes have shape {tuple(q.shape)} but the params were made for shape {tuple(shape)}"
        )
    if q.size and (q.min() < low or q.max() > high):
        raise ValueError(
            f"{func}: codes must lie in [{low}, {high}] for these params, "
            f"got values in [{int(q.min())}, {int(q.max())}]"
        )
    return q


def _origin_of(codes: Any, dtype: str) -> Origin:
    """Return dequantized values in the codes' container (numpy/torch, device) and ``dtype``."""
    if is_tensor(codes):
        return Origin(True, dtype, codes.device)
    return Origin(False, dtype)
