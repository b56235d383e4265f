"""qlab.awq and qlab.mixed_bits: activation-aware scaling and bit allocation under a budget."""

from __future__ import annotations

import numpy as np
import pytest

import qlab
from qlab.awq import activation_scales, awq_dequantize, awq_quantize, output_error, output_error_fn
from qlab.mixed_bits import allocate_bits, bits_cost


def _salient(seed=0, rows=64, cols=256, tokens=512):
    """Inputs with a few channels 30x larger than the rest, as in real LLM activations."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(tokens, cols))
    X[:, rng.choice(cols, 4, replace=False)] *= 30
    W = rng.normal(0, 0.05, (rows, cols))
    return W.astype(np.float32), X.astype(np.float32)


def test_alpha_zero_is_round_to_nearest():
    W, X = _salient()
    codes, params = awq_quantize(W, X, bits=4, group_size=64, n_grid=1)
    assert params.alpha == 0.0 and np.all(params.input_scale == 1)
    rtn_codes, rtn = qlab.zeropoint_quantize(W, bits=4, group_size=64)
    assert np.array_equal(codes, rtn_codes)
    assert np.allclose(awq_dequantize(codes, params), qlab.zeropoint_dequantize(rtn_codes, rtn))


@pytest.mark.parametrize("symmetric", [False, True])
def test_output_error_below_round_to_nearest(symmetric):
    W, X = _salient(seed=1)
    codes, params = awq_quantize(W, X, bits=4, group_size=64, symmetric=symmetric)
    assert params.alpha > 0
    # the search takes the error through the Gram matrix XᵀX (more tokens than inputs): equal up to rounding
    assert np.isclose(
        params.errors.min(), output_error(X, W, awq_dequantize(codes, params)), rtol=1e-12, atol=0
    )
    assert output_error(X, W, awq_dequantize(codes, params)) < 0.8 * params.errors[0]  # errors[0]: RTN
    s = params.input_scale
    assert np.isclose(s.max() * s.min(), 1, rtol=1e-4)
    assert np.argmax(s) in np.argsort(activation_scales(X))[-4:]  # the salient channels get the largest s


def test_awq_errors():
    W, X = _salient()
    with pytest.raises(ValueError, match="features"):
        awq_quantize(W, X[:, :10])
    with pytest.raises(ValueError, match="multiple of group_size"):
        awq_quantize(W, X, group_size=100)
    with pytest.raises(ValueError, match="bits"):
        awq_quantize(W, X, bits=0)


def test_allocate_bits_spends_the_budget_where_it_pays():
    # layer "a" is very sensitive, "b" barely: a 4.5-bit average goes to "a"
    errors = {"a": {3: 64.0, 4: 16.0, 5: 4.0, 6: 1.0}, "b": {3: 0.4, 4: 0.1, 5: 0.03, 6: 0.01}}
    sizes = {"a": 1000, "b": 1000}
    result = allocate_bits(errors, sizes, budget=4.5)
    assert result.bits == {"a": 6, "b": 3} and result.average_bits == 4.5
    uniform = errors["a"][4] + errors["b"][4]
    assert result.total_error < uniform
    with pytest.raises(ValueError, match="budget"):
        allocate_bits(errors, sizes, budget=2.0)
    with pytest.raises(ValueError, match="same layers"):
        allocate_bits(errors, {"a": 1}, budget=4)


def test_bits_cost_counts_scales():
    assert bits_cost(4, 128) == 4 + 40 / 128
    assert bits_cost(4, None) == 4.0
    cost = lambda b: bits_cost(b, 128)  # noqa: E731
    result = allocate_bits({"x": {4: 1.0, 8: 0.0}}, {"x": 10}, budget=cost(4), cost=cost)
    assert result.bits == {"x": 4} and np.isclose(result.average_bits, cost(4))


def test_awq_and_mixed_bits_reject_bad_input():
    W, X = _salient()
    with pytest.raises(ValueError, match="2-D"):
        awq_quantize(W[0], X)
    with pytest.raises(ValueError, match="group_size"):
        awq_quantize(W, X, group_size=0)
    with pytest.raises(ValueError, match="n_grid"):
        awq_quantize(W, X, n_grid=0)
    with pytest.raises(TypeError, match="symmetric"):
        awq_quantize(W, X, symmetric=None)
    with pytest.raises(ValueError, match="NaN"):
        awq_quantize(W, np.full_like(X, np.nan))
    with pytest.raises(ValueError, match="features"):
        output_error(X[:, :10], W, W)
    with pytest.raises(ValueError, match="same shape"):
        output_error(X, W, W[:, :10])
    codes, params = awq_quantize(W, X, group_size=64, n_grid=2)
    with pytest.raises(TypeError, match="AWQParams"):
        awq_dequantize(codes, object())
    with pytest.raises(ValueError, match="group_size"):
        bits_cost(4, 0)
    with pytest.raises(ValueError, match="bits"):
        bits_cost(0, 128)
    with pytest.raises(ValueError, match="bit widths must be positive integers"):
        allocate_bits({"a": {0: 1.0}}, {"a": 10}, budget=4)
    with pytest.raises(ValueError, match="finite number >= 0"):
        allocate_bits({"a": {4: float("nan")}}, {"a": 10}, budget=4)
    with pytest.raises(ValueError, match="budget must be a finite"):
        allocate_bits({"a": {4: 1.0}}, {"a": 10}, budget=float("inf"))
    with pytest.raises(ValueError, match="positive integer number of weights"):
        allocate_bits({"a": {4: 1.0}}, {"a": 0}, budget=4)
    assert allocate_bits({"a": {4: 1.0}}, {"a": np.int64(10)}, budget=4).bits == {"a": 4}


@pytest.mark.parametrize("tokens", [32, 600])  # fewer tokens than inputs (direct) and more (Gram matrix)
def test_search_errors_equal_output_error_for_every_alpha(tokens):
    rng = np.random.default_rng(3)
    X = (rng.standard_normal((tokens, 128)) * rng.gamma(1.0, 1.0, 128)).astype(np.float32)
    W = (rng.standard_normal((48, 128)) * 0.02).astype(np.float32)
    _, params = awq_quantize(W, X, bits=3, group_size=32, n_grid=6)
    for alpha, error in zip(params.alphas, params.errors, strict=True):
        s = np.maximum(activation_scales(X), 1e-4) ** alpha
        s = (s / np.sqrt(s.max() * s.min())).astype(np.float32)
        scaled = qlab.zeropoint_dequantize(*qlab.zeropoint_quantize(W * s, bits=3, group_size=32))
        assert np.isclose(error, output_error(X, W, scaled / s), rtol=1e-12, atol=0)


@pytest.mark.parametrize("tokens", [40, 500])  # fewer tokens than inputs, and more (the Gram-matrix path)
def test_output_error_fn_equals_output_error(tokens):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((tokens, 96)) @ rng.standard_normal((96, 96))
    W = rng.standard_normal((24, 96)).astype(np.float32)
    error_of = output_error_fn(X, W)
    for bits in (2, 4, 8):
        codes, params = qlab.zeropoint_quantize(W, bits=bits, group_size=32)
        W_hat = qlab.zeropoint_dequantize(codes, params)
        assert error_of(W_hat) == pytest.approx(output_error(X, W, W_hat), rel=1e-10)
    assert error_of(W) == 0.0
    # rank-deficient X (an input that is always 0): the fallback without a Cholesky factor
    X[:, 5] = 0.0
    assert output_error_fn(X, W)(W_hat) == pytest.approx(output_error(X, W, W_hat), rel=1e-10)


def test_output_error_fn_rejects_bad_input():
    X, W = np.ones((8, 4)), np.ones((3, 4))
    with pytest.raises(ValueError, match="features"):
        output_error_fn(np.ones((8, 5)), W)
    with pytest.raises(ValueError, match="2-D"):
        output_error_fn(X, np.ones(4))
    with pytest.raises(ValueError, match="shape"):
        output_error_fn(X, W)(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN|finite"):
        output_error_fn(X, W)(np.full((3, 4), np.nan))
