"""Silently wrong data and models (issue 24, part B): data that makes a meaningless run, damaged
or inconsistent saved models, `predict` on a table whose columns moved, soft targets that are no
distribution, and inputs that used to fail inside torch or pandas. Every case either gives the
right answer (checked against an independent computation) or a one-line error naming the
argument, file, column or class."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

from selfdistill import SelfDistilledKernelClassifier, SelfDistilledKernelRidge  # noqa: E402
from selfdistill.cli import main  # noqa: E402
from selfdistill.exceptions import DamagedStateWarning  # noqa: E402
from selfdistill.nn import load_model  # noqa: E402
from selfdistill.nn.data_splits import DataSplits, load_dataset  # noqa: E402
from selfdistill.nn.models import ModelSpec  # noqa: E402
from selfdistill.nn.saved import model_card, save_model  # noqa: E402
from selfdistill.nn.training.loop import TrainConfig, fit  # noqa: E402

# --------------------------------------------------------------------------------------------
# Data that makes a meaningless run


def test_every_label_distinct_is_refused():
    x = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match=r"every label is distinct \(100 samples"):
        DataSplits.from_arrays(x, np.arange(100))


def test_classes_with_fewer_samples_than_the_splits_need_are_named():
    x = np.random.default_rng(0).normal(size=(62, 3))
    y = np.array(["a"] * 30 + ["b"] * 30 + ["rare", "odd"])
    with pytest.raises(ValueError, match=r"class\(es\) 'odd' \(1\), 'rare' \(1\) have fewer .* 3"):
        DataSplits.from_arrays(x, y)
    # with a given test split and no validation, one sample per class is all training needs
    splits = DataSplits.from_arrays(x, y, x_test=x[:4], y_test=y[:4], val_fraction=0.0)
    assert set(splits.y_train.tolist()) == set(range(4))


def test_a_test_class_never_seen_in_training_is_named():
    x = np.random.default_rng(0).normal(size=(40, 3))
    y = np.array(["a", "b"] * 20)
    with pytest.raises(ValueError, match=r"'zebra' of the test split have no training sample"):
        DataSplits.from_arrays(x, y, x_test=x[:3], y_test=np.array(["a", "b", "zebra"]))
    with pytest.raises(ValueError, match=r"'zebra' of the validation split"):
        DataSplits.from_arrays(x, y, x_val=x[:3], y_val=np.array(["a", "b", "zebra"]))


def test_n_train_below_the_number_of_classes_is_refused():
    with pytest.raises(ValueError, match=r"n_train=5 leaves class\(es\) .*\(n_train >= 10\)"):
        load_dataset("digits", n_train=5)


@pytest.mark.parametrize("command", ["noisy", "chain"])
def test_the_cli_refuses_rare_classes_and_huge_images_before_writing(tmp_path, capsys, command):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(41, 2)), columns=["a", "b"])
    frame["label"] = ["x", "y"] * 20 + ["lonely"]
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "o"
    argv = [command, "--data", str(tmp_path / "d.csv"), "--out", str(out), "--no-progress"]
    argv += ["--noise", "0"] if command == "noisy" else []
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "'lonely' (1) have fewer samples" in err and err.count("\n") == 1
    assert not out.exists()
    (tmp_path / "img" / "a").mkdir(parents=True)
    argv[2] = str(tmp_path / "img")
    assert main([*argv, "--image-size", "100000"]) == 2
    assert "image_size must be an integer in [1, 4096]" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# Saved models


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    """A model trained by `noisy` on a CSV with label column `target`, and the CSV."""
    root = tmp_path_factory.mktemp("table")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = np.where(x[:, 0] + 0.5 * x[:, 2] > 0, "pos", "neg")
    frame = pd.DataFrame(x, columns=["w", "x", "y", "z"]).assign(target=y)
    frame.to_csv(root / "d.csv", index=False)
    argv = ["noisy", "--data", str(root / "d.csv"), "--label-column", "target", "--method", "ce"]
    argv += ["--noise", "0", "--seeds", "0", "--epochs", "3", "--width", "16", "--no-progress"]
    assert main([*argv, "--out", str(root / "o")]) == 0
    return root / "o" / "runs" / "seed0-noise0-ce", frame


def _predict(model: Path, data: Path, out: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["predict", "--model", str(model), "--data", str(data), "--out", str(out), *extra])
    return code, capsys.readouterr().err


def _probabilities(path: Path) -> np.ndarray:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r["p_neg"]), float(r["p_pos"])] for r in rows])


def test_the_card_records_columns_and_the_weights_checksum(table_model):
    card = json.loads((table_model[0] / "model.json").read_text())
    assert card["feature_names"] == ["w", "x", "y", "z"] and card["label_column"] == "target"
    assert len(card["weights_sha256"]) == 64


def test_predict_takes_columns_by_name_and_the_cards_label_column(table_model, tmp_path, capsys):
    folder, frame = table_model
    frame.to_csv(tmp_path / "same.csv", index=False)
    code, err = _predict(folder, tmp_path / "same.csv", tmp_path / "a.csv", capsys)
    assert code == 0 and "accuracy against the data's labels" in err
    reordered = frame[["target", "z", "x", "w", "y"]].assign(note=1.0)
    reordered.to_csv(tmp_path / "moved.csv", index=False)
    with pytest.warns(UserWarning, match="'note' are not features of the model"):
        code, err = _predict(folder, tmp_path / "moved.csv", tmp_path / "b.csv", capsys)
    assert code == 0
    np.testing.assert_array_equal(_probabilities(tmp_path / "a.csv"),
                                  _probabilities(tmp_path / "b.csv"))  # fmt: skip


def test_predict_refuses_a_table_that_lacks_a_feature_column(table_model, tmp_path, capsys):
    folder, frame = table_model
    frame.rename(columns={"x": "x_renamed"}).to_csv(tmp_path / "renamed.csv", index=False)
    code, err = _predict(folder, tmp_path / "renamed.csv", tmp_path / "p.csv", capsys)
    assert code == 2 and "lacks the model's feature column(s) 'x'" in err
    assert err.count("\n") == 1 and not (tmp_path / "p.csv").exists()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    data = load_dataset("digits", seed=0, n_train=100)
    model = ModelSpec("mlp", width=8).build(data.input_shape, data.num_classes, seed=0)
    folder = tmp_path_factory.mktemp("small")
    save_model(folder, model, model_card(data, ModelSpec("mlp", width=8), method="ce",
                                         params={}, seed=0))  # fmt: skip
    return folder


def _copy(folder: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in ("model.json", "model.pt"):
        (dest / name).write_bytes((folder / name).read_bytes())
    return dest


@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_a_truncated_model_pt_is_damaged_not_an_architecture_mismatch(
    small_model, tmp_path, capsys, cut
):
    folder = _copy(small_model, tmp_path / "m")
    weights = (folder / "model.pt").read_bytes()
    (folder / "model.pt").write_bytes(weights[: int(len(weights) * cut)])
    with pytest.raises(ValueError, match=r"model\.pt: its SHA-256 .* damaged") as info:
        load_model(folder)
    assert "architecture" not in str(info.value)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 64)))
    assert main(["predict", "--model", str(folder), "--data", str(tmp_path / "x.npz"),
                 "--out", str(tmp_path / "p.csv")]) == 2  # fmt: skip
    assert "damaged" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c.update(classes=["a", "b", "c"]), "names 3 classes for a model of 10"),
        (lambda c: c["standardisation"]["std"].pop(), "64 means and standard deviations"),
        (lambda c: c["standardisation"]["std"].__setitem__(0, -1.0), "negative standard"),
        (lambda c: c.update(input_shape=[0]), "input_shape must be a list of positive"),
    ],
)
def test_an_inconsistent_card_names_its_file(small_model, tmp_path, edit, match):
    folder = _copy(small_model, tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    edit(card)
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=match) as info:
        load_model(folder)
    assert str(folder / "model.json") in str(info.value)


def test_a_zero_standard_deviation_gives_finite_probabilities(small_model, tmp_path):
    folder = _copy(small_model, tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card["standardisation"]["std"][:5] = [0.0] * 5  # digits' constant border pixels
    (folder / "model.json").write_text(json.dumps(card))
    saved = load_model(folder)
    x = np.random.default_rng(0).uniform(0, 16, size=(6, 64))
    proba = saved.predict_proba(x)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)
    mean = np.array(card["standardisation"]["mean"], dtype=np.float32)
    std = np.array(card["standardisation"]["std"], dtype=np.float32)
    expected = (x.astype(np.float32) - mean) / np.where(std > 0, std, 1)
    np.testing.assert_allclose(saved.standardise(x).numpy(), expected, rtol=1e-6)


def test_a_noisy_rerun_retrains_a_truncated_model_pt(tmp_path):
    argv = ["noisy", "--data", "digits", "--n-train", "60", "--method", "ce", "--noise", "0",
            "--seeds", "0", "--epochs", "1", "--width", "8", "--no-progress",
            "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 0
    weights = tmp_path / "o" / "runs" / "seed0-noise0-ce" / "model.pt"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 3])
    with pytest.warns(DamagedStateWarning, match=r"model\.pt: its SHA-256.* trained again"):
        assert main(argv) == 0
    restored = torch.load(weights, weights_only=True)
    original = torch.load(__import__("io").BytesIO(whole), weights_only=True)
    assert all(torch.equal(restored[k], original[k]) for k in original)
    load_model(weights.parent)  # whole again
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedStateWarning)
        assert main(argv) == 0  # nothing damaged: nothing redone


# --------------------------------------------------------------------------------------------
# fit: targets and inputs


def _mlp(d: int = 5, k: int = 3):
    return ModelSpec("mlp", width=8).build((d,), k, seed=0)


X = torch.randn(12, 5)
CONFIG = TrainConfig(epochs=1, batch_size=4, progress=False)


@pytest.mark.parametrize(
    ("targets", "match"),
    [
        (torch.tensor([[1.2, -0.2, 0.0]] * 12), r"smallest entry -0\.2"),
        (torch.tensor([[0.5, 0.5, 0.5]] * 12), r"a row summing to 1\.5"),
        (torch.full((12, 4), 0.25), r"soft targets_train must have one column per model output"),
        (torch.ones(12, dtype=torch.bool), "got torch.bool"),
    ],
)
def test_fit_refuses_targets_that_are_no_distribution(targets, match):
    with pytest.raises(ValueError, match=match):
        fit(_mlp(), X, targets, CONFIG)


def test_fit_takes_int32_labels_as_int64():
    y = torch.arange(12) % 3
    a, b = _mlp(), _mlp()
    fit(a, X, y, CONFIG)
    fit(b, X, y.to(torch.int32), CONFIG, eval_sets={"val": (X, y.to(torch.int32))})
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_fit_names_the_width_the_model_takes():
    with pytest.raises(ValueError, match=r"shape \(7,\), which the model cannot take \(its first "
                       r"layer takes 5 features\)"):  # fmt: skip
        fit(_mlp(), torch.randn(12, 7), torch.arange(12) % 3, CONFIG)
    with pytest.raises(ValueError, match=r"eval_sets\['val'\] inputs must have samples of shape"):
        fit(_mlp(), X, torch.arange(12) % 3, CONFIG, eval_sets={"val": (X[:, :4], X[:, 0].long())})


# --------------------------------------------------------------------------------------------
# Kernel estimators and DataFrames


@pytest.mark.parametrize("estimator", [SelfDistilledKernelRidge, SelfDistilledKernelClassifier])
def test_a_text_column_in_a_dataframe_is_named(estimator):
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "city": ["x", "y", "x", "y"]})
    with pytest.raises(ValueError, match=r"column\(s\) 'city' \(\w+\) hold text"):
        estimator().fit(frame, [0, 1, 0, 1])
    fitted = estimator().fit(frame[["a"]], [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"'a' \(\w+\) hold text"):
        fitted.predict(frame[["a"]].astype(str))
