"""Zero-point (asymmetric) quantization at 2 to 8 bits.

Absmax wastes codes when the data is not centred on zero: after a ReLU every
value is >= 0 and the negative half of the int8 grid is never used. Zero-point
quantization maps the actual range ``[min, max]`` onto all ``2**bits`` codes
``[qmin, qmax] = [-2**(bits-1), 2**(bits-1) - 1]`` and remembers which code
stands for 0.0 (the *zero point*). Per group (see :mod:`qlab.granularity`)::

    scale      = (max - min) / (2**bits - 1)          # units per code: 3/255 for [-1, 2]
    zero_point = clip(round(qmin - min / scale), qmin, qmax)
    codes      = clip(round(X / scale) + zero_point, qmin, qmax)
    X_hat      = scale * (codes - zero_point)         # subtract in a wider integer

``scale`` is *units per code*, the step of the grid, as in PyTorch
(``torch.quantize_per_tensor(x, scale, zero_point, ...)``), ONNX
(``QuantizeLinear``) and GGUF. Maxime Labonne's "Introduction to Weight
Quantization" (2023) writes ``scale = 255 / (max - min)``, ``codes =
round(scale * X + zero_point)``: Labonne's scale is our
:attr:`ZeropointParams.inv_scale`, and the zero point is the same number.
Rounding is round-half-to-even (``np.rint``, like ``torch.round``). Any value is
off by at most half a step, ``scale / 2 = (max - min) / 510`` at 8 bits: about
half of absmax's step on all-positive data.

What is stored, per group, is what real formats store: the scale as float32
and the zero point in the codes' own integer type (int8 for codes -128...127),
so int8 in groups of 64 costs ``8 + (32 + 8) / 64 = 8.625`` bits per parameter
(:func:`qlab.bits_per_parameter` measures it). The difference ``codes -
zero_point`` can reach ``2**bits - 1 = 255``, which does not fit int8 (in int8
arithmetic ``127 - (-128)`` wraps around to ``-1``): dequantization widens both
to int16 first, and so must any hand-written formula
(``codes.astype(np.int16) - zero_point``).

Three decisions, each made so that the result is exact and never warns:

1. **The range always contains 0** (``min <- min(min, 0)``, ``max <- max(max, 0)``),
   as in PyTorch's observers and Jacob et al. 2018 (arXiv:1712.05877). For
   groups that hold both signs (weights, almost always) this changes nothing.
   It guarantees that 0.0 is exactly representable (padding and ReLU zeros stay
   exact: 0.0 gets the code ``zero_point``) and that the zero point is itself a
   valid code in ``[qmin, qmax]``, so it fits the codes' integer type. Without it
   the zero point is unbounded: data in ``[1000, 1001]`` would need ``zero_point
   = round(-128 - 1000 / (1 / 255)) = -255128``, which fits no small integer
   type, and clipping it would move the whole grid off the data.

2. **A constant group gets the step ``|c|``.** A group whose values all equal
   ``c`` (``min == max``) has the range ``[0, c]`` (or ``[c, 0]``); the general
   step ``|c| / 255`` rounded to float32 does not always bring ``c`` back
   (``255 * float32(7.97 / 255)`` rounds to a float32 next to 7.97, not to 7.97;
   about 0.3 % of constants fail like that at 8 bits, 5 % at 4 bits, 13 % at 2
   bits, mostly just below a power of two). With ``scale = |c|`` the general formulas do the rest
   exactly: ``c / scale = +-1``, so for ``c > 0`` the zero point is ``qmin`` and
   ``c`` gets the code ``qmin + 1``; for ``c < 0`` the zero point is ``qmin + 1``
   and ``c`` gets ``qmin``; either way ``X_hat = |c| * (+-1) = c`` bit for bit,
   and 0.0 is still representable. (This holds for any float32 ``c``, subnormals
   and the float32 maximum included; a float64 input is rounded to float32 first,
   like every qlab quantizer does.) A group of zeros gets ``scale = 1``: its codes
   are the zero point ``qmin`` and come back as ``1 * 0 == 0``.

3. **No overflow, no underflow.** ``max - min`` can overflow float32 (``3e38 -
   (-3e38)``), so the span is computed in float64 before the float32 scale is
   rounded from it; a non-constant group whose span is below ``2**-100`` is
   scaled as if its span were ``2**-100`` (as in :mod:`qlab.absmax`, so that the
   scale is a normal float32 and never 0); ``scale * (codes - zero_point)`` is
   formed in float64 (exact there) and clipped to the float32 range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qlab._arrays import as_float_array, check_int, restore, to_numpy
from qlab.absmax import _TINY_ABSMAX, MAX_BITS, MIN_BITS, _check_codes, _origin_of
from qlab.granularity import GroupedScales, make_grouping

__all__ = ["ZeropointParams", "zeropoint_quantize", "zeropoint_dequantize"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ZeropointParams(GroupedScales):
    """Everything needed, besides the codes, to dequantize.

    ``scale`` (float32, units per code) and ``zero_point`` (int8, the codes'
    type, values in ``[qmin, qmax]``) have the keepdims shape of
    :attr:`Grouping.scale_shape`; torch tensors if the input was one. ``step``
    is the scale; ``inv_scale`` is ``1 / scale`` (Labonne's "scale").
    """

    scale: Any  # float32 array / tensor, keepdims shape: units per code
    zero_point: Any  # int8 array / tensor, keepdims shape: the code that stands for 0.0
    bits: int
    axis: int | None  # non-negative, or None
    group_size: int | None
    shape: tuple[int, ...]  # shape of the original tensor (and of the codes)
    dtype: str  # dtype of the original tensor; dequantization returns it

    @property
    def qmin(self) -> int:
        """Smallest code, ``-2**(bits-1)``."""
        return -(2 ** (self.bits - 1))

    # qmax, step, inv_scale and grouping come from GroupedScales


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

    Xg = grouping.split(arr)
    gmin = np.min(Xg, axis=grouping.reduce_axes, keepdims=True)
    gmax = np.max(Xg, axis=grouping.reduce_axes, keepdims=True)
    lo, hi = np.minimum(gmin, 0), np.maximum(gmax, 0)  # decision 1
    span = hi.astype(np.float64) - lo.astype(np.float64)  # cannot overflow (decision 3)
    general = np.maximum(span, float(_TINY_ABSMAX)) / levels
    # decision 2: a constant group c has span |c| (exact in float64) and gets scale |c|;
    # a group of zeros gets scale 1.
    constant = np.where(span > 0, span, 1.0)
    scale = np.where(gmin == gmax, constant, general).astype(np.float32)

    # lo / scale lies in [-levels, 0], so the zero point is a code; the clip only
    # catches float rounding at the ends.
    zero_point = np.clip(np.rint(qmin - lo / scale), qmin, qmax)
    # The clip matters here: with a rounded zero point a value at max can land on
    # qmax + 0.5, which round-half-to-even may send to qmax + 1.
    codes = np.clip(np.rint(Xg / scale) + zero_point, qmin, qmax).astype(np.int8)

    params = ZeropointParams(
        scale=restore(scale, origin),
        zero_point=restore(zero_point.astype(np.int8), origin),
        bits=bits,
        axis=grouping.axis,
        group_size=grouping.group_size,
        shape=grouping.shape,
        dtype=origin.dtype,
    )
    return restore(grouping.merge(codes), origin), params


def zeropoint_dequantize(codes: Any, params: ZeropointParams) -> Any:
    """Map codes back to floats: ``scale * (codes - zero_point)``, in the original dtype.

    The subtraction is done in int16 (codes and zero point are int8; their
    difference reaches ``2**bits - 1``). The result is a torch tensor if
    ``codes`` is one, else a numpy array.
    """
    func = "zeropoint_dequantize"
    q = _check_codes(codes, params.shape, params.qmin, params.qmax, func=func)
    grouping = params.grouping
    scale = to_numpy(params.scale).astype(np.float32)
    zero_point = to_numpy(params.zero_point).astype(np.int16)
    offset = grouping.split(q).astype(np.int16) - zero_point  # in [-(2**bits - 1), 2**bits - 1]
    # float64 product of a float32 and a small integer is exact, so rounding it to
    # float32 equals a float32 multiply; only within an ulp of the float32 maximum
    # would that multiply overflow, which the clip prevents.
    X_hat = offset.astype(np.float64) * scale
    X_hat = np.clip(X_hat, -_FLOAT32_MAX, _FLOAT32_MAX).astype(np.float32)
    return restore(grouping.merge(X_hat), _origin_of(codes, params.dtype), float_dtype=params.dtype)
