"""``qlab compare``: every weight format on a real model, one table.

For each format in :data:`qlab.models.quantize.FORMATS` the model's Linear
weights are quantized (:func:`qlab.models.quantize.quantize_model`) and the
result is measured against the fp32 model:

* **bits/param**: stored bits of the quantized weights (codes + scales) divided
  by their number -- measured from the bytes actually stored, so the scales'
  overhead shows (per-tensor INT8: 8.00; NF4 in blocks of 64: 4.50; with
  double quantization 4.13, QLoRA §3);
* **model MB**: bytes of the whole model as stored (embeddings stay fp32);
* **weight SQNR**: 10 log10(sum W^2 / sum (W - W_hat)^2) over all quantized weights;
* **quality**: MiniLM (default) -- mean cosine similarity of sentence embeddings
  to fp32 and nearest-neighbour agreement on real sentences; SmolLM2 --
  perplexity on real held-out prose (protocol in :mod:`qlab.models.evaluate`);
* **time**: seconds to quantize and evaluate that format.

The same runs from Python (:func:`run_compare` returns the rows) and from the
shell: ``python -m qlab compare [--model smollm2] [--lang tr] [--plot FILE]``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .i18n import add_messages, check_lang, format_number, t

MODELS = ("minilm", "smollm2")

add_messages(
    {
        "compare.title.minilm": {
            "en": "Quantization of {model}: {n} sentences, compared with fp32",
            "tr": "{model} nicemleme karşılaştırması: {n} cümle, fp32 ile kıyaslandı",
        },
        "compare.title.smollm2": {
            "en": "Quantization of {model}: perplexity on {tokens} tokens of real text",
            "tr": "{model} nicemleme karşılaştırması: gerçek metnin {tokens} belirteci üzerinde perplexity",
        },
        "compare.col.format": {"en": "format", "tr": "biçim"},
        "compare.col.bits": {"en": "bits/param", "tr": "parametre başına bit"},
        "compare.col.mb": {"en": "model MB", "tr": "model (MB)"},
        "compare.col.sqnr": {"en": "weight SQNR dB", "tr": "ağırlık SQNR (dB)"},
        "compare.col.cosine": {"en": "mean cosine", "tr": "ort. kosinüs"},
        "compare.col.nn": {"en": "NN agreement", "tr": "en yakın komşu uyumu"},
        "compare.col.ppl": {"en": "perplexity", "tr": "perplexity (şaşkınlık)"},
        "compare.col.time": {"en": "time s", "tr": "süre (s)"},
        "compare.progress": {"en": "quantizing", "tr": "nicemleniyor"},
        "compare.plot.title": {
            "en": "Quality vs. storage: {model}",
            "tr": "Kalite ve depolama: {model}",
        },
        "compare.plot.xlabel": {
            "en": "(b = bits per parameter, measured)",
            "tr": "(b = parametre başına bit, ölçülen)",
        },
        "compare.plot.ylabel.minilm": {
            "en": "mean cosine similarity to fp32",
            "tr": "fp32 ile ortalama kosinüs benzerliği",
        },
        "compare.plot.ylabel.smollm2": {
            "en": "perplexity (lower is better)",
            "tr": "perplexity (düşük olan daha iyi)",
        },
        "compare.note.smollm2": {
            "en": "Note: the fp32 baseline was dequantized from GGUF Q4_1, so it already sits on a 4-bit grid.",
            "tr": "Not: fp32 temel model GGUF Q4_1'den açıldı; ağırlıkları zaten 4 bitlik bir ızgarada duruyor.",
        },
        "compare.saved": {"en": "chart saved to {path}", "tr": "grafik kaydedildi: {path}"},
    }
)


@dataclass
class CompareRow:
    """One line of the table. ``mean_cosine``/``nn_agreement`` for encoders, ``perplexity`` for LMs."""

    format: str
    bits_per_parameter: float
    model_mb: float
    weight_sqnr_db: float
    seconds: float
    mean_cosine: float | None = None
    min_cosine: float | None = None
    nn_agreement: float | None = None
    perplexity: float | None = None


def run_compare(
    model: str = "minilm",
    formats: Sequence[str] | None = None,
    *,
    loaded: Any = None,
    n_sentences: int = 128,
    text: str = "britannica",
    windows: int = 2,
    window_tokens: int = 256,
    progress: bool = True,
    lang: str = "en",
) -> list[CompareRow]:
    """Quantize ``model`` ("minilm" or "smollm2") in every format and measure it. Returns the rows.

    ``loaded`` reuses a :class:`qlab.models.LoadedModel` instead of loading again.
    ``formats`` picks a subset of :data:`qlab.models.quantize.FORMATS` (the fp32
    reference is always computed first, and is a row if listed).
    """
    import torch
    from tqdm.auto import tqdm

    from .models import evaluate as ev
    from .models.loading import load_minilm, load_smollm2
    from .models.quantize import FORMATS, quantize_model
    from .models.text import load_sentences, load_text

    if model not in MODELS:
        raise ValueError(
            f"run_compare: unknown model {model!r}; choose one of {', '.join(map(repr, MODELS))}"
        )
    check_lang(lang)
    names = list(FORMATS) if formats is None else list(formats)
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ValueError(f"run_compare: unknown format(s) {unknown}; choose from {list(FORMATS)}")
    if loaded is None:
        loaded = load_minilm() if model == "minilm" else load_smollm2()

    if model == "minilm":
        sentences = load_sentences(n_sentences)

        def quality(m: torch.nn.Module) -> dict[str, float]:
            return ev.embedding_agreement(reference, ev.encode(m, loaded.tokenizer, sentences))

        reference = ev.encode(loaded.model, loaded.tokenizer, sentences)
    else:
        ids = loaded.tokenizer(load_text(text), add_special_tokens=False)["input_ids"]

        def quality(m: torch.nn.Module) -> dict[str, float]:
            return {
                "perplexity": ev.perplexity_from_ids(m, ids, windows=windows, window_tokens=window_tokens)
            }

    rows = []
    bar = tqdm(names, desc=t("compare.progress", lang), file=sys.stderr, disable=not progress, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        qmodel, report = quantize_model(loaded.model, FORMATS[name])
        with torch.no_grad():
            scores = quality(qmodel)
        rows.append(
            CompareRow(
                format=name,
                bits_per_parameter=report.bits_per_parameter,
                model_mb=ev.model_footprint_bytes(qmodel) / 1e6,
                weight_sqnr_db=report.sqnr_db,
                seconds=time.perf_counter() - start,
                **scores,
            )
        )
        del qmodel
    bar.close()
    return rows


def _columns(rows: list[CompareRow]) -> list[tuple[str, str, int]]:
    """(message key, CompareRow field, decimals) of the columns that have values."""
    cols = [
        ("compare.col.format", "format", 0),
        ("compare.col.bits", "bits_per_parameter", 2),
        ("compare.col.mb", "model_mb", 1),
        ("compare.col.sqnr", "weight_sqnr_db", 1),
    ]
    if rows and rows[0].mean_cosine is not None:
        cols += [("compare.col.cosine", "mean_cosine", 4), ("compare.col.nn", "nn_agreement", 3)]
    if rows and rows[0].perplexity is not None:
        cols += [("compare.col.ppl", "perplexity", 2)]
    return cols + [("compare.col.time", "seconds", 1)]


def _cell(value: Any, digits: int, lang: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if math.isinf(value):
        return "∞"
    return format_number(value, lang, digits, trim=False)


def format_table(rows: list[CompareRow], lang: str = "en", title: str = "") -> str:
    """The rows as an aligned plain-text table, headers and decimals in ``lang``."""
    check_lang(lang)
    cols = _columns(rows)
    header = [t(key, lang) for key, _, _ in cols]
    body = [[_cell(getattr(r, attr), d, lang) for _, attr, d in cols] for r in rows]
    widths = [max(len(x) for x in column) for column in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        )

    out = [title] if title else []
    out += [line(header), "  ".join("-" * w for w in widths)] + [line(b) for b in body]
    return "\n".join(out)


def plot_rows(
    rows: list[CompareRow], path: str, *, model: str = "minilm", lang: str = "en", name: str = ""
) -> None:
    """Save a bar chart of each format's quality, its measured bits/param in the label (Agg, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 0.35 * len(rows) + 1.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y_attr = "mean_cosine" if model == "minilm" else "perplexity"
    values = [getattr(r, y_attr) for r in rows]
    labels = [f"{r.format}  ({format_number(r.bits_per_parameter, lang, 2, trim=False)} b)" for r in rows]
    ax.barh(range(len(rows)), values, color="tab:blue")
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()  # table order, top to bottom
    low, high = min(values), max(values)
    ax.set_xlim(low - 0.1 * (high - low + 1e-9), high + 0.05 * (high - low + 1e-9))  # differences are small
    ax.set_xlabel(t(f"compare.plot.ylabel.{model}", lang))
    ax.set_title(t("compare.plot.title", lang, model=name or model) + "\n" + t("compare.plot.xlabel", lang))
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m qlab compare``."""
    import argparse

    from .models.quantize import FORMATS

    parser = argparse.ArgumentParser(
        prog="qlab compare", description="Quantize a real model in every format and compare with fp32."
    )
    parser.add_argument("--model", choices=MODELS, default="minilm")
    parser.add_argument("--lang", choices=("en", "tr"), default="en")
    parser.add_argument("--plot", metavar="FILE", help="save a chart (PNG, SVG, PDF by extension)")
    parser.add_argument("--formats", help=f"comma-separated subset of: {', '.join(FORMATS)}")
    parser.add_argument("--sentences", type=int, default=128, help="MiniLM: number of sentences (2..256)")
    parser.add_argument("--text", choices=("britannica", "hamlet"), default="britannica", help="SmolLM2 text")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)
    if not 2 <= args.sentences <= 256:
        parser.error(f"--sentences must be between 2 and 256 (the shipped sentences), got {args.sentences}")
    unknown = [f for f in (args.formats or "").split(",") if f and f not in FORMATS]
    if unknown:
        parser.error(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")

    from .models.loading import load_minilm, load_smollm2

    loaded = load_minilm() if args.model == "minilm" else load_smollm2(verbose=False)
    if args.model == "smollm2":
        print(t("compare.note.smollm2", args.lang))
    formats = args.formats.split(",") if args.formats else None
    rows = run_compare(
        args.model,
        formats,
        loaded=loaded,
        n_sentences=args.sentences,
        text=args.text,
        progress=not args.no_progress,
        lang=args.lang,
    )
    if args.model == "minilm":
        title = t("compare.title.minilm", args.lang, model=loaded.name, n=args.sentences)
    else:
        title = t("compare.title.smollm2", args.lang, model=loaded.name, tokens=2 * 256)
    print(format_table(rows, args.lang, title))
    if args.plot:
        plot_rows(rows, args.plot, model=args.model, lang=args.lang, name=loaded.name)
        print(t("compare.saved", args.lang, path=args.plot))
    return 0
