"""Granularity: *where the scales live*.

Every quantizer in this course maps a float tensor ``X`` to small integers with
one (or a few) floating-point numbers per *group* of values: a scale, and for
zero-point quantization also a zero point. The formula is the same whatever
the groups are; what changes is how many groups there are, and that is the
single most important knob for accuracy:

=================  =========================  ====================================
granularity        arguments                  one scale per ...
=================  =========================  ====================================
per-tensor         ``axis=None``              the whole tensor
                   ``group_size=None``
per-channel        ``axis=k``                 index along axis ``k``; the max is
                                              taken over all *other* axes
group-wise         ``group_size=g``           ``g`` consecutive values along the
                                              *last* axis
=================  =========================  ====================================

Per-channel convention: ``axis`` names the axis that *keeps* its length in the
scale array; the reduction runs over every other axis. For a ``torch.nn.Linear``
weight of shape ``(out_features, in_features)``, ``axis=0`` gives one scale per
output row (per output channel, as in LLM.int8()'s vector-wise quantization,
Dettmers et al. 2022, arXiv:2208.07339), ``axis=1`` one scale per input column.
Negative axes count from the end, as in numpy.

Group-wise quantization (block-wise in bitsandbytes, Dettmers et al. 2022,
"8-bit Optimizers via Block-wise Quantization", arXiv:2110.02861; groups of
64 in QLoRA, arXiv:2305.14314) splits the last axis into groups of ``g``:
``X`` of shape ``(..., n)`` is viewed as ``(..., n // g, g)`` and reduced over
the new last axis. ``n`` must be divisible by ``g``.

Every reduction here keeps its dimensions (``keepdims=True``), so a scale array
broadcasts against the grouped view without any index bookkeeping::

    g = make_grouping(X.shape, axis=0)
    Xg = g.split(X)                                     # grouped view
    absmax = np.max(np.abs(Xg), axis=g.reduce_axes, keepdims=True)
    Y = g.merge(np.rint(Xg / (absmax / 127)))            # back to X.shape

Smaller groups cost storage: each scale is stored next to the codes, so the
real size of a quantized weight is ``bits + scale_bits * scales / params`` bits
per parameter (:func:`effective_bits`). int4 with an fp16 scale per 32 values
costs 4 + 16/32 = 4.5 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qlab._arrays import check_int, is_tensor

__all__ = [
    "Grouping",
    "make_grouping",
    "scale_count",
    "scale_overhead_bits",
    "effective_bits",
]


@dataclass(frozen=True)
class Grouping:
    """How a tensor of ``shape`` is split into groups that share one scale.

    Build it with :func:`make_grouping`, which checks the arguments; ``axis`` is
    stored non-negative. ``split`` gives the grouped view, ``reduce_axes`` the
    axes of that view to reduce (with ``keepdims=True``), ``merge`` undoes
    ``split``.
    """

    shape: tuple[int, ...]
    axis: int | None = None
    group_size: int | None = None

    @property
    def kind(self) -> str:
        """``"per-tensor"``, ``"per-channel"`` or ``"group-wise"``."""
        if self.group_size is not None:
            return "group-wise"
        return "per-tensor" if self.axis is None else "per-channel"

    @property
    def grouped_shape(self) -> tuple[int, ...]:
        """Shape of the grouped view: ``(..., n // g, g)`` group-wise, else ``shape``."""
        if self.group_size is None:
            return self.shape
        *lead, n = self.shape
        return (*lead, n // self.group_size, self.group_size)

    @property
    def reduce_axes(self) -> tuple[int, ...]:
        """Axes of the grouped view that one scale spans."""
        ndim = len(self.grouped_shape)
        if self.group_size is not None:
            return (ndim - 1,)
        if self.axis is None:
            return tuple(range(ndim))
        return tuple(a for a in range(ndim) if a != self.axis)

    @property
    def scale_shape(self) -> tuple[int, ...]:
        """Shape of a scale array: the grouped shape with every reduced axis set to 1."""
        reduced = set(self.reduce_axes)
        return tuple(1 if a in reduced else n for a, n in enumerate(self.grouped_shape))

    @property
    def n_scales(self) -> int:
        """How many scales (groups) there are."""
        return math.prod(self.scale_shape)

    def split(self, X: np.ndarray) -> np.ndarray:
        """View ``X`` (of ``shape``) grouped, so that scales broadcast against it."""
        return X.reshape(self.grouped_shape)

    def merge(self, Xg: np.ndarray) -> np.ndarray:
        """Undo :meth:`split`: back to ``shape``."""
        return Xg.reshape(self.shape)

    def broadcast(self, per_group: np.ndarray) -> np.ndarray:
        """Repeat a per-group array (``scale_shape``) to one value per element of ``shape``.

        Handy for plots and tests: e.g. the step size that applies to each weight.
        """
        return self.merge(np.broadcast_to(per_group, self.grouped_shape))


def make_grouping(
    shape: tuple[int, ...],
    axis: int | None = None,
    group_size: int | None = None,
    *,
    func: str = "qlab",
) -> Grouping:
    """Check ``axis``/``group_size`` against ``shape`` and return a :class:`Grouping`.

    Raises ``ValueError`` when both are given, when ``axis`` is out of range, or
    when ``group_size`` does not divide the last axis (the message lists
    divisors that would); ``TypeError`` when either is not an integer.
    """
    shape = tuple(int(n) for n in shape)
    ndim = len(shape)
    if axis is not None and group_size is not None:
        raise ValueError(
            f"{func}: pass either axis (one scale per channel) or group_size (one scale per "
            f"group of values along the last axis), not both; got axis={axis}, group_size={group_size}"
        )
    if axis is not None:
        # check_int only for the type check; the range message below is clearer.
        axis = check_int(axis, name="axis", func=func, low=-(2**62))
        if not -ndim <= axis < ndim:
            allowed = f"{-ndim}..{ndim - 1}" if ndim else "none (the array is 0-D)"
            raise ValueError(
                f"{func}: axis {axis} is out of range for an array of shape {shape}; allowed axes: "
                f"{allowed}, or axis=None for one scale for the whole tensor"
            )
        axis %= ndim
    if group_size is not None:
        group_size = check_int(group_size, name="group_size", func=func, low=1)
        if ndim == 0:
            raise ValueError(f"{func}: group_size needs an array with at least one axis; got a 0-D array")
        n = shape[-1]
        if n % group_size:
            raise ValueError(
                f"{func}: group_size {group_size} does not divide the last axis (length {n}) of shape "
                f"{shape}; choose a divisor of {n}, e.g. {_nearby_divisors(n, group_size)}"
            )
    return Grouping(shape, axis, group_size)


class GroupedScales:
    """What absmax and zero-point parameters share: a scale per group, and the grouping.

    Mixed into :class:`qlab.absmax.AbsmaxParams` and :class:`qlab.zeropoint.ZeropointParams`,
    which provide the fields ``scale``, ``bits``, ``axis``, ``group_size`` and ``shape``.
    """

    @property
    def qmax(self) -> int:
        """Largest code, ``2**(bits-1) - 1``."""
        return 2 ** (self.bits - 1) - 1

    @property
    def step(self):
        """Distance between neighbouring grid values (per group): the ``scale`` itself.

        qlab's ``scale`` is *units per code* (PyTorch, ONNX, GGUF's ``d``), so the
        step and the scale are the same array; ``step`` is kept as the name that
        says what it means geometrically.
        """
        return self.scale

    @property
    def inv_scale(self):
        """``1 / scale`` (codes per unit), in float64 so that it is finite for any stored scale.

        This is what Labonne (2023) and LLM.int8() call the "scale": ``qmax / max|X|``
        for absmax, ``(2**bits - 1) / (max - min)`` for zero-point.
        """
        if is_tensor(self.scale):
            return self.scale.double().reciprocal()
        return 1.0 / np.asarray(self.scale, dtype=np.float64)

    @property
    def grouping(self) -> Grouping:
        return make_grouping(self.shape, self.axis, self.group_size)


def _nearby_divisors(n: int, target: int, count: int = 6) -> str:
    """The ``count`` divisors of ``n`` closest to ``target``, for error messages."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    divisors = sorted(set(small + [n // d for d in small]))
    closest = sorted(sorted(divisors, key=lambda d: (abs(d - target), d))[:count])
    return ", ".join(map(str, closest))


def scale_count(shape: tuple[int, ...], axis: int | None = None, group_size: int | None = None) -> int:
    """Number of scales a tensor of ``shape`` needs at this granularity.

    >>> scale_count((4096, 4096)), scale_count((4096, 4096), axis=0), scale_count((4096, 4096), group_size=64)
    (1, 4096, 262144)
    """
    return make_grouping(shape, axis, group_size, func="scale_count").n_scales


def scale_overhead_bits(
    shape: tuple[int, ...],
    axis: int | None = None,
    group_size: int | None = None,
    *,
    scale_bits: int = 32,
) -> float:
    """Extra bits per parameter spent on storing the scales: ``scale_bits * scales / params``.

    ``scale_bits`` is what one group stores besides its codes: 32 for qlab's
    float32 absmax scale (the default), 16 for fp16 scales as in GPTQ/AWQ
    checkpoints. For zero-point quantization add the zero point's width too:
    ``32 + 8`` for qlab's float32 scale and int8 zero point, so int8 in groups
    of 64 costs ``8 + 40/64 = 8.625`` bits, which is what
    :func:`qlab.bits_per_parameter` measures on ``zeropoint_quantize``'s result.
    """
    func = "scale_overhead_bits"
    scale_bits = check_int(scale_bits, name="scale_bits", func=func, low=0)
    grouping = make_grouping(shape, axis, group_size, func=func)
    n_params = math.prod(grouping.shape)
    if n_params == 0:
        raise ValueError(f"{func}: shape {grouping.shape} has no parameters; bits per parameter is undefined")
    return scale_bits * grouping.n_scales / n_params


def effective_bits(
    bits: int,
    shape: tuple[int, ...],
    axis: int | None = None,
    group_size: int | None = None,
    *,
    scale_bits: int = 32,
) -> float:
    """Bits per parameter including the scales: ``bits + scale_bits * scales / params``.

    >>> effective_bits(4, (4096, 4096), group_size=32, scale_bits=16)
    4.5
    >>> effective_bits(8, (4096, 4096), group_size=64, scale_bits=32 + 8)  # qlab zero-point g64
    8.625
    """
    bits = check_int(bits, name="bits", func="effective_bits", low=1)
    return bits + scale_overhead_bits(shape, axis, group_size, scale_bits=scale_bits)
