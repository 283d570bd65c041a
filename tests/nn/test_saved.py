"""Saved models (issue 12 items 3, 4, 7): model cards and weights, `predict`, labels.csv with the
flagged precision / recall, metrics.csv, TensorBoard events and --export-relabelled, on a tiny
`noisy` sweep of digits; each checked against an independent computation (the raw, unstandardised
data loaded separately, the corruption mask drawn again, the set counts of the CSV rows)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from selfdistill.cli import main  # noqa: E402
from selfdistill.nn import load_model  # noqa: E402
from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.models import ModelSpec  # noqa: E402
from selfdistill.nn.noisy.runner import corrupt_splits  # noqa: E402
from selfdistill.nn.saved import model_card, read_features, save_model  # noqa: E402
from selfdistill.nn.training.loop import TrainConfig, fit, predict_logits  # noqa: E402

N_TRAIN, SEED, NOISE = 200, 1, 0.3
NOISY = ["noisy", "--data", "digits", "--n-train", str(N_TRAIN), "--width", "32", "--epochs", "3"]
NOISY += ["--method", "ce,sd", "--noise", str(NOISE), "--seeds", str(SEED), "--no-progress"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("saved")
    argv = [*NOISY, "--out", str(root / "out"), "--export-relabelled", str(root / "relab.npz")]
    assert main([*argv, "--tensorboard", str(root / "tb")]) == 0
    return root


@pytest.fixture(scope="module")
def raw_digits():
    """The same splits, not standardised: the raw inputs a user would predict on."""
    return load_dataset("digits", seed=SEED, n_train=N_TRAIN, standardize=False)


def test_every_run_writes_a_model_labels_and_metrics(sweep: Path) -> None:
    runs = sweep / "out" / "runs"
    names = [f"seed{SEED}-noise0.3-{m}" for m in ("ce", "sd")]
    assert sorted(p.name for p in runs.iterdir()) == names
    for folder in runs.iterdir():
        assert {p.name for p in folder.iterdir()} == {
            "model.json", "model.pt", "labels.csv", "metrics.csv"
        }  # fmt: skip
        card = json.loads((folder / "model.json").read_text())
        assert card["architecture"] == {"name": "mlp", "width": 32, "depth": None}
        assert card["input_shape"] == [64] and card["classes"] == [str(c) for c in range(10)]
        assert card["method"]["name"] == folder.name.rsplit("-", 1)[1]
        assert card["method"]["params"]["noise"] == NOISE and card["seed"] == SEED
        assert card["data"]["name"] == "digits" and card["data"]["n_train"] == N_TRAIN
        assert set(card["versions"]) == {"selfdistill", "torch", "numpy", "python"}


def test_predict_on_raw_data_reproduces_the_test_accuracy(
    sweep: Path, raw_digits, tmp_path: Path, capsys
) -> None:
    """The card's standardisation applied to raw inputs gives the network the inputs it was
    evaluated on: predictions on the raw test split reach exactly the run's final test accuracy."""
    run = json.loads((sweep / "out" / "results.json").read_text())["runs"][0]
    data = tmp_path / "test.npz"
    np.savez(data, x=raw_digits.x_test.numpy(), y=raw_digits.y_test.numpy())
    out = tmp_path / "p.csv"
    folder = sweep / "out" / "runs" / f"seed{SEED}-noise0.3-{run['method']}"
    assert main(["predict", "--model", str(folder), "--data", str(data), "--out", str(out)]) == 0
    rows = read_csv(out)
    predicted = np.array([int(r["predicted_label"]) for r in rows])
    acc = float((predicted == raw_digits.y_test.numpy()).mean())
    assert acc == pytest.approx(run["final_test_acc"], abs=1e-12)
    assert f"accuracy against the data's labels: {acc:.4f}" in capsys.readouterr().err
    probs = np.array([[float(r[f"p_{c}"]) for c in range(10)] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)


def test_labels_csv_and_flag_scores_against_the_corruption_mask(sweep: Path) -> None:
    data = load_dataset("digits", seed=SEED, n_train=N_TRAIN)
    y_noisy, mask, _ = corrupt_splits(data, NOISE, "symmetric", SEED)
    results = json.loads((sweep / "out" / "results.json").read_text())["runs"]
    for run in results:
        folder = sweep / "out" / "runs" / f"seed{SEED}-noise0.3-{run['method']}"
        rows = read_csv(folder / "labels.csv")
        assert len(rows) == N_TRAIN
        index = np.array([int(r["index"]) for r in rows])
        assert np.array_equal(np.array([int(r["given_label"]) for r in rows]), y_noisy[index])
        flagged = {int(r["index"]) for r in rows if r["flagged"] == "True"}
        corrupted = set(np.flatnonzero(mask.numpy()).tolist())
        hits = len(flagged & corrupted)
        assert run["flagged_recall"] == pytest.approx(hits / len(corrupted), abs=1e-12)
        assert run["flagged_precision"] == pytest.approx(hits / len(flagged), abs=1e-12)
        assert run["flagged_f1"] == pytest.approx(2 * hits / (len(flagged) + len(corrupted)))
        # label_recovery counts the corrupted samples predicted as their TRUE label
        true = data.y_train.numpy()
        recovered = sum(int(r["predicted_label"]) == true[int(r["index"])] for r in rows
                        if int(r["index"]) in corrupted)  # fmt: skip
        assert run["label_recovery"] == pytest.approx(recovered / len(corrupted), abs=1e-12)


def test_metrics_csv_matches_the_curves(sweep: Path) -> None:
    for run in json.loads((sweep / "out" / "results.json").read_text())["runs"]:
        folder = sweep / "out" / "runs" / f"seed{SEED}-noise0.3-{run['method']}"
        rows = read_csv(folder / "metrics.csv")
        assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
        assert [float(r["test_acc"]) for r in rows] == pytest.approx(run["test_acc_curve"], abs=0)
        assert {"train_loss", "noisyval_acc", "seconds", "lr"} <= set(rows[0])
        if run["method"] == "sd":  # α_t = 1 − λ · batch accuracy with λ = 1, in [0, 1]
            alphas = [float(r["alpha"]) for r in rows]
            assert all(0.0 <= a <= 1.0 for a in alphas)
        else:
            assert "alpha" not in rows[0]


def test_tensorboard_events_hold_the_metrics(sweep: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = read_csv(sweep / "out" / "runs" / f"seed{SEED}-noise0.3-sd" / "metrics.csv")
    events = EventAccumulator(str(sweep / "tb" / f"seed{SEED}-noise0.3-sd")).Reload()
    test_acc = [e.value for e in events.Scalars("test_acc")]
    assert test_acc == pytest.approx([float(r["test_acc"]) for r in rows], rel=1e-6)
    assert [e.step for e in events.Scalars("alpha")] == [1, 2, 3]


def test_export_relabelled_npz(sweep: Path, raw_digits) -> None:
    exported = np.load(sweep / "relab.npz")
    rows = read_csv(sweep / "out" / "runs" / f"seed{SEED}-noise0.3-sd" / "labels.csv")
    refined = np.empty(N_TRAIN, dtype=np.int64)
    for r in rows:
        refined[int(r["index"])] = int(r["predicted_label"])
    assert np.array_equal(exported["y"], refined)
    np.testing.assert_allclose(exported["x"], raw_digits.x_train.numpy(), atol=1e-4)
    np.testing.assert_allclose(exported["x_test"], raw_digits.x_test.numpy(), atol=1e-4)
    assert np.array_equal(exported["y_test"], raw_digits.y_test.numpy())


def test_a_rerun_keeps_the_stored_runs_and_their_files(sweep: Path) -> None:
    weights = sweep / "out" / "runs" / f"seed{SEED}-noise0.3-sd" / "model.pt"
    before = weights.stat().st_mtime_ns
    assert main([*NOISY, "--out", str(sweep / "out")]) == 0
    assert weights.stat().st_mtime_ns == before  # nothing retrained, nothing rewritten


def test_export_relabelled_csv(tmp_path: Path) -> None:
    argv = ["noisy", "--data", "digits", "--n-train", "60", "--width", "8", "--epochs", "1"]
    argv += ["--noise", "0", "--method", "ce", "--no-progress", "--out", str(tmp_path / "o")]
    assert main([*argv, "--export-relabelled", str(tmp_path / "relab.csv")]) == 0
    rows = read_csv(tmp_path / "relab.csv")
    labels = read_csv(tmp_path / "o" / "runs" / "seed0-noise0-ce" / "labels.csv")
    assert len(rows) == 60 and list(rows[0]) == [*(f"x{j}" for j in range(64)), "label"]
    by_index = {int(r["index"]): r["predicted_label"] for r in labels}
    assert [r["label"] for r in rows] == [by_index[i] for i in range(60)]
    result = json.loads((tmp_path / "o" / "results.json").read_text())["runs"][0]
    assert result["flagged_precision"] is None and result["flagged_recall"] is None


# ------------------------------------------------------------------------- Python API and files


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    data = load_dataset("digits", seed=0, n_train=120)
    model = ModelSpec("mlp", width=16).build(data.input_shape, data.num_classes, seed=0)
    fit(model, data.x_train, data.y_train, TrainConfig(epochs=1, progress=False))
    folder = tmp_path_factory.mktemp("model")
    card = model_card(data, ModelSpec("mlp", width=16), method="ce", params={}, seed=0)
    save_model(folder, model, card)
    return folder, model, data


def test_load_model_predicts_as_the_trained_network(saved) -> None:
    folder, model, data = saved
    loaded = load_model(folder / "model.json")
    raw = load_dataset("digits", seed=0, n_train=120, standardize=False)
    expected = torch.softmax(predict_logits(model, data.x_test).double(), dim=1).numpy()
    np.testing.assert_allclose(loaded.predict_proba(raw.x_test.numpy()), expected, atol=1e-6)
    assert np.array_equal(loaded.predict(raw.x_test.numpy()), expected.argmax(axis=1))
    assert loaded.class_names == [str(c) for c in range(10)]


def test_uint8_inputs_are_scaled_before_the_standardisation(saved) -> None:
    folder, _, _ = saved
    loaded = load_model(folder)
    x = np.random.default_rng(0).integers(0, 256, size=(4, 64), dtype=np.uint8)
    mean = np.array(loaded.card["standardisation"]["mean"], dtype=np.float32)
    std = np.array(loaded.card["standardisation"]["std"], dtype=np.float32)
    expected = (x.astype(np.float32) / 255 - mean) / std
    np.testing.assert_allclose(loaded.standardise(x).numpy(), expected, rtol=1e-6)


def _copy(folder: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in ("model.json", "model.pt"):
        (dest / name).write_bytes((folder / name).read_bytes())
    return dest


def test_weights_that_do_not_match_the_architecture(saved, tmp_path: Path, capsys) -> None:
    folder = _copy(saved[0], tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    card["architecture"]["width"] = 17
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"model\.pt: the weights do not match the architecture"):
        load_model(folder)
    data = tmp_path / "x.npz"
    np.savez(data, x=np.zeros((2, 64)))
    assert main(["predict", "--model", str(folder), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.pt" in err and err.startswith("selfdistill predict")


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda f: (f / "model.json").unlink(), "no model card there"),
        (lambda f: (f / "model.pt").unlink(), "the weights of model card"),
        (lambda f: (f / "model.json").write_text("{"), "not a readable model card"),
        (lambda f: (f / "model.json").write_text('{"format": "x"}'), "not a model card"),
        (lambda f: (f / "model.pt").write_bytes(b"junk"), "the weights file is damaged"),
    ],
)
def test_damaged_saved_models_are_one_line_errors(saved, tmp_path: Path, damage, match) -> None:
    folder = _copy(saved[0], tmp_path / "m")
    damage(folder)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        load_model(folder)


def test_predict_on_data_with_the_wrong_number_of_features(saved, tmp_path: Path, capsys) -> None:
    data = tmp_path / "wrong.csv"
    data.write_text("a,b,label\n1,2,0\n3,4,1\n")
    out = tmp_path / "p.csv"
    argv = ["predict", "--model", str(saved[0]), "--data", str(data), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(data) in err and "64 features per sample" in err
    assert not out.exists()


def test_read_features_formats(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    header = "f0,f1,f2,label\n"
    (tmp_path / "a.csv").write_text(header + "".join(f"{r[0]},{r[1]},{r[2]},y\n" for r in x))
    tsv = "".join("\t".join(map(str, r)) + "\n" for r in x)
    (tmp_path / "a.tsv").write_text("f0\tf1\tf2\n" + tsv)
    np.savez(tmp_path / "a.npz", x=x)
    got, labels = read_features(tmp_path / "a.csv")
    assert np.array_equal(got, x) and list(labels) == ["y"] * 4
    got, labels = read_features(tmp_path / "a.tsv")
    assert np.array_equal(got, x) and labels is None
    got, labels = read_features(tmp_path / "a.npz")
    assert np.array_equal(got, x) and labels is None
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame(x, columns=["f0", "f1", "f2"]).to_parquet(tmp_path / "a.parquet")
    assert np.array_equal(read_features(tmp_path / "a.parquet")[0], x)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("missing.csv", None, "no such data file"),
        ("a.txt", "1,2\n", "unknown data file extension"),
        ("a.npz", "npz-without-x", "has no array 'x'"),
        ("a.csv", "f0,name\n1,bob\n", "must be numeric; .name. hold"),
    ],
)
def test_read_features_bad_input(tmp_path: Path, name: str, content, match: str) -> None:
    path = tmp_path / name
    if content == "npz-without-x":
        np.savez(path, y=np.zeros(2))
    elif content is not None:
        path.write_text(content)
    with pytest.raises((ValueError, FileNotFoundError), match=match) as info:
        read_features(path)
    assert str(path) in str(info.value)


def test_tensorboard_missing_is_a_one_line_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    argv = ["noisy", "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main([*argv, "--tensorboard", str(tmp_path / "tb")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'selfdistill[tensorboard]'" in err
    assert not (tmp_path / "o").exists()


def test_export_path_must_be_npz_or_csv(tmp_path: Path, capsys) -> None:
    argv = ["noisy", "--data", "digits", "--out", str(tmp_path / "o")]
    assert main([*argv, "--export-relabelled", str(tmp_path / "x.json")]) == 2
    assert "--export-relabelled must end in .npz or .csv" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------------- chain


@pytest.mark.parametrize("save", ["all", "last"])
def test_chain_saves_its_generations(save: str, tmp_path: Path) -> None:
    argv = ["chain", "--data", "digits", "--n-train", "120", "--generations", "2", "--epochs", "2"]
    argv += ["--width", "16", "--alpha", "0.3", "--seeds", "0", "--no-progress"]
    assert main([*argv, "--save-models", save, "--out", str(tmp_path / "c")]) == 0
    models = tmp_path / "c" / "models" / "seed-0"
    assert (models / "gen-1" / "model.json").exists() == (save == "all")
    assert not (models / "gen-1" / "labels.csv").exists()
    last = models / "fixed" / "gen-2"
    files = {"model.json", "model.pt", "labels.csv", "metrics.csv"}
    assert {p.name for p in last.iterdir()} == files
    metrics = read_csv(last / "metrics.csv")
    assert [int(r["epoch"]) for r in metrics] == [0, 1] and {r["alpha"] for r in metrics} == {"0.3"}
    # the saved last generation, fed the raw data, reaches the recorded test accuracy
    record = json.loads((tmp_path / "c" / "results.json").read_text())["runs"][0]
    raw = load_dataset("digits", seed=0, n_train=120, standardize=False)
    acc = float((load_model(last).predict(raw.x_test.numpy()) == raw.y_test.numpy()).mean())
    assert acc == pytest.approx(record["generations"][-1]["test_acc"], abs=1e-12)
    labels = read_csv(last / "labels.csv")
    assert sorted(int(r["given_label"]) for r in labels) == sorted(raw.y_train.tolist())


# ------------------------------------------------------------- a user's own CSV and image folder


def test_noisy_on_a_users_csv_then_predict(tmp_path: Path, capsys) -> None:
    """The issue's workflow: `noisy --data my.csv --label-column y --noise 0 --method sd` writes
    labels.csv, a card and weights; `predict` uses them on a CSV with and without the labels."""
    pytest.importorskip("pandas")
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x[:400], y[:400]
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])  # fmt: skip
    header = ",".join(f"px{j}" for j in range(64))
    lines = [f"{','.join(map(str, row))},{names[label]}" for row, label in zip(x, y, strict=True)]
    (tmp_path / "my.csv").write_text(f"{header},y\n" + "\n".join(lines) + "\n")
    argv = ["noisy", "--data", str(tmp_path / "my.csv"), "--label-column", "y", "--noise", "0"]
    argv += ["--method", "sd", "--epochs", "2", "--width", "16", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "mine")]) == 0
    folder = tmp_path / "mine" / "runs" / "seed0-noise0-sd"
    card = json.loads((folder / "model.json").read_text())
    assert card["classes"] == sorted(names.tolist())  # text order, as the reader encodes them
    assert card["data"]["name"] == str(tmp_path / "my.csv") and card["data"]["label_column"] == "y"
    labels = read_csv(folder / "labels.csv")
    assert {r["given_name"] for r in labels} <= set(names.tolist())
    assert all(card["classes"][int(r["given_label"])] == r["given_name"] for r in labels)
    # predict on the same file (labels present, named) and on the features only
    out = tmp_path / "p.csv"
    argv = ["predict", "--model", str(folder), "--data", str(tmp_path / "my.csv")]
    assert main([*argv, "--label-column", "y", "--out", str(out)]) == 0
    assert "accuracy against the data's labels" in capsys.readouterr().err
    rows = read_csv(out)
    assert len(rows) == 400 and {f"p_{n}" for n in names} <= set(rows[0])
    (tmp_path / "x.csv").write_text(f"{header}\n" + "\n".join(",".join(map(str, r)) for r in x))
    assert main([*argv[:4], str(tmp_path / "x.csv"), "--out", str(tmp_path / "q.csv")]) == 0
    assert [r["predicted_name"] for r in read_csv(tmp_path / "q.csv")] == [
        r["predicted_name"] for r in rows
    ]


def test_noisy_on_an_image_folder_then_predict(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for c, cls in enumerate(("ant", "bee")):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(20):
            pixels = rng.integers(0, 100, size=(6, 5, 3), dtype=np.uint8) + 100 * c
            image.fromarray(pixels, mode="RGB").save(tmp_path / "imgs" / cls / f"{i}.png")
    argv = ["noisy", "--data", str(tmp_path / "imgs"), "--noise", "0", "--method", "ce"]
    argv += ["--model", "cnn", "--width", "4", "--epochs", "2", "--batch-size", "8"]
    assert main([*argv, "--no-progress", "--out", str(tmp_path / "o")]) == 0
    folder = tmp_path / "o" / "runs" / "seed0-noise0-ce"
    saved = load_model(folder)
    assert saved.card["input_shape"] == [3, 6, 5] and saved.class_names == ["ant", "bee"]
    out = tmp_path / "p.csv"
    argv = ["predict", "--model", str(folder), "--data", str(tmp_path / "imgs"), "--out", str(out)]
    assert main(argv) == 0
    x, names = read_features(tmp_path / "imgs")
    assert x.dtype == np.uint8 and x.shape == (40, 3, 6, 5) and sorted(set(names)) == ["ant", "bee"]
    expected = [saved.class_names[p] for p in saved.predict(x)]
    assert [r["predicted_name"] for r in read_csv(out)] == expected


def test_chain_with_estimated_alpha_saves_the_chain_not_the_alpha0_fit(tmp_path: Path) -> None:
    argv = ["chain", "--data", "digits", "--n-train", "100", "--generations", "2", "--epochs", "1"]
    argv += ["--width", "8", "--alpha", "estimate", "--seeds", "0", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "c")]) == 0
    record = json.loads((tmp_path / "c" / "results.json").read_text())["runs"][0]["generations"]
    last = tmp_path / "c" / "models" / "seed-0" / "estimate" / "gen-2"
    metrics = read_csv(last / "metrics.csv")
    assert float(metrics[0]["alpha"]) == pytest.approx(record[-1]["alpha"], rel=1e-12)
    assert (last / "model.json").exists() and (last / "labels.csv").exists()
