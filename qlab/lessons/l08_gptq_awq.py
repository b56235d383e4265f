"""Lesson 08 (GPTQ, AWQ and mixed bit widths): helpers, exercises and the strings the notebook shows.

Imported by the setup cell of ``notebooks/{en,tr}/08_gptq_awq.ipynb``. Importing it
registers, once:

* the exercises ``08.gptq_column_update`` (the learner writes GPTQ's one-column
  update), ``08.bits_per_weight`` and ``08.act_order_tensor``
  (:func:`qlab.exercises.register`);
* the English and Turkish texts of the lesson's tables, plots and widgets
  (:func:`qlab.i18n.add_messages`).

Helpers: :func:`swapped_weights` (put dequantized weights into a model for one
measurement, then restore the originals) and :func:`gptq_checkpoint_tensors`
(qlab's GPTQ codes and params in the layout GPTQ checkpoints store: ``qweight``,
``qzeros``, ``scales``, ``g_idx``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from qlab.exercises import REGISTRY, choice, implementation, numeric, register, same_result
from qlab.gptq import GPTQParams
from qlab.i18n import add_messages

add_messages(
    {
        "l08.weight_vs_output": {
            "en": "{name:>5}: weight SQNR {sqnr} dB, output error {err} (relative {rel})",
            "tr": "{name:>5}: ağırlık SQNR'si {sqnr} dB, çıktı hatası {err} (göreli {rel})",
        },
        "l08.hand.step": {
            "en": "column {j}: w = {w} -> code {q}, value {v}; error {e}; remaining row {row}",
            "tr": "sütun {j}: w = {w} -> kod {q}, değer {v}; hata {e}; kalan satır {row}",
        },
        "l08.hand.result": {
            "en": "{name:>5}: values {values}, proxy loss {loss}",
            "tr": "{name:>5}: değerler {values}, vekil kayıp {loss}",
        },
        "l08.layer.row": {
            "en": "{name:>12}: proxy loss {loss}, output error {err}, {ratio} of RTN's",
            "tr": "{name:>12}: vekil kayıp {loss}, çıktı hatası {err}; RTN'ninkinin {ratio} katı",
        },
        "l08.plot.col.title": {
            "en": "Output error per input column, {layer}, INT4 g128",
            "tr": "Girdi sütunu başına çıktı hatası, {layer}, INT4 g128",
        },
        "l08.plot.col.x": {
            "en": "input column (sorted by H[j, j])",
            "tr": "girdi sütunu (H[j, j]'ye göre sıralı)",
        },
        "l08.plot.col.y": {"en": "share of the proxy loss", "tr": "vekil kaybın payı"},
        "l08.model.header": {
            "en": "{model}: all {n} Linear layers, calibrated on {calib} sentences, evaluated on {held} others",
            "tr": "{model}: {n} Linear katmanın tümü; {calib} cümleyle kalibre edildi, {held} başka cümlede "
            "değerlendirildi",
        },
        "l08.cos.row": {
            "en": "{name:>14} {bits:>6} bits/weight   mean cosine to fp32 {cos}",
            "tr": "{name:>14} {bits:>6} bit/ağırlık   fp32'ye ortalama kosinüs {cos}",
        },
        "l08.ppl.protocol": {
            "en": "SmolLM2: decoder layers 0-{last} ({n} Linear layers) quantized; perplexity on {w} windows of "
            "{tokens} tokens of Hamlet",
            "tr": "SmolLM2: 0-{last} numaralı kod çözücü katmanları ({n} Linear katman) nicemlendi; Hamlet'ten "
            "{tokens} tokenlik {w} pencerede şaşkınlık",
        },
        "l08.ppl.row": {
            "en": "{name:>14} {bits:>6} bits/weight   perplexity {ppl}  change {pct} (95 % interval {low} … {high})",
            "tr": "{name:>14} {bits:>6} bit/ağırlık   şaşkınlık {ppl}  değişim {pct} (%95 aralık {low} … {high})",
        },
        "l08.ppl.base": {"en": "{name:>14}   perplexity {ppl}", "tr": "{name:>14}   şaşkınlık {ppl}"},
        "l08.salient.row": {
            "en": "keep {k} input channels ({share}) in float, {how:>22}: output error {err}",
            "tr": "{k} girdi kanalını ({share}) kayan noktalı tut, {how:>24}: çıktı hatası {err}",
        },
        "l08.how.none": {"en": "none (plain INT3 RTN)", "tr": "hiçbiri (düz INT3 RTN)"},
        "l08.how.act": {"en": "largest mean |x|", "tr": "en büyük ortalama |x|"},
        "l08.how.random": {"en": "at random", "tr": "rastgele"},
        "l08.how.weight": {"en": "largest weight norm", "tr": "en büyük ağırlık normu"},
        "l08.how.awq": {"en": "AWQ scaling (none kept)", "tr": "AWQ ölçekleme (hiçbiri tutulmadı)"},
        "l08.plot.alpha.title": {
            "en": "AWQ grid search over α, {layer}, INT3 g128",
            "tr": "α üzerinde AWQ ızgara araması, {layer}, INT3 g128",
        },
        "l08.plot.alpha.y": {"en": "output error / RTN's", "tr": "çıktı hatası / RTN'ninki"},
        "l08.alpha.best": {
            "en": "best α = {a}: output error {r} of round-to-nearest's (α = 0)",
            "tr": "en iyi α = {a}: çıktı hatası en yakına yuvarlamanınkinin (α = 0) {r} katı",
        },
        "l08.widget.alpha": {"en": "α", "tr": "α"},
        "l08.widget.readout": {
            "en": "α = {a}: output error {r} of RTN's; largest s = {smax}, smallest {smin}",
            "tr": "α = {a}: çıktı hatası RTN'ninkinin {r} katı; en büyük s = {smax}, en küçük {smin}",
        },
        "l08.mixed.alloc": {
            "en": "budget {budget} bits/weight -> widths per layer: {counts}; average {avg}",
            "tr": "bütçe {budget} bit/ağırlık -> katman başına genişlikler: {counts}; ortalama {avg}",
        },
        "l08.mixed.count": {"en": "{n} x {b} bits", "tr": "{n} x {b} bit"},
        "l08.mixed.top": {
            "en": "most bits: {names}",
            "tr": "en çok bit alanlar: {names}",
        },
        "l08.calib.row": {
            "en": "{layer}: output error on held-out Hamlet, calibrated on {calib:>10}: {err} ({ratio} of RTN's)",
            "tr": "{layer}: ayrılmış Hamlet'te çıktı hatası, {calib:>10} ile kalibre: {err} (RTN'ninkinin {ratio} katı)",
        },
        "l08.calib.few": {
            "en": "GPTQ INT3 calibrated on only {tokens} tokens (the layers have {width} inputs): perplexity {ppl}; "
            "RTN {rtn}; GPTQ on 2,048 tokens {gptq}",
            "tr": "yalnızca {tokens} tokenle kalibre edilmiş GPTQ INT3 (katmanların {width} girdisi var): şaşkınlık "
            "{ppl}; RTN {rtn}; 2.048 tokenle GPTQ {gptq}",
        },
        "l08.calib.britannica": {"en": "Britannica", "tr": "Britannica"},
        "l08.calib.hamlet": {"en": "Hamlet", "tr": "Hamlet"},
        "l08.calib.total": {
            "en": "all {n} layers: GPTQ's error with Britannica calibration is {ratio} of that with Hamlet",
            "tr": "{n} katmanın tümü: Britannica kalibrasyonlu GPTQ hatası, Hamlet kalibrasyonlu olanın {ratio} katı",
        },
        "l08.tools.no_cuda": {
            "en": "skipped: {tool} quantizes on a CUDA GPU, and this machine has none",
            "tr": "atlandı: {tool} bir CUDA GPU'da nicemler ve bu makinede yok",
        },
        "l08.tools.no_package": {
            "en": "skipped: {tool} is not installed here (pip install {pkg})",
            "tr": "atlandı: {tool} burada kurulu değil (pip install {pkg})",
        },
        "l08.gap": {
            "en": "GPTQ's 1 − cosine is {r4} of RTN's at INT4 and {r3} at INT3",
            "tr": "GPTQ'nun 1 − kosinüs değeri INT4'te RTN'ninkinin {r4} katı, INT3'te {r3} katı",
        },
        "l08.mixed.objective": {
            "en": "sum of the layers' relative output errors: mixed widths {mixed}, uniform INT4 g32 {uniform}",
            "tr": "katmanların göreli çıktı hatalarının toplamı: karma genişlik {mixed}, tekdüze INT4 g32 {uniform}",
        },
        "l08.ckpt.row": {
            "en": "{name:>10}: shape {shape}, {dtype}",
            "tr": "{name:>10}: şekil {shape}, {dtype}",
        },
        "l08.ckpt.check": {
            "en": "unpacked from qweight/qzeros/scales/g_idx: the same weight as qlab.gptq_dequantize: {same}",
            "tr": "qweight/qzeros/scales/g_idx'ten açıldı: qlab.gptq_dequantize ile aynı ağırlık: {same}",
        },
        "l08.true": {"en": "True", "tr": "evet"},
        "l08.false": {"en": "False", "tr": "hayır"},
        "l08.name.fp32": {"en": "fp32", "tr": "fp32"},
        "l08.name.mixed": {"en": "mixed widths", "tr": "karma genişlik"},
        "l08.name.uniform": {"en": "uniform INT4", "tr": "tekdüze INT4"},
    }
)


@contextlib.contextmanager
def swapped_weights(model: torch.nn.Module, weights: Mapping[str, Any]) -> Iterator[None]:
    """Inside the ``with`` block the named Linear layers compute with ``weights[name]``; then the originals return."""
    old = {name: model.get_submodule(name).weight.data for name in weights}
    try:
        for name, w in weights.items():
            dtype = old[name].dtype  # float32, or float64 inside qlab.models.in_float64
            model.get_submodule(name).weight.data = torch.as_tensor(np.asarray(w), dtype=dtype)
        yield
    finally:
        for name, w in old.items():
            model.get_submodule(name).weight.data = w


def gptq_checkpoint_tensors(codes: np.ndarray, params: GPTQParams) -> dict[str, np.ndarray]:
    """qlab's GPTQ result in the layout of GPTQ checkpoints (AutoGPTQ / GPTQModel, 4 bits).

    ``qweight`` (in/8, out) int32: eight unsigned 4-bit codes ``code + 8`` per int32,
    packed along the input dimension (lowest bits first); ``qzeros`` (groups, out/8)
    int32: the zero points, unsigned, packed along the output dimension;
    ``scales`` (groups, out) float16; ``g_idx`` (in,) int32. (The original AutoGPTQ
    "v1" format stores ``zero − 1``; GPTQModel's "v2" stores the zero itself.)
    """
    if params.bits != 4 or params.zero_point is None:
        raise ValueError("gptq_checkpoint_tensors: this sketch packs asymmetric 4-bit results only")
    q = (codes.astype(np.int64) + 8).T  # (in, out), unsigned 0..15
    z = (params.zero_point.astype(np.int64) + 8).T  # (groups, out)
    shifts = 4 * np.arange(8)
    qweight = (q.reshape(-1, 8, q.shape[1]) << shifts[None, :, None]).sum(axis=1)
    qzeros = (z.reshape(z.shape[0], -1, 8) << shifts[None, None, :]).sum(axis=2)
    return {
        "qweight": qweight.astype(np.uint32).view(np.int32),
        "qzeros": qzeros.astype(np.uint32).view(np.int32),
        "scales": params.scale.T.astype(np.float16),
        "g_idx": params.g_idx.astype(np.int32),
    }


def unpack_checkpoint(tensors: Mapping[str, np.ndarray]) -> np.ndarray:
    """The float32 weight (out, in) from ``qweight``/``qzeros``/``scales``/``g_idx`` (v2 zeros)."""
    shifts = 4 * np.arange(8)
    qw = tensors["qweight"].view(np.uint32).astype(np.int64)
    q = ((qw[:, None, :] >> shifts[None, :, None]) & 15).reshape(-1, qw.shape[1])  # (in, out)
    qz = tensors["qzeros"].view(np.uint32).astype(np.int64)
    z = ((qz[:, :, None] >> shifts[None, None, :]) & 15).reshape(qz.shape[0], -1)  # (groups, out)
    g = tensors["g_idx"].astype(np.int64)
    scale = tensors["scales"].astype(np.float32)[g]  # (in, out)
    return (scale * (q - z[g]).astype(np.float32)).T


# --- Exercise: GPTQ's one-column update ---------------------------------------------


def gptq_column_update_reference(W: np.ndarray, U: np.ndarray, j: int, q: np.ndarray) -> np.ndarray:
    """Column ``j`` becomes ``q``; its error, divided by ``U[j, j]``, moves onto the later columns."""
    W = np.array(W, dtype=np.float64)
    err = (W[:, j] - q) / U[j, j]
    W[:, j + 1 :] -= np.outer(err, U[j, j + 1 :])
    W[:, j] = q
    return W


def _no_division(W, U, j, q):
    W = np.array(W, dtype=np.float64)
    W[:, j + 1 :] -= np.outer(W[:, j] - q, U[j, j + 1 :])
    W[:, j] = q
    return W


def _plus_sign(W, U, j, q):
    W = np.array(W, dtype=np.float64)
    W[:, j + 1 :] += np.outer((W[:, j] - q) / U[j, j], U[j, j + 1 :])
    W[:, j] = q
    return W


def _next_column_only(W, U, j, q):
    W = np.array(W, dtype=np.float64)
    if j + 1 < W.shape[1]:
        W[:, j + 1] -= (W[:, j] - q) / U[j, j] * U[j, j + 1]
    W[:, j] = q
    return W


def _column_not_set(W, U, j, q):
    W = np.array(W, dtype=np.float64)
    W[:, j + 1 :] -= np.outer((W[:, j] - q) / U[j, j], U[j, j + 1 :])
    return W


def _used_column_of_u(W, U, j, q):
    W = np.array(W, dtype=np.float64)
    W[:, j + 1 :] -= np.outer((W[:, j] - q) / U[j, j], U[j + 1 :, j])
    W[:, j] = q
    return W


_MISTAKES = {
    "ex.08.no_division": _no_division,
    "ex.08.plus_sign": _plus_sign,
    "ex.08.next_only": _next_column_only,
    "ex.08.not_set": _column_not_set,
    "ex.08.column_of_u": _used_column_of_u,
}


def _inputs(rng: np.random.Generator) -> dict[str, Any]:
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(4, 9))
    X = rng.standard_normal((64, cols)) @ rng.standard_normal((cols, cols))
    H = 2 * X.T @ X / 64 + 0.01 * np.eye(cols)
    U = np.linalg.cholesky(np.linalg.inv(H)).T  # upper: H⁻¹ = Uᵀ U
    W = rng.normal(0, 1, (rows, cols))
    j = int(rng.integers(0, cols - 2))
    q = np.round(W[:, j] * 2) / 2  # a coarse grid
    return {"W": W, "U": U, "j": j, "q": q}


def _edge() -> dict[str, Any]:
    rng = np.random.default_rng(8)
    inputs = _inputs(rng)
    inputs["j"] = 0
    return inputs


_column_base = implementation(
    gptq_column_update_reference,
    _inputs,
    trials=10,
    seed=8,
    edge_cases=(_edge(),),
    mistakes=_MISTAKES,
    empty_hint="ex.08.empty",
)


if "08.gptq_column_update" not in REGISTRY:
    register(
        "08.gptq_column_update",
        solution=gptq_column_update_reference,
        wrong=tuple(_MISTAKES.values()),
        checker=_column_base,
        messages={
            "ex.08.empty": {
                "en": "your function returns nothing yet. Write its body and end it with `return W`.",
                "tr": "fonksiyonunuz henüz bir şey döndürmüyor. Gövdesini yazın ve `return W` ile bitirin.",
            },
            "ex.08.no_division": {
                "en": "the error that moves on is (w_j − q_j) divided by U[j, j], the diagonal entry of the "
                "Cholesky factor; you left that division out.",
                "tr": "ilerleyen hata, (w_j − q_j)'nin Cholesky çarpanının köşegen elemanı U[j, j]'ye bölümüdür; "
                "bu bölmeyi atladınız.",
            },
            "ex.08.plus_sign": {
                "en": "your update makes the error worse: the later columns must move *against* the error, "
                "so that the output is corrected.",
                "tr": "güncellemeniz hatayı büyütüyor: çıktının düzelmesi için sonraki sütunlar hatanın *tersi* "
                "yönünde kaymalı.",
            },
            "ex.08.next_only": {
                "en": "only the next column changed. Every column not yet quantized (j+1 to the end) absorbs "
                "part of the error.",
                "tr": "yalnızca bir sonraki sütun değişti. Henüz nicemlenmemiş her sütun (j+1'den sona kadar) "
                "hatanın bir kısmını üstlenir.",
            },
            "ex.08.not_set": {
                "en": "the later columns are right, but column j itself still holds the float weight: it must "
                "become the quantized value q.",
                "tr": "sonraki sütunlar doğru, ama j. sütun hâlâ float ağırlığı tutuyor: nicemlenmiş q değeri "
                "olmalı.",
            },
            "ex.08.column_of_u": {
                "en": "you took a column of U. U is upper triangular: the weights for the later columns are "
                "in row j, to the right of the diagonal.",
                "tr": "U'nun bir sütununu aldınız. U üst üçgenseldir: sonraki sütunların katsayıları j. "
                "satırda, köşegenin sağındadır.",
            },
        },
    )


# --- Arithmetic and choice exercises --------------------------------------------------

_BPW = 4 + (16 + 4) / 128  # INT4 codes + an fp16 scale and a 4-bit zero point per 128 weights

if "08.bits_per_weight" not in REGISTRY:
    register(
        "08.bits_per_weight",  # INT4 g128, fp16 scales, 4-bit zeros: bits per weight
        solution=_BPW,
        wrong=(4.0, 4 + 16 / 128, 4 + 40 / 128, 4 + 20 / 64),
        checker=numeric(
            _BPW,
            rel_tol=1e-3,
            units=None,
            traps={
                4.0: "ex.08.bpw_codes_only",
                4 + 16 / 128: "ex.08.bpw_no_zero",
                4 + 40 / 128: "ex.08.bpw_fp32",
                4 + 20 / 64: "ex.08.bpw_group",
            },
        ),
        messages={
            "ex.08.bpw_codes_only": {
                "en": "that counts the codes only; every group also stores a scale and a zero point.",
                "tr": "bu yalnızca kodları sayıyor; her grup ayrıca bir ölçek ve bir sıfır noktası saklar.",
            },
            "ex.08.bpw_no_zero": {
                "en": "you counted the scale; the 4-bit zero point of each group is missing.",
                "tr": "ölçeği saydınız; her grubun 4 bitlik sıfır noktası eksik.",
            },
            "ex.08.bpw_fp32": {
                "en": "GPTQ checkpoints store the scales in fp16 and the zero points in 4 bits, not 32 + 8.",
                "tr": "GPTQ denetim noktaları ölçekleri fp16'da, sıfır noktalarını 4 bitte saklar; 32 + 8 değil.",
            },
            "ex.08.bpw_group": {
                "en": "check the group size: one scale and zero point per 128 weights.",
                "tr": "grup boyutuna bakın: her 128 ağırlık için bir ölçek ve bir sıfır noktası.",
            },
        },
    )

_TENSORS = ("qweight", "qzeros", "scales", "g_idx")

if "08.act_order_tensor" not in REGISTRY:
    register(
        "08.act_order_tensor",  # which checkpoint tensor makes act-order with groups dequantize correctly?
        solution="g_idx",
        wrong=("qweight", "qzeros", "scales"),
        checker=choice(
            "g_idx",
            _TENSORS,
            traps={"qweight": "ex.08.ao_codes", "qzeros": "ex.08.ao_params", "scales": "ex.08.ao_params"},
        ),
        messages={
            "ex.08.ao_codes": {
                "en": "the codes stay in the original column order. What tells the kernel which group's scale "
                "each column uses, when the groups followed the quantization order?",
                "tr": "kodlar özgün sütun sırasında kalır. Gruplar nicemleme sırasını izlediyse, çekirdeğe her "
                "sütunun hangi grubun ölçeğini kullandığını ne söyler?",
            },
            "ex.08.ao_params": {
                "en": "scales and zero points are stored per group either way. Which tensor maps a column to "
                "its group?",
                "tr": "ölçekler ve sıfır noktaları her durumda grup başına saklanır. Bir sütunu grubuna hangi "
                "tensör eşler?",
            },
        },
    )


def same(a: Any, b: Any) -> bool:
    """Shorthand used by the notebook: :func:`qlab.exercises.same_result`."""
    return same_result(a, b)
