"""How much did quantization change the model? Quality metrics measured against fp32.

* **Perplexity** (causal LMs): ``exp`` of the mean negative log-likelihood (NLL)
  of the next token, over real held-out text. Two fixed protocols, so numbers
  are comparable across formats and runs:

  - :func:`perplexity_windows` (what ``qlab compare`` reports): **12 windows of
    256 tokens**, 6 from each shipped text -- the 1911 *Encyclopaedia Britannica*
    article on Shakespeare (prose) and *Hamlet* Acts I-II (verse drama) -- each
    text tokenized once without special tokens, the windows' starts spread evenly
    over the whole text (``k * (n_tokens // 6)``, k = 0..5; non-overlapping), each
    window evaluated independently with no context carried over. Every token but
    the first of a window is predicted: 12 x 255 = 3,060 predictions (3,072
    tokens, six times the 512 of the quick protocol). Perplexity = exp(mean NLL).
    **Uncertainty**: the window is the unit of resampling (tokens inside a window
    are correlated). A percentile bootstrap over the 12 windows (10,000
    resamples, seeded, deterministic) gives a 95 % interval for one model's
    perplexity; it is wide because the windows differ in difficulty. To compare
    two formats use :func:`paired_difference`: the same bootstrap resamples of
    the *same* windows applied to the per-window difference of mean NLL, i.e. to
    log(ppl_a / ppl_b). The window difficulty cancels, so the paired interval is
    several times narrower; a difference is called significant when its 95 %
    interval excludes 0. With 12 windows a percentile bootstrap is a little
    optimistic (it does not know the tails beyond what 12 windows show), so
    claims should keep a margin.
  - :func:`perplexity` / :func:`perplexity_from_ids` (quick, a few seconds, for
    lessons): ``windows`` non-overlapping windows of ``window_tokens`` tokens from
    the *start* of one text (default the Britannica article, 2 x 256 = 512
    tokens, 510 predictions), no interval.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .precision import at_least_float32
from .text import load_text

TEXTS_FOR_PERPLEXITY = ("britannica", "hamlet")
WINDOWS_PER_TEXT = 6
WINDOW_TOKENS = 256
N_BOOT = 10_000
CONFIDENCE = 0.95


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
    logits = at_least_float32(_logits(model, batch))
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


def window_starts(n_tokens: int, windows: int, window_tokens: int = WINDOW_TOKENS) -> list[int]:
    """Starts of ``windows`` non-overlapping windows spread evenly over ``n_tokens`` tokens.

    Window ``k`` starts at ``k * (n_tokens // windows)``, so the windows sample the
    beginning, middle and end of a text rather than only its first pages.
    """
    if windows < 1 or window_tokens < 2:
        raise ValueError(
            f"window_starts: need windows >= 1 and window_tokens >= 2, got {windows}, {window_tokens}"
        )
    stride = n_tokens // windows
    if stride < window_tokens:
        raise ValueError(
            f"window_starts: the text has {n_tokens} tokens, too few for {windows} non-overlapping windows "
            f"of {window_tokens} tokens"
        )
    return [k * stride for k in range(windows)]


def evaluation_windows(
    tokenizer: Any,
    texts: Sequence[str] = TEXTS_FOR_PERPLEXITY,
    *,
    windows_per_text: int = WINDOWS_PER_TEXT,
    window_tokens: int = WINDOW_TOKENS,
) -> tuple[torch.Tensor, list[tuple[str, int]]]:
    """The token windows of the :func:`perplexity_windows` protocol, as a ``(windows, window_tokens)`` batch.

    ``texts`` are names for :func:`qlab.models.text.load_text`. Returns the batch
    and, for each row, ``(text name, start token)``.
    """
    rows, where = [], []
    for name in texts:
        ids = torch.as_tensor(
            tokenizer(load_text(name), add_special_tokens=False)["input_ids"], dtype=torch.long
        )
        for start in window_starts(ids.numel(), windows_per_text, window_tokens):
            rows.append(ids[start : start + window_tokens])
            where.append((name, start))
    return torch.stack(rows), where


@torch.no_grad()
def window_nll(model: Any, batch: torch.Tensor, *, batch_windows: int = 4) -> np.ndarray:
    """Mean next-token NLL (nats) of each row of ``batch``, as float64; rows are independent windows.

    Windows go through the model ``batch_windows`` at a time (the logits of one
    256-token window of a 49k-token vocabulary take 50 MB).
    """
    batch = torch.as_tensor(batch, dtype=torch.long)
    if batch.ndim != 2 or batch.shape[1] < 2:
        raise ValueError(f"window_nll: need a (windows, tokens >= 2) batch, got shape {tuple(batch.shape)}")
    out = []
    for chunk in batch.split(batch_windows):
        logits = at_least_float32(_logits(model, chunk))
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1), reduction="none"
        )
        out.append(nll.view(chunk.shape[0], -1).double().mean(dim=1))
    return torch.cat(out).numpy()


def _bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` indices of windows drawn with replacement; the same for the same (n, n_boot, seed)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PerplexityResult:
    """Perplexity over independent windows, with a bootstrap interval over the windows.

    ``per_window_nll`` is each window's mean NLL per predicted token (nats), so
    ``ppl == exp(mean(per_window_nll))`` (every window predicts the same number of
    tokens); ``n_tokens`` is the number of predictions in all.
    """

    ppl: float
    low: float
    high: float
    per_window_nll: np.ndarray = field(repr=False)
    n_tokens: int
    confidence: float = CONFIDENCE
    windows: tuple[tuple[str, int], ...] = field(default=(), repr=False)

    @classmethod
    def from_window_nll(
        cls,
        per_window_nll: Any,
        tokens_per_window: int,
        *,
        n_boot: int = N_BOOT,
        seed: int = 0,
        confidence: float = CONFIDENCE,
        windows: Sequence[tuple[str, int]] = (),
    ) -> PerplexityResult:
        nll = np.asarray(per_window_nll, dtype=np.float64).ravel()
        if nll.size < 2 or not np.isfinite(nll).all():
            raise ValueError(f"PerplexityResult: need >= 2 finite per-window NLLs, got {nll.size}")
        boot = np.exp(nll[_bootstrap_indices(nll.size, n_boot, seed)].mean(axis=1))
        low, high = _interval(boot, confidence)
        return cls(
            ppl=float(np.exp(nll.mean())),
            low=low,
            high=high,
            per_window_nll=nll,
            n_tokens=int(nll.size * tokens_per_window),
            confidence=confidence,
            windows=tuple(windows),
        )


def perplexity_windows(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str] = TEXTS_FOR_PERPLEXITY,
    *,
    windows_per_text: int = WINDOWS_PER_TEXT,
    window_tokens: int = WINDOW_TOKENS,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> PerplexityResult:
    """Perplexity of ``model`` with a bootstrap interval (protocol in the module docstring).

    Default: 6 windows of 256 tokens from each shipped text, 3,060 predictions;
    12 forward passes of 256 tokens (six times the quick :func:`perplexity`).
    """
    batch, where = evaluation_windows(
        tokenizer, texts, windows_per_text=windows_per_text, window_tokens=window_tokens
    )
    return PerplexityResult.from_window_nll(
        window_nll(model, batch),
        window_tokens - 1,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        windows=where,
    )


@dataclass(frozen=True)
class PairedDifference:
    """``log(ppl_a / ppl_b)`` over the same windows, with a paired bootstrap interval.

    ``ratio`` is ``ppl_a / ppl_b``; ``percent`` the change of ``a`` relative to
    ``b`` in percent (``+7.0`` = 7 % higher perplexity), with ``percent_low`` /
    ``percent_high`` the interval's ends. ``significant``: the interval excludes 0.
    """

    log_ratio: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    @property
    def ratio(self) -> float:
        return math.exp(self.log_ratio)

    @property
    def percent(self) -> float:
        return 100 * math.expm1(self.log_ratio)

    @property
    def percent_low(self) -> float:
        return 100 * math.expm1(self.low)

    @property
    def percent_high(self) -> float:
        return 100 * math.expm1(self.high)

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_difference(
    a: PerplexityResult,
    b: PerplexityResult,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """Paired bootstrap of ``log(ppl_a / ppl_b)`` over the windows both were measured on.

    Each resample draws windows with replacement and takes the mean of the
    per-window NLL differences ``a - b``: the difficulty of a window, which
    dominates :attr:`PerplexityResult.low`/``high``, cancels.
    """
    da, db = np.asarray(a.per_window_nll, np.float64), np.asarray(b.per_window_nll, np.float64)
    if da.shape != db.shape or (a.windows and b.windows and a.windows != b.windows):
        raise ValueError(
            "paired_difference: both results must come from the same windows "
            f"(got {da.size} and {db.size} windows)"
        )
    diff = da - db
    boot = diff[_bootstrap_indices(diff.size, n_boot, seed)].mean(axis=1)
    low, high = _interval(boot, confidence)
    return PairedDifference(float(diff.mean()), low, high, confidence)


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

    qlab's quantized layers keep their codes and scales in buffers; they report them
    through a ``weight_storage_bytes()`` method, and those buffers are counted once, there.
    """
    quantized = [m for m in model.modules() if hasattr(m, "weight_storage_bytes")]
    own = {id(b) for m in quantized for b in m.buffers(recurse=False)}  # counted by weight_storage_bytes()
    seen: dict[int, int] = {}
    for t in list(model.parameters()) + [b for b in model.buffers() if id(b) not in own]:
        seen[t.data_ptr()] = t.numel() * t.element_size()
    extra = sum(m.weight_storage_bytes() for m in quantized)
    return sum(seen.values()) + extra
