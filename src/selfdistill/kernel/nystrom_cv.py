"""Cross-validation of Nyström self-distillation from ONE pass over the data.

For every fold ``f`` one pass accumulates ``G_f = K_fm^T K_fm``, ``b_f = K_fm^T y_f``,
``y_f^T y_f`` and ``n_f`` (:class:`~selfdistill.kernel.nystrom.NystromAccumulator` with fold
labels; all ``gamma`` in the same pass). The training statistics of fold ``f`` are the totals
minus the fold's own, so each fold's fit is an ``m x m`` eigenproblem
(:func:`~selfdistill.kernel.nystrom_steps.nystrom_spectrum`), and the validation error of any
coefficient vector ``beta`` on the fold comes from the fold's sums, never from its rows:

    |K_fm beta - y_f|^2 = beta^T G_f beta - 2 beta^T b_f + y_f^T y_f.

Every candidate ``(lam, alpha, t)`` is a filter polynomial on the fold's spectrum (Borup
Lemma 4.2 eq. 12 unrolled, :func:`selfdistill.kernel.spectral.filter_polynomials`):
``beta = P E_lam c_(alpha,t)`` with the ``max_steps`` basis columns
``E_lam[:, j] = A^j / (d + lam) * h`` and ``c_(alpha,t)`` the polynomial's coefficients. So per
fold and ``lam`` one ``T x T`` matrix ``H = E^T (P^T G_f P) E`` and one vector ``E^T P^T b_f``
give the squared error of all ``(alpha, t)`` at once. Scores available from sums: the negative
mean squared error (default), its root and R^2 (with ``sum y_f``). Accuracy (classification,
one ``±1`` column per class) depends on the argmax of each row's scores, which no sum keeps: it
takes a second pass in which each row is scored by its own fold's fit (:func:`_accuracy_pass`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .classifier import scores_to_labels
from .nystrom import NystromAccumulator, kernel_block
from .nystrom_fit import n_rows
from .nystrom_steps import CENTRE_RTOL, NystromSpectrum, nystrom_spectrum, whitening
from .spectral import filter_polynomials

__all__ = [
    "SUM_SCORINGS",
    "centre_whitening",
    "fold_labels",
    "fold_squared_errors",
    "nystrom_cv_scores",
    "nystrom_fold_spectrum",
    "nystrom_pass",
]

#: Scorers computed from accumulated sums (no second pass); None means the first.
SUM_SCORINGS: tuple[str, ...] = (
    "neg_mean_squared_error",
    "neg_root_mean_squared_error",
    "r2",
)


def fold_labels(splits: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, int]:
    """Fold label of every row from (train, test) splits whose test parts are disjoint.

    Rows in no test part get label ``len(splits)`` (always training). Returns the labels and the
    number of groups.

    Raises
    ------
    ValueError
        If two test parts share a row, or a split's training part is not every other row (the
        one-pass statistics need training = total - fold).
    """
    k = len(splits)
    labels = np.full(n, k, dtype=np.intp)
    for i, (_, test) in enumerate(splits):
        if np.any(labels[test] != k):
            raise ValueError(
                "with n_components, cv must give disjoint test parts (KFold, StratifiedKFold, "
                f"GroupKFold, PredefinedSplit, ...): split {i} tests a row of an earlier split"
            )
        labels[test] = i
    for i, (train, _) in enumerate(splits):
        expected = np.flatnonzero(labels != i)
        if train.shape != expected.shape or not np.array_equal(np.sort(train), expected):
            raise ValueError(
                "with n_components, the training part of every split must be all rows outside "
                f"its test part (one-pass statistics); split {i} is not"
            )
    groups = k + 1 if np.any(labels == k) else k
    return labels, groups


def _basis(spec: NystromSpectrum, lam: float, steps: int) -> np.ndarray:
    """``E[k, j, q] = A_k^j h_kq / (d_k + lam)``, shape (r, steps, q)."""
    d = spec.eigvals
    A = d / (d + lam)
    powers = A[:, None] ** np.arange(steps)[None, :]
    return (powers / (d + lam)[:, None])[:, :, None] * spec.h[:, None, :]


def fold_squared_errors(
    spec: NystromSpectrum,
    val_gram: np.ndarray,
    val_target: np.ndarray,
    val_sq: np.ndarray,
    lams: tuple[float, ...],
    poly: np.ndarray,
) -> np.ndarray:
    """Validation sum of squared errors of every ``(lam, alpha, t)`` and column, from sums.

    Parameters
    ----------
    spec : NystromSpectrum
        Spectrum of the fold's training statistics.
    val_gram, val_target, val_sq : ndarray
        ``G_f`` (m, m), ``b_f`` (m, q), ``y_f^T y_f`` (q,) of the validation fold.
    lams : tuple of float
    poly : ndarray of shape (n_alpha, steps, steps)
        :func:`selfdistill.kernel.spectral.filter_polynomials`.

    Returns
    -------
    ndarray of shape (n_lam, n_alpha, steps, q)
    """
    V = spec.basis.T @ val_gram @ spec.basis  # (r, r)
    g = spec.basis.T @ val_target  # (r, q)
    n_a, T, _ = poly.shape
    coef = poly.reshape(n_a * T, T)
    q = g.shape[1]
    out = np.empty((len(lams), n_a, T, q))
    for i, lam in enumerate(lams):
        E = _basis(spec, lam, T)
        for j in range(q):
            Ej = E[:, :, j]
            H = Ej.T @ (V @ Ej)
            lin = Ej.T @ g[:, j]
            quad = np.einsum("ct,ct->c", coef @ H, coef)
            out[i, :, :, j] = (quad - 2.0 * coef @ lin + val_sq[j]).reshape(n_a, T)
    return np.maximum(out, 0.0)


def _score(
    sse: np.ndarray, n_f: int, y_sum: np.ndarray, y_sq: np.ndarray, scoring: str | None
) -> np.ndarray:
    """Scores (n_lam, n_alpha, steps) from per-column validation SSE (uniform column average)."""
    if scoring in (None, "neg_mean_squared_error"):
        return -np.mean(sse / n_f, axis=-1)
    if scoring == "neg_root_mean_squared_error":
        return -np.mean(np.sqrt(sse / n_f), axis=-1)
    sst = y_sq - y_sum * y_sum / n_f
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - sse / sst
    r2 = np.where(sst <= 0.0, np.where(sse == 0.0, 1.0, 0.0), r2)
    return np.mean(r2, axis=-1) if n_f >= 2 else np.full(sse.shape[:-1], np.nan)


def nystrom_pass(
    X: Any,
    Y: np.ndarray,
    centres: np.ndarray,
    kernel_args: list[dict[str, Any]],
    *,
    dtype: str,
    block_size: int,
    labels: np.ndarray | None = None,
    groups: int = 1,
) -> list[NystromAccumulator]:
    """Statistics of every kernel (one per gamma) in a single pass over ``X``, per fold label."""
    accs = [
        NystromAccumulator(
            centres, ka, n_outputs=Y.shape[1], n_folds=groups, dtype=dtype, block_size=block_size
        )
        for ka in kernel_args
    ]
    n = n_rows(X)
    for start in range(0, n, block_size):
        rows = slice(start, min(start + block_size, n))
        Xb = np.asarray(X[rows])
        for acc in accs:
            acc.partial_fit(Xb, Y[rows], None if labels is None else labels[rows])
    return accs


def centre_whitening(acc: NystromAccumulator) -> np.ndarray:
    """:func:`~selfdistill.kernel.nystrom_steps.whitening` of the accumulator's ``K_mm``."""
    K_mm = kernel_block(acc.centres, acc.centres, acc.kernel_args, "float64")
    return whitening(0.5 * (K_mm + K_mm.T), CENTRE_RTOL[acc.dtype])


def nystrom_fold_spectrum(
    acc: NystromAccumulator, fold: int | None, T: np.ndarray | None = None
) -> NystromSpectrum:
    """Spectrum of the training statistics of ``fold`` (all rows minus the fold's; None: all)."""
    T = centre_whitening(acc) if T is None else T
    G, b, yy, n = acc.totals()
    if fold is None:
        return nystrom_spectrum(T, G, b, yy, n)
    return nystrom_spectrum(
        T,
        G - acc.gram(fold),
        b - acc.target_[fold],
        yy - acc.target_sq_[fold],
        n - int(acc.n_samples_[fold]),
    )


def _accuracy_pass(
    X: Any,
    y_labels: np.ndarray,
    classes: np.ndarray,
    labels: np.ndarray,
    specs: list[list[NystromSpectrum]],
    centres: np.ndarray,
    kernel_args: list[dict[str, Any]],
    lams: tuple[float, ...],
    poly: np.ndarray,
    dtype: str,
    block_size: int,
) -> np.ndarray:
    """Accuracy of every candidate: a second pass, each row scored by its own fold's fit only.

    Per row ``x`` of fold ``f``: ``phi = k(x, C) P_f`` once per gamma, then per ``lam`` the
    ``max_steps`` basis predictions ``phi E_lam`` and their combinations for every
    ``(alpha, t)``; the class of largest score (sign for one column) is compared with the label.
    Cost per row and gamma: ``m r + n_lam r max_steps q`` multiply-adds.

    Returns
    -------
    ndarray of shape (n_splits, n_gamma, n_lam, n_alpha, max_steps)
    """
    k = len(specs[0])
    n_a, T, _ = poly.shape
    coef = poly.reshape(n_a * T, T)
    correct = np.zeros((k, len(kernel_args), len(lams), n_a * T))
    counts = np.bincount(labels, minlength=k + 1)[:k]
    n = n_rows(X)
    for start in range(0, n, block_size):
        rows = slice(start, min(start + block_size, n))
        Xb, lab, yb = np.asarray(X[rows]), labels[rows], y_labels[rows]
        for g_idx, ka in enumerate(kernel_args):
            K = kernel_block(Xb, centres, ka, dtype).astype(np.float64, copy=False)
            for f in np.unique(lab[lab < k]):
                sel = lab == f
                spec = specs[g_idx][f]
                phi = K[sel] @ spec.basis
                for l_idx, lam in enumerate(lams):
                    E = _basis(spec, lam, T)  # (r, T, q)
                    H = (phi @ E.reshape(E.shape[0], -1)).reshape(phi.shape[0], T, -1)
                    F = np.einsum("ct,btq->bcq", coef, H)
                    hit = scores_to_labels(F, classes) == yb[sel][:, None]
                    correct[f, g_idx, l_idx] += hit.sum(axis=0)
    acc = correct / counts[:, None, None, None]
    return acc.reshape(k, len(kernel_args), len(lams), n_a, T)


def nystrom_cv_scores(
    X: Any,
    Y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    centres: np.ndarray,
    kernel_args: list[dict[str, Any]],
    lams: tuple[float, ...],
    alphas: tuple[float, ...],
    max_steps: int,
    scoring: str | None = None,
    dtype: str = "float64",
    block_size: int = 4096,
    y_labels: np.ndarray | None = None,
    classes: np.ndarray | None = None,
) -> tuple[np.ndarray, list[NystromAccumulator]]:
    """Scores of every ``(split, gamma, lam, alpha, steps)`` from one pass (module docstring).

    ``kernel_args`` holds one kernel (one ``gamma``) per entry; ``Y`` the ``(n, q)`` targets.
    ``scoring="accuracy"`` (classification: ``Y`` the ``±1`` codes of ``y_labels`` over
    ``classes``) cannot be had from sums: it takes a second pass (:func:`_accuracy_pass`).

    Returns
    -------
    scores : ndarray of shape (n_splits, n_gamma, n_lam, n_alpha, max_steps)
    accumulators : list of NystromAccumulator
        The per-fold statistics of each gamma; their totals are those of all rows, so a refit
        on all data needs no further pass
        (:func:`~selfdistill.kernel.nystrom_fit.fit_from_statistics`).
    """
    labels, groups = fold_labels(splits, n_rows(X))
    accs = nystrom_pass(
        X, Y, centres, kernel_args, dtype=dtype, block_size=block_size, labels=labels,
        groups=groups,
    )  # fmt: skip
    poly = filter_polynomials(np.asarray(alphas), max_steps)
    k = len(splits)
    out = np.empty((k, len(kernel_args), len(lams), len(alphas), max_steps))
    specs: list[list[NystromSpectrum]] = []
    for g_idx, acc in enumerate(accs):
        T = centre_whitening(acc)
        specs.append([])
        for f in range(k):
            spec = nystrom_fold_spectrum(acc, f, T)
            specs[-1].append(spec)
            if scoring == "accuracy":
                continue
            G_f, n_f = acc.gram(f), int(acc.n_samples_[f])
            sse = fold_squared_errors(spec, G_f, acc.target_[f], acc.target_sq_[f], lams, poly)
            out[f, g_idx] = _score(sse, n_f, acc.target_sum_[f], acc.target_sq_[f], scoring)
    if scoring == "accuracy":
        assert y_labels is not None and classes is not None
        out = _accuracy_pass(
            X, y_labels, classes, labels, specs, centres, kernel_args, lams, poly, dtype,
            block_size,
        )  # fmt: skip
    return out, accs
