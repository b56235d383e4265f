"""The same functions as qlab's numpy code, computed by bitsandbytes' kernels.

:func:`qlab.backend.dispatch` calls these for CUDA tensors, or whenever
``backend="bitsandbytes"`` is passed. Each one converts inputs to torch,
calls ``bitsandbytes.functional``, and converts the state objects to and from
qlab's dataclasses, so the rest of qlab never sees a bitsandbytes type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import _check_dtype, as_float_array, check_finite, is_tensor, to_numpy
from ._bnb import bnb_functional
from .blockwise import BlockwiseState, _check_code
from .fourbit import QuantState, check_4bit_args
from .llm_int8 import _check_threshold

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]


def _torch_input(A: Any, func: str, allow_nonfinite: bool = False) -> torch.Tensor:
    """Validate like the numpy path does, then return a torch tensor (original dtype and device).

    For tensors the checks run on the tensor's own device: copying a GPU tensor
    to the host just to look for NaN would cost more than quantizing it.
    """
    if not is_tensor(A):
        as_float_array(A, func=func, allow_float64=False, allow_nonfinite=allow_nonfinite)
        return torch.from_numpy(np.ascontiguousarray(A))
    _check_dtype(str(A.dtype).removeprefix("torch."), "A", func, allow_float64=False)
    if A.numel() == 0:
        raise ValueError(f"{func}: A is empty (shape {tuple(A.shape)}); there is nothing to quantize")
    if not allow_nonfinite and not bool(torch.isfinite(A).all()):
        check_finite(A.detach().float().cpu().numpy(), func=func)  # raises, with counts and position
    return A


def _to_torch(x: Any, device: Any) -> Any:
    if x is None or is_tensor(x):
        return x if x is None else x.to(device)
    return torch.from_numpy(np.require(to_numpy(x), requirements="C")).to(device)


def _back(x: Any, like: Any) -> Any:
    """Return ``x`` (a torch tensor) as numpy if the caller passed numpy."""
    if x is None or is_tensor(like):
        return x
    return to_numpy(x)


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _from_bnb_blockwise(s: Any, like: Any) -> BlockwiseState:
    state2 = _from_bnb_blockwise(s.state2, like) if s.state2 is not None else None
    return BlockwiseState(
        absmax=_back(s.absmax, like),
        code=_back(s.code, like),
        blocksize=s.blocksize,
        dtype=str(s.dtype).removeprefix("torch."),
        offset=_back(s.offset, like),
        state2=state2,
    )


def _to_bnb_blockwise(s: BlockwiseState, device: Any) -> Any:
    F = bnb_functional()
    state2 = _to_bnb_blockwise(s.state2, device) if s.state2 is not None else None
    return F.QuantState(
        absmax=_to_torch(s.absmax, device),
        code=_to_torch(s.code, device),
        blocksize=s.blocksize,
        dtype=_dtype(s.dtype),
        offset=_to_torch(s.offset, device),
        state2=state2,
    )


def quantize_blockwise(
    A: Any, code: Any = None, blocksize: int = 4096, nested: bool = False, *, allow_nonfinite: bool = False
):
    F = bnb_functional()
    t = _torch_input(A, "quantize_blockwise", allow_nonfinite)
    code_t = None if code is None else _to_torch(_check_code(code), t.device)
    codes, state = F.quantize_blockwise(t, code=code_t, blocksize=blocksize, nested=nested)
    return _back(codes, A), _from_bnb_blockwise(state, A)


def dequantize_blockwise(A: Any, state: BlockwiseState):
    F = bnb_functional()
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    return _back(F.dequantize_blockwise(t, _to_bnb_blockwise(state, t.device)), A)


def quantize_4bit(
    A: Any,
    quant_type: str = "nf4",
    blocksize: int = 64,
    compress_statistics: bool = False,
    *,
    allow_nonfinite: bool = False,
):
    F = bnb_functional()
    check_4bit_args(quant_type, blocksize, "quantize_4bit")
    t = _torch_input(A, "quantize_4bit", allow_nonfinite)
    packed, s = F.quantize_4bit(
        t, blocksize=blocksize, compress_statistics=compress_statistics, quant_type=quant_type
    )
    state = QuantState(
        absmax=_back(s.absmax, A),
        shape=tuple(s.shape),
        dtype=str(s.dtype).removeprefix("torch."),
        blocksize=s.blocksize,
        quant_type=s.quant_type,
        code=_back(s.code, A),
        offset=_back(s.offset, A),
        state2=_from_bnb_blockwise(s.state2, A) if s.state2 is not None else None,
    )
    return _back(packed, A), state


def to_bnb_quant_state(state: QuantState, device: Any = "cpu") -> Any:
    """A ``bitsandbytes.functional.QuantState`` equal to qlab's ``state``."""
    F = bnb_functional()
    return F.QuantState(
        absmax=_to_torch(state.absmax, device),
        shape=torch.Size(state.shape),
        dtype=_dtype(state.dtype),
        blocksize=state.blocksize,
        quant_type=state.quant_type,
        code=_to_torch(state.code, device),
        offset=_to_torch(state.offset, device),
        state2=_to_bnb_blockwise(state.state2, device) if state.state2 is not None else None,
    )


def dequantize_4bit(A: Any, state: QuantState):
    F = bnb_functional()
    check_4bit_args(state.quant_type, state.blocksize, "dequantize_4bit")
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    return _back(F.dequantize_4bit(t, to_bnb_quant_state(state, t.device)), A)


def int8_vectorwise_quant(A: Any, threshold: float = 0.0):
    F = bnb_functional()
    threshold = _check_threshold(threshold, "int8_vectorwise_quant")
    t = _torch_input(A, "int8_vectorwise_quant")
    if t.is_cuda and t.dtype != torch.float16:
        t = t.half()  # bitsandbytes' CUDA kernel takes float16 only
    codes, stats, cols = F.int8_vectorwise_quant(t.clone(), threshold=threshold)  # bnb writes into A
    return _back(codes, A), _back(stats, A), _back(cols, A)


def int8_vectorwise_dequant(A: Any, row_stats: Any):
    F = bnb_functional()
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    return _back(F.int8_vectorwise_dequant(t, _to_torch(row_stats, t.device)), A)


def llm_int8_matmul(X: Any, W: Any, threshold: float = 6.0):
    """bitsandbytes' kernels for the same decomposition (float outlier columns, int8 rest)."""
    F = bnb_functional()
    threshold = _check_threshold(threshold, "llm_int8_matmul")
    x = _torch_input(X, "llm_int8_matmul")
    w = _to_torch(W, x.device).to(x.dtype)
    x2 = x.reshape(-1, x.shape[-1])
    if x2.is_cuda and x2.dtype != torch.float16:  # bitsandbytes' CUDA int8 kernels take float16 only
        x2, w = x2.half(), w.half()
    cx, sx, cols = F.int8_vectorwise_quant(x2.clone(), threshold=threshold)
    cw, sw, _ = F.int8_vectorwise_quant(w.clone())
    acc = F.int8_linear_matmul(cx, cw)  # int32
    out = torch.ops.bitsandbytes.int8_mm_dequant(acc, sx, sw, torch.float32)
    if cols is not None and cols.numel():
        out += x2[:, cols].float() @ w[:, cols].float().T
    return _back(out.to(X.dtype if is_tensor(X) else x.dtype).reshape(*x.shape[:-1], w.shape[0]), X)
