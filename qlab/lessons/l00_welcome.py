"""Lesson 00 (welcome): memory arithmetic, its exercises and the strings of its readouts.

Imported by the setup cell of ``notebooks/{en,tr}/00_welcome.ipynb``. Importing it
registers the lesson's self-checking exercises with :func:`qlab.exercises.register`
and the lesson's English/Turkish texts with :func:`qlab.i18n.add_messages`.

The arithmetic the lesson teaches, in one function (:func:`weight_memory_gb`, the
reference of the exercise where the learner writes it)::

    GB = (n_params * bits + n_blocks * scale_bits) / 8 / 1e9,   n_blocks = ceil(n_params / block_size)

plus two facts used later in the course: full fine-tuning with mixed-precision Adam
needs about 16 bytes per parameter (the reason for QLoRA, Dettmers et al. 2023,
arXiv:2305.14314), and generating one token reads every weight once, so
``tokens/s <= memory bandwidth / weight bytes``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qlab.exercises import Checker, Hint, implementation, numeric, register
from qlab.i18n import add_messages

GB = 1e9  # bytes: the course writes sizes in GB (10**9 bytes), as model cards do


def weight_memory_gb(
    n_params: int, bits: float, block_size: int | None = None, scale_bits: float = 16
) -> float:
    """Memory in GB of ``n_params`` weights at ``bits`` bits each, plus block scales.

    With ``block_size`` every block of ``block_size`` weights (the last one may be
    partial) also stores one ``scale_bits``-bit scale; with ``None`` there are no
    scales. ``weight_memory_gb(13e9, 4, 64, 32)`` is 7.3125 (4.5 bits per weight).
    """
    total_bits = n_params * bits
    if block_size is not None:
        total_bits += math.ceil(n_params / block_size) * scale_bits
    return total_bits / 8 / GB


# --- readouts, tables and plots -----------------------------------------------

add_messages(
    {
        "hw.gpu48": {"en": "48 GB GPU", "tr": "48 GB GPU"},
        "hw.laptop_bw": {"en": "laptop, 50 GB/s", "tr": "dizüstü, 50 GB/s"},
        "hw.gpu_bw": {"en": "GPU, 1 TB/s", "tr": "GPU, 1 TB/s"},
        "fmt.int4_scales": {"en": "4-bit + scales", "tr": "4 bit + ölçekler"},
        "unit.tok_s": {"en": "tok/s", "tr": "token/s"},
        "readout.00.scale": {
            "en": "scale s = {s} (units per code); inverse scale 1/s = {inv}",
            "tr": "ölçek s = {s} (kod başına birim); ölçeğin tersi 1/s = {inv}",
        },
        "readout.00.error": {
            "en": "largest error |x − x̂| = {error} ≤ s/2 = {half}",
            "tr": "en büyük hata |x − x̂| = {error} ≤ s/2 = {half}",
        },
        "readout.00.bytes": {
            "en": "memory: {before} bytes → {after} bytes",
            "tr": "bellek: {before} bayt → {after} bayt",
        },
        "train.fp16_weights": {"en": "FP16 weights", "tr": "FP16 ağırlıklar"},
        "train.fp16_grads": {"en": "FP16 gradients", "tr": "FP16 gradyanlar"},
        "train.fp32_master": {"en": "FP32 master weights", "tr": "FP32 ana ağırlıklar"},
        "train.adam_m": {"en": "Adam m (FP32)", "tr": "Adam m (FP32)"},
        "train.adam_v": {"en": "Adam v (FP32)", "tr": "Adam v (FP32)"},
        "train.total": {"en": "bytes per parameter", "tr": "parametre başına bayt"},
        "readout.00.train": {
            "en": "{model}: full fine-tuning {gb} GB (weights in BF16 alone: {bf16} GB)",
            "tr": "{model}: tam ince ayar {gb} GB (yalnızca BF16 ağırlıklar: {bf16} GB)",
        },
        "readout.00.train_gpus": {
            "en": "70B: at least {n} GPUs of 80 GB, activations not counted",
            "tr": "70B: aktivasyonlar sayılmadan en az {n} tane 80 GB'lık GPU",
        },
        "readout.00.on_disk": {
            "en": "{n} M parameters, {mb} MB, {bits} bits per parameter ({kinds})",
            "tr": "{n} milyon parametre, {mb} MB, parametre başına {bits} bit ({kinds})",
        },
        "readout.00.gguf_kind": {
            "en": "{kind:5} {share} of the parameters, {bits} bits per parameter",
            "tr": "{kind:5} parametrelerin {share:'(s)I}, parametre başına {bits} bit",
        },
        "readout.00.gguf_total": {
            "en": "tensors: {tensors} bits per parameter; header (metadata): {header} MB of {file} MB",
            "tr": "tensörler: parametre başına {tensors} bit; başlık (üst veri): {file} MB'ın {header} MB'ı",
        },
        "readout.00.gguf_meta": {
            "en": "metadata: {keys} entries, {layers} layers, {vocab} tokens, {merges} merge rules, chat template",
            "tr": "üst veri: {keys} kayıt, {layers} katman, {vocab} token, {merges} birleştirme kuralı, sohbet şablonu",
        },
    }
)


def _neutral_fallback(checker: Checker, key: str) -> Checker:
    """``checker`` with its generic "too large"/"too small" replaced by the hint ``key``.

    A learner could otherwise home in on the answer by bisection.
    """

    def wrapped(answer: Any) -> Hint | None:
        hint = checker(answer)
        if hint in ("ex.too_high", "ex.too_low"):
            return key
        return hint

    return wrapped


# --- Lesson 00: memory arithmetic ------------------------------------------------

register(
    "00.bf16_7b",  # How many GB do the weights of a 7B model take in BF16?
    solution=7e9 * 2 / 1e9,
    wrong=(28, 7, 3.5, 14e9, 13.04),
    checker=numeric(14, traps={28: "ex.00.used_fp32", 7: "ex.00.used_int8", 3.5: "ex.00.used_4bit"}),
    messages={
        "ex.00.used_fp32": {
            "en": "that is the FP32 size (4 bytes per parameter). BF16 stores each parameter in 16 bits.",
            "tr": "bu, FP32 boyutu (parametre başına 4 bayt). BF16 her parametreyi 16 bitte saklar.",
        },
        "ex.00.used_int8": {
            "en": "that is the INT8 size (1 byte per parameter). How many bytes are 16 bits?",
            "tr": "bu, INT8 boyutu (parametre başına 1 bayt). 16 bit kaç bayt eder?",
        },
        "ex.00.used_4bit": {
            "en": "that is the 4-bit size. BF16 uses 16 bits per parameter, four times as many.",
            "tr": "bu, 4 bitlik boyut. BF16 parametre başına 16 bit, yani dört katı kadar bit kullanır.",
        },
    },
)

register(
    "00.blocks_13b",  # GB for a 13B model in 4 bits plus one FP32 scale per block of 64 weights?
    solution=13e9 * (4 + 32 / 64) / 8 / 1e9,
    wrong=(6.5, 58.5, 13, 26),
    checker=numeric(
        7.3125,
        traps={6.5: "ex.00.forgot_scales", 58.5: "ex.00.bits_as_bytes", 13: "ex.00.scale_as_byte"},
    ),
    messages={
        "ex.00.forgot_scales": {
            "en": "that is the size of the 4-bit codes alone. Add the scales: 32 bits shared by 64 weights.",
            "tr": "bu, yalnızca 4 bitlik kodların boyutu. Ölçekleri de ekleyin: 64 ağırlığın paylaştığı 32 bit.",
        },
        "ex.00.bits_as_bytes": {
            "en": "you counted *bytes* per parameter where the recipe gives *bits*. Divide bits by 8.",
            "tr": "tarif *bit* verirken siz parametre başına *bayt* saydınız. Biti 8'e bölün.",
        },
        "ex.00.scale_as_byte": {
            "en": "the scale adds half a *bit* per weight, not half a *byte*.",
            "tr": "ölçek ağırlık başına yarım *bayt* değil, yarım *bit* ekler.",
        },
    },
)

register(
    "00.max_bf16_24gb",  # Largest model (billions of parameters) whose BF16 weights fit in 24 GB?
    solution=24 / 2,
    wrong=(24, 6, 13, 48),
    checker=_neutral_fallback(
        numeric(
            12,
            units=None,
            traps={
                24: "ex.00.max_one_byte",
                6: "ex.00.max_four_bytes",
                13: "ex.00.max_13b",
                48: "ex.00.max_half",
            },
        ),
        "ex.00.max_recipe",
    ),
    messages={
        "ex.00.max_one_byte": {
            "en": "that would need 1 byte per parameter. BF16 takes 2 bytes per parameter.",
            "tr": "bu, parametre başına 1 bayt gerektirirdi. BF16 parametre başına 2 bayt kullanır.",
        },
        "ex.00.max_four_bytes": {
            "en": "that is the answer for FP32 (4 bytes per parameter). BF16 takes 2 bytes.",
            "tr": "bu, FP32 için (parametre başına 4 bayt) doğru olan cevap. BF16 ise 2 bayt kullanır.",
        },
        "ex.00.max_13b": {
            "en": "a 13B model does not fit in BF16. Rather than trying model sizes, divide the memory by "
            "the bytes per parameter.",
            "tr": "13B'lik bir model BF16'da 24 GB'a sığmaz. Model boyutlarını tek tek denemek yerine belleği "
            "parametre başına bayta bölün.",
        },
        "ex.00.max_recipe": {
            "en": "not yet. How many bytes does one BF16 parameter take, and how many such parameters "
            "fit into 24 GB?",
            "tr": "henüz değil. Bir BF16 parametresi kaç bayt tutar ve 24 GB'a bu parametrelerden kaç "
            "tane sığar?",
        },
        "ex.00.max_half": {
            "en": "you multiplied. Memory divided by bytes per parameter gives the parameter count.",
            "tr": "çarptınız. Bellek bölü parametre başına bayt, parametre sayısını verir.",
        },
    },
)

register(
    "00.decode_13b",  # Upper bound on tokens/s: 13B at 4.5 bits per weight, 1 TB/s of bandwidth?
    solution=1000 / (13e9 * 4.5 / 8 / GB),
    wrong=(1000 / 6.5, 1000 / 26, 1000 / (13 * 4.5), 1024 / 7.3125, 7.3125 / 1000, 1000 / 7.3125 * 1e9),
    checker=_neutral_fallback(
        numeric(
            1000 / 7.3125,
            units=None,
            traps={
                1000 / 6.5: "ex.00.decode_no_scales",
                1000 / 26: "ex.00.decode_bf16",
                1000 / (13 * 4.5): "ex.00.decode_bits",
                1024 / 7.3125: "ex.00.decode_tb",
                7.3125 / 1000: "ex.00.decode_inverted",
                1000 / 7.3125 * 1e9: "ex.00.decode_units",
            },
        ),
        "ex.00.decode_recipe",
    ),
    messages={
        "ex.00.decode_no_scales": {
            "en": "that is the bound for exactly 4 bits per weight. The model takes 4.5 bits: its scales "
            "are read too.",
            "tr": "bu, ağırlık başına tam 4 bitin sınırı. Model 4,5 bit tutuyor: ölçekleri de okunur.",
        },
        "ex.00.decode_bf16": {
            "en": "that is the bound for BF16 (2 bytes per weight). The model is stored at 4.5 bits.",
            "tr": "bu, BF16'nın (ağırlık başına 2 bayt) sınırı. Model 4,5 bitle saklanıyor.",
        },
        "ex.00.decode_bits": {
            "en": "you divided by the model's size in *bits* (gigabits). The bandwidth is in bytes per "
            "second: divide the bits by 8 first.",
            "tr": "modelin *bit* cinsinden (gigabit) boyutuna böldünüz. Bant genişliği saniyede bayt "
            "cinsinden: önce biti 8'e bölün.",
        },
        "ex.00.decode_tb": {
            "en": "this course writes 1 TB = 1,000 GB (10¹² bytes), not 1,024 GB.",
            "tr": "bu kursta 1 TB = 10¹² bayt = 1.000 GB; 1.024 GB değil.",
        },
        "ex.00.decode_inverted": {
            "en": "that is seconds per token. The question asks for tokens per second.",
            "tr": "bu, token başına saniye. Soru saniyede kaç token üretildiğini soruyor.",
        },
        "ex.00.decode_units": {
            "en": "mind the units: put the bandwidth and the weight memory in the same unit (GB/s and GB).",
            "tr": "birimlere dikkat: bant genişliğini ve ağırlık belleğini aynı birimle yazın (GB/s ve GB).",
        },
        "ex.00.decode_recipe": {
            "en": "every token reads every weight once. How many GB do the weights take, and how many "
            "times per second can the GPU read them?",
            "tr": "her token için her ağırlık bir kez okunur. Ağırlıklar kaç GB tutar ve GPU onları saniyede kaç "
            "kez okuyabilir?",
        },
    },
)


# --- the exercise where the learner writes weight_memory_gb ----------------------


def _inputs(rng: np.random.Generator) -> dict[str, Any]:
    """Fresh arguments: 1M to 200B parameters, 2 to 16 bits, with or without block scales."""
    args: dict[str, Any] = {
        "n_params": int(rng.integers(10**6, 2 * 10**11)),
        "bits": int(rng.choice([2, 3, 4, 6, 8, 16])),
    }
    pick = int(rng.integers(0, 4))
    if pick == 1:  # block scales with the default scale width
        args["block_size"] = int(rng.choice([32, 64, 128, 256]))
    elif pick >= 2:
        args["block_size"] = int(rng.choice([16, 32, 64, 128, 256]))
        args["scale_bits"] = int(rng.choice([8, 16, 32]))
    return args


def _mistake_bytes(n_params, bits, block_size=None, scale_bits=16):
    """Forgot to divide bits by 8."""
    return weight_memory_gb(n_params, bits, block_size, scale_bits) * 8


def _mistake_gib(n_params, bits, block_size=None, scale_bits=16):
    """Divided by 2**30 (GiB) instead of 10**9 (GB)."""
    return weight_memory_gb(n_params, bits, block_size, scale_bits) * GB / 2**30


def _mistake_no_scales(n_params, bits, block_size=None, scale_bits=16):
    """Ignored the block scales."""
    return weight_memory_gb(n_params, bits)


def _mistake_scale_bytes(n_params, bits, block_size=None, scale_bits=16):
    """Counted scale_bits as bytes per scale."""
    extra = 0 if block_size is None else math.ceil(n_params / block_size) * scale_bits
    return weight_memory_gb(n_params, bits) + extra / GB


def _mistake_scale_per_weight(n_params, bits, block_size=None, scale_bits=16):
    """Gave every weight its own scale instead of one per block."""
    return weight_memory_gb(n_params, bits + (0 if block_size is None else scale_bits))


def _mistake_scale_width(n_params, bits, block_size=None, scale_bits=16):
    """Ignored scale_bits and used a fixed FP32 scale."""
    return weight_memory_gb(n_params, bits, block_size, 32)


def _not_written(n_params, bits, block_size=None, scale_bits=16):
    """The notebook's starting point: the body is still missing."""
    return None


_weight_memory_checker = implementation(
    weight_memory_gb,
    _inputs,
    edge_cases=(
        {"n_params": 7_000_000_000, "bits": 16},
        {"n_params": 13_000_000_000, "bits": 4, "block_size": 64, "scale_bits": 16},
        {"n_params": 1_300_000_000, "bits": 8, "block_size": 32, "scale_bits": 32},
        {"n_params": 1_000_000_000, "bits": 3, "block_size": 128},
    ),
    mistakes={
        "ex.00.impl_bytes": _mistake_bytes,
        "ex.00.impl_gib": _mistake_gib,
        "ex.00.impl_no_scales": _mistake_no_scales,
        "ex.00.impl_scale_bytes": _mistake_scale_bytes,
        "ex.00.impl_scale_per_weight": _mistake_scale_per_weight,
        "ex.00.impl_scale_width": _mistake_scale_width,
    },
)


def _check_weight_memory(answer: Any) -> Hint | None:
    """The implementation checker, with its own hint for a function that still returns None."""
    if callable(answer):
        try:
            unwritten = answer(7_000_000_000, 16) is None
        except Exception:  # the implementation checker reports the error itself
            unwritten = False
        if unwritten:
            return "ex.00.impl_returns_none"
    return _weight_memory_checker(answer)


register(
    "00.weight_memory_gb",  # the learner writes weight_memory_gb(n_params, bits, block_size, scale_bits)
    solution=weight_memory_gb,
    wrong=(
        _mistake_bytes,
        _mistake_gib,
        _mistake_no_scales,
        _mistake_scale_bytes,
        _mistake_scale_per_weight,
        _mistake_scale_width,
        _not_written,
    ),
    checker=_check_weight_memory,
    messages={
        "ex.00.impl_returns_none": {
            "en": "your function still returns None: write its body (a few lines) and run the cell again.",
            "tr": "fonksiyonunuz hâlâ None döndürüyor: gövdesini (birkaç satır) yazın ve hücreyi yeniden "
            "çalıştırın.",
        },
        "ex.00.impl_bytes": {
            "en": "your result is 8 times too large: you counted bits where you need bytes. One byte is "
            "8 bits.",
            "tr": "sonucunuz 8 kat büyük: bayt gereken yerde bit saydınız. Bir bayt 8 bittir.",
        },
        "ex.00.impl_gib": {
            "en": "that looks like GiB (2³⁰ bytes). This course uses GB = 10⁹ bytes.",
            "tr": "bu GiB (2³⁰ bayt) gibi görünüyor. Bu kursta GB = 10⁹ bayt kullanılıyor.",
        },
        "ex.00.impl_no_scales": {
            "en": "you forgot the scales: when block_size is given, every block of block_size weights "
            "stores one scale of scale_bits bits.",
            "tr": "ölçekleri unuttunuz: block_size verildiğinde her block_size ağırlıklık blok, "
            "scale_bits bitlik bir ölçek saklar.",
        },
        "ex.00.impl_scale_bytes": {
            "en": "scale_bits is a number of *bits*, like bits: convert the scales to bytes too.",
            "tr": "scale_bits de bits gibi bir *bit* sayısıdır: ölçekleri de bayta çevirin.",
        },
        "ex.00.impl_scale_per_weight": {
            "en": "you gave every weight its own scale. There is one scale per *block*: count the blocks.",
            "tr": "her ağırlığa kendi ölçeğini verdiniz. Ölçek *blok* başına birdir: blokları sayın.",
        },
        "ex.00.impl_scale_width": {
            "en": "use the argument scale_bits for the width of a scale (16 unless the caller says "
            "otherwise), not a fixed number.",
            "tr": "bir ölçeğin genişliği için sabit bir sayı değil, scale_bits argümanını kullanın "
            "(çağıran başka bir değer vermezse 16).",
        },
    },
)
