"""LoRA: train a small low-rank update next to a frozen (possibly quantized) weight.

Low-Rank Adaptation (Hu, Shen, Wallis, Allen-Zhu, Li, Wang, Wang and Chen 2021,
"LoRA: Low-Rank Adaptation of Large Language Models", arXiv:2106.09685) freezes
a pretrained weight ``W`` (out × in) and learns ``ΔW = B A`` with ``A`` (r × in)
and ``B`` (out × r) for a small rank ``r``:

    y = W x + (α / r) · B (A x)

Only ``A`` and ``B`` are trained: ``r · (in + out)`` numbers instead of
``in · out`` (r = 8 on a 576 × 576 layer: 9,216 instead of 331,776). ``B``
starts at zero, so the adapted model starts *exactly* equal to the base model;
``A`` starts random (Kaiming-uniform with ``a = √5``, as PyTorch initialises
Linear layers and as peft initialises ``lora_A``). ``α / r`` keeps the size of
the update comparable when you change ``r``.

QLoRA (Dettmers, Pagnoni, Holtzman and Zettlemoyer 2023, arXiv:2305.14314, §3)
is the same with ``W`` stored in NF4 with double quantization and dequantized
on the fly in every forward: the gradient flows through the frozen quantized
weight into the input and into ``A`` and ``B``, never into the 4-bit codes.
:class:`LoRALinear` wraps any Linear-like layer — an ``nn.Linear`` or one of
qlab's quantized layers (:class:`qlab.models.QuantizedLinear`) — so the same
code does LoRA and QLoRA. The argument names follow peft (``r``,
``lora_alpha``, ``lora_dropout``, ``target_modules``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

import torch
from torch import nn

__all__ = ["LoRALinear", "add_lora", "merge_lora", "lora_state_dict", "load_lora", "trainable_parameters"]


def _features(base: nn.Module) -> tuple[int, int]:
    for attrs in (("in_features", "out_features"),):
        if all(hasattr(base, a) for a in attrs):
            return int(base.in_features), int(base.out_features)
    raise TypeError(
        f"LoRALinear wraps a Linear-like layer with in_features/out_features, got {type(base).__name__}"
    )


class LoRALinear(nn.Module):
    """``base(x) + (lora_alpha / r) · lora_B(lora_A(dropout(x)))``, with ``base`` frozen."""

    def __init__(
        self, base: nn.Module, r: int = 8, lora_alpha: float = 16, lora_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"LoRALinear: the rank r must be an integer >= 1, got {r!r}")
        if not 0 <= lora_dropout < 1:
            raise ValueError(f"LoRALinear: lora_dropout must be in [0, 1), got {lora_dropout!r}")
        in_features, out_features = _features(base)
        if r > min(in_features, out_features):
            raise ValueError(f"LoRALinear: r={r} is larger than the layer ({out_features} x {in_features})")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.in_features, self.out_features = in_features, out_features
        self.r, self.lora_alpha = r, lora_alpha
        self.scaling = lora_alpha / r
        self.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        self.lora_A = nn.Linear(in_features, r, bias=False)
        self.lora_B = nn.Linear(r, out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)  # the adapted layer starts equal to the base
        dtype = getattr(getattr(base, "weight", None), "dtype", torch.float32)
        if dtype.is_floating_point:
            self.lora_A.to(dtype)
            self.lora_B.to(dtype)

    def delta_weight(self) -> torch.Tensor:
        """The learned update ``(α / r) · B A`` (out × in)."""
        return self.scaling * (self.lora_B.weight @ self.lora_A.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.lora_B(self.lora_A(self.lora_dropout(x.to(self.lora_A.weight.dtype))))
        return self.base(x) + self.scaling * update.to(x.dtype)

    def extra_repr(self) -> str:
        return f"r={self.r}, lora_alpha={self.lora_alpha}"


def _matches(name: str, targets: Iterable[str]) -> bool:
    """peft's rule: a module matches a target when its name ends with it (``...self_attn.q_proj``)."""
    return any(name == t or name.endswith("." + t) or re.fullmatch(t, name) for t in targets)


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def trainable_parameters(model: nn.Module) -> int:
    """The number of parameters with ``requires_grad`` (peft's ``print_trainable_parameters``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def add_lora(
    model: nn.Module,
    r: int = 8,
    lora_alpha: float = 16,
    target_modules: Iterable[str] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ),
    lora_dropout: float = 0.0,
) -> int:
    """Wrap every target module of ``model`` in a :class:`LoRALinear`, freeze everything else.

    Targets match module names as in peft (by the end of the name, e.g.
    ``"q_proj"``, or a full regular expression). Returns the number of trainable
    parameters (the adapters). Raises ``ValueError`` when nothing matches.
    """
    targets = list(target_modules)
    for p in model.parameters():
        p.requires_grad_(False)
    names = [
        n for n, m in model.named_modules() if n and _matches(n, targets) and not isinstance(m, LoRALinear)
    ]
    names = [n for n in names if not any(n.startswith(o + ".") for o in names)]  # outermost only
    if not names:
        raise ValueError(f"add_lora: no module name ends with any of {targets}")
    for name in names:
        base = model.get_submodule(name)
        _set_module(model, name, LoRALinear(base, r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout))
    return trainable_parameters(model)


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapters' weights (``...lora_A.weight``, ``...lora_B.weight``): what you save and share."""
    return {
        k: v.detach().clone() for k, v in model.state_dict().items() if ".lora_A." in k or ".lora_B." in k
    }


def load_lora(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load adapters saved with :func:`lora_state_dict` into a model prepared with the same :func:`add_lora`."""
    own = lora_state_dict(model)
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"load_lora: missing adapter weights {missing[:3]}, unexpected {unexpected[:3]}")
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise ValueError(
                f"load_lora: {key} has shape {tuple(value.shape)}, the model {tuple(own[key].shape)}"
            )
    model.load_state_dict(dict(state), strict=False)


@torch.no_grad()
def merge_lora(model: nn.Module) -> dict[str, float]:
    """Fold every adapter into its weight and remove the :class:`LoRALinear` wrappers.

    An ``nn.Linear`` base becomes ``W + (α/r) B A`` (exact up to float rounding).
    A quantized base is dequantized, the update added, and the sum quantized
    again in the same format, which rounds the update too: the returned dict
    gives, per merged module, the relative error ``‖Ŵ_merged − (W + ΔW)‖ / ‖ΔW‖``
    that this re-quantization adds (0 for float bases).
    """
    from qlab.models.quantize import QuantizedLinear

    errors: dict[str, float] = {}
    for name, module in list(model.named_modules()):
        if not isinstance(module, LoRALinear):
            continue
        base, delta = module.base, module.delta_weight().float()
        if isinstance(base, nn.Linear):
            base.weight += delta.to(base.weight.dtype)
            merged, error = base, 0.0
        elif isinstance(base, QuantizedLinear):
            exact = base.dequantized_weight().float() + delta
            linear = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
            linear.weight.copy_(exact)
            if base.bias is not None:
                linear.bias.copy_(base.bias)
            merged = QuantizedLinear(linear, base.fmt, compute_dtype=base.compute_dtype)
            norm = float(delta.norm()) or 1.0
            error = float((merged.dequantized_weight().float() - exact).norm()) / norm
        else:
            raise TypeError(f"merge_lora: cannot merge into a {type(base).__name__} ({name})")
        for p in merged.parameters():
            p.requires_grad_(False)
        _set_module(model, name, merged)
        errors[name] = error
    return errors
