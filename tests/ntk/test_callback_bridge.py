"""LabelEnergyCallback during fit, and NTKKernelRidge against direct kernel solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from selfdistill.nn.noisy.dong import SelfDistillationTarget  # noqa: E402
from selfdistill.nn.training.loop import TrainConfig, fit  # noqa: E402
from selfdistill.ntk import (  # noqa: E402
    LabelEnergyCallback,
    NTKKernelRidge,
    empirical_ntk,
    label_energy,
)
from tests.ntk.test_empirical import _explicit_jacobians  # noqa: E402


def _direct_energy(theta: np.ndarray, y: np.ndarray, k: int) -> float:
    n = theta.shape[0]
    _, top = scipy.linalg.eigh(theta, subset_by_index=[n - k, n - 1])
    return float(np.sum((top.T @ y) ** 2) / np.sum(y**2))


def _data(n: int = 24, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g), torch.randint(0, classes, (n,), generator=g)


def _net(classes: int = 3, *, batch_norm: bool = False, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    norm: list[nn.Module] = [nn.BatchNorm1d(16)] if batch_norm else []
    return nn.Sequential(nn.Linear(6, 16), *norm, nn.ReLU(), nn.Linear(16, classes))


def test_callback_records_energies_of_labels_and_targets_during_fit() -> None:
    x, clean = _data()
    noisy = clean.clone()
    noisy[:8] = (noisy[:8] + 1) % 3
    probe = slice(0, 12)
    rule = SelfDistillationTarget("hardmax", "constant", alpha=0.25)
    callback = LabelEnergyCallback(
        x[probe],
        {"noisy": noisy[probe], "clean": clean[probe]},
        rule=rule,
        steps=[0, 5],
        k=3,
    )
    model = _net()
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05, progress=False)  # 3 steps per epoch
    fit(model, x, noisy, config, callbacks=[callback])
    assert [r["step"] for r in callback.records] == [0, 5]
    assert [r["epoch"] for r in callback.records] == [0, 1]
    assert np.isnan(rule.last_alpha)  # the training rule's state is not touched
    last = callback.records[-1]
    # after the last step the model is the final one: recompute everything independently
    theta = empirical_ntk(model, x[probe], mode="trace").double().numpy()
    onehot = np.eye(3)
    for name, labels in (("noisy", noisy[probe]), ("clean", clean[probe])):
        expected = _direct_energy(theta, onehot[labels.numpy()], 3)
        assert last["energy"][name] == pytest.approx(expected, rel=1e-5)
    with torch.no_grad():
        logits = model(x[probe])
    targets = 0.25 * onehot[noisy[probe].numpy()] + 0.75 * onehot[logits.argmax(1).numpy()]
    assert last["energy"]["targets"] == pytest.approx(_direct_energy(theta, targets, 3), rel=1e-5)
    assert last["information_gain"] == pytest.approx(
        last["energy"]["targets"] - last["energy"]["noisy"], abs=1e-12
    )
    assert last["alpha"] == 0.25
    centred = onehot[clean[probe].numpy()] - onehot[clean[probe].numpy()].mean(0)
    assert last["energy_centred"]["clean"] == pytest.approx(
        _direct_energy(theta, centred, 3), rel=1e-5
    )
    assert last["information_gain_centred"] == pytest.approx(
        last["energy_centred"]["targets"] - last["energy_centred"]["noisy"], abs=1e-12
    )
    assert len(last["top_eigenvalues"]) == 3
    assert last["top_eigenvalues"][0] == pytest.approx(np.linalg.eigvalsh(theta)[-1], rel=1e-5)


def test_callback_measures_the_eval_mode_network_and_restores_training_mode() -> None:
    x, y = _data()
    model = _net(batch_norm=True).double().train()
    model(x.double())  # running statistics
    callback = LabelEnergyCallback(x.double(), {"labels": y}, every=1, k=2)
    entry = callback.record(model, step=-1)
    assert model.training
    theta = empirical_ntk(model.eval(), x.double(), mode="trace").numpy()
    assert entry["energy"]["labels"] == pytest.approx(
        _direct_energy(theta, np.eye(3)[y.numpy()], 2), rel=1e-10
    )
    assert callback.wants(0) and callback.wants(7)


def test_callback_scalar_outputs_with_pm1_labels() -> None:
    x, y = _data(classes=2)
    pm1 = 2 * y - 1
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    callback = LabelEnergyCallback(x.double(), {"labels": pm1}, steps=[0], k=4)
    entry = callback.record(model, step=0)
    theta = empirical_ntk(model, x.double(), mode="trace").numpy()
    expected = label_energy(theta, pm1.double().numpy(), 4)
    assert entry["energy"]["labels"] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels": {}}, "labels must name at least one label set"),
        ({"labels": {"a": torch.zeros(3, dtype=torch.long)}}, r"labels\['a'\] must be a tensor"),
        ({"reference": "b"}, "reference must name one of the label sets"),
        ({"steps": []}, "steps or every must choose at least one step"),
        ({"steps": [-1]}, r"steps must be an integer in \[0, inf\]"),
        ({"k": 25}, r"k must be an integer in \[1, 24\]"),
        ({"mode": "full"}, "mode must give an \\(n, n\\) kernel"),
    ],
)
def test_callback_bad_arguments(kwargs: dict, message: str) -> None:
    x, y = _data()
    args = {"labels": {"a": y}, "steps": [0], **kwargs}
    with pytest.raises(ValueError, match=message):
        LabelEnergyCallback(x, **args)


def test_ntk_kernel_ridge_matches_direct_solves() -> None:
    x, y = _data(n=16, seed=1)
    x_test, y_test = _data(n=7, seed=2)
    model = _net(seed=3).double()
    x, x_test = x.double(), x_test.double()
    lam, alpha = 0.7, 0.3
    krr = NTKKernelRidge(model, lam=lam, steps=3, alpha=alpha).fit(x, y)
    # independent: the NTK from explicit autograd Jacobians, ridge solves by numpy
    j_train = _explicit_jacobians(model, x).detach()
    j_test = _explicit_jacobians(model, x_test).detach()
    k_train = torch.einsum("aip,bip->ab", j_train, j_train).numpy()
    k_test = torch.einsum("aip,bip->ab", j_test, j_train).numpy()
    np.testing.assert_allclose(krr.gram_, k_train, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(krr.kernel(x_test), k_test, rtol=1e-10, atol=1e-12)
    onehot = np.eye(3)[y.numpy()]
    targets, expected = onehot, []
    solve = np.linalg.inv(k_train + lam * np.eye(16))
    for _ in range(3):
        coef = solve @ targets
        expected.append(k_test @ coef)
        targets = alpha * onehot + (1 - alpha) * (k_train @ coef)  # Borup eq. 3-5
    for got, want in zip(krr.staged_predict(x_test), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    accuracy = krr.staged_accuracy(x_test, y_test)
    want_acc = [float(np.mean(p.argmax(1) == y_test.numpy())) for p in expected]
    assert accuracy == want_acc
    # the kernel is a snapshot: changing the network afterwards changes nothing
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    np.testing.assert_allclose(krr.predict(x_test, step=1), expected[0], rtol=1e-8, atol=1e-10)


def test_ntk_kernel_ridge_optimal_alpha_uses_validation_kernel() -> None:
    x, y = _data(n=20, seed=4)
    x_val, y_val = _data(n=9, seed=5)
    model = _net(seed=6).double()
    krr = NTKKernelRidge(model, lam=0.5, steps=2, alpha="optimal").fit(
        x.double(), y, x_val.double(), y_val
    )
    alpha_hat = krr.estimator_.alphas_[1]
    # brute force: the alpha minimising the validation squared error of step 2
    k = krr.gram_
    k_val = empirical_ntk(model, x_val.double(), x.double(), mode="trace").numpy()
    onehot, onehot_val = np.eye(3)[y.numpy()], np.eye(3)[y_val.numpy()]
    solve = np.linalg.inv(k + 0.5 * np.eye(20))
    first = k @ solve @ onehot

    def val_error(a: float) -> float:
        pred = k_val @ solve @ (a * onehot + (1 - a) * first)
        return float(np.sum((pred - onehot_val) ** 2))

    grid = np.linspace(alpha_hat - 0.5, alpha_hat + 0.5, 201)
    assert val_error(alpha_hat) <= min(val_error(a) for a in grid) + 1e-9


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m: NTKKernelRidge(m, kernel="rbf"), "kernel is always 'precomputed'"),
        (lambda m: NTKKernelRidge(m, mode="full"), "mode must give a scalar kernel"),
        (
            lambda m: NTKKernelRidge(m).fit(torch.randn(4, 6), torch.tensor([0, 1, 5, 0])),
            r"\[0, 2\]",
        ),
        (lambda m: NTKKernelRidge(m).fit(torch.randn(4, 6), torch.tensor([0, 1])), "y_train must"),
        (
            lambda m: NTKKernelRidge(m).fit(
                torch.randn(4, 6), torch.zeros(4, dtype=torch.long), torch.randn(2, 6)
            ),
            "together",
        ),
        (lambda m: NTKKernelRidge(m).kernel(torch.randn(2, 6)), "not fitted"),
    ],
)
def test_ntk_kernel_ridge_bad_arguments(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(_net())
