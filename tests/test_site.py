"""The course website (`make site`, tools/build_site.py): structure, offline-ness and a real browser.

Three groups:
- Staging helpers of tools/build_site.py (always run, no Sphinx needed): lesson discovery, widget
  outputs replaced by a note, links outside the lesson folder, the per-language glossary.
- The built site in build/site/ (skipped when it was not built): every lesson of notebooks/en and
  notebooks/tr has its page, in course order on the home page; each lesson's language switch leads
  to the same lesson in the other language (and back); plots are files of the site; nothing that a
  browser would fetch (scripts, styles, fonts, images, frames) points to another host.
- The browser test (marker `browser`; skipped without Debian's chromium, Playwright or a built site):
  the site is served on 127.0.0.1 by an `http.server` thread and every request to any other host is
  aborted (and recorded: the test fails if there was any). It opens a lesson in English and in
  Turkish, checks that MathJax typeset the math, that a plot image loaded (naturalWidth > 0), that
  code cells have copy buttons, that the language switch leads to the other language's same lesson,
  and that search finds a glossary term in each language ("quantization", "nicemleme"). Screenshots
  go to build/site-screenshots/ (git-ignored) and, if QLAB_SCREENSHOT_DIR is set, there too.
"""

from __future__ import annotations

import functools
import html.parser
import json
import os
import re
import shutil
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from tests._chromium import CHROMIUM_ARGS, find_chromium

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_site  # noqa: E402

# QLAB_SITE_DIR: test a site built elsewhere (a missing folder makes the site tests skip).
SITE = Path(os.environ.get("QLAB_SITE_DIR", build_site.OUT))
LANGS = build_site.LANGS
OTHER = build_site.OTHER
SHOTS = ROOT / "build" / "site-screenshots"
SEARCH_TERMS = {"en": "quantization", "tr": "nicemleme"}
PAGE_S = 60
# Strings inside MathJax's bundled speech-rule engine that are used only by Internet Explorer (no
# document.evaluate) or by Node: in a browser the engine loads its rules from [mathjax]/sre/mathmaps,
# inside the site. The browser test below is the ground truth: it aborts and reports every request
# that leaves 127.0.0.1.
JS_URL_ALLOWED = (
    "https://cdn.jsdelivr.net/npm/sre-mathmaps-ie@",
    "https://cdn.jsdelivr.net/npm/speech-rule-engine@",
    "https://cdn.jsdelivr.net/npm/wicked-good-xpath@",
)
FETCHABLE = re.compile(
    r"\.(js|mjs|css|woff2?|ttf|otf|eot|png|jpe?g|gif|svg|webp|ico|json|wasm)([?#]|$)", re.I
)
CDN_HOSTS = re.compile(
    r"(cdn|unpkg\.com|cdnjs|jsdelivr|googleapis|gstatic|fontawesome|bootstrapcdn|jquery\.com|plot\.ly)", re.I
)


def lesson_names(lang: str) -> list[str]:
    return [p.stem for p in build_site.lessons(lang)]


def unsmart(text: str) -> str:
    """Sphinx's smartquotes print "CPU'da" as "CPU’da" in headings: compare titles with plain quotes."""
    return text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'}))


def lesson_title(lang: str, name: str) -> str:
    nb = json.loads((build_site.NOTEBOOKS / lang / f"{name}.ipynb").read_text(encoding="utf-8"))
    return build_site.lesson_title(nb, name)


# ---------------------------------------------------------------------------------------------------
# Staging helpers (no Sphinx, no built site)


def test_lessons_are_discovered_in_order_and_paired():
    for lang in LANGS:
        names = lesson_names(lang)
        assert names, f"no lessons in notebooks/{lang}"
        assert names == sorted(names)
        assert all(re.match(r"^\d\d_", n) for n in names), names
    assert lesson_names("en") == lesson_names("tr")


def test_widget_outputs_become_a_note_in_the_lessons_language():
    widget = {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            build_site.WIDGET_MIME: {"model_id": "x", "version_major": 2, "version_minor": 0},
            "text/plain": ["interactive(children=(IntSlider(value=8, description='Bits', max=8…"],
        },
    }
    stream = {"output_type": "stream", "name": "stdout", "text": "hello\n"}
    nb = {
        "cells": [{"cell_type": "code", "source": "x", "outputs": [stream, widget], "metadata": {}}],
        "metadata": {"widgets": {"state": {}}},
    }
    for lang, words in (("en", "running Python kernel"), ("tr", "çalışan bir Python çekirdeği")):
        out = build_site.static_notebook(nb, lang)
        outputs = out["cells"][0]["outputs"]
        assert outputs[0] == stream
        assert build_site.WIDGET_MIME not in outputs[1]["data"]
        assert words in outputs[1]["data"]["text/html"] and "(Bits)" in outputs[1]["data"]["text/html"]
        assert "widgets" not in out["metadata"]
    assert build_site.WIDGET_MIME in nb["cells"][0]["outputs"][1]["data"]  # the input is untouched


def test_links_outside_the_lesson_folder():
    text = "See [the glossary](../GLOSSARY.md), [lesson 2](02_absmax.ipynb), [code](../../qlab/absmax.py)."
    out = build_site.site_links(text, "test")
    assert "[the glossary](glossary.md)" in out
    assert "[lesson 2](02_absmax.ipynb)" in out
    assert "[code]" not in out and "code" in out
    # A lesson that does not exist yet (the course grows): plain text, not a broken link.
    later = build_site.site_links("Next: [lesson 9](09_x.ipynb).", "test", {"02_absmax.ipynb"})
    assert later == "Next: lesson 9."


def test_glossary_page_per_language():
    en, tr = build_site.glossary_page("en"), build_site.glossary_page("tr")
    assert en.startswith("# Glossary\n") and tr.startswith("# Sözlük\n")
    assert "| English | Türkçe | Definition |" in en
    assert "| Türkçe | English | Tanım |" in tr
    assert "| quantization | nicemleme |" in en and "| nicemleme | quantization |" in tr
    assert "Kursta kullanılan" in tr and "Kursta kullanılan" not in en


# ---------------------------------------------------------------------------------------------------
# The built site


class _Page(html.parser.HTMLParser):
    """What a browser would fetch from a page, its links, its language switch and its <h1>."""

    FETCH_ATTRS = {
        "script": ("src",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "embed": ("src",),
        "object": ("data",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "track": ("src",),
        "input": ("src",),
    }
    FETCH_RELS = {
        "stylesheet",
        "icon",
        "preload",
        "prefetch",
        "modulepreload",
        "manifest",
        "apple-touch-icon",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.switch: str | None = None
        self.lang: str | None = None
        self.h1: list[str] = []
        self._in_h1 = 0
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        for name in self.FETCH_ATTRS.get(tag, ()):
            if a.get(name):
                values = [v.strip().split()[0] for v in a[name].split(",")] if name == "srcset" else [a[name]]
                self.fetched += values
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])
        if tag == "link" and a.get("href"):
            if set((a.get("rel") or "").lower().split()) & self.FETCH_RELS:
                self.fetched.append(a["href"])
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            self.fetched.append(a.get("content", ""))
        if a.get("style"):
            self.fetched += re.findall(r"url\(\s*['\"]?([^'\")]+)", a["style"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if a.get("id") == "qlab-lang-switch":
                self.switch = a["href"]
        if tag == "h1":
            self._in_h1 += 1
            self.h1.append("")

    def handle_endtag(self, tag):
        if tag == "h1" and self._in_h1:
            self._in_h1 -= 1

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _external(url: str) -> bool:
    url = url.strip()
    return url.startswith(("http://", "https://", "//")) or "url=http" in url.lower()


def _resolve(page: Path, href: str) -> Path:
    target = urlparse(href)
    return (page.parent / unquote(target.path)).resolve()


@pytest.fixture(scope="module")
def built_site() -> Path:
    missing = [lang for lang in LANGS if not (SITE / lang / "index.html").is_file()]
    if missing:
        pytest.skip(f"site not built ({', '.join(missing)} missing in {SITE}); run `make site`")
    return SITE


@pytest.mark.parametrize("lang", LANGS)
def test_every_lesson_has_a_page_in_course_order(built_site, lang):
    names = lesson_names(lang)
    for name in names:
        page = built_site / lang / f"{name}.html"
        assert page.is_file(), f"{page} missing: rebuild with `make site`"
        heading = parse(page).h1[0].strip().rstrip("#¶").strip()
        assert unsmart(heading) == lesson_title(lang, name), (page, heading)
    home = parse(built_site / lang / "index.html")
    assert home.lang == lang
    in_map = []
    for href in home.links:
        stem = Path(urlparse(href).path).stem
        if stem in names and stem not in in_map:
            in_map.append(stem)
    assert in_map == names, f"{lang} home page lists {in_map}, expected {names}"
    assert (built_site / lang / "glossary.html").is_file()
    assert (built_site / lang / "search.html").is_file()


@pytest.mark.parametrize("lang", LANGS)
def test_language_switch_leads_to_the_same_lesson(built_site, lang):
    other = OTHER[lang]
    for name in ["index", "glossary", *lesson_names(lang)]:
        page = built_site / lang / f"{name}.html"
        href = parse(page).switch
        assert href, f"{page}: no language switch"
        target = _resolve(page, href)
        assert target == (built_site / other / f"{name}.html").resolve(), (page, href)
        assert target.is_file(), (page, href)
        back = parse(target)
        assert back.lang == other
        assert _resolve(target, back.switch) == page.resolve()


@pytest.mark.parametrize("lang", LANGS)
def test_lesson_pages_have_plots_math_copy_buttons_and_widget_notes(built_site, lang):
    for name in lesson_names(lang):
        nb = json.loads((build_site.NOTEBOOKS / lang / f"{name}.ipynb").read_text(encoding="utf-8"))
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        n_png = sum("image/png" in o.get("data", {}) for o in outputs)
        n_widgets = sum(build_site.WIDGET_MIME in o.get("data", {}) for o in outputs)
        page_path = built_site / lang / f"{name}.html"
        text = page_path.read_text(encoding="utf-8")
        page = parse(page_path)
        plots = [src for src in page.images if "_images/" in src]
        assert len(plots) >= n_png, f"{page_path}: {len(plots)} plot images for {n_png} stored PNGs"
        for src in plots:
            assert not _external(src) and _resolve(page_path, src).is_file(), src
        assert text.count('class="qlab-widget-note"') == n_widgets, page_path
        assert "_static/mathjax/tex-chtml.js" in text
        assert "copybutton.js" in text
    assert (built_site / lang / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert list((built_site / lang / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))


def test_nothing_is_fetched_from_another_host(built_site):
    problems = []
    for path in sorted(built_site.rglob("*")):
        if path.suffix == ".html":
            for url in parse(path).fetched:
                if _external(url):
                    problems.append(f"{path.relative_to(built_site)}: fetches {url}")
        elif path.suffix == ".css":
            css = path.read_text(encoding="utf-8", errors="replace")
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)|@import\s+['\"]([^'\"]+)", css):
                url = url[0] or url[1]
                if _external(url):
                    problems.append(f"{path.relative_to(built_site)}: loads {url}")
        elif path.suffix in (".js", ".mjs"):
            js = path.read_text(encoding="utf-8", errors="replace")
            for url in re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)<>\\]*", js):
                if url.startswith(JS_URL_ALLOWED) or not url.startswith(("http", "//")):
                    continue
                host = urlparse(url if url.startswith("http") else "https:" + url).hostname or ""
                if FETCHABLE.search(url) or CDN_HOSTS.search(host):
                    problems.append(f"{path.relative_to(built_site)}: refers to {url}")
    assert not problems, "external resources in the site:\n" + "\n".join(sorted(set(problems))[:40])


def test_turkish_pages_have_turkish_navigation(built_site):
    page = (built_site / "tr" / lesson_names("tr")[0]).with_suffix(".html").read_text(encoding="utf-8")
    for english in ("Toggle primary sidebar", "Skip to main content", "Download this page", "Contents"):
        assert english not in page, f"English UI string in the Turkish site: {english!r}"
    for turkish in ("Ara", "İçindekiler"):
        assert turkish in page, turkish


# ---------------------------------------------------------------------------------------------------
# The browser test


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def served(built_site):
    """The built site on http://127.0.0.1:<free port>/ (a thread; stopped after the module)."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser_context(served, tmp_path_factory):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium not found; install Debian's `chromium` to run the site's browser test")
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("site-chromium")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="en-US",
        )
        blocked: list[str] = []
        allowed = urlparse(served).netloc

        def route(r):
            url = r.request.url
            if urlparse(url).netloc == allowed or url.startswith(("data:", "blob:", "about:")):
                r.continue_()
            else:
                blocked.append(url)
                r.abort()

        context.route("**/*", route)
        try:
            yield context, blocked
        finally:
            context.close()


def _lesson_with_math_and_plot() -> str:
    """The first lesson (both languages) whose Markdown has TeX math and whose outputs hold a plot."""
    for name in lesson_names("en"):
        ok = True
        for lang in LANGS:
            path = build_site.NOTEBOOKS / lang / f"{name}.ipynb"
            if not path.is_file():
                ok = False
                break
            nb = json.loads(path.read_text(encoding="utf-8"))
            md = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
            png = any("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))
            ok = ok and png and bool(re.search(r"\$[^$\n]+\$", md))
        if ok:
            return name
    pytest.skip("no lesson has both TeX math and a stored plot")


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path))
    target = os.environ.get("QLAB_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(target) / name)
    return path


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.parametrize("lang", LANGS)
def test_site_in_browser(lang, served, browser_context):
    context, blocked = browser_context
    other = OTHER[lang]
    name = _lesson_with_math_and_plot()
    page = context.new_page()
    page.set_default_timeout(PAGE_S * 1000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    started = time.monotonic()
    try:
        page.goto(f"{served}/{lang}/{name}.html")
        assert page.evaluate("document.documentElement.lang") == lang
        assert unsmart(
            page.locator("article h1").first.inner_text().strip().rstrip("#¶").strip()
        ) == lesson_title(lang, name)

        # Math: MathJax replaced the TeX by its CHTML output, with no TeX error boxes.
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.document"
            " && document.querySelectorAll('mjx-container').length > 0",
            timeout=PAGE_S * 1000,
        )
        page.evaluate("() => MathJax.startup.promise")
        math = page.locator("mjx-container")
        assert math.count() > 0
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
        assert (
            page.evaluate("() => document.querySelector('mjx-container').getBoundingClientRect().width") > 0
        )
        math.first.scroll_into_view_if_needed()
        _shot(page, f"{lang}_math.png")

        # A plot: the first stored PNG of the lesson, loaded from the site.
        plot = page.locator("div.cell_output img").first
        plot.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
        assert plot.evaluate("img => img.naturalWidth") > 0
        plot.evaluate("el => el.scrollIntoView({block: 'center'})")
        _shot(page, f"{lang}_plot.png")

        # Code cells have copy buttons (sphinx-copybutton adds them after load).
        page.locator("div.cell_input button.copybtn").first.wait_for(state="attached")

        # The language switch: the same lesson in the other language.
        page.locator("#qlab-lang-switch").click()
        page.wait_for_url(f"{served}/{other}/{name}.html")
        assert page.evaluate("document.documentElement.lang") == other
        heading = page.locator("article h1").first.inner_text().strip().rstrip("#¶").strip()
        assert unsmart(heading) == lesson_title(other, name)

        # Search (Sphinx's own, with the language's stemmer) finds the glossary term and the glossary.
        term = SEARCH_TERMS[lang]
        page.goto(f"{served}/{lang}/search.html?q={term}")
        # Sphinx fills the list one result at a time and writes the summary line when it is done.
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results .search-summary');"
            " return s && s.innerText.trim().length > 0; }"
        )
        results = page.locator("#search-results ul.search li")
        assert results.count() > 0, page.locator("#search-results").inner_text()
        hrefs = [urljoin(page.url, h) for h in results.locator("a").evaluate_all("as => as.map(a => a.href)")]
        assert any(urlparse(h).path == f"/{lang}/glossary.html" for h in hrefs), hrefs
        assert any(Path(urlparse(h).path).stem in lesson_names(lang) for h in hrefs), hrefs
        _shot(page, f"{lang}_search.png")

        page.goto(f"{served}/{lang}/index.html")
        page.locator("article h1").first.wait_for()
        _shot(page, f"{lang}_home.png")
        assert not errors, f"JavaScript errors: {errors}"
        assert not blocked, f"requests to other hosts (aborted): {blocked}"
        print(f"{lang}: {time.monotonic() - started:.1f} s, screenshots in {SHOTS}")
    except Exception:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"failed_{lang}.png"))
        (SHOTS / f"failed_{lang}.html").write_text(page.content(), encoding="utf-8")
        print(f"failure artefacts: {SHOTS}/failed_{lang}.png and .html")
        raise
    finally:
        page.close()


def test_browser_test_skips_without_chromium(monkeypatch):
    monkeypatch.setenv("QLAB_CHROMIUM", "/nonexistent/chromium")
    assert find_chromium() is None
