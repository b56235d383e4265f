"""Sphinx configuration of the course website, shared by both languages.

`tools/build_site.py` stages each language's sources (the stored, executed notebooks plus a home page
and the glossary) in `build/site-src/<lang>/` and runs Sphinx with this folder as its configuration
directory (`-c site`) and `QLAB_SITE_LANG` set to `en` or `tr`. Notebooks are never executed
(`nb_execution_mode = "off"`): the site shows the outputs stored in `notebooks/<lang>/*.ipynb`.
Nothing is loaded from the internet: MathJax 3 is copied from the `sphinx-mathjax-offline` wheel into
the site (see `_ext/qlab_site.py`), the theme ships its own fonts and icons, and no widget JavaScript
is loaded from a CDN (widgets are replaced by a note when staging).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

language = os.environ.get("QLAB_SITE_LANG", "en")
if language not in ("en", "tr"):
    raise ValueError(f"QLAB_SITE_LANG must be en or tr, not {language!r}")

project = "qlab"
author = "qlab"
copyright = {
    "en": "qlab contributors · code MIT, course text CC BY 4.0",
    "tr": "qlab'a katkıda bulunanlar · kod MIT, kurs metni CC BY 4.0",
}[language]
html_title = {
    "en": "qlab · quantizing large models",
    "tr": "qlab · büyük modelleri nicemlemek",
}[language]

extensions = [
    "myst_nb",
    "sphinx_copybutton",
    "qlab_site",
]

# Stored outputs only: the site must build in seconds, offline, without a kernel.
nb_execution_mode = "off"
# Widget outputs are replaced by a static note when staging; never pull the widget manager from a CDN.
nb_ipywidgets_js = {}
# Consecutive stdout chunks of one cell show as one block, as in JupyterLab.
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = [str(HERE / "_templates")]
html_static_path = [str(HERE / "_static")]
html_css_files = ["qlab.css"]
html_js_files = ["qlab-search.js"]
# Extra Turkish strings for the theme's navigation (pydata-sphinx-theme ships no Turkish catalogue);
# compiled from site/locale/tr/LC_MESSAGES/*.po into the staging folder by tools/build_site.py.
locale_dirs = [os.environ.get("QLAB_SITE_LOCALE_DIR", str(HERE / "locale"))]
gettext_compact = False

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_source_button": False,
    "use_repository_button": False,
    # The language switch first, then the theme's own buttons (download, dark mode, search, contents).
    "article_header_end": ["qlab-lang-switch.html", "article-header-buttons.html"],
    "navigation_with_keys": False,
    # The sidebar has the search field; no second one in a top bar above the page.
    "navbar_persistent": [],
    "show_toc_level": 2,
    "search_bar_text": {"en": "Search the course…", "tr": "Kursta ara…"}[language],
    # No "By qlab" line (its Turkish rendering would read "Tarafından qlab").
    "footer_content_items": ["copyright.html"],
}
html_sidebars = {
    "**": [
        "navbar-logo.html",
        "search-button-field.html",
        "qlab-lang-switch-sidebar.html",
        "sbt-sidebar-nav.html",
    ]
}
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = True  # the download button offers the lesson's .ipynb
html_search_language = language
# MathJax 3 from inside the site (copied by qlab_site at build-finished).
mathjax_path = "mathjax/tex-chtml.js"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_exclude = ".linenos, .gp, .go"
suppress_warnings = ["mystnb.unknown_mime_type"]
