"""Tests of the noisy-label refinery pieces: label functions, α schedules, target rule, losses.

Each loss is compared with an independent NumPy computation (rtol 1e-10 in float64) and its
gradient with numerical derivatives (``torch.autograd.gradcheck``, float64, its default eps 1e-6
and atol 1e-5). For self-distillation the target is detached, so the gradient is checked against
the numerical derivative of the loss with the target held fixed.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")


import torch.nn.functional as F  # noqa: E402

from selfdistill.nn.noisy.dong import (  # noqa: E402
    SelfDistillationLoss,
    SelfDistillationTarget,
    batch_accuracy,
    hardmax,
    make_alpha_schedule,
    make_label_function,
    ramp,
    softmax_labels,
)
from selfdistill.nn.noisy.rivals import BootstrapLoss, GCELoss  # noqa: E402
from selfdistill.nn.training.loop import cross_entropy_loss  # noqa: E402


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _batch(b: int = 7, c: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, c, (b,), generator=g)
    return logits, labels


# ---------------------------------------------------------------- label functions


def test_hardmax_and_softmax_labels():
    z = torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]])
    assert torch.equal(hardmax(z), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    assert torch.equal(hardmax(torch.tensor([-0.2, 0.0, 3.0])), torch.tensor([-1.0, 1.0, 1.0]))
    np.testing.assert_allclose(softmax_labels(z, 0.5).numpy(), _np_softmax(z.numpy() / 0.5), 1e-6)
    # Low temperature approaches hardmax.
    np.testing.assert_allclose(softmax_labels(z, 1e-3).numpy(), hardmax(z).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="softmax"):
        softmax_labels(torch.zeros(3))


@given(x=st.floats(-5, 5), rho=st.floats(0.0, 0.49))
def test_ramp_is_theorem1_label_function(x, rho):
    # h(x) = x / (1 - 2 rho) on |x| <= 1 - 2 rho, sgn(x) beyond (Dong et al. Theorem 1).
    expected = x / (1 - 2 * rho) if abs(x) <= 1 - 2 * rho else math.copysign(1.0, x)
    got = float(ramp(torch.tensor([x], dtype=torch.float64), rho))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_label_function_factory_and_errors():
    z = torch.tensor([[0.0, 1.0]])
    assert torch.equal(make_label_function("hardmax")(z), hardmax(z))
    assert torch.allclose(make_label_function("softmax", temperature=2.0)(z), softmax_labels(z, 2))
    assert float(make_label_function("ramp", rho=0.25)(torch.tensor([0.25]))) == 0.5
    with pytest.raises(ValueError, match="label_function"):
        make_label_function("argmax")
    with pytest.raises(ValueError, match="temperature"):
        make_label_function("softmax", temperature=0.0)
    with pytest.raises(ValueError, match="rho"):
        ramp(z, 0.5)


# ---------------------------------------------------------------- schedules


@given(acc=st.floats(0.0, 1.0), lam=st.floats(0.0, 3.0))
def test_accuracy_schedule_clipped(acc, lam):
    alpha = make_alpha_schedule("accuracy", lam=lam)(3, 10, acc)
    assert alpha == pytest.approx(1 - min(lam * acc, 1.0), abs=1e-12)
    assert 0.0 <= alpha <= 1.0


def test_schedules_values():
    lin = make_alpha_schedule("linear", total=10)
    assert [lin(0, s, 0.3) for s in (0, 5, 10, 20)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    cos = make_alpha_schedule("cosine", start=0.8, end=0.2, total=4, unit="epoch")
    assert [cos(e, 999, 0.0) for e in (0, 2, 4, 9)] == pytest.approx([0.8, 0.5, 0.2, 0.2])
    exp = make_alpha_schedule("exponential", gamma=0.5, start=1.0, end=0.0)
    assert [exp(0, s, 0.0) for s in (0, 1, 3)] == pytest.approx([1.0, 0.5, 0.125])
    assert make_alpha_schedule("constant", alpha=0.3)(5, 5, 0.9) == 0.3
    custom = make_alpha_schedule(lambda e, s, a: 0.25)
    assert custom(0, 0, 0.0) == 0.25
    with pytest.raises(ValueError, match="total"):
        make_alpha_schedule("linear")
    with pytest.raises(ValueError, match="alpha schedule"):
        make_alpha_schedule("step")
    with pytest.raises(ValueError, match="lam"):
        make_alpha_schedule("accuracy", lam=-1.0)


# ---------------------------------------------------------------- the target rule


def test_target_rule_matches_hand_computation():
    logits, labels = _batch(9, 5, seed=1)
    rule = SelfDistillationTarget("softmax", "accuracy", lam=1.5, temperature=0.5)
    target = rule(logits, labels, epoch=2, step=7)
    acc = np.mean(logits.numpy().argmax(1) == labels.numpy())
    alpha = 1 - min(1.5 * acc, 1.0)
    expected = alpha * np.eye(5)[labels.numpy()] + (1 - alpha) * _np_softmax(logits.numpy() / 0.5)
    np.testing.assert_allclose(target.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert rule.last_alpha == pytest.approx(alpha) and rule.last_accuracy == pytest.approx(acc)
    assert not target.requires_grad
    np.testing.assert_allclose(target.sum(1).numpy(), 1.0, rtol=1e-12)


def test_target_rule_binary_ramp():
    outputs = torch.tensor([0.1, -0.9, 2.0, -0.2], dtype=torch.float64)
    labels = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    rule = SelfDistillationTarget("ramp", "constant", alpha=0.25, rho=0.25)
    target = rule(outputs, labels)
    h = np.clip(outputs.numpy() / 0.5, -1, 1)
    np.testing.assert_allclose(target.numpy(), 0.25 * labels.numpy() + 0.75 * h, rtol=1e-12)
    assert batch_accuracy(outputs, labels) == 0.5
    with pytest.raises(ValueError, match="-1 or \\+1"):
        rule(outputs, torch.tensor([0.0, 1.0, 1.0, 1.0], dtype=torch.float64))


def test_bad_schedule_value_rejected():
    rule = SelfDistillationTarget("hardmax", lambda e, s, a: 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rule(*_batch())


def test_callable_schedule_sees_epoch_step_and_accuracy():
    seen = []
    rule = SelfDistillationTarget("hardmax", lambda e, s, a: seen.append((e, s, a)) or 0.5)
    logits, labels = _batch(8, 3, seed=4)
    loss = SelfDistillationLoss(rule)
    loss(logits, labels, SimpleNamespace(epoch=3, step=41))
    acc = float(np.mean(logits.numpy().argmax(1) == labels.numpy()))
    assert seen == [(3, 41, pytest.approx(acc))]


# ---------------------------------------------------------------- losses: values


def test_sd_ce_loss_value_and_gradient():
    logits, labels = _batch(6, 4, seed=2)
    rule = SelfDistillationTarget("softmax", "accuracy", lam=1.0, temperature=2.0)
    loss_fn = SelfDistillationLoss(rule, "ce")
    z = logits.clone().requires_grad_(True)
    loss = loss_fn(z, labels, SimpleNamespace(epoch=0, step=0))
    target = rule(logits, labels).numpy()
    log_q = np.log(_np_softmax(logits.numpy()))
    assert loss.item() == pytest.approx(-(target * log_q).sum(1).mean(), rel=1e-10)
    # Gradient of CE against a fixed target: (softmax(z) - t) / B, computed independently.
    loss.backward()
    expected = (_np_softmax(logits.numpy()) - target) / logits.shape[0]
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-9, atol=1e-12)
    # And numerically, holding the (detached) target fixed.
    fixed = torch.from_numpy(target)
    assert torch.autograd.gradcheck(
        lambda w: SelfDistillationLoss(
            SelfDistillationTarget(lambda o: fixed, "constant", alpha=0.0), "ce"
        )(w, labels),
        (logits.clone().requires_grad_(True),),
    )


@pytest.mark.parametrize("binary", [False, True])
def test_sd_squared_loss_value(binary):
    if binary:
        outputs = torch.tensor([0.3, -0.4, 1.7], dtype=torch.float64)
        labels = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
        rule = SelfDistillationTarget("ramp", "constant", alpha=0.5, rho=0.1)
        expected_target = 0.5 * labels.numpy() + 0.5 * np.clip(outputs.numpy() / 0.8, -1, 1)
        expected = np.mean((outputs.numpy() - expected_target) ** 2)
    else:
        outputs, labels = _batch(5, 3, seed=3)
        rule = SelfDistillationTarget("hardmax", "constant", alpha=0.3)
        z = outputs.numpy()
        expected_target = 0.3 * np.eye(3)[labels.numpy()] + 0.7 * np.eye(3)[z.argmax(1)]
        expected = np.mean(((_np_softmax(z) - expected_target) ** 2).sum(1))
    loss = SelfDistillationLoss(rule, "squared")(outputs, labels)
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_ce_and_gce_values():
    logits, labels = _batch(8, 5, seed=5)
    p = _np_softmax(logits.numpy())[np.arange(8), labels.numpy()]
    assert float(cross_entropy_loss(logits, labels)) == pytest.approx(-np.log(p).mean(), rel=1e-10)
    assert float(GCELoss(0.7)(logits, labels)) == pytest.approx(
        np.mean((1 - p**0.7) / 0.7), rel=1e-10
    )
    # q -> 0 approaches cross-entropy.
    assert float(GCELoss(1e-6)(logits, labels)) == pytest.approx(-np.log(p).mean(), rel=1e-4)
    with pytest.raises(ValueError, match="q"):
        GCELoss(0.0)


@pytest.mark.parametrize("kind", ["soft", "hard"])
def test_bootstrap_values(kind):
    logits, labels = _batch(8, 5, seed=6)
    loss = BootstrapLoss(kind)
    beta = 0.95 if kind == "soft" else 0.8
    assert loss.beta == beta
    q = _np_softmax(logits.numpy())
    t = np.eye(5)[labels.numpy()]
    pred = q if kind == "soft" else np.eye(5)[q.argmax(1)]
    expected = -((beta * t + (1 - beta) * pred) * np.log(q)).sum(1).mean()
    assert float(loss(logits, labels)) == pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="beta"):
        BootstrapLoss(kind, 1.2)


# ---------------------------------------------------------------- losses: gradients


@pytest.mark.parametrize(
    "loss_fn",
    [
        cross_entropy_loss,
        GCELoss(0.7),
        GCELoss(0.3),
        BootstrapLoss("soft"),
        BootstrapLoss("soft", 0.6, detach=False),
        BootstrapLoss("hard"),  # argmax is piecewise constant: exact away from ties
    ],
    ids=["ce", "gce0.7", "gce0.3", "boot-soft", "boot-soft0.6", "boot-hard"],
)
def test_gradients_match_numerical_derivatives(loss_fn):
    logits, labels = _batch(5, 4, seed=7)
    assert torch.autograd.gradcheck(
        lambda z: loss_fn(z, labels, None), (logits.clone().requires_grad_(True),)
    )


def test_soft_bootstrap_is_ce_plus_entropy():
    # Reed et al.: soft bootstrapping = beta * CE(t, q) + (1 - beta) * H(q), gradient included.
    logits, labels = _batch(6, 3, seed=8)
    beta = 0.7
    z1 = logits.clone().requires_grad_(True)
    BootstrapLoss("soft", beta)(z1, labels).backward()
    z2 = logits.clone().requires_grad_(True)
    log_q = torch.log_softmax(z2, 1)
    entropy = -(log_q.exp() * log_q).sum(1).mean()
    (beta * torch.nn.functional.cross_entropy(z2, labels) + (1 - beta) * entropy).backward()
    np.testing.assert_allclose(z1.grad.numpy(), z2.grad.numpy(), rtol=1e-10, atol=1e-14)
    # The detached variant differs (no entropy gradient).
    z3 = logits.clone().requires_grad_(True)
    BootstrapLoss("soft", beta, detach=True)(z3, labels).backward()
    assert not np.allclose(z3.grad.numpy(), z1.grad.numpy(), atol=1e-6)


def test_sd_target_is_detached_in_gradient():
    # With a softmax label function, a non-detached target would add a gradient term; the rule
    # must give exactly the fixed-target gradient.
    logits, labels = _batch(5, 3, seed=9)
    rule = SelfDistillationTarget("softmax", "constant", alpha=0.2, temperature=1.0)
    z = logits.clone().requires_grad_(True)
    SelfDistillationLoss(rule, "squared")(z, labels).backward()
    fixed = rule(logits, labels)
    w = logits.clone().requires_grad_(True)
    ((torch.softmax(w, 1) - fixed) ** 2).sum(1).mean().backward()
    np.testing.assert_allclose(z.grad.numpy(), w.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(
        lambda v: ((torch.softmax(v, 1) - fixed) ** 2).sum(1).mean(),
        (logits.clone().requires_grad_(True),),
    )


def test_sd_with_alpha_one_is_plain_ce():
    logits, labels = _batch(6, 4, seed=10)
    sd = SelfDistillationLoss(SelfDistillationTarget("hardmax", "constant", alpha=1.0), "ce")
    assert float(sd(logits, labels)) == pytest.approx(float(cross_entropy_loss(logits, labels)))


# ---------------------------------------------------------------- fast path of the default rule


@pytest.mark.parametrize(
    "schedule, options",
    [
        ("accuracy", {"lam": 1.0}),
        ("accuracy", {"lam": 1.5}),
        ("accuracy", {"lam": 0.3}),
        ("constant", {"alpha": 0.0}),
        ("constant", {"alpha": 1.0}),
        ("linear", {"total": 10}),
        (lambda e, s, a: 0.25 + 0.5 * a, {}),
    ],
    ids=["acc1", "acc1.5", "acc0.3", "alpha0", "alpha1", "linear", "callable"],
)
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_hardmax_ce_fast_path_equals_general_path(schedule, options, seed, monkeypatch):
    # The default rule (hardmax, "ce") skips the dense target: alpha·CE(z, y) + (1 − alpha)·
    # CE(z, argmax z). It must be the general path's value, gradient, alpha and accuracy, up to
    # float64 rounding (rtol 1e-12); the general path runs with the same h given as a callable.
    calls = []
    fast = SelfDistillationLoss._hardmax_ce
    monkeypatch.setattr(
        SelfDistillationLoss, "_hardmax_ce", lambda self, *a: calls.append(1) or fast(self, *a)
    )
    logits, labels = _batch(33, 6, seed=seed)
    logits[:4] = logits[:4] + 20 * torch.nn.functional.one_hot(labels[:4], 6)  # some correct rows
    ctx = SimpleNamespace(epoch=2, step=7)
    fast_rule = SelfDistillationTarget("hardmax", schedule, **options)
    slow_rule = SelfDistillationTarget(lambda o: hardmax(o), schedule, **options)
    z1 = logits.clone().requires_grad_(True)
    z2 = logits.clone().requires_grad_(True)
    loss1 = SelfDistillationLoss(fast_rule, "ce")(z1, labels, ctx)
    loss2 = SelfDistillationLoss(slow_rule, "ce")(z2, labels, ctx)
    assert calls == [1]  # the first loss took the fast path, the second did not
    loss1.backward()
    loss2.backward()
    assert loss1.item() == pytest.approx(loss2.item(), rel=1e-12, abs=0.0)
    np.testing.assert_allclose(z1.grad.numpy(), z2.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert fast_rule.last_alpha == slow_rule.last_alpha
    np.testing.assert_equal(fast_rule.last_accuracy, slow_rule.last_accuracy)
    # And against NumPy: -mean_b sum_c t_bc log softmax(z)_bc, gradient (softmax - t) / B.
    z = logits.numpy()
    a = fast_rule.last_alpha
    t = a * np.eye(6)[labels.numpy()] + (1 - a) * np.eye(6)[z.argmax(1)]
    q = _np_softmax(z)
    assert loss1.item() == pytest.approx(-(t * np.log(q)).sum(1).mean(), rel=1e-12)
    np.testing.assert_allclose(z1.grad.numpy(), (q - t) / 33, rtol=1e-10, atol=1e-15)


def test_hardmax_ce_uses_the_loops_prediction_and_count():
    # fit hands the loss argmax(z) and its count of correct labels (StepContext.prediction,
    # .correct); the loss must give exactly the value and gradient it computes without them, and
    # must take alpha from the count it is given (a different count gives a different alpha).
    logits, labels = _batch(40, 7, seed=15)
    logits[:9] = logits[:9] + 20 * torch.nn.functional.one_hot(labels[:9], 7)
    pred = logits.argmax(dim=1)
    correct = (pred == labels).sum()
    results = []
    for ctx in (
        SimpleNamespace(epoch=0, step=3),
        SimpleNamespace(epoch=0, step=3, prediction=pred, correct=correct),
    ):
        rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
        z = logits.clone().requires_grad_(True)
        loss = SelfDistillationLoss(rule)(z, labels, ctx)
        loss.backward()
        results.append((loss.item(), z.grad, rule.last_alpha, rule.last_accuracy))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])
    assert results[0][2:] == results[1][2:] == (1.0 - int(correct) / 40, int(correct) / 40)
    rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
    told = SimpleNamespace(epoch=0, step=3, prediction=pred, correct=torch.tensor(20))
    SelfDistillationLoss(rule)(logits, labels, told)
    assert rule.last_accuracy == 0.5 and rule.last_alpha == 0.5


def _autograd_nodes(loss: torch.Tensor) -> list[str]:
    seen, stack = {}, [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = type(node).__name__
        stack.extend(next_node for next_node, _ in node.next_functions)
    return sorted(seen.values())


def test_hardmax_ce_adds_two_autograd_nodes_to_cross_entropy():
    # The cost design of the default rule (benchmarks/sd_overhead.py): with the loop's prediction
    # and count, self-distillation is plain cross-entropy's graph plus one nll_loss and one add.
    logits, labels = _batch(32, 10, seed=16)
    z = logits.float().requires_grad_(True)
    pred = z.detach().argmax(dim=1)
    ctx = SimpleNamespace(epoch=0, step=0, prediction=pred, correct=(pred == labels).sum())
    ce_nodes = _autograd_nodes(cross_entropy_loss(z, labels))
    sd_nodes = _autograd_nodes(SelfDistillationLoss()(z, labels, ctx))
    assert ce_nodes == ["AccumulateGrad", "LogSoftmaxBackward0", "NllLossBackward0"]
    assert sd_nodes == sorted([*ce_nodes, "AddBackward0", "NllLossBackward0"])


def test_hardmax_ce_fast_path_errors_and_float32():
    loss_fn = SelfDistillationLoss()
    with pytest.raises(ValueError, match="non-empty"):
        loss_fn(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SelfDistillationLoss(SelfDistillationTarget("hardmax", lambda e, s, a: -0.1))(*_batch())
    logits, labels = _batch(16, 5, seed=14)
    general = SelfDistillationLoss(SelfDistillationTarget(lambda o: hardmax(o)))
    assert float(loss_fn(logits.float(), labels.int())) == pytest.approx(
        float(general(logits, labels)), rel=1e-6
    )


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of the refinery, `selfdistill.nn.noisy.dong` (issue 17).
# ---------------------------------------------------------------- the refinery: batch accuracy


def test_batch_accuracy_multiclass_uses_the_class_axis():
    # argmax over classes (dim=1): rows -> [1, 0, 2, 0]; argmin would give [0, 2, 0, 1]
    logits = torch.tensor([[0.0, 3.0, 1.0], [2.0, 1.0, 0.0], [0.0, 0.5, 4.0], [1.0, 0.0, 0.9]])
    labels = torch.tensor([1, 0, 0, 0])
    assert batch_accuracy(logits, labels) == pytest.approx(3 / 4)  # rows 0, 1, 3 correct


def test_batch_accuracy_binary_column_outputs():
    outputs = torch.tensor([[0.3], [-0.2], [0.0], [-1.5], [2.0]], dtype=torch.float64)
    labels = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    # sign (0 -> +1): [+, -, +, -, +] against [+, +, +, -, -] -> 3 of 5
    assert batch_accuracy(outputs, labels) == pytest.approx(3 / 5)
    assert batch_accuracy(outputs, labels[:, None]) == pytest.approx(3 / 5)
    assert batch_accuracy(outputs.reshape(-1), labels) == pytest.approx(3 / 5)


def test_batch_accuracy_soft_labels_count_their_argmax():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 0])
    soft = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1]])
    assert batch_accuracy(logits, F.one_hot(labels, 3).double()) == pytest.approx(0.5)
    assert batch_accuracy(logits, soft) == pytest.approx(0.5)


# ---------------------------------------------------------------- the refinery: 2-D labels


@pytest.mark.parametrize("label_function", ["hardmax", "softmax"])
def test_target_rule_with_one_hot_labels_equals_integer_labels(label_function):
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2, 0])
    onehot = F.one_hot(labels, 4).to(torch.float64)
    rule = SelfDistillationTarget(label_function, "accuracy", lam=1.0, temperature=0.7)
    from_int = rule(logits, labels)
    alpha_int = rule.last_alpha
    from_onehot = rule(logits, onehot)
    assert rule.last_alpha == alpha_int
    torch.testing.assert_close(from_onehot, from_int, rtol=1e-15, atol=1e-15)
    acc = float(np.mean(logits.numpy().argmax(1) == labels.numpy()))
    assert alpha_int == pytest.approx(1 - acc)


def test_target_rule_with_soft_labels_by_hand():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    soft = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float64)
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.3)
    hard = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = 0.3 * soft.numpy() + 0.7 * hard
    np.testing.assert_allclose(rule(logits, soft).numpy(), expected, rtol=1e-15)
    # with the accuracy schedule the soft labels' argmax (0 and 2) are both predicted: alpha 0
    rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
    np.testing.assert_allclose(rule(logits, soft).numpy(), hard, rtol=0, atol=0)
    assert rule.last_accuracy == 1.0 and rule.last_alpha == 0.0


# ---------------------------------------------------------------- documented defaults


def test_schedule_and_label_function_defaults():
    assert make_alpha_schedule()(0, 0, 0.3) == pytest.approx(0.7)  # accuracy, lam = 1
    assert make_alpha_schedule("constant")(0, 0, 0.3) == 0.5
    exp = make_alpha_schedule("exponential")  # start 1, end 0, gamma 0.999, per step
    assert exp(5, 2, 0.0) == pytest.approx(0.999**2, rel=1e-15)
    lin = make_alpha_schedule("linear", total=4)  # start 1 -> end 0, per step
    assert [lin(9, s, 0.0) for s in (0, 1, 4)] == pytest.approx([1.0, 0.75, 0.0])
    z = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    torch.testing.assert_close(softmax_labels(z), torch.softmax(z, dim=1))
    torch.testing.assert_close(make_label_function("softmax")(z), torch.softmax(z, dim=1))
    x = torch.tensor([-3.0, -0.5, 0.25, 2.0], dtype=torch.float64)
    expected = torch.tensor([-1.0, -0.5, 0.25, 1.0], dtype=torch.float64)
    torch.testing.assert_close(ramp(x), expected)
    torch.testing.assert_close(make_label_function("ramp")(x), expected)


def test_target_rule_and_loss_defaults():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    rule = SelfDistillationTarget()  # hardmax, accuracy schedule with lam = 1
    target = rule(logits, labels)
    assert rule.last_accuracy == 0.5 and rule.last_alpha == 0.5
    expected = 0.5 * np.eye(3)[[0, 1]] + 0.5 * np.eye(3)[[0, 2]]
    np.testing.assert_allclose(target.numpy(), expected, rtol=0, atol=0)
    seen = []
    SelfDistillationTarget("hardmax", lambda e, s, a: seen.append((e, s)) or 0.5)(logits, labels)
    assert seen == [(0, 0)]  # epoch and step default to 0
    loss = SelfDistillationLoss()(logits, labels)
    ce = -np.mean(np.sum(expected * torch.log_softmax(logits, 1).numpy(), axis=1))
    assert float(loss) == pytest.approx(ce, rel=1e-12)
    assert BootstrapLoss("soft").beta == 0.95 and BootstrapLoss("hard").beta == 0.8
    assert GCELoss().q == 0.7


# ---------------------------------------------------------------- checks and paths


def test_schedule_options_checked():
    with pytest.raises(ValueError, match="unit"):
        make_alpha_schedule("linear", total=3, unit="minute")
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="alpha"):
            make_alpha_schedule("constant", alpha=bad)
        for name in ("start", "end"):
            with pytest.raises(ValueError, match=name):
                make_alpha_schedule("linear", total=3, **{name: bad})


def test_softmax_rule_default_temperature_is_one():
    logits, labels = torch.tensor([[1.0, -0.5, 0.2]], dtype=torch.float64), torch.tensor([2])
    target = SelfDistillationTarget("softmax", "constant", alpha=0.25)(logits, labels)
    expected = 0.25 * np.eye(3)[[2]] + 0.75 * torch.softmax(logits, 1).numpy()
    np.testing.assert_allclose(target.numpy(), expected, rtol=1e-15)


def test_loss_without_context_uses_epoch_and_step_zero():
    seen = []
    rule = SelfDistillationTarget("hardmax", lambda e, s, a: seen.append((e, s)) or 0.5)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    SelfDistillationLoss(rule)(logits, torch.tensor([0, 0]))
    assert seen == [(0, 0)]


def test_ce_loss_refuses_single_column_logits():
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.5)
    logits = torch.tensor([[0.3], [-0.2]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(B, C\) logits"):
        SelfDistillationLoss(rule, "ce")(logits, torch.tensor([1, -1]))


def test_two_class_logits_take_the_fast_path():
    # the cheap hardmax/ce path (from C = 2 on) takes alpha from the loop's count of correct
    # labels when it has one; the general path would recompute it
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0])  # 2 of 4 right
    rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
    told = SimpleNamespace(epoch=0, step=0, prediction=logits.argmax(1), correct=torch.tensor(3))
    SelfDistillationLoss(rule)(logits, labels, told)
    assert rule.last_accuracy == 0.75 and rule.last_alpha == 0.25


def test_label_matrix_of_integer_labels_is_one_hot():
    from selfdistill.nn.noisy.dong import _label_matrix

    outputs = torch.zeros(3, 4, dtype=torch.float64)
    y = _label_matrix(torch.tensor([2, 0, 1]), outputs)  # class 3 absent: still 4 columns
    assert y.dtype == torch.float64  # in the outputs' dtype, not one_hot's int64
    np.testing.assert_array_equal(y.numpy(), np.eye(4)[[2, 0, 1]])


# Each message of make_alpha_schedule is checked whole (survivors of mutmut, docs/testing.md).
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "bogus"},
            "alpha schedule must be one of 'accuracy', 'constant', 'linear', 'cosine', "
            "'exponential', got 'bogus'",
        ),
        ({"name": "exponential", "gamma": 0.0}, "gamma must be in (0, 1], got 0.0"),
        ({"name": "exponential", "gamma": 1.5}, "gamma must be in (0, 1], got 1.5"),
        ({"name": "linear", "total": 0}, "total must be an integer in [1, inf], got 0"),
        ({"name": "linear", "unit": "x"}, "unit must be one of 'step', 'epoch', got 'x'"),
        ({"name": "accuracy", "lam": -1}, "lam must be in [0, inf), got -1.0"),
        ({"name": "constant", "alpha": 2}, "alpha must be in [0, 1], got 2.0"),
        ({"name": "linear", "start": 2}, "start must be in [0, 1], got 2.0"),
        ({"name": "linear", "end": -1}, "end must be in [0, 1], got -1.0"),
    ],
)
def test_alpha_schedule_messages_are_exact(kwargs, message):
    with pytest.raises(ValueError) as caught:
        make_alpha_schedule(**kwargs)
    assert str(caught.value) == message


def test_alpha_schedule_edges_by_hand():
    # gamma = 1 (the closed end) keeps alpha at start; total = 1 reaches the end after one unit
    flat = make_alpha_schedule("exponential", gamma=1.0, start=0.8, end=0.2)
    assert [flat(e, e, 0.5) for e in range(3)] == [0.8, 0.8, 0.8]
    one = make_alpha_schedule("linear", total=1, start=0.8, end=0.2)
    assert one(0, 0, 0.5) == pytest.approx(0.8) and one(1, 1, 0.5) == pytest.approx(0.2)
    decay = make_alpha_schedule("exponential", gamma=0.5, start=0.8, end=0.2, unit="epoch")
    assert decay(2, 7, 0.5) == pytest.approx(0.2 + 0.6 * 0.25)  # epochs, not steps
    steps = make_alpha_schedule("exponential", gamma=0.5, start=0.8, end=0.2)
    assert steps(7, 2, 0.5) == pytest.approx(0.2 + 0.6 * 0.25)


# ---------------------------------------------------------------- label functions: checks
# Each message of the label functions is checked whole, at the call that must raise (mutmut
# survivors, docs/testing.md).


def test_hardmax_of_scalar_outputs_keeps_their_dtype():
    # torch.where of two Python floats is float32; the signs come back in the outputs' dtype
    for dtype in (torch.float64, torch.float16):
        signs = hardmax(torch.tensor([-0.5, 0.0, 2.0], dtype=dtype))
        assert signs.dtype == dtype
        assert signs.tolist() == [-1.0, 1.0, 1.0]


@pytest.mark.parametrize("shape", [(3,), (3, 1)])
def test_softmax_labels_message_for_scalar_outputs(shape):
    with pytest.raises(ValueError) as caught:
        softmax_labels(torch.zeros(shape))
    assert str(caught.value) == "the softmax label function needs (B, C) outputs with C >= 2"


@pytest.mark.parametrize("rho", [-0.1, 0.5])
def test_ramp_and_its_factory_refuse_rho_outside_the_half_open_interval(rho):
    message = f"rho must be in [0, 0.5), got {rho!r}"
    with pytest.raises(ValueError) as caught:
        ramp(torch.tensor([0.3]), rho)
    assert str(caught.value) == message
    with pytest.raises(ValueError) as caught:  # at construction, before any output is seen
        make_label_function("ramp", rho=rho)
    assert str(caught.value) == message


def test_ramp_and_its_factory_accept_rho_just_below_one_half():
    rho = math.nextafter(0.5, 0.0)  # the open bound: the largest rho allowed
    x = torch.tensor([-1.0, 0.0, 1e-17], dtype=torch.float64)
    expected = torch.clamp(x / (1.0 - 2.0 * rho), -1.0, 1.0)
    assert torch.equal(ramp(x, rho), expected)
    assert torch.equal(make_label_function("ramp", rho=rho)(x), expected)


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_softmax_factory_refuses_non_positive_temperature(temperature):
    with pytest.raises(ValueError) as caught:
        make_label_function("softmax", temperature=temperature)
    assert str(caught.value) == f"temperature must be in (0, inf), got {temperature!r}"


def test_label_function_factory_message_and_callable():
    with pytest.raises(ValueError) as caught:
        make_label_function("argmax")
    assert str(caught.value) == (
        "label_function must be one of 'hardmax', 'softmax', 'ramp', got 'argmax'"
    )

    def h(outputs):
        return outputs

    assert make_label_function(h) is h
    assert make_label_function("hardmax") is hardmax
    # the factory's options reach the functions it builds
    z = torch.tensor([[0.0, 1.0, -2.0]], dtype=torch.float64)
    torch.testing.assert_close(
        make_label_function("softmax", temperature=0.25)(z), torch.softmax(z / 0.25, dim=1)
    )
    x = torch.tensor([-0.3, 0.1, 0.5], dtype=torch.float64)
    torch.testing.assert_close(make_label_function("ramp", rho=0.3)(x), torch.clamp(x / 0.4, -1, 1))


# ---------------------------------------------------------------- batch accuracy: edges


def test_batch_accuracy_of_one_sample_and_of_an_empty_batch():
    logits = torch.tensor([[0.2, 1.0, -1.0]])
    assert batch_accuracy(logits, torch.tensor([1])) == 1.0
    assert batch_accuracy(logits, torch.tensor([2])) == 0.0
    assert batch_accuracy(torch.tensor([-0.5]), torch.tensor([-1])) == 1.0  # integer ±1 labels
    assert batch_accuracy(torch.tensor([[0.5], [-0.5]]), torch.tensor([1, 1])) == 0.5
    with pytest.raises(ValueError) as caught:
        batch_accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    assert str(caught.value) == "batch_accuracy needs a non-empty batch"


# ---------------------------------------------------------------- the target rule: dtypes
# The observed labels are cast to the outputs' dtype before they are weighted: alpha = 0.3 is not
# a float32 number, so a product formed in float32 (one_hot's int64 or float32 labels times a
# Python float) would be off by ~1e-8 from the float64 target (compared at rtol 1e-15).


def test_target_rule_weights_labels_in_the_outputs_dtype_for_scalar_outputs():
    outputs = torch.tensor([0.1, -0.9, 2.0, -0.2], dtype=torch.float64)
    rule = SelfDistillationTarget("ramp", "constant", alpha=0.3, rho=0.25)
    expected = 0.3 * np.array([1.0, 1.0, -1.0, -1.0]) + 0.7 * np.clip(outputs.numpy() / 0.5, -1, 1)
    for labels in (torch.tensor([1, 1, -1, -1]), torch.tensor([1.0, 1.0, -1.0, -1.0])):
        target = rule(outputs, labels)
        assert target.dtype == torch.float64
        np.testing.assert_allclose(target.numpy(), expected, rtol=1e-15, atol=0)
    # float32 outputs give float32 targets whatever the labels' dtype
    target = rule(outputs.float(), torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64))
    assert target.dtype == torch.float32


def test_target_rule_weights_soft_labels_in_the_outputs_dtype():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    soft = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float32)
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.3)
    target = rule(logits, soft)
    assert target.dtype == torch.float64
    expected = 0.3 * soft.double().numpy() + 0.7 * np.array([[1.0, 0, 0], [0, 0, 1.0]])
    np.testing.assert_allclose(target.numpy(), expected, rtol=1e-15, atol=0)


def test_scalar_output_labels_message():
    rule = SelfDistillationTarget("ramp", "constant", alpha=0.5)
    with pytest.raises(ValueError) as caught:
        rule(torch.tensor([0.2, -0.3]), torch.tensor([1.0, 0.0]))
    assert str(caught.value) == "labels for scalar outputs must be -1 or +1 (Theorem 1's setting)"


# ---------------------------------------------------------------- the target rule: alpha, records


def _recording_schedule(seen, value=0.5):
    return lambda e, s, a: seen.append((e, s, a)) or value


def test_rule_records_nan_until_called_and_nan_accuracy_without_need():
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.25)
    assert math.isnan(rule.last_alpha) and math.isnan(rule.last_accuracy)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    # the constant schedule needs no accuracy: none is computed on any path
    for labels in (torch.tensor([0, 0]), torch.tensor([[1.0, 0.0], [1.0, 0.0]])):
        rule(logits, labels)
        assert rule.last_alpha == 0.25 and math.isnan(rule.last_accuracy)
    assert rule.alpha(logits, torch.tensor([0, 0])) == 0.25 and math.isnan(rule.last_accuracy)
    SelfDistillationLoss(rule)(logits, torch.tensor([0, 0]))  # the fast path
    assert rule.last_alpha == 0.25 and math.isnan(rule.last_accuracy)
    rule = SelfDistillationTarget("ramp", "linear", total=4)
    rule(torch.tensor([0.5, -0.5]), torch.tensor([1.0, 1.0]), step=1)
    assert rule.last_alpha == 0.75 and math.isnan(rule.last_accuracy)


def test_alpha_passes_epoch_step_and_accuracy_to_the_schedule():
    seen = []
    rule = SelfDistillationTarget("hardmax", _recording_schedule(seen))
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0])  # 2 of 3 right
    assert rule.alpha(logits, labels) == 0.5  # epoch and step default to 0
    assert rule.alpha(logits, labels, epoch=4, step=9) == 0.5
    soft = F.one_hot(labels, 2).double()
    rule(logits, soft, epoch=2, step=5)  # 2-D labels take the general path through alpha()
    rule(torch.tensor([0.3, -0.2]), torch.tensor([1.0, 1.0]), epoch=1, step=3)  # ±1 labels
    assert seen == [(0, 0, 2 / 3), (4, 9, 2 / 3), (2, 5, 2 / 3), (1, 3, 0.5)]
    assert rule.last_alpha == 0.5 and rule.last_accuracy == 0.5


@pytest.mark.parametrize("bad", [1.5, -0.25])
@pytest.mark.parametrize("path", ["integer labels", "one-hot labels", "fast loss"])
def test_schedule_value_outside_zero_one_message(bad, path):
    rule = SelfDistillationTarget("hardmax", lambda e, s, a: bad)
    logits, labels = _batch(4, 3, seed=20)
    with pytest.raises(ValueError) as caught:
        if path == "integer labels":
            rule(logits, labels)
        elif path == "one-hot labels":
            rule(logits, F.one_hot(labels, 3).double())
        else:
            SelfDistillationLoss(rule)(logits, labels)
    assert str(caught.value) == f"the alpha schedule must return a value in [0, 1], got {bad!r}"


def test_one_sample_batch_and_empty_batch_on_every_path():
    logits = torch.tensor([[0.0, 2.0, 1.0]], dtype=torch.float64)
    for labels, alpha in ((torch.tensor([1]), 0.0), (torch.tensor([2]), 1.0)):
        rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
        target = rule(logits, labels)  # integer labels: the scattered targets
        expected = alpha * np.eye(3)[labels.numpy()] + (1 - alpha) * np.eye(3)[[1]]
        np.testing.assert_array_equal(target.numpy(), expected)
        assert rule.last_alpha == alpha
        rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
        SelfDistillationLoss(rule)(logits, labels)  # the fast path
        assert rule.last_alpha == alpha and rule.last_accuracy == 1.0 - alpha
    empty, none = torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)
    rule = SelfDistillationTarget()
    with pytest.raises(ValueError) as caught:
        rule(empty, none)
    assert str(caught.value) == "batch_accuracy needs a non-empty batch"
    with pytest.raises(ValueError) as caught:
        SelfDistillationLoss(rule)(empty, none)
    assert str(caught.value) == "batch_accuracy needs a non-empty batch"


def test_ramp_rule_default_rho_is_zero():
    rule = SelfDistillationTarget("ramp", "constant", alpha=0.5)
    outputs = torch.tensor([0.4, -2.0, 0.9], dtype=torch.float64)
    target = rule(outputs, torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
    np.testing.assert_allclose(target.numpy(), [0.7, 0.0, -0.05], rtol=1e-15, atol=1e-16)


# ---------------------------------------------------------------- the loss: checks and paths


def test_loss_messages_are_exact():
    with pytest.raises(ValueError) as caught:
        SelfDistillationLoss(loss="l1")
    assert str(caught.value) == "loss must be one of 'ce', 'mse', got 'l1'"
    rule = SelfDistillationTarget("ramp", "constant", alpha=0.5)
    with pytest.raises(ValueError) as caught:
        SelfDistillationLoss(rule, "ce")(torch.tensor([0.3, -0.2]), torch.tensor([1.0, -1.0]))
    assert str(caught.value) == "loss 'ce' needs (B, C) logits; use 'mse' for ±1 outputs"


@pytest.mark.parametrize(
    ("label_function", "loss"), [("hardmax", "ce"), ("softmax", "ce"), ("hardmax", "mse")]
)
def test_loss_warns_nothing(label_function, loss):
    # log_softmax without an explicit dim warns (implicit dimension choice) and may pick another
    logits, labels = _batch(6, 4, seed=21)
    z = logits.clone().requires_grad_(True)
    loss_fn = SelfDistillationLoss(SelfDistillationTarget(label_function, "accuracy"), loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_fn(z, labels, SimpleNamespace(epoch=0, step=0)).backward()


def test_hardmax_ce_takes_the_loops_prediction_as_it_is():
    # ctx.prediction is used, not recomputed: a prediction other than argmax z gives the loss
    # alpha·CE(z, y) + (1 − alpha)·CE(z, prediction) of that prediction
    logits, labels = _batch(6, 4, seed=22)
    told = (logits.argmax(dim=1) + 1) % 4  # never argmax z
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.25)
    ctx = SimpleNamespace(epoch=0, step=0, prediction=told)
    loss = SelfDistillationLoss(rule)(logits, labels, ctx)
    log_q = np.log(_np_softmax(logits.numpy()))
    rows = np.arange(6)
    expected = -np.mean(0.25 * log_q[rows, labels.numpy()] + 0.75 * log_q[rows, told.numpy()])
    assert float(loss) == pytest.approx(expected, rel=1e-13)


# ---------------------------------------------------------------- schedules: units and lengths


def test_linear_and_cosine_schedules_count_the_unit_they_are_given():
    # epoch and step differ in every call, so each schedule must read the one its unit names
    lin = make_alpha_schedule("linear", start=0.9, end=0.1, total=4, unit="epoch")
    assert [lin(e, 50 + e, 0.0) for e in (0, 1, 3, 8)] == pytest.approx([0.9, 0.7, 0.3, 0.1])
    cos = make_alpha_schedule("cosine", start=0.9, end=0.1, total=6)  # per step by default
    got = [cos(7, s, 0.0) for s in (0, 2, 3, 6, 40)]
    assert got == pytest.approx([0.9, 0.7, 0.5, 0.1, 0.1], rel=1e-14)  # 0.1 + 0.4 (1 + cos pi s/6)


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("unit", ["step", "epoch"])
def test_schedule_length_message(name, unit):
    with pytest.raises(ValueError) as caught:
        make_alpha_schedule(name, unit=unit)
    assert str(caught.value) == (
        f"total (the schedule length in {unit}s) is needed by the {name} schedule"
    )


@pytest.mark.parametrize(("label_function", "loss"), [("softmax", "ce"), ("hardmax", "mse")])
def test_general_loss_path_passes_epoch_and_step_to_the_rule(label_function, loss):
    seen = []
    rule = SelfDistillationTarget(label_function, _recording_schedule(seen))
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    SelfDistillationLoss(rule, loss)(logits, torch.tensor([0, 0]), SimpleNamespace(epoch=3, step=8))
    assert seen == [(3, 8, 0.5)]
