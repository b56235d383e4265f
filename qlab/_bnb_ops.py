"""The same functions as qlab's numpy code, computed by bitsandbytes' kernels.

:func:`qlab.backend.dispatch` calls these for CUDA tensors, or whenever
``backend="bitsandbytes"`` is passed. Each one converts inputs to torch,
calls ``bitsandbytes.functional``, and converts the state objects to and from
qlab's :class:`~qlab.blockwise.QuantState`, so the rest of qlab never sees a
bitsandbytes type. :func:`qlab.backend.dispatch` passes every argument by keyword.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._arrays import (
    _check_dtype,
    as_float_array,
    check_finite,
    dtype_name,
    is_tensor,
    state_dtype,
    storage_dtype_name,
    to_numpy,
    write_out,
)
from ._bnb import bnb_functional
from .blockwise import QuantState, _check_code
from .fourbit import DEFAULT_BLOCKSIZE, check_4bit_args
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


def _torch_dtype(d: Any) -> torch.dtype:
    return getattr(torch, dtype_name(d))


def from_bnb_state(s: Any, like: Any) -> QuantState:
    """qlab's QuantState from a bitsandbytes one (numpy fields if ``like`` is numpy)."""
    as_torch = is_tensor(like)
    return QuantState(
        absmax=_back(s.absmax, like),
        shape=None if s.shape is None else (torch.Size(s.shape) if as_torch else tuple(s.shape)),
        code=_back(s.code, like),
        blocksize=s.blocksize,
        quant_type=s.quant_type,
        dtype=state_dtype(dtype_name(s.dtype), as_torch),
        offset=_back(s.offset, like),
        state2=from_bnb_state(s.state2, like) if s.state2 is not None else None,
    )


def to_bnb_quant_state(state: Any, device: Any = "cpu") -> Any:
    """A ``bitsandbytes.functional.QuantState`` equal to ``state`` (qlab's or bitsandbytes')."""
    F = bnb_functional()
    return F.QuantState(
        absmax=_to_torch(state.absmax, device),
        shape=None if state.shape is None else torch.Size(state.shape),
        code=_to_torch(state.code, device),
        blocksize=state.blocksize,
        quant_type=state.quant_type,
        dtype=_torch_dtype(state.dtype),
        offset=_to_torch(state.offset, device),
        state2=to_bnb_quant_state(state.state2, device) if state.state2 is not None else None,
    )


def _finish(result: Any, out: Any, func: str) -> Any:
    return result if out is None else write_out(out, result, name="out", func=func)


def quantize_blockwise(A, code, absmax, out, blocksize, nested, allow_nonfinite):
    F = bnb_functional()
    t = _torch_input(A, "quantize_blockwise", allow_nonfinite)
    code_t = None if code is None else _to_torch(_check_code(code), t.device)
    codes, s = F.quantize_blockwise(t, code=code_t, blocksize=blocksize, nested=nested)
    state = from_bnb_state(s, A)
    if absmax is not None:
        state.absmax = write_out(absmax, state.absmax, name="absmax", func="quantize_blockwise")
    return _finish(_back(codes, A), out, "quantize_blockwise"), state


def dequantize_blockwise(A, quant_state, absmax, code, out, blocksize, nested):
    F = bnb_functional()
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    if quant_state is None:
        if absmax is None:
            raise ValueError("dequantize_blockwise: pass quant_state, or absmax= with code= and blocksize=")
        code_t = None if code is None else _to_torch(_check_code(code, "dequantize_blockwise"), t.device)
        values = F.dequantize_blockwise(
            t, absmax=_to_torch(absmax, t.device), code=code_t, blocksize=blocksize
        )
    else:
        values = F.dequantize_blockwise(t, to_bnb_quant_state(quant_state, t.device))
    return _finish(_back(values, A), out, "dequantize_blockwise")


def quantize_4bit(A, absmax, out, blocksize, compress_statistics, quant_type, quant_storage, allow_nonfinite):
    F = bnb_functional()
    func = "quantize_4bit"
    blocksize = DEFAULT_BLOCKSIZE if blocksize is None else blocksize
    check_4bit_args(quant_type, blocksize, func)
    storage = getattr(torch, storage_dtype_name(quant_storage, func))
    t = _torch_input(A, func, allow_nonfinite)
    packed, s = F.quantize_4bit(
        t,
        blocksize=blocksize,
        compress_statistics=compress_statistics,
        quant_type=quant_type,
        quant_storage=storage,
    )
    state = from_bnb_state(s, A)
    if absmax is not None:
        state.absmax = write_out(absmax, state.absmax, name="absmax", func=func)
    return _finish(_back(packed, A), out, func), state


def dequantize_4bit(A, quant_state, absmax, out, blocksize, quant_type):
    F = bnb_functional()
    func = "dequantize_4bit"
    blocksize = DEFAULT_BLOCKSIZE if blocksize is None else blocksize
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    if quant_state is None:
        if absmax is None or out is None:
            raise ValueError(f"{func}: pass quant_state, or both absmax= and out=")
        quant_state = QuantState(
            absmax=absmax,
            shape=tuple(out.shape),
            blocksize=blocksize,
            quant_type=quant_type,
            dtype=dtype_name(out.dtype),
        )
    check_4bit_args(quant_state.quant_type, quant_state.blocksize, func)
    # bitsandbytes' CPU kernel has no out= (NotImplementedError): compute, then copy
    return _finish(_back(F.dequantize_4bit(t, to_bnb_quant_state(quant_state, t.device)), A), out, func)


def int8_vectorwise_quant(A: Any, threshold: float = 0.0):
    F = bnb_functional()
    threshold = _check_threshold(threshold, "int8_vectorwise_quant")
    t = _torch_input(A, "int8_vectorwise_quant")
    if t.is_cuda and t.dtype != torch.float16:
        t = t.half()  # bitsandbytes' CUDA kernel takes float16 only
    codes, stats, cols = F.int8_vectorwise_quant(t.clone(), threshold=threshold)  # bnb writes into A
    return _back(codes, A), _back(stats, A), _back(cols, A)


def int8_vectorwise_dequant(A: Any, stats: Any):
    F = bnb_functional()
    t = _to_torch(A, A.device if is_tensor(A) else "cpu")
    return _back(F.int8_vectorwise_dequant(t, _to_torch(stats, t.device)), A)


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
