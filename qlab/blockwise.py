"""Blockwise 8-bit quantization with a code table (bitsandbytes' ``quantize_blockwise``).

Split the flattened tensor into blocks of ``blocksize`` consecutive values. In
each block, divide by the block's absolute maximum so values land in [-1, 1],
then store the index (0..255) of the table entry that stands for each value.
The default table is the dynamic map (:func:`qlab.codebooks.create_dynamic_map`,
Dettmers 2016, arXiv:1511.04561), which spends more codes near zero.

This is also the quantizer that *double quantization* (QLoRA, arXiv:2305.14314,
§3) uses to store the 32-bit NF4 block scales in 8 bits: see :mod:`qlab.fourbit`.

How bitsandbytes finds "the nearest code" on CPU (and so how qlab does, to match
it bit for bit): rather than a binary search per value, it cuts [-1, 1] into
65,536 equal bins and precomputes, for each bin centre, the nearest code. A value
``s`` goes to bin ``floor((s + 1) / 2 · 65535 + 0.5)``. For about one value in a
thousand the bin's code is not the truly nearest one (the two candidates are
then within 1/65535 of each other), an exact 0.0 lands on code 131, a tiny
positive number, not on code 127 (= 0), and the codes nearest zero, packed closer
than one bin, cannot all be reached: a value equal to one of them may come back
as its neighbour. These are bitsandbytes' choices; qlab
reproduces them so that learners can compare results exactly. The 65,536 bin
centres are computed in float32 as bitsandbytes' C code does,
``-1.0f + (2.0f * i) / 65535``: computed in float64 instead, a few dozen values
per million would get a different code with an unsigned map.

With ``nested=True`` the block scales (minus their mean) are quantized again,
always with the default signed dynamic map, whatever ``code`` the values used
(as bitsandbytes does).

The state is :class:`QuantState`, the same class as for 4-bit (and the same
fields, constructor and ``as_dict``/``from_dict`` as ``bitsandbytes.functional.
QuantState``); ``BlockwiseState`` is another name for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

import numpy as np

from ._arrays import (
    as_float_array,
    check_int,
    dtype_name,
    float32_mean,
    is_tensor,
    output_origin,
    restore,
    restore_fields,
    state_dtype,
    to_numpy,
    write_out,
)
from .backend import dispatch
from .codebooks import dynamic_map_values

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

_LUT_BINS = 65536


@dataclass(eq=False)
class QuantState:
    """Everything needed to dequantize codes (``bitsandbytes.functional.QuantState``, same fields and order).

    For 4-bit states (:func:`qlab.quantize_4bit`) all fields are set; for 8-bit
    blockwise states (:func:`quantize_blockwise`) ``shape`` and ``quant_type``
    are None, as in bitsandbytes.

    Attributes:
        absmax: float32 scale per block; with double quantization (``nested``),
            the uint8 codes of (scale - offset) instead, described by ``state2``.
        shape: the original tensor's shape (``torch.Size`` for torch input).
        code: the code table (4-bit: the 16 values; 8-bit: 256).
        blocksize: values per block.
        quant_type: "nf4" or "fp4" (4-bit only).
        dtype: the original dtype: ``torch.float16`` etc. for torch input (as in
            bitsandbytes), a numpy dtype for numpy input. Compare names with
            :func:`qlab._arrays.dtype_name` if you handle both.
        offset: nested only: the mean subtracted from the scales (0-d float32).
        state2: nested only: how the scales were quantized (another QuantState).

    A state from bitsandbytes works in qlab's functions and, for torch inputs,
    a qlab state works in bitsandbytes' functions. ``as_dict``/``from_dict``
    use bitsandbytes' serialization format (what ``Linear4bit`` saves).
    """

    absmax: Any
    shape: Any = None
    code: Any = None
    blocksize: Any = None
    quant_type: Any = None
    dtype: Any = None
    offset: Any = None
    state2: QuantState | None = None

    valid_quant_types: ClassVar[tuple[str, ...]] = ("fp4", "nf4")
    valid_qs_type_keys: ClassVar[list[str]] = [f"bitsandbytes__{x}" for x in ("fp4", "nf4")]
    valid_qs_keys: ClassVar[list[str]] = [
        "absmax",
        "quant_map",
        "nested_absmax",
        "nested_quant_map",
        "quant_state",
        "quant_type",
        "blocksize",
        "dtype",
        "shape",
        "nested_blocksize",
        "nested_dtype",
        "nested_offset",
    ]

    def __repr__(self) -> str:
        dtype = None if self.dtype is None else dtype_name(self.dtype)
        return (
            f"QuantState(quant_type={self.quant_type!r}, shape={None if self.shape is None else tuple(self.shape)}, "
            f"dtype={dtype!r}, blocksize={self.blocksize}, nested={self.nested})"
        )

    @property
    def nested(self) -> bool:
        return self.state2 is not None

    def __getattr__(self, name: str) -> Any:
        # Like bitsandbytes: the packed state-dict key "quant_state.bitsandbytes__nf4" can be
        # read as an attribute (FSDP resolves state-dict paths with getattr).
        if name.startswith("bitsandbytes__"):
            packed = self.as_dict(packed=True)
            if "quant_state." + name in packed:
                return packed["quant_state." + name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def as_dict(self, packed: bool = False) -> dict[str, Any]:
        """The state as a dict in bitsandbytes' format (``QuantState.as_dict``).

        ``packed=True`` returns only arrays/tensors, the non-array items packed as
        JSON bytes under ``"quant_state.bitsandbytes__<quant_type>"``: what
        ``Linear4bit`` writes into a state dict (safetensors can store it).
        """
        qs_dict: dict[str, Any] = {
            "quant_type": self.quant_type,
            "absmax": self.absmax,
            "blocksize": self.blocksize,
            "quant_map": self.code,
            "dtype": dtype_name(self.dtype),
            "shape": tuple(self.shape) if self.shape is not None else None,
        }
        if self.nested:
            qs_dict.update(
                {
                    "nested_absmax": self.state2.absmax,
                    "nested_blocksize": self.state2.blocksize,
                    "nested_quant_map": _copy(self.state2.code),
                    "nested_dtype": dtype_name(self.state2.dtype),
                    "nested_offset": float(to_numpy(self.offset)),
                }
            )
        if not packed or self.quant_type is None:
            return qs_dict
        arrays = {k: v for k, v in qs_dict.items() if _is_array(v)}
        others = {k: v for k, v in qs_dict.items() if not _is_array(v)}
        payload = np.frombuffer(json.dumps(others).encode("utf-8"), dtype=np.uint8).copy()
        as_torch = is_tensor(self.absmax) and torch is not None
        arrays["quant_state.bitsandbytes__" + self.quant_type] = (
            torch.from_numpy(payload) if as_torch else payload
        )
        return arrays

    @classmethod
    def from_dict(cls, qs_dict: dict[str, Any], device: Any = None) -> QuantState:
        """Rebuild a state from :meth:`as_dict`'s output (packed or not), ours or bitsandbytes'.

        ``device``: move the arrays to this torch device (as bitsandbytes'
        ``from_dict(qs_dict, device)``); None keeps them as they are (numpy
        stays numpy).
        """
        qs_dict = dict(qs_dict)
        packed_keys = [k for k, v in qs_dict.items() if "quant_state" in k and _is_array(v)]
        if "quant_type" not in qs_dict:
            if not packed_keys:
                raise ValueError(
                    "QuantState.from_dict: expected packed or unpacked quant_state items, found neither"
                )
            if len(packed_keys) != 1 or packed_keys[0].split(".")[-1] not in cls.valid_qs_type_keys:
                raise ValueError(
                    f"QuantState.from_dict: there should be exactly one `quant_state` item ending in one of "
                    f"{cls.valid_qs_type_keys}; found {packed_keys}"
                )
        if len(packed_keys) == 1:
            raw = bytes(np.ascontiguousarray(to_numpy(qs_dict.pop(packed_keys[0])), dtype=np.uint8))
            qs_dict.update(json.loads(raw.decode("utf-8")))
        qs_dict = {k.split(".")[-1]: v for k, v in qs_dict.items()}
        unknown = set(qs_dict) - set(cls.valid_qs_keys)
        if unknown:
            raise ValueError(f"QuantState.from_dict: unknown keys {sorted(unknown)}")

        def move(x: Any) -> Any:
            if device is None or torch is None:
                return x
            t = x if is_tensor(x) else torch.from_numpy(np.require(to_numpy(x), requirements="C"))
            return t.to(device)

        as_torch = torch is not None and (device is not None or is_tensor(qs_dict["absmax"]))
        offset, state2 = None, None
        if "nested_absmax" in qs_dict:
            value = np.float32(qs_dict["nested_offset"])
            offset = torch.tensor(float(value)).to(device or "cpu") if as_torch else np.asarray(value)
            state2 = cls(
                absmax=move(qs_dict["nested_absmax"]),
                blocksize=qs_dict["nested_blocksize"],
                code=move(qs_dict["nested_quant_map"]),
                dtype=state_dtype(qs_dict["nested_dtype"], as_torch),
            )
        shape = qs_dict["shape"]
        if shape is not None:
            shape = torch.Size(shape) if as_torch else tuple(shape)
        return cls(
            quant_type=qs_dict["quant_type"],
            absmax=move(qs_dict["absmax"]),
            blocksize=qs_dict["blocksize"],
            code=move(qs_dict["quant_map"]),
            dtype=state_dtype(dtype_name(qs_dict["dtype"]), as_torch),
            shape=shape,
            offset=offset,
            state2=state2,
        )

    def to(self, device: Any) -> None:
        """Move the state's tensors to ``device`` in place (like bitsandbytes' ``QuantState.to``)."""
        self.code = self.code.to(device)
        self.absmax = self.absmax.to(device)
        if self.nested:
            self.offset = self.offset.to(device)
            self.state2.absmax = self.state2.absmax.to(device)
            self.state2.code = self.state2.code.to(device)

    def __eq__(self, other: object) -> bool:
        """Equal scales and tables (within 1e-6), shape, dtype, blocksize, type, offset and nested state."""
        if not hasattr(other, "absmax") or not hasattr(other, "state2"):
            return False

        def close(a: Any, b: Any) -> bool:
            a, b = to_numpy(a).astype(np.float64), to_numpy(b).astype(np.float64)
            return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-6, rtol=1e-5))

        def same_dtype(a: Any, b: Any) -> bool:
            return (a is None and b is None) or (
                a is not None and b is not None and dtype_name(a) == dtype_name(b)
            )

        shapes = (self.shape is None and other.shape is None) or (
            self.shape is not None and other.shape is not None and tuple(self.shape) == tuple(other.shape)
        )
        offsets = (self.offset is None and other.offset is None) or (
            self.offset is not None and other.offset is not None and close(self.offset, other.offset)
        )
        states2 = (self.state2 is None and other.state2 is None) or (
            self.state2 is not None and other.state2 is not None and self.state2 == other.state2
        )
        codes = (self.code is None and other.code is None) or (
            self.code is not None and other.code is not None and close(self.code, other.code)
        )
        return (
            close(self.absmax, other.absmax)
            and shapes
            and codes
            and same_dtype(self.dtype, other.dtype)
            and self.blocksize == other.blocksize
            and self.quant_type == other.quant_type
            and offsets
            and states2
        )

    __hash__ = None  # type: ignore[assignment]


BlockwiseState = QuantState
"""The 8-bit blockwise state: the same class as :class:`QuantState` (bitsandbytes has one class)."""


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) or is_tensor(x)


def _copy(x: Any) -> Any:
    return x.clone() if is_tensor(x) else np.array(x, copy=True)


@cache
def _bin_table(code_bytes: bytes) -> np.ndarray:
    """For each of the 65,536 bins of [-1, 1], the index of the code nearest to the bin's centre.

    The centres are computed in float32 exactly as bitsandbytes' C code does,
    ``-1.0f + (2.0f * i) / 65535`` (each operation rounded to float32).
    """
    code = np.frombuffer(code_bytes, dtype=np.float32)
    i = np.arange(_LUT_BINS, dtype=np.float32)
    centres = np.float32(-1) + (np.float32(2) * i) / np.float32(_LUT_BINS - 1)
    midpoints = (code[:-1] + code[1:]) * np.float32(0.5)
    return np.searchsorted(midpoints, centres, side="left").astype(np.uint8)


def _check_code(code: Any, func: str = "quantize_blockwise") -> np.ndarray:
    table = np.ascontiguousarray(to_numpy(code), dtype=np.float32).reshape(-1)
    if table.size != 256:
        raise ValueError(f"{func}: code must have 256 entries (one per 8-bit code), got {table.size}")
    if not np.isfinite(table).all() or not np.all(np.diff(table) >= 0):
        raise ValueError(f"{func}: code must be finite and sorted ascending (like create_dynamic_map())")
    return table


def quantize_blocks_8bit(flat: np.ndarray, code: np.ndarray, blocksize: int) -> tuple[np.ndarray, np.ndarray]:
    """The core: float32 1-D values -> (uint8 codes, float32 absmax per block), bitsandbytes' CPU rule."""
    n = flat.size
    n_blocks = -(-n // blocksize)
    padded = np.zeros(n_blocks * blocksize, dtype=np.float32)
    padded[:n] = flat
    blocks = padded.reshape(n_blocks, blocksize)
    magnitude = np.abs(blocks)
    # NaN is skipped when finding the block maximum (so one NaN does not spoil the block).
    absmax = np.fmax.reduce(magnitude, axis=1, initial=0.0).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # multiply by the reciprocal, as the C kernel does; 1/0 = inf makes an all-zero block NaN
        scaled = blocks * (np.float32(1) / absmax)[:, None]
        np.clip(scaled, -1, 1, out=scaled)
        bins = ((scaled + np.float32(1)) * np.float32(0.5)) * np.float32(_LUT_BINS - 1) + np.float32(0.5)
        bins = np.where(np.isnan(bins), 0, bins)  # NaN (0·inf, 0/0, NaN input) -> bin 0
    codes = _bin_table(code.tobytes())[bins.astype(np.int64)]
    return codes.reshape(-1)[:n], absmax


@dispatch
def quantize_blockwise(
    A: Any,
    code: Any = None,
    absmax: Any = None,
    out: Any = None,
    blocksize: int = 4096,
    nested: bool = False,
    *,
    allow_nonfinite: bool = False,
) -> tuple[Any, QuantState]:
    """Quantize ``A`` to 8-bit codes, block by block (bitsandbytes ``functional.quantize_blockwise``).

    Args:
        A: float32/float16/bfloat16 array or tensor, any shape.
        code: 256-entry sorted table in [-1, 1]; default the signed dynamic map.
        absmax: optional preallocated float32 array/tensor that receives the block scales.
        out: optional preallocated uint8 array/tensor (``A``'s shape) that receives the codes.
        blocksize: values per block (any positive integer).
        nested: also quantize the block scales (minus their mean), with the same
            blocksize and the default signed dynamic map.
        allow_nonfinite: (qlab, keyword-only) accept NaN/Inf and treat them
            exactly as bitsandbytes does.

    Returns:
        ``(codes, state)``: uint8 codes with ``A``'s shape and a :class:`QuantState`.
    """
    func = "quantize_blockwise"
    x, origin = as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
    blocksize = check_int(blocksize, name="blocksize", func=func, low=1)
    default = dynamic_map_values()
    table = default if code is None else _check_code(code, func)
    codes, scales = quantize_blocks_8bit(x.reshape(-1), table, blocksize)
    dtype = state_dtype(origin.dtype, origin.is_torch)
    if nested:
        # Quantize the scales themselves: subtract their mean (so they straddle zero
        # and use both signs of the table), then 8-bit blockwise again, always with
        # the default signed dynamic map (bitsandbytes ignores `code` here).
        offset = float32_mean(scales)
        codes2, absmax2 = quantize_blocks_8bit(scales - offset, default, blocksize)
        state2 = QuantState(
            absmax=absmax2, code=default, blocksize=blocksize, dtype=state_dtype("float32", origin.is_torch)
        )
        state = QuantState(
            absmax=codes2,
            code=table,
            blocksize=blocksize,
            dtype=dtype,
            offset=np.asarray(offset),
            state2=state2,
        )
        restore_fields(state2, origin, ("absmax", "code"))
    else:
        state = QuantState(absmax=scales, code=table, blocksize=blocksize, dtype=dtype)
    restore_fields(state, origin, ("absmax", "code", "offset"))
    result = restore(codes.reshape(x.shape), origin)
    if out is not None:
        result = write_out(out, result, name="out", func=func)
    if absmax is not None:
        state.absmax = write_out(absmax, state.absmax, name="absmax", func=func)
    return result, state


def check_state(state: Any, func: str, fields: tuple[str, ...]) -> None:
    """A qlab or bitsandbytes QuantState (anything with these attributes) is accepted."""
    missing = [f for f in fields if not hasattr(state, f)]
    if missing:
        raise TypeError(
            f"{func}: quant_state must be a QuantState (qlab's or bitsandbytes'), got {type(state).__name__} "
            f"without {', '.join(missing)}"
        )


def block_scales(state: Any) -> np.ndarray:
    """The float32 scale of every block, undoing double quantization if it was used."""
    if getattr(state, "state2", None) is not None:
        inner = dequantize_blocks_8bit(to_numpy(state.absmax), state.state2)
        return (inner + to_numpy(state.offset).astype(np.float32)).astype(np.float32)
    return np.asarray(to_numpy(state.absmax), dtype=np.float32).reshape(-1)


def dequantize_blocks_8bit(codes: np.ndarray, state: Any) -> np.ndarray:
    """float32 values = code[index] · scale of its block (flat)."""
    table = np.asarray(to_numpy(state.code), dtype=np.float32).reshape(-1)
    scales = block_scales(state)
    flat = codes.reshape(-1)
    n, bs = flat.size, check_int(state.blocksize, name="blocksize", func="dequantize_blockwise", low=1)
    if scales.size != -(-n // bs):
        raise ValueError(
            f"dequantize_blockwise: {n} codes in blocks of {bs} need {-(-n // bs)} scales, "
            f"the state has {scales.size}"
        )
    values = np.zeros(scales.size * bs, dtype=np.float32)
    values[:n] = table[flat]
    with np.errstate(invalid="ignore", over="ignore"):  # inf scales are bitsandbytes' behaviour, kept
        values = values.reshape(-1, bs) * scales[:, None]
    return values.reshape(-1)[:n]


@dispatch
def dequantize_blockwise(
    A: Any,
    quant_state: Any = None,
    absmax: Any = None,
    code: Any = None,
    out: Any = None,
    blocksize: int = 4096,
    nested: bool = False,
) -> Any:
    """Undo :func:`quantize_blockwise` (bitsandbytes ``functional.dequantize_blockwise``).

    Either pass the ``quant_state`` from :func:`quantize_blockwise` (qlab's or
    bitsandbytes'), or the state-free form ``absmax=`` (float32 scale per block)
    with ``code=`` (default: the signed dynamic map) and ``blocksize=``; then the
    result is float32, or ``out``'s dtype when ``out`` is given (bitsandbytes
    insists on float32 there). ``nested`` is accepted and ignored, as in
    bitsandbytes (a state says whether it is nested).

    Returns the values in the state's dtype with the codes' shape (written into
    ``out`` and returned, if given).
    """
    func = "dequantize_blockwise"
    if quant_state is None and absmax is None:
        raise ValueError(
            f"{func}: pass quant_state (from quantize_blockwise), or absmax= (one float32 scale per block) "
            "with code= and blocksize="
        )
    codes = to_numpy(A)
    if codes.dtype != np.uint8:
        raise TypeError(f"{func}: codes must be uint8, got {codes.dtype}")
    if quant_state is None:
        dtype = "float32" if out is None else dtype_name(out.dtype)
        table = dynamic_map_values() if code is None else _check_code(code, func)
        quant_state = QuantState(absmax=absmax, code=table, blocksize=blocksize, dtype=dtype)
    check_state(quant_state, func, ("absmax", "code", "blocksize", "dtype"))
    name = dtype_name(quant_state.dtype)
    values = dequantize_blocks_8bit(np.ascontiguousarray(codes), quant_state).reshape(codes.shape)
    result = restore(values, output_origin(A, name), float_dtype=name)
    if out is not None:
        if dtype_name(out.dtype) != name:
            raise ValueError(f"{func}: out= has dtype {dtype_name(out.dtype)}, the state's dtype is {name}")
        result = write_out(out, result, name="out", func=func)
    return result
