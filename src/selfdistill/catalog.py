"""The names the library knows, and the parsers of their comma lists (torch-free).

One place for every list of choices that the networks (:mod:`selfdistill.nn`), the commands
(``selfdistill noisy``, ``selfdistill chain``) and the reproductions share: the command-line
parsers read their ``choices`` here, so that ``--help`` needs no torch, and the torch code checks
its arguments against the same tuples. Nothing here imports torch.

Data sets (:func:`selfdistill.nn.data_splits.load_dataset`)
    :data:`DATASETS`; :data:`GENERATED_DATASETS` need no files on disk (bundled with scikit-learn
    or generated); a user's own data is a file of :data:`DATA_FILE_SUFFIXES` or an image folder
    (:func:`check_data_source`).
Networks and training (:func:`~selfdistill.nn.build_model`, :class:`~selfdistill.nn.TrainConfig`)
    :data:`MODELS`, :data:`OPTIMIZERS`, :data:`SCHEDULES`.
Distillation chains (Mobahi et al. 2020; Borup & Andersen 2021)
    :data:`DISTILL_LOSSES`: squared error of the softmax output or soft-target cross-entropy.
Noisy labels (Dong et al. 2019)
    :data:`NOISE_KINDS`, :data:`NOISY_METHODS`, the refinery's :data:`LABEL_FUNCTIONS`,
    :data:`ALPHA_SCHEDULES`, :data:`SD_LOSSES`; :func:`parse_methods`, :func:`parse_noises`.
"""

from __future__ import annotations

from pathlib import Path

from ._util.validation import check_choice, parse_float_list
from .noise import NOISE_KINDS

__all__ = [
    "ALPHA_SCHEDULES",
    "DATASETS",
    "DATA_FILE_SUFFIXES",
    "DEFAULT_LR",
    "DEFAULT_NOISY_METHOD",
    "DISTILL_LOSSES",
    "GENERATED_DATASETS",
    "LABEL_FUNCTIONS",
    "LOSS_ALIASES",
    "METHODS_ENTRY_POINT_GROUP",
    "MODELS",
    "MULTICLASS_LABEL_FUNCTIONS",
    "NOISE_KINDS",
    "NOISY_METHODS",
    "NOISY_RUN_KEYS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SD_LOSSES",
    "canonical_loss",
    "check_data_source",
    "noisy_method_names",
    "parse_methods",
    "parse_noises",
]

#: data sets of :func:`selfdistill.nn.data_splits.load_dataset` (nothing is downloaded)
DATASETS = ("digits", "mnist1d", "cifar10", "cifar100", "fashion-mnist")
#: the data sets that need no files on disk: scikit-learn's digits and generated MNIST-1D
GENERATED_DATASETS = ("digits", "mnist1d")
#: a user's data files, by extension (:mod:`selfdistill.datasets.user_files`); a folder is an
#: image folder
DATA_FILE_SUFFIXES = (".npz", ".csv", ".tsv", ".parquet")

#: networks of :func:`selfdistill.nn.models.build_model`
MODELS = ("mlp", "cnn", "resnet18")
#: optimisers and learning-rate schedules of the training loop
OPTIMIZERS = ("sgd", "adam", "adamw")
#: the learning rate of each optimiser when none is given (TrainConfig, every command's ``--lr``):
#: Adam at SGD's 0.05 diverges on most problems
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
SCHEDULES = ("cosine", "constant")

#: losses of a distillation step: squared error of the softmax output (the papers' ℓ2 setting)
#: or soft-target cross-entropy
DISTILL_LOSSES = ("mse", "ce")
#: old names of the losses, still accepted: ``squared`` was the noisy-label rules' name of ``mse``
LOSS_ALIASES = {"squared": "mse"}

#: label functions h of Dong et al.'s target α y + (1 − α) h(f(x)); ``ramp`` is Theorem 1's, for
#: ±1 labels and scalar outputs
LABEL_FUNCTIONS = ("hardmax", "softmax", "ramp")
#: the label functions for class logits (every one but ``ramp``)
MULTICLASS_LABEL_FUNCTIONS = tuple(f for f in LABEL_FUNCTIONS if f != "ramp")
#: schedules of α_t in the refinery (``accuracy``: Dong et al.'s 1 − α_t = λ · batch accuracy)
ALPHA_SCHEDULES = ("accuracy", "constant", "linear", "cosine", "exponential")
#: losses of self-distillation against its target (the same two as :data:`DISTILL_LOSSES`)
SD_LOSSES = ("ce", "mse")

#: the built-in noisy-label methods (:func:`~selfdistill.nn.noisy.runner.run_noisy`;
#: registered in :mod:`selfdistill.nn.noisy.registry`)
NOISY_METHODS = (
    "ce", "early-stop", "bootstrap-soft", "bootstrap-hard", "gce", "sd", "elr", "sd-margin",
    "confident-learning",
)  # fmt: skip
#: what ``selfdistill noisy`` runs when ``--method`` is omitted
DEFAULT_NOISY_METHOD = "sd-margin"
#: the entry-point group of plug-in methods (:mod:`selfdistill.nn.noisy.registry`)
METHODS_ENTRY_POINT_GROUP = "selfdistill.methods"


def noisy_method_names() -> tuple[str, ...]:
    """The built-in methods, then the plug-ins installed under :data:`METHODS_ENTRY_POINT_GROUP`
    (their names only: nothing is imported)."""
    from importlib.metadata import entry_points

    plugins = [p.name for p in entry_points(group=METHODS_ENTRY_POINT_GROUP)]
    return NOISY_METHODS + tuple(name for name in plugins if name not in NOISY_METHODS)


#: the keys of one run of the noisy-label comparison in ``results.json`` (public contract);
#: :mod:`selfdistill.nn.noisy.runner` writes them, :mod:`selfdistill.reports.noisy` tabulates them
NOISY_RUN_KEYS = (
    "seed",
    "method",
    "noise",
    "final_test_acc",
    "best_test_acc",
    "label_recovery",
    "test_acc_curve",
    "flagged_precision",
    "flagged_recall",
    "flagged_f1",
    "lam",
    "trainings",
    "noisy_val_acc",
)


def parse_methods(
    text: str, flag: str = "--method", choices: tuple[str, ...] | None = None
) -> list[str]:
    """``"ce,sd"`` -> ``["ce", "sd"]``; ``"all"`` -> every method of :data:`NOISY_METHODS`.

    ``choices`` (default :func:`noisy_method_names`) are the names accepted.

    Raises
    ------
    ValueError
        Naming ``flag``, for an empty list, an unknown method or a method named twice.
    """
    if text.strip() == "all":
        return list(NOISY_METHODS)
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise ValueError(f"{flag} must name at least one method, got {text!r}")
    known = noisy_method_names() if choices is None else choices
    for name in names:
        check_choice(flag, name, known)
    if len(set(names)) != len(names):
        raise ValueError(f"{flag} names a method twice: {text!r}")
    return names


def parse_noises(text: str, flag: str = "--noise") -> list[float]:
    """``"0.4"`` or ``"0,0.2,0.4"`` -> distinct noise rates in [0, 1] (ValueError naming
    ``flag``; a rate named twice would repeat the same runs)."""
    noises = list(parse_float_list(flag, text, low=0.0, high=1.0))
    repeated = sorted({r for r in noises if noises.count(r) > 1})
    if repeated:
        names = ", ".join(f"{r:g}" for r in repeated)
        raise ValueError(f"{flag} names {names} more than once")
    return noises


def check_data_source(value: str, name: str = "data") -> str:
    """A data set of :data:`DATASETS`, or the path of a data file or image folder (torch-free).

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    ValueError
        For a file whose extension is not one of :data:`DATA_FILE_SUFFIXES`, or a name that is
        neither a data set nor a path.
    """
    value = str(value)
    if value in DATASETS:
        return value
    path = Path(value)
    suffix = path.suffix.lower()
    if path.is_dir():
        return value
    if path.is_file():
        if suffix not in DATA_FILE_SUFFIXES:
            raise ValueError(
                f"{name}: unknown file extension {path.suffix or '(none)'!r} of {value}; "
                f"expected {', '.join(DATA_FILE_SUFFIXES)} or an image folder"
            )
        return value
    if suffix or len(path.parts) > 1:  # meant as a path
        raise FileNotFoundError(f"{name}: no such file or folder: {value}")
    raise ValueError(
        f"{name} must be one of {', '.join(DATASETS)}, a data file "
        f"({', '.join(DATA_FILE_SUFFIXES)}) or an image folder, got {value!r}"
    )


def canonical_loss(name: str) -> str:
    """The loss name ``name`` stands for: itself, or the name an old alias of
    :data:`LOSS_ALIASES` now has (``"squared"`` -> ``"mse"``); the caller checks the choice."""
    return LOSS_ALIASES.get(name, name)
