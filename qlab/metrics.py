"""How good, and how small, is a quantized tensor?

Error metrics compare an original ``x`` with its reconstruction ``y`` (e.g.
``absmax_dequantize(*absmax_quantize(x))``). All of them accept numpy arrays or
torch tensors of the same shape and compute in float64, so the metric itself
adds no rounding error worth mentioning.

* :func:`mse` -- mean squared error, ``mean((x - y)**2)``.
* :func:`max_abs_error` -- the worst single value, ``max|x - y|``. For a
  round-to-nearest quantizer this is at most half a step.
* :func:`sqnr_db` -- signal-to-quantization-noise ratio in decibels,
  ``10 * log10(sum(x**2) / sum((x - y)**2))``. Each extra bit of a uniform
  quantizer adds about 6.02 dB (20 * log10(2)).

Size metrics count what is really stored:

* :func:`storage_bytes` -- bytes of every numpy array / torch tensor inside a
  result (codes, scales, zero points, nested states), found by walking tuples,
  lists, dicts, dataclass fields and plain objects' attributes. A field named
  ``code`` is skipped: in bitsandbytes and qlab that is the format's lookup
  table (the 16 NF4 values, the 256 dynamic-map values). It is a constant of
  the *format*, shared by every tensor ever quantized with it (it ships with
  the library, like the formula of absmax does), so charging it to one tensor
  would make small tensors look far more expensive than they are.
* :func:`bits_per_parameter` -- ``8 * storage_bytes / n_params``: int8 absmax
  per tensor on a 1024 x 1024 weight is ``8 + 32 / 2**20``, NF4 with an fp32
  absmax per block of 64 (QLoRA, Dettmers et al. 2023, arXiv:2305.14314, before
  double quantization) is ``4 + 32 / 64 = 4.5``, int8 zero-point in groups of 64
  (a float32 scale and an int8 zero point per group) is ``8 + (32 + 8) / 64 =
  8.625``. These agree with :func:`qlab.granularity.effective_bits` given the
  same per-group width (``scale_bits=32 + 8`` for zero-point).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any

import numpy as np

from qlab._arrays import FLOAT_DTYPES, check_finite, check_int, is_tensor, to_numpy

__all__ = ["mse", "max_abs_error", "sqnr_db", "storage_bytes", "bits_per_parameter"]

# Fields/attributes holding a format's shared lookup table (see the module docstring).
EXCLUDED_FIELDS = frozenset({"code"})


def _as_float64(a: Any, *, name: str, func: str) -> np.ndarray:
    """``a`` as a float64 numpy array, after the usual dtype/empty/NaN checks."""
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(
            f"{func}: {name} must be a numpy array or torch tensor of floats, got {type(a).__name__}"
        )
    arr = to_numpy(a)
    dtype = arr.dtype.name
    allowed = FLOAT_DTYPES + ("float64",)
    if dtype not in allowed:
        raise TypeError(
            f"{func}: {name} has dtype {dtype}; expected a floating-point array ({', '.join(allowed)})"
        )
    if arr.size == 0:
        raise ValueError(f"{func}: {name} is empty (shape {tuple(arr.shape)}); there is nothing to compare")
    arr = arr.astype(np.float64)
    check_finite(arr, name=name, func=func)
    return arr


def _pair(x: Any, y: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    a = _as_float64(x, name="x", func=func)
    b = _as_float64(y, name="y", func=func)
    if a.shape != b.shape:
        # No broadcasting: comparing a (4096, 1) with a (4096,) by accident would
        # silently build a 4096 x 4096 difference.
        raise ValueError(
            f"{func}: x has shape {tuple(a.shape)} but y has shape {tuple(b.shape)}; they must match"
        )
    return a, b


def mse(x: Any, y: Any) -> float:
    """Mean squared error ``mean((x - y)**2)``, computed in float64."""
    a, b = _pair(x, y, "mse")
    return float(np.mean((a - b) ** 2))


def max_abs_error(x: Any, y: Any) -> float:
    """Largest absolute difference ``max|x - y|``, computed in float64."""
    a, b = _pair(x, y, "max_abs_error")
    return float(np.max(np.abs(a - b)))


def sqnr_db(x: Any, y: Any) -> float:
    """Signal-to-quantization-noise ratio ``10 * log10(sum(x**2) / sum((x - y)**2))`` in dB.

    ``x`` is the original (the signal), ``y`` the reconstruction. Higher is
    better. Edge cases return a value instead of warning:

    * no noise (``y == x``, including both all zeros): ``+inf``;
    * noise but no signal (``x`` all zeros, ``y`` not): ``-inf``.
    """
    a, b = _pair(x, y, "sqnr_db")
    signal = float(np.sum(a**2))
    noise = float(np.sum((a - b) ** 2))
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def storage_bytes(obj: Any) -> int:
    """Bytes of all numpy arrays and torch tensors inside ``obj``.

    Walks tuples, lists, sets, dict values, dataclass fields and the attributes
    of other objects (so a bitsandbytes ``QuantState`` works too), skipping
    fields named ``code`` (a format's shared lookup table, see the module
    docstring). Python numbers, strings, dtypes and shapes count 0 bytes: they
    are a few words of metadata per tensor, not per value. An array reachable
    twice is counted once.
    """
    return _walk(obj, set())


def _walk(obj: Any, seen: set[int]) -> int:
    if id(obj) in seen:
        return 0
    if isinstance(obj, (np.ndarray, np.generic)):
        seen.add(id(obj))
        return int(obj.nbytes)
    if is_tensor(obj):
        seen.add(id(obj))
        return int(obj.nelement() * obj.element_size())
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.dtype, type, enum.Enum)):
        return 0
    seen.add(id(obj))  # containers too: guards against reference cycles
    if isinstance(obj, dict):
        return sum(_walk(v, seen) for k, v in obj.items() if k not in EXCLUDED_FIELDS)
    if isinstance(obj, (tuple, list, set, frozenset)):
        return sum(_walk(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj):
        return sum(
            _walk(getattr(obj, f.name), seen)
            for f in dataclasses.fields(obj)
            if f.name not in EXCLUDED_FIELDS
        )
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        return sum(_walk(v, seen) for k, v in attributes.items() if k not in EXCLUDED_FIELDS)
    return 0  # torch.dtype, torch.device, torch.Size's ints, functions, ...


def bits_per_parameter(obj: Any, n_params: int) -> float:
    """Stored bits per parameter: ``8 * storage_bytes(obj) / n_params``.

    Pass everything the quantizer returned, e.g. ``bits_per_parameter((codes,
    params), X.size)``.
    """
    n_params = check_int(n_params, name="n_params", func="bits_per_parameter", low=1)
    return 8 * storage_bytes(obj) / n_params
