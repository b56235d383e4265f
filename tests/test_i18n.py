"""The EN/TR message catalogue and the Turkish-aware helpers."""

from __future__ import annotations

import math
import re
import string

import numpy as np
import pytest

from qlab import i18n
from qlab.i18n import add_messages, fold, format_number, lower, t, upper

MOJIBAKE = re.compile("Ã.|Ä.|Å.|Â.|â€|\ufffd")


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


@pytest.fixture
def scratch():
    before = dict(i18n.MESSAGES)
    yield
    i18n.MESSAGES.clear()
    i18n.MESSAGES.update(before)


@pytest.mark.parametrize("key", sorted(i18n.MESSAGES))
def test_every_message_is_complete(key):
    texts = i18n.MESSAGES[key]
    assert set(texts) == set(i18n.LANGS)
    assert all(texts[lang].strip() for lang in i18n.LANGS)
    assert fields(texts["en"]) == fields(texts["tr"])
    assert not any(MOJIBAKE.search(texts[lang]) for lang in i18n.LANGS)


def test_t_returns_the_language_asked_for():
    assert t("plot.memory.ylabel", "en") == "Weight memory (GB)"
    assert t("plot.memory.ylabel", "tr") == "Ağırlık belleği (GB)"
    assert t("plot.memory.title", "tr", n="7B") == "7B parametreli bir modelin ağırlık belleği"
    assert t("widget.params_billion", "tr") == "Parametre (milyar)"


def test_t_errors_are_clear():
    with pytest.raises(
        KeyError, match=r"no message 'plot\.memory\.ylable'.*did you mean 'plot\.memory\.ylabel'"
    ):
        t("plot.memory.ylable", "en")
    with pytest.raises(ValueError, match="unknown language 'de'; use one of 'en', 'tr'"):
        t("plot.memory.ylabel", "de")
    with pytest.raises(ValueError, match="unknown language"):
        t("plot.memory.ylabel", "TR")
    with pytest.raises(KeyError, match=r"needs the value\(s\) n"):
        t("plot.memory.title", "en")


def test_add_messages(scratch):
    add_messages({"test.hello": {"en": "Hello {name}", "tr": "Merhaba {name}"}})
    assert t("test.hello", "tr", name="Ayşe") == "Merhaba Ayşe"
    add_messages({"test.hello": {"en": "Hello {name}", "tr": "Merhaba {name}"}})  # same text again: fine
    with pytest.raises(ValueError, match="already registered with a different text"):
        add_messages({"test.hello": {"en": "Hi {name}", "tr": "Selam {name}"}})
    with pytest.raises(ValueError, match="no text for tr"):
        add_messages({"test.only_en": {"en": "x"}})
    with pytest.raises(ValueError, match="no text for tr"):
        add_messages({"test.blank_tr": {"en": "x", "tr": "  "}})
    with pytest.raises(ValueError, match="different placeholders"):
        add_messages({"test.drift": {"en": "{gb} GB", "tr": "GB"}})
    with pytest.raises(ValueError, match="unknown languages"):
        add_messages({"test.de": {"en": "x", "tr": "y", "de": "z"}})
    assert "test.only_en" not in i18n.MESSAGES


def test_turkish_case_rules():
    # Python's own rules are wrong for Turkish; these are the ones the course uses.
    assert "İstanbul".lower() != "istanbul"
    assert lower("İSTANBUL", "tr") == "istanbul"
    assert lower("ILIK", "tr") == "ılık"
    assert upper("istanbul", "tr") == "İSTANBUL"
    assert upper("ılık", "tr") == "ILIK"
    assert lower("INT8", "en") == "int8"
    assert upper("nicemleme", "tr") == "NİCEMLEME"


def test_fold_matches_answers_typed_on_either_keyboard():
    assert fold("  INT8 ") == fold("ınt8") == fold("İnt8") == "int8"
    assert fold("Çift   Nicemleme") == "çift nicemleme"


@pytest.mark.parametrize(
    ("x", "lang", "digits", "expected"),
    [
        (1234.5, "en", 2, "1,234.5"),
        (1234.5, "tr", 2, "1.234,5"),
        (400.0, "tr", 2, "400"),
        (3.5, "tr", 1, "3,5"),
        (56.25, "en", 2, "56.25"),
        (2**30 / 1e9, "tr", 4, "1,0737"),
        (-0.0001, "en", 2, "0"),
        (7, "en", 0, "7"),
    ],
)
def test_format_number(x, lang, digits, expected):
    assert format_number(x, lang, digits) == expected


def test_format_number_untrimmed_and_errors():
    assert format_number(3.5, "tr", 2, trim=False) == "3,50"
    with pytest.raises(ValueError, match="finite"):
        format_number(math.nan, "en")
    with pytest.raises(TypeError, match="real number"):
        format_number("3.5", "en")
    with pytest.raises(TypeError, match="real number"):
        format_number(True, "en")
    with pytest.raises(ValueError, match="digits"):
        format_number(1.0, "en", -1)


# --- lists, percentages, Turkish suffixes ---------------------------------------------


def test_format_list_and_percent():
    from qlab.i18n import format_list, format_percent

    assert format_list([-0.17, 24.6], "en") == "[-0.17, 24.6]"
    assert format_list(np.array([[-0.17], [24.6]]), "tr") == "[-0,17; 24,6]"
    assert format_list([25.8, 29.3], "tr", 1, brackets=False) == "25,8; 29,3"
    assert format_percent(50.2, "tr") == "%50,2" and format_percent(50.2, "en") == "50.2 %"
    assert format_percent(-8.1, "tr") == "-%8,1" and format_percent(-8.1, "en") == "-8.1 %"  # sign first


@pytest.mark.parametrize(
    ("value", "pattern", "suffix"),
    [
        (4, "lIk", "'lük"),
        (16, "lIk", "'lık"),
        (64, "lIk", "'lük"),
        (1536, "lIk", "'lık"),
        (1000, "lIk", "'lik"),
        (2_000_000, "lIk", "'luk"),
        (100, "lIk", "'lük"),
        (30, "lIk", "'luk"),
        (4, "DA", "'te"),
        (16, "DA", "'da"),
        (40, "DA", "'ta"),
        (127, "(y)A", "'ye"),
        (4, "(y)A", "'e"),
        (16, "(n)In", "'nın"),
        (4, "(n)In", "'ün"),
        ("39,6875", "DIr", "'tir"),
        (3.2, "(y)A", "'ye"),
        ("%50", "(s)I", "'si"),
        (0, "DAn", "'dan"),
        ("1.536", "lIk", "'lık"),
    ],
)
def test_tr_suffix(value, pattern, suffix):
    from qlab.i18n import tr_suffix

    assert tr_suffix(value, pattern) == suffix


def test_suffix_format_spec_in_messages():
    i18n.add_messages({"test.suffix": {"en": "groups of {g} at {x}", "tr": "{x:'DA} {g:'lIk} gruplar"}})
    assert t("test.suffix", "tr", g=64, x="3,2") == "3,2'de 64'lük gruplar"
    assert t("test.suffix", "en", g=64, x="3.2") == "groups of 64 at 3.2"
    assert t("test.suffix", "en", g=1536, x=f"{0.5:.2f}") == "groups of 1536 at 0.50"


def test_suffix_problems():
    from qlab.i18n import suffix_problems

    good = "64'lük grup, 16'lık, 4'te, 16'da, 127'ye, 3,2'ye, 1536'lık, %50'si, 8'de, 0,0126'lık, 4’ü"
    assert suffix_problems(good) == []
    bad = suffix_problems("64'lık grup; 16'ta; 127'ya; 4’ı")
    assert bad == [
        "64'lık: expected 64'lük",
        "16'ta: expected 16'da",
        "127'ya: expected 127'ye",
        "4’ı: expected 4’ü",
    ]
    assert suffix_problems("qlab'ın, 'Run' menüsü, 5'inci") == []  # not a number, or not a known suffix


def test_localize_writes_decimal_commas():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from qlab.plotting import line_plot, localize, new_figure

    fig = line_plot([0, 0.5, 1.0], {"a": [0.1, 0.2, 0.3]}, title="", xlabel="", ylabel="", lang="tr")
    FigureCanvasAgg(fig).draw()
    labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    assert "0,4" in labels and not any("." in label for label in labels)
    fig, ax = new_figure()
    ax.plot([0, 0.5], [1, 2])
    assert localize(fig, "en") is fig
    FigureCanvasAgg(fig).draw()
    assert "0.4" in [tick.get_text() for tick in ax.get_xticklabels()]
