"""Lesson 07 (QLoRA on a laptop): training helpers, exercises, and the strings the notebook shows.

Imported by the setup cell of ``notebooks/{en,tr}/07_qlora.ipynb``. Importing it
registers, once:

* the exercises ``07.lora_params`` (trainable numbers of r = 16 on a 4096 x 4096
  layer), ``07.qlora_7b`` (the memory of QLoRA for a 7B model) and
  ``07.lora_forward`` (the learner writes LoRA's forward, checked against
  :class:`qlab.lora.LoRALinear`) (:func:`qlab.exercises.register`);
* the English and Turkish texts of the lesson's tables, plots, widgets and
  readouts (:func:`qlab.i18n.add_messages`).

The helpers keep the notebook's cells short and its training reproducible:

* :func:`quantize_for_qlora` swaps every ``nn.Linear`` but the output head for a
  :class:`qlab.models.QuantizedLinear` (NF4 with double quantization by default),
  without the per-layer error report of :func:`qlab.models.quantize_model` (that
  report costs more time than the quantization itself);
* :func:`training_batches` draws seeded windows from the training part of a text;
* :func:`train_steps` runs AdamW on the trainable parameters, **always in train
  mode with gradients on**: bitsandbytes' ``Linear4bit`` repacks its weight in
  place on the first eval-mode forward without gradients on CPUs with
  AVX512-BF16, and training afterwards is silently wrong
  (``/shared/notes/ecosystem-cpu.md``); :func:`repacked_bnb_layers` finds layers
  that were repacked, so the notebook can assert that none was.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from qlab.exercises import REGISTRY, implementation, numeric, register
from qlab.i18n import add_messages
from qlab.lora import LoRALinear
from qlab.models.quantize import FORMATS, QuantizedLinear
from qlab.models.text import load_text

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The seven projections of a llama block: LoRA on all of them, as in the QLoRA paper."""

TRAIN_SHARE = 0.6
"""Training uses the first 60 % of the Britannica text; held-out windows come from its last 25 %."""

HELDOUT_START = 0.75


# --- the model --------------------------------------------------------------------------------


def quantize_for_qlora(model: nn.Module, fmt: str = "nf4-dq", *, skip: str = r"lm_head") -> nn.Module:
    """A copy of ``model`` whose ``nn.Linear`` layers (but ``skip``) are :class:`QuantizedLinear` ``fmt``."""
    if fmt not in FORMATS or FORMATS[fmt].method == "llm_int8":
        raise ValueError(f"quantize_for_qlora: fmt must be one of the weight-only formats {list(FORMATS)}")
    target = copy.deepcopy(model)
    pattern = re.compile(skip)
    for name, module in list(target.named_modules()):
        if isinstance(module, nn.Linear) and not pattern.search(name):
            parent, _, child = name.rpartition(".")
            setattr(
                target.get_submodule(parent) if parent else target,
                child,
                QuantizedLinear(module, FORMATS[fmt]),
            )
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def lora_parameter_count(shapes: Iterable[tuple[int, int]], r: int) -> int:
    """``Σ r · (in + out)`` over ``(out, in)`` weight shapes: what :func:`qlab.lora.add_lora` adds."""
    return sum(r * (out_f + in_f) for out_f, in_f in shapes)


def target_shapes(model: nn.Module, targets: Sequence[str] = TARGETS) -> list[tuple[int, int]]:
    """``(out, in)`` of every module whose name ends with one of ``targets``."""
    return [
        (int(m.out_features), int(m.in_features))
        for n, m in model.named_modules()
        if n.rpartition(".")[2] in targets and hasattr(m, "out_features")
    ]


# --- data ------------------------------------------------------------------------------------


def text_ids(tokenizer: Any, name: str) -> torch.Tensor:
    """A shipped text tokenized once, without special tokens."""
    return torch.as_tensor(
        tokenizer(load_text(name), add_special_tokens=False)["input_ids"], dtype=torch.long
    )


def training_batches(
    ids: torch.Tensor, steps: int, batch: int, tokens: int, *, seed: int = 0
) -> list[torch.Tensor]:
    """``steps`` batches of ``batch`` windows of ``tokens`` tokens, starts drawn (seeded) from ``ids``."""
    if len(ids) < tokens + 1:
        raise ValueError(f"training_batches: {len(ids)} tokens are too few for windows of {tokens}")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(ids) - tokens, size=(steps, batch))
    return [torch.stack([ids[s : s + tokens] for s in row]) for row in starts.tolist()]


def heldout_windows(
    britannica: torch.Tensor, hamlet: torch.Tensor, *, windows: int = 4, tokens: int = 128
) -> dict[str, tuple[torch.Tensor, list[tuple[str, int]]]]:
    """Held-out windows: ``windows`` from the last 25 % of Britannica (never trained on) and from Hamlet."""
    out = {}
    for name, ids, first in (
        ("britannica", britannica, int(HELDOUT_START * len(britannica))),
        ("hamlet", hamlet, 0),
    ):
        stride = (len(ids) - first) // windows
        if stride < tokens:
            raise ValueError(f"heldout_windows: {name} is too short for {windows} windows of {tokens}")
        starts = [first + k * stride for k in range(windows)]
        out[name] = (torch.stack([ids[s : s + tokens] for s in starts]), [(name, s) for s in starts])
    return out


# --- training --------------------------------------------------------------------------------


def train_steps(
    model: nn.Module,
    batches: Sequence[torch.Tensor],
    *,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[list[float], torch.optim.Optimizer]:
    """One AdamW step per batch on the trainable parameters (causal-LM loss); returns the losses.

    Always in train mode with gradients on -- never an eval-mode forward without
    gradients, which would repack bitsandbytes' 4-bit weights on AVX512-BF16 CPUs.
    The models here have no dropout, so train mode changes nothing else.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("train_steps: the model has no trainable parameters (call add_lora first)")
    if optimizer is None:
        optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    losses = []
    with torch.enable_grad():
        for i, batch in enumerate(batches):
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if on_step is not None:
                on_step(i + 1, losses[-1])
    return losses, optimizer


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of every tensor the optimizer keeps (AdamW: ``exp_avg``, ``exp_avg_sq``, ``step``)."""
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if isinstance(v, torch.Tensor)
    )


def repacked_bnb_layers(model: nn.Module) -> list[str]:
    """Names of bitsandbytes 4-bit layers whose weight was repacked for the CPU inference kernel."""
    out = []
    for name, module in model.named_modules():
        state = getattr(getattr(module, "weight", None), "quant_state", None)
        if state is not None and getattr(state, "packing_format_for_cpu", False):
            out.append(name)
    return out


def peft_key(qlab_key: str) -> str:
    """qlab's adapter key -> peft's (``...q_proj.lora_A.weight`` -> ``base_model.model...lora_A.default.weight``)."""
    return "base_model.model." + re.sub(r"\.lora_(A|B)\.weight$", r".lora_\1.default.weight", qlab_key)


# --- exercises -------------------------------------------------------------------------------

_NF4_DQ_BITS = 4 + 8 / 64 + 32 / (64 * 256)
_QLORA_7B_GB = (7e9 * _NF4_DQ_BITS / 8 + 40e6 * 12) / 1e9


def lora_forward_reference(x: np.ndarray, W: np.ndarray, A: np.ndarray, B: np.ndarray, alpha: float):
    """``LoRALinear``'s output for an ``nn.Linear`` base without bias, as numpy (the exercise's oracle)."""
    r, in_f = A.shape
    base = nn.Linear(in_f, W.shape[0], bias=False)
    layer = LoRALinear(base, r=r, lora_alpha=alpha)
    with torch.no_grad():
        base.weight.copy_(torch.as_tensor(W))
        layer.lora_A.weight.copy_(torch.as_tensor(A))
        layer.lora_B.weight.copy_(torch.as_tensor(B))
        return layer(torch.as_tensor(x)).numpy()


def _lora_inputs(rng: np.random.Generator) -> dict[str, Any]:
    n, in_f, out_f = (int(v) for v in rng.integers(2, 9, size=3))
    r = int(rng.integers(1, min(in_f, out_f) + 1))
    alpha = float(r * rng.choice([2, 4]))  # alpha != r, so that forgetting alpha / r shows
    f32 = np.float32
    return {
        "x": rng.standard_normal((n, in_f)).astype(f32),
        "W": rng.standard_normal((out_f, in_f)).astype(f32),
        "A": rng.standard_normal((r, in_f)).astype(f32),
        "B": rng.standard_normal((out_f, r)).astype(f32),
        "alpha": alpha,
    }


def _no_scaling(x, W, A, B, alpha):
    return x @ W.T + x @ A.T @ B.T


def _alpha_only(x, W, A, B, alpha):
    return x @ W.T + alpha * (x @ A.T @ B.T)


def _inverse_scaling(x, W, A, B, alpha):
    return x @ W.T + (A.shape[0] / alpha) * (x @ A.T @ B.T)


def _update_only(x, W, A, B, alpha):
    return (alpha / A.shape[0]) * (x @ A.T @ B.T)


_LORA_MISTAKES = {
    "ex.07.no_scaling": _no_scaling,
    "ex.07.alpha_only": _alpha_only,
    "ex.07.inverse_scaling": _inverse_scaling,
    "ex.07.update_only": _update_only,
}

if "07.lora_params" not in REGISTRY:
    register(
        "07.lora_params",
        solution=16 * (4096 + 4096),
        wrong=(16 * 4096, 4096 * 4096, 16 * 16, 8 * (4096 + 4096)),
        checker=numeric(
            16 * (4096 + 4096),
            rel_tol=0.0,
            abs_tol=0.5,
            units=None,
            traps={
                16 * 4096: "ex.07.one_matrix",
                4096 * 4096: "ex.07.full_matrix",
                16 * 16: "ex.07.r_squared",
                8 * (4096 + 4096): "ex.07.rank_8",
            },
        ),
        messages={
            "ex.07.one_matrix": {
                "en": "that is one of the two adapter matrices. LoRA trains A (r × in) and B (out × r).",
                "tr": "bu iki adaptör matrisinden yalnızca biri. LoRA hem A'yı (r × girdi) hem B'yi (çıktı × r) eğitir.",
            },
            "ex.07.full_matrix": {
                "en": "that is the full weight, what full fine-tuning would train. LoRA trains only A and B.",
                "tr": "bu ağırlığın tamamı; tam ince ayarın eğiteceği şey. LoRA yalnızca A ile B'yi eğitir.",
            },
            "ex.07.r_squared": {
                "en": "A and B are not r × r: each has one side of length r and one as long as the layer.",
                "tr": "A ve B r × r değildir: her birinin bir kenarı r, diğer kenarı katman kadar uzundur.",
            },
            "ex.07.rank_8": {
                "en": "that is the count for rank 8; the exercise asks for r = 16.",
                "tr": "bu, r = 8 için olan sayı; alıştırma r = 16 için soruyor.",
            },
        },
    )
    register(
        "07.qlora_7b",
        solution=_QLORA_7B_GB,
        wrong=(
            (7e9 * 0.5 + 40e6 * 12) / 1e9,
            (7e9 * _NF4_DQ_BITS / 8 + 40e6 * 16) / 1e9,
            (7e9 * 2 + 40e6 * 12) / 1e9,
            7e9 * _NF4_DQ_BITS / 8 / 1e9,
        ),
        checker=numeric(
            _QLORA_7B_GB,
            rel_tol=0.005,
            traps={
                (7e9 * 0.5 + 40e6 * 12) / 1e9: "ex.07.no_dq_overhead",
                (7e9 * _NF4_DQ_BITS / 8 + 40e6 * 16) / 1e9: "ex.07.master_copy",
                (7e9 * 2 + 40e6 * 12) / 1e9: "ex.07.fp16_base",
                7e9 * _NF4_DQ_BITS / 8 / 1e9: "ex.07.forgot_adapters",
            },
        ),
        messages={
            "ex.07.no_dq_overhead": {
                "en": "4 bits is only the codes: every block of 64 also stores its scale (8 bits with double "
                "quantization, plus the second level).",
                "tr": "4 bit yalnızca kodlardır: 64'lük her blok ölçeğini de saklar (çift nicemlemeyle 8 bit, "
                "artı ikinci düzey).",
            },
            "ex.07.master_copy": {
                "en": "the exercise gives 12 bytes per adapter parameter; no extra master copy.",
                "tr": "alıştırma adaptör parametresi başına 12 bayt veriyor; ayrıca bir ana kopya yok.",
            },
            "ex.07.fp16_base": {
                "en": "that is a 16-bit base. In QLoRA the frozen base is stored in NF4 with double quantization.",
                "tr": "bu 16 bitlik bir taban. QLoRA'da dondurulmuş taban, çift nicemlemeli NF4 olarak saklanır.",
            },
            "ex.07.forgot_adapters": {
                "en": "that is the base alone; add the adapters with their gradients and optimizer state.",
                "tr": "bu yalnızca taban; adaptörleri gradyanları ve optimize edici durumlarıyla birlikte ekleyin.",
            },
        },
    )
    register(
        "07.lora_forward",
        solution=lora_forward_reference,
        wrong=tuple(_LORA_MISTAKES.values()),
        checker=implementation(
            lora_forward_reference, _lora_inputs, trials=12, seed=7, mistakes=_LORA_MISTAKES
        ),
        messages={
            "ex.07.no_scaling": {
                "en": "the update B·A·x is multiplied by a factor that depends on alpha and on the rank.",
                "tr": "B·A·x güncellemesi alpha'ya ve ranka bağlı bir çarpanla çarpılır.",
            },
            "ex.07.alpha_only": {
                "en": "the factor is not alpha alone: LoRA divides it by the rank r (the number of rows of A).",
                "tr": "çarpan yalnızca alpha değildir: LoRA onu r rankına (A'nın satır sayısına) böler.",
            },
            "ex.07.inverse_scaling": {
                "en": "the factor is upside down: check which of alpha and r is on top.",
                "tr": "çarpan ters çevrilmiş: alpha ile r'den hangisinin payda olduğuna bakın.",
            },
            "ex.07.update_only": {
                "en": "the frozen weight still contributes: LoRA adds its update to the base layer's output.",
                "tr": "dondurulmuş ağırlık hâlâ katkı yapar: LoRA güncellemesini taban katmanın çıktısına ekler.",
            },
        },
    )


def yes_no(flag: bool, lang: str) -> str:
    """``yes``/``no`` in the notebook's language (a bare ``True`` is English in a Turkish output)."""
    from qlab.i18n import t

    return t("l07.yes" if flag else "l07.no", lang)


add_messages(
    {
        "l07.yes": {"en": "yes", "tr": "evet"},
        "l07.no": {"en": "no", "tr": "hayır"},
        # the bill
        "l07.bill.adapters": {
            "en": "LoRA r = 64 on the seven projections of LLaMA-65B's 80 blocks: {n} million adapter "
            "parameters ({share} of 65 billion)",
            "tr": "LLaMA-65B'nin 80 bloğunun yedi izdüşümünde r = 64 ile LoRA: {n} milyon adaptör "
            "parametresi (65 milyarın {share} kadarı)",
        },
        "l07.bill.row": {"en": "{name:58} {gb:>8} GB", "tr": "{name:58} {gb:>8} GB"},
        "l07.bill.full16": {
            "en": "full fine-tuning, 16 bytes per parameter",
            "tr": "tam ince ayar, parametre başına 16 bayt",
        },
        "l07.bill.full12": {
            "en": "full fine-tuning without a master copy, 12 bytes",
            "tr": "ana kopyasız tam ince ayar, 12 bayt",
        },
        "l07.bill.lora": {
            "en": "LoRA: 16-bit frozen base + adapters (16 bytes each)",
            "tr": "LoRA: 16 bitlik dondurulmuş taban + adaptörler (tanesi 16 bayt)",
        },
        "l07.bill.qlora": {
            "en": "QLoRA: NF4+DQ base + bf16 adapters (12 bytes each)",
            "tr": "QLoRA: NF4+DQ taban + bf16 adaptörler (tanesi 12 bayt)",
        },
        # by hand
        "l07.hand.counts": {
            "en": "full update of the 576 × 576 layer: {full} numbers; LoRA r = 8: {lora} ({share})",
            "tr": "576 × 576'lık katmanın tam güncellemesi: {full} sayı; r = 8 ile LoRA: {lora} ({share})",
        },
        "l07.hand.start": {
            "en": "with B = 0 the output equals the pretrained layer's exactly: {same}",
            "tr": "B = 0 iken çıktı önceden eğitilmiş katmanınkiyle tam olarak aynı: {same}",
        },
        "l07.hand.rank": {
            "en": "rank of the update (α/r)·B·A with a nonzero B: {rank} (r = {r})",
            "tr": "sıfırdan farklı bir B ile (α/r)·B·A güncellemesinin rankı: {rank} (r = {r})",
        },
        "l07.hand.qlab": {
            "en": "qlab LoRALinear(r=8, lora_alpha=16): {n} trainable, α/r = {scaling}, "
            "output equal to the layer's: {same}",
            "tr": "qlab LoRALinear(r=8, lora_alpha=16): {n} eğitilebilir, α/r = {scaling}, "
            "çıktı katmanınkiyle aynı: {same}",
        },
        "l07.widget.rank": {"en": "rank r", "tr": "rank r"},
        "l07.widget.readout": {
            "en": "r = {r}: this layer {layer} trainable ({layer_share} of 576 × 576); all of SmolLM2 {model} "
            "({model_share} of its parameters); α/r = {scaling}",
            "tr": "r = {r}: bu katmanda {layer} eğitilebilir (576 × 576'nın {layer_share} kadarı); SmolLM2'nin "
            "tamamında {model} (parametrelerinin {model_share} kadarı); α/r = {scaling}",
        },
        # the QLoRA layer
        "l07.layer.param": {"en": "parameter", "tr": "parametre"},
        "l07.layer.buffer": {"en": "buffer", "tr": "tampon"},
        "l07.layer.row": {
            "en": "{name:22} {kind:10} {dtype:8} {shape:>12}   requires_grad: {grad}",
            "tr": "{name:22} {kind:10} {dtype:8} {shape:>12}   requires_grad: {grad}",
        },
        "l07.layer.first": {
            "en": "step 1: largest |gradient| of A = {a}, of B = {b}",
            "tr": "1. adım: A'nın en büyük |gradyan| değeri = {a}, B'ninki = {b}",
        },
        "l07.layer.after": {
            "en": "after 5 steps: gradient reached the input: {x}; packed 4-bit bytes unchanged: {same}; "
            "stored base {kb} KiB (fp32: {kb32} KiB)",
            "tr": "5 adımdan sonra: gradyan girdiye ulaştı: {x}; paketlenmiş 4 bitlik baytlar değişmedi: {same}; "
            "saklanan taban {kb} KiB (fp32: {kb32} KiB)",
        },
        # training
        "l07.train.setup": {
            "en": "{q} layers in NF4+DQ; {n} trainable adapter parameters ({share} of the model); "
            "{tokens} training tokens",
            "tr": "NF4+DQ'da {q} katman; {n} eğitilebilir adaptör parametresi (modelin {share} kadarı); "
            "{tokens} eğitim tokeni",
        },
        "l07.train.step": {
            "en": "  step {step}/{steps}: loss {loss}",
            "tr": "  adım {step}/{steps}: kayıp {loss}",
        },
        "l07.ppl.header": {
            "en": "held-out perplexity (95 % interval)      Britannica, last 25 %          Hamlet",
            "tr": "görülmemiş metinde şaşkınlık (%95 aralık) Britannica, son %25            Hamlet",
        },
        "l07.ppl.row": {
            "en": "{name:40} {britannica_ppl:>6} ({britannica_low} … {britannica_high})"
            "    {hamlet_ppl:>6} ({hamlet_low} … {hamlet_high})",
            "tr": "{name:40} {britannica_ppl:>6} ({britannica_low} … {britannica_high})"
            "    {hamlet_ppl:>6} ({hamlet_low} … {hamlet_high})",
        },
        "l07.ppl.change": {
            "en": "{a} vs {b}, {text}: {pct} (95 % interval {low} … {high})",
            "tr": "{a} ile {b}, {text}: {pct} (%95 aralık {low} … {high})",
        },
        "l07.name.fp32": {"en": "fp32, no adapters", "tr": "fp32, adaptörsüz"},
        "l07.name.nf4": {"en": "NF4+DQ, no adapters", "tr": "NF4+DQ, adaptörsüz"},
        "l07.name.lora": {"en": "LoRA on fp32, 24 steps", "tr": "fp32 üzerinde LoRA, 24 adım"},
        "l07.name.qlora": {"en": "QLoRA (NF4+DQ + LoRA), 24 steps", "tr": "QLoRA (NF4+DQ + LoRA), 24 adım"},
        "l07.name.merged": {"en": "QLoRA merged into NF4", "tr": "NF4'e birleştirilmiş QLoRA"},
        "l07.plot.step": {"en": "training step", "tr": "eğitim adımı"},
        "l07.plot.loss": {"en": "training loss (nats per token)", "tr": "eğitim kaybı (token başına nat)"},
        "l07.plot.title": {
            "en": "SmolLM2-135M, 2 × 64 tokens per step, AdamW on the adapters",
            "tr": "SmolLM2-135M, adım başına 2 × 64 token, adaptörler üzerinde AdamW",
        },
        # measured bill
        "l07.measured.row": {"en": "{name:52} {mb:>9} MB", "tr": "{name:52} {mb:>9} MB"},
        "l07.measured.full": {
            "en": "full fine-tuning, 16 bytes per parameter",
            "tr": "tam ince ayar, parametre başına 16 bayt",
        },
        "l07.measured.fp32": {"en": "fp32 model", "tr": "fp32 model"},
        "l07.measured.qlora": {
            "en": "QLoRA model (NF4+DQ layers, fp32 embeddings, adapters)",
            "tr": "QLoRA model (NF4+DQ katmanlar, fp32 gömmeler, adaptörler)",
        },
        "l07.measured.grads": {"en": "adapter gradients (fp32)", "tr": "adaptör gradyanları (fp32)"},
        "l07.measured.adam": {"en": "AdamW state (measured)", "tr": "AdamW durumu (ölçülen)"},
        "l07.measured.total": {
            "en": "QLoRA in all: {mb} MB; full fine-tuning needs {ratio} times as much",
            "tr": "QLoRA toplamda: {mb} MB; tam ince ayar bunun {ratio} katını ister",
        },
        # save / merge
        "l07.save.sizes": {
            "en": "{n} adapter tensors: {mb} MB in fp32, {mb16} MB in bf16 (the QLoRA model: {base} MB)",
            "tr": "{n} adaptör tensörü: fp32'de {mb} MB, bf16'da {mb16} MB (QLoRA model: {base} MB)",
        },
        "l07.save.roundtrip": {
            "en": "adapters wiped: logits moved by up to {wiped}; loaded back from the file: "
            "logits exactly as trained: {same}",
            "tr": "adaptörler silindi: logitler en çok {wiped} kadar değişti; dosyadan geri yüklendi: "
            "logitler eğitilmiş hâliyle tam olarak aynı: {same}",
        },
        "l07.merge.fp32": {
            "en": "LoRA merged into fp32: {n} layers, largest logit change below {bound} (float rounding)",
            "tr": "fp32'ye birleştirilmiş LoRA: {n} katman, en büyük logit değişimi {bound} değerinin altında "
            "(kayan nokta yuvarlaması)",
        },
        "l07.merge.nf4": {
            "en": "QLoRA merged into NF4 ({n} layers): re-quantization error / size of the update: "
            "median {median} (from {low} to {high})",
            "tr": "NF4'e birleştirilmiş QLoRA ({n} katman): yeniden nicemleme hatası / güncellemenin büyüklüğü: "
            "medyan {median} ({low} ile {high} arasında)",
        },
        "l07.merge.kept": {
            "en": "share of the training gain on held-out Britannica kept after merging into NF4: {share}",
            "tr": "NF4'e birleştirmeden sonra görülmemiş Britannica'daki eğitim kazancının korunan payı: {share}",
        },
        # bitsandbytes + peft
        "l07.hf.refused": {
            "en": "save_pretrained on the GGUF-loaded model: refused ({kind})",
            "tr": "GGUF'tan yüklenmiş modelde save_pretrained: reddedildi ({kind})",
        },
        "l07.hf.loaded": {
            "en": "BitsAndBytesConfig: {n} Linear4bit layers, output head {head}; footprint {mb} MB "
            "(qlab's QLoRA model: {mb_q} MB)",
            "tr": "BitsAndBytesConfig: {n} Linear4bit katmanı, çıktı başı {head}; bellek {mb} MB "
            "(qlab'ın QLoRA modeli: {mb_q} MB)",
        },
        "l07.hf.bytes": {
            "en": "packed 4-bit bytes equal to qlab's: {packed} of {n} layers; 8-bit block scales equal: "
            "{scales} of {n}",
            "tr": "qlab'ınkiyle aynı paketlenmiş 4 bitlik baytlar: {n} katmanın {packed} tanesi; aynı 8 bitlik "
            "blok ölçekleri: {n} katmanın {scales} tanesi",
        },
        "l07.hf.trainable": {
            "en": "peft print_trainable_parameters(): {peft} trainable; qlab add_lora: {qlab}",
            "tr": "peft print_trainable_parameters(): {peft} eğitilebilir; qlab add_lora: {qlab}",
        },
        "l07.hf.loss": {
            "en": "step {step}: loss bitsandbytes + peft {bnb}, qlab {qlab}",
            "tr": "{step}. adım: kayıp bitsandbytes + peft {bnb}, qlab {qlab}",
        },
        "l07.trap.shape": {
            "en": "Linear4bit weight before the eval-mode forward: {before}; after: {after}; "
            "repacked for the CPU kernel: {flag}",
            "tr": "değerlendirme kipindeki ileri geçişten önce Linear4bit ağırlığı: {before}; sonra: {after}; "
            "CPU çekirdeği için yeniden paketlendi: {flag}",
        },
        "l07.trap.grad": {
            "en": "then, in train mode: autograd warned about gemv_4bit: {warned}; error of the input gradient: {err}",
            "tr": "ardından, eğitim kipinde: autograd gemv_4bit için uyardı: {warned}; girdi gradyanının hatası: {err}",
        },
        "l07.gpu.skip": {
            "en": "No CUDA device here: paged 8-bit AdamW and gradient checkpointing are skipped.",
            "tr": "Burada CUDA aygıtı yok: sayfalı 8 bitlik AdamW ve gradyan denetim noktaları atlandı.",
        },
        "l07.gpu.done": {
            "en": "{name}: 3 steps with gradient checkpointing and paged 8-bit AdamW, last loss {loss}, "
            "peak GPU memory {mb} MB",
            "tr": "{name}: gradyan denetim noktaları ve sayfalı 8 bitlik AdamW ile 3 adım, son kayıp {loss}, "
            "en yüksek GPU belleği {mb} MB",
        },
    }
)
