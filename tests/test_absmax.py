"""Tests for qlab.absmax: hand-worked values, error-bound properties, torch, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import quant_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from qlab.absmax import AbsmaxParams, absmax_dequantize, absmax_quantize
from qlab.granularity import make_grouping
from qlab.metrics import mse


def first_of_each_group(shape, axis, group_size):
    """Boolean mask selecting one element (the first) of every scale group."""
    g = make_grouping(shape, axis, group_size)
    index = np.arange(np.prod(shape)).reshape(shape)
    first = np.min(g.split(index), axis=g.reduce_axes, keepdims=True)
    return g.broadcast(first) == index


# --- hand-worked examples -------------------------------------------------------------


def test_hand_example_from_the_course_text():
    # max|X| = 3.2, weight 0.1, 8 bits: scale 3.2 / 127, code round(0.1 / 0.025197) = round(3.97) = 4
    X = np.array([3.2, 0.1, -1.0], dtype=np.float32)
    codes, params = absmax_quantize(X, bits=8)
    assert codes.dtype == np.int8
    assert codes.tolist() == [127, 4, -40]
    assert params.scale.shape == (1,)
    assert params.scale.dtype == np.float32
    assert params.scale[0] == np.float32(3.2) / np.float32(127)  # units per code
    assert params.inv_scale[0] == pytest.approx(127 / 3.2, rel=1e-7)  # Labonne's "scale"
    assert params.step is params.scale
    X_hat = absmax_dequantize(codes, params)
    assert X_hat.dtype == np.float32
    assert X_hat[1] == pytest.approx(4 * 3.2 / 127, rel=1e-6)
    assert X_hat[1] == pytest.approx(0.100787, abs=1e-6)
    assert float(X[1]) - float(X_hat[1]) == pytest.approx(-0.000787, abs=1e-6)
    assert float(params.step[0]) == pytest.approx(3.2 / 127)
    # the dequantized value is scale * code, computed as float32 would
    assert X_hat[1] == np.float32(4) * params.scale[0]


def test_two_bits_has_three_levels():
    X = np.array([-1.0, -0.4, 0.2, 0.6, 1.0], dtype=np.float32)
    codes, params = absmax_quantize(X, bits=2)
    assert codes.tolist() == [-1, 0, 0, 1, 1]
    np.testing.assert_array_equal(absmax_dequantize(codes, params), [-1, 0, 0, 1, 1])


def test_round_half_to_even():
    # 4 bits: qmax 7, max|X| 7 -> scale exactly 1, so X / scale lands on the halves
    X = np.array([7.0, 0.5, 1.5, 2.5, -0.5, -2.5, 3.4], dtype=np.float32)
    codes, params = absmax_quantize(X, bits=4)
    assert params.scale[0] == 1.0
    assert codes.tolist() == [7, 0, 2, 2, 0, -2, 3]


def test_per_channel_and_groupwise_scales():
    W = np.array([[1.0, -2.0, 10.0, 20.0], [0.5, 0.25, -4.0, 1.0]], dtype=np.float32)
    _, p_row = absmax_quantize(W, axis=0)
    np.testing.assert_allclose(p_row.scale, [[20 / 127], [4 / 127]], rtol=1e-7)
    _, p_col = absmax_quantize(W, axis=-1)
    assert p_col.axis == 1
    np.testing.assert_allclose(p_col.scale, [[1 / 127, 2 / 127, 10 / 127, 20 / 127]], rtol=1e-7)
    codes, p_grp = absmax_quantize(W, group_size=2)
    assert p_grp.scale.shape == (2, 2, 1)
    np.testing.assert_allclose(p_grp.scale[..., 0], [[2 / 127, 20 / 127], [0.5 / 127, 4 / 127]], rtol=1e-7)
    assert codes.shape == W.shape
    assert codes[0, :2].tolist() == [64, -127]  # 1 / float32(2 / 127) rounds to 63.5 -> 64 (half to even)
    assert codes[0, 3] == 127 and codes[1, 2] == -127


def test_all_zero_group_roundtrips_without_warning():
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype=np.float32)
    codes, params = absmax_quantize(X, axis=0)
    assert params.scale[0, 0] == 1.0
    assert codes[0].tolist() == [0, 0, 0]
    X_hat = absmax_dequantize(codes, params)
    np.testing.assert_array_equal(X_hat[0], [0, 0, 0])
    np.testing.assert_array_equal(absmax_dequantize(*absmax_quantize(np.zeros(5, np.float32))), np.zeros(5))


def test_subnormal_and_huge_values_stay_finite():
    tiny = np.array([1e-45, -3e-45, 0.0], dtype=np.float32)
    codes, params = absmax_quantize(tiny)
    assert np.isfinite(params.scale).all() and params.scale[0] > 0
    assert params.scale[0] >= np.finfo(np.float32).tiny  # a normal float32, never 0
    assert np.isfinite(params.inv_scale).all()
    X_hat = absmax_dequantize(codes, params)
    assert np.all(np.abs(X_hat - tiny) <= 0.5 * params.scale[0])
    big = np.array([np.finfo(np.float32).max, -np.finfo(np.float32).max, 1.0], dtype=np.float32)
    codes, params = absmax_quantize(big)
    assert codes.tolist() == [127, -127, 0]
    X_hat = absmax_dequantize(codes, params)
    assert np.isfinite(X_hat).all()
    assert X_hat[0] == pytest.approx(big[0], rel=1e-6)
    assert abs(float(X_hat[0]) - float(big[0])) <= 0.5 * float(params.scale[0])


def test_per_channel_beats_per_tensor_with_an_outlier_row():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(16, 64)).astype(np.float32)
    W[3] *= 100  # one outlier row
    W_tensor = absmax_dequantize(*absmax_quantize(W))
    W_channel = absmax_dequantize(*absmax_quantize(W, axis=0))
    assert mse(W, W_channel) < mse(W, W_tensor)
    # The outlier row has the same scale either way; the other 15 rows get a 100x
    # finer grid per channel, so their error drops by about 100**2.
    normal = np.arange(16) != 3
    np.testing.assert_array_equal(W_tensor[3], W_channel[3])
    assert mse(W[normal], W_channel[normal]) < mse(W[normal], W_tensor[normal]) / 1000


# --- properties ---------------------------------------------------------------------


@settings(max_examples=300)
@given(quant_cases())
def test_error_is_at_most_half_a_step_and_codes_in_range(case):
    X, bits, axis, group_size = case
    codes, params = absmax_quantize(X, bits, axis, group_size)
    qmax = 2 ** (bits - 1) - 1
    assert isinstance(params, AbsmaxParams)
    assert codes.dtype == np.int8 and codes.shape == X.shape
    assert params.scale.dtype == np.float32 and np.all(params.scale > 0)
    assert np.all(np.abs(codes.astype(int)) <= qmax)
    assert params.inv_scale.dtype == np.float64 and np.isfinite(params.inv_scale).all()
    X_hat = absmax_dequantize(codes, params)
    assert X_hat.dtype == np.float32 and np.isfinite(X_hat).all()
    # the scale is max|X| / qmax (up to float32 rounding), or 1 for an all-zero group
    g = params.grouping
    absmax = np.max(np.abs(g.split(X)), axis=g.reduce_axes, keepdims=True).astype(np.float64)
    big = absmax >= 2.0**-100
    np.testing.assert_allclose(params.scale[big], absmax[big] / qmax, rtol=2**-23)
    assert np.all(params.scale[absmax == 0] == 1)
    step = g.broadcast(params.scale.astype(np.float64))
    err = np.abs(X_hat.astype(np.float64) - X.astype(np.float64))
    assert np.all(err <= step * (0.5 + 1e-5) + 2.0**-23 * np.abs(X) + 2.0**-149)


@settings(max_examples=200)
@given(quant_cases(elements=st.integers(-127, 127).map(float)), st.integers(-30, 30), st.booleans())
def test_values_on_the_grid_roundtrip_exactly(case, exponent, negative):
    C, bits, axis, group_size = case
    qmax = 2 ** (bits - 1) - 1
    codes_in = np.clip(C, -qmax, qmax)
    # every group must contain +-qmax so that its scale is exactly 2**exponent
    codes_in[first_of_each_group(C.shape, axis, group_size)] = -qmax if negative else qmax
    X = (codes_in * 2.0**exponent).astype(np.float32)
    codes, params = absmax_quantize(X, bits, axis, group_size)
    np.testing.assert_array_equal(codes, codes_in.astype(np.int8))
    np.testing.assert_array_equal(absmax_dequantize(codes, params), X)


@settings(max_examples=100)
@given(
    st.integers(2, 8),
    st.integers(2, 6),
    st.integers(4, 16),
    st.integers(0, 2**32 - 1),
)
def test_per_channel_error_never_exceeds_per_tensor_with_one_outlier(bits, rows, cols, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(rows, cols)).astype(np.float32)
    r = seed % rows
    # an outlier so large that per tensor every other row rounds to 0
    W[r, 0] = 1e6 * np.abs(W).max()
    err_tensor = np.abs(absmax_dequantize(*absmax_quantize(W, bits)) - W)
    err_channel = np.abs(absmax_dequantize(*absmax_quantize(W, bits, axis=0)) - W)
    assert np.all(err_channel <= err_tensor * (1 + 1e-6))
    assert mse(W, absmax_dequantize(*absmax_quantize(W, bits, axis=0))) < mse(
        W, absmax_dequantize(*absmax_quantize(W, bits))
    )


# --- torch --------------------------------------------------------------------------


def torch_absmax(X: torch.Tensor):
    """The textbook formula in torch, with scale = units per code (PyTorch's convention)."""
    scale = torch.max(torch.abs(X)) / 127
    X_quant = (X / scale).round()
    return X_quant.to(torch.int8), scale * X_quant


def labonne_absmax(X: torch.Tensor):
    """The reference from Labonne's "Introduction to Weight Quantization": his scale is our 1/scale."""
    scale = 127 / torch.max(torch.abs(X))
    X_quant = (scale * X).round()
    return X_quant.to(torch.int8), X_quant / scale


def test_torch_in_torch_out_and_matches_the_formula_bitwise():
    X = torch.randn(32, 48, generator=torch.Generator().manual_seed(0))
    codes, params = absmax_quantize(X)
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int8
    assert isinstance(params.scale, torch.Tensor) and params.scale.dtype == torch.float32
    assert isinstance(params.step, torch.Tensor)
    assert isinstance(params.inv_scale, torch.Tensor) and params.inv_scale.dtype == torch.float64
    X_hat = absmax_dequantize(codes, params)
    assert isinstance(X_hat, torch.Tensor) and X_hat.dtype == torch.float32
    ref_codes, ref_hat = torch_absmax(X)
    assert torch.equal(codes, ref_codes)
    assert torch.equal(X_hat, ref_hat)
    # Labonne's reciprocal form gives the same codes except, at most, a tie flipped by rounding
    lab_codes, lab_hat = labonne_absmax(X)
    assert (codes.to(torch.int16) - lab_codes.to(torch.int16)).abs().max() <= 1
    assert (codes != lab_codes).sum() <= 2
    assert torch.allclose(X_hat, lab_hat, atol=1.01 * float(params.scale))
    # and the numpy path gives the same numbers
    np_codes, np_params = absmax_quantize(X.numpy(), axis=None)
    np.testing.assert_array_equal(np_codes, codes.numpy())
    np.testing.assert_array_equal(absmax_dequantize(np_codes, np_params), X_hat.numpy())


def test_numpy_codes_with_torch_params_and_back():
    X = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))
    codes, params = absmax_quantize(X, axis=0)
    out = absmax_dequantize(codes.numpy(), params)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, absmax_dequantize(codes, params).numpy())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_torch_dtype_is_restored(dtype):
    X = torch.randn(4, 8, generator=torch.Generator().manual_seed(2)).to(dtype)
    codes, params = absmax_quantize(X, bits=4, group_size=4)
    assert params.dtype == str(dtype).removeprefix("torch.")
    X_hat = absmax_dequantize(codes, params)
    assert X_hat.dtype == dtype
    assert torch.allclose(X_hat.double(), X.double(), atol=float(X.abs().max()) / 7)


def test_numpy_float16_and_float64_restored():
    X = np.linspace(-1, 1, 8)
    assert absmax_dequantize(*absmax_quantize(X)).dtype == np.float64
    assert absmax_dequantize(*absmax_quantize(X.astype(np.float16))).dtype == np.float16


# --- views and errors ---------------------------------------------------------------


def test_strided_and_negative_stride_views_match_contiguous_copies():
    base = np.random.default_rng(3).normal(size=(6, 8)).astype(np.float32)
    for view in (base[:, ::2], base[::-1], base[::-2, ::-3], base.T):
        for kw in ({}, {"axis": 0}, {"axis": 1}, {"group_size": view.shape[-1]}):
            c1, p1 = absmax_quantize(view, 4, **kw)
            c2, p2 = absmax_quantize(np.ascontiguousarray(view), 4, **kw)
            np.testing.assert_array_equal(c1, c2)
            np.testing.assert_array_equal(p1.scale, p2.scale)
    t = torch.from_numpy(base)
    for view in (t.t(), t[:, ::2], t.flip(0)):
        c1, p1 = absmax_quantize(view, axis=0)
        c2, p2 = absmax_quantize(view.contiguous(), axis=0)
        assert torch.equal(c1, c2) and torch.equal(p1.scale, p2.scale)


@pytest.mark.parametrize("bits", [0, 1, 9, 16])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        absmax_quantize(np.ones(4, np.float32), bits=bits)


def test_errors():
    X = np.ones((4, 6), np.float32)
    with pytest.raises(TypeError, match="bits must be an integer"):
        absmax_quantize(X, bits=8.0)
    with pytest.raises(ValueError, match=r"length 6\)"):
        absmax_quantize(X, group_size=4)
    with pytest.raises(ValueError, match="out of range"):
        absmax_quantize(X, axis=2)
    with pytest.raises(ValueError, match="not both"):
        absmax_quantize(X, axis=0, group_size=2)
    with pytest.raises(ValueError, match="NaN"):
        absmax_quantize(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="Inf"):
        absmax_quantize(torch.tensor([1.0, float("inf")]))
    with pytest.raises(ValueError, match="empty"):
        absmax_quantize(np.zeros((0, 4), np.float32))
    with pytest.raises(TypeError, match="dtype int64"):
        absmax_quantize(np.arange(4))
    with pytest.raises(TypeError, match="dtype bool"):
        absmax_quantize(np.ones(4, bool))
    with pytest.raises(TypeError, match="dtype int32"):
        absmax_quantize(torch.arange(4, dtype=torch.int32))


def test_dequantize_checks_codes():
    codes, params = absmax_quantize(np.linspace(-1, 1, 6, dtype=np.float32), bits=4)
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*\(6,\)"):
        absmax_dequantize(codes.reshape(3, 2), params)
    with pytest.raises(TypeError, match="integer"):
        absmax_dequantize(codes.astype(np.float32), params)
    with pytest.raises(ValueError, match=r"\[-7, 7\]"):
        absmax_dequantize(codes * 2, params)
