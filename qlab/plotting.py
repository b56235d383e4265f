"""Small plotting helpers shared by the course notebooks.

Every helper builds a :class:`matplotlib.figure.Figure` directly -- not through
``pyplot`` -- and returns it. Why:

* A pyplot figure is shown by the inline backend at the end of the cell *and*
  again if the cell ends with the figure, and it is not shown at all when
  ``MPLBACKEND=Agg`` is inherited by the kernel (a CI trap: ``plt.show()`` then
  prints nothing and nbval reports a missing output). A plain ``Figure`` is
  shown exactly once, by ending the cell with it (or ``display(fig)``), as soon
  as the notebook has run ``%matplotlib inline`` (the setup cell of every lesson).
* No global pyplot state: figures made inside a slider callback do not pile up.

Labels are passed in already translated (``t("plot.memory.ylabel", LANG)``);
numbers written on bars follow the notebook's language through ``lang``
(``3,5`` in Turkish). The style is one dictionary, :data:`STYLE`, applied while
the figure is drawn, so all lessons look alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qlab import i18n

STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",  # has every Turkish letter
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}

# Colour-blind-safe palette (Okabe & Ito), one colour per series.
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")

FIGSIZE: tuple[float, float] = (7.0, 4.0)


_SWAP = str.maketrans({".": ",", ",": "."})


class _DecimalCommaFormatter(mticker.ScalarFormatter):
    """matplotlib's default tick formatter, writing ``0,5`` instead of ``0.5`` (Turkish)."""

    def __call__(self, x, pos=None):  # type: ignore[override]
        return super().__call__(x, pos).translate(_SWAP)

    def get_offset(self) -> str:
        return super().get_offset().translate(_SWAP)

    def format_data_short(self, value) -> str:  # type: ignore[override]
        return super().format_data_short(value).translate(_SWAP)


def localize(fig: Figure, lang: str) -> Figure:
    """Write the tick labels of every axes of ``fig`` the way ``lang`` writes numbers; return ``fig``.

    Turkish uses a decimal comma (``0,5``). Only matplotlib's default numeric
    formatters are replaced: category labels, log axes and formatters you set
    yourself (e.g. with :func:`qlab.i18n.format_number`) are left alone. Call it
    on every figure you build yourself; the helpers below call it already.
    """
    i18n.check_lang(lang)
    if lang != "tr":
        return fig
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if type(formatter) is mticker.ScalarFormatter:
                new = _DecimalCommaFormatter(useOffset=formatter.get_useOffset(), useMathText=False)
                axis.set_major_formatter(new)
    return fig


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None):
    """A styled ``(Figure, axes)`` pair, like ``plt.subplots`` but without pyplot."""
    with mpl.rc_context(STYLE):
        fig = Figure(figsize=figsize or FIGSIZE, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


_LINESTYLES = ("--", "-.", ":", (0, (6, 2, 1, 2, 1, 2)))


def _hlines(ax: Axes, lines: Mapping[str, float] | None) -> None:
    for i, (label, y) in enumerate((lines or {}).items()):
        style = _LINESTYLES[i % len(_LINESTYLES)]
        ax.axhline(y, color=("0.15", "0.35", "0.55")[i % 3], linestyle=style, linewidth=1.3, label=label)


def _legend_outside(ax: Axes) -> None:
    # Outside the axes, so it never hides a bar or a line.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def bar_chart(
    categories: Sequence[str],
    values: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str,
    lang: str,
    xlabel: str = "",
    hlines: Mapping[str, float] | None = None,
    log: bool = False,
    digits: int = 1,
) -> Figure:
    """A bar chart; with a mapping ``{series: values}`` a grouped bar chart.

    Each bar is labelled with its value (written per ``lang``); ``hlines``
    draws labelled horizontal reference lines, e.g. ``{"24 GB GPU": 24}``.
    """
    i18n.check_lang(lang)
    series = dict(values) if isinstance(values, Mapping) else {"": values}
    for name, vals in series.items():
        if len(vals) != len(categories):
            raise ValueError(f"series {name!r} has {len(vals)} values for {len(categories)} categories")
    with mpl.rc_context(STYLE):
        fig, ax = new_figure()
        x = np.arange(len(categories))
        width = 0.8 / len(series)
        for i, (name, vals) in enumerate(series.items()):
            offset = (i - (len(series) - 1) / 2) * width
            bars = ax.bar(x + offset, vals, width, label=name or None, color=PALETTE[i % len(PALETTE)])
            ax.bar_label(
                bars,
                labels=[i18n.format_number(v, lang, digits) for v in vals],
                padding=2,
                fontsize=8 if len(series) > 1 else 9,
            )
        _hlines(ax, hlines)
        ax.set_xticks(x, list(categories))
        if log:
            ax.set_yscale("log")
            # plain numbers (10, 100, 1000) in the notebook's language instead of 10², 4×10¹
            ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: i18n.format_number(v, lang, 2)))
            ax.yaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.margins(y=0.15)
        if len(series) > 1 or hlines:
            _legend_outside(ax)
    return localize(fig, lang)


def histogram(
    values: Sequence[float] | np.ndarray,
    *,
    title: str,
    xlabel: str,
    lang: str,
    ylabel: str | None = None,
    bins: int = 60,
    marks: Mapping[str, float] | None = None,
) -> Figure:
    """A histogram of ``values`` with optional labelled vertical marks (e.g. ``{"absmax": 2.7}``)."""
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0 or not np.all(np.isfinite(data)):
        raise ValueError("histogram needs a non-empty array of finite values")
    with mpl.rc_context(STYLE):
        fig, ax = new_figure()
        ax.hist(data, bins=bins, color=PALETTE[0], alpha=0.85)
        for i, (label, x) in enumerate((marks or {}).items()):
            ax.axvline(x, color=PALETTE[(i + 1) % len(PALETTE)], linewidth=1.5, label=label)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel if ylabel is not None else i18n.t("plot.count", lang))
        if marks:
            _legend_outside(ax)
    return localize(fig, lang)


def line_plot(
    x: Sequence[float] | np.ndarray,
    series: Mapping[str, Sequence[float] | np.ndarray],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logy: bool = False,
    marker: str = "o",
    lang: str = "en",
) -> Figure:
    """Several named curves over the same ``x`` (e.g. error versus bits per format).

    Pass the notebook's ``lang`` so that tick labels get decimal commas in Turkish.
    """
    with mpl.rc_context(STYLE):
        fig, ax = new_figure()
        for i, (name, ys) in enumerate(series.items()):
            ax.plot(x, ys, marker=marker, label=name, color=PALETTE[i % len(PALETTE)])
        if logy:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if len(series) > 1:
            _legend_outside(ax)
    return localize(fig, lang)
