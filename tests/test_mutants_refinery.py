"""Tests that kill surviving mutants of the refinery, `selfdistill.nn.refinery` (issue 17).

Batch accuracy along the class axis, ``(B, 1)`` binary outputs, and 2-D (soft or one-hot) labels
in the target rule, each against a hand computation.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from selfdistill.nn.refinery import (  # noqa: E402
    BootstrapLoss,
    GCELoss,
    SelfDistillationLoss,
    SelfDistillationTarget,
    batch_accuracy,
    make_alpha_schedule,
    make_label_function,
    ramp,
    softmax_labels,
)

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
    from selfdistill.nn.refinery import _label_matrix

    outputs = torch.zeros(3, 4, dtype=torch.float64)
    np.testing.assert_array_equal(
        _label_matrix(torch.tensor([3, 0, 1]), outputs).numpy(), np.eye(4)[[3, 0, 1]]
    )
