"""qlab.models.in_float64: float64 inside the block, the exact float32 model afterwards."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qlab.models import capture_inputs, in_float64
from qlab.models.evaluate import window_nll


class _TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6)
        self.norm = nn.LayerNorm(6)
        self.head = nn.Linear(6, 10)
        self.register_buffer("offset", torch.linspace(-1, 1, 6))
        self.register_buffer("steps", torch.arange(3))  # an integer buffer keeps its dtype

    def forward(self, input_ids):
        return self.head(self.norm(self.embed(input_ids) + self.offset))


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_float64_inside_exact_float32_after():
    torch.manual_seed(0)
    model = _TinyLM()
    before = _state(model)
    ids = torch.tensor([[1, 2, 3, 4]])
    with in_float64(model) as same:
        assert same is model
        assert model.head.weight.dtype == torch.float64 and model.offset.dtype == torch.float64
        assert model.steps.dtype == torch.int64
        logits64 = model(ids)
        assert logits64.dtype == torch.float64
        captured = capture_inputs(model, {"input_ids": ids}, layers=["head"])["head"]
        assert captured.dtype == torch.float64  # not cut back to float32
        nll = window_nll(model, ids)
    after = model.state_dict()
    assert all(after[k].dtype == v.dtype and torch.equal(after[k], v) for k, v in before.items())
    logits32 = model(ids)
    assert logits32.dtype == torch.float32
    assert torch.allclose(logits64, logits32.double(), atol=1e-5)  # the same model, computed more exactly
    assert nll.shape == (1,) and float(nll[0]) > 0


def test_restores_float32_when_the_block_raises():
    model = _TinyLM()
    before = _state(model)
    with pytest.raises(RuntimeError, match="inside"):
        with in_float64(model):
            raise RuntimeError("inside")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert model.head.weight.dtype == torch.float32


def test_rejects_what_it_cannot_restore():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        with in_float64("a model"):
            pass
    half = _TinyLM().to(torch.bfloat16)
    with pytest.raises(TypeError, match="float32 throughout.*bfloat16"):
        with in_float64(half):
            pass
    assert half.head.weight.dtype == torch.bfloat16  # untouched


class _RefusesFloat(_TinyLM):
    """Like transformers' models loaded from GGUF: ``.float()`` raises although the weights are float32."""

    def float(self):
        raise ValueError("`.float()` is not supported for quantized model")


def test_works_on_models_that_refuse_float():
    model = _RefusesFloat()
    before = _state(model)
    with in_float64(model):
        assert model.head.weight.dtype == torch.float64
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_at_least_float32_keeps_float64_only():
    from qlab.models.precision import at_least_float32

    for dtype, expected in (
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float32),
        (torch.float32, torch.float32),
        (torch.float64, torch.float64),
    ):
        assert at_least_float32(torch.ones(2, dtype=dtype)).dtype == expected
