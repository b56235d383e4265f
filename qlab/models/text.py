"""The real English text qlab evaluates models on (shipped in ``qlab/data``, see ``SOURCES.md``).

Perplexity must be measured on held-out, human-written text -- never on text the
model generated itself, which only measures its agreement with itself.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

TEXTS: dict[str, str] = {
    "britannica": "en_britannica1911_shakespeare.txt",  # Encyclopaedia Britannica 1911, prose
    "hamlet": "en_hamlet_acts1-2.txt",  # Shakespeare, Hamlet Acts I-II, verse drama
}
SENTENCES_FILE = "en_sentences.txt"


def load_text(name: str = "britannica") -> str:
    """One of the shipped texts by name: ``"britannica"`` (default) or ``"hamlet"``."""
    if name not in TEXTS:
        raise ValueError(f"load_text: unknown text {name!r}; choose one of {', '.join(map(repr, TEXTS))}")
    return (DATA_DIR / TEXTS[name]).read_text(encoding="utf-8")


def load_sentences(n: int | None = None) -> list[str]:
    """Real English sentences (256 shipped, one per line), the first ``n`` of them if given."""
    sentences = [s for s in (DATA_DIR / SENTENCES_FILE).read_text(encoding="utf-8").splitlines() if s]
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= len(sentences):
            raise ValueError(f"load_sentences: n must be an integer in [2, {len(sentences)}], got {n!r}")
        sentences = sentences[:n]
    return sentences
