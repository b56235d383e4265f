"""Lesson 01 (number formats): exercises and the notebook's English/Turkish strings.

Imported by the setup cell of ``notebooks/{en,tr}/01_number_formats.ipynb``.
The exercises ask for things the lesson derives by hand with
:func:`qlab.floats.decompose`: a stored exponent field, the gap between
neighbouring BF16 numbers, the smallest format that survives a large
activation, and -- written by the learner -- a function that decodes the bits
of an E4M3, E5M2 or BF16 number, checked against :func:`qlab.floats.compose`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlab.exercises import Checker, Hint, choice, implementation, numeric, register, same_result
from qlab.floats import FORMATS, compose, decompose
from qlab.i18n import add_messages


def _with_own_fallback(checker: Checker, other: str) -> Checker:
    """``checker`` with one hint of this lesson for every answer that is neither right nor a trap.

    The generic "too large"/"too small" hints of :func:`qlab.exercises.numeric`
    talk about bytes per parameter (lesson 00), which would mislead here, and on a
    small range of integers or powers of two a direction would hand the answer
    over in a few tries: the fallback says what to compute, not which way to go.
    """

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        return other if hint in ("ex.too_high", "ex.too_low") else hint

    return wrapped


# --- strings used by the notebook (plots, tables, widgets, readouts) -------------

add_messages(
    {
        # tables
        "l01.col.format": {"en": "format", "tr": "biçim"},
        "l01.col.bits": {"en": "bits", "tr": "bit"},
        "l01.col.max": {"en": "largest", "tr": "en büyük"},
        "l01.col.min_normal": {"en": "smallest normal", "tr": "en küçük normal"},
        "l01.col.min_subnormal": {"en": "smallest subnormal", "tr": "en küçük alt normal"},
        "l01.col.epsilon": {"en": "gap after 1", "tr": "1'den sonraki adım"},
        "l01.col.digits": {"en": "digits", "tr": "basamak"},
        "l01.col.stored": {"en": "stored value", "tr": "saklanan değer"},
        "l01.col.error": {"en": "error", "tr": "hata"},
        "l01.col.gap": {"en": "gap to next", "tr": "sonrakine adım"},
        "l01.col.bias": {"en": "bias", "tr": "üs kaydırması"},
        "l01.by_hand": {"en": "by hand:", "tr": "elle:"},
        "l01.numpy_memory": {"en": "numpy memory:", "tr": "numpy belleği:"},
        "l01.fp8.summary": {
            "en": "{fmt}: {n} finite values, largest {max}, too large -> {what}",
            "tr": "{fmt}: {n} sonlu değer, en büyük {max}, çok büyük -> {what}",
        },
        "l01.overflow.inf": {"en": "±inf", "tr": "±inf"},
        "l01.overflow.nan": {"en": "NaN", "tr": "NaN"},
        "l01.overflow.saturate": {"en": "±largest (saturates)", "tr": "±en büyük (doyum)"},
        "l01.nan_codes": {"en": "{fmt}: NaN codes {codes}", "tr": "{fmt}: NaN kodları {codes}"},
        "l01.weights.stats": {
            "en": "max |w| = {max},  median |w| = {median},  min |w| = {min}",
            "tr": "en büyük |w| = {max};  medyan |w| = {median};  en küçük |w| = {min}",
        },
        "l01.weights.outlier_ratio": {
            "en": "max |w| / median |w| = {r}",
            "tr": "en büyük |w| / medyan |w| = {r}",
        },
        "l01.e4m3.normal_share": {
            "en": "E4M3: {share} of the weights are normal numbers, relative error on them {err}",
            "tr": "E4M3: ağırlıkların {share:'(s)I} normal sayı, bunlardaki göreli hata {err}",
        },
        "l01.e4m3.median_vs_normal": {
            "en": "median |w| = {median} > {normal} = smallest normal number of E4M3",
            "tr": "medyan |w| = {median} > {normal} = E4M3'ün en küçük normal sayısı",
        },
        "l01.scale.fp4_zero": {
            "en": "FP4 with this scale: every |w| < {thr} becomes 0 ({share} of the weights)",
            "tr": "Bu ölçekle FP4: |w| < {thr} olan her ağırlık 0 olur (ağırlıkların {share:'(s)I})",
        },
        "l01.col.rel_error": {"en": "relative error", "tr": "göreli hata"},
        "l01.col.median_rel": {"en": "median per weight", "tr": "medyan (ağırlık başına)"},
        "l01.col.underflow": {"en": "became 0", "tr": "0 olan"},
        "l01.col.gpu": {"en": "GPU", "tr": "GPU"},
        "l01.col.arch": {"en": "architecture", "tr": "mimari"},
        "l01.col.cc": {"en": "compute capability", "tr": "hesaplama yeteneği"},
        "l01.col.bf16_hw": {"en": "BF16 in hardware", "tr": "donanımda BF16"},
        "l01.col.fp8_hw": {"en": "FP8 in hardware", "tr": "donanımda FP8"},
        # number kinds (what decompose(...).kind says)
        "l01.kind.normal": {"en": "normal", "tr": "normal"},
        "l01.kind.subnormal": {"en": "subnormal", "tr": "alt normal"},
        "l01.kind.zero": {"en": "zero", "tr": "sıfır"},
        "l01.kind.inf": {"en": "infinity (overflow)", "tr": "sonsuz (taşma)"},
        "l01.kind.nan": {"en": "NaN (not a number)", "tr": "NaN (sayı değil)"},
        # readouts
        "l01.readout.fields": {
            "en": "sign {s} | exponent {e} | mantissa {m}",
            "tr": "işaret {s} | üs {e} | mantis {m}",
        },
        "l01.readout.bits": {"en": "{fmt} bits: {bits}   ({kind})", "tr": "{fmt} bitleri: {bits}   ({kind})"},
        "l01.readout.value": {"en": "value = {value}", "tr": "değer = {value}"},
        "l01.readout.formula": {"en": "formula: {formula}", "tr": "formül: {formula}"},
        "l01.readout.special": {
            "en": "exponent all ones: no formula, a special value",
            "tr": "üs bitlerinin hepsi 1: formül yok, özel bir değer",
        },
        "l01.readout.input": {"en": "Input: {x}", "tr": "Girdi: {x}"},
        "l01.this_machine": {
            "en": "This machine: {gpu}, compute capability {cc}, BF16 in hardware: {bf16}",
            "tr": "Bu makine: {gpu}, hesaplama yeteneği {cc}, donanımda BF16: {bf16}",
        },
        "l01.no_gpu": {
            "en": "This machine has no CUDA GPU; numpy and ml_dtypes emulate every format on the CPU.",
            "tr": "Bu makinede CUDA GPU yok; numpy ve ml_dtypes her biçimi CPU'da taklit eder.",
        },
        # widgets
        "l01.widget.format": {"en": "Format", "tr": "Biçim"},
        "l01.widget.number": {"en": "Number", "tr": "Sayı"},
        "l01.widget.legend": {
            "en": "red = sign, orange = exponent, blue = mantissa (the colours follow the format)",
            "tr": "kırmızı = işaret, turuncu = üs, mavi = mantis (renkler biçime göre değişir)",
        },
        "l01.widget.bit_tooltip": {
            "en": "bit {i}: click to flip",
            "tr": "{i}. bit: tersine çevirmek için tıklayın",
        },
        # plots
        "l01.plot.range.title": {"en": "Range of each number format", "tr": "Sayı biçimlerinin aralığı"},
        "l01.plot.range.xlabel": {
            "en": "Magnitude of the number (log scale)",
            "tr": "Sayının büyüklüğü (logaritmik ölçek)",
        },
        "l01.plot.range.normal": {"en": "normal numbers", "tr": "normal sayılar"},
        "l01.plot.range.subnormal": {"en": "subnormal numbers", "tr": "alt normal sayılar"},
        "l01.plot.range.note": {"en": "≈ {digits} digits", "tr": "≈ {digits} basamak"},
        "l01.plot.grid.title": {
            "en": "Every representable value between 0 and 6",
            "tr": "0 ile 6 arasında gösterilebilen tüm değerler",
        },
        "l01.plot.grid.xlabel": {"en": "Value", "tr": "Değer"},
        "l01.plot.hist.title": {
            "en": "Magnitudes of a real weight matrix (MiniLM, FFN)",
            "tr": "Gerçek bir ağırlık matrisinin büyüklükleri (MiniLM, FFN)",
        },
        "l01.plot.hist.xlabel": {"en": "log₁₀ |weight|", "tr": "log₁₀ |ağırlık|"},
        "l01.plot.hist.ylabel": {"en": "Number of weights", "tr": "Ağırlık sayısı"},
        "l01.plot.hist.mark": {"en": "{fmt}: below this → 0", "tr": "{fmt}: bunun altı → 0"},
        "l01.plot.err.title": {
            "en": "Relative error of the weights after the cast",
            "tr": "Dönüşümden sonra ağırlıkların göreli hatası",
        },
        "l01.plot.err.ylabel": {"en": "Relative error (%)", "tr": "Göreli hata (%)"},
        "l01.plot.err.xlabel": {"en": "Number format", "tr": "Sayı biçimi"},
    }
)


# --- exercises --------------------------------------------------------------

_EXP_6_5 = decompose(6.5, "fp16")  # 6.5 = 1.625 · 2^2, stored as 2 + bias
_BIAS16 = FORMATS["fp16"].bias

register(
    "01.exponent_6_5",  # Stored (biased) exponent field of 6.5 in FP16?
    solution=_EXP_6_5.exponent,
    wrong=(_EXP_6_5.unbiased_exponent, 2 + 127, 15 - 2, 1 + _BIAS16, 3 + _BIAS16),
    checker=_with_own_fallback(
        numeric(
            _EXP_6_5.exponent,
            abs_tol=0.01,
            units=None,
            traps={
                _EXP_6_5.unbiased_exponent: "ex.01.exp_no_bias",
                2 + 127: "ex.01.exp_fp32_bias",
                15 - 2: "ex.01.exp_bias_minus",
                1 + _BIAS16: "ex.01.exp_off_by_one",
                3 + _BIAS16: "ex.01.exp_off_by_one",
            },
        ),
        other="ex.01.exp_other",
    ),
    messages={
        "ex.01.exp_no_bias": {
            "en": "that is the true power of two. The field stores it plus the exponent bias of FP16.",
            "tr": "bu ikinin gerçek kuvveti. Alan bunu FP16'nın üs kaydırması eklenmiş hâliyle saklar.",
        },
        "ex.01.exp_fp32_bias": {
            "en": "you used the FP32 bias. FP16 has a 5-bit exponent, so its bias is 2^4 − 1.",
            "tr": "FP32'nin üs kaydırmasını kullandınız. FP16'nın üssü 5 bitlik, bu yüzden üs kaydırması 2^4 − 1.",
        },
        "ex.01.exp_bias_minus": {
            "en": "the bias is added to the power of two when storing, not the other way round.",
            "tr": "saklarken üs kaydırması ikinin kuvvetine eklenir; tersi değil.",
        },
        "ex.01.exp_off_by_one": {
            "en": "check the power of two. Write 6.5 as 1.f × 2^k with 1 ≤ 1.f < 2 first: which k is that?",
            "tr": "ikinin kuvvetini kontrol edin. Önce 6,5'i 1 ≤ 1,f < 2 olacak biçimde 1,f × 2^k olarak yazın: k kaç?",
        },
        "ex.01.exp_other": {
            "en": "find k with 6.5 = 1.f × 2^k and 1 ≤ 1.f < 2, then add the FP16 bias 2^(5−1) − 1.",
            "tr": "1 ≤ 1,f < 2 ve 6,5 = 1,f × 2^k olacak k'yı bulun, sonra FP16'nın üs "
            "kaydırmasını, 2^(5−1) − 1'i ekleyin.",
        },
    },
)


def _gap_after(x: float, fmt: str) -> float:
    """Gap between ``x`` (representable in ``fmt``) and the next larger number of ``fmt``."""
    d = decompose(x, fmt)
    return compose(d.sign, d.exponent, d.mantissa + 1, fmt) - d.value


_GAP_100 = _gap_after(100, "bf16")  # 100 = 1.5625 · 2^6: the gap is 2^(6 - 7)

register(
    "01.bf16_gap_100",  # Gap between 100 and the next larger BF16 number?
    solution=_GAP_100,
    wrong=(
        FORMATS["bf16"].epsilon,
        _gap_after(100, "fp16"),
        _GAP_100 * 2,
        _gap_after(100, "fp32"),
        100 * 2.0**-7,
    ),
    checker=_with_own_fallback(
        numeric(
            _GAP_100,
            rel_tol=0.01,
            units=None,
            traps={
                FORMATS["bf16"].epsilon: "ex.01.gap_at_one",
                _gap_after(100, "fp16"): "ex.01.gap_fp16",
                _GAP_100 * 2: "ex.01.gap_off_by_one",
                _gap_after(100, "fp32"): "ex.01.gap_fp32",
                100 * 2.0**-7: "ex.01.gap_relative",
            },
        ),
        other="ex.01.gap_other",
    ),
    messages={
        "ex.01.gap_at_one": {
            "en": "that is the gap next to 1.0. Near 100 the exponent is larger, and the gap grows with it.",
            "tr": "bu, 1,0'ın yanındaki adım. 100 civarında üs daha büyük ve adım da onunla büyür.",
        },
        "ex.01.gap_fp16": {
            "en": "that would be right for FP16 (10 mantissa bits). BF16 keeps only 7 mantissa bits.",
            "tr": "bu FP16 (10 mantis biti) için doğru olurdu. BF16 yalnızca 7 mantis biti tutar.",
        },
        "ex.01.gap_off_by_one": {
            "en": "check the power of two: 100 lies between 64 and 128.",
            "tr": "ikinin kuvvetini kontrol edin: 100, 64 ile 128 arasında.",
        },
        "ex.01.gap_fp32": {
            "en": "that is the FP32 gap (23 mantissa bits). BF16 keeps only 7 mantissa bits.",
            "tr": "bu FP32'deki adım (23 mantis biti). BF16 yalnızca 7 mantis biti tutar.",
        },
        "ex.01.gap_relative": {
            "en": "you multiplied 100 by 2^−7. The gap is a power of two: 2^k · 2^−7, with 2^k ≤ 100 < 2^(k+1).",
            "tr": "100'ü 2^−7 ile çarptınız. Adım ikinin bir kuvvetidir: 2^k · 2^−7; burada 2^k ≤ 100 < 2^(k+1).",
        },
        "ex.01.gap_other": {
            "en": "the gap is 2^(k − M): k from 100 = 1.f × 2^k, M = mantissa bits of BF16.",
            "tr": "adım 2^(k − M): k, 100 = 1,f × 2^k yazılışından; M, BF16'nın mantis biti sayısı.",
        },
    },
)

_ALL_FORMATS = tuple(FORMATS)  # fp32, fp16, bf16, fp8_e4m3, fp8_e5m2, fp4_e2m1
_SMALLEST_100K = min(
    (name for name, f in FORMATS.items() if f.max_value >= 100_000), key=lambda name: FORMATS[name].total_bits
)

register(
    "01.no_overflow_100k",  # Smallest format of the course that stores 100000 without overflowing?
    solution=_SMALLEST_100K,
    wrong=tuple(name for name in _ALL_FORMATS if name != _SMALLEST_100K),
    checker=choice(
        _SMALLEST_100K,
        _ALL_FORMATS,
        traps={
            "fp32": "ex.01.ovf_fp32",
            "fp16": "ex.01.ovf_fp16",
            "fp8_e5m2": "ex.01.ovf_e5m2",
            "fp8_e4m3": "ex.01.ovf_e4m3",
            "fp4_e2m1": "ex.01.ovf_fp4",
        },
    ),
    messages={
        "ex.01.ovf_fp32": {
            "en": "FP32 stores it, but it is not the smallest: a format with fewer bits does too. "
            "Which part of a format sets its range?",
            "tr": "FP32 onu saklar ama en küçük biçim değil: daha az bitli bir biçim de saklar. "
            "Bir biçimin aralığını hangi bitleri belirler?",
        },
        "ex.01.ovf_fp16": {
            "en": "FP16's largest number is 65504, so 100000 overflows to inf.",
            "tr": "FP16'nın en büyük sayısı 65.504; 100.000 taşar ve inf olur.",
        },
        "ex.01.ovf_e5m2": {
            "en": "E5M2 has the same 5 exponent bits as FP16 and an even smaller maximum. Look for more exponent bits.",
            "tr": "E5M2, FP16 ile aynı 5 üs bitine ve daha da küçük bir en büyük değere sahip. Daha çok üs biti arayın.",
        },
        "ex.01.ovf_e4m3": {
            "en": "E4M3 stops at 448. Range comes from exponent bits: which format has the most?",
            "tr": "E4M3 448'de biter. Aralığı üs bitleri belirler: hangi biçimde en çok üs biti var?",
        },
        "ex.01.ovf_fp4": {
            "en": "FP4's largest value is 6. Range comes from exponent bits: which format has the most?",
            "tr": "FP4'ün en büyük değeri 6. Aralığı üs bitleri belirler: hangi biçimde en çok üs biti var?",
        },
    },
)


# --- exercise 4: decode a float's bits (the learner writes the function) ----------

DECODE_FORMATS = ("fp8_e4m3", "fp8_e5m2", "bf16")


def decode_reference(bits: str, fmt: str) -> float:
    """The value of a bit pattern written like ``decompose(...).bits`` ("s eeee mmm"), via qlab."""
    s, e, m = (int(field, 2) for field in bits.split())
    return compose(s, e, m, fmt)


def _wrong_decoder(
    *,
    bias_shift: int = 0,
    use_bias: bool = True,
    normal_one: bool = True,
    subnormal_one: bool = False,
    subnormal_exponent: str = "1 - bias",
    sign: bool = True,
) -> Any:
    """A decoder with one typical mistake (the keyword arguments say which)."""

    def decode(bits: str, fmt: str) -> float:
        f = FORMATS[fmt]
        s, e, m = (int(field, 2) for field in bits.split())
        bias = (2 ** (f.exponent_bits - 1) - 1 + bias_shift) if use_bias else 0
        frac = m / 2**f.mantissa_bits
        if e == 0:
            exponent = {"1 - bias": 1 - bias, "-bias": -bias}[subnormal_exponent]
            value = 2.0**exponent * (frac + (1 if subnormal_one else 0))
        else:
            value = 2.0 ** (e - bias) * (frac + (1 if normal_one else 0))
        return -value if (sign and s) else value

    return decode


forgot_bias = _wrong_decoder(use_bias=False)
bias_off_by_one = _wrong_decoder(bias_shift=1)  # bias = 2^(E-1) instead of 2^(E-1) - 1
forgot_implicit_one = _wrong_decoder(normal_one=False)
one_on_subnormals = _wrong_decoder(subnormal_one=True)  # the implicit 1 added to subnormals too
subnormal_exponent_minus_bias = _wrong_decoder(subnormal_exponent="-bias")  # 2^(0 - bias) for e = 0
no_subnormal_case = _wrong_decoder(subnormal_exponent="-bias", subnormal_one=True)  # e = 0 read as normal
forgot_sign = _wrong_decoder(sign=False)


def _bits_text(s: int, e: int, m: int, fmt: str) -> str:
    f = FORMATS[fmt]
    return f"{s} {e:0{f.exponent_bits}b} {m:0{f.mantissa_bits}b}"


def _random_pattern(rng: np.random.Generator) -> tuple[str, str]:
    """A fresh finite bit pattern: one format of DECODE_FORMATS, a subnormal one time in three."""
    fmt = DECODE_FORMATS[int(rng.integers(len(DECODE_FORMATS)))]
    f = FORMATS[fmt]
    while True:
        s = int(rng.integers(2))
        e = 0 if rng.random() < 1 / 3 else int(rng.integers(1, 2**f.exponent_bits))
        m = int(rng.integers(1 if e == 0 else 0, 2**f.mantissa_bits))  # e = 0: a subnormal, never 0
        value = compose(s, e, m, fmt)
        if np.isfinite(value):  # normals and subnormals only: no inf, no NaN
            return _bits_text(s, e, m, fmt), fmt


def _exactly(expected: Any, got: Any) -> bool:
    """Equal up to float64 rounding, with no absolute tolerance (BF16 subnormals are ~1e-40)."""
    return same_result(expected, got, rtol=1e-9, atol=0.0)


DECODE_EDGE_CASES = (
    ("0 0111 100", "fp8_e4m3"),  # 1.5: bias and the implicit 1
    ("0 1010 011", "fp8_e4m3"),  # 11: a larger exponent
    ("0 0000 001", "fp8_e4m3"),  # the smallest subnormal, 2^-9
    ("0 00000 11", "fp8_e5m2"),  # a subnormal of E5M2
    ("1 0110 010", "fp8_e4m3"),  # negative
    ("1 10000000 1001001", "bf16"),  # -3.140625
)


def _returns_something(checker: Checker) -> Checker:
    """``checker``, but a function that still returns None (the notebook's skeleton) is told so first."""

    def wrapped(answer: Any) -> Hint | None:
        if callable(answer):
            try:
                if answer(*DECODE_EDGE_CASES[0]) is None:
                    return "ex.01.decode.returns_none"
            except Exception:  # the wrapped checker reports the error with its input
                pass
        return checker(answer)

    return wrapped


register(
    "01.decode",  # Write decode(bits, fmt): the value of an E4M3 / E5M2 / BF16 bit pattern
    solution=decode_reference,
    wrong=(
        forgot_bias,
        bias_off_by_one,
        forgot_implicit_one,
        one_on_subnormals,
        subnormal_exponent_minus_bias,
        no_subnormal_case,
        forgot_sign,
    ),
    checker=_returns_something(
        implementation(
            decode_reference,
            _random_pattern,
            trials=24,
            edge_cases=DECODE_EDGE_CASES,
            mistakes={
                # order matters where two mistakes agree on an input: on a subnormal, 2^(0 - bias) looks
                # like a bias one too large, so the subnormal mistake is tried first (it cannot match
                # on a normal number, where it agrees with the reference).
                "ex.01.decode.subnormal_exponent": subnormal_exponent_minus_bias,
                "ex.01.decode.no_bias": forgot_bias,
                "ex.01.decode.bias_formula": bias_off_by_one,
                "ex.01.decode.implicit_one": forgot_implicit_one,
                "ex.01.decode.subnormal_one": one_on_subnormals,
                "ex.01.decode.no_subnormal_case": no_subnormal_case,
                "ex.01.decode.sign": forgot_sign,
            },
            compare=_exactly,
        )
    ),
    messages={
        "ex.01.decode.returns_none": {
            "en": "your function returns None. Compute the value from s, e and m and return it.",
            "tr": "fonksiyonunuz None döndürüyor. Değeri s, e ve m'den hesaplayıp döndürün.",
        },
        "ex.01.decode.no_bias": {
            "en": "you used the stored exponent field as the power of two. Subtract the bias first.",
            "tr": "saklanan üs alanını doğrudan ikinin kuvveti olarak kullandınız. Önce üs kaydırmasını çıkarın.",
        },
        "ex.01.decode.bias_formula": {
            "en": "your bias is one too large. With E exponent bits the bias is 2^(E−1) − 1.",
            "tr": "üs kaydırmanız bir fazla. E üs biti olan bir biçimde üs kaydırması 2^(E−1) − 1'dir.",
        },
        "ex.01.decode.implicit_one": {
            "en": "normal numbers have an implicit leading 1: the significand is 1 + m/2^M, not m/2^M.",
            "tr": "normal sayılarda baştaki 1 örtüktür: anlamlı kısım m/2^M değil, 1 + m/2^M'dir.",
        },
        "ex.01.decode.subnormal_one": {
            "en": "subnormal numbers (exponent field 0) have no implicit 1: their significand is m/2^M.",
            "tr": "alt normal sayıların (üs alanı 0) örtük 1'i yoktur: anlamlı kısımları m/2^M'dir.",
        },
        "ex.01.decode.subnormal_exponent": {
            "en": "subnormal numbers use the power 2^(1 − bias), the same as the smallest normal numbers, "
            "not 2^(0 − bias).",
            "tr": "alt normal sayılar 2^(0 − kaydırma) değil, en küçük normal sayılarla aynı kuvveti, "
            "2^(1 − kaydırma)'yı kullanır.",
        },
        "ex.01.decode.no_subnormal_case": {
            "en": "an exponent field of 0 is special: it holds the subnormal numbers, which follow their own formula.",
            "tr": "üs alanının 0 olması özel bir durumdur: alt normal sayıları tutar ve onların kendi formülü vardır.",
        },
        "ex.01.decode.sign": {
            "en": "mind the sign bit: a first bit of 1 makes the value negative, (−1)^s.",
            "tr": "işaret bitine dikkat: ilk bit 1 ise değer negatiftir, (−1)^s.",
        },
    },
)
