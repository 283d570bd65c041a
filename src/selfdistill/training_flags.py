"""The command-line options of network training, declared once for every command that trains.

:func:`add_training_flags` declares the flags that ``selfdistill chain``, ``selfdistill noisy``
(and any further command that trains networks) share — ``--model --width --depth --epochs
--batch-size --optimizer --lr --momentum --weight-decay --schedule --seeds --device`` and the
execution options of :mod:`selfdistill.execution` — with one default each; only the budget
(``epochs``, ``seeds``) is the command's own. :func:`training_settings` checks them and resolves
the learning rate: ``--lr`` not given is :data:`DEFAULT_LR` of the optimiser (SGD 0.05, Adam and
AdamW 0.001), in ``--help``, ``--dry-run`` and the run alike.

The network reproductions declare their own sizes but share the pieces: ``--data`` and a data
file's reader options (:func:`add_data_option`, :func:`file_options`), ``--device``
(:func:`add_device_option`), ``--lr`` (:func:`add_lr_option`), and options whose default differs
between the full run and ``--quick``: declared with a :class:`QuickDefault`, the parser stores
``None``, the help text states both defaults, and the experiment's ``_settings`` resolves it with
:meth:`QuickDefault.pick`, :func:`resolve_int` or :func:`resolve_int_list`. One declaration per
option keeps the help text and the value a run uses from drifting apart. Importable without
torch, so ``--help`` needs none.

Example, a command of your own::

    parser = argparse.ArgumentParser()
    add_data_option(parser, DATASETS)
    add_training_flags(parser, epochs=40, seeds="0")
    args = parser.parse_args(["--optimizer", "adam"])
    training_settings(args)["lr"]  # 0.001
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._util.validation import (
    MAX_DEPTH,
    MAX_EPOCHS,
    MAX_GENERATIONS,
    MAX_WIDTH,
    check_choice,
    check_int,
    check_real,
    parse_int_list,
    parse_seeds,
)
from .catalog import DEFAULT_LR, MODELS, OPTIMIZERS, SCHEDULES
from .execution import add_execution_arguments

__all__ = [
    "CAPS",
    "CHAIN_EPOCHS",
    "CHAIN_N_TRAIN",
    "DEFAULT_LR",
    "TRAINING_FLAGS",
    "QuickDefault",
    "add_data_option",
    "add_device_option",
    "add_int_list_option",
    "add_lr_option",
    "add_mlp_chain_options",
    "add_quick_int_option",
    "add_training_flags",
    "cap_default",
    "default_lr",
    "file_options",
    "mlp_chain_settings",
    "positive_real",
    "resolve_int",
    "resolve_int_list",
    "training_settings",
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


# --------------------------------------------------------------------------------------------
# The training flags of every command that trains networks
# --------------------------------------------------------------------------------------------

#: the flags of :func:`add_training_flags`, by ``argparse`` destination (``executor``: the
#: execution options of :func:`selfdistill.execution.add_execution_arguments`)
TRAINING_FLAGS = (
    "model", "width", "depth", "epochs", "batch_size", "optimizer", "lr", "momentum",
    "weight_decay", "schedule", "seeds", "device", "executor",
)  # fmt: skip


def default_lr(optimizer: str) -> float:
    """The learning rate of ``optimizer`` when ``--lr`` is not given
    (:data:`selfdistill.catalog.DEFAULT_LR`)."""
    return DEFAULT_LR[check_choice("--optimizer", optimizer, tuple(DEFAULT_LR))]


def _optional_int(text: str) -> int | None:
    """``none`` (any case) or nothing is ``None`` (a config file's or results.json's null)."""
    return None if text.lower() in ("none", "") else int(text)


def add_lr_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--lr``: the peak learning rate, by default :data:`DEFAULT_LR` of the optimiser."""
    defaults = ", ".join(
        f"{lr:g} with {' and '.join(o for o in DEFAULT_LR if DEFAULT_LR[o] == lr)}"
        for lr in dict.fromkeys(DEFAULT_LR.values())
    )
    parser.add_argument(
        "--lr", type=float, default=None,
        help=f"peak learning rate (default: {defaults})",
    )  # fmt: skip


def add_training_flags(
    parser: argparse.ArgumentParser,
    *,
    epochs: int,
    seeds: str,
    omit: Sequence[str] = (),
    title: str = "model and training",
) -> None:
    """Declare the training flags of :data:`TRAINING_FLAGS` in one argument group of ``parser``.

    Parameters
    ----------
    parser
        The command's parser.
    epochs, seeds
        The command's budget: the default of ``--epochs`` and of ``--seeds`` (a comma list).
    omit
        Destinations of :data:`TRAINING_FLAGS` the command does not take (``chain`` has no
        ``depth``: its networks keep their own; ``noisy`` no ``momentum``: SGD's 0.9).
    title
        The argument group's title in ``--help``.
    """
    unknown = sorted(set(omit) - set(TRAINING_FLAGS))
    if unknown:
        raise ValueError(f"omit: not training flags: {', '.join(unknown)}")
    g = parser.add_argument_group(title)
    declare = {
        "model": lambda: g.add_argument(
            "--model", default="mlp", choices=MODELS, help="network (default: %(default)s)"
        ),
        "width": lambda: g.add_argument(
            "--width", type=_optional_int, default=None,
            help="hidden units (mlp) or base channels (cnn, resnet18) (default: the model's "
            "own: mlp 256, cnn 32, resnet18 64)",
        ),
        "depth": lambda: g.add_argument(
            "--depth", type=_optional_int, default=None,
            help="MLP hidden layers (default: the model's own, 2)",
        ),
        "epochs": lambda: g.add_argument(
            "--epochs", type=int, default=epochs, help="epochs per training (default: %(default)s)"
        ),
        "batch_size": lambda: g.add_argument(
            "--batch-size", type=int, default=128, help="(default: %(default)s)"
        ),
        "optimizer": lambda: g.add_argument(
            "--optimizer", default="sgd", choices=OPTIMIZERS, help="(default: %(default)s)"
        ),
        "lr": lambda: add_lr_option(g),
        "momentum": lambda: g.add_argument(
            "--momentum", type=float, default=0.9, help="SGD momentum (default: %(default)s)"
        ),
        "weight_decay": lambda: g.add_argument(
            "--weight-decay", type=float, default=5e-4, help="(default: %(default)s)"
        ),
        "schedule": lambda: g.add_argument(
            "--schedule", default="cosine", choices=SCHEDULES, help="(default: %(default)s)"
        ),
        "seeds": lambda: g.add_argument(
            "--seeds", default=seeds, help="comma list of run seeds (default: %(default)s)"
        ),
        "device": lambda: add_device_option(g),
        "executor": lambda: add_execution_arguments(parser),
    }  # fmt: skip
    for flag in TRAINING_FLAGS:
        if flag not in omit:
            declare[flag]()


def training_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The training flags of ``args`` checked (ValueError naming the flag), the learning rate
    resolved: the keys of :data:`TRAINING_FLAGS` that ``args`` has, but ``seeds`` (parsed, a
    list) and ``executor`` (:func:`selfdistill.execution.execution_from_args`).

    ``args.lr`` is set to the learning rate that runs, so that the options a command records
    (``results.json``, ``--dry-run``) hold it as they hold every other default.
    """
    checks: dict[str, Any] = {
        "model": lambda v: check_choice("--model", v, MODELS),
        "width": lambda v: None if v is None else check_int("--width", v, low=1, high=MAX_WIDTH),
        "depth": lambda v: None if v is None else check_int("--depth", v, low=0, high=MAX_DEPTH),
        "epochs": lambda v: check_int("--epochs", v, low=1, high=MAX_EPOCHS),
        "batch_size": lambda v: check_int("--batch-size", v, low=1),
        "optimizer": lambda v: check_choice("--optimizer", v, OPTIMIZERS),
        "lr": lambda v: positive_real("--lr", v),
        "momentum": lambda v: check_real("--momentum", v, low=0.0, high=1.0, high_inclusive=False),
        "weight_decay": lambda v: check_real("--weight-decay", v, low=0.0),
        "schedule": lambda v: check_choice("--schedule", v, SCHEDULES),
        "device": lambda v: v,
    }
    if getattr(args, "lr", None) is None and hasattr(args, "optimizer"):
        args.lr = default_lr(args.optimizer)
    out = {k: check(getattr(args, k)) for k, check in checks.items() if hasattr(args, k)}
    if hasattr(args, "seeds"):
        out["seeds"] = parse_seeds("--seeds", args.seeds)
    return out
