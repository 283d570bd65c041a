"""The review page in headless Chromium (tests/browser.py), as a person uses it: thumbnails
decode, filters narrow the table, rows are decided by mouse and by keyboard, a reload keeps the
decisions, corrections.csv downloads with exactly the decided rows, the page looks like a page.
Skipped with one line where no Chromium (or Playwright) is installed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from selfdistill.reports.html import write_report
from tests.browser import blank_fraction
from tests.review.fake_runs import CLASSES, make_clean_run, read_issues

pytest.importorskip("PIL", reason="Pillow (the images extra) makes the test images")


def open_report(page, out):
    write_report(out)
    page.goto((out / "report.html").as_uri())
    page.wait_for_selector("html[data-review-complete='true']", timeout=20_000)
    return page


def table_rows(page) -> list[str]:
    return page.eval_on_selector_all("#issues tbody tr", "rs => rs.map(r => r.dataset.row)")


def flagged_rows(out) -> list[str]:
    return [r["row"] for r in read_issues(out) if r["flagged"] == "1"]


@pytest.fixture
def image_run(tmp_path):
    return make_clean_run(tmp_path, "images", n=60, noisy=0.3)


def test_the_flagged_images_show_with_their_labels_and_decode(offline_page, image_run):
    page = open_report(offline_page, image_run)
    flagged = flagged_rows(image_run)
    assert 0 < len(flagged) <= 50
    assert table_rows(page) == flagged  # sorted by score, the flagged ones only
    widths = page.eval_on_selector_all(
        "#issues tbody img", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
    )
    assert len(widths) == len(flagged) and all(w == 12 for w in widths)
    issues = {r["row"]: r for r in read_issues(image_run)}
    first = page.locator(f'#issues tr[data-row="{flagged[0]}"]')
    cells = first.locator("td").all_inner_texts()
    assert cells[3] == issues[flagged[0]]["given_label"]
    assert cells[4].startswith(issues[flagged[0]]["suggested_label"]) and "flagged" in cells[4]
    assert page.blocked == []


def test_filters_narrow_the_table(offline_page, image_run):
    page = open_report(offline_page, image_run)
    issues = read_issues(image_run)
    page.select_option("#filter-given", label="dog")
    expected = [r["row"] for r in issues if r["flagged"] == "1" and r["given_label"] == "dog"]
    assert table_rows(page) == expected
    page.select_option("#filter-given", value="")
    page.check("#show-all")
    page.select_option("#page-size", "100")
    assert table_rows(page) == [r["row"] for r in issues]  # 60 samples on one page
    page.fill("#filter-min", "0.3")
    page.fill("#filter-max", "0.6")
    expected = [r["row"] for r in issues if 0.3 <= float(r["score"]) <= 0.6]
    assert table_rows(page) == expected
    page.select_option("#filter-suggested", label="owl")
    expected = [
        r["row"] for r in issues
        if 0.3 <= float(r["score"]) <= 0.6 and r["suggested_label"] == "owl"
    ]  # fmt: skip
    assert table_rows(page) == expected
    assert f"of {len(expected)} matching" in page.inner_text("#status") or not expected


def test_decide_by_mouse_and_keyboard_reload_and_download(offline_page, image_run, tmp_path):
    page = open_report(offline_page, image_run)
    issues = {r["row"]: r for r in read_issues(image_run)}
    page.check("#show-all")  # 60 rows: enough for every kind of decision
    rows = table_rows(page)
    r0, r1, r2, r3, r4, r5, r6 = rows[:7]
    # mouse: accept, keep, set a label, unsure
    page.click(f'#issues tr[data-row="{r0}"] button[data-d="accept"]')
    page.click(f'#issues tr[data-row="{r1}"] button[data-d="keep"]')
    other = next(c for c in CLASSES if c not in (issues[r2]["given_label"],))
    page.click(f'#issues tr[data-row="{r2}"] button[data-d="set"]')
    page.select_option(f'#issues tr[data-row="{r2}"] select', other)
    page.click(f'#issues tr[data-row="{r3}"] button[data-d="unsure"]')
    # keyboard: focus the next row, then a (accept), k (keep), 3 (class 3); focus follows
    page.focus(f'#issues tr[data-row="{r4}"]')
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.dataset.row") == r5
    page.keyboard.press("k")
    page.keyboard.press("3")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.dataset.row") == r6
    expected = {
        r0: issues[r0]["suggested_label"], r1: issues[r1]["given_label"], r2: other,
        r4: issues[r4]["suggested_label"], r5: issues[r5]["given_label"], r6: CLASSES[2],
    }  # fmt: skip
    texts = {r: page.inner_text(f'#issues tr[data-row="{r}"] .decision') for r in rows[:8]}
    assert texts[r0] == f"✓ accepted: {expected[r0]}" and texts[r3] == "? unsure"
    assert texts[r2] == f"✎ set: {other}" and texts[rows[7]] == "undecided"
    assert page.get_attribute(f'#issues tr[data-row="{r1}"] button[data-d="keep"]',
                              "aria-pressed") == "true"  # fmt: skip
    # reload: the decisions are still there
    page.reload()
    page.wait_for_selector("html[data-review-ready='true']")
    page.check("#show-all")
    after = {r: page.inner_text(f'#issues tr[data-row="{r}"] .decision') for r in rows[:8]}
    assert after == texts
    assert "6 go into corrections.csv" in page.inner_text("#decided-count")
    # download: the decided rows, unsure left out, in the samples' reading order
    with page.expect_download() as info:
        page.click("#download-corrections")
    download = info.value
    assert download.suggested_filename == "corrections.csv"
    saved = tmp_path / "corrections.csv"
    download.save_as(saved)
    with saved.open(newline="") as f:
        written = list(csv.DictReader(f))
    assert [list(r) for r in written[:1]] == [["row", "label"]]
    assert {r["row"]: r["label"] for r in written} == expected
    order = [int(issues[r["row"]]["index"]) for r in written]
    assert order == sorted(order)
    # clearing a decision by keyboard
    page.focus(f'#issues tr[data-row="{r0}"]')
    page.keyboard.press("c")
    assert page.inner_text(f'#issues tr[data-row="{r0}"] .decision') == "undecided"
    # s opens the list of labels on the row, Escape closes it and returns to the row
    page.keyboard.press("s")
    assert page.evaluate("document.activeElement.tagName") == "SELECT"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.dataset.row") == r0
    assert page.locator(f'#issues tr[data-row="{r0}"] select').count() == 0
    assert page.inner_text(f'#issues tr[data-row="{r2}"] button[data-d="set"]') == f"Set: {other}…"


def test_decisions_are_kept_per_run(offline_page, tmp_path):
    """Two runs' pages do not share their decisions (the key is the run's issues.csv)."""
    a = make_clean_run(tmp_path / "a", "images", n=30, seed=1)
    b = make_clean_run(tmp_path / "b", "images", n=30, seed=2)
    page = open_report(offline_page, a)
    first = table_rows(page)[0]
    page.click(f'#issues tr[data-row="{first}"] button[data-d="accept"]')
    open_report(offline_page, b)
    assert "0 decided" in page.inner_text("#decided-count")
    open_report(offline_page, a)
    assert "1 decided" in page.inner_text("#decided-count")


def test_pages_of_many_rows_and_page_keys(offline_page, tmp_path):
    out = make_clean_run(tmp_path, "table", n=400, noisy=0.6)
    pytest.importorskip("pandas", reason="pandas (the tables extra) reads CSV")
    page = open_report(offline_page, out)
    flagged = flagged_rows(out)
    assert len(flagged) > 100
    assert table_rows(page) == flagged[:50]
    assert "page 1 of" in page.inner_text("#page-info")
    page.click("#page-next")
    assert table_rows(page) == flagged[50:100]
    page.keyboard.press("PageDown")
    assert table_rows(page) == flagged[100:150]
    assert page.evaluate("document.activeElement.dataset.row") == flagged[100]
    page.keyboard.press("End")
    page.keyboard.press("ArrowDown")  # past the last row of a page: the next page's first
    assert table_rows(page)[0] == flagged[150]
    neighbours = page.inner_text(f'#issues tr[data-row="{flagged[150]}"] .neighbours')
    assert "distance" in neighbours
    # past the first 250 rows the evidence follows the script: it is there too
    page.check("#show-all")
    page.select_option("#page-size", "250")
    page.click("#page-next")
    shown = table_rows(page)
    assert len(shown) == 150
    assert page.locator("#issues tbody td.features dl").count() == 150
    assert page.locator("#issues tbody .neighbours").count() == 150


def test_the_screenshot_shows_the_table(offline_page, image_run, tmp_path):
    page = open_report(offline_page, image_run)
    page.locator("#issues thead").scroll_into_view_if_needed()
    png = page.screenshot()
    (tmp_path / "review.png").write_bytes(png)
    assert blank_fraction(png) < 0.9
    box = page.locator("#issues tbody tr").first.bounding_box()
    assert box is not None and 0 <= box["y"] < 800 and box["height"] > 20
    full = page.screenshot(full_page=True)
    from PIL import Image

    assert Image.open(io.BytesIO(full)).height > 800
    # printed: the summary and the table, without the controls
    page.emulate_media(media="print")
    assert page.is_visible("#issues tbody tr") and page.is_visible("#summary-h")
    for control in ("#download-corrections", "#filter-given", "#page-next", "button[data-d]"):
        assert not page.locator(control).first.is_visible(), control
    assert page.pdf()[:4] == b"%PDF"


def test_the_page_works_without_local_storage(browser, image_run):
    """A browser that refuses localStorage: the page still decides and downloads, and says the
    decisions will not survive a reload."""
    context = browser.new_context()
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new Error('denied'); }});"
    )
    page = context.new_page()
    try:
        open_report(page, image_run)
        assert page.is_visible("#storage-warning")
        first = table_rows(page)[0]
        page.click(f'#issues tr[data-row="{first}"] button[data-d="keep"]')
        csv_text = page.evaluate("window.selfdistillReview.correctionsCsv()")
        assert csv_text.splitlines()[1].startswith(first.split(",")[0])
    finally:
        context.close()


def test_run_pages_open_offline_with_their_figures(offline_page, reproduce_run):
    assert json.loads((reproduce_run / "results.json").read_text())["command"] == "reproduce"
    offline_page.goto((reproduce_run / "report.html").as_uri())
    widths = offline_page.eval_on_selector_all("figure img", "is => is.map(i => i.naturalWidth)")
    assert widths and all(w > 100 for w in widths)
    assert offline_page.blocked == []


def test_thumbnails_past_the_first_pages_arrive(offline_page, tmp_path):
    """The first pages' thumbnails come with the table's data, the others at the end of the
    page: a page past the first 250 flagged rows shows its images too."""
    out = make_clean_run(tmp_path, "images", n=420, noisy=0.9)
    flagged = flagged_rows(out)
    assert len(flagged) > 300
    page = open_report(offline_page, out)
    page.select_option("#page-size", "250")
    page.click("#page-next")
    assert table_rows(page) == flagged[250:500]
    widths = page.eval_on_selector_all(
        "#issues tbody img", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
    )
    assert len(widths) == len(flagged) - 250 and all(w == 12 for w in widths)


def test_digit_keys_set_the_digit_classes_by_name(offline_page, tmp_path):
    """Classes named 0-9 (digits): the key 2 sets the class "2", not the list's second."""
    out = make_clean_run(tmp_path, "table", n=40, noisy=0.5, classes=("0", "1", "2"))
    pytest.importorskip("pandas", reason="pandas (the tables extra) reads CSV")
    page = open_report(offline_page, out)
    first = table_rows(page)[0]
    page.focus(f'#issues tr[data-row="{first}"]')
    page.keyboard.press("2")
    assert page.inner_text(f'#issues tr[data-row="{first}"] .decision') == "✎ set: 2"
