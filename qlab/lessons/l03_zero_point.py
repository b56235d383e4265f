"""Lesson 03 (zero-point quantization): exercises, messages and the comparison plot.

Imported by the setup cell of ``notebooks/{en,tr}/03_zero_point.ipynb``. Importing
it registers the lesson's self-checking exercises (:func:`qlab.exercises.register`)
and its English/Turkish strings (:func:`qlab.i18n.add_messages`).

The lesson uses the course's scale convention: ``s`` is *units per code*
(PyTorch, ONNX, GGUF's ``d``), so for ``b``-bit codes ``qmin..qmax``::

    s = (max - min) / (2**b - 1),   z = round(qmin - min / s),
    q = clip(round(x / s) + z, qmin, qmax),   x_hat = s * (q - z)

Two exercises make the learner write this: :func:`solution_quantize` and
:func:`solution_dequantize` are plain-numpy reference solutions (what a learner
would write), checked by the test suite against :func:`qlab.zeropoint_quantize`
and :func:`qlab.zeropoint_dequantize` on the same fresh inputs the learner gets.
The plot (:func:`comparison_figure`) puts absmax and zero-point side by side on
the same data: where each grid lies, which codes each one uses, and the error of
every value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from qlab import i18n
from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.exercises import Checker, Hint, implementation, numeric, register
from qlab.plotting import PALETTE, STYLE, localize, new_figure
from qlab.zeropoint import ZeropointParams, zeropoint_dequantize, zeropoint_quantize

__all__ = ["METHODS", "comparison_figure", "solution_dequantize", "solution_quantize"]

# --- messages --------------------------------------------------------------------

i18n.add_messages(
    {
        "l03.absmax": {"en": "absmax", "tr": "absmax"},
        "l03.zeropoint": {"en": "zero-point", "tr": "sıfır noktalı"},
        "l03.plot.title": {
            "en": "Absmax vs zero-point, {bits}-bit, on the same data",
            "tr": "Aynı veride absmax ve sıfır noktalı nicemleme, {bits} bit",
        },
        "l03.plot.grid_title": {"en": "Data and grid levels", "tr": "Veri ve ızgara düzeyleri"},
        "l03.plot.codes_title": {"en": "Codes in use", "tr": "Kullanılan kodlar"},
        "l03.plot.error_title": {"en": "Rounding error", "tr": "Yuvarlama hatası"},
        "l03.plot.value": {"en": "Value x", "tr": "Değer x"},
        "l03.plot.code": {"en": "Integer code q", "tr": "Tam sayı kodu q"},
        "l03.plot.count_log": {"en": "Values per code (log)", "tr": "Kod başına değer (log)"},
        "l03.plot.error": {"en": "Error x − x̂", "tr": "Hata x − x̂"},
        "l03.plot.data": {"en": "data", "tr": "veri"},
        "l03.plot.grid.l03.absmax": {"en": "absmax grid", "tr": "absmax ızgarası"},
        "l03.plot.grid.l03.zeropoint": {"en": "zero-point grid", "tr": "sıfır noktalı ızgara"},
        "l03.plot.legend": {
            "en": "{method}: {used} of {total} codes used",
            "tr": "{method}: {total} koddan {used} tanesi kullanılıyor",
        },
        "l03.plot.half_step": {"en": "± half a step", "tr": "± yarım adım"},
        # readouts of the worked example
        "l03.range": {
            "en": "min = {lo}   max = {hi}   max − min = {span}",
            "tr": "min = {lo}   maks = {hi}   maks − min = {span}",
        },
        "l03.scale_line": {
            "en": "scale s = (max − min)/255 = {s} (units per code, the step)",
            "tr": "ölçek s = (maks − min)/255 = {s} (kod başına birim, yani adım)",
        },
        "l03.inv_line": {
            "en": "inverse scale 1/s = {inv} (codes per unit: what other texts call the scale)",
            "tr": "ölçeğin tersi 1/s = {inv} (birim başına kod: başka metinlerin ölçek dediği sayı)",
        },
        "l03.zp_line": {
            "en": "zero point z = round(−128 − min/s) = round({exact}) = {z}",
            "tr": "sıfır noktası z = round(−128 − min/s) = round({exact}) = {z}",
        },
        "l03.max_error": {
            "en": "largest error |x − x̂| = {err} ≤ s/2 = {half}",
            "tr": "en büyük hata |x − x̂| = {err} ≤ s/2 = {half}",
        },
        "l03.direct": {"en": "“position in the range” formula:", "tr": "“aralık içindeki konum” formülü:"},
        "l03.abs_step": {
            "en": "step: absmax {a}, zero-point {z}",
            "tr": "adım: absmax {a}; sıfır noktalı {z}",
        },
        "l03.abs_error": {
            "en": "largest error: absmax {a}, zero-point {z}",
            "tr": "en büyük hata: absmax {a}; sıfır noktalı {z}",
        },
        "l03.abs_unused": {
            "en": "absmax codes below the data: {n}",
            "tr": "absmax'ın verinin altında kalan kodları: {n}",
        },
        # qlab's choices
        "l03.all_positive": {
            "en": "all-positive data: zero point = {z}, codes = {codes}, 0.0 comes back as {back}",
            "tr": "tamamen pozitif veri: sıfır noktası = {z}; kodlar = {codes}; 0,0'ın geri gelen değeri: {back}",
        },
        "l03.far_zp": {
            "en": "zero point for [1000, 1001] without the rule: {z}",
            "tr": "kural olmasaydı [1000, 1001] aralığı için sıfır noktası: {z}",
        },
        "l03.int8_wrap": {
            "en": "127 − (−128) in int8 arithmetic: {wrapped}; widened to int16: {wide}",
            "tr": "int8 aritmetiğinde 127 − (−128): {wrapped}; int16'ya genişletince: {wide}",
        },
        "l03.constant": {
            "en": "constant tensor c = {c} (7.97 as a float32): scale = {s}, codes = {codes}, back: {back}",
            "tr": "sabit tensör c = {c} (7,97'nin float32 hâli): ölçek = {s}; kodlar = {codes}; geri gelen: {back}",
        },
        "l03.constant_general": {
            "en": "with the general step c/255 instead, c would come back as {back}",
            "tr": "genel adım c/255 kullanılsaydı c'nin geri gelen değeri {back} olurdu",
        },
        "l03.bits_line": {
            "en": "int8 in groups of 64, float32 scale + int8 zero point: {bits} bits per parameter (measured)",
            "tr": "int8, grup boyutu 64, float32 ölçek + int8 sıfır noktası: parametre başına {bits} bit (ölçülen)",
        },
        "l03.bits_fp16": {
            "en": "the same with an fp16 scale: 8 + (16 + 8)/64 = {bits} bits per parameter",
            "tr": "fp16 ölçekle aynısı: 8 + (16 + 8)/64 = parametre başına {bits} bit",
        },
        # GELU and MiniLM tables
        "l03.col.method": {"en": "method", "tr": "yöntem"},
        "l03.col.codes": {"en": "codes used", "tr": "kullanılan kod"},
        "l03.col.step": {"en": "step", "tr": "adım"},
        "l03.col.mse": {"en": "MSE ×10⁻⁶", "tr": "MSE ×10⁻⁶"},
        "l03.col.sqnr": {"en": "SQNR (dB)", "tr": "SQNR (dB)"},
        "l03.col.layer": {"en": "layer", "tr": "katman"},
        "l03.col.negative": {"en": "negative", "tr": "negatif"},
        "l03.col.range": {"en": "range", "tr": "aralık"},
        "l03.col.codes_range": {"en": "absmax codes", "tr": "absmax kodları"},
        "l03.col.sqnr_abs": {"en": "SQNR absmax", "tr": "SQNR absmax"},
        "l03.col.sqnr_zp": {"en": "SQNR zero-pt.", "tr": "SQNR sıfır noktalı"},
        "l03.col.gain": {"en": "gain (dB)", "tr": "kazanç (dB)"},
        "l03.gelu_line": {
            "en": "GELU: min {lo}, max {hi}, negative: {neg}",
            "tr": "GELU: min {lo}; maks {hi}; negatif: {neg}",
        },
        "l03.readout": {
            "en": "Normal data shifted by {shift}, {bits}-bit:",
            "tr": "Normal veri; kayma {shift}; {bits} bit:",
        },
        "l03.winner": {
            "en": "zero-point has {ratio}× lower MSE than absmax",
            "tr": "sıfır noktalı nicemlemenin MSE'si absmax'ınkinden {ratio} kat düşük",
        },
        # weights at 4 and 8 bits
        "l03.weights_header": {
            "en": "MiniLM layer 0, feed-forward weights {rows} × {cols}, groups of 128:",
            "tr": "MiniLM'in 0. katmanındaki ileri beslemeli ağırlıklar ({rows} × {cols}), grup boyutu 128:",
        },
        "l03.weights_row": {
            "en": "{bits}-bit: SQNR absmax {a} dB, zero-point {z} dB (+{g} dB); codes: absmax {ua}, zero-point {uz}",
            "tr": "{bits} bit: SQNR absmax {a} dB, sıfır noktalı {z} dB (+{g} dB); kodlar: absmax {ua}, "
            "sıfır noktalı {uz}",
        },
        "l03.weights_unused": {
            "en": "4-bit absmax: groups that leave the code −7 or the code 7 unused: {pct}",
            "tr": "4 bitlik absmax: −7 ya da 7 kodunu boş bırakan gruplar: {pct}",
        },
        # the integer dot product
        "l03.cross.sum": {"en": "sum of the four terms", "tr": "dört terimin toplamı"},
        "l03.cross.real": {
            "en": "s_x · s_w · {lhs} = {approx};  float dot product x · w = {exact}",
            "tr": "s_x · s_w · {lhs} = {approx};  kayan noktalı iç çarpım x · w = {exact}",
        },
        # widgets
        "l03.widget.shift": {"en": "Shift of the data", "tr": "Verinin kayması"},
        "l03.widget.bits": {"en": "Bits", "tr": "Bit sayısı"},
    }
)

# --- arithmetic exercises -----------------------------------------------------------


def _no_direction(checker: Checker, key: str) -> Checker:
    """``checker`` with the generic "too large/too small" hints replaced by ``key``.

    On a small range of answers "too high/too low" hands the answer over by
    bisection; this lesson's fallback hints say how to compute it instead.
    """

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        return key if hint in ("ex.too_high", "ex.too_low") else hint

    return wrapped


# Exercises 1 and 2 use the range [min, max] = [-0.5, 2.0] and int8 codes -128...127.
_LO, _HI = -0.5, 2.0
_SCALE = (_HI - _LO) / 255  # units per code
_ZERO_POINT = round(-128 - _LO / _SCALE)

register(
    "03.scale",  # the scale s (units per code) for min = -0.5, max = 2.0, int8 codes
    solution=_SCALE,
    wrong=(
        255 / (_HI - _LO),
        _HI / 127,
        (_HI - _LO) / 256,
        _HI / 255,
        (_HI + _LO) / 255,
        (_HI - _LO) / 127,
        0.01,
        1.0,
    ),
    checker=_no_direction(
        numeric(
            _SCALE,
            rel_tol=0.002,  # 0.0098 passes; the 256-code slip (0.4 % off) does not
            units=None,
            traps={
                255 / (_HI - _LO): "ex.03.scale.inverse",
                _HI / 127: "ex.03.scale.absmax",
                (_HI - _LO) / 256: "ex.03.scale.256",
                _HI / 255: "ex.03.scale.no_min",
                (_HI + _LO) / 255: "ex.03.scale.plus_min",
                (_HI - _LO) / 127: "ex.03.scale.127",
                0.01: "ex.03.scale.digits",
            },
        ),
        "ex.03.scale.how",
    ),
    messages={
        "ex.03.scale.inverse": {
            "en": "that is the inverse scale 1/s, codes per unit, which many texts call the scale. "
            "This course's s is the other way round: units per code.",
            "tr": "bu, ölçeğin tersi 1/s, yani birim başına kod; birçok metin buna ölçek der. "
            "Bu kursun s'si bunun tersidir: kod başına birim.",
        },
        "ex.03.scale.absmax": {
            "en": "that is the absmax scale, max|x| / 127. Zero-point spreads the whole range max − min "
            "over all its codes.",
            "tr": "bu, absmax ölçeği: maks|x| / 127. Sıfır noktalı nicemleme maks − min aralığının tamamını "
            "bütün kodlarına yayar.",
        },
        "ex.03.scale.256": {
            "en": "off by one: 256 codes have 255 steps between the lowest and the highest.",
            "tr": "bir fazla adım saydınız: 256 kodun en küçüğüyle en büyüğü arasında 255 adım vardır.",
        },
        "ex.03.scale.no_min": {
            "en": "you used max alone. The range runs from min to max, and min is negative here.",
            "tr": "yalnızca maks'ı kullandınız. Aralık min'den maks'a uzanır ve burada min negatif.",
        },
        "ex.03.scale.plus_min": {
            "en": "mind the sign: max − min with a negative min makes the range wider, not narrower.",
            "tr": "işarete dikkat: min negatifken maks − min aralığı daraltmaz, genişletir.",
        },
        "ex.03.scale.127": {
            "en": "the range is right, but int8 has 255 steps between its lowest and highest code, not 127.",
            "tr": "aralık doğru, ama int8'in en küçük ve en büyük kodu arasında 127 değil 255 adım vardır.",
        },
        "ex.03.scale.digits": {
            "en": "close, but too coarse: give at least two significant digits, e.g. let Python do the division.",
            "tr": "yakın, ama yeterince hassas değil: en az iki anlamlı basamak verin; örneğin bölmeyi Python'a yaptırın.",
        },
        "ex.03.scale.how": {
            "en": "not yet. The scale is the width of the range divided by the number of steps between "
            "the lowest and the highest code.",
            "tr": "henüz değil. Ölçek, aralığın genişliğinin en küçük ve en büyük kod arasındaki adım "
            "sayısına bölümüdür.",
        },
    },
)

register(
    "03.zero_point",  # the zero point z for min = -0.5, max = 2.0, int8 codes -128...127
    solution=_ZERO_POINT,
    wrong=(
        round(-_LO / _SCALE),
        -_ZERO_POINT,
        round(-128 + _LO / _SCALE),
        -128,
        0,
        -1000,
    ),
    checker=_no_direction(
        numeric(
            _ZERO_POINT,
            rel_tol=0.0,
            abs_tol=1e-9,  # an integer: -76.9 is not a zero point
            units=None,
            traps={
                round(-_LO / _SCALE): "ex.03.zp.unsigned",
                -_ZERO_POINT: "ex.03.zp.sign",
                round(-128 + _LO / _SCALE): "ex.03.zp.min_sign",
                -128: "ex.03.zp.lowest",
                0: "ex.03.zp.symmetric",
            },
        ),
        "ex.03.zp.how",
    ),
    messages={
        "ex.03.zp.unsigned": {
            "en": "that is the zero point for unsigned codes 0…255 (uint8), a valid convention too. "
            "This exercise uses int8 codes −128…127: where does min land now?",
            "tr": "bu, işaretsiz 0…255 kodları (uint8) için sıfır noktası; o da geçerli bir seçim. "
            "Bu alıştırma int8 kodlarını (−128…127) kullanıyor: min şimdi hangi koda düşüyor?",
        },
        "ex.03.zp.sign": {
            "en": "right size, wrong sign. 0.0 lies near the bottom of this range, so its code is negative.",
            "tr": "büyüklük doğru, işaret yanlış. 0,0 bu aralığın alt ucuna yakın, bu yüzden kodu negatiftir.",
        },
        "ex.03.zp.min_sign": {
            "en": "the formula is −128 − min/s; with a negative min the second term is positive.",
            "tr": "formül −128 − min/s; min negatif olduğunda ikinci terim pozitiftir.",
        },
        "ex.03.zp.lowest": {
            "en": "that would be right if min were 0. Here min is negative, so 0.0 sits some codes higher.",
            "tr": "bu, min 0 olsaydı doğru olurdu. Burada min negatif, bu yüzden 0,0 birkaç kod daha yukarıda.",
        },
        "ex.03.zp.symmetric": {
            "en": "0.0 maps to code 0 only in symmetric (absmax) quantization. Use −128 − min/s.",
            "tr": "0,0 yalnızca simetrik (absmax) nicemlemede 0 koduna eşlenir. −128 − min/s formülünü kullanın.",
        },
        "ex.03.zp.how": {
            "en": "not yet. Compute s first, then −128 − min/s, and round it to an integer.",
            "tr": "henüz değil. Önce s'yi bulun, sonra −128 − min/s değerini hesaplayıp bir tam sayıya yuvarlayın.",
        },
    },
)

register(
    "03.absmax_codes_relu",  # how many int8 codes can absmax use on ReLU outputs (all >= 0)?
    solution=128,
    wrong=(256, 255, 127, 129, 64, 100),
    checker=_no_direction(
        numeric(
            128,
            rel_tol=0.0,
            abs_tol=1e-9,
            units=None,
            traps={
                256: "ex.03.relu.all",
                255: "ex.03.relu.all",
                127: "ex.03.relu.zero",
                129: "ex.03.relu.lowest",
                64: "ex.03.relu.half",
            },
        ),
        "ex.03.relu.how",
    ),
    messages={
        "ex.03.relu.all": {
            "en": "that count includes the codes for negative values, but a ReLU never outputs a negative value.",
            "tr": "bu sayı negatif değerlerin kodlarını da içeriyor; oysa ReLU hiçbir zaman negatif değer üretmez.",
        },
        "ex.03.relu.zero": {
            "en": "almost: ReLU outputs many exact zeros. Which code do they get?",
            "tr": "az kaldı: ReLU çok sayıda tam sıfır üretir. Onlar hangi kodu alır?",
        },
        "ex.03.relu.lowest": {
            "en": "absmax never uses its lowest code (it keeps the grid symmetric), and no value here is negative.",
            "tr": "absmax en küçük kodunu hiç kullanmaz (ızgarayı simetrik tutar) ve buradaki hiçbir değer negatif değil.",
        },
        "ex.03.relu.half": {
            "en": "too few: the largest value still gets the top code, and every code from zero up can occur.",
            "tr": "çok az: en büyük değer yine en üst kodu alır ve sıfırdan yukarıdaki her kod ortaya çıkabilir.",
        },
        "ex.03.relu.how": {
            "en": "not yet. Count every code from the one for 0.0 up to the top code, both included.",
            "tr": "henüz değil. 0,0'ın kodundan en üst koda kadar, ikisi de dahil, bütün kodları sayın.",
        },
    },
)

# Exercise 6: GPTQ/AWQ-style storage, 4-bit codes in groups of 128 with an fp16 scale and
# a 4-bit zero point per group.
_BITS_G128 = 4 + (16 + 4) / 128

register(
    "03.bits_int4_g128",
    solution=_BITS_G128,
    wrong=(4 + 16 / 128, 4 + (16 + 16) / 128, 4 + (32 + 4) / 128, 4 + (16 + 8) / 128, 4 + 16 + 4, 4.0, 5.0),
    checker=_no_direction(
        numeric(
            _BITS_G128,
            rel_tol=1e-3,
            units=None,
            traps={
                4 + 16 / 128: "ex.03.bits.no_zp",
                4 + (16 + 16) / 128: "ex.03.bits.zp16",
                4 + (32 + 4) / 128: "ex.03.bits.fp32",
                4 + (16 + 8) / 128: "ex.03.bits.zp8",
                4 + 16 + 4: "ex.03.bits.per_group",
                4.0: "ex.03.bits.no_overhead",
            },
        ),
        "ex.03.bits.how",
    ),
    messages={
        "ex.03.bits.no_zp": {
            "en": "you counted the scale but not the zero point: each group stores both.",
            "tr": "ölçeği saydınız ama sıfır noktasını saymadınız: her grup ikisini de saklar.",
        },
        "ex.03.bits.zp16": {
            "en": "the zero point is stored in the codes' own width here, not in 16 bits.",
            "tr": "sıfır noktası burada 16 bitte değil, kodların kendi genişliğinde saklanıyor.",
        },
        "ex.03.bits.fp32": {
            "en": "the scale is fp16 in this format: 16 bits, not 32.",
            "tr": "bu biçimde ölçek fp16: 32 değil 16 bit.",
        },
        "ex.03.bits.zp8": {
            "en": "the zero point has the width of the codes, which are 4-bit here, not 8-bit.",
            "tr": "sıfır noktası kodların genişliğindedir; kodlar burada 8 değil 4 bit.",
        },
        "ex.03.bits.per_group": {
            "en": "the scale and the zero point are shared by the whole group: divide their bits by the group size.",
            "tr": "ölçek ve sıfır noktası bütün grup tarafından paylaşılır: bitlerini grup boyutuna bölün.",
        },
        "ex.03.bits.no_overhead": {
            "en": "that counts the codes only. Each group also stores a scale and a zero point.",
            "tr": "bu yalnızca kodları sayar. Her grup ayrıca bir ölçek ve bir sıfır noktası saklar.",
        },
        "ex.03.bits.how": {
            "en": "not yet. Add the bits of one code to the bits each weight's share of its group's "
            "scale and zero point costs.",
            "tr": "henüz değil. Bir kodun bitlerine, grubun ölçeği ile sıfır noktasından her ağırlığa "
            "düşen payı ekleyin.",
        },
    },
)

# --- exercises where the learner writes the quantizer ----------------------------------
#
# The learner writes 8-bit, per-tensor zero-point quantization of a float32 array,
# returning (codes, s, z), and then its dequantization. The references wrap qlab; the
# plain-numpy solutions below are what a learner writes, and the test suite checks they
# pass. Random inputs avoid values within 1e-3 of a rounding tie (a learner computing in
# float64 and qlab computing in float32 may round those differently); the one tie that
# matters, a value landing on qmax + 0.5 (which needs the clip), is an edge case.


def _range_with_zero(x: np.ndarray) -> tuple[float, float]:
    return min(float(x.min()), 0.0), max(float(x.max()), 0.0)


def _near_tie(x: np.ndarray) -> bool:
    lo, hi = _range_with_zero(x)
    s = (hi - lo) / 255
    positions = np.concatenate([x.astype(np.float64) / s, [-lo / s]])
    return bool(np.any(np.abs(positions - np.floor(positions) - 0.5) < 1e-3))


def _random_tensor(rng: np.random.Generator) -> np.ndarray:
    """Fresh data of four kinds: both signs, ReLU-like (>= 0), all negative, shifted away from 0."""
    while True:
        n = int(rng.integers(6, 40))
        x = rng.standard_normal(n) * rng.uniform(0.05, 5.0)
        kind = int(rng.integers(4))
        if kind == 1:
            x = np.abs(x)
        elif kind == 2:
            x = -np.abs(x) - rng.uniform(0.0, 1.0)
        elif kind == 3:
            x = x + rng.uniform(3.0, 10.0) * np.abs(x).max()
        x = x.astype(np.float32)
        if x.max() > x.min() and not _near_tie(x):  # never constant: qlab gives those the step |c|
            return x


def _reference_quantize(x: np.ndarray) -> tuple[np.ndarray, float, int]:
    codes, params = zeropoint_quantize(x, bits=8)
    return codes, float(params.scale.ravel()[0]), int(params.zero_point.ravel()[0])


def solution_quantize(x: np.ndarray) -> tuple[np.ndarray, float, int]:
    """8-bit zero-point quantization as the lesson teaches it (a learner's correct answer)."""
    lo, hi = min(x.min(), 0.0), max(x.max(), 0.0)  # the range must contain 0
    s = (hi - lo) / 255  # 256 codes, 255 steps
    z = int(np.round(-128 - lo / s))  # rounded: 0.0 lands exactly on a code
    codes = np.clip(np.round(x / s) + z, -128, 127).astype(np.int8)
    return codes, s, z


def _quantize_with(
    x: np.ndarray,
    *,
    levels: int = 255,
    qmin: int = -128,
    with_zero: bool = True,
    round_z: bool = True,
    clip: bool = True,
    rounding: Callable[[Any], Any] = np.rint,
    wrap: bool = False,
) -> tuple[np.ndarray, float, float]:
    """``solution_quantize`` with one typical mistake switched on (the exercise's traps)."""
    x64 = x.astype(np.float64)
    lo, hi = _range_with_zero(x64) if with_zero else (float(x64.min()), float(x64.max()))
    s = (hi - lo) / levels
    z = qmin - lo / s
    if round_z:
        z = float(np.rint(z))
    codes = rounding(x64 / s + z)
    if clip:
        codes = np.clip(codes, qmin, qmin + 255)
    if wrap:  # an unclipped 128 cast to int8 becomes -128
        codes = (codes + 128) % 256 - 128
    return codes, s, z


_QUANTIZE_MISTAKES: dict[str, Callable[..., Any]] = {
    "ex.03.impl.zp_not_rounded": lambda x: _quantize_with(x, round_z=False),
    "ex.03.impl.range_without_zero": lambda x: _quantize_with(x, with_zero=False),
    "ex.03.impl.levels_256": lambda x: _quantize_with(x, levels=256),
    "ex.03.impl.no_clip": lambda x: _quantize_with(x, clip=False),
    "ex.03.impl.no_clip_": lambda x: _quantize_with(x, clip=False, wrap=True),
    "ex.03.impl.no_round": lambda x: _quantize_with(x, rounding=np.trunc),
    "ex.03.impl.floor": lambda x: _quantize_with(x, rounding=np.floor),
    "ex.03.impl.unsigned": lambda x: _quantize_with(x, qmin=0),
    "ex.03.impl.inverse_scale": lambda x: (lambda c, s, z: (c, 1 / s, z))(*_quantize_with(x)),
}

# The worked example of the lesson first; then data whose top value lands on 127.5
# (s = 1, z = round(-126.5) = -126, 253.5 / 1 - 126 = 127.5 rounds to 128): only the clip
# keeps it a code; then ReLU-like data with exact zeros.
_QUANTIZE_EDGES = (
    (np.array([-1.2, -0.3, 0.0, 0.8, 2.1, 4.7], dtype=np.float32),),
    (np.array([-1.5, 0.0, 40.0, 253.5, 100.25, -0.75], dtype=np.float32),),
    (np.array([0.0, 0.0, 0.5, 1.5, 3.0, 0.0, 2.25], dtype=np.float32),),
)

_QUANTIZE_HINTS = {
    "ex.03.impl.zp_not_rounded": {
        "en": "round the zero point to an integer before you use it: then 0.0 lands exactly on a code, "
        "and z is an integer you can store.",
        "tr": "sıfır noktasını kullanmadan önce bir tam sayıya yuvarlayın: böylece 0,0 tam olarak bir koda "
        "denk gelir ve z saklanabilir bir tam sayı olur.",
    },
    "ex.03.impl.range_without_zero": {
        "en": "your range does not contain 0. Use min(min, 0) and max(max, 0): on all-positive or "
        "all-negative data the zero point is otherwise not a code at all.",
        "tr": "aralığınız 0'ı içermiyor. min(min, 0) ve max(max, 0) kullanın: yoksa tamamen pozitif ya da "
        "tamamen negatif veride sıfır noktası bir kod bile olmaz.",
    },
    "ex.03.impl.levels_256": {
        "en": "off by one: 256 codes have 255 steps between −128 and 127, so divide the range by 255.",
        "tr": "bir fazla: 256 kodun −128 ile 127 arasında 255 adımı vardır; aralığı 255'e bölün.",
    },
    "ex.03.impl.no_clip": {
        "en": "clip the codes to −128…127. With a rounded zero point the top value can land on 127.5, "
        "which rounds to 128 (try the second example of the lesson's checker: data from −1.5 to 253.5).",
        "tr": "kodları −128…127 aralığına kırpın. Yuvarlanmış sıfır noktasıyla en büyük değer 127,5'e "
        "düşebilir ve bu 128'e yuvarlanır (denetleyicinin ikinci örneğini, −1,5 ile 253,5 arasındaki veriyi "
        "deneyin).",
    },
    "ex.03.impl.no_round": {
        "en": "round to the nearest integer (np.round) before converting: .astype(np.int8) cuts the "
        "fraction off.",
        "tr": "dönüştürmeden önce en yakın tam sayıya yuvarlayın (np.round): .astype(np.int8) kesirli "
        "kısmı atar.",
    },
    "ex.03.impl.floor": {
        "en": "np.floor rounds down; quantization rounds to the nearest code (np.round).",
        "tr": "np.floor aşağı yuvarlar; nicemleme en yakın koda yuvarlar (np.round).",
    },
    "ex.03.impl.unsigned": {
        "en": "your codes run from 0 to 255 (uint8): a valid convention, but this exercise asks for "
        "int8 codes −128…127.",
        "tr": "kodlarınız 0'dan 255'e gidiyor (uint8): geçerli bir seçim, ama bu alıştırma −128…127 "
        "arasındaki int8 kodlarını istiyor.",
    },
    "ex.03.impl.inverse_scale": {
        "en": "your codes are right, but you return 1/s (codes per unit). Return s, the units per code.",
        "tr": "kodlarınız doğru, ama 1/s'yi (birim başına kod) döndürüyorsunuz. s'yi, yani kod başına "
        "birimi döndürün.",
    },
}
_QUANTIZE_HINTS["ex.03.impl.no_clip_"] = _QUANTIZE_HINTS["ex.03.impl.no_clip"]

register(
    "03.write_quantize",
    solution=solution_quantize,
    wrong=tuple(_QUANTIZE_MISTAKES.values()),
    checker=implementation(
        _reference_quantize,
        lambda rng: (_random_tensor(rng),),
        trials=12,
        seed=3,
        edge_cases=_QUANTIZE_EDGES,
        mistakes=_QUANTIZE_MISTAKES,
    ),
    messages=_QUANTIZE_HINTS,
)


def _dequantize_inputs(rng: np.random.Generator) -> tuple[np.ndarray, np.float32, np.int8]:
    """What qlab stores: int8 codes, a float32 scale and an int8 zero point."""
    codes, params = zeropoint_quantize(_random_tensor(rng), bits=8)
    return codes, params.scale.ravel()[0], params.zero_point.ravel()[0]


def _reference_dequantize(codes: np.ndarray, s: np.float32, z: np.int8) -> np.ndarray:
    params = ZeropointParams(
        scale=np.full((1,), s, dtype=np.float32),
        zero_point=np.full((1,), z, dtype=np.int8),
        bits=8,
        axis=None,
        group_size=None,
        shape=codes.shape,
        dtype="float32",
    )
    return zeropoint_dequantize(codes, params)


def solution_dequantize(codes: np.ndarray, s: np.float32, z: np.int8) -> np.ndarray:
    """Dequantization as the lesson teaches it (a learner's correct answer)."""
    return s * (codes.astype(np.int16) - z)  # widen first: 127 - (-128) does not fit int8


_DEQUANTIZE_MISTAKES: dict[str, Callable[..., Any]] = {
    "ex.03.impl.int8_overflow": lambda codes, s, z: s * (codes - z),  # int8 - int8 wraps around
    "ex.03.impl.divide": lambda codes, s, z: (codes.astype(np.int16) - z) / s,
    "ex.03.impl.no_zero_point": lambda codes, s, z: s * codes.astype(np.int16),
    "ex.03.impl.plus_zero_point": lambda codes, s, z: s * (codes.astype(np.int16) + z),
}

register(
    "03.write_dequantize",
    solution=solution_dequantize,
    wrong=tuple(_DEQUANTIZE_MISTAKES.values()),
    checker=implementation(
        _reference_dequantize,
        _dequantize_inputs,
        trials=12,
        seed=4,
        edge_cases=(
            (np.array([-128, -76, 0, 127], dtype=np.int8), np.float32(0.5), np.int8(-76)),
            (np.array([-128, 0, 127, 127, 5], dtype=np.int8), np.float32(0.02), np.int8(-128)),
        ),
        mistakes=_DEQUANTIZE_MISTAKES,
    ),
    messages={
        "ex.03.impl.int8_overflow": {
            "en": "codes − z overflowed: both are int8, and 127 − (−128) = 255 does not fit int8 (it wraps "
            "around). Widen the codes first, e.g. codes.astype(np.int16).",
            "tr": "codes − z taştı: ikisi de int8 ve 127 − (−128) = 255 int8'e sığmaz (başa sarar). "
            "Önce kodları genişletin, örneğin codes.astype(np.int16).",
        },
        "ex.03.impl.divide": {
            "en": "you divided by s. In this course s is units per code, so x̂ = s · (q − z); dividing is "
            "right only for the inverse scale.",
            "tr": "s'ye böldünüz. Bu kursta s kod başına birimdir, yani x̂ = s · (q − z); bölmek yalnızca "
            "ölçeğin tersiyle doğru olur.",
        },
        "ex.03.impl.no_zero_point": {
            "en": "subtract the zero point first: code z stands for 0.0, not code 0.",
            "tr": "önce sıfır noktasını çıkarın: 0,0'ı 0 kodu değil, z kodu temsil eder.",
        },
        "ex.03.impl.plus_zero_point": {
            "en": "mind the sign: the code z must come back as 0.0, so subtract z.",
            "tr": "işarete dikkat: z kodu 0,0 olarak geri gelmeli; bu yüzden z'yi çıkarın.",
        },
    },
)

# --- the comparison plot ----------------------------------------------------------

METHODS: dict[str, tuple[Any, Any]] = {
    "l03.absmax": (absmax_quantize, absmax_dequantize),
    "l03.zeropoint": (zeropoint_quantize, zeropoint_dequantize),
}


def _levels(params: Any) -> tuple[np.ndarray, int, int]:
    """Every value the grid can represent, and the code range ``[low, high]`` it has."""
    step = float(np.asarray(params.step).ravel()[0])  # units per code
    if hasattr(params, "zero_point"):  # zero-point: codes qmin..qmax, 0.0 sits at zero_point
        low, high = params.qmin, params.qmax
        zp = int(np.asarray(params.zero_point).ravel()[0])
        return step * (np.arange(low, high + 1) - zp), low, high
    low, high = -params.qmax, params.qmax  # absmax never uses -2**(bits-1)
    return step * np.arange(low, high + 1), low, high


def comparison_figure(x: Any, bits: int, lang: str, *, max_points: int = 4000) -> Figure:
    """Absmax and zero-point quantization of the same 1-D data, side by side.

    Left: histogram of ``x`` with each method's grid levels as a row of ticks.
    Middle: how many values land on each integer code. Right: the rounding error
    ``x - x_hat`` of (at most ``max_points``, evenly spaced) values, with the
    half-step bounds. Both quantizers run per tensor at ``bits`` bits.
    """
    i18n.check_lang(lang)
    data = np.asarray(x, dtype=np.float32).ravel()
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    with mpl.rc_context(STYLE):
        fig, (ax_grid, ax_codes, ax_err) = new_figure(1, 3, figsize=(13.0, 4.2))
        counts, _, _ = ax_grid.hist(data, bins=80, color="0.6", label=i18n.t("l03.plot.data", lang))
        top = float(counts.max())
        every = max(1, data.size // max_points)
        lines = []
        for i, (key, (quantize, dequantize)) in enumerate(METHODS.items()):
            color = PALETTE[i]
            name = i18n.t(key, lang)
            codes, params = quantize(data, bits=bits)
            x_hat = np.asarray(dequantize(codes, params), dtype=np.float64)
            levels, low, high = _levels(params)
            used = int(np.unique(codes).size)
            total = high - low + 1
            # grid levels as a row of ticks under the histogram
            row = -(0.12 + 0.14 * i) * top
            ax_grid.vlines(levels, row - 0.05 * top, row + 0.05 * top, color=color, linewidth=0.6)
            ax_grid.plot([], [], color=color, label=i18n.t(f"l03.plot.grid.{key}", lang))
            # codes in use
            label = i18n.t("l03.plot.legend", lang, method=name, used=used, total=total)
            ax_codes.hist(
                np.asarray(codes).ravel(),
                bins=np.arange(qmin - 0.5, qmax + 1.5),
                histtype="stepfilled" if i == 0 else "step",
                alpha=0.45 if i == 0 else 1.0,
                linewidth=1.4,
                color=color,
                label=label,
            )
            # rounding error of every `every`-th value in sorted order (spread over the range)
            order = np.argsort(data, kind="stable")[::every]
            ax_err.scatter(
                data[order],
                data[order].astype(np.float64) - x_hat[order],
                s=4,
                color=color,
                alpha=0.6,
                label=name,
            )
            half = 0.5 * float(np.asarray(params.step).ravel()[0])
            lines.append((half, color))
        for j, (half, color) in enumerate(lines):
            kw = {"label": i18n.t("l03.plot.half_step", lang)} if j == 0 else {}
            ax_err.axhline(half, color=color, linestyle="--", linewidth=1, **kw)
            ax_err.axhline(-half, color=color, linestyle="--", linewidth=1)
        ax_grid.set_ylim(-0.4 * top, 1.45 * top)  # room for the legend
        ax_grid.set_yticks([y for y in ax_grid.get_yticks() if 0 <= y <= top])  # no negative counts
        ax_grid.set_title(i18n.t("l03.plot.grid_title", lang))
        ax_grid.set_xlabel(i18n.t("l03.plot.value", lang))
        ax_grid.set_ylabel(i18n.t("plot.count", lang))
        ax_grid.legend(fontsize=8, loc="upper left")
        ax_codes.set_yscale("log")
        ax_codes.set_ylim(0.5, ax_codes.get_ylim()[1] * 40)  # room for the legend
        ax_codes.set_xlim(qmin - 2, qmax + 2)
        ax_codes.set_title(i18n.t("l03.plot.codes_title", lang))
        ax_codes.set_xlabel(i18n.t("l03.plot.code", lang))
        ax_codes.set_ylabel(i18n.t("l03.plot.count_log", lang))
        ax_codes.legend(fontsize=8, loc="upper left")
        ax_err.set_title(i18n.t("l03.plot.error_title", lang))
        ax_err.set_xlabel(i18n.t("l03.plot.value", lang))
        ax_err.set_ylabel(i18n.t("l03.plot.error", lang))
        ax_err.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=3)
        fig.suptitle(i18n.t("l03.plot.title", lang, bits=bits), fontweight="bold")
    return localize(fig, lang)
