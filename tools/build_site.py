"""Build the course website from the stored, executed notebooks, in English and Turkish, offline.

    .venv/bin/python tools/build_site.py            # both languages (what `make site` runs)
    .venv/bin/python tools/build_site.py --lang tr  # one language only (the other's links stay)

Needs the packages of `requirements-site.txt` (Sphinx, myst-nb, sphinx-book-theme, sphinx-copybutton,
sphinx-mathjax-offline). Nothing is executed and nothing is downloaded: the pages show the outputs
stored in `notebooks/<lang>/*.ipynb`, and every script, style sheet and font (MathJax included) is
served from the built site.

Steps:
1. Discover the lessons: `notebooks/en/*.ipynb` and `notebooks/tr/*.ipynb`, sorted by name
   (`NN_slug.ipynb`), so a new lesson appears on the next build without touching anything here.
2. Stage each language's sources in `build/site-src/<lang>/`: the notebooks (copies; each widget output
   is replaced by a short note in the lesson's language, since a widget needs a running kernel), the
   home page from `site/home/<lang>.md` with the course map filled in, the glossary from
   `notebooks/GLOSSARY.md` (English or Turkish columns first) and `_qlab_site.json`, the page list the
   language switch needs. Files are rewritten only when their content changes, so a second build is
   incremental.
3. Run Sphinx (`-c site`, configuration in `site/conf.py`) for both languages at once, one process
   each, into `build/site/en/` and `build/site/tr/`, with doctrees in `build/site-doctrees/`.
4. Write `build/site/index.html` (pick a language) and `.nojekyll` (GitHub Pages serves `_static/`).

Publish by copying `build/site/` to any static host; open `build/site/index.html` from disk, or serve
it with `python -m http.server -d build/site`.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SITE = ROOT / "site"
BUILD = ROOT / "build"
STAGE = BUILD / "site-src"
OUT = BUILD / "site"
DOCTREES = BUILD / "site-doctrees"
LANGS = ("en", "tr")
OTHER = {"en": "tr", "tr": "en"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STAGED_SUFFIXES = (".ipynb", ".md", ".json")
# Links in the lessons to files beside notebooks/<lang>/ that the site has as pages.
LINK_MAP = {"../GLOSSARY.md": "glossary.md", "../README.md": "index.md"}

WIDGET_NOTE = {
    "en": (
        "Interactive widget{controls}: it needs a running Python kernel. Open this lesson in "
        "JupyterLab (<code>make lab</code>) to use it."
    ),
    "tr": (
        "Etkileşimli bileşen{controls}: çalışan bir Python çekirdeği (kernel) gerektirir. "
        "Kullanmak için bu dersi JupyterLab'de açın (<code>make lab-tr</code>)."
    ),
}
GLOSSARY_TITLE = {"en": "Glossary", "tr": "Sözlük"}
# Column order of the glossary table in each language's site.
GLOSSARY_COLUMNS = {
    "en": ("English", "Türkçe", "Definition"),
    "tr": ("Türkçe", "English", "Tanım"),
}


def lessons(lang: str) -> list[Path]:
    """The lesson notebooks of one language, in course order (file names start with the number)."""
    return sorted((NOTEBOOKS / lang).glob("*.ipynb"), key=lambda p: p.name)


def lesson_title(nb: dict, fallback: str) -> str:
    """The first Markdown heading of a notebook (its lesson title)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        for line in "".join(cell.get("source", "")).splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return fallback


def _widget_note(output: dict, lang: str) -> dict:
    plain = "".join(output.get("data", {}).get("text/plain", ""))
    names = re.findall(r"description='([^']+)'", plain)
    controls = f" ({', '.join(html.escape(n) for n in names)})" if names else ""
    text = WIDGET_NOTE[lang].format(controls=controls)
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "text/html": f'<div class="qlab-widget-note">{text}</div>',
            "text/plain": re.sub(r"<[^>]+>", "", text),
        },
    }


def site_links(markdown: str, where: str, lesson_files: set[str] | None = None) -> str:
    """Rewrite the links of a lesson's Markdown for the site. Links between lessons
    (`02_absmax.ipynb`) work as they are; `../GLOSSARY.md` becomes the glossary page and
    `../README.md` (the notebooks' README) the home page. A link that leaves the notebook's folder
    (`../../qlab/...`) has no page on the site, and a link to a lesson that does not exist yet
    (`lesson_files`: the notebooks there are) has none either: both become their plain text."""

    def repl(match: re.Match) -> str:
        text, target = match.group(1), match.group(2)
        path, _, anchor = target.partition("#")
        if path in LINK_MAP:
            return f"[{text}]({LINK_MAP[path]}{'#' + anchor if anchor else ''})"
        missing_lesson = (
            lesson_files is not None
            and path.endswith(".ipynb")
            and "/" not in path
            and path not in lesson_files
        )
        if path.startswith("../") or missing_lesson:
            print(f"{where}: link to {target} has no page on the site: kept as text")
            return text
        return match.group(0)

    return re.sub(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)\)", repl, markdown)


def static_notebook(nb: dict, lang: str, where: str = "", lesson_files: set[str] | None = None) -> dict:
    """A copy of the notebook for the site: widget outputs become a note, links outside the lesson
    folder are rewritten (see site_links), everything else stays."""
    nb = json.loads(json.dumps(nb))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            cell["source"] = site_links("".join(cell.get("source", "")), where, lesson_files)
        outputs = cell.get("outputs")
        if not outputs:
            continue
        cell["outputs"] = [_widget_note(o, lang) if WIDGET_MIME in o.get("data", {}) else o for o in outputs]
    nb.get("metadata", {}).pop("widgets", None)  # no stored widget state: nothing for a widget manager
    return nb


def _split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def glossary_page(lang: str) -> str:
    """The glossary for one language: its title, its own introduction and the table with this
    language's term first. Falls back to the whole bilingual file if its layout is not the expected
    one (title, English paragraph, Turkish paragraph, one table with the four named columns)."""
    source = (NOTEBOOKS / "GLOSSARY.md").read_text(encoding="utf-8")
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", source) if b.strip()]
    title = [b for b in blocks if b.startswith("# ")]
    tables = [b for b in blocks if all(line.startswith("|") for line in b.splitlines())]
    prose = [b for b in blocks if b not in title and b not in tables]
    fallback = f"# {GLOSSARY_TITLE[lang]}\n\n" + "\n\n".join(b for b in blocks if b not in title) + "\n"
    if len(title) != 1 or len(tables) != 1 or len(prose) != 2:
        return fallback
    rows = tables[0].splitlines()
    header = _split_row(rows[0])
    wanted = GLOSSARY_COLUMNS[lang]
    if not all(name in header for name in wanted):
        return fallback
    index = [header.index(name) for name in wanted]
    body = [_split_row(r) for r in rows[2:]]
    if any(len(r) != len(header) for r in body):
        return fallback
    lines = ["| " + " | ".join(wanted) + " |", "|" + "---|" * len(wanted)]
    lines += ["| " + " | ".join(r[i] for i in index) + " |" for r in body]
    intro = prose[0] if lang == "en" else prose[1]
    return f"# {GLOSSARY_TITLE[lang]}\n\n{intro}\n\n" + "\n".join(lines) + "\n"


def home_page(lang: str, entries: list[tuple[str, str]]) -> str:
    """site/home/<lang>.md with the course map (a list of links) and the hidden lesson toctree."""
    template = (SITE / "home" / f"{lang}.md").read_text(encoding="utf-8")
    listing = "\n".join(f"- [{title}]({name}.ipynb)" for name, title in entries)
    toctree = "\n".join(name for name, _ in entries)
    return template.replace("@LESSON_LIST@", listing).replace("@LESSON_TOCTREE@", toctree)


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _write_bytes_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def stage(lang: str, other_pages: list[str]) -> list[str]:
    """Write build/site-src/<lang>/; return its page names (docnames)."""
    folder = STAGE / lang
    files: dict[str, str] = {}
    entries = []
    paths = lessons(lang)
    names = {p.name for p in paths}
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        entries.append((path.stem, lesson_title(nb, path.stem)))
        site_nb = static_notebook(nb, lang, f"{lang}/{path.name}", names)
        files[path.name] = json.dumps(site_nb, ensure_ascii=False, indent=1) + "\n"
    files["index.md"] = home_page(lang, entries)
    files["glossary.md"] = glossary_page(lang)
    pages = ["index", "glossary"] + [name for name, _ in entries]
    info = {"lang": lang, "other": OTHER[lang], "other_pages": other_pages, "lessons": entries}
    files["_qlab_site.json"] = json.dumps(info, ensure_ascii=False, indent=1) + "\n"
    for name, text in files.items():
        _write_if_changed(folder / name, text)
    for stale in folder.iterdir():  # a lesson that was renamed or removed
        if stale.is_file() and stale.suffix in STAGED_SUFFIXES and stale.name not in files:
            stale.unlink()
    return pages


def compile_catalogs() -> Path:
    """Compile site/locale/<lang>/LC_MESSAGES/sphinx.po into build/site-src/_locale/ for Sphinx's
    `locale_dirs`; returns that folder.

    Two files per language: `sphinx.mo` (Babel, a Sphinx dependency, compiles it) for the page
    templates, and `sphinx.js`, the catalogue the search page's JavaScript uses: Sphinx's own one for
    that language with our messages merged in. Sphinx 9's Turkish `sphinx.js` has an empty entry for
    "Search finished, found one page ..." and a boolean plural expression `(n > 1)`, so its search
    page raises a JavaScript error after every search; the merged catalogue has the message and
    `Number(n > 1)` as the plural index."""
    import sphinx
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    target = STAGE / "_locale"
    for po in sorted((SITE / "locale").glob("*/LC_MESSAGES/sphinx.po")):
        lang = po.relative_to(SITE / "locale").parts[0]
        folder = target / lang / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f)
        mo = io.BytesIO()
        write_mo(mo, catalog)
        _write_bytes_if_changed(folder / "sphinx.mo", mo.getvalue())
        base = Path(sphinx.__file__).parent / "locale" / lang / "LC_MESSAGES" / "sphinx.js"
        js = {"messages": {}, "plural_expr": "(n != 1)", "locale": lang}
        if base.is_file():
            text = base.read_text(encoding="utf-8")
            js = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        for message in catalog:
            if not message.id or not message.string:
                continue
            if isinstance(message.id, tuple | list):
                if all(message.string):
                    js["messages"][message.id[0]] = list(message.string)
            else:
                js["messages"][message.id] = message.string
        if not js["plural_expr"].startswith("Number("):
            js["plural_expr"] = f"Number({js['plural_expr']})"
        body = json.dumps(js, ensure_ascii=False, indent=1, sort_keys=True)
        _write_if_changed(folder / "sphinx.js", f"Documentation.addTranslations({body});\n")
    return target


SITE_NAMES = {"en": "qlab · quantizing large models", "tr": "qlab · büyük modelleri nicemlemek"}
LESSON_WORD = {"en": ("lesson", "lessons"), "tr": ("ders", "ders")}


def language_chooser(counts: dict[str, int]) -> str:
    """build/site/index.html: the two sites, each with its number of lessons."""
    items = []
    for lang, label in (("en", "English"), ("tr", "Türkçe")):
        word = LESSON_WORD[lang][counts[lang] != 1]
        items.append(
            f'    <li><a href="{lang}/index.html" hreflang="{lang}" lang="{lang}">{label}</a><br>'
            f'<small lang="{lang}">{html.escape(SITE_NAMES[lang])} · {counts[lang]} {word}</small></li>'
        )
    links = "\n".join(items)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>qlab · quantizing large models · büyük modelleri nicemlemek</title>
  <style>
    body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem;
           line-height: 1.5; color: #222; }}
    ul {{ list-style: none; padding: 0; }}
    li {{ margin: 1rem 0; }}
    a {{ font-size: 1.4rem; font-weight: 600; }}
  </style>
</head>
<body>
  <h1>qlab</h1>
  <p>A course on quantizing large models · <span lang="tr">Büyük modelleri nicemleme kursu</span></p>
  <ul>
{links}
  </ul>
</body>
</html>
"""


def build(langs: tuple[str, ...], quiet: bool = True) -> float:
    try:
        import myst_nb  # noqa: F401
        import sphinx  # noqa: F401
        import sphinx_book_theme  # noqa: F401
    except ImportError as err:
        sys.exit(f"{err}: install the site packages first: .venv/bin/pip install -r requirements-site.txt")
    started = time.monotonic()
    pages = {lang: [p.stem for p in lessons(lang)] for lang in LANGS}
    for lang in LANGS:
        stage(lang, ["index", "glossary"] + pages[OTHER[lang]])
    locale_dir = compile_catalogs()
    procs = {}
    for lang in langs:
        env = dict(os.environ, QLAB_SITE_LANG=lang, QLAB_SITE_LOCALE_DIR=str(locale_dir))
        env.pop("MPLBACKEND", None)
        cmd = [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-c",
            str(SITE),
            "-d",
            str(DOCTREES / lang),
            "--fail-on-warning",
            "--keep-going",
            "-j",
            "1",
        ]
        if quiet:
            cmd.append("-q")
        cmd += [str(STAGE / lang), str(OUT / lang)]
        procs[lang] = subprocess.Popen(cmd, cwd=ROOT, env=env)
    failed = [lang for lang, proc in procs.items() if proc.wait() != 0]
    if failed:
        sys.exit(f"Sphinx failed for {', '.join(failed)} (see the messages above)")
    # myst-nb writes each output image to <outdir>/../jupyter_execute/ before Sphinx copies it into
    # <lang>/_images/: a by-product, not part of the published site.
    shutil.rmtree(OUT / "jupyter_execute", ignore_errors=True)
    for lang in langs:  # pages of lessons that were renamed or removed since the last build
        for stale in (OUT / lang).glob("[0-9][0-9]_*.html"):
            if stale.stem not in pages[lang]:
                stale.unlink()
                print(f"removed {stale.relative_to(ROOT)}: no such lesson any more")
    counts = {lang: len(pages[lang]) for lang in LANGS}
    _write_if_changed(OUT / "index.html", language_chooser(counts))
    _write_if_changed(OUT / ".nojekyll", "")
    elapsed = time.monotonic() - started
    built = ", ".join(f"{lang}: {counts[lang]} lessons" for lang in langs)
    print(f"site built in {elapsed:.1f} s ({built}): {OUT / 'index.html'}")
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=LANGS, action="append", help="build only this language")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress messages")
    args = parser.parse_args(argv)
    build(tuple(args.lang) if args.lang else LANGS, quiet=not args.verbose)


if __name__ == "__main__":
    main()
