"""find_label_issues: every sample judged out of fold, checked against trainings redone by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from selfdistill.nn import find_label_issues, load_model
from selfdistill.nn.clean import crossfit as crossfit_module
from selfdistill.nn.clean.crossfit import fold_indices, scaled, train_network
from selfdistill.nn.noisy.config import NoisyConfig
from selfdistill.nn.training.seeds import derive_seed


def _blobs(n: int = 240, k: int = 3, noise: float = 0.1, seed: int = 0):
    """Well-separated Gaussian blobs with ``noise`` of the labels flipped at known rows."""
    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % k
    centres = rng.normal(0, 4, size=(k, 5))
    x = centres[y_true] + rng.normal(0, 0.7, size=(n, 5))
    wrong = rng.random(n) < noise
    y = np.where(wrong, (y_true + rng.integers(1, k, n)) % k, y_true)
    names = np.array(["ant", "bee", "cow"])[:k]
    return x, names[y], names[y_true], wrong


OPTIONS = {"epochs": 3, "width": 16, "batch_size": 32, "device": "cpu"}


def test_each_fold_is_a_model_that_never_saw_it() -> None:
    x, y, _, _ = _blobs(n=90)
    issues = find_label_issues(x, y, methods=["ce", "gce"], folds=3, seed=4, final_model=False,
                               **OPTIONS)  # fmt: skip
    codes = np.searchsorted(np.array(issues.classes), y)
    assert issues.given.tolist() == codes.tolist() and len(issues) == 90
    config = NoisyConfig(**OPTIONS)
    folds = fold_indices(codes, 3, 4)
    assert sorted(np.concatenate(folds).tolist()) == list(range(90))
    for part, held in enumerate(folds):
        keep = np.setdiff1d(np.arange(90), held)
        ps = []
        for method in ("ce", "gce"):  # redone by hand, on the other folds only
            model, (mean, std), _ = train_network(
                method, x[keep], codes[keep], config, derive_seed(4, part), 3
            )
            inputs = torch.from_numpy(((scaled(x[held]) - mean) / std).astype(np.float32))
            ps.append(torch.softmax(model(inputs).double(), dim=1).detach().numpy())
        np.testing.assert_allclose(issues.proba[held], np.mean(ps, axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(issues.proba.sum(axis=1), 1.0, atol=1e-9)
    assert issues.trainings == 6 and issues.model is None
    assert set(issues.methods) == {"ce", "gce"}


def test_finds_injected_noise_and_keeps_a_model(tmp_path: Path) -> None:
    x, y, y_true, wrong = _blobs(n=300, noise=0.1, seed=1)
    issues = find_label_issues(
        x, y, methods=["ce", "gce"], folds=3, seed=0, epochs=15, width=32, batch_size=32,
    )  # fmt: skip
    tp = (issues.flagged & wrong).sum()
    precision, recall = tp / max(issues.n_flagged, 1), tp / wrong.sum()
    # the median thresholds err towards precision when the model is very confident
    assert precision >= 0.9 and recall >= 0.5, (precision, recall)
    frame = issues.to_frame()
    assert len(frame) == 300 and frame["score"].is_monotonic_decreasing
    assert sorted(frame["given_label"]) == sorted(y.tolist())
    assert issues.method in ("ce", "gce")
    assert issues.methods[issues.method] == max(issues.methods.values())
    issues.save_model(tmp_path / "model")
    saved = load_model(tmp_path / "model")
    assert saved.class_names == ["ant", "bee", "cow"]
    accuracy = (np.array(saved.class_names)[saved.predict(x)] == y_true).mean()
    assert accuracy >= 0.9
    np.testing.assert_allclose(saved.predict_proba(x), issues.model.predict_proba(x), atol=1e-6)


def test_trusted_samples_are_never_flagged() -> None:
    x, y, _, wrong = _blobs(n=120, noise=0.2, seed=2)
    trusted = wrong.copy()
    issues = find_label_issues(x, y, methods=["ce"], folds=2, trusted=trusted,
                               final_model=False, **OPTIONS)  # fmt: skip
    assert not issues.flagged[trusted].any() and issues.trusted.tolist() == trusted.tolist()


def test_store_resumes_without_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    x, y, _, _ = _blobs(n=60)
    first = find_label_issues(x, y, methods=["ce"], folds=2, store=tmp_path, final_model=False,
                              **OPTIONS)  # fmt: skip

    def refuse(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    monkeypatch.setattr(crossfit_module, "train_network", refuse)
    again = find_label_issues(x, y, methods=["ce"], folds=2, store=tmp_path, final_model=False,
                              **OPTIONS)  # fmt: skip
    np.testing.assert_array_equal(first.proba, again.proba)
    y2 = y.copy()
    y2[0] = "cow" if y[0] != "cow" else "ant"
    with pytest.raises(Exception, match="trained again"):  # other labels: no reuse
        find_label_issues(x, y2, methods=["ce"], folds=2, store=tmp_path, final_model=False,
                          **OPTIONS)  # fmt: skip


def test_bad_arguments() -> None:
    x, y, _, _ = _blobs(n=30)
    y_one = np.array(["ant"] + ["bee", "cow"] * 5)
    with pytest.raises(ValueError, match=r"class 'ant' has 1 sample,.*at least 2"):
        find_label_issues(x[:11], y_one, methods=["ce"])
    with pytest.raises(ValueError, match=r"class 'ant' has 2 samples.*folds 2 or fewer"):
        find_label_issues(x[:12], np.r_[["ant"], y_one], methods=["ce"], folds=3)
    with pytest.raises(ValueError, match="methods"):
        find_label_issues(x, y, methods=["confident-learning"])
    with pytest.raises(ValueError, match="folds must be an integer >= 2"):
        find_label_issues(x, y, folds=1)
