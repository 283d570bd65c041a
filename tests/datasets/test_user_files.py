"""A user's own data: .npz, CSV / TSV / Parquet, image folders, DataSplits.from_arrays.

Every format is written here, small, from arrays whose rows are all distinct, so that the splits
can be checked against the written data row by row (an independent computation: the multiset of
rows and the label of each). Every bad input the issue lists is a one-line error naming the file
or option, exit 2 from the CLI, and no output folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
Image = pytest.importorskip("PIL.Image")

from selfdistill.cli import main  # noqa: E402
from selfdistill.datasets.user_files import encode_labels  # noqa: E402
from selfdistill.execution import Execution  # noqa: E402
from selfdistill.nn.chains.run import ChainConfig, run_chains  # noqa: E402
from selfdistill.nn.data_splits import DataSpec, DataSplits, load_dataset, load_splits  # noqa: E402
from selfdistill.nn.noisy.config import (  # noqa: E402
    NoisyConfig,
    config_dict,
)
from selfdistill.nn.training.loop import TrainConfig  # noqa: E402

NAMES = np.array(["cat", "dog", "emu"])


def _arrays(n: int = 90, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows (the first feature is the sample index) and string labels, 30 per class."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.arange(n, dtype=np.float64), rng.normal(size=(n, d - 1))])
    return x, NAMES[np.arange(n) % 3]


def _rows(splits: DataSplits) -> dict[float, str]:
    """sample index -> class name, over the three splits (data loaded with standardize=False)."""
    out: dict[float, str] = {}
    for x, y in ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val),
                 (splits.x_test, splits.y_test)):  # fmt: skip
        for row, label in zip(x.numpy(), y.numpy(), strict=True):
            assert float(row[0]) not in out  # no sample in two splits
            out[float(row[0])] = splits.class_names[label]
    return out


def _write_table(path: Path, x: np.ndarray, y: np.ndarray, label: str = "label") -> Path:
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame[label] = y
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".tsv", ".parquet"])
def test_every_file_format_gives_the_same_seeded_stratified_splits(tmp_path, suffix):
    x, y = _arrays()
    path = tmp_path / f"data{suffix}"
    if suffix == ".npz":
        np.savez(path, x=x, y=y)
    else:
        _write_table(path, x, y)
    s = load_dataset(str(path), seed=3, standardize=False)
    assert s.class_names == ("cat", "dog", "emu") and s.num_classes == 3
    assert s.input_shape == (4,) and s.x_train.dtype == torch.float32
    # a partition of the written rows, each with its own label
    assert _rows(s) == {float(i): str(y[i]) for i in range(len(y))}
    # test = 0.2 of all, validation = 0.1 of the rest, both stratified (30 per class)
    assert len(s.y_test) == 18 and len(s.y_val) == 7 and len(s.y_train) == 65
    assert np.bincount(s.y_test.numpy(), minlength=3).tolist() == [6, 6, 6]
    # the same rows as the arrays in memory with the same seed
    a = DataSplits.from_arrays(x, y, seed=3, standardize=False)
    for split in ("x_train", "x_val", "x_test"):
        np.testing.assert_allclose(getattr(s, split).numpy(), getattr(a, split).numpy(), atol=1e-5)


def test_standardisation_uses_the_training_split_only(tmp_path):
    x, y = _arrays()
    raw = DataSplits.from_arrays(x, y, seed=1, standardize=False)
    std = DataSplits.from_arrays(x, y, seed=1)
    xt = raw.x_train.numpy().astype(np.float64)
    mean, sd = xt.mean(axis=0), xt.std(axis=0)  # population std, as the loader computes
    for split in ("x_train", "x_val", "x_test"):
        expected = (getattr(raw, split).numpy() - mean) / sd
        np.testing.assert_allclose(getattr(std, split).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_npz_with_its_own_test_and_validation_splits(tmp_path):
    x, y = _arrays(120)
    path = tmp_path / "d.npz"
    np.savez(path, x=x[:80], y=y[:80], x_val=x[80:95], y_val=y[80:95], x_test=x[95:],
             y_test=y[95:])  # fmt: skip
    s = load_dataset(str(path), seed=0, standardize=False, val_fraction=0.5)
    assert sorted(s.x_test[:, 0].tolist()) == list(range(95, 120))
    assert sorted(s.x_val[:, 0].tolist()) == list(range(80, 95))  # given: val_fraction unused
    assert sorted(s.x_train[:, 0].tolist()) == list(range(80))
    sub = load_dataset(str(path), seed=0, n_train=30)
    assert len(sub.y_train) == 30 and len(sub.y_val) == 15


def test_integer_labels_keep_their_values_and_names(tmp_path):
    x, _ = _arrays()
    y = np.arange(90) % 3
    s = DataSplits.from_arrays(torch.as_tensor(x), torch.as_tensor(y), seed=0, standardize=False)
    assert s.class_names == ("0", "1", "2")
    assert all(int(name) == int(row % 3) for row, name in _rows(s).items())
    codes, names = encode_labels("t", {"train": np.array([7, 3, 7]), "test": np.array([11])})
    assert names == ("3", "7", "11")  # numeric order, not text order
    assert codes["train"].tolist() == [1, 0, 1] and codes["test"].tolist() == [2]


def _write_images(root: Path, sizes: dict[str, tuple[int, int]] | None = None, n: int = 6,
                  mode: str = "RGB") -> dict[str, np.ndarray]:  # fmt: skip
    """n images per class with pixel values that encode (class, index); returns name -> pixels."""
    written = {}
    for c, cls in enumerate(("ant", "bee")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            w, h = (sizes or {}).get(f"{cls}/{i}", (5, 4))
            shape = (h, w, 3) if mode == "RGB" else (h, w)
            pixels = np.full(shape, 40 * c + 5 * i, dtype=np.uint8)
            pixels[0, 0] = 200  # not constant: standardisation has something to scale
            Image.fromarray(pixels, mode=mode).save(root / cls / f"{i}.png")
            written[f"{cls}/{i}"] = pixels
    return written


def test_image_folder_pixels_labels_and_per_channel_standardisation(tmp_path):
    written = _write_images(tmp_path / "imgs")
    s = load_dataset(str(tmp_path / "imgs"), seed=0, standardize=False, test_fraction=0.25)
    assert s.input_shape == (3, 4, 5) and s.class_names == ("ant", "bee")
    got = sorted(
        (s.class_names[int(label)], round(float(img[1, 2, 3]) * 255))
        for x, y in ((s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test))
        for img, label in zip(x.numpy(), y.numpy(), strict=True)
    )
    assert got == sorted((k.split("/")[0], int(v[2, 3, 1])) for k, v in written.items())
    std = load_dataset(str(tmp_path / "imgs"), seed=0, test_fraction=0.25)
    per_channel = std.x_train.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=1), 1.0, atol=1e-4)


def test_image_folder_with_splits_greyscale_and_resizing(tmp_path):
    _write_images(tmp_path / "d" / "train", mode="L")
    _write_images(tmp_path / "d" / "test", n=2, mode="L", sizes={"ant/0": (9, 9)})
    s = load_dataset(str(tmp_path / "d"), seed=0, image_size=3, standardize=False)
    assert s.input_shape == (1, 3, 3) and len(s.y_test) == 4 and len(s.y_train) == 11
    # a constant image stays that constant when resized
    img = Image.fromarray(np.full((7, 5), 90, dtype=np.uint8), mode="L")
    img.save(tmp_path / "d" / "train" / "ant" / "big.png")
    s = load_dataset(str(tmp_path / "d"), seed=0, image_size=3, standardize=False, val_fraction=0)
    values = {round(float(v) * 255) for v in s.x_train.reshape(len(s.x_train), -1)[:, 4]}
    assert 90 in values
    assert DataSpec(name=str(tmp_path / "d"), image_size=3).class_names() == ("ant", "bee")


def test_data_spec_carries_the_path_and_reader_options(tmp_path):
    x, y = _arrays()
    path = _write_table(tmp_path / "t.csv", x, y, label="kind")
    spec = DataSpec(name=str(path), label_column="kind")
    again = DataSpec(**json.loads(json.dumps(spec.describe())))  # what a worker process gets
    assert again == spec
    a, b = spec.load(5), again.load(5)
    assert torch.equal(a.x_train, b.x_train) and a.class_names == ("cat", "dog", "emu")
    assert spec.class_names() == a.class_names and DataSpec().class_names() is None
    cfg = config_dict(NoisyConfig(data=str(path), label_column="kind"))
    assert cfg["data"] == str(path) and cfg["extra"] == {"label_column": "kind"}
    fixed = DataSpec(name=str(path), label_column="kind", seed=2, val_fraction=0.2)
    assert torch.equal(fixed.load(9).x_val, spec.load(2).x_val) is False  # val_fraction differs
    assert torch.equal(fixed.load(9).x_val, load_splits(fixed, 0).x_val)  # its own seed wins
    with pytest.raises(ValueError, match="no seed of its own"):
        spec.load()
    in_memory = DataSpec(name=None)  # the splits are handed over as a DataSplits
    assert in_memory.class_names() is None and not in_memory.is_file()
    with pytest.raises(ValueError, match="no data set named"):
        in_memory.load(0)
    with pytest.raises(TypeError, match="DataSplits or a DataSpec"):
        load_splits("digits", 0)


def test_chains_run_from_a_data_spec_as_from_its_splits(tmp_path):
    x, y = _arrays(60)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    spec = DataSpec(name=str(tmp_path / "d.npz"), seed=1)
    config = ChainConfig(generations=2, alpha=0.5, width=8, train=TrainConfig(epochs=1,
                         progress=False))  # fmt: skip

    def strip(runs):
        return [[{k: v for k, v in g.items() if k != "seconds"} for g in r["generations"]]
                for r in runs]  # fmt: skip

    expected = strip(run_chains(spec.load(), config, [0, 1]))
    assert strip(run_chains(spec, config, [0, 1])) == expected
    # worker processes receive the spec and load the data themselves
    workers = Execution(executor="processes", jobs=2)
    assert strip(run_chains(spec, config, [0, 1], execution=workers)) == expected


# --------------------------------------------------------------------------------------------
# Bad input: one line naming the file or option, exit 2, nothing written
# --------------------------------------------------------------------------------------------


def _bad_files(root: Path) -> dict[str, tuple[Path, dict[str, object], str]]:
    """name -> (path, options, text the message must hold)."""
    x, y = _arrays(30)
    root.mkdir()
    cases: dict[str, tuple[Path, dict[str, object], str]] = {}
    cases["missing"] = (root / "nope.npz", {}, "nope.npz")
    (root / "d.xlsx").write_bytes(b"x")
    cases["extension"] = (root / "d.xlsx", {}, "'.xlsx'")
    np.savez(root / "noy.npz", x=x)
    cases["npz without y"] = (root / "noy.npz", {}, "no array 'y'")
    np.savez(root / "len.npz", x=x, y=y[:-1])
    cases["lengths"] = (root / "len.npz", {}, "x has 30 samples but y has 29")
    bad = x.copy()
    bad[7, 2] = np.nan
    np.savez(root / "nan.npz", x=bad, y=y)
    cases["nan"] = (root / "nan.npz", {}, "NaN or infinite values (first in sample 7)")
    bad[7, 2] = np.inf
    _write_table(root / "inf.csv", bad, y)
    cases["inf in csv"] = (root / "inf.csv", {}, "'f2'")
    _write_table(root / "nolabel.csv", x, y, label="target")
    cases["no label column"] = (root / "nolabel.csv", {}, "no label column 'label'")
    _write_table(root / "one.csv", x, np.full(30, "cat"))
    cases["one class"] = (root / "one.csv", {}, "1 class (cat)")
    frame = pd.DataFrame({"f0": x[:, 0], "city": ["a"] * 30, "label": y})
    frame.to_csv(root / "text.csv", index=False)
    cases["text feature"] = (root / "text.csv", {}, "'city'")
    frame = pd.DataFrame({"f0": x[:, 0], "label": [*y[:29], None]})
    frame.to_csv(root / "nolab.csv", index=False)
    cases["missing label"] = (root / "nolab.csv", {}, "missing values (first in row 29)")
    np.savez(root / "pickled.npz", x=x, y=np.array([{"a": 1}] * 30, dtype=object))
    cases["pickled npz"] = (root / "pickled.npz", {}, "not a readable .npz file")
    (root / "empty" / "cls").mkdir(parents=True)
    cases["no images"] = (root / "empty", {}, "no images")
    _write_images(root / "trunc")
    data = (root / "trunc" / "bee" / "3.png").read_bytes()
    (root / "trunc" / "bee" / "3.png").write_bytes(data[: len(data) // 2])
    cases["truncated image"] = (root / "trunc", {}, os.path.join("bee", "3.png"))
    _write_images(root / "sizes", sizes={"bee/2": (6, 6)})
    cases["mixed sizes"] = (root / "sizes", {}, "bee/2.png 6x6); pass --image-size")
    return cases


BAD = ["missing", "extension", "npz without y", "lengths", "nan", "inf in csv",
       "no label column", "one class", "no images", "truncated image", "mixed sizes",
       "text feature", "missing label", "pickled npz"]  # fmt: skip


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return _bad_files(tmp_path_factory.mktemp("bad") / "files")


@pytest.mark.parametrize("case", BAD)
def test_bad_data_files_are_one_sentence_errors(bad_files, case):
    path, options, text = bad_files[case]
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        load_dataset(str(path), **options)
    assert text in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("command", ["noisy", "chain"])
@pytest.mark.parametrize("case", BAD)
def test_bad_data_files_exit_2_from_the_cli_and_write_nothing(
    bad_files, tmp_path, capsys, command, case
):
    path, _, text = bad_files[case]
    out = tmp_path / "out"
    quiet = ["--noise", "0"] if command == "noisy" else []  # no note on the noise of a file
    assert main([command, "--data", str(path), "--out", str(out), "--no-progress", *quiet]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"selfdistill {command}: error:") and text in err
    assert err.count("\n") == 1 and not out.exists()


def test_bad_arrays_name_the_argument():
    x, y = _arrays(30)
    with pytest.raises(ValueError, match="x_test is given without y_test"):
        DataSplits.from_arrays(x, y, x_test=x)
    with pytest.raises(ValueError, match="x_val has samples of shape"):
        DataSplits.from_arrays(x, y, x_val=x[:, :2], y_val=y)
    with pytest.raises(ValueError, match="fractions"):
        DataSplits.from_arrays(x, np.linspace(0, 1, 30))
    with pytest.raises(ValueError, match="name must be one of digits"):
        load_dataset("digitz")


@pytest.mark.parametrize(
    ("module", "data", "extra"),
    [("pandas", "t.csv", "tables"), ("PIL", "imgs", "images")],
)
def test_a_missing_extra_is_a_one_line_install_hint(tmp_path, monkeypatch, capsys, module, data,
                                                    extra):  # fmt: skip
    x, y = _arrays(30)
    _write_table(tmp_path / "t.csv", x, y)
    _write_images(tmp_path / "imgs")
    for name in [m for m in list(__import__("sys").modules) if m.split(".")[0] == module]:
        monkeypatch.delitem(__import__("sys").modules, name)
    monkeypatch.setitem(__import__("sys").modules, module, None)
    if module == "PIL":
        monkeypatch.setitem(__import__("sys").modules, "PIL.Image", None)
    with pytest.raises(ImportError, match=rf"pip install 'selfdistill\[{extra}\]'"):
        load_dataset(str(tmp_path / data))
    assert main(["noisy", "--data", str(tmp_path / data), "--out", str(tmp_path / "o")]) == 2
    assert f"selfdistill[{extra}]" in capsys.readouterr().err


def test_noisy_on_a_csv_end_to_end(tmp_path):
    """The README's line: a CSV the user made, its own label column, no injected noise."""
    x, y = _arrays(60)
    path = _write_table(tmp_path / "my.csv", x, y, label="y")
    out = tmp_path / "runs" / "mine"
    argv = ["noisy", "--data", str(path), "--label-column", "y", "--noise", "0", "--method", "sd"]
    assert main([*argv, "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    cfg = json.loads((out / "results.json").read_text())["config"]
    assert cfg["data"] == str(path) and cfg["class_names"] == ["cat", "dog", "emu"]
    assert cfg["options"]["label_column"] == "y" and cfg["options"]["device"] == "cpu"


def test_the_reproductions_that_take_data_accept_a_file_and_its_reader_options():
    import argparse

    from selfdistill.experiments import EXPERIMENTS, add_experiment_arguments
    from selfdistill.training_flags import file_options

    taking = []
    for name in EXPERIMENTS:
        parser = argparse.ArgumentParser()
        add_experiment_arguments(parser, name)
        if not any(a.dest == "data" for a in parser._actions):
            continue
        taking.append(name)
        args = parser.parse_args(["--data", "my.csv", "--label-column", "y", "--image-size", "8"])
        assert file_options(args) == {"label_column": "y", "image_size": 8}, name
        assert file_options(parser.parse_args(["--data", "digits"])) == {}, name
    assert len(taking) >= 7


@given(
    st.one_of(
        st.lists(st.integers(-50, 50), min_size=2, max_size=40),
        st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=3), min_size=2, max_size=40),
    )
)
@settings(max_examples=60, deadline=None)
def test_encoded_labels_decode_to_the_given_ones(labels):
    """Class names indexed by the codes give back every label; codes are 0 .. K-1, names sorted."""
    y = np.array(labels)
    if len(set(labels)) < 2:
        with pytest.raises(ValueError, match="at least 2"):
            encode_labels("y", {"train": y})
        return
    codes, names = encode_labels("y", {"train": y[: len(y) // 2 + 1], "test": y[len(y) // 2 + 1 :]})
    decoded = [names[c] for c in np.concatenate([codes["train"], codes["test"]])]
    assert decoded == [str(v) for v in labels]
    assert len(names) == len(set(labels)) and sorted(set(decoded)) == sorted(names)
    assert list(names) == [str(v) for v in sorted(set(labels))]  # numeric or text order
