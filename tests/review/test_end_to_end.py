"""The whole loop with real `selfdistill clean` runs (small networks, few epochs): an image folder
and a CSV the user made are cleaned, the page that `clean` wrote is opened in headless Chromium,
rows are decided by mouse and by keyboard, the decisions survive a reload, the downloaded
corrections.csv goes back to `clean --corrections`, and exactly the decided labels change."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from selfdistill.cli import main

pytest.importorskip("torch", reason="`selfdistill clean` trains networks (the torch extra)")

FAST = ["--epochs", "6", "--width", "16", "--batch-size", "16", "--methods", "ce,gce",
        "--folds", "3", "--no-progress", "--device", "cpu"]  # fmt: skip
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220)}


def issues(out: Path) -> list[dict[str, str]]:
    with (out / "issues.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def image_folder(root: Path, n: int = 36) -> Path:
    """Colour patches in class folders; every 6th sits in the wrong folder."""
    image = pytest.importorskip("PIL.Image", reason="Pillow (the images extra) writes images")
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    for i in range(n):
        true = i % 3
        folder = names[true] if i % 6 else names[(true + 1) % 3]
        (root / folder).mkdir(parents=True, exist_ok=True)
        colour = np.array(COLOURS[names[true]])
        pixels = np.clip(colour + rng.normal(0, 25, (10, 10, 3)), 0, 255).astype(np.uint8)
        image.fromarray(pixels).save(root / folder / f"{i:03d}.png")
    return root


def table_file(path: Path, n: int = 45) -> Path:
    """Three clusters in four columns and a text label column; every 7th label is wrong."""
    rng = np.random.default_rng(1)
    names = ["setosa", "versicolor", "virginica"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sepal", "petal", "species", "width", "height"])
        for i in range(n):
            true = i % 3
            label = names[true] if i % 7 else names[(true + 1) % 3]
            x = rng.normal(0, 0.5, 4) + 3.0 * true
            writer.writerow([f"{x[0]:.3f}", f"{x[1]:.3f}", label, f"{x[2]:.3f}", f"{x[3]:.3f}"])
    return path


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    data = image_folder(root / "my images")
    out = root / "out"
    assert main(["clean", "--data", str(data), "--out", str(out), *FAST]) == 0
    return out


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pandas", reason="pandas (the tables extra) reads CSV")
    root = tmp_path_factory.mktemp("table")
    data = table_file(root / "flowers.csv")
    out = root / "out"
    assert main(["clean", "--data", str(data), "--label-column", "species", "--out", str(out),
                 *FAST]) == 0  # fmt: skip
    return out


def open_page(page, out: Path):
    page.goto((out / "report.html").as_uri())
    page.wait_for_selector("html[data-review-complete='true']", timeout=20_000)
    return page


def rows_shown(page) -> list[str]:
    return page.eval_on_selector_all("#issues tbody tr", "rs => rs.map(r => r.dataset.row)")


def download(page, path: Path) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.click("#download-corrections")
    info.value.save_as(path)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def rerun(out: Path, corrections: Path, extra: list[str]) -> Path:
    settings = json.loads((out / "results.json").read_text())["settings"]
    again = out.parent / (out.name + "-corrected")
    assert main(["clean", "--data", settings["data"], "--out", str(again), "--corrections",
                 str(corrections), *extra, *FAST]) == 0  # fmt: skip
    return again


def check_exactly_those_changed(before: Path, after: Path, decided: dict[str, str]) -> None:
    """The rerun trusts the decided rows (their label, never flagged) and leaves every other
    row's given label as the file has it."""
    old = {r["row"]: r for r in issues(before)}
    new = {r["row"]: r for r in issues(after)}
    assert set(old) == set(new)
    assert json.loads((after / "results.json").read_text())["corrections"] == len(decided)
    for row, r in new.items():
        assert r["given_label"] == old[row]["given_label"]  # the file's labels, as they were
        if row in decided:
            assert r["corrected"] == decided[row] and r["flagged"] == "0", row
        else:
            assert r["corrected"] == "", row


def test_images_clean_review_decide_reload_download_and_clean_again(
    offline_page, image_run, tmp_path
):
    page = open_page(offline_page, image_run)
    found = issues(image_run)
    flagged = [r["row"] for r in found if r["flagged"] == "1"]
    assert flagged, "the wrong folders of the fixture are flagged"
    assert rows_shown(page) == flagged  # the flagged images, most surely wrong first
    widths = page.eval_on_selector_all("#issues tbody img", "is => is.map(i => i.naturalWidth)")
    assert widths == [10] * len(flagged)
    by_row = {r["row"]: r for r in found}
    for row in flagged:  # each with its labels
        cells = page.locator(f'#issues tr[data-row="{row}"] td').all_inner_texts()
        assert cells[2] == row and cells[3] == by_row[row]["given_label"]
        assert cells[4].startswith(by_row[row]["suggested_label"])
    # decide: mouse on the first flagged row, keyboard on the first three of all samples
    page.click(f'#issues tr[data-row="{flagged[0]}"] button[data-d="accept"]')
    page.check("#show-all")
    others = [r for r in rows_shown(page) if r != flagged[0]][:3]
    page.focus(f'#issues tr[data-row="{others[0]}"]')
    page.keyboard.press("k")  # keep the given label
    page.keyboard.press("u")  # unsure: not written
    page.keyboard.press("3")  # the third class
    classes = json.loads((image_run / "results.json").read_text())["classes"]
    decided = {
        flagged[0]: by_row[flagged[0]]["suggested_label"],
        others[0]: by_row[others[0]]["given_label"],
        others[2]: classes[2],
    }
    page.reload()
    page.wait_for_selector("html[data-review-complete='true']")
    assert "3 go into corrections.csv" in page.inner_text("#decided-count")
    written = download(page, tmp_path / "corrections.csv")
    assert {r["row"]: r["label"] for r in written} == decided
    again = rerun(image_run, tmp_path / "corrections.csv", [])
    check_exactly_those_changed(image_run, again, decided)
    # the new page shows them decided (in an earlier review) and downloads them again
    page = open_page(offline_page, again)
    page.check("#show-all")
    text = page.inner_text(f'#issues tr[data-row="{flagged[0]}"] .decision')
    assert text.endswith(f"{decided[flagged[0]]} (in an earlier review)")
    assert {r["row"]: r["label"] for r in download(page, tmp_path / "again.csv")} == decided
    assert page.blocked == []


def test_table_clean_review_with_features_and_neighbours(offline_page, table_run, tmp_path):
    page = open_page(offline_page, table_run)
    page.check("#show-all")
    first = rows_shown(page)[0]
    cell = page.inner_text(f'#issues tr[data-row="{first}"] td.features')
    for column in ("sepal", "petal", "width", "height"):
        assert column in cell
    assert "species" not in cell.split("Nearest")[0]  # the label is not a feature
    assert page.locator(f'#issues tr[data-row="{first}"] .neighbours li').count() == 3
    # keyboard only: focus the table's first row, accept, accept, set class 1
    page.focus(f'#issues tr[data-row="{first}"]')
    for key in ("a", "a", "1"):
        page.keyboard.press(key)
    rows = rows_shown(page)[:3]
    found = {r["row"]: r for r in issues(table_run)}
    decided = {rows[0]: found[rows[0]]["suggested_label"],
               rows[1]: found[rows[1]]["suggested_label"], rows[2]: "setosa"}  # fmt: skip
    written = download(page, tmp_path / "corrections.csv")
    assert {r["row"]: r["label"] for r in written} == decided
    again = rerun(table_run, tmp_path / "corrections.csv", ["--label-column", "species"])
    check_exactly_those_changed(table_run, again, decided)
