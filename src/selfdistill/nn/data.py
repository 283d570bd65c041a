"""Offline data sets with seeded train / validation / test splits.

Every loader returns a :class:`DataSplits`: float32 inputs and int64 labels for a training, a
validation and a test split. Model selection and the estimation of α (Borup & Andersen, sec. 5)
use the validation split, never the test split.

Nothing is ever downloaded:

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

import gzip
import io
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor

from .._io import atomic_write_bytes
from .._validation import check_choice, check_int, check_real

__all__ = [
    "DATASETS",
    "DataSplits",
    "load_cifar_arrays",
    "load_dataset",
    "load_fashion_mnist_arrays",
    "make_mnist1d_arrays",
    "random_crop_flip",
    "read_idx",
]

DATASETS = ("digits", "mnist1d", "cifar10", "cifar100", "fashion-mnist")

#: environment variable consulted when ``data_dir`` is not given
DATA_DIR_ENV = "SELFDISTILL_DATA_DIR"
#: environment variable for the MNIST-1D cache (default ``~/.cache/selfdistill``)
CACHE_DIR_ENV = "SELFDISTILL_CACHE_DIR"

_CIFAR_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test splits of one data set (float32 inputs, int64 labels)."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    input_shape: tuple[int, ...]

    def __repr__(self) -> str:
        return (
            f"DataSplits(name={self.name!r}, train={len(self.y_train)}, val={len(self.y_val)}, "
            f"test={len(self.y_test)}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape})"
        )


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    n_train: int | None = None,
    val_fraction: float = 0.1,
    **options: Any,
) -> DataSplits:
    """Load a data set and split it into seeded train / validation / test sets.

    Parameters
    ----------
    name
        One of :data:`DATASETS`.
    data_dir
        Folder holding the on-disk files of ``cifar10``, ``cifar100`` and ``fashion-mnist``
        (default: the ``SELFDISTILL_DATA_DIR`` environment variable). For ``mnist1d`` it is also
        the default cache folder.
    seed
        Seed of the validation split, of the ``n_train`` / ``n_val`` / ``n_test`` subsets and, for
        ``digits``, of the test split.
    n_train
        Keep only this many training samples (a seeded, stratified subset); ``None`` keeps all.
    val_fraction
        Fraction of the training pool held out for validation, in ``[0, 1)``.
    **options
        ``standardize`` (bool, default True): per-feature / per-channel standardisation with the
        training split's mean and standard deviation. ``n_val``, ``n_test`` (int): keep only that
        many validation / test samples. ``digits``: ``test_fraction`` (default 0.2).
        ``mnist1d``: ``num_samples`` (default 40,000), ``generation_seed`` (default 42, the
        package's own), ``cache_dir``, ``cache`` (default True). ``cifar100``: ``label_mode``
        ``"fine"`` (100 classes, default) or ``"coarse"`` (20).

    Returns
    -------
    DataSplits

    Raises
    ------
    ValueError
        For an unknown name or option, or an argument out of range.
    FileNotFoundError
        When the files of an on-disk data set are missing; the message says which files to put
        where.
    """
    check_choice("name", name, DATASETS)
    seed = check_int("seed", seed, low=0)
    val_fraction = check_real("val_fraction", val_fraction, low=0.0, high=1.0, high_inclusive=False)
    if n_train is not None:
        n_train = check_int("n_train", n_train, low=1)
    standardize = bool(options.pop("standardize", True))
    n_val = options.pop("n_val", None)
    n_test = options.pop("n_test", None)
    if n_val is not None:
        n_val = check_int("n_val", n_val, low=0)
    if n_test is not None:
        n_test = check_int("n_test", n_test, low=1)

    rng = np.random.default_rng(seed)
    if name == "digits":
        test_fraction = check_real(
            "test_fraction",
            options.pop("test_fraction", 0.2),
            low=0.0,
            high=1.0,
            low_inclusive=False,
            high_inclusive=False,
        )
        _reject_unknown(name, options)
        x, y = _digits_arrays()
        pool, test = _stratified_split(y, test_fraction, rng)
        x_pool, y_pool, x_test, y_test = x[pool], y[pool], x[test], y[test]
        num_classes = 10
    elif name == "mnist1d":
        num_samples = check_int("num_samples", options.pop("num_samples", 40_000), low=20)
        generation_seed = check_int("generation_seed", options.pop("generation_seed", 42), low=0)
        cache = bool(options.pop("cache", True))
        cache_dir = options.pop("cache_dir", None)
        _reject_unknown(name, options)
        if cache_dir is None:
            cache_dir = _default_cache_dir(data_dir)
        arrays = make_mnist1d_arrays(
            num_samples,
            generation_seed=generation_seed,
            cache_dir=cache_dir if cache else None,
        )
        x_pool, y_pool, x_test, y_test = (
            arrays["x"],
            arrays["y"],
            arrays["x_test"],
            arrays["y_test"],
        )
        num_classes = 10
    elif name in ("cifar10", "cifar100"):
        label_mode = "fine"
        if name == "cifar100":
            label_mode = check_choice(
                "label_mode", options.pop("label_mode", "fine"), ("fine", "coarse")
            )
        _reject_unknown(name, options)
        root = _resolve_data_dir(data_dir, name)
        x_pool, y_pool, x_test, y_test = load_cifar_arrays(root, name, label_mode=label_mode)
        num_classes = 10 if name == "cifar10" else (100 if label_mode == "fine" else 20)
    else:  # fashion-mnist
        _reject_unknown(name, options)
        root = _resolve_data_dir(data_dir, name)
        x_pool, y_pool, x_test, y_test = load_fashion_mnist_arrays(root)
        num_classes = 10

    val_size = round(val_fraction * len(y_pool))
    if val_fraction > 0 and val_size == 0:
        val_size = 1
    if val_size >= len(y_pool):
        raise ValueError(
            f"val_fraction={val_fraction} leaves no training samples out of {len(y_pool)}"
        )
    train_idx, val_idx = _stratified_split(y_pool, val_size, rng)
    if n_train is not None:
        if n_train > len(train_idx):
            raise ValueError(
                f"n_train must be in [1, {len(train_idx)}] for {name} with "
                f"val_fraction={val_fraction}, got {n_train}"
            )
        keep, _ = _stratified_split(y_pool[train_idx], len(train_idx) - n_train, rng)
        train_idx = train_idx[np.sort(keep)]
    if n_val is not None and n_val < len(val_idx):
        val_idx = val_idx[np.sort(rng.permutation(len(val_idx))[:n_val])]
    test_keep = np.arange(len(y_test))
    if n_test is not None and n_test < len(y_test):
        test_keep = np.sort(rng.permutation(len(y_test))[:n_test])

    x_train, y_train = x_pool[train_idx], y_pool[train_idx]
    x_val, y_val = x_pool[val_idx], y_pool[val_idx]
    x_test, y_test = x_test[test_keep], y_test[test_keep]

    # Images arrive as uint8 and are scaled to [0, 1]; everything is float32 from here on (no
    # float64 copy of a large image set), with the statistics accumulated in float64.
    scale = np.float32(255.0 if x_pool.dtype == np.uint8 else 1.0)
    x_train, x_val, x_test = (a.astype(np.float32) / scale for a in (x_train, x_val, x_test))
    if standardize:
        mean, std = _standardisation(x_train)
        x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))

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
        num_classes=num_classes,
        input_shape=tuple(int(s) for s in x_train.shape[1:]),
    )


# --------------------------------------------------------------------------------------------
# Splits and standardisation
# --------------------------------------------------------------------------------------------


def _reject_unknown(name: str, options: dict[str, Any]) -> None:
    if options:
        raise ValueError(f"unknown option(s) for data set {name!r}: {', '.join(sorted(options))}")


def _stratified_split(
    y: np.ndarray, held_out: float | int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(len(y))`` into (kept, held out), stratified by label if possible.

    ``held_out`` is a fraction in (0, 1) or a count. Stratification needs every class at least
    twice and both parts at least as large as the number of classes; otherwise (tiny data) the
    split is a plain seeded permutation.
    """
    n = len(y)
    count = round(held_out * n) if isinstance(held_out, float) else int(held_out)
    if count <= 0:
        return rng.permutation(n), np.zeros(0, dtype=np.int64)
    state = int(rng.integers(0, 2**31 - 1))
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and min(count, n - count) >= len(counts) else None
    kept, held = train_test_split(
        np.arange(n), test_size=count, random_state=state, stratify=stratify
    )
    return np.asarray(kept, dtype=np.int64), np.asarray(held, dtype=np.int64)


def _standardisation(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the training inputs.

    Per feature for vectors ``(N, D)`` and sequences ``(N, L)``, per channel for images
    ``(N, C, H, W)``. A zero standard deviation (a constant feature) is replaced by 1. Two passes
    in float64 over chunks of samples: accurate, and no float64 copy of a large image set.
    """
    n = len(x_train)
    flat = x_train.reshape(n, x_train.shape[1], -1)  # (N, D, 1) or (N, C, H W)
    count = n * flat.shape[2]
    chunks = range(0, n, 2048)
    total = np.zeros(flat.shape[1])
    for i in chunks:
        total += flat[i : i + 2048].astype(np.float64).sum(axis=2).sum(axis=0)
    mean = total / count
    squares = np.zeros(flat.shape[1])
    for i in chunks:
        centred = flat[i : i + 2048].astype(np.float64) - mean[None, :, None]
        squares += np.einsum("ncp,ncp->c", centred, centred)
    std = np.sqrt(squares / count)
    std = np.where(std > 1e-12, std, 1.0)
    shape = (1, x_train.shape[1]) + (1,) * (x_train.ndim - 2)
    return mean.reshape(shape).astype(x_train.dtype), std.reshape(shape).astype(x_train.dtype)


# --------------------------------------------------------------------------------------------
# digits and MNIST-1D
# --------------------------------------------------------------------------------------------


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


def _default_cache_dir(data_dir: str | Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir) / "mnist1d"
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "selfdistill"


def make_mnist1d_arrays(
    num_samples: int = 40_000,
    *,
    generation_seed: int = 42,
    cache_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Generate MNIST-1D with the ``mnist1d`` package's ``make_dataset`` (cached on disk).

    Parameters
    ----------
    num_samples
        Samples in all; ``make_dataset`` keeps ``num_samples // 10`` per class and splits them
        80 % / 20 % into a training pool and a test set.
    generation_seed
        The package's ``args.seed`` (42 reproduces the published data set's recipe).
    cache_dir
        Folder of the atomic ``.npz`` cache; ``None`` disables caching.

    Returns
    -------
    dict
        ``x`` (float64, (N, 40)), ``y`` (int64), ``x_test``, ``y_test``.

    Notes
    -----
    ``make_dataset`` reseeds Python's and NumPy's global random generators; their states are
    restored afterwards so that loading data has no side effect on the caller.
    """
    num_samples = check_int("num_samples", num_samples, low=20)
    generation_seed = check_int("generation_seed", generation_seed, low=0)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"mnist1d-n{num_samples}-g{generation_seed}.npz"
        if path.exists():
            with np.load(path) as npz:
                return {k: npz[k] for k in ("x", "y", "x_test", "y_test")}
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - mnist1d is part of the torch extra
        raise ImportError(
            "mnist1d is needed to generate MNIST-1D: pip install 'selfdistill[torch]'"
        ) from exc
    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = generation_seed
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    arrays = {
        "x": np.asarray(raw["x"], dtype=np.float64),
        "y": np.asarray(raw["y"], dtype=np.int64),
        "x_test": np.asarray(raw["x_test"], dtype=np.float64),
        "y_test": np.asarray(raw["y_test"], dtype=np.int64),
    }
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    return arrays


# --------------------------------------------------------------------------------------------
# On-disk formats: CIFAR binary version, IDX (Fashion-MNIST)
# --------------------------------------------------------------------------------------------

_CIFAR_LAYOUT = {
    "cifar10": (
        "cifar-10-batches-bin",
        tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
        ("test_batch.bin",),
    ),
    "cifar100": ("cifar-100-binary", ("train.bin",), ("test.bin",)),
}

_FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_FASHION_SUBDIRS = ("", "fashion-mnist", "FashionMNIST/raw")


def _resolve_data_dir(data_dir: str | Path | None, name: str) -> Path:
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV)
        if not env:
            raise FileNotFoundError(
                f"data set {name!r} is read from disk and nothing is downloaded: pass data_dir "
                f"(--data-dir) or set {DATA_DIR_ENV}. {_expected_files(name, Path('DATA_DIR'))}"
            )
        data_dir = env
    return Path(data_dir)


def _expected_files(name: str, root: Path) -> str:
    if name in _CIFAR_LAYOUT:
        folder, train, test = _CIFAR_LAYOUT[name]
        files = ", ".join((*train, *test))
        return (
            f"Expected the binary version of {name.upper()} (the '-binary' archive, extracted): "
            f"{root / folder}/ holding {files}."
        )
    names = ", ".join(f"{f}[.gz]" for f in _FASHION_FILES.values())
    return f"Expected the Fashion-MNIST IDX files {names} in {root}/ or {root / 'fashion-mnist'}/."


def load_cifar_arrays(
    data_dir: str | Path, name: str = "cifar10", *, label_mode: str = "fine"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the binary version of CIFAR-10 / CIFAR-100.

    Each CIFAR-10 record is 1 label byte and 3,072 pixel bytes (1,024 red, then green, then blue,
    each row-major 32×32); a CIFAR-100 record has a coarse and a fine label byte before the
    pixels. Files are looked up in ``data_dir/cifar-10-batches-bin`` (``cifar-100-binary``), or
    in ``data_dir`` itself.

    Returns
    -------
    x_train, y_train, x_test, y_test
        Images as uint8 with shape (N, 3, 32, 32), labels as int64.
    """
    check_choice("name", name, tuple(_CIFAR_LAYOUT))
    check_choice("label_mode", label_mode, ("fine", "coarse"))
    folder, train_files, test_files = _CIFAR_LAYOUT[name]
    root = Path(data_dir)
    candidates = [root / folder, root]
    base = next(
        (c for c in candidates if all((c / f).is_file() for f in (*train_files, *test_files))),
        None,
    )
    if base is None:
        missing = [f for f in (*train_files, *test_files) if not (root / folder / f).is_file()]
        raise FileNotFoundError(
            f"{name}: missing {', '.join(missing)} in {root / folder}. "
            f"{_expected_files(name, root)} Nothing is downloaded."
        )
    label_bytes = 1 if name == "cifar10" else 2
    label_col = 0 if (name == "cifar10" or label_mode == "coarse") else 1

    def read(files: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        record = label_bytes + _CIFAR_PIXELS
        for f in files:
            raw = np.fromfile(base / f, dtype=np.uint8)
            if raw.size == 0 or raw.size % record:
                raise ValueError(
                    f"{base / f} is not a {name} binary batch: its size {raw.size} is not a "
                    f"positive multiple of the record size {record}"
                )
            rows = raw.reshape(-1, record)
            ys.append(rows[:, label_col].astype(np.int64))
            xs.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = read(train_files)
    x_test, y_test = read(test_files)
    num_classes = 10 if name == "cifar10" else (100 if label_mode == "fine" else 20)
    for split, y in (("train", y_train), ("test", y_test)):
        if y.max() >= num_classes:
            raise ValueError(f"{name} {split} labels exceed {num_classes - 1}: corrupt files?")
    return x_train, y_train, x_test, y_test


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), optionally gzip-compressed.

    The header is two zero bytes, a type code (0x08 = unsigned byte, ...), the number of
    dimensions, then one big-endian 32-bit size per dimension; the data follow in C order.
    """
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: IDX header announces shape {shape} ({expected} bytes) but "
            f"{len(data) - header} bytes follow"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def load_fashion_mnist_arrays(
    data_dir: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read Fashion-MNIST from its four IDX files (plain or ``.gz``).

    Returns
    -------
    x_train, y_train, x_test, y_test
        Images as uint8 with shape (N, 1, 28, 28), labels as int64.
    """
    root = Path(data_dir)
    found: dict[str, Path] = {}
    for sub in _FASHION_SUBDIRS:
        base = root / sub if sub else root
        for key, stem in _FASHION_FILES.items():
            for candidate in (base / stem, base / f"{stem}.gz"):
                if key not in found and candidate.is_file():
                    found[key] = candidate
        if len(found) == len(_FASHION_FILES):
            break
        found.clear()
    if len(found) != len(_FASHION_FILES):
        raise FileNotFoundError(
            f"fashion-mnist: IDX files not found under {root}. "
            f"{_expected_files('fashion-mnist', root)} Nothing is downloaded."
        )
    arrays = {key: read_idx(path) for key, path in found.items()}
    out = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"fashion-mnist {split}: images of shape {x.shape} do not match labels of "
                f"shape {y.shape}"
            )
        if y.size and int(y.max()) >= 10:
            raise ValueError(f"fashion-mnist {split} labels exceed 9: corrupt files?")
        if x.dtype != np.uint8:
            raise ValueError(f"fashion-mnist {split} images must be unsigned bytes, got {x.dtype}")
        out += [x[:, None], y.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


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
