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
* INT4 absmax and INT4 zero-point (asymmetric, all 16 levels used: the fair rival
  of NF4) in groups of 64, codes packed two per byte; the 4-bit zero points are
  packed two per byte too, as GPTQ/AWQ checkpoints store them (``qzeros``), so
  INT4 zero-point g64 costs ``4 + (32 + 4) / 64 = 4.5625`` bits per weight and
  INT8 zero-point g64 ``8 + (32 + 8) / 64 = 8.625`` (float32 scale + zero point in
  the codes' width);
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
import dataclasses
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
        WeightFormat("int4-zeropoint-g64", "zeropoint", bits=4, group_size=64),
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


class _FrozenWeightMatmul(torch.autograd.Function):
    """``x @ W.T`` with ``W`` dequantized from the layer's buffers in forward *and again* in backward.

    Nothing full-precision is kept between the two (autograd would otherwise save
    the dequantized weight of every layer for the backward pass, i.e. a float copy
    of the whole model during each step); bitsandbytes' ``MatMul4Bit`` does the
    same. No gradient is ever computed for the weight: it is frozen.
    """

    @staticmethod
    def forward(ctx, x, layer, dtype):  # type: ignore[override]
        ctx.layer, ctx.dtype = layer, dtype
        return x @ layer.compute_weight(dtype).T

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return None, None, None
        return grad @ ctx.layer.compute_weight(ctx.dtype), None, None


def _tensor_fields(obj) -> list[str]:
    return [f.name for f in dataclasses.fields(obj) if isinstance(getattr(obj, f.name), torch.Tensor)]


class QuantizedLinear(nn.Module):
    """An ``nn.Linear`` whose weight is stored quantized and dequantized on every forward.

    ``forward(x) == x @ self.dequantized_weight().T + bias`` exactly (float32
    compute dtype). Like bitsandbytes' ``Linear4bit``:

    * the quantized weight -- ``codes`` and every tensor of its parameters
      (``scale``, ``zero_point`` / packed ``zero_points``, the 4-bit ``absmax``,
      and with double quantization ``offset`` and ``nested_absmax``) -- lives in
      registered **buffers**, so ``state_dict()``, ``load_state_dict()`` and
      ``torch.save`` keep it; buffers never receive gradients;
    * ``forward`` dequantizes into ``compute_dtype`` (float32 default, or
      bfloat16/float16): the input is cast to it, multiplied with the
      dequantized weight, and the output cast back to the input's dtype;
    * gradients flow to the input (for LoRA adapters before and after it); the
      weight is dequantized again in backward instead of being kept in float.

    The format's lookup tables (the 16 NF4/FP4 values, the 256-value dynamic
    map of double quantization) are constants of the format, not buffers.
    4-bit formats dequantize with a torch-native path (:meth:`compute_weight`)
    that gives the same bits as :func:`qlab.dequantize_4bit`.
    """

    _PARAM_BUFFERS = {"scale": "scale", "zero_point": "zero_point"}

    def __init__(
        self, linear: nn.Linear, fmt: WeightFormat, compute_dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        if fmt.method not in ("absmax", "zeropoint", "nf4", "fp4"):
            raise ValueError(f"QuantizedLinear: format {fmt.name!r} is not a weight-only format")
        compute_dtype = torch.float32 if compute_dtype is None else compute_dtype
        if compute_dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(
                f"QuantizedLinear: compute_dtype must be torch.float32, bfloat16 or float16, got {compute_dtype!r}"
            )
        self.in_features, self.out_features, self.fmt = linear.in_features, linear.out_features, fmt
        self.compute_dtype = compute_dtype
        W = linear.weight.detach().float()
        self.shape = tuple(W.shape)
        if fmt.method == "absmax":
            codes, params = qlab.absmax_quantize(W, bits=fmt.bits, axis=fmt.axis, group_size=fmt.group_size)
        elif fmt.method == "zeropoint":
            codes, params = qlab.zeropoint_quantize(
                W, bits=fmt.bits, axis=fmt.axis, group_size=fmt.group_size
            )
        else:
            codes, params = qlab.quantize_4bit(
                W, quant_type=fmt.method, blocksize=fmt.blocksize, compress_statistics=fmt.double_quant
            )
        # <= 4-bit integer codes come back one per int8 byte: store them two per byte.
        self.packed = fmt.method in ("absmax", "zeropoint") and fmt.bits <= 4
        self.register_buffer("codes", pack_nibbles(codes, fmt.bits) if self.packed else codes)
        # 4-bit zero points are stored in 4 bits too (two per byte), not in the int8 qlab returns.
        zero_points = None
        if self.packed and fmt.method == "zeropoint":
            zero_points = pack_nibbles(params.zero_point, fmt.bits)
            params = dataclasses.replace(params, zero_point=None)
        self.register_buffer("zero_points", zero_points)
        self._store_params(params)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    # -- the quantized weight as buffers ---------------------------------------------------------
    def _store_params(self, params) -> None:
        """Move every tensor of ``params`` into a buffer; keep the rest as a template."""
        if self.fmt.method in ("absmax", "zeropoint"):
            self._buffer_of = {f: f for f in _tensor_fields(params)}  # "scale", "zero_point"
            for f in self._buffer_of:
                self.register_buffer(f, getattr(params, f))
            self._template = dataclasses.replace(params, **dict.fromkeys(self._buffer_of))
            return
        self._buffer_of = {"absmax": "absmax"}
        self.register_buffer("absmax", params.absmax)
        template = copy.copy(params)
        template.absmax = None
        if params.state2 is not None:  # double quantization
            self._buffer_of["offset"] = "offset"
            self.register_buffer("offset", torch.as_tensor(params.offset, dtype=torch.float32))
            self.register_buffer("nested_absmax", params.state2.absmax)
            template.offset = None
            template.state2 = copy.copy(params.state2)
            template.state2.absmax = None
        self._template = template
        self._tables: dict[str, torch.Tensor] = {}  # float32 lookup tables for the torch-native path

    @property
    def params(self):
        """The quantization parameters (qlab's dataclass / ``QuantState``), rebuilt from the buffers."""
        if self.fmt.method in ("absmax", "zeropoint"):
            return dataclasses.replace(
                self._template, **{f: getattr(self, b) for f, b in self._buffer_of.items()}
            )
        state = copy.copy(self._template)
        state.absmax = self.absmax
        if state.state2 is not None:
            state.offset = self.offset
            state.state2 = copy.copy(state.state2)
            state.state2.absmax = self.nested_absmax
        return state

    def dequantized_weight(self) -> torch.Tensor:
        """The float32 weight, through qlab's reference functions (the test oracle of :meth:`compute_weight`)."""
        codes = unpack_nibbles(self.codes, self.fmt.bits, self.shape) if self.packed else self.codes
        if self.fmt.method == "absmax":
            return qlab.absmax_dequantize(codes, self.params)
        if self.fmt.method == "zeropoint":
            params = self.params
            if self.zero_points is not None:
                zp_shape = params.grouping.scale_shape
                zero_point = unpack_nibbles(self.zero_points, self.fmt.bits, zp_shape)
                params = dataclasses.replace(params, zero_point=zero_point)
            return qlab.zeropoint_dequantize(codes, params)
        return qlab.dequantize_4bit(codes, self.params).reshape(self.shape)

    # -- the fast path -----------------------------------------------------------------------------
    def _table(self, key: str, values) -> torch.Tensor:
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = torch.as_tensor(values, dtype=torch.float32).reshape(-1).clone()
        return table

    def _block_scales(self) -> torch.Tensor:
        """float32 scale of every 4-bit block (undoing double quantization), as qlab's ``block_scales``."""
        if self._template.state2 is None:
            return self.absmax.reshape(-1)
        state2 = self._template.state2
        code2 = self._table("code2", state2.code)
        n, bs = self.absmax.numel(), int(state2.blocksize)
        nb2 = self.nested_absmax.numel()
        inner = torch.zeros(nb2 * bs, dtype=torch.float32)
        inner[:n] = code2[self.absmax.reshape(-1).to(torch.int32)]
        inner = (inner.view(nb2, bs) * self.nested_absmax.reshape(-1, 1)).reshape(-1)[:n]
        return inner + self.offset

    def _dequantize_4bit_torch(self) -> torch.Tensor:
        """``table[code] · block scale`` in float32, from the packed bytes, in torch (no numpy round trip)."""
        table = self._table("code", self._template.code)
        pairs = self._tables.get("pairs")
        if pairs is None:
            # byte -> its two float32 values (high nibble first) seen as one int64: one gather per byte
            byte = torch.arange(256)
            pairs = torch.stack([table[byte >> 4], table[byte & 15]], dim=1).contiguous()
            pairs = self._tables["pairs"] = pairs.view(torch.int64).reshape(-1)
        n, bs = math.prod(self.shape), self.fmt.blocksize
        values = pairs.index_select(0, self.codes.reshape(-1).to(torch.int32)).view(torch.float32)
        scales = self._block_scales()
        full = n - n % bs
        if full == n and values.numel() == n:  # the usual case: whole blocks, even length
            return values.view(-1, bs).mul_(scales.view(-1, 1)).view(self.shape)
        out = values[:n]
        head = out[:full].view(-1, bs) * scales[: full // bs].view(-1, 1)
        tail = out[full:] * scales[full // bs :]
        return torch.cat([head.reshape(-1), tail]).view(self.shape)

    def compute_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """The dequantized weight in ``dtype`` (default: the compute dtype), as the forward uses it.

        Bit-identical to :meth:`dequantized_weight` (then cast: float32 products
        rounded to bfloat16/float16, as bitsandbytes does).
        """
        dtype = self.compute_dtype if dtype is None else dtype
        if self.fmt.method in ("nf4", "fp4"):
            W = self._dequantize_4bit_torch()
        else:
            W = self.dequantized_weight()
        return W if W.dtype == dtype else W.to(dtype)

    def weight_storage_bytes(self) -> int:
        """Bytes of the stored codes, scales and zero points (what replaces the fp32 weight)."""
        return qlab.storage_bytes((self.codes, self.params, self.zero_points))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = self.compute_dtype
        inp_dtype = x.dtype
        out = _FrozenWeightMatmul.apply(x.to(dtype), self, dtype)
        if self.bias is not None:
            out = out + self.bias.to(dtype)
        return out if out.dtype == inp_dtype else out.to(inp_dtype)

    def extra_repr(self) -> str:
        dtype = "" if self.compute_dtype == torch.float32 else f", compute_dtype={self.compute_dtype}"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, format={self.fmt.name}{dtype}"
        )


class LLMInt8Linear(nn.Module):
    """LLM.int8() (Dettmers et al. 2022, arXiv:2208.07339, §3), simulated on CPU.

    The weight is stored as int8 with one absmax scale per output row. At run
    time each row (token) of the input gets its own scale too ("vector-wise"),
    and the product of int8 codes is accumulated exactly, then rescaled by
    ``row_stat_x * row_stat_w / 127**2``. Input columns holding any |x| >=
    ``threshold`` are *outlier features*: they are taken out of the int8 path
    and multiplied in float with the (dequantized) weight columns -- the
    "mixed-precision decomposition". The paper keeps that part in fp16.

    ``compute_dtype=None`` (the teaching default) works in float32 throughout:
    the arithmetic is :func:`qlab.llm_int8_linear`. ``compute_dtype=torch.float16``
    applies the casts of bitsandbytes 0.50's ``Linear8bitLt`` in eval mode
    (``MatMul8bitLt`` with its CPU kernels): the weight and the input are rounded
    to float16 before their vector-wise quantization, the int8 product is
    accumulated as bitsandbytes' CPU kernel does (a float32 matmul of the codes,
    then int32), rescaled in float32 by ``row_stat * col_stat * 6.200124e-05``,
    the bias added, and the outlier columns of the *original* input added with one
    ``addmm`` against the dequantized weight columns. Its output then equals
    ``bnb.nn.Linear8bitLt(..., has_fp16_weights=False, threshold=threshold)`` in
    eval mode bit for bit (tests/test_models_int8_bnb.py). The codes and row
    statistics come from qlab's own :func:`qlab.int8_vectorwise_quant` (identical
    to bitsandbytes' on float16 values); the matmul and rescaling use torch ops,
    because bit parity needs the very same float32 operations bitsandbytes runs.
    """

    def __init__(
        self, linear: nn.Linear, threshold: float = 6.0, compute_dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        if compute_dtype not in (None, torch.float32, torch.float16):
            raise ValueError(
                f"LLMInt8Linear: compute_dtype must be None (float32) or torch.float16, got {compute_dtype!r}"
            )
        self.in_features, self.out_features, self.threshold = (
            linear.in_features,
            linear.out_features,
            threshold,
        )
        self.compute_dtype = None if compute_dtype == torch.float32 else compute_dtype
        W = linear.weight.detach()
        # bitsandbytes' Int8Params quantizes W.half(); the float32 default quantizes W itself
        W = W.half().float() if self.compute_dtype == torch.float16 else W.float()
        codes, stats, _ = qlab.int8_vectorwise_quant(W)
        self.register_buffer("weight_codes", codes)
        self.register_buffer("weight_stats", stats)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())
        self.last_outlier_columns: torch.Tensor | None = (
            None  # for teaching: what the last call kept in float
        )

    def dequantized_weight(self) -> torch.Tensor:
        return qlab.int8_vectorwise_dequant(self.weight_codes, self.weight_stats)

    def weight_storage_bytes(self) -> int:
        return qlab.storage_bytes((self.weight_codes, self.weight_stats))

    def _forward_fp16(self, X: torch.Tensor) -> torch.Tensor:
        """bitsandbytes' eval-mode ``MatMul8bitLt`` on CPU, operation for operation."""
        CA, SCA, cols = qlab.int8_vectorwise_quant(X.detach().half().float(), threshold=self.threshold)
        CB, SCB = self.weight_codes, self.weight_stats
        acc = torch.matmul(CA.float(), CB.float().t()).to(torch.int32)
        out = acc * (SCA.reshape(-1, 1) * SCB.reshape(1, -1)) * 6.200124e-05
        if self.bias is not None:
            out += self.bias
        out = out.to(X.dtype)
        if self.threshold > 0 and cols is not None and cols.numel():
            self.last_outlier_columns = cols
            sub_a = X[:, cols].contiguous()
            sub_b = (CB[:, cols].contiguous() * SCB.view(-1, 1) * 7.874015718698502e-3).to(X.dtype).t()
            out = out.addmm(sub_a, sub_b)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.compute_dtype == torch.float16:
            X = x.reshape(-1, self.in_features)
            self.last_outlier_columns = None
            out = self._forward_fp16(X)
            return out.reshape(*x.shape[:-1], self.out_features)
        X = x.reshape(-1, self.in_features).float()
        self.last_outlier_columns = qlab.find_outlier_columns(X, self.threshold) if self.threshold else None
        out = qlab.llm_int8_linear(X, self.weight_codes, self.weight_stats, threshold=self.threshold)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        dtype = "" if self.compute_dtype is None else f", compute_dtype={self.compute_dtype}"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"threshold={self.threshold}{dtype}"
        )


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
