"""Who does the arithmetic: qlab's readable numpy code, or bitsandbytes' kernels.

Every bitsandbytes-compatible function in qlab (``quantize_4bit``,
``quantize_blockwise``, ``int8_vectorwise_quant``, ...) is written once, in
numpy, and decorated with :func:`dispatch`. The decorator adds a ``backend``
keyword and is the single place where qlab decides where the work runs:

* ``backend="auto"`` (default): CUDA tensors go to bitsandbytes' CUDA kernels
  (numpy cannot touch GPU memory); numpy arrays and CPU tensors run qlab's numpy
  code, which is bit-exact with bitsandbytes on CPU.
* ``backend="numpy"``: always qlab's code (a CUDA tensor is copied to the CPU and
  the result copied back).
* ``backend="bitsandbytes"``: always bitsandbytes, also on CPU. Handy to compare
  the two, and it is what the parity tests do.

The bitsandbytes versions live in :mod:`qlab._bnb_ops`, under the same names;
they receive every argument by keyword (bound against the numpy function's
signature, so positional calls work the same on both backends).

The decorated function keeps bitsandbytes' signature, with qlab's extras
(``backend=``, ``allow_nonfinite=``) keyword-only at the end, so
``inspect.signature`` shows what a learner can call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ._arrays import check_choice, is_tensor

BACKENDS = ("auto", "numpy", "bitsandbytes")

F = TypeVar("F", bound=Callable[..., Any])


def resolve_backend(A: Any, backend: str) -> str:
    """Return "numpy" or "bitsandbytes" for input ``A`` and the requested ``backend``."""
    check_choice(backend, name="backend", func="qlab", choices=BACKENDS)
    if backend != "auto":
        return backend
    return "bitsandbytes" if is_tensor(A) and A.device.type == "cuda" else "numpy"


def dispatch(func: F) -> F:
    """Add a ``backend=`` keyword to ``func`` and route calls to the chosen implementation."""

    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(A: Any, *args: Any, backend: str = "auto", **kwargs: Any) -> Any:
        if resolve_backend(A, backend) == "bitsandbytes":
            from . import _bnb_ops

            try:
                bound = signature.bind(A, *args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{func.__name__}(): {exc}") from None
            bound.apply_defaults()
            return getattr(_bnb_ops, func.__name__)(**bound.arguments)
        return func(A, *args, **kwargs)

    params = list(signature.parameters.values())
    extra = inspect.Parameter("backend", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation="str")
    wrapper.__signature__ = signature.replace(parameters=[*params, extra])  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
