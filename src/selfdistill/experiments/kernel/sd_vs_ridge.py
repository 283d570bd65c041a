"""Does self-distillation help a kernel ridge model whose ridge is tuned too? (``sd-vs-ridge``)

For each data set and each of ``--seeds`` seeded train/test splits, on the held-out test split:

(a) ``ridge``: kernel ridge with ``(gamma, lam)`` chosen by 5-fold CV -- the best ``steps = 1``
    candidate of the search below (step 1 is plain kernel ridge, so this is exactly
    ``GridSearchCV(KernelRidge)`` on the same splits and grids);
(b) ``sd_cv``: self-distillation with ``(gamma, lam, alpha, steps)`` chosen by the same 5-fold
    CV (:class:`~selfdistill.SelfDistilledKernelRidgeCV` /
    :class:`~selfdistill.SelfDistilledKernelClassifierCV`);
(c) ``sd_gcv``: the same grids chosen by generalised cross-validation (``cv="gcv"``).

Data (offline only): scikit-learn's ``diabetes`` (regression, 442 samples, 25 % test) and
``digits`` (10 classes, 1,797 samples, 25 % test), MNIST-1D generated locally by the ``mnist1d``
package (4,000 training and 1,000 test samples; skipped with a note when the package is missing)
and the Borup & Andersen toy function ``sin(2 pi x)``, ``x ~ U[0, 1]``, with Gaussian noise of
standard deviation 0.5 on 50 training points, scored against the noiseless function on 1,000
test points. Features are standardised with training statistics; diabetes targets are centred and
scaled with training statistics (MSE in units of the training variance). Regression uses the
mean squared error (lower is better), classification the accuracy (higher is better).

Reported per data set: mean and sample std of the test metric per method, the paired differences
``sd_cv - ridge`` and ``sd_gcv - ridge`` with their 95 % t-intervals, how often each SD variant
selects a genuinely distilled model (``steps >= 2`` and ``alpha < 1``), the histogram of the
selected ``steps``, and how often GCV selects the same candidate (and the same ``steps``) as
5-fold CV. One figure per data set: ``sd_vs_ridge_<name>.png``.

Module contract: ``add_arguments(parser)``, ``compute(args) -> dict`` (JSON-able, no matplotlib)
and ``plot(results, out)`` (figures from the results alone).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ..._util.stats import sample_std
from ..._util.validation import check_int
from ...kernel.classifier import SelfDistilledKernelClassifier
from ...kernel.cv import SelfDistilledKernelClassifierCV, SelfDistilledKernelRidgeCV
from ...kernel.ridge import SelfDistilledKernelRidge

__all__ = ["DATASETS", "add_arguments", "compute", "load_split", "paired_interval", "plot"]

DATASETS = ("diabetes", "digits", "mnist1d", "toy")
METHODS = ("ridge", "sd_cv", "sd_gcv")
TOY_NOISE = 0.5
TOY_TRAIN = 50
TOY_TEST = 1000
MNIST1D_TRAIN = 4000
MNIST1D_TEST = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds", type=int, default=20, help="train/test splits per data set (default: 20)"
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma list from {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--mnist1d-train",
        type=int,
        default=MNIST1D_TRAIN,
        help="MNIST-1D training samples (default: %(default)s)",
    )
    parser.add_argument(
        "--max-steps", type=int, default=10, help="largest number of steps (default: 10)"
    )


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def _standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(a - mean) / std for a in (train, *others)]


def _mnist1d_pool(n_total: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-1D (recipe seed 42) from :func:`selfdistill.datasets.builtin.make_mnist1d_arrays`, the
    package's train pool and test set pooled (this experiment draws its own splits)."""
    from ...datasets.builtin import make_mnist1d_arrays

    raw = make_mnist1d_arrays(n_total, generation_seed=42)
    return np.concatenate([raw["x"], raw["x_test"]]), np.concatenate([raw["y"], raw["y_test"]])


def load_split(
    name: str, seed: int, *, quick: bool, mnist1d_train: int = MNIST1D_TRAIN, cache: dict
) -> dict[str, Any]:
    """One seeded train/test split of data set ``name`` (standardised as the module says)."""
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    if name == "toy":
        n_train = 20 if quick else TOY_TRAIN
        x = rng.uniform(size=n_train)
        xt = np.linspace(0.0, 1.0, 200 if quick else TOY_TEST)
        y = np.sin(2 * np.pi * x) + TOY_NOISE * rng.normal(size=n_train)
        return {
            "X": x[:, None],
            "y": y,
            "Xt": xt[:, None],
            "yt": np.sin(2 * np.pi * xt),
            "task": "regression",
        }
    if name not in cache:
        if name == "diabetes":
            cache[name] = load_diabetes(return_X_y=True)
        elif name == "digits":
            cache[name] = load_digits(return_X_y=True)
        else:
            n_train = 200 if quick else mnist1d_train
            n_total = round(n_train * 1.25 / 10) * 10
            cache[name] = _mnist1d_pool(n_total)
    X, y = cache[name]
    if quick:  # 200 points
        keep = np.random.default_rng(0).permutation(X.shape[0])[: min(X.shape[0], 200)]
        X, y = X[keep], y[keep]
    classify = name != "diabetes"
    n_test = round((0.2 if name == "mnist1d" else 0.25) * X.shape[0])
    X, Xt, y, yt = train_test_split(
        X, y, test_size=n_test, random_state=seed, stratify=y if classify else None
    )
    X, Xt = _standardise(X, Xt)
    if not classify:
        mu, sd = y.mean(), y.std()
        y, yt = (y - mu) / sd, (yt - mu) / sd
    return {
        "X": X,
        "y": y,
        "Xt": Xt,
        "yt": yt,
        "task": "classification" if classify else "regression",
    }


#: gamma grids, as multiples of 1 / n_features (the toy: absolute, its input is x in [0, 1]).
#: Five values per data set, placed so that the selections of a first 20-split run with a
#: narrower 4-value grid (which often sat on its edge) lie inside.
GAMMA_GRIDS: dict[str, tuple[float, ...]] = {
    "diabetes": (0.01, 0.03, 0.1, 0.3, 1.0),
    "digits": (0.01, 0.03, 0.1, 0.3, 1.0),
    "mnist1d": (0.3, 1.0, 3.0, 10.0, 30.0),
    "toy": (1.0, 3.0, 10.0, 30.0, 100.0),
}
#: ridge grid of every data set: 17 values 1e-6 .. 1e2 (cheap: no eigendecomposition per lam).
LAM_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-6, 2, 17))


def _grids(name: str, n_features: int, quick: bool, max_steps: int) -> dict[str, Any]:
    grid = GAMMA_GRIDS[name][1::2] if quick else GAMMA_GRIDS[name]
    scale = 1.0 if name == "toy" else 1.0 / n_features
    lams = LAM_GRID[4::4] if quick else LAM_GRID
    alphas = [0.0, 0.5, 1.0] if quick else [round(0.1 * i, 1) for i in range(11)]
    return {
        "gammas": [g * scale for g in grid],
        "lams": list(lams),
        "alphas": alphas,
        "max_steps": min(max_steps, 4) if quick else max_steps,
    }


# ---------------------------------------------------------------------------------------------
# One split
# ---------------------------------------------------------------------------------------------
def _metric(task: str, pred: np.ndarray, truth: np.ndarray) -> float:
    if task == "regression":
        return float(np.mean((pred - truth) ** 2))
    return float(np.mean(pred == truth))


def _best_plain(search) -> dict[str, Any]:
    """Best steps = 1 candidate (plain kernel ridge) of a CV search, first among ties."""
    res = search.cv_results_
    plain = np.flatnonzero(np.asarray(res["param_steps"] == 1))
    i = plain[int(np.argmax(res["mean_test_score"][plain]))]
    return dict(res["params"][i])


def _one_split(data: dict[str, Any], grids: dict[str, Any], seed: int) -> dict[str, Any]:
    task = data["task"]
    regression = task == "regression"
    kind = SelfDistilledKernelRidgeCV if regression else SelfDistilledKernelClassifierCV
    X, y, Xt, yt = data["X"], data["y"], data["Xt"], data["yt"]
    cv = kind(**grids, cv=5, random_state=seed).fit(X, y)
    gcv = kind(**grids, cv="gcv").fit(X, y)
    ridge_params = _best_plain(cv)
    single = SelfDistilledKernelRidge if regression else SelfDistilledKernelClassifier
    ridge = single(**ridge_params).fit(X, y)
    out = {
        "ridge": _metric(task, ridge.predict(Xt), yt),
        "sd_cv": _metric(task, cv.predict(Xt), yt),
        "sd_gcv": _metric(task, gcv.predict(Xt), yt),
        "params": {
            "ridge": ridge_params,
            "sd_cv": cv.best_params_,
            "sd_gcv": gcv.best_params_,
        },
        "cv_score": {"ridge_best": float(_plain_score(cv)), "sd_best": cv.best_score_},
    }
    return out


def _plain_score(search) -> float:
    res = search.cv_results_
    return float(res["mean_test_score"][np.asarray(res["param_steps"] == 1)].max())


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def paired_interval(diff: np.ndarray) -> dict[str, float]:
    """Mean of paired differences with its two-sided 95 % Student-t interval (NaN for one run)."""
    diff = np.asarray(diff, dtype=float)
    n = diff.size
    mean = float(diff.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan}
    half = float(stats.t.ppf(0.975, n - 1)) * float(sample_std(diff)) / math.sqrt(n)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def _distilled(params: dict[str, Any]) -> bool:
    return params["steps"] >= 2 and params["alpha"] < 1.0


def summarise(runs: list[dict[str, Any]], task: str, max_steps: int) -> dict[str, Any]:
    values = {m: np.array([r[m] for r in runs]) for m in METHODS}
    out: dict[str, Any] = {
        "task": task,
        "metric": "test MSE" if task == "regression" else "test accuracy",
        "seeds": len(runs),
        "mean": {m: float(values[m].mean()) for m in METHODS},
        "std": {m: float(sample_std(values[m])) for m in METHODS},
        "diff_vs_ridge": {
            m: paired_interval(values[m] - values["ridge"]) for m in ("sd_cv", "sd_gcv")
        },
        "values": {m: values[m].tolist() for m in METHODS},
    }
    for m in ("sd_cv", "sd_gcv"):
        chosen = [r["params"][m] for r in runs]
        out[f"{m}_distilled_fraction"] = float(np.mean([_distilled(p) for p in chosen]))
        out[f"{m}_steps_hist"] = np.bincount([p["steps"] for p in chosen], minlength=max_steps + 1)[
            1:
        ].tolist()
        out[f"{m}_alphas"] = [p["alpha"] for p in chosen]
    same = [r["params"]["sd_cv"] == r["params"]["sd_gcv"] for r in runs]
    same_steps = [r["params"]["sd_cv"]["steps"] == r["params"]["sd_gcv"]["steps"] for r in runs]
    out["gcv_agrees_with_cv"] = float(np.mean(same))
    out["gcv_same_steps_as_cv"] = float(np.mean(same_steps))
    return out


def compute(args: argparse.Namespace) -> dict[str, Any]:
    """Run every data set and seed; the JSON-able results (no figures)."""
    from ..._util.progress import progress_bar

    quick = bool(getattr(args, "quick", False))
    seeds = 2 if quick else check_int("--seeds", getattr(args, "seeds", 20), low=1)
    max_steps = check_int("--max-steps", getattr(args, "max_steps", 10), low=1)
    mnist1d_train = check_int(
        "--mnist1d-train", getattr(args, "mnist1d_train", MNIST1D_TRAIN), low=100
    )
    names = [s.strip() for s in str(getattr(args, "datasets", ",".join(DATASETS))).split(",")]
    for name in names:
        if name not in DATASETS:
            raise ValueError(
                f"--datasets must name data sets from {', '.join(DATASETS)}, got {name!r}"
            )
    progress = bool(getattr(args, "progress", False))
    results: dict[str, Any] = {"quick": quick, "seeds": seeds, "datasets": {}, "skipped": {}}
    cache: dict[str, Any] = {}
    for name in names:
        if name == "mnist1d":
            try:  # the mnist1d package (NumPy only; in the mnist1d and torch extras)
                import mnist1d  # noqa: F401
            except ImportError:
                results["skipped"][name] = (
                    "needs the mnist1d package: pip install 'selfdistill[mnist1d]'"
                )
                continue
        runs = []
        grids = None
        for seed in progress_bar(range(seeds), desc=name, enabled=progress):
            data = load_split(name, seed, quick=quick, mnist1d_train=mnist1d_train, cache=cache)
            grids = _grids(name, data["X"].shape[1], quick, max_steps)
            runs.append(_one_split(data, grids, seed))
        assert grids is not None
        summary = summarise(runs, data["task"], grids["max_steps"])
        summary["grids"] = grids
        summary["n_train"] = int(data["X"].shape[0])
        summary["n_test"] = int(data["Xt"].shape[0])
        summary["runs"] = runs
        results["datasets"][name] = summary
    return results


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot(results: dict[str, Any], out: Path) -> None:
    """One figure per data set: test metric per method, histogram of the selected steps."""
    from ...reports.plotting import plt, save_figure

    out = Path(out)
    for name, res in results["datasets"].items():
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4))
        data = [res["values"][m] for m in METHODS]
        ax0.boxplot(data, showmeans=True)
        ax0.set_xticks(range(1, len(METHODS) + 1), ["ridge (5-fold)", "SD (5-fold)", "SD (GCV)"])
        for i, vals in enumerate(data, start=1):
            jitter = np.linspace(-0.08, 0.08, len(vals)) if len(vals) > 1 else [0.0]
            ax0.plot(i + np.asarray(jitter), vals, "o", ms=3, alpha=0.5, color="k")
        ax0.set_ylabel(res["metric"])
        ax0.set_title(f"{name}: {res['seeds']} splits, n_train = {res['n_train']}")
        steps = np.arange(1, len(res["sd_cv_steps_hist"]) + 1)
        ax1.bar(steps - 0.2, res["sd_cv_steps_hist"], width=0.4, label="5-fold CV")
        ax1.bar(steps + 0.2, res["sd_gcv_steps_hist"], width=0.4, label="GCV")
        ax1.set_xlabel("selected steps")
        ax1.set_ylabel("splits")
        ax1.set_xticks(steps)
        ax1.legend()
        ax1.set_title("selected number of steps")
        save_figure(fig, out / f"sd_vs_ridge_{name}.png")
