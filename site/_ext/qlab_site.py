"""Sphinx extension of the course website: the language switch and the offline MathJax.

- Language switch. `tools/build_site.py` writes `_qlab_site.json` into each language's source folder:
  this site's language, the other one, and the pages (docnames) the other site has. Every page gets
  `qlab_switch_url` (the same page in the other language, or its home page if that page does not exist
  there), `qlab_switch_label` and `qlab_switch_lang` for the `qlab-lang-switch*.html` templates, and
  `<link rel="alternate" hreflang=...>` in its head. The two sites sit side by side (`en/`, `tr/`) and
  every link between them is relative, so the built folder works from any static host or from disk.
- MathJax 3 from the site itself: the `sphinx-mathjax-offline` wheel ships MathJax 3.2.2; the files
  the `tex-chtml` component needs (the component, its CHTML fonts, the TeX extensions it autoloads,
  the menu's accessibility and UI modules) are copied into `_static/mathjax/`. Its own Sphinx
  extension is not used: it would copy all 24 MB, SVG output and other bundles included, into each
  language's site.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

LABELS = {"en": "English", "tr": "Türkçe"}
TITLES = {"en": "Read this page in English", "tr": "Bu sayfayı Türkçe okuyun"}
MATHJAX_DIST = "sphinx-mathjax-offline"
# Relative to the package's static/mathjax/ folder: what tex-chtml.js loads, and nothing else.
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "a11y", "ui", "sre")


def mathjax_source() -> Path:
    """The MathJax folder inside the installed sphinx-mathjax-offline wheel."""
    dist = metadata.distribution(MATHJAX_DIST)
    folder = Path(str(dist.locate_file("sphinx-mathjax-offline/static/mathjax")))
    if not (folder / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax not found in {folder}: is {MATHJAX_DIST} installed?")
    return folder


def _site_info(app) -> dict:
    path = Path(app.srcdir) / "_qlab_site.json"
    if not path.is_file():  # built without tools/build_site.py: no switch
        return {"lang": app.config.language, "other": None, "other_pages": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _builder_inited(app) -> None:
    app.env.qlab_site = _site_info(app)  # type: ignore[attr-defined]


def _page_context(app, pagename, templatename, context, doctree) -> None:
    info = getattr(app.env, "qlab_site", None) or _site_info(app)
    other = info.get("other")
    if not other:
        return
    target = pagename if pagename in set(info["other_pages"]) | {"search", "genindex"} else "index"
    up = "../" * (pagename.count("/") + 1)
    url = f"{up}{other}/{target}.html"
    context["qlab_switch_url"] = url
    context["qlab_switch_lang"] = other
    context["qlab_switch_label"] = LABELS.get(other, other)
    context["qlab_switch_title"] = TITLES.get(other, other)
    context["metatags"] = (
        context.get("metatags", "") + f'\n    <link rel="alternate" hreflang="{other}" href="{url}" />'
    )


def _copy_mathjax(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    source = mathjax_source()
    target = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _page_context)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
