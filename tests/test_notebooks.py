"""Structural checks of the bilingual course notebooks (nbval checks their outputs).

For every lesson: the English and Turkish notebooks exist and come from one source
in ``notebooks/src`` (and are up to date with it); their code cells are identical
except cells tagged ``lang``; they have the same headings in the same order; they
were executed top to bottom with outputs kept (nbval silently skips cells with no
execution count, so this is checked here); no mojibake, no untranslated Turkish,
no memory addresses in outputs.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from qlab import exercises

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"
LANGS = ("en", "tr")


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bn = _load_builder()

NAMES = sorted(
    {p.stem for lang in LANGS for p in (NB / lang).glob("*.ipynb")}
    | {p.stem for p in (NB / "src").glob("*.md")}
)
MOJIBAKE = re.compile("Ã.|Ä.|Å.|Â.|â€|\ufffd")
TURKISH = re.compile("[ğşıİçöüĞŞÇÖÜ]")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
# A tqdm bar in an output ("Converting ...:   0%|          | 0/272"): an English widget or stderr line
# that a learner sees in every language, and whose numbers change from run to run.
PROGRESS_BAR = re.compile(r"\d+%\|")


def load(lang: str, name: str) -> dict:
    path = NB / lang / f"{name}.ipynb"
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} is missing (build it: python tools/build_notebooks.py {name})")
    return json.loads(path.read_text(encoding="utf-8"))


def src(cell: dict) -> str:
    return "".join(cell.get("source", ""))


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def headings(nb: dict) -> list[int]:
    levels = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        fenced = False
        for line in src(cell).splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and (m := re.match(r"^(#{1,6})\s+\S", line)):
                levels.append(len(m[1]))
    return levels


def output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts.extend(
            "".join(v) if isinstance(v, list) else str(v)
            for k, v in out.get("data", {}).items()
            if k.startswith("text/")
        )
        parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def test_there_are_lessons():
    assert "00_welcome" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_pair_and_source_exist(name):
    missing = [
        str(p.relative_to(ROOT))
        for p in (NB / "en" / f"{name}.ipynb", NB / "tr" / f"{name}.ipynb", NB / "src" / f"{name}.md")
        if not p.exists()
    ]
    assert not missing, f"{name}: missing {missing} (one source per lesson, see tools/build_notebooks.py)"


@pytest.mark.parametrize("name", NAMES)
def test_up_to_date_with_source(name):
    source = NB / "src" / f"{name}.md"
    if not source.exists():
        pytest.fail(f"{name}: no source notebooks/src/{name}.md")
    assert bn.out_of_date(source) == [], "rebuild with: python tools/build_notebooks.py " + name


@pytest.mark.parametrize("name", NAMES)
def test_code_cells_identical_except_lang(name):
    en, tr = load("en", name), load("tr", name)
    assert [c["cell_type"] for c in en["cells"]] == [c["cell_type"] for c in tr["cells"]]
    for i, (a, b) in enumerate(zip(code_cells(en), code_cells(tr), strict=True)):
        assert tags(a) == tags(b), f"{name}: code cell {i} has tags {tags(a)} in en but {tags(b)} in tr"
        if "lang" not in tags(a):
            assert src(a) == src(b), f"{name}: code cell {i} differs between en and tr"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lang", LANGS)
def test_first_code_cell_sets_lang(name, lang):
    first = code_cells(load(lang, name))[0]
    assert "lang" in tags(first)
    assert re.search(rf"^LANG = \"{lang}\"", src(first), re.M), f"{lang}/{name}: first cell must set LANG"


@pytest.mark.parametrize("name", NAMES)
def test_same_heading_structure(name):
    en, tr = headings(load("en", name)), headings(load("tr", name))
    assert en, f"{name}: no headings"
    assert en == tr, f"{name}: heading levels differ: en {en} vs tr {tr}"
    assert en[0] == 1 and en.count(1) == 1, f"{name}: want exactly one title (# ...) at the top"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lang", LANGS)
def test_executed_top_to_bottom_with_outputs(name, lang):
    cells = code_cells(load(lang, name))
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{lang}/{name}: execution counts {counts}"
    for i, cell in enumerate(cells):
        has_output = bool(cell.get("outputs"))
        if "silent" in tags(cell):
            assert not has_output, f"{lang}/{name}: code cell {i} is tagged 'silent' but has output"
        else:
            assert has_output, f"{lang}/{name}: code cell {i} has no output (tag it 'silent' if intended)"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors or "raises-exception" in tags(cell), f"{lang}/{name}: code cell {i} raised"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lang", LANGS)
def test_no_mojibake_addresses_or_progress_bars(name, lang):
    nb = load(lang, name)
    for i, cell in enumerate(nb["cells"]):
        text = src(cell) + output_text(cell)
        bad = MOJIBAKE.search(text)
        assert not bad, f"{lang}/{name}: mojibake {bad.group()!r} in cell {i}"
        addr = ADDRESS.search(output_text(cell))
        assert not addr, f"{lang}/{name}: memory address {addr.group()} in the output of cell {i}"
        bar = PROGRESS_BAR.search(output_text(cell))
        assert not bar, (
            f"{lang}/{name}: a progress bar in the output of cell {i}: {output_text(cell)[:120]!r}"
        )


def _words(markdown: str) -> list[str]:
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\(\S*?\)", " ", markdown, flags=re.S)
    return re.findall(r"[^\W\d_]{2,}", text)


@pytest.mark.parametrize("name", NAMES)
def test_turkish_is_translated(name):
    en, tr = load("en", name), load("tr", name)
    text = "".join(src(c) for c in tr["cells"] if c["cell_type"] == "markdown")
    assert TURKISH.search(text), f"tr/{name}: markdown has no Turkish letters"
    for i, (a, b) in enumerate(zip(en["cells"], tr["cells"], strict=True)):
        if a["cell_type"] == "markdown" and len(_words(src(a))) >= 3:
            assert src(a) != src(b), f"tr/{name}: markdown cell {i} is identical to the English one"


def test_exercises_used_in_notebooks_are_registered():
    used = set()
    for name in NAMES:
        for lang in LANGS:
            path = NB / lang / f"{name}.ipynb"
            if path.exists():
                for cell in code_cells(json.loads(path.read_text(encoding="utf-8"))):
                    used |= set(re.findall(r"check\(\s*[\"']([^\"']+)[\"']", src(cell)))
    assert used <= set(exercises.REGISTRY), f"not registered: {sorted(used - set(exercises.REGISTRY))}"
    lessons = {name[:2] for name in NAMES}
    unused = {e for e in exercises.REGISTRY if e[:2] in lessons} - used
    assert not unused, f"registered but used in no notebook: {sorted(unused)}"


def test_readme_links_every_notebook():
    readme = (NB / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        for lang in LANGS:
            assert f"({lang}/{name}.ipynb)" in readme, (
                f"notebooks/README.md does not link {lang}/{name}.ipynb"
            )
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if "://" not in target:
            assert (NB / target).exists(), f"notebooks/README.md links a missing file: {target}"


def test_glossary():
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in (NB / "GLOSSARY.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("|") and not re.match(r"^\|\s*-", line)
    ][1:]  # skip the header row
    assert len(rows) >= 30
    assert all(len(r) == 4 and all(r) for r in rows), "each row: English | Türkçe | definition | tanım"
    terms = {r[0].lower(): r[1].lower() for r in rows}
    assert terms["quantization"].startswith("nicemleme")
    assert all(TURKISH.search(r[3]) for r in rows[:5])
    assert len(terms) == len(rows), "duplicate English terms"


# --- the source format itself ------------------------------------------------

GOOD = """notes for authors
%% markdown
%% en
# Title
%% tr
# Başlık

%% code lang silent
%% en
LANG = "en"
%% tr
LANG = "tr"

%% code nbval-ignore-output
%%time
x = 1
"""


def test_parse_source_roundtrip():
    cells = bn.parse_source(GOOD)
    assert [(c.kind, c.tags) for c in cells] == [
        ("markdown", []),
        ("code", ["lang", "silent"]),
        ("code", ["nbval-ignore-output"]),
    ]
    assert cells[0].text("tr") == "# Başlık"
    assert cells[1].text("en") == 'LANG = "en"' and cells[1].text("tr") == 'LANG = "tr"'
    assert cells[2].text("tr") == "%%time\nx = 1"  # a cell magic is not a marker


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%% markdown\n%% en\nHi\n", "no text for tr"),
        ("%% markdown\nHi\n%% en\nHi\n%% tr\nMerhaba\n", "text before '%% en'"),
        ("%% code\nx = 1\n%% en\n", "only belongs"),
        ("%% mardown\n", "unknown marker"),
        ('%% code lang\n%% en\nLANG = "en"\n%% en\nx\n', "second '%% en'"),
        ("%% code\nx = 1\n", "no 'code lang' cell"),
        ("just notes\n", "no cells"),
    ],
)
def test_parse_source_errors(text, message):
    with pytest.raises(bn.SourceError, match=re.escape(message)):
        bn.parse_source(text)
