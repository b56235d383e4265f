"""LLM.int8(): vector-wise int8 quantization with mixed-precision outlier decomposition.

Dettmers et al. 2022, "LLM.int8(): 8-bit Matrix Multiplication for Transformers
at Scale", arXiv:2208.07339.

*Vector-wise* quantization gives every row of the activations ``X`` and every
row of the weight ``W`` (one per output feature) its own absmax scale:
``X_i8 = round(127 · X / rowmax|X|)``. Then ``X @ W.T`` becomes an int8 matrix
product accumulated exactly in int32, rescaled by the outer product of the two
sets of scales divided by 127².

At scale, a few *feature dimensions* (columns of ``X``) carry huge values
("emergent outliers", ~6 or more). One such value inflates its row's scale and
crushes every other value of that row to a handful of codes. The fix is a
decomposition: columns with any ``|x| >= threshold`` (6.0 in the paper) are
multiplied in floating point, everything else in int8, and the two results are
added. Only a tiny share of columns is affected, so almost all the work stays
in int8.

Rounding follows bitsandbytes 0.50 exactly: the scale is ``127 · (1/rowmax)``
(two float32 roundings), codes round half to even, and a row of zeros gives
zero codes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import as_float_array, output_origin, restore, to_numpy
from .backend import dispatch

INT8_MAX = 127
# bitsandbytes multiplies by these float32 constants instead of dividing by 127 and 127².
_INV_127 = np.float32(7.874015718698502e-3)
_INV_127_SQUARED = np.float32(6.200124e-05)


def _check_threshold(threshold: Any, func: str) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)):
        raise TypeError(
            f"{func}: threshold must be a number (0 disables outlier detection), got {threshold!r}"
        )
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"{func}: threshold must be a finite number >= 0, got {threshold}")
    return float(threshold)


def _rows(x: np.ndarray, func: str) -> np.ndarray:
    if x.ndim == 0:
        raise ValueError(f"{func}: expected at least a 1-D array (rows of features), got a scalar")
    return x.reshape(-1, x.shape[-1])


def find_outlier_columns(X: Any, threshold: float = 6.0) -> np.ndarray:
    """Indices of the feature dimensions (last axis) where any ``|x| >= threshold``."""
    func = "find_outlier_columns"
    threshold = _check_threshold(threshold, func)
    x, origin = as_float_array(X, name="X", func=func)
    x = _rows(x, func)
    cols = np.flatnonzero((np.abs(x) >= threshold).any(axis=0)) if threshold > 0 else []
    return restore(np.asarray(cols, dtype=np.int64), origin)


def _vectorwise(x: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """numpy core of int8_vectorwise_quant on a 2-D float32 array."""
    outlier_cols = None
    if threshold > 0:
        outliers = np.abs(x) >= threshold
        outlier_cols = np.flatnonzero(outliers.any(axis=0)).astype(np.int64)
        if outlier_cols.size:
            x = np.where(outliers, np.float32(0), x)  # outliers do not count towards the row scale
    # max|x| per row as max(max x, -min x): two reads and no temporary |x| array
    row_stats = np.maximum(x.max(axis=1), -x.min(axis=1)).astype(np.float32)
    with np.errstate(divide="ignore"):
        scale = (np.float32(1) / row_stats) * np.float32(INT8_MAX)
    scale[row_stats == 0] = 0  # an all-zero row stays zero
    scaled = x * scale[:, None]
    codes = np.rint(scaled, out=scaled).astype(np.int8)  # round half to even, like torch.round
    if outlier_cols is not None and x.shape[0] > 1:
        # the whole outlier column goes through the float path instead
        # (bitsandbytes skips this for a single row; so do we, to match it)
        codes[:, outlier_cols] = 0
    return codes, row_stats, outlier_cols


@dispatch
def int8_vectorwise_quant(A: Any, threshold: float = 0.0) -> tuple[Any, Any, Any]:
    """Row-wise absmax int8 quantization (bitsandbytes ``functional.int8_vectorwise_quant``).

    Same signature as bitsandbytes. qlab is more general on N-D input: rows are
    all axes but the last. bitsandbytes' CPU code takes the maximum over axis 1:
    a (2, 3, 64) input raises a RuntimeError there and a (2, 64, 64) input gets
    statistics per column instead of per row. qlab also never writes into ``A``
    (bitsandbytes temporarily zeroes the outliers of ``A`` in place).

    Args:
        A: float array (rows along all but the last axis).
        threshold: if > 0, values with ``|x| >= threshold`` are left out of the row
            scales and their whole columns are zeroed in the codes.

    Returns:
        ``(codes, row_stats, outlier_cols)``: int8 codes shaped like ``A``, the
        float32 absmax of each row, and the int64 outlier column indices (None
        when ``threshold`` is 0).
    """
    func = "int8_vectorwise_quant"
    threshold = _check_threshold(threshold, func)
    x, origin = as_float_array(A, func=func, allow_float64=False)
    codes, row_stats, cols = _vectorwise(_rows(x, func), threshold)
    cols = None if cols is None else restore(cols, origin)
    return restore(codes.reshape(x.shape), origin), restore(row_stats, origin), cols


@dispatch
def int8_vectorwise_dequant(A: Any, stats: Any) -> Any:
    """Undo :func:`int8_vectorwise_quant`: ``codes · stats / 127`` in float32 (``stats``: one absmax per row)."""
    func = "int8_vectorwise_dequant"
    codes = to_numpy(A)
    if codes.dtype != np.int8:
        raise TypeError(f"{func}: codes must be int8, got {codes.dtype}")
    stats = np.asarray(to_numpy(stats), dtype=np.float32).reshape(-1, 1)
    rows = _rows(codes, func)
    if stats.shape[0] != rows.shape[0]:
        raise ValueError(f"{func}: {rows.shape[0]} rows of codes but {stats.shape[0]} row_stats")
    values = (rows * stats) * _INV_127
    return restore(values.reshape(codes.shape), output_origin(A, "float32"))


def int8_matmul_int32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact int8 @ int8.T with int32 accumulation.

    numpy's integer matmul does not use BLAS and is slow, so we multiply in
    float64: every product and partial sum is an integer below 2^53, which
    float64 represents exactly, so the result is the exact int32 sum.
    """
    return (a.astype(np.float64) @ b.astype(np.float64).T).astype(np.int32)


def _decomposed_matmul(
    x2: np.ndarray, cw: np.ndarray, sw: np.ndarray, threshold: float, w_float: np.ndarray
) -> np.ndarray:
    """Core of LLM.int8(): int8 part (outlier columns zeroed) + float part on the outlier columns."""
    cx, sx, cols = _vectorwise(x2, threshold)
    out = int8_matmul_int32(cx, cw) * (sx[:, None] * sw[None, :]) * _INV_127_SQUARED
    if cols is not None and cols.size:
        out += x2[:, cols] @ w_float[:, cols].T
    return out.astype(np.float32)


def _check_matmul_shapes(x: np.ndarray, w_shape: tuple[int, ...], func: str) -> None:
    if len(w_shape) != 2:
        raise ValueError(f"{func}: W must be 2-D (out_features, in_features), got shape {w_shape}")
    if x.ndim == 0 or x.shape[-1] != w_shape[1]:
        raise ValueError(
            f"{func}: X has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) but W expects "
            f"{w_shape[1]} (shape {w_shape}); X @ W.T needs X.shape[-1] == W.shape[1]"
        )


@dispatch
def llm_int8_matmul(X: Any, W: Any, threshold: float = 6.0) -> Any:
    """``X @ W.T`` the LLM.int8() way (like ``nn.Linear`` without bias).

    Columns of ``X`` holding any ``|x| >= threshold`` are multiplied in float32
    with the matching columns of ``W``; the rest is quantized vector-wise to int8
    (rows of ``X``, rows of ``W``), multiplied with int32 accumulation,
    dequantized, and the two parts are summed. ``threshold=0`` means pure int8.

    Args:
        X: activations ``(..., in_features)``.
        W: weight ``(out_features, in_features)``.

    Returns:
        ``(..., out_features)`` in ``X``'s dtype.
    """
    func = "llm_int8_matmul"
    threshold = _check_threshold(threshold, func)
    x, origin = as_float_array(X, name="X", func=func, allow_float64=False)
    w = as_float_array(W, name="W", func=func, allow_float64=False)[0]
    _check_matmul_shapes(x, w.shape, func)
    cw, sw, _ = _vectorwise(w, 0.0)
    out = _decomposed_matmul(x.reshape(-1, x.shape[-1]), cw, sw, threshold, w_float=w)
    return restore(out.reshape(*x.shape[:-1], w.shape[0]), origin, float_dtype=origin.dtype)


def llm_int8_linear(X: Any, weight_codes: Any, weight_stats: Any, threshold: float = 6.0) -> Any:
    """``X @ W.T`` with ``W`` *stored* in int8 (codes and row stats from :func:`int8_vectorwise_quant`).

    This is what an int8 inference layer (bitsandbytes' ``Linear8bitLt``) does:
    the weight is quantized once and kept in int8, so the outlier columns are
    multiplied with the *dequantized* weight columns (there is no float copy).

    Returns ``(..., out_features)`` in ``X``'s dtype (float32 for float64 input).
    """
    func = "llm_int8_linear"
    threshold = _check_threshold(threshold, func)
    x, origin = as_float_array(X, name="X", func=func, allow_float64=False)
    cw = to_numpy(weight_codes)
    if cw.dtype != np.int8:
        raise TypeError(f"{func}: weight_codes must be int8 (from int8_vectorwise_quant), got {cw.dtype}")
    _check_matmul_shapes(x, cw.shape, func)
    sw = np.asarray(to_numpy(weight_stats), dtype=np.float32).reshape(-1)
    if sw.size != cw.shape[0]:
        raise ValueError(f"{func}: {cw.shape[0]} weight rows but {sw.size} weight_stats")
    w_float = (cw * sw[:, None]) * _INV_127  # the dequantized weight, for the outlier columns
    out = _decomposed_matmul(x.reshape(-1, x.shape[-1]), cw, sw, threshold, w_float=w_float)
    return restore(out.reshape(*x.shape[:-1], cw.shape[0]), origin, float_dtype=origin.dtype)
