"""Floating-point number formats, bit by bit (lesson 01, "number formats").

A binary float stores three unsigned integer fields: a sign bit ``s``, an
``E``-bit exponent ``e`` (stored with a *bias*) and an ``M``-bit mantissa ``m``
(the fraction bits after the binary point). IEEE 754-2019 (section 3.4) reads
them as::

    normal     (0 < e < all ones):  value = (-1)^s · 2^(e - bias) · (1 + m / 2^M)
    subnormal  (e = 0, m != 0):     value = (-1)^s · 2^(1 - bias) · (0 + m / 2^M)
    zero       (e = 0, m = 0):      value = ±0
    e = all ones:                   ±inf (m = 0) or NaN (m != 0)

Low-precision formats for deep learning change only the special values:

* FP8 E5M2 keeps the IEEE rules (max 57344); FP8 E4M3 ("E4M3FN": Finite, NaN)
  drops inf and keeps one NaN pattern per sign, ``S 1111 111`` (0x7F and 0xFF),
  which frees the rest of the top binade and lifts the maximum from 240 to 448.
  Micikevicius et al. 2022, "FP8 Formats for Deep Learning", arXiv:2209.05433.
* FP4 E2M1 has no inf and no NaN: its 16 codes are ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  OCP Microscaling Formats (MX) Specification v1.0 (2023), section 5.3.3.
* bfloat16 is float32 with the mantissa cut to 7 bits (same exponent range).
  Rounding to nearest even can still overflow: float32 values from
  (2 - 2^-8) · 2^127 ≈ 3.3962e38 up round to inf, because they lie at or above
  the halfway point between bfloat16's largest value (2 - 2^-7) · 2^127 and 2^128.

:func:`decompose` and :func:`compose` implement these formulas directly, so a
learner can read how the bits become a number; the tests check them against
numpy, torch and ml_dtypes. :func:`cast_to_format` is the fast array path and
uses those libraries.

Rounding and overflow
---------------------
A value is rounded to the nearest representable value, ties to the one with an
even mantissa (round-to-nearest-even, IEEE 754 section 4.3.1). If the rounded
magnitude is larger than ``max_value`` (this includes ±inf input), the result
follows ml_dtypes' casts, shown by :attr:`FloatFormat.overflow`:

* fp32, fp16, bf16, fp8_e5m2 -> ±inf (IEEE);
* fp8_e4m3 -> NaN (it has no inf). The OCP 8-bit floating point specification
  (OFP8, rev. 1.0, 2023) allows both a saturating and a non-saturating (NaN)
  conversion; torch's ``.to(torch.float8_e4m3fn)`` saturates to ±448 instead
  (observed with torch 2.13 on CPU, and tested, since it may change between
  versions); in-range values agree;
* fp4_e2m1 -> ±6 (saturates; it has neither inf nor NaN).

So for fp8_e4m3, 464 (halfway between 448 and the missing 480) still rounds to
448, but anything above it becomes NaN. NaN input stays NaN; formats without
NaN (fp4_e2m1) raise ``ValueError`` for it.

Languages
---------
:func:`decompose` takes ``lang="en"`` or ``"tr"`` (:data:`qlab.i18n.LANGS`): the
learner-facing text of its result -- the ``formula``, ``kind_label`` and
``str()`` -- follows that language (Turkish: decimal comma, Turkish words), while
the fields and ``kind`` stay the same identifiers in every language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

from qlab import i18n
from qlab._arrays import as_float_array, check_choice, check_int, restore

__all__ = [
    "FORMATS",
    "FloatBits",
    "FloatFormat",
    "cast_to_format",
    "compose",
    "decompose",
    "format_table",
    "get_format",
    "representable_values",
]


@dataclass(frozen=True)
class FloatFormat:
    """A sign / exponent / mantissa float format; see the module docstring for the formulas.

    ``nan_style``: ``"ieee"`` (exponent all ones: m = 0 is inf, m != 0 is NaN),
    ``"fn"`` (only ``S.11..1.11..1`` is NaN, no inf) or ``"none"`` (no NaN, no inf).
    You can define your own, e.g. MX FP6: ``FloatFormat("fp6_e3m2", 3, 2, 3, False, "none")``.
    """

    name: str
    exponent_bits: int
    mantissa_bits: int
    bias: int
    has_inf: bool
    nan_style: str

    def __post_init__(self) -> None:
        func = "FloatFormat"
        check_int(self.exponent_bits, name="exponent_bits", func=func, low=1, high=11)
        check_int(self.mantissa_bits, name="mantissa_bits", func=func, low=1, high=52)
        check_int(self.bias, name="bias", func=func, low=0)
        check_choice(self.nan_style, name="nan_style", func=func, choices=("ieee", "fn", "none"))
        if self.has_inf != (self.nan_style == "ieee"):
            raise ValueError(f"{func}: has_inf must be True exactly when nan_style == 'ieee' ({self.name})")

    @property
    def total_bits(self) -> int:
        return 1 + self.exponent_bits + self.mantissa_bits

    @property
    def max_exponent_field(self) -> int:
        """Largest stored exponent of a finite number (IEEE reserves the all-ones exponent)."""
        all_ones = 2**self.exponent_bits - 1
        return all_ones - 1 if self.nan_style == "ieee" else all_ones

    @property
    def min_exponent(self) -> int:
        """Unbiased exponent of the smallest normal number (also used by subnormals): 1 - bias."""
        return 1 - self.bias

    @property
    def max_exponent(self) -> int:
        """Unbiased exponent of the largest finite number."""
        return self.max_exponent_field - self.bias

    @property
    def max_value(self) -> float:
        """Largest finite value. In "fn" formats the all-ones mantissa of the top binade is NaN."""
        m = 2**self.mantissa_bits - 1 - (self.nan_style == "fn")
        return math.ldexp(1 + m / 2**self.mantissa_bits, self.max_exponent)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.min_exponent)

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value: 2^(1 - bias) · 1/2^M."""
        return math.ldexp(1.0, self.min_exponent - self.mantissa_bits)

    @property
    def epsilon(self) -> float:
        """Gap between 1.0 and the next larger value: 2^-M."""
        return math.ldexp(1.0, -self.mantissa_bits)

    @property
    def decimal_digits(self) -> float:
        """Decimal digits of precision, (M + 1) · log10(2): about 7.22 for fp32, 0.6 for fp4."""
        return (self.mantissa_bits + 1) * math.log10(2)

    @property
    def overflow(self) -> str:
        """What a too-large value becomes: "inf", "nan" or "saturate" (to ±max_value)."""
        return {"ieee": "inf", "fn": "nan", "none": "saturate"}[self.nan_style]

    @property
    def library_dtype(self) -> Any:
        """The numpy / ml_dtypes dtype used by :func:`cast_to_format` (None for custom formats)."""
        return _LIBRARY_DTYPES.get(self.name)


FORMATS: dict[str, FloatFormat] = {
    f.name: f
    for f in (
        FloatFormat("fp32", 8, 23, 127, True, "ieee"),
        FloatFormat("fp16", 5, 10, 15, True, "ieee"),
        FloatFormat("bf16", 8, 7, 127, True, "ieee"),
        FloatFormat("fp8_e4m3", 4, 3, 7, False, "fn"),
        FloatFormat("fp8_e5m2", 5, 2, 15, True, "ieee"),
        FloatFormat("fp4_e2m1", 2, 1, 1, False, "none"),
    )
}

_ALIASES = {
    "float32": "fp32", "single": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "e4m3": "fp8_e4m3", "e4m3fn": "fp8_e4m3", "fp8_e4m3fn": "fp8_e4m3", "float8_e4m3fn": "fp8_e4m3",
    "e5m2": "fp8_e5m2", "float8_e5m2": "fp8_e5m2",
    "e2m1": "fp4_e2m1", "fp4": "fp4_e2m1", "fp4_e2m1fn": "fp4_e2m1", "float4_e2m1fn": "fp4_e2m1",
}  # fmt: skip

_LIBRARY_DTYPES: dict[str, Any] = {
    "fp32": np.dtype(np.float32),
    "fp16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
    "fp8_e4m3": np.dtype(ml_dtypes.float8_e4m3fn),
    "fp8_e5m2": np.dtype(ml_dtypes.float8_e5m2),
    "fp4_e2m1": np.dtype(ml_dtypes.float4_e2m1fn),
}


def get_format(fmt: str | FloatFormat, *, func: str = "get_format") -> FloatFormat:
    """Look up a format by name or alias (case-insensitive); a FloatFormat is returned as is."""
    if isinstance(fmt, FloatFormat):
        return fmt
    if not isinstance(fmt, str):
        raise TypeError(f"{func}: fmt must be a format name or FloatFormat, got {type(fmt).__name__}")
    key = fmt.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ValueError(
            f"{func}: unknown float format {fmt!r}; valid names: {', '.join(FORMATS)} "
            f"(aliases: {', '.join(_ALIASES)})"
        )
    return FORMATS[key]


# Learner-facing words of decompose(), in both course languages.
i18n.add_messages(
    {
        "floats.kind.normal": {"en": "normal", "tr": "normal"},
        "floats.kind.subnormal": {"en": "subnormal", "tr": "alt normal"},
        "floats.kind.zero": {"en": "zero", "tr": "sıfır"},
        "floats.kind.inf": {"en": "inf", "tr": "sonsuz"},
        "floats.kind.nan": {"en": "nan", "tr": "NaN"},
        "floats.formula.inf": {
            "en": "(-1)^{s} · inf (exponent all ones, mantissa 0)",
            "tr": "(-1)^{s} · ∞ (üs bitlerinin hepsi 1, mantis 0)",
        },
        "floats.formula.nan_ieee": {
            "en": "NaN (exponent all ones, mantissa != 0)",
            "tr": "NaN (üs bitlerinin hepsi 1, mantis ≠ 0)",
        },
        "floats.formula.nan_fn": {
            "en": "NaN (exponent and mantissa all ones)",
            "tr": "NaN (üs ve mantis bitlerinin hepsi 1)",
        },
    }
)


def _number_text(v: float, lang: str) -> str:
    """``repr(v)`` (every digit Python keeps), with a decimal comma in Turkish."""
    text = repr(v)
    return text.replace(".", ",") if lang == "tr" else text


@dataclass(frozen=True)
class FloatBits:
    """The fields of one value stored in a format, as returned by :func:`decompose`."""

    format: str
    sign: int
    exponent: int  # stored (biased) exponent field
    mantissa: int  # stored mantissa field, without the implicit leading 1
    bits: str  # "s eeee mmm", fields separated by spaces
    kind: str  # "normal", "subnormal", "zero", "inf" or "nan"
    unbiased_exponent: int | None  # e - bias (1 - bias for subnormals); None for zero/inf/nan
    value: float  # the representable value the input rounded to
    formula: str  # in the language ``lang``
    input_value: float  # what was asked for, before rounding
    lang: str = "en"  # language of ``formula``, ``kind_label`` and ``str()``

    @property
    def code(self) -> int:
        """The whole bit pattern as one unsigned integer (what ``.view(np.uint8)`` shows)."""
        return int(self.bits.replace(" ", ""), 2)

    @property
    def kind_label(self) -> str:
        """``kind`` in words of ``lang`` (English: the same word as ``kind``; Turkish: "alt normal", ...)."""
        return i18n.t(f"floats.kind.{self.kind}", self.lang)

    def __str__(self) -> str:
        return f"{self.format}: {self.bits}  ({self.kind_label})  {self.formula}"


def _values(fmt: FloatFormat, s: Any, e: Any, m: Any) -> np.ndarray:
    """Vectorized field -> value formula (no validation; see :func:`compose`)."""
    s, e, m = (np.asarray(a, dtype=np.int64) for a in (s, e, m))
    frac = m / 2**fmt.mantissa_bits + (e != 0)  # the implicit leading 1 exists only when e != 0
    mag = np.ldexp(frac, np.maximum(e, 1) - fmt.bias)  # subnormals share the exponent 1 - bias
    all_ones = 2**fmt.exponent_bits - 1
    if fmt.nan_style == "ieee":
        mag = np.where(e == all_ones, np.where(m == 0, np.inf, np.nan), mag)
    elif fmt.nan_style == "fn":
        mag = np.where((e == all_ones) & (m == 2**fmt.mantissa_bits - 1), np.nan, mag)
    return np.where(s == 1, -mag, mag)  # -mag keeps -0.0 distinct from 0.0


def _kind(fmt: FloatFormat, e: int, m: int) -> str:
    all_ones, m_ones = 2**fmt.exponent_bits - 1, 2**fmt.mantissa_bits - 1
    if e == all_ones and fmt.nan_style == "ieee":
        return "inf" if m == 0 else "nan"
    if e == all_ones and fmt.nan_style == "fn" and m == m_ones:
        return "nan"
    if e == 0:
        return "zero" if m == 0 else "subnormal"
    return "normal"


def compose(sign: int, exponent: int, mantissa: int, fmt: str | FloatFormat = "fp32") -> float:
    """Build the value of the fields ``(sign, exponent, mantissa)``: the inverse of :func:`decompose`.

    ``exponent`` is the stored (biased) field. Example: ``compose(0, 124, 2**21, "fp32") == 0.15625``.
    """
    f = get_format(fmt, func="compose")
    check_int(sign, name="sign", func="compose", low=0, high=1)
    check_int(exponent, name="exponent", func="compose", low=0, high=2**f.exponent_bits - 1)
    check_int(mantissa, name="mantissa", func="compose", low=0, high=2**f.mantissa_bits - 1)
    return float(_values(f, sign, exponent, mantissa))


def _as_float(value: Any, func: str) -> float:
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)) or value is None:
        raise TypeError(f"{func}: value must be a real number, got {type(value).__name__} {value!r}")
    if getattr(value, "ndim", 0) != 0:
        raise TypeError(f"{func}: value must be one number, got an array; use cast_to_format for arrays")
    try:
        return float(value)
    except OverflowError:  # an int too large for float64 is beyond every format's range too
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{func}: value must be a real number, got {type(value).__name__}") from exc


def decompose(value: float, fmt: str | FloatFormat = "fp32", lang: str = "en") -> FloatBits:
    """Round ``value`` into ``fmt`` (nearest, ties to even) and show its sign, exponent and mantissa.

    >>> print(decompose(0.15625, "fp32"))
    fp32: 0 01111100 01000000000000000000000  (normal)  (-1)^0 · 2^(124 - 127) · (1 + 2097152/2^23) = 0.15625
    >>> print(decompose(2**-9, "fp8_e4m3", lang="tr"))
    fp8_e4m3: 0 0000 001  (alt normal)  (-1)^0 · 2^(1 - 7) · (0 + 1/2^3) = 0,001953125

    ``lang`` ("en" or "tr") sets the language of the formula and of ``str()``.

    Overflow follows ml_dtypes (see the module docstring). The rounding starts from
    the exact input value; ml_dtypes first rounds float64 input to float32, so for a
    float64 that lies just beside a halfway point the two can differ.
    """
    f = get_format(fmt, func="decompose")
    i18n.check_lang(lang)
    x = _as_float(value, func="decompose")
    M, all_ones = f.mantissa_bits, 2**f.exponent_bits - 1
    s = 1 if math.copysign(1.0, x) < 0 else 0
    if math.isnan(x):
        if f.nan_style == "none":
            raise ValueError(f"decompose: {f.name} has no NaN encoding; it cannot store NaN")
        e, m = all_ones, (2 ** (M - 1) if f.nan_style == "ieee" else 2**M - 1)  # quiet NaN, like ml_dtypes
    elif x == 0:
        e, m = 0, 0
    else:
        mag, exp, n = abs(x), 0, 0
        if math.isfinite(mag):
            # Write |x| = n · 2^(exp - M) with an integer n of M + 1 bits: exp = floor(log2 |x|),
            # but never below 1 - bias, where subnormals keep a fixed exponent and n shrinks.
            exp = max(math.frexp(mag)[1] - 1, f.min_exponent)
            n = round(math.ldexp(mag, M - exp))  # exact scaling; Python's round() is ties-to-even
            if n == 2 ** (M + 1):  # rounding carried into the next binade: 1.11..1 -> 10.00..0
                n, exp = 2**M, exp + 1
        max_n = 2 ** (M + 1) - 1 - (f.nan_style == "fn")  # significand of max_value
        if not math.isfinite(mag) or exp > f.max_exponent or (exp == f.max_exponent and n > max_n):
            # ieee: the inf pattern. fn: S.1..1.1..1 is NaN; none: the same pattern is ±max (saturation).
            e, m = (all_ones, 0) if f.overflow == "inf" else (f.max_exponent_field, 2**M - 1)
        elif n < 2**M:  # subnormal (or underflow to zero): no implicit 1, e field 0
            e, m = 0, n
        else:
            e, m = exp + f.bias, n - 2**M
    v = float(_values(f, s, e, m))
    kind = _kind(f, e, m)
    if kind in ("normal", "subnormal", "zero"):
        e_text, lead = (f"{e} - {f.bias}", 1) if kind == "normal" else (f"1 - {f.bias}", 0)
        formula = f"(-1)^{s} · 2^({e_text}) · ({lead} + {m}/2^{M}) = {_number_text(v, lang)}"
    elif kind == "inf":
        formula = i18n.t("floats.formula.inf", lang, s=s)
    else:
        formula = i18n.t(
            "floats.formula.nan_ieee" if f.nan_style == "ieee" else "floats.formula.nan_fn", lang
        )
    unbiased = {"normal": e - f.bias, "subnormal": f.min_exponent}.get(kind)
    bits = f"{s} {e:0{f.exponent_bits}b} {m:0{M}b}"
    return FloatBits(f.name, s, e, m, bits, kind, unbiased, v, formula, x, lang)


def representable_values(fmt: str | FloatFormat) -> np.ndarray:
    """All finite values of a format with at most 8 bits, sorted, float64.

    Every bit pattern is decoded with the formulas above; +0 and -0 are equal
    numbers, so they appear once, as 0.0. NaN and inf patterns are left out.
    """
    f = get_format(fmt, func="representable_values")
    if f.total_bits > 8:
        raise ValueError(
            f"representable_values: {f.name} has 2^{f.total_bits} = {2**f.total_bits:,} bit patterns, too "
            "many to list; use decompose/compose on single values, or np.nextafter to step between them"
        )
    E, M = f.exponent_bits, f.mantissa_bits
    codes = np.arange(2**f.total_bits)
    vals = _values(f, codes >> (E + M), (codes >> M) & (2**E - 1), codes & (2**M - 1))
    return np.unique(vals[np.isfinite(vals)]) + 0.0  # + 0.0 turns -0.0 into 0.0


def format_table(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per format (all of :data:`FORMATS` by default), ready for ``pandas.DataFrame``."""
    rows = []
    for f in (get_format(n, func="format_table") for n in (names or list(FORMATS))):
        rows.append(
            {
                "name": f.name,
                "bits": f.total_bits,
                "exponent_bits": f.exponent_bits,
                "mantissa_bits": f.mantissa_bits,
                "bias": f.bias,
                "max": f.max_value,
                "min_normal": f.min_normal,
                "min_subnormal": f.min_subnormal,
                "epsilon": f.epsilon,
                "decimal_digits": round(f.decimal_digits, 2),
                "inf": f.has_inf,
                "nan": f.nan_style != "none",
            }
        )
    return rows


def cast_to_format(x: Any, fmt: str | FloatFormat) -> Any:
    """Round every value of ``x`` to ``fmt`` (nearest, ties to even); float32 values, same type as ``x``.

    Uses numpy's float16 and ml_dtypes' bfloat16 / float8_e4m3fn / float8_e5m2 /
    float4_e2m1fn casts. Float64 input is first rounded to float32 (ml_dtypes does
    the same internally). Too-large values and ±inf follow :attr:`FloatFormat.overflow`
    (inf, NaN or saturation); NaN stays NaN, except that fp4_e2m1 has no NaN: ValueError.
    """
    f = get_format(fmt, func="cast_to_format")
    if f.library_dtype is None:
        raise ValueError(f"cast_to_format: no numpy/ml_dtypes dtype for custom format {f.name!r}")
    with np.errstate(over="ignore"):  # float64 -> float32 overflow to inf is a cast result, not an error
        arr, origin = as_float_array(x, name="x", func="cast_to_format", allow_nonfinite=True)
    nan = np.isnan(arr)
    if f.nan_style == "none" and nan.any():
        first = tuple(int(i) for i in np.argwhere(nan)[0])
        raise ValueError(
            f"cast_to_format: x contains {int(nan.sum())} NaN value(s), the first at index {first}, "
            f"but {f.name} has no NaN encoding; clean the input first"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # overflow (and NaN in fp8) is what the lesson shows
        out = arr.astype(f.library_dtype).astype(np.float32)
    return restore(out, origin)
