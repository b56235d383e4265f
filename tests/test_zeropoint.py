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
    # min -1, max 2: scale 3/255 = 0.01176..., zero point round(-128 + 1 / (3/255)) = round(-43) = -43
    X = np.array([-1.0, 0.0, 0.45, 2.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X)
    assert params.scale.dtype == np.float32
    assert params.scale[0] == np.float32(3 / 255)
    assert params.step is params.scale
    assert params.inv_scale[0] == pytest.approx(85.0, rel=1e-7)  # Labonne's scale 255 / (max - min)
    assert params.zero_point.tolist() == [-43]
    assert params.zero_point.dtype == np.int8  # the codes' own type
    # 0.45 -> round(0.45 * 85) - 43 = round(38.25) - 43 = -5
    assert codes.tolist() == [-128, -43, -5, 127]
    X_hat = zeropoint_dequantize(codes, params)
    np.testing.assert_allclose(X_hat, [-1.0, 0.0, 38 * 3 / 255, 2.0], rtol=1e-7)
    assert float(X[2] - X_hat[2]) == pytest.approx(0.45 - 38 / 85, abs=1e-7)  # 0.00294...
    # X_hat = scale * (codes - zero_point), the difference widened to int16 (it reaches 255)
    offset = codes.astype(np.int16) - params.zero_point.astype(np.int16)
    assert offset.tolist() == [-85, 0, 38, 170]
    np.testing.assert_array_equal(X_hat, (params.scale * offset).astype(np.float32))


def test_int8_difference_would_wrap_around():
    # Why dequantization widens: in int8, qmax - qmin = 127 - (-128) wraps to -1.
    X = np.array([0.0, 1.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X)
    assert codes.tolist() == [-128, 127] and params.zero_point.tolist() == [-128]
    wrapped = torch.from_numpy(codes) - torch.from_numpy(params.zero_point)  # int8 - int8
    assert wrapped.dtype == torch.int8 and wrapped.tolist() == [0, -1]
    assert zeropoint_dequantize(codes, params).tolist() == [0.0, 1.0]


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
    assert float(params.inv_scale) == pytest.approx(float(scale), rel=1e-6)  # his scale is our 1/scale
    # his scale * X vs our X / scale may flip a tie, but not more
    assert (codes.to(torch.int16) - ref_codes.to(torch.int16)).abs().max() <= 1
    assert (codes != ref_codes.to(torch.int8)).sum() <= 2
    assert torch.allclose(zeropoint_dequantize(codes, params), ref_hat, atol=1.01 / float(scale))


def test_matches_the_pytorch_convention_bitwise():
    X = torch.randn(16, 64, generator=torch.Generator().manual_seed(1)) + 0.3
    codes, params = zeropoint_quantize(X, group_size=16)
    Xg = X.reshape(16, 4, 16)
    lo = Xg.amin(-1, keepdim=True).clamp(max=0)
    hi = Xg.amax(-1, keepdim=True).clamp(min=0)
    scale = ((hi.double() - lo.double()) / 255).float()  # units per code
    zp = (-128 - lo / scale).round().clamp(-128, 127)
    q = ((Xg / scale).round() + zp).clamp(-128, 127)
    assert torch.equal(params.scale, scale) and torch.equal(params.zero_point, zp.to(torch.int8))
    assert torch.equal(codes, q.to(torch.int8).reshape(16, 64))
    X_hat = scale * (q.to(torch.int16) - zp.to(torch.int16))
    assert torch.equal(zeropoint_dequantize(codes, params), X_hat.reshape(16, 64))


def test_two_bits_uses_four_levels():
    X = np.array([0.0, 1.0, 2.0, 3.0], dtype=np.float32)
    codes, params = zeropoint_quantize(X, bits=2)
    # scale 3/3 = 1, zero point round(-2 - 0 / 1) = -2: codes -2..1, all four used
    assert codes.tolist() == [-2, -1, 0, 1]
    np.testing.assert_array_equal(zeropoint_dequantize(codes, params), X)


def test_range_always_contains_zero():
    # all positive, far from 0: min is taken as 0, zero point = qmin, 0.0 exactly representable
    X = np.array([[1000.0, 1001.0], [-5.0, -4.0]], dtype=np.float32)
    codes, params = zeropoint_quantize(X, axis=0)
    assert params.zero_point[:, 0].tolist() == [-128, 127]
    np.testing.assert_allclose(params.scale[:, 0], [1001 / 255, 5 / 255], rtol=1e-7)
    X_hat = zeropoint_dequantize(codes, params)
    assert X_hat[0, 1] == 1001.0 and X_hat[1, 0] == -5.0
    assert np.all(np.abs(X_hat - X) <= 0.5 * params.grouping.broadcast(params.step))


@pytest.mark.parametrize("c", [1.49, 1.52, 1.249, -1.49, 3.0e38, -3.4e38, -2.5e-44, 1e-45, 7.0, 0.1])
@pytest.mark.parametrize("bits", [2, 3, 8])
def test_constant_group_roundtrips_exactly(c, bits):
    # The general step |c| / 255 in float32 does not bring 1.49 back; a constant group gets step |c|.
    X = np.full((3, 4), c, dtype=np.float32)
    qmin = -(2 ** (bits - 1))
    for kw in ({}, {"axis": 0}, {"group_size": 2}):
        codes, params = zeropoint_quantize(X, bits, **kw)
        assert np.all(params.scale == np.float32(abs(c)))
        # c > 0: zero point qmin, code qmin + 1; c < 0: zero point qmin + 1, code qmin
        assert np.all(params.zero_point == (qmin if c > 0 else qmin + 1))
        assert np.all(codes == (qmin + 1 if c > 0 else qmin))
        np.testing.assert_array_equal(zeropoint_dequantize(codes, params), X)


def test_the_general_step_would_not_roundtrip_a_constant():
    # what decision 2 avoids: 255 * float32(7.97 / 255) is not float32(7.97), 15 * float32(0.03 / 15)
    # is not float32(0.03)
    for c, levels in ((7.97, 255), (0.03, 15)):
        c = np.float32(c)
        step = np.float32(np.float64(c) / levels)
        assert np.float32(levels * np.float64(step)) != c
    # while a group that is not constant keeps the general step (and c may come back inexactly)
    c = np.float32(7.97)
    codes, params = zeropoint_quantize(np.array([c, c, 0.0], np.float32))
    assert params.scale[0] == np.float32(np.float64(c) / 255)
    assert codes.tolist() == [127, 127, -128]
    assert zeropoint_dequantize(codes, params)[0] != c


@settings(max_examples=200)
@given(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.integers(2, 8),
    st.sampled_from([{}, {"axis": 0}, {"axis": 1}, {"group_size": 1}, {"group_size": 3}]),
    st.data(),
)
def test_constant_groups_roundtrip_exactly_next_to_other_groups(c, bits, kw, data):
    # row 0 is constant c (one group per row for axis=0 and for group sizes 1 and 3);
    # the other rows hold arbitrary data and must not disturb it
    rest = data.draw(hnp.arrays(np.float32, (2, 6), elements=st.floats(-1e6, 1e6, width=32)))
    X = np.concatenate([np.full((1, 6), c, np.float32), rest])
    codes, params = zeropoint_quantize(X, bits, **kw)
    X_hat = zeropoint_dequantize(codes, params)
    if kw.get("axis") == 1 or not kw:  # groups span rows: row 0 is not a group of its own
        assert np.all(np.abs(X_hat - X) <= 0.5 * params.grouping.broadcast(params.step) * (1 + 1e-4))
    else:
        np.testing.assert_array_equal(X_hat[0], X[0])


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
    assert params.zero_point.dtype == np.int8
    assert params.zero_point.min() >= qmin and params.zero_point.max() <= qmax
    assert params.scale.dtype == np.float32 and np.all(params.scale > 0)
    assert np.isfinite(params.inv_scale).all()
    X_hat = zeropoint_dequantize(codes, params)
    assert X_hat.dtype == np.float32 and np.isfinite(X_hat).all()
    step = params.grouping.broadcast(params.step.astype(np.float64))
    err = np.abs(X_hat.astype(np.float64) - X.astype(np.float64))
    assert np.all(err <= step * (0.5 + 1e-4) + 2.0**-24 * np.abs(X) + 2.0**-149)
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
    # every group must use both qmin and qmax so that its scale is exactly 2**-exponent
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
    assert isinstance(params.scale, torch.Tensor) and params.scale.dtype == torch.float32
    assert isinstance(params.zero_point, torch.Tensor) and params.zero_point.dtype == torch.int8
    X_hat = zeropoint_dequantize(codes, params)
    assert isinstance(X_hat, torch.Tensor) and X_hat.dtype == torch.float32
    np_codes, np_params = zeropoint_quantize(X.numpy(), bits=4, group_size=8)
    np.testing.assert_array_equal(np_codes, codes.numpy())
    np.testing.assert_array_equal(zeropoint_dequantize(np_codes, np_params), X_hat.numpy())
    # a learner's own formula, widened before subtracting, gives the same numbers bitwise
    manual = params.scale * (codes.reshape(8, 2, 8).to(torch.int16) - params.zero_point.to(torch.int16))
    assert torch.equal(manual.reshape(8, 16), X_hat)


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
