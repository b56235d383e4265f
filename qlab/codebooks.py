"""Code tables ("codebooks"): the few values a 4-bit or 8-bit code can stand for.

A k-bit code is just an index into a table of 2^k numbers in [-1, 1]. Quantizing
a value means scaling it into [-1, 1] and storing the index of the nearest table
entry; dequantizing means looking the index up and scaling back. Different
formats differ only in their table:

* **NF4** (NormalFloat, Dettmers et al. 2023, "QLoRA", arXiv:2305.14314, §3):
  the table is built from quantiles of the standard normal distribution, so each
  of the 16 codes is used about equally often when weights are normally
  distributed. It is asymmetric: 8 negative values, zero, 7 positive values,
  so that zero is exactly representable and both -1 and +1 are in the table.
* **FP4** (bitsandbytes' E2M1 float: 1 sign, 2 exponent, 1 mantissa bit):
  a true floating-point layout, listed in *bit-pattern order*, not value order.
* **Dynamic 8-bit map** (Dettmers 2016, "8-Bit Approximations for Parallelism
  in Deep Learning", arXiv:1511.04561): a sign, a run of zeros that acts as a
  dynamic exponent, then a linear fraction. Double quantization uses it to store
  the NF4 block scales in 8 bits.

All tables are float32, exactly as bitsandbytes 0.50 builds them, so qlab's
results match bitsandbytes bit for bit.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ._arrays import check_choice


def _linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """float32 ``linspace`` computed the way ``torch.linspace`` does it.

    torch fills the first half forwards from ``start`` and the second half
    backwards from ``end`` (so both ends are exact), each value as one fused
    multiply-add ``start + step * i`` rounded once to float32. numpy's linspace
    rounds differently in the last bit, which would change the tables below.
    """
    start32, end32 = np.float32(start), np.float32(end)
    step = np.float64((end32 - start32) / np.float32(steps - 1))
    i = np.arange(steps, dtype=np.float64)
    # step * i is exact in float64, so one rounding to float32 equals the FMA's.
    forward = np.float64(start32) + step * i
    backward = np.float64(end32) - step * (steps - 1 - i)
    return np.where(i < steps // 2, forward, backward).astype(np.float32)


def create_normal_map(offset: float = 0.9677083, use_extra_value: bool = True) -> np.ndarray:
    """Build the NF4 table from normal quantiles (QLoRA, arXiv:2305.14314, eq. 4).

    The positive half takes the quantiles ``Φ⁻¹(p)`` at 9 evenly spaced
    probabilities from ``offset`` down to 0.5 (dropping 0.5 itself, which is 0),
    the negative half at 8 (``use_extra_value=True``: one more positive value,
    so 0 and ±1 all fit in 16 codes). Then everything is divided by the largest
    value so the table spans [-1, 1].

    ``offset`` = 1 - (1/30 + 1/32)/2 ≈ 0.9677 is the average of the two
    quantile positions proposed for 15 and 16 bins; it keeps ``Φ⁻¹`` finite.

    Returns the 16 values, sorted ascending, float32. (bitsandbytes pads the same
    16 values with zeros to 256 entries; the 16 are identical.)
    """
    inv_cdf = NormalDist().inv_cdf
    # Quantile positions in float32, as bitsandbytes computes them, then Φ⁻¹ in float64.
    pos_p = _linspace_f32(offset, 0.5, 9 if use_extra_value else 8)[:-1]
    neg_p = _linspace_f32(offset, 0.5, 8)[:-1]
    positive = [inv_cdf(float(p)) for p in pos_p]
    negative = [-inv_cdf(float(p)) for p in neg_p]
    zeros = [0.0] * (16 - len(positive) - len(negative))
    values = np.sort(np.array(positive + zeros + negative, dtype=np.float32))
    return (values / values.max()).astype(np.float32)


NF4_CODE: np.ndarray = np.array(
    [
        -1.0,
        -0.6961928009986877,
        -0.5250730514526367,
        -0.39491748809814453,
        -0.28444138169288635,
        -0.18477343022823334,
        -0.09105003625154495,
        0.0,
        0.07958029955625534,
        0.16093020141124725,
        0.24611230194568634,
        0.33791524171829224,
        0.44070982933044434,
        0.5626170039176941,
        0.7229568362236023,
        1.0,
    ],
    dtype=np.float32,
)
"""The NF4 table, index order = value order. ``create_normal_map()`` rebuilds it exactly."""

# bitsandbytes' FP4: bits s e1 e0 m. The exponent field e = 1, 2, 3 stands for 2^3, 2^2, 2^1
# (bitsandbytes' own ordering) and e = 0 is subnormal, 0.0625 · m; the top value is 1.5 · 2^3 = 12.
# Listed in bit-pattern order 0b0000 ... 0b1111, then normalised by the largest (12).
# Pattern 0b1000 is minus zero; we keep the sign (-0.0), as bitsandbytes' C and
# CUDA kernels do (its Python table writes it as +0; the two compare equal).
FP4_CODE: np.ndarray = (
    np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3], dtype=np.float32)
    / np.float32(12)
).astype(np.float32)
"""The FP4 table in bit-pattern order (index = the 4-bit code)."""


def get_4bit_code(quant_type: str) -> np.ndarray:
    """The 16-entry table for ``quant_type`` ("nf4" or "fp4"), float32, index = code."""
    check_choice(quant_type, name="quant_type", func="get_4bit_code", choices=("nf4", "fp4"))
    return (NF4_CODE if quant_type == "nf4" else FP4_CODE).copy()


def create_dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """The dynamic (tree) 8-bit map of Dettmers 2016 (arXiv:1511.04561), as bitsandbytes builds it.

    For each exponent ``i`` (how many leading zero bits follow the sign), a run of
    ``2^(i + non_sign_bits - max_exponent_bits)`` evenly spaced fractions in
    [0.1, 1] is scaled by ``10^(i - max_exponent_bits + 1)``: small magnitudes get
    fine steps, large magnitudes coarse ones, like a float with a variable-length
    exponent. Zero and 1.0 are added; the table is sorted ascending (256 values).
    """
    data: list[float] = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        # an unsigned map spends the sign bit on one more fraction bit
        fraction_bits = i + non_sign_bits - max_exponent_bits + (0 if signed else 1)
        n_fraction = 2**fraction_bits + 1
        data += _scaled_means(n_fraction, i, max_exponent_bits, signed)
    if additional_items > 0:
        data += _scaled_means(additional_items + 1, max_exponent_bits - 1, max_exponent_bits, signed)
    data += [0.0, 1.0]
    data += [0.0] * (256 - len(data))  # bitsandbytes always pads to 256 entries
    return np.sort(np.array(data, dtype=np.float32))


def _scaled_means(n_boundaries: int, i: int, max_exponent_bits: int, signed: bool) -> list[float]:
    boundaries = _linspace_f32(0.1, 1.0, n_boundaries)
    means = (boundaries[:-1] + boundaries[1:]) / np.float32(2)
    scale = np.float32(10.0 ** (-(max_exponent_bits - 1) + i))
    values = (scale * means).astype(np.float32).tolist()
    return values + ([-v for v in values] if signed else [])
