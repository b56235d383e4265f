"""Quality metrics on tiny models whose answers are known in advance."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from qlab.models.evaluate import (
    embedding_agreement,
    encode,
    model_footprint_bytes,
    nearest_neighbours,
    perplexity,
    perplexity_from_ids,
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
