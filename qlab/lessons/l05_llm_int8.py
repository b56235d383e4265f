"""Lesson 05 (LLM.int8()): exercises, a fast float32 simulation, and the strings the notebook shows.

Imported by the setup cell of ``notebooks/{en,tr}/05_llm_int8.ipynb``. Importing it
registers, once:

* the exercises ``05.vectorwise_matmul`` (the learner writes vector-wise int8
  ``X @ W.T``), ``05.layer_bytes`` and ``05.threshold_zero``
  (:func:`qlab.exercises.register`);
* the English and Turkish texts of the lesson's tables, plots, widgets and
  readouts (:func:`qlab.i18n.add_messages`).

:func:`simulate_llm_int8` swaps every chosen ``nn.Linear`` of a model for
:class:`SimulatedInt8Linear`, a torch-only version of LLM.int8() that
dequantizes the int8 codes of ``X`` and ``W`` and multiplies in float32. It gives
the same result as the exact int8/int32 product of :func:`qlab.llm_int8_matmul`
up to float32 rounding (the notebook asserts how close), and it is fast enough to
measure a 135M-parameter model's perplexity several times within the lesson's
time budget. It also offers ``per_tensor=True`` (one scale for all of ``X``) to
show why one activation scale fails.

Scale convention of the course: ``s = max|x| / 127`` (units per code),
``q = round(x / s)``, ``x_hat = s * q``. The paper writes ``127 / max|x|``: our ``1 / s``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

import qlab
from qlab.exercises import REGISTRY, choice, implementation, numeric, register, same_result
from qlab.i18n import add_messages
from qlab.models.precision import at_least_float32

add_messages(
    {
        # by hand
        "l05.hand.stats": {
            "en": "row absmax of X: {sx}   row absmax of W: {sw}",
            "tr": "X'in satır absmax değerleri: {sx}   W'nin satır absmax değerleri: {sw}",
        },
        "l05.hand.codes": {"en": "int8 codes of {name}:", "tr": "{name} için int8 kodları:"},
        "l05.hand.acc": {"en": "int32 sums of code products:", "tr": "kod çarpımlarının int32 toplamları:"},
        "l05.hand.result": {
            "en": "{label:34} {values}",
            "tr": "{label:34} {values}",
        },
        "l05.hand.exact": {"en": "exact X @ W.T (float32)", "tr": "tam X @ W.T (float32)"},
        "l05.hand.plain": {
            "en": "vector-wise int8, no decomposition",
            "tr": "vektör bazlı int8, ayrıştırmasız",
        },
        "l05.hand.mixed": {"en": "int8 + outlier column in float", "tr": "int8 + kayan noktalı aykırı sütun"},
        "l05.hand.qlab": {"en": "qlab.llm_int8_matmul(X, W, 6.0)", "tr": "qlab.llm_int8_matmul, eşik 6"},
        "l05.hand.errors": {
            "en": "largest error: {plain} without decomposition, {mixed} with it",
            "tr": "en büyük hata: ayrıştırmasız {plain}, ayrıştırmayla {mixed}",
        },
        # real activations
        "l05.capture.shapes": {
            "en": "{model}: captured the inputs of {n} Linear layers, {tokens} tokens × {width} features each",
            "tr": "{model}: {n} Linear katmanının girdileri yakalandı; her biri {tokens} token × {width} öznitelik",
        },
        "l05.top.row": {
            "en": "layer {layer}: largest max|x| in dims {dims} = {values}",
            "tr": "{layer}. katman: en büyük maks|x| değerleri, boyutlar {dims} = {values}",
        },
        "l05.report.header": {
            "en": "width   dim   max|x|   positions   layers   which layers",
            "tr": "genişlik boyut maks|x|  konumlar    katmanlar hangi katmanlar",
        },
        "l05.residual": {
            "en": "SmolLM2 residual stream after layer {layer}, dim {dim}: max |x| {value} at token {token}; "
            "median |x| of the other tokens there {median}",
            "tr": "SmolLM2 artık akışı, {layer}. katmandan sonra, {dim} boyutu: maks |x| {value}, "
            "{token} konumundaki tokende; oradaki diğer tokenlerin medyan |x| değeri {median}",
        },
        "l05.plot.heat.title": {
            "en": "{model}: max |x| per input feature of {which}",
            "tr": "{model}: {which} girdisinde öznitelik başına maks |x|",
        },
        "l05.plot.heat.xlabel": {"en": "Input feature (dimension)", "tr": "Girdi özniteliği (boyut)"},
        "l05.plot.heat.ylabel": {"en": "Layer", "tr": "Katman"},
        "l05.plot.heat.cbar": {"en": "max |x| (log scale)", "tr": "maks |x| (log ölçek)"},
        "l05.which.ffn": {"en": "the FFN input", "tr": "FFN"},
        "l05.which.q": {"en": "q_proj", "tr": "q_proj"},
        # SQNR per-tensor vs vector-wise
        "l05.sqnr.header": {
            "en": "SQNR of X @ W.T (dB)              per-tensor int8   vector-wise int8   LLM.int8() (6.0)",
            "tr": "X @ W.T için SQNR (dB)            tensör başına     vektör bazlı       LLM.int8() (6,0)",
        },
        "l05.sqnr.row": {
            "en": "{name:32} {a:>10} {b:>17} {c:>18}",
            "tr": "{name:32} {a:>10} {b:>17} {c:>18}",
        },
        # threshold sweep
        "l05.sweep.header": {
            "en": "threshold   float columns (MiniLM FFN | SmolLM2 q_proj)   output SQNR dB (MiniLM | SmolLM2)",
            "tr": "eşik        kayan noktada kalan sütunlar (MiniLM FFN | SmolLM2 q_proj)   çıktı SQNR dB (MiniLM | SmolLM2)",
        },
        "l05.sweep.row": {
            "en": "{t:>9}   {a:>14} | {b:<14}                  {c:>6} | {d}",
            "tr": "{t:>9}   {a:>14} | {b:<14}                           {c:>6} | {d}",
        },
        "l05.inf": {"en": "∞ (off)", "tr": "∞ (kapalı)"},
        "l05.plot.sweep.title": {
            "en": "The threshold: float columns vs output error",
            "tr": "Eşik: kayan noktada kalan sütunlar ve çıktı hatası",
        },
        "l05.plot.sweep.xlabel": {"en": "threshold", "tr": "eşik"},
        "l05.plot.sweep.share": {
            "en": "share of columns kept in float (%)",
            "tr": "kayan noktada kalan sütun payı (%)",
        },
        "l05.plot.sweep.sqnr": {"en": "output SQNR (dB)", "tr": "çıktı SQNR (dB)"},
        "l05.plot.sweep.minilm": {
            "en": "MiniLM layer {layer} FFN input",
            "tr": "MiniLM {layer}. katman FFN girdisi",
        },
        "l05.plot.sweep.smol": {"en": "SmolLM2 layer {layer} q_proj", "tr": "SmolLM2 {layer}. katman q_proj"},
        "l05.widget.threshold": {"en": "Threshold", "tr": "Eşik"},
        "l05.widget.model": {"en": "Layer", "tr": "Katman"},
        "l05.readout": {
            "en": "threshold {t}: {cols} of {width} columns in float ({share}), output SQNR {sqnr} dB, "
            "int8 share of the multiply-adds {int8}",
            "tr": "eşik {t}: {width} sütunun {cols} tanesi kayan noktada ({share}), çıktı SQNR {sqnr} dB, "
            "çarpma-toplamaların int8 payı {int8}",
        },
        # model quality
        "l05.minilm.row": {
            "en": "MiniLM, {name:36} mean cosine {cos}   nearest neighbour kept {nn}",
            "tr": "MiniLM, {name:36} ortalama kosinüs {cos}   en yakın komşu korunan {nn}",
        },
        "l05.ppl.row": {
            "en": "SmolLM2, {name:36} perplexity {ppl}  (95 % interval {low} … {high})",
            "tr": "SmolLM2, {name:36} şaşkınlık {ppl}  (%95 aralık {low} … {high})",
        },
        "l05.ppl.diff": {
            "en": "  change vs fp32: {pct} (95 % interval {low} … {high})",
            "tr": "  fp32'ye göre değişim: {pct} (%95 aralık {low} … {high})",
        },
        "l05.ppl.protocol": {
            "en": "{w} windows of {n} tokens ({p} predictions), bootstrap over the windows",
            "tr": "{n} tokenlik {w} pencere ({p} tahmin), pencereler üzerinde bootstrap",
        },
        "l05.name.fp32": {"en": "fp32", "tr": "fp32"},
        "l05.name.sim": {
            "en": "{gran}, threshold {t}",
            "tr": "{gran}, eşik {t}",
        },
        "l05.gran.row": {"en": "vector-wise", "tr": "vektör bazlı"},
        "l05.gran.tensor": {"en": "one X scale", "tr": "tek X ölçeği"},
        "l05.name.qlab": {"en": "qlab LLMInt8Linear, threshold 6", "tr": "qlab LLMInt8Linear, eşik 6"},
        "l05.name.zero": {"en": "outlier dims {dims} zeroed", "tr": "aykırı boyutlar {dims} sıfırlandı"},
        "l05.name.random": {"en": "random dims {dims} zeroed", "tr": "rastgele boyutlar {dims} sıfırlandı"},
        "l05.name.bnb": {
            "en": "BitsAndBytesConfig(load_in_8bit)",
            "tr": "BitsAndBytesConfig(load_in_8bit)",
        },
        "l05.sim.check": {
            "en": "float32 simulation vs exact int8/int32 product: largest difference / max|y| below {bound} (float32 rounding)",
            "tr": "float32 benzetimi ile tam int8/int32 çarpımı: en büyük fark / maks|y|, {bound} değerinin altında "
            "(float32 yuvarlaması)",
        },
        # bitsandbytes
        "l05.bnb.eval": {
            "en": "{layer}: bitsandbytes eval vs qlab float32: max |diff| = {diff} ({rel} of the output range)",
            "tr": "{layer}: bitsandbytes değerlendirme kipi ile qlab float32: maks |fark| = {diff} "
            "(çıktı aralığının {rel} kadarı)",
        },
        "l05.bnb.fp16": {
            "en": "{layer}: bitsandbytes eval vs qlab LLMInt8Linear(compute_dtype=float16): max |diff| = {diff}",
            "tr": "{layer}: bitsandbytes değerlendirme kipi ile qlab LLMInt8Linear(compute_dtype=float16): "
            "maks |fark| = {diff}",
        },
        "l05.bnb.codes": {
            "en": "{layer}: weight codes from fp16 vs from fp32: {n} of {total} differ ({share}), all by ±1",
            "tr": "{layer}: fp16'dan ve fp32'den ağırlık kodları: {total} kodun {n} tanesi farklı ({share}), "
            "hepsi ±1",
        },
        "l05.bnb.train": {
            "en": "{layer}: training mode: output - x @ dequant(W).T, max |diff| = {diff}; "
            "threshold 6 vs 0: max |diff| = {thr}",
            "tr": "{layer}: eğitim kipi: çıktı - x @ dequant(W).T, maks |fark| = {diff}; "
            "eşik 6 ile 0: maks |fark| = {thr}",
        },
        # cost
        "l05.mem.row": {"en": "{name:40} {mb:>8} MB", "tr": "{name:40} {mb:>8} MB"},
        "l05.mem.fp32": {"en": "fp32 weight", "tr": "fp32 ağırlık"},
        "l05.mem.fp16": {"en": "fp16 weight", "tr": "fp16 ağırlık"},
        "l05.mem.int8": {
            "en": "int8 codes + one fp32 stat per row",
            "tr": "int8 kodlar + satır başına bir fp32 istatistik",
        },
        "l05.mem.ratio": {
            "en": "LLM.int8() / fp16 = {r}",
            "tr": "LLM.int8() / fp16 = {r}",
        },
        "l05.time.row": {"en": "{name:44} {ms:>8} ms", "tr": "{name:44} {ms:>8} ms"},
        "l05.time.fp32": {"en": "torch fp32 matmul", "tr": "torch fp32 matris çarpımı"},
        "l05.time.bnb": {
            "en": "bitsandbytes Linear8bitLt (eval, threshold 6)",
            "tr": "bitsandbytes Linear8bitLt (değerlendirme, eşik 6)",
        },
        "l05.time.bnb0": {
            "en": "bitsandbytes Linear8bitLt (eval, threshold 0)",
            "tr": "bitsandbytes Linear8bitLt (değerlendirme, eşik 0)",
        },
        "l05.time.qlab": {
            "en": "qlab llm_int8_linear (numpy, threshold 6)",
            "tr": "qlab llm_int8_linear (numpy, eşik 6)",
        },
        "l05.time.note": {
            "en": "one thread, {tokens} tokens × {k} → {n}, median of {reps} runs",
            "tr": "tek iş parçacığı, {tokens} token × {k} → {n}, {reps} koşunun medyanı",
        },
        # ecosystem
        "l05.hf.layers": {
            "en": "transformers replaced {n} Linear layers by {cls}; weight dtype {dtype}; "
            "footprint {mb} MB (fp32: {mb32} MB)",
            "tr": "transformers {n} Linear katmanını {cls} ile değiştirdi; ağırlık dtype'ı {dtype}; "
            "bellek {mb} MB (fp32: {mb32} MB)",
        },
    }
)


# --- A fast float32 simulation of LLM.int8() (torch only) ---------------------------


class SimulatedInt8Linear(nn.Module):
    """LLM.int8() in float32 (float64 inside ``qlab.models.in_float64``): the codes are dequantized before the multiply.

    ``W`` gets one absmax scale per output row. At run time ``X`` gets one scale
    per token (or one for the whole ``X`` with ``per_tensor=True``); values with
    ``|x| >= threshold`` are left out of the scales and their whole columns go
    through a float product with the dequantized weight columns (``threshold=0``:
    no decomposition), as in bitsandbytes and :func:`qlab.llm_int8_linear`.
    """

    def __init__(self, linear: nn.Linear, threshold: float = 6.0, *, per_tensor: bool = False) -> None:
        super().__init__()
        W = at_least_float32(linear.weight.detach())  # float64 inside qlab.models.in_float64
        sw = W.abs().amax(dim=1, keepdim=True)
        inv = torch.where(sw > 0, 127 / sw, torch.zeros_like(sw))
        self.register_buffer("w_hat", torch.round(W * inv) * (sw / 127), persistent=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.threshold, self.per_tensor = float(threshold), per_tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        X = x.reshape(-1, self.in_features).to(self.w_hat.dtype)
        Xs = X
        cols = None
        if self.threshold > 0:
            big = X.abs() >= self.threshold
            cols = big.any(dim=0)
            Xs = X.masked_fill(big, 0.0)
        stats = Xs.abs().amax() if self.per_tensor else Xs.abs().amax(dim=1, keepdim=True)
        inv = torch.where(stats > 0, 127 / stats, torch.zeros_like(stats))
        Xq = torch.round(Xs * inv) * (stats / 127)
        if cols is not None and bool(cols.any()):
            Xq[:, cols] = 0.0
            out = Xq @ self.w_hat.T + X[:, cols] @ self.w_hat[:, cols].T
        else:
            out = Xq @ self.w_hat.T
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)


def _linears(model: nn.Module, skip: str) -> list[tuple[str, nn.Linear]]:
    pattern = re.compile(skip)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and not pattern.search(n)]


@contextlib.contextmanager
def simulate_llm_int8(
    model: nn.Module, threshold: float = 6.0, *, per_tensor: bool = False, skip: str = r"lm_head|pooler"
) -> Iterator[nn.Module]:
    """Inside the ``with`` block, every ``nn.Linear`` (but ``skip``) runs :class:`SimulatedInt8Linear`."""
    swapped = []
    for name, linear in _linears(model, skip):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, SimulatedInt8Linear(linear, threshold, per_tensor=per_tensor))
        swapped.append((parent, child, linear))
    try:
        yield model
    finally:
        for parent, child, linear in swapped:
            setattr(parent, child, linear)


@contextlib.contextmanager
def zero_input_dims(model: nn.Module, dims: list[int], layers: str) -> Iterator[nn.Module]:
    """Inside the ``with`` block, the input dimensions ``dims`` of the Linear layers matching ``layers`` read 0."""
    pattern = re.compile(layers)
    index = torch.as_tensor(list(dims), dtype=torch.long)

    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0].clone()
        x[..., index] = 0.0
        return (x, *args[1:])

    handles = [
        m.register_forward_pre_hook(hook)
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and pattern.search(n)
    ]
    try:
        yield model
    finally:
        for h in handles:
            h.remove()


# --- Exercise 1: the learner writes vector-wise int8 X @ W.T ------------------------


def vectorwise_matmul_reference(X: Any, W: Any) -> Any:
    """qlab's answer: ``X @ W.T`` with vector-wise int8 and no decomposition."""
    return qlab.llm_int8_matmul(X, W, threshold=0.0)


def _codes(A: np.ndarray, axis: int | None) -> tuple[np.ndarray, np.ndarray]:
    s = np.abs(A).max(axis=axis, keepdims=True) / 127
    return np.round(A / s), s


def _vw_per_tensor_x(X, W):
    """Mistake: one scale for the whole of X."""
    qx, sx = _codes(X, None)
    qw, sw = _codes(W, 1)
    return (qx @ qw.T) * sx * sw.T


def _vw_per_tensor_w(X, W):
    """Mistake: one scale for the whole of W."""
    qx, sx = _codes(X, 1)
    qw, sw = _codes(W, None)
    return (qx @ qw.T) * sx * sw


def _vw_not_rounded(X, W):
    """Mistake: codes never rounded, i.e. the float product."""
    return X @ W.T


def _vw_no_127(X, W):
    """Mistake: rescaled by max|x| · max|w| instead of s_x · s_w (forgot the two divisions by 127)."""
    qx, sx = _codes(X, 1)
    qw, sw = _codes(W, 1)
    return (qx @ qw.T) * (sx * 127) * (sw.T * 127)


def _vw_int8_sum(X, W):
    """Mistake: the products summed in int8, so the sums wrap around."""
    qx, sx = _codes(X, 1)
    qw, sw = _codes(W, 1)
    acc = qx.astype(np.int8) @ qw.astype(np.int8).T  # numpy keeps int8 and wraps
    return acc * sx * sw.T


def _vw_sw_not_transposed(X, W):
    """Mistake: W's scales (one per output row) multiplied along X's rows."""
    qx, sx = _codes(X, 1)
    qw, sw = _codes(W, 1)
    return (qx @ qw.T) * sx * sw


_VW_MISTAKES = {
    "ex.05.vw_per_tensor_x": _vw_per_tensor_x,
    "ex.05.vw_per_tensor_w": _vw_per_tensor_w,
    "ex.05.vw_not_rounded": _vw_not_rounded,
    "ex.05.vw_no_127": _vw_no_127,
    "ex.05.vw_int8_sum": _vw_int8_sum,
    "ex.05.vw_sw_not_transposed": _vw_sw_not_transposed,
}


def _vw_compare(expected: Any, got: Any) -> bool:
    """Equal up to one code's worth of rounding: 1e-4 of the output's largest magnitude."""
    e = np.asarray(expected, dtype=np.float64)
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if g.shape != e.shape or not np.all(np.isfinite(g)):
        return False
    return bool(np.max(np.abs(g - e)) <= 1e-4 * max(np.max(np.abs(e)), 1e-30))


def _vw_inputs(rng: np.random.Generator) -> dict[str, Any]:
    """Fresh X (2-6 tokens) and W (2-6 outputs, square excluded) with 16-64 features and a large column in X."""
    tokens = int(rng.integers(2, 7))
    outs = int(rng.choice([n for n in range(2, 7) if n != tokens]))
    k = int(rng.choice((16, 32, 64)))
    X = rng.standard_normal((tokens, k)).astype(np.float32)
    X[:, rng.integers(k)] *= np.float32(rng.uniform(5, 20))
    X[rng.integers(tokens)] *= np.float32(rng.uniform(2, 8))  # one token louder than the others
    W = (0.1 * rng.standard_normal((outs, k))).astype(np.float32)
    W[rng.integers(outs)] *= np.float32(rng.uniform(2, 6))
    return {"X": X, "W": W}


def _vw_edge() -> dict[str, Any]:
    # int8 sums overflow here (64 products of ~127 × 127), and rows differ in scale
    rng = np.random.default_rng(5)
    X = np.abs(rng.standard_normal((3, 64))).astype(np.float32) * np.array(
        [[1], [10], [0.1]], dtype=np.float32
    )
    W = np.abs(rng.standard_normal((3, 64))).astype(np.float32) * np.array(
        [[0.05], [1.0], [0.3]], dtype=np.float32
    )
    return {"X": X, "W": W}


_vw_base = implementation(
    vectorwise_matmul_reference,
    _vw_inputs,
    trials=12,
    seed=5,
    edge_cases=(_vw_edge(),),
    mistakes=_VW_MISTAKES,
    compare=_vw_compare,
    empty_hint="ex.05.vw_empty",
)


if "05.vectorwise_matmul" not in REGISTRY:
    register(
        "05.vectorwise_matmul",
        solution=vectorwise_matmul_reference,
        wrong=tuple(_VW_MISTAKES.values()),
        checker=_vw_base,
        messages={
            "ex.05.vw_empty": {
                "en": "your function returns nothing yet. Write its body and end it with `return Y`.",
                "tr": "fonksiyonunuz henüz bir şey döndürmüyor. Gövdesini yazın ve `return Y` ile bitirin.",
            },
            "ex.05.vw_per_tensor_x": {
                "en": "you gave the whole of X one scale. Vector-wise means one scale per row of X (per token).",
                "tr": "X'in tamamına tek bir ölçek verdiniz. Vektör bazlı, X'in her satırı (her token) için bir "
                "ölçek demektir.",
            },
            "ex.05.vw_per_tensor_w": {
                "en": "you gave the whole of W one scale. W needs one scale per row too (per output feature).",
                "tr": "W'nin tamamına tek bir ölçek verdiniz. W'nin de her satırı (her çıktı özniteliği) için bir "
                "ölçeği olmalı.",
            },
            "ex.05.vw_not_rounded": {
                "en": "your result equals the float product X @ W.T: the codes were never rounded to integers.",
                "tr": "sonucunuz kayan noktalı çarpım X @ W.T ile aynı: kodlar hiç tam sayılara yuvarlanmadı.",
            },
            "ex.05.vw_no_127": {
                "en": "your result is far too large: you rescaled with the row maxima instead of the scales "
                "s = max|row| / 127.",
                "tr": "sonucunuz çok büyük: yeniden ölçeklerken ölçekler (s = maks|satır| / 127) yerine satır "
                "maksimumlarını kullandınız.",
            },
            "ex.05.vw_int8_sum": {
                "en": "your sums wrapped around: a product of two int8 codes is up to 16129, far beyond int8. "
                "Widen the codes to int32 before the matrix product.",
                "tr": "toplamlarınız taştı ve başa sardı: iki int8 kodun çarpımı 16129'a kadar çıkar, int8'in çok "
                "ötesindedir. Matris çarpımından önce kodları int32'ye genişletin.",
            },
            "ex.05.vw_sw_not_transposed": {
                "en": "W's scales went along the wrong axis: output j of a token belongs to row j of W, so W's "
                "scales must line up with the *columns* of the result.",
                "tr": "W'nin ölçekleri yanlış eksene gitti: bir tokenin j. çıktısı W'nin j. satırına aittir; bu "
                "yüzden W'nin ölçekleri sonucun *sütunlarıyla* hizalanmalı.",
            },
        },
    )


# --- Arithmetic and choice exercises ----------------------------------------------

_LAYER = (4096, 4096)
_LAYER_BYTES = _LAYER[0] * _LAYER[1] * 1 + _LAYER[0] * 4  # int8 codes + one float32 stat per row

if "05.layer_bytes" not in REGISTRY:
    register(
        "05.layer_bytes",  # bytes of a (4096, 4096) weight in LLM.int8(): int8 codes + fp32 row stats
        solution=_LAYER_BYTES,
        wrong=(
            _LAYER[0] * _LAYER[1],
            2 * _LAYER[0] * _LAYER[1],
            _LAYER[0] * _LAYER[1] + _LAYER[0],
            4 * _LAYER[0] * _LAYER[1] + _LAYER[0] * 4,
        ),
        checker=numeric(
            _LAYER_BYTES,
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                _LAYER[0] * _LAYER[1]: "ex.05.bytes_no_stats",
                2 * _LAYER[0] * _LAYER[1]: "ex.05.bytes_fp16",
                _LAYER[0] * _LAYER[1] + _LAYER[0]: "ex.05.bytes_stat_one_byte",
                4 * _LAYER[0] * _LAYER[1] + _LAYER[0] * 4: "ex.05.bytes_int32",
            },
        ),
        messages={
            "ex.05.bytes_no_stats": {
                "en": "that counts the int8 codes only. Each row also stores its float32 statistic.",
                "tr": "bu yalnızca int8 kodlarını sayıyor. Her satır ayrıca kendi float32 istatistiğini saklar.",
            },
            "ex.05.bytes_fp16": {
                "en": "that is the fp16 weight, two bytes per parameter. An int8 code takes one.",
                "tr": "bu, parametre başına iki bayt tutan fp16 ağırlık. Bir int8 kodu bir bayt tutar.",
            },
            "ex.05.bytes_stat_one_byte": {
                "en": "a float32 statistic takes more than one byte.",
                "tr": "bir float32 istatistik bir bayttan fazlasını tutar.",
            },
            "ex.05.bytes_int32": {
                "en": "the codes are stored in int8, one byte each; int32 is only for the sums during the product.",
                "tr": "kodlar int8 olarak, her biri bir bayt saklanır; int32 yalnızca çarpım sırasındaki toplamlar içindir.",
            },
        },
    )

_THRESHOLD_OPTIONS = ("int8", "float", "int8+float")

if "05.threshold_zero" not in REGISTRY:
    register(
        "05.threshold_zero",  # Linear8bitLt(threshold=0.0): where do the input columns go?
        solution="int8",
        wrong=("float", "int8+float"),
        checker=choice(
            "int8",
            _THRESHOLD_OPTIONS,
            traps={"float": "ex.05.thr_all", "int8+float": "ex.05.thr_half"},
        ),
        messages={
            "ex.05.thr_all": {
                "en": "|x| >= 0 holds for every value, so that reading is tempting. Look again at what the "
                "vector-wise quantizer does when its threshold is zero: does it look for outliers at all?",
                "tr": "|x| >= 0 her değer için doğrudur; bu yüzden bu okuma cazip. Vektör bazlı nicemleyicinin "
                "eşiği sıfır olduğunda ne yaptığına yeniden bakın: aykırı değer arıyor mu?",
            },
            "ex.05.thr_half": {
                "en": "a decomposition needs outlier columns. With the threshold at zero, which columns are "
                "declared outliers?",
                "tr": "ayrıştırma için aykırı sütunlar gerekir. Eşik sıfırken hangi sütunlar aykırı sayılır?",
            },
        },
    )


def same(a: Any, b: Any) -> bool:
    """Shorthand used by the notebook: :func:`qlab.exercises.same_result`."""
    return same_result(a, b)
