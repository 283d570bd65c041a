"""The quick variant of ``selfdistill reproduce sd-vs-ridge-large``, checked against refits."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from selfdistill import SelfDistilledKernelRidge, SelfDistilledKernelRidgeCV
from selfdistill._util.io import read_json
from selfdistill.experiments import EXPERIMENTS, add_experiment_arguments, run_experiment
from selfdistill.experiments.kernel import sd_vs_ridge_large as large
from tests.helpers import assert_replots


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("sd_vs_ridge_large")
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, "sd-vs-ridge-large")
    argv = ["--out", str(out), "--quick", "--no-progress", "--datasets", "synthetic"]
    run_experiment("sd-vs-ridge-large", parser.parse_args([*argv, "--n-train", "600"]))
    return read_json(out / "results.json")["results"], out


def test_quick_run_numbers_are_the_estimators_numbers(quick):
    res, _ = quick
    assert not EXPERIMENTS["sd-vs-ridge-large"].needs_torch
    summary = res["datasets"]["synthetic"]
    run = summary["runs"][0]
    s = res["settings"]
    X, y, Xt, ft = large._synthetic(600, 0)
    ny = {"n_components": s["n_components"], "dtype": s["dtype"], "random_state": 0}
    ridge = SelfDistilledKernelRidge(**run["params"]["ridge"], **ny).fit(X, y)
    assert run["ridge"] == pytest.approx(float(np.mean((ridge.predict(Xt) - ft) ** 2)), rel=1e-9)
    assert run["params"]["ridge"]["steps"] == 1
    grids = {
        "gammas": [g / 50 for g in large.GAMMAS["synthetic"]],
        "lams": list(large.LAMS[::3]),
        "alphas": list(large.ALPHAS[::2]),
        "max_steps": s["max_steps"],
    }
    search = SelfDistilledKernelRidgeCV(**grids, cv=5, **ny).fit(X, y)
    assert search.best_params_ == run["params"]["sd_cv"]
    assert run["sd_cv"] == pytest.approx(float(np.mean((search.predict(Xt) - ft) ** 2)), rel=1e-9)
    exact = run["exact_comparison"]
    assert exact["n_train"] == s["exact_n"] and exact["exact"] > 0 and exact["nystrom"] > 0


def test_quick_run_replots(quick, tmp_path):
    _, out = quick
    assert_replots("sd-vs-ridge-large", out, tmp_path / "fresh", ["sd_vs_ridge_large.png"])


def test_bad_options_name_the_flag():
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, "sd-vs-ridge-large")
    for argv, match in (
        (["--n-components", "0"], "--n-components"),
        (["--datasets", "cifar"], "--datasets"),
        (["--dtype", "float16"], "--dtype"),
    ):
        args = parser.parse_args(["--out", "x", *argv])
        with pytest.raises(ValueError, match=match):
            large._settings(args)
