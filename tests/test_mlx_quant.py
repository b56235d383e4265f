"""qlab.mlx_quant: MLX's affine quantization rule, bit-exact with mlx where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qlab.mlx_quant import MLX_BITS, MLX_GROUP_SIZES, mlx_dequantize, mlx_quantize, mlx_unpack

try:
    import mlx.core as mx
except ImportError:  # MLX is optional; its parity tests skip cleanly without it
    mx = None

needs_mlx = pytest.mark.skipif(mx is None, reason="mlx is not installed (pip install mlx mlx-cpu)")


def _weights(kind: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = {
        "normal": lambda: rng.normal(0, 0.05, (8, 256)),
        "heavy_tailed": lambda: rng.standard_t(2, (8, 256)),
        "positive": lambda: np.abs(rng.normal(0, 1, (8, 256))) + 0.5,
        "constant": lambda: np.full((8, 256), -0.75),
        "zeros": lambda: np.zeros((8, 256)),
    }[kind]()
    return x.astype(np.float32)


@needs_mlx
@pytest.mark.parametrize("bits", MLX_BITS)
@pytest.mark.parametrize("group_size", MLX_GROUP_SIZES)
@pytest.mark.parametrize("kind", ["normal", "heavy_tailed", "positive", "constant", "zeros"])
def test_equal_to_mlx(kind, group_size, bits):
    w = _weights(kind)
    codes, scales, biases = mlx_quantize(w, group_size, bits)
    ref = mx.quantize(mx.array(w), group_size=group_size, bits=bits)
    assert np.array_equal(codes, np.array(ref[0]))
    assert np.array_equal(scales, np.array(ref[1]))
    assert np.array_equal(biases, np.array(ref[2]))
    ours = mlx_dequantize(codes, scales, biases, group_size, bits)
    assert np.array_equal(ours, np.array(mx.dequantize(*ref, group_size=group_size, bits=bits)))


@needs_mlx
def test_equal_to_mlx_on_real_minilm_weights():
    from qlab.models.loading import load_minilm

    model = load_minilm().model
    weights = [m.weight.detach().numpy() for m in model.modules() if type(m).__name__ == "Linear"][:12]
    for w in weights:
        codes, scales, biases = mlx_quantize(w, 64, 4)
        ref = mx.quantize(mx.array(w), group_size=64, bits=4)
        assert np.array_equal(codes, np.array(ref[0])) and np.array_equal(scales, np.array(ref[1]))
        assert np.array_equal(biases, np.array(ref[2]))


def test_the_snapping_rule_by_hand():
    # min -1, max 3: the edge is max (larger magnitude), s = -4/15, q0 = rint(3 / s) = -11,
    # so s becomes 3 / -11 and the bias is exactly 3.0; code 0 stands for 3.0.
    w = np.linspace(-1, 3, 64, dtype=np.float32).reshape(1, 64)
    codes, scales, biases = mlx_quantize(w, 64, 4)
    assert biases[0, 0] == np.float32(3.0)
    assert scales[0, 0] == np.float32(3.0) / np.float32(-11.0)
    q = mlx_unpack(codes, 4)
    assert q[0, -1] == 0 and q.max() <= 15
    hat = mlx_dequantize(codes, scales, biases, 64, 4)
    assert hat[0, -1] == np.float32(3.0)  # the edge is exact
    assert np.max(np.abs(hat - w)) <= abs(scales[0, 0]) / 2 * (1 + 1e-6) + 1e-6 or q.max() == 15


@settings(max_examples=50, deadline=None)
@given(
    w=hnp.arrays(np.float32, (2, 64), elements=st.floats(-100, 100, width=32)),
    bits=st.sampled_from(MLX_BITS),
)
def test_round_trip_codes_and_exact_constants(w, bits):
    codes, scales, biases = mlx_quantize(w, 32, bits)
    q = mlx_unpack(codes, bits)
    assert q.shape == w.shape and q.max() <= 2**bits - 1
    hat = mlx_dequantize(codes, scales, biases, 32, bits)
    assert hat.shape == w.shape and np.all(np.isfinite(hat))
    groups = w.reshape(2, 2, 32)
    # a constant group comes back exactly, unless |c| < 0.5e-7 (MLX's scale floor 1e-7 rounds it to 0)
    constant = np.all(groups == groups[..., :1], axis=-1) & (np.abs(groups[..., 0]) >= 1e-6)
    assert np.array_equal(hat.reshape(2, 2, 32)[constant], groups[constant])


def test_packing_is_a_little_endian_bit_stream():
    codes = np.arange(16, dtype=np.uint32).reshape(1, 16) % 8  # 3-bit codes 0..7 twice: 48 bits
    from qlab.mlx_quant import _pack

    words = _pack(np.concatenate([codes, codes[:, :16]], axis=1), 3)  # 32 codes x 3 bits = 3 words
    assert words.shape == (1, 3)
    assert int(words[0, 0]) & 0b111 == 0 and (int(words[0, 0]) >> 3) & 0b111 == 1
    assert np.array_equal(mlx_unpack(words, 3)[0, :16], codes[0])


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    w = torch.from_numpy(_weights("normal"))
    codes, scales, biases = mlx_quantize(w, 64, 4)
    assert isinstance(codes, torch.Tensor) and isinstance(scales, torch.Tensor)
    assert isinstance(mlx_dequantize(codes, scales, biases), torch.Tensor)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: mlx_quantize(np.ones((2, 64), np.float32), 64, 7), ValueError, "not 7"),
        (lambda: mlx_quantize(np.ones((2, 64), np.float32), 48, 4), ValueError, "not 48"),
        (lambda: mlx_quantize(np.ones((2, 60), np.float32), 32, 4), ValueError, "multiple of"),
        (lambda: mlx_quantize(np.full((2, 64), np.nan, np.float32), 64, 4), ValueError, "NaN"),
        (lambda: mlx_unpack(np.ones(4, np.int32)), TypeError, "uint32"),
        (
            lambda: mlx_dequantize(np.zeros((2, 8), np.uint32), np.ones((2, 2)), np.ones((2, 1)), 32),
            ValueError,
            "do not fit",
        ),
    ],
)
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
