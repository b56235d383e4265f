"""4-bit blockwise quantization: FP4 and NF4, with optional double quantization.

This is bitsandbytes' ``quantize_4bit`` / ``dequantize_4bit``, the storage format
behind ``Linear4bit`` and QLoRA (Dettmers et al. 2023, arXiv:2305.14314):

1. Flatten the tensor and cut it into blocks of ``blocksize`` values (64 by default).
2. Per block, ``absmax = max |x|`` (float32) and ``s = x / absmax`` in [-1, 1].
3. Each ``s`` becomes the index (0..15) of the nearest value in a 16-entry table:
   NF4 (normal quantiles) or FP4 (a tiny float), see :mod:`qlab.codebooks`.
   "Nearest" means: count the midpoints between neighbouring table values that
   lie strictly below ``s`` (an exact tie goes to the lower value).
4. Two 4-bit indices share one byte, the *first* in the high nibble.

Dequantizing is ``table[index] · absmax`` in float32, then rounded to the
original dtype. Storage: n/2 bytes of codes + 4 bytes per block, i.e.
4 + 32/64 = 4.5 bits per parameter for blocksize 64.

**Double quantization** (``compress_statistics=True``, QLoRA §3) stores the
float32 block scales in 8 bits too: subtract their mean ("offset"), then use the
8-bit blockwise quantizer of :mod:`qlab.blockwise` with blocks of 256 scales.
That costs 8/64 + 32/(64·256) ≈ 0.127 bits per parameter instead of 0.5.

Exact details copied from bitsandbytes 0.50 so results match bit for bit: the
scale is applied as ``x · (1/absmax)`` for full blocks but ``x / absmax`` for a
shorter last block; the last block's absmax is stored clamped to >= 1e-38
(full all-zero blocks store 0); an odd count is padded with one 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod
from typing import Any

import ml_dtypes
import numpy as np

from . import lookup
from ._arrays import (
    as_float_array,
    check_choice,
    float32_mean,
    output_origin,
    restore,
    restore_fields,
    to_numpy,
)
from .backend import dispatch
from .blockwise import BlockwiseState, block_scales, quantize_blocks_8bit
from .codebooks import create_dynamic_map, get_4bit_code

BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
"""Block sizes bitsandbytes accepts for 4-bit quantization."""
QUANT_TYPES = ("nf4", "fp4")
NESTED_BLOCKSIZE = 256  # double quantization: block scales are quantized 256 at a time


@dataclass
class QuantState:
    """Everything needed to dequantize 4-bit codes (mirrors ``bitsandbytes.functional.QuantState``).

    Attributes:
        absmax: float32 scale per block; with double quantization, the uint8
            codes of (scale - offset) instead.
        shape: the original tensor's shape.
        dtype: the original dtype name ("float32", "float16", "bfloat16").
        blocksize: values per block.
        quant_type: "nf4" or "fp4".
        code: the 16-entry table (a constant of the format, not stored per tensor).
        offset: double quantization only: the mean subtracted from the scales.
        state2: double quantization only: how the scales were quantized.
    """

    absmax: Any
    shape: tuple[int, ...]
    dtype: str
    blocksize: int
    quant_type: str
    code: Any = field(repr=False, default=None)
    offset: Any = None
    state2: BlockwiseState | None = None

    @property
    def nested(self) -> bool:
        return self.state2 is not None


def check_4bit_args(quant_type: str, blocksize: Any, func: str) -> None:
    check_choice(quant_type, name="quant_type", func=func, choices=QUANT_TYPES)
    if isinstance(blocksize, bool) or blocksize not in BLOCKSIZES:
        raise ValueError(
            f"{func}: invalid blocksize {blocksize!r}; choose one of {', '.join(map(str, BLOCKSIZES))}"
        )


def _absmax_rows(blocks: np.ndarray) -> np.ndarray:
    """max |x| of each row of a contiguous float32 array.

    Clearing the sign bit turns each float into the bit pattern of its absolute
    value, and for non-negative floats the bit patterns sort like the values
    (NaN patterns sort above inf, so a NaN wins, as in torch). One integer max
    per row is faster than ``max(max(x), -min(x))`` or ``abs(x).max()``.
    """
    magnitude_bits = blocks.view(np.uint32) & np.uint32(0x7FFFFFFF)
    return magnitude_bits.max(axis=1).view(np.float32)


def quantize_blocks(flat: np.ndarray, blocksize: int, quant_type: str) -> tuple[np.ndarray, np.ndarray]:
    """The whole 4-bit quantizer on a flat float32 array: (packed bytes, absmax per block).

    Full blocks are scaled by ``1 / max(absmax, 1e-38)`` (a multiplication, as
    bitsandbytes does). A shorter last block stores its absmax clamped to >= 1e-38
    and is *divided* by it. An odd count is padded with one 0.
    """
    n = flat.size
    full = n - n % blocksize
    absmax = np.empty(-(-n // blocksize), dtype=np.float32)
    packed = np.empty((n + 1) // 2, dtype=np.uint8)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf/NaN: kept, as in bitsandbytes
        # One pass over memory: each cache-sized chunk (a whole number of blocks, since
        # lookup.CHUNK is a multiple of every block size) is reduced, scaled, coded and
        # packed while it is still in the CPU cache.
        for start in range(0, full, lookup.CHUNK):
            stop = min(start + lookup.CHUNK, full)
            blocks = flat[start:stop].reshape(-1, blocksize)
            first = start // blocksize
            block_max = absmax[first : first + blocks.shape[0]]
            block_max[:] = _absmax_rows(blocks)
            scaled = blocks * (np.float32(1) / np.maximum(block_max, np.float32(1e-38)))[:, None]
            packed[start // 2 : stop // 2] = lookup.pack_nibbles(
                lookup.codes_of(scaled.reshape(-1), quant_type)
            )
        if full < n:
            tail = flat[full:]
            absmax[-1] = np.nan if np.isnan(tail).any() else max(np.abs(tail).max(), np.float32(1e-38))
            scaled = np.append(tail / absmax[-1], np.zeros(n % 2, np.float32)).astype(np.float32)
            packed[full // 2 :] = lookup.pack_nibbles(lookup.codes_of(scaled, quant_type))
    return packed, absmax


@dispatch
def quantize_4bit(
    A: Any,
    quant_type: str = "nf4",
    blocksize: int = 64,
    compress_statistics: bool = False,
    *,
    allow_nonfinite: bool = False,
) -> tuple[Any, QuantState]:
    """Quantize ``A`` to packed 4-bit codes (bitsandbytes ``functional.quantize_4bit``).

    Args:
        A: float32/float16/bfloat16 array or tensor of any shape.
        quant_type: "nf4" (default, best for normally distributed weights) or "fp4".
        blocksize: values per absmax block, one of 32, 64, ..., 4096.
        compress_statistics: double quantization of the block scales (QLoRA).
        allow_nonfinite: accept NaN/Inf and treat them exactly as bitsandbytes does
            (a NaN makes its whole block NaN; +-Inf comes back as +Inf and NaNs).

    Returns:
        ``(packed, state)``: uint8 of shape ((n+1)//2, 1) and a :class:`QuantState`.
    """
    func = "quantize_4bit"
    check_4bit_args(quant_type, blocksize, func)
    x, origin = as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
    packed, absmax = quantize_blocks(x.reshape(-1), blocksize, quant_type)
    packed = packed.reshape(-1, 1)
    state = QuantState(absmax, tuple(x.shape), origin.dtype, blocksize, quant_type, get_4bit_code(quant_type))
    if compress_statistics:
        state.offset, state.absmax, state.state2 = double_quantize(absmax)
        restore_fields(state.state2, origin, ("absmax", "code"))
    restore_fields(state, origin, ("absmax", "code", "offset"))
    return restore(packed, origin), state


def double_quantize(
    absmax: np.ndarray, offset: float | None = None
) -> tuple[np.ndarray, np.ndarray, BlockwiseState]:
    """Quantize float32 block scales to 8 bits: returns (offset, uint8 codes, state of the scales).

    ``offset`` defaults to the mean of the scales, rounded as bitsandbytes
    rounds it (see :func:`qlab._arrays.float32_mean`).
    """
    absmax = np.asarray(absmax, dtype=np.float32)
    mean = float32_mean(absmax) if offset is None else np.float32(offset)
    table = create_dynamic_map()
    codes, absmax2 = quantize_blocks_8bit(absmax - mean, table, NESTED_BLOCKSIZE)
    state2 = BlockwiseState(absmax=absmax2, code=table, blocksize=NESTED_BLOCKSIZE, dtype="float32")
    return np.asarray(mean), codes, state2


@dispatch
def dequantize_4bit(A: Any, state: QuantState) -> Any:
    """Undo :func:`quantize_4bit`: ``table[code] · absmax`` in float32, cast to ``state.dtype``."""
    func = "dequantize_4bit"
    if not isinstance(state, QuantState):
        raise TypeError(
            f"{func}: state must be the qlab QuantState returned by quantize_4bit, got {type(state).__name__}"
        )
    check_4bit_args(state.quant_type, state.blocksize, func)
    packed = np.ascontiguousarray(to_numpy(A))
    if packed.dtype != np.uint8:
        raise TypeError(f"{func}: packed codes must be uint8, got {packed.dtype}")
    n = prod(state.shape)
    if packed.size != (n + 1) // 2:
        raise ValueError(f"{func}: shape {state.shape} needs {(n + 1) // 2} packed bytes, got {packed.size}")
    scales = block_scales(state) if state.nested else np.asarray(to_numpy(state.absmax), dtype=np.float32)
    if scales.size != -(-n // state.blocksize):
        raise ValueError(
            f"{func}: {n} values in blocks of {state.blocksize} need {-(-n // state.blocksize)} scales, got {scales.size}"
        )
    out_dtype = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[state.dtype]
    values = np.empty(packed.size * 2, dtype=out_dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN scales are kept, as bitsandbytes keeps them
        lookup.dequantize_into(values, packed.reshape(-1), scales, state.blocksize, state.quant_type)
    return restore(values[:n].reshape(state.shape), output_origin(A, state.dtype))
