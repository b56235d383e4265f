"""Outlier-feature detection with the LLM.int8() criterion (|x| >= 6, >= 25% of layers, >= 6% of positions)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from qlab.models.outliers import find_outlier_features


class Stack(nn.Module):
    """Five "transformer layers", each one Linear reading the input as given (identity hidden states)."""

    def __init__(self, width: int = 16, n_layers: int = 5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.ModuleDict({"fc": nn.Linear(width, width)}) for _ in range(n_layers))
        self.pooler = nn.Linear(width, width)  # outside the numbered layers: ignored
        self.inputs: list[torch.Tensor] = []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> None:
        for i, layer in enumerate(self.layers):
            layer["fc"](self.inputs[i])
        self.pooler(self.inputs[0] * 100)


def test_paper_criterion_on_synthetic_activations():
    model = Stack()
    n_pos = 100
    xs = [torch.zeros(1, n_pos, 16) for _ in range(5)]
    for x in xs:
        x[0, :50, 2] = 10.0  # dim 2: 50% of positions in every layer -> outlier feature
        x[0, :3, 5] = 20.0  # dim 5: only 3% of positions -> not one
    xs[0][0, :, 7] = 9.0  # dim 7: all positions but only 1 of 5 layers (20% < 25%) -> not one
    xs[1][0, :, 7] = 9.0  # ... 2 of 5 layers = 40% -> an outlier feature after all
    xs[0][0, :, 9] = 5.9  # dim 9: large but below 6 -> not one
    model.inputs = xs
    report = find_outlier_features(model, [{"input_ids": torch.zeros(1, n_pos, dtype=torch.long)}])
    assert report.n_layers == {16: 5}
    dims = {f.dim: f for f in report.features}
    assert sorted(dims) == [2, 7]
    assert dims[2].layer_share == 1.0 and dims[2].position_share == 0.5 and dims[2].max_abs == 10.0
    assert dims[7].layers == [0, 1] and dims[7].layer_share == 0.4
    assert "width" in report.table() and len(report.table().splitlines()) == 3


def test_padding_positions_are_ignored():
    model = Stack(n_layers=4)
    x = torch.zeros(2, 10, 16)
    x[1, 5:, 4] = 50.0  # huge, but only on padding
    model.inputs = [x] * 4
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[1, 5:] = 0
    report = find_outlier_features(
        model, [{"input_ids": torch.zeros(2, 10, dtype=torch.long), "attention_mask": mask}]
    )
    assert report.features == []
    assert all(m.positions == 15 for m in report.modules if m.layer is not None)


@pytest.mark.slow
def test_minilm_has_the_outlier_features_the_paper_describes():
    from qlab.models.loading import load_minilm
    from qlab.models.text import load_sentences

    loaded = load_minilm()
    sentences = load_sentences(64)
    batches = [loaded.tokenizer(sentences[i : i + 32], padding=True, return_tensors="pt") for i in (0, 32)]
    report = find_outlier_features(loaded.model, batches)
    assert report.n_layers == {384: 6, 1536: 6}
    found = {f.dim: f for f in report.features if f.width == 384}
    # measured on the shipped sentences: dim 223 in layers 2-5 on about half the tokens, up to ~15
    assert 223 in found and found[223].layers == [2, 3, 4, 5]
    assert found[223].position_share > 0.4 and 10 < found[223].max_abs < 20
    assert 63 in found
