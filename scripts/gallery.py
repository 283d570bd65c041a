"""Make the figures of the documentation's gallery (docs/gallery/): run each reproduction with the
options below, keep its PNG figures and results.json, and record how they were made.

    python scripts/gallery.py                 # every reproduction (hours on 2 shared CPU cores)
    python scripts/gallery.py borup-fig2 ...  # some of them

For each NAME it runs ``selfdistill reproduce NAME OPTIONS --out TMP --no-progress`` in a fresh
temporary folder, then replaces docs/gallery/figures/NAME/ with the run's ``*.png``,
``results.json`` and ``made.json``: the exact command, the commit it ran at (and whether src/ had
uncommitted changes), the date, the seconds it took, and the Python, NumPy and torch versions.
The gallery pages show that record under their figures (scripts/docs_hooks.py), and
``selfdistill reproduce NAME --replot docs/gallery/figures/NAME`` redraws the figures from the
kept results.json alone.

The site shows committed outputs rather than running the reproductions while it builds: the
network reproductions take minutes each even in their ``--quick`` variants, and the docs build
must stay short (tests/docs/test_site.py builds it in CI). The options are the full defaults
where a run takes minutes, fewer seeds (or ``--quick``) where the full run takes hours on a CPU;
each gallery page gives the full command too and says which one drew its figures.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "gallery" / "figures"

#: the options each gallery figure is drawn with (the full defaults when empty)
OPTIONS: dict[str, list[str]] = {
    "borup-fig2": [],
    "mobahi-fig2": [],
    "sparsity": [],
    # MNIST-1D at 4,000 samples takes hours in the 5-fold search; its numbers are in the page
    "sd-vs-ridge": ["--datasets", "diabetes,digits,toy"],
    # one draw of each data set at the full 10^5 samples (the default is three)
    "sd-vs-ridge-large": ["--seeds", "1"],
    "mobahi-fig3": [],
    "borup-fig5": ["--seeds", "0"],
    "dong-fig1": ["--seeds", "0"],
    "dong-table1": ["--quick"],
    "dong-theorem1": [],
    "dong-fig2": [],
    "dong-fig5": ["--seeds", "0", "--iterations", "400"],
    "ntk-kernel": ["--seeds", "0"],
}


def command(name: str) -> str:
    """The command a gallery page shows for ``name`` (its output folder under runs/)."""
    return " ".join(["selfdistill", "reproduce", name, *OPTIONS[name], "--out", f"runs/{name}"])


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def make(name: str) -> dict:
    """Run reproduction ``name`` and replace its gallery folder; returns the record."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        argv = ["reproduce", name, *OPTIONS[name], "--out", str(out), "--no-progress"]
        commit, src_changed = _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain", "src"))
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "selfdistill"), *argv],
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")},
        )
        seconds = time.perf_counter() - start
        figures = sorted(p.name for p in out.glob("*.png"))
        if not figures:
            raise RuntimeError(f"{name} drew no figure into {out}")
        record = {
            "experiment": name,
            "command": command(name),
            "commit": commit,
            "src_changed": src_changed,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
            "seconds": round(seconds, 1),
            "machine": f"{os.cpu_count()} CPU cores, no GPU",
            "versions": {p: _version(p) for p in ("selfdistill", "numpy", "torch")},
            "figures": figures,
        }
        target = FIGURES / name
        staging = FIGURES / f".{name}.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for figure in figures:
            shutil.copy2(out / figure, staging / figure)
        shutil.copy2(out / "results.json", staging / "results.json")
        (staging / "made.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="reproductions (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(OPTIONS))
    if unknown:
        parser.error(f"names: unknown {unknown}; choose from {sorted(OPTIONS)}")
    for name in args.names or list(OPTIONS):
        record = make(name)
        print(f"{name}: {len(record['figures'])} figures in {record['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
