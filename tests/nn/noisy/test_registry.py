"""Tests of the noisy-label method registry (loss and data rules, plug-ins defined here), of ELR,
of the default self-distillation ``sd-margin`` and of Confident Learning, each against an
explicit computation; tiny sizes (digits, 2-3 epochs)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from selfdistill.catalog import DEFAULT_NOISY_METHOD, NOISY_METHODS  # noqa: E402
from selfdistill.cli import build_parser  # noqa: E402
from selfdistill.cli import main as cli_main  # noqa: E402
from selfdistill.label_report import flag_scores  # noqa: E402
from selfdistill.nn.noisy import base as noisy_base  # noqa: E402
from selfdistill.nn.noisy import registry  # noqa: E402
from selfdistill.nn.noisy.confident_learning import confident_learning  # noqa: E402
from selfdistill.nn.noisy.config import (  # noqa: E402
    MethodParams,
    NoisyConfig,
)
from selfdistill.nn.noisy.margin import MarginSelfDistillationLoss, NoisyValSwitch  # noqa: E402
from selfdistill.nn.noisy.registry import (  # noqa: E402
    DataChoice,
    MethodContext,
    get_method,
    method_names,
    register_method,
)
from selfdistill.nn.noisy.rivals import (  # noqa: E402
    ELRLoss,
    TemporalEnsemble,
)
from selfdistill.nn.noisy.runner import run_noisy  # noqa: E402
from selfdistill.nn.training.loop import StepContext  # noqa: E402

TINY = {"data": "digits", "n_train": 200, "epochs": 3, "width": 32, "lr": 0.05}
EPS = 1e-4


def _ctx(index, epoch=0):
    return StepContext(epoch=epoch, step=0, index=torch.as_tensor(index), model=None)


def _clamped_softmax(z):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.clip(p, EPS, 1 - EPS)


def test_elr_matches_liu_et_al_formula_over_two_steps():
    gen = torch.Generator().manual_seed(0)
    loss = ELRLoss(n_train=5, num_classes=3, beta=0.7, lam=3.0)
    t = np.zeros((5, 3))  # independent NumPy bookkeeping of the temporal ensemble
    for index in ([0, 2, 4], [2, 3, 4]):
        z = torch.randn(3, 3, generator=gen, dtype=torch.float64)
        y = torch.tensor([0, 1, 2])
        p = _clamped_softmax(z.numpy())
        t[index] = 0.7 * t[index] + 0.3 * p / p.sum(axis=1, keepdims=True)
        ce = -np.log(np.exp(z.numpy())[np.arange(3), y] / np.exp(z.numpy()).sum(axis=1)).mean()
        expected = ce + 3.0 * np.log(1 - (t[index] * p).sum(axis=1)).mean()
        # the ensemble's state is float32: agreement to float32 rounding
        assert float(loss(z, y, _ctx(index))) == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(loss.ensemble.t_.numpy(), t.astype(np.float32), rtol=1e-6)


def test_temporal_ensemble_first_start_and_bad_input():
    ens = TemporalEnsemble(3, 2, beta=0.5, init="first")
    p1 = torch.tensor([[0.2, 0.8], [0.6, 0.4]])
    assert torch.allclose(ens.update(torch.tensor([0, 1]), p1), p1)
    p2 = torch.tensor([[0.6, 0.4]])
    assert torch.allclose(ens.update(torch.tensor([0]), p2), torch.tensor([[0.4, 0.6]]))
    with pytest.raises(ValueError, match="beta"):
        TemporalEnsemble(3, 2, beta=1.0)
    with pytest.raises(ValueError, match=r"ctx\.index"):
        ELRLoss(3, 2)(torch.zeros(2, 2), torch.tensor([0, 1]), None)


def test_noisy_val_switch_patience():
    switch = NoisyValSwitch(patience=1)
    for epoch, acc in enumerate([0.3, 0.5, 0.6, 0.6, 0.7]):
        switch.on_epoch_end(epoch, {"noisyval_acc": acc}, None)
    assert switch.switch_epoch_ == 4  # epoch 3 did not beat 0.6: the target from epoch 4 on
    assert not switch.active(3) and switch.active(4) and switch.active(10)
    with pytest.raises(ValueError, match="noisyval_acc"):
        NoisyValSwitch().on_epoch_end(0, {"val_acc": 0.1}, None)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35])
def test_sd_margin_is_ce_before_the_switch_and_the_margin_target_after(eps):
    gen = torch.Generator().manual_seed(1)
    loss = MarginSelfDistillationLoss(4, 3, lam=2.0, beta=0.7, smoothing=eps, warmup=1)
    assert loss.callbacks == []
    y = torch.tensor([0, 1, 2, 0])
    z0 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    assert float(loss(z0, y, _ctx([0, 1, 2, 3], epoch=0))) == pytest.approx(
        float(F.cross_entropy(z0, y, label_smoothing=eps)), rel=1e-12
    )
    z1 = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    p0, p1 = _clamped_softmax(z0.numpy()), _clamped_softmax(z1.numpy())
    t = 0.7 * (p0 / p0.sum(1, keepdims=True)) + 0.3 * (p1 / p1.sum(1, keepdims=True))
    expected = 0.0
    for i in range(4):  # the target row by row, as the docstring states it
        margin = t[i].max() - t[i, int(y[i])]
        alpha = 1 - min(max(2.0 * margin, 0.0), 1.0)
        target = (1 - alpha) * t[i]
        target[int(y[i])] += alpha
        target = (1 - eps) * target + eps / 3  # label smoothing towards the 3 classes
        log_q = z1[i].numpy() - np.log(np.exp(z1[i].numpy()).sum())
        expected -= (target * log_q).sum() / 4
    assert float(loss(z1, y, _ctx([0, 1, 2, 3], epoch=1))) == pytest.approx(expected, rel=1e-6)


def test_flag_scores_by_hand():
    flagged = torch.tensor([True, True, False, True, False])
    corrupted = torch.tensor([True, False, True, True, False])
    s = flag_scores(flagged, corrupted)
    assert s["flagged_precision"] == pytest.approx(2 / 3)
    assert s["flagged_recall"] == pytest.approx(2 / 3)
    assert s["flagged_f1"] == pytest.approx(2 / 3)
    none = flag_scores(flagged, torch.zeros(5, dtype=torch.bool))
    assert none == {"flagged_precision": None, "flagged_recall": None, "flagged_f1": None}


def test_builtins_are_the_catalog_and_the_default():
    assert method_names()[: len(NOISY_METHODS)] == NOISY_METHODS
    assert DEFAULT_NOISY_METHOD == "sd-margin"
    assert get_method("confident-learning").kind == "data"
    args = build_parser().parse_args(["noisy"])
    assert args.method == "sd-margin" and args.lam <= 0  # λ: Dong's rule, as dong-table1
    with pytest.raises(ValueError, match="method"):
        get_method("mixup")
    with pytest.raises(ValueError, match="already registered"):
        register_method("ce", loss=lambda ctx: None)
    with pytest.raises(ValueError, match="exactly one"):
        register_method("both", loss=lambda ctx: None, data=lambda *a: None)


@pytest.fixture
def plugin_methods():
    """A loss rule (symmetric cross-entropy) and a data rule, registered for one test."""
    seen = []

    def symmetric_ce(ctx: MethodContext):
        def loss(logits, labels, step):
            seen.append(step.index.clone())
            p = torch.softmax(logits, dim=1).clamp_min(1e-7)
            onehot = F.one_hot(labels, ctx.num_classes).float().clamp_min(1e-4)
            rce = -(p * onehot.log()).sum(dim=1).mean()
            return F.cross_entropy(logits, labels) + rce

        return loss

    def drop_disagreements(ctx, x, y, train):
        predict = train(x, y)
        flagged = predict(x).argmax(dim=1) != y
        return DataChoice(index=torch.nonzero(~flagged).squeeze(1), flagged=flagged)

    register_method("test-sce", loss=symmetric_ce)
    register_method("test-drop", data=drop_disagreements)
    yield seen
    for name in ("test-sce", "test-drop"):
        registry._REGISTRY.pop(name)


def test_plugin_methods_run_beside_the_builtins(plugin_methods):
    config = NoisyConfig(**TINY)
    runs = run_noisy(config, ["ce", "test-sce", "test-drop"], [0.4], [0])
    by = {r["method"]: r for r in runs}
    # the loss rule saw every training sample's index once per epoch
    seen = torch.cat(plugin_methods)
    assert torch.equal(torch.bincount(seen, minlength=200), torch.full((200,), 3))
    assert by["test-sce"]["test_acc_curve"] != by["ce"]["test_acc_curve"]
    assert by["test-drop"]["trainings"] == 2 and by["ce"]["trainings"] == 1
    for run in runs:
        assert 0.0 <= run["flagged_f1"] <= 1.0


def test_confident_learning_flags_what_cleanlab_flags():
    find_label_issues = pytest.importorskip("cleanlab.filter").find_label_issues
    rng = np.random.default_rng(0)
    n, c = 90, 3
    y = torch.from_numpy(rng.integers(0, c, n))
    x = torch.randn(n, 4)
    probs = torch.from_numpy(rng.dirichlet(np.ones(c), n))
    calls = []

    def train(xs, ys):  # a fake training: fixed probabilities per sample, looked up by input
        calls.append(len(ys))
        return lambda inputs: probs[[int(torch.nonzero((x == r).all(1))[0]) for r in inputs]]

    ctx = MethodContext(n, c, y, MethodParams(cl_folds=3), lam=1.0, seed=0)
    choice = confident_learning(ctx, x, y, train)
    expected = find_label_issues(y.numpy(), probs.numpy())
    assert calls == [60, 60, 60]
    np.testing.assert_array_equal(choice.flagged.numpy(), expected)
    np.testing.assert_array_equal(choice.index.numpy(), np.flatnonzero(~expected))


def test_confident_learning_runs_in_a_process_pool_worker_as_in_the_main_process(tmp_path):
    """Regression: cleanlab's own pool (n_jobs > 1) fails with a NameError inside a spawned
    worker of the ``processes`` executor; the runs there must equal the serial runs."""
    pytest.importorskip("cleanlab")
    from selfdistill.execution import Execution

    config = NoisyConfig(**{**TINY, "epochs": 2}, cl_folds=2)
    args = (config, ["confident-learning"], [0.4], [0, 1])
    serial = run_noisy(*args)
    pooled = run_noisy(*args, execution=Execution(executor="processes", jobs=2))
    assert [r["final_test_acc"] for r in pooled] == [r["final_test_acc"] for r in serial]
    assert [r["flagged_f1"] for r in pooled] == [r["flagged_f1"] for r in serial]


def test_confident_learning_without_cleanlab_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    ctx = MethodContext(4, 2, torch.zeros(4, dtype=torch.long), MethodParams(), lam=1.0)
    with pytest.raises(RuntimeError, match=r"pip install 'selfdistill\[cleanlab\]'"):
        confident_learning(ctx, torch.zeros(4, 1), ctx.labels, lambda x, y: None)


def test_missing_dependency_stops_the_sweep_before_any_training(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        noisy_base, "find_spec", lambda name: None if name == "cleanlab" else real(name)
    )
    with pytest.raises(RuntimeError, match=r"confident-learning needs cleanlab: pip install"):
        run_noisy(NoisyConfig(**TINY), ["ce", "confident-learning"], [0.4], [0])


def test_noisy_command_records_lam_flags_and_trainings(tmp_path):
    pytest.importorskip("cleanlab")
    out = tmp_path / "noisy"
    argv = ["noisy", "--data", "digits", "--n-train", "200", "--width", "32", "--epochs", "2"]
    argv += ["--noise", "0.6", "--method", "sd,elr,sd-margin,confident-learning"]
    argv += ["--cl-folds", "2", "--out", str(out), "--no-progress"]
    assert cli_main(argv) == 0
    runs = {r["method"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    assert runs["sd"]["lam"] == 1.5  # Dong's rule above 40 % noise
    assert (runs["elr"]["lam"], runs["sd-margin"]["lam"]) == (3.0, 3.0)
    assert runs["confident-learning"]["trainings"] == 3 and runs["elr"]["trainings"] == 1
    for run in runs.values():
        assert run["flagged_recall"] is not None


def test_entry_point_methods_are_loaded_on_first_use(monkeypatch):
    class Point:  # what importlib.metadata.entry_points(group=...) yields
        name = "test-ep"

        @staticmethod
        def load():
            return registry.Method("test-ep", "loss", lambda ctx: None)

    monkeypatch.setattr(registry, "entry_points", lambda group: [Point()])
    monkeypatch.setattr(registry, "_LOADED", [])
    try:
        assert method_names()[-1] == "test-ep" and get_method("test-ep").kind == "loss"
    finally:
        registry._REGISTRY.pop("test-ep", None)


@pytest.mark.parametrize("eps", [-0.1, 1.0, float("nan")])
def test_margin_smoothing_out_of_range_is_named(eps, tmp_path, capsys):
    with pytest.raises(ValueError, match="margin_smoothing"):
        NoisyConfig(**TINY, margin_smoothing=eps)
    with pytest.raises(ValueError, match="smoothing"):
        MarginSelfDistillationLoss(4, 3, smoothing=eps)
    argv = ["noisy", "--data", "digits", "--margin-smoothing", str(eps), "--out", str(tmp_path)]
    assert cli_main(argv) == 2
    assert "--margin-smoothing must be" in capsys.readouterr().err  # in [0, 1) or finite
