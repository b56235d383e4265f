"""Zero-point (asymmetric) quantization at 2 to 8 bits.

Absmax wastes codes when the data is not centred on zero: after a ReLU every
value is >= 0 and the negative half of the int8 grid is never used. Zero-point
quantization maps the actual range ``[min, max]`` onto all ``2**bits`` codes
``[qmin, qmax] = [-2**(bits-1), 2**(bits-1) - 1]`` and remembers which code
stands for 0.0 (the *zero point*). For 8 bits, per group (see
:mod:`qlab.granularity`)::

    scale      = 255 / (max - min)
    zero_point = round(-scale * min - 128)
    codes      = clip(round(scale * X + zero_point), -128, 127)
    X_hat      = (codes - zero_point) / scale

and in general ``255`` is ``2**bits - 1`` and ``-128`` is ``qmin``. This is the
formula of Maxime Labonne's "Introduction to Weight Quantization" (2023);
rounding is round-half-to-even (``np.rint``, like ``torch.round``). Any value
is off by at most half a step, ``step = 1 / scale = (max - min) / 255``: about
half of absmax's step on all-positive data.

Three decisions, each made so that the result is exact and never warns:

1. **The range always contains 0** (``min <- min(min, 0)``, ``max <- max(max, 0)``),
   as in PyTorch's observers and Jacob et al. 2018 (arXiv:1712.05877). For
   groups that hold both signs (weights, almost always) this changes nothing.
   It guarantees that 0.0 is exactly representable (padding and ReLU zeros stay
   exact) and that the zero point is itself a valid code in ``[qmin, qmax]``.
   Without it the zero point is unbounded: data in ``[1000, 1001]`` would need
   ``zero_point = round(-255 * 1000 - 128) = -255128``, which fits no small
   integer type, and clipping it would move the whole grid off the data.

2. **The zero point is stored as int16**, although its values fit int8 (point 1).
   ``codes - zero_point`` can reach 255, which wraps around silently in int8
   arithmetic (127 - (-128) == -1 in int8); with int16 numpy and torch promote
   the subtraction to int16 and a learner's own ``(codes - zp) / scale`` is right.

3. **The scale is stored as float64.** Then a constant group ``c`` (``min == max``)
   round-trips exactly: with point 1 its range is ``[0, c]`` (or ``[c, 0]``), ``c``
   gets the end code and comes back as ``255 / (255 / c)``, which in float64 is
   within 1e-16 relative of ``c`` and rounds back to exactly ``c`` in float32. In
   float32 it does not for about 1 value in 6: ``255 / (255 / 1.49)`` is not 1.49.
   Computing in float64 also means ``max - min`` cannot overflow. A group of
   zeros (range 0) gets ``scale = 1``: its codes are the zero point, and
   ``(zero_point - zero_point) / 1 == 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qlab._arrays import as_float_array, check_int, restore, to_numpy
from qlab.absmax import MAX_BITS, MIN_BITS, _check_codes, _origin_of
from qlab.granularity import GroupedScales, make_grouping

__all__ = ["ZeropointParams", "zeropoint_quantize", "zeropoint_dequantize"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ZeropointParams(GroupedScales):
    """Everything needed, besides the codes, to dequantize.

    ``scale`` (float64) and ``zero_point`` (int16, values in ``[qmin, qmax]``)
    have the keepdims shape of :attr:`Grouping.scale_shape`; torch tensors if
    the input was one.
    """

    scale: Any  # float64 array / tensor, keepdims shape
    zero_point: Any  # int16 array / tensor, keepdims shape
    bits: int
    axis: int | None  # non-negative, or None
    group_size: int | None
    shape: tuple[int, ...]  # shape of the original tensor (and of the codes)
    dtype: str  # dtype of the original tensor; dequantization returns it

    @property
    def qmin(self) -> int:
        """Smallest code, ``-2**(bits-1)``."""
        return -(2 ** (self.bits - 1))

    # qmax, step and grouping come from GroupedScales


def zeropoint_quantize(
    X: Any, bits: int = 8, axis: int | None = None, group_size: int | None = None
) -> tuple[Any, ZeropointParams]:
    """Quantize ``X`` asymmetrically to ``bits``-bit codes in ``[qmin, qmax]`` (stored as int8).

    ``axis``/``group_size`` pick the granularity as in
    :func:`qlab.absmax.absmax_quantize`. Returns ``(codes, params)``; codes have
    ``X``'s shape and are torch tensors if ``X`` is one.
    """
    func = "zeropoint_quantize"
    bits = check_int(bits, name="bits", func=func, low=MIN_BITS, high=MAX_BITS)
    arr, origin = as_float_array(X, name="X", func=func)
    grouping = make_grouping(arr.shape, axis, group_size, func=func)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    levels = 2**bits - 1  # number of steps between qmin and qmax: 255 for 8 bits

    Xg = grouping.split(arr).astype(np.float64)
    lo = np.minimum(np.min(Xg, axis=grouping.reduce_axes, keepdims=True), 0.0)  # decision 1
    hi = np.maximum(np.max(Xg, axis=grouping.reduce_axes, keepdims=True), 0.0)
    span = hi - lo
    span = np.where(span > 0, span, levels)  # all-zero group: scale 1 (decision 3)
    scale = levels / span

    # -scale * lo lies in [0, levels], so the zero point is a code; the clip only
    # catches float rounding at the ends.
    zero_point = np.clip(np.rint(qmin - scale * lo), qmin, qmax)
    # The clip matters here: with a rounded zero point a value at max can land on
    # qmax + 0.5, which round-half-to-even may send to qmax + 1.
    codes = np.clip(np.rint(scale * Xg + zero_point), qmin, qmax).astype(np.int8)

    params = ZeropointParams(
        scale=restore(scale, origin),
        zero_point=restore(zero_point.astype(np.int16), origin),
        bits=bits,
        axis=grouping.axis,
        group_size=grouping.group_size,
        shape=grouping.shape,
        dtype=origin.dtype,
    )
    return restore(grouping.merge(codes), origin), params


def zeropoint_dequantize(codes: Any, params: ZeropointParams) -> Any:
    """Map codes back to floats: ``(codes - zero_point) / scale``, in the original dtype.

    The result is a torch tensor if ``codes`` is one, else a numpy array.
    """
    func = "zeropoint_dequantize"
    q = _check_codes(codes, params.shape, params.qmin, params.qmax, func=func)
    grouping = params.grouping
    scale = to_numpy(params.scale).astype(np.float64)
    zero_point = to_numpy(params.zero_point).astype(np.float64)
    X_hat = (grouping.split(q).astype(np.float64) - zero_point) / scale
    # Rounding to float32 can only overflow within an ulp of the float32 maximum.
    X_hat = np.clip(X_hat, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32)
    return restore(grouping.merge(X_hat), _origin_of(codes, params.dtype), float_dtype=params.dtype)
