#!/usr/bin/env python3
"""Re-execute committed notebooks (``make execute-notebooks``).

Notebooks that have a source in ``notebooks/src`` are regenerated from it first,
so this is the same as ``tools/build_notebooks.py`` for those lessons; any other
notebook given is executed in place with the same deterministic settings.

Usage: python tools/execute_notebooks.py [notebooks/en/00_welcome.ipynb ...]
(no arguments: every lesson source)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_notebooks as bn  # noqa: E402


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv]
    lessons = sorted({p.stem for p in paths if (bn.SRC / f"{p.stem}.md").exists()})
    if not argv or lessons:
        bn.main(lessons)
    for path in paths:
        if (bn.SRC / f"{path.stem}.md").exists():
            continue
        start = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        bn.execute(nb, path.parent)
        bn.clean(nb, f"{path.parent.name}/{path.stem}")
        changed = bn.write(nb, path)
        print(
            f"{path}: executed in {time.perf_counter() - start:5.1f} s, {'updated' if changed else 'unchanged'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
