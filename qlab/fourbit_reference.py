"""The 4-bit quantizer in a dozen readable lines: what :func:`qlab.quantize_4bit` computes, slowly.

:mod:`qlab.fourbit` is fast (one fused pass over memory and a float-bits lookup
table, :mod:`qlab.lookup`), which makes it hard to read. This module is the same
algorithm written for reading — NF4/FP4 blockwise quantization as in QLoRA
(Dettmers et al. 2023, arXiv:2305.14314) and bitsandbytes — and the tests
check that both give identical bytes on real weights. Three details are
**bitsandbytes quirks** that qlab reproduces on purpose, marked ``QUIRK``
below: they change a few codes or scales, not the idea.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlab._arrays import as_float_array
from qlab.codebooks import get_4bit_code

__all__ = ["quantize_4bit_reference"]


def quantize_4bit_reference(
    A: Any, quant_type: str = "nf4", blocksize: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """``(packed uint8 of shape ((n + 1) // 2, 1), absmax float32 per block)``, as ``qlab.quantize_4bit``."""
    x = as_float_array(A, name="A", func="quantize_4bit_reference")[0].astype(np.float32).ravel()
    code = np.asarray(get_4bit_code(quant_type), dtype=np.float32)  # 16 values in [-1, 1]
    order = np.argsort(code, kind="stable")  # table positions by value
    ordered = code[order]
    midpoints = (ordered[:-1] + ordered[1:]) / np.float32(2)

    n_blocks = -(-x.size // blocksize)
    blocks = [x[i * blocksize : (i + 1) * blocksize] for i in range(n_blocks)]
    absmax = np.array([np.abs(b).max() for b in blocks], dtype=np.float32)
    scaled = []
    for i, b in enumerate(blocks):
        safe = max(absmax[i], np.float32(1e-38))
        if b.size == blocksize:
            s = b * (np.float32(1) / safe)  # QUIRK: full blocks multiply by the reciprocal ...
        else:
            s = b / safe  # ... the shorter last block divides (a different rounding)
            absmax[i] = safe  # QUIRK: and stores its absmax clamped to >= 1e-38
        scaled.append(np.clip(s, -1, 1))
    s = np.concatenate(scaled)

    # nearest table value: count the midpoints strictly below s (an exact tie goes down)
    index = order[np.searchsorted(midpoints, s, side="left")]
    if quant_type == "fp4":
        index = np.where(s == 0, 0, index)  # QUIRK: FP4 has +0 (index 0) and -0 (index 8); 0 -> +0
    if index.size % 2:  # an odd count is padded with the code of 0.0
        index = np.append(index, int(np.argmin(np.abs(code))))
    packed = (index[0::2] << 4) | index[1::2]  # the first of two codes goes in the HIGH nibble
    return packed.astype(np.uint8).reshape(-1, 1), absmax
