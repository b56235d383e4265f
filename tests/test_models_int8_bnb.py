"""LLMInt8Linear(compute_dtype=torch.float16) equals bitsandbytes' Linear8bitLt (eval mode) bit for bit.

On real layers whose inputs carry LLM.int8() outlier features: MiniLM's FFN
input (dims 223 and 63 exceed 6) and SmolLM2's q/k/v input (dim 247). Also
pins what bitsandbytes does in *training* mode on CPU: no decomposition at all.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import qlab
from qlab.models.quantize import LLMInt8Linear

bnb = pytest.importorskip("bitsandbytes")  # conftest silenced its logger before this import


def _bnb_int8(lin: nn.Linear, threshold: float) -> nn.Module:
    ref = bnb.nn.Linear8bitLt(
        lin.in_features,
        lin.out_features,
        bias=lin.bias is not None,
        has_fp16_weights=False,
        threshold=threshold,
    )
    ref.weight = bnb.nn.Int8Params(lin.weight.data.clone(), requires_grad=False, has_fp16_weights=False)
    if lin.bias is not None:
        ref.bias = nn.Parameter(lin.bias.data.clone())
    return ref.to("cpu")  # .to() quantizes the Int8Params (W.half() -> int8 codes + row stats)


@pytest.fixture(scope="module")
def minilm_cases():
    from qlab.models import capture_inputs
    from qlab.models.loading import load_minilm
    from qlab.models.text import load_sentences

    m = load_minilm()
    name = "encoder.layer.3.intermediate.dense"
    batch = m.tokenizer(load_sentences(16), padding=True, return_tensors="pt")
    x = capture_inputs(m.model, batch, [name])[name]
    return [(name, m.model.get_submodule(name), x)]


@pytest.fixture(scope="module")
def smollm2_cases():
    from qlab.models import capture_inputs
    from qlab.models.loading import load_smollm2
    from qlab.models.text import load_text

    m = load_smollm2(verbose=False)
    names = [f"model.layers.{i}.self_attn.{p}_proj" for i in (12, 20) for p in ("q", "k", "v")]
    ids = m.tokenizer(load_text()[:2000], return_tensors="pt")["input_ids"][:, :48]
    xs = capture_inputs(m.model, {"input_ids": ids}, names)
    return [(n, m.model.get_submodule(n), xs[n]) for n in names]


def _check(cases, threshold, expect_outliers):
    saw_outliers = False
    for name, lin, x in cases:
        ref = _bnb_int8(lin, threshold).eval()
        ours = LLMInt8Linear(lin, threshold=threshold, compute_dtype=torch.float16).eval()
        # the stored weight is the same: qlab's codes of W.half() are bitsandbytes' codes
        assert torch.equal(ours.weight_codes, ref.weight.data), name
        assert torch.equal(ours.weight_stats, ref.weight.SCB), name
        with torch.no_grad():
            y_ref, y = ref(x), ours(x)
        assert y.dtype == y_ref.dtype == torch.float32
        assert torch.equal(y, y_ref), (name, threshold, (y - y_ref).abs().max().item())
        if threshold > 0 and ours.last_outlier_columns is not None:
            saw_outliers = True
    assert saw_outliers == expect_outliers


def test_qlab_vectorwise_quant_equals_bnb_on_float16_values(bnb_F, minilm_cases):
    _, lin, x = minilm_cases[0]
    for t in (lin.weight.detach(), x):
        for threshold in (0.0, 6.0):
            codes, stats, cols = bnb_F.int8_vectorwise_quant(t.half(), threshold=threshold)
            ours, our_stats, our_cols = qlab.int8_vectorwise_quant(t.half().float(), threshold=threshold)
            assert torch.equal(ours, codes) and torch.equal(our_stats, stats)
            assert (cols is None) == (our_cols is None)
            if cols is not None:
                assert torch.equal(cols, our_cols)


@pytest.mark.parametrize("threshold", [0.0, 6.0])
def test_minilm_ffn_bit_for_bit(minilm_cases, threshold):
    _, _, x = minilm_cases[0]
    cols = qlab.find_outlier_columns(x, 6.0).tolist()
    assert 223 in cols and 63 in cols  # the layer really has LLM.int8() outliers
    _check(minilm_cases, threshold, expect_outliers=threshold > 0)


@pytest.mark.parametrize("threshold", [0.0, 6.0])
def test_smollm2_qkv_bit_for_bit(smollm2_cases, threshold):
    x = smollm2_cases[0][2]
    assert 247 in qlab.find_outlier_columns(x, 6.0).tolist()
    _check(smollm2_cases, threshold, expect_outliers=threshold > 0)


def test_float32_default_is_the_teaching_path(minilm_cases):
    _, lin, x = minilm_cases[0]
    layer = LLMInt8Linear(lin, threshold=6.0)
    assert layer.compute_dtype is None
    with torch.no_grad():
        y = layer(x)
    codes, stats, _ = qlab.int8_vectorwise_quant(lin.weight.detach())
    assert torch.equal(y, qlab.llm_int8_linear(x, codes, stats, threshold=6.0) + lin.bias)


def test_bnb_training_mode_on_cpu_does_no_decomposition(minilm_cases):
    """In train mode bitsandbytes dequantizes the int8 weight and multiplies in float: threshold has no effect."""
    _, lin, x = minilm_cases[0]
    outs = []
    for threshold in (0.0, 6.0):
        ref = _bnb_int8(lin, threshold).train()
        W_deq = bnb.functional.int8_vectorwise_dequant(ref.weight.data.clone(), ref.weight.SCB.clone())
        xg = x.clone().requires_grad_(True)
        outs.append(ref(xg))
        outs[-1].sum().backward()  # the backward runs too
        assert torch.allclose(outs[-1], x @ W_deq.to(x.dtype).T + lin.bias, rtol=0, atol=1e-4)
    assert torch.equal(outs[0], outs[1])
    # whereas in eval mode the threshold changes the output
    with torch.no_grad():
        e0, e6 = (_bnb_int8(lin, t).eval()(x) for t in (0.0, 6.0))
    assert not torch.equal(e0, e6)


def test_compute_dtype_is_checked():
    with pytest.raises(ValueError, match="compute_dtype"):
        LLMInt8Linear(nn.Linear(8, 4), compute_dtype=torch.bfloat16)
