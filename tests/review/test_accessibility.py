"""Accessibility of the report pages: axe-core's checks (WCAG 2.1 A and AA, colour contrast
included) in headless Chromium, and the contrast ratios of the stylesheet's colour pairs computed
here (WCAG 2 formula) so that they hold without a browser too."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfdistill.reports.html import write_report
from selfdistill.reports.html.page import asset
from selfdistill.reports.html.svg import contrast_ratio, heat_colour
from tests.review.fake_runs import make_clean_run

#: WCAG 2 AA for body text; the stylesheet aims at AAA (7:1) for text, the charts at AA
AA = 4.5


def _hex(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def css_colours() -> dict[str, tuple[int, int, int]]:
    return {
        k: _hex(v) for k, v in re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", asset("report.css"))
    }


def test_contrast_ratio_matches_the_wcag_examples():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert contrast_ratio(_hex("#777777"), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio(_hex("#767676"), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize(
    ("ink", "paper"),
    [
        ("ink", "paper"), ("muted", "paper"), ("ink", "panel"), ("muted", "panel"),
        ("accent", "paper"), ("accent-ink", "accent"), ("flag-ink", "paper"),
        ("accept-ink", "accept-bg"), ("keep-ink", "keep-bg"), ("set-ink", "set-bg"),
        ("unsure-ink", "unsure-bg"),
    ],
)  # fmt: skip
def test_every_text_colour_of_the_stylesheet_has_contrast_7_to_1(ink, paper):
    colours = css_colours()
    assert contrast_ratio(colours[ink], colours[paper]) >= 7.0


def test_the_focus_ring_and_decision_bars_stand_out_from_the_page():
    colours = css_colours()  # WCAG 1.4.11: non-text contrast 3:1
    for name in ("focus", "accept-ink", "keep-ink", "set-ink", "unsure-ink", "accent"):
        assert contrast_ratio(colours[name], colours["paper"]) >= 3.0, name


@given(st.floats(0.0, 1.0))
def test_heat_map_numbers_are_readable_on_every_cell(fraction):
    fill, ink = heat_colour(fraction)
    assert ink in ("#000000", "#ffffff")
    assert contrast_ratio(_hex(fill), _hex(ink)) >= AA


# -------------------------------------------------------------------------------------------
# axe-core in the browser
# -------------------------------------------------------------------------------------------

AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}


def axe_violations(page) -> list[str]:
    axe = pytest.importorskip(
        "axe_playwright_python.sync_playwright", reason="axe-playwright-python (the dev extra)"
    )
    results = axe.Axe().run(page, options=AXE_OPTIONS).response
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes, e.g. {v['nodes'][0]['html'][:120]}"
        for v in results["violations"]
    ]


@pytest.mark.parametrize("kind", ["images", "table"])
def test_the_review_page_passes_axe_core(offline_page, tmp_path, kind):
    pytest.importorskip("PIL", reason="Pillow (the images extra) makes the test images")
    if kind == "table":
        pytest.importorskip("pandas", reason="pandas (the tables extra) reads CSV")
    out = make_clean_run(tmp_path, kind, n=60, noisy=0.3)
    write_report(out)
    offline_page.goto((out / "report.html").as_uri())
    offline_page.wait_for_selector("html[data-review-ready='true']")
    # decided rows of every kind, and a focused row, are checked too
    rows = offline_page.locator("#issues tbody tr")
    for i, kind_ in enumerate(("accept", "keep", "unsure")):
        rows.nth(i).locator(f'button[data-d="{kind_}"]').click()
    rows.nth(3).locator('button[data-d="set"]').click()
    rows.nth(3).locator("select").select_option(index=1)
    rows.nth(4).focus()
    assert axe_violations(offline_page) == []
    offline_page.emulate_media(media="print")
    assert axe_violations(offline_page) == []


def test_a_reproduce_page_passes_axe_core(offline_page, reproduce_run):
    offline_page.goto((reproduce_run / "report.html").as_uri())
    assert axe_violations(offline_page) == []


def test_axe_finds_a_contrast_fault_injected_into_the_page(offline_page, tmp_path):
    """A guard on the guard: pale text on the page is reported."""
    pytest.importorskip("PIL", reason="Pillow (the images extra) makes the test images")
    out = make_clean_run(tmp_path, "images", n=20)
    write_report(out)
    offline_page.goto((out / "report.html").as_uri())
    offline_page.evaluate("document.querySelector('.note').style.color = '#bbbbbb'")
    found = axe_violations(offline_page)
    assert any(v.startswith("color-contrast") for v in found), found
