"""selfdistill.nn.data_splits: splits, standardisation, MNIST-1D generation and the on-disk formats.

The on-disk loaders are tested on tiny files written here in the exact CIFAR binary and IDX
formats, with pixel values that encode their position, so that a layout error cannot pass.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import csv  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from selfdistill.cli import main  # noqa: E402
from selfdistill.nn import DataSplits  # noqa: E402
from selfdistill.nn.data_splits import (  # noqa: E402
    DATASETS,
    load_cifar_arrays,
    load_dataset,
    make_mnist1d_arrays,
    random_crop_flip,
    read_idx,
)


def _sorted_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    return a[np.lexsort(a.T[::-1])]


def _all_rows(s) -> np.ndarray:
    return np.concatenate([s.x_train.numpy(), s.x_val.numpy(), s.x_test.numpy()])


# ------------------------------------------------------------------------------------------
# digits: splits and standardisation
# ------------------------------------------------------------------------------------------


def test_digits_splits_partition_the_bundled_data() -> None:
    s = load_dataset("digits", seed=3, standardize=False)
    bunch = load_digits()
    assert s.input_shape == (64,) and s.num_classes == 10
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert len(s.y_train) + len(s.y_val) + len(s.y_test) == len(bunch.target)
    assert len(s.y_test) == round(0.2 * 1797)
    assert len(s.y_val) == round(0.1 * (1797 - len(s.y_test)))
    # The three splits are a partition of the data (as a multiset of (image, label) rows).
    ours = np.column_stack(
        [_all_rows(s), np.concatenate([s.y_train, s.y_val, s.y_test]).astype(np.float64)]
    )
    theirs = np.column_stack([bunch.data, bunch.target.astype(np.float64)])
    np.testing.assert_array_equal(_sorted_rows(ours), _sorted_rows(theirs))


def test_digits_standardisation_uses_the_training_split_only() -> None:
    raw = load_dataset("digits", seed=1, standardize=False)
    std = load_dataset("digits", seed=1)
    x_train = raw.x_train.double().numpy()
    mean, sd = x_train.mean(axis=0), x_train.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    for split in ("train", "val", "test"):
        expected = (getattr(raw, f"x_{split}").double().numpy() - mean) / sd
        np.testing.assert_allclose(getattr(std, f"x_{split}").numpy(), expected, atol=2e-6)
        assert torch.equal(getattr(std, f"y_{split}"), getattr(raw, f"y_{split}"))
    z = std.x_train.double()
    varying = raw.x_train.double().std(dim=0) > 0
    assert z.mean(dim=0).abs().max() < 1e-6
    np.testing.assert_allclose(z[:, varying].std(dim=0, unbiased=False).numpy(), 1.0, atol=1e-5)
    # The validation split is not standardised with its own statistics.
    assert std.x_val.double().mean(dim=0).abs().max() > 1e-3


def test_splits_are_seeded_and_stratified() -> None:
    a = load_dataset("digits", seed=7)
    b = load_dataset("digits", seed=7)
    c = load_dataset("digits", seed=8)
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, split), getattr(b, split))
    assert not torch.equal(a.y_test, c.y_test)
    pool = torch.cat([a.y_train, a.y_val])
    frac = len(a.y_val) / len(pool)
    for k in range(10):
        expected = frac * int((pool == k).sum())
        assert abs(int((a.y_val == k).sum()) - expected) <= 1.0


def test_n_train_subsets_the_training_split_and_keeps_validation() -> None:
    full = load_dataset("digits", seed=2, standardize=False)
    small = load_dataset("digits", seed=2, n_train=100, standardize=False)
    assert len(small.y_train) == 100
    assert torch.equal(small.x_val, full.x_val) and torch.equal(small.x_test, full.x_test)
    rows = {tuple(r) for r in full.x_train.tolist()}
    assert all(tuple(r) in rows for r in small.x_train.tolist())
    counts = torch.bincount(small.y_train, minlength=10)
    assert counts.min() >= 9 and counts.max() <= 11  # stratified: 100 / 10 classes


@settings(max_examples=25)
@given(
    seed=st.integers(0, 10_000),
    val_fraction=st.floats(0.0, 0.9),
    n_train=st.one_of(st.none(), st.integers(10, 100)),
)
def test_split_sizes_and_disjointness(seed: int, val_fraction: float, n_train: int | None) -> None:
    s = load_dataset(
        "digits", seed=seed, val_fraction=val_fraction, n_train=n_train, standardize=False
    )
    pool = 1797 - len(s.y_test)
    n_val = max(round(val_fraction * pool), 1 if val_fraction > 0 else 0)
    assert len(s.y_val) == n_val
    assert len(s.y_train) == (pool - n_val if n_train is None else n_train)
    # every sample is used at most once: the splits are a sub-multiset of the data
    bunch = load_digits()
    available = Counter(
        r.tobytes() for r in np.column_stack([bunch.data, bunch.target]).astype(np.float32)
    )
    used = Counter(
        r.tobytes()
        for x, y in ((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test))
        for r in np.column_stack([x.numpy(), y.numpy()]).astype(np.float32)
    )
    assert not used - available


def test_n_val_and_n_test_cap_the_sizes() -> None:
    s = load_dataset("digits", seed=0, n_val=20, n_test=30)
    assert len(s.y_val) == 20 and len(s.y_test) == 30


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"name": "mnist"}, "name"),
        ({"name": "digits", "val_fraction": 1.0}, "val_fraction"),
        ({"name": "digits", "val_fraction": -0.1}, "val_fraction"),
        ({"name": "digits", "n_train": 5000}, "n_train"),
        ({"name": "digits", "n_train": 0}, "n_train"),
        ({"name": "digits", "seed": -1}, "seed"),
        ({"name": "digits", "test_fraction": 1.0}, "test_fraction"),
        ({"name": "digits", "colour": True}, "colour"),
        ({"name": "mnist1d", "num_samples": 5}, "num_samples"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        load_dataset(**kwargs)


# ------------------------------------------------------------------------------------------
# MNIST-1D
# ------------------------------------------------------------------------------------------


def test_mnist1d_matches_the_package_and_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)  # noqa: NPY002 - the global state that make_dataset reseeds
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    s = load_dataset("mnist1d", num_samples=200, cache_dir=tmp_path, standardize=False, seed=4)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert s.input_shape == (40,) and s.num_classes == 10
    args = get_dataset_args()
    args.num_samples = 200
    ref = make_dataset(args)
    np.testing.assert_allclose(s.x_test.numpy(), ref["x_test"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(s.y_test.numpy(), ref["y_test"])
    pool = np.concatenate([s.x_train.numpy(), s.x_val.numpy()])
    np.testing.assert_allclose(
        _sorted_rows(pool), _sorted_rows(ref["x"].astype(np.float32)), rtol=0, atol=0
    )
    assert (tmp_path / "mnist1d-n200-g42.npz").is_file()
    assert not list(tmp_path.glob(".*tmp"))

    def fail(*_args, **_kwargs):
        raise AssertionError("make_dataset must not run when the cache exists")

    import mnist1d.data

    monkeypatch.setattr(mnist1d.data, "make_dataset", fail)
    again = load_dataset("mnist1d", num_samples=200, cache_dir=tmp_path, standardize=False, seed=4)
    assert torch.equal(again.x_train, s.x_train) and torch.equal(again.y_test, s.y_test)


def test_mnist1d_without_cache_writes_nothing(tmp_path: Path) -> None:
    arrays = make_mnist1d_arrays(100, cache_dir=None)
    assert arrays["x"].shape == (80, 40) and arrays["x_test"].shape == (20, 40)
    assert sorted(np.unique(arrays["y"]).tolist()) == list(range(10))


# ------------------------------------------------------------------------------------------
# CIFAR binary version
# ------------------------------------------------------------------------------------------


def _cifar_pixels(i: int) -> np.ndarray:
    c, h, w = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    return ((i * 7 + c * 3 + h * 5 + w) % 256).astype(np.uint8)


def _write_cifar(root: Path, name: str, n_per_file: int = 4, n_test: int = 6) -> None:
    if name == "cifar10":
        folder, train, test = (
            root / "cifar-10-batches-bin",
            [f"data_batch_{i}.bin" for i in range(1, 6)],
            "test_batch.bin",
        )
    else:
        folder, train, test = root / "cifar-100-binary", ["train.bin"], "test.bin"
    folder.mkdir(parents=True)
    counter = 0

    def record(i: int) -> bytes:
        labels = bytes([i % 10]) if name == "cifar10" else bytes([i % 20, (3 * i) % 100])
        # row-major planes: all red, then green, then blue
        return labels + _cifar_pixels(i).tobytes(order="C")

    for f in train:
        size = n_per_file if name == "cifar10" else 5 * n_per_file
        (folder / f).write_bytes(b"".join(record(counter + j) for j in range(size)))
        counter += size
    (folder / test).write_bytes(b"".join(record(1000 + j) for j in range(n_test)))


def test_cifar10_binary_layout(tmp_path: Path) -> None:
    _write_cifar(tmp_path, "cifar10")
    x_train, y_train, x_test, y_test = load_cifar_arrays(tmp_path, "cifar10")
    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (6, 3, 32, 32)
    for i in range(20):
        np.testing.assert_array_equal(x_train[i], _cifar_pixels(i))
        assert y_train[i] == i % 10
    np.testing.assert_array_equal(x_test[2], _cifar_pixels(1002))
    assert x_train.dtype == np.uint8
    np.testing.assert_array_equal(y_test, np.arange(1000, 1006) % 10)
    s = load_dataset("cifar10", data_dir=tmp_path, val_fraction=0.25, standardize=False)
    assert s.input_shape == (3, 32, 32) and s.num_classes == 10
    assert len(s.y_train) == 15 and len(s.y_val) == 5 and len(s.y_test) == 6
    np.testing.assert_array_equal(
        _sorted_rows(np.concatenate([s.x_train.numpy(), s.x_val.numpy()])),
        _sorted_rows(x_train.astype(np.float32) / np.float32(255)),
    )


def test_cifar_per_channel_standardisation(tmp_path: Path) -> None:
    _write_cifar(tmp_path, "cifar10")
    s = load_dataset("cifar10", data_dir=tmp_path, val_fraction=0.25)
    x = s.x_train.double()
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-6
    np.testing.assert_allclose(x.std(dim=(0, 2, 3), unbiased=False).numpy(), 1.0, atol=1e-5)


def test_cifar100_fine_and_coarse_labels(tmp_path: Path) -> None:
    _write_cifar(tmp_path, "cifar100")
    fine = load_dataset("cifar100", data_dir=tmp_path, val_fraction=0.0, standardize=False)
    coarse = load_dataset(
        "cifar100", data_dir=tmp_path, val_fraction=0.0, standardize=False, label_mode="coarse"
    )
    assert fine.num_classes == 100 and coarse.num_classes == 20
    # label of record i is (3 i) % 100 (fine) and i % 20 (coarse); i is encoded in the pixels
    record = {_cifar_pixels(i).tobytes(): i for i in range(1000, 1006)}
    for s, rule in ((fine, lambda i: (3 * i) % 100), (coarse, lambda i: i % 20)):
        assert len(s.y_test) == 6
        for x, y in zip(s.x_test, s.y_test, strict=True):
            i = record[np.round(x.numpy() * 255).astype(np.uint8).tobytes()]
            assert int(y) == rule(i)


def test_cifar_missing_and_corrupt_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match=r"data_batch_1\.bin.*cifar-10-batches-bin"):
        load_dataset("cifar10", data_dir=tmp_path)
    monkeypatch.delenv("SELFDISTILL_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="SELFDISTILL_DATA_DIR"):
        load_dataset("cifar100")
    _write_cifar(tmp_path, "cifar10")
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing data_batch_3\.bin"):
        load_dataset("cifar10", data_dir=tmp_path)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="record size 3073"):
        load_dataset("cifar10", data_dir=tmp_path)


# ------------------------------------------------------------------------------------------
# IDX (Fashion-MNIST)
# ------------------------------------------------------------------------------------------


def _idx_bytes(a: np.ndarray) -> bytes:
    code = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}[a.dtype]
    return bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    seed=st.integers(0, 2**31 - 1),
    big=st.booleans(),
    compress=st.booleans(),
)
def test_read_idx_round_trip(shape: list[int], seed: int, big: bool, compress: bool) -> None:
    rng = np.random.default_rng(seed)
    if big:
        a = rng.integers(-(2**31), 2**31 - 1, size=shape).astype(">i4")
    else:
        a = rng.integers(0, 256, size=shape).astype(np.uint8)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("a.idx.gz" if compress else "a.idx")
        data = _idx_bytes(a)
        path.write_bytes(gzip.compress(data) if compress else data)
        out = read_idx(path)
    np.testing.assert_array_equal(out, a)
    assert out.dtype.isnative


def _write_fashion(folder: Path, n_train: int = 30, n_test: int = 10) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28)).astype(np.uint8)
    labels = (np.arange(n_train + n_test) % 10).astype(np.uint8)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images[:n_train])))
    (folder / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(labels[:n_train]))
    (folder / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(images[n_train:]))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels[n_train:])))
    return images


@pytest.mark.parametrize("sub", ["", "fashion-mnist", "FashionMNIST/raw"])
def test_fashion_mnist_idx(tmp_path: Path, sub: str) -> None:
    images = _write_fashion(tmp_path / sub if sub else tmp_path)
    s = load_dataset("fashion-mnist", data_dir=tmp_path, val_fraction=0.2, standardize=False)
    assert s.input_shape == (1, 28, 28) and s.num_classes == 10
    assert len(s.y_train) == 24 and len(s.y_val) == 6 and len(s.y_test) == 10
    np.testing.assert_array_equal(np.round(s.x_test[:, 0].numpy() * 255), images[30:])
    np.testing.assert_array_equal(s.y_test.numpy(), np.arange(30, 40) % 10)


def test_fashion_mnist_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    _write_fashion(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x01\x02\x08\x03")
    with pytest.raises(ValueError, match="bad magic"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    a = np.zeros((2, 28, 28), dtype=np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx_bytes(a)[:-5])
    with pytest.raises(ValueError, match="bytes follow"):
        load_dataset("fashion-mnist", data_dir=tmp_path)


def test_dataset_names() -> None:
    assert DATASETS == ("digits", "mnist1d", "cifar10", "cifar100", "fashion-mnist")


# ------------------------------------------------------------------------------------------
# Augmentation
# ------------------------------------------------------------------------------------------


@given(seed=st.integers(0, 10_000), padding=st.integers(0, 3), flip=st.booleans())
def test_random_crop_flip_matches_a_per_image_loop(seed: int, padding: int, flip: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 2, 6, 7, generator=g)
    torch.manual_seed(seed)
    out = random_crop_flip(x, padding=padding, flip=flip)
    torch.manual_seed(seed)  # replay the same draws
    offsets = torch.randint(0, 2 * padding + 1, (2, 5))
    mirror = torch.rand(5) < 0.5 if flip else torch.zeros(5, dtype=torch.bool)
    for i in range(5):
        padded = torch.zeros(2, 6 + 2 * padding, 7 + 2 * padding)
        padded[:, padding : padding + 6, padding : padding + 7] = x[i]
        oy, ox = int(offsets[0, i]), int(offsets[1, i])
        crop = padded[:, oy : oy + 6, ox : ox + 7]
        expected = crop.flip(-1) if mirror[i] else crop
        assert torch.equal(out[i], expected)


def test_random_crop_flip_identity_and_errors() -> None:
    x = torch.randn(3, 1, 4, 4)
    assert torch.equal(random_crop_flip(x, padding=0, flip=False), x)
    with pytest.raises(ValueError, match="B, C, H, W"):
        random_crop_flip(torch.randn(3, 16))
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(x, padding=-1)


# ------------------------------------------------------------------------------------------
# The loader registry: a new format is one reader and one registered loader
# ------------------------------------------------------------------------------------------


@pytest.fixture
def toy_loader():
    """A loader registered under "toy" for the test only: 60 + 20 samples of 3 classes whose
    features encode (index, label), so that every split can be checked against its source."""
    from selfdistill.datasets.registry import LOADERS, RawData, register_loader

    def arrays(n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 3
        x = np.stack([np.arange(n) + offset, y], axis=1).astype(np.float64)
        return x, y.astype(np.int64)

    @register_loader("toy")
    def load_toy(*, data_dir, rng, scale: float = 1.0):
        (x, y), (xt, yt) = arrays(60, 0), arrays(20, 1000)
        return RawData(x * scale, y, xt * scale, yt, num_classes=3)

    yield load_toy
    del LOADERS["toy"]


def test_registered_loader_is_split_like_the_built_ins(toy_loader) -> None:
    s = load_dataset("toy", seed=5, val_fraction=0.25, n_test=8, standardize=False, scale=2.0)
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (45, 15, 8)
    assert s.num_classes == 3 and s.input_shape == (2,)
    pool = np.concatenate([s.x_train.numpy(), s.x_val.numpy()])
    # the pool is partitioned (each index once), the labels travel with their rows
    assert sorted(pool[:, 0] / 2) == list(range(60))
    assert np.array_equal(pool[:, 1] / 2, np.concatenate([s.y_train, s.y_val]))
    assert set(s.x_test.numpy()[:, 0] / 2) <= set(range(1000, 1020))
    # stratified: 15 validation samples, 5 of each class
    assert Counter(s.y_val.tolist()) == {0: 5, 1: 5, 2: 5}
    with pytest.raises(ValueError, match=r"unknown option.*'toy': colour"):
        load_dataset("toy", colour=1)


def test_register_loader_rejects_a_taken_name_and_a_bad_signature() -> None:
    from selfdistill.datasets.registry import LOADERS, loader_options, register_loader

    with pytest.raises(ValueError, match=r"already registered.*'digits'"):
        register_loader("digits")(lambda *, data_dir, rng: None)
    with pytest.raises(ValueError, match="keyword-only"):
        register_loader("bad")(lambda data_dir, rng: None)
    with pytest.raises(ValueError, match="rng"):
        register_loader("bad")(lambda *, data_dir: None)
    assert "bad" not in LOADERS
    assert loader_options("digits") == ("test_fraction",)
    assert loader_options("mnist1d") == ("num_samples", "generation_seed", "cache_dir", "cache")
    assert loader_options("cifar100") == ("label_mode",)
    assert loader_options("cifar10") == loader_options("fashion-mnist") == ()


def test_hold_out_test_is_a_seeded_stratified_partition() -> None:
    from selfdistill.datasets.registry import hold_out_test

    y = np.repeat(np.arange(4), 10)
    x = np.arange(40, dtype=np.float64)[:, None]
    a = hold_out_test(x, y, 0.25, np.random.default_rng(3), num_classes=4)
    b = hold_out_test(x, y, 0.25, np.random.default_rng(3), num_classes=4)
    assert np.array_equal(a.x_test, b.x_test) and len(a.y_test) == 10
    assert sorted(np.concatenate([a.x_pool, a.x_test])[:, 0]) == list(range(40))
    assert np.array_equal(y[a.x_test[:, 0].astype(int)], a.y_test)
    # stratified: 10 of 4 balanced classes is 2 or 3 per class
    assert sorted(Counter(a.y_test.tolist()).values()) == [2, 2, 3, 3]
    with pytest.raises(ValueError, match="test_fraction"):
        hold_out_test(x, y, 0.0, np.random.default_rng(0), num_classes=4)


# ----------------------------------------------------------------------
# labels.csv points at the user's own rows (issue 12): ``row`` is the sample's row in the file.
def _table(n: int = 240, seed: int = 0) -> tuple[Any, np.ndarray]:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] > 0).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y), x


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_train_rows_are_the_files_rows(tmp_path: Path, suffix: str) -> None:
    frame, x = _table()
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        np.savez(path, x=x, y=frame["y"].to_numpy())
    data = load_dataset(str(path), seed=0, label_column="y", standardize=False)
    rows = data.train_rows
    assert rows is not None and len(rows) == len(data.y_train) and len(set(rows)) == len(rows)
    np.testing.assert_allclose(data.x_train.numpy(), x[rows].astype(np.float32))


def test_from_arrays_keeps_rows_too() -> None:
    _, x = _table()
    y = (x[:, 0] > 0).astype(int)
    data = DataSplits.from_arrays(x, y, seed=1, standardize=False)
    np.testing.assert_allclose(data.x_train.numpy(), x[data.train_rows].astype(np.float32))


def test_flagged_rows_of_labels_csv_are_the_flipped_rows_of_the_file(tmp_path: Path) -> None:
    frame, _ = _table(400)
    flipped = [5, 17, 42, 99, 150, 222, 301, 377]
    frame.loc[flipped, "y"] = 1 - frame.loc[flipped, "y"]
    frame.to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "out"
    argv = ["noisy", "--data", str(tmp_path / "mine.csv"), "--label-column", "y", "--noise", "0"]
    argv += ["--method", "ce", "--epochs", "30", "--seeds", "0", "--out", str(out)]
    assert main([*argv, "--no-progress", "--lr", "0.1"]) == 0
    (labels,) = out.glob("runs/*/labels.csv")
    with labels.open() as fh:
        table = list(csv.DictReader(fh))
    flagged_rows = {int(r["row"]) for r in table if r["flagged"] == "True"}
    in_train = {int(r["row"]) for r in table} & set(flipped)
    assert in_train, "some flipped rows fall in the training split"
    # the model disagrees with every flipped training row, named by its row in the file
    assert in_train <= flagged_rows
    for r in table:  # and every row's given label is the file's label at that row
        assert int(r["given_label"]) == int(frame.loc[int(r["row"]), "y"])
