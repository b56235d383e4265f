"""Lesson 02 (absmax quantization): exercises and the strings of its plots, widgets and readouts.

Imported by the setup cell of ``notebooks/{en,tr}/02_absmax.ipynb``. Importing it
registers the lesson's self-checking exercises with :func:`qlab.exercises.register`
and its English/Turkish texts with :func:`qlab.i18n.add_messages`.

The lesson uses the course's scale convention: the scale ``s`` is *units per code*
(PyTorch, ONNX, GGUF's ``d``)::

    s = max|X| / qmax,   q = round(X / s),   x_hat = s * q,   qmax = 2**(bits-1) - 1

Labonne (2023) and the LLM.int8() paper (Dettmers et al. 2022, arXiv:2208.07339)
call ``qmax / max|X|`` the scale; that is our inverse scale ``1 / s``. The
exercises ask for codes and values (the same in both conventions) or name the
quantity they want ("the step between neighbouring codes"), and the hints name
the inverse scale when a learner computed it instead.

Exercise ``02.min_bits_25db``'s answer is measured when this module is imported,
on the MiniLM weight the notebook uses, read straight from the model's
safetensors file (a fraction of a second; loading the whole model takes seconds).
"""

from __future__ import annotations

import math
from functools import cache
from numbers import Real
from typing import Any

import numpy as np

from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.exercises import Checker, Hint, implementation, numeric, register
from qlab.i18n import add_messages
from qlab.metrics import sqnr_db

__all__ = [
    "MIN_BITS_25DB",
    "MINILM_VALUE_WEIGHT",
    "min_bits_for_sqnr",
    "minilm_weight",
    "solution_absmax",
]

# --- plot, widget and readout strings -----------------------------------------

add_messages(
    {
        "readout.02.ready": {
            "en": "qlab is ready, LANG = {name}",
            "tr": "qlab hazır, LANG = {name}",
        },
        # the worked example by hand
        "readout.02.hand.code": {"en": "code", "tr": "kod"},
        "readout.02.hand.inverse": {
            "en": "Labonne 2023 and LLM.int8() call this “the scale”; here it is the inverse scale",
            "tr": "Labonne 2023 ve LLM.int8() buna «ölçek» der; bizde bu, ölçeğin tersidir",
        },
        # the bits slider: quantization grid and rounding error
        "plot.02.grid.title": {
            "en": "Absmax at {bits} bits: {levels} levels, step s = {step}",
            "tr": "{bits} bitte absmax: {levels} düzey, adım s = {step}",
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
            "en": "{bits} bits: codes −{qmax} … {qmax} ({levels} levels), scale s = {step}, 1/s = {inv}",
            "tr": "{bits} bit: kodlar −{qmax} … {qmax} ({levels} düzey); ölçek s = {step}; 1/s = {inv}",
        },
        "readout.02.weight": {
            "en": "the weight 0.1 → code {code} → back {x_hat} (error {error})",
            "tr": "0,1 ağırlığı → kod {code} → geri {x_hat} (hata {error})",
        },
        # the same with qlab
        "readout.02.codes": {"en": "codes", "tr": "kodlar"},
        "readout.02.dequantized": {"en": "dequantized X̂", "tr": "ters nicemlenmiş X̂"},
        "readout.02.error": {"en": "error X − X̂", "tr": "hata X − X̂"},
        # one outlier
        "plot.02.outlier.title": {
            "en": "Codes of 1,000 small weights",
            "tr": "1.000 küçük ağırlığın kodları",
        },
        "plot.02.outlier.without": {"en": "without the outlier", "tr": "aykırı değer olmadan"},
        "plot.02.outlier.with": {"en": "with one outlier (50.0)", "tr": "tek bir aykırı değerle (50,0)"},
        "plot.02.outlier.xlabel": {"en": "Integer code", "tr": "Tam sayı kodu"},
        "plot.02.outlier.zeros": {"en": "← {pct} at code 0", "tr": "← {pct} kod 0'da"},
        "readout.02.relative": {
            "en": "x = {x}: worst-case error / weight = {pct}",
            "tr": "x = {x}: en kötü durumdaki hata / ağırlık = {pct}",
        },
        "readout.02.by_hand": {"en": "by hand", "tr": "elle"},
        "readout.02.bpp": {"en": "bits per parameter", "tr": "bit / parametre"},
        "readout.02.outlier": {
            "en": "{case:29} s = {scale:>7}   at code 0: {zeros:>7}   codes used: {used:>3}   "
            "SQNR (small weights): {sqnr:>4} dB",
            "tr": "{case:29} s = {scale:>7}   kod 0'da: {zeros:>6}   kullanılan kod: {used:>3}   "
            "SQNR (küçük ağırlıklar): {sqnr:>4} dB",
        },
        "readout.02.whole_vector": {
            "en": "SQNR of the whole vector, outlier included: {sqnr} dB",
            "tr": "Aykırı değer dahil bütün vektörün SQNR'si: {sqnr} dB",
        },
        # clipping
        "readout.02.clip.pct": {
            "en": "99.9th percentile of |X|: c = {c}   (weights above c: {n})",
            "tr": "|X|'in 99,9. yüzdeliği: c = {c}   (c'den büyük ağırlık sayısı: {n})",
        },
        "readout.02.clip.small": {
            "en": "small weights, clipped at c: SQNR {sqnr} dB (no clipping: {before} dB)",
            "tr": "küçük ağırlıklar, c'de kırpılınca: SQNR {sqnr} dB (kırpmadan: {before} dB)",
        },
        "readout.02.clip.outlier": {
            "en": "the outlier 50.0 comes back as {back}: it loses {lost} of its value",
            "tr": "50,0 aykırı değeri {back} olarak geri geliyor: değerinin {lost} kadarını kaybediyor",
        },
        "readout.02.clip.mse": {
            "en": "MSE-optimal clip of this vector: c = {c} (max|X| = {top})",
            "tr": "Bu vektörün MSE'ye göre en iyi kırpma değeri: c = {c} (maks|X| = {top})",
        },
        "readout.02.clip.mse_terms": {
            "en": "clipping at the percentile: MSE {clipped}; no clipping: MSE {plain}",
            "tr": "yüzdelikte kırpınca MSE {clipped}; kırpmadan MSE {plain}",
        },
        # real weights
        "readout.02.weight_stats": {
            "en": "{name}, {what}: {rows} × {cols} float32, max|W| = {top}, standard deviation {sd}, "
            "max|W| / standard deviation = {ratio}",
            "tr": "{name}, {what}: {rows} × {cols} float32; maks|W| = {top}; standart sapma {sd}; "
            "maks|W| / standart sapma = {ratio}",
        },
        "readout.02.what.query": {"en": "layer 0 attention query", "tr": "0. katman dikkat sorgusu"},
        "readout.02.what.ffn": {
            "en": "layer 0 feed-forward output.dense",
            "tr": "0. katman ileri besleme output.dense",
        },
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
            "en": "{bits} bits: SQNR {sqnr:>4} dB, max error {max_err}, weights rounded to 0: {zeros}",
            "tr": "{bits} bit: SQNR {sqnr:>4} dB; en büyük hata {max_err}; 0'a yuvarlanan ağırlık: {zeros}",
        },
        "readout.02.noise_model": {
            "en": "{bits} bits: step s = {step}, predicted SQNR (Δ²/12) {pred} dB, measured {meas} dB",
            "tr": "{bits} bit: adım s = {step}; öngörülen SQNR (Δ²/12) {pred} dB; ölçülen {meas} dB",
        },
        # the sweep table (column headers; each column is as wide as its header)
        "readout.02.sweep.bits": {"en": "bits", "tr": " bit"},
        "readout.02.sweep.measured": {"en": "measured (dB)", "tr": "ölçülen (dB)"},
        "readout.02.sweep.model": {"en": "Δ²/12 model (dB)", "tr": "Δ²/12 modeli (dB)"},
        "readout.02.sweep.gain": {"en": "gain per bit (dB)", "tr": "bit başına kazanç (dB)"},
        "readout.02.sweep.ratio": {"en": "20·log10(step ratio)", "tr": "20·log10(adım oranı)"},
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
        "plot.02.sqnr.model": {"en": "Δ²/12 noise model", "tr": "Δ²/12 gürültü modeli"},
        "plot.02.sqnr.rule": {"en": "+6.02 dB per bit (from 8 bits)", "tr": "bit başına +6,02 dB (8 bitten)"},
        # the real outlier, clipped
        "readout.02.ffn.next": {
            "en": "the next largest |W| are {a} and {b} standard deviations out",
            "tr": "sonraki en büyük |W| değerleri {a} ve {b} standart sapma uzakta",
        },
        "readout.02.ffn.sqnr": {
            "en": "8 bits, per tensor: SQNR measured {meas} dB, predicted by Δ²/12 {pred} dB",
            "tr": "8 bit, tensör başına: ölçülen SQNR {meas} dB; Δ²/12 ile öngörülen {pred} dB",
        },
        "readout.02.ffn.clip": {
            "en": "{how:<22} c = {c:>6} ({frac} of max|W|)   clipped weights: {n:>3}   SQNR {sqnr} dB",
            "tr": "{how:<22} c = {c:>6} (maks|W|'nin {frac} kadarı)   kırpılan ağırlık: {n:>3}   SQNR {sqnr} dB",
        },
        "readout.02.ffn.how.none": {"en": "no clipping:", "tr": "kırpmadan:"},
        "readout.02.ffn.how.mse": {"en": "MSE-optimal clip:", "tr": "MSE'ye göre en iyi:"},
        "readout.02.ffn.how.pct": {"en": "99.9th percentile:", "tr": "99,9. yüzdelik:"},
        "readout.02.ffn.lost": {
            "en": "the largest weight, {w}, comes back as {back}: it loses {lost} of its value",
            "tr": "en büyük ağırlık ({w}) {back} olarak geri geliyor: değerinin {lost} kadarını kaybediyor",
        },
        "plot.02.clip.title": {
            "en": "Clipping the FFN weight before 8-bit absmax",
            "tr": "8 bitlik absmax'tan önce FFN ağırlığını kırpmak",
        },
        "plot.02.clip.xlabel": {"en": "Clip value c / max|W|", "tr": "Kırpma değeri c / maks|W|"},
        "plot.02.clip.ylabel": {"en": "SQNR of the whole weight (dB)", "tr": "Bütün ağırlığın SQNR'si (dB)"},
        "plot.02.clip.best": {"en": "MSE-optimal clip", "tr": "MSE'ye göre en iyi kırpma"},
        "plot.02.clip.none": {"en": "no clipping", "tr": "kırpmadan"},
        "readout.02.value_shape": {"en": "W_value: {rows} × {cols}", "tr": "W_value: {rows} × {cols}"},
        "common.02.bits": {"en": "bits", "tr": "bit"},
        "common.02.max": {"en": "max", "tr": "maks"},
    }
)


# --- exercises ------------------------------------------------------------------


def _as_finite(answer: Any) -> float | None:
    if isinstance(answer, bool) or not isinstance(answer, Real):
        return None
    value = float(answer)
    return value if math.isfinite(value) else None


def _lesson_direction(checker: Checker) -> Checker:
    """``checker`` with lesson 00's generic "too high/low" hints (about bytes per parameter) replaced by ours."""
    ours = {"ex.too_high": "ex.02.too_high", "ex.too_low": "ex.02.too_low"}

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        return ours.get(hint, hint) if isinstance(hint, str) else hint

    return wrapped


_RECIPE = {
    "en": "Redo the recipe step by step: s = max|X| / qmax, code = round(x / s), x̂ = s · code.",
    "tr": "Tarifi adım adım yeniden uygulayın: s = maks|X| / qmax, kod = round(x / s), x̂ = s · kod.",
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

# Exercise 1: the 8-bit code of the weight 0.83 in a tensor with max|X| = 2.5.
_CODE_X, _CODE_MAX = 0.83, 2.5


def _code_checker(answer: Any) -> Hint | None:
    """The code is round(x / s) with s = 2.5 / 127 (the same number as round(127 / 2.5 · x))."""
    value = _as_finite(answer)
    if value is None:
        return ("ex.not_a_number", {"kind": type(answer).__name__})
    exact = _CODE_X / (_CODE_MAX / 127)
    if value == round(exact):
        return None
    if math.isclose(value, exact, rel_tol=1e-6):
        return "ex.02.code.not_rounded"
    if math.isclose(value, _CODE_X * _CODE_MAX / 127, rel_tol=0.01):
        return "ex.02.code.inverted"
    if math.isclose(value, _CODE_X / _CODE_MAX * 255, abs_tol=1.0):
        return "ex.02.code.used_255"
    if value == -round(exact):
        return "ex.02.code.sign"
    if value == math.floor(exact) + 1:
        return "ex.02.code.rounded_up"
    if value != int(value):
        return "ex.02.code.not_integer"
    return "ex.02.too_high" if value > exact else "ex.02.too_low"


register(
    "02.code_by_hand",
    solution=round(_CODE_X / (_CODE_MAX / 127)),
    wrong=(42.164, 0.0163, 85, -42, 43, 12.5),
    checker=_code_checker,
    messages={
        "ex.02.code.not_rounded": {
            "en": "you divided correctly, but a code is an integer: round to the nearest one.",
            "tr": "bölme doğru, ama kod bir tam sayıdır: en yakın tam sayıya yuvarlayın.",
        },
        "ex.02.code.inverted": {
            "en": "you multiplied x by s = max|X| / 127. The code counts how many steps s fit into x: "
            "divide x by s (the same as multiplying by the inverse scale 127 / max|X|).",
            "tr": "x'i s = maks|X| / 127 ile çarptınız. Kod, x'in içine kaç adım s sığdığını sayar: "
            "x'i s'ye bölün (ölçeğin tersiyle, 127 / maks|X| ile çarpmakla aynı şey).",
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
            "en": "a code is an integer between −127 and 127. Compute x / s with s = max|X| / 127, then round.",
            "tr": "kod, −127 ile 127 arasında bir tam sayıdır. s = maks|X| / 127 ile x / s'yi hesaplayıp yuvarlayın.",
        },
    },
)

# Exercise 2: dequantize that code (42): x_hat = s * 42 with s = 2.5 / 127.
_DEQ = 42 * (2.5 / 127)

register(
    "02.dequantize",
    solution=_DEQ,
    wrong=(0.83, 42 * 127 / 2.5, 42 * 2.5 / 128, -_DEQ, 0.8),
    checker=_lesson_direction(
        numeric(
            _DEQ,
            rel_tol=2e-4,
            units=None,
            traps={
                0.83: "ex.02.deq.original",
                42 * 127 / 2.5: "ex.02.deq.divided",
                42 * 2.5 / 128: "ex.02.deq.used_128",
                -_DEQ: "ex.02.deq.sign",
            },
        )
    ),
    messages={
        "ex.02.deq.original": {
            "en": "that is the original weight. Dequantization only sees the code and the scale: "
            "multiply the code by s and keep several decimals.",
            "tr": "bu özgün ağırlık. Ters nicemleme yalnızca kodu ve ölçeği görür: kodu s ile çarpın "
            "ve birkaç ondalık basamak tutun.",
        },
        "ex.02.deq.divided": {
            "en": "you divided the code by s (or multiplied it by the inverse scale 127 / max|X|). "
            "Going back multiplies by the step: x̂ = s · code.",
            "tr": "kodu s'ye böldünüz (ya da ölçeğin tersiyle, 127 / maks|X| ile çarptınız). Geri dönmek "
            "adımla çarpmaktır: x̂ = s · kod.",
        },
        "ex.02.deq.used_128": {
            "en": "close, but the 8-bit absmax scale divides by 127, the largest code, not by 128.",
            "tr": "yakın, ama 8 bitlik absmax'ın ölçeğinde maks|X|, 128'e değil, en büyük kod olan 127'ye bölünür.",
        },
        "ex.02.deq.sign": {
            "en": "mind the sign: a positive code comes back as a positive value.",
            "tr": "işarete dikkat: pozitif bir kod pozitif bir değer olarak geri döner.",
        },
    },
)

# Exercise 3: the scale s (units per code) of a tensor with max|X| = 2.5 at 4 bits.
_SCALE_4BIT = 2.5 / (2 ** (4 - 1) - 1)

register(
    "02.scale_4bit",
    solution=_SCALE_4BIT,
    wrong=(7 / 2.5, 2.5 / 127, 2.5 / 8, 2.5 / 15, 2.5 / 16, 1.0),
    checker=_lesson_direction(
        numeric(
            _SCALE_4BIT,
            rel_tol=2e-3,
            units=None,
            traps={
                7 / 2.5: "ex.02.scale.inverse",
                2.5 / 127: "ex.02.scale.eight_bits",
                2.5 / 8: "ex.02.scale.qmax_power",
                2.5 / 15: "ex.02.scale.levels",
                2.5 / 16: "ex.02.scale.levels",
            },
        )
    ),
    messages={
        "ex.02.scale.inverse": {
            "en": "that is the inverse scale qmax / max|X| (what Labonne 2023 calls the scale). This "
            "course's scale s is the step in units of X: max|X| / qmax.",
            "tr": "bu, ölçeğin tersi qmax / maks|X| (Labonne 2023 buna ölçek der). Bu kursta ölçek s, "
            "X'in biriminde adımdır: maks|X| / qmax.",
        },
        "ex.02.scale.eight_bits": {
            "en": "that is the 8-bit scale. At 4 bits the largest code is qmax = 2^(bits−1) − 1.",
            "tr": "bu, 8 bitlik ölçek. 4 bitte en büyük kod qmax = 2^(bit−1) − 1 olur.",
        },
        "ex.02.scale.qmax_power": {
            "en": "the largest 4-bit absmax code is 2^(bits−1) − 1: the symmetric grid never uses −2^(bits−1).",
            "tr": "4 bitlik absmax'ın en büyük kodu 2^(bit−1) − 1'dir: simetrik ızgara −2^(bit−1) kodunu "
            "hiç kullanmaz.",
        },
        "ex.02.scale.levels": {
            "en": "you divided by a number of levels. Divide max|X| by the largest code, qmax, so that "
            "max|X| lands on it.",
            "tr": "bir düzey sayısına böldünüz. maks|X|'i en büyük koda, qmax'a bölün; böylece maks|X| "
            "tam o koda denk gelir.",
        },
    },
)


# Exercise 4: smallest bit width (2..8) at which per-tensor absmax keeps the SQNR of
# MiniLM's last attention value weight at 25 dB or more -- measured, not typed in.
MINILM_VALUE_WEIGHT = "encoder.layer.5.attention.self.value.weight"
_TARGET_DB = 25.0


@cache
def minilm_weight(name: str) -> np.ndarray:
    """One weight of all-MiniLM-L6-v2 as a float32 array, read from its safetensors file.

    ``name`` is the state-dict key (``encoder.layer.5...``; the file may prefix it
    with ``0.auto_model.`` or similar). The same numbers as
    ``load_minilm().model.get_parameter(name)``, without loading the whole model.
    """
    from safetensors import safe_open

    from qlab.models.loading import MINILM_FILE, MINILM_PACKAGE, MINILM_PIP, package_dir

    path = next(package_dir(MINILM_PACKAGE, MINILM_PIP).rglob(MINILM_FILE))
    with safe_open(str(path), "np") as f:
        keys = [k for k in f.keys() if k == name or k.endswith("." + name)]
        if len(keys) != 1:
            raise KeyError(f"minilm_weight: no single tensor named {name!r} in {path.name}")
        return np.asarray(f.get_tensor(keys[0]), dtype=np.float32)


def min_bits_for_sqnr(W: Any, target_db: float) -> int | None:
    """Smallest bit width in 2..8 whose per-tensor absmax round trip of ``W`` reaches ``target_db``."""
    for bits in range(2, 9):
        if sqnr_db(W, absmax_dequantize(*absmax_quantize(W, bits=bits))) >= target_db:
            return bits
    return None


MIN_BITS_25DB = min_bits_for_sqnr(minilm_weight(MINILM_VALUE_WEIGHT), _TARGET_DB)
# The "6.02 dB per bit + 1.76 dB" rule of a full-scale sine wave: a tempting shortcut.
_SINE_RULE_BITS = math.ceil((_TARGET_DB - 1.76) / 6.02)


def _bits_checker(answer: Any) -> Hint | None:
    """The same hint for every wrong width (no "higher/lower": the range 2..8 is small)."""
    value = _as_finite(answer)
    if value is None:
        return ("ex.not_a_number", {"kind": type(answer).__name__})
    if value != int(value) or not 2 <= value <= 8:
        return "ex.02.bits.range"
    if value == MIN_BITS_25DB:
        return None
    if value == _SINE_RULE_BITS:
        return "ex.02.bits.sine_rule"
    return "ex.02.bits.measure"


register(
    "02.min_bits_25db",
    solution=MIN_BITS_25DB,
    wrong=tuple(b for b in (2, 3, 4, 5, 7, 8) if b != MIN_BITS_25DB) + (2.5, 16),
    checker=_bits_checker,
    messages={
        "ex.02.bits.range": {
            "en": "answer with a whole number of bits between 2 and 8, the widths absmax_quantize supports.",
            "tr": "absmax_quantize'ın desteklediği gibi 2 ile 8 arasında tam sayı bir bit sayısı yazın.",
        },
        "ex.02.bits.measure": {
            "en": "not that width. Do not guess: quantize W_value at every width from 2 to 8, print "
            "qlab.sqnr_db for each, and pick the smallest width whose SQNR is at least 25 dB.",
            "tr": "bu genişlik değil. Tahmin etmeyin: W_value'yu 2'den 8'e her genişlikte nicemleyin, her "
            "biri için qlab.sqnr_db'yi yazdırın ve SQNR'si en az 25 dB olan en küçük genişliği seçin.",
        },
        "ex.02.bits.sine_rule": {
            "en": "that is what the rule SQNR ≈ 6.02 · bits + 1.76 dB predicts; it holds for a full-scale "
            "sine wave, not for weights. Measure W_value at every width instead.",
            "tr": "bu, SQNR ≈ 6,02 · bit + 1,76 dB kuralının öngördüğü değer; kural tam genlikli bir sinüs "
            "dalgası için geçerlidir, ağırlıklar için değil. Onun yerine W_value'yu her genişlikte ölçün.",
        },
    },
)


# Exercise 5: the learner writes absmax quantize + dequantize; checked against qlab.


def solution_absmax(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """What the learner writes, in plain numpy: ``(codes, X_hat)`` of per-tensor absmax.

    The test suite checks that it matches :func:`qlab.absmax_quantize` /
    :func:`qlab.absmax_dequantize` on the exercise's inputs.
    """
    X = np.asarray(X, dtype=np.float32)
    qmax = 2 ** (bits - 1) - 1
    s = np.float32(np.abs(X).max() / qmax)
    codes = np.round(X / s)
    return codes, s * codes


def _qlab_absmax(X: Any, bits: int = 8) -> tuple[Any, Any]:
    codes, params = absmax_quantize(X, bits=bits)
    return codes, absmax_dequantize(codes, params)


def _make_absmax_inputs(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    shape = (int(rng.integers(2, 6)), int(rng.integers(4, 9)))
    X = rng.normal(0.0, float(rng.uniform(0.05, 3.0)), size=shape).astype(np.float32)
    return X, int(rng.integers(2, 9))


def _with_qmax(qmax_of) -> Any:
    """A wrong absmax whose largest code is ``qmax_of(bits)`` (codes may then exceed the int range)."""

    def wrong(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float32)
        s = np.float32(np.abs(X).max() / qmax_of(bits))
        codes = np.round(X / s)
        return codes, s * codes

    return wrong


def forgot_to_round(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    s = np.float32(np.abs(X).max() / (2 ** (bits - 1) - 1))
    return X / s, X


def used_inverse_scale_as_step(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Multiplied where it should divide: codes = round(X * s) with s = max|X| / qmax."""
    X = np.asarray(X, dtype=np.float32)
    s = np.float32(np.abs(X).max() / (2 ** (bits - 1) - 1))
    codes = np.round(X * s)
    return codes, codes / s


def divided_on_the_way_back(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Right codes, but x_hat = codes / s (the inverse scale's formula with our s)."""
    X = np.asarray(X, dtype=np.float32)
    s = np.float32(np.abs(X).max() / (2 ** (bits - 1) - 1))
    codes = np.round(X / s)
    return codes, codes / s


def ignored_bits(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return _with_qmax(lambda b: 127)(X)


def used_max_not_absmax(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """max(X) instead of max|X|: the most negative weight may be larger in magnitude."""
    X = np.asarray(X, dtype=np.float32)
    qmax = 2 ** (bits - 1) - 1
    s = np.float32(X.max() / qmax)
    codes = np.clip(np.round(X / s), -qmax, qmax)
    return codes, s * codes


def returned_codes_twice(X: Any, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    codes, _ = solution_absmax(X, bits)
    return codes, codes


used_128 = _with_qmax(lambda b: 2 ** (b - 1))
used_255 = _with_qmax(lambda b: 2**b - 1)

register(
    "02.write_absmax",
    solution=solution_absmax,
    wrong=(
        forgot_to_round,
        used_128,
        used_255,
        used_inverse_scale_as_step,
        divided_on_the_way_back,
        ignored_bits,
        used_max_not_absmax,
        returned_codes_twice,
    ),
    checker=implementation(
        _qlab_absmax,
        _make_absmax_inputs,
        edge_cases=[
            (np.array([3.2, 0.1, -1.5, 0.75, -0.02], dtype=np.float32), 8),
            (np.array([[0.5, -2.0, 1.3], [0.1, 0.9, -0.3]], dtype=np.float32), 4),
        ],
        mistakes={
            "ex.02.impl.not_rounded": forgot_to_round,
            "ex.02.impl.qmax_128": used_128,
            "ex.02.impl.qmax_255": used_255,
            "ex.02.impl.multiplied": used_inverse_scale_as_step,
            "ex.02.impl.divided_back": divided_on_the_way_back,
            "ex.02.impl.bits_ignored": ignored_bits,
            "ex.02.impl.not_abs": used_max_not_absmax,
            "ex.02.impl.no_dequantize": returned_codes_twice,
        },
    ),
    messages={
        "ex.02.impl.not_rounded": {
            "en": "your codes are not whole numbers: round X / s to the nearest integer (np.round).",
            "tr": "kodlarınız tam sayı değil: X / s'yi en yakın tam sayıya yuvarlayın (np.round).",
        },
        "ex.02.impl.qmax_128": {
            "en": "the largest code is qmax = 2^(bits−1) − 1 (127 at 8 bits), not 2^(bits−1): the symmetric "
            "grid leaves the most negative code unused.",
            "tr": "en büyük kod qmax = 2^(bits−1) − 1'dir (8 bitte 127), 2^(bits−1) değil: simetrik ızgara en "
            "negatif kodu kullanmaz.",
        },
        "ex.02.impl.qmax_255": {
            "en": "2^bits − 1 (255 at 8 bits) counts codes for positive values only. Absmax is symmetric: "
            "qmax = 2^(bits−1) − 1.",
            "tr": "2^bits − 1 (8 bitte 255) yalnızca pozitif değerler için kod sayar. Absmax simetriktir: "
            "qmax = 2^(bits−1) − 1.",
        },
        "ex.02.impl.multiplied": {
            "en": "check the direction: s = max|X| / qmax is units per code, so codes = X / s. "
            "Multiplying by s belongs to texts whose “scale” is the inverse, qmax / max|X|.",
            "tr": "yöne dikkat: s = maks|X| / qmax kod başına birimdir, dolayısıyla kodlar = X / s. s ile "
            "çarpmak, «ölçeği» bunun tersi (qmax / maks|X|) olan metinlere özgüdür.",
        },
        "ex.02.impl.divided_back": {
            "en": "your codes are right, but the way back is wrong: X̂ = s · codes (the step times the code).",
            "tr": "kodlarınız doğru, ama geri dönüş yanlış: X̂ = s · kodlar (adım çarpı kod).",
        },
        "ex.02.impl.bits_ignored": {
            "en": "your function ignores bits: qmax = 2^(bits−1) − 1 depends on it.",
            "tr": "fonksiyonunuz bits parametresini yok sayıyor: qmax = 2^(bits−1) − 1 ona bağlıdır.",
        },
        "ex.02.impl.not_abs": {
            "en": "use the largest *magnitude*, max|X| (np.abs(X).max()): the most negative weight may be "
            "larger than the most positive one.",
            "tr": "mutlak değerce en büyük elemanı, maks|X|'i (np.abs(X).max()) kullanın: en negatif ağırlığın "
            "büyüklüğü en pozitif olanınkinden fazla olabilir.",
        },
        "ex.02.impl.no_dequantize": {
            "en": "the second result must be the dequantized X̂ = s · codes, not the codes again.",
            "tr": "ikinci sonuç kodların kendisi değil, ters nicemlenmiş X̂ = s · kodlar olmalı.",
        },
    },
)
