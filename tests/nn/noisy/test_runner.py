"""Tests of the noisy-label runner, the `noisy` command and the dong-table1 / dong-theorem1
experiments, at tiny sizes (digits, a few hundred samples, 2-3 epochs)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.helpers import assert_replots, run_without_torch

torch = pytest.importorskip("torch")

from selfdistill.cli import build_parser  # noqa: E402
from selfdistill.cli import main as cli_main  # noqa: E402
from selfdistill.experiments import run_experiment  # noqa: E402
from selfdistill.experiments.noisy.dong_theorem1 import clusterable_data, train_two_layer  # noqa: E402
from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.noisy.config import NoisyConfig  # noqa: E402
from selfdistill.nn.noisy.runner import RUN_KEYS, corrupt_splits, label_recovery, run_noisy  # noqa: E402
from selfdistill.reports.noisy import markdown_table, summarise  # noqa: E402

TINY = {"data": "digits", "n_train": 300, "epochs": 3, "width": 64, "lr": 0.05}


def test_label_recovery_by_hand():
    pred = torch.tensor([0, 1, 2, 2, 1])
    true = torch.tensor([0, 1, 1, 2, 0])
    mask = torch.tensor([False, True, True, False, True])
    assert label_recovery(pred, true, mask) == pytest.approx(1 / 3)
    assert label_recovery(pred, true, torch.zeros(5, dtype=torch.bool)) is None


def test_corrupt_splits_reproducible_and_test_clean():
    data = load_dataset("digits", seed=0, n_train=400)
    a = corrupt_splits(data, 0.4, "symmetric-exclusive", seed=3)
    b = corrupt_splits(data, 0.4, "symmetric-exclusive", seed=3)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    y_tr, mask, y_va = a
    assert torch.equal(mask, y_tr != data.y_train)
    # 5-sigma binomial tolerance around the exclusive rate 0.4 (n = 400).
    assert abs(float(mask.double().mean()) - 0.4) < 5 * (0.4 * 0.6 / 400) ** 0.5
    assert float((y_va != data.y_val).double().mean()) > 0.2  # validation labels are noisy too


@pytest.fixture(scope="module")
def tiny_runs():
    config = NoisyConfig(**TINY, lam=0.0)
    return run_noisy(config, ["ce", "early-stop", "sd", "gce"], [0.4], [0])


def test_runs_have_the_measures_and_same_budget(tiny_runs):
    by = {r["method"]: r for r in tiny_runs}
    assert list(by) == ["ce", "early-stop", "sd", "gce"]
    for r in tiny_runs:
        assert set(RUN_KEYS) <= set(r)
        assert len(r["test_acc_curve"]) == 3 and r["noise"] == 0.4 and r["seed"] == 0
        assert 0.0 <= r["label_recovery"] <= 1.0
        assert r["best_test_acc"] == max(r["test_acc_curve"])
    # λ = 0 gives α_t = 1: self-distillation's target is the noisy label, so with the same data,
    # labels, initial weights and data order its run must equal plain cross-entropy exactly.
    assert by["sd"]["test_acc_curve"] == by["ce"]["test_acc_curve"]
    assert by["sd"]["label_recovery"] == by["ce"]["label_recovery"]
    assert by["gce"]["test_acc_curve"] != by["ce"]["test_acc_curve"]
    assert by["ce"]["final_test_acc"] == by["ce"]["test_acc_curve"][-1]


def test_early_stop_selects_on_noisy_validation_not_test(tiny_runs):
    by = {r["method"]: r for r in tiny_runs}
    es = by["early-stop"]
    assert es["test_acc_curve"] == by["ce"]["test_acc_curve"]  # one training, reported twice
    val = es["noisy_val_curve"]
    assert es["selected_epoch"] == int(np.argmax(val))  # first maximum of the NOISY val curve
    assert es["final_test_acc"] == es["test_acc_curve"][es["selected_epoch"]]
    for r in tiny_runs:  # the noisy-validation accuracy of the model each run reports
        assert r["noisy_val_acc"] == r["noisy_val_curve"][r["selected_epoch"]]
    assert es["noisy_val_acc"] == max(val) and by["ce"]["noisy_val_acc"] == val[-1]


def test_early_stop_alone_and_bad_methods():
    config = NoisyConfig(**{**TINY, "epochs": 2})
    runs = run_noisy(config, ["early-stop"], [0.2], [1])
    assert [r["method"] for r in runs] == ["early-stop"]
    with pytest.raises(ValueError, match="method"):
        run_noisy(config, ["ce", "ce"], [0.2], [0])
    with pytest.raises(ValueError, match="method"):
        run_noisy(config, ["mixup"], [0.2], [0])
    with pytest.raises(ValueError, match="noise"):
        run_noisy(config, ["ce"], [1.2], [0])
    with pytest.raises(ValueError, match="noise_kind"):
        NoisyConfig(noise_kind="open-set")


def test_summary_and_markdown_table():
    runs = [
        {"method": "ce", "noise": 0.2, "final_test_acc": 0.5, "seed": 0},
        {"method": "ce", "noise": 0.2, "final_test_acc": 0.7, "seed": 1},
        {"method": "sd", "noise": 0.2, "final_test_acc": 0.8, "seed": 0},
    ]
    rows = summarise(runs)
    assert rows[0] == {
        "method": "ce", "noise": 0.2, "mean": pytest.approx(0.6), "std": pytest.approx(2**0.5 / 10),
        "n": 2,
    }  # fmt: skip
    table = markdown_table(runs)
    assert "| ce | 60.00 ± 14.14 |" in table and "| **80.00** |" in table


def test_noisy_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "noisy"
    argv = ["noisy", "--data", "digits", "--n-train", "200", "--width", "32", "--epochs", "2"]
    argv += ["--noise", "0.4", "--method", "ce,bootstrap-soft,bootstrap-hard,sd"]
    argv += ["--seeds", "0,1", "--out", str(out), "--no-progress"]
    assert cli_main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results) == ["command", "config", "runs"]
    assert (out / "report.html").is_file()
    assert len(results["runs"]) == 8
    for run in results["runs"]:
        assert list(run) == list(RUN_KEYS)
    assert results["config"]["methods"] == ["ce", "bootstrap-soft", "bootstrap-hard", "sd"]
    with open(out / "runs.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 8
    assert (out / "curves.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "| bootstrap-hard |" in printed

    # Numbers, recomputed independently: the printed cells are mean ± sample std (percent) of
    # the runs' final accuracies; each run's final and best accuracies are its curve's last and
    # maximum; the ce run of seed 1 is retrained by hand (labels corrupted with corrupt_splits,
    # a plain fit with cross-entropy) and gives the same test accuracy and label recovery.
    runs = results["runs"]
    for method in results["config"]["methods"]:
        finals = [r["final_test_acc"] for r in runs if r["method"] == method]
        cell = f"{100 * np.mean(finals):.2f} ± {100 * np.std(finals, ddof=1):.2f}"
        assert f"| {method} | {cell} |" in printed or f"| {method} | **{cell}** |" in printed
    # the row of the method chosen on the NOISY validation split, recomputed from results.json
    picks = [max((r for r in runs if r["seed"] == s), key=lambda r: r["noisy_val_acc"])
             for s in (0, 1)]  # fmt: skip
    finals = [p["final_test_acc"] for p in picks]
    cell = f"{100 * np.mean(finals):.2f} ± {100 * np.std(finals, ddof=1):.2f}"
    assert f"| selected on noisy val | {cell} |" in printed.replace("**", "")
    for r in runs:
        assert len(r["test_acc_curve"]) == 2
        assert r["final_test_acc"] == r["test_acc_curve"][-1]
        assert r["best_test_acc"] == max(r["test_acc_curve"])
    from selfdistill.nn.data_splits import load_dataset
    from selfdistill.nn.models import build_model
    from selfdistill.nn.training.loop import fit, predict_logits

    fields = {k: v for k, v in results["config"].items() if k not in ("methods", "noises", "seeds")}
    from selfdistill.nn.noisy.config import FLAT_KEYS

    settable = {k: v for k, v in fields.items() if FLAT_KEYS.get(k, (None,))[0] is not None}
    config = NoisyConfig(**settable, **fields["extra"])
    data = load_dataset("digits", seed=1, n_train=200)
    y_noisy, mask, _ = corrupt_splits(data, 0.4, config.noise_kind, 1)
    assert 0.2 < float(mask.double().mean()) < 0.5  # symmetric noise 0.4 over 10 classes: ~0.36
    model = build_model(
        config.network.name,
        data.input_shape,
        data.num_classes,
        width=32,
        depth=config.network.depth,
        seed=1,
    )
    fit(model, data.x_train, y_noisy, config.train_config(1))
    test_pred = predict_logits(model, data.x_test).argmax(1)
    train_pred = predict_logits(model, data.x_train).argmax(1)
    ce = next(r for r in runs if r["method"] == "ce" and r["seed"] == 1)
    assert ce["final_test_acc"] == pytest.approx(float((test_pred == data.y_test).double().mean()))
    recovered = (train_pred[mask] == data.y_train[mask]).double().mean()
    assert ce["label_recovery"] == pytest.approx(float(recovered))


def test_noisy_command_bad_input(tmp_path, capsys):
    assert cli_main(["noisy", "--method", "ce,mixup", "--out", str(tmp_path)]) == 2
    assert "--method must be one of" in capsys.readouterr().err
    assert cli_main(["noisy", "--noise", "1.5", "--out", str(tmp_path)]) == 2
    assert "--noise must be in [0, 1]" in capsys.readouterr().err


def test_noisy_help_without_torch():
    result = run_without_torch(
        "import sys\nfrom selfdistill.cli import main\n"
        "try:\n    main(['noisy', '--help'])\nexcept SystemExit as e:\n    sys.exit(e.code)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "--noise-kind" in result.stdout


def test_dong_table1_quick_end_to_end(tmp_path):
    out = tmp_path / "t1"
    argv = ["reproduce", "dong-table1", "--quick", "--out", str(out), "--no-progress"]
    argv += ["--data", "digits", "--n-train", "200", "--width", "32", "--epochs", "2"]
    argv += ["--methods", "ce,early-stop,sd", "--noises", "0,0.4"]
    assert cli_main(argv) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert len(results["runs"]) == 6
    table = (out / "table1.md").read_text()
    assert "noise 0.4" in table and "| early-stop |" in table
    assert (out / "fig4_curves.png").stat().st_size > 10_000
    assert not (out / "partial_runs.json").exists()
    assert_replots("dong-table1", out, tmp_path / "replot", ["fig4_curves.png"])
    by_noise = {s["noise"] for s in results["summary_label_recovery"] if s["n"] > 0}
    assert by_noise == {0.4}  # nothing is corrupted at noise 0

    # Numbers, recomputed from the saved runs: early-stop is the ce training (same curve) read at
    # the first epoch of best NOISY validation accuracy; the table's cells (one seed) are each
    # run's final accuracy in percent; the summary's means are those values.
    runs = results["runs"]
    for noise in (0.0, 0.4):
        ce = next(r for r in runs if r["method"] == "ce" and r["noise"] == noise)
        early = next(r for r in runs if r["method"] == "early-stop" and r["noise"] == noise)
        assert early["test_acc_curve"] == ce["test_acc_curve"]
        assert early["selected_epoch"] == int(np.argmax(early["noisy_val_curve"]))
        assert early["final_test_acc"] == early["test_acc_curve"][early["selected_epoch"]]
        assert ce["final_test_acc"] == ce["test_acc_curve"][-1]
        assert ce["selected_epoch"] == 1
    for r in runs:
        assert r["best_test_acc"] == max(r["test_acc_curve"])
        assert f"{100 * r['final_test_acc']:.2f}" in table
        summary = next(
            s
            for s in results["summary_final_test_acc"]
            if s["method"] == r["method"] and s["noise"] == r["noise"]
        )
        assert summary["n"] == 1
        assert summary["mean"] == pytest.approx(r["final_test_acc"], rel=1e-12)
    # the method selected on the noisy validation split, per noise rate, recomputed by hand
    for noise in (0.0, 0.4):
        cell = [r for r in runs if r["noise"] == noise]
        best = max(cell, key=lambda r: r["noisy_val_curve"][r["selected_epoch"]])
        pick = next(p for p in results["noisy_val_selection"] if p["noise"] == noise)
        assert (pick["chosen"], pick["final_test_acc"]) == (best["method"], best["final_test_acc"])
    assert "| selected on noisy val |" in table and "| chosen |" in table


def test_clusterable_data_definition1():
    data = clusterable_data(clusters=5, per_cluster=20, dim=8, epsilon=0.3, rho=0.25, seed=1)
    x, cluster = data["x"], data["cluster"]
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-12)
    for c in range(5):
        members = cluster == c
        assert len(set(data["y_clean"][members])) == 1  # one clean label per cluster
        assert data["corrupted"][members].sum() == 5  # floor(0.25 * 20)
        centre = x[members].mean(axis=0)
        centre /= np.linalg.norm(centre)
        # every point within 2ε of the members' mean direction (within ε of the true centre)
        assert np.max(np.linalg.norm(x[members] - centre, axis=1)) <= 0.6
    np.testing.assert_array_equal(data["y_noisy"] != data["y_clean"], data["corrupted"])


def test_theorem1_self_distillation_recovers_clean_labels():
    # Theorem 1's setting, small: SD with the ramp label function ends near the clean labels,
    # plain gradient descent moves to the noisy ones.
    data = clusterable_data(4, 30, 10, 0.6, 0.2, seed=0)
    common = dict(width=256, steps=3000, rho=0.2, decay=1500, seed=0, log_every=500)
    sd = train_two_layer(data["x"], data["y_noisy"], data["y_clean"], hold=300, **common)
    plain = train_two_layer(data["x"], data["y_noisy"], data["y_clean"], hold=None, **common)
    assert sd["dist_clean"][-1] < 0.15 and sd["dist_noisy"][-1] > 0.8
    assert sd["clean_sign_acc"][-1] == 1.0
    assert sd["alpha"][-1] == 0.0 and sd["alpha"][0] == 1.0
    assert plain["dist_noisy"][-1] < plain["dist_clean"][-1]
    assert plain["dist_clean"][-1] > 2 * sd["dist_clean"][-1]


def test_dong_theorem1_quick_end_to_end(tmp_path):
    out = tmp_path / "th1"
    argv = ["reproduce", "dong-theorem1", "--quick", "--out", str(out), "--no-progress"]
    argv += ["--steps", "100", "--width", "32", "--per-cluster", "8", "--clusters", "4"]
    run_experiment("dong-theorem1", build_parser().parse_args(argv), plot=False)  # numbers only
    results = json.loads((out / "results.json").read_text())["results"]
    assert results["steps"] == 100 and len(results["y_clean"]) == 32
    pngs = ("theorem1_distances.png", "theorem1_outputs.png")
    assert_replots("dong-theorem1", out, tmp_path / "replot", pngs)


# The flat keys of results.json's config, written out (they are a contract).
CONFIG_KEYS = [
    "data", "n_train", "num_samples", "data_dir", "noise_kind", "model", "width", "depth",
    "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "device",
    "lam", "label_function", "temperature", "sd_loss", "beta_soft", "beta_hard", "gce_q",
    "elr_beta", "elr_lam", "margin_lam", "margin_smoothing", "ema_beta", "switch_patience",
    "cl_folds", "extra",
]  # fmt: skip


def test_noisy_config_parts_and_flat_keywords_agree():
    from dataclasses import replace

    from selfdistill.nn.data_splits import DataSpec
    from selfdistill.nn.models import ModelSpec
    from selfdistill.nn.noisy.config import MethodParams, config_dict, flat_value
    from selfdistill.nn.training.loop import TrainConfig

    flat = NoisyConfig(**TINY, lam=None, gce_q=0.5, noise_kind="pair", n_val=30, n_test=40)
    parts = NoisyConfig(
        dataset=DataSpec("digits", n_train=300, n_val=30, n_test=40),
        network=ModelSpec(width=64),
        budget=TrainConfig(epochs=3, lr=0.05, progress=False),
        hyper=MethodParams(lam=None, gce_q=0.5),
        noise_kind="pair",
    )
    assert flat == parts
    # one name per setting on the built config: its part's field (issue 21)
    parts_fields = (
        flat.dataset.name, flat.network.name, flat.budget.epochs, flat.budget.lr, flat.dataset.n_val
    )  # fmt: skip
    assert parts_fields == ("digits", "mlp", 3, 0.05, 30)
    assert [flat_value(flat, k) for k in ("data", "model", "epochs", "lr", "n_val")] == list(
        parts_fields
    )
    with pytest.raises(AttributeError):
        flat.lr  # noqa: B018
    assert flat.lam_for(0.4) == 1.0 and flat.lam_for(0.6) == 1.5
    assert flat.train_config(7, True) == replace(parts.budget, seed=7, progress=True)
    # a flat keyword overrides the field of a given part
    assert NoisyConfig(budget=parts.budget, epochs=9).budget.epochs == 9
    cfg = config_dict(flat)
    assert list(cfg) == CONFIG_KEYS
    assert cfg["extra"] == {"n_test": 40, "n_val": 30} and cfg["noise_kind"] == "pair"
    assert config_dict(NoisyConfig())["extra"] == {}
    defaults = config_dict(NoisyConfig())
    assert (defaults["epochs"], defaults["lam"], defaults["data"]) == (40, None, "mnist1d")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*extra"):
        NoisyConfig(extra={"n_test": 5})
    with pytest.raises(AttributeError, match="colour"):
        _ = flat.colour
    with pytest.raises(ValueError, match="data"):
        NoisyConfig(data="mnist")
    with pytest.raises(ValueError, match="model"):
        NoisyConfig(model="vit")


def test_noisy_config_subsets_reach_the_data():
    from selfdistill.nn.data_splits import DataSpec

    data = DataSpec("digits", n_train=200, n_val=30, n_test=40).load(seed=2)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (200, 30, 40)
    same = load_dataset("digits", seed=2, n_train=200, n_val=30, n_test=40)
    assert torch.equal(data.x_val, same.x_val) and torch.equal(data.y_test, same.y_test)
