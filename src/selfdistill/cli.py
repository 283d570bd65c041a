"""The ``selfdistill`` command line.

Subcommands are registered in :data:`COMMANDS` as module paths. Each module exposes
``add_arguments(parser)`` and ``main(args) -> int`` and must be importable without torch, so that
``selfdistill --help`` and ``selfdistill SUBCOMMAND --help`` work on a torch-free install.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .config_file import argv_with_config

__all__ = ["COMMANDS", "build_parser", "main"]

#: name -> (module path, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("selfdistill.commands.demo", "run the main demo on data that ships with the package"),
    "reproduce": ("selfdistill.commands.reproduce", "reproduce a figure or table of the papers"),
    "chain": ("selfdistill.commands.chain", "train a chain of self-distilled network generations"),
    "noisy": (
        "selfdistill.commands.noisy",
        "learn from noisy labels: self-distillation and rivals",
    ),
    "predict": ("selfdistill.commands.predict", "predict with a saved model (model.json)"),
    "report": ("selfdistill.commands.report", "(re)write OUT/report.html of a finished run"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subparser per entry of :data:`COMMANDS`."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="selfdistill",
        description="Self-distillation in closed form for kernels and as recipes for networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_path, help_text) in COMMANDS.items():
        module = importlib.import_module(module_path)
        sp = sub.add_parser(
            name,
            help=help_text,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sp)
        sp.set_defaults(_main=module.main, _parser=sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfdistill`` console script; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "config", None) is not None:  # --config FILE: its options, then argv's
            argv = argv_with_config(args._parser, argv, args.command, args.config)
            args = parser.parse_args(argv)
        return int(args._main(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        # Bad input, missing files and missing optional packages: a clear one-line message.
        print(f"selfdistill {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
