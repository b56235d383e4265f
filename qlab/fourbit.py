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

The signatures are bitsandbytes 0.50's, defaults included:
``quantize_4bit(A, absmax=None, out=None, blocksize=None, compress_statistics=False,
quant_type="fp4", quant_storage=torch.uint8)``. Note the default ``quant_type`` is
**"fp4"** (bitsandbytes' choice), not NF4: pass ``quant_type="nf4"`` explicitly.
``blocksize=None`` means 64. ``quant_storage`` (uint8, float16, bfloat16 or
float32) only changes how the packed bytes are *viewed* (``Linear4bit`` stores
them in the model's dtype for FSDP); the bytes themselves are the same.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from . import lookup
from ._arrays import (
    as_float_array,
    check_choice,
    dtype_name,
    float32_mean,
    is_tensor,
    numpy_dtype,
    output_origin,
    restore,
    restore_fields,
    state_dtype,
    storage_dtype_name,
    to_numpy,
    write_out,
)
from .backend import dispatch
from .blockwise import QuantState, block_scales, check_state, quantize_blocks_8bit
from .codebooks import dynamic_map_values, get_4bit_type

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]

BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
"""Block sizes bitsandbytes accepts for 4-bit quantization."""
QUANT_TYPES = ("nf4", "fp4")
NESTED_BLOCKSIZE = 256  # double quantization: block scales are quantized 256 at a time
DEFAULT_BLOCKSIZE = 64  # what blocksize=None means, as in bitsandbytes
_UINT8: Any = torch.uint8 if torch is not None else np.uint8

__all__ = [
    "BLOCKSIZES",
    "QUANT_TYPES",
    "QuantState",
    "dequantize_4bit",
    "dequantize_fp4",
    "dequantize_nf4",
    "quantize_4bit",
    "quantize_fp4",
    "quantize_nf4",
]


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


def _view_storage(packed: np.ndarray, storage: str, func: str) -> np.ndarray:
    """The packed bytes viewed as ``storage`` (bitsandbytes' quant_storage), shape (k, 1)."""
    if storage == "uint8":
        return packed.reshape(-1, 1)
    itemsize = numpy_dtype(storage).itemsize
    if packed.size % itemsize:
        raise ValueError(
            f"{func}: {packed.size} packed bytes cannot be viewed as {storage} ({itemsize} bytes each); "
            f"the number of values must be a multiple of {2 * itemsize} for quant_storage={storage}"
        )
    return packed.view(numpy_dtype(storage)).reshape(-1, 1)


@dispatch
def quantize_4bit(
    A: Any,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    compress_statistics: bool = False,
    quant_type: str = "fp4",
    quant_storage: Any = _UINT8,
    *,
    allow_nonfinite: bool = False,
) -> tuple[Any, QuantState]:
    """Quantize ``A`` to packed 4-bit codes (bitsandbytes ``functional.quantize_4bit``, same signature).

    Args:
        A: float32/float16/bfloat16 array or tensor of any shape.
        absmax: optional preallocated float32 array/tensor that receives the block
            scales (with ``compress_statistics``, their 8-bit codes).
        out: optional preallocated array/tensor that receives the packed codes.
        blocksize: values per absmax block, one of 32, 64, ..., 4096; None means 64.
        compress_statistics: double quantization of the block scales (QLoRA).
        quant_type: "fp4" (bitsandbytes' default) or "nf4" (best for normally
            distributed weights; what QLoRA uses): pass it explicitly.
        quant_storage: dtype the packed bytes are viewed as: uint8 (default),
            float16, bfloat16 or float32 (torch or numpy dtype).
        allow_nonfinite: (qlab, keyword-only) accept NaN/Inf and treat them
            exactly as bitsandbytes does (a NaN makes its whole block NaN; +-Inf
            comes back as +Inf and NaNs).

    Returns:
        ``(packed, state)``: shape ((n+1)//2 / itemsize, 1) in ``quant_storage``,
        and a :class:`QuantState`.
    """
    func = "quantize_4bit"
    blocksize = DEFAULT_BLOCKSIZE if blocksize is None else blocksize
    check_4bit_args(quant_type, blocksize, func)
    storage = storage_dtype_name(quant_storage, func)
    x, origin = as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
    packed, scales = quantize_blocks(x.reshape(-1), blocksize, quant_type)
    packed = _view_storage(packed, storage, func)
    shape = torch.Size(x.shape) if origin.is_torch else tuple(x.shape)
    state = QuantState(
        absmax=scales,
        shape=shape,
        code=to_numpy(get_4bit_type(quant_type)).astype(np.float32),  # bitsandbytes' table
        blocksize=blocksize,
        quant_type=quant_type,
        dtype=state_dtype(origin.dtype, origin.is_torch),
    )
    if compress_statistics:
        state.offset, state.absmax, state.state2 = double_quantize(scales)
        state.state2.dtype = state_dtype("float32", origin.is_torch)
        restore_fields(state.state2, origin, ("absmax", "code"))
    restore_fields(state, origin, ("absmax", "code", "offset"))
    result = restore(packed, origin)
    if out is not None:
        result = write_out(out, result, name="out", func=func)
    if absmax is not None:
        state.absmax = write_out(absmax, state.absmax, name="absmax", func=func)
    return result, state


def double_quantize(
    absmax: np.ndarray, offset: float | None = None
) -> tuple[np.ndarray, np.ndarray, QuantState]:
    """Quantize float32 block scales to 8 bits: returns (offset, uint8 codes, state of the scales).

    ``offset`` defaults to the mean of the scales, rounded as bitsandbytes
    rounds it (see :func:`qlab._arrays.float32_mean`).
    """
    absmax = np.asarray(absmax, dtype=np.float32)
    mean = float32_mean(absmax) if offset is None else np.float32(offset)
    table = dynamic_map_values()
    codes, absmax2 = quantize_blocks_8bit(absmax - mean, table, NESTED_BLOCKSIZE)
    state2 = QuantState(absmax=absmax2, code=table, blocksize=NESTED_BLOCKSIZE, dtype=np.dtype("float32"))
    return np.asarray(mean), codes, state2


_PACKED_DTYPES = ("uint8", "int8", "float16", "bfloat16", "float32")


def _packed_bytes(A: Any, func: str) -> np.ndarray:
    """The packed codes as flat uint8 bytes, whatever ``quant_storage`` they are viewed as."""
    packed = np.ascontiguousarray(to_numpy(A))
    name = dtype_name(packed.dtype)
    if name not in _PACKED_DTYPES:
        raise TypeError(
            f"{func}: packed codes must be uint8 (or the quant_storage dtype float16, bfloat16, float32), "
            f"got {name}"
        )
    return packed.reshape(-1).view(np.uint8)


@dispatch
def dequantize_4bit(
    A: Any,
    quant_state: Any = None,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    quant_type: str = "fp4",
) -> Any:
    """Undo :func:`quantize_4bit` (bitsandbytes ``functional.dequantize_4bit``, same signature).

    ``table[code] · absmax`` in float32, rounded to the original dtype.

    Either pass ``quant_state`` (qlab's or bitsandbytes'; ``absmax``,
    ``blocksize`` and ``quant_type`` are then ignored), or the state-free form:
    ``absmax=`` (float32 scale per block), ``out=`` (a preallocated array/tensor
    whose shape and dtype say what to produce), ``blocksize=`` (None: 64) and
    ``quant_type=`` (default "fp4", as in bitsandbytes). The packed codes may be
    in any ``quant_storage`` dtype. With ``out`` the result is written there and
    ``out`` is returned. Packed codes in bitsandbytes' transposed form ``(1, k)``
    come back transposed (``out.t()``), as bitsandbytes returns them.
    """
    func = "dequantize_4bit"
    blocksize = DEFAULT_BLOCKSIZE if blocksize is None else blocksize
    if quant_state is None:
        if absmax is None or out is None:
            raise ValueError(
                f"{func}: pass quant_state (from quantize_4bit), or both absmax= (one float32 scale per block) "
                "and out= (an array of the original shape and dtype), with blocksize= and quant_type="
            )
        shape, dtype, scales_of = tuple(out.shape), dtype_name(out.dtype), None
    else:
        check_state(quant_state, func, ("absmax", "shape", "dtype", "blocksize", "quant_type"))
        blocksize, quant_type = quant_state.blocksize, quant_state.quant_type
        shape, dtype, scales_of = tuple(quant_state.shape), dtype_name(quant_state.dtype), quant_state
    check_4bit_args(quant_type, blocksize, func)
    check_choice(dtype, name="dtype", func=func, choices=("float32", "float16", "bfloat16"))
    packed = _packed_bytes(A, func)
    n = prod(shape)
    if packed.size != (n + 1) // 2:
        raise ValueError(f"{func}: shape {shape} needs {(n + 1) // 2} packed bytes, got {packed.size}")
    if scales_of is None:
        scales = np.asarray(to_numpy(absmax), dtype=np.float32).reshape(-1)
    elif getattr(scales_of, "state2", None) is not None:
        scales = block_scales(scales_of)
    else:
        scales = np.asarray(to_numpy(scales_of.absmax), dtype=np.float32).reshape(-1)
    if scales.size != -(-n // blocksize):
        raise ValueError(
            f"{func}: {n} values in blocks of {blocksize} need {-(-n // blocksize)} scales, got {scales.size}"
        )
    values = np.empty(packed.size * 2, dtype=numpy_dtype(dtype))
    with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN scales are kept, as bitsandbytes keeps them
        lookup.dequantize_into(values, packed, scales, blocksize, quant_type)
    result = restore(values[:n].reshape(shape), output_origin(A, dtype))
    if out is not None:
        if dtype_name(out.dtype) != dtype:
            raise ValueError(f"{func}: out= has dtype {dtype_name(out.dtype)}, the state's dtype is {dtype}")
        result = write_out(out, result, name="out", func=func)
    if _transposed_form(A) and getattr(result, "ndim", 0) == 2:
        result = result.t() if is_tensor(result) else result.T
    return result


def _transposed_form(A: Any) -> bool:
    """bitsandbytes' packed weight in the old transposed layout ``(1, k)`` with k > 1."""
    shape = tuple(A.shape)
    return len(shape) == 2 and shape[0] == 1 and shape[1] > 1


def quantize_nf4(
    A: Any,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    compress_statistics: bool = False,
    quant_storage: Any = _UINT8,
    **kwargs: Any,
) -> tuple[Any, QuantState]:
    """:func:`quantize_4bit` with ``quant_type="nf4"`` (bitsandbytes ``functional.quantize_nf4``)."""
    return quantize_4bit(A, absmax, out, blocksize, compress_statistics, "nf4", quant_storage, **kwargs)


def quantize_fp4(
    A: Any,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    compress_statistics: bool = False,
    quant_storage: Any = _UINT8,
    **kwargs: Any,
) -> tuple[Any, QuantState]:
    """:func:`quantize_4bit` with ``quant_type="fp4"`` (bitsandbytes ``functional.quantize_fp4``)."""
    return quantize_4bit(A, absmax, out, blocksize, compress_statistics, "fp4", quant_storage, **kwargs)


def dequantize_nf4(
    A: Any,
    quant_state: Any = None,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    **kwargs: Any,
) -> Any:
    """:func:`dequantize_4bit` with ``quant_type="nf4"`` (bitsandbytes ``functional.dequantize_nf4``)."""
    return dequantize_4bit(A, quant_state, absmax, out, blocksize, "nf4", **kwargs)


def dequantize_fp4(
    A: Any,
    quant_state: Any = None,
    absmax: Any = None,
    out: Any = None,
    blocksize: int | None = None,
    **kwargs: Any,
) -> Any:
    """:func:`dequantize_4bit` with ``quant_type="fp4"`` (bitsandbytes ``functional.dequantize_fp4``)."""
    return dequantize_4bit(A, quant_state, absmax, out, blocksize, "fp4", **kwargs)
