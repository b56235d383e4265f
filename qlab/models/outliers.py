"""Emergent outlier features: which hidden dimensions carry huge activations, and where.

Dettmers et al. 2022 ("LLM.int8()", arXiv:2208.07339, §4) found that large
transformers have a few *feature dimensions* of the hidden state whose
magnitudes are far above the rest, systematically. Their criterion for an
outlier feature: magnitude **|x| >= 6**, in the input of the same dimension in
**>= 25% of the transformer layers**, on **>= 6% of the sequence positions**.
One such column forces a huge per-row int8 scale and wipes out the precision of
every other value in the row; LLM.int8() keeps those columns in 16-bit.

:func:`find_outlier_features` registers forward hooks on every ``nn.Linear``,
runs the model on real text and records, per input dimension, the largest
|x| and the share of positions where |x| >= threshold. Inputs of the same width
(e.g. 384 for MiniLM's q/k/v and FFN-up inputs, which all read the
normalised residual stream) are compared across layers; a dimension counts for
a layer when any Linear of that layer sees it cross the threshold on enough
positions. Padding positions are excluded, and so are Linears outside the
numbered transformer layers (a BERT pooler, an output head).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|blocks|block)\.(\d+)(?:\.|$)")


@dataclass
class ModuleStats:
    """Per input dimension of one Linear: largest |x| and count of positions with |x| >= threshold."""

    name: str
    layer: int | None  # None: not inside a numbered transformer layer (e.g. a pooler); not counted
    max_abs: torch.Tensor  # (in_features,)
    over: torch.Tensor  # (in_features,) int64
    positions: int = 0


@dataclass
class OutlierFeature:
    width: int  # input width the dimension lives in (hidden size, FFN size, ...)
    dim: int
    max_abs: float  # largest |x| seen in this dimension, any layer
    position_share: float  # largest share of positions with |x| >= threshold, over the layers that count
    layer_share: float  # share of layers (with inputs of this width) where it qualifies
    layers: list[int] = field(default_factory=list)


@dataclass
class OutlierReport:
    threshold: float
    min_layer_share: float
    min_position_share: float
    n_layers: dict[int, int]  # width -> number of transformer layers with inputs of that width
    features: list[OutlierFeature]
    modules: list[ModuleStats]

    def table(self) -> str:
        """The outlier features as a small text table."""
        lines = [f"{'width':>6} {'dim':>5} {'max|x|':>9} {'positions':>9} {'layers':>7}  which layers"]
        for f in self.features:
            lines.append(
                f"{f.width:>6} {f.dim:>5} {f.max_abs:>9.1f} {f.position_share:>9.1%} {f.layer_share:>7.0%}  {f.layers}"
            )
        return "\n".join(lines)


def _layer_of(name: str) -> int | None:
    """Transformer layer number in a module name ("encoder.layer.3.output.dense" -> 3), else None."""
    match = _LAYER_INDEX.search(name)
    return int(match.group(1)) if match else None


@torch.no_grad()
def find_outlier_features(
    model: nn.Module,
    batches: Iterable[Mapping[str, Any]],
    *,
    threshold: float = 6.0,
    min_layer_share: float = 0.25,
    min_position_share: float = 0.06,
    skip: Iterable[str] = ("lm_head",),
) -> OutlierReport:
    """Run ``model(**batch)`` for each batch and report the outlier feature dimensions.

    ``batches`` are tokenizer outputs (``input_ids``, optional ``attention_mask``).
    Defaults are the paper's criterion (|x| >= 6, >= 25% of layers, >= 6% of positions).
    """
    patterns = [re.compile(p) for p in skip]
    stats: dict[str, ModuleStats] = {}
    current_mask: list[torch.Tensor | None] = [None]
    handles = []

    def hook(name: str, module: nn.Linear, args: tuple[Any, ...]) -> None:
        x = args[0].detach().reshape(-1, module.in_features).float()
        mask = current_mask[0]
        if mask is not None and mask.numel() == x.shape[0]:
            x = x[mask]
        s = stats[name]
        a = x.abs()
        s.max_abs = torch.maximum(s.max_abs, a.amax(dim=0))
        s.over += (a >= threshold).sum(dim=0)
        s.positions += x.shape[0]

    linears = [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and not any(p.search(n) for p in patterns)
    ]
    for name, module in linears:
        stats[name] = ModuleStats(
            name,
            _layer_of(name),
            torch.zeros(module.in_features),
            torch.zeros(module.in_features, dtype=torch.long),
        )
        handles.append(module.register_forward_pre_hook(lambda m, a, name=name: hook(name, m, a)))
    try:
        for batch in batches:
            mask = batch.get("attention_mask")
            current_mask[0] = None if mask is None else mask.reshape(-1).bool()
            model(**batch)
    finally:
        for h in handles:
            h.remove()

    # width -> layer -> dims that qualify in that layer (and their position share)
    layers_by_width: dict[int, set[int]] = {}
    qualifies: dict[tuple[int, int], dict[int, float]] = {}
    max_abs: dict[tuple[int, int], float] = {}
    for s in stats.values():
        width = s.max_abs.numel()
        if s.layer is None:
            continue
        layers_by_width.setdefault(width, set()).add(s.layer)
        if s.positions == 0:
            continue
        share = s.over.double() / s.positions
        for dim in torch.nonzero(share >= min_position_share).flatten().tolist():
            per_layer = qualifies.setdefault((width, dim), {})
            per_layer[s.layer] = max(per_layer.get(s.layer, 0.0), share[dim].item())
        for dim in torch.nonzero(s.max_abs >= threshold).flatten().tolist():
            max_abs[(width, dim)] = max(max_abs.get((width, dim), 0.0), s.max_abs[dim].item())

    features = []
    for (width, dim), per_layer in qualifies.items():
        layer_share = len(per_layer) / len(layers_by_width[width])
        if layer_share >= min_layer_share:
            features.append(
                OutlierFeature(
                    width, dim, max_abs[(width, dim)], max(per_layer.values()), layer_share, sorted(per_layer)
                )
            )
    features.sort(key=lambda f: (-f.layer_share, -f.max_abs))
    return OutlierReport(
        threshold,
        min_layer_share,
        min_position_share,
        {w: len(ls) for w, ls in layers_by_width.items()},
        features,
        list(stats.values()),
    )
