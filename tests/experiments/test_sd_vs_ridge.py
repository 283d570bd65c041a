"""The quick variant of ``selfdistill reproduce sd-vs-ridge``, checked against independent fits."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold

from selfdistill._util.io import read_json
from selfdistill.experiments import EXPERIMENTS, add_experiment_arguments, run_experiment
from selfdistill.experiments.kernel import sd_vs_ridge
from tests.helpers import assert_replots


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[dict, object]:
    out = tmp_path_factory.mktemp("sd_vs_ridge")
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, "sd-vs-ridge")
    args = parser.parse_args(["--out", str(out), "--quick", "--no-progress"])
    run_experiment("sd-vs-ridge", args)
    saved = read_json(out / "results.json")
    assert saved["experiment"] == "sd-vs-ridge"
    return saved["results"], out


def test_quick_run_writes_every_figure_and_consistent_summaries(quick) -> None:
    res, out = quick
    assert not EXPERIMENTS["sd-vs-ridge"].needs_torch
    names = set(res["datasets"]) | set(res["skipped"])
    assert names == set(sd_vs_ridge.DATASETS)
    for name, summary in res["datasets"].items():
        assert (out / f"sd_vs_ridge_{name}.png").stat().st_size > 5_000
        assert summary["seeds"] == 2
        for m in sd_vs_ridge.METHODS:
            vals = np.array(summary["values"][m])
            assert summary["mean"][m] == pytest.approx(vals.mean(), rel=1e-12)
            assert summary["std"][m] == pytest.approx(vals.std(ddof=1), rel=1e-12, abs=1e-15)
        for m in ("sd_cv", "sd_gcv"):
            diff = np.array(summary["values"][m]) - np.array(summary["values"]["ridge"])
            ci = summary["diff_vs_ridge"][m]
            assert ci["mean"] == pytest.approx(diff.mean(), abs=1e-12)
            assert ci["low"] <= ci["mean"] <= ci["high"]
            assert sum(summary[f"{m}_steps_hist"]) == 2
        for run in summary["runs"]:
            # tau = 1 is among the candidates: the selected CV score is never below plain ridge
            assert run["cv_score"]["sd_best"] >= run["cv_score"]["ridge_best"]
            assert run["params"]["ridge"]["steps"] == 1
            if summary["task"] == "classification":
                assert all(0.0 <= run[m] <= 1.0 for m in sd_vs_ridge.METHODS)


@pytest.mark.parametrize("name", ["diabetes", "toy"])
def test_ridge_column_equals_gridsearch_kernel_ridge(quick, name) -> None:
    """Method (a) is GridSearchCV(KernelRidge) over (gamma, lam) on the same folds and data."""
    res, _ = quick
    summary = res["datasets"][name]
    for seed in range(2):
        data = sd_vs_ridge.load_split(name, seed, quick=True, cache={})
        grids = summary["grids"]
        ref = GridSearchCV(
            KernelRidge(kernel="rbf"),
            {"gamma": grids["gammas"], "alpha": grids["lams"]},
            cv=KFold(5, shuffle=True, random_state=seed),
            scoring="neg_mean_squared_error",
        ).fit(data["X"], data["y"])
        mse = np.mean((ref.predict(data["Xt"]) - data["yt"]) ** 2)
        assert summary["values"]["ridge"][seed] == pytest.approx(mse, rel=1e-8)
        assert summary["runs"][seed]["cv_score"]["ridge_best"] == pytest.approx(
            ref.best_score_, rel=1e-8
        )


def test_figures_replot_from_results_alone(quick, tmp_path) -> None:
    res, out = quick
    assert_replots(
        "sd-vs-ridge", out, tmp_path / "fresh", [f"sd_vs_ridge_{n}.png" for n in res["datasets"]]
    )


def test_paired_interval_is_the_student_t_interval() -> None:
    d = np.array([0.1, -0.2, 0.05, 0.3, 0.0])
    ci = sd_vs_ridge.paired_interval(d)
    half = 2.7764451051977987 * d.std(ddof=1) / np.sqrt(5)  # t_{0.975, 4}
    assert ci["low"] == pytest.approx(d.mean() - half, rel=1e-12)
    assert ci["high"] == pytest.approx(d.mean() + half, rel=1e-12)
    assert np.isnan(sd_vs_ridge.paired_interval(np.array([1.0]))["low"])


def test_bad_dataset_name_is_rejected() -> None:
    args = argparse.Namespace(quick=True, datasets="iris", progress=False)
    with pytest.raises(ValueError, match="--datasets must name data sets from"):
        sd_vs_ridge.compute(args)
