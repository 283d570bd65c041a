"""Tests of ``sd-margin`` (`selfdistill.nn.noisy.margin`) against explicit computations: its
switch, its margin weight, its target and smoothed loss, its defaults and bad input. The loss
over two steps against a NumPy computation is in test_registry.py."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from selfdistill.nn.noisy.margin import MarginSelfDistillationLoss, NoisyValSwitch  # noqa: E402


def _switched(patience, accs):
    switch = NoisyValSwitch(patience=patience)
    for epoch, acc in enumerate(accs):
        switch.on_epoch_end(epoch, {"noisyval_acc": acc, "train_acc": 0.0}, None)
    return switch


def test_switch_defaults_and_state_before_any_epoch():
    switch = NoisyValSwitch()
    assert (switch.patience, switch.metric) == (1, "noisyval_acc")
    assert switch.best_ == -np.inf and switch.best_epoch_ == -1 and switch.switch_epoch_ is None
    assert not switch.active(0) and not switch.active(100)
    # a first epoch at any accuracy (even -1e300) is an improvement: no switch after it
    first = _switched(1, [-1e300])
    assert first.best_ == -1e300 and first.best_epoch_ == 0 and first.switch_epoch_ is None


@pytest.mark.parametrize(
    ("patience", "accs", "switch_epoch", "best_epoch"),
    [
        (1, [0.3, 0.5, 0.5], 3, 1),  # equal is no improvement
        (2, [0.3, 0.5, 0.4], None, 1),  # one epoch without improvement: not yet
        (2, [0.3, 0.5, 0.4, 0.5], 4, 1),
        (2, [0.3, 0.5, 0.4, 0.6, 0.6, 0.2, 0.9], 6, 6),  # a later best does not undo it
        (3, [0.1, 0.2, 0.3, 0.4], None, 3),
    ],
)
def test_switch_epoch_by_hand(patience, accs, switch_epoch, best_epoch):
    switch = _switched(patience, accs)
    assert switch.switch_epoch_ == switch_epoch
    assert switch.best_epoch_ == best_epoch
    assert switch.best_ == max(accs[: best_epoch + 1])
    if switch_epoch is not None:
        assert not switch.active(switch_epoch - 1)
        assert switch.active(switch_epoch) and switch.active(switch_epoch + 5)


def test_switch_reads_the_named_metric():
    switch = NoisyValSwitch(metric="val_acc")
    for epoch, acc in enumerate([0.5, 0.4]):
        switch.on_epoch_end(epoch, {"val_acc": acc, "noisyval_acc": 1.0 + epoch}, None)
    assert switch.switch_epoch_ == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: NoisyValSwitch(patience=0), "patience must be an integer in [1, inf], got 0"),
        (
            lambda: NoisyValSwitch().on_epoch_end(0, {"b": 1.0, "a": 2.0}, None),
            "metric: 'noisyval_acc' is not among the epoch's metrics (a, b); evaluate a noisy "
            "validation split",
        ),
        (lambda: MarginSelfDistillationLoss(4, 3, lam=-1), "lam must be in [0, inf), got -1.0"),
        (
            lambda: MarginSelfDistillationLoss(4, 3, smoothing=1.0),
            "smoothing must be in [0, 1), got 1.0",
        ),
        (
            lambda: MarginSelfDistillationLoss(4, 3, smoothing=-0.1),
            "smoothing must be in [0, 1), got -0.1",
        ),
        (
            lambda: MarginSelfDistillationLoss(4, 3, warmup=-1),
            "warmup must be an integer in [0, inf], got -1",
        ),
        (
            lambda: MarginSelfDistillationLoss(4, 3, patience=0),
            "patience must be an integer in [1, inf], got 0",
        ),
        (lambda: MarginSelfDistillationLoss(0, 3), "n_train must be an integer in [1, inf], got 0"),
        (
            lambda: MarginSelfDistillationLoss(4, 1),
            "num_classes must be an integer in [2, inf], got 1",
        ),
        (lambda: MarginSelfDistillationLoss(4, 3, beta=1.0), "beta must be in [0, 1), got 1.0"),
    ],
)
def test_bad_input_messages_are_exact(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_defaults_and_edges():
    loss = MarginSelfDistillationLoss(5, 3)
    assert (loss.lam, loss.smoothing, loss.warmup) == (3.0, 0.1, None)
    assert loss.ensemble.beta == 0.7 and loss.ensemble.init == "first"
    assert tuple(loss.ensemble.t_.shape) == (5, 3)
    assert loss.callbacks == [loss.switch] and loss.switch.patience == 1
    assert MarginSelfDistillationLoss(5, 3, patience=4).switch.patience == 4
    edges = MarginSelfDistillationLoss(1, 2, lam=0.0, beta=0.0, smoothing=0.0, warmup=0)
    assert (edges.lam, edges.smoothing, edges.warmup, edges.switch) == (0.0, 0.0, 0, None)
    assert edges.callbacks == []


def test_distilling_after_warmup_or_switch():
    fixed = MarginSelfDistillationLoss(4, 3, warmup=2)
    assert [fixed.distilling(e) for e in range(4)] == [False, False, True, True]
    auto = MarginSelfDistillationLoss(4, 3)
    assert not auto.distilling(0)
    for epoch, acc in enumerate([0.5, 0.5]):
        auto.switch.on_epoch_end(epoch, {"noisyval_acc": acc}, None)
    assert [auto.distilling(e) for e in range(4)] == [False, False, True, True]


def test_margin_and_target_by_hand():
    loss = MarginSelfDistillationLoss(4, 3, lam=2.0)
    t = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.1, 0.6, 0.3], [0.1, 0.7, 0.2]])
    labels = torch.tensor([0, 1, 2, 0])
    np.testing.assert_allclose(loss.margin(t, labels).numpy(), [0.0, 0.1, 0.3, 0.6], atol=1e-7)
    expected = np.zeros((4, 3))
    for i in range(4):
        m = t[i].max().item() - t[i, labels[i]].item()
        alpha = 1.0 - min(max(2.0 * m, 0.0), 1.0)
        expected[i] = (1.0 - alpha) * t[i].numpy()
        expected[i, labels[i]] += alpha
    got = loss.target(t, labels).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got[0], [1.0, 0.0, 0.0], atol=1e-7)  # agrees: keeps the label
    np.testing.assert_allclose(got[3], t[3].numpy(), atol=1e-7)  # margin 0.6 >= 1/2: teacher


@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_smoothed_loss_by_hand(eps):
    loss = MarginSelfDistillationLoss(2, 3, smoothing=eps)
    z = torch.tensor([[1.0, -0.5, 0.25], [0.0, 2.0, -1.0]], dtype=torch.float64)
    log_q = F.log_softmax(z, dim=1)
    labels = torch.tensor([2, 0])
    soft = torch.tensor([[0.1, 0.3, 0.6], [0.5, 0.25, 0.25]], dtype=torch.float64)
    for target, dense in ((None, F.one_hot(labels, 3).double()), (soft, soft)):
        smoothed = (1.0 - eps) * dense + eps / 3
        expected = -(smoothed * log_q).sum(dim=1).mean()
        got = loss.smoothed_loss(log_q, labels, target)
        assert float(got) == pytest.approx(float(expected), rel=1e-12)


def test_call_without_an_epoch_attribute_is_epoch_zero():
    z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    ctx = SimpleNamespace(index=torch.tensor([0, 1]))  # no `epoch`
    before = MarginSelfDistillationLoss(2, 3, smoothing=0.0, warmup=1)
    assert float(before(z, y, ctx)) == pytest.approx(float(F.cross_entropy(z, y)), rel=1e-12)
    after = MarginSelfDistillationLoss(2, 3, smoothing=0.0, warmup=0, lam=1.0)
    t = torch.softmax(z, dim=1).clamp(1e-4, 1 - 1e-4)
    t = (t / t.sum(dim=1, keepdim=True)).float()  # first prediction, the teacher's state dtype
    target = after.target(t, y).double()
    expected = -(target * F.log_softmax(z, dim=1)).sum(dim=1).mean()
    assert float(after(z, y, ctx)) == pytest.approx(float(expected), rel=1e-6)
    assert float(after(z, y, ctx)) != pytest.approx(float(F.cross_entropy(z, y)), rel=1e-3)


def test_loss_warns_nothing_before_and_after_the_switch():
    # an implicit softmax dimension would raise torch's deprecation warning here
    z = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5]], dtype=torch.float64)
    y = torch.tensor([1, 2])
    ctx = SimpleNamespace(index=torch.tensor([0, 1]), epoch=0)
    for warmup in (0, 1):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert torch.isfinite(MarginSelfDistillationLoss(2, 3, warmup=warmup)(z, y, ctx))
