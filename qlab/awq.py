"""AWQ: scale the salient input channels up before rounding, and fold the inverse into the input.

Activation-aware Weight Quantization (Lin, Tang, Tang, Yang, Dang, Gan and Han
2023, "AWQ: Activation-aware Weight Quantization for LLM Compression and
Acceleration", arXiv:2306.00978) starts from an observation: a few input
channels carry much larger activations than the rest, and the weights that
multiply them matter most. Keeping 1 % of those channels in float recovers
most of the quality, but mixed precision is awkward for kernels. Instead, AWQ
multiplies the weight column of each channel by a factor ``s_j > 1`` before
rounding (its relative rounding error shrinks) and divides the activation by
``s_j`` (exact in float, folded into the previous layer's output scale):

    y = W x = (W · diag(s)) (diag(s)⁻¹ x)            # mathematically identical
    Ŵ_eff = quant(W · diag(s)) · diag(s)⁻¹            # what the quantized layer computes

The factors come from the activations alone, ``s = mean|x|^α`` per input
channel (normalised so that ``max(s) · min(s) = 1``), and ``α ∈ [0, 1)`` is
chosen by a grid search of ``n_grid`` values that minimizes the layer's output
error ``mean((X Wᵀ − X Ŵ_effᵀ)²)`` on calibration inputs ``X`` (Section 3.3 and
``auto_scale.py`` of mit-han-lab/llm-awq). ``α = 0`` is plain round-to-nearest.
The grid here is lesson 04's group-wise grid (:mod:`qlab.zeropoint`, or
:mod:`qlab.absmax` with ``symmetric=True``). The reference implementation also
searches a clipping range per group (``auto_clip``); that step is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from qlab._arrays import as_float_array, check_int, to_numpy
from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.zeropoint import zeropoint_dequantize, zeropoint_quantize

__all__ = [
    "AWQParams",
    "awq_quantize",
    "awq_dequantize",
    "activation_scales",
    "output_error",
    "output_error_fn",
]


@dataclass(frozen=True)
class AWQParams:
    """The grid of the scaled weight, the per-channel factors ``s`` and the search that chose them."""

    grid: Any  # qlab ZeropointParams / AbsmaxParams of W · diag(s)
    input_scale: np.ndarray  # float32 (in_features,): s
    alpha: float  # the chosen exponent
    alphas: np.ndarray  # the grid searched
    errors: np.ndarray  # output error for each alpha
    symmetric: bool


def activation_scales(X: Any) -> np.ndarray:
    """``mean |x|`` per input channel over all calibration tokens (AWQ's activation statistic)."""
    arr, _ = as_float_array(X, name="X", func="activation_scales")
    return np.abs(arr.reshape(-1, arr.shape[-1]).astype(np.float64)).mean(axis=0)


def output_error(X: Any, W: Any, W_hat: Any) -> float:
    """``mean((X Wᵀ − X Ŵᵀ)²)``: how far a quantized layer's outputs are from the original's."""
    func = "output_error"
    Xf, _ = as_float_array(X, name="X", func=func)
    Wf, _ = as_float_array(W, name="W", func=func)
    Wh, _ = as_float_array(W_hat, name="W_hat", func=func)
    if Wf.ndim != 2 or Wh.shape != Wf.shape:
        raise ValueError(f"{func}: W and W_hat must be 2-D of the same shape, got {Wf.shape} and {Wh.shape}")
    if Xf.shape[-1] != Wf.shape[1]:
        raise ValueError(f"{func}: X has {Xf.shape[-1]} features but W has in_features={Wf.shape[1]}")
    x = Xf.reshape(-1, Wf.shape[1]).astype(np.float64)
    diff = Wf.astype(np.float64) - Wh.astype(np.float64)
    return float(np.mean((x @ diff.T) ** 2))


def output_error_fn(X: Any, W: Any) -> Callable[[Any], float]:
    """:func:`output_error` ``(X, W, Ŵ)`` as a function of ``Ŵ``, for comparing many candidates on the same data.

    ``X`` is converted once and, with more tokens than inputs, the error is taken
    through ``XᵀX`` (see :func:`_output_error_of`): the same value up to float64
    rounding, several times faster when a lesson scores dozens of candidates per layer.
    """
    func = "output_error_fn"
    Xf, _ = as_float_array(X, name="X", func=func)
    Wf, _ = as_float_array(W, name="W", func=func)
    if Wf.ndim != 2:
        raise ValueError(f"{func}: W must be a 2-D weight (out_features, in_features), got shape {Wf.shape}")
    if Xf.shape[-1] != Wf.shape[1]:
        raise ValueError(f"{func}: X has {Xf.shape[-1]} features but W has in_features={Wf.shape[1]}")
    W64 = Wf.astype(np.float64)
    error = _output_error_of(Xf, Wf.shape[1])

    def error_of(W_hat: Any) -> float:
        Wh, _ = as_float_array(W_hat, name="W_hat", func=func)
        if Wh.shape != W64.shape:
            raise ValueError(f"{func}: W_hat has shape {Wh.shape}, W has {W64.shape}")
        return error(W64 - Wh.astype(np.float64))

    return error_of


def _output_error_of(X: np.ndarray, in_features: int) -> Callable[[np.ndarray], float]:
    """A fast :func:`output_error` for one calibration set, as a function of ``D = W − Ŵ``.

    The grid search evaluates the error for many candidate weights on the same ``X``, so
    ``X`` is converted once, and with more tokens than inputs the error is taken through
    the Gram matrix: ``mean((X Dᵀ)²) = Σ (D · XᵀX) ⊙ D / (tokens · out)``, which costs
    ``in² · out`` instead of ``tokens · in · out`` per candidate (equal up to float64 rounding);
    through the Cholesky factor of ``XᵀX`` the product is triangular, half of that.
    """
    x = X.reshape(-1, in_features).astype(np.float64)
    tokens = x.shape[0]
    if tokens <= in_features:
        return lambda D: float(np.mean((x @ D.T) ** 2))
    gram = x.T @ x
    try:  # D·XᵀX·Dᵀ = ‖D L‖² with XᵀX = L Lᵀ: a triangular product, a third cheaper
        lower = scipy.linalg.cholesky(gram, lower=True)
    except np.linalg.LinAlgError:  # a rank-deficient X (e.g. an input that is always 0)
        return lambda D: float(np.sum((D @ gram) * D) / (tokens * D.shape[0]))

    def error(D: np.ndarray) -> float:
        DL = scipy.linalg.blas.dtrmm(1.0, lower, np.asarray(D, dtype=np.float64), side=1, lower=1)
        return float(np.einsum("ij,ij->", DL, DL) / (tokens * D.shape[0]))

    return error


def _quantize(W: np.ndarray, bits: int, group_size: int | None, symmetric: bool):
    if symmetric:
        codes, grid = absmax_quantize(
            W, bits=bits, axis=0 if group_size is None else None, group_size=group_size
        )
        return codes, grid, absmax_dequantize(codes, grid)
    codes, grid = zeropoint_quantize(
        W, bits=bits, axis=0 if group_size is None else None, group_size=group_size
    )
    return codes, grid, zeropoint_dequantize(codes, grid)


def awq_quantize(
    W: Any,
    X: Any,
    bits: int = 4,
    group_size: int | None = 128,
    n_grid: int = 20,
    symmetric: bool = False,
) -> tuple[np.ndarray, AWQParams]:
    """Quantize ``W`` (out × in) with AWQ's activation-aware scaling, calibrated on inputs ``X`` (tokens × in).

    Returns ``(codes, params)``: the codes of ``W · diag(s)`` on the group-wise
    grid and :class:`AWQParams`; :func:`awq_dequantize` gives the effective
    weight, so that ``X @ Ŵ_effᵀ ≈ X @ Wᵀ``.
    """
    func = "awq_quantize"
    bits = check_int(bits, name="bits", func=func, low=2, high=8)
    n_grid = check_int(n_grid, name="n_grid", func=func, low=1)
    Wf, _ = as_float_array(W, name="W", func=func)
    Xf, _ = as_float_array(X, name="X", func=func)
    if Wf.ndim != 2:
        raise ValueError(f"{func}: W must be a 2-D weight (out_features, in_features), got shape {Wf.shape}")
    if Xf.shape[-1] != Wf.shape[1]:
        raise ValueError(f"{func}: X has {Xf.shape[-1]} features but W has in_features={Wf.shape[1]}")
    if group_size is not None:
        group_size = check_int(group_size, name="group_size", func=func, low=1)
        if Wf.shape[1] % group_size:
            raise ValueError(
                f"{func}: in_features={Wf.shape[1]} is not a multiple of group_size={group_size}"
            )
    if not isinstance(symmetric, (bool, np.bool_)):
        raise TypeError(f"{func}: symmetric must be True or False, got {symmetric!r}")
    W32 = Wf.astype(np.float32)
    x_mean = activation_scales(Xf)
    layer_error = _output_error_of(Xf, Wf.shape[1])

    alphas = np.arange(n_grid) / n_grid  # 0, 1/n, ..., (n-1)/n, as the reference code
    errors = np.empty(n_grid)
    best = None
    for k, alpha in enumerate(alphas):
        s = np.maximum(x_mean, 1e-4) ** alpha
        s = (s / np.sqrt(s.max() * s.min())).astype(np.float32)
        codes, grid, scaled_hat = _quantize(W32 * s, bits, group_size, symmetric)
        errors[k] = layer_error(W32.astype(np.float64) - (scaled_hat / s).astype(np.float64))
        if best is None or errors[k] < errors[best[0]]:
            best = (k, codes, grid, s)
    k, codes, grid, s = best
    params = AWQParams(grid, s, float(alphas[k]), alphas, errors, symmetric)
    return codes, params


def awq_dequantize(codes: Any, params: AWQParams) -> np.ndarray:
    """The effective float32 weight ``quant(W · diag(s)) · diag(s)⁻¹``."""
    if not isinstance(params, AWQParams):
        raise TypeError(
            f"awq_dequantize: params must be the AWQParams of awq_quantize, got {type(params).__name__}"
        )
    if params.symmetric:
        scaled = absmax_dequantize(codes, params.grid)
    else:
        scaled = zeropoint_dequantize(codes, params.grid)
    return to_numpy(scaled) / params.input_scale
