"""qlab.gptq on small problems with known answers, on correlated data and on a real MiniLM layer."""

from __future__ import annotations

import numpy as np
import pytest

import qlab
from qlab.gptq import gptq_dequantize, gptq_hessian, gptq_proxy_loss, gptq_quantize


def _correlated(rows=32, cols=128, tokens=1024, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.05, (rows, cols)).astype(np.float32)
    mix = rng.normal(size=(cols, cols)) / np.sqrt(cols)
    X = (rng.normal(size=(tokens, cols)) @ mix + rng.normal(size=cols)).astype(np.float32)
    return W, X, gptq_hessian(X)


def _rtn(W, bits, group_size, symmetric):
    if symmetric:
        codes, p = qlab.absmax_quantize(W, bits=bits, group_size=group_size)
        return codes, qlab.absmax_dequantize(codes, p)
    codes, p = qlab.zeropoint_quantize(W, bits=bits, group_size=group_size)
    return codes, qlab.zeropoint_dequantize(codes, p)


def test_hessian_is_2xtx_over_n_and_accumulates():
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    assert np.allclose(gptq_hessian(X), 2 * X.T.astype(np.float64) @ X / 4)
    assert np.allclose(gptq_hessian([X[:1], X[1:]]), gptq_hessian(X))


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("group_size", [16, 64])
def test_diagonal_hessian_reduces_to_round_to_nearest(symmetric, group_size):
    W, _, _ = _correlated()
    H = np.diag(np.random.default_rng(1).uniform(0.5, 2.0, W.shape[1]))
    codes, params = gptq_quantize(W, H, bits=4, group_size=group_size, symmetric=symmetric)
    rtn_codes, rtn_hat = _rtn(W, 4, group_size, symmetric)
    assert np.array_equal(codes, rtn_codes)
    assert np.array_equal(gptq_dequantize(codes, params), rtn_hat)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("act_order", [False, True])
def test_proxy_loss_below_round_to_nearest_on_correlated_data(symmetric, act_order):
    W, X, H = _correlated()
    codes, params = gptq_quantize(W, H, bits=4, group_size=32, symmetric=symmetric, act_order=act_order)
    W_hat = gptq_dequantize(codes, params)
    _, rtn_hat = _rtn(W, 4, 32, symmetric)
    assert gptq_proxy_loss(W, W_hat, H) < 0.75 * gptq_proxy_loss(W, rtn_hat, H)
    # the proxy loss is the output error: tr(D H Dᵀ) = 2 · mean over tokens of |X Dᵀ|² summed over rows
    D = W.astype(np.float64) - W_hat
    assert np.isclose(gptq_proxy_loss(W, W_hat, H), 2 * np.mean(np.sum((X @ D.T) ** 2, axis=1)))


def test_codes_always_on_the_grid_and_eight_bits_near_lossless():
    W, _, H = _correlated(seed=2)
    for bits in (2, 3, 4, 8):
        codes, params = gptq_quantize(W, H, bits=bits, group_size=32)
        assert codes.dtype == np.int8
        assert codes.min() >= -(2 ** (bits - 1)) and codes.max() <= 2 ** (bits - 1) - 1
        assert params.scale.shape == (32, 4) and params.zero_point.shape == (32, 4)
    codes, params = gptq_quantize(W, H, bits=8, group_size=32)
    assert qlab.sqnr_db(W, gptq_dequantize(codes, params)) > 40


def test_act_order_round_trip():
    W, _, H = _correlated(seed=3)
    codes, params = gptq_quantize(W, H, bits=4, group_size=32, act_order=True)
    assert params.perm is not None and sorted(params.perm) == list(range(W.shape[1]))
    assert np.array_equal(params.perm, np.argsort(-np.diag(H), kind="stable"))
    # g_idx: each group holds 32 consecutive columns of the quantization order
    assert np.array_equal(params.g_idx[params.perm], np.arange(W.shape[1]) // 32)
    W_hat = gptq_dequantize(codes, params)
    assert qlab.sqnr_db(W, W_hat) > 15  # dequantization used the permutation correctly


def test_dead_columns_are_zeroed():
    W, X, _ = _correlated(seed=4)
    X[:, 5] = 0
    codes, params = gptq_quantize(W, gptq_hessian(X), bits=4, group_size=32)
    assert np.all(gptq_dequantize(codes, params)[:, 5] == 0)


def test_real_minilm_layer_beats_round_to_nearest():
    torch = pytest.importorskip("torch")
    from qlab.models.loading import load_minilm
    from qlab.models.text import load_sentences

    minilm = load_minilm()
    layer = minilm.model.encoder.layer[1].attention.self.query
    captured = []
    handle = layer.register_forward_pre_hook(
        lambda _m, args: captured.append(args[0].detach().reshape(-1, 384))
    )
    batch = minilm.tokenizer(load_sentences(32), padding=True, return_tensors="pt")
    with torch.no_grad():
        minilm.model(**batch)
    handle.remove()
    X = torch.cat(captured).numpy()
    W = layer.weight.detach().numpy()
    H = gptq_hessian(X)
    codes, params = gptq_quantize(W, H, bits=4, group_size=128)
    _, rtn_hat = _rtn(W, 4, 128, False)
    out = lambda w: float(np.mean((X @ (W - w).T) ** 2))  # noqa: E731
    assert out(gptq_dequantize(codes, params)) < 0.8 * out(rtn_hat)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"H": np.eye(7)}, ValueError, "H must be"),
        ({"bits": 1}, ValueError, "bits"),
        ({"bits": 9}, ValueError, "bits"),
        ({"group_size": 24}, ValueError, "multiple of group_size"),
        ({"group_size": 0}, ValueError, "group_size"),
        ({"H": -np.eye(128), "damp": 0.0}, ValueError, "not positive definite"),
        ({"H": np.triu(np.ones((128, 128)))}, ValueError, "symmetric"),
        ({"damp": 2}, ValueError, "damp"),
        ({"W": np.ones(128, np.float32)}, ValueError, "2-D"),
        ({"W": np.full((2, 128), np.nan, np.float32)}, ValueError, "NaN"),
    ],
)
def test_clear_errors(kwargs, error, message):
    args = {"W": np.ones((2, 128), np.float32), "H": np.eye(128)} | kwargs
    with pytest.raises(error, match=message):
        gptq_quantize(**args)


def test_hessian_and_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="same number of features"):
        gptq_hessian([np.ones((3, 4), np.float32), np.ones((3, 5), np.float32)])
    with pytest.raises(ValueError, match="tokens, in_features"):
        gptq_hessian(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="no calibration inputs"):
        gptq_hessian([])
    with pytest.raises(ValueError, match="empty"):
        gptq_hessian(np.ones((0, 4), np.float32))
    W = np.ones((2, 8), np.float32)
    with pytest.raises(ValueError, match=r"H must be \(8, 8\)"):
        gptq_proxy_loss(W, W, np.eye(4))
    with pytest.raises(ValueError, match="same shape"):
        gptq_proxy_loss(W, W[:, :4], np.eye(8))
    codes, params = gptq_quantize(W, np.eye(8), bits=4, group_size=4)
    with pytest.raises(TypeError, match="GPTQParams"):
        gptq_dequantize(codes, object())
    with pytest.raises(TypeError, match="integers"):
        gptq_dequantize(codes.astype(np.float32), params)
    with pytest.raises(ValueError, match="shape"):
        gptq_dequantize(codes[:1], params)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"symmetric": "yes"}, TypeError, "symmetric must be True or False"),
        ({"act_order": 1}, TypeError, "act_order must be True or False"),
        ({"damp": True}, ValueError, "damp"),
        ({"block_size": 0}, ValueError, "block_size"),
        ({"bits": 4.0}, TypeError, "bits"),
        ({"group_size": 256}, ValueError, "multiple of group_size"),
        # positive semi-definite but singular, and damping switched off: no Cholesky factor
        ({"H": np.ones((128, 128)), "damp": 0.0}, ValueError, "not positive definite"),
    ],
)
def test_more_clear_errors(kwargs, error, message):
    args = {"W": np.ones((2, 128), np.float32), "H": np.eye(128)} | kwargs
    with pytest.raises(error, match=message):
        gptq_quantize(**args)


def test_factor_cache_is_keyed_on_the_contents_of_H():
    """gptq_quantize remembers the factors of recent H: same H, same answer; changed H, new answer; bounded."""
    from qlab import gptq

    rng = np.random.default_rng(11)
    X = rng.standard_normal((300, 64)) @ rng.standard_normal((64, 64))
    H = gptq_hessian(X)
    W = rng.standard_normal((16, 64)).astype(np.float32)
    gptq._FACTORS.clear()
    first, _ = gptq_quantize(W, H, bits=3, group_size=32)
    assert len(gptq._FACTORS) == 1
    again, _ = gptq_quantize(W, H, bits=3, group_size=32)
    assert np.array_equal(first, again) and len(gptq._FACTORS) == 1
    H[0, 0] *= 4.0  # the same array object, new contents: must not reuse the old factor
    changed, _ = gptq_quantize(W, H, bits=3, group_size=32)
    gptq._FACTORS.clear()
    fresh, _ = gptq_quantize(W, H, bits=3, group_size=32)
    assert np.array_equal(changed, fresh) and len(gptq._FACTORS) == 1
    limit = gptq._FACTOR_CACHE_BYTES
    try:  # bounded by bytes: with room for three 64 x 64 factors, at most three are kept
        gptq._FACTOR_CACHE_BYTES = 3 * 64 * 64 * 8
        for _ in range(6):
            gptq_quantize(W, gptq_hessian(rng.standard_normal((300, 64))), bits=4, group_size=32)
        assert len(gptq._FACTORS) == 3
    finally:
        gptq._FACTOR_CACHE_BYTES = limit
        gptq._FACTORS.clear()
