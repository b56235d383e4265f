"""Input checking and numpy <-> torch conversion shared by every qlab module.

Learners call qlab with numpy arrays or torch tensors. Every public function
turns its input into a float32 numpy array here, checks it once, and hands the
result back in the caller's type with :func:`restore`. Keeping this in one
place means every module raises the same clear errors for the same mistakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # torch is optional for the numpy path
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    torch = None  # type: ignore[assignment]

import ml_dtypes

FLOAT_DTYPES = ("float32", "float16", "bfloat16")
"""Input dtypes the bitsandbytes-compatible functions accept (as bitsandbytes does)."""


@dataclass(frozen=True)
class Origin:
    """Where an array came from, so results can be returned in the same form."""

    is_torch: bool
    dtype: str  # "float32", "float16", "bfloat16" or "float64"
    device: Any = None  # torch.device for tensors

    @property
    def is_cuda(self) -> bool:
        return self.is_torch and getattr(self.device, "type", "cpu") == "cuda"


def is_tensor(x: Any) -> bool:
    return torch is not None and isinstance(x, torch.Tensor)


def _dtype_name(x: Any) -> str:
    if is_tensor(x):
        return str(x.dtype).removeprefix("torch.")
    return np.asarray(x).dtype.name if not hasattr(x, "dtype") else np.dtype(x.dtype).name


def as_float_array(
    A: Any,
    *,
    name: str = "A",
    func: str = "qlab",
    allow_float64: bool = True,
    allow_nonfinite: bool = False,
    allow_empty: bool = False,
) -> tuple[np.ndarray, Origin]:
    """Return ``A`` as a C-contiguous float32 numpy array plus its :class:`Origin`.

    Raises ``TypeError`` for non-float dtypes and ``ValueError`` for empty input
    or NaN/Inf (unless ``allow_nonfinite``), each saying what was wrong and what
    is allowed. Strided and negative-stride views are copied to contiguous memory.
    """
    if is_tensor(A):
        dtype = _dtype_name(A)
        origin = Origin(True, dtype, A.device)
        _check_dtype(dtype, name, func, allow_float64)
        t = A.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype in (torch.bfloat16, torch.float16):
            # widen in torch: exact, and much faster than numpy's float16 conversion
            # (numpy has no bfloat16 at all)
            t = t.float()
        arr = t.contiguous().numpy()
    else:
        if isinstance(A, (str, bytes)) or A is None:
            raise TypeError(
                f"{func}: {name} must be a numpy array or torch tensor of floats, got {type(A).__name__}"
            )
        arr = np.asarray(A)
        dtype = arr.dtype.name
        _check_dtype(dtype, name, func, allow_float64)
        origin = Origin(False, dtype)
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{func}: {name} is empty (shape {tuple(arr.shape)}); there is nothing to quantize")
    if arr.dtype == np.float16 and torch is not None:
        arr = torch.from_numpy(np.ascontiguousarray(arr)).float().numpy()  # exact; faster than numpy
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not allow_nonfinite:
        check_finite(arr, name=name, func=func)
    return arr, origin


def _check_dtype(dtype: str, name: str, func: str, allow_float64: bool) -> None:
    allowed = FLOAT_DTYPES + (("float64",) if allow_float64 else ())
    if dtype not in allowed:
        raise TypeError(
            f"{func}: {name} has dtype {dtype}; expected a floating-point array ({', '.join(allowed)}). "
            f"Convert first, e.g. {name}.astype(np.float32) or {name}.float()."
        )


def check_finite(arr: np.ndarray, *, name: str = "A", func: str = "qlab") -> None:
    """Raise ``ValueError`` naming how many NaN/Inf values ``arr`` holds and where the first is."""
    finite = np.isfinite(arr)
    if finite.all():
        return
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(arr.size - finite.sum() - n_nan)
    first = tuple(int(i) for i in np.argwhere(~finite)[0])
    raise ValueError(
        f"{func}: {name} contains {n_nan} NaN and {n_inf} Inf value(s), the first at index {first}. "
        "A quantization scale is computed from max|x|, so one non-finite value ruins its whole block. "
        "Clean the input, or pass allow_nonfinite=True to reproduce bitsandbytes' behaviour exactly."
    )


def check_int(value: Any, *, name: str, func: str, low: int, high: int | None = None) -> int:
    """Check that ``value`` is a whole number in [low, high] and return it as int."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{func}: {name} must be >= {low}{upper}, got {value}")
    return value


def check_choice(value: Any, *, name: str, func: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{func}: unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def restore(arr: np.ndarray, origin: Origin, *, float_dtype: str | None = None) -> Any:
    """Return ``arr`` in the caller's type: a torch tensor on its device, or numpy.

    ``float_dtype`` casts floating results (round-to-nearest-even, like torch's
    ``.to``) to that dtype; integer code arrays keep their own dtype.
    """
    if float_dtype in ("float16", "bfloat16") and torch is not None and arr.dtype == np.float32:
        # round to the half-precision dtype in torch: same rounding (to nearest even),
        # several times faster than numpy's float16 conversion
        t = torch.from_numpy(np.require(arr, requirements="C")).to(getattr(torch, float_dtype))
        if origin.is_torch:
            return t.to(origin.device) if origin.device is not None and origin.device.type != "cpu" else t
        return to_numpy(t)
    if float_dtype is not None and float_dtype != "float32":
        arr = arr.astype(ml_dtypes.bfloat16 if float_dtype == "bfloat16" else np.dtype(float_dtype))
    if not origin.is_torch:
        return arr
    arr = np.require(arr, requirements="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
    if arr.dtype == ml_dtypes.bfloat16:
        t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
    else:
        t = torch.from_numpy(arr)
    return t.to(origin.device) if origin.device is not None and origin.device.type != "cpu" else t


def to_numpy(x: Any) -> np.ndarray:
    """Any array-like (torch tensor on any device included) as a numpy array; bf16 becomes ml_dtypes.bfloat16."""
    if is_tensor(x):
        t = x.detach().cpu()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        return t.numpy()
    return np.asarray(x)


def output_origin(like: Any, dtype: str) -> Origin:
    """An :class:`Origin` for results that follow ``like``'s type and device but have ``dtype``."""
    if is_tensor(like):
        return Origin(True, dtype, like.device)
    return Origin(False, dtype)


def restore_fields(obj: Any, origin: Origin, fields: tuple[str, ...]) -> None:
    """Convert the named numpy-array fields of a (state) object, in place, to the caller's type."""
    for field in fields:
        value = getattr(obj, field)
        if isinstance(value, (np.ndarray, np.generic)):
            setattr(obj, field, restore(np.asarray(value), origin))


def float32_mean(x: np.ndarray) -> np.float32:
    """Mean of float32 values, rounded the way bitsandbytes gets it (torch's float32 reduction).

    Double quantization subtracts this mean from the block scales, and a one-ulp
    difference in it can flip an 8-bit code, so to match bitsandbytes bit for bit
    qlab asks torch for this single number when torch is installed; without
    torch it falls back to the float64 mean rounded to float32.
    """
    if torch is not None:
        return np.float32(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).mean().item())
    return np.float32(np.asarray(x, dtype=np.float64).mean())


STORAGE_DTYPES = ("uint8", "float16", "bfloat16", "float32")
"""dtypes in which packed 4-bit bytes may be stored (bitsandbytes' ``quant_storage``)."""


def dtype_name(dtype: Any) -> str:
    """The name ("float32", "bfloat16", ...) of a torch dtype, numpy dtype or type, or a name.

    States hold torch dtypes for torch inputs (as bitsandbytes does) and numpy
    dtypes for numpy inputs; code that reads them compares names.
    """
    if dtype is None:
        raise ValueError("the state has no dtype")
    if isinstance(dtype, str):
        return dtype.removeprefix("torch.")
    if torch is not None and isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    return np.dtype(dtype).name


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for a float or storage dtype name (bfloat16 from ml_dtypes)."""
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def state_dtype(name: str, like_torch: bool) -> Any:
    """The dtype object a state stores: ``torch.<name>`` for torch inputs, a numpy dtype otherwise."""
    if like_torch and torch is not None:
        return getattr(torch, name)
    return numpy_dtype(name)


def storage_dtype_name(quant_storage: Any, func: str) -> str:
    """Validate ``quant_storage`` (torch dtype, numpy dtype or name) and return its name."""
    try:
        name = dtype_name(quant_storage)
    except TypeError:
        name = repr(quant_storage)
    if name not in STORAGE_DTYPES:
        raise ValueError(
            f"{func}: quant_storage must be one of {', '.join(STORAGE_DTYPES)} (torch or numpy dtype), "
            f"got {quant_storage!r}"
        )
    return name


def write_out(out: Any, value: Any, *, name: str, func: str) -> Any:
    """Copy ``value`` into the caller's preallocated ``out`` (numpy array or tensor) and return ``out``."""
    if is_tensor(out):
        src = value if is_tensor(value) else torch.from_numpy(np.require(to_numpy(value), requirements="C"))
        if tuple(src.shape) != tuple(out.shape) and src.numel() == out.numel():
            src = src.reshape(out.shape)
        try:
            out.copy_(src)
        except RuntimeError as exc:
            raise ValueError(
                f"{func}: {name}= has shape {tuple(out.shape)}, the result has shape {tuple(src.shape)}"
            ) from exc
        return out
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: {name}= must be a numpy array or torch tensor, got {type(out).__name__}")
    src = to_numpy(value)
    if src.shape != out.shape and src.size == out.size:
        src = src.reshape(out.shape)
    if src.shape != out.shape:
        raise ValueError(f"{func}: {name}= has shape {out.shape}, the result has shape {src.shape}")
    np.copyto(out, src, casting="unsafe" if out.dtype == src.dtype else "same_kind")
    return out
