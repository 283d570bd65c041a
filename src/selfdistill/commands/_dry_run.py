"""``--dry-run``: validate every option, print the resolved configuration, write nothing.

Shared by ``selfdistill chain``, ``selfdistill noisy`` and ``selfdistill reproduce NAME``: the
command parses and checks all of its options as a real run would (ranges, lists, the ``--out``
folder), prints what it would run as one JSON object on stdout and exits 0 before loading data or
training. Torch-free.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from .._util.io import to_jsonable
from .._util.outdir import check_output_folder

__all__ = ["add_dry_run_option", "options_of", "print_dry_run"]


def add_dry_run_option(parser: argparse.ArgumentParser) -> None:
    """``--dry-run``."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check every option, print the resolved configuration as JSON and exit without "
        "loading data, training or writing anything (default: run)",
    )


def options_of(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options as a dict (without the parser's private entries and callables)."""
    return {k: v for k, v in vars(args).items() if not callable(v) and not k.startswith("_")}


def print_dry_run(
    args: argparse.Namespace, resolved: Mapping[str, Any], command: str | None = None
) -> int:
    """Check ``args.out`` (nothing is created; with ``command``, that it is not another
    command's folder), print ``{"options", **resolved}`` as JSON and return 0."""
    check_output_folder(args.out, command=command)
    if getattr(args, "tensorboard", None) is not None:
        check_output_folder(args.tensorboard, name="--tensorboard")
    report = {"dry_run": True, "options": options_of(args), **resolved}
    print(json.dumps(to_jsonable(report), indent=2, sort_keys=True))
    return 0
