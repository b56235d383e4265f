"""QuantizedLinear behaves like a real module: buffers, state_dict, torch.save, autograd, compute dtype."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

import qlab
from qlab.lora import add_lora
from qlab.models.quantize import FORMATS, QuantizedLinear, WeightFormat, quantize_model

WEIGHT_ONLY = [name for name, f in FORMATS.items() if f.method not in ("none", "llm_int8")]


def _linear(in_features=128, out_features=96, seed=0, bias=True) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(in_features, out_features, bias=bias)


def _x(*shape, seed=1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _mlp(seed=0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64), nn.GELU(), nn.Linear(64, 32))


@pytest.mark.parametrize("name", WEIGHT_ONLY)
def test_quantized_weight_lives_in_buffers_and_survives_state_dict(name):
    layer = QuantizedLinear(_linear(seed=0), FORMATS[name])
    state = layer.state_dict()
    assert "codes" in state and "bias" in state
    buffers = dict(layer.named_buffers())
    assert set(buffers) <= set(state)  # every buffer is saved
    # everything weight_storage_bytes() counts is saved: the stored bytes equal the buffers' bytes
    assert layer.weight_storage_bytes() == sum(b.numel() * b.element_size() for b in buffers.values())
    fresh = QuantizedLinear(_linear(seed=1), FORMATS[name])  # other weights, same shape
    x = _x(3, 128)
    with torch.no_grad():
        assert not torch.equal(fresh(x), layer(x))
        fresh.load_state_dict(state)
        assert torch.equal(fresh.dequantized_weight(), layer.dequantized_weight())
        assert torch.equal(fresh(x), layer(x))


def test_double_quant_state_is_in_the_state_dict():
    layer = QuantizedLinear(_linear(), FORMATS["nf4-dq"])
    state = layer.state_dict()
    assert state["absmax"].dtype == torch.uint8  # 8-bit codes of the block scales
    assert state["offset"].dtype == torch.float32 and state["offset"].ndim == 0
    assert state["nested_absmax"].dtype == torch.float32
    assert state["codes"].dtype == torch.uint8 and state["codes"].numel() == 128 * 96 // 2


def test_torch_save_and_load_of_a_whole_quantized_model(tmp_path):
    model, _ = quantize_model(_mlp(), "nf4-dq", skip=())
    x = _x(5, 64)
    path = tmp_path / "model.pt"
    torch.save(model, path)
    loaded = torch.load(path, weights_only=False)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    # the state dict alone restores a freshly quantized model of other weights
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    other, _ = quantize_model(_mlp(seed=5), "nf4-dq", skip=())
    other.load_state_dict(torch.load(buffer, weights_only=True))
    with torch.no_grad():
        assert torch.equal(other(x), model(x))


def test_no_gradient_reaches_the_quantized_weight_and_its_bytes_do_not_change():
    model, _ = quantize_model(_mlp(), "nf4-dq", skip=())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n_trainable = add_lora(model, r=4, target_modules=["0", "2", "4"])
    assert n_trainable == 4 * (64 + 128) + 4 * (128 + 64) + 4 * (64 + 32)
    for name, buf in model.named_buffers():
        assert not buf.requires_grad, name
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = _x(8, 64).requires_grad_(True)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    assert x.grad is not None and x.grad.abs().sum() > 0  # the gradient flows through the frozen base
    after = model.state_dict()
    for key, value in before.items():
        layer, rest = key.split(".", 1)  # every Linear got wrapped: "0.codes" -> "0.base.codes"
        assert torch.equal(after[f"{layer}.base.{rest}"], value), key  # bytes, scales, biases unchanged
    assert any(after[k].abs().sum() > 0 for k in after if "lora_B" in k)  # the adapters did train


def test_gradient_to_the_input_equals_the_dequantized_float_layer():
    lin = _linear()
    layer = QuantizedLinear(lin, FORMATS["nf4-dq"])
    W = layer.dequantized_weight()
    x = _x(2, 7, 128).requires_grad_(True)
    y = layer(x)
    grad = _x(2, 7, 96, seed=3)
    y.backward(grad)
    x2 = x.detach().clone().requires_grad_(True)
    (x2 @ W.T + lin.bias).backward(grad)
    assert torch.equal(y, x2 @ W.T + lin.bias)
    assert torch.allclose(x.grad, x2.grad, rtol=0, atol=1e-6)
    assert layer.bias.grad is not None  # the bias is an ordinary parameter (frozen only by add_lora)


def test_backward_keeps_no_float_copy_of_the_weight():
    """Autograd saves nothing of weight size: the weight is dequantized again in backward."""
    layer = QuantizedLinear(_linear(128, 96), FORMATS["nf4"])
    for p in layer.parameters():
        p.requires_grad_(False)
    saved: list[tuple[int, ...]] = []

    def pack(t):
        saved.append(tuple(t.shape))
        return t

    x = _x(4, 128).requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = layer(x)
    assert (96, 128) not in saved and (128, 96) not in saved
    y.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_compute_dtype(dtype):
    lin = _linear()
    layer = QuantizedLinear(lin, FORMATS["nf4-dq"], compute_dtype=dtype)
    assert torch.equal(layer.compute_weight(), layer.dequantized_weight().to(dtype))
    x = _x(3, 128)
    with torch.no_grad():
        y = layer(x)
    assert y.dtype == torch.float32  # cast back to the input's dtype, as bitsandbytes' Linear4bit does
    W = layer.dequantized_weight().to(dtype)
    assert torch.equal(y, (x.to(dtype) @ W.T + lin.bias.to(dtype)).float())
    # a bfloat16 input stays bfloat16
    with torch.no_grad():
        assert layer(x.to(dtype)).dtype == dtype
    with pytest.raises(ValueError, match="compute_dtype"):
        QuantizedLinear(lin, FORMATS["nf4"], compute_dtype=torch.int8)


FOURBIT_CASES = [
    ("nf4", 64, False, (96, 128)),
    ("fp4", 64, False, (96, 128)),
    ("nf4", 64, True, (96, 128)),
    ("nf4", 64, True, (7, 9)),  # 63 values: odd, one partial block
    ("fp4", 128, True, (33, 65)),  # partial last block
    ("nf4", 32, True, (300, 128)),  # 1200 blocks: several (partial) nested blocks of 256
    ("fp4", 4096, False, (5, 1000)),
]


@pytest.mark.parametrize("quant_type,blocksize,dq,shape", FOURBIT_CASES)
def test_torch_native_dequantize_is_bit_identical_to_qlab(quant_type, blocksize, dq, shape):
    fmt = WeightFormat("case", quant_type, bits=4, blocksize=blocksize, double_quant=dq)
    lin = nn.Linear(shape[1], shape[0])
    with torch.no_grad():
        lin.weight.mul_(torch.linspace(0.1, 30, shape[1]))  # block scales of very different sizes
    layer = QuantizedLinear(lin, fmt)
    packed, state = qlab.quantize_4bit(
        lin.weight.detach(), quant_type=quant_type, blocksize=blocksize, compress_statistics=dq
    )
    reference = qlab.dequantize_4bit(packed, state)
    assert torch.equal(layer.codes, packed)
    fast = layer.compute_weight()
    assert fast.dtype == torch.float32 and fast.shape == shape
    assert torch.equal(fast, reference)
    assert torch.equal(layer.compute_weight(torch.bfloat16), reference.to(torch.bfloat16))
