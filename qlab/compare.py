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
  perplexity on 12 windows of 256 tokens of real text (6 from the Britannica
  article, 6 from *Hamlet*; protocol in :mod:`qlab.models.evaluate`) with a 95 %
  bootstrap interval over the windows, and the change vs fp32 with a *paired*
  bootstrap 95 % interval over the same windows (marked ``*`` when it excludes
  0: only those differences are claims);
* **time**: seconds to quantize and evaluate that format.

The same runs from Python (:func:`run_compare` returns the rows) and from the
shell: ``python -m qlab compare [--model smollm2] [--lang tr] [--plot FILE] [--json FILE]``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
            "en": "Quantization of {model}: perplexity on {windows} windows of {width} tokens of real text "
            "({tokens} tokens)",
            "tr": "{model} nicemleme karşılaştırması: gerçek metinden {width} token uzunluğunda {windows} "
            "pencere ({tokens} token) üzerinde şaşkınlık (perplexity)",
        },
        "compare.col.interval": {"en": "95 % interval", "tr": "%95 aralık"},
        "compare.col.vs_fp32": {
            "en": "vs fp32 % [paired 95 %]",
            "tr": "fp32'ye göre % fark [eşleştirilmiş %95]",
        },
        "compare.reference": {"en": "reference", "tr": "referans"},
        "compare.legend.smollm2": {
            "en": "perplexity = exp(mean next-token NLL) over the windows ({texts}). 95 % interval: "
            "bootstrap over the windows ({n_boot} resamples, seed {seed}). vs fp32: change of perplexity "
            "in percent, with the paired bootstrap 95 % interval over the same windows; * = the interval "
            "excludes 0 (a measurable difference); without * the format is within the noise of fp32.",
            "tr": "şaşkınlık = exp(pencerelerde sonraki tokenin ortalama negatif log-olabilirliği); pencereler: "
            "{texts}. %95 aralık: pencereler üzerinden yeniden örnekleme (bootstrap; {n_boot} yeniden "
            "örneklem, tohum {seed}). fp32'ye göre % fark: şaşkınlıktaki yüzde değişim ve aynı pencereler "
            "üzerinde eşleştirilmiş yeniden örneklemeyle %95 aralığı; * = aralık 0'ı içermiyor (ölçülebilir "
            "bir fark); * yoksa biçim fp32'nin gürültüsü içinde kalıyor.",
        },
        "compare.texts": {
            "en": "{n} from the Britannica article, {m} from Hamlet",
            "tr": "{n} tanesi Britannica makalesinden, {m} tanesi Hamlet'ten",
        },
        "compare.col.format": {"en": "format", "tr": "biçim"},
        "compare.col.bits": {"en": "bits/param", "tr": "parametre başına bit"},
        "compare.col.mb": {"en": "model MB", "tr": "model (MB)"},
        "compare.col.sqnr": {"en": "weight SQNR dB", "tr": "ağırlık SQNR (dB)"},
        "compare.col.cosine": {"en": "mean cosine", "tr": "ort. kosinüs"},
        "compare.col.nn": {"en": "NN agreement", "tr": "en yakın komşu uyumu"},
        "compare.col.ppl": {"en": "perplexity", "tr": "şaşkınlık"},
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
            "en": "perplexity with 95 % bootstrap interval (lower is better)",
            "tr": "şaşkınlık ve %95 bootstrap aralığı (düşük olan daha iyi)",
        },
        "compare.note.smollm2": {
            "en": "Note: the fp32 baseline was dequantized from GGUF Q4_1, so it already sits on a 4-bit grid.",
            "tr": "Not: fp32 temel model GGUF Q4_1'den ters nicemlenerek elde edildi; ağırlıkları zaten 4 "
            "bitlik bir ızgarada duruyor.",
        },
        "compare.saved.json": {"en": "rows saved to {path}", "tr": "satırlar kaydedildi: {path}"},
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
    perplexity_low: float | None = None  # 95 % bootstrap interval over windows
    perplexity_high: float | None = None
    vs_fp32_percent: float | None = None  # change of perplexity vs fp32, paired over the same windows
    vs_fp32_low: float | None = None  # paired bootstrap 95 % interval of that change (percent)
    vs_fp32_high: float | None = None
    per_window_nll: list[float] | None = None  # mean NLL of each window (nats), for further analysis

    @property
    def significant(self) -> bool | None:
        """SmolLM2: whether the paired interval vs fp32 excludes 0 (``None`` for MiniLM)."""
        if self.vs_fp32_low is None or self.vs_fp32_high is None:
            return None
        return self.vs_fp32_low > 0 or self.vs_fp32_high < 0


def run_compare(
    model: str = "minilm",
    formats: Sequence[str] | None = None,
    *,
    loaded: Any = None,
    n_sentences: int = 128,
    text: str = "both",
    windows_per_text: int | None = None,
    window_tokens: int | None = None,
    n_boot: int | None = None,
    seed: int = 0,
    progress: bool = True,
    lang: str = "en",
) -> list[CompareRow]:
    """Quantize ``model`` ("minilm" or "smollm2") in every format and measure it. Returns the rows.

    ``loaded`` reuses a :class:`qlab.models.LoadedModel` instead of loading again.
    ``formats`` picks a subset of :data:`qlab.models.quantize.FORMATS` (the fp32
    reference is always computed first, and is a row if listed). SmolLM2:
    ``text`` is ``"both"`` (the protocol) or one text's name; ``windows_per_text``,
    ``window_tokens``, ``n_boot`` default to :mod:`qlab.models.evaluate`'s protocol.
    """
    import torch
    from tqdm.auto import tqdm

    from .models import evaluate as ev
    from .models.loading import load_minilm, load_smollm2
    from .models.quantize import FORMATS, quantize_model
    from .models.text import load_sentences

    windows_per_text = ev.WINDOWS_PER_TEXT if windows_per_text is None else windows_per_text
    window_tokens = ev.WINDOW_TOKENS if window_tokens is None else window_tokens
    n_boot = ev.N_BOOT if n_boot is None else n_boot
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

    reference_seconds = 0.0  # SmolLM2: the fp32 row reuses the reference measurement and its time
    if model == "minilm":
        sentences = load_sentences(n_sentences)

        def quality(m: torch.nn.Module) -> dict[str, Any]:
            return ev.embedding_agreement(reference, ev.encode(m, loaded.tokenizer, sentences))

        reference = ev.encode(loaded.model, loaded.tokenizer, sentences)
    else:
        texts = ev.TEXTS_FOR_PERPLEXITY if text == "both" else (text,)
        batch, where = ev.evaluation_windows(
            loaded.tokenizer, texts, windows_per_text=windows_per_text, window_tokens=window_tokens
        )

        def measure(m: torch.nn.Module) -> ev.PerplexityResult:
            return ev.PerplexityResult.from_window_nll(
                ev.window_nll(m, batch), window_tokens - 1, n_boot=n_boot, seed=seed, windows=where
            )

        def quality(m: torch.nn.Module) -> dict[str, Any]:
            result = reference if m is loaded.model else measure(m)
            diff = ev.paired_difference(result, reference, n_boot=n_boot, seed=seed)
            return {
                "perplexity": result.ppl,
                "perplexity_low": result.low,
                "perplexity_high": result.high,
                "vs_fp32_percent": diff.percent,
                "vs_fp32_low": diff.percent_low,
                "vs_fp32_high": diff.percent_high,
                "per_window_nll": result.per_window_nll.tolist(),
            }

        start = time.perf_counter()
        with torch.no_grad():
            reference = measure(loaded.model)
        reference_seconds = time.perf_counter() - start

    rows = []
    bar = tqdm(names, desc=t("compare.progress", lang), file=sys.stderr, disable=not progress, leave=False)
    for name in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        qmodel, report = quantize_model(loaded.model, FORMATS[name], inplace=FORMATS[name].method == "none")
        with torch.no_grad():
            scores = quality(qmodel)
        rows.append(
            CompareRow(
                format=name,
                bits_per_parameter=report.bits_per_parameter,
                model_mb=ev.model_footprint_bytes(qmodel) / 1e6,
                weight_sqnr_db=report.sqnr_db,
                seconds=time.perf_counter() - start + (reference_seconds if qmodel is loaded.model else 0.0),
                **scores,
            )
        )
        del qmodel
    bar.close()
    return rows


def _signed(x: float, lang: str, digits: int) -> str:
    """``x`` with its sign always written (``+0.12``, ``-3.40``), in ``lang``'s decimals."""
    return ("-" if x < 0 else "+") + format_number(abs(x), lang, digits, trim=False)


def _interval_cell(row: CompareRow, lang: str) -> str:
    if row.perplexity_low is None or row.perplexity_high is None:
        return ""
    sep = "; " if lang == "tr" else ", "
    return f"[{format_number(row.perplexity_low, lang, 2, trim=False)}{sep}{format_number(row.perplexity_high, lang, 2, trim=False)}]"


def _vs_fp32_cell(row: CompareRow, lang: str) -> str:
    if row.vs_fp32_percent is None or row.vs_fp32_low is None or row.vs_fp32_high is None:
        return ""
    if row.vs_fp32_low == row.vs_fp32_high == 0:
        return t("compare.reference", lang)
    sep = "; " if lang == "tr" else ", "
    mark = " *" if row.significant else "  "
    return (
        f"{_signed(row.vs_fp32_percent, lang, 2)} "
        f"[{_signed(row.vs_fp32_low, lang, 2)}{sep}{_signed(row.vs_fp32_high, lang, 2)}]{mark}"
    )


def _columns(rows: list[CompareRow]) -> list[tuple[str, Any]]:
    """(message key, cell function ``(row, lang) -> str``) of the columns that have values."""

    def number(attr: str, digits: int):
        return lambda row, lang: _cell(getattr(row, attr), digits, lang)

    cols: list[tuple[str, Any]] = [
        ("compare.col.format", lambda row, lang: row.format),
        ("compare.col.bits", number("bits_per_parameter", 2)),
        ("compare.col.mb", number("model_mb", 1)),
        ("compare.col.sqnr", number("weight_sqnr_db", 1)),
    ]
    if rows and rows[0].mean_cosine is not None:
        cols += [
            ("compare.col.cosine", number("mean_cosine", 4)),
            ("compare.col.nn", number("nn_agreement", 3)),
        ]
    if rows and rows[0].perplexity is not None:
        cols += [("compare.col.ppl", number("perplexity", 2))]
        if rows[0].perplexity_low is not None:
            cols += [("compare.col.interval", _interval_cell), ("compare.col.vs_fp32", _vs_fp32_cell)]
    return cols + [("compare.col.time", number("seconds", 1))]


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
    header = [t(key, lang) for key, _ in cols]
    body = [[cell(r, lang) for _, cell in cols] for r in rows]
    widths = [max(len(x) for x in column) for column in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0])] + [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        )

    out = [title] if title else []
    out += [line(header), "  ".join("-" * w for w in widths)] + [line(b) for b in body]
    return "\n".join(out)


def smollm2_legend(lang: str = "en", *, windows_per_text: int | None = None, seed: int = 0) -> str:
    """The sentence under the SmolLM2 table that says what the interval columns mean."""
    from .models import evaluate as ev

    n = ev.WINDOWS_PER_TEXT if windows_per_text is None else windows_per_text
    return t(
        "compare.legend.smollm2",
        lang,
        texts=t("compare.texts", lang, n=n, m=n),
        n_boot=format_number(ev.N_BOOT, lang, 0),
        seed=seed,
    )


def plot_rows(
    rows: list[CompareRow], path: str, *, model: str = "minilm", lang: str = "en", name: str = ""
) -> None:
    """Save a bar chart of each format's quality, its measured bits/param in the label (Agg, no pyplot).

    SmolLM2 bars carry their 95 % bootstrap interval as an error bar.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import localize

    fig = Figure(figsize=(7, 0.35 * len(rows) + 1.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    y_attr = "mean_cosine" if model == "minilm" else "perplexity"
    values = [getattr(r, y_attr) for r in rows]
    labels = [f"{r.format}  ({format_number(r.bits_per_parameter, lang, 2, trim=False)} b)" for r in rows]
    xerr = None
    low, high = min(values), max(values)
    if model != "minilm" and all(r.perplexity_low is not None for r in rows):
        xerr = [
            [v - r.perplexity_low for v, r in zip(values, rows, strict=True)],
            [r.perplexity_high - v for v, r in zip(values, rows, strict=True)],
        ]
        low, high = min(r.perplexity_low for r in rows), max(r.perplexity_high for r in rows)
    ax.barh(range(len(rows)), values, xerr=xerr, color="tab:blue", ecolor="0.3", capsize=2)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()  # table order, top to bottom
    ax.set_xlim(low - 0.1 * (high - low + 1e-9), high + 0.05 * (high - low + 1e-9))  # differences are small
    ax.set_xlabel(t(f"compare.plot.ylabel.{model}", lang))
    ax.set_title(t("compare.plot.title", lang, model=name or model) + "\n" + t("compare.plot.xlabel", lang))
    ax.grid(axis="x", alpha=0.3)
    localize(fig, lang)
    fig.savefig(path, dpi=120)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m qlab compare``."""
    import argparse

    from .models import evaluate as ev
    from .models.quantize import FORMATS

    parser = argparse.ArgumentParser(
        prog="qlab compare", description="Quantize a real model in every format and compare with fp32."
    )
    parser.add_argument("--model", choices=MODELS, default="minilm")
    parser.add_argument("--lang", choices=("en", "tr"), default="en")
    parser.add_argument("--plot", metavar="FILE", help="save a chart (PNG, SVG, PDF by extension)")
    parser.add_argument("--json", metavar="FILE", help="save the rows (per-window NLLs included) as JSON")
    parser.add_argument("--formats", help=f"comma-separated subset of: {', '.join(FORMATS)}")
    parser.add_argument("--sentences", type=int, default=128, help="MiniLM: number of sentences (2..256)")
    parser.add_argument(
        "--text",
        choices=("both", "britannica", "hamlet"),
        default="both",
        help="SmolLM2: text(s) the windows come from (default both: the protocol)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=ev.WINDOWS_PER_TEXT,
        help=f"SmolLM2: windows of {ev.WINDOW_TOKENS} tokens per text (default {ev.WINDOWS_PER_TEXT})",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = parser.parse_args(argv)
    if not 2 <= args.sentences <= 256:
        parser.error(f"--sentences must be between 2 and 256 (the shipped sentences), got {args.sentences}")
    if not 1 <= args.windows <= 64 or (args.text != "both" and args.windows < 2):
        parser.error(f"--windows must be between 1 and 64 (at least 2 windows in all), got {args.windows}")
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
        windows_per_text=args.windows,
        progress=not args.no_progress,
        lang=args.lang,
    )
    if args.model == "minilm":
        title = t("compare.title.minilm", args.lang, model=loaded.name, n=args.sentences)
    else:
        n_windows = args.windows * (2 if args.text == "both" else 1)
        title = t(
            "compare.title.smollm2",
            args.lang,
            model=loaded.name,
            windows=n_windows,
            width=ev.WINDOW_TOKENS,
            tokens=format_number(n_windows * ev.WINDOW_TOKENS, args.lang, 0),
        )
    print(format_table(rows, args.lang, title))
    if args.model == "smollm2":
        print(smollm2_legend(args.lang, windows_per_text=args.windows))
    if args.plot:
        plot_rows(rows, args.plot, model=args.model, lang=args.lang, name=loaded.name)
        print(t("compare.saved", args.lang, path=args.plot))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
        print(t("compare.saved.json", args.lang, path=args.json))
    return 0
