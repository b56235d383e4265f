"""How much did quantization change the model? Quality metrics measured against fp32.

* **Perplexity** (causal LMs): ``exp`` of the mean negative log-likelihood of the
  next token, over real held-out text. Protocol used by :func:`perplexity` (fixed,
  so numbers are comparable across formats and runs):

  - text: the shipped 1911 *Encyclopaedia Britannica* article (``load_text()``),
    tokenized once without special tokens;
  - ``windows`` non-overlapping windows of ``window_tokens`` tokens taken from the
    start of the text (default 2 x 256 = 512 tokens), each evaluated independently
    with no context carried over;
  - every token but the first of each window is predicted: 2 x 255 = 510 predictions;
  - perplexity = exp(sum of NLL / number of predictions), NLL from fp32 logits.

  Short windows give higher perplexities than the long-context numbers in papers
  (less context per prediction); what matters here is the *change* vs fp32.
  A model that spreads probability uniformly over V tokens has perplexity exactly V.
* **Embedding agreement** (encoders, e.g. MiniLM): cosine similarity between each
  sentence's quantized and fp32 embedding, and nearest-neighbour agreement: the
  share of sentences whose most similar *other* sentence is unchanged. Retrieval
  only cares about the ranking, so the second is the one users notice.
* **Footprint**: bytes actually stored by the model (parameters, buffers and
  quantized codes/scales), with tied tensors counted once.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .text import load_text


def _logits(model: Any, input_ids: torch.Tensor) -> torch.Tensor:
    out = model(input_ids=input_ids)
    return out if isinstance(out, torch.Tensor) else out.logits


@torch.no_grad()
def perplexity_from_ids(
    model: Any, token_ids: torch.Tensor | list[int], *, windows: int = 2, window_tokens: int = 256
) -> float:
    """Perplexity of ``model`` on ``token_ids`` (protocol in the module docstring)."""
    ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
    if windows < 1 or window_tokens < 2:
        raise ValueError(
            f"perplexity: need windows >= 1 and window_tokens >= 2, got {windows}, {window_tokens}"
        )
    needed = windows * window_tokens
    if ids.numel() < needed:
        raise ValueError(
            f"perplexity: the text has {ids.numel()} tokens, fewer than windows x window_tokens = {needed}"
        )
    batch = ids[:needed].view(windows, window_tokens)  # each row is one independent window
    logits = _logits(model, batch).float()
    # position t predicts token t+1
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum"
    )
    return math.exp(nll.item() / (windows * (window_tokens - 1)))


def perplexity(
    model: Any, tokenizer: Any, text: str | None = None, *, windows: int = 2, window_tokens: int = 256
) -> float:
    """Perplexity on ``text`` (default: the shipped Britannica article); see the module docstring."""
    text = load_text() if text is None else text
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return perplexity_from_ids(model, ids, windows=windows, window_tokens=window_tokens)


@torch.no_grad()
def encode(
    model: Any, tokenizer: Any, sentences: list[str], *, batch_size: int = 32, max_length: int = 256
) -> torch.Tensor:
    """Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2.

    Mean of the last hidden states over real (non-padding) tokens, then L2
    normalisation (Reimers & Gurevych 2019, arXiv:1908.10084; the model card's
    ``mean_pooling``). Returns float32 of shape (len(sentences), hidden).
    """
    # Batch sentences of similar length together: less padding, same embeddings.
    lengths = [len(ids) for ids in tokenizer(sentences, truncation=True, max_length=max_length)["input_ids"]]
    order = sorted(range(len(sentences)), key=lambda i: lengths[i])
    out = torch.empty(0)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [sentences[i] for i in idx],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        )
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if out.numel() == 0:
            out = torch.empty(len(sentences), hidden.shape[-1])
        out[idx] = torch.nn.functional.normalize(mean.float(), p=2, dim=1)
    return out


def nearest_neighbours(embeddings: torch.Tensor) -> torch.Tensor:
    """Index of each row's most cosine-similar *other* row."""
    e = torch.nn.functional.normalize(embeddings.float(), dim=1)
    sim = e @ e.T
    sim.fill_diagonal_(-math.inf)  # a sentence is not its own neighbour
    return sim.argmax(dim=1)


def embedding_agreement(reference: torch.Tensor, test: torch.Tensor) -> dict[str, float]:
    """Compare embeddings of the same sentences: ``mean_cosine``, ``min_cosine``, ``nn_agreement``.

    Identical inputs give 1, 1, 1.
    """
    if reference.shape != test.shape or reference.ndim != 2 or reference.shape[0] < 2:
        raise ValueError(
            f"embedding_agreement: need two (n >= 2, d) arrays of the same shape, "
            f"got {tuple(reference.shape)} and {tuple(test.shape)}"
        )
    cos = torch.nn.functional.cosine_similarity(reference.float(), test.float(), dim=1)
    same = nearest_neighbours(reference) == nearest_neighbours(test)
    return {
        "mean_cosine": cos.mean().item(),
        "min_cosine": cos.min().item(),
        "nn_agreement": same.float().mean().item(),
    }


def model_footprint_bytes(model: torch.nn.Module) -> int:
    """Bytes the model actually stores: parameters and buffers (tied ones once) plus quantized weights.

    qlab's quantized layers keep their codes and scales outside ``parameters()``;
    they report them through a ``weight_storage_bytes()`` method.
    """
    seen: dict[int, int] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        seen[t.data_ptr()] = t.numel() * t.element_size()
    extra = sum(m.weight_storage_bytes() for m in model.modules() if hasattr(m, "weight_storage_bytes"))
    return sum(seen.values()) + extra
