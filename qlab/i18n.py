"""A tiny English/Turkish message catalogue for the course notebooks.

The course ships every lesson twice (``notebooks/en`` and ``notebooks/tr``) with
*identical* code cells. Code that must show text to a learner -- plot titles,
axis labels, widget labels, exercise hints -- therefore never hard-codes a
language: it asks this catalogue, ``t("plot.memory.title", LANG)``, where
``LANG`` is set by the one language-specific cell at the top of each notebook.

Turkish needs two small helpers besides the catalogue:

* Python's ``str.lower``/``str.upper`` are not Turkish-aware: ``"I".lower()`` is
  ``"i"`` (Turkish: ``"ı"``) and ``"İ".lower()`` is ``"i̇"`` (an ``i`` plus a
  combining dot). :func:`lower` and :func:`upper` get the dotted and
  dotless i right; :func:`fold` compares typed answers in either language.
* Turkish writes decimals with a comma and groups thousands with a dot
  (``3,5 GB``, ``1.234,5``); :func:`format_number` does that.

Lesson authors add their own strings with :func:`add_messages` (each key needs
both languages; re-registering a key with different text is an error).
"""

from __future__ import annotations

import difflib
import math
import re
import string
from collections.abc import Mapping
from numbers import Real

LANGS: tuple[str, ...] = ("en", "tr")
"""Languages of the course, in the order the notebooks list them."""

# key -> {"en": ..., "tr": ...}. Keys are dotted: "<area>.<what>".
MESSAGES: dict[str, dict[str, str]] = {}


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is one of :data:`LANGS`, else raise a ValueError that says what is allowed."""
    if not isinstance(lang, str) or lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(map(repr, LANGS))}")
    return lang


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def add_messages(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Register messages: ``{"key": {"en": "...", "tr": "..."}}``.

    Every key needs a non-empty text in every language, and both languages must
    use the same ``{placeholders}`` (a translation that drops ``{gb}`` would
    fail only when a learner hits it). Registering the same key twice with the
    same text is allowed (modules may be re-imported); with different text it
    is an error, so two lessons cannot silently overwrite each other.
    """
    for key, texts in messages.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"message keys must be non-empty strings, got {key!r}")
        missing = [lang for lang in LANGS if not isinstance(texts.get(lang), str) or not texts[lang].strip()]
        if missing:
            raise ValueError(f"message {key!r} has no text for {', '.join(missing)}")
        extra = sorted(set(texts) - set(LANGS))
        if extra:
            raise ValueError(f"message {key!r} has unknown languages {extra}; allowed: {list(LANGS)}")
        fields = {lang: _placeholders(texts[lang]) for lang in LANGS}
        if len({frozenset(f) for f in fields.values()}) != 1:
            raise ValueError(f"message {key!r} uses different placeholders per language: {fields}")
        new = {lang: texts[lang] for lang in LANGS}
        if key in MESSAGES and MESSAGES[key] != new:
            raise ValueError(f"message {key!r} is already registered with a different text")
        MESSAGES[key] = new


def t(key: str, lang: str, **fmt: object) -> str:
    """The text for ``key`` in ``lang``, with ``{placeholders}`` filled from ``fmt``.

    >>> t("plot.memory.ylabel", "tr")
    'Ağırlık belleği (GB)'
    """
    check_lang(lang)
    if key not in MESSAGES:
        close = difflib.get_close_matches(key, MESSAGES, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no message {key!r} in qlab.i18n{hint} (add it with qlab.i18n.add_messages)")
    text = MESSAGES[key][lang]
    needed = _placeholders(text)
    missing = sorted(needed - set(fmt))
    if missing:
        raise KeyError(f"message {key!r} needs the value(s) {', '.join(missing)}: t({key!r}, lang, ...)")
    if not needed:
        return text
    # Wrapped values understand suffix specs such as {g:'lIk} (see tr_suffix).
    return text.format(**{name: _Localized(value) for name, value in fmt.items()})


# --- Turkish-aware case and numbers ------------------------------------------

_TR_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_TR_UPPER = str.maketrans({"i": "İ", "ı": "I"})


def lower(text: str, lang: str) -> str:
    """Lower-case ``text`` with the rules of ``lang`` (Turkish: ``I -> ı``, ``İ -> i``)."""
    check_lang(lang)
    return text.translate(_TR_LOWER).lower() if lang == "tr" else text.lower()


def upper(text: str, lang: str) -> str:
    """Upper-case ``text`` with the rules of ``lang`` (Turkish: ``i -> İ``, ``ı -> I``)."""
    check_lang(lang)
    return text.translate(_TR_UPPER).upper() if lang == "tr" else text.upper()


_FOLD_I = str.maketrans({"I": "i", "İ": "i", "ı": "i"})


def fold(text: str) -> str:
    """Normalise a typed answer for comparison, in either language.

    Trims, collapses inner spaces and lower-cases, treating ``I``, ``İ``, ``ı``
    and ``i`` as the same letter: a learner may type ``INT8`` on a Turkish
    keyboard (``ınt8`` under Turkish rules) or ``İKİ`` for ``iki``.
    """
    return " ".join(text.translate(_FOLD_I).casefold().split())


def format_number(x: Real, lang: str, digits: int = 2, *, trim: bool = True) -> str:
    """``x`` rounded to ``digits`` decimals, written the way ``lang`` writes numbers.

    English: ``1,234.5``; Turkish: ``1.234,5``. With ``trim`` trailing zeros go
    (``400`` rather than ``400.00``), so tables read naturally.
    """
    check_lang(lang)
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"format_number needs a real number, got {type(x).__name__}")
    if not math.isfinite(x):
        raise ValueError(f"format_number needs a finite number, got {x}")
    if not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be an int >= 0, got {digits!r}")
    text = f"{float(x):,.{digits}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    if lang == "tr":
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text


# --- Messages shared by the course ------------------------------------------

add_messages(
    {
        # generic words
        "common.yes": {"en": "yes", "tr": "evet"},
        "common.no": {"en": "no", "tr": "hayır"},
        "common.params": {"en": "parameters", "tr": "parametre"},
        # number formats (names used in tables and charts)
        "fmt.fp32": {"en": "FP32 (4 bytes)", "tr": "FP32 (4 bayt)"},
        "fmt.bf16": {"en": "FP16/BF16 (2 bytes)", "tr": "FP16/BF16 (2 bayt)"},
        "fmt.int8": {"en": "INT8 (1 byte)", "tr": "INT8 (1 bayt)"},
        "fmt.int4": {"en": "4-bit (½ byte)", "tr": "4 bit (½ bayt)"},
        "fmt.short.fp32": {"en": "FP32", "tr": "FP32"},
        "fmt.short.bf16": {"en": "BF16", "tr": "BF16"},
        "fmt.short.int8": {"en": "INT8", "tr": "INT8"},
        "fmt.short.int4": {"en": "4-bit", "tr": "4 bit"},
        # hardware used as a yardstick
        "hw.laptop16": {"en": "16 GB laptop", "tr": "16 GB dizüstü"},
        "hw.gpu24": {"en": "24 GB GPU", "tr": "24 GB GPU"},
        "hw.gpu80": {"en": "80 GB GPU", "tr": "80 GB GPU"},
        # plots
        "plot.memory.title": {
            "en": "Weight memory of a model with {n} parameters",
            "tr": "{n} parametreli bir modelin ağırlık belleği",
        },
        "plot.memory.grouped_title": {
            "en": "Weight memory by model size and number format",
            "tr": "Model boyutuna ve sayı biçimine göre ağırlık belleği",
        },
        "plot.memory.xlabel": {"en": "Model size", "tr": "Model boyutu"},
        "plot.memory.xlabel_format": {"en": "Number format", "tr": "Sayı biçimi"},
        "plot.memory.ylabel": {"en": "Weight memory (GB)", "tr": "Ağırlık belleği (GB)"},
        "plot.count": {"en": "Count", "tr": "Adet"},
        "plot.value": {"en": "Value", "tr": "Değer"},
        # widgets
        "widget.params_billion": {"en": "Parameters (billions)", "tr": "Parametre (milyar)"},
        # lesson 00 readouts and table
        "mem.readout_header": {
            "en": "Weight memory of a model with {n} parameters:",
            "tr": "{n} parametreli bir modelin ağırlık belleği:",
        },
        "mem.readout_row": {"en": "{fmt}: {gb} GB", "tr": "{fmt}: {gb} GB"},
        "mem.fits_on": {"en": "fits on: {devices}", "tr": "sığdığı yer: {devices}"},
        "mem.fits_nothing": {
            "en": "does not fit on any of these devices",
            "tr": "bu cihazların hiçbirine sığmıyor",
        },
        "mem.table_model": {"en": "model", "tr": "model"},
        "mem.table_fits": {"en": "fits (weights only)", "tr": "sığar mı (yalnız ağırlıklar)"},
        "run.device": {"en": "Device: {device}", "tr": "Cihaz: {device}"},
        "run.cpu_ok": {
            "en": "Every lesson runs on this CPU; a GPU only makes lessons 05–07 faster.",
            "tr": "Her ders bu CPU'da çalışır; GPU yalnızca 05–07. dersleri hızlandırır.",
        },
        "run.gpu_found": {
            "en": "A GPU was found: lessons 05–07 will also run their GPU cells.",
            "tr": "Bir GPU bulundu: 05-07. dersler GPU hücrelerini de çalıştıracak.",
        },
        # exercises (generic parts; each exercise registers its own hints)
        "ex.correct": {"en": "✓ Correct, well done!", "tr": "✓ Doğru, tebrikler!"},
        "ex.not_yet": {"en": "✗ Not yet. Hint: {hint}", "tr": "✗ Henüz değil. İpucu: {hint}"},
        "ex.fill_in": {
            "en": "replace None with your answer, then run the cell again.",
            "tr": "None yerine kendi cevabınızı yazın ve hücreyi yeniden çalıştırın.",
        },
        "ex.not_a_number": {
            "en": "the answer should be a single finite number (int or float), not {kind}.",
            "tr": "cevap tek bir sonlu sayı (int ya da float) olmalı; {kind} değil.",
        },
        "ex.too_high": {
            "en": "your number is too large. Check the bytes per parameter of the format.",
            "tr": "sayınız çok büyük. Biçimin parametre başına kaç bayt kullandığını kontrol edin.",
        },
        "ex.too_low": {
            "en": "your number is too small. Check the bytes per parameter of the format.",
            "tr": "sayınız çok küçük. Biçimin parametre başına kaç bayt kullandığını kontrol edin.",
        },
        "ex.bytes_not_gb": {
            "en": "that looks like a count of bytes. The question asks for GB (1 GB = 10⁹ bytes).",
            "tr": "bu bir bayt sayısına benziyor. Soru GB cinsinden soruyor (1 GB = 10⁹ bayt).",
        },
        "ex.gib_not_gb": {
            "en": "that looks like GiB (2³⁰ bytes). This course uses GB = 10⁹ bytes.",
            "tr": "bu GiB (2³⁰ bayt) gibi görünüyor. Bu kursta GB = 10⁹ bayt kullanılıyor.",
        },
        "ex.not_an_option": {
            "en": "choose one of: {options}.",
            "tr": "şunlardan birini seçin: {options}.",
        },
    }
)


# --- Lists, percentages and Turkish suffixes ----------------------------------


def format_list(values: object, lang: str, digits: int = 2, *, brackets: bool = True) -> str:
    """A sequence of numbers written the way ``lang`` writes a list of them.

    English separates items with commas (``[-0.17, 24.6]``); Turkish, whose decimal
    separator *is* the comma, separates them with semicolons (``[-0,17; 24,6]``).
    Use this instead of printing a numpy array in a notebook: numpy always writes
    decimal points.
    """
    check_lang(lang)
    items = [float(v) for v in _flatten(values)]
    sep = "; " if lang == "tr" else ", "
    text = sep.join(format_number(v, lang, digits) for v in items)
    return f"[{text}]" if brackets else text


def _flatten(values: object) -> list[object]:
    if hasattr(values, "tolist"):  # numpy arrays and torch tensors
        values = values.tolist()
    if isinstance(values, Real):
        return [values]
    out: list[object] = []
    for v in values:  # type: ignore[union-attr]
        out.extend(_flatten(v) if not isinstance(v, Real) else [v])
    return out


def format_percent(x: Real, lang: str, digits: int = 1) -> str:
    """``x`` (already in percent) with the percent sign where ``lang`` puts it: ``50.2 %`` / ``%50,2``.

    In Turkish a sign stays in front of the percent sign: ``-%8,1``, ``+%3,7`` (not ``%-8,1``).
    """
    text = format_number(x, lang, digits)
    if lang != "tr":
        return f"{text} %"
    sign = text[0] if text[:1] in ("-", "+", "−") else ""
    return f"{sign}%{text[len(sign) :]}"


# How the last word of a number is read aloud decides a Turkish suffix's vowel and
# consonant ("4'lük" -- dört; "16'lık" -- on altı; "1000'lik" -- bin).
_UNITS = ("", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz")
_TENS = ("", "on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan")
_POWERS = ("", "bin", "milyon", "milyar", "trilyon", "katrilyon")
_BACK, _FRONT, _ROUNDED = set("aıou"), set("eiöü"), set("oöuü")
_VOWELS = _BACK | _FRONT
_VOICELESS = set("çfhkpsşt")


def _last_word_of_integer(n: int) -> str:
    """The last word of the Turkish reading of ``n >= 0`` (``16`` -> ``altı``)."""
    if n == 0:
        return "sıfır"
    power = 0
    while n % 1000 == 0:
        n //= 1000
        power += 1
    if power:
        return _POWERS[min(power, len(_POWERS) - 1)]
    n %= 1000
    if n % 10:
        return _UNITS[n % 10]
    if n % 100:
        return _TENS[(n // 10) % 10]
    return "yüz"


def _spoken_last_word(value: object) -> str:
    """The word whose sounds a suffix after ``value`` must match.

    ``value`` is a number or a number already written in Turkish ("3,2", "1.536",
    "%50,2", "−0,0126"). A decimal is read "üç virgül iki": the digits after the comma
    are read as a whole number, so they decide ("39,6875'tir": ...yetmiş beş).
    """
    if isinstance(value, bool):
        raise TypeError("a suffix needs a number, got a bool")
    if isinstance(value, Real):
        value = format_number(value, "tr", 6)
    text = str(value).strip()
    digits = "".join(ch for ch in text if ch.isdigit() or ch in ",.")
    digits = digits.strip(",.")
    if not digits or not any(ch.isdigit() for ch in digits):
        # Not a number: a word or an abbreviation; use its last letters as written.
        word = lower(text, "tr")
        return word
    whole, _, frac = digits.replace(".", "").partition(",")
    part = frac.lstrip("0") or ("0" if frac else whole)
    return _last_word_of_integer(int(part or "0"))


def _harmonize(word: str, pattern: str) -> str:
    """Expand an archiphonemic suffix ``pattern`` (``lIk``, ``DA``, ``(y)A``) after ``word``."""
    word = lower(word, "tr")
    vowels = [ch for ch in word if ch in _VOWELS]
    last_vowel = vowels[-1] if vowels else "e"
    ends_in_vowel = bool(word) and word[-1] in _VOWELS
    voiceless = bool(word) and word[-1] in _VOICELESS
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "(":
            close = pattern.index(")", i)
            if ends_in_vowel and not out:
                out.append(pattern[i + 1 : close])
            i = close + 1
            continue
        prev_vowel = next((c for c in reversed(out) if c in _VOWELS), None)
        v = prev_vowel or last_vowel
        if ch == "I":
            back, rounded = v in _BACK, v in _ROUNDED
            out.append(("u" if rounded else "ı") if back else ("ü" if rounded else "i"))
        elif ch == "A":
            out.append("a" if v in _BACK else "e")
        elif ch == "D":
            out.append("t" if voiceless and not out else "d")
        elif ch == "C":
            out.append("ç" if voiceless and not out else "c")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def tr_suffix(value: object, pattern: str) -> str:
    """The Turkish suffix ``pattern`` after ``value``, with its apostrophe: ``tr_suffix(64, "lIk") == "'lük"``.

    ``pattern`` is written with archiphonemes: ``I`` (ı/i/u/ü), ``A`` (a/e), ``D`` (d/t),
    ``C`` (c/ç), and buffer letters in parentheses that appear only after a vowel:
    ``lIk`` (64'lük, 16'lık), ``lI`` (4'lü), ``DA`` (4'te, 16'da), ``DAn`` (8'den),
    ``(y)A`` (127'ye, 4'e), ``(y)I`` (16'yı), ``(n)In`` (4'ün, 16'nın), ``DIr``
    (39,6875'tir), ``(s)I`` (%50'si). Vowel harmony follows the number as it is read.
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("a suffix pattern is a non-empty string such as 'lIk' or '(y)A'")
    return "'" + _harmonize(_spoken_last_word(value), pattern)


class _Localized:
    """A value for :func:`t` whose format spec may ask for a Turkish suffix: ``{g:'lIk}``."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __format__(self, spec: str) -> str:
        if spec.startswith("'"):
            return f"{self.value}{tr_suffix(self.value, spec[1:])}"
        return format(self.value, spec)

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


# Common suffixes, used to recognise a written suffix and check its harmony.
SUFFIX_PATTERNS: tuple[str, ...] = (
    "lIk",
    "lI",
    "lIğI",
    "DA",
    "DAn",
    "DAki",
    "(y)A",
    "(y)I",
    "(n)In",
    "DIr",
    "(s)I",
    "(y)lA",
    "lAr",
    "(y)DI",
    "(s)InA",
    "(s)InDA",
    "(s)InDAn",
    "(s)InI",
)

_SKELETON = str.maketrans({"ı": "I", "i": "I", "u": "I", "ü": "I", "a": "A", "e": "A", "d": "D", "t": "D"})
_NUMBER_SUFFIX = re.compile(r"(?<![\w.,])(%?[−-]?\d[\d.,]*\d|%?[−-]?\d)['’]([a-zçğıöşü]+)")


def _skeletons(pattern: str) -> set[str]:
    plain = re.sub(r"\(([a-z])\)", "", pattern)
    buffered = re.sub(r"\(([a-z])\)", r"\1", pattern)
    return {p.replace("c", "C").replace("ç", "C").translate(_SKELETON) for p in (plain, buffered)}


def suffix_problems(text: str) -> list[str]:
    """Number suffixes in a Turkish ``text`` that break vowel harmony: ``["64'lık: expected 64'lük"]``.

    Recognises the suffixes of :data:`SUFFIX_PATTERNS` (and their buffered forms);
    anything else after an apostrophe is ignored.
    """
    problems = []
    for match in _NUMBER_SUFFIX.finditer(text):
        number, suffix = match.group(1), match.group(2)
        mark = match.group(0)[len(number)]
        skeleton = suffix.replace("c", "C").replace("ç", "C").translate(_SKELETON)
        for pattern in SUFFIX_PATTERNS:
            if skeleton in _skeletons(pattern):
                expected = tr_suffix(number, pattern)[1:]
                if suffix != expected:
                    problems.append(f"{number}{mark}{suffix}: expected {number}{mark}{expected}")
                break
    return problems
