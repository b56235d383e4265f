"""Lesson 02 (absmax quantization): exercises and the strings of its plots and widgets.

Imported by the setup cell of ``notebooks/{en,tr}/02_absmax.ipynb``. Importing it
registers three self-checking exercises with :func:`qlab.exercises.register` and the
lesson's English/Turkish texts with :func:`qlab.i18n.add_messages`.

The exercises follow the lesson's recipe (Labonne 2023; Dettmers et al. 2022,
arXiv:2208.07339): ``scale = 127 / max|X|``, ``code = round(scale * x)``,
``x_hat = code / scale``.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from qlab.exercises import Checker, Hint, numeric, register
from qlab.i18n import add_messages

# --- plot, widget and readout strings -----------------------------------------

add_messages(
    {
        # the bits slider: quantization grid and rounding error
        "plot.02.grid.title": {
            "en": "Absmax at {bits} bits: {levels} levels, step {step}",
            "tr": "{bits} bitte absmax: {levels} düzey, adım {step}",
        },
        "plot.02.grid.xlabel": {"en": "Original value x", "tr": "Özgün değer x"},
        "plot.02.grid.ylabel": {"en": "Dequantized value x̂", "tr": "Ters nicemlenmiş değer x̂"},
        "plot.02.grid.identity": {"en": "no error (x̂ = x)", "tr": "hatasız (x̂ = x)"},
        "plot.02.grid.staircase": {"en": "absmax grid", "tr": "absmax ızgarası"},
        "plot.02.grid.weight": {"en": "the weight 0.1", "tr": "0,1 ağırlığı"},
        "plot.02.error.ylabel": {"en": "Rounding error x − x̂", "tr": "Yuvarlama hatası x − x̂"},
        "plot.02.error.bound": {"en": "± half a step", "tr": "± yarım adım"},
        "widget.02.bits": {"en": "Bits", "tr": "Bit sayısı"},
        "readout.02.grid": {
            "en": "{bits} bits: codes −{qmax} … {qmax} ({levels} levels), scale {scale}, step {step}",
            "tr": "{bits} bit: kodlar −{qmax} … {qmax} ({levels} düzey), ölçek {scale}, adım {step}",
        },
        "readout.02.weight": {
            "en": "the weight 0.1 → code {code} → back {x_hat} (error {error})",
            "tr": "0,1 ağırlığı → kod {code} → geri {x_hat} (hata {error})",
        },
        # one outlier
        "plot.02.outlier.title": {
            "en": "Codes of 1,000 small weights",
            "tr": "1.000 küçük ağırlığın kodları",
        },
        "plot.02.outlier.without": {"en": "without the outlier", "tr": "aykırı değer olmadan"},
        "plot.02.outlier.with": {"en": "with one outlier (50.0)", "tr": "tek bir aykırı değerle (50,0)"},
        "plot.02.outlier.xlabel": {"en": "Integer code", "tr": "Tam sayı kodu"},
        "plot.02.outlier.zeros": {"en": "← {pct} % at code 0", "tr": "← %{pct} kod 0'da"},
        "readout.02.relative": {
            "en": "x = {x}: worst-case error / weight = {pct} %",
            "tr": "x = {x}: en kötü durumdaki hata / ağırlık = %{pct}",
        },
        "readout.02.by_hand": {"en": "by hand", "tr": "elle"},
        "readout.02.bpp": {"en": "bits per parameter", "tr": "bit / parametre"},
        "readout.02.outlier": {
            "en": "{case:30} scale {scale:>9}   zeros {zeros:>6} %   codes used {used:>4}   "
            "SQNR (small weights) {sqnr:>6} dB",
            "tr": "{case:30} ölçek {scale:>9}   sıfırlar %{zeros:<6}   kullanılan kod {used:>4}   "
            "SQNR (küçük ağırlıklar) {sqnr:>6} dB",
        },
        "readout.02.whole_vector": {
            "en": "SQNR of the whole vector, outlier included: {sqnr} dB",
            "tr": "Aykırı değer dahil bütün vektörün SQNR'si: {sqnr} dB",
        },
        # real weights
        "plot.02.minilm.title": {
            "en": "all-MiniLM-L6-v2, layer 0, attention query weight",
            "tr": "all-MiniLM-L6-v2, 0. katman, dikkat sorgu (query) ağırlığı",
        },
        "plot.02.minilm.xlabel": {"en": "Weight value", "tr": "Ağırlık değeri"},
        "plot.02.minilm.zero_zone": {
            "en": "becomes 0 at 4 bits (±½ step)",
            "tr": "4 bitte 0 olur (±½ adım)",
        },
        "readout.02.minilm": {
            "en": "{bits} bits: SQNR {sqnr:>5} dB, max error {max_err}, weights rounded to 0: {zeros} %",
            "tr": "{bits} bit: SQNR {sqnr:>5} dB, en büyük hata {max_err}, 0'a yuvarlanan ağırlık: %{zeros}",
        },
        "plot.02.sqnr.title": {
            "en": "Absmax per tensor on a real weight: SQNR versus bits",
            "tr": "Gerçek bir ağırlıkta tensör başına absmax: bit sayısına göre SQNR",
        },
        "plot.02.sqnr.xlabel": {"en": "Bits per weight", "tr": "Ağırlık başına bit"},
        "plot.02.sqnr.ylabel": {"en": "SQNR (dB, higher is better)", "tr": "SQNR (dB, yüksek olan iyi)"},
        "plot.02.sqnr.measured": {
            "en": "measured (MiniLM query weight)",
            "tr": "ölçülen (MiniLM sorgu ağırlığı)",
        },
        "plot.02.sqnr.rule": {"en": "+6.02 dB per bit (from 8 bits)", "tr": "bit başına +6,02 dB (8 bitten)"},
        "common.02.bits": {"en": "bits", "tr": "bit"},
    }
)


# --- exercises ------------------------------------------------------------------


def _as_finite(answer: Any) -> float | None:
    if isinstance(answer, bool) or not isinstance(answer, Real):
        return None
    value = float(answer)
    return value if math.isfinite(value) else None


def _code_checker(answer: Any) -> Hint | None:
    """Exercise 02.code_by_hand: the 8-bit code of 0.83 when max|X| = 2.5 (127 / 2.5 * 0.83 = 42.16...)."""
    value = _as_finite(answer)
    if value is None:
        return ("ex.not_a_number", {"kind": type(answer).__name__})
    exact = 127 / 2.5 * 0.83
    if value == round(exact):
        return None
    if math.isclose(value, exact, rel_tol=1e-6):
        return "ex.02.code.not_rounded"
    if math.isclose(value, 2.5 / 127 * 0.83, rel_tol=0.01):
        return "ex.02.code.inverted"
    if math.isclose(value, 0.83 / 2.5 * 255, abs_tol=1.0):
        return "ex.02.code.used_255"
    if value == -round(exact):
        return "ex.02.code.sign"
    if value == math.floor(exact) + 1:
        return "ex.02.code.rounded_up"
    if value != int(value):
        return "ex.02.code.not_integer"
    return "ex.02.too_high" if value > exact else "ex.02.too_low"


def _lesson_direction(checker: Checker) -> Checker:
    """``checker`` with lesson 00's generic "too high/low" hints (about bytes per parameter) replaced by ours."""
    ours = {"ex.too_high": "ex.02.too_high", "ex.too_low": "ex.02.too_low"}

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        return ours.get(hint, hint) if isinstance(hint, str) else hint

    return wrapped


_RECIPE = {
    "en": "Redo the recipe step by step: scale = 127 / max|X|, code = round(scale · x), x̂ = code / scale.",
    "tr": "Tarifi adım adım yeniden uygulayın: ölçek = 127 / max|X|, kod = round(ölçek · x), x̂ = kod / ölçek.",
}
add_messages(
    {
        "ex.02.too_high": {
            "en": "your number is too large. " + _RECIPE["en"],
            "tr": "sayınız çok büyük. " + _RECIPE["tr"],
        },
        "ex.02.too_low": {
            "en": "your number is too small. " + _RECIPE["en"],
            "tr": "sayınız çok küçük. " + _RECIPE["tr"],
        },
    }
)


register(
    "02.code_by_hand",  # 8-bit absmax code of the weight 0.83 in a tensor with max|X| = 2.5
    solution=round(127 / 2.5 * 0.83),
    wrong=(42.164, 0.0163, 85, -42, 43, 12.5),
    checker=_code_checker,
    messages={
        "ex.02.code.not_rounded": {
            "en": "you scaled correctly, but a code is an integer: round to the nearest one.",
            "tr": "ölçekleme doğru, ama kod bir tam sayıdır: en yakın tam sayıya yuvarlayın.",
        },
        "ex.02.code.inverted": {
            "en": "you multiplied by max|X| / 127. The scale is 127 / max|X|: it stretches small weights onto the codes.",
            "tr": "max|X| / 127 ile çarptınız. Ölçek 127 / max|X|'tir: küçük ağırlıkları kodların üzerine gerer.",
        },
        "ex.02.code.used_255": {
            "en": "absmax is symmetric: the largest code is 127, not 255 (the negative half needs the other codes).",
            "tr": "absmax simetriktir: en büyük kod 255 değil 127'dir (diğer kodlar negatif yarıya ayrılır).",
        },
        "ex.02.code.sign": {
            "en": "mind the sign: a positive weight gets a positive code.",
            "tr": "işarete dikkat: pozitif bir ağırlığın kodu da pozitiftir.",
        },
        "ex.02.code.rounded_up": {
            "en": "round to the *nearest* integer, not always upwards.",
            "tr": "her zaman yukarı değil, *en yakın* tam sayıya yuvarlayın.",
        },
        "ex.02.code.not_integer": {
            "en": "a code is an integer between −127 and 127. Compute 127 / max|X| · x, then round.",
            "tr": "kod, −127 ile 127 arasında bir tam sayıdır. 127 / max|X| · x'i hesaplayıp yuvarlayın.",
        },
    },
)

register(
    "02.dequantize",  # dequantized value of that weight: 42 / (127 / 2.5)
    solution=42 * 2.5 / 127,
    wrong=(0.83, 2133.6, 42 * 2.5 / 128, -42 * 2.5 / 127, 0.8),
    checker=_lesson_direction(
        numeric(
            42 * 2.5 / 127,
            rel_tol=2e-4,
            units=None,
            traps={
                0.83: "ex.02.deq.original",
                42 * 127 / 2.5: "ex.02.deq.multiplied",
                42 * 2.5 / 128: "ex.02.deq.used_128",
                -42 * 2.5 / 127: "ex.02.deq.sign",
            },
        )
    ),
    messages={
        "ex.02.deq.original": {
            "en": "that is the original weight. Dequantization only sees the code and the scale: "
            "divide the code by the scale and keep several decimals.",
            "tr": "bu özgün ağırlık. Ters nicemleme yalnızca kodu ve ölçeği görür: kodu ölçeğe bölün "
            "ve birkaç ondalık basamak tutun.",
        },
        "ex.02.deq.multiplied": {
            "en": "you multiplied the code by the scale. Going back means dividing: x̂ = code / scale.",
            "tr": "kodu ölçekle çarptınız. Geri dönmek bölmek demektir: x̂ = kod / ölçek.",
        },
        "ex.02.deq.used_128": {
            "en": "close, but the 8-bit absmax scale uses 127, the largest code, not 128.",
            "tr": "yakın, ama 8 bitlik absmax ölçeği 128'i değil, en büyük kod olan 127'yi kullanır.",
        },
        "ex.02.deq.sign": {
            "en": "mind the sign: a positive code comes back as a positive value.",
            "tr": "işarete dikkat: pozitif bir kod pozitif bir değer olarak geri döner.",
        },
    },
)


def _bits_checker(answer: Any) -> Hint | None:
    """Exercise 02.min_bits_25db: smallest bit width (2..8) whose per-tensor SQNR on the
    MiniLM layer-5 attention value weight is at least 25 dB. Measured: 6 bits 26.1 dB, 5 bits 19.8 dB."""
    value = _as_finite(answer)
    if value is None:
        return ("ex.not_a_number", {"kind": type(answer).__name__})
    if value != int(value) or not 2 <= value <= 8:
        return "ex.02.bits.range"
    if value == MIN_BITS_25DB:
        return None
    if value > MIN_BITS_25DB:
        return "ex.02.bits.not_smallest"
    return "ex.02.bits.too_few"


MIN_BITS_25DB = 6  # measured on encoder.layer.5.attention.self.value.weight (see the docstring above)

register(
    "02.min_bits_25db",
    solution=MIN_BITS_25DB,
    wrong=(8, 7, 5, 4, 2.5, 16),
    checker=_bits_checker,
    messages={
        "ex.02.bits.range": {
            "en": "answer with a whole number of bits between 2 and 8, the widths absmax_quantize supports.",
            "tr": "absmax_quantize'ın desteklediği gibi 2 ile 8 arasında tam sayı bir bit sayısı yazın.",
        },
        "ex.02.bits.not_smallest": {
            "en": "that width reaches 25 dB, but a smaller one does too. Look for the *smallest*.",
            "tr": "bu genişlik 25 dB'e ulaşıyor, ama daha küçük bir genişlik de ulaşıyor. *En küçüğünü* arayın.",
        },
        "ex.02.bits.too_few": {
            "en": "at that width the SQNR stays below 25 dB. Quantize at each width and measure with qlab.sqnr_db.",
            "tr": "bu genişlikte SQNR 25 dB'in altında kalıyor. Her genişlikte nicemleyip qlab.sqnr_db ile ölçün.",
        },
    },
)
