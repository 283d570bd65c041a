"""Command-line options shared by the network reproductions, with defaults that follow ``--quick``.

An option whose default differs between the full run and ``--quick`` is declared with a
:class:`QuickDefault`; the parser stores ``None`` for it, its help text states both defaults, and
the experiment's ``_settings`` resolves it with :meth:`QuickDefault.pick`, :func:`resolve_int` or
:func:`resolve_int_list`. One ``QuickDefault`` per option keeps the help text and the value the
run uses from drifting apart. Importable without torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._util.validation import (
    MAX_EPOCHS,
    MAX_GENERATIONS,
    MAX_WIDTH,
    check_int,
    check_real,
    parse_int_list,
    parse_seeds,
)

__all__ = [
    "CAPS",
    "CHAIN_EPOCHS",
    "CHAIN_N_TRAIN",
    "QuickDefault",
    "add_data_option",
    "add_device_option",
    "add_int_list_option",
    "add_mlp_chain_options",
    "add_quick_int_option",
    "cap_default",
    "file_options",
    "mlp_chain_settings",
    "positive_real",
    "resolve_int",
    "resolve_int_list",
]

T = TypeVar("T")

#: the upper bounds of :func:`resolve_int` by flag (:mod:`selfdistill._util.validation`'s caps)
CAPS = {
    "--epochs": MAX_EPOCHS,
    "--student-epochs": MAX_EPOCHS,
    "--iterations": MAX_EPOCHS,
    "--generations": MAX_GENERATIONS,
    "--width": MAX_WIDTH,
}


@dataclass(frozen=True)
class QuickDefault(Generic[T]):
    """The default of an option for the full run and for ``--quick``."""

    full: T
    quick: T

    def pick(self, quick: bool) -> T:
        """The default that applies: ``quick`` when ``--quick`` was given, else ``full``."""
        return self.quick if quick else self.full


def _describe(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _help(text: str, default: QuickDefault[Any]) -> str:
    """``TEXT (default: FULL; quick QUICK)``."""
    stated = f"(default: {_describe(default.full)}; quick {_describe(default.quick)})"
    return f"{text} {stated}" if text else stated


def add_data_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    datasets: Sequence[str],
    default: str = "mnist1d",
) -> None:
    """``--data`` (one of ``datasets``, listed with the default first, or the path of a data file
    or image folder) and the reader options of a data file, ``--label-column`` and
    ``--image-size`` (:func:`file_options`). The path is checked when the data is loaded."""
    names = ", ".join((default, *(d for d in datasets if d != default)))
    parser.add_argument(
        "--data",
        default=default,
        metavar="NAME|PATH",
        help=f"data set ({names}) or your own data: a .npz (arrays x, y; optional x_val, y_val, "
        "x_test, y_test), .csv, .tsv or .parquet file (one row per sample), or a folder of "
        "images DIR/<class>/*.png|jpg (default: %(default)s)",
    )
    parser.add_argument(
        "--label-column",
        default="label",
        metavar="NAME",
        help="label column of a CSV/TSV/Parquet --data (default: %(default)s)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=None,
        metavar="PIXELS",
        help="resize the images of an image-folder --data to this many pixels squared "
        "(default: as they are; they must then all have one size)",
    )


def file_options(args: argparse.Namespace) -> dict[str, Any]:
    """The reader options of ``args.data`` for :func:`~selfdistill.nn.data_splits.load_dataset`:
    ``label_column`` / ``image_size`` for a data file, nothing for a built-in data set."""
    from .catalog import DATASETS

    if args.data in DATASETS:
        return {}
    options = {
        "label_column": getattr(args, "label_column", "label"),
        "image_size": getattr(args, "image_size", None),
    }
    return {k: v for k, v in options.items() if v is not None}


def add_quick_int_option(
    parser: argparse.ArgumentParser, flag: str, default: QuickDefault[int], text: str = ""
) -> None:
    """An integer option (``--n-train``, ``--epochs``, ...) whose default follows ``--quick``;
    a value below 1 is refused by :func:`resolve_int`."""
    parser.add_argument(flag, type=int, default=None, help=_help(text, default))


def add_int_list_option(
    parser: argparse.ArgumentParser,
    flag: str,
    default: QuickDefault[tuple[int, ...]],
    text: str = "comma list",
) -> None:
    """A comma list of integers (``--seeds``, ...) whose default follows ``--quick``."""
    parser.add_argument(flag, default=None, help=_help(text, default))


def add_device_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--device``: the torch device, ``auto`` (CUDA when available, else CPU) unless given.

    Checked when the run starts (:func:`selfdistill.nn.resolve_device`: a device this machine
    lacks is a one-line error), not here, so that ``--help`` needs no torch.
    """
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device: auto (CUDA when available, else CPU), cpu, cuda, cuda:1, mps "
        "(default: %(default)s)",
    )


def resolve_int(
    value: int | None,
    default: QuickDefault[int],
    quick: bool,
    flag: str = "value",
) -> int:
    """``value`` when given, else the default for this run.

    Raises
    ------
    ValueError
        Naming ``flag``, when ``value`` is given but not a positive integer (a 0 is an error,
        never a silent "use the default"), or exceeds the cap of :data:`CAPS`.
    """
    if value is None:
        return default.pick(quick)
    return check_int(flag, value, low=1, high=CAPS.get(flag))


def positive_real(flag: str, value: float) -> float:
    """``value`` after checking it is a finite real > 0 (learning rates; ValueError naming
    ``flag``)."""
    return check_real(flag, value, low=0.0, low_inclusive=False)


def resolve_int_list(
    flag: str, text: str | None, default: QuickDefault[tuple[int, ...]], quick: bool
) -> list[int]:
    """The comma list ``text`` parsed (ValueError naming ``flag``) when given, else the default
    for this run. ``--seeds`` must be distinct seeds
    (:func:`~selfdistill._util.validation.parse_seeds`), any other list positive integers."""
    if text is None:
        return list(default.pick(quick))
    if flag == "--seeds":
        return parse_seeds(flag, text)
    return parse_int_list(flag, text, low=1)


def cap_default(settings: dict[str, Any], key: str, available: int) -> None:
    """Cap a size setting left at its default at what the data set holds.

    ``settings[key + "_given"]`` (removed here) says whether the user gave the option; a size
    the user gave is kept (and refused later if too large), a default larger than ``available``
    (e.g. a probe of 2000 on a test split of 359) becomes ``available``.
    """
    if not settings.pop(key + "_given"):
        settings[key] = min(settings[key], available)


CHAIN_N_TRAIN = QuickDefault(full=4000, quick=1000)
CHAIN_EPOCHS = QuickDefault(full=30, quick=15)


def add_mlp_chain_options(
    parser: argparse.ArgumentParser,
    datasets: Sequence[str],
    generations: QuickDefault[int],
    seeds: QuickDefault[tuple[int, ...]],
) -> None:
    """``--data --n-train --generations --seeds --epochs --width`` of the MLP chain reproductions
    (mobahi-fig3, borup-fig5): the same data, network and training, their own chain length and
    seeds."""
    add_data_option(parser, datasets)
    add_quick_int_option(parser, "--n-train", CHAIN_N_TRAIN, "training samples")
    add_quick_int_option(parser, "--generations", generations, "generations")
    add_int_list_option(parser, "--seeds", seeds)
    add_quick_int_option(parser, "--epochs", CHAIN_EPOCHS, "epochs per fit")
    parser.add_argument("--width", type=int, default=256, help="MLP width (default: %(default)s)")


def mlp_chain_settings(
    args: argparse.Namespace,
    generations: QuickDefault[int],
    seeds: QuickDefault[tuple[int, ...]],
) -> dict[str, Any]:
    """The settings of :func:`add_mlp_chain_options`' options, the defaults resolved."""
    quick = bool(args.quick)
    return {
        "data": args.data,
        "n_train": resolve_int(args.n_train, CHAIN_N_TRAIN, quick, "--n-train"),
        "generations": resolve_int(args.generations, generations, quick, "--generations"),
        "seeds": resolve_int_list("--seeds", args.seeds, seeds, quick),
        "epochs": resolve_int(args.epochs, CHAIN_EPOCHS, quick, "--epochs"),
        "width": check_int("--width", args.width, low=1, high=MAX_WIDTH),
    }
