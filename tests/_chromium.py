"""The Debian Chromium both browser tests drive (JupyterLab in test_browser.py, the website in test_site.py)."""

from __future__ import annotations

import os
import shutil

# Headless, and quiet on a machine whose network is closed: without the background-networking flags
# Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """Path of the Chromium binary, or None. QLAB_CHROMIUM overrides the search (a missing path gives None)."""
    override = os.environ.get("QLAB_CHROMIUM")
    if override is not None:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
