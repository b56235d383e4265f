"""LLM.int8(): vector-wise quantization parity with bitsandbytes and the outlier decomposition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import qlab


def activations(rows=64, cols=128, outlier_cols=(3, 77), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    for c in outlier_cols:
        x[rng.random(rows) < 0.3, c] = 20.0  # a feature that is large on ~30% of tokens
    return x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("threshold", [0.0, 3.0, 6.0])
@pytest.mark.parametrize("shape", [(64, 128), (1, 50), (7, 33), (5, 1)])
def test_vectorwise_quant_parity(bnb_F, dtype, threshold, shape):
    x = torch.from_numpy(activations(*shape, outlier_cols=(0,)) * 2).to(dtype)
    x[0, 0] = 0
    if shape[0] > 2:
        x[2] = 0  # an all-zero row
    codes, stats, cols = bnb_F.int8_vectorwise_quant(x.clone(), threshold=threshold)
    ours, our_stats, our_cols = qlab.int8_vectorwise_quant(x, threshold=threshold)
    assert torch.equal(ours, codes) and torch.equal(our_stats, stats)
    assert (cols is None and our_cols is None) or torch.equal(cols, our_cols)
    assert torch.equal(
        qlab.int8_vectorwise_dequant(ours, our_stats), bnb_F.int8_vectorwise_dequant(codes, stats)
    )


def test_hand_worked_row():
    codes, stats, cols = qlab.int8_vectorwise_quant(np.array([[0.5, -2.0, 1.0]], np.float32))
    assert stats.tolist() == [2.0] and cols is None
    assert codes.tolist() == [[32, -127, 64]]  # round(127/2 · 0.5) = round(31.75) = 32


def test_find_outlier_columns():
    x = activations()
    assert qlab.find_outlier_columns(x, threshold=6.0).tolist() == [3, 77]
    assert qlab.find_outlier_columns(x, threshold=100.0).tolist() == []


def test_decomposition_beats_plain_int8_and_matches_float_on_outlier_columns():
    x = activations(rows=32, cols=256)
    w = np.random.default_rng(1).standard_normal((64, 256)).astype(np.float32) * 0.05
    ref = x.astype(np.float64) @ w.T.astype(np.float64)
    mixed = qlab.llm_int8_matmul(x, w, threshold=6.0)
    plain = qlab.llm_int8_matmul(x, w, threshold=0.0)
    err_mixed = np.abs(mixed - ref).mean()
    err_plain = np.abs(plain - ref).mean()
    assert err_mixed < err_plain / 2  # measured: about 3x smaller
    # by construction: outlier part in float + int8 part of the rest
    cols = qlab.find_outlier_columns(x, 6.0)
    rest = x.copy()
    rest[:, cols] = 0
    manual = qlab.llm_int8_matmul(rest, w, threshold=0.0) + x[:, cols] @ w[:, cols].T
    assert np.allclose(mixed, manual, rtol=1e-5, atol=1e-5)


def test_matmul_shapes_dtypes_and_backends():
    x = torch.from_numpy(activations(rows=24, cols=64, outlier_cols=(3,))).reshape(2, 12, 64)
    w = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    ours = qlab.llm_int8_matmul(x, w)
    assert ours.shape == (2, 12, 16) and ours.dtype == torch.float32
    theirs = qlab.llm_int8_matmul(x, w, backend="bitsandbytes")
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert qlab.llm_int8_matmul(x.half(), w.half()).dtype == torch.float16


def test_llm_int8_linear_uses_the_stored_int8_weight_for_outlier_columns():
    x = activations(rows=16, cols=128, outlier_cols=(5,))
    w = np.random.default_rng(3).standard_normal((32, 128)).astype(np.float32)
    codes, stats, _ = qlab.int8_vectorwise_quant(w)
    out = qlab.llm_int8_linear(x, codes, stats, threshold=6.0)
    w_int8 = qlab.int8_vectorwise_dequant(codes, stats)
    rest = x.copy()
    rest[:, 5] = 0
    cx, sx, _ = qlab.int8_vectorwise_quant(rest)
    int8_part = qlab.llm_int8.int8_matmul_int32(cx, codes) * np.outer(sx, stats) * np.float32(6.200124e-05)
    assert np.allclose(out, int8_part + x[:, [5]] @ w_int8[:, [5]].T, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="int8"):
        qlab.llm_int8_linear(x, w, stats)
    with pytest.raises(ValueError, match="weight_stats"):
        qlab.llm_int8_linear(x, codes, stats[:-1])


def test_int32_accumulation_is_exact():
    rng = np.random.default_rng(0)
    a = rng.integers(-127, 128, (8, 4096)).astype(np.int8)
    b = rng.integers(-127, 128, (5, 4096)).astype(np.int8)
    exact = a.astype(np.int64) @ b.astype(np.int64).T
    assert np.array_equal(qlab.llm_int8.int8_matmul_int32(a, b), exact)


@pytest.mark.parametrize(
    ("X", "W", "kwargs", "error", "match"),
    [
        (
            np.ones((2, 3), np.float32),
            np.ones((4, 5), np.float32),
            {},
            ValueError,
            "X.shape\\[-1\\] == W.shape\\[1\\]",
        ),
        (np.ones((2, 3), np.float32), np.ones(3, np.float32), {}, ValueError, "W must be 2-D"),
        (
            np.ones((2, 3), np.float32),
            np.ones((4, 3), np.float32),
            {"threshold": -1},
            ValueError,
            "threshold",
        ),
        (np.ones((2, 3), np.int32), np.ones((4, 3), np.float32), {}, TypeError, "int32"),
        (np.full((2, 3), np.nan, np.float32), np.ones((4, 3), np.float32), {}, ValueError, "NaN"),
    ],
)
def test_matmul_errors(X, W, kwargs, error, match):
    with pytest.raises(error, match=match):
        qlab.llm_int8_matmul(X, W, **kwargs)
