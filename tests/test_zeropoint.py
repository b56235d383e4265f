"""Tests for qlab.zeropoint: hand-worked values, error-bound properties, torch, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import quant_cases
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.granularity import make_grouping
from qlab.metrics import mse
from qlab.zeropoint import ZeropointParams, zeropoint_dequantize, zeropoint_quantize

# --- hand-worked examples -------------------------------------------------------------


def test_hand_example_8_bits():
    # min -1, max 2: scale 255/3 = 85, zero point round(85 - 128) = -43
    X = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X)
    assert params.scale.tolist() == [85.0]
    assert params.zero_point.tolist() == [-43]
    assert params.zero_point.dtype == np.int16
    # 0.5 -> round(42.5 - 43) = round(-0.5) = 0 (half to even)
    assert codes.tolist() == [-128, -43, 0, 127]
    X_hat = zeropoint_dequantize(codes, params)
    np.testing.assert_allclose(X_hat, [-1.0, 0.0, 43 / 85, 2.0], rtol=1e-7)
    assert float(X[2] - X_hat[2]) == pytest.approx(0.5 - 43 / 85, abs=1e-7)  # -0.00588...
    assert float(params.step[0]) == pytest.approx(3 / 255)


def test_matches_labonne_formula_on_mixed_sign_data():
    X = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    # Labonne, "Introduction to Weight Quantization"
    x_range = torch.max(X) - torch.min(X)
    scale = 255 / x_range
    zeropoint = (-scale * torch.min(X) - 128).round()
    ref_codes = torch.clip((X * scale + zeropoint).round(), -128, 127)
    ref_hat = (ref_codes - zeropoint) / scale
    codes, params = zeropoint_quantize(X)
    assert int(params.zero_point) == int(zeropoint)
    assert float(params.scale) == pytest.approx(float(scale), rel=1e-6)
    # float32 (reference) vs float64 (qlab) scale may flip a tie, but not more
    assert (codes.to(torch.int16) - ref_codes.to(torch.int16)).abs().max() <= 1
    assert (codes != ref_codes.to(torch.int8)).sum() <= 2
    assert torch.allclose(zeropoint_dequantize(codes, params), ref_hat, atol=1.01 / float(scale))


def test_two_bits_uses_four_levels():
    X = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X, bits=2)
    # scale 3/3 = 1, zero point round(-1*0 - 2) = -2: codes -2..1, all four used
    assert codes.tolist() == [-2, -1, 0, 1]
    np.testing.assert_array_equal(zeropoint_dequantize(codes, params), X)


def test_range_always_contains_zero():
    # all positive, far from 0: min is taken as 0, zero point = qmin, 0.0 exactly representable
    X = np.array([[1000.0, 1001.0], [-5.0, -4.0]], dtype=np.float32)
    codes, params = zeropoint_quantize(X, axis=0)
    assert params.zero_point[:, 0].tolist() == [-128, 127]
    np.testing.assert_allclose(params.scale[:, 0], [255 / 1001, 255 / 5])
    X_hat = zeropoint_dequantize(codes, params)
    assert X_hat[0, 1] == 1001.0 and X_hat[1, 0] == -5.0
    assert np.all(np.abs(X_hat - X) <= 0.5 * params.grouping.broadcast(params.step))


@pytest.mark.parametrize("c", [1.49, 1.52, 1.249, -1.49, 3.0e38, -2.5e-44, 7.0, 0.1])
@pytest.mark.parametrize("bits", [2, 3, 8])
def test_constant_group_roundtrips_exactly(c, bits):
    # With a float32 scale, 255 / (255 / 1.49) != 1.49; qlab keeps the scale in float64.
    X = np.full((3, 4), c, dtype=np.float32)
    for kw in ({}, {"axis": 0}, {"group_size": 2}):
        codes, params = zeropoint_quantize(X, bits, **kw)
        np.testing.assert_array_equal(zeropoint_dequantize(codes, params), X)


def test_all_zero_group_has_scale_one_and_roundtrips():
    X = np.array([[0.0, 0.0], [1.0, -1.0]], dtype=np.float32)
    codes, params = zeropoint_quantize(X, axis=0)
    assert params.scale[0, 0] == 1.0
    assert codes[0].tolist() == [params.zero_point[0, 0]] * 2
    np.testing.assert_array_equal(zeropoint_dequantize(codes, params)[0], [0.0, 0.0])


def test_float32_extremes_stay_finite():
    big = np.finfo(np.float32).max
    X = np.array([big, -big, 0.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X)
    X_hat = zeropoint_dequantize(codes, params)
    assert np.isfinite(X_hat).all()
    # zero point round(-0.5) = 0 (half to even), so max lands on 127.5 and is clipped to 127
    assert params.zero_point[0] == 0 and codes.tolist() == [127, -128, 0]
    assert abs(float(X_hat[0]) - float(big)) <= 0.5 * float(params.step[0])


# --- properties ---------------------------------------------------------------------


@settings(max_examples=300)
@given(quant_cases())
def test_error_is_at_most_half_a_step_and_codes_in_range(case):
    X, bits, axis, group_size = case
    codes, params = zeropoint_quantize(X, bits, axis, group_size)
    assert isinstance(params, ZeropointParams)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    assert codes.dtype == np.int8 and codes.shape == X.shape
    assert codes.min() >= qmin and codes.max() <= qmax
    assert params.zero_point.dtype == np.int16
    assert params.zero_point.min() >= qmin and params.zero_point.max() <= qmax
    assert params.scale.dtype == np.float64 and np.all(params.scale > 0)
    X_hat = zeropoint_dequantize(codes, params)
    assert X_hat.dtype == np.float32 and np.isfinite(X_hat).all()
    step = params.grouping.broadcast(params.step)
    err = np.abs(X_hat.astype(np.float64) - X.astype(np.float64))
    assert np.all(err <= step * (0.5 + 1e-7) + 2.0**-24 * np.abs(X) + 2.0**-149)
    # 0.0 is always exactly representable
    zeros = X == 0
    assert np.all(X_hat[zeros] == 0)


@settings(max_examples=200)
@given(quant_cases(elements=st.integers(-128, 127).map(float)), st.integers(-30, 30), st.data())
def test_values_on_the_grid_roundtrip_exactly(case, exponent, data):
    C, bits, axis, group_size = case
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    g = make_grouping(C.shape, axis, group_size)
    codes_in = np.clip(C, qmin, qmax).astype(np.int64)
    # every group must use both qmin and qmax so that its scale is exactly 2**exponent
    index = np.arange(C.size).reshape(C.shape)
    first = g.broadcast(np.min(g.split(index), axis=g.reduce_axes, keepdims=True)) == index
    last = g.broadcast(np.max(g.split(index), axis=g.reduce_axes, keepdims=True)) == index
    assume(not np.any(first & last))  # a group of one value cannot hold both ends
    codes_in[first], codes_in[last] = qmin, qmax
    zp = data.draw(hnp.arrays(np.int64, g.scale_shape, elements=st.integers(qmin, qmax)))
    X = ((codes_in - g.broadcast(zp)) * 2.0**-exponent).astype(np.float32)
    codes, params = zeropoint_quantize(X, bits, axis, group_size)
    np.testing.assert_array_equal(params.zero_point, zp)
    np.testing.assert_array_equal(codes, codes_in)
    np.testing.assert_array_equal(zeropoint_dequantize(codes, params), X)


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("seed", range(5))
def test_zeropoint_beats_absmax_on_relu_like_data(bits, seed):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.normal(size=(32, 64)), 0).astype(np.float32)  # ReLU output
    err_zp = mse(X, zeropoint_dequantize(*zeropoint_quantize(X, bits)))
    err_abs = mse(X, absmax_dequantize(*absmax_quantize(X, bits)))
    # step (max/(2^bits - 1)) is about half of absmax's (max/(2^(bits-1) - 1))
    assert err_zp < 0.6 * err_abs


# --- torch --------------------------------------------------------------------------


def test_torch_in_torch_out():
    X = torch.rand(8, 16, generator=torch.Generator().manual_seed(0)) * 3 + 1
    codes, params = zeropoint_quantize(X, bits=4, group_size=8)
    assert isinstance(codes, torch.Tensor) and codes.dtype == torch.int8
    assert isinstance(params.scale, torch.Tensor) and params.scale.dtype == torch.float64
    assert isinstance(params.zero_point, torch.Tensor) and params.zero_point.dtype == torch.int16
    X_hat = zeropoint_dequantize(codes, params)
    assert isinstance(X_hat, torch.Tensor) and X_hat.dtype == torch.float32
    np_codes, np_params = zeropoint_quantize(X.numpy(), bits=4, group_size=8)
    np.testing.assert_array_equal(np_codes, codes.numpy())
    np.testing.assert_array_equal(zeropoint_dequantize(np_codes, np_params), X_hat.numpy())
    # a learner's own formula works with the stored types (no int8 wrap-around)
    manual = (codes.reshape(8, 2, 8) - params.zero_point) / params.scale
    assert torch.allclose(manual.reshape(8, 16).float(), X_hat)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_torch_dtype_is_restored(dtype):
    X = torch.randn(4, 8, generator=torch.Generator().manual_seed(2)).to(dtype)
    codes, params = zeropoint_quantize(X, axis=1)
    X_hat = zeropoint_dequantize(codes, params)
    assert X_hat.dtype == dtype
    assert torch.allclose(X_hat.double(), X.double(), atol=float(X.abs().max()) / 100)


# --- views and errors ---------------------------------------------------------------


def test_strided_and_negative_stride_views_match_contiguous_copies():
    base = np.random.default_rng(3).normal(size=(6, 8)).astype(np.float32)
    for view in (base[:, ::2], base[::-1], base[::-2, ::-3], base.T):
        for kw in ({}, {"axis": 0}, {"axis": 1}, {"group_size": view.shape[-1]}):
            c1, p1 = zeropoint_quantize(view, 3, **kw)
            c2, p2 = zeropoint_quantize(np.ascontiguousarray(view), 3, **kw)
            np.testing.assert_array_equal(c1, c2)
            np.testing.assert_array_equal(p1.scale, p2.scale)
            np.testing.assert_array_equal(p1.zero_point, p2.zero_point)
    t = torch.from_numpy(base)
    for view in (t.t(), t[:, ::2], t.flip(1)):
        c1, p1 = zeropoint_quantize(view, group_size=2)
        c2, p2 = zeropoint_quantize(view.contiguous(), group_size=2)
        assert torch.equal(c1, c2) and torch.equal(p1.zero_point, p2.zero_point)


def test_errors():
    X = np.ones((4, 6), np.float32)
    for bits in (1, 9):
        with pytest.raises(ValueError, match="bits"):
            zeropoint_quantize(X, bits=bits)
    with pytest.raises(TypeError, match="bits must be an integer"):
        zeropoint_quantize(X, bits=8.0)
    with pytest.raises(ValueError, match=r"length 6\)"):
        zeropoint_quantize(X, group_size=4)
    with pytest.raises(ValueError, match="out of range"):
        zeropoint_quantize(X, axis=-3)
    with pytest.raises(ValueError, match="not both"):
        zeropoint_quantize(X, axis=0, group_size=2)
    with pytest.raises(ValueError, match="NaN"):
        zeropoint_quantize(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="empty"):
        zeropoint_quantize(np.zeros((3, 0), np.float32))
    with pytest.raises(TypeError, match="dtype int64"):
        zeropoint_quantize(np.arange(4))


def test_dequantize_checks_codes():
    codes, params = zeropoint_quantize(np.linspace(-1, 1, 6, dtype=np.float32), bits=3)
    with pytest.raises(ValueError, match="shape"):
        zeropoint_dequantize(codes[:5], params)
    with pytest.raises(TypeError, match="integer"):
        zeropoint_dequantize(codes.astype(np.float64), params)
    with pytest.raises(ValueError, match=r"\[-4, 3\]"):
        zeropoint_dequantize(np.full(6, 5, np.int8), params)
