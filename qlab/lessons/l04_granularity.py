"""Lesson 04 (granularity): exercises and the strings its plots, tables and widgets show.

Importing this module registers, once:

* the lesson's exercises ``04.count_scales``, ``04.bits_per_param`` and
  ``04.ptq_or_qat`` (:func:`qlab.exercises.register`);
* the English and Turkish texts of its plot titles, axis labels, legends,
  table headers, widget labels and readouts (:func:`qlab.i18n.add_messages`).

The notebook ``notebooks/{en,tr}/04_granularity.ipynb`` imports it in its setup cell.
"""

from __future__ import annotations

from qlab.exercises import REGISTRY, choice, numeric, register
from qlab.i18n import add_messages

add_messages(
    {
        # granularity names (tables, legends)
        "l04.gran.tensor": {"en": "per-tensor", "tr": "tensör başına"},
        "l04.gran.channel": {"en": "per-channel", "tr": "kanal başına"},
        "l04.gran.group": {"en": "groups of {g}", "tr": "{g}'lik gruplar"},
        # hand-worked example
        "l04.toy.row": {
            "en": "{name:18} scales {scales}  zero codes {zeros:>2}/16",
            "tr": "{name:18} ölçekler {scales}  sıfır kod {zeros:>2}/16",
        },
        "l04.qlab.row": {
            "en": "{name:18} view {view}  scale shape {sshape}  scales {n}  SQNR {sqnr} dB",
            "tr": "{name:18} görünüm {view}  ölçek biçimi {sshape}  ölçek {n}  SQNR {sqnr} dB",
        },
        # real weights: statistics, zero codes and table
        "l04.normal.max": {
            "en": "for comparison, {n} normal samples: max|x|/σ = {r}",
            "tr": "karşılaştırma için {n} normal örnek: maks|x|/σ = {r}",
        },
        "l04.zero.row": {
            "en": "INT{bits} {gran}: step {step} = {ratio} × median|W|; code 0: {share} %, nonzero codes: {nonzero}",
            "tr": "INT{bits} {gran}: adım {step} = {ratio} × medyan|W|; 0 kodu: %{share}, sıfırdan farklı kod: {nonzero}",
        },
        "l04.zero.median": {
            "en": "median|W| = {m}, weights: {n}",
            "tr": "medyan|W| = {m}, ağırlık sayısı: {n}",
        },
        "l04.stats.header": {
            "en": "layer   max|W|   σ(W)   max|W|/σ   largest row max / median row max",
            "tr": "katman  maks|W|  σ(W)   maks|W|/σ  en büyük satır maks. / medyan satır maks.",
        },
        "l04.table.layer": {"en": "layer", "tr": "katman"},
        "l04.table.title": {
            "en": "SQNR in dB of the FFN down-projections (higher is better)",
            "tr": "FFN aşağı izdüşümlerinin SQNR değeri, dB (yüksek olan daha iyi)",
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
            "tr": "Doğruluk ve depolama, {layer}. katmanın aşağı izdüşümü",
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
        "l04.plot.trade.chosen": {"en": "selected: groups of {g}", "tr": "seçilen: {g}'lik gruplar"},
        "l04.plot.trade.tensor": {"en": "INT{bits} per-tensor", "tr": "INT{bits} tensör başına"},
        # widget
        "l04.widget.group": {"en": "Group size", "tr": "Grup boyutu"},
        "l04.widget.bits": {"en": "Bits", "tr": "Bit"},
        "l04.widget.layer": {"en": "Layer", "tr": "Katman"},
        "l04.readout": {
            "en": "Layer {layer}, INT{bits}, groups of {g}: {n} scales, {bpp} bits per parameter, SQNR {sqnr} dB",
            "tr": "{layer}. katman, INT{bits}, {g}'lik gruplar: {n} ölçek, parametre başına {bpp} bit, SQNR {sqnr} dB",
        },
        "l04.readout.tensor": {
            "en": "(per-tensor at the same bits: SQNR {sqnr} dB)",
            "tr": "(aynı bit sayısında tensör başına: SQNR {sqnr} dB)",
        },
        # bits bill table
        "l04.bill.header": {
            "en": "granularity          scales   fp16 scales   fp32 scales   (bits per parameter, INT4)",
            "tr": "ayrıntı düzeyi       ölçek    fp16 ölçek    fp32 ölçek    (parametre başına bit, INT4)",
        },
        "l04.bill.measured": {
            "en": "INT8 {gran}, measured with bits_per_parameter: {bpp} bits per parameter",
            "tr": "INT8 {gran}, bits_per_parameter ile ölçülen: parametre başına {bpp} bit",
        },
        # trade-off
        "l04.gain.halving": {
            "en": "dB gained by each halving of the group size (INT4, 512 → 16): {gains}",
            "tr": "grup boyutunu her yarıya indirmenin kazancı, dB (INT4, 512 → 16): {gains}",
        },
        "l04.gain.bit": {
            "en": "dB gained by each extra bit (groups of 32, INT3 → INT8): {gains}",
            "tr": "her ek bitin kazancı, dB (32'lik gruplar, INT3 → INT8): {gains}",
        },
        "l04.compare": {
            "en": "INT4, groups of 32: {b1} bits, {s1} dB    INT5 per-channel: {b2} bits, {s2} dB",
            "tr": "INT4, 32'lik gruplar: {b1} bit, {s1} dB    INT5 kanal başına: {b2} bit, {s2} dB",
        },
        # whole model
        "l04.model.row": {
            "en": "{fmt:22} weight SQNR {sqnr:>5} dB   mean cosine to FP32 embeddings {cos}",
            "tr": "{fmt:22} ağırlık SQNR {sqnr:>5} dB   FP32 gömmelerine ortalama kosinüs {cos}",
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


# --- Exercises -------------------------------------------------------------------
# Guarded so that re-importing (e.g. importlib.reload in a notebook) does not fail.

if "04.count_scales" not in REGISTRY:
    register(
        "04.count_scales",  # scales of a (4096, 11008) weight, group_size=128 along the last axis
        solution=4096 * 11008 // 128,
        wrong=(4096, 86, 4096 * 11008, 32, 11008),
        checker=numeric(
            4096 * 11008 // 128,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                4096: "ex.04.count_per_row",
                86: "ex.04.count_one_row",
                4096 * 11008: "ex.04.count_per_weight",
                32: "ex.04.count_wrong_axis",
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
            "ex.04.count_wrong_axis": {
                "en": "you split the first axis. Groups run along the *last* axis, the 11008 inputs of each row.",
                "tr": "ilk ekseni böldünüz. Gruplar *son* eksen boyunca, yani her satırın 11008 girdisi boyunca uzanır.",
            },
            "ex.04.count_per_column": {
                "en": "that is one scale per input column. Count the groups of 128 in each row, then all rows.",
                "tr": "bu, her girdi sütunu için bir ölçek. Önce bir satırdaki 128'lik grupları, sonra tüm satırları sayın.",
            },
        },
    )

if "04.bits_per_param" not in REGISTRY:
    register(
        "04.bits_per_param",  # INT4 codes + one fp16 scale per group of 64 weights
        solution=4 + 16 / 64,
        wrong=(4, 4.5, 20, 0.25, 6),
        checker=numeric(
            4 + 16 / 64,
            rel_tol=0.0,
            abs_tol=0.005,
            units=None,
            traps={
                4: "ex.04.bpp_forgot_scales",
                4.5: "ex.04.bpp_fp32_scale",
                20: "ex.04.bpp_scale_per_weight",
                0.25: "ex.04.bpp_only_overhead",
                6: "ex.04.bpp_bytes",
            },
        ),
        messages={
            "ex.04.bpp_forgot_scales": {
                "en": "that counts the 4-bit codes only. The scales are stored too: add their share per weight.",
                "tr": "bu yalnızca 4 bitlik kodları sayıyor. Ölçekler de saklanır: ağırlık başına paylarını ekleyin.",
            },
            "ex.04.bpp_fp32_scale": {
                "en": "that charges 32 bits per group of 64 (or 16 bits per group of 32). Here the scale is fp16.",
                "tr": "bu, 64'lük grup başına 32 bit (ya da 32'lik grup başına 16 bit) sayıyor. Burada ölçek fp16.",
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
                "en": "the scale's share looks too large: 16 bits are spread over 64 weights, not over 8.",
                "tr": "ölçeğin payı çok büyük görünüyor: 16 bit, 8 ağırlığa değil 64 ağırlığa paylaştırılır.",
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
