"""Reproduce a figure or table of the papers.

Writes OUT/results.json (every plotted number) and PNG figures into OUT, printing a progress line
per stage. `selfdistill reproduce NAME --help` lists the options of one experiment.
"""

from __future__ import annotations

import argparse

from ..experiments import EXPERIMENTS, add_common_arguments, available, run_experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for name, experiment in EXPERIMENTS.items():
        if not available(experiment):
            continue
        sp = sub.add_parser(name, help=experiment.summary, description=experiment.summary)
        add_common_arguments(sp, name)
        module = experiment.load()
        if hasattr(module, "add_arguments"):
            module.add_arguments(sp)


def main(args: argparse.Namespace) -> int:
    name = args.experiment
    run_experiment(name, args)
    print(f"wrote {args.out / 'results.json'} and figures in {args.out}")
    return 0
