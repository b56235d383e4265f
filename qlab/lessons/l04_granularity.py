"""Lesson 04 (granularity): exercises and the strings its plots, tables and widgets show.

Importing this module registers, once:

* the lesson's exercises ``04.groupwise_absmax`` (the learner writes the
  group-wise reshape), ``04.count_scales``, ``04.bits_per_param`` and
  ``04.ptq_or_qat`` (:func:`qlab.exercises.register`);
* the English and Turkish texts of its plot titles, axis labels, legends,
  table headers, widget labels and readouts (:func:`qlab.i18n.add_messages`).

The notebook ``notebooks/{en,tr}/04_granularity.ipynb`` imports it in its setup cell.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from qlab.absmax import absmax_quantize
from qlab.exercises import REGISTRY, Hint, choice, implementation, numeric, register
from qlab.i18n import add_messages

add_messages(
    {
        # granularity and format names (tables, legends)
        "l04.gran.tensor": {"en": "per-tensor", "tr": "tensör başına"},
        "l04.gran.channel": {"en": "per-channel", "tr": "kanal başına"},
        "l04.gran.group": {"en": "groups of {g}", "tr": "{g:'lIk} gruplar"},
        "l04.fmt.absmax": {"en": "INT{bits} absmax, {gran}", "tr": "INT{bits} absmax, {gran}"},
        "l04.fmt.zeropoint": {"en": "INT{bits} zero-point, {gran}", "tr": "INT{bits} sıfır noktalı, {gran}"},
        # hand-worked example
        "l04.toy.row": {
            "en": "{name:18} scales {scales}  zero codes {zeros:>2}/16",
            "tr": "{name:18} ölçekler {scales}  0 kodu {zeros:>2}/16",
        },
        "l04.qlab.row": {
            "en": "{name:18} view {view}  scale shape {sshape}  scales {n}  SQNR {sqnr} dB",
            "tr": "{name:18} görünüm {view}  ölçek şekli {sshape}  ölçek sayısı {n}  SQNR {sqnr} dB",
        },
        "l04.toy.energy": {
            "en": "share of the outlier in the signal's energy (sum of w²): {share}",
            "tr": "aykırı değerin sinyal enerjisindeki payı (w² toplamı): {share}",
        },
        # real weights: statistics, zero codes and table
        "l04.normal.max": {
            "en": "for comparison, {n} normal samples: max|x|/σ = {r}",
            "tr": "karşılaştırma için {n} normal örnek: maks|x|/σ = {r}",
        },
        "l04.zero.row": {
            "en": "INT{bits} {gran}: step {step} = {ratio} × median|W|; code 0: {share}, nonzero codes: {nonzero}",
            "tr": "INT{bits} {gran}: adım {step} = {ratio} × medyan|W|; 0 kodu: {share}; sıfırdan farklı kod: {nonzero}",
        },
        "l04.zero.median": {
            "en": "median|W| = {m}, weights: {n}",
            "tr": "medyan|W| = {m}; ağırlık sayısı: {n}",
        },
        "l04.zero.energy": {
            "en": "share of the {n} surviving INT4 weights in layer 0's energy (sum of w²): {share}",
            "tr": "INT4'te hayatta kalan {n} ağırlığın 0. katmanın enerjisindeki payı (w² toplamı): {share}",
        },
        "l04.stats.header": {
            "en": "layer   max|W|   σ(W)   max|W|/σ   max row max   rows above\n"
            "                                 / median    5 × median",
            "tr": "katman  maks|W|  σ(W)   maks|W|/σ  en büyük      medyanın 5\n"
            "                                 satır maks.   katını aşan\n"
            "                                 / medyan      satırlar",
        },
        "l04.table.layer": {"en": "layer {i}", "tr": "{i}. katman"},
        "l04.table.title": {
            "en": "SQNR in dB of the FFN down-projections (higher is better)",
            "tr": "FFN aşağı izdüşümlerinin SQNR değeri, dB (yüksek olan daha iyi)",
        },
        "l04.span": {
            "en": "INT8, best minus worst layer (dB): {spans}",
            "tr": "INT8, en iyi ile en kötü katman arasındaki fark (dB): {spans}",
        },
        # asymmetric INT4 in groups of 128
        "l04.zp.params": {
            "en": "layer 0, zero-point INT4 in groups of 128: scale shape {sshape} ({sdtype}), "
            "zero points {zdtype} from {lo} to {hi}",
            "tr": "0. katman, 128'lik gruplarda sıfır noktalı INT4: ölçek şekli {sshape} ({sdtype}), "
            "sıfır noktaları {zdtype}, en küçüğü {lo}, en büyüğü {hi}",
        },
        "l04.zp.header": {
            "en": "SQNR (dB), layer:                        0     1     2     3     4     5   bits/param",
            "tr": "SQNR (dB), katman:                       0     1     2     3     4     5   bit/parametre",
        },
        "l04.zp.summary": {
            "en": "zero-point minus absmax, both in groups of 128 (dB), per layer: {gain}\n"
            "absmax in groups of 32 minus zero-point in groups of 128 (dB): {gap}\n"
            "layer 0: the zero-point step is on average {ratio} finer than absmax's in the same groups",
            "tr": "sıfır noktalı eksi absmax, ikisi de 128'lik gruplarda (dB), katman katman: {gain}\n"
            "32'lik gruplarda absmax eksi 128'lik gruplarda sıfır noktalı (dB): {gap}\n"
            "0. katman: sıfır noktalı nicemlemenin adımı, aynı gruplarda absmax'ınkinden ortalama {ratio} daha ince",
        },
        # plots
        "l04.plot.layers.title": {
            "en": "{fmt}: SQNR per layer and granularity",
            "tr": "{fmt}: katman ve ayrıntı düzeyine göre SQNR",
        },
        "l04.plot.layers.xlabel": {
            "en": "Layer (FFN down-projection, 384 × 1536)",
            "tr": "Katman (FFN aşağı izdüşümü, 384 × 1536)",
        },
        "l04.plot.sqnr": {"en": "SQNR (dB)", "tr": "SQNR (dB)"},
        "l04.plot.trade.title": {
            "en": "Accuracy vs storage, layer {layer} down-projection",
            "tr": "{layer}. katmanın aşağı izdüşümü: doğruluk ve depolama",
        },
        "l04.plot.trade.xlabel": {
            "en": "Bits per parameter (codes + fp16 scales)",
            "tr": "Parametre başına bit (kodlar + fp16 ölçekler)",
        },
        "l04.plot.trade.curve": {
            "en": "INT{bits}, group sizes 16 … 1536",
            "tr": "INT{bits}, grup boyutu 16 … 1536",
        },
        "l04.plot.trade.others": {"en": "other bit widths (2 … 8)", "tr": "diğer bit genişlikleri (2 … 8)"},
        "l04.plot.trade.chosen": {"en": "selected: groups of {g}", "tr": "seçilen: {g:'lIk} gruplar"},
        "l04.plot.trade.tensor": {"en": "INT{bits} per-tensor", "tr": "INT{bits} tensör başına"},
        # widget
        "l04.widget.group": {"en": "Group size", "tr": "Grup boyutu"},
        "l04.widget.bits": {"en": "Bits", "tr": "Bit"},
        "l04.widget.layer": {"en": "Layer", "tr": "Katman"},
        "l04.readout": {
            "en": "Layer {layer}, INT{bits}, groups of {g}: {n} scales, {bpp} bits per parameter, SQNR {sqnr} dB",
            "tr": "{layer}. katman, INT{bits}, {g:'lIk} gruplar: {n} ölçek; parametre başına {bpp} bit; SQNR {sqnr} dB",
        },
        "l04.readout.tensor": {
            "en": "(per-tensor at the same bits: SQNR {sqnr} dB)",
            "tr": "(aynı bit sayısında tensör başına: SQNR {sqnr} dB)",
        },
        # bits bill table
        "l04.bill.header": {
            "en": "granularity          scales   fp16 scales   fp32 scales   (bits per parameter, INT4)",
            "tr": "ayrıntı düzeyi  ölçek sayısı  fp16 ölçekle  fp32 ölçekle   (parametre başına bit, INT4)",
        },
        "l04.bill.gptq": {
            "en": "zero-point INT4 in groups of 128 as GPTQ stores it (fp16 scale + 4-bit zero point): "
            "{bpp} bits per parameter",
            "tr": "GPTQ'nun sakladığı gibi 128'lik gruplarda sıfır noktalı INT4 (fp16 ölçek + 4 bitlik sıfır "
            "noktası): parametre başına {bpp} bit",
        },
        "l04.bill.measured": {
            "en": "{gran}, measured with bits_per_parameter: {bpp} bits per parameter",
            "tr": "{gran}, bits_per_parameter ile ölçülen: parametre başına {bpp} bit",
        },
        # trade-off
        "l04.gain.halving": {
            "en": "dB gained by each halving of the group size (INT4, 512 → 256, …, 32 → 16): {gains}",
            "tr": "grup boyutunu her yarıya indirmenin kazancı, dB (INT4, 512 → 256, …, 32 → 16): {gains}",
        },
        "l04.gain.bit": {
            "en": "dB gained by each extra bit (groups of 32, INT3 → INT4, …, INT7 → INT8): {gains}",
            "tr": "her ek bitin kazancı, dB (32'lik gruplar, INT3 → INT4, …, INT7 → INT8): {gains}",
        },
        "l04.compare": {
            "en": "INT4, groups of 32: {b1} bits, {s1} dB    INT5 per-channel: {b2} bits, {s2} dB",
            "tr": "INT4, 32'lik gruplar: {b1} bit; {s1} dB    INT5 kanal başına: {b2} bit; {s2} dB",
        },
        # whole model
        "l04.model.row": {
            "en": "{fmt:36} weight SQNR {sqnr:>5} dB   {bits:>7} bits/param   mean cosine to FP32 embeddings {cos}",
            "tr": "{fmt:36} ağırlık SQNR'si {sqnr:>5} dB   {bits:>7} bit/parametre   FP32 gömmeleriyle ortalama kosinüs {cos}",
        },
        # straight-through estimator demo
        "l04.ste.values": {
            "en": "forward value, fake_quant(w): {fq}   with the STE: {ste}",
            "tr": "ileri geçiş değeri, fake_quant(w): {fq}   STE ile: {ste}",
        },
        "l04.ste.plain": {
            "en": "gradient through round():       {grad}",
            "tr": "round() üzerinden gradyan:      {grad}",
        },
        "l04.ste.ste": {
            "en": "gradient with the STE trick:    {grad}",
            "tr": "STE hilesiyle gradyan:          {grad}",
        },
    }
)


# --- Exercise 1: the learner writes group-wise absmax ------------------------------
#
# groupwise_absmax(W, group_size, bits) -> (codes of W's shape, scales of shape
# (rows, cols // group_size, 1)), with scale = max|w| / qmax (units per code), the
# convention of the whole course. The reference is qlab itself; each typical
# mistake below is a wrong solution the checker recognizes (and the test suite runs
# as a wrong answer).


def groupwise_absmax_reference(W: Any, group_size: int, bits: int = 4) -> tuple[Any, Any]:
    """qlab's answer: codes and ``params.scale`` of ``absmax_quantize(W, bits, group_size=...)``."""
    codes, params = absmax_quantize(W, bits=bits, group_size=group_size)
    return codes, params.scale


def _qmax(bits: int) -> int:
    return 2 ** (bits - 1) - 1


def _gw_max_over_groups(W, group_size, bits=4):
    """Mistake: the max runs over the groups of a row (axis 1), not inside each group."""
    rows, cols = W.shape
    Wg = W.reshape(rows, cols // group_size, group_size)
    scales = np.abs(Wg).max(axis=1, keepdims=True) / _qmax(bits)
    return np.round(Wg / scales).reshape(rows, cols), scales


def _gw_max_whole_row(W, group_size, bits=4):
    """Mistake: one max per row (per-channel), broadcast to every group of the row."""
    rows, cols = W.shape
    Wg = W.reshape(rows, cols // group_size, group_size)
    scales = np.abs(Wg).max(axis=(1, 2), keepdims=True) / _qmax(bits)  # shape (rows, 1, 1)
    return np.round(Wg / scales).reshape(rows, cols), scales


def _gw_groups_down_columns(W, group_size, bits=4):
    """Mistake: groups of consecutive *rows* in each column, (rows // g, g, cols)."""
    rows, cols = W.shape
    Wg = W.reshape(rows // group_size, group_size, cols)
    scales = np.abs(Wg).max(axis=1, keepdims=True) / _qmax(bits)
    return np.round(Wg / scales).reshape(rows, cols), scales


def _gw_strided_groups(W, group_size, bits=4):
    """Mistake: reshape to (rows, g, cols // g): each "group" takes every (cols // g)-th weight."""
    rows, cols = W.shape
    Wg = W.reshape(rows, group_size, cols // group_size)
    scales = np.abs(Wg).max(axis=-1, keepdims=True) / _qmax(bits)
    return np.round(Wg / scales).reshape(rows, cols), scales


def _gw_scales_squeezed(W, group_size, bits=4):
    """Mistake: right values, but the scales lost the group axis: shape (rows, cols // g)."""
    codes, scales = groupwise_absmax_reference(W, group_size, bits)
    return codes, scales[..., 0]


def _gw_not_reshaped_back(W, group_size, bits=4):
    """Mistake: codes left in the grouped view (rows, cols // g, g)."""
    codes, scales = groupwise_absmax_reference(W, group_size, bits)
    rows, cols = W.shape
    return codes.reshape(rows, cols // group_size, group_size), scales


def _gw_not_rounded(W, group_size, bits=4):
    """Mistake: codes = w / s without rounding."""
    rows, cols = W.shape
    Wg = W.reshape(rows, cols // group_size, group_size)
    scales = np.abs(Wg).max(axis=-1, keepdims=True) / _qmax(bits)
    return (Wg / scales).reshape(rows, cols), scales


def _gw_inverse_scale(W, group_size, bits=4):
    """Mistake: the right codes, but the scales are qmax / max|w| (the inverse scale, 1/s)."""
    codes, scales = groupwise_absmax_reference(W, group_size, bits)
    return codes, 1.0 / scales


_GW_MISTAKES = {
    "ex.04.gw_max_over_groups": _gw_max_over_groups,
    "ex.04.gw_max_whole_row": _gw_max_whole_row,
    "ex.04.gw_groups_down_columns": _gw_groups_down_columns,
    "ex.04.gw_strided_groups": _gw_strided_groups,
    "ex.04.gw_scales_squeezed": _gw_scales_squeezed,
    "ex.04.gw_not_reshaped_back": _gw_not_reshaped_back,
    "ex.04.gw_not_rounded": _gw_not_rounded,
    "ex.04.gw_inverse_scale": _gw_inverse_scale,
}

# Tried first, so that every mistake shows on it: rows divisible by the group size
# (the column-wise mistake runs), as many groups per row (6) as neither the group
# size (4) nor the row count (8), so a forgotten keepdims cannot broadcast by luck.
_GW_EDGE_CASES = (
    {"W": (np.arange(8 * 24, dtype=np.float32).reshape(8, 24) % 7 - 3.0) / 10, "group_size": 4, "bits": 4},
    {
        "W": np.linspace(-1.0, 2.0, 3 * 32, dtype=np.float32).reshape(3, 32)[:, ::-1].copy(),
        "group_size": 8,
        "bits": 8,
    },
)


def _gw_inputs(rng: np.random.Generator) -> dict[str, Any]:
    """A fresh weight: 2 to 6 rows, 2 to 6 groups of 4 to 32 per row, one outlier."""
    group_size = int(rng.choice((4, 8, 16, 32)))
    rows, n_groups = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    W = (0.05 * rng.standard_normal((rows, n_groups * group_size))).astype(np.float32)
    W[rng.integers(rows), rng.integers(W.shape[1])] = np.float32(rng.choice((-1, 1)) * rng.uniform(0.5, 3.0))
    return {"W": W, "group_size": group_size, "bits": int(rng.integers(2, 9))}


_gw_base = implementation(
    groupwise_absmax_reference,
    _gw_inputs,
    trials=12,
    seed=4,
    edge_cases=_GW_EDGE_CASES,
    mistakes=_GW_MISTAKES,
)


def _gw_checker(answer: Any) -> Hint | None:
    """The implementation checker, plus hints for an empty body, a lost group axis and wrong shapes."""
    first = _GW_EDGE_CASES[0]
    result, raised = None, False
    if callable(answer):
        try:
            result = answer(**copy.deepcopy(first))
        except Exception:  # the base checker reports it, with the error
            raised = True
        if not raised and result is None:
            return "ex.04.gw_empty"
    hint = _gw_base(answer)
    if hint is None:
        return None
    key = hint if isinstance(hint, str) else hint[0]
    if key == "ex.impl.raised" and "broadcast" in str(hint[1].get("error", "")):
        return "ex.04.gw_keepdims"
    if key == "ex.impl.mismatch" and not raised:
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            return "ex.04.gw_return_pair"
        rows, cols = first["W"].shape
        want = {"codes": (rows, cols), "scales": (rows, cols // first["group_size"], 1)}
        got = {"codes": tuple(np.shape(result[0])), "scales": tuple(np.shape(result[1]))}
        for part in ("codes", "scales"):
            if got[part] != want[part]:
                return (f"ex.04.gw_{part}_shape", {"got": got[part], "want": want[part]})
    return hint


if "04.groupwise_absmax" not in REGISTRY:
    register(
        "04.groupwise_absmax",
        solution=groupwise_absmax_reference,
        wrong=tuple(_GW_MISTAKES.values()),
        checker=_gw_checker,
        messages={
            "ex.04.gw_empty": {
                "en": "your function returns nothing yet. Write its body and end it with `return codes, scales`.",
                "tr": "fonksiyonunuz henüz bir şey döndürmüyor. Gövdesini yazın ve `return codes, scales` ile bitirin.",
            },
            "ex.04.gw_return_pair": {
                "en": "return two things, in this order: `return codes, scales`.",
                "tr": "sırasıyla iki şey döndürün: `return codes, scales`.",
            },
            "ex.04.gw_keepdims": {
                "en": "the division failed to broadcast: your maxima lost the group axis. Keep it when you take "
                "the max (keepdims=True), so that each group's scale lines up with the group's weights.",
                "tr": "bölme işlemi yayınlanamadı (broadcast): maksimumlarınız grup eksenini kaybetti. Maksimumu "
                "alırken onu koruyun (keepdims=True); böylece her grubun ölçeği grubun ağırlıklarıyla hizalanır.",
            },
            "ex.04.gw_codes_shape": {
                "en": "your codes have the shape {got}, W has {want}. Give the codes back the shape of W at the end.",
                "tr": "kodlarınızın şekli {got}, W'nin şekli {want}. Sonda kodlara W'nin şeklini geri verin.",
            },
            "ex.04.gw_scales_shape": {
                "en": "your scales have the shape {got}; qlab stores {want}: one scale per group, with the "
                "reduced axis kept.",
                "tr": "ölçeklerinizin şekli {got}; qlab'ın sakladığı şekil {want}: her grup için bir ölçek, "
                "indirgenen eksen korunarak.",
            },
            "ex.04.gw_max_over_groups": {
                "en": "your max runs across the groups of a row: you get one scale per position inside a group. "
                "Each group's max must run over that group's own weights (the last axis of the grouped view).",
                "tr": "maksimumunuz bir satırın grupları boyunca alınıyor: grup içindeki her konum için bir ölçek "
                "çıkıyor. Her grubun maksimumu o grubun kendi ağırlıkları üzerinden alınmalı (gruplu görünümün son "
                "ekseni).",
            },
            "ex.04.gw_max_whole_row": {
                "en": "every group of a row got the same scale: that is per-channel. Take the max inside each "
                "group only.",
                "tr": "bir satırın bütün grupları aynı ölçeği aldı: bu kanal başına nicemleme. Maksimumu yalnızca "
                "her grubun içinde alın.",
            },
            "ex.04.gw_groups_down_columns": {
                "en": "your groups run down the columns (consecutive rows). Groups hold consecutive weights of "
                "one row: split the last axis, the inputs.",
                "tr": "gruplarınız sütunlar boyunca (ardışık satırlardan) oluşuyor. Bir grup, tek bir satırın "
                "ardışık ağırlıklarını tutar: son ekseni, yani girdileri bölün.",
            },
            "ex.04.gw_strided_groups": {
                "en": "your groups are not consecutive: each one picks weights spread across the row. In the "
                "grouped view, the axis that runs inside a group must come last.",
                "tr": "gruplarınız ardışık değil: her biri satıra dağılmış ağırlıkları topluyor. Gruplu görünümde "
                "grubun içinde ilerleyen eksen en sonda olmalı.",
            },
            "ex.04.gw_scales_squeezed": {
                "en": "the values of your scales are right, but they lost the group axis. Keep it (keepdims=True): "
                "the scales then broadcast over each group, the shape qlab stores.",
                "tr": "ölçeklerinizin değerleri doğru, ama grup eksenini kaybettiler. Onu koruyun (keepdims=True): "
                "ölçekler böylece her grubun üzerine yayınlanır; qlab da bu şekli saklar.",
            },
            "ex.04.gw_not_reshaped_back": {
                "en": "your codes are still in the grouped view. Give them the shape of W again.",
                "tr": "kodlarınız hâlâ gruplu görünümde. Onlara yeniden W'nin şeklini verin.",
            },
            "ex.04.gw_not_rounded": {
                "en": "your codes are not integers: round w / s to the nearest code.",
                "tr": "kodlarınız tam sayı değil: w / s değerini en yakın koda yuvarlayın.",
            },
            "ex.04.gw_inverse_scale": {
                "en": "your codes are right, but your scales are qmax / max|w|, the inverse scale 1/s. In this "
                "course the scale is units per code: max|w| / qmax.",
                "tr": "kodlarınız doğru, ama ölçekleriniz qmax / max|w|, yani ölçeğin tersi (1/s). Bu kursta ölçek, "
                "kod başına birimdir: max|w| / qmax.",
            },
        },
    )


# --- Arithmetic and choice exercises ---------------------------------------------
# Guarded so that re-importing (e.g. importlib.reload in a notebook) does not fail.

_LLAMA_DOWN = (4096, 11008)  # LLaMA-7B FFN down-projection (out, in)
_SCALES_G128 = _LLAMA_DOWN[0] * (_LLAMA_DOWN[1] // 128)

if "04.count_scales" not in REGISTRY:
    register(
        "04.count_scales",  # scales of a (4096, 11008) weight, group_size=128 along the last axis
        solution=_SCALES_G128,
        wrong=(4096, 86, 4096 * 11008, 32, 11008),
        checker=numeric(
            _SCALES_G128,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                4096: "ex.04.count_per_row",
                86: "ex.04.count_one_row",
                4096 * 11008: "ex.04.count_per_weight",
                32: "ex.04.count_one_column",
                11008: "ex.04.count_per_column",
            },
        ),
        messages={
            "ex.04.count_per_row": {
                "en": "that is one scale per output row (per-channel). Groups split every row into smaller pieces.",
                "tr": "bu, her çıktı satırı için bir ölçek (kanal başına). Gruplar her satırı daha küçük parçalara böler.",
            },
            "ex.04.count_one_row": {
                "en": "that is the number of groups in *one* row. How many rows does the weight have?",
                "tr": "bu, *tek bir* satırdaki grup sayısı. Ağırlığın kaç satırı var?",
            },
            "ex.04.count_per_weight": {
                "en": "that is one scale per weight. A group of 128 weights shares one scale.",
                "tr": "bu, her ağırlık için bir ölçek demek. 128 ağırlıklık bir grup tek bir ölçeği paylaşır.",
            },
            "ex.04.count_one_column": {
                "en": "that is 4096 / 128: the groups of 128 in a single line of 4096 weights. Here the groups run "
                "along each row (the last axis, 11008 inputs), and every row has its own groups.",
                "tr": "bu, 4096 / 128: 4096 ağırlıklık tek bir dizideki 128'lik gruplar. Burada gruplar her satır "
                "boyunca (son eksen, 11008 girdi) uzanır ve her satırın kendi grupları vardır.",
            },
            "ex.04.count_per_column": {
                "en": "that is one scale per input column. Count the groups of 128 in each row, then all rows.",
                "tr": "bu, her girdi sütunu için bir ölçek. Önce bir satırdaki 128'lik grupları, sonra tüm satırları sayın.",
            },
        },
    )

_BPP_G64 = 4 + 16 / 64  # INT4 codes + one fp16 scale per 64 weights

if "04.bits_per_param" not in REGISTRY:
    register(
        "04.bits_per_param",  # INT4 codes + one fp16 scale per group of 64 weights
        solution=_BPP_G64,
        wrong=(4, 4 + 32 / 64, 4 + 16, 16 / 64, 4 + 16 / 8),
        checker=numeric(
            _BPP_G64,
            rel_tol=0.0,
            abs_tol=0.005,
            units=None,
            traps={
                4: "ex.04.bpp_forgot_scales",
                4 + 32 / 64: "ex.04.bpp_fp32_scale",
                4 + 16: "ex.04.bpp_scale_per_weight",
                16 / 64: "ex.04.bpp_only_overhead",
                4 + 16 / 8: "ex.04.bpp_bytes",
            },
        ),
        messages={
            "ex.04.bpp_forgot_scales": {
                "en": "that counts the 4-bit codes only. The scales are stored too: add their share per weight.",
                "tr": "bu yalnızca 4 bitlik kodları sayıyor. Ölçekler de saklanır: ağırlık başına paylarını ekleyin.",
            },
            "ex.04.bpp_fp32_scale": {
                "en": "that is what a 32-bit scale per group of 64 would cost. How many bits does an fp16 scale have?",
                "tr": "bu, 64'lük grup başına 32 bitlik bir ölçeğin maliyeti. Bir fp16 ölçek kaç bittir?",
            },
            "ex.04.bpp_scale_per_weight": {
                "en": "you charged a whole 16-bit scale to every weight. One scale is shared by the whole group.",
                "tr": "16 bitlik ölçeğin tamamını her ağırlığa yüklediniz. Bir ölçeği bütün grup paylaşır.",
            },
            "ex.04.bpp_only_overhead": {
                "en": "that is only the overhead of the scales. Add the bits of the code itself.",
                "tr": "bu yalnızca ölçeklerin ek yükü. Kodun kendi bitlerini de ekleyin.",
            },
            "ex.04.bpp_bytes": {
                "en": "the scale's share looks too large: its bits are spread over all the weights of a group, "
                "not over 8.",
                "tr": "ölçeğin payı çok büyük görünüyor: ölçeğin bitleri 8 ağırlığa değil, grubun bütün ağırlıklarına "
                "paylaştırılır.",
            },
        },
    )

if "04.ptq_or_qat" not in REGISTRY:
    register(
        "04.ptq_or_qat",  # a trained 30B model, no training data, one 24 GB GPU, needed tomorrow
        solution="PTQ",
        wrong=("QAT", "BF16"),
        checker=choice(
            "PTQ",
            ("PTQ", "QAT", "BF16"),
            traps={"QAT": "ex.04.choose_qat", "BF16": "ex.04.choose_bf16"},
        ),
        messages={
            "ex.04.choose_qat": {
                "en": "QAT trains the model again: it needs the training data and many GPU hours. "
                "Which of those do you have?",
                "tr": "QAT modeli yeniden eğitir: eğitim verisine ve çok sayıda GPU saatine ihtiyaç duyar. "
                "Bunlardan hangisi elinizde var?",
            },
            "ex.04.choose_bf16": {
                "en": "compute the weight memory of 30 billion parameters at 2 bytes each. Does it fit in 24 GB?",
                "tr": "30 milyar parametrenin her biri 2 bayt tutarsa ağırlık belleğini hesaplayın. 24 GB'a sığar mı?",
            },
        },
    )
