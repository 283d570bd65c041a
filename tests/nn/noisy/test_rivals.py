"""Tests of the rival noisy-label losses (`selfdistill.nn.noisy.rivals`) against explicit
computations: bootstrapping (soft and hard), GCE, the temporal ensemble; defaults and bad input.
ELR over two steps against a NumPy computation is in test_registry.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from selfdistill.nn.noisy.rivals import (  # noqa: E402
    EPS,
    BootstrapLoss,
    ELRLoss,
    GCELoss,
    TemporalEnsemble,
)

Z = torch.tensor([[1.0, -0.5, 0.25], [0.0, 2.0, -1.0], [0.3, 0.1, 0.2]], dtype=torch.float64)
Y = torch.tensor([2, 0, 0])


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: BootstrapLoss("x"), "kind must be one of 'soft', 'hard', got 'x'"),
        (lambda: BootstrapLoss(beta=1.5), "beta must be in [0, 1], got 1.5"),
        (lambda: BootstrapLoss("hard", beta=-0.1), "beta must be in [0, 1], got -0.1"),
        (lambda: GCELoss(0.0), "q must be in (0, 1], got 0.0"),
        (lambda: GCELoss(1.5), "q must be in (0, 1], got 1.5"),
        (lambda: TemporalEnsemble(0, 2), "n_train must be an integer in [1, inf], got 0"),
        (lambda: TemporalEnsemble(2, 1), "num_classes must be an integer in [2, inf], got 1"),
        (lambda: TemporalEnsemble(2, 2, beta=1.0), "beta must be in [0, 1), got 1.0"),
        (lambda: TemporalEnsemble(2, 2, beta=-0.1), "beta must be in [0, 1), got -0.1"),
        (lambda: TemporalEnsemble(2, 2, init="x"), "init must be 'zeros' or 'first', got 'x'"),
        (lambda: ELRLoss(2, 2, lam=-1), "lam must be in [0, inf), got -1.0"),
        (lambda: ELRLoss(2, 2, beta=1.0), "beta must be in [0, 1), got 1.0"),
        (
            lambda: ELRLoss(3, 2)(torch.zeros(2, 2), torch.tensor([0, 1]), None),
            "ctx.index: this loss rule needs the batch's sample indices",
        ),
        (
            lambda: GCELoss()(torch.zeros(3), torch.zeros(3)),
            "logits must have shape (B, C), got (3,)",
        ),
        (
            lambda: BootstrapLoss()(torch.zeros(3, 2), torch.zeros(2)),
            "targets must be 3 class labels (shape (3,)) to match the logits, got shape (2,)",
        ),
        (
            lambda: BootstrapLoss()(torch.zeros(3, 2), torch.zeros(3, 1)),
            "targets must be 3 class labels (shape (3,)) to match the logits, got shape (3, 1)",
        ),
    ],
)
def test_bad_input_messages_are_exact(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_defaults_and_edges():
    assert (BootstrapLoss().kind, BootstrapLoss().beta, BootstrapLoss().detach) == (
        "soft",
        0.95,
        False,
    )
    assert BootstrapLoss("hard").beta == 0.8
    assert BootstrapLoss("hard", 0.0).beta == 0.0 and BootstrapLoss(beta=1.0).beta == 1.0
    assert BootstrapLoss(detach=1).detach is True
    assert GCELoss().q == 0.7 and GCELoss(1.0).q == 1.0
    ens = TemporalEnsemble(4, 3)
    assert (ens.beta, ens.init) == (0.7, "zeros") and TemporalEnsemble(1, 2, beta=0.0).beta == 0.0
    assert ens.t_.shape == (4, 3) and not ens.t_.any() and ens.seen_.dtype == torch.bool
    assert not ens.seen_.any() and ens.seen_.shape == (4,)
    elr = ELRLoss(4, 3)
    assert elr.lam == 3.0 and elr.ensemble.beta == 0.7 and elr.ensemble.init == "zeros"
    assert ELRLoss(4, 3, beta=0.2, lam=0.0).ensemble.beta == 0.2


@pytest.mark.parametrize("kind", ["soft", "hard"])
@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0])
def test_bootstrap_value_by_hand(kind, beta):
    z = Z.numpy()
    q = _softmax(z)
    pred = q if kind == "soft" else np.eye(3)[q.argmax(axis=1)]
    target = beta * np.eye(3)[Y.numpy()] + (1 - beta) * pred
    expected = -(target * np.log(q)).sum(axis=1).mean()
    got = BootstrapLoss(kind, beta)(Z, Y)
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_bootstrap_gradient_flows_through_the_soft_target_unless_detached():
    beta = 0.6
    z = Z.numpy()
    q = _softmax(z)
    onehot = np.eye(3)[Y.numpy()]
    # d/dz of -sum_k (beta t_k + (1 - beta) c_k) log q_k with c held fixed: q - target
    held = (q - (beta * onehot + (1 - beta) * q)) / 3
    for detach, flows in ((True, False), (False, True)):
        zz = Z.clone().requires_grad_(True)
        BootstrapLoss("soft", beta, detach=detach)(zz, Y).backward()
        close = np.allclose(zz.grad.numpy(), held, atol=1e-12)
        assert close != flows
    # hard: the one-hot prediction carries no gradient
    zz = Z.clone().requires_grad_(True)
    BootstrapLoss("hard", beta)(zz, Y).backward()
    hard = beta * onehot + (1 - beta) * np.eye(3)[q.argmax(axis=1)]
    np.testing.assert_allclose(zz.grad.numpy(), (q - hard) / 3, atol=1e-12)


@pytest.mark.parametrize("q", [0.3, 0.7, 1.0])
def test_gce_value_by_hand(q):
    p_y = _softmax(Z.numpy())[np.arange(3), Y.numpy()]
    expected = ((1 - p_y**q) / q).mean()
    assert float(GCELoss(q)(Z, Y)) == pytest.approx(expected, rel=1e-12)


def test_gce_gradient_stays_finite_where_the_label_probability_underflows():
    z = torch.tensor([[-200.0, 200.0]], requires_grad=True)  # p_y underflows to 0 in float32
    loss = GCELoss(0.5)(z, torch.tensor([0]))
    assert float(loss.detach()) == pytest.approx(2.0)
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_temporal_ensemble_clamps_renormalises_and_returns_the_rows():
    ens = TemporalEnsemble(3, 2, beta=0.25)
    probs = torch.tensor([[1.0, 0.0], [0.3, 0.7]], dtype=torch.float64)
    got = ens.update(torch.tensor([2, 0]), probs)
    p = np.clip(probs.numpy(), EPS, 1 - EPS)
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got.numpy(), 0.75 * p, rtol=1e-6)  # zeros start
    assert got.dtype == torch.float32  # the state's dtype, on the caller's device
    np.testing.assert_allclose(ens.t_[[2, 0]].numpy(), 0.75 * p, rtol=1e-6)
    assert not ens.t_[1].any() and ens.seen_.tolist() == [True, False, True]
    again = ens.update(torch.tensor([0]), probs[:1])
    np.testing.assert_allclose(again.numpy(), 0.25 * 0.75 * p[1:] + 0.75 * p[:1], rtol=1e-6)


def test_elr_with_lam_zero_is_cross_entropy():
    loss = ELRLoss(3, 3, lam=0.0)
    ce = -np.log(_softmax(Z.numpy())[np.arange(3), Y.numpy()]).mean()
    assert float(loss(Z, Y, SimpleNamespace(index=torch.arange(3)))) == pytest.approx(ce, rel=1e-12)


def test_bootstrap_one_hot_has_every_class_when_the_batch_misses_some():
    z = torch.tensor([[0.5, 1.0, -1.0], [1.5, 0.0, 0.3]], dtype=torch.float64)
    y = torch.tensor([0, 1])  # class 2 absent from the batch
    q = _softmax(z.numpy())
    target = 0.9 * np.eye(3)[[0, 1]] + 0.1 * q
    expected = -(target * np.log(q)).sum(axis=1).mean()
    assert float(BootstrapLoss("soft", 0.9)(z, y)) == pytest.approx(expected, rel=1e-12)


def test_temporal_ensemble_renormalises_after_clamping_three_classes():
    ens = TemporalEnsemble(1, 3, beta=0.0)
    got = ens.update(torch.tensor([0]), torch.tensor([[1.0, 0.0, 0.0]]))
    p = np.array([1 - EPS, EPS, EPS])  # clamped: sums to 1 + EPS, renormalised to 1
    np.testing.assert_allclose(got.numpy()[0], p / p.sum(), rtol=1e-7)
    assert float(got.sum()) == pytest.approx(1.0, abs=1e-7)


def test_elr_clamps_the_softmax_at_both_ends():
    # two steps with opposite logits: the ensemble is large exactly where the softmax is ~1e-13
    # (the lower clamp matters) and the softmax ~1 - 1e-13 elsewhere (the upper clamp matters)
    loss = ELRLoss(2, 3, beta=0.5, lam=2.0)
    y = torch.tensor([0, 1])
    t = np.zeros((2, 3))
    for sign in (1.0, -1.0):
        z = sign * torch.tensor([[30.0, -30.0, 0.0], [-30.0, 0.0, 30.0]], dtype=torch.float64)
        got = float(loss(z, y, SimpleNamespace(index=torch.arange(2))))
        p = np.clip(_softmax(z.numpy()), EPS, 1 - EPS)
        t = 0.5 * t + 0.5 * p / p.sum(axis=1, keepdims=True)
        ce = -np.log(_softmax(z.numpy())[np.arange(2), [0, 1]]).mean()
        expected = ce + 2.0 * np.log(1 - (t * p).sum(axis=1)).mean()
        assert got == pytest.approx(expected, rel=1e-6)  # the state is float32
