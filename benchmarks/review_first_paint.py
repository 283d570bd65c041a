"""First paint of the review page (OUT/report.html of `selfdistill clean`) in headless Chromium.

Makes the output folder of a clean run without training — DATA, issues.csv (sorted by score),
probabilities.npy and results.json as `clean` writes them — with ``--flagged`` flagged rows among
``--samples`` samples, writes the page with :func:`selfdistill.reports.html.write_report`, then
opens it ``--repeat`` times in a fresh browser context of Debian's Chromium (as the browser tests
do) and reads, per load:

* ``fcp``: the browser's first-contentful-paint (ms after navigation start);
* ``table``: the moment the review table's first page is in the document (the page's
  ``review-rendered`` performance mark), i.e. the first paint that shows rows;
* the time the page's script takes to switch to all samples, to filter by a class and to turn
  a page, on the loaded page (``performance.now()`` around the event).

Two kinds of data: ``images`` (an image folder of 16 × 16 PNGs: every flagged row has its
thumbnail embedded) and ``table`` (a CSV of 8 numeric columns: feature values and the nearest
correctly-labelled neighbours embedded).

Usage::

    python benchmarks/review_first_paint.py                       # 10,000 flagged of 12,000
    python benchmarks/review_first_paint.py --kind table --samples 100000 --flagged 10000

Prints a table and writes ``--out`` (JSON) with every number.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from selfdistill.reports.html import write_report

CLASSES = tuple(f"class-{c}" for c in "abcdefghij")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run")


def make_run(root: Path, kind: str, samples: int, flagged: int, seed: int = 0) -> Path:
    """DATA and OUT of a clean run with exactly ``flagged`` flagged samples; returns OUT."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    given = np.sort(rng.integers(0, k, size=samples))
    if kind == "images":
        from PIL import Image

        data = root / "images"
        rows = []
        for c, name in enumerate(CLASSES):
            (data / name).mkdir(parents=True)
            for i in np.flatnonzero(given == c):
                pixels = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
                Image.fromarray(pixels).save(data / name / f"{i:06d}.png")
            rows += [f"{name}/{p.name}" for p in sorted((data / name).iterdir())]
    else:
        data = root / "samples.csv"
        x = rng.normal(size=(samples, 8)) + given[:, None]
        with data.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*(f"f{j}" for j in range(8)), "label"])
            for xi, yi in zip(x, given, strict=True):
                writer.writerow([*(f"{v:.5f}" for v in xi), CLASSES[yi]])
        rows = [str(i) for i in range(samples)]
    probs = rng.dirichlet(np.ones(k), size=samples).astype(np.float32)
    wrong = rng.permutation(samples)[:flagged]
    boost = np.zeros_like(probs)
    boost[np.arange(samples), given] = 3.0
    boost[wrong, given[wrong]] = 0.0
    boost[wrong, (given[wrong] + 1) % k] = 3.0
    probs = (probs + boost) / (probs + boost).sum(axis=1, keepdims=True)
    suggested = probs.argmax(axis=1)
    p_given = probs[np.arange(samples), given]
    score = 1.0 - p_given
    is_flagged = np.zeros(samples, bool)
    is_flagged[wrong] = True
    out = root / "out"
    out.mkdir()
    np.save(out / "probabilities.npy", probs.astype(np.float32))
    order = np.argsort(-score, kind="stable")
    with (out / "issues.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "index", "given_label", "suggested_label", "score", "flagged",
                         "p_given", "p_suggested"])  # fmt: skip
        for i in order.tolist():
            writer.writerow([rows[i], i, CLASSES[given[i]], CLASSES[suggested[i]],
                             f"{score[i]:.6f}", int(is_flagged[i]), f"{p_given[i]:.6f}",
                             f"{probs[i, suggested[i]]:.6f}"])  # fmt: skip
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (given, suggested), 1)
    results = {
        "command": "clean", "data_kind": "images" if kind == "images" else "table",
        "settings": {"data": str(data), "label_column": "label", "folds": 3, "seed": seed},
        "classes": list(CLASSES), "n": samples, "n_flagged": flagged,
        "threshold": float(score[is_flagged].min()), "method": "sd-margin",
        "methods": {"sd-margin": 0.9, "elr": 0.89, "gce": 0.88},
        "flagged_per_class": {c: int((is_flagged & (given == j)).sum())
                              for j, c in enumerate(CLASSES)},
        "confusion": {"labels": list(CLASSES), "matrix": confusion.tolist()}, "corrections": 0,
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps(results))
    return out


_INTERACT = """async () => {
  const time = async (fn) => { const t = performance.now(); fn();
    await new Promise(r => requestAnimationFrame(() => r())); return performance.now() - t; };
  const change = (id, set) => () => { const e = document.getElementById(id); set(e);
    e.dispatchEvent(new Event('change')); };
  return {
    show_all: await time(change('show-all', e => { e.checked = true; })),
    filter_class: await time(change('filter-given', e => { e.value = '3'; })),
    next_page: await time(() => document.getElementById('page-next').click()),
  };
}"""


def measure(url: str, repeat: int, executable: str) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    loads = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(FLAGS))
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(url, wait_until="load")
            page.wait_for_selector("html[data-review-complete='true']")
            page.wait_for_timeout(200)  # let the paint entries settle
            timing = page.evaluate(
                """() => ({
                  fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
                  table: performance.getEntriesByName('review-rendered')[0].startTime,
                  rows: document.querySelectorAll('#issues tbody tr').length,
                })"""
            )
            timing.update(page.evaluate(_INTERACT))
            loads.append(timing)
            context.close()
        browser.close()
    return loads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("images", "table"), default="images")
    parser.add_argument("--samples", type=int, default=12_000)
    parser.add_argument("--flagged", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chromium", default=os.environ.get("SELFDISTILL_CHROMIUM", "chromium"))
    parser.add_argument("--out", type=Path, default=None, help="JSON file of every number")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = make_run(Path(tmp), args.kind, args.samples, args.flagged)
        made = time.perf_counter() - start
        start = time.perf_counter()
        page = write_report(out)
        written = time.perf_counter() - start
        size = page.stat().st_size
        import shutil

        executable = shutil.which(args.chromium) or args.chromium
        loads = measure(page.as_uri(), args.repeat, executable)
    keys = ("fcp", "table", "show_all", "filter_class", "next_page")
    median = {k: statistics.median(load[k] for load in loads) for k in keys}
    worst = {k: max(load[k] for load in loads) for k in keys}
    print(
        f"{args.kind}: {args.flagged:,} flagged of {args.samples:,} samples; page "
        f"{size / 1e6:.1f} MB written in {written:.1f} s (data made in {made:.1f} s)"
    )
    print(f"{'ms':>14} {'median':>8} {'worst':>8}  ({args.repeat} loads)")
    for k in keys:
        print(f"{k:>14} {median[k]:8.0f} {worst[k]:8.0f}")
    if args.out is not None:
        record = {
            "settings": vars(args) | {"out": str(args.out)}, "page_bytes": size,
            "write_report_s": written, "loads": loads, "median": median, "worst": worst,
        }  # fmt: skip
        args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
