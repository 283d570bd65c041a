"""Reproduce a figure or table of the papers.

Writes OUT/results.json (every plotted number), PNG figures and OUT/report.html (one page with
the results, figures and settings) into OUT, printing a progress line per stage.
`selfdistill reproduce NAME --help` lists the options of one experiment;
`selfdistill reproduce NAME --replot OUT` redraws the figures (and the page) of a finished run
from OUT/results.json alone, without training (say after restyling a figure).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments import (
    EXPERIMENTS,
    add_experiment_arguments,
    experiment_settings,
    replot_experiment,
    run_experiment,
)
from ._dry_run import add_dry_run_option, print_dry_run
from .report import write_run_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="experiment", metavar="NAME", required=True)
    for name, experiment in EXPERIMENTS.items():
        sp = sub.add_parser(name, help=experiment.summary, description=experiment.summary)
        add_experiment_arguments(sp, name)
        sp.add_argument(
            "--replot",
            type=Path,
            default=None,
            metavar="OUT",
            help="redraw the figures into OUT from OUT/results.json of an earlier run of this "
            "experiment, without computing anything (the other options are ignored) "
            "(default: compute)",
        )
        add_dry_run_option(sp)


def main(args: argparse.Namespace) -> int:
    name = args.experiment
    if args.replot is not None:
        replot_experiment(name, args.replot)
        write_run_report(args.replot)
        print(f"redrew the figures and report.html of {name} in {args.replot}")
        return 0
    if args.dry_run:
        return print_dry_run(
            args,
            {"experiment": name, "settings": experiment_settings(name, args)},
            command=f"reproduce {name}",
        )
    run_experiment(name, args)
    write_run_report(args.out)
    print(f"wrote {args.out / 'results.json'}, figures and report.html in {args.out}")
    return 0
