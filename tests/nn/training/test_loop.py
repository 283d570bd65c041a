"""selfdistill.nn.training.loop: optimiser steps against hand-computed updates, schedule, data
order, determinism, metrics, callbacks, checkpoints and bit-identical resume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data.distributed import DistributedSampler  # noqa: E402

from selfdistill.nn.data_splits import random_crop_flip  # noqa: E402
from selfdistill.nn.models import build_model  # noqa: E402
from selfdistill.nn.training.loop import (  # noqa: E402
    CHECKPOINT_NAME,
    Callback,
    StepContext,
    TrainConfig,
    accuracy,
    cosine_factor,
    cross_entropy_loss,
    data_seed,
    epoch_order,
    fit,
    predict_logits,
)

QUIET = {"progress": False}


def _toy(n: int = 48, d: int = 5, c: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, c, generator=g)
    y = (x @ w).argmax(dim=1)
    return x, y


def _ce_grad(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Gradient of the mean softmax cross-entropy of a linear model, in float64."""
    z = x @ w.T + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    p /= len(y)
    return p.T @ x, p.sum(axis=0)


def _linear(d: int, c: int, seed: int = 0) -> nn.Module:
    return build_model("mlp", (d,), c, depth=0, seed=seed)


def _wb(model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    lin = next(m for m in model.modules() if isinstance(m, nn.Linear))
    return lin.weight.detach().double().numpy().copy(), lin.bias.detach().double().numpy().copy()


# ------------------------------------------------------------------------------------------
# Optimiser steps against explicit updates
# ------------------------------------------------------------------------------------------


def test_two_sgd_steps_with_momentum_weight_decay_and_cosine() -> None:
    x, y = _toy()
    model = _linear(5, 3)
    w0, b0 = _wb(model)
    lr, mom, wd = 0.3, 0.9, 0.01
    # batch = whole set: one step per epoch, two steps in all; cosine factors 1 and 1/2
    cfg = TrainConfig(epochs=2, batch_size=len(y), lr=lr, momentum=mom, weight_decay=wd, **QUIET)
    fit(model, x, y, cfg)
    xs, ys = x.double().numpy(), y.numpy()
    gw, gb = _ce_grad(w0, b0, xs, ys)
    bw, bb = gw + wd * w0, gb + wd * b0
    w1, b1 = w0 - lr * bw, b0 - lr * bb
    gw, gb = _ce_grad(w1, b1, xs, ys)
    bw, bb = mom * bw + gw + wd * w1, mom * bb + gb + wd * b1
    w2, b2 = w1 - 0.5 * lr * bw, b1 - 0.5 * lr * bb
    w, b = _wb(model)
    np.testing.assert_allclose(w, w2, atol=2e-6)
    np.testing.assert_allclose(b, b2, atol=2e-6)
    assert np.abs(w2 - w0).max() > 1e-2  # the update is not negligible


def test_one_adam_step_and_adamw() -> None:
    x, y = _toy(seed=1)
    lr, wd = 0.01, 0.1
    for optimizer in ("adam", "adamw"):
        model = _linear(5, 3, seed=4)
        w0, b0 = _wb(model)
        cfg = TrainConfig(
            epochs=1, batch_size=len(y), optimizer=optimizer, lr=lr, weight_decay=wd, **QUIET
        )
        fit(model, x, y, cfg)
        gw, gb = _ce_grad(w0, b0, x.double().numpy(), y.numpy())
        if optimizer == "adam":  # L2 added to the gradient; first bias-corrected step: g / |g|
            gw, gb = gw + wd * w0, gb + wd * b0
            w1 = w0 - lr * gw / (np.abs(gw) + 1e-8)
            b1 = b0 - lr * gb / (np.abs(gb) + 1e-8)
        else:  # decoupled decay: p (1 - lr wd) - lr g / |g|
            w1 = w0 * (1 - lr * wd) - lr * gw / (np.abs(gw) + 1e-8)
            b1 = b0 * (1 - lr * wd) - lr * gb / (np.abs(gb) + 1e-8)
        w, b = _wb(model)
        np.testing.assert_allclose(w, w1, atol=1e-6)
        np.testing.assert_allclose(b, b1, atol=1e-6)


def test_soft_one_hot_targets_train_like_labels() -> None:
    x, y = _toy(seed=2)
    cfg = TrainConfig(epochs=3, batch_size=16, **QUIET)
    a, b = _linear(5, 3, seed=1), _linear(5, 3, seed=1)
    ha = fit(a, x, y, cfg)
    hb = fit(b, x, F.one_hot(y, 3).float(), cfg)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)
    assert ha.column("train_acc") == hb.column("train_acc")


def test_cross_entropy_loss_with_soft_targets() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64)
    t = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), dim=1)
    p = torch.softmax(logits, dim=1)
    expected = -(t * p.log()).sum(dim=1).mean()
    torch.testing.assert_close(cross_entropy_loss(logits, t), expected)
    y = t.argmax(dim=1)
    torch.testing.assert_close(cross_entropy_loss(logits, y), -p[torch.arange(6), y].log().mean())


# ------------------------------------------------------------------------------------------
# Schedule, data order, callbacks, metrics
# ------------------------------------------------------------------------------------------


def test_cosine_and_constant_schedules() -> None:
    x, y = _toy()
    cfg = TrainConfig(epochs=4, batch_size=16, lr=0.2, **QUIET)  # 3 steps per epoch
    hist = fit(_linear(5, 3), x, y, cfg)
    expected = [0.2 * 0.5 * (1 + math.cos(math.pi * 3 * e / 12)) for e in range(4)]
    np.testing.assert_allclose(hist.column("lr"), expected, rtol=1e-12)
    assert cosine_factor(12, 12) == pytest.approx(0.0, abs=1e-15)
    hist = fit(_linear(5, 3), x, y, TrainConfig(epochs=3, lr=0.2, schedule="constant", **QUIET))
    assert hist.column("lr") == [0.2, 0.2, 0.2]


def test_epoch_order_is_the_distributed_sampler_order_for_one_replica() -> None:
    for seed, epoch in ((0, 0), (0, 3), (7, 1)):
        sampler = DistributedSampler(range(23), num_replicas=1, rank=0, seed=data_seed(seed))
        sampler.set_epoch(epoch)
        assert epoch_order(23, seed, epoch).tolist() == list(sampler)
    assert epoch_order(23, 0, 1).tolist() != epoch_order(23, 1, 0).tolist()


class Recorder(Callback):
    def __init__(self) -> None:
        self.steps: list[tuple[int, int, list[int], float]] = []
        self.epochs: list[tuple[int, dict[str, float]]] = []

    def on_step_end(self, ctx: StepContext, loss: float) -> None:
        assert ctx.model.training
        self.steps.append((ctx.epoch, ctx.step, ctx.index.tolist(), loss))

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        self.epochs.append((epoch, dict(metrics)))


def test_every_sample_once_per_epoch_and_callbacks() -> None:
    x, y = _toy(n=10)
    rec = Recorder()
    seen_targets = []

    def loss_fn(logits, targets, ctx):
        seen_targets.append(bool(torch.equal(targets, y[ctx.index])))
        return F.cross_entropy(logits, targets)

    cfg = TrainConfig(epochs=3, batch_size=4, seed=5, **QUIET)
    hist = fit(_linear(5, 3), x, y, cfg, loss_fn=loss_fn, callbacks=[rec])
    assert all(seen_targets) and len(seen_targets) == 9
    assert [s[1] for s in rec.steps] == list(range(9))
    assert [len(s[2]) for s in rec.steps] == [4, 4, 2] * 3
    for epoch in range(3):
        indices = [i for e, _, idx, _ in rec.steps if e == epoch for i in idx]
        assert indices == epoch_order(10, 5, epoch).tolist()
    assert [e for e, _ in rec.epochs] == [0, 1, 2]
    assert [m for _, m in rec.epochs] == hist.epochs
    # train_loss is the sample-weighted mean of the epoch's batch losses
    for epoch in range(3):
        losses = [(len(idx), loss) for e, _, idx, loss in rec.steps if e == epoch]
        mean = sum(n * loss for n, loss in losses) / 10
        assert hist.epochs[epoch]["train_loss"] == pytest.approx(mean, rel=1e-12)


@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft-targets"])
def test_the_loss_gets_the_batch_prediction_and_correct_count(soft: bool) -> None:
    # fit computes argmax(logits) and its count of correct labels once per step, for the training
    # accuracy, and hands both to the loss (ctx.prediction, ctx.correct); checked here against
    # an independent argmax of the same logits, and train_acc against their epoch sum.
    x, y = _toy(n=30)
    targets = F.one_hot(y, 3).double() * 0.7 + 0.1 if soft else y
    counts = []

    def loss_fn(logits, batch_targets, ctx):
        expected = logits.detach().argmax(dim=1)
        assert torch.equal(ctx.prediction, expected) and not ctx.prediction.requires_grad
        assert int(ctx.correct) == int((expected == y[ctx.index]).sum())
        counts.append(int(ctx.correct))
        return cross_entropy_loss(logits, batch_targets)

    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.3, **QUIET)
    hist = fit(_linear(5, 3), x, targets, cfg, loss_fn=loss_fn)
    assert len(counts) == 8
    assert [h["train_acc"] for h in hist.epochs] == [sum(counts[:4]) / 30, sum(counts[4:]) / 30]


def test_eval_metrics_match_an_independent_evaluation() -> None:
    x, y = _toy(n=64)
    xv, yv = _toy(n=40, seed=9)
    model = build_model("mlp", (5,), 3, width=8, seed=0)
    hist = fit(
        model, x, y, TrainConfig(epochs=2, batch_size=16, **QUIET), eval_sets={"val": (xv, yv)}
    )
    assert not model.training  # left in eval mode
    logits = predict_logits(model, xv, batch_size=7)
    assert hist.last["val_acc"] == pytest.approx(float((logits.argmax(1) == yv).double().mean()))
    assert hist.last["val_acc"] == accuracy(model, xv, yv)
    assert hist.last["val_loss"] == pytest.approx(float(F.cross_entropy(logits, yv)), rel=1e-6)
    assert set(hist.last) == {
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
    }


def test_train_accuracy_counts_the_argmax_of_soft_targets() -> None:
    x, y = _toy(n=32)
    model = _linear(5, 3)
    # soft targets whose argmax is the label 0 everywhere; the model is trained to predict 0
    t = torch.full((32, 3), 0.1)
    t[:, 0] = 0.8
    hist = fit(model, x, t, TrainConfig(epochs=20, batch_size=32, lr=0.5, **QUIET))
    assert hist.last["train_acc"] == 1.0
    assert accuracy(model, x, y) < 1.0  # measured against argmax(t), not against y


def test_predict_logits_restores_mode_and_batches() -> None:
    model = build_model("mlp", (5,), 3, width=4, seed=0)
    x, y = _toy(n=11)
    full = model.eval()(x).detach()
    model.train()
    out = predict_logits(model, x, batch_size=4)
    assert model.training and torch.allclose(out, full, atol=1e-6)
    with pytest.raises(ValueError, match="same length"):
        accuracy(model, x, y[:3])


def test_progress_bar_shows_loss_and_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _toy()
    fit(_linear(5, 3), x, y, TrainConfig(epochs=2, batch_size=16), eval_sets={"val": (x, y)})
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err and "val_acc=" in err


# ------------------------------------------------------------------------------------------
# Determinism, checkpoints, resume
# ------------------------------------------------------------------------------------------


def _noisy_model(seed: int = 0) -> nn.Module:
    """A model with dropout (consumes the global RNG) and batch norm (buffers)."""

    def factory(shape, classes):
        return nn.Sequential(
            nn.Linear(shape[0], 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(16, classes),
        )  # fmt: skip

    return build_model(factory, (5,), 3, seed=seed)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fit_is_deterministic_and_leaves_the_global_generator_alone() -> None:
    x, y = _toy()
    cfg = TrainConfig(epochs=3, batch_size=10, **QUIET)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = _noisy_model(), _noisy_model(), _noisy_model()
    fit(a, x, y, cfg)
    assert torch.equal(torch.get_rng_state(), before)
    fit(b, x, y, cfg)
    fit(c, x, y, TrainConfig(epochs=3, batch_size=10, seed=1, **QUIET))
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["0.weight"], sc["0.weight"])


def test_augmentation_is_seeded() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 1, 8, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    cfg = TrainConfig(epochs=2, batch_size=8, **QUIET)
    models = [build_model("cnn", (1, 8, 8), 3, width=4, seed=0) for _ in range(3)]
    fit(models[0], x, y, cfg, augment=random_crop_flip)
    fit(models[1], x, y, cfg, augment=random_crop_flip)
    fit(models[2], x, y, cfg)
    s0, s1, s2 = (_state(m) for m in models)
    assert all(torch.equal(s0[k], s1[k]) for k in s0)
    assert not torch.equal(s0["head.weight"], s2["head.weight"])


class Interrupt(Exception):
    pass


class InterruptAt(Callback):
    def __init__(self, epoch: int, mid_epoch: bool) -> None:
        self.epoch, self.mid_epoch = epoch, mid_epoch

    def on_step_end(self, ctx: StepContext, loss: float) -> None:
        if self.mid_epoch and ctx.epoch == self.epoch and ctx.step % 5 == 1:
            raise Interrupt

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        if not self.mid_epoch and epoch == self.epoch:
            raise Interrupt


@pytest.mark.parametrize(
    ("optimizer", "schedule", "mid_epoch"),
    [("sgd", "cosine", False), ("adam", "constant", True), ("sgd", "cosine", True)],
)
def test_resume_is_bit_identical(
    tmp_path: Path, optimizer: str, schedule: str, mid_epoch: bool
) -> None:
    x, y = _toy(n=50)
    xv, yv = _toy(n=20, seed=3)
    lr = 0.01 if optimizer == "adam" else 0.1
    cfg = TrainConfig(
        epochs=5, batch_size=10, optimizer=optimizer, schedule=schedule, lr=lr, **QUIET
    )
    evals = {"val": (xv, yv)}
    reference = _noisy_model()
    ref_hist = fit(reference, x, y, cfg, eval_sets=evals)

    model = _noisy_model()
    with pytest.raises(Interrupt):
        fit(model, x, y, cfg, eval_sets=evals, checkpoint_dir=tmp_path,
            callbacks=[InterruptAt(2, mid_epoch)])  # fmt: skip
    saved = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert len(saved["history"]) == 2  # epochs 0 and 1 completed and checkpointed
    assert {"model", "optimizer", "scheduler", "rng", "history"} <= set(saved)

    resumed = _noisy_model(seed=77)  # a different initialisation: the checkpoint overrides it
    rec = Recorder()
    hist = fit(resumed, x, y, cfg, eval_sets=evals, checkpoint_dir=tmp_path, callbacks=[rec])
    assert [e for e, _ in rec.epochs] == [2, 3, 4]  # only the unfinished epochs ran
    ref, out = _state(reference), _state(resumed)
    assert all(torch.equal(ref[k], out[k]) for k in ref), "resume must be bit-identical"

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(hist.epochs) == strip(ref_hist.epochs)
    assert not list(tmp_path.glob(".*.tmp"))

    # A finished checkpoint: nothing is trained, the final weights and history come back.
    again = _noisy_model(seed=5)
    hist2 = fit(again, x, y, cfg, eval_sets=evals, checkpoint_dir=tmp_path, callbacks=[rec])
    assert [e for e, _ in rec.epochs] == [2, 3, 4]
    assert all(torch.equal(ref[k], v) for k, v in _state(again).items())
    assert strip(hist2.epochs) == strip(ref_hist.epochs)


def test_a_foreign_checkpoint_is_refused(tmp_path: Path) -> None:
    x, y = _toy()
    fit(_linear(5, 3), x, y, TrainConfig(epochs=1, **QUIET), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different run.*epochs"):
        fit(_linear(5, 3), x, y, TrainConfig(epochs=2, **QUIET), checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="n_train"):
        fit(_linear(5, 3), x[:40], y[:40], TrainConfig(epochs=1, **QUIET), checkpoint_dir=tmp_path)


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"lr": 0.0}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"schedule": "step"}, "schedule"),
        ({"seed": -1}, "seed"),
        ({"device": "gpu7"}, "device"),
    ],
)
def test_config_validation(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        TrainConfig(**kwargs)


def test_bad_inputs() -> None:
    x, y = _toy()
    model, cfg = _linear(5, 3), TrainConfig(epochs=1, **QUIET)
    with pytest.raises(ValueError, match="same positive length"):
        fit(model, x, y[:-1], cfg)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        fit(model, x, y.float(), cfg)
    with pytest.raises(ValueError, match="eval_sets"):
        fit(model, x, y, cfg, eval_sets={"val": (x, y.float())})
    with pytest.raises(ValueError, match="process group"):
        fit(model, x, y, cfg, distributed=True)

    def nan_loss(logits, targets, ctx):
        return logits.sum() * float("nan")

    with pytest.raises(FloatingPointError, match="diverged"):
        fit(model, x, y, cfg, loss_fn=nan_loss)


# ------------------------------------------------------------------------------------------
# The checkpoint module on its own
# ------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_restores_state_history_and_rng(tmp_path: Path) -> None:
    from selfdistill.nn.training.checkpoint import (
        fingerprint,
        load_checkpoint,
        rng_state,
        set_rng_state,
        write_checkpoint,
    )

    x, y = _toy()
    cfg = TrainConfig(epochs=2, optimizer="adam", lr=0.01, **QUIET)
    model = _linear(5, 3, seed=1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5)
    model(x).sum().backward()
    opt.step()
    sched.step()
    fp = fingerprint(cfg, x, y, 1)
    assert fp == {
        "epochs": 2, "batch_size": 128, "optimizer": "adam", "lr": 0.01, "momentum": 0.9,
        "weight_decay": 5e-4, "schedule": "cosine", "seed": 0, "n_train": 48,
        "targets_shape": [48], "world_size": 1,
    }  # fmt: skip
    rows = [{"epoch": 0, "train_loss": 1.5}]
    device = torch.device("cpu")
    torch.manual_seed(123)
    expected_draw = torch.rand(4)
    torch.manual_seed(123)
    path = tmp_path / "checkpoint.pt"
    write_checkpoint(path, model, opt, sched, rows, fp, device)

    other = _linear(5, 3, seed=9)
    opt2 = torch.optim.Adam(other.parameters(), lr=0.01)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 0.5)
    history, rng = load_checkpoint(path, fp, other, opt2, sched2)
    assert history == rows
    pairs = zip(model.state_dict().values(), other.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert sched2.last_epoch == sched.last_epoch == 1
    torch.manual_seed(0)
    set_rng_state(rng, device)
    assert torch.equal(torch.rand(4), expected_draw)
    assert set(rng_state(device)) == {"cpu", "cuda"}

    with pytest.raises(ValueError, match=r"different run.*'seed': \(0, 1\)"):
        load_checkpoint(path, {**fp, "seed": 1}, other, opt2, sched2)


# ----------------------------------------------------------------------
# fit checks its data against the model (issue 11, items 8-10): no torch internals leak out.
CONFIG = TrainConfig(epochs=1, batch_size=16, progress=False)


def data(dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(32, 6, generator=gen, dtype=dtype), torch.randint(0, 4, (32,), generator=gen)


def test_float64_inputs_train_like_their_float32_cast() -> None:
    """Before issue 11: 'mat1 and mat2 must have the same dtype'. Now the inputs are cast."""
    x, y = data(torch.float64)
    a, b = build_model("mlp", (6,), 4, seed=0), build_model("mlp", (6,), 4, seed=0)
    fit(a, x, y, CONFIG, eval_sets={"val": (x, y)})
    fit(b, x.float(), y, CONFIG, eval_sets={"val": (x.float(), y)})
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [(4, r"\[0, 3\].*4 outputs.*\[0, 4\]"), (-5, r"\[0, 3\].*got values in \[-5,")],
)
def test_labels_outside_the_models_outputs(change: int, fragment: str) -> None:
    x, y = data()
    y = y.clone()
    y[3] = change
    with pytest.raises(ValueError, match=f"targets_train must hold class labels in {fragment}"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG)


def test_eval_labels_checked_too() -> None:
    x, y = data()
    with pytest.raises(ValueError, match=r"eval_sets\['val'\] labels"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG, eval_sets={"val": (x, y + 4)})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_inputs_are_blamed_not_the_learning_rate(value: float) -> None:
    x, y = data()
    x[7, 2] = value
    with pytest.raises(ValueError, match=r"x_train contains NaN or infinite values .*sample 7"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG)
    x2, _ = data()
    x2[1, 0] = value
    with pytest.raises(ValueError, match=r"eval_sets\['test'\] inputs contains NaN"):
        fit(build_model("mlp", (6,), 4, seed=0), data()[0], y, CONFIG, eval_sets={"test": (x2, y)})


def test_checks_leave_training_mode_and_rng_untouched() -> None:
    """The probe forward pass runs in eval mode and draws no random numbers."""
    x, y = data()
    model = build_model("mlp", (6,), 4, seed=0)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    from selfdistill.nn.training.loop import _fit_to_model

    model.train()
    _fit_to_model(model, x, y, y, {})
    assert model.training
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("value", [float("nan"), float("-inf")])
@pytest.mark.parametrize("which", ["x1", "x2"])
def test_empirical_ntk_refuses_non_finite_inputs(value: float, which: str) -> None:
    """Issue 11 item 3: NaN inputs gave an all-NaN kernel without a word."""
    from selfdistill.ntk import empirical_ntk

    model = build_model("mlp", (6,), 4, seed=0).eval()
    x1, x2 = data()[0][:5], data()[0][5:9]
    bad = (x1 if which == "x1" else x2).clone()
    bad[2, 1] = value
    args = (bad, x2) if which == "x1" else (x1, bad)
    with pytest.raises(
        ValueError, match=rf"{which} contains NaN or infinite values \(first in input 2\)"
    ):
        empirical_ntk(model, *args)
    with pytest.raises(ValueError, match=f"{which} must be real"):
        empirical_ntk(model, *((x1 + 0j, x2) if which == "x1" else (x1, x2 + 0j)))
