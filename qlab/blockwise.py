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
reproduces them so that learners can compare results exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from ._arrays import as_float_array, check_int, float32_mean, output_origin, restore, restore_fields, to_numpy
from .backend import dispatch
from .codebooks import create_dynamic_map

_LUT_BINS = 65536


@dataclass
class BlockwiseState:
    """What :func:`dequantize_blockwise` needs besides the codes.

    ``absmax`` holds one float32 scale per block (or, when ``offset`` is set,
    the 8-bit codes of those scales minus ``offset``, described by ``state2``).
    """

    absmax: Any
    code: Any
    blocksize: int
    dtype: str
    offset: Any = None
    state2: BlockwiseState | None = None

    @property
    def nested(self) -> bool:
        return self.state2 is not None


@cache
def _bin_table(code_bytes: bytes) -> np.ndarray:
    """For each of the 65,536 bins of [-1, 1], the index of the code nearest to the bin's centre."""
    code = np.frombuffer(code_bytes, dtype=np.float32)
    centres = (np.arange(_LUT_BINS, dtype=np.float64) / (_LUT_BINS - 1) * 2 - 1).astype(np.float32)
    midpoints = (code[:-1] + code[1:]) / np.float32(2)
    return np.searchsorted(midpoints, centres, side="left").astype(np.uint8)


def _check_code(code: Any) -> np.ndarray:
    table = np.ascontiguousarray(to_numpy(code), dtype=np.float32).reshape(-1)
    if table.size != 256:
        raise ValueError(
            f"quantize_blockwise: code must have 256 entries (one per 8-bit code), got {table.size}"
        )
    if not np.all(np.diff(table) >= 0) or not np.isfinite(table).all():
        raise ValueError(
            "quantize_blockwise: code must be finite and sorted ascending (like create_dynamic_map())"
        )
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
    blocksize: int = 4096,
    nested: bool = False,
    *,
    allow_nonfinite: bool = False,
) -> tuple[Any, BlockwiseState]:
    """Quantize ``A`` to 8-bit codes, block by block (bitsandbytes ``functional.quantize_blockwise``).

    Args:
        A: float32/float16/bfloat16 array or tensor, any shape.
        code: 256-entry sorted table in [-1, 1]; default the dynamic map.
        blocksize: values per block (any positive integer).
        nested: also quantize the block scales (minus their mean) with the same blocksize.
        allow_nonfinite: accept NaN/Inf and treat them exactly as bitsandbytes does.

    Returns:
        ``(codes, state)``: uint8 codes with ``A``'s shape and a :class:`BlockwiseState`.
    """
    func = "quantize_blockwise"
    x, origin = as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
    blocksize = check_int(blocksize, name="blocksize", func=func, low=1)
    table = create_dynamic_map() if code is None else _check_code(code)
    codes, absmax = quantize_blocks_8bit(x.reshape(-1), table, blocksize)
    state = BlockwiseState(absmax=absmax, code=table, blocksize=blocksize, dtype=origin.dtype)
    if nested:
        # Quantize the scales themselves: subtract their mean (so they straddle zero
        # and use both signs of the table), then 8-bit blockwise again.
        offset = float32_mean(absmax)
        codes2, absmax2 = quantize_blocks_8bit(absmax - offset, table, blocksize)
        state2 = BlockwiseState(absmax=absmax2, code=table, blocksize=blocksize, dtype="float32")
        state = BlockwiseState(
            codes2, table, blocksize, origin.dtype, offset=np.asarray(offset), state2=state2
        )
        restore_fields(state2, origin, ("absmax", "code"))
    restore_fields(state, origin, ("absmax", "code", "offset"))
    return restore(codes.reshape(x.shape), origin), state


def block_scales(state: BlockwiseState) -> np.ndarray:
    """The float32 scale of every block, undoing double quantization if it was used."""
    if state.nested:
        inner = dequantize_blocks_8bit(to_numpy(state.absmax), state.state2)
        return (inner + to_numpy(state.offset).astype(np.float32)).astype(np.float32)
    return np.asarray(to_numpy(state.absmax), dtype=np.float32)


def dequantize_blocks_8bit(codes: np.ndarray, state: BlockwiseState) -> np.ndarray:
    """float32 values = code[index] · scale of its block (flat)."""
    table = np.asarray(to_numpy(state.code), dtype=np.float32)
    scales = block_scales(state)
    flat = codes.reshape(-1)
    n, bs = flat.size, state.blocksize
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
def dequantize_blockwise(A: Any, state: BlockwiseState) -> Any:
    """Undo :func:`quantize_blockwise`: returns ``state.dtype`` values with the codes' shape."""
    if not isinstance(state, BlockwiseState):
        raise TypeError(
            f"dequantize_blockwise: state must be a qlab BlockwiseState, got {type(state).__name__}"
        )
    codes = to_numpy(A)
    if codes.dtype != np.uint8:
        raise TypeError(f"dequantize_blockwise: codes must be uint8, got {codes.dtype}")
    values = dequantize_blocks_8bit(np.ascontiguousarray(codes), state).reshape(codes.shape)
    return restore(values, output_origin(A, state.dtype), float_dtype=state.dtype)
