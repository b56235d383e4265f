"""Lesson 03 (zero-point quantization): exercises, messages and the comparison plot.

Imported by the setup cell of ``notebooks/{en,tr}/03_zero_point.ipynb``. The
plot puts absmax (:mod:`qlab.absmax`) and zero-point (:mod:`qlab.zeropoint`)
side by side on the same data: where each grid lies, which codes each one
actually uses, and the rounding error of every value.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from qlab import i18n
from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.exercises import Checker, numeric, register
from qlab.plotting import PALETTE, STYLE, new_figure
from qlab.zeropoint import zeropoint_dequantize, zeropoint_quantize

__all__ = ["comparison_figure", "METHODS"]

# --- messages --------------------------------------------------------------------

i18n.add_messages(
    {
        "l03.absmax": {"en": "absmax", "tr": "absmax"},
        "l03.zeropoint": {"en": "zero-point", "tr": "sıfır noktası"},
        "l03.plot.title": {
            "en": "Absmax vs zero-point, {bits}-bit, on the same data",
            "tr": "Aynı veride absmax ve sıfır noktası, {bits} bit",
        },
        "l03.plot.grid_title": {"en": "Data and grid levels", "tr": "Veri ve ızgara düzeyleri"},
        "l03.plot.codes_title": {"en": "Codes in use", "tr": "Kullanılan kodlar"},
        "l03.plot.error_title": {"en": "Rounding error", "tr": "Yuvarlama hatası"},
        "l03.plot.value": {"en": "Value x", "tr": "Değer x"},
        "l03.plot.code": {"en": "Integer code q", "tr": "Tam sayı kodu q"},
        "l03.plot.count_log": {"en": "Values per code (log)", "tr": "Kod başına değer (log)"},
        "l03.plot.error": {"en": "Error x − x̂", "tr": "Hata x − x̂"},
        "l03.plot.data": {"en": "data", "tr": "veri"},
        "l03.plot.grid_of": {"en": "{method} grid", "tr": "{method} ızgarası"},
        "l03.plot.legend": {
            "en": "{method}: {used} of {total} codes used",
            "tr": "{method}: {total} koddan {used} tanesi kullanılıyor",
        },
        "l03.plot.half_step": {"en": "± half a step", "tr": "± yarım adım"},
        # readouts printed by the notebook
        "l03.col.method": {"en": "method", "tr": "yöntem"},
        "l03.col.codes": {"en": "codes used", "tr": "kullanılan kod"},
        "l03.col.step": {"en": "step", "tr": "adım"},
        "l03.col.mse": {"en": "MSE ×10⁻⁶", "tr": "MSE ×10⁻⁶"},
        "l03.col.sqnr": {"en": "SQNR (dB)", "tr": "SQNR (dB)"},
        "l03.col.layer": {"en": "layer", "tr": "katman"},
        "l03.col.negative": {"en": "negative", "tr": "negatif"},
        "l03.col.range": {"en": "range", "tr": "aralık"},
        "l03.col.codes_range": {"en": "absmax codes", "tr": "absmax kodları"},
        "l03.col.gain": {"en": "gain (dB)", "tr": "kazanç (dB)"},
        "l03.readout": {
            "en": "Normal data shifted by {shift}, {bits}-bit:",
            "tr": "Normal veri, kayma {shift}, {bits} bit:",
        },
        "l03.winner": {
            "en": "zero-point has {ratio}× lower MSE than absmax",
            "tr": "sıfır noktasının MSE'si absmax'inkinden {ratio} kat düşük",
        },
        # widgets
        "l03.widget.shift": {"en": "Shift of the data", "tr": "Verinin kayması"},
        "l03.widget.bits": {"en": "Bits", "tr": "Bit sayısı"},
    }
)

# --- exercises -------------------------------------------------------------------


def _own_fallback(checker: Checker, lesson_key: str) -> Checker:
    """``checker`` with the generic "too large/too small" hints (worded for lesson 00's
    memory sizes) replaced by this lesson's ``ex.03.<lesson_key>.too_high/too_low``."""

    def wrapped(answer: Any) -> Any:
        hint = checker(answer)
        if hint in ("ex.too_high", "ex.too_low"):
            return f"ex.03.{lesson_key}.{hint.removeprefix('ex.')}"
        return hint

    return wrapped


i18n.add_messages(
    {
        "ex.03.scale.too_high": {
            "en": "your scale is too large. It is 255 codes divided by the width of the range.",
            "tr": "ölçeğiniz çok büyük. Ölçek, 255 kodun aralığın genişliğine bölümüdür.",
        },
        "ex.03.scale.too_low": {
            "en": "your scale is too small. It is 255 codes divided by the width of the range.",
            "tr": "ölçeğiniz çok küçük. Ölçek, 255 kodun aralığın genişliğine bölümüdür.",
        },
        "ex.03.zero_point.too_high": {
            "en": "too high. Compute the scale first, then −scale · min − 128, and round.",
            "tr": "çok yüksek. Önce ölçeği bulun, sonra −ölçek · min − 128'i hesaplayıp yuvarlayın.",
        },
        "ex.03.zero_point.too_low": {
            "en": "too low. Compute the scale first, then −scale · min − 128, and round.",
            "tr": "çok düşük. Önce ölçeği bulun, sonra −ölçek · min − 128'i hesaplayıp yuvarlayın.",
        },
        "ex.03.relu.too_high": {
            "en": "too many. Absmax's grid is symmetric: how many of its codes stand for values ≥ 0?",
            "tr": "çok fazla. Absmax ızgarası simetriktir: kodlarından kaçı ≥ 0 değerleri temsil eder?",
        },
        "ex.03.relu.too_low": {
            "en": "too few. Count every code from the one for 0.0 up to the top code, both included.",
            "tr": "çok az. 0,0'ın kodundan en üst koda kadar, ikisi de dahil, bütün kodları sayın.",
        },
    }
)
# Exercises 1 and 2 use the range [min, max] = [-0.5, 2.0] at 8 bits.
_LO, _HI = -0.5, 2.0
_SCALE = 255 / (_HI - _LO)
_ZERO_POINT = round(-_SCALE * _LO - 128)

register(
    "03.scale",  # scale for min = -0.5, max = 2.0, 8 bits
    solution=_SCALE,
    wrong=(127 / 2.0, (_HI - _LO) / 255, 255 / 2.0, 255 / 1.5, 127 / 2.5),
    checker=_own_fallback(
        numeric(
            _SCALE,
            units=None,
            traps={
                127 / 2.0: "ex.03.scale.absmax",
                (_HI - _LO) / 255: "ex.03.scale.step",
                255 / 2.0: "ex.03.scale.no_min",
                255 / 1.5: "ex.03.scale.plus_min",
                127 / 2.5: "ex.03.scale.127",
            },
        ),
        "scale",
    ),
    messages={
        "ex.03.scale.absmax": {
            "en": "that is the absmax scale, 127 / max|x|. Zero-point spreads all 256 codes over max − min.",
            "tr": "bu absmax ölçeği, 127 / maks|x|. Sıfır noktası 256 kodun hepsini maks − min aralığına yayar.",
        },
        "ex.03.scale.step": {
            "en": "that is the step (max − min) / 255, the size of one code in real units. "
            "The scale is its inverse: codes per unit.",
            "tr": "bu adım, yani (maks − min) / 255: bir kodun gerçek birimdeki genişliği. "
            "Ölçek bunun tersidir: birim başına kod sayısı.",
        },
        "ex.03.scale.no_min": {
            "en": "you divided by max alone. The range runs from min to max, and min is negative here.",
            "tr": "yalnızca maks'a böldünüz. Aralık min'den maks'a uzanır ve burada min negatif.",
        },
        "ex.03.scale.plus_min": {
            "en": "mind the sign: max − min with a negative min makes the range wider, not narrower.",
            "tr": "işarete dikkat: min negatifken maks − min aralığı daraltmaz, genişletir.",
        },
        "ex.03.scale.127": {
            "en": "the range is right, but zero-point has 255 steps between its lowest and highest code, not 127.",
            "tr": "aralık doğru, ama sıfır noktasında en küçük ve en büyük kod arasında 127 değil 255 adım vardır.",
        },
    },
)

register(
    "03.zero_point",  # zero-point for min = -0.5, max = 2.0, 8 bits
    solution=_ZERO_POINT,
    wrong=(-_ZERO_POINT, round(-_SCALE * _LO), round(_SCALE * _LO), round(_SCALE * _LO - 128), -128, 0, 300),
    checker=_own_fallback(
        numeric(
            _ZERO_POINT,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                -_ZERO_POINT: "ex.03.zp.sign",
                round(-_SCALE * _LO): "ex.03.zp.no_offset",
                round(_SCALE * _LO): "ex.03.zp.two_slips",
                round(_SCALE * _LO - 128): "ex.03.zp.min_sign",
                -128: "ex.03.zp.lowest",
                0: "ex.03.zp.symmetric",
            },
        ),
        "zero_point",
    ),
    messages={
        "ex.03.zp.sign": {
            "en": "right size, wrong sign. 0.0 lies near the bottom of this range, so its code is negative.",
            "tr": "büyüklük doğru, işaret yanlış. 0,0 bu aralığın alt ucuna yakın, bu yüzden kodu negatiftir.",
        },
        "ex.03.zp.no_offset": {
            "en": "that is the position of 0.0 counted from min in codes. Codes start at −128, not at 0.",
            "tr": "bu, 0,0'ın min'den itibaren kod cinsinden konumu. Kodlar 0'dan değil −128'den başlar.",
        },
        "ex.03.zp.two_slips": {
            "en": "two slips: check the sign of −scale · min, and do not forget the − 128.",
            "tr": "iki küçük hata var: −ölçek · min teriminin işaretini denetleyin ve − 128'i unutmayın.",
        },
        "ex.03.zp.min_sign": {
            "en": "the formula is −scale · min − 128; with a negative min the first term is positive.",
            "tr": "formül −ölçek · min − 128; min negatif olduğunda ilk terim pozitiftir.",
        },
        "ex.03.zp.lowest": {
            "en": "that would be right if min were 0. Here min is negative, so 0.0 sits some codes higher.",
            "tr": "min 0 olsaydı doğru olurdu. Burada min negatif, bu yüzden 0,0 birkaç kod daha yukarıda.",
        },
        "ex.03.zp.symmetric": {
            "en": "0.0 maps to code 0 only in symmetric (absmax) quantization. Use −scale · min − 128.",
            "tr": "0,0 yalnızca simetrik (absmax) nicemlemede 0 koduna gider. −ölçek · min − 128'i kullanın.",
        },
    },
)

register(
    "03.absmax_codes_relu",  # how many int8 codes can absmax use on ReLU outputs (all >= 0)?
    solution=128,
    wrong=(256, 255, 127, 129, 64),
    checker=_own_fallback(
        numeric(
            128,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                256: "ex.03.relu.all",
                255: "ex.03.relu.all",
                127: "ex.03.relu.zero",
                129: "ex.03.relu.lowest",
                64: "ex.03.relu.half",
            },
        ),
        "relu",
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
    },
)

# --- the comparison plot ----------------------------------------------------------

METHODS: dict[str, tuple[Any, Any]] = {
    "l03.absmax": (absmax_quantize, absmax_dequantize),
    "l03.zeropoint": (zeropoint_quantize, zeropoint_dequantize),
}


def _levels(params: Any) -> tuple[np.ndarray, int, int]:
    """Every value the grid can represent, and the code range ``[low, high]`` it has."""
    scale = float(np.asarray(params.scale).ravel()[0])
    if hasattr(params, "zero_point"):  # zero-point: codes qmin..qmax, 0.0 sits at zero_point
        low, high = params.qmin, params.qmax
        zp = float(np.asarray(params.zero_point).ravel()[0])
        return (np.arange(low, high + 1) - zp) / scale, low, high
    low, high = -params.qmax, params.qmax  # absmax never uses -2**(bits-1)
    return np.arange(low, high + 1) / scale, low, high


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
            ax_grid.plot([], [], color=color, label=i18n.t("l03.plot.grid_of", lang, method=name))
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
            half = 0.5 / float(np.asarray(params.scale).ravel()[0])
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
    return fig
