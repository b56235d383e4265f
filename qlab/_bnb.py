"""Importing bitsandbytes quietly.

bitsandbytes 0.50 logs "Failed to load CPU gemm_4bit_forward from kernels-community"
on import when the optional ``kernels`` package is missing. That line is harmless,
but it would land in notebook outputs and differ between machines, so qlab
silences the bitsandbytes logger before the first import. (Never install
``kernels`` for this course: it downloads code from a model hub.)
"""

from __future__ import annotations

import logging
from types import ModuleType


def import_bnb() -> ModuleType:
    """Return the ``bitsandbytes`` module, imported with its logger silenced."""
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        import bitsandbytes
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "This needs bitsandbytes (pip install bitsandbytes==0.50.2, see requirements.txt)."
        ) from exc
    return bitsandbytes


def bnb_functional() -> ModuleType:
    """``bitsandbytes.functional``, imported quietly."""
    import_bnb()
    import bitsandbytes.functional as F

    return F
