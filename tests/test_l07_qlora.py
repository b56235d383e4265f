"""Lesson 07 (QLoRA): a short real training run, and proof that the lesson avoids bitsandbytes' repack trap.

tests/test_lora.py covers LoRALinear on small synthetic models; here:

* a real QLoRA run (SmolLM2-135M, NF4+DQ base, LoRA on all seven projections, 8 AdamW steps of
  2 x 64 tokens, one thread) lowers the perplexity of held-out windows and leaves the packed 4-bit
  bytes of every base layer unchanged;
* the lesson's training helper never repacks a bitsandbytes ``Linear4bit`` (behavioural, on real
  ``Linear4bit`` layers), the repack detector sees the trap where this CPU has it, and the lesson's
  source never evaluates the bitsandbytes model in eval mode or without gradients.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import qlab.lessons.l07_qlora as l07
from qlab.lora import LoRALinear, add_lora
from qlab.models.quantize import QuantizedLinear

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "src" / "07_qlora.md"


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_short_qlora_run_lowers_heldout_perplexity(one_thread):
    from qlab.models.evaluate import window_nll
    from qlab.models.loading import load_smollm2

    smol = load_smollm2(verbose=False)
    model, tokenizer = l07.quantize_for_qlora(smol.model), smol.tokenizer
    del smol
    torch.manual_seed(0)
    assert add_lora(model, r=8, lora_alpha=16, target_modules=l07.TARGETS) == 2_442_240
    bases = {n: m for n, m in model.named_modules() if isinstance(m, QuantizedLinear)}
    packed = {n: m.codes.clone() for n, m in bases.items()}
    assert len(bases) == 210
    britannica, hamlet = l07.text_ids(tokenizer, "britannica"), l07.text_ids(tokenizer, "hamlet")
    held, _ = l07.heldout_windows(britannica, hamlet, windows=2, tokens=128)["britannica"]
    train = britannica[: int(l07.TRAIN_SHARE * len(britannica))]
    batches = l07.training_batches(train, 8, 2, 64, seed=0)
    before = float(window_nll(model, held).mean())
    losses, _ = l07.train_steps(model, batches, lr=2e-3)
    after = float(window_nll(model, held).mean())
    assert len(losses) == 8 and all(torch.isfinite(torch.tensor(losses)))
    assert after < before - 0.1  # held-out perplexity down by more than 10 % (exp(-0.1) = 0.905)
    assert all(torch.equal(bases[n].codes, packed[n]) for n in bases)  # the 4-bit base never changes


class _TinyLM(nn.Module):
    """Embedding -> two bitsandbytes Linear4bit layers with qlab LoRA adapters -> head; returns ``.loss``."""

    def __init__(self, bnb, d: int = 64, vocab: int = 50) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(vocab, d)
        layers = []
        for _ in range(2):
            linear = nn.Linear(d, d, bias=False)
            q = bnb.nn.Linear4bit(d, d, bias=False, compute_dtype=torch.float32, quant_type="nf4")
            q.weight = bnb.nn.Params4bit(
                linear.weight.data.clone(), requires_grad=False, quant_type="nf4", compress_statistics=True
            )
            layers.append(LoRALinear(q.to("cpu"), r=4, lora_alpha=8))
        self.layers = nn.ModuleList(layers)
        self.head = nn.Linear(d, vocab)
        for p in [*self.embed.parameters(), *self.head.parameters()]:
            p.requires_grad_(False)

    def forward(self, input_ids, labels=None):
        h = self.embed(input_ids)
        for layer in self.layers:
            h = h + layer(h)
        logits = self.head(h)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
            )
        return SimpleNamespace(logits=logits, loss=loss)


def test_train_steps_never_repacks_bitsandbytes_weights_and_the_detector_sees_the_trap():
    pytest.importorskip("bitsandbytes")
    from qlab._bnb import import_bnb

    bnb = import_bnb()
    model = _TinyLM(bnb)
    assert all(m.base.weight.shape == (64 * 64 // 2, 1) for m in model.layers)  # quantized, canonical layout
    batches = l07.training_batches(torch.arange(200) % 50, 3, 2, 16, seed=0)
    losses, _ = l07.train_steps(model, batches, lr=1e-2)
    assert l07.repacked_bnb_layers(model) == []  # the lesson's training route: no repack
    assert all(m.base.weight.shape == (64 * 64 // 2, 1) for m in model.layers)
    assert losses[-1] < losses[0]
    if not bnb.nn.Linear4bit(64, 64).support_avx512bf16_for_cpu:
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes does not repack here")
    model.eval()
    with torch.no_grad():
        model(batches[0])  # the trap: one eval-mode forward without gradients
    assert l07.repacked_bnb_layers(model) == ["layers.0.base", "layers.1.base"]


def _code_cells(text: str) -> list[str]:
    """The code cells of a lesson source (see tools/build_notebooks.py: '%% code' markers)."""
    cells, current = [], None
    for line in text.splitlines():
        if line.startswith("%% "):
            if current is not None:
                cells.append("\n".join(current))
            current = [] if line.split()[1] == "code" else None
        elif current is not None:
            current.append(line)
    if current is not None:
        cells.append("\n".join(current))
    return cells


def test_lesson_never_evaluates_the_bitsandbytes_model_without_gradients():
    cells = _code_cells(SOURCE.read_text(encoding="utf-8"))
    bnb_cells = [c for c in cells if re.search(r"\b(bnb_model|peft_model)\b", c)]
    assert bnb_cells, "the lesson no longer builds a bitsandbytes model?"
    names = r"(bnb_model|peft_model)"
    for cell in bnb_cells:
        assert not re.search(names + r"\.eval\(", cell), cell
        assert not re.search(r"(measure|window_nll|perplexity\w*)\(\s*" + names, cell), cell
        assert not re.search(r"no_grad|inference_mode", cell), cell
    # the model is trained through l07.train_steps (train mode, gradients on) and the lesson asserts no repack
    assert any("l07.train_steps(peft_model" in c for c in bnb_cells)
    assert any("l07.repacked_bnb_layers(peft_model) == []" in c for c in bnb_cells)


def test_built_notebooks_ran_the_no_repack_assertion():
    for lang in ("en", "tr"):
        path = ROOT / "notebooks" / lang / "07_qlora.ipynb"
        if not path.exists():
            pytest.skip("notebooks not built")
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = next(
            c for c in nb["cells"] if "l07.repacked_bnb_layers(peft_model) == []" in "".join(c["source"])
        )
        assert cell["execution_count"] is not None
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"]
