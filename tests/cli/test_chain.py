"""The `chain` subcommand, the chain reproductions' quick variants and teacher snapshots."""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import replace

import pytest

from tests.helpers import assert_replots, run_without_torch

torch = pytest.importorskip("torch")

from selfdistill.cli import main  # noqa: E402
from selfdistill.commands.chain import parse_alpha  # noqa: E402
from selfdistill.experiments import add_experiment_arguments, run_experiment  # noqa: E402
from selfdistill.reports.chain import format_summary, summarise_chain  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_chain_command_writes_the_documented_results(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["chain", "--data", "digits", "--n-train", "120", "--generations", "3", "--epochs", "1"]
    argv += ["--seeds", "0,1", "--width", "8", "--alpha", "0.2,0.4", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"config", "runs"}
    assert results["config"]["data"] == "digits" and results["config"]["seeds"] == [0, 1]
    assert [r["seed"] for r in results["runs"]] == [0, 1]
    for run in results["runs"]:
        gens = run["generations"]
        assert [g["generation"] for g in gens] == [1, 2, 3]
        assert [g["alpha"] for g in gens] == [None, 0.2, 0.4]
        assert [g["fits"] for g in gens] == [1, 2, 3]
        for g in gens:
            for key in ("train_acc", "val_acc", "test_acc"):
                assert 0.0 <= g[key] <= 1.0
    with open(out / "generations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {"seed", "generation", "alpha", "fits", "test_acc"} <= set(rows[0])
    assert (out / "accuracy.png").read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert "gen" in printed and "wrote" in printed
    # Rerunning the finished command loads every generation and reproduces the results.
    assert main([*argv, "--no-progress"]) == 0
    again = json.loads((out / "results.json").read_text())
    strip = [
        [{k: v for k, v in g.items() if k != "seconds"} for g in r["generations"]]
        for r in results["runs"]
    ]
    assert strip == [
        [{k: v for k, v in g.items() if k != "seconds"} for g in r["generations"]]
        for r in again["runs"]
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "best"], "--alpha"),
        (["--alpha", "0.1,0.2,0.3"], "--alpha"),
        (["--seeds", "a"], "--seeds"),
        (["--epochs", "0"], "--epochs"),
        (["--temperature", "2"], "temperature"),
        (["--lr", "-1"], "--lr"),
    ],
)
def test_chain_command_rejects_bad_input(tmp_path, capsys, extra, message):
    rc = main(["chain", "--generations", "3", "--out", str(tmp_path), "--no-progress", *extra])
    assert rc == 2
    assert message in capsys.readouterr().err


def test_parse_alpha():
    assert parse_alpha("estimate", 5) == "estimate"
    assert parse_alpha(" grid ", 5) == "grid"
    assert parse_alpha("0.3", 5) == 0.3
    assert parse_alpha("0,0.5,1", 4) == (0.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="3 values"):
        parse_alpha("0,0.5", 4)


def test_chain_help_works_without_torch():
    code = (
        "from selfdistill.cli import main\n"
        "try:\n    main(['chain', '--help'])\nexcept SystemExit as e:\n    print('exit', e.code)\n"
    )
    proc = run_without_torch(code)
    assert proc.returncode == 0, proc.stderr
    assert "--alpha" in proc.stdout and "exit 0" in proc.stdout


def test_summary_mean_and_std():
    runs = [
        {
            "seed": 0,
            "generations": [
                {"alpha": None, "fits": 1, "train_acc": 0.5, "val_acc": 0.4, "test_acc": 0.3}
            ],
        },
        {
            "seed": 1,
            "generations": [
                {"alpha": None, "fits": 1, "train_acc": 0.7, "val_acc": 0.6, "test_acc": 0.5}
            ],
        },
    ]
    summary = summarise_chain(runs)
    assert summary["train_acc_mean"] == pytest.approx([0.6])
    # the sample standard deviation over seeds (ddof = 1): |0.5 - 0.3| / sqrt(2)
    assert summary["test_acc_std"] == pytest.approx([0.2 / 2**0.5], rel=1e-12)
    assert summary["alpha_mean"] == [None]
    assert "60.00 ± 14.14" in format_summary(summary)
    assert summarise_chain(runs[:1])["test_acc_std"] == [0.0]  # one seed: no spread


def _experiment_args(name, out, argv):
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, name)
    return parser.parse_args(["--out", str(out), "--quick", "--no-progress", *argv])


# The two chain reproductions share the tiny data, model and training; they differ in the chain.
TINY_CHAIN = ["--data", "digits", "--n-train", "100", "--epochs", "1", "--width", "8"]
TINY = {
    "mobahi-fig3": ([*TINY_CHAIN, "--generations", "3", "--seeds", "0,1"], ["accuracy.png"]),
    "borup-fig5": ([*TINY_CHAIN, "--generations", "2", "--seeds", "0"], ["alpha.png"]),
    "dong-fig1": (
        [
            "--data",
            "digits",
            "--n-train",
            "100",
            "--teacher-epochs",
            "1,2",
            "--student-epochs",
            "1",
            "--teacher-width",
            "16",
            "--student-width",
            "8",
            "--seeds",
            "0",
        ],
        ["teacher_epochs.png"],
    ),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_quick_experiment_end_to_end(tmp_path, name):
    argv, pngs = TINY[name]
    args = _experiment_args(name, tmp_path / name, argv)
    run_experiment(name, args, plot=False)
    saved = json.loads((tmp_path / name / "results.json").read_text())
    assert saved["experiment"] == name and saved["results"]
    assert not any(p.suffix == ".png" for p in (tmp_path / name).iterdir())  # numbers only
    assert_replots(name, tmp_path / name, tmp_path / "replot", pngs)  # PNGs from results.json
    if name == "dong-fig1":  # --replot needs no torch: plot() reads the results only
        fresh = tmp_path / "replot-without-torch"
        fresh.mkdir()
        (fresh / "results.json").write_bytes((tmp_path / name / "results.json").read_bytes())
        proc = run_without_torch(
            "from selfdistill.cli import main\n"
            f"assert main(['reproduce', {name!r}, '--replot', {str(fresh)!r}]) == 0\n"
        )
        assert proc.returncode == 0, proc.stderr
        assert (fresh / pngs[0]).read_bytes()[:8] == PNG
    assert not (tmp_path / name / "state").exists() or not any(
        (tmp_path / name / "state").iterdir()
    )


def test_mobahi_observation_reads_the_curves():
    from selfdistill.experiments.chains.mobahi_fig3 import observe

    obs = observe({"test_acc_mean": [0.5, 0.6, 0.55], "train_acc_mean": [0.9, 0.8, 0.7]})
    assert obs["test_rises_then_falls"] and obs["test_peak_generation"] == 2 and obs["train_falls"]
    obs = observe({"test_acc_mean": [0.6, 0.5, 0.4], "train_acc_mean": [0.9, 0.95, 0.7]})
    assert not obs["test_rises_then_falls"] and not obs["train_monotone_nonincreasing"]


def test_snapshots_equal_separately_trained_teachers():
    """With a constant learning rate, the snapshot after e epochs is the model trained for e."""
    from selfdistill.nn.chains.teacher import distill_student, train_teacher_with_snapshots
    from selfdistill.nn.data_splits import load_dataset
    from selfdistill.nn.models import build_model
    from selfdistill.nn.training.loop import TrainConfig, fit

    data = load_dataset("digits", seed=0, n_train=120, n_val=40, n_test=40)
    config = TrainConfig(epochs=3, batch_size=32, lr=0.1, schedule="constant", progress=False)

    def build():
        return build_model("mlp", data.input_shape, data.num_classes, width=16, seed=3)

    teachers, metrics = train_teacher_with_snapshots(build, data, config, [1, 3])
    assert sorted(teachers) == sorted(metrics) == [1, 3]
    for epochs, teacher in teachers.items():
        ref = build()
        fit(ref, data.x_train, data.y_train, replace(config, epochs=epochs))
        for a, b in zip(teacher.state_dict().values(), ref.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not teacher.training
        pred = ref(data.x_test).argmax(1)
        assert metrics[epochs]["test_acc"] == pytest.approx(
            float((pred == data.y_test).double().mean())
        )
    with pytest.raises(ValueError, match="snapshot_epochs"):
        train_teacher_with_snapshots(build, data, config, [4])
    _, metrics = distill_student(teachers[3], build, data, config, temperature=2.0)
    assert set(metrics) == {"train_acc", "val_acc", "test_acc"}
