"""What a Turkish learner reads is Turkish: a scan of every stored output of ``notebooks/tr/*.ipynb``.

For each Turkish notebook (test ids are the lesson names, so ``-k 02`` selects lesson 02) four checks
run over what JupyterLab shows from the stored outputs, and one over the Turkish prose:

* ``test_no_english_in_outputs``: no English words outside code identifiers (:func:`english_words`);
* ``test_number_format_in_outputs``: no decimal point in a decimal number, no list comma next to a
  decimal comma, the percent sign before the number (:func:`number_format_problems`);
* ``test_number_suffixes_in_outputs``: suffixes after numbers (and after ``absmax``/``qlab``) follow
  vowel harmony (:func:`suffix_problems`, built on ``qlab.i18n.suffix_problems``);
* ``test_markdown_numbers_and_suffixes``: the same number-format and suffix checks on the Turkish
  markdown cells, outside ``$…$`` math, code spans, code blocks, links and HTML tags.

Every failure names the notebook, the cell index (as in ``nb["cells"]``), the kind of output and the
offending line. Run one lesson with
``.venv/bin/python -m pytest tests/test_turkish_outputs.py -q -p no:cacheprovider -k 02``.

What is scanned, per output: stream text (stdout and stderr), an error's message, and of a display or
result the one representation JupyterLab renders: a widget's ``text/plain`` repr (only its quoted
strings: labels, descriptions, option names; the rest is Python syntax), else ``text/html`` (tags
stripped), ``text/markdown``, else ``text/plain`` unless an image is shown instead (a figure's
``<Figure size 700x400 with 1 Axes>`` is never seen by the learner). ``image/png`` is skipped: plot
text is checked where plots are made (``qlab.plotting.localize``).

English words (:data:`ENGLISH`, whole words, case-insensitive) are not reported inside code:
backtick spans, dotted names (``qlab.decompose``), identifiers with a digit or underscore (``x_hat``,
``fp8_e4m3``, ``int4-absmax-g64``, ``all-MiniLM-L6-v2``), identifier-like quoted strings (``'tr'``), a
name directly before ``(`` (a call: ``round(3,97)``), and a name followed by ``=`` or an operator (a
formula printed by the shared code: ``scale = 39,6875``, ``scale · x = …``). The statistics labels of
:data:`ALWAYS_LABELS` (``max``, ``median``, ``mean``) are reported even in formulas: Turkish writes
``maks``, ``medyan``, ``ortalama`` (``min`` is a Turkish abbreviation too and is not reported).
Names and acronyms (:data:`ALLOWED`) are never reported. Per-notebook allowances
(:data:`ALLOW_PER_NOTEBOOK`) are regular expressions whose matches are blanked before the scan; none is
needed today.

Dotted numbers that are not decimals are allowed: Turkish thousands (``1.000``, ``147.456``: groups of
three digits, no leading zero), version strings of three or more parts (``qlab 0.1.0``, ``torch
2.13.0+cpu``), two-part versions right after a package name or ``v``/``sürüm`` (``transformers 5.23``,
``CUDA 12.1``), CUDA compute capabilities (``8.6``) in a text that says ``hesaplama yeteneği`` or
``compute capability``, and arXiv identifiers (``arXiv:2208.07339``). Known limit: ``1.489`` is read as
a thousands group, so an English-printed ``1.489`` slips through; numpy prints such numbers with more
or fewer digits, which are caught.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from qlab import i18n

ROOT = Path(__file__).resolve().parents[1]
TR = ROOT / "notebooks" / "tr"
NOTEBOOKS = sorted(TR.glob("*.ipynb"))
MAX_REPORTED = 80

# --- English words -------------------------------------------------------------------------------

# Whole words, compared in lower case. Words that are also Turkish are left out on purpose:
# at, on, an, it, top (ball), ok (arrow), set (dam), not (grade), her (every), bin (thousand), son (end), can (soul), hat (line),
# has (pure), but (thigh), size (to you), bit, model, normal, token, histogram, minimum, sin, log, min (Turkish abbreviation of
# "minimum"), vs. (ve saire). Hyphenated terms (per-tensor) are checked word by word.
FUNCTION_WORDS = """
the of and with to in is are was were been for from by or this that these those into per without
within than then which what when where how all each every only one ones both any some its their
have had used using below above after before between over under more less most least same other via
if we you your our there here also yet just while
""".split()
COURSE_WORDS = """
bits byte bytes scale scales error errors weight weights value values step steps code codes layer
layers format formats mean median max average row rows column columns group groups block blocks
sizes shape rule direct formula constant tensor tensors positive negative zero zeros point points
exponent mantissa sign subnormal largest smallest finite overflow underflow range ratio total memory
parameter parameters params quantized quantize quantization dequantized dequantize dequantization
original input output gain loss accuracy cosine similarity channel channels outlier outliers level
levels bias data clip clipped clipping rounded rounding nearest even grid width length count number
numbers time seconds speed fast slow yes done wrong correct answer hint try again expected got result
results sample samples random uniform gaussian distribution threshold percentile calibration
activation activations gradient gradients forward backward pass training inference embedding
embeddings vocabulary heavy tail tails frozen table plot entries decoded encoded stored
storage fits fit slider label nonzero zeroed lookup codebook quantile quantiles normalized relative
absolute maximum integer integers float floats signed unsigned blockwise bound theory measured
predicted noise worst best case laptop device digits digit gap next ready hand unit units found
left right new old first last full half big small large high low higher lower better worse times run
cell cells mode symmetric asymmetric wise unused share shared gained halving shift shifted no
""".split()
ENGLISH = frozenset(FUNCTION_WORDS) | frozenset(COURSE_WORDS)
# Reported even inside a printed formula: Turkish labels are maks, medyan, ortalama.
ALWAYS_LABELS = frozenset({"max", "median", "mean", "average"})
# Names, acronyms and units, never reported (compared in lower case).
ALLOWED = frozenset(
    """
qlab absmax nf4 fp4 fp8 int4 int8 sqnr mse gptq awq bitsandbytes bnb minilm smollm2 db gb mb kb tb gib
mib gpu cpu cuda numpy torch pytorch jupyterlab gguf llm ste qat gelu ffn adam none true false nan inf
lang
""".split()
)
# Per notebook (file stem): regular expressions whose matches are blanked before any check. Only if a
# rule above cannot be made right; each entry needs a comment saying why.
ALLOW_PER_NOTEBOOK: dict[str, list[str]] = {}

_LETTERS = "A-Za-zÇĞİÖŞÜçğıöşüÂâÎîÛû"
_WORD = re.compile(rf"[{_LETTERS}]+")
_TURKISH_ONLY = re.compile("[ÇĞİÖŞÜçğıöşü]")
_BACKTICKS = re.compile(r"`[^`\n]*`")
_QUOTED_IDENTIFIER = re.compile(r"""(['"])[\w.\-+/]*\1""")
_IDENT_CHARS = re.compile(rf"[{_LETTERS}0-9_.\-]")
_OPERATORS = set("=·×*/^+−<>≤≥")


def _blank(text: str, pattern: re.Pattern | str) -> str:
    """Replace every match by spaces (positions and line breaks stay, so context stays readable)."""
    return re.sub(pattern, lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _compound(text: str, start: int, end: int) -> tuple[int, int]:
    """Extend a word to the identifier-like run around it (letters, digits, ``_``, ``.``, ``-``)."""
    while start > 0 and _IDENT_CHARS.match(text[start - 1]):
        start -= 1
    while end < len(text) and _IDENT_CHARS.match(text[end]):
        end += 1
    # A full stop or hyphen at the edge is punctuation, not part of a name.
    while end > start and text[end - 1] in ".-":
        end -= 1
    while start < end and text[start] in ".-":
        start += 1
    return start, end


def _is_identifier(compound: str) -> bool:
    if re.search(r"[0-9_]", compound):
        return True  # x_hat, fp8_e4m3, int4-absmax-g64, all-MiniLM-L6-v2, 7B
    return bool(re.search(rf"[{_LETTERS}]\.[{_LETTERS}]", compound))  # qlab.decompose, np.mean


def english_words(text: str, context: str | None = None) -> list[str]:
    """English words of ``text`` that are not code, in order of appearance (lower case, repeats kept).

    >>> english_words("absmax codes below the data: 95")
    ['codes', 'below', 'the', 'data']
    >>> english_words("scale = 39,6875   kod başına birim; qlab.sqnr_db, round(3,97)")
    []
    """
    text = _blank(text, _BACKTICKS)
    text = _blank(text, _QUOTED_IDENTIFIER)
    found = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        lowered = word.lower()
        if len(word) < 2 or _TURKISH_ONLY.search(word) or lowered in ALLOWED:
            continue
        start, end = _compound(text, match.start(), match.end())
        compound = text[start:end]
        if _is_identifier(compound):
            continue
        if match.start() > 0 and text[match.start() - 1] in "'’":
            continue  # the suffix in qlab'ın, GB'lık is Turkish
        if lowered not in ENGLISH:
            continue
        rest = text[end:]
        if lowered == "no" and rest.startswith("."):
            continue  # "No. 5": the Turkish abbreviation of numara
        if lowered not in ALWAYS_LABELS:
            if rest.startswith("("):
                continue  # a call: round(…)
            after = rest.lstrip(" ")
            if after[:1] in _OPERATORS and not after.startswith("->"):
                continue  # a printed formula: scale = …, scale · x = …, step / 2 = …
        elif rest.startswith("(") or rest.startswith("_"):
            continue  # max(…)
        found.append(lowered)
    return found


# --- Number format ---------------------------------------------------------------------------------

_PACKAGES = (
    "qlab|torch|pytorch|numpy|scipy|transformers|tokenizers|safetensors|bitsandbytes|jupyterlab|"
    "ipywidgets|matplotlib|ml_dtypes|gguf|accelerate|nbval|pytest|python|cuda|cudnn|llama\\.cpp|"
    "triton|onnx|sürüm|sürümü|sürümünde|version|v"
)
_VERSION_BEFORE = re.compile(rf"(?:\b(?:{_PACKAGES})\s*(?:==|=|:)?\s*|\bv)$", re.IGNORECASE)
_DOTTED = re.compile(r"(?<![\w.,])[−-]?(?:\d+(?:\.\d+)+|\.\d+)(?:[eE][+−-]?\d+)?(?!\d)(?!\.\d)")
_THOUSANDS = re.compile(r"[−-]?[1-9]\d{0,2}(?:\.\d{3})+")
_CAPABILITY_CONTEXT = re.compile(r"hesaplama yetene|compute capabilit", re.IGNORECASE)
_BRACKETS = re.compile(r"\[[^\[\]\n]*\]")
_NUMPY_TRAILING_DOT = re.compile(r"(?<![\w.,])[−-]?\d+\.(?=[\s\]])")
# Two numbers separated by ", " where one has a decimal comma: "[-0,17, 24,6]", "25,8, 29,3 ve 32,3".
# (A comma that ends a clause after a number, "en büyüğü 0,77, yani …", is not reported.)
_NUM = r"%?[−-]?\d+(?:[.,]\d+)*"
_LIST_COMMA = re.compile(rf"(?<![\w,.%]){_NUM},\s+{_NUM}(?![\w,.])")
_PERCENT_AFTER = re.compile(r"(?<![\w,.%])\d+(?:,\d+)?\s?%(?![\w(])")


def _allowed_dotted(number: str, text: str, start: int, context: str) -> bool:
    plain = number.lstrip("−-")
    if _THOUSANDS.fullmatch(number):
        return True
    parts = plain.split("e")[0].split("E")[0].split(".")
    if len(parts) >= 3:
        return True  # a version string: 0.1.0, 2.13.0 (and thousands such as 1.000.000)
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    if _VERSION_BEFORE.search(before):
        return True  # transformers 5.23, CUDA 12.1, v2.5
    if before.endswith("arXiv:") or before.lower().endswith("arxiv:"):
        return True
    return bool(re.fullmatch(r"\d{1,2}\.\d", plain) and _CAPABILITY_CONTEXT.search(context))


def number_format_problems(text: str, context: str | None = None) -> list[str]:
    """Turkish number-format mistakes in ``text``: each as ``"what: the offending text"``.

    ``context`` (default: ``text``) is the whole output or paragraph around ``text``; it decides
    whether a two-part number is a CUDA compute capability (a table header saying so).

    >>> number_format_problems("x = [0.1 0.2], 3,5 GB, 147.456 ağırlık, qlab 0.1.0")
    ['decimal point: 0.1', 'decimal point: 0.2']
    >>> number_format_problems("[-0,17, 24,6] ve 50,2 %")
    ['list comma next to a decimal comma (use ;): -0,17, 24,6', 'percent sign after the number (write %50,2): 50,2 %']
    """
    problems = []
    for m in _DOTTED.finditer(text):
        if not _allowed_dotted(m.group(0), text, m.start(), text if context is None else context):
            problems.append((m.start(), f"decimal point: {m.group(0)}"))
    for bracket in _BRACKETS.finditer(text):
        for m in _NUMPY_TRAILING_DOT.finditer(bracket.group(0)):
            problems.append((bracket.start() + m.start(), f"decimal point (numpy array): {m.group(0)}"))
    for m in _LIST_COMMA.finditer(text):
        if re.search(r"\d,\d", m.group(0)):
            problems.append((m.start(), f"list comma next to a decimal comma (use ;): {m.group(0)}"))
    for m in _PERCENT_AFTER.finditer(text):
        number = m.group(0).rstrip("% ")
        problems.append((m.start(), f"percent sign after the number (write %{number}): {m.group(0)}"))
    return [what for _, what in sorted(problems)]


# --- Suffixes --------------------------------------------------------------------------------------

# Names whose reading fixes the harmony of a suffix's first vowel: absmax'ın, qlab'ın (back, unrounded).
_NAME_SUFFIX = re.compile(r"\b(absmax|qlab)['’]([a-zçğıöşü]+)", re.IGNORECASE)


def suffix_problems(text: str, context: str | None = None) -> list[str]:
    """Suffixes out of vowel harmony: after numbers (``qlab.i18n.suffix_problems``) and after
    ``absmax``/``qlab`` (first vowel a or ı: "absmax'ın", "absmax'ınkinden"; -ki never changes).

    >>> suffix_problems("16'lik gruplar, absmax'inkinden")
    ["16'lik: expected 16'lık", "absmax'inkinden: the first vowel after absmax must be a or ı"]
    """
    problems = list(i18n.suffix_problems(text))
    for m in _NAME_SUFFIX.finditer(text):
        vowels = [ch for ch in m.group(2) if ch in "aeıioöuü"]
        if vowels and vowels[0] not in "aı":
            problems.append(f"{m.group(0)}: the first vowel after {m.group(1)} must be a or ı")
    return problems


# --- What JupyterLab shows -------------------------------------------------------------------------

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_QUOTED = re.compile(r"""'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)\"""")


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def html_text(markup: str) -> str:
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def widget_labels(text: str) -> str:
    """The quoted strings of a widget repr, one per line: what a learner reads in the widget."""
    return "\n".join(a or b for a, b in _QUOTED.findall(text))


def visible_texts(output: dict) -> list[tuple[str, str]]:
    """``(kind, text)`` pairs of one stored output, as JupyterLab shows them (see the module docstring)."""
    kind = output.get("output_type")
    if kind == "stream":
        return [(output.get("name", "stream"), _join(output.get("text", "")))]
    if kind == "error":
        return [("error", f"{output.get('ename', '')}: {output.get('evalue', '')}")]
    data = output.get("data", {})
    if _WIDGET_MIME in data:
        return [("widget", widget_labels(_join(data.get("text/plain", ""))))]
    if "text/html" in data:
        return [("text/html", html_text(_join(data["text/html"])))]
    if "text/markdown" in data:
        return [("text/markdown", prose(_join(data["text/markdown"])))]
    if any(mime.startswith("image/") for mime in data):
        return []
    if "text/plain" in data:
        return [("text/plain", _join(data["text/plain"]))]
    return []


def prose(markdown: str) -> str:
    """Markdown without what is not prose: code blocks and spans, math, link targets, URLs, HTML tags."""
    text = _blank(markdown, re.compile(r"(?ms)^\s*(```|~~~).*?^\s*\1[^\n]*$"))
    text = _blank(text, re.compile(r"(?s)\$\$.+?\$\$"))
    text = _blank(text, re.compile(r"(?<![\\$])\$(?!\s)[^$\n]+?(?<![\s\\])\$"))
    text = _blank(text, _BACKTICKS)
    text = _blank(text, re.compile(r"\]\([^)\s]*\)"))
    text = _blank(text, re.compile(r"https?://\S+"))
    return _blank(text, re.compile(r"<[^>\n]+>"))


# --- The scan --------------------------------------------------------------------------------------


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _allowances(stem: str, text: str) -> str:
    for pattern in ALLOW_PER_NOTEBOOK.get(stem, []):
        text = _blank(text, re.compile(pattern))
    return text


def _line_of(text: str, needle: str) -> str:
    for line in text.splitlines():
        if needle in line:
            return line.strip()[:140]
    return ""


def scan_outputs(path: Path, check) -> list[str]:
    """Apply ``check(line, context) -> list[str]`` to every line of every visible output."""
    report = []
    for index, cell in enumerate(_load(path)["cells"]):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            for kind, text in visible_texts(output):
                text = _allowances(path.stem, text)
                for line in text.splitlines():
                    for problem in check(line, text):
                        report.append(f"{path.stem} cell {index} ({kind}): {problem}  | {line.strip()[:140]}")
    return report


def scan_markdown(path: Path, check) -> list[str]:
    report = []
    for index, cell in enumerate(_load(path)["cells"]):
        if cell.get("cell_type") != "markdown":
            continue
        text = _allowances(path.stem, prose(_join(cell.get("source", ""))))
        for paragraph in re.split(r"\n\s*\n", text):
            for problem in check(paragraph, paragraph):
                head, _, tail = problem.partition(": ")
                line = _line_of(paragraph, tail.split(" ")[0]) or _line_of(paragraph, head)
                report.append(f"{path.stem} cell {index} (markdown): {problem}  | {line}")
    return report


def _english_check(text: str, context: str | None = None) -> list[str]:
    words = english_words(text)
    return [f"English {', '.join(dict.fromkeys(words))}"] if words else []


def _fail(report: list[str], what: str) -> None:
    if report:
        shown = report[:MAX_REPORTED]
        more = f"\n… and {len(report) - MAX_REPORTED} more" if len(report) > MAX_REPORTED else ""
        pytest.fail(f"{len(report)} {what}:\n" + "\n".join(shown) + more, pytrace=False)


needs_notebooks = pytest.mark.skipif(not NOTEBOOKS, reason="no Turkish notebooks built yet")
per_notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


@needs_notebooks
@per_notebook
def test_no_english_in_outputs(path):
    _fail(scan_outputs(path, _english_check), "output lines with English words (outside code identifiers)")


@needs_notebooks
@per_notebook
def test_number_format_in_outputs(path):
    _fail(scan_outputs(path, number_format_problems), "number-format problems in outputs")


@needs_notebooks
@per_notebook
def test_number_suffixes_in_outputs(path):
    _fail(scan_outputs(path, suffix_problems), "suffixes out of vowel harmony in outputs")


@needs_notebooks
@per_notebook
def test_markdown_numbers_and_suffixes(path):
    def check(paragraph: str, context: str) -> list[str]:
        return number_format_problems(paragraph, context) + suffix_problems(paragraph)

    _fail(scan_markdown(path, check), "number-format or suffix problems in the Turkish prose")


# --- The detector itself ---------------------------------------------------------------------------


def _case(value: object) -> str:
    """Test ids without the sample text, so that ``-k 02`` selects lesson 02 and nothing else."""
    return "case"


@pytest.mark.parametrize(
    "text, words",
    [
        # real untranslated labels (issue 7, item 11)
        (
            "fp16: 0 11111 0000000000  (inf)  (-1)^0 · inf (exponent all ones, mantissa 0)",
            ["exponent", "all", "ones", "mantissa"],
        ),
        ("max |w| = 1,489;  median |w| = 0,04027", ["max", "median"]),
        ("bytes: 32 -> 12", ["bytes"]),
        ("direct formula  = [-128  -89]", ["direct"]),
        ("absmax codes below the data: 95", ["codes", "below", "the", "data"]),
        ("constant tensor 1.49 -> [1.49 1.49]", ["constant", "tensor"]),
        (
            "zero-point for [1000, 1001] without the rule: -255128",
            ["zero", "point", "for", "without", "the", "rule"],
        ),
        ("q - z in int8:  [-1]", ["in"]),
        ("step  (max-min)/255 = 0,02314", ["step", "max"]),
        ("Weights per group: 64", ["weights", "per", "group"]),
        ("scale'in değeri", ["scale"]),
        ("mean = 0,3", ["mean"]),
        ("x = 0,1: worst-case error / weight = %12,6", ["worst", "case"]),
        ("V100   Volta   7.0   no   no", ["no", "no"]),
    ],
    ids=_case,
)
def test_english_detector_finds_untranslated_labels(text, words):
    assert english_words(text) == words


@pytest.mark.parametrize(
    "text",
    [
        "ölçek s = 0,000205 (kod başına birim); ölçeğin tersi 1/s = 4.869,6",
        "scale     = 127 / 3,2 = 39,6875",  # an identifier of the shared code
        "scale · x = 39,6875 · 0,1 = 3,96875",
        "code      = round(3,96875) = 4",
        "codes      = [127   4 -60  30  -1] int8",
        "zero_point = [-76] int16;  x_hat = [0,1]",
        "qlab.sqnr_db: SQNR = 48,11 dB; qlab.max_abs_error: maks|X − X_hat| = 0,0118",
        "int8-absmax-tensor     ağırlık SQNR  12,3 dB   FP32 gömmelerine ortalama kosinüs 0,9717",
        "all-MiniLM-L6-v2  22,7 milyon parametre, 90,9 MB (F32, I64)",
        "qlab 0.1.0, LANG = 'tr'",
        "Henüz değil. İpucu: None yerine kendi cevabınızı yazın ve hücreyi yeniden çalıştırın.",
        "70B: aktivasyonlar sayılmadan en az 14 tane 80 GB'lık GPU",
        "4 bit + ölçekler  3,94 GB  12,7 token/s",
        "No. 5 tablo; Adam m (FP32)  4;  min -0,17; bu bir normal dağılım; on bin model; son hat",
        "tensör başına: her kanal; format_list(x, LANG); bunu size söyler; on bin",
        "`the scale` bir kod parçası; np.mean",
        "sıfır noktasının MSE'si absmax'inkinden 4,2 kat düşük",
        "x − x̂     = -0,00079",
        "GPU       mimari    V100  Volta  Turing  Ampere  Ada Lovelace  Hopper",
    ],
    ids=_case,
)
def test_english_detector_passes_turkish_and_code(text):
    assert english_words(text) == []


@pytest.mark.parametrize(
    "text, problems",
    [
        ("-> 0.15625", ["decimal point: 0.15625"]),
        (
            "X_hat = [ 3.2   0.10079 -1.51181]",
            ["decimal point: 3.2", "decimal point: 0.10079", "decimal point: -1.51181"],
        ),
        (
            "x = [-1.2 -0.3  0.   0.8]",
            [
                "decimal point: -1.2",
                "decimal point: -0.3",
                "decimal point (numpy array): 0.",
                "decimal point: 0.8",
            ],
        ),
        ("= 2.648071397852762e+36", ["decimal point: 2.648071397852762e+36"]),
        ("max 448.0", ["decimal point: 448.0"]),
        ("3.5 GB", ["decimal point: 3.5"]),
        ("aralık [-0,17, 24,6]", ["list comma next to a decimal comma (use ;): -0,17, 24,6"]),
        ("SQNR: 25,8, 29,3 ve 32,3 dB", ["list comma next to a decimal comma (use ;): 25,8, 29,3"]),
        ("%2,65,  0 olan", ["list comma next to a decimal comma (use ;): %2,65,  0"]),
        ("negatif 50,2 %", ["percent sign after the number (write %50,2): 50,2 %"]),
        ("75 % negatif", ["percent sign after the number (write %75): 75 %"]),
        ("transformers 5.23 ile; oran 0.5", ["decimal point: 0.5"]),
    ],
    ids=_case,
)
def test_number_format_detector_finds_dotted_decimals(text, problems):
    assert number_format_problems(text) == problems


@pytest.mark.parametrize(
    "text",
    [
        "1.000 küçük ağırlık; 147.456 ağırlık; 589.824; 1.120 GB; 1.000.000",
        "qlab 0.1.0, LANG = 'tr';  torch 2.13.0+cpu;  transformers 5.23; CUDA 12.1",
        "[0,50; -1,00; 1,00]  %50,2  %0,0207  -0,00079  1,18e-07  5,73e+04  1e-08",
        "(Dettmers ve ark. 2022, arXiv:2208.07339)",
        "0. katman; 05-07. dersleri; 5. alıştırma. Sonra 3 bit.",
        "hesaplama yeteneği 8.6 olan RTX 3090",
        "[[0, 0, 0, 7], [3, 1, -2, 5]]  options=(0, 1, 2)",
        "grup boyutu 64, 128 ve 256; (384, 1536); en büyüğü 0,77, yani uzak; FP16'da 3,3, BF16'da 2,4",
        "qlab.decompose, model.safetensors, 7B, 4.5B? hayır",
    ],
    ids=_case,
)
def test_number_format_detector_passes_turkish_numbers(text):
    problems = number_format_problems(text)
    if text.startswith("qlab.decompose"):
        assert problems == ["decimal point: 4.5"]  # "4.5B" is a decimal too (4,5B)
    else:
        assert problems == []


def test_capability_rule_needs_its_context():
    assert number_format_problems("RTX 3090 8.6") == ["decimal point: 8.6"]
    assert number_format_problems("GPU   hesaplama yeteneği\nRTX 3090   8.6   evet") == []


def test_suffix_detector():
    assert suffix_problems("4'lük, 16'lık, 64'lük, 1536'lık grup; absmax'ın, absmax'ınkinden, qlab'a") == []
    assert suffix_problems("4'lik gruplar") == ["4'lik: expected 4'lük"]
    assert suffix_problems("16'lik gruplar") == ["16'lik: expected 16'lık"]
    assert suffix_problems("absmax'inkinden") == [
        "absmax'inkinden: the first vowel after absmax must be a or ı"
    ]


def test_visible_texts_choose_what_jupyterlab_renders():
    figure = {
        "output_type": "display_data",
        "data": {"image/png": "iVBOR", "text/plain": "<Figure size 700x400 with 1 Axes>"},
    }
    assert visible_texts(figure) == []
    widget = {
        "output_type": "display_data",
        "data": {
            _WIDGET_MIME: {"model_id": "x"},
            "text/plain": "interactive(children=(IntSlider(value=7, description='Weights per group', max=500, m…",
        },
    }
    assert visible_texts(widget) == [("widget", "Weights per group")]
    assert english_words(visible_texts(widget)[0][1]) == ["weights", "per", "group"]
    table = {
        "output_type": "execute_result",
        "data": {"text/html": "<td>scale</td><td>0.5</td>", "text/plain": "x"},
    }
    assert visible_texts(table) == [("text/html", " scale  0.5 ")]
    stream = {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}
    assert visible_texts(stream) == [("stdout", "a\nb\n")]


def test_prose_drops_math_code_and_links():
    md = "Bir `0.0137` ağırlık, $0.5$ ve $$x = 0.1$$ [bağlantı](https://x.org/2208.07339) <img src='a.5.png'>\n```\ny = 0.25\n```\n3.5 GB"
    assert number_format_problems(prose(md)) == ["decimal point: 3.5"]
