#!/usr/bin/env python3
"""Build the English and Turkish notebooks from one source per lesson.

Source format (``notebooks/src/NN_slug.md``): cells are separated by marker lines
that start with ``%% `` (percent, percent, space). Anything before the first
marker is a note for authors and is ignored.

    %% markdown                   a markdown cell; needs an EN and a TR block:
    %% en
    ## What is quantization?
    %% tr
    ## Nicemleme nedir?

    %% code                       a code cell, shared by both languages
    x = 1 + 1

    %% code lang                  a language-specific code cell (tagged `lang`):
    %% en                         use only where a cell must differ, e.g.
    LANG = "en"                   the first cell of every lesson
    %% tr
    LANG = "tr"

Extra words after ``code``/``markdown`` are cell tags, e.g.
``%% code nbval-ignore-output`` or ``%% code silent`` (a code cell that prints
nothing on purpose). Cell magics such as ``%%time`` are not markers (no space).

Building writes ``notebooks/en/NN_slug.ipynb`` and ``notebooks/tr/NN_slug.ipynb``
and executes each top to bottom with nbclient (kernel ``python3``, cwd = the
notebook's folder, no timing metadata, no widget state, fixed cell ids and
metadata), so building twice gives byte-identical files.

Usage:
    python tools/build_notebooks.py                 # all sources
    python tools/build_notebooks.py 00_welcome      # some lessons
    python tools/build_notebooks.py --no-execute    # generate only (outputs empty)
    python tools/build_notebooks.py --check         # exit 1 if a notebook is out of date
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

# Kernels inherit the environment: their torch threads sleep instead of spinning (see qlab/__init__.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SRC = NOTEBOOKS / "src"
LANGS = ("en", "tr")
KERNEL = "python3"
TIMEOUT_S = 600

MARKER = re.compile(r"^%% (?P<word>\S+)(?P<rest>.*)$")
TAG = re.compile(r"^[A-Za-z0-9_-]+$")

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": KERNEL},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


class SourceError(ValueError):
    """A lesson source file is malformed (the message names file and line)."""


@dataclass
class Cell:
    kind: str  # "markdown" or "code"
    tags: list[str]
    line: int
    shared: list[str] = field(default_factory=list)  # code cell body
    per_lang: dict[str, list[str]] = field(default_factory=dict)  # markdown / lang cell bodies

    def text(self, lang: str) -> str:
        lines = self.per_lang.get(lang, []) if self.per_lang else self.shared
        return "\n".join(lines).strip("\n")


def parse_source(text: str, name: str = "<source>") -> list[Cell]:
    """Split a lesson source into cells (see the module docstring for the format)."""
    cells: list[Cell] = []
    current: Cell | None = None
    block: list[str] | None = None  # lines go here

    def fail(lineno: int, msg: str) -> SourceError:
        return SourceError(f"{name}:{lineno}: {msg}")

    for lineno, line in enumerate(text.splitlines(), start=1):
        m = MARKER.match(line)
        if m is None:
            if block is not None:
                block.append(line)
            elif current is not None and line.strip():
                raise fail(lineno, f"text before '%% en' in a {current.kind} cell that needs EN/TR blocks")
            continue
        word, rest = m["word"], m["rest"].split()
        if word in ("markdown", "code"):
            bad = [tag for tag in rest if not TAG.match(tag)]
            if bad:
                raise fail(lineno, f"bad tag(s) {bad}")
            current = Cell(word, rest, lineno)
            cells.append(current)
            needs_langs = word == "markdown" or "lang" in rest
            block = None if needs_langs else current.shared
        elif word in LANGS:
            if current is None or (current.kind == "code" and "lang" not in current.tags):
                raise fail(lineno, f"'%% {word}' only belongs in a markdown cell or a 'code lang' cell")
            if rest:
                raise fail(lineno, f"unexpected text after '%% {word}'")
            if word in current.per_lang:
                raise fail(lineno, f"second '%% {word}' block in the same cell")
            block = current.per_lang.setdefault(word, [])
        else:
            raise fail(lineno, f"unknown marker '%% {word}' (use markdown, code, en, tr)")
    if not cells:
        raise SourceError(f"{name}: no cells (a cell starts with '%% markdown' or '%% code')")
    for cell in cells:
        if cell.kind == "markdown" or "lang" in cell.tags:
            missing = (
                [lang for lang in LANGS if not cell.text(lang).strip()] if cell.per_lang else list(LANGS)
            )
            if missing:
                raise SourceError(
                    f"{name}:{cell.line}: {cell.kind} cell has no text for {', '.join(missing)}"
                )
        elif not cell.text("en").strip():
            raise SourceError(f"{name}:{cell.line}: empty code cell")
    if not any("lang" in c.tags for c in cells):
        raise SourceError(f"{name}: no 'code lang' cell (the first code cell must set LANG)")
    return cells


def build(source: Path, lang: str) -> NotebookNode:
    """The unexecuted notebook for ``lang`` generated from ``source``."""
    cells = parse_source(source.read_text(encoding="utf-8"), str(source.relative_to(ROOT)))
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(NOTEBOOK_METADATA)
    for i, cell in enumerate(cells):
        new = nbformat.v4.new_markdown_cell if cell.kind == "markdown" else nbformat.v4.new_code_cell
        node = new(cell.text(lang))
        node.id = f"cell-{i:03d}"  # fixed ids: no random diff on rebuild
        node.metadata = {"tags": list(cell.tags)} if cell.tags else {}
        nb.cells.append(node)
    return nb


def _stable_widget_ids(nb: NotebookNode, seed: str) -> None:
    """Replace random widget model ids in outputs by ids derived from the notebook name.

    No widget state is stored, so the ids point nowhere either way; fixed ids keep
    rebuilds byte-identical. nbval skips the model id when comparing.
    """
    mime = "application/vnd.jupyter.widget-view+json"
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if mime in data:
                data[mime]["model_id"] = uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}#{count}").hex
                count += 1


def clean(nb: NotebookNode, seed: str) -> NotebookNode:
    """Drop machine-specific metadata so the file depends only on the source and outputs."""
    nb.metadata = copy.deepcopy(NOTEBOOK_METADATA)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
    _stable_widget_ids(nb, seed)
    return nb


def _merge_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks: where the kernel splits printed text
    depends on timing, so merging keeps rebuilds byte-identical."""
    merged: list = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    return merged


def _poll_in_short_steps(channel) -> None:
    """Make ``channel.get_msg(timeout=T)`` wait in steps of at most 0.5 s.

    With widget cells, nbclient 0.11 sometimes does not wake up when the kernel's
    execute_reply arrives and only sees it when its wait times out (we measured
    stalls of exactly the cell timeout, 3 runs in 24). Waiting in short steps
    bounds such a stall to half a second; the overall timeout is unchanged.
    """
    from queue import Empty
    from time import monotonic

    original = channel.get_msg

    async def get_msg(timeout: float | None = None, **kwargs):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - monotonic()))
            try:
                return await original(timeout=step, **kwargs)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


def execute(nb: NotebookNode, cwd: Path) -> NotebookNode:
    """Run ``nb`` top to bottom in a fresh ``python3`` kernel started in ``cwd``."""
    from nbclient import NotebookClient

    class Client(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            _poll_in_short_steps(kc.shell_channel)
            return kc

    client = Client(
        nb,
        kernel_name=KERNEL,
        timeout=TIMEOUT_S,
        record_timing=False,
        # nbclient 0.11 fails on Output widgets (KeyError) unless it records widget
        # state; clean() then drops that state, so none is stored in the file.
        store_widget_state=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def write(nb: NotebookNode, path: Path) -> bool:
    """Write ``nb`` to ``path``; return whether the file changed."""
    nbformat.validate(nb)
    text = nbformat.writes(nb) + "\n"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if text != old:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return text != old


def sources(names: list[str]) -> list[Path]:
    if not names:
        found = sorted(SRC.glob("*.md"))
        if not found:
            raise SystemExit(f"no lesson sources in {SRC}")
        return found
    paths = []
    for name in names:
        path = SRC / f"{Path(name).stem}.md"
        if not path.exists():
            raise SystemExit(f"no source {path.relative_to(ROOT)} for {name!r}")
        paths.append(path)
    return paths


def out_of_date(source: Path) -> list[str]:
    """Why the committed notebooks of ``source`` differ from it (empty list: up to date)."""
    problems = []
    for lang in LANGS:
        target = NOTEBOOKS / lang / f"{source.stem}.ipynb"
        if not target.exists():
            problems.append(f"{target.relative_to(ROOT)} is missing")
            continue
        want = build(source, lang)
        have = nbformat.read(target, as_version=4)
        pairs = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in want.cells]
        got = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in have.cells]
        if pairs != got:
            diff = next((i for i, (a, b) in enumerate(zip(pairs, got, strict=False)) if a != b), None)
            where = f"first difference at cell {diff}" if diff is not None else "different number of cells"
            problems.append(f"{target.relative_to(ROOT)} does not match {source.relative_to(ROOT)} ({where})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson names (NN_slug); default: all sources")
    parser.add_argument("--no-execute", action="store_true", help="generate without running")
    parser.add_argument("--check", action="store_true", help="only report out-of-date notebooks")
    args = parser.parse_args(argv)

    if args.check:
        problems = [p for src in sources(args.lessons) for p in out_of_date(src)]
        for p in problems:
            print(p)
        if problems:
            print("rebuild with: python tools/build_notebooks.py")
        return 1 if problems else 0

    for source in sources(args.lessons):
        for lang in LANGS:
            target = NOTEBOOKS / lang / f"{source.stem}.ipynb"
            nb = build(source, lang)
            start = time.perf_counter()
            if not args.no_execute:
                execute(nb, target.parent)
            clean(nb, f"{lang}/{source.stem}")
            changed = write(nb, target)
            took = (
                f"executed in {time.perf_counter() - start:5.1f} s" if not args.no_execute else "not executed"
            )
            print(f"{target.relative_to(ROOT)}: {took}, {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
