"""The built site in headless Chromium, opened from ``file://`` with every request off the machine
refused (tests/browser.py): the home page and an API page render — not blank, the jobs and a
figure on the home page, the maths typeset by the vendored KaTeX — and search works offline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import blank_fraction
from tests.docs.conftest import BuiltSite

#: a screenshot with more than this fraction of one flat colour is taken for blank
MAX_BLANK = 0.97


def _open(page: Any, built: BuiltSite, name: str) -> bytes:
    page.goto((built.path / name).as_uri(), wait_until="load")
    page.wait_for_selector(".katex", state="attached", timeout=30_000)
    png = page.screenshot()
    assert page.blocked == [], "the page tried to load something from outside the site"
    assert page.locator(".katex-error").count() == 0, "KaTeX could not parse a formula"
    return png


def test_home_page_shows_the_jobs_a_figure_and_maths(built: BuiltSite, offline_page: Any) -> None:
    png = _open(offline_page, built, "index.html")
    assert blank_fraction(png) < MAX_BLANK
    page = offline_page
    for job in ("Learn from noisy labels", "Train self-distilled generations", "Reproduce"):
        assert page.get_by_text(job).first.is_visible()
    figure = page.locator("img[src*='gallery/figures/']").first
    assert figure.is_visible()
    assert page.evaluate("(img) => img.naturalWidth", figure.element_handle()) > 0  # it loaded
    box = figure.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800, "the figure is in the first screen"
    assert page.locator(".katex").count() >= 2


def test_api_page_renders_maths_and_links(built: BuiltSite, offline_page: Any) -> None:
    png = _open(offline_page, built, "api/theory.html")
    assert blank_fraction(png) < MAX_BLANK
    page = offline_page
    assert page.locator(".katex").count() >= 3
    assert page.locator("a.autorefs-internal").count() >= 3  # cross-references became links


def test_search_works_from_file_urls(built: BuiltSite, offline_page: Any) -> None:
    page = offline_page
    page.goto((built.path / "index.html").as_uri(), wait_until="load")
    page.locator(".md-search__input").click()
    page.keyboard.type("collapse", delay=20)  # Material searches on key events
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=30_000)
    assert results.count() >= 1
    assert page.blocked == []


def test_blank_fraction_tells_blank_from_drawn() -> None:
    image_module = pytest.importorskip("PIL.Image", reason="Pillow (the images extra)")
    import io

    def png(image: Any) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    blank = image_module.new("RGB", (100, 80), "white")
    assert blank_fraction(png(blank)) == 1.0
    drawn = blank.copy()
    drawn.paste((0, 0, 0), (0, 0, 50, 80))
    assert blank_fraction(png(drawn)) == 0.5
