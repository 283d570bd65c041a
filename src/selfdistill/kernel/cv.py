"""Model selection of kernel self-distillation from one eigendecomposition per fold and ``gamma``.

Every candidate ``(lam, alpha, steps)`` is a spectral filter on the eigenbasis of the fold's
training Gram matrix ``K = V D V^T`` (Borup & Andersen 2021, Lemma 4.2 and eq. 13): the
predictions of step ``t`` on the fold's test inputs are

    f_t(x) = k(x, X) V (D + lam I)^-1 S^(t) V^T y,   S^(t) = (1 - alpha) B^(t-1) + alpha I,

and ``S^(t)`` is a polynomial of degree ``t - 1`` in ``A = D (D + lam I)^-1`` whose coefficients
depend on ``alpha`` only (:func:`selfdistill.kernel.spectral.filter_polynomials`). So per fold and
``gamma`` the work is: one eigendecomposition, one product ``P = k(X_test, X) V``, then per ``lam``
one matrix product of ``P`` with the ``max_steps`` basis filters ``A^j (D + lam I)^-1 (V^T y)``
(all ``lam`` in one GEMM), and per ``(alpha, steps)`` a combination of ``max_steps`` test
vectors. The ridge never divides by an eigenvalue, so a singular fold kernel (null space, rank
deficiency) is scored exactly like the estimator's Cholesky solve of ``K + lam I``.

``cv="gcv"`` scores the smoother ``S = V diag(B^(t)) V^T`` of the full data by generalised
cross-validation, ``GCV = mean(((I - S) y)^2) / (1 - tr(S) / n)^2`` (Golub, Heath & Wahba 1979),
with ``B^(t)`` from :func:`selfdistill.kernel.spectral.b_recursion`: ``O(n)`` per candidate. For
``steps = 1`` this is the classical GCV of kernel ridge regression, which rests on ridge's
leave-one-out identity (refitting with ``y_i`` replaced by its own leave-one-out prediction
leaves the fit unchanged). The smoother of ``steps >= 2`` is still linear in ``y`` (a polynomial
in the ridge hat matrix), but a multi-step refit has no such identity, so for ``steps >= 2`` GCV
is an approximation with no leave-one-out guarantee.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._util.validation import check_choice, check_int, check_numeric_columns, check_real
from .classifier import SelfDistilledKernelClassifier, pm_one_targets, scores_to_labels
from .functions import check_kernel_params, kernel_matrix
from .nystrom import select_centres
from .nystrom_cv import SUM_SCORINGS, nystrom_cv_scores, nystrom_fold_spectrum, nystrom_pass
from .nystrom_estimator import check_nystrom_params, validate_nystrom_input
from .nystrom_fit import check_centres_count, fit_from_statistics
from .ridge import (
    SelfDistilledKernelRidge,
    check_kernel,
    check_kernel_input,
    target_columns,
)
from .spectral import b_recursion, eigh_descending, filter_polynomials, shrink_factors

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_LAMS",
    "SelfDistilledKernelClassifierCV",
    "SelfDistilledKernelRidgeCV",
    "gcv_scores",
]

#: Default ridge grid: 17 values 1e-5, 10^-4.5, ..., 1e3. The Gram matrix of standardised data
#: under an RBF kernel has eigenvalues between ~0 and ``n``; this spans interpolation to heavy
#: smoothing for ``n`` up to some 10^4.
DEFAULT_LAMS: tuple[float, ...] = tuple(float(v) for v in np.logspace(-5, 3, 17))
#: Default alpha grid: 0, 0.1, ..., 1.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))
#: Largest number of basis columns ``n_train x (lams x steps x outputs)`` formed at once.
_CHUNK_ELEMENTS = 4_000_000


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------
def _check_grid(
    name: str, values: object, *, low: float, high: float | None = None, low_inclusive: bool
) -> tuple[float, ...]:
    """A non-empty 1-D sequence of finite reals in the given range, as a tuple of floats."""
    if np.ndim(values) != 1:  # a string or bytes is 0-D too  # type: ignore[arg-type]
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got {values!r}")
    seq = list(values)  # type: ignore[call-overload]
    if not seq:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got an empty one")
    return tuple(
        check_real(f"{name}[{i}]", v, low=low, high=high, low_inclusive=low_inclusive)
        for i, v in enumerate(seq)
    )


def _kernel_arguments(kernel: object) -> tuple[str, ...] | None:
    """Keyword arguments a named kernel accepts (None: any, for a callable)."""
    if callable(kernel):
        return None
    if kernel in PAIRWISE_KERNEL_FUNCTIONS:
        sig = inspect.signature(PAIRWISE_KERNEL_FUNCTIONS[kernel])
        return tuple(p for p in sig.parameters if p not in ("X", "Y"))
    return ()


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def _neg_mse(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
    E = F - Y[:, None, :]
    return -np.mean(np.mean(E * E, axis=0), axis=1)


def _neg_rmse(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
    E = F - Y[:, None, :]
    return -np.mean(np.sqrt(np.mean(E * E, axis=0)), axis=1)


def _neg_mae(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return -np.mean(np.mean(np.abs(F - Y[:, None, :]), axis=0), axis=1)


def _r2(F: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``sklearn.metrics.r2_score`` (uniform average, ``force_finite=True``) per candidate."""
    if Y.shape[0] < 2:
        # equivalent: a fill of None is an object array that the caller's float array stores as nan
        return np.full(F.shape[1], np.nan)  # pragma: no mutate
    E = F - Y[:, None, :]
    sse = np.sum(E * E, axis=0)  # (m, q)
    sst = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)  # (q,)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - sse / sst
    r2 = np.where(sst == 0.0, np.where(sse == 0.0, 1.0, 0.0), r2)
    return np.mean(r2, axis=1)


_FAST_REGRESSION: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "neg_mean_squared_error": _neg_mse,
    "neg_root_mean_squared_error": _neg_rmse,
    "neg_mean_absolute_error": _neg_mae,
    "r2": _r2,
}


class _FixedRegressor(RegressorMixin, BaseEstimator):
    """Stand-in estimator whose ``predict`` returns given predictions (for any scorer)."""

    def __init__(self, prediction: np.ndarray | None = None) -> None:
        self.prediction = prediction

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.prediction  # type: ignore[return-value]


class _FixedClassifier(ClassifierMixin, BaseEstimator):
    """Stand-in classifier with given scores; ``predict`` and ``decision_function`` from them."""

    def __init__(self, scores: np.ndarray | None = None, classes: np.ndarray | None = None):
        self.scores = scores
        self.classes = classes

    @property
    def classes_(self) -> np.ndarray:
        return self.classes  # type: ignore[return-value]

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        S = self.scores
        return S[:, 0] if S.shape[1] == 1 else S  # type: ignore[union-attr]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return scores_to_labels(self.scores, self.classes)  # type: ignore[arg-type]


def _score_block(
    F: np.ndarray,
    y_test: np.ndarray,
    X_test: np.ndarray,
    scoring: str | Callable | None,
    classes: np.ndarray | None,
) -> np.ndarray:
    """Scores of the candidates whose test predictions are ``F[:, i, :]``."""
    if classes is not None:  # classification: F holds the ±1 scores
        # equivalent: "accuracy" through the per-candidate scorer below gives the same values
        if scoring is None or scoring == "accuracy":  # pragma: no mutate
            labels = scores_to_labels(F, classes)  # (n_test, m)
            return np.mean(labels == y_test[:, None], axis=0)
        scorer = get_scorer(scoring)
        return np.array(
            [
                scorer(_FixedClassifier(F[:, i, :], classes), X_test, y_test)
                for i in range(F.shape[1])
            ]
        )
    Y = target_columns(y_test)
    name = "neg_mean_squared_error" if scoring is None else scoring
    if isinstance(name, str) and name in _FAST_REGRESSION:
        return _FAST_REGRESSION[name](F, Y)
    scorer = get_scorer(name)
    shape = y_test.shape
    return np.array(
        [
            scorer(_FixedRegressor(F[:, i, :].reshape(shape)), X_test, y_test)
            for i in range(F.shape[1])
        ]
    )


# ---------------------------------------------------------------------------------------------
# Spectral core
# ---------------------------------------------------------------------------------------------
def _basis_filters(d: np.ndarray, lams: tuple[float, ...], steps: int) -> np.ndarray:
    """``W[k, l, j] = A_k^j / (d_k + lam_l)``, ``A = d / (d + lam)``; shape (n, n_lam, steps)."""
    W = np.empty((d.shape[0], len(lams), steps))
    for l_idx, lam in enumerate(lams):
        A = shrink_factors(d, lam)
        W[:, l_idx, 0] = 1.0 / (d + lam)
        for j in range(1, steps):
            W[:, l_idx, j] = W[:, l_idx, j - 1] * A
    return W


def _per_split(scores: np.ndarray) -> np.ndarray:
    """Scores of shape (split, gamma, lam, alpha, steps) as (split, candidate), candidates in
    scikit-learn's ParameterGrid order (keys sorted: alpha, gamma, lam, steps)."""
    by_split = scores.transpose(0, 3, 1, 2, 4)
    # equivalent mutant: reshape(..., -2) (numpy reads any negative size as the rest)
    return by_split.reshape(by_split.shape[0], -1)  # pragma: no mutate


def _candidate_predictions(
    K_train: np.ndarray,
    K_test: np.ndarray,
    Y: np.ndarray,
    lams: tuple[float, ...],
    poly: np.ndarray,
) -> Iterable[tuple[int, np.ndarray]]:
    """Yield ``(l, F)``: test predictions ``F``, shape (n_test, n_alpha * steps, q), of ``lams[l]``.

    One eigendecomposition of ``K_train``; candidates ordered alpha-major, steps fastest.
    """
    d, V = eigh_descending(K_train, rtol=0.0)  # negative rounding noise -> 0; nothing else cut
    P = K_test @ V  # (n_test, n)
    n_test = P.shape[0]
    Z = V.T @ Y  # (n, q)
    n, q = Z.shape
    n_alpha, steps, _ = poly.shape
    m = n_alpha * steps
    coef = poly.reshape(m, steps)  # (alpha, t) x power
    W = _basis_filters(d, lams, steps)
    # equivalent: a lower bound of 2 (either max) only changes how the lams are chunked
    per_lam = max(1, _CHUNK_ELEMENTS // max(1, n * steps * q))  # pragma: no mutate
    # equivalent mutant: a step of 1 re-yields overlapping chunks (same values, more work)
    for start in range(0, len(lams), per_lam):  # pragma: no mutate
        block = W[:, start : start + per_lam, :]  # (n, L, T)
        L = block.shape[1]
        R = (block[:, :, :, None] * Z[:, None, None, :]).reshape(n, L * steps * q)
        H = (P @ R).reshape(n_test, L, steps, q)  # basis predictions
        for i in range(L):
            # F[e, c, q] = sum_j coef[c, j] H[e, j, q], as one GEMM over (e, q)
            Hj = np.ascontiguousarray(H[:, i, :, :].transpose(1, 0, 2)).reshape(steps, n_test * q)
            F = (coef @ Hj).reshape(m, n_test, q).transpose(1, 0, 2)  # (n_test, m, q) view
            yield start + i, F


def _split_scores(
    X: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    kernel_args: dict[str, Any],
    lams: tuple[float, ...],
    poly: np.ndarray,
    scoring: str | Callable | None,
    classifier: bool,
) -> np.ndarray:
    """Scores of every ``(lam, alpha, steps)`` on one split for one kernel, shape (n_lam, m)."""
    if kernel_args["kernel"] == "precomputed":
        K_train, K_test = X[np.ix_(train, train)], X[np.ix_(test, train)]
    else:
        K_train = kernel_matrix(X[train], **kernel_args)
        K_test = kernel_matrix(X[test], X[train], **kernel_args)
    classes = None
    if classifier:
        classes, Y = pm_one_targets(y[train], name="y of a training fold (cv)")
    else:
        Y = target_columns(y[train])
    n_alpha, steps, _ = poly.shape
    out = np.empty((len(lams), n_alpha * steps))
    for l_idx, F in _candidate_predictions(K_train, K_test, Y, lams, poly):
        out[l_idx] = _score_block(F, y[test], X[test], scoring, classes)
    return out


def gcv_scores(
    eigvals: np.ndarray,
    Z: np.ndarray,
    lams: tuple[float, ...],
    alphas: tuple[float, ...],
    steps: int,
    *,
    n_samples: int | None = None,
    null_sq: np.ndarray | None = None,
) -> np.ndarray:
    """Generalised cross-validation of every ``(lam, alpha, t)`` from the spectrum of the full data.

    ``GCV = (1/n) sum_k (1 - B_k)^2 z_k^2 / (1 - sum_k B_k / n)^2`` with ``B = B^(t)`` (Borup
    eq. 12, :func:`~selfdistill.kernel.spectral.b_recursion`) and ``z = V^T y`` (averaged over
    output columns). Exact GCV of the linear smoother ``S = V diag(B^(t)) V^T``; as an estimate of
    the leave-one-out error it is classical for ``t = 1`` and an approximation for ``t >= 2``.

    Parameters
    ----------
    eigvals : ndarray of shape (n,)
        Eigenvalues of the full Gram matrix.
    Z : ndarray of shape (n, q)
        ``V^T y``.
    lams, alphas : tuple of float
        Grids.
    steps : int
        Largest step.
    n_samples : int, optional
        ``n`` when ``eigvals`` holds only part of the spectrum (the Nyström kernel's non-zero
        eigenvalues); the others are 0 and add their energy ``null_sq`` (per column of ``Z``) to
        the residual (``B = 0`` there).
    null_sq : ndarray of shape (q,), optional

    Returns
    -------
    ndarray of shape (n_lam, n_alpha, steps)
        GCV values (``inf`` where ``tr(S) = n``).
    """
    n = eigvals.shape[0] if n_samples is None else n_samples
    z2 = Z * Z
    # equivalent: dtype=float dropped (the sum with float64 residuals promotes anyway)
    null = 0.0 if null_sq is None else np.asarray(null_sq, dtype=float)  # pragma: no mutate
    out = np.empty((len(lams), len(alphas), steps))
    for l_idx, lam in enumerate(lams):
        for a_idx, alpha in enumerate(alphas):
            B = b_recursion(eigvals, np.full(steps, lam), np.full(steps, alpha))  # (T, n)
            resid = np.mean((1.0 - B) ** 2 @ z2 + null, axis=1) / n
            denom = (1.0 - B.sum(axis=1) / n) ** 2
            with np.errstate(divide="ignore", invalid="ignore"):
                out[l_idx, a_idx] = np.where(denom > 0.0, resid / denom, np.inf)
    return out


# ---------------------------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------------------------
class _BaseKernelCV(BaseEstimator):
    """Shared search of the regressor and the classifier (see the module docstring)."""

    _classifier = False

    def __init__(
        self,
        kernel: str | Callable[..., float] = "rbf",
        *,
        gammas: Iterable[float] | None = None,
        lams: Iterable[float] | None = None,
        alphas: Iterable[float] | None = None,
        max_steps: int = 10,
        cv: int | str | Any = 5,
        scoring: str | Callable | None = None,
        refit: bool = True,
        n_jobs: int | None = None,
        random_state: int | None = None,
        n_components: int | None = None,
        block_size: int = 4096,
        dtype: str = "float64",
        **kernel_params: Any,
    ) -> None:
        self.kernel = kernel
        self.gammas = gammas
        self.lams = lams
        self.alphas = alphas
        self.max_steps = max_steps
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.n_components = n_components
        self.block_size = block_size
        self.dtype = dtype
        self._kernel_params = dict(kernel_params)

    # ------------------------------------------------------------- parameters (**kernel_params)
    # equivalent: ``deep`` only expands parameters that are estimators, and none of ours is
    def get_params(self, deep: bool = True) -> dict[str, Any]:  # pragma: no mutate
        """Parameters, the kernel's keyword arguments (``**kernel_params``) included."""
        params = super().get_params(deep=deep)  # pragma: no mutate
        params.update(self._kernel_params)
        return params

    def set_params(self, **params: Any) -> _BaseKernelCV:
        """Set parameters; names that are not constructor arguments become kernel parameters."""
        own = set(self._get_param_names())
        extra = {k: v for k, v in params.items() if k not in own and "__" not in k}
        self._kernel_params.update(extra)
        super().set_params(**{k: v for k, v in params.items() if k not in extra})
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags

    # ------------------------------------------------------------- validation
    def _check_params(self) -> tuple[list[float | None], tuple, tuple, int, dict[str, Any]]:
        check_kernel(self.kernel)
        accepted = _kernel_arguments(self.kernel)
        kp = dict(self._kernel_params)
        if accepted is not None:
            for name in kp:
                if name not in accepted:
                    raise ValueError(
                        f"kernel parameter {name!r} is not accepted by kernel={self.kernel!r} "
                        f"(accepted: {', '.join(accepted) or 'none'})"
                    )
        if self.gammas is None:
            gammas: list[float | None] = [kp.get("gamma")]
        else:
            if accepted is None or "gamma" not in accepted:
                raise ValueError(f"gammas must be None: kernel={self.kernel!r} takes no gamma")
            if "gamma" in kp:
                raise ValueError("give gammas (a grid) or gamma (one value), not both")
            gammas = list(
                _check_grid(
                    "gammas",
                    self.gammas,
                    low=0.0,
                    # equivalent: low_inclusive=None (falsy, as False)
                    low_inclusive=False,  # pragma: no mutate
                )
            )
        kp.pop("gamma", None)
        lams = (
            DEFAULT_LAMS
            if self.lams is None
            else _check_grid(
                "lams",
                self.lams,
                low=0.0,
                # equivalent: low_inclusive=None (falsy, as False)
                low_inclusive=False,  # pragma: no mutate
            )
        )
        alphas = (
            DEFAULT_ALPHAS
            if self.alphas is None
            else _check_grid("alphas", self.alphas, low=0.0, high=1.0, low_inclusive=True)
        )
        max_steps = check_int("max_steps", self.max_steps, low=1)
        if self.n_jobs is not None:
            check_int("n_jobs", self.n_jobs)
        if not isinstance(self.refit, bool):
            raise ValueError(f"refit must be True or False, got {self.refit!r}")
        ridge_args = {
            "kernel": self.kernel,
            "degree": kp.pop("degree", 3),
            "coef0": kp.pop("coef0", 1),
            "kernel_params": kp or None,
        }
        check_kernel_params(self.kernel, gammas[0], ridge_args["degree"], ridge_args["coef0"])
        return gammas, lams, alphas, max_steps, ridge_args

    def _check_scoring(self) -> None:
        if self.cv == "gcv":
            return
        try:
            get_scorer(self.scoring)
        except (ValueError, TypeError):
            raise ValueError(
                f"scoring must be None, a callable or a scikit-learn scorer name, "
                f"got {self.scoring!r}"
            ) from None

    def _splits(self, X: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        n = X.shape[0]
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            k = check_int("cv", cv, low=2)
            if k > n:
                raise ValueError(f"cv={k} folds need at least {k} samples, got n_samples={n}")
            shuffle = self.random_state is not None
            kind = StratifiedKFold if self._classifier else KFold
            splitter = kind(k, shuffle=shuffle, random_state=self.random_state)
        elif isinstance(cv, bool) or cv is None:
            raise ValueError(
                f"cv must be an int >= 2, 'gcv', a splitter or an iterable, got {cv!r}"
            )
        else:
            try:
                splitter = check_cv(cv)  # an int never gets here: y and classifier would not matter
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"cv must be an int >= 2, 'gcv', a splitter or an iterable of (train, test) "
                    f"index arrays, got {cv!r} ({exc})"
                ) from None
        splits = []
        for i, (train, test) in enumerate(splitter.split(X, y)):
            train, test = np.asarray(train), np.asarray(test)
            if train.size == 0 or test.size == 0:
                part = "training" if train.size == 0 else "test"
                raise ValueError(f"cv yielded an empty {part} part in split {i}")
            if train.dtype == bool:
                train = np.flatnonzero(train)
            if test.dtype == bool:
                test = np.flatnonzero(test)
            splits.append((train.astype(np.intp), test.astype(np.intp)))
        if not splits:
            raise ValueError("cv yielded no split")
        return splits

    def _validate_y(self, y: np.ndarray) -> np.ndarray:
        # equivalent: dtype dropped (integer targets give bit-identical scores and refits: every
        # product promotes them to float64)
        return np.asarray(y, dtype=np.float64)  # pragma: no mutate

    # ------------------------------------------------------------- fit
    def fit(self, X: np.ndarray, y: np.ndarray) -> _BaseKernelCV:
        """Score every ``(gamma, lam, alpha, steps)`` and refit the best (``refit=True``).

        Parameters
        ----------
        X : array-like of shape (n, d)
            Inputs (``(n, n)`` Gram matrix for ``kernel="precomputed"``).
        y : array-like of shape (n,) or (n, q)
            Targets (regressor) or class labels (classifier, 1-D).

        Returns
        -------
        self
        """
        gammas, lams, alphas, max_steps, ridge_args = self._check_params()
        nystrom = check_nystrom_params(self)
        if nystrom is not None:
            return self._fit_nystrom(X, y, gammas, lams, alphas, max_steps, ridge_args, nystrom)
        self._check_scoring()
        n_rows = getattr(X, "shape", (None,))[0]
        y_rows = getattr(y, "shape", (None,))[0]
        if n_rows is not None and y_rows is not None and n_rows != y_rows:
            raise ValueError(f"y must have one row per row of X: X has {n_rows}, y has {y_rows}")
        check_numeric_columns(X)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float64,
            multi_output=not self._classifier,
            # equivalent: y_numeric None (falsy) or dropped: the regressor's _validate_y casts
            # its targets to float64, the classifier's are labels (y_numeric False)
            y_numeric=not self._classifier,  # pragma: no mutate
        )
        check_kernel_input(self.kernel, "X", X, fit=True)
        y = self._validate_y(y)
        poly = filter_polynomials(np.asarray(alphas), max_steps)
        n_g, n_l, n_a, T = len(gammas), len(lams), len(alphas), max_steps
        if self.cv == "gcv":
            if self.scoring is not None:
                raise ValueError(
                    f"scoring must be None with cv='gcv' (the score is -GCV, an estimate of the "
                    f"mean squared error), got {self.scoring!r}"
                )
            scores = self._gcv(X, y, gammas, lams, alphas, T, ridge_args)[None]
            self.n_splits_ = 0
        else:
            if isinstance(self.cv, str):
                check_choice("cv", self.cv, ("gcv",))
            splits = self._splits(X, y)
            self.n_splits_ = len(splits)
            jobs = [
                delayed(_split_scores)(
                    X,
                    y,
                    train,
                    test,
                    {**ridge_args, "gamma": g},
                    lams,
                    poly,
                    self.scoring,
                    self._classifier,
                )
                for train, test in splits
                for g in gammas
            ]
            raw = Parallel(n_jobs=self.n_jobs)(jobs)
            scores = np.asarray(raw).reshape(len(splits), n_g, n_l, n_a, T)
        per_split = _per_split(scores)
        self._store_results(per_split, gammas, lams, alphas, T)
        if self.refit:
            self.best_estimator_ = self._estimator(ridge_args, **self.best_params_).fit(X, y)
        return self

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return target_columns(y)

    # ------------------------------------------------------------- Nyström (n_components)
    def _nystrom_scoring(self) -> str | None:
        allowed = ("accuracy", "neg_mean_squared_error") if self._classifier else SUM_SCORINGS
        if self.scoring is not None and self.scoring not in allowed:
            raise ValueError(
                f"scoring must be None or one of {', '.join(map(repr, allowed))} with "
                f"n_components (scored from accumulated sums), got {self.scoring!r}"
            )
        if self._classifier and self.scoring is None:
            return "accuracy"
        return self.scoring

    def _fit_nystrom(self, X, y, gammas, lams, alphas, T, ridge_args, nystrom) -> _BaseKernelCV:
        """``n_components`` set: every candidate from ONE pass (module ``nystrom_cv``)."""
        m, block_size, dtype = nystrom
        gcv = self.cv == "gcv"
        if gcv and self.scoring is not None:
            raise ValueError(f"scoring must be None with cv='gcv', got {self.scoring!r}")
        scoring = self._nystrom_scoring()
        X, y = validate_nystrom_input(self, X, y, classifier=self._classifier)
        y = self._validate_y(y)
        Y = self._targets(y)
        if isinstance(self.cv, str) and not gcv:
            check_choice("cv", self.cv, ("gcv",))
        splits = [] if gcv else self._splits(X, y)
        self.n_splits_ = len(splits)
        seed = self.random_state
        if seed is None:  # one draw shared by the search and the refit (the same centres)
            # equivalent: 2 * 31 or 2**32 (any range of valid seeds, < 2**32, draws valid centres)
            seed = int(np.random.default_rng().integers(2**31))  # pragma: no mutate
        m = check_centres_count(m, Y.shape[0])
        centres = select_centres(X, m, seed)
        kernel_args = [{**ridge_args, "gamma": g} for g in gammas]
        if gcv:
            scores, accs = self._nystrom_gcv(X, Y, centres, kernel_args, lams, alphas, T, nystrom)
        else:
            scores, accs = nystrom_cv_scores(
                X,
                Y,
                splits,
                centres=centres,
                kernel_args=kernel_args,
                lams=lams,
                alphas=alphas,
                max_steps=T,
                scoring=scoring,
                dtype=dtype,
                block_size=block_size,
                # equivalent mutant (y_labels always given): they are read only for accuracy,
                # which the regressor refuses (allowed scorings above)
                y_labels=y if self._classifier else None,  # pragma: no mutate
                classes=getattr(self, "classes_", None),
            )
        per_split = _per_split(scores)
        self._store_results(per_split, gammas, lams, alphas, T)
        if self.refit:
            best = self.best_params_
            nystrom_args = {"n_components": m, "block_size": block_size, "dtype": dtype}
            est = self._estimator({**ridge_args, **nystrom_args, "random_state": seed}, **best)
            steps = best["steps"]
            fit = fit_from_statistics(
                accs[gammas.index(best["gamma"])],
                lam=best["lam"],
                epsilon=None,
                steps=steps,
                alphas=np.r_[np.nan, np.full(steps - 1, best["alpha"])],
                mode="fixed",
            )
            self.best_estimator_ = self._refitted(est, fit, y, Y)
        return self

    def _nystrom_gcv(self, X, Y, centres, kernel_args, lams, alphas, T, nystrom):
        """GCV of the Nyström smoother from one pass: the spectrum ``d`` of ``K~`` and the energy
        of ``y`` outside its range (the ``n - r`` zero eigenvalues, where ``B = 0``)."""
        _, block_size, dtype = nystrom
        accs = nystrom_pass(X, Y, centres, kernel_args, dtype=dtype, block_size=block_size)
        out = np.empty((1, len(kernel_args), len(lams), len(alphas), T))
        for g_idx, acc in enumerate(accs):
            spec = nystrom_fold_spectrum(acc, None)
            out[0, g_idx] = -gcv_scores(
                spec.eigvals,
                spec.range_coords(),
                lams,
                alphas,
                T,
                n_samples=spec.n_samples,
                null_sq=spec.null_sq(),
            )
        return out, accs

    def _refitted(self, est, fit, y: np.ndarray, Y: np.ndarray):
        return est._set_nystrom_fit(fit, Y, y.ndim)

    def _gcv(self, X, y, gammas, lams, alphas, T, ridge_args) -> np.ndarray:
        Y = self._targets(y)
        out = np.empty((len(gammas), len(lams), len(alphas), T))
        for g_idx, g in enumerate(gammas):
            d, V = eigh_descending(kernel_matrix(X, **ridge_args, gamma=g), rtol=0.0)
            out[g_idx] = -gcv_scores(d, V.T @ Y, lams, alphas, T)
        return out

    def _store_results(self, per_split, gammas, lams, alphas, T) -> None:
        grid = [
            {"alpha": a, "gamma": g, "lam": lam, "steps": t}
            for a in alphas
            for g in gammas
            for lam in lams
            for t in range(1, T + 1)
        ]
        mean = per_split.mean(axis=0)
        std = per_split.std(axis=0)
        finite = np.where(np.isnan(mean), -np.inf, mean)
        rank = rankdata(-finite, method="min").astype(np.int32)
        results: dict[str, Any] = {"params": grid}
        for key in ("gamma", "lam", "alpha", "steps"):
            values = [p[key] for p in grid]  # all None (gamma) or all numbers: dtype object or not
            # equivalent mutant: mask=None (numpy builds the same all-False mask array)
            column = np.array(values)
            results[f"param_{key}"] = np.ma.MaskedArray(column, mask=False)  # pragma: no mutate
        if self.cv != "gcv":
            for k in range(per_split.shape[0]):
                results[f"split{k}_test_score"] = per_split[k]
        results["mean_test_score"] = mean
        results["std_test_score"] = std
        results["rank_test_score"] = rank
        self.cv_results_ = results
        self.best_index_ = int(np.argmin(rank))
        self.best_params_ = dict(grid[self.best_index_])
        self.best_score_ = float(mean[self.best_index_])

    def _estimator(self, ridge_args: dict[str, Any], *, gamma, lam, alpha, steps):
        raise NotImplementedError

    # ------------------------------------------------------------- delegation
    def _best(self):
        check_is_fitted(self)
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(
                "refit=False: this search has no best_estimator_; refit with refit=True"
            )
        return self.best_estimator_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions of :attr:`best_estimator_` (needs ``refit=True``)."""
        return self._best().predict(X)


class SelfDistilledKernelRidgeCV(RegressorMixin, _BaseKernelCV):
    """Select ``(gamma, lam, alpha, steps)`` of :class:`~selfdistill.SelfDistilledKernelRidge`.

    One eigendecomposition per (split, gamma); every ``(lam, alpha)`` gives all steps
    ``1..max_steps`` (module docstring). Each ``mean_test_score`` equals what
    :class:`~sklearn.model_selection.GridSearchCV` of the estimator reports on the same splits (to
    rounding). Because step 1 is plain kernel ridge, ``best_score_`` is never below the best plain
    kernel ridge on the same ``(gamma, lam)`` grid.

    Parameters
    ----------
    kernel : str or callable, default="rbf"
        As in :class:`~selfdistill.SelfDistilledKernelRidge` (``"precomputed"``: ``X`` is the
        full Gram matrix; folds slice it).
    gammas : sequence of float > 0, optional
        Kernel ``gamma`` grid. None: the ``gamma`` keyword (``**kernel_params``) as one value,
        or the kernel's default (``1 / n_features`` for sklearn's kernels) when absent. Only for
        kernels that take ``gamma``.
    lams : sequence of float > 0, optional
        Ridge grid; default :data:`DEFAULT_LAMS` (17 values ``1e-5 .. 1e3``, log-spaced).
    alphas : sequence of float in [0, 1], optional
        Ground-truth weights (one constant alpha per candidate); default ``0, 0.1, ..., 1``.
    max_steps : int, default=10
        Steps ``1..max_steps`` are all scored (step 1 is plain kernel ridge, alpha irrelevant).
    cv : int, "gcv", splitter or iterable, default=5
        An int: (Stratified for the classifier) K-fold, shuffled with ``random_state`` when that
        is given; any scikit-learn splitter or iterable of (train, test) indices; or ``"gcv"``:
        generalised cross-validation on the full data (module docstring; an approximation for
        ``steps >= 2``; ``scoring`` must then be None and the score is ``-GCV``).
    scoring : str, callable or None
        None: negative mean squared error (uniform average over output columns). Any
        scikit-learn scorer name or callable ``scorer(estimator, X, y)``;
        ``neg_mean_squared_error``, ``neg_root_mean_squared_error``, ``neg_mean_absolute_error``
        and ``r2`` are vectorised, others are called per candidate.
    refit : bool, default=True
        Refit the best candidate on all data as :attr:`best_estimator_`.
    n_jobs : int or None
        joblib workers over (split, gamma) pairs (scikit-learn's convention; any joblib backend).
    random_state : int or None
        Seed of the shuffled K-fold when ``cv`` is an int (None: no shuffling).
    **kernel_params
        Further keyword arguments of the kernel (``gamma``, ``degree``, ``coef0``, ...).

    Attributes
    ----------
    cv_results_ : dict of ndarrays
        scikit-learn's layout: ``params``, ``param_gamma``, ``param_lam``, ``param_alpha``,
        ``param_steps``, ``split{k}_test_score``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score``; candidates in :class:`sklearn.model_selection.ParameterGrid` order
        (alpha, gamma, lam, steps; steps fastest), so ties resolve as in ``GridSearchCV``.
    best_params_ : dict
        ``{"gamma", "lam", "alpha", "steps"}`` of the best mean score (first among ties).
    best_score_ : float
    best_index_ : int
    best_estimator_ : SelfDistilledKernelRidge
        Fitted on all data with :attr:`best_params_` (when ``refit``).
    n_splits_ : int
        Number of splits (0 for ``"gcv"``).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from selfdistill import SelfDistilledKernelRidgeCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(60, 1))
    >>> y = np.sin(6 * X[:, 0]) + 0.1 * rng.normal(size=60)
    >>> search = SelfDistilledKernelRidgeCV(gammas=[1.0, 10.0], lams=[1e-3, 1e-1]).fit(X, y)
    >>> sorted(search.best_params_)
    ['alpha', 'gamma', 'lam', 'steps']
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _estimator(self, ridge_args, *, gamma, lam, alpha, steps) -> SelfDistilledKernelRidge:
        return SelfDistilledKernelRidge(
            **ridge_args, gamma=gamma, lam=lam, alpha=alpha, steps=steps
        )


class SelfDistilledKernelClassifierCV(ClassifierMixin, _BaseKernelCV):
    """Select ``(gamma, lam, alpha, steps)`` of the self-distilled kernel classifier.

    :class:`SelfDistilledKernelRidgeCV` on the ``±1`` encoding of the labels
    (:class:`~selfdistill.SelfDistilledKernelClassifier`), encoded per training fold from that
    fold's classes (as a refit would). Accuracy compares the argmax of scores computed in the
    eigenbasis with the estimator's Cholesky path: equal unless a test point's two best scores tie
    to rounding.

    Parameters
    ----------
    kernel, gammas, lams, alphas, max_steps, cv, refit, n_jobs, random_state, **kernel_params
        As in :class:`SelfDistilledKernelRidgeCV`; an int ``cv`` is a ``StratifiedKFold``. With
        ``cv="gcv"`` the score is ``-GCV`` of the ``±1`` regression.
    scoring : str, callable or None
        None: accuracy (vectorised over the candidates). Any scikit-learn classification scorer
        name or callable ``scorer(estimator, X, y)`` (called per candidate, on a stand-in with
        ``predict`` and ``decision_function``).

    Attributes
    ----------
    cv_results_, best_params_, best_score_, best_index_, n_splits_, n_features_in_
        As in :class:`SelfDistilledKernelRidgeCV`.
    best_estimator_ : SelfDistilledKernelClassifier
        Fitted on all data with :attr:`best_params_` (when ``refit``).
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, sorted.
    """

    _classifier = True

    def _validate_y(self, y: np.ndarray) -> np.ndarray:
        # equivalent: warn dropped or False (validate_data / validate_nystrom_input have already
        # turned a column y into 1-D, with scikit-learn's DataConversionWarning)
        y = column_or_1d(y, warn=True)  # pragma: no mutate
        check_classification_targets(y)
        self.classes_, _ = pm_one_targets(y)
        return y

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return pm_one_targets(y)[1]

    def _estimator(self, ridge_args, *, gamma, lam, alpha, steps) -> SelfDistilledKernelClassifier:
        return SelfDistilledKernelClassifier(
            **ridge_args, gamma=gamma, lam=lam, alpha=alpha, steps=steps
        )

    def _refitted(self, est, fit, y: np.ndarray, Y: np.ndarray) -> SelfDistilledKernelClassifier:
        ridge = SelfDistilledKernelRidge(**est.get_params())
        est.ridge_ = ridge._set_nystrom_fit(fit, Y, 2)
        est.classes_ = self.classes_
        est.n_features_in_ = self.n_features_in_
        return est

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores of :attr:`best_estimator_` (needs ``refit=True``)."""
        return self._best().decision_function(X)
