"""Offline data sets with seeded train / validation / test splits.

Every loader returns a :class:`DataSplits`: float32 inputs and int64 labels for a training, a
validation and a test split. Model selection and the estimation of α (Borup & Andersen, sec. 5)
use the validation split, never the test split.

Nothing is ever downloaded (:data:`selfdistill.catalog.DATASETS`; the registry
:mod:`selfdistill.datasets.registry` maps each name to its loader,
:mod:`selfdistill.datasets.builtin` reads the files):

``digits``
    scikit-learn's bundled 8×8 digits (1,797 images, flattened to 64 features). It has no official
    test set: a seeded, stratified ``test_fraction`` (default 0.2) is held out.
``mnist1d``
    MNIST-1D (Greydanus 2020), generated locally with the ``mnist1d`` package's ``make_dataset``
    (``num_samples`` in all, default 40,000: 80 % training pool, 20 % test, as the package splits
    it). Generation takes seconds per 10,000 samples, so the arrays are cached atomically as
    ``mnist1d-n{num_samples}-g{generation_seed}.npz`` in ``cache_dir``.
``cifar10`` / ``cifar100``
    The *binary version* of CIFAR: ``cifar-10-batches-bin/data_batch_{1..5}.bin`` and
    ``test_batch.bin``; ``cifar-100-binary/train.bin`` and ``test.bin``, under ``data_dir``.
``fashion-mnist``
    The IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) in
    ``data_dir``, ``data_dir/fashion-mnist`` or ``data_dir/FashionMNIST/raw``.

The validation split is a seeded, stratified ``val_fraction`` of the training pool; ``n_train``
then keeps a seeded, stratified subset of what remains. Standardisation (per feature for vectors,
per channel for images) is computed on the final training split only and applied to all three.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._util.validation import check_int, check_real
from ..catalog import DATASETS, check_data_source
from ..datasets.builtin import (
    load_cifar_arrays,
    load_fashion_mnist_arrays,
    make_mnist1d_arrays,
    read_idx,
)
from ..datasets.registry import (
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    RawData,
    loader_for,
    loader_options,
    raw_from_file,
)
from ..datasets.splits import standardisation, stratified_split
from ..datasets.user_files import IMAGE_SIZE_MAX, file_arrays

__all__ = [
    "CACHE_DIR_ENV",
    "DATASETS",
    "DATA_DIR_ENV",
    "DataSpec",
    "DataSplits",
    "load_cifar_arrays",
    "load_dataset",
    "load_fashion_mnist_arrays",
    "load_splits",
    "make_mnist1d_arrays",
    "random_crop_flip",
    "read_idx",
]


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test splits of one data set (float32 inputs, int64 labels).

    Built by :func:`load_dataset` (a data-set name or a data file) or :meth:`from_arrays` (arrays
    in memory). ``class_names`` holds the name of each class ``0 .. num_classes - 1`` when the
    data has them (data files and arrays), else ``None``.
    ``standardisation`` is the ``(mean, std)`` pair (float32 arrays broadcasting against a batch
    of raw inputs) the splits were standardised with, or ``None`` when they were not; a saved
    model (:mod:`selfdistill.nn.saved`) applies it to new data.
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...] | None = None
    standardisation: tuple[np.ndarray, np.ndarray] | None = None
    #: the row of each training sample in its source (a data file, or the arrays given to
    #: :meth:`from_arrays`), so a report on training samples can point at the user's own rows
    train_rows: np.ndarray | None = None
    #: a table's feature columns, in the order of the features, and its label column (``None``
    #: for other data): a saved model matches a new table's columns by these names
    feature_names: tuple[str, ...] | None = None
    label_column: str | None = None

    def __repr__(self) -> str:
        return (
            f"DataSplits(name={self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape})"
        )

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        *,
        x_test: Any = None,
        y_test: Any = None,
        x_val: Any = None,
        y_val: Any = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        n_train: int | None = None,
        seed: int = 0,
        standardize: bool = True,
        name: str = "arrays",
    ) -> DataSplits:
        """Splits of arrays in memory, with the same rules as :func:`load_dataset`.

        Parameters
        ----------
        x, y
            Features ``(N, D)`` (or uint8 images ``(N, C, H, W)``, scaled to [0, 1]) and one
            label per sample: integers or strings. The classes are the sorted distinct labels of
            all splits, recorded in ``class_names``; labels ``0 .. K-1`` stay as they are.
        x_test, y_test
            A test split; without it a seeded, stratified ``test_fraction`` of ``(x, y)`` is held
            out.
        x_val, y_val
            A validation split; without it a seeded, stratified ``val_fraction`` of the rest is
            held out.
        val_fraction, test_fraction, n_train, seed, standardize
            As in :func:`load_dataset` (``test_fraction`` as for ``digits``).
        name
            Recorded as :attr:`name`.

        Raises
        ------
        ValueError
            For a missing partner array (``x_test`` without ``y_test``), samples and labels of
            different lengths, non-numeric, NaN or infinite features, or a single class.
        """
        arrays = dict(x=x, y=y, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)
        data = file_arrays(name, {k: _numpy(v) for k, v in arrays.items()})
        seed, val_fraction, n_train, _, _ = _check_split_args(seed, val_fraction, n_train)
        rng = np.random.default_rng(seed)
        raw = raw_from_file(data, rng, test_fraction)
        return _from_raw(name, raw, rng, val_fraction, (n_train, None, None), bool(standardize))


def _numpy(value: Any) -> Any:
    """Arrays, lists or (CPU) tensors as NumPy arrays; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def check_splits(data: object, name: str = "data") -> DataSplits:
    """Return ``data`` after checking it is a :class:`DataSplits` (TypeError naming ``name``)."""
    if not isinstance(data, DataSplits):
        raise TypeError(f"{name} must be DataSplits (from load_dataset), got {type(data).__name__}")
    return data


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    n_train: int | None = None,
    val_fraction: float = 0.1,
    standardize: bool = True,
    n_val: int | None = None,
    n_test: int | None = None,
    **loader_kwargs: Any,
) -> DataSplits:
    """Load a data set and split it into seeded train / validation / test sets.

    Parameters
    ----------
    name
        A name registered in :data:`selfdistill.datasets.registry.LOADERS` (one of
        :data:`DATASETS`), or the path of a data file (``.npz``, ``.csv``, ``.tsv``, ``.parquet``)
        or of an image folder (:mod:`selfdistill.datasets.user_files`).
    data_dir
        Folder holding the on-disk files of ``cifar10``, ``cifar100`` and ``fashion-mnist``
        (default: the ``SELFDISTILL_DATA_DIR`` environment variable). For ``mnist1d`` it is also
        the default cache folder.
    seed
        Seed of the validation split, of the ``n_train`` / ``n_val`` / ``n_test`` subsets and, for
        ``digits`` and data files without a test split, of the test split.
    n_train
        Keep only this many training samples (a seeded, stratified subset); ``None`` keeps all.
    val_fraction
        Fraction of the training pool held out for validation, in ``[0, 1)`` (not used when a
        data file brings its own validation split).
    standardize
        Per-feature / per-channel standardisation with the training split's mean and standard
        deviation.
    n_val, n_test
        Keep only this many validation / test samples (a seeded subset); ``None`` keeps all.
    **loader_kwargs
        The keyword arguments of the data set's own loader (:mod:`selfdistill.datasets.registry`),
        and no others: ``digits``: ``test_fraction`` (default 0.2). ``mnist1d``: ``num_samples``
        (default 40,000), ``generation_seed`` (default 42, the package's own), ``cache_dir``,
        ``cache`` (default True). ``cifar100``: ``label_mode`` ``"fine"`` (100 classes, default)
        or ``"coarse"`` (20). A data file: ``label_column`` (tables, default ``"label"``),
        ``image_size`` (image folders: resize to this many pixels squared) and ``test_fraction``
        (default 0.2, when the file has no test split).

    Returns
    -------
    DataSplits

    Raises
    ------
    ValueError
        For an unknown name or option, an argument out of range, or a bad data file (the
        message names the file).
    FileNotFoundError
        When the files of an on-disk data set are missing; the message says which files to put
        where.
    """
    loader = loader_for(name)
    seed, val_fraction, n_train, n_val, n_test = _check_split_args(
        seed, val_fraction, n_train, n_val, n_test
    )
    unknown = sorted(set(loader_kwargs) - set(loader_options(name)))
    if unknown:
        raise ValueError(f"unknown option(s) for data set {name!r}: {', '.join(unknown)}")

    rng = np.random.default_rng(seed)
    raw = loader(data_dir=data_dir, rng=rng, **loader_kwargs)
    return _from_raw(name, raw, rng, val_fraction, (n_train, n_val, n_test), bool(standardize))


def _check_split_args(
    seed: int,
    val_fraction: float,
    n_train: int | None,
    n_val: int | None = None,
    n_test: int | None = None,
) -> tuple[int, float, int | None, int | None, int | None]:
    seed = check_int("seed", seed, low=0)
    val_fraction = check_real("val_fraction", val_fraction, low=0.0, high=1.0, high_inclusive=False)
    if n_train is not None:
        n_train = check_int("n_train", n_train, low=1)
    if n_val is not None:
        n_val = check_int("n_val", n_val, low=0)
    if n_test is not None:
        n_test = check_int("n_test", n_test, low=1)
    return seed, val_fraction, n_train, n_val, n_test


def _from_raw(
    name: str,
    raw: RawData,
    rng: np.random.Generator,
    val_fraction: float,
    counts: tuple[int | None, int | None, int | None],
    standardize: bool,
) -> DataSplits:
    """Split the pool (or take the given validation split), subset, standardise."""
    n_train, n_val, n_test = counts
    given_val = raw.x_val is not None and raw.y_val is not None
    check_class_counts(name, raw, held_out_val=not given_val and val_fraction > 0)
    if given_val:
        pool = len(raw.y_pool)
        train_idx, _ = _train_val_indices(raw.y_pool, name, 0.0, n_train, rng)
        val_idx = pool + np.arange(len(raw.y_val))
        raw = replace(
            raw,
            x_pool=np.concatenate([raw.x_pool, raw.x_val]),
            y_pool=np.concatenate([raw.y_pool, raw.y_val]),
        )
    else:
        train_idx, val_idx = _train_val_indices(raw.y_pool, name, val_fraction, n_train, rng)
    if n_val is not None and n_val < len(val_idx):
        val_idx = val_idx[np.sort(rng.permutation(len(val_idx))[:n_val])]
    test_idx = np.arange(len(raw.y_test))
    if n_test is not None and n_test < len(raw.y_test):
        test_idx = np.sort(rng.permutation(len(raw.y_test))[:n_test])
    _check_trained_classes(name, raw, raw.y_pool[train_idx], n_train)
    return _splits(name, raw, (train_idx, val_idx, test_idx), standardize=standardize)


def _class_list(raw: RawData, classes: np.ndarray, counts: np.ndarray | None = None) -> str:
    names = raw.class_names or tuple(str(c) for c in range(raw.num_classes))
    shown = [
        repr(names[c]) + ("" if counts is None else f" ({int(counts[c])})") for c in classes[:8]
    ]
    return ", ".join(shown) + (f" and {len(classes) - 8} more" if len(classes) > 8 else "")


def check_class_counts(name: str, raw: RawData, *, held_out_val: bool) -> None:
    """Refuse data that makes a meaningless run, naming the classes: every label distinct, a
    class of the given validation or test split absent from the training pool, and a class
    with fewer samples than the splits drawn from it need (one for training, one for each
    held-out split), so that a run never depends on which seed happens to leave a class out."""
    k = raw.num_classes
    pool = np.bincount(raw.y_pool, minlength=k)
    test = np.bincount(raw.y_test, minlength=k)
    val = np.bincount(raw.y_val, minlength=k) if raw.y_val is not None else np.zeros(k, int)
    total = pool + test + val
    present = total > 0
    n = int(total.sum())
    if n > 2 and (total[present] == 1).all():
        raise ValueError(
            f"{name}: every label is distinct ({n} samples, each its own class); a class needs "
            "several samples to be learned and tested: are the labels row ids?"
        )
    drawn = pool + (test if raw.test_held_out else 0)
    need = 1 + int(raw.test_held_out) + int(held_out_val)
    for split, counts in (("test", test), ("validation", val)):
        unseen = np.flatnonzero((counts > 0) & (drawn == 0))
        if len(unseen) and not (split == "test" and raw.test_held_out):
            raise ValueError(
                f"{name}: class(es) {_class_list(raw, unseen)} of the {split} split have no "
                "training sample; a model cannot learn them"
            )
    few = np.flatnonzero((drawn > 0) & (drawn < need))
    if len(few):
        splits = ["training"] + ["test"] * raw.test_held_out + ["validation"] * held_out_val
        raise ValueError(
            f"{name}: class(es) {_class_list(raw, few, drawn)} have fewer samples than the "
            f"{need} the splits need (one each for {', '.join(splits)}); add samples or remove "
            "those classes"
        )


def _check_trained_classes(
    name: str, raw: RawData, y_train: np.ndarray, n_train: int | None
) -> None:
    """Refuse a training split without a sample of some class the data holds (``n_train``
    smaller than the number of classes)."""
    present = np.bincount(raw.y_pool, minlength=raw.num_classes) > 0
    missing = np.flatnonzero(present & (np.bincount(y_train, minlength=raw.num_classes) == 0))
    if len(missing) and n_train is None:
        raise ValueError(
            f"{name}: the validation split takes every sample of class(es) "
            f"{_class_list(raw, missing)}; add samples of them or lower val_fraction"
        )
    if len(missing):
        raise ValueError(
            f"n_train={n_train} leaves class(es) {_class_list(raw, missing)} of {name} without "
            f"a training sample; keep at least one per class (n_train >= {int(present.sum())})"
        )


def _train_val_indices(
    y_pool: np.ndarray,
    name: str,
    val_fraction: float,
    n_train: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the pool: a stratified ``val_fraction`` held out, then ``n_train`` kept."""
    val_size = round(val_fraction * len(y_pool))
    if val_fraction > 0 and val_size == 0:
        val_size = 1
    if val_size >= len(y_pool):
        raise ValueError(
            f"val_fraction={val_fraction} leaves no training samples out of {len(y_pool)}"
        )
    train_idx, val_idx = stratified_split(y_pool, val_size, rng)
    if n_train is not None:
        if n_train > len(train_idx):
            raise ValueError(
                f"n_train must be in [1, {len(train_idx)}] for {name} with "
                f"val_fraction={val_fraction}, got {n_train}"
            )
        keep, _ = stratified_split(y_pool[train_idx], len(train_idx) - n_train, rng)
        train_idx = train_idx[np.sort(keep)]
    return train_idx, val_idx


def _splits(
    name: str,
    raw: RawData,
    indices: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    standardize: bool,
) -> DataSplits:
    """Select the three splits, scale uint8 images to [0, 1], standardise, convert to tensors."""
    train_idx, val_idx, test_idx = indices
    x_train, y_train = raw.x_pool[train_idx], raw.y_pool[train_idx]
    x_val, y_val = raw.x_pool[val_idx], raw.y_pool[val_idx]
    x_test, y_test = raw.x_test[test_idx], raw.y_test[test_idx]

    # Images arrive as uint8 and are scaled to [0, 1]; everything is float32 from here on (no
    # float64 copy of a large image set), with the statistics accumulated in float64.
    scale = np.float32(255.0 if raw.x_pool.dtype == np.uint8 else 1.0)
    x_train, x_val, x_test = (a.astype(np.float32) / scale for a in (x_train, x_val, x_test))
    stats = None
    if standardize:
        mean, std = standardisation(x_train)
        x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))
        stats = (mean, std)  # of the [0, 1]-scaled inputs: uint8 data are scaled first

    def tx(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def ty(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))

    return DataSplits(
        name=name,
        x_train=tx(x_train),
        y_train=ty(y_train),
        x_val=tx(x_val),
        y_val=ty(y_val),
        x_test=tx(x_test),
        y_test=ty(y_test),
        num_classes=raw.num_classes,
        input_shape=tuple(int(s) for s in x_train.shape[1:]),
        class_names=raw.class_names,
        standardisation=stats,
        train_rows=None if raw.pool_rows is None else np.asarray(raw.pool_rows)[train_idx],
        feature_names=raw.feature_names,
        label_column=raw.label_column,
    )


@dataclass(frozen=True)
class DataSpec:
    """The data of a run as plain, JSON-describable values: what :func:`load_dataset` needs,
    so that a worker process can reload the same splits (``DataSpec(**spec.describe())``).

    Attributes
    ----------
    name
        Data set (:data:`selfdistill.catalog.DATASETS`), or the path of a data file or image
        folder (:mod:`selfdistill.datasets.user_files`; ValueError / FileNotFoundError name
        ``data``), or ``None`` when the splits are handed over in memory (then :meth:`load`
        refuses).
    n_train, n_val, n_test
        Training, validation and test samples kept (``None``: all).
    num_samples
        MNIST-1D's total sample count (``None``: the loader's 40,000).
    data_dir
        Folder of the on-disk data sets.
    label_column, image_size
        Reader options of a data file: the label column of a table, the side length the images
        of a folder are resized to (``None``: as they are). Ignored for the built-in data sets.
    val_fraction
        Fraction of the training pool held out for validation.
    seed
        Seed of the splits; ``None`` (the noisy-label runs' choice): each run's own seed.
    """

    name: str | None = "mnist1d"
    n_train: int | None = None
    num_samples: int | None = None
    data_dir: str | None = None
    n_val: int | None = None
    n_test: int | None = None
    label_column: str = "label"
    image_size: int | None = None
    val_fraction: float = 0.1
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            check_data_source(self.name)
        if self.image_size is not None:
            check_int("image_size", self.image_size, low=1, high=IMAGE_SIZE_MAX)
        check_real("val_fraction", self.val_fraction, low=0.0, high=1.0, high_inclusive=False)
        if self.seed is not None:
            check_int("seed", self.seed, low=0)
        for name, low in (("n_train", 1), ("n_val", 0), ("n_test", 1)):
            if getattr(self, name, None) is not None:
                check_int(name, getattr(self, name), low=low)

    def load(self, seed: int | None = None) -> DataSplits:
        """The splits of this data, seeded with :attr:`seed`, else with ``seed``."""
        if self.name is None:
            raise ValueError("data: no data set named; give data=NAME or pass the DataSplits")
        seed = self.seed if self.seed is not None else seed
        if seed is None:
            raise ValueError("seed: this DataSpec has no seed of its own; pass the run's seed")
        return load_dataset(
            self.name, data_dir=self.data_dir, seed=seed, n_train=self.n_train,
            val_fraction=self.val_fraction, n_val=self.n_val, n_test=self.n_test,
            **self.loader_options(),
        )  # fmt: skip

    def loader_options(self) -> dict[str, Any]:
        """The options of this data's loader that differ from its defaults."""
        if self.is_file():
            file = {"label_column": self.label_column, "image_size": self.image_size}
            return {k: v for k, v in file.items() if v is not None}
        return {} if self.num_samples is None else {"num_samples": self.num_samples}

    def class_names(self) -> tuple[str, ...] | None:
        """The class names of a data file (``None`` for a built-in data set); reads and checks
        the whole file and its splits (with :attr:`seed`, else seed 0: the checks of classes
        too rare for the splits do not depend on it), so a bad file fails here, before
        anything is written or trained."""
        if not self.is_file():
            return None
        return self.load(self.seed if self.seed is not None else 0).class_names

    def is_file(self) -> bool:
        """Whether the data is a user's data file or image folder (not a built-in set)."""
        return self.name is not None and self.name not in DATASETS

    def describe(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (``DataSpec(**spec.describe()) == spec``)."""
        return asdict(self)


def load_splits(data: DataSplits | DataSpec, seed: int) -> DataSplits:
    """``data`` itself, or a :class:`DataSpec` loaded (with its own seed, else ``seed``)."""
    if isinstance(data, DataSplits):
        return data
    if isinstance(data, DataSpec):
        return data.load(seed)
    raise TypeError(f"data must be a DataSplits or a DataSpec, got {type(data).__name__}")


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------


def random_crop_flip(x: Tensor, *, padding: int = 4, flip: bool = True) -> Tensor:
    """The standard CIFAR augmentation on a batch: a random crop of the zero-padded image and a
    random horizontal flip, drawn per sample from the global torch generator.

    Pass it as ``fit(..., augment=random_crop_flip)``: inside :func:`~selfdistill.nn.fit` the
    global generator is seeded and checkpointed, so augmented runs stay deterministic and resume
    bit-identically. Inputs are ``(B, C, H, W)`` on any device.

    Parameters
    ----------
    x
        Batch of images.
    padding
        Zero padding on every side; the crop offset is uniform in ``[0, 2 padding]`` per axis.
    flip
        Mirror left-right with probability 1/2.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    padding = check_int("padding", padding, low=0)
    b, _, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, b)).to(x.device)
    mirror = (torch.rand(b) < 0.5).to(x.device) if flip else torch.zeros(b, dtype=torch.bool)
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(mirror.to(x.device)[:, None], cols.flip(1), cols) + offsets[1, :, None]
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()
