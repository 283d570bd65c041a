"""ntk_eigh, label_energy and information_gain against direct projections (Dong sec. 2.3, 3.5)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from selfdistill.ntk import information_gain, label_energy, ntk_eigh  # noqa: E402


def _kernel(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, n + 3))
    return features @ features.T  # PSD with distinct eigenvalues (almost surely)


def _direct_energy(theta: np.ndarray, y: np.ndarray, k: int) -> float:
    """‖P_k y‖² / ‖y‖² with the orthogonal projector onto the top-k eigenspace (scipy subset)."""
    n = theta.shape[0]
    _, top = scipy.linalg.eigh(theta, subset_by_index=[n - k, n - 1])
    projected = top @ (top.T @ y)
    return float(np.sum(projected**2) / np.sum(y**2))


@pytest.mark.parametrize("k", [1, 3, 5, 12])
def test_label_energy_matches_direct_projection(k: int) -> None:
    theta = _kernel(12, 0)
    rng = np.random.default_rng(1)
    y_vec = rng.choice([-1.0, 1.0], size=12)
    y_onehot = np.eye(4)[rng.integers(0, 4, size=12)]
    for y in (y_vec, y_onehot):
        expected = _direct_energy(theta, y, k)
        assert label_energy(theta, y, k) == pytest.approx(expected, rel=1e-12, abs=1e-14)
        # torch in (float64), and the decomposition reused
        assert label_energy(torch.from_numpy(theta), torch.from_numpy(y), k) == pytest.approx(
            expected, rel=1e-12, abs=1e-14
        )
        assert label_energy(ntk_eigh(theta), y, k) == pytest.approx(expected, rel=1e-12)


def test_label_energy_of_a_constructed_spectrum() -> None:
    # Θ = Q diag(λ) Qᵀ with λ = 6, 5, ..., 1 and y = Q c: E_k = Σ_{i<k} c_i² / Σ c_i².
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(6, 6)))
    eigenvalues = np.arange(6.0, 0.0, -1.0)
    theta = q @ np.diag(eigenvalues) @ q.T
    c = np.array([1.0, 2.0, 0.0, 3.0, 1.0, 1.0])
    y = q @ c
    for k in range(1, 7):
        assert label_energy(theta, y, k) == pytest.approx(np.sum(c[:k] ** 2) / 16.0, abs=1e-13)
    values, vectors = ntk_eigh(theta)
    np.testing.assert_allclose(values, eigenvalues, atol=1e-12)
    np.testing.assert_allclose(np.abs(vectors.T @ q), np.eye(6), atol=1e-10)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 9),
    classes=st.integers(1, 4),
    scale=st.floats(1e-3, 1e3),
)
def test_label_energy_properties(seed: int, n: int, classes: int, scale: float) -> None:
    theta = _kernel(n, seed)
    y = np.random.default_rng(seed + 1).normal(size=(n, classes))
    decomposition = ntk_eigh(theta)
    energies = [label_energy(decomposition, y, k) for k in range(1, n + 1)]
    assert all(0.0 <= e <= 1.0 + 1e-12 for e in energies)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(energies))  # monotone
    assert energies[-1] == pytest.approx(1.0, abs=1e-12)
    # scale invariance, and additivity over the columns weighted by their squared norms
    k = max(1, n // 2)
    assert label_energy(decomposition, scale * y, k) == pytest.approx(energies[k - 1], rel=1e-10)
    norms = np.sum(y**2, axis=0)
    columns = [label_energy(decomposition, y[:, c], k) for c in range(classes)]
    assert np.dot(columns, norms) / norms.sum() == pytest.approx(energies[k - 1], rel=1e-10)


def test_ntk_eigh_torch_stays_torch_and_is_descending() -> None:
    theta = torch.from_numpy(_kernel(7, 3))
    values, vectors = ntk_eigh(theta)
    assert isinstance(values, torch.Tensor) and values.dtype == torch.float64
    assert torch.all(values[:-1] >= values[1:])
    torch.testing.assert_close(vectors @ torch.diag(values) @ vectors.T, theta)
    np_values, _ = ntk_eigh(theta.numpy())
    assert isinstance(np_values, np.ndarray)
    np.testing.assert_allclose(np_values, values.numpy(), rtol=1e-12)


def test_information_gain_is_the_energy_difference() -> None:
    theta = _kernel(10, 4)
    _, vectors = ntk_eigh(theta)
    y_noisy = np.random.default_rng(5).normal(size=10)
    y_smooth = vectors[:, :2] @ np.array([1.0, -2.0]) + 0.01 * y_noisy  # mostly top-2
    gain = information_gain(theta, y_noisy, y_smooth, 2)
    assert gain == pytest.approx(
        _direct_energy(theta, y_smooth, 2) - _direct_energy(theta, y_noisy, 2), abs=1e-13
    )
    assert gain > 0.5
    assert information_gain(theta, y_smooth, y_noisy, 2) == pytest.approx(-gain, abs=1e-15)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: label_energy(np.ones((3, 4)), np.ones(3), 1), r"theta must be a square \(n, n\)"),
        (lambda: label_energy(np.ones((2, 2, 1, 1)), np.ones(2), 1), "theta must be a square"),
        (lambda: label_energy(np.full((2, 2), np.nan), np.ones(2), 1), "theta must be finite"),
        (lambda: label_energy(np.eye(3), np.ones(4), 1), r"y must have shape \(3,\) or \(3, C\)"),
        (lambda: label_energy(np.eye(3), np.zeros(3), 1), "y must not be all zeros"),
        (lambda: label_energy(np.eye(3), np.ones(3), 0), r"k must be an integer in \[1, 3\]"),
        (lambda: label_energy(np.eye(3), np.ones(3), 4), r"k must be an integer in \[1, 3\]"),
        (lambda: label_energy((np.ones(2), np.eye(3)), np.ones(3), 1), "eigenvalues must have"),
        (lambda: information_gain(np.eye(3), np.ones(3), np.ones(2), 1), "y must have shape"),
    ],
)
def test_bad_arguments_name_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(("n", "k"), [(40, 1), (40, 5), (300, 5), (300, 17), (9, 9)])
def test_top_k_eigh_equals_the_full_decomposition(n: int, k: int) -> None:
    """ntk_eigh(theta, k) (LAPACK syevx) against numpy's full eigh in float64, and the energies
    label_energy computes from it against those of the full decomposition."""
    rng = np.random.default_rng(n + k)
    features = rng.normal(size=(n, 3))
    theta = np.maximum(features @ features.T, 0.0) + 1e-3 * _kernel(n, k)  # a ReLU-like kernel
    full_values, full_vectors = np.linalg.eigh(theta)
    full_values, full_vectors = full_values[::-1], full_vectors[:, ::-1]
    scale = full_values[0]
    for kernel in (theta, torch.from_numpy(theta)):
        values, vectors = ntk_eigh(kernel, k)
        values, vectors = np.asarray(values), np.asarray(vectors)
        assert values.shape == (k,) and vectors.shape == (n, k)
        np.testing.assert_allclose(values, full_values[:k], rtol=0, atol=1e-12 * scale)
        # the same eigenvectors up to sign (the top-k eigenvalues are distinct here)
        np.testing.assert_allclose(np.abs(np.sum(vectors * full_vectors[:, :k], axis=0)), 1.0,
                                   atol=1e-10)  # fmt: skip
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(k), atol=1e-12)
    y = np.eye(4)[rng.integers(0, 4, size=n)]
    for j in range(1, k + 1):
        top = full_vectors[:, :j]
        expected = np.sum((top.T @ y) ** 2) / np.sum(y**2)
        assert label_energy(theta, y, j) == pytest.approx(expected, rel=1e-12, abs=1e-14)
        assert label_energy(ntk_eigh(theta, k), y, j) == pytest.approx(expected, rel=1e-12)


def test_top_k_eigh_keeps_the_torch_kind_and_bounds_k() -> None:
    theta = torch.from_numpy(_kernel(8, 6)).float()
    values, vectors = ntk_eigh(theta, 3)
    assert values.dtype == vectors.dtype == torch.float32 and vectors.shape == (8, 3)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 8\]"):
        ntk_eigh(theta, 9)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        label_energy((values, vectors), np.ones(8), 4)  # a pair of 3 eigenpairs holds no more
