"""Run the main demo: a short variant of every reproduction, on data that ships with the package.

Kernel results come first (no torch needed); the network demos run when the torch extra is
installed. Every part writes OUT/PART/results.json, its figures and OUT/PART/report.html.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._util.outdir import check_output_folder, output_folder
from ..experiments import EXPERIMENTS, add_experiment_arguments, run_experiment, torch_available
from .report import write_run_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / "demo",
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma list of parts to run (default: all); parts: "
        + ", ".join(n for n, e in EXPERIMENTS.items() if e.in_demo),
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="run the full-size experiments instead of the quick variants",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="do not print progress lines and bars",
    )


def main(args: argparse.Namespace) -> int:
    names = [n for n, e in EXPERIMENTS.items() if e.in_demo]
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise ValueError(f"--only names unknown parts {unknown}; parts: {', '.join(names)}")
        names = [n for n in names if n in wanted]
    check_output_folder(args.out, command="demo")  # every output folder, before any work
    for name in names:
        check_output_folder(args.out / name, command=f"reproduce {name}")
    with output_folder(args.out, command="demo"):
        _run_parts(args, names)
    print(f"demo finished: results in {args.out}", file=sys.stderr)
    return 0


def _run_parts(args: argparse.Namespace, names: list[str]) -> None:
    """Run the quick variant (the full one with ``--full``) of every part into OUT/NAME."""
    for name in names:
        experiment = EXPERIMENTS[name]
        if experiment.needs_torch and not torch_available():
            print(f"== {name}: skipped (needs PyTorch: pip install 'selfdistill[torch]')")
            continue
        print(f"== {name}: {experiment.summary}", flush=True)
        parser = argparse.ArgumentParser(prog=f"selfdistill reproduce {name}")
        add_experiment_arguments(parser, name)
        argv = ["--out", str(args.out / name)]
        if not args.full:
            argv.append("--quick")
        if not args.progress:
            argv.append("--no-progress")
        run_experiment(name, parser.parse_args(argv))
        write_run_report(args.out / name)  # the page `reproduce NAME` writes too
        print(f"   wrote {args.out / name}", flush=True)
