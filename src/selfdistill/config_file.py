"""``--config FILE``: a command's options read from a TOML file (or a previous ``results.json``).

The keys of a TOML file are the command's long option names, with dashes or underscores
(``n-train = 500``, ``label_column = "y"``), or an option's destination name as ``results.json``
records it (``clip_alpha = false`` for ``--no-clip-alpha``). A flag takes a boolean, a comma-list
option a string or an array (``seeds = [0, 1, 2]``). The file's options are placed before those of
the command line, so the command line overrides the file. An unknown key or a value the option
refuses is a one-line ``ValueError`` naming the file and the key.

Every run of ``chain`` and ``noisy`` records its fully resolved options in ``results.json``
(``config.options``, :func:`resolved_options`); ``--config runs/x/results.json`` reads them back,
so any run can be repeated (``selfdistill noisy --config runs/x/results.json --out runs/y``).

Standard library only (:mod:`tomllib`).
"""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._util.outdir import results_owner

__all__ = [
    "add_config_option",
    "argv_with_config",
    "config_argv",
    "read_config_file",
    "resolved_options",
]

_SKIP = ("help", "config", "version")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``: options from a TOML file or a previous run's ``results.json``."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="read options from a TOML file (keys: the long option names, e.g. epochs = 10, "
        "label-column = 'y') or from a previous run's results.json; options given on the "
        "command line override the file (default: none, the command line alone)",
    )


def read_config_file(path: str | os.PathLike[str], command: str | None = None) -> dict[str, Any]:
    """The options of a TOML file, or the ``config.options`` of a ``results.json`` (with
    ``command``, one written by that command: another's is refused naming its command)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config: no such file: {path}")
    try:
        if path.suffix.lower() == ".json":
            record = json.loads(path.read_text(encoding="utf-8"))
            owner = results_owner(record)
            if command is not None and owner is not None and owner != command:
                raise ValueError(
                    f"this is the results.json of `selfdistill {owner}`, not of "
                    f"`selfdistill {command}`; give a results.json of a {command} run"
                )
            options = record.get("config", {}).get("options") if isinstance(record, dict) else None
            if not isinstance(options, dict):
                raise ValueError("a .json config must be a results.json holding config.options")
            return {k: v for k, v in options.items() if v is not None}
        with path.open("rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"--config {path}: {exc}") from None


def _actions(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.Action, bool]]:
    """key -> (action, keyed by its option string); dashes and underscores both accepted."""
    out: dict[str, tuple[argparse.Action, bool]] = {}
    for action in parser._actions:
        if action.dest in _SKIP or not action.option_strings:
            continue
        out.setdefault(action.dest.replace("-", "_"), (action, False))
        for option in action.option_strings:
            if option.startswith("--"):
                out[option[2:].replace("-", "_")] = (action, True)
    return out


def _text(source: str, key: str, value: Any) -> str:
    """A TOML value as the command line would give it."""
    if isinstance(value, bool) or isinstance(value, Mapping):
        raise ValueError(f"--config {source}: {key} takes a value, not {value!r}")
    if isinstance(value, list):
        return ",".join(_text(source, key, v) for v in value)
    return str(value)


def config_argv(
    parser: argparse.ArgumentParser, values: Mapping[str, Any], source: str = "FILE"
) -> list[str]:
    """Command-line tokens of the options ``values`` of ``parser`` (a command's parser).

    Raises
    ------
    ValueError
        Naming ``source`` and the key: an unknown key, a flag without a boolean, a value the
        option's type or choices refuse.
    """
    actions = _actions(parser)
    unknown = sorted(k for k in values if str(k).replace("-", "_") not in actions)
    if unknown:
        raise ValueError(
            f"--config {source}: unknown option(s) {', '.join(unknown)}; the keys are the long "
            f"option names of `{parser.prog} --help`"
        )
    argv: list[str] = []
    for key, value in values.items():
        action, by_option = actions[str(key).replace("-", "_")]
        flag = next(o for o in action.option_strings if o.startswith("--"))
        if action.nargs == 0:  # store_true / store_false / store_const
            if not isinstance(value, bool):
                raise ValueError(f"--config {source}: {key} must be true or false, got {value!r}")
            if value if by_option else value == action.const:
                argv.append(flag)
            continue
        if value is None:
            continue
        text = _text(source, key, value)
        try:
            converted = action.type(text) if callable(action.type) else text
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            raise ValueError(
                f"--config {source}: {key} = {value!r} is not a valid {flag}"
            ) from None
        if action.choices is not None and converted not in action.choices:
            choices = ", ".join(map(str, action.choices))
            raise ValueError(f"--config {source}: {key} must be one of {choices}, got {value!r}")
        argv.append(f"{flag}={text}")
    return argv


def argv_with_config(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    command: str,
    path: str | os.PathLike[str],
    *,
    owner: str | None = None,
) -> list[str]:
    """``argv`` with the options of the config file ``path`` inserted right after ``command``
    (so that the command line, which follows, overrides them); a ``results.json`` must be one
    of ``owner`` (default ``command``)."""
    argv = list(argv)
    at = argv.index(command) + 1
    values = read_config_file(path, owner or command)
    return [*argv[:at], *config_argv(parser, values, str(path)), *argv[at:]]


def resolved_options(args: argparse.Namespace, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """Every option of a parsed command as ``results.json`` records it (``config.options``):
    ``dest -> value``, the file options and defaults resolved, but the destinations ``exclude``
    (how the runs are executed, which does not change the results); ``--config`` reads it back."""
    skip = {"config", "command", *exclude}
    return {
        key: os.fspath(value) if isinstance(value, os.PathLike) else value
        for key, value in vars(args).items()
        if not key.startswith("_") and key not in skip and not callable(value)
    }
