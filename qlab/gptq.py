"""GPTQ: quantize a layer's weights column by column, pushing each rounding error onto the rest.

Round-to-nearest (lessons 02–06) treats every weight alike. But what matters is
the layer's *output* on real inputs: for a linear layer ``y = W x`` and
calibration inputs ``X`` (one row per token), the error of a quantized ``Ŵ`` is
``‖X Wᵀ − X Ŵᵀ‖² = tr((W − Ŵ) H (W − Ŵ)ᵀ) · n / 2`` with the **Hessian**
``H = 2 XᵀX / n`` (in_features × in_features). GPTQ (Frantar, Ashkboos, Hoefler
and Alistarh 2022, "GPTQ: Accurate Post-Training Quantization for Generative
Pre-trained Transformers", arXiv:2210.17323), building on Optimal Brain
Quantization (Frantar and Alistarh 2022, arXiv:2208.11580), quantizes one input
column ``j`` at a time and updates the columns not yet quantized so that they
absorb its error as well as possible:

    q_j      = quant(w_j)                                  # round to the grid
    err      = (w_j − q_j) / U[j, j]                       # U: upper Cholesky factor of H⁻¹
    w_{j+1:} = w_{j+1:} − err · U[j, j+1:]                 # the error moves right

(Algorithm 1 of the paper.) The details, each as in the paper and its reference
code (``gptq.py`` of IST-DASLab/gptq):

* **dead columns**: an input feature that is always 0 (``H[j, j] = 0``) gets
  ``H[j, j] = 1`` and its weights are set to 0 (they never matter);
* **damping**: ``λ = damp · mean(diag H)`` is added to the diagonal so that the
  Cholesky factorization exists and is stable (``damp = 0.01``);
* **lazy batch updates**: columns are processed in blocks of ``block_size``;
  inside a block the updates are applied at once per column, and the rest of
  the matrix gets one matrix product per block (the same result, faster);
* **groups**: with ``group_size = g`` each run of ``g`` columns gets its own
  scale (and zero point) per row, taken **when the group starts**, from the
  weights as they are then (after the errors of earlier columns were pushed
  onto them); the grid is lesson 04's group-wise grid (:mod:`qlab.absmax` for
  ``symmetric=True``, :mod:`qlab.zeropoint` otherwise), so with a diagonal ``H``
  (no correlations, nothing to push) GPTQ returns exactly the round-to-nearest
  codes of ``qlab.zeropoint_quantize(W, bits, group_size=g)``;
* **act-order** (``act_order=True``, "desc_act" in GPTQ checkpoints): columns are
  quantized in order of decreasing ``H[j, j]`` — the most active inputs first,
  while the most columns are still free to absorb their error. The permutation
  is stored, and ``g_idx`` (as in checkpoints) says which group each column's
  parameters belong to.

Codes are stored as in :mod:`qlab.zeropoint`/:mod:`qlab.absmax` (int8, signed:
``−8 … 7`` at 4 bits); GPTQ checkpoints (AutoGPTQ/GPTQModel "qweight") store the
same grid unsigned, ``code + 2**(bits−1)``, eight 4-bit codes per int32, with
``scales`` and ``qzeros`` per group and ``g_idx`` per column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from qlab._arrays import as_float_array, check_int, to_numpy
from qlab.absmax import absmax_quantize
from qlab.zeropoint import zeropoint_quantize

__all__ = ["GPTQParams", "gptq_hessian", "gptq_quantize", "gptq_dequantize", "gptq_proxy_loss"]


@dataclass(frozen=True)
class GPTQParams:
    """Everything besides the codes that is needed to dequantize a GPTQ layer.

    ``scale`` and ``zero_point`` have shape ``(rows, n_groups)``; ``g_idx[j]`` is
    the group of column ``j`` (with act-order the groups follow the
    quantization order, so ``g_idx`` is not sorted); ``perm`` is that order
    (``None`` without act-order).
    """

    scale: np.ndarray  # float32 (rows, n_groups)
    zero_point: np.ndarray | None  # int8 (rows, n_groups); None when symmetric
    g_idx: np.ndarray  # int64 (cols,)
    perm: np.ndarray | None
    bits: int
    group_size: int | None
    symmetric: bool
    shape: tuple[int, int]


def gptq_hessian(X: Any) -> np.ndarray:
    """``H = 2 XᵀX / n`` from calibration inputs ``X`` of shape ``(..., in_features)``, in float64.

    ``X`` holds the inputs of the layer (one row per token), e.g. captured with
    forward hooks. A list of such arrays is accumulated as one long batch.
    """
    parts = X if isinstance(X, (list, tuple)) else [X]
    if not parts:
        raise ValueError("gptq_hessian: no calibration inputs")
    total, n = None, 0
    for part in parts:
        arr, _ = as_float_array(part, name="X", func="gptq_hessian")
        if arr.ndim < 2:
            raise ValueError(
                f"gptq_hessian: X must have shape (tokens, in_features) or (..., in_features), got {arr.shape}"
            )
        rows = arr.reshape(-1, arr.shape[-1]).astype(np.float64)
        if total is not None and total.shape[0] != rows.shape[1]:
            raise ValueError(
                f"gptq_hessian: every input batch must have the same number of features, "
                f"got {total.shape[0]} and {rows.shape[1]}"
            )
        total = rows.T @ rows if total is None else total + rows.T @ rows
        n += rows.shape[0]
    return 2 * total / n


def _grid(block: np.ndarray, bits: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-row scale (and zero point) of ``block`` (rows × group): lesson 04's grid."""
    if symmetric:
        _, p = absmax_quantize(block, bits=bits, axis=0)
        return p.scale.reshape(-1), None
    _, p = zeropoint_quantize(block, bits=bits, axis=0)
    return p.scale.reshape(-1), p.zero_point.reshape(-1)


def _round(w: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, bits: int) -> np.ndarray:
    """One column to codes, with exactly the arithmetic of qlab.absmax / qlab.zeropoint."""
    w32 = w.astype(np.float32)
    if zero is None:
        qmax = 2 ** (bits - 1) - 1
        return np.clip(np.rint(w32 / scale), -qmax, qmax)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.clip(np.rint(w32 / scale) + zero, qmin, qmax)


def _value(code: np.ndarray, scale: np.ndarray, zero: np.ndarray | None) -> np.ndarray:
    shifted = code if zero is None else code - zero.astype(np.float64)
    return (scale * shifted.astype(np.float32)).astype(np.float64)


def _upper_cholesky_of_inverse(H: np.ndarray, damp: float) -> np.ndarray:
    """The upper triangular ``U`` with ``H⁻¹ = Uᵀ U``, from one Cholesky factorization and one triangular inverse.

    The reference code computes ``cholesky(inverse(H))``; the same factor comes
    cheaper from ``H`` with its rows and columns reversed (``P`` reverses them):
    if ``P H P = L Lᵀ`` then ``H⁻¹ = (P L⁻ᵀ P)(P L⁻¹ P)`` and ``P L⁻¹ P`` is upper
    triangular with a positive diagonal — by uniqueness, the Cholesky factor.
    """
    try:
        lower = scipy.linalg.cholesky(H[::-1, ::-1], lower=True)
    except np.linalg.LinAlgError as error:
        raise ValueError(
            f"gptq_quantize: H is not positive definite even after damping (damp={damp}); "
            "use more calibration tokens or a larger damp"
        ) from error
    lower_inv, info = scipy.linalg.lapack.dtrtri(lower, lower=1)
    if info != 0:  # cannot happen for a successful Cholesky factor; kept as a guard
        raise ValueError(f"gptq_quantize: the Cholesky factor of H is singular (LAPACK info={info})")
    return np.ascontiguousarray(lower_inv[::-1, ::-1])


_FACTORS: dict[bytes, np.ndarray] = {}  # recent factors, by a digest of the damped, ordered H
_FACTOR_CACHE_BYTES = 256 * 2**20  # enough for every layer of MiniLM (150 MB) or a few SmolLM2 layers


def _cached_factor(H: np.ndarray, damp: float) -> np.ndarray:
    """:func:`_upper_cholesky_of_inverse`, remembered for recent ``H`` (at most 256 MB of factors).

    Lessons quantize the same layers at several bit widths and group sizes; a
    factor depends only on ``H`` (after damping and act-order), so a digest of
    those bytes finds it again. A copy is returned: callers may not alter the cache.
    """
    key = hashlib.blake2b(np.ascontiguousarray(H).view(np.uint8), digest_size=16).digest()
    key += H.shape[0].to_bytes(4, "little")
    if key not in _FACTORS:
        factor = _upper_cholesky_of_inverse(H, damp)
        while _FACTORS and sum(f.nbytes for f in _FACTORS.values()) + factor.nbytes > _FACTOR_CACHE_BYTES:
            _FACTORS.pop(next(iter(_FACTORS)))  # the oldest first
        _FACTORS[key] = factor
    return _FACTORS[key].copy()


def gptq_quantize(
    W: Any,
    H: Any,
    bits: int = 4,
    group_size: int | None = 128,
    symmetric: bool = False,
    damp: float = 0.01,
    act_order: bool = False,
    block_size: int = 128,
) -> tuple[np.ndarray, GPTQParams]:
    """Quantize the weight ``W`` (out_features × in_features) with GPTQ, given ``H`` (:func:`gptq_hessian`).

    Returns ``(codes, params)``: int8 codes of ``W``'s shape on the group-wise
    grid (``group_size=None``: one scale per row), and :class:`GPTQParams`.
    Raises ``ValueError`` for mismatched shapes, a bad bit width or group size,
    or an ``H`` that is not positive definite even after damping.
    """
    func = "gptq_quantize"
    bits = check_int(bits, name="bits", func=func, low=2, high=8)
    block_size = check_int(block_size, name="block_size", func=func, low=1)
    Wf, _ = as_float_array(W, name="W", func=func)
    Hf, _ = as_float_array(H, name="H", func=func)
    if Wf.ndim != 2:
        raise ValueError(f"{func}: W must be a 2-D weight (out_features, in_features), got shape {Wf.shape}")
    rows, cols = Wf.shape
    if Hf.shape != (cols, cols):
        raise ValueError(f"{func}: H must be ({cols}, {cols}) for W of shape {Wf.shape}, got {Hf.shape}")
    if float(np.abs(Hf - Hf.T).max()) > 1e-5 * float(np.abs(Hf).max() or 1):
        raise ValueError(f"{func}: H must be symmetric (H = 2·XᵀX/n, see gptq_hessian)")
    if group_size is not None:
        group_size = check_int(group_size, name="group_size", func=func, low=1)
        if cols % group_size:
            raise ValueError(f"{func}: in_features={cols} is not a multiple of group_size={group_size}")
    for flag, value in (("symmetric", symmetric), ("act_order", act_order)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{func}: {flag} must be True or False, got {value!r}")
    if isinstance(damp, bool) or not (isinstance(damp, (int, float)) and 0 <= damp < 1):
        raise ValueError(f"{func}: damp must be a fraction in [0, 1), got {damp!r}")

    Wm = Wf.astype(np.float64).copy()
    Hm = Hf.astype(np.float64).copy()
    dead = np.diag(Hm) == 0  # features that are always zero
    Hm[dead, dead] = 1.0
    Wm[:, dead] = 0.0

    perm = np.argsort(-np.diag(Hm), kind="stable") if act_order else None
    if perm is not None:
        Wm, Hm = Wm[:, perm], Hm[np.ix_(perm, perm)]

    Hm[np.diag_indices(cols)] += damp * float(np.mean(np.diag(Hm)))
    U = _cached_factor(Hm, damp)

    g = group_size or cols
    n_groups = cols // g
    scales = np.zeros((rows, n_groups), dtype=np.float32)
    zeros = None if symmetric else np.zeros((rows, n_groups), dtype=np.int8)

    # The loop runs over columns, so the block is kept transposed (one column = one contiguous row):
    # the same arithmetic as the paper's, several times faster on wide layers.
    codes_t = np.zeros((cols, rows), dtype=np.int8)
    for start in range(0, cols, block_size):
        end = min(start + block_size, cols)
        block = Wm[:, start:end].T.copy()  # (columns, rows), updated in place, column by column
        errors = np.zeros_like(block)
        for i in range(end - start):
            j = start + i
            if j % g == 0:  # a group starts: take its grid from the weights as they are now
                current = block[i : i + g].T
                if current.shape[1] < g:  # the group runs past this block
                    current = np.concatenate([current, Wm[:, end : end + g - current.shape[1]]], axis=1)
                scale, zero = _grid(current.astype(np.float32), bits, symmetric)
                scales[:, j // g] = scale
                if zeros is not None:
                    zeros[:, j // g] = zero
            w = block[i]
            q = _round(w, scale, zero, bits)
            codes_t[j] = q
            err = (w - _value(q, scale, zero)) / U[j, j]
            block[i:] -= U[j, j:end, None] * err  # push the error onto this block's later columns
            errors[i] = err
        Wm[:, end:] -= errors.T @ U[start:end, end:]  # ... and, lazily, onto all the later blocks
    codes = np.ascontiguousarray(codes_t.T)

    g_idx = np.arange(cols) // g
    if perm is not None:
        inverse = np.argsort(perm)
        codes, g_idx = codes[:, inverse], g_idx[inverse]
    params = GPTQParams(scales, zeros, g_idx, perm, bits, group_size, symmetric, (rows, cols))
    return codes, params


def gptq_dequantize(codes: Any, params: GPTQParams) -> np.ndarray:
    """The effective float32 weight: ``scale[g] · (code − zero[g])`` with ``g = g_idx[column]``."""
    if not isinstance(params, GPTQParams):
        raise TypeError(
            f"gptq_dequantize: params must be the GPTQParams of gptq_quantize, got {type(params).__name__}"
        )
    q = to_numpy(codes)
    if q.dtype.kind not in "iu":
        raise TypeError(f"gptq_dequantize: codes must be integers, got {q.dtype}")
    if q.shape != params.shape:
        raise ValueError(f"gptq_dequantize: codes have shape {q.shape}, the params are for {params.shape}")
    scale = params.scale[:, params.g_idx]
    shifted = q.astype(np.int16)
    if params.zero_point is not None:
        shifted = shifted - params.zero_point[:, params.g_idx].astype(np.int16)
    return scale * shifted.astype(np.float32)


def gptq_proxy_loss(W: Any, W_hat: Any, H: Any) -> float:
    """GPTQ's objective ``tr((W − Ŵ) H (W − Ŵ)ᵀ)``: the layer's output error on the calibration data."""
    func = "gptq_proxy_loss"
    Wf, _ = as_float_array(W, name="W", func=func)
    Wh, _ = as_float_array(W_hat, name="W_hat", func=func)
    Hf, _ = as_float_array(H, name="H", func=func)
    if Wf.ndim != 2 or Wh.shape != Wf.shape:
        raise ValueError(f"{func}: W and W_hat must be 2-D of the same shape, got {Wf.shape} and {Wh.shape}")
    if Hf.shape != (Wf.shape[1], Wf.shape[1]):
        raise ValueError(
            f"{func}: H must be ({Wf.shape[1]}, {Wf.shape[1]}) for W of shape {Wf.shape}, got {Hf.shape}"
        )
    D = Wf.astype(np.float64) - Wh.astype(np.float64)
    return float(np.einsum("ij,jk,ik->", D, Hf.astype(np.float64), D))
