"""Lesson 09 (GGUF, llama.cpp and k-quants): helpers, exercises and the strings its cells show.

Importing this module registers, once:

* the lesson's exercises ``09.decode_q4_1`` (the learner decodes one Q4_1 block
  from its 20 bytes), ``09.q4_k_bytes`` and ``09.seed_baseline``
  (:func:`qlab.exercises.register`);
* the English and Turkish texts of its plots, tables and widgets
  (:func:`qlab.i18n.add_messages`).

Helpers the notebook calls:

* :func:`llama_from_gguf` builds SmolLM2 as a ``LlamaForCausalLM`` straight from
  an open ``gguf.GGUFReader`` (dequantize every tensor with :mod:`qlab.ggml`,
  undo llama.cpp's row permutation of ``attn_q``/``attn_k``), bit for bit what
  ``from_pretrained(..., gguf_file=...)`` gives, in a fraction of its time;
* :func:`requantized_state` / :func:`weights_replaced`: the weights a GGUF file
  of another type would hold, swapped into the loaded model (quantizing a row
  does not depend on the row order, so the permutation does not matter);
* :func:`quantize_q4_k_search`: a numpy port of llama.cpp's reference Q4_K
  quantizer (``quantize_row_q4_K_ref`` with ``make_qkx2_quants``), to measure
  what its search buys over the simple :func:`qlab.ggml.quantize_q4_k`;
* :func:`llama_cpp_window_nll`: per-window NLL with llama.cpp (``llama_cpp``),
  where it is installed.

The notebook ``notebooks/{en,tr}/09_gguf.ipynb`` imports it in its setup cell.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qlab import ggml
from qlab.exercises import REGISTRY, choice, implementation, numeric, register
from qlab.i18n import add_messages
from qlab.models.gguf_llama import hf_name, llama_from_gguf, tensor_values, unpermute  # noqa: F401 (used by the cells)

# --- SmolLM2 from a GGUF reader: qlab.models.gguf_llama (re-exported for the lesson's cells) ---


def _roundtrip(w: np.ndarray, qtype: str) -> np.ndarray:
    if qtype == "Q4_K":
        return ggml.dequantize(ggml.quantize_q4_k(w), "Q4_K")
    if qtype == "Q4_K*":
        return ggml.dequantize(quantize_q4_k_search(w), "Q4_K")
    if qtype == "F16":
        return w.astype(np.float16).astype(np.float32)
    return ggml.dequantize(ggml.quantize(w, qtype), qtype)


def requantized_state(model: Any, choose: Callable[[str], str | None]) -> dict[str, Any]:
    """``{name: weight}`` after a GGML round trip of every 2-D weight for which ``choose(name)`` gives a type.

    Types: :data:`qlab.ggml.QUANTIZE_TYPES`, ``"F16"``, ``"Q4_K"`` (qlab's simple
    quantizer) or ``"Q4_K*"`` (:func:`quantize_q4_k_search`). ``choose`` returns
    ``None`` to keep a weight. The tied output head follows the embedding.
    """
    import torch

    out = {}
    for name, p in model.named_parameters():
        if p.ndim != 2:
            continue
        qtype = choose(name)
        if qtype is not None:
            out[name] = torch.from_numpy(_roundtrip(p.detach().numpy(), qtype))
    return out


@contextlib.contextmanager
def weights_replaced(model: Any, new: dict[str, Any]) -> Iterator[Any]:
    """Temporarily copy ``new`` into ``model``'s parameters (restored on exit)."""
    import torch

    params = dict(model.named_parameters())
    saved = {name: params[name].detach().clone() for name in new}
    try:
        with torch.no_grad():
            for name, value in new.items():
                params[name].copy_(value)
        yield model
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                params[name].copy_(value)


# --- llama.cpp's Q4_K search (quantize_row_q4_K_ref), ported to numpy ---------------


def _make_qkx2_quants(
    x: np.ndarray,
    weights: np.ndarray,
    nmax: int = 15,
    rmin: float = -1.0,
    rdelta: float = 0.1,
    nstep: int = 20,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``make_qkx2_quants`` on many sub-blocks at once: ``x``, ``weights`` (n, 32) -> (codes, scale, -min).

    Start from min/max (the min clamped at 0), then try ``nstep + 1`` other
    inverse scales ``(nmax + rmin + rdelta·i) / (max - min)``; for each, round
    the codes and fit scale and min by weighted least squares; keep the fit with
    the smallest weighted squared error.
    """
    f32 = np.float32
    lo = np.minimum(x.min(axis=1), 0).astype(f32)
    hi = x.max(axis=1).astype(f32)
    span = hi - lo
    flat = span == 0
    safe = np.where(flat, f32(1), span)
    sum_w = weights.sum(axis=1, dtype=f32)
    sum_x = (weights * x).sum(axis=1, dtype=f32)

    iscale = f32(nmax) / safe
    scale = (f32(1) / iscale).astype(f32)
    codes = np.clip(np.rint(iscale[:, None] * (x - lo[:, None])), 0, nmax).astype(f32)
    best = (weights * (scale[:, None] * codes + lo[:, None] - x) ** 2).sum(axis=1, dtype=f32)
    best_min = lo.copy()
    for step in range(nstep + 1):
        iscale = ((f32(rmin) + f32(rdelta) * f32(step) + f32(nmax)) / safe).astype(f32)
        trial = np.clip(np.rint(iscale[:, None] * (x - lo[:, None])), 0, nmax).astype(f32)
        sum_l = (weights * trial).sum(axis=1, dtype=f32)
        sum_l2 = (weights * trial * trial).sum(axis=1, dtype=f32)
        sum_xl = (weights * trial * x).sum(axis=1, dtype=f32)
        det = sum_w * sum_l2 - sum_l * sum_l
        ok = det > 0
        det_safe = np.where(ok, det, f32(1))
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / det_safe
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det_safe
        positive = this_min > 0
        this_scale = np.where(positive, sum_xl / np.where(sum_l2 > 0, sum_l2, f32(1)), this_scale).astype(f32)
        this_min = np.where(positive, f32(0), this_min).astype(f32)
        mad = (weights * (this_scale[:, None] * trial + this_min[:, None] - x) ** 2).sum(axis=1, dtype=f32)
        better = ok & (mad < best)
        codes = np.where(better[:, None], trial, codes)
        best = np.where(better, mad, best)
        scale = np.where(better, this_scale, scale)
        best_min = np.where(better, this_min, best_min)
    scale = np.where(flat, f32(0), scale)
    codes = np.where(flat[:, None], f32(0), codes)
    return codes.astype(np.uint8), scale.astype(f32), (-best_min).astype(f32)


def quantize_q4_k_search(x: Any) -> np.ndarray:
    """Q4_K the way llama.cpp's reference quantizer does it (no importance matrix), ported to numpy.

    Per sub-block of 32: weights ``rms(x) + |x|`` and :func:`_make_qkx2_quants`;
    then the eight scales and mins are quantized to 6 bits under
    ``d = max(scale)/63``, ``dmin = max(min)/63`` (float16) and the codes are
    recomputed against the stored scales. A port written from the C source
    (``ggml-quants.c``); not checked against libggml here (llama.cpp is an
    optional extra), so call it "our port of llama.cpp's search". Returns bytes
    in the ``block_q4_K`` layout, like :func:`qlab.ggml.quantize_q4_k`.
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 0 or arr.shape[-1] % ggml.QK_K:
        raise ValueError(f"quantize_q4_k_search: a Q4_K row must hold a multiple of {ggml.QK_K} values")
    shape = arr.shape
    sub = arr.reshape(-1, 32)
    av = np.sqrt((sub * sub).sum(axis=1, dtype=np.float32) / np.float32(32))
    codes, scales, mins = _make_qkx2_quants(sub, av[:, None] + np.abs(sub))
    n = sub.shape[0] // 8
    codes, scales, mins, sub = (
        codes.reshape(n, 8, 32),
        scales.reshape(n, 8),
        mins.reshape(n, 8),
        sub.reshape(n, 8, 32),
    )
    max_scale, max_min = scales.max(axis=1, keepdims=True), mins.max(axis=1, keepdims=True)
    inv_scale = np.where(max_scale > 0, np.float32(63) / np.where(max_scale > 0, max_scale, 1), 0).astype(
        np.float32
    )
    inv_min = np.where(max_min > 0, np.float32(63) / np.where(max_min > 0, max_min, 1), 0).astype(np.float32)
    sc = np.minimum(63, np.rint(inv_scale * scales)).astype(np.uint8)
    mn = np.minimum(63, np.rint(inv_min * mins)).astype(np.uint8)
    d = (max_scale / np.float32(63)).astype(np.float16)
    dmin = (max_min / np.float32(63)).astype(np.float16)
    eff = d.astype(np.float32) * sc.astype(np.float32)
    eff_min = dmin.astype(np.float32) * mn.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        fresh = np.clip(np.rint((sub + eff_min[:, :, None]) / eff[:, :, None]), 0, 15)
    codes = np.where(eff[:, :, None] == 0, codes, np.nan_to_num(fresh)).astype(np.uint8)
    pairs = codes.reshape(n, 4, 2, 32)
    qs = (pairs[:, :, 0, :] | (pairs[:, :, 1, :] << 4)).reshape(n, 128)
    out = np.concatenate([d.view(np.uint8), dmin.view(np.uint8), ggml._pack_scale_min_k4(sc, mn), qs], axis=1)
    return out.reshape(*shape[:-1], shape[-1] // ggml.QK_K * ggml.LAYOUTS["Q4_K"].type_size)


# --- llama.cpp, where installed --------------------------------------------------------


def llama_cpp_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def llama_cpp_window_nll(llm: Any, batch: Any) -> np.ndarray:
    """Mean next-token NLL of each row of ``batch`` (token ids), computed by llama.cpp (``Llama(..., logits_all=True)``).

    Each window is evaluated from an empty context, with the same tokens as
    :func:`qlab.models.evaluate.window_nll`, so the two are directly comparable.
    """
    rows = np.asarray(batch, dtype=np.int64)
    out = []
    for row in rows:
        llm.reset()
        llm.eval(row.tolist())
        logits = np.asarray(llm.scores[: len(row)], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        logz = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        nll = logz[:-1] - logits[np.arange(len(row) - 1), row[1:]]
        out.append(float(nll.mean()))
    return np.asarray(out)


# --- texts --------------------------------------------------------------------------

add_messages(
    {
        "l09.yes": {"en": "yes", "tr": "evet"},
        "l09.no": {"en": "no", "tr": "hayır"},
        # header and metadata
        "l09.head.bytes": {"en": "first 24 bytes: {hex}", "tr": "ilk 24 bayt: {hex}"},
        "l09.head.fields": {
            "en": "magic {magic!r}, version {v}, {nt} tensors, {nkv} key–value pairs",
            "tr": "sihirli sözcük {magic!r}, sürüm {v}, {nt} tensör, {nkv} anahtar–değer çifti",
        },
        "l09.head.parts": {
            "en": "header + metadata + tensor table: {meta} MB; tensor data: {data} MB; file: {total} MB; alignment {align} bytes",
            "tr": "başlık + üst veri + tensör tablosu: {meta} MB; tensör verisi: {data} MB; dosya: {total} MB; hizalama {align} bayt",
        },
        "l09.meta.row": {"en": "{name:36} {value}", "tr": "{name:36} {value}"},
        "l09.meta.items": {"en": "[{n} items]", "tr": "[{n} öğe]"},
        "l09.meta.first": {"en": "first tokens: {tokens}", "tr": "ilk tokenler: {tokens}"},
        "l09.meta.template": {
            "en": "chat template: {n} characters of Jinja; uses <|im_start|>: {ok}",
            "tr": "sohbet şablonu: {n} karakterlik Jinja; <|im_start|> kullanıyor: {ok}",
        },
        # tensor table
        "l09.table.header": {
            "en": "name                        type   shape          offset        bytes",
            "tr": "ad                          tür    şekil          konum         bayt",
        },
        "l09.table.row": {
            "en": "{name:27} {type:6} {shape:14} {offset:>12} {nbytes:>12}",
            "tr": "{name:27} {type:6} {shape:14} {offset:>12} {nbytes:>12}",
        },
        "l09.table.type": {
            "en": "{type:5} tensors: {n:>3}, {params:>6} M parameters, {mb:>6} MB, {bpw} bits per weight",
            "tr": "{type:5} tensör sayısı: {n:>3}; {params:>6} milyon parametre; {mb:>6} MB; ağırlık başına {bpw} bit",
        },
        "l09.chart.title": {
            "en": "SmolLM2's GGUF: tensor bytes by GGML type",
            "tr": "SmolLM2'nin GGUF dosyası: GGML türüne göre tensör baytları",
        },
        "l09.chart.xlabel": {"en": "MB in the file", "tr": "dosyadaki MB"},
        "l09.chart.label": {
            "en": "{mb} MB ({share} of the parameters)",
            "tr": "{mb} MB (parametrelerin {share} kadarı)",
        },
        # Q4_1 by hand
        "l09.hand.bytes": {"en": "the block's 20 bytes: {hex}", "tr": "bloğun 20 baytı: {hex}"},
        "l09.hand.dm": {"en": "d = {d}, m = {m}", "tr": "d = {d}, m = {m}"},
        "l09.hand.codes": {"en": "codes: {codes}", "tr": "kodlar: {codes}"},
        "l09.hand.values": {
            "en": "x = d·q + m, first 8: {values}",
            "tr": "x = d·q + m, ilk 8 değer: {values}",
        },
        "l09.hand.same": {
            "en": "by hand = qlab.ggml.dequantize: {ours}; qlab = gguf.quants.dequantize (whole tensor): {theirs}",
            "tr": "elle = qlab.ggml.dequantize: {ours}; qlab = gguf.quants.dequantize (tensörün tamamı): {theirs}",
        },
        "l09.hand.bnb": {
            "en": "first 4 bytes of qs, GGML order: {ggml}; the same codes packed the bitsandbytes way: {bnb}",
            "tr": "qs'nin ilk 4 baytı, GGML sırası: {ggml}; aynı kodlar bitsandbytes yöntemiyle paketlenince: {bnb}",
        },
        "l09.model.loaded": {
            "en": "LlamaForCausalLM built from the reader: {n} M parameters, {layers} layers",
            "tr": "okuyucudan kurulan LlamaForCausalLM: {n} milyon parametre, {layers} katman",
        },
        # layouts
        "l09.bpw.header": {
            "en": "type  weights  fields (bytes)                              bytes  bits per weight",
            "tr": "tür   ağırlık  alanlar (bayt)                              bayt   ağırlık başına bit",
        },
        "l09.bpw.row": {
            "en": "{type:5} {w:>7}  {fields:42} {nbytes:>5}  {bpw}",
            "tr": "{type:5} {w:>7}  {fields:42} {nbytes:>5}  {bpw}",
        },
        "l09.k.fields": {
            "en": "super-block: d = {d}, dmin = {dmin}; sub-block 0: sc = {sc}, m = {m}",
            "tr": "süper blok: d = {d}, dmin = {dmin}; 0. alt blok: sc = {sc}, m = {m}",
        },
        "l09.k.values": {
            "en": "x = d·sc·q − dmin·m, first 6: {values}; the original weights: {orig}",
            "tr": "x = d·sc·q − dmin·m, ilk 6 değer: {values}; özgün ağırlıklar: {orig}",
        },
        "l09.k.fit": {
            "en": "tensors whose rows are a multiple of 256: {n} ({names}), {share} of the parameters",
            "tr": "satırları 256'nın katı olan tensörler: {n} ({names}); parametrelerin {share} kadarı",
        },
        "l09.k.error": {
            "en": "q_proj (rows of 576) as Q4_K: ValueError from {error}",
            "tr": "Q4_K olarak q_proj (576'lık satırlar): {error} ValueError veriyor",
        },
        "l09.q4k.minilm": {
            "en": "MiniLM FFN down (6 × 384 × 1536)",
            "tr": "MiniLM FFN aşağı (6 × 384 × 1536)",
        },
        "l09.q4k.gauss": {"en": "Gaussian 384 × 1536", "tr": "Gauss 384 × 1536"},
        "l09.q4k.smol": {"en": "SmolLM2 blk.0.ffn_down", "tr": "SmolLM2 blk.0.ffn_down"},
        "l09.q4k.row": {
            "en": "{name:34} SQNR (dB): Q4_K simple {simple}, Q4_K search {search}, Q4_0 {q40}, Q4_1 {q41}",
            "tr": "{name:34} SQNR (dB): basit Q4_K {simple}; aramalı Q4_K {search}; Q4_0 {q40}; Q4_1 {q41}",
        },
        # widget
        "l09.w.type": {"en": "Type", "tr": "Tür"},
        "l09.w.block": {"en": "Block", "tr": "Blok"},
        "l09.w.head": {
            "en": "{type}, block {i}: {w} weights in {nbytes} bytes ({bpw} bits per weight)",
            "tr": "{type}, {i}. blok: {nbytes} baytta {w} ağırlık (ağırlık başına {bpw} bit)",
        },
        "l09.w.field": {"en": "  {field:7} {n:>3} bytes: {hex}", "tr": "  {field:7} {n:>3} bayt: {hex}"},
        "l09.w.err": {"en": "largest |error| of the block: {err}", "tr": "bloğun en büyük |hatası|: {err}"},
        # files
        "l09.files.shipped": {"en": "shipped (Q4_1)", "tr": "dağıtılan (Q4_1)"},
        "l09.files.row": {
            "en": "{name:15} {mb:>6} MB   smaller than F16 by {f16:>7}, than F32 by {f32:>7}",
            "tr": "{name:16} {mb:>6} MB   F16'dan {f16:>6}, F32'den {f32:>6} daha küçük",
        },
        "l09.files.fp32": {
            "en": "(F32 file, computed from the tensor table: {mb} MB)",
            "tr": "(F32 dosyası, tensör tablosundan hesaplandı: {mb} MB)",
        },
        "l09.seed.header": {
            "en": "type   seed    bits/weight   smaller than FP16   than FP32   codes only vs FP16",
            "tr": "tür    kaynak  bit/ağırlık   FP16'ya göre kazanç  FP32'ye göre   FP16'ya göre yalnızca kodlar",
        },
        "l09.seed.row": {
            "en": "{type:6} {claim:>5}   {bpw:>11}   {f16:>17}   {f32:>9}   {codes:>18}",
            "tr": "{type:6} {claim:>5}   {bpw:>11}   {f16:>18}  {f32:>12}   {codes:>18}",
        },
        # perplexity
        "l09.ppl.protocol": {
            "en": "perplexity protocol: {w} windows of {n} tokens ({p} predictions); 95 % intervals by bootstrap over windows",
            "tr": "şaşkınlık protokolü: {n} tokenlik {w} pencere ({p} tahmin); %95 aralıkları pencereler üzerinde bootstrap ile",
        },
        "l09.ppl.base": {
            "en": "{name:15} perplexity {ppl} [{low}; {high}]",
            "tr": "{name:16} şaşkınlık {ppl} [{low}; {high}]",
        },
        "l09.ppl.row": {
            "en": "{name:6} {bpw:>4} bits: perplexity {ppl}, vs shipped {pct} [{low}; {high}]; changed: linear {lin}, embedding {emb}",
            "tr": "{name:6} {bpw:>4} bit: şaşkınlık {ppl}, dağıtılana göre {pct} [{low}; {high}]; değişen: doğrusal {lin}, gömme {emb}",
        },
        "l09.plot.title": {
            "en": "Converting the shipped Q4_1 file: perplexity change",
            "tr": "Dağıtılan Q4_1 dosyasını dönüştürmek: şaşkınlık değişimi",
        },
        "l09.plot.xlabel": {"en": "bits per weight of the type", "tr": "türün ağırlık başına biti"},
        "l09.plot.ylabel": {"en": "perplexity vs shipped (%)", "tr": "dağıtılana göre şaşkınlık (%)"},
        "l09.back.row": {
            "en": "Q4_0 file loaded with transformers: weights equal our round trip: {ok}; perplexity {ppl}",
            "tr": "transformers ile yüklenen Q4_0 dosyası: ağırlıklar gidiş dönüşümüzle aynı: {ok}; şaşkınlık {ppl}",
        },
        # llama.cpp
        "l09.cpp.missing": {
            "en": "llama-cpp-python is not installed: the llama.cpp cells are skipped. To install the optional extra "
            "(about 19 minutes on 2 cores): make llama-cpp, i.e. "
            'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36',
            "tr": "llama-cpp-python kurulu değil: llama.cpp hücreleri atlanıyor. İsteğe bağlı eki kurmak için "
            "(2 çekirdekte yaklaşık 19 dakika): make llama-cpp, yani "
            'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36',
        },
        "l09.cpp.skip": {
            "en": "(skipped: llama-cpp-python is not installed)",
            "tr": "(atlandı: llama-cpp-python kurulu değil)",
        },
        "l09.cpp.row": {
            "en": "{name:15} perplexity with llama.cpp {cpp}, with transformers {hf} ({pct})",
            "tr": "{name:16} llama.cpp ile şaşkınlık {cpp}, transformers ile {hf} ({pct})",
        },
        "l09.cpp.q4k": {
            "en": "llama.cpp's own Q4_K on the F16 file: {n} super-blocks; byte-identical to our port {port}, "
            "to the simple quantizer {simple}; rows of 576 fell back to {fallback}",
            "tr": "F16 dosyasında llama.cpp'nin kendi Q4_K'si: {n} süper blok; aktarımımızla bayt bayt aynı olan "
            "{port}, basit nicemleyiciyle {simple}; 576'lık satırlar {fallback} türüne geri düştü",
        },
        "l09.cpp.speed": {
            "en": "{name:15} llama.cpp generated {n} tokens at {tps} tokens/s",
            "tr": "{name:16} llama.cpp saniyede {tps} token hızla {n} token üretti",
        },
    }
)


# --- Exercise 1: decode one Q4_1 block ------------------------------------------------


def decode_q4_1_reference(block: Any) -> np.ndarray:
    """qlab's answer: the 32 float32 weights of one 20-byte Q4_1 block."""
    return ggml.dequantize(np.asarray(block, dtype=np.uint8).reshape(1, 20), "Q4_1")[0]


def _dm(block: Any) -> tuple[np.float32, np.float32, np.ndarray]:
    b = np.asarray(block, dtype=np.uint8)
    d = b[0:2].copy().view(np.float16).astype(np.float32)[0]
    m = b[2:4].copy().view(np.float16).astype(np.float32)[0]
    return d, m, b[4:20]


def _q41_bnb_order(block):
    """Mistake: neighbours in one byte, the first in the high nibble (bitsandbytes' packing)."""
    d, m, qs = _dm(block)
    q = np.stack([qs >> 4, qs & 0x0F], axis=1).ravel()
    return (d * q.astype(np.float32) + m).astype(np.float32)


def _q41_interleaved(block):
    """Mistake: neighbours in one byte, the first in the low nibble."""
    d, m, qs = _dm(block)
    q = np.stack([qs & 0x0F, qs >> 4], axis=1).ravel()
    return (d * q.astype(np.float32) + m).astype(np.float32)


def _q41_no_min(block):
    """Mistake: forgot to add the minimum m."""
    d, _, qs = _dm(block)
    q = np.concatenate([qs & 0x0F, qs >> 4])
    return (d * q.astype(np.float32)).astype(np.float32)


def _q41_swapped(block):
    """Mistake: read m as the scale and d as the minimum."""
    d, m, qs = _dm(block)
    q = np.concatenate([qs & 0x0F, qs >> 4])
    return (m * q.astype(np.float32) + d).astype(np.float32)


def _q41_centred(block):
    """Mistake: subtracted 8 from the codes, as Q4_0 does."""
    d, m, qs = _dm(block)
    q = np.concatenate([qs & 0x0F, qs >> 4]).astype(np.float32) - 8
    return (d * q + m).astype(np.float32)


_Q41_MISTAKES = {
    "ex.09.q41_bnb_order": _q41_bnb_order,
    "ex.09.q41_interleaved": _q41_interleaved,
    "ex.09.q41_no_min": _q41_no_min,
    "ex.09.q41_swapped": _q41_swapped,
    "ex.09.q41_centred": _q41_centred,
}


def _q41_inputs(rng: np.random.Generator) -> dict[str, Any]:
    x = (rng.uniform(0.01, 0.1) * rng.standard_normal(32) + rng.uniform(-0.05, 0.05)).astype(np.float32)
    return {"block": ggml.quantize(x, "Q4_1")}


_Q41_EDGE = ({"block": ggml.quantize(np.linspace(-1.0, 0.5, 32, dtype=np.float32), "Q4_1")},)

if "09.decode_q4_1" not in REGISTRY:
    register(
        "09.decode_q4_1",
        solution=decode_q4_1_reference,
        wrong=tuple(_Q41_MISTAKES.values()),
        checker=implementation(
            decode_q4_1_reference,
            _q41_inputs,
            trials=12,
            seed=9,
            edge_cases=_Q41_EDGE,
            mistakes=_Q41_MISTAKES,
        ),
        messages={
            "ex.09.q41_bnb_order": {
                "en": "that is bitsandbytes' order (neighbours in one byte, the first in the high nibble). GGML puts "
                "element j and element j + 16 in byte j.",
                "tr": "bu bitsandbytes'ın sırası (komşular bir baytta, ilki üst yarım baytta). GGML, j. öğeyi ve "
                "j + 16. öğeyi j. bayta koyar.",
            },
            "ex.09.q41_interleaved": {
                "en": "you put neighbouring elements in one byte. In GGML byte j holds element j (low nibble) and "
                "element j + 16 (high nibble).",
                "tr": "komşu öğeleri bir bayta koydunuz. GGML'de j. bayt j. öğeyi (alt yarım bayt) ve j + 16. öğeyi "
                "(üst yarım bayt) tutar.",
            },
            "ex.09.q41_no_min": {
                "en": "Q4_1 is asymmetric: every value also gets the block's minimum m added.",
                "tr": "Q4_1 asimetriktir: her değere bloğun minimumu m de eklenir.",
            },
            "ex.09.q41_swapped": {
                "en": "check the struct: the first float16 is the scale d, the second the minimum m.",
                "tr": "yapıya bakın: ilk float16 ölçek d, ikincisi minimum m'dir.",
            },
            "ex.09.q41_centred": {
                "en": "only Q4_0 centres its codes at 8; Q4_1 stores a minimum instead, so the codes are used as they are.",
                "tr": "kodlarını 8'de ortalayan yalnızca Q4_0'dır; Q4_1 bunun yerine bir minimum saklar, kodlar olduğu gibi kullanılır.",
            },
        },
    )

# --- Exercise 2: bytes of a 4096 x 4096 Q4_K weight ------------------------------------
_Q4K_BYTES = 4096 * 4096 // 256 * 144

if "09.q4_k_bytes" not in REGISTRY:
    register(
        "09.q4_k_bytes",
        solution=_Q4K_BYTES,
        wrong=(4096 * 4096 // 2, 4096 * 4096 * 9 // 2, 4096 * 4096 // 256 * 210, 4096 * 4096 // 32 * 20),
        checker=numeric(
            _Q4K_BYTES,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                4096 * 4096 // 2: "ex.09.q4k_codes_only",
                4096 * 4096 * 9 // 2: "ex.09.q4k_bits",
                4096 * 4096 // 256 * 210: "ex.09.q4k_q6k",
                4096 * 4096 // 32 * 20: "ex.09.q4k_q41",
            },
        ),
        messages={
            "ex.09.q4k_codes_only": {
                "en": "that is only the 4-bit codes. Each super-block of 256 also stores d, dmin and 12 bytes of sub-scales.",
                "tr": "bu yalnızca 4 bitlik kodlar. 256'lık her süper blok d, dmin ve 12 baytlık alt ölçekler de saklar.",
            },
            "ex.09.q4k_bits": {
                "en": "that is the number of bits. Divide by 8.",
                "tr": "bu bit sayısı. 8'e bölün.",
            },
            "ex.09.q4k_q6k": {
                "en": "that is the size of a Q6_K block (210 bytes). Q4_K's block is smaller.",
                "tr": "bu bir Q6_K bloğunun boyutu (210 bayt). Q4_K'nin bloğu daha küçüktür.",
            },
            "ex.09.q4k_q41": {
                "en": "that is Q4_1 (20 bytes per 32 weights). Q4_K uses super-blocks of 256.",
                "tr": "bu Q4_1 (32 ağırlık için 20 bayt). Q4_K 256'lık süper bloklar kullanır.",
            },
        },
    )

# --- Exercise 3: the baseline of "Q8_0 is 50 % smaller" --------------------------------
if "09.seed_baseline" not in REGISTRY:
    register(
        "09.seed_baseline",
        solution="fp16",
        wrong=("fp32",),
        checker=choice("fp16", ("fp16", "fp32"), traps={"fp32": "ex.09.seed_fp32"}),
        messages={
            "ex.09.seed_fp32": {
                "en": "against FP32, 8.5 bits per weight would be about 73 % smaller. Which baseline has twice Q8_0's code bits?",
                "tr": "FP32'ye göre ağırlık başına 8,5 bit yaklaşık %73 daha küçük olurdu. Hangi taban çizgisi Q8_0'ın kod bitlerinin iki katıdır?",
            },
        },
    )
