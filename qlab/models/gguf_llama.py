"""A transformers ``LlamaForCausalLM`` built straight from a llama GGUF file (e.g. SmolLM2's).

``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)`` converts a GGUF
file in several passes over its metadata. The same model comes out of one open
``gguf.GGUFReader`` in a fraction of the time: every tensor is dequantized with
:mod:`qlab.ggml` (byte-exact with the ``gguf`` package), llama.cpp's converter's
row order of ``attn_q``/``attn_k`` is undone (:func:`unpermute`, the inverse of
``permute`` in llama.cpp's ``convert_hf_to_gguf.py``), and the architecture is
built on the ``meta`` device, so no random initialisation runs first.
``tests/test_gguf_llama.py`` checks weights, config and outputs against
``from_pretrained``. :func:`qlab.models.load_smollm2` and lesson 09 use it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from qlab import ggml

__all__ = ["hf_name", "unpermute", "tensor_values", "llama_from_gguf"]

_BLOCK_NAMES = {
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}


def hf_name(gguf_name: str) -> str:
    """The transformers parameter name of a llama GGUF tensor (``blk.3.attn_q.weight`` -> ``model.layers.3...``)."""
    fixed = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
    }
    if gguf_name in fixed:
        return fixed[gguf_name]
    match = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", gguf_name)
    if match is None or match[2] not in _BLOCK_NAMES:
        raise ValueError(f"hf_name: not a llama GGUF tensor name: {gguf_name!r}")
    return f"model.layers.{match[1]}.{_BLOCK_NAMES[match[2]]}.weight"


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo the row order llama.cpp's converter gives ``attn_q``/``attn_k`` (as transformers does)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


def tensor_values(tensor: Any) -> np.ndarray:
    """float32 values of one ``GGUFReader`` tensor, shaped (rows, columns) as PyTorch writes it."""
    kind = tensor.tensor_type.name
    data = np.asarray(tensor.data)
    if kind in ("F32", "F16"):
        return data.astype(np.float32)
    return ggml.dequantize(data, kind)


def llama_from_gguf(reader: Any) -> Any:
    """A ``LlamaForCausalLM`` (fp32, eval mode) holding the weights of a llama GGUF file.

    Same weights, bit for bit, and the same config values as
    ``AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`` (``tests/test_gguf_llama.py``);
    the file is parsed once, by the caller's reader.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    fields = {k: v.contents() for k, v in reader.fields.items() if not k.startswith(("tokenizer.", "GGUF."))}
    arch = fields["general.architecture"]
    if arch != "llama":
        raise ValueError(f"llama_from_gguf: only the llama architecture is supported, got {arch!r}")
    config = LlamaConfig(
        vocab_size=int(fields["llama.vocab_size"]),
        hidden_size=int(fields["llama.embedding_length"]),
        intermediate_size=int(fields["llama.feed_forward_length"]),
        num_hidden_layers=int(fields["llama.block_count"]),
        num_attention_heads=int(fields["llama.attention.head_count"]),
        num_key_value_heads=int(fields["llama.attention.head_count_kv"]),
        rms_norm_eps=float(fields["llama.attention.layer_norm_rms_epsilon"]),
        max_position_embeddings=int(fields["llama.context_length"]),
        rope_parameters={"rope_theta": float(fields["llama.rope.freq_base"]), "rope_type": "default"},
        tie_word_embeddings=all(t.name != "output.weight" for t in reader.tensors),
        dtype="float32",
        **{
            f"{name}_token_id": int(reader.fields[f"tokenizer.ggml.{key}_token_id"].contents())
            for name, key in (("bos", "bos"), ("eos", "eos"), ("pad", "padding"), ("unk", "unknown"))
            if f"tokenizer.ggml.{key}_token_id" in reader.fields
        },
    )
    with torch.device("meta"):  # no random initialisation: every weight comes from the file
        model = LlamaForCausalLM(config)
    state = {}
    for tensor in reader.tensors:
        w = tensor_values(tensor)
        if tensor.name.endswith("attn_q.weight"):
            w = unpermute(w, config.num_attention_heads)
        elif tensor.name.endswith("attn_k.weight"):
            w = unpermute(w, config.num_key_value_heads)
        state[hf_name(tensor.name)] = torch.from_numpy(np.ascontiguousarray(w))
    model.load_state_dict(state, strict=False, assign=True)
    model.tie_weights()
    model.model.rotary_emb.__init__(config)  # its buffers are computed, not stored: rebuild them off "meta"
    return model.eval()
