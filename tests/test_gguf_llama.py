"""qlab's GGUF → LlamaForCausalLM builder gives transformers' model: same weights, config values and outputs."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")

from qlab.models.gguf_llama import hf_name, unpermute  # noqa: E402
from qlab.models.loading import load_smollm2  # noqa: E402


def test_qlab_builder_equals_transformers():
    ours = load_smollm2(verbose=False, builder="qlab")
    theirs = load_smollm2(verbose=False)
    a, b = ours.model.state_dict(), theirs.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    skip = {"quantization_config", "_model_name_or_path"}  # transformers' GGUF marker and the file's title
    x, y = ours.model.config.to_dict(), theirs.model.config.to_dict()
    assert {k: x.get(k) for k in x.keys() | y.keys() if k not in skip} == {
        k: y.get(k) for k in x.keys() | y.keys() if k not in skip
    }
    ids = theirs.tokenizer("To be, or not to be, that is the question:", return_tensors="pt")["input_ids"]
    assert ours.tokenizer("To be, or not to be, that is the question:")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        assert torch.equal(ours.model(ids).logits, theirs.model(ids).logits)
    assert not getattr(ours.model, "is_quantized", False)  # a plain model: save_pretrained works


def test_builder_helpers_and_bad_input():
    assert hf_name("blk.3.attn_q.weight") == "model.layers.3.self_attn.q_proj.weight"
    assert hf_name("token_embd.weight") == "model.embed_tokens.weight"
    with pytest.raises(ValueError, match="not a llama GGUF tensor name"):
        hf_name("blk.3.attn_qkv.weight")
    w = torch.arange(24.0).reshape(8, 3).numpy()
    permuted = w.reshape(2, 2, 2, 3).swapaxes(1, 2).reshape(8, 3)  # llama.cpp's converter's permute, n_head=2
    assert (unpermute(permuted, 2) == w).all()
    with pytest.raises(ValueError, match="builder"):
        load_smollm2(verbose=False, builder="llama.cpp")
