"""The readable 4-bit reference quantizer gives exactly qlab.quantize_4bit's bytes and scales."""

from __future__ import annotations

import numpy as np
import pytest

import qlab
from qlab.fourbit_reference import quantize_4bit_reference
from tests.conftest import make_data


def _fast(x, quant_type, blocksize):
    packed, state = qlab.quantize_4bit(x, quant_type=quant_type, blocksize=blocksize)
    return np.asarray(packed), np.asarray(state.absmax)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("kind", ["normal", "heavy_tailed", "outlier", "all_zero", "tiny", "constant"])
@pytest.mark.parametrize(("shape", "blocksize"), [((4, 64), 64), ((3, 37), 32), ((1001,), 128)])
def test_equals_the_fast_path(quant_type, kind, shape, blocksize):
    x = make_data(kind, shape)
    packed, absmax = quantize_4bit_reference(x, quant_type, blocksize)
    fast_packed, fast_absmax = _fast(x, quant_type, blocksize)
    assert np.array_equal(packed, fast_packed) and np.array_equal(absmax, fast_absmax)


def test_equals_the_fast_path_on_real_weights():
    from qlab.models.loading import load_minilm

    model = load_minilm().model
    for layer in (model.encoder.layer[0].attention.self.query, model.encoder.layer[0].output.dense):
        W = layer.weight.detach().numpy()
        for quant_type in ("nf4", "fp4"):
            packed, absmax = quantize_4bit_reference(W, quant_type, 64)
            fast_packed, fast_absmax = _fast(W, quant_type, 64)
            assert np.array_equal(packed, fast_packed) and np.array_equal(absmax, fast_absmax)
