"""Quality metrics on tiny models whose answers are known in advance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from qlab.models.evaluate import (
    PerplexityResult,
    embedding_agreement,
    encode,
    evaluation_windows,
    model_footprint_bytes,
    nearest_neighbours,
    paired_difference,
    perplexity,
    perplexity_from_ids,
    perplexity_windows,
    window_nll,
    window_starts,
)
from qlab.models.text import TEXTS, load_sentences, load_text


class UniformLM(nn.Module):
    """Every token equally likely: perplexity must be exactly the vocabulary size."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*input_ids.shape, self.vocab)


class OracleLM(nn.Module):
    """Knows the next token of a counting sequence (t -> t+1 mod V) and gives it probability p."""

    def __init__(self, vocab: int, p: float) -> None:
        super().__init__()
        self.vocab, self.p = vocab, p

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        rest = (1 - self.p) / (self.vocab - 1)
        probs = torch.full((*input_ids.shape, self.vocab), rest)
        probs.scatter_(-1, ((input_ids + 1) % self.vocab).unsqueeze(-1), self.p)
        return probs.log()


@pytest.mark.parametrize("vocab", [2, 50, 49152])
def test_uniform_model_has_perplexity_vocab_size(vocab):
    ids = torch.randint(0, vocab, (600,), generator=torch.Generator().manual_seed(0))
    assert perplexity_from_ids(UniformLM(vocab), ids) == pytest.approx(vocab, rel=1e-5)


def test_oracle_perplexity_is_one_over_p():
    ids = torch.arange(600) % 7
    assert perplexity_from_ids(OracleLM(7, 0.5), ids, windows=3, window_tokens=100) == pytest.approx(
        2.0, rel=1e-5
    )


def test_windows_are_independent_and_only_the_first_are_used():
    ids = torch.arange(1000) % 7
    ids[512:] = 0  # beyond 2 x 256: must not matter
    assert perplexity_from_ids(OracleLM(7, 0.25), ids) == pytest.approx(4.0, rel=1e-5)


def test_perplexity_rejects_short_text_and_bad_windows():
    with pytest.raises(ValueError, match="fewer than windows x window_tokens = 512"):
        perplexity_from_ids(UniformLM(5), torch.zeros(100, dtype=torch.long))
    with pytest.raises(ValueError, match="window_tokens >= 2"):
        perplexity_from_ids(UniformLM(5), torch.zeros(100, dtype=torch.long), window_tokens=1)


def test_perplexity_with_a_tokenizer_uses_the_shipped_text():
    class CharTokenizer:
        def __call__(self, text, add_special_tokens=False):
            assert not add_special_tokens
            return {"input_ids": [ord(c) % 97 for c in text]}

    assert perplexity(UniformLM(97), CharTokenizer()) == pytest.approx(97, rel=1e-5)


def test_identical_embeddings_agree_fully():
    e = torch.nn.functional.normalize(torch.randn(20, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    assert embedding_agreement(e, e.clone()) == pytest.approx(
        {"mean_cosine": 1.0, "min_cosine": 1.0, "nn_agreement": 1.0}, abs=1e-6
    )


def test_nearest_neighbour_agreement_counts_changed_neighbours():
    ref = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert nearest_neighbours(ref).tolist() == [1, 0, 3, 2]
    test = ref.clone()
    test[1] = torch.tensor([0.2, 0.8])  # sentence 1 moves next to 3; 3 still prefers 2
    assert nearest_neighbours(test).tolist() == [1, 3, 3, 2]
    result = embedding_agreement(ref, test)
    assert result["nn_agreement"] == 0.75  # only sentence 1 changed its neighbour
    assert result["min_cosine"] == pytest.approx(
        torch.nn.functional.cosine_similarity(ref[1], test[1], dim=0).item()
    )


def test_embedding_agreement_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        embedding_agreement(torch.ones(3, 4), torch.ones(3, 5))


def test_footprint_counts_tied_tensors_once():
    lin = nn.Linear(4, 3)
    assert model_footprint_bytes(lin) == (12 + 3) * 4
    tied = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    tied[1].weight = tied[0].weight
    assert model_footprint_bytes(tied) == 40 * 4


def test_shipped_text_is_real_and_small():
    for name in TEXTS:
        assert len(load_text(name)) > 50_000
    assert "Stratford" in load_text()[:500]
    sentences = load_sentences()
    assert len(sentences) == 256 == len(set(sentences))
    assert all(8 <= len(s.split()) <= 40 for s in sentences)
    assert load_sentences(5) == sentences[:5]
    with pytest.raises(ValueError, match="unknown text"):
        load_text("wikitext")
    with pytest.raises(ValueError, match="n must be an integer"):
        load_sentences(1)


@pytest.mark.slow
def test_encode_matches_per_sentence_mean_pooling():
    from qlab.models.loading import load_minilm

    loaded = load_minilm()
    sentences = load_sentences(6)
    batched = encode(loaded.model, loaded.tokenizer, sentences, batch_size=4)
    assert torch.allclose(batched.norm(dim=1), torch.ones(6), atol=1e-6)
    for i in (0, 5):  # one sentence alone: no padding, plain mean over its tokens
        tokens = loaded.tokenizer(sentences[i], return_tensors="pt")
        with torch.no_grad():
            hidden = loaded.model(**tokens).last_hidden_state[0]
        alone = torch.nn.functional.normalize(hidden.mean(dim=0), dim=0)
        assert torch.allclose(batched[i], alone, atol=1e-5)
    # real sentences about the same subject are related, but not identical
    sims = batched @ batched.T
    assert 0.0 < sims[0, 1:].max().item() < 0.99
    assert math.isclose(sims[0, 0].item(), 1.0, abs_tol=1e-5)


# --- windows over both texts, bootstrap intervals, paired differences ----------------


class CharTokenizer:
    """One token per character (mod 97): enough tokens in each shipped text for any protocol."""

    def __call__(self, text, add_special_tokens=False):
        assert not add_special_tokens
        return {"input_ids": [ord(c) % 97 for c in text]}


def test_window_starts_are_spread_and_disjoint():
    assert window_starts(1000, 4, 100) == [0, 250, 500, 750]
    starts = window_starts(22_374, 6, 256)
    assert starts[0] == 0 and starts[-1] > 22_374 / 2  # the whole text, not just its first pages
    assert all(b - a >= 256 for a, b in zip(starts, starts[1:], strict=False))
    assert starts[-1] + 256 <= 22_374
    with pytest.raises(ValueError, match="too few"):
        window_starts(1000, 5, 256)
    with pytest.raises(ValueError, match="windows >= 1"):
        window_starts(1000, 0, 256)


def test_evaluation_windows_take_six_windows_from_each_text():
    batch, where = evaluation_windows(CharTokenizer())
    assert batch.shape == (12, 256) and batch.dtype == torch.long
    assert [name for name, _ in where] == ["britannica"] * 6 + ["hamlet"] * 6
    hamlet = torch.tensor(CharTokenizer()(load_text("hamlet"))["input_ids"])
    _, start = where[8]
    assert torch.equal(batch[8], hamlet[start : start + 256])


def test_window_nll_of_known_models():
    ids = (torch.arange(12 * 64) % 7).view(12, 64)
    nll = window_nll(OracleLM(7, 0.25), ids, batch_windows=5)  # chunks of 5, 5, 2
    assert nll.shape == (12,) and nll.dtype == np.float64
    np.testing.assert_allclose(nll, math.log(4), rtol=1e-6)
    np.testing.assert_allclose(window_nll(UniformLM(50), ids), math.log(50), rtol=1e-6)
    with pytest.raises(ValueError, match="tokens >= 2"):
        window_nll(UniformLM(5), torch.zeros(3, 1, dtype=torch.long))


def test_perplexity_windows_protocol():
    result = perplexity_windows(UniformLM(97), CharTokenizer())
    assert result.ppl == pytest.approx(97, rel=1e-5)
    assert result.low == pytest.approx(97, rel=1e-5) and result.high == pytest.approx(97, rel=1e-5)
    assert result.n_tokens == 12 * 255 and len(result.windows) == 12
    assert result.per_window_nll.shape == (12,)


def test_bootstrap_interval_is_deterministic_and_brackets_the_estimate():
    nll = np.random.default_rng(0).normal(3.0, 0.3, size=12)  # windows of unequal difficulty
    a = PerplexityResult.from_window_nll(nll, 255)
    assert a.ppl == pytest.approx(math.exp(nll.mean()))
    assert a.low < a.ppl < a.high
    again = PerplexityResult.from_window_nll(nll.copy(), 255)
    assert (again.low, again.high) == (a.low, a.high)  # seeded
    other = PerplexityResult.from_window_nll(nll, 255, seed=1)
    assert other.low != a.low and other.low == pytest.approx(a.low, rel=0.02)
    # more confidence, wider interval
    wide = PerplexityResult.from_window_nll(nll, 255, confidence=0.99)
    assert wide.low < a.low and wide.high > a.high
    with pytest.raises(ValueError, match="finite"):
        PerplexityResult.from_window_nll([3.0], 255)


def test_paired_difference_cancels_window_difficulty():
    rng = np.random.default_rng(1)
    base = rng.normal(3.0, 0.3, size=12)  # difficulty varies a lot between windows
    shift = 0.02 + rng.normal(0, 0.002, size=12)  # format b is consistently ~2 % worse
    a = PerplexityResult.from_window_nll(base, 255)
    b = PerplexityResult.from_window_nll(base + shift, 255)
    # the independent intervals overlap almost entirely ...
    assert b.low < a.ppl < b.high and a.low < b.ppl < a.high
    # ... but the paired difference is clearly not 0
    d = paired_difference(b, a)
    assert d.significant and d.low > 0.015 and d.high < 0.025
    assert d.log_ratio == pytest.approx(shift.mean())
    assert d.ratio == pytest.approx(b.ppl / a.ppl)
    assert d.percent == pytest.approx(100 * (b.ppl / a.ppl - 1))
    assert d.percent_low < d.percent < d.percent_high
    # antisymmetric, and a result against itself is exactly 0
    r = paired_difference(a, b)
    assert (r.low, r.high) == pytest.approx((-d.high, -d.low)) and r.high < 0 and r.significant
    same = paired_difference(a, a)
    assert (same.log_ratio, same.low, same.high, same.significant) == (0.0, 0.0, 0.0, False)


def test_paired_difference_of_noise_is_not_significant():
    rng = np.random.default_rng(2)
    base = rng.normal(3.0, 0.3, size=12)
    noise = rng.normal(0, 0.01, size=12)
    noise -= noise.mean()  # no systematic difference at all
    d = paired_difference(
        PerplexityResult.from_window_nll(base + noise, 255), PerplexityResult.from_window_nll(base, 255)
    )
    assert not d.significant and d.low < 0 < d.high


def test_paired_difference_needs_the_same_windows():
    a = PerplexityResult.from_window_nll(
        np.full(12, 3.0), 255, windows=[("britannica", i) for i in range(12)]
    )
    b = PerplexityResult.from_window_nll(np.full(10, 3.0), 255)
    c = PerplexityResult.from_window_nll(np.full(12, 3.0), 255, windows=[("hamlet", i) for i in range(12)])
    for other in (b, c):
        with pytest.raises(ValueError, match="same windows"):
            paired_difference(a, other)
