"""Lesson 01 (number formats): exercises and the notebook's English/Turkish strings.

Imported by the setup cell of ``notebooks/{en,tr}/01_number_formats.ipynb``.
The exercises ask for things the lesson derives by hand with
:func:`qlab.floats.decompose`: a stored exponent field, the gap between
neighbouring BF16 numbers, and which format survives a large activation.
"""

from __future__ import annotations

from typing import Any

from qlab.exercises import Checker, Hint, choice, numeric, register
from qlab.i18n import add_messages


def _with_own_fallback(checker: Checker, too_high: str, too_low: str) -> Checker:
    """``checker`` with this lesson's "too large"/"too small" hints.

    The generic ones of :func:`qlab.exercises.numeric` talk about bytes per
    parameter (lesson 00), which would mislead here.
    """

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        return (
            {"ex.too_high": too_high, "ex.too_low": too_low}.get(hint, hint)
            if isinstance(hint, str)
            else hint
        )

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
        "l01.col.bias": {"en": "bias", "tr": "sapma"},
        "l01.by_hand": {"en": "by hand:", "tr": "elle:"},
        "l01.numpy_memory": {"en": "numpy memory:", "tr": "numpy belleği:"},
        "l01.overflow_to": {"en": "too large -> {what}", "tr": "çok büyük -> {what}"},
        "l01.finite_values": {"en": "{n} finite values", "tr": "{n} sonlu değer"},
        "l01.col.rel_error": {"en": "relative error", "tr": "göreli hata"},
        "l01.col.median_rel": {"en": "median per weight", "tr": "ağırlık başına medyan"},
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
        "l01.widget.bit_tooltip": {"en": "bit {i}: click to flip", "tr": "{i}. bit: çevirmek için tıklayın"},
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
            "tr": "0 ile 6 arasındaki gösterilebilen tüm değerler",
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

register(
    "01.exponent_6_5",  # Stored (biased) exponent field of 6.5 in FP16?  6.5 = 1.625 · 2^2 -> 2 + 15
    solution=2 + 15,
    wrong=(2, 129, 13, 16),
    checker=_with_own_fallback(
        numeric(
            17,
            abs_tol=0.01,
            units=None,
            traps={
                2: "ex.01.exp_no_bias",
                129: "ex.01.exp_fp32_bias",
                13: "ex.01.exp_bias_minus",
                16: "ex.01.exp_off_by_one",
            },
        ),
        too_high="ex.01.exp_high",
        too_low="ex.01.exp_low",
    ),
    messages={
        "ex.01.exp_no_bias": {
            "en": "that is the true power of two. The field stores it plus the bias of FP16.",
            "tr": "bu ikinin gerçek kuvveti. Alan bunu FP16'nın sapması eklenmiş hâliyle saklar.",
        },
        "ex.01.exp_fp32_bias": {
            "en": "you used the FP32 bias. FP16 has a 5-bit exponent, so its bias is 2^4 − 1.",
            "tr": "FP32'nin sapmasını kullandınız. FP16'nın üssü 5 bitlik, bu yüzden sapması 2^4 − 1.",
        },
        "ex.01.exp_bias_minus": {
            "en": "the bias is added to the power of two when storing, not the other way round.",
            "tr": "saklarken sapma ikinin kuvvetine eklenir; tersi değil.",
        },
        "ex.01.exp_off_by_one": {
            "en": "almost. Write 6.5 as 1.f × 2^k with 1 ≤ 1.f < 2 first: which k is that?",
            "tr": "az kaldı. Önce 6,5'i 1 ≤ 1.f < 2 olacak biçimde 1.f × 2^k olarak yazın: k kaç?",
        },
        "ex.01.exp_high": {
            "en": "too large. Find k with 6.5 = 1.f × 2^k, then add the FP16 bias.",
            "tr": "çok büyük. 6,5 = 1.f × 2^k olacak k'yı bulun, sonra FP16 sapmasını ekleyin.",
        },
        "ex.01.exp_low": {
            "en": "too small. Find k with 6.5 = 1.f × 2^k, then add the FP16 bias.",
            "tr": "çok küçük. 6,5 = 1.f × 2^k olacak k'yı bulun, sonra FP16 sapmasını ekleyin.",
        },
    },
)

register(
    "01.bf16_gap_100",  # Gap between 100 and the next larger BF16 number?  100 = 1.5625 · 2^6 -> 2^(6-7)
    solution=2.0 ** (6 - 7),
    wrong=(2.0**-7, 2.0**-4, 1.0, 2.0**-17),
    checker=_with_own_fallback(
        numeric(
            2.0 ** (6 - 7),
            rel_tol=0.01,
            units=None,
            traps={
                2.0**-7: "ex.01.gap_at_one",
                2.0**-4: "ex.01.gap_fp16",
                1.0: "ex.01.gap_off_by_one",
                2.0**-17: "ex.01.gap_fp32",
            },
        ),
        too_high="ex.01.gap_high",
        too_low="ex.01.gap_low",
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
            "en": "close. Check the power of two: 100 lies between 64 and 128.",
            "tr": "yakın. İkinin kuvvetini kontrol edin: 100, 64 ile 128 arasında.",
        },
        "ex.01.gap_fp32": {
            "en": "that is the FP32 gap (23 mantissa bits). BF16 keeps only 7 mantissa bits.",
            "tr": "bu FP32'deki adım (23 mantis biti). BF16 yalnızca 7 mantis biti tutar.",
        },
        "ex.01.gap_high": {
            "en": "too large. The gap is 2^(k − M): k from 100 = 1.f × 2^k, M = mantissa bits of BF16.",
            "tr": "çok büyük. Adım 2^(k − M): k, 100 = 1.f × 2^k'dan; M, BF16'nın mantis biti sayısı.",
        },
        "ex.01.gap_low": {
            "en": "too small. The gap is 2^(k − M): k from 100 = 1.f × 2^k, M = mantissa bits of BF16.",
            "tr": "çok küçük. Adım 2^(k − M): k, 100 = 1.f × 2^k'dan; M, BF16'nın mantis biti sayısı.",
        },
    },
)

register(
    "01.no_overflow_100k",  # Which 16- or 8-bit format stores an activation of 100000 without overflow?
    solution="bf16",
    wrong=("fp16", "fp8_e5m2", "fp8_e4m3"),
    checker=choice(
        "bf16",
        ("fp16", "bf16", "fp8_e4m3", "fp8_e5m2"),
        traps={
            "fp16": "ex.01.ovf_fp16",
            "fp8_e5m2": "ex.01.ovf_e5m2",
            "fp8_e4m3": "ex.01.ovf_e4m3",
        },
    ),
    messages={
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
    },
)
