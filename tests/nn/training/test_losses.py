"""The losses against soft targets, written once (issue 21): each against NumPy in float64, and
each of its users computing exactly (bit for bit, gradients included) what it computed when it
wrote the loss out itself, so that moving them changed no result."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from selfdistill.nn.noisy.dong import SelfDistillationLoss, SelfDistillationTarget  # noqa: E402
from selfdistill.nn.noisy.margin import MarginSelfDistillationLoss  # noqa: E402
from selfdistill.nn.noisy.rivals import BootstrapLoss  # noqa: E402
from selfdistill.nn.training.losses import (  # noqa: E402
    mse_softmax_loss,
    soft_cross_entropy,
    soft_target_cross_entropy,
)


def _batch(dtype=torch.float64, b: int = 6, c: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, generator=g, dtype=dtype)
    soft = torch.softmax(torch.randn(b, c, generator=g, dtype=dtype), dim=1)
    labels = torch.randint(0, c, (b,), generator=g)
    return logits, soft, labels


def _np_log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_soft_cross_entropy_against_numpy(temperature: float) -> None:
    logits, soft, labels = _batch()
    z, t = logits.numpy(), soft.numpy()
    expected = -(temperature**2) * (t * _np_log_softmax(z / temperature)).sum(axis=1).mean()
    got = soft_cross_entropy(logits, soft, temperature)
    assert float(got) == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(4)[labels.numpy()]
    expected = -(onehot * _np_log_softmax(z)).sum(axis=1).mean()  # integer labels: one-hot rows
    assert float(soft_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-12)
    assert float(soft_cross_entropy(logits, labels)) == pytest.approx(
        float(F.cross_entropy(logits, labels)), rel=1e-12
    )


def test_soft_target_cross_entropy_and_mse_against_numpy() -> None:
    logits, soft, labels = _batch()
    log_q = torch.log_softmax(logits, dim=1)
    expected = -(soft.numpy() * log_q.numpy()).sum(axis=1).mean()
    assert float(soft_target_cross_entropy(log_q, soft)) == pytest.approx(expected, rel=1e-12)
    p = np.exp(_np_log_softmax(logits.numpy()))
    expected = ((p - soft.numpy()) ** 2).sum(axis=1).mean()
    assert float(mse_softmax_loss(logits, soft)) == pytest.approx(expected, rel=1e-12)
    expected = ((p - np.eye(4)[labels.numpy()]) ** 2).sum(axis=1).mean()
    assert float(mse_softmax_loss(logits, labels)) == pytest.approx(expected, rel=1e-12)


def _value_and_grad(loss_of, logits: torch.Tensor):
    z = logits.clone().requires_grad_(True)
    value = loss_of(z)
    value.backward()
    return value.detach(), z.grad


def _same_bits(a, b) -> None:
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_users_compute_what_they_wrote_out_before_bit_for_bit() -> None:
    """float32, as in training: the shared implementation is the same sequence of operations as
    each old hand-written one (a sign moved from a scalar to a tensor is exact)."""
    logits, soft, labels = _batch(torch.float32, b=16, c=5, seed=3)
    for t in (1.0, 2.0):  # chain's ``ce``: -(T²)·Σ t log softmax(z / T)
        old = _value_and_grad(
            lambda z, t=t: -(t**2) * (soft * torch.log_softmax(z / t, dim=1)).sum(dim=1).mean(),
            logits,
        )
        _same_bits(_value_and_grad(lambda z, t=t: soft_cross_entropy(z, soft, t), logits), old)
    margin = MarginSelfDistillationLoss(16, 5, smoothing=0.1)  # sd-margin's smoothed target
    eps = margin.smoothing

    def old_margin(z):
        log_q = F.log_softmax(z, dim=1)
        return -(1.0 - eps) * (soft * log_q).sum(dim=1).mean() - log_q.mean(dim=1).mean() * eps

    _same_bits(
        _value_and_grad(lambda z: margin.smoothed_loss(F.log_softmax(z, 1), labels, soft), logits),
        _value_and_grad(old_margin, logits),
    )
    boot = BootstrapLoss("soft", 0.9)  # Reed et al.: -Σ (β t + (1 − β) q) log q

    def old_boot(z):
        log_q = torch.log_softmax(z, dim=1)
        t = F.one_hot(labels, 5).to(z.dtype)
        return -((0.9 * t + (1.0 - 0.9) * log_q.exp()) * log_q).sum(dim=1).mean()

    _same_bits(
        _value_and_grad(lambda z: boot(z, labels), logits), _value_and_grad(old_boot, logits)
    )
    sd = SelfDistillationLoss(SelfDistillationTarget("softmax"), "mse")  # sd's squared loss
    target = SelfDistillationTarget("softmax")

    def old_sd(z):
        t = target(z, labels)
        return ((torch.softmax(z, dim=1) - t) ** 2).sum(dim=1).mean()

    _same_bits(_value_and_grad(lambda z: sd(z, labels), logits), _value_and_grad(old_sd, logits))


def test_sd_soft_cross_entropy_equals_the_fused_kernel_up_to_rounding() -> None:
    """sd's general path (a soft label function) now takes the shared soft-target
    cross-entropy instead of PyTorch's fused ``F.cross_entropy``: equal in float64 to 1e-14."""
    logits, _, labels = _batch(torch.float64, b=32, c=6, seed=5)
    loss = SelfDistillationLoss(SelfDistillationTarget("softmax", temperature=0.5), "ce")
    target = SelfDistillationTarget("softmax", temperature=0.5)
    fused = F.cross_entropy(logits, target(logits, labels))
    assert float(loss(logits, labels)) == pytest.approx(float(fused), rel=1e-14)


def test_squared_is_the_old_name_of_mse_everywhere() -> None:
    from selfdistill.nn.chains.distill import make_loss
    from selfdistill.nn.chains.run import ChainConfig
    from selfdistill.nn.noisy.config import MethodParams

    assert SelfDistillationLoss(loss="squared").loss == "mse"
    assert MethodParams(sd_loss="squared").sd_loss == "mse"
    assert ChainConfig(loss="squared").loss == "mse"
    logits, soft, _ = _batch()
    assert torch.equal(make_loss("squared")(logits, soft, None), mse_softmax_loss(logits, soft))
    with pytest.raises(ValueError, match="loss"):
        SelfDistillationLoss(loss="l2")
