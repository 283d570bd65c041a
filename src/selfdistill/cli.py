"""The ``selfdistill`` command line.

Subcommands are registered in :data:`COMMANDS` as module paths. Each module exposes
``add_arguments(parser)`` and ``main(args) -> int`` and must be importable without torch, so that
``selfdistill --help`` and ``selfdistill SUBCOMMAND --help`` work on a torch-free install.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from .config_file import argv_with_config
from .exceptions import Interrupted

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
    "clean": (
        "selfdistill.commands.clean",
        "find the wrong labels in your data set (out of sample) and train the model you keep",
    ),
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


def _command_name(args: argparse.Namespace) -> str:
    """``chain``, ``noisy``, ... or ``reproduce NAME``: the command a folder or file belongs to."""
    experiment = getattr(args, "experiment", None)
    return f"{args.command} {experiment}" if experiment else args.command


def _terminated(signum: int, frame: object) -> None:
    """SIGTERM (schedulers, ``timeout``, ``kill``) ends a command as Ctrl-C does: its workers
    are stopped and what finished is kept (:class:`~selfdistill.exceptions.Interrupted`)."""
    raise Interrupted(signum)


def _os_error(exc: OSError) -> str:
    """An OSError as one sentence naming its file (``File too large``, ``Permission denied``)."""
    what = exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else None
    return f"{what}: {where}" if where is not None else what


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``selfdistill`` console script; returns the exit status.

    A bad option or input is one line ``selfdistill CMD: error: ...`` and status 2; Ctrl-C and
    SIGTERM are one line ``selfdistill CMD: interrupted; N of M runs kept, rerun the same command
    to resume`` and status 130 (SIGINT) or 143 (SIGTERM).
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        return _main(argv)
    except KeyboardInterrupt as exc:  # before a command was parsed
        stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        print(f"selfdistill: {stop.message()}", file=sys.stderr)
        return stop.exit_status
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "config", None) is not None:  # --config FILE: its options, then argv's
            argv = argv_with_config(
                args._parser, argv, args.command, args.config, owner=_command_name(args)
            )
            args = parser.parse_args(argv)
        return int(args._main(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        # Bad input, missing files and missing optional packages: a clear one-line message.
        print(f"selfdistill {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a full disk, a file-size limit
        print(f"selfdistill {args.command}: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        stop = exc if isinstance(exc, Interrupted) else Interrupted(signal.SIGINT)
        print(f"selfdistill {args.command}: {stop.message()}", file=sys.stderr)
        return stop.exit_status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
