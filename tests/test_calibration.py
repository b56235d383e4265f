"""qlab.calibration: percentile and MSE-optimal clipping before absmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_data
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import qlab
from qlab.calibration import (
    absmax_quantize_clipped,
    clip_percentile,
    mse_optimal_clip,
    mse_versus_clip,
)


def _round_trip(X, c, bits):
    return qlab.absmax_dequantize(*absmax_quantize_clipped(X, c, bits=bits))


def _outlier_vector():
    """The lesson's experiment: 1,000 weights N(0, 0.1) and one outlier, 50.0."""
    small = np.random.default_rng(0).normal(0, 0.1, size=1000).astype(np.float32)
    return small, np.append(small, np.float32(50.0))


def test_exported_from_qlab():
    for name in ("clip_percentile", "mse_optimal_clip", "mse_versus_clip", "absmax_quantize_clipped"):
        assert getattr(qlab, name) is getattr(qlab.calibration, name)


def test_percentile_matches_numpy_and_its_edges():
    X = make_data("normal", (64, 32), seed=3)
    assert clip_percentile(X, 99.9) == pytest.approx(float(np.percentile(np.abs(X), 99.9)), rel=1e-12)
    assert clip_percentile(X, 100) == float(np.abs(X).max())
    assert clip_percentile(X, 50) == pytest.approx(float(np.median(np.abs(X))), rel=1e-6)
    assert isinstance(clip_percentile(X, 99), float)
    assert clip_percentile(np.zeros(5, np.float32), 99) == 0.0


def test_percentile_clip_brings_back_the_small_weights():
    small, with_outlier = _outlier_vector()
    plain = qlab.absmax_dequantize(*qlab.absmax_quantize(with_outlier))
    c = clip_percentile(with_outlier, 99.9)  # 1 of 1,001 values lies above it: the outlier
    assert c == float(np.abs(small).max())
    clipped = _round_trip(with_outlier, c, 8)
    assert qlab.sqnr_db(small, clipped[:1000]) > qlab.sqnr_db(small, plain[:1000]) + 35
    # the price: the outlier comes back as the clip value
    assert float(clipped[-1]) == pytest.approx(c, rel=1e-6)


def test_mse_versus_clip_agrees_with_the_real_round_trip():
    X = make_data("heavy_tailed", (40, 50), seed=1)
    top = float(np.abs(X).max())
    clips = np.array([0.05, 0.2, 0.5, 1.0, 1.5]) * top
    for bits in (3, 4, 8):
        curve = mse_versus_clip(X, clips, bits=bits)
        assert curve.shape == clips.shape and curve.dtype == np.float64
        direct = [qlab.mse(X, _round_trip(X, float(c), bits)) for c in clips]
        np.testing.assert_allclose(curve, direct, rtol=1e-4)
        assert curve[-1] == pytest.approx(curve[-2], rel=1e-12)  # a clip above max|X| changes nothing


def test_mse_optimal_clip_minimizes_the_mse_on_its_grid():
    X = np.random.default_rng(2).laplace(size=(100, 50)).astype(np.float32)  # a heavy-ish tail
    top = float(np.abs(X).max())
    for bits, n_grid in ((3, 40), (4, 60)):
        c = mse_optimal_clip(X, bits=bits, n_grid=n_grid)
        grid = top * np.arange(1, n_grid + 1) / n_grid
        assert np.isclose(grid, c, rtol=1e-12).any()  # it is one of the candidates
        direct = np.array([qlab.mse(X, _round_trip(X, float(g), bits)) for g in grid])
        best = qlab.mse(X, _round_trip(X, c, bits))
        assert best <= direct.min() * (1 + 1e-4)
        # and it really pays: well below max|X|, with a fraction of the error of no clipping
        assert c < top * 0.6
        assert best < qlab.mse(X, qlab.absmax_dequantize(*qlab.absmax_quantize(X, bits=bits))) / 2


def test_mse_optimal_clip_for_a_laplace_follows_aciq():
    """Banner et al. 2019 (ACIQ): Laplace(0, 1) at 4 bits is best clipped near 5 (5.03 for 16 levels)."""
    X = np.random.default_rng(2).laplace(size=20_000).astype(np.float32)
    assert 4.6 < mse_optimal_clip(X, bits=4, n_grid=200) < 5.2


def test_mse_optimal_clip_for_a_gaussian_follows_aciq():
    """Banner et al. 2019 (ACIQ): the optimal clip of N(0, 1) grows with the bits, about 2.5 at 4 bits."""
    g = np.random.default_rng(0).standard_normal(100_000).astype(np.float32)
    clips = {bits: mse_optimal_clip(g, bits=bits, n_grid=400) for bits in (2, 3, 4, 8)}
    assert 2.3 < clips[4] < 2.7
    assert clips[2] < clips[3] < clips[4] < clips[8]


def test_mse_keeps_a_lone_huge_outlier():
    """Clipping the outlier would cost (50 - c)**2: far more than the rounding noise it saves."""
    _, with_outlier = _outlier_vector()
    assert mse_optimal_clip(with_outlier, bits=8) == 50.0


def test_torch_in_torch_out():
    X = make_data("outlier", (16, 24), seed=4)
    T = torch.from_numpy(X)
    assert clip_percentile(T, 99) == clip_percentile(X, 99)
    assert mse_optimal_clip(T, bits=4) == mse_optimal_clip(X, bits=4)
    np.testing.assert_array_equal(mse_versus_clip(T, [1.0, 2.0]), mse_versus_clip(X, [1, 2]))  # ints are fine
    np.testing.assert_array_equal(
        mse_versus_clip(T, torch.tensor([1.0])), mse_versus_clip(X, np.array([1.0]))
    )
    c = clip_percentile(X, 99)
    codes_t, params_t = absmax_quantize_clipped(T, torch.tensor(c), bits=4)
    codes_n, params_n = absmax_quantize_clipped(X, c, bits=4)
    assert isinstance(codes_t, torch.Tensor) and codes_t.dtype == torch.int8
    assert isinstance(codes_n, np.ndarray) and codes_n.dtype == np.int8
    np.testing.assert_array_equal(codes_t.numpy(), codes_n)
    back = qlab.absmax_dequantize(codes_t, params_t)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    assert float(back.abs().max()) == pytest.approx(c, rel=1e-6)


def test_half_precision_input_keeps_its_dtype():
    X = torch.from_numpy(make_data("normal", (8, 8))).to(torch.float16)
    codes, params = absmax_quantize_clipped(X, 0.03, bits=8)
    assert params.dtype == "float16"
    assert qlab.absmax_dequantize(codes, params).dtype == torch.float16


@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(np.float32, st.integers(1, 40), elements=st.floats(-1e3, 1e3, width=32)),
    frac=st.floats(0.01, 1.5),
    bits=st.integers(2, 8),
)
def test_clipped_round_trip_bounds(X, frac, bits):
    """Inside the clip: at most half a step of error; beyond it: back as +-c (within half a step)."""
    top = float(np.abs(X).max())
    c = frac * top
    back = _round_trip(X, c, bits).astype(np.float64)
    kept = min(c, top)
    half_step = kept / (2 ** (bits - 1) - 1) / 2
    x = X.astype(np.float64)
    target = np.clip(x, -kept, kept)
    assert np.all(np.abs(back - target) <= half_step * (1 + 1e-5) + 1e-30)
    assert np.all(np.abs(back) <= kept * (1 + 1e-6) + 1e-30)


def test_all_zero_input():
    Z = np.zeros((3, 4), np.float32)
    assert mse_optimal_clip(Z) == 0.0
    assert mse_versus_clip(Z, [0.0, 1.0]).tolist() == [0.0, 0.0]
    codes, params = absmax_quantize_clipped(Z, 0.0)
    assert not np.any(codes) and not np.any(qlab.absmax_dequantize(codes, params))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda X: clip_percentile(X, 0), ValueError, r"pct must lie in \(0, 100\]"),
        (lambda X: clip_percentile(X, 100.5), ValueError, "not a fraction"),
        (lambda X: clip_percentile(X, float("nan")), TypeError, "pct must be a finite number"),
        (lambda X: clip_percentile(X, True), TypeError, "pct"),
        (lambda X: clip_percentile(X, "99"), TypeError, "pct"),
        (lambda X: mse_optimal_clip(X, bits=1), ValueError, "bits must be >= 2"),
        (lambda X: mse_optimal_clip(X, bits=9), ValueError, "<= 8"),
        (lambda X: mse_optimal_clip(X, n_grid=0), ValueError, "n_grid must be >= 1"),
        (lambda X: mse_optimal_clip(X, n_grid=2.5), TypeError, "n_grid must be an integer"),
        (lambda X: mse_versus_clip(X, [-1.0]), ValueError, "clips must be >= 0"),
        (lambda X: mse_versus_clip(X, [np.inf]), ValueError, "finite numbers"),
        (lambda X: mse_versus_clip(X, []), ValueError, "non-empty"),
        (lambda X: mse_versus_clip(X, ["a"]), TypeError, "clips must be numbers"),
        (lambda X: absmax_quantize_clipped(X, -0.5), ValueError, "clip must be a finite number >= 0"),
        (lambda X: absmax_quantize_clipped(X, float("inf")), ValueError, "finite"),
        (lambda X: absmax_quantize_clipped(X, "1"), TypeError, "clip must be a real number"),
        (lambda X: absmax_quantize_clipped(X, np.array([1.0, 2.0])), TypeError, "clip must be a real"),
        (lambda X: absmax_quantize_clipped(X, 1.0, bits=16), ValueError, "bits"),
    ],
)
def test_bad_parameters_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(make_data("normal", (4, 4)))


@pytest.mark.parametrize(
    "func", [clip_percentile, mse_optimal_clip, lambda X: absmax_quantize_clipped(X, 1.0)]
)
def test_bad_tensors_raise_clear_errors(func):
    with pytest.raises(ValueError, match="NaN"):
        func(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="empty"):
        func(np.zeros(0, np.float32))
    with pytest.raises(TypeError, match="dtype int64"):
        func(np.arange(4))
