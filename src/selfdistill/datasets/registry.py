"""The data-set registry: a name -> a loader that returns the data set's arrays.

:func:`selfdistill.nn.data_splits.load_dataset` looks the name up in :data:`LOADERS`, calls the
loader and then splits, subsets and standardises what it returns, the same way for every data set. A
loader is a function

.. code-block:: python

    @register_loader("name")
    def load_name(*, data_dir, rng, option_a=default, ...) -> RawData: ...

that reads or generates the arrays (with a reader of :mod:`selfdistill.datasets.builtin`) and
returns a :class:`RawData`: the training pool, the test set and the number of classes. ``data_dir``
is ``load_dataset``'s (possibly ``None``), ``rng`` its seeded generator (for a format without an
official test set, see :func:`hold_out_test`); the loader's further keyword-only arguments are the
data-set options that ``load_dataset`` accepts for that name, and nothing else.

A path instead of a name (a file of :data:`selfdistill.catalog.DATA_FILE_SUFFIXES` or an image
folder) is served by :func:`load_file` (:func:`loader_for`), whose options are ``label_column``,
``image_size`` and ``test_fraction``.

NumPy only: importable without torch.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._util.validation import check_choice, check_real
from ..catalog import check_data_source
from .builtin import (
    digits_arrays,
    expected_files,
    load_cifar_arrays,
    load_fashion_mnist_arrays,
    make_mnist1d_arrays,
)
from .splits import stratified_split
from .user_files import FileData, read_data_file

__all__ = [
    "CACHE_DIR_ENV",
    "DATA_DIR_ENV",
    "LOADERS",
    "RawData",
    "hold_out_test",
    "load_file",
    "loader_for",
    "loader_options",
    "register_loader",
]

#: environment variable consulted when ``data_dir`` is not given
DATA_DIR_ENV = "SELFDISTILL_DATA_DIR"
#: environment variable for the MNIST-1D cache (default ``~/.cache/selfdistill``)
CACHE_DIR_ENV = "SELFDISTILL_CACHE_DIR"


@dataclass(frozen=True)
class RawData:
    """A data set as its loader returns it, before any split of the training pool.

    ``x_pool`` / ``x_test`` are uint8 images (scaled to [0, 1] later) or float features,
    ``y_pool`` / ``y_test`` int64 labels in ``[0, num_classes)``. A data file may bring its own
    validation split (``x_val``, ``y_val``: then no validation is split off the pool) and the
    names of its classes.
    """

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple[str, ...] | None = None
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    #: the row of each pool sample in the source (a data file's training rows, in reading order)
    pool_rows: np.ndarray | None = None
    #: a table's feature columns and label column (``None`` for other sources)
    feature_names: tuple[str, ...] | None = None
    label_column: str | None = None
    #: whether the test set was held out of the pool (:func:`hold_out_test`), so that every class
    #: needs a test sample besides its training ones
    test_held_out: bool = False


Loader = Callable[..., RawData]
#: name -> loader; :func:`register_loader` adds to it
LOADERS: dict[str, Loader] = {}
_CONTEXT = ("data_dir", "rng")  # what every loader receives from load_dataset


def register_loader(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register ``loader`` under ``name`` (ValueError if the name is taken, or if the
    loader does not take ``data_dir`` and ``rng`` and only keyword-only arguments)."""

    def add(loader: Loader) -> Loader:
        if name in LOADERS:
            raise ValueError(f"a loader is already registered for data set {name!r}")
        params = inspect.signature(loader).parameters
        if any(p.kind is not inspect.Parameter.KEYWORD_ONLY for p in params.values()) or any(
            c not in params for c in _CONTEXT
        ):
            raise ValueError(
                f"the loader of {name!r} must take keyword-only arguments, among them "
                f"{', '.join(_CONTEXT)}"
            )
        LOADERS[name] = loader
        return loader

    return add


def loader_for(name: str) -> Loader:
    """The registered loader of ``name``, or :func:`load_file` reading the path ``name``
    (ValueError / FileNotFoundError from :func:`selfdistill.catalog.check_data_source`)."""
    if name in LOADERS:
        return LOADERS[name]
    path = check_data_source(name, "name")

    return functools.partial(load_file, path)


def loader_options(name: str) -> tuple[str, ...]:
    """The data-set options of ``name`` (a registered name or a data path): its loader's
    keywords other than ``data_dir``, ``rng``."""
    loader = LOADERS[name] if name in LOADERS else load_file
    params = inspect.signature(loader).parameters
    return tuple(p for p in params if p not in _CONTEXT)


def hold_out_test(
    x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator, num_classes: int
) -> RawData:
    """Split a format without an official test set: a seeded, stratified ``test_fraction`` of
    ``(x, y)`` becomes the test set (drawn from ``rng`` before the validation split)."""
    test_fraction = check_real(
        "test_fraction", test_fraction, low=0.0, high=1.0, low_inclusive=False,
        high_inclusive=False,
    )  # fmt: skip
    pool, test = stratified_split(y, test_fraction, rng)
    return RawData(
        x[pool], y[pool], x[test], y[test], num_classes, pool_rows=pool, test_held_out=True
    )


def load_file(
    path: str | Path,
    *,
    data_dir: str | Path | None,
    rng: np.random.Generator,
    label_column: str = "label",
    image_size: int | None = None,
    test_fraction: float = 0.2,
) -> RawData:
    """A user's data file or image folder (:func:`selfdistill.datasets.user_files.read_data_file`).

    A test split the file lacks is a seeded, stratified ``test_fraction`` of its training pool,
    held out as for ``digits``; a validation split it brings replaces the one ``load_dataset``
    would split off. ``data_dir`` is not used.
    """
    return raw_from_file(
        read_data_file(path, label_column=label_column, image_size=image_size),
        rng,
        test_fraction,
    )


def raw_from_file(data: FileData, rng: np.random.Generator, test_fraction: float) -> RawData:
    """:class:`RawData` of a read file: its test split, or ``test_fraction`` of it held out."""
    x, y = data.splits["train"]
    k = len(data.class_names)
    if "test" in data.splits:
        raw = RawData(x, y, *data.splits["test"], num_classes=k, pool_rows=np.arange(len(y)))
    else:
        raw = hold_out_test(x, y, test_fraction, rng, k)
    x_val, y_val = data.splits.get("val", (None, None))
    return RawData(
        raw.x_pool,
        raw.y_pool,
        raw.x_test,
        raw.y_test,
        k,
        data.class_names,
        x_val,
        y_val,
        pool_rows=raw.pool_rows,
        feature_names=data.feature_names,
        label_column=data.label_column,
        test_held_out=raw.test_held_out,
    )


def resolve_data_dir(data_dir: str | Path | None, name: str) -> Path:
    """``data_dir``, else ``$SELFDISTILL_DATA_DIR``; FileNotFoundError saying what to put where."""
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV)
        if not env:
            raise FileNotFoundError(
                f"data set {name!r} is read from disk and nothing is downloaded: pass data_dir "
                f"(--data-dir) or set {DATA_DIR_ENV}. {expected_files(name, Path('DATA_DIR'))}"
            )
        data_dir = env
    return Path(data_dir)


def _default_cache_dir(data_dir: str | Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir) / "mnist1d"
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "selfdistill"


@register_loader("digits")
def load_digits(
    *, data_dir: str | Path | None, rng: np.random.Generator, test_fraction: float = 0.2
) -> RawData:
    """scikit-learn's digits; without an official test set, a stratified ``test_fraction`` is
    held out."""
    x, y = digits_arrays()
    return hold_out_test(x, y, test_fraction, rng, num_classes=10)


@register_loader("mnist1d")
def load_mnist1d(
    *,
    data_dir: str | Path | None,
    rng: np.random.Generator,
    num_samples: int = 40_000,
    generation_seed: int = 42,
    cache_dir: str | Path | None = None,
    cache: bool = True,
) -> RawData:
    """MNIST-1D generated with ``num_samples`` in all (80 % pool, 20 % test, as the package splits
    it), cached in ``cache_dir`` (default ``data_dir/mnist1d``, ``$SELFDISTILL_CACHE_DIR`` or
    ``~/.cache/selfdistill``) unless ``cache`` is false."""
    if cache_dir is None:
        cache_dir = _default_cache_dir(data_dir)
    arrays = make_mnist1d_arrays(
        num_samples, generation_seed=generation_seed, cache_dir=cache_dir if cache else None
    )
    return RawData(arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"], num_classes=10)


@register_loader("cifar10")
def load_cifar10(*, data_dir: str | Path | None, rng: np.random.Generator) -> RawData:
    """The binary version of CIFAR-10 under ``data_dir`` (or ``$SELFDISTILL_DATA_DIR``)."""
    arrays = load_cifar_arrays(resolve_data_dir(data_dir, "cifar10"), "cifar10")
    return RawData(*arrays, num_classes=10)


@register_loader("cifar100")
def load_cifar100(
    *, data_dir: str | Path | None, rng: np.random.Generator, label_mode: str = "fine"
) -> RawData:
    """The binary version of CIFAR-100: ``label_mode`` ``"fine"`` (100 classes) or ``"coarse"``
    (20)."""
    label_mode = check_choice("label_mode", label_mode, ("fine", "coarse"))
    root = resolve_data_dir(data_dir, "cifar100")
    arrays = load_cifar_arrays(root, "cifar100", label_mode=label_mode)
    return RawData(*arrays, num_classes=100 if label_mode == "fine" else 20)


@register_loader("fashion-mnist")
def load_fashion_mnist(*, data_dir: str | Path | None, rng: np.random.Generator) -> RawData:
    """Fashion-MNIST's four IDX files under ``data_dir`` (or ``$SELFDISTILL_DATA_DIR``)."""
    arrays = load_fashion_mnist_arrays(resolve_data_dir(data_dir, "fashion-mnist"))
    return RawData(*arrays, num_classes=10)
