"""qlab.microscaling: MXFP4 bit-exact with gguf.quants; NVFP4 blocks that gguf decodes to the same values."""

from __future__ import annotations

import numpy as np
import pytest

from qlab.microscaling import mxfp4_dequantize, mxfp4_quantize, nvfp4_dequantize, nvfp4_quantize

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import quants  # noqa: E402

E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def _data(kind, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "normal": lambda: rng.normal(0, 0.02, (8, 256)),
        "heavy_tailed": lambda: rng.standard_t(2, (8, 256)),
        "all_zero": lambda: np.zeros((4, 256)),
        "constant": lambda: np.full((4, 256), -0.75),
        "ties": lambda: np.round(rng.normal(0, 8, (8, 256))) / 4,
        "tiny": lambda: rng.normal(0, 1, (4, 256)) * 1e-20,
    }[kind]().astype(np.float32)


KINDS = ("normal", "heavy_tailed", "all_zero", "constant", "ties", "tiny")


@pytest.mark.parametrize("kind", KINDS)
def test_mxfp4_equals_gguf(kind):
    x = _data(kind)
    ours = mxfp4_quantize(x)
    assert np.array_equal(ours, quants.quantize(x, T.MXFP4))
    assert np.array_equal(mxfp4_dequantize(ours), quants.dequantize(ours, T.MXFP4))


@pytest.mark.parametrize("kind", KINDS)
def test_nvfp4_blocks_decode_in_gguf(kind):
    x = _data(kind)
    data = nvfp4_quantize(x)
    assert data.shape == (x.shape[0], x.shape[1] // 64 * 36)
    values = nvfp4_dequantize(data)
    assert np.array_equal(values, quants.dequantize(data, T.NVFP4))
    # the largest magnitude of each sub-block is within E4M3's rounding (1/16) of max|x| -- for values
    # near 1; weights of size 0.02 put max|x| / 6 among E4M3's subnormals (GGUF's NVFP4 has no tensor scale)
    if kind == "heavy_tailed":
        sub = x.reshape(-1, 16)
        got = values.reshape(-1, 16)
        assert np.all(np.abs(np.abs(got).max(1) - np.abs(sub).max(1)) <= 0.07 * np.abs(sub).max(1) + 1e-12)


def test_values_are_scaled_e2m1_and_nvfp4_beats_mxfp4():
    x = _data("normal", seed=1)
    mx = mxfp4_dequantize(mxfp4_quantize(x)).reshape(-1, 32)
    scale = np.abs(mx).max(1, keepdims=True) / 6
    # MXFP4's scale is a power of two: each value / 2**k is an E2M1 value for the block's k
    e = mxfp4_quantize(x).reshape(-1, 17)[:, 0].astype(np.int32) - 127
    ratio = np.abs(mx) / np.exp2(e)[:, None]
    assert np.all(np.isin(np.round(ratio, 6), E2M1))
    sqnr = lambda y: 10 * np.log10(np.sum(x**2) / np.sum((x - y.reshape(x.shape)) ** 2))  # noqa: E731
    assert sqnr(nvfp4_dequantize(nvfp4_quantize(x))) > sqnr(mx) + 0.5  # finer scales, smaller blocks
    assert np.all(scale >= 0)


def test_errors():
    with pytest.raises(ValueError, match="multiple of 32"):
        mxfp4_quantize(np.ones(48, np.float32))
    with pytest.raises(ValueError, match="multiple of 64"):
        nvfp4_quantize(np.ones(32, np.float32))
    with pytest.raises(TypeError, match="uint8"):
        mxfp4_dequantize(np.zeros(17, np.int16))
    with pytest.raises(ValueError, match="NaN"):
        mxfp4_quantize(np.full(32, np.nan, np.float32))
