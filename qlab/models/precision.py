"""Run a float32 model in float64 for a while, so that its results do not depend on the CPU.

A float32 matrix product adds its terms in an order chosen by the BLAS library for *this* CPU: Intel's
MKL, for one, takes AVX-512 kernels on an Intel Xeon and AVX2 kernels on an AMD EPYC. The sums then differ
in their last bits (about 1e-7 relative). Most results never notice. Two kinds of computation in this
course do, because they *round* values computed by the model:

- simulated activation quantization (lesson 05): each token's int8 codes depend on where its values fall
  between two grid points, and a value within 1e-7 of a boundary lands on the other side on another CPU;
  every changed code changes the next layer's inputs, and the change spreads;
- GPTQ (lesson 08): its rounding decisions follow from ``H = 2XᵀX/n``, built from captured inputs; one
  decision that flips changes the error pushed onto every later column of that row.

In float64 the CPU-to-CPU differences are about 1e-16, far too small to move a value across a rounding
boundary, so these lessons print the same numbers on every machine. float32 → float64 → float32 is exact,
so the model is bit-for-bit unchanged after the block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` as float32, unless it is float64 already (computed inside :func:`in_float64`): then it stays."""
    return t if t.dtype == torch.float64 else t.float()


@contextlib.contextmanager
def in_float64(model: nn.Module) -> Iterator[nn.Module]:
    """Inside the ``with`` block every parameter and buffer of ``model`` is float64; afterwards float32 again.

    Inputs such as ``input_ids`` need no change; float inputs must be float64 inside the block.
    Raises ``TypeError`` unless every floating-point tensor of the model is float32 (a float16 or bfloat16
    model would not come back exactly, and a float64 one needs no help).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"in_float64: expected a torch.nn.Module, got {type(model).__name__}")
    tensors = [*model.parameters(), *model.buffers()]
    other = sorted({str(t.dtype) for t in tensors if t.is_floating_point() and t.dtype != torch.float32})
    if other:
        raise TypeError(
            f"in_float64: the model must be float32 throughout (it is restored to float32 afterwards); "
            f"it also holds {', '.join(other)} tensors"
        )
    # nn.Module's own casts: transformers refuses ``model.float()`` on a model it loaded from a GGUF file
    # (it counts as "quantized"), although its weights are plain float32 tensors.
    nn.Module.double(model)
    try:
        yield model
    finally:
        nn.Module.float(model)
