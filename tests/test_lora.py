"""qlab.lora: LoRA adapters on float and quantized bases; counts, freezing, save/load, merging."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qlab.lora import LoRALinear, add_lora, load_lora, lora_state_dict, merge_lora, trainable_parameters
from qlab.models.quantize import FORMATS, QuantizedLinear


class _Block(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.q_proj = nn.Linear(d, d, bias=False)
        self.up_proj = nn.Linear(d, 2 * d)
        self.down_proj = nn.Linear(2 * d, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x):
        return self.down_proj(torch.relu(self.up_proj(self.norm(x + self.q_proj(x)))))


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(_Block(), _Block())


def test_parameter_counts_and_freezing():
    model = _model()
    n = add_lora(model, r=4, lora_alpha=8, target_modules=["q_proj", "up_proj", "down_proj"])
    per_block = 4 * (32 + 32) + 4 * (32 + 64) + 4 * (64 + 32)
    assert n == 2 * per_block == trainable_parameters(model)
    trainable = {k for k, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_A." in k or ".lora_B." in k for k in trainable)
    assert isinstance(model[0].q_proj, LoRALinear) and model[0].q_proj.scaling == 2.0


def test_rank_8_on_a_576_layer_is_9216_parameters():
    layer = LoRALinear(nn.Linear(576, 576, bias=False), r=8)
    assert sum(p.numel() for p in layer.parameters() if p.requires_grad) == 9216 == 8 * (576 + 576)


def test_b_zero_start_equals_base_and_gradients_reach_only_adapters():
    model, reference = _model(), _model()
    add_lora(model, target_modules=["q_proj", "down_proj"])
    x = torch.randn(5, 32)
    assert torch.equal(model(x), reference(x))
    model(x).pow(2).sum().backward()
    lora = model[0].q_proj
    assert lora.lora_A.weight.grad is not None and lora.lora_B.weight.grad is not None
    assert lora.base.weight.grad is None and model[0].norm.weight.grad is None


def test_forward_formula():
    base = nn.Linear(16, 8)
    layer = LoRALinear(base, r=2, lora_alpha=6)
    nn.init.normal_(layer.lora_B.weight)
    x = torch.randn(3, 16)
    expected = base(x) + 3.0 * (x @ layer.lora_A.weight.T @ layer.lora_B.weight.T)
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.allclose(layer.delta_weight(), 3.0 * layer.lora_B.weight @ layer.lora_A.weight)


def test_save_and_load_only_adapters(tmp_path):
    model = _model()
    add_lora(model, target_modules=["q_proj"])
    for p in model.parameters():
        if p.requires_grad:
            nn.init.normal_(p)
    state = lora_state_dict(model)
    assert set(state) == {
        "0.q_proj.lora_A.weight",
        "0.q_proj.lora_B.weight",
        "1.q_proj.lora_A.weight",
        "1.q_proj.lora_B.weight",
    }
    torch.save(state, tmp_path / "adapters.pt")
    fresh = _model()
    add_lora(fresh, target_modules=["q_proj"])
    load_lora(fresh, torch.load(tmp_path / "adapters.pt"))
    x = torch.randn(4, 32)
    assert torch.equal(fresh(x), model(x))
    with pytest.raises(ValueError, match="missing adapter weights"):
        load_lora(fresh, {})


def test_merge_float_base_is_exact():
    model = _model()
    add_lora(model, target_modules=["q_proj", "up_proj"])
    for p in model.parameters():
        if p.requires_grad:
            nn.init.normal_(p, std=0.1)
    x = torch.randn(6, 32)
    before = model(x)
    errors = merge_lora(model)
    assert set(errors) == {"0.q_proj", "0.up_proj", "1.q_proj", "1.up_proj"} and max(errors.values()) == 0
    assert isinstance(model[0].q_proj, nn.Linear)
    assert torch.allclose(model(x), before, atol=1e-5)


def test_merge_quantized_base_reports_the_requantization_error():
    torch.manual_seed(1)
    linear = nn.Linear(128, 64)
    q = QuantizedLinear(linear, FORMATS["nf4"])
    packed_before = q.codes.clone()
    layer = LoRALinear(q, r=4)
    nn.init.normal_(layer.lora_B.weight, std=0.01)
    model = nn.Sequential(layer)
    with torch.no_grad():
        exact = q.dequantized_weight() + layer.delta_weight()
        delta_norm = float(layer.delta_weight().norm())
    assert torch.equal(q.codes, packed_before)  # the base's 4-bit codes never change
    errors = merge_lora(model)
    merged = model[0]
    assert isinstance(merged, QuantizedLinear) and merged.fmt.name == "nf4"
    measured = float((merged.dequantized_weight() - exact).norm()) / delta_norm
    assert errors["0"] == pytest.approx(measured, rel=1e-6) and measured > 0.1  # NF4 rounds the update too


def test_errors():
    with pytest.raises(ValueError, match="rank r"):
        LoRALinear(nn.Linear(4, 4), r=0)
    with pytest.raises(ValueError, match="larger than the layer"):
        LoRALinear(nn.Linear(4, 4), r=8)
    with pytest.raises(TypeError, match="Linear-like"):
        LoRALinear(nn.ReLU())
    with pytest.raises(ValueError, match="no module name ends with"):
        add_lora(_model(), target_modules=["nope"])
