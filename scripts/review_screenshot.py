"""The screenshot of the review page in the README and docs/review.md (docs/images/review.png).

Runs `selfdistill clean` on the built-in digits (a short budget: the point is the page, not the
model), opens OUT/report.html in headless Chromium (Debian's, as the browser tests drive it),
decides a few rows as a person would — accept, keep, unsure, a label set by keyboard — and takes
a 1280 × 800 screenshot with the review table in view.

Usage::

    python scripts/review_screenshot.py                      # writes docs/images/review.png
    python scripts/review_screenshot.py --out runs/review-shot --png /tmp/review.png
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from selfdistill.cli import main as cli_main
from selfdistill.reports.html import write_report

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs") / "review-shot")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "images" / "review.png")
    parser.add_argument("--chromium", default="chromium")
    args = parser.parse_args()
    if not (args.out / "report.html").is_file():
        argv = ["clean", "--data", "digits", "--epochs", "8", "--methods", "sd-margin,ce",
                "--no-progress", "--out", str(args.out)]  # fmt: skip
        if cli_main(argv) != 0:
            raise SystemExit("selfdistill clean failed")
    write_report(args.out)  # the page as this version writes it (a kept run's page may be older)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = shutil.which(args.chromium) or args.chromium
        browser = playwright.chromium.launch(executable_path=executable, args=list(FLAGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto((args.out / "report.html").resolve().as_uri())
        page.wait_for_selector("html[data-review-complete='true']")
        rows = page.locator("#issues tbody tr")
        rows.nth(0).locator('button[data-d="accept"]').click()
        rows.nth(1).locator('button[data-d="accept"]').click()
        rows.nth(2).locator('button[data-d="keep"]').click()
        rows.nth(3).locator('button[data-d="unsure"]').click()
        rows.nth(4).focus()
        page.keyboard.press("5")  # set the label of the fifth row to the class "5"
        page.evaluate(
            "window.scrollTo(0, document.getElementById('review-h').getBoundingClientRect().top"
            " + window.scrollY - 8)"
        )
        args.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.png))
        browser.close()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
