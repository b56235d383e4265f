"""Mixed bit widths: spend the bits where the layers are most sensitive (the idea behind EXL2).

Not every layer suffers equally from rounding. ExLlamaV2's EXL2 format
(turboderp, 2023) measures, on calibration data, how much each layer's output
error grows at each candidate bit width, then picks a width per layer (even
per group of columns) so that the *average* bits per weight meets a budget such
as 4.5 while the total error is as small as possible. This module does the
per-layer version with a greedy rule: start every layer at the cheapest width
and repeatedly upgrade the layer whose error falls most per extra bit spent,
while the budget allows. For error curves that are convex in the bit width (as
rounding error is: each bit divides it by about 4), the greedy choice is the
optimum of this knapsack up to the last, partly affordable step.

``cost`` counts everything stored per weight: the code bits plus the scale
(and zero point) bits shared by a group, e.g. ``4 + (32 + 8) / 128`` for
asymmetric INT4 with a float32 scale and an 8-bit zero point per 128 weights.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from qlab._arrays import check_int

__all__ = ["BitAllocation", "allocate_bits", "bits_cost"]


def bits_cost(bits: int, group_size: int | None, scale_bits: int = 32, zero_bits: int = 8) -> float:
    """Bits stored per weight at ``bits`` with one scale (and zero point) per ``group_size`` weights."""
    func = "bits_cost"
    bits = check_int(bits, name="bits", func=func, low=1, high=32)
    scale_bits = check_int(scale_bits, name="scale_bits", func=func, low=0)
    zero_bits = check_int(zero_bits, name="zero_bits", func=func, low=0)
    if group_size is None:
        return float(bits)
    group_size = check_int(group_size, name="group_size", func=func, low=1)
    return bits + (scale_bits + zero_bits) / group_size


@dataclass(frozen=True)
class BitAllocation:
    """The chosen width per layer, the average bits per weight it costs and its total error."""

    bits: dict[str, int]
    average_bits: float
    total_error: float


def allocate_bits(
    errors: Mapping[str, Mapping[int, float]],
    sizes: Mapping[str, int],
    budget: float,
    cost: Callable[[int], float] = float,
) -> BitAllocation:
    """Choose a bit width per layer so that the size-weighted average ``cost`` stays within ``budget``.

    ``errors[layer][bits]`` is the measured error of ``layer`` at ``bits`` (e.g.
    its output error on calibration inputs, weighted by how much it matters);
    ``sizes[layer]`` its number of weights; ``cost(bits)`` the bits stored per
    weight at that width (:func:`bits_cost`). Raises ``ValueError`` if even the
    cheapest widths exceed the budget, or if the inputs do not match.
    """
    if not errors:
        raise ValueError("allocate_bits: no layers")
    if set(errors) != set(sizes):
        raise ValueError("allocate_bits: errors and sizes must name the same layers")
    if any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0 for n in sizes.values()):
        raise ValueError("allocate_bits: every layer needs a positive integer number of weights")
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real) or not math.isfinite(budget):
        raise ValueError(f"allocate_bits: budget must be a finite number of bits per weight, got {budget!r}")
    options: dict[str, Sequence[int]] = {}
    for layer, curve in errors.items():
        if not curve:
            raise ValueError(f"allocate_bits: layer {layer!r} has no candidate bit widths")
        for b, e in curve.items():
            if isinstance(b, bool) or not isinstance(b, numbers.Integral) or b < 1:
                raise ValueError(
                    f"allocate_bits: layer {layer!r}: bit widths must be positive integers, got {b!r}"
                )
            if isinstance(e, bool) or not isinstance(e, numbers.Real) or not math.isfinite(e) or e < 0:
                raise ValueError(
                    f"allocate_bits: layer {layer!r} at {b} bits: the error must be a finite number >= 0, got {e!r}"
                )
        options[layer] = sorted(curve)
    total = sum(sizes.values())

    def average(choice: Mapping[str, int]) -> float:
        return sum(cost(b) * sizes[layer] for layer, b in choice.items()) / total

    choice = {layer: opts[0] for layer, opts in options.items()}
    if average(choice) > budget + 1e-12:
        raise ValueError(
            f"allocate_bits: even the smallest widths cost {average(choice):.3f} bits per weight, "
            f"more than the budget {budget}"
        )
    while True:
        best, best_gain = None, 0.0
        for layer, opts in options.items():
            i = opts.index(choice[layer])
            if i + 1 == len(opts):
                continue
            nxt = opts[i + 1]
            extra = (cost(nxt) - cost(choice[layer])) * sizes[layer] / total
            if average(choice) + extra > budget + 1e-12:
                continue
            gain = (errors[layer][choice[layer]] - errors[layer][nxt]) / max(extra, 1e-12)
            if gain > best_gain:
                best, best_gain = (layer, nxt), gain
        if best is None:
            break
        choice[best[0]] = best[1]
    total_error = sum(errors[layer][b] for layer, b in choice.items())
    return BitAllocation(dict(choice), average(choice), float(total_error))
