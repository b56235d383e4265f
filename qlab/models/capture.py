"""Capture the real inputs of chosen Linear layers: the activations that calibration methods need.

LLM.int8() (lesson 05) is about what the *activations* look like; GPTQ and AWQ
(lesson 08) calibrate on them. :func:`capture_inputs` registers a forward
pre-hook on each chosen ``nn.Linear`` (PyTorch calls it with the layer's input
just before the layer runs), runs the model on real text and returns the
inputs themselves, one ``(tokens, in_features)`` float32 tensor per layer, with
padding positions removed. :func:`qlab.models.find_outlier_features` keeps only
statistics; this keeps the tensors, so mind the memory: MiniLM's FFN input on
128 sentences of ~30 tokens is about 6 MB per layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from qlab.models.precision import at_least_float32

__all__ = ["capture_inputs", "linear_names"]


def linear_names(model: nn.Module) -> list[str]:
    """The names of every ``nn.Linear`` in ``model``, in module order (what :func:`capture_inputs` can pick)."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def _chosen(model: nn.Module, which: str | Sequence[str] | Callable[[str], bool] | None) -> list[str]:
    names = linear_names(model)
    if which is None:
        return names
    if callable(which):
        return [n for n in names if which(n)]
    if isinstance(which, str):  # a regular expression
        pattern = re.compile(which)
        picked = [n for n in names if pattern.search(n)]
        if not picked:
            raise ValueError(f"capture_inputs: no Linear layer name matches {which!r}; e.g. {names[:3]}")
        return picked
    unknown = [n for n in which if n not in names]
    if unknown:
        raise ValueError(f"capture_inputs: not Linear layers of this model: {unknown}; e.g. {names[:3]}")
    return list(which)


class _EnoughInputs(Exception):
    """Raised inside a hook to leave a forward pass early (``stop_early=True``)."""


@torch.no_grad()
def capture_inputs(
    model: nn.Module,
    batches: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    layers: str | Sequence[str] | Callable[[str], bool] | None = None,
    *,
    max_tokens: int | None = None,
    stop_early: bool = False,
) -> dict[str, torch.Tensor]:
    """Run ``model(**batch)`` on each batch and return the inputs of the chosen Linear layers.

    ``batches``: one tokenizer output or an iterable of them (``input_ids`` and an
    optional ``attention_mask``, whose padding positions are dropped).
    ``layers``: ``None`` (every Linear), a list of names, a regular expression
    (e.g. ``r"layers\\.\\d+\\.self_attn\\.q_proj"``) or a predicate on the name.
    ``max_tokens`` keeps at most that many tokens per layer (the first ones).
    ``stop_early=True`` abandons each forward pass as soon as every chosen layer has
    received its input, so capturing the first two decoder layers of a 30-layer model
    costs two layers, not thirty. Only for models that call each chosen Linear once
    per forward pass (true of the transformers models in this course).
    Returns ``{name: tensor of shape (tokens, in_features)}``, float32 (float64 for a model
    inside :func:`qlab.models.in_float64`), on the CPU.
    """
    if not isinstance(stop_early, bool):
        raise TypeError(f"capture_inputs: stop_early must be True or False, got {stop_early!r}")
    names = _chosen(model, layers)
    modules = dict(model.named_modules())
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    mask_now: list[torch.Tensor | None] = [None]
    seen: set[str] = set()  # chosen layers already called in this forward pass

    def hook(name: str, module: nn.Linear, args: tuple[Any, ...]) -> None:
        x = at_least_float32(args[0].detach().reshape(-1, module.in_features)).cpu()
        mask = mask_now[0]
        if mask is not None and mask.numel() == x.shape[0]:
            x = x[mask]
        captured[name].append(x)
        seen.add(name)
        if stop_early and len(seen) == len(names):
            raise _EnoughInputs

    handles = [
        modules[name].register_forward_pre_hook(lambda m, a, name=name: hook(name, m, a)) for name in names
    ]
    if isinstance(batches, Mapping):
        batches = [batches]
    try:
        for batch in batches:
            mask = batch.get("attention_mask")
            mask_now[0] = None if mask is None else mask.reshape(-1).bool().cpu()
            seen.clear()
            try:
                model(**batch)
            except _EnoughInputs:
                pass  # every chosen layer has its input: the rest of the forward pass is not needed
            if max_tokens is not None and all(
                sum(len(t) for t in v) >= max_tokens for v in captured.values()
            ):
                break
    finally:
        for handle in handles:
            handle.remove()
    out = {}
    for name, parts in captured.items():
        if not parts:
            raise ValueError(f"capture_inputs: layer {name!r} was never called by the model's forward")
        x = torch.cat(parts)
        out[name] = x[:max_tokens] if max_tokens is not None else x
    return out
