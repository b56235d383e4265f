"""Lessons in a real browser: JupyterLab + headless Chromium, in English and Turkish.

nbval checks the stored outputs; this test checks what a learner sees. For each language it starts
JupyterLab as `make lab` (English) or `make lab-tr` (Turkish) would: the Turkish server gets the same
default-settings override, `tools/jupyterlab-tr`, so its own menus come from the Turkish language pack.
It opens `notebooks/<lang>/00_welcome.ipynb` (a copy in a temporary folder) in a fresh workspace, checks
the menu bar's language (Run / Çalıştır), runs all cells from that menu (Run All Cells / Tüm Hücreleri
Çalıştır), waits until every code cell has run, moves the lesson's IntSlider with the keyboard and
checks that the printed readout and the plot image follow. Screenshots (`menu_<lang>.png`: the open
Run menu; `welcome_<lang>.png`: the slider and its plot) are saved under pytest's tmp folder and, if
QLAB_SCREENSHOT_DIR is set, there too; a failure leaves `failed_<lang>.png` and `.html` (the page's
DOM) in the tmp folder and prints where. Lesson 06 is opened the same way in Turkish (its code is shared
with the English notebook): after Run All, its block-size SelectionSlider is moved from 64 to 128 and the
readout, the printed line and the Pareto plot must follow.

Needs Debian's `chromium` (CI installs it) and Playwright for Python; it skips cleanly without them.
QLAB_CHROMIUM=/path/to/chromium picks another browser binary (a missing path makes the test skip).
Playwright's own browser download (`playwright install`) is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests._chromium import CHROMIUM_ARGS, find_chromium

pytestmark = [
    pytest.mark.browser,
    # Playwright's sync API runs its driver in an event loop that may leave sockets for the GC.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
LESSON = "00_welcome.ipynb"
# Lesson 06's block-size SelectionSlider, opened in Turkish only: its code is shared by both languages,
# the Turkish run also checks its translated label and readout.
LESSON_06 = "06_fp4_nf4.ipynb"
LESSONS = (LESSON, LESSON_06)
LANGS = ("en", "tr")
# What `make lab LAB_LANG=tr` adds to JupyterLab's config path (see the Makefile).
TR_CONFIG_PATH = ROOT / "tools" / "jupyterlab-tr"
# JupyterLab's menu bar and the Run menu's entry, as the language pack renders them.
MENU = {
    "en": ("File", "Run", "Run All Cells"),
    "tr": ("Dosya", "Çalıştır", "Tüm Hücreleri Çalıştır"),
}
SERVER_START_S = 60
RUN_ALL_S = 60
RUN_ALL_06_S = 600  # lesson 06 loads two real models (~40 s idle on 2 cores; 290 s was seen under load 5)
WIDGET_S = 30


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        where = os.environ.get("QLAB_CHROMIUM", "/usr/bin/chromium or `chromium` on PATH")
        pytest.skip(f"Chromium not found ({where}); install Debian's `chromium` to run the browser test")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A throw-away notebook folder with copies of the lesson (the repository's notebooks stay untouched)."""
    base = tmp_path_factory.mktemp("browser")
    for lang in LANGS:
        (base / "nb" / lang).mkdir(parents=True)
        for lesson in LESSONS:
            shutil.copy2(ROOT / "notebooks" / lang / lesson, base / "nb" / lang / lesson)
    return base


@pytest.fixture(scope="module", params=LANGS)
def lab(request, chromium_path, workdir):
    """(lang, url): a JupyterLab server on 127.0.0.1 with fresh config, data, runtime, settings and
    workspace folders; for "tr" with the Turkish interface of `make lab-tr`. One server per language."""
    pytest.importorskip("jupyterlab")
    pytest.importorskip("ipywidgets")
    lang = request.param
    port = _free_port()
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # inherited by the kernel: Agg would hide the plots
    env.pop("JUPYTER_CONFIG_PATH", None)
    state = workdir / f"lab-{lang}"
    for name in ("config", "data", "runtime", "settings", "workspaces", "home", "ipython"):
        (state / name).mkdir(parents=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        IPYTHONDIR=str(state / "ipython"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    if lang == "tr":
        env["JUPYTER_CONFIG_PATH"] = str(TR_CONFIG_PATH)
    # No "Would you like to get notified about official Jupyter news?" toast over the notebook.
    notification = (
        state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--IdentityProvider.token=",
        "--ServerApp.disable_check_xsrf=True",  # lets the teardown POST /api/shutdown
        f"--notebook-dir={workdir / 'nb'}",
        "--MappingKernelManager.default_kernel_name=python3",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log_path = workdir / f"jupyter-{lang}.log"
    log = open(log_path, "wb")  # closed in the finally below
    proc = subprocess.Popen(
        cmd, cwd=workdir / "nb", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}"
                )
            try:
                _get_json(f"{url}/api/status")
                with urllib.request.urlopen(f"{url}/lab", timeout=2.0) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"JupyterLab did not answer in {SERVER_START_S} s:\n{log_path.read_text(errors='replace')}"
                )
            time.sleep(0.2)
        yield lang, url
    finally:
        try:  # graceful: the server shuts its kernels down too
            request = urllib.request.Request(f"{url}/api/shutdown", method="POST", data=b"")
            urllib.request.urlopen(request, timeout=5.0).close()
        except (urllib.error.URLError, OSError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:  # any kernel left in the server's process group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        log.close()


@pytest.fixture(scope="module")
def browser(chromium_path, workdir):
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = workdir / "chromium-profile"
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1400},
            locale="en-US",
        )
        try:
            yield context
        finally:
            context.close()


def _wait_all_cells_ran(page, timeout_s: float) -> None:
    """Wait until every code cell shows an execution count, or a cell raised and nothing is left running."""
    page.wait_for_function(
        """() => {
            const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
            if (!nb) return false;
            const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
            if (prompts.some(p => p === '[*]:')) return false;
            // A raising cell stops Run All: the cells after it are left unrun ("[ ]:"). (JupyterLab renders
            // a traceback as stderr text, so there is no error-specific marker to look for.)
            const stopped = prompts.some(p => p === '[ ]:');
            return stopped || (prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p)));
        }""",
        timeout=timeout_s * 1000,
        polling=250,
    )


def _wait_kernel_idle(lab_url: str, path: str, timeout_s: float) -> None:
    """The kernel of the notebook at `path` is started and reports `idle` (polled through the REST API)."""
    deadline = time.monotonic() + timeout_s
    states = []
    while time.monotonic() < deadline:
        states = [
            s["kernel"]["execution_state"] for s in _get_json(f"{lab_url}/api/sessions") if s["path"] == path
        ]
        if states == ["idle"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"kernel of {path} not idle after {timeout_s} s: {states}")


def _shutdown_sessions(lab_url: str) -> None:
    """Stop the lesson's kernel, so the next language does not share the CPU with an idle one."""
    try:
        for session in _get_json(f"{lab_url}/api/sessions"):
            request = urllib.request.Request(f"{lab_url}/api/sessions/{session['id']}", method="DELETE")
            urllib.request.urlopen(request, timeout=10.0).close()
    except (urllib.error.URLError, OSError):
        pass


def _save_screenshot(page, workdir: Path, name: str) -> Path:
    shot = workdir / name
    page.screenshot(path=str(shot))
    target = os.environ.get("QLAB_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(target) / shot.name)
    return shot


def _open_and_run_all(page, lab_url: str, lang: str, lesson: str, run_all_s: float, workdir: Path):
    """Open `<lang>/<lesson>` in a fresh workspace, check the menu bar's language, run Run ▸ Run All Cells
    from the menu as a learner would, and wait until every code cell ran (a raising cell fails here).
    Returns (notebook locator, path of the Run-menu screenshot)."""
    from playwright.sync_api import expect

    file_menu, run_menu, run_all = MENU[lang]
    workspace = f"qlab-{lang}-{uuid.uuid4().hex[:8]}"
    path = f"{lang}/{lesson}"
    page.goto(f"{lab_url}/lab/workspaces/{workspace}/tree/{path}?reset")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    notebook.locator(".jp-MarkdownCell h1").first.wait_for(state="visible")
    # The kernel must be up and connected before Run All: a click during start-up can be lost.
    _wait_kernel_idle(lab_url, path, WIDGET_S)
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| (Idle|Boşta)$")).wait_for()

    # JupyterLab's own interface in the lesson's language: the menu bar (File/Dosya ... Run/Çalıştır).
    menubar = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel")
    expect(menubar.first).to_have_text(file_menu)
    labels = [label.strip() for label in menubar.all_inner_texts()]
    assert run_menu in labels, f"{lang}: menu bar {labels}, expected {run_menu!r}"
    if lang == "tr":
        assert "Run" not in labels and "File" not in labels, labels

    # Run ▸ Run All Cells (Çalıştır ▸ Tüm Hücreleri Çalıştır), as a learner would.
    page.get_by_role("menuitem", name=run_menu, exact=True).click()
    entry = page.get_by_role("menuitem", name=re.compile("^" + re.escape(run_all)))
    entry.wait_for(state="visible")
    menu_shot = _save_screenshot(page, workdir, f"menu_{lang}_{Path(lesson).stem}.png")
    entry.click()
    _wait_all_cells_ran(page, run_all_s)
    _wait_kernel_idle(lab_url, path, WIDGET_S)
    unrun = notebook.locator(".jp-CodeCell .jp-InputArea-prompt", has_text=re.compile(r"^\[ \]:$"))
    if unrun.count():
        tracebacks = notebook.locator(
            '[data-mime-type="application/vnd.jupyter.stderr"]', has_text="Traceback"
        ).all_inner_texts()
        raise AssertionError(f"a cell raised, {unrun.count()} cells left unrun:\n" + "\n".join(tracebacks))
    return notebook, menu_shot


@contextlib.contextmanager
def _lesson_page(browser, lab_url: str, workdir: Path, name: str):
    """A fresh browser page; on failure a screenshot and the DOM are left as `failed_<name>.png/.html`."""
    page = browser.new_page()
    page.set_default_timeout(WIDGET_S * 1000)
    try:
        yield page
    except Exception:
        page.screenshot(path=str(workdir / f"failed_{name}.png"))
        (workdir / f"failed_{name}.html").write_text(page.content())
        print(f"failure artefacts: {workdir}/failed_{name}.png and .html")
        raise
    finally:
        page.close()
        _shutdown_sessions(lab_url)


def _settled_output(page, output, lab_url: str, path: str, expect_text: str) -> tuple[str, str]:
    """Wait until the kernel is idle and the output area shows a plot and `expect_text`; return its text and
    the plot's `src`. Both are read in one step inside the page: an interact output is cleared and drawn
    again when it updates, and a separate `inner_text()` call can land in between and read ''."""
    _wait_kernel_idle(lab_url, path, WIDGET_S)
    settled = page.wait_for_function(
        """([out, text]) => {
            const img = out.querySelector('img');
            const src = img ? img.getAttribute('src') : null;
            const ready = src && src.startsWith('data:image/png') && out.innerText.includes(text);
            return ready ? [out.innerText, src] : false;
        }""",
        arg=[output.element_handle(), expect_text],
        timeout=WIDGET_S * 1000,
    )
    text, src = settled.json_value()
    return text, src


def _move_slider(page, interact, presses: int, lab_url: str, path: str, expect_text: str) -> str:
    """Press ArrowRight `presses` times on the widget's slider, wait until the kernel has redrawn the plot
    (a new image) and printed `expect_text`, and return the output area's new text."""
    output = interact.locator(".widget-output").first
    _, src_before = _settled_output(page, output, lab_url, path, "")
    handle = interact.locator(".widget-slider [role=slider], .widget-slider .noUi-handle").first
    handle.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """([out, before, text]) => {
            const img = out.querySelector('img');
            return img && img.getAttribute('src') !== before && out.innerText.includes(text);
        }""",
        arg=[output.element_handle(), src_before, expect_text],
        timeout=WIDGET_S * 1000,
    )
    text, _ = _settled_output(page, output, lab_url, path, expect_text)
    return text


def test_welcome_lesson_slider_in_browser(lab, browser, workdir):
    from playwright.sync_api import expect

    lang, lab_url = lab
    expect.set_options(timeout=WIDGET_S * 1000)
    started = time.monotonic()
    with _lesson_page(browser, lab_url, workdir, lang) as page:
        path = f"{lang}/{LESSON}"
        notebook, menu_shot = _open_and_run_all(page, lab_url, lang, LESSON, RUN_ALL_S, workdir)

        # The interactive widget: an IntSlider, its readout and an output area with the printed text and the plot.
        interact = notebook.locator(".widget-interact").first
        interact.scroll_into_view_if_needed()
        readout = interact.locator(".widget-readout").first
        output = interact.locator(".widget-output").first
        output.locator("img").first.wait_for(state="visible")
        expect(readout).to_have_text("7")
        expect(output).to_contain_text("7B")
        text_before, _ = _settled_output(page, output, lab_url, path, "7B")

        # The kernel reruns memory_readout(12): new text and a new plot replace the old ones.
        text_after = _move_slider(page, interact, 5, lab_url, path, "12B")
        handle = interact.locator(".widget-slider [role=slider], .widget-slider .noUi-handle").first
        expect(handle).to_have_attribute("aria-valuenow", re.compile(r"^12(\.0)?$"))
        expect(readout).to_have_text("12")
        assert text_after != text_before and "12B" in text_after and "7B" not in text_after

        if lang == "tr":  # Turkish text renders: title, prose and the widget's label
            visible = notebook.locator(".jp-MarkdownCell h1").first.inner_text() + interact.inner_text()
            assert re.search("[ıİşŞğĞüÜöÖçÇ]", visible), visible
            assert "ı" in visible or "ş" in visible

        # Screenshot: the slider, its readout and the redrawn plot in view.
        interact.evaluate("el => el.scrollIntoView({block: 'center'})")
        shot = _save_screenshot(page, workdir, f"welcome_{lang}.png")
        print(f"{lang}: {time.monotonic() - started:.1f} s, screenshots {menu_shot} and {shot}")


@pytest.mark.parametrize("lab", ["tr"], indirect=True)
def test_lesson06_block_size_slider_in_browser(lab, browser, workdir):
    """Lesson 06 in Turkish: Run All, then move the block-size SelectionSlider 64 → 128 with the keyboard;
    the readout, the printed line (blok boyutu 128: 1152 blok) and the Pareto plot follow."""
    from playwright.sync_api import expect

    lang, lab_url = lab
    expect.set_options(timeout=WIDGET_S * 1000)
    started = time.monotonic()
    with _lesson_page(browser, lab_url, workdir, f"06_{lang}") as page:
        path = f"{lang}/{LESSON_06}"
        notebook, _ = _open_and_run_all(page, lab_url, lang, LESSON_06, RUN_ALL_06_S, workdir)
        interact = notebook.locator(".widget-interact", has_text="Blok boyutu").first
        interact.scroll_into_view_if_needed()
        readout = interact.locator(".widget-readout").first
        output = interact.locator(".widget-output").first
        output.locator("img").first.wait_for(state="visible")
        expect(readout).to_have_text("64")
        expect(output).to_contain_text("blok boyutu 64: 2304 blok")

        text_after = _move_slider(page, interact, 1, lab_url, path, "blok boyutu 128: 1152 blok")
        expect(readout).to_have_text("128")
        assert "blok boyutu 64:" not in text_after and "çift nicemlemeyle" in text_after, text_after
        assert not re.search(r"\d\.\d", text_after), text_after  # decimal commas in Turkish

        interact.evaluate("el => el.scrollIntoView({block: 'center'})")
        shot = _save_screenshot(page, workdir, f"lesson06_{lang}.png")
        print(f"06 {lang}: {time.monotonic() - started:.1f} s, screenshot {shot}")


def test_skips_without_chromium(monkeypatch):
    """QLAB_CHROMIUM pointing nowhere means no browser: the fixture skips instead of failing."""
    monkeypatch.setenv("QLAB_CHROMIUM", "/nonexistent/chromium")
    assert find_chromium() is None
