"""Clipping (calibration): give up a few large values to get a finer grid for all the others.

Absmax (:mod:`qlab.absmax`) puts ``max|X|`` on the largest code, so one outlier
sets the step ``s = max|X| / qmax`` for every value. **Clipping** picks a
smaller range ``c < max|X|`` instead::

    X_c   = clip(X, -c, c)          # values beyond +-c saturate to +-c
    s     = c / qmax                # a finer step than max|X| / qmax
    X_hat = absmax round trip of X_c

Two errors now compete. Every value inside ``[-c, c]`` gets a rounding error of
at most ``s / 2 = c / (2 qmax)``, smaller the smaller ``c`` is; every clipped
value loses ``|x| - c`` (up to half a step more), larger the smaller ``c`` is.
Choosing ``c`` is called **calibration**; for activations it is done once on a
few batches of calibration data, because they are not known in advance. This is
the first remedy for an outlier; the second is to give parts of the tensor their
own scales (granularity, :mod:`qlab.granularity`, lesson 04).

Two standard ways to choose ``c`` are implemented here, both per tensor:

* :func:`clip_percentile` -- ``c`` = the ``pct``-th percentile of ``|X|`` (e.g.
  99.9 or 99.99): percentile calibration, as in NVIDIA TensorRT and its
  pytorch-quantization toolkit (``HistogramCalibrator``, method
  ``"percentile"``). Wu et al. 2020, "Integer Quantization for Deep Learning
  Inference: Principles and Empirical Evaluation", arXiv:2004.09602, compare
  max, percentile, MSE and entropy calibration. A percentile always clips the
  same *fraction* of values, however harmless they are.
* :func:`mse_optimal_clip` -- ``c`` that minimizes the mean squared error of the
  round trip, ``mean((X - X_hat)**2)``, found by searching a grid of candidates
  ``max|X| * k / n_grid``: MSE-optimal clipping (Sung, Shin & Hwang 2015,
  "Resiliency of Deep Neural Networks under Quantization", arXiv:1511.06488;
  Banner, Nahshan & Soudry 2019, "Post training 4-bit quantization of
  convolutional networks for rapid-deployment" (ACIQ), arXiv:1810.05723, who
  derive the optimum analytically for Gaussian and Laplace data, e.g. about
  2.5 standard deviations for a Gaussian at 4 bits). PyTorch's
  ``HistogramObserver`` does the same search on a histogram. MSE weighs every
  value by its squared error, so a single huge outlier carrying much of the
  energy is usually *kept* (clipping it would cost more than the rounding noise
  it saves), while a tensor with a heavy tail gets clipped.

:func:`mse_versus_clip` returns the whole MSE curve (for plots), and
:func:`absmax_quantize_clipped` quantizes with a chosen clip; dequantize its
codes with :func:`qlab.absmax_dequantize` as usual. Its scale is
``min(c, max|X|) / qmax``: a clip above ``max|X|`` changes nothing.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from qlab._arrays import as_float_array, check_int, is_tensor, restore, to_numpy
from qlab.absmax import MAX_BITS, MIN_BITS, absmax_quantize

__all__ = ["clip_percentile", "mse_optimal_clip", "mse_versus_clip", "absmax_quantize_clipped"]

MAX_GRID = 100_000  # candidates of mse_optimal_clip; more is only slower


def _check_clip(clip: Any, *, func: str) -> float:
    """A clip value as a finite float >= 0 (Python, numpy or 0-d torch numbers)."""
    if is_tensor(clip) and clip.numel() == 1:
        clip = clip.item()
    elif isinstance(clip, np.ndarray) and clip.ndim == 0:
        clip = clip.item()
    if isinstance(clip, bool) or not isinstance(clip, Real):
        raise TypeError(f"{func}: clip must be a real number (the largest |value| kept), got {clip!r}")
    value = float(clip)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{func}: clip must be a finite number >= 0, got {value}")
    return value


def clip_percentile(X: Any, pct: float = 99.9) -> float:
    """The ``pct``-th percentile of ``|X|``, a clip value for percentile calibration.

    ``pct`` lies in ``(0, 100]``; 100 gives ``max|X|`` (no clipping), 99.9 clips
    the largest 0.1 % of the magnitudes. Percentiles interpolate linearly between
    the sorted ``|X|`` (numpy's default). Returns a Python float.
    """
    func = "clip_percentile"
    arr, _ = as_float_array(X, name="X", func=func)
    if isinstance(pct, bool) or not isinstance(pct, Real) or not math.isfinite(float(pct)):
        raise TypeError(f"{func}: pct must be a finite number in (0, 100], got {pct!r}")
    pct = float(pct)
    if not 0 < pct <= 100:
        raise ValueError(
            f"{func}: pct must lie in (0, 100] (a percentile such as 99.9, not a fraction), got {pct}"
        )
    return float(np.percentile(np.abs(arr), pct))


class _SortedMagnitudes:
    """``|X|`` sorted once, so each candidate clip costs one pass over the values it keeps.

    Absmax rounds symmetrically (round-half-to-even is odd-symmetric), so the
    error of ``x`` and of ``|x|`` have the same size: the MSE only needs ``|X|``.
    A clipped value saturates to the code ``qmax``, which comes back as ``c``, so
    its error is ``|x| - c``.
    """

    def __init__(self, arr: np.ndarray) -> None:
        self.a = np.sort(np.abs(arr), axis=None)
        self.absmax = float(self.a[-1])
        self.buf = np.empty_like(self.a)

    def mse(self, clip: float, qmax: int) -> float:
        a, n = self.a, self.a.size
        top = min(clip, self.absmax)  # what absmax sees as max|X_c|
        if top == 0.0:
            return float(np.add.reduce(a.astype(np.float64) ** 2) / n)  # everything comes back as 0
        s = np.float32(top / qmax)
        kept = int(np.searchsorted(a, np.float32(top), side="right"))
        inside, buf = a[:kept], self.buf[:kept]
        np.divide(inside, s, out=buf)
        np.rint(buf, out=buf)
        np.multiply(buf, s, out=buf)
        np.subtract(inside, buf, out=buf)
        np.multiply(buf, buf, out=buf)
        rounding = float(np.add.reduce(buf, dtype=np.float64))
        tail = a[kept:].astype(np.float64) - float(s * np.float32(qmax))
        return (rounding + float(np.dot(tail, tail))) / n


def mse_versus_clip(X: Any, clips: Any, bits: int = 8) -> np.ndarray:
    """Mean squared error of the ``bits``-bit absmax round trip of ``X`` clipped at each of ``clips``.

    The error is measured against the *unclipped* ``X``, so it includes what the
    clipped values lose. Returns a float64 numpy array shaped like ``clips``.
    """
    func = "mse_versus_clip"
    bits = check_int(bits, name="bits", func=func, low=MIN_BITS, high=MAX_BITS)
    arr, _ = as_float_array(X, name="X", func=func)
    try:
        clip_arr = np.asarray(to_numpy(clips) if is_tensor(clips) else clips, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{func}: clips must be numbers (an array or a list of clip values), got {clips!r}"
        ) from error
    if clip_arr.size == 0 or not np.all(np.isfinite(clip_arr)):
        raise ValueError(f"{func}: clips must be a non-empty array of finite numbers, got {clips!r}")
    if np.any(clip_arr < 0):
        raise ValueError(f"{func}: clips must be >= 0, got a minimum of {float(clip_arr.min())}")
    qmax = 2 ** (bits - 1) - 1
    mags = _SortedMagnitudes(arr)
    flat = [mags.mse(float(c), qmax) for c in clip_arr.ravel()]
    return np.asarray(flat, dtype=np.float64).reshape(clip_arr.shape)


def mse_optimal_clip(X: Any, bits: int = 8, n_grid: int = 100) -> float:
    """The clip value ``c`` that minimizes the MSE of ``bits``-bit absmax on ``X``, searched on a grid.

    Candidates are ``max|X| * k / n_grid`` for ``k = 1 .. n_grid`` (the last one
    is no clipping); the one with the smallest :func:`mse_versus_clip` wins (the
    smallest ``c`` among exact ties). The answer is exact to ``max|X| / n_grid``:
    raise ``n_grid`` for a finer search. An all-zero ``X`` gives 0.0. Returns a
    Python float.
    """
    func = "mse_optimal_clip"
    bits = check_int(bits, name="bits", func=func, low=MIN_BITS, high=MAX_BITS)
    n_grid = check_int(n_grid, name="n_grid", func=func, low=1, high=MAX_GRID)
    arr, _ = as_float_array(X, name="X", func=func)
    mags = _SortedMagnitudes(arr)
    top = mags.absmax
    if top == 0.0:
        return 0.0
    candidates = top * np.arange(1, n_grid + 1, dtype=np.float64) / n_grid
    qmax = 2 ** (bits - 1) - 1
    mses = np.array([mags.mse(float(c), qmax) for c in candidates])
    return float(candidates[int(np.argmin(mses))])


def absmax_quantize_clipped(X: Any, clip: Any, bits: int = 8) -> tuple[Any, Any]:
    """Absmax-quantize ``X`` after clipping it to ``[-clip, clip]``; returns ``(codes, params)``.

    The same as ``qlab.absmax_quantize(np.clip(X, -clip, clip), bits)``, for numpy
    arrays and torch tensors alike (the results follow the input's type and
    dtype). Dequantize with :func:`qlab.absmax_dequantize`. Per tensor only.
    """
    func = "absmax_quantize_clipped"
    c = _check_clip(clip, func=func)
    bits = check_int(bits, name="bits", func=func, low=MIN_BITS, high=MAX_BITS)
    arr, origin = as_float_array(X, name="X", func=func)
    clipped = np.clip(arr, -np.float32(c), np.float32(c))
    return absmax_quantize(restore(clipped, origin, float_dtype=origin.dtype), bits=bits)
