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

The bitsandbytes versions live in :mod:`qlab._bnb_ops`, under the same names.
"""

from __future__ import annotations

import functools
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

    @functools.wraps(func)
    def wrapper(A: Any, *args: Any, backend: str = "auto", **kwargs: Any) -> Any:
        if resolve_backend(A, backend) == "bitsandbytes":
            from . import _bnb_ops

            return getattr(_bnb_ops, func.__name__)(A, *args, **kwargs)
        return func(A, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
