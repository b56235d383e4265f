"""Code tables ("codebooks"): the few values a 4-bit or 8-bit code can stand for.

A k-bit code is just an index into a table of 2^k numbers in [-1, 1]. Quantizing
a value means scaling it into [-1, 1] and storing the index of the nearest table
entry; dequantizing means looking the index up and scaling back. Different
formats differ only in their table:

* **NF4** (NormalFloat, Dettmers et al. 2023, "QLoRA", arXiv:2305.14314, §3):
  the table is built from quantiles of the standard normal distribution. It is
  asymmetric: **7 negative values, zero, 8 positive values** (-1 and +1 both in
  the table, so each block's absmax element comes back exactly, and 0 is exact).
  The quantiles would give each code an equal share only if a block's values
  were exactly normal *and* scaled by a fixed constant; real blocks are scaled
  by their own absmax, which squeezes the values towards zero. Measured on all
  37 linear weight matrices of all-MiniLM-L6-v2 (10,764,288 weights,
  ``qlab.models.loading.load_minilm()``) at blocksize 64, codes 0..15 are used
  with shares (%) 1.71, 3.74, 5.17, 6.63, 7.99, 9.24, 10.21, 10.02, 9.02, 8.31,
  7.42, 6.39, 5.31, 4.19, 3.06, 1.59: the two codes next to zero take about 10 %
  each, the two ends (-1, +1) under 2 % (1/64 of the values *are* an absmax).
  The entropy is 3.84 bits, not 4: NF4 is not equiprobable on real weights.
* **FP4** (bitsandbytes' own 4-bit float: 1 sign, 2 exponent, 1 mantissa bit),
  listed in *bit-pattern order*, not value order. It is **not** the OCP
  Microscaling E2M1 format (FP4 of MXFP4/NVFP4: magnitudes 0, 0.5, 1, 1.5, 2, 3,
  4, 6, the exponent field increasing with the value). bitsandbytes' magnitudes
  are 0, 0.0625, 2, 3, 4, 6, 8, 12 (divided by 12), and two things differ: its
  subnormal is 0.0625 (0.0052 after normalisation; E2M1's 0.5 is 0.083 of its
  maximum), and its exponent field runs the other way (patterns 0b010 and
  0b011 hold the largest magnitudes 8 and 12, 0b110 and 0b111 the smallest
  normals 2 and 3). After normalisation the other six non-zero magnitudes
  coincide, so the bit patterns are not interchangeable but the grids are
  nearly the same.
* **Dynamic 8-bit map** (Dettmers 2016, "8-Bit Approximations for Parallelism
  in Deep Learning", arXiv:1511.04561): a sign, a run of zeros that acts as a
  dynamic exponent, then a linear fraction. Double quantization uses it to store
  the NF4 block scales in 8 bits.

Two kinds of functions live here:

* bitsandbytes' own table builders, with its names, arguments and results:
  :func:`create_normal_map`, :func:`create_dynamic_map`, :func:`create_linear_map`,
  :func:`create_fp8_map` and :func:`get_4bit_type` return a float32 **torch
  tensor** (numpy when torch is not installed) laid out exactly as
  ``bitsandbytes.functional`` lays it out. In particular
  ``create_normal_map()`` returns **256** entries: the 16 NF4 values padded with
  zeros (sorted: 7 negatives, 241 zeros, 8 positives), because bitsandbytes
  indexes every code table with 8-bit indices.
* qlab's numpy tables for the lessons: :data:`NF4_CODE` and :func:`nf4_values`
  (the 16 NF4 values), :data:`FP4_CODE`, :func:`get_4bit_code` (16 values,
  index = code) and :func:`dynamic_map_values` (the 256-entry dynamic map).

All tables are float32, built exactly as bitsandbytes 0.50 builds them, so
qlab's results match bitsandbytes bit for bit.
"""

from __future__ import annotations

import itertools
from functools import cache
from statistics import NormalDist
from typing import Any

import numpy as np

from ._arrays import check_choice, check_int

try:  # torch is optional: without it the bitsandbytes-style builders return numpy
    import torch
except ImportError:  # pragma: no cover
    torch = None  # type: ignore[assignment]


def _linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """float32 ``linspace`` computed the way ``torch.linspace`` does it.

    torch fills the first half forwards from ``start`` and the second half
    backwards from ``end`` (so both ends are exact), each value as one fused
    multiply-add ``start + step * i`` rounded once to float32. numpy's linspace
    rounds differently in the last bit, which would change the tables below.
    """
    start32, end32 = np.float32(start), np.float32(end)
    if steps <= 1:  # torch.linspace(a, b, 1) is [a]; with 0 steps it is empty
        return np.full(max(steps, 0), start32, dtype=np.float32)
    step = np.float64((end32 - start32) / np.float32(steps - 1))
    i = np.arange(steps, dtype=np.float64)
    # step * i is exact in float64, so one rounding to float32 equals the FMA's.
    forward = np.float64(start32) + step * i
    backward = np.float64(end32) - step * (steps - 1 - i)
    return np.where(i < steps // 2, forward, backward).astype(np.float32)


def _as_table(values: np.ndarray, device: Any = None) -> Any:
    """A float32 table as bitsandbytes returns it: a torch tensor (numpy without torch)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if torch is None:
        return values.copy()
    table = torch.from_numpy(values.copy())
    return table if device is None else table.to(device)


def nf4_values(offset: float = 0.9677083, use_extra_value: bool = True) -> np.ndarray:
    """Build the 16 NF4 values from normal quantiles (QLoRA, arXiv:2305.14314, eq. 4); numpy float32.

    The positive half takes the quantiles ``Φ⁻¹(p)`` at 9 evenly spaced
    probabilities from ``offset`` down to 0.5 (dropping 0.5 itself, which is 0):
    8 positive values; the negative half at 8 probabilities: 7 negative values
    (``use_extra_value=True``: one more positive value, so 0 and ±1 all fit in 16
    codes). Then everything is divided by the largest value so the table spans
    [-1, 1]. With ``use_extra_value=False`` both halves get 7 values and the
    table holds two zeros.

    ``offset`` = 1 - (1/30 + 1/32)/2 ≈ 0.9677 is the average of the two
    quantile positions proposed for 15 and 16 bins; it keeps ``Φ⁻¹`` finite.

    Returns the 16 values, sorted ascending; ``nf4_values()`` equals
    :data:`NF4_CODE`. (:func:`create_normal_map` returns the same values in
    bitsandbytes' 256-entry layout.)
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


def create_normal_map(offset: float = 0.9677083, use_extra_value: bool = True) -> Any:
    """The NF4 table in bitsandbytes' layout (``bitsandbytes.functional.create_normal_map``).

    Returns a float32 tensor of **256** entries (numpy without torch): the 16
    values of :func:`nf4_values` padded with zeros and sorted, i.e. 7 negative
    values, 241 zeros, 8 positive values (with ``use_extra_value=False``: 7, 242,
    7). bitsandbytes pads every table to 256 so that 8-bit indices can address it.
    For the 16 values themselves use :func:`nf4_values` or :data:`NF4_CODE`.
    bitsandbytes needs scipy for this; qlab does not.
    """
    values = nf4_values(offset, use_extra_value)
    nonzero = values[values != 0]
    padded = np.sort(np.concatenate([nonzero, np.zeros(256 - nonzero.size, np.float32)]))
    return _as_table(padded)


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
"""The 16 NF4 values (numpy), index order = value order: 7 negative, 0, 8 positive. ``nf4_values()`` rebuilds it."""

# bitsandbytes' FP4: bits s e1 e0 m. The exponent field e = 1, 2, 3 stands for 2^3, 2^2, 2^1
# (bitsandbytes' own ordering, the reverse of OCP E2M1's) and e = 0 is subnormal, 0.0625 · m
# (OCP E2M1's subnormal is 0.5); the top value is 1.5 · 2^3 = 12.
# Listed in bit-pattern order 0b0000 ... 0b1111, then normalised by the largest (12).
# Pattern 0b1000 is minus zero; we keep the sign (-0.0), as bitsandbytes' C and
# CUDA kernels do (its Python table writes it as +0; the two compare equal).
FP4_CODE: np.ndarray = (
    np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3], dtype=np.float32)
    / np.float32(12)
).astype(np.float32)
"""bitsandbytes' FP4 table (not OCP E2M1) in bit-pattern order (index = the 4-bit code)."""


def get_4bit_code(quant_type: str) -> np.ndarray:
    """The 16-entry numpy table for ``quant_type`` ("nf4" or "fp4"), float32, index = code."""
    check_choice(quant_type, name="quant_type", func="get_4bit_code", choices=("nf4", "fp4"))
    return (NF4_CODE if quant_type == "nf4" else FP4_CODE).copy()


_AF4_64 = [
    -1.0,
    -0.69441008,
    -0.51243739,
    -0.3736951,
    -0.25607552,
    -0.14982478,
    -0.04934812,
    0.0,
    0.04273164,
    0.12934483,
    0.21961274,
    0.31675666,
    0.42563882,
    0.55496234,
    0.72424863,
    1.0,
]


def get_4bit_type(typename: str, device: Any = None, blocksize: int = 64) -> Any:
    """bitsandbytes' 16-entry table for ``typename`` (``bitsandbytes.functional.get_4bit_type``).

    "nf4" and "fp4" (index = code, as :func:`get_4bit_code`, except that FP4's
    pattern 0b1000 is +0.0 here, as in bitsandbytes' Python table), "int4"
    (7 ... -7, divided by 7; bitsandbytes 0.50 fails on it with integer data)
    and "af4" (AbnormalFloat, arXiv:2306.06965, blocksize 64 only). Returns a
    float32 tensor (numpy without torch). ``device=None`` means the CPU here;
    bitsandbytes defaults to "cuda".
    """
    func = "get_4bit_type"
    check_choice(typename, name="typename", func=func, choices=("nf4", "fp4", "int4", "af4"))
    if typename == "nf4":
        data = NF4_CODE.tolist()
    elif typename == "fp4":
        data = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, 0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]
    elif typename == "int4":
        data = [7, 6, 5, 4, 3, 2, 1, 0, -0, -1, -2, -3, -4, -5, -6, -7]
    else:
        if blocksize != 64:
            raise ValueError(
                f"{func}: 4-bit AbnormalFloat (af4) exists for blocksize 64 only, got {blocksize}"
            )
        data = _AF4_64[::-1]
    values = np.array(data, dtype=np.float32)
    return _as_table(values / np.abs(values).max(), device)


def create_linear_map(signed: bool = True, total_bits: int = 8, add_zero: bool = True) -> Any:
    """Evenly spaced codes in [-1, 1] (or [0, 1]), bitsandbytes' ``create_linear_map``.

    Fewer than 8 bits are simulated by zeros in the middle of a 256-entry table.
    Returns a float32 tensor (numpy without torch).
    """
    total_bits = check_int(total_bits, name="total_bits", func="create_linear_map", low=1, high=8)
    sign = -1.0 if signed else 0.0
    total_values = 2**total_bits
    if add_zero or total_bits < 8:
        # one value is given up so that the signed table is centred on an exact 0
        total_values = 2**total_bits if not signed else 2**total_bits - 1
    values = _linspace_f32(sign, 1.0, total_values)
    gap = 256 - values.size
    if gap:
        half = values.size // 2
        values = np.concatenate([values[:half], np.zeros(gap, np.float32), values[half:]])
    return _as_table(values)


def create_fp8_map(
    signed: bool = True, exponent_bits: int = 5, precision_bits: int = 2, total_bits: int = 8
) -> Any:
    """A small float format as a sorted 256-entry table, bitsandbytes' ``create_fp8_map``.

    Exponent bias 2^(e-1); normals ``(1 + mantissa) · 2^-(E - bias - 1)``, subnormals
    ``mantissa · 2^-bias``; normalised by the largest value. Note:
    ``create_fp8_map(True, 2, 1, 4)`` is *not* bitsandbytes' FP4 table (its
    smallest non-zero value is 0.0208, FP4's is 0.0052). Returns a float32 tensor
    (numpy without torch).
    """
    func = "create_fp8_map"
    has_sign = 1 if signed else 0
    if exponent_bits + precision_bits != total_bits - has_sign or total_bits > 8:
        raise ValueError(
            f"{func}: {'1 sign + ' if signed else ''}{exponent_bits} exponent + {precision_bits} precision "
            f"bits must add up to total_bits={total_bits} (at most 8)"
        )
    bias = 2 ** (exponent_bits - 1)
    values: list[float] = []
    for evalue in range(2**exponent_bits):
        for bit_pattern in itertools.product([0, 1], repeat=precision_bits):
            value = 1.0 if evalue != 0 else 0.0
            for i, bit in enumerate(bit_pattern):
                value += bit * 2 ** -(i + 1)
            # exponent field 0: subnormal; otherwise bitsandbytes' (reversed) exponent
            value *= 2**-bias if evalue == 0 else 2 ** -(evalue - bias - 1)
            values.append(value)
            if signed:
                values.append(-value)
    values += [0.0] * (256 - len(values))
    table = np.sort(np.array(values, dtype=np.float32))
    return _as_table(table / table.max())


def _dynamic_map_list(
    signed: bool, max_exponent_bits: int, total_bits: int, *, check: bool = True
) -> list[float]:
    func = "create_dynamic_map"
    total_bits = check_int(total_bits, name="total_bits", func=func, low=2, high=8)
    max_exponent_bits = check_int(max_exponent_bits, name="max_exponent_bits", func=func, low=1)
    data: list[float] = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        # an unsigned map spends the sign bit on one more fraction bit; int() truncates
        # a fractional count (2^-1 + 1 = 1.5 -> 1) exactly as bitsandbytes does
        fraction_bits = i + non_sign_bits - max_exponent_bits + (0 if signed else 1)
        data += _scaled_means(int(2**fraction_bits + 1), i, max_exponent_bits, signed)
    if additional_items > 0:
        data += _scaled_means(int(additional_items + 1), max_exponent_bits - 1, max_exponent_bits, signed)
    data += [0.0, 1.0]
    if check and len(data) != 2**total_bits:
        valid = [
            e
            for e in range(1, total_bits + 3)
            if len(_dynamic_map_list(signed, e, total_bits, check=False)) == 2**total_bits
        ]
        raise ValueError(
            f"{func}: signed={signed}, max_exponent_bits={max_exponent_bits}, total_bits={total_bits} "
            f"describe {len(data)} codes, but {total_bits} bits hold exactly {2**total_bits} "
            f"(bitsandbytes refuses this combination too). For signed={signed} and {total_bits} bits, "
            f"max_exponent_bits can be {', '.join(map(str, valid))}."
        )
    return data


@cache
def _dynamic_map_np(signed: bool, max_exponent_bits: int, total_bits: int) -> np.ndarray:
    data = _dynamic_map_list(signed, max_exponent_bits, total_bits)
    data += [0.0] * (256 - len(data))  # bitsandbytes always pads to 256 entries
    table = np.sort(np.array(data, dtype=np.float32))
    table.flags.writeable = False
    return table


def dynamic_map_values(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """The dynamic 8-bit map as a numpy float32 array (same values as :func:`create_dynamic_map`)."""
    return _dynamic_map_np(bool(signed), max_exponent_bits, total_bits).copy()


def create_dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> Any:
    """The dynamic (tree) 8-bit map of Dettmers 2016 (arXiv:1511.04561), bitsandbytes' ``create_dynamic_map``.

    For each exponent ``i`` (how many leading zero bits follow the sign), a run of
    ``int(2^(i + non_sign_bits - max_exponent_bits) + 1)`` evenly spaced boundaries
    in [0.1, 1] gives as many fractions (their midpoints), scaled by
    ``10^(i - max_exponent_bits + 1)``: small magnitudes get fine steps, large
    magnitudes coarse ones, like a float with a variable-length exponent. Zero
    and 1.0 are added; the table is sorted ascending and padded with zeros to
    256 values. A combination of arguments whose code count is not
    ``2^total_bits`` raises ``ValueError`` (bitsandbytes asserts).

    Returns a float32 tensor (numpy without torch); :func:`dynamic_map_values`
    returns the same values as numpy.
    """
    return _as_table(_dynamic_map_np(bool(signed), max_exponent_bits, total_bits))


def _scaled_means(n_boundaries: int, i: int, max_exponent_bits: int, signed: bool) -> list[float]:
    boundaries = _linspace_f32(0.1, 1.0, n_boundaries)
    means = (boundaries[:-1] + boundaries[1:]) / np.float32(2)
    scale = np.float32(10.0 ** (-(max_exponent_bits - 1) + i))
    values = (scale * means).astype(np.float32).tolist()
    return values + ([-v for v in values] if signed else [])
