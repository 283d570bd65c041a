"""Headless Chromium for tests that look at a page as a person would (the documentation site; the
label-review page).

Playwright (the dev extra) drives the system's Chromium — Debian's ``chromium`` package, which
scripts/setup.sh installs when it is missing and the machine allows it; Playwright's own browser
download is never used. ``SELFDISTILL_CHROMIUM`` names another executable. Without a browser (or
without Playwright) the tests that use these fixtures skip with a one-line reason.

The fixtures are imported once, in ``tests/conftest.py`` (a second import into a sub-folder
``conftest.py`` would start a second Playwright inside the first one's event loop); a test asks
for them by name: ``def test_x(offline_page): offline_page.goto(url)``.
``offline_page`` refuses every request that leaves the machine (anything but ``file:``,
``data:``, ``blob:`` and 127.0.0.1/localhost) and records its URL in ``offline_page.blocked`` —
assert it stays empty to prove a page needs no network. ``blank_fraction(png)`` measures how
much of a screenshot is one flat colour.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

#: flags that work in containers without a GPU, a sandbox or a network
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: what a test page may load: the files themselves, inline data, and this machine
LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
VIEWPORT = {"width": 1280, "height": 800}


def chromium_executable() -> str | None:
    """The Chromium to drive: ``$SELFDISTILL_CHROMIUM``, else ``chromium`` on the PATH."""
    named = os.environ.get("SELFDISTILL_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def is_local(url: str) -> bool:
    """Whether loading ``url`` stays on this machine."""
    parsed = urlparse(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname in {
        h.strip("[]") for h in LOCAL_HOSTS
    }


def blank_fraction(png: bytes) -> float:
    """The fraction of a screenshot's pixels that have its most common colour (1.0: blank)."""
    image_module = pytest.importorskip("PIL.Image", reason="Pillow (the images extra) reads PNGs")
    image = image_module.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height)
    return max(count for count, _ in colours) / (image.width * image.height)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the test process (a Playwright ``Browser``)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (the dev extra) drives the browser"
    )
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium: `apt-get install chromium` (scripts/setup.sh does it as root)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_FLAGS), timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A fresh page (1280 × 800) whose requests off this machine are refused and recorded in
    ``page.blocked``."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.blocked = []

    def route(route: Any) -> None:
        if is_local(route.request.url):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    try:
        yield page
    finally:
        context.close()
