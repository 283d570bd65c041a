"""(Re)write OUT/report.html, the page of a finished run, from OUT/results.json alone.

The page of a `clean` run is the review page of the suspect labels: the summary, the confusion
heat map and score histogram, and the table in which you accept, keep, set or mark unsure each
label, with thumbnails (images) or feature values and nearest correctly-labelled neighbours
(tables); `Download corrections.csv` saves your decisions for `clean --corrections`. The pages of
`noisy`, `chain` and `reproduce NAME` runs show their summary, settings, tables and figures.
Every page is one file with nothing to fetch: it opens from disk in any current browser.
Nothing is trained; each of those commands writes the page itself when it finishes.

example:
  selfdistill report runs/clean
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main", "write_run_report"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out", type=Path, metavar="OUT",
        help="the output folder of a clean, noisy, chain or reproduce run (holds results.json)",
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    from ..reports.html import write_report

    path = write_report(args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def write_run_report(out: Path) -> Path | None:
    """``OUT/report.html`` at the end of a command: written, or (its results being saved
    already) a one-line warning that says how to retry, and None."""
    from ..reports.html import write_report

    try:
        return write_report(out)
    except (ValueError, OSError, ImportError) as exc:
        print(
            f"warning: no report.html ({exc}); retry with `selfdistill report {out}`",
            file=sys.stderr,
        )
        return None
