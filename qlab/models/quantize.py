"""Whole-model weight quantization: swap every ``nn.Linear`` for a qlab layer.

Each :class:`QuantizedLinear` stores only the quantized weight (codes plus
scales, as qlab's functions return them) and *dequantizes in forward*::

    y = x @ dequantize(codes, params).T + b

so its output equals a float matmul with the dequantized weight exactly. This is
"fake" or simulated quantization: memory shrinks, but the matmul itself runs in
float32. It isolates the *rounding error* of a format from any kernel detail.
Formats (:data:`FORMATS`):

* INT8 absmax and zero-point, per tensor / per output row (``axis=0``) / in groups
  of 64 (Labonne 2023; granularity in :mod:`qlab.granularity`);
* INT4 absmax in groups of 64 (codes packed two per byte);
* FP4 and NF4 in blocks of 64, NF4 with double quantization (Dettmers et al. 2023,
  "QLoRA", arXiv:2305.14314), through :func:`qlab.quantize_4bit`;
* LLM.int8() (Dettmers et al. 2022, arXiv:2208.07339): :class:`LLMInt8Linear` also
  quantizes *activations* at run time, row by row, and sends outlier columns
  (any |x| >= threshold) through a float matmul.

The embeddings are ``nn.Embedding``, not ``nn.Linear``, so they stay fp32; a tied
``lm_head`` (SmolLM2) is skipped by default for the same reason.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

import qlab

__all__ = [
    "FORMATS",
    "WeightFormat",
    "QuantizedLinear",
    "LLMInt8Linear",
    "QuantizationReport",
    "quantize_model",
    "pack_nibbles",
    "unpack_nibbles",
]


@dataclass(frozen=True)
class WeightFormat:
    """One way to store Linear weights. ``method`` picks the qlab functions used."""

    name: str
    method: str  # "none", "absmax", "zeropoint", "nf4", "fp4", "llm_int8"
    bits: int = 8
    axis: int | None = None  # 0 = one scale per output row of an (out, in) weight
    group_size: int | None = None  # absmax / zero-point groups along the input axis
    blocksize: int = 64  # 4-bit blocks (flattened weight, as bitsandbytes does)
    double_quant: bool = False  # quantize the 4-bit block scales again (QLoRA)
    threshold: float = 6.0  # LLM.int8(): activation magnitude that marks an outlier column

    @property
    def granularity(self) -> str:
        if self.method in ("nf4", "fp4"):
            return f"block {self.blocksize}"
        if self.method == "llm_int8":
            return "row (W), row (X)"
        if self.group_size is not None:
            return f"group {self.group_size}"
        return "tensor" if self.axis is None else "channel"


FORMATS: dict[str, WeightFormat] = {
    f.name: f
    for f in [
        WeightFormat("fp32", "none", bits=32),
        WeightFormat("int8-absmax-tensor", "absmax"),
        WeightFormat("int8-absmax-channel", "absmax", axis=0),
        WeightFormat("int8-absmax-g64", "absmax", group_size=64),
        WeightFormat("int8-zeropoint-tensor", "zeropoint"),
        WeightFormat("int8-zeropoint-channel", "zeropoint", axis=0),
        WeightFormat("int8-zeropoint-g64", "zeropoint", group_size=64),
        WeightFormat("llm-int8", "llm_int8", threshold=6.0),
        WeightFormat("int4-absmax-g64", "absmax", bits=4, group_size=64),
        WeightFormat("fp4", "fp4", bits=4),
        WeightFormat("nf4", "nf4", bits=4),
        WeightFormat("nf4-dq", "nf4", bits=4, double_quant=True),
    ]
}
"""Every format ``qlab compare`` runs, in table order."""


def pack_nibbles(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Signed ``bits``-bit codes (bits <= 4) -> uint8, two per byte, first in the high nibble.

    qlab's quantizers return int8 codes whatever ``bits`` is; a real 4-bit format
    stores two per byte, and we want the footprint to be what would be stored.
    """
    offset = 2 ** (bits - 1)  # [-8, 7] -> [0, 15]
    flat = (codes.reshape(-1).to(torch.int16) + offset).to(torch.uint8)
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    return (flat[0::2] << 4) | flat[1::2]


def unpack_nibbles(packed: torch.Tensor, bits: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`pack_nibbles`: int8 codes of ``shape``."""
    offset = 2 ** (bits - 1)
    pairs = torch.stack([packed >> 4, packed & 0x0F], dim=1).reshape(-1)[: math.prod(shape)]
    return (pairs.to(torch.int16) - offset).to(torch.int8).reshape(shape)


class QuantizedLinear(nn.Module):
    """An ``nn.Linear`` whose weight is stored quantized and dequantized on every forward.

    ``forward(x) == x @ self.dequantized_weight().T + bias`` exactly.
    """

    def __init__(self, linear: nn.Linear, fmt: WeightFormat) -> None:
        super().__init__()
        if fmt.method not in ("absmax", "zeropoint", "nf4", "fp4"):
            raise ValueError(f"QuantizedLinear: format {fmt.name!r} is not a weight-only format")
        self.in_features, self.out_features, self.fmt = linear.in_features, linear.out_features, fmt
        W = linear.weight.detach().float()
        self.shape = tuple(W.shape)
        if fmt.method == "absmax":
            codes, self.params = qlab.absmax_quantize(
                W, bits=fmt.bits, axis=fmt.axis, group_size=fmt.group_size
            )
        elif fmt.method == "zeropoint":
            codes, self.params = qlab.zeropoint_quantize(
                W, bits=fmt.bits, axis=fmt.axis, group_size=fmt.group_size
            )
        else:
            codes, self.params = qlab.quantize_4bit(
                W, quant_type=fmt.method, blocksize=fmt.blocksize, compress_statistics=fmt.double_quant
            )
        # <= 4-bit integer codes come back one per int8 byte: store them two per byte.
        self.packed = fmt.method in ("absmax", "zeropoint") and fmt.bits <= 4
        self.codes = pack_nibbles(codes, fmt.bits) if self.packed else codes
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def dequantized_weight(self) -> torch.Tensor:
        codes = unpack_nibbles(self.codes, self.fmt.bits, self.shape) if self.packed else self.codes
        if self.fmt.method == "absmax":
            return qlab.absmax_dequantize(codes, self.params)
        if self.fmt.method == "zeropoint":
            return qlab.zeropoint_dequantize(codes, self.params)
        return qlab.dequantize_4bit(codes, self.params).reshape(self.shape)

    def weight_storage_bytes(self) -> int:
        """Bytes of the stored codes and scales (what replaces the fp32 weight)."""
        return qlab.storage_bytes((self.codes, self.params))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x @ self.dequantized_weight().T
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, format={self.fmt.name}"


class LLMInt8Linear(nn.Module):
    """LLM.int8() (Dettmers et al. 2022, arXiv:2208.07339, §3), simulated on CPU.

    The weight is stored as int8 with one absmax scale per output row. At run
    time each row (token) of the input gets its own scale too ("vector-wise"),
    and the product of int8 codes is accumulated exactly, then rescaled by
    ``row_stat_x * row_stat_w / 127**2``. Input columns holding any |x| >=
    ``threshold`` are *outlier features*: they are taken out of the int8 path
    and multiplied in float with the (dequantized) weight columns -- the
    "mixed-precision decomposition". The paper keeps that part in fp16; here it
    is fp32. The arithmetic is :func:`qlab.llm_int8_linear`.
    """

    def __init__(self, linear: nn.Linear, threshold: float = 6.0) -> None:
        super().__init__()
        self.in_features, self.out_features, self.threshold = (
            linear.in_features,
            linear.out_features,
            threshold,
        )
        self.weight_codes, self.weight_stats, _ = qlab.int8_vectorwise_quant(linear.weight.detach().float())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())
        self.last_outlier_columns: torch.Tensor | None = (
            None  # for teaching: what the last call kept in float
        )

    def dequantized_weight(self) -> torch.Tensor:
        return qlab.int8_vectorwise_dequant(self.weight_codes, self.weight_stats)

    def weight_storage_bytes(self) -> int:
        return qlab.storage_bytes((self.weight_codes, self.weight_stats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        X = x.reshape(-1, self.in_features).float()
        self.last_outlier_columns = qlab.find_outlier_columns(X, self.threshold) if self.threshold else None
        out = qlab.llm_int8_linear(X, self.weight_codes, self.weight_stats, threshold=self.threshold)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, threshold={self.threshold}"


@dataclass
class LayerReport:
    name: str
    shape: tuple[int, int]
    sqnr_db: float
    stored_bytes: int


@dataclass
class QuantizationReport:
    """What :func:`quantize_model` did: per layer and pooled over all quantized weights."""

    fmt: WeightFormat
    layers: list[LayerReport] = field(default_factory=list)
    signal_power: float = 0.0  # sum of W**2 over all quantized weights
    noise_power: float = 0.0  # sum of (W - dequant(W))**2

    @property
    def n_weights(self) -> int:
        return sum(math.prod(layer.shape) for layer in self.layers)

    @property
    def stored_bytes(self) -> int:
        return sum(layer.stored_bytes for layer in self.layers)

    @property
    def bits_per_parameter(self) -> float:
        """Measured: stored bits of the quantized weights / number of those weights."""
        return 8 * self.stored_bytes / self.n_weights if self.layers else 32.0

    @property
    def sqnr_db(self) -> float:
        """Weight SQNR pooled over every quantized layer: 10 log10(sum W^2 / sum error^2)."""
        if not self.layers or self.noise_power == 0:
            return math.inf
        return 10 * math.log10(self.signal_power / self.noise_power)


def _replacement(linear: nn.Linear, fmt: WeightFormat) -> nn.Module:
    if fmt.method == "llm_int8":
        return LLMInt8Linear(linear, threshold=fmt.threshold)
    return QuantizedLinear(linear, fmt)


def quantize_model(
    model: nn.Module,
    fmt: WeightFormat | str,
    *,
    skip: Iterable[str] = ("lm_head",),
    inplace: bool = False,
) -> tuple[nn.Module, QuantizationReport]:
    """Replace every ``nn.Linear`` of ``model`` (except names matching a ``skip`` regex) by a qlab layer.

    Returns ``(quantized_model, report)``; the input model is untouched unless
    ``inplace``. ``skip`` patterns are matched with :func:`re.search` against the
    module's qualified name (default: the output head, tied to the embeddings).
    """
    fmt = FORMATS[fmt] if isinstance(fmt, str) else fmt
    if not isinstance(fmt, WeightFormat):
        raise TypeError(f"quantize_model: fmt must be a WeightFormat or one of {list(FORMATS)}, got {fmt!r}")
    target = model if inplace else copy.deepcopy(model)
    report = QuantizationReport(fmt)
    if fmt.method == "none":
        return target, report
    patterns = [re.compile(p) for p in skip]
    linears = [
        (name, module)
        for name, module in target.named_modules()
        if isinstance(module, nn.Linear) and not any(p.search(name) for p in patterns)
    ]
    for name, linear in linears:
        new = _replacement(linear, fmt)
        W = linear.weight.detach().float()
        W_hat = new.dequantized_weight()
        err = (W.double() - W_hat.double()).pow(2).sum().item()
        report.signal_power += W.double().pow(2).sum().item()
        report.noise_power += err
        report.layers.append(
            LayerReport(name, tuple(W.shape), qlab.sqnr_db(W, W_hat), new.weight_storage_bytes())
        )
        parent_name, _, child = name.rpartition(".")
        setattr(target.get_submodule(parent_name) if parent_name else target, child, new)
    return target, report
