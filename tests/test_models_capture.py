"""qlab.models.capture: the real inputs of chosen Linear layers, padding removed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qlab.models.capture import capture_inputs, linear_names


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.up = nn.Linear(4, 8)
        self.down = nn.Linear(8, 4)

    def forward(self, input_ids, attention_mask=None):
        return self.down(torch.relu(self.up(self.embed(input_ids))))


def test_captures_exact_inputs_without_padding():
    torch.manual_seed(0)
    model = _Tiny()
    ids = torch.tensor([[1, 2, 3], [4, 5, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    got = capture_inputs(model, {"input_ids": ids, "attention_mask": mask})
    assert linear_names(model) == ["up", "down"] and set(got) == {"up", "down"}
    assert got["up"].shape == (5, 4) and got["down"].shape == (5, 8)
    expected = model.embed(ids).reshape(-1, 4)[mask.reshape(-1).bool()]
    assert torch.equal(got["up"], expected.detach())
    assert torch.equal(got["down"], torch.relu(model.up(expected)).detach())
    assert not model.up._forward_pre_hooks  # hooks removed


def test_layer_selection_and_max_tokens():
    model = _Tiny()
    batches = [{"input_ids": torch.tensor([[1, 2, 3]])}, {"input_ids": torch.tensor([[4, 5, 6]])}]
    assert list(capture_inputs(model, batches, "^d")) == ["down"]
    assert list(capture_inputs(model, batches, lambda n: n == "up")) == ["up"]
    assert capture_inputs(model, batches, ["up"], max_tokens=4)["up"].shape == (4, 4)
    with pytest.raises(ValueError, match="no Linear layer name matches"):
        capture_inputs(model, batches, "attn")
    with pytest.raises(ValueError, match="not Linear layers"):
        capture_inputs(model, batches, ["embed"])


@pytest.mark.slow
def test_minilm_ffn_inputs_show_the_outlier_dims():
    from qlab.models.loading import load_minilm
    from qlab.models.text import load_sentences

    minilm = load_minilm()
    batch = minilm.tokenizer(load_sentences(64), padding=True, return_tensors="pt")
    got = capture_inputs(minilm.model, batch, r"layer\.3\.intermediate\.dense")
    x = next(iter(got.values()))
    assert x.shape[1] == 384 and x.shape[0] == int(batch["attention_mask"].sum())
    share = (x.abs() >= 6).float().mean(0)
    assert share.argmax().item() == 223 and share[223] > 0.3  # dim 223: the LLM.int8() outlier of MiniLM


def test_stop_early_gives_the_same_inputs_without_running_the_rest():
    torch.manual_seed(0)
    model = _Tiny()
    batches = [{"input_ids": torch.tensor([[1, 2, 3]])}, {"input_ids": torch.tensor([[4, 5, 6]])}]
    calls = []
    model.down.register_forward_hook(lambda m, a, out: calls.append("down"))
    early = capture_inputs(model, batches, ["up"], stop_early=True)
    assert calls == []  # the forward pass stopped before `down` ran, in both batches
    full = capture_inputs(model, batches, ["up"])
    assert calls == ["down", "down"] and torch.equal(early["up"], full["up"]) and early["up"].shape == (6, 4)
    both = capture_inputs(model, batches, stop_early=True)  # the last layer: nothing left to skip
    assert torch.equal(both["down"], capture_inputs(model, batches)["down"])
    with pytest.raises(TypeError, match="stop_early must be True or False"):
        capture_inputs(model, batches, stop_early="yes")
