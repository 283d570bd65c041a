r"""Self-distilled kernel ridge regression in closed form (Borup & Andersen 2021; Mobahi 2020).

Step 1 is kernel ridge regression on ``y``; step $t \ge 2$ fits
$\alpha_t y + (1 - \alpha_t)\, y^{(t-1)}$ where $y^{(t-1)}$ are the previous step's training
predictions (Borup eqs. 3-5):

$$
f_t(x) = k(x, X)\,(K + \lambda_t I)^{-1}\big(\alpha_t\, y + (1 - \alpha_t)\, y^{(t-1)}\big).
$$

Two regimes, picked by the estimator itself:

* **fixed lam** (``lam > 0``): ``K + lam I`` is factored once (Cholesky) and every step is one
  triangular solve; ``y^(t) = targets_t - lam * coef_t`` needs no product with ``K``. The
  spectrum (``eigvals_``, ``eigvecs_``, ``B_``) is computed lazily on first access.
* **epsilon mode** (``lam=None, epsilon > 0``; Mobahi eq. 1, Borup appendix D): ``K`` is
  eigendecomposed once; every step is the diagonal update
  $B^{(t)} = A_t\big((1 - \alpha) B^{(t-1)} + \alpha I\big)$ (Borup Lemma 4.2, Mobahi eq. 13) with
  the ridge $\lambda_t$ found on the spectrum alone
  (:func:`selfdistill.kernel.spectral.epsilon_ridge`), and the coefficients of all steps come
  from one product $V (D + \lambda_t I)^{-1}\big((1 - \alpha) B^{(t-1)} + \alpha I\big) V^\top y$
  -- never through $D^{-1}$.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dtrsv
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._util.validation import check_choice, check_int, check_numeric_columns, check_real
from ..exceptions import CollapseWarning, ToleranceWarning
from .functions import KERNELS, check_kernel_params, check_spline_input, kernel_matrix
from .nystrom_estimator import (
    check_nystrom_params,
    check_same_rows,
    nystrom_attributes,
    validate_nystrom_input,
)
from .nystrom_fit import NystromFit, fit_nystrom
from .nystrom_steps import NystromSpectrum, limit_filter
from .spectral import (
    EIGVAL_RTOL,
    b_recursion,
    eigh_descending,
    epsilon_ridge,
    optimal_alpha,
    shrink_factors,
)

__all__ = [
    "EIGVAL_RTOL",
    "SelfDistilledKernelParams",
    "SelfDistilledKernelRidge",
    "check_kernel",
    "check_kernel_input",
    "target_columns",
]

_OPTIMAL = ("optimal", "optimal-clipped")
#: Relative asymmetry ``max|K - K^T| / max|K|`` above which a precomputed kernel is rejected.
SYMMETRY_RTOL: float = 1e-8


def check_kernel_input(kernel: object, name: str, X: np.ndarray, *, fit: bool) -> None:
    """Check inputs a kernel needs: spline data in ``[0, 1]``, a square symmetric precomputed Gram.

    Raises
    ------
    ValueError
        Naming ``name`` when the input does not suit ``kernel``.
    """
    if kernel == "spline":
        check_spline_input(name, X)
    if kernel == "precomputed" and fit:
        if X.shape[0] != X.shape[1]:
            raise ValueError(
                f'{name} must be a square kernel matrix for kernel="precomputed", '
                f"got shape {X.shape}"
            )
        # an empty Gram matrix is symmetric (X.size guards the max of an empty array); an all-zero
        # one has asymmetry 0, not above the threshold 0
        if X.size and float(np.abs(X - X.T).max()) > SYMMETRY_RTOL * float(np.abs(X).max()):
            raise ValueError(
                f'{name} must be a symmetric kernel matrix for kernel="precomputed" '
                f"(max |K - K^T| / max |K| <= {SYMMETRY_RTOL:g})"
            )


def target_columns(y: np.ndarray) -> np.ndarray:
    """Targets as columns: a 1-D ``y`` is one column, a 2-D one as it is."""
    return y[:, None] if y.ndim == 1 else y


def check_kernel(kernel: object) -> None:
    """Raise ``ValueError`` unless ``kernel`` is a callable or one of :data:`KERNELS`."""
    if not callable(kernel) and kernel not in KERNELS:
        raise ValueError(
            f"kernel must be a callable or one of {', '.join(map(repr, KERNELS))}, got {kernel!r}"
        )


def _warn_epsilon(status: np.ndarray, epsilon: float, q: int) -> None:
    """One CollapseWarning / ToleranceWarning per fit for the first collapsed / limit step."""
    if (status == "collapse").any():
        t, j = np.argwhere(status == "collapse")[0]
        cols = "" if q == 1 else f" (output column {j})"
        warnings.warn(
            f"self-distillation collapsed at step {t + 1}{cols}: the zero function meets "
            f"epsilon = {epsilon:g}, so this step predicts exactly zero",
            CollapseWarning,
            stacklevel=4,  # pragma: no mutate  # checked without mutmut (trampoline frames)
        )
    if (status == "limit").any():
        t, j = np.argwhere(status == "limit")[0]
        warnings.warn(
            f"at step {t + 1} no ridge lam > 0 reaches epsilon = {epsilon:g} (the residual "
            "forced by the kernel's null space and the alpha term exceeds it); took the "
            "lam -> 0+ limit, the minimum-norm fit on the range of K",
            ToleranceWarning,
            stacklevel=4,  # pragma: no mutate  # checked without mutmut (trampoline frames)
        )


class SelfDistilledKernelParams(BaseEstimator):
    """Constructor shared by the self-distilled kernel regressor and classifier (same parameters).

    See :class:`SelfDistilledKernelRidge` for their meaning.
    """

    def __init__(
        self,
        kernel: str | Callable[..., float] = "rbf",
        *,
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict[str, Any] | None = None,
        lam: float | None = 1.0,
        epsilon: float | None = None,
        steps: int = 3,
        alpha: float | Sequence[float] | str = 0.0,
        n_components: int | None = None,
        block_size: int = 4096,
        dtype: str = "float64",
        random_state: int | None = None,
    ) -> None:
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.lam = lam
        self.epsilon = epsilon
        self.steps = steps
        self.alpha = alpha
        self.n_components = n_components
        self.block_size = block_size
        self.dtype = dtype
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags


class SelfDistilledKernelRidge(RegressorMixin, SelfDistilledKernelParams):
    """Kernel ridge regression self-distilled for ``steps`` steps, in closed form.

    Parameters
    ----------
    kernel : str or callable, default="rbf"
        Any kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels`, ``"precomputed"`` (``X``
        is the Gram matrix in ``fit`` and ``k(X_new, X_train)`` in ``predict``), a callable
        ``k(x, x') -> float``, or ``"spline"``: Mobahi et al. section 4 Green's function for
        inputs of one feature in ``[0, 1]`` (:func:`selfdistill.kernel.functions.spline_kernel`).
    gamma, degree, coef0 : float
        Kernel parameters as in :class:`sklearn.kernel_ridge.KernelRidge`.
    kernel_params : dict, optional
        Further keyword arguments of the kernel (callables included).
    lam : float or None, default=1.0
        Fixed ridge ``lam > 0`` of every step (Borup eq. 1). Set ``lam=None`` to use ``epsilon``.
    epsilon : float or None, default=None
        Loss tolerance ``> 0`` of Mobahi's constrained problem (eq. 1; Borup appendix D): at each
        step the ridge is the root at which the step's training loss
        ``alpha mean((f - y)^2) + (1 - alpha) mean((f - y^(t-1))^2)`` equals ``epsilon``, one
        root per output column. Mobahi's multiplier is ``c_t = lam_t / n``.
    steps : int, default=3
        Number of fits, ``>= 1`` (step 1 is ordinary kernel ridge regression).
    alpha : float, sequence of float, "optimal" or "optimal-clipped", default=0.0
        Weight of the ground truth ``y`` in the targets of steps ``2..steps``: one float in
        ``[0, 1]`` for all steps, a sequence of ``steps - 1`` floats in ``[0, 1]``, ``"optimal"``
        (per step the alpha in R minimising the validation squared error, Borup Thm 4.4 /
        Algorithm 1, shared by all output columns: Frobenius norm) or ``"optimal-clipped"``
        (the same clipped to ``[0, 1]``). The optimal variants need ``X_val, y_val`` in ``fit``
        and a fixed ``lam``. ``alpha = 0`` is Mobahi's setting.
    n_components : int or None, default=None
        None: the exact engine (the ``n x n`` Gram matrix). An int ``m >= 1``: self-distillation
        of the Nyström kernel ``k(x, C) K_mm^+ k(C, x')`` on ``m`` centres ``C`` drawn uniformly
        from the rows of ``X`` (seeded by ``random_state``), fitted from one streamed pass over
        ``X`` in blocks of ``block_size`` rows (memory ``O(m^2 + block_size m)`` beyond ``X``;
        :mod:`selfdistill.kernel.nystrom_steps`). ``X`` may then be a numpy memmap, anything
        with ``shape``, ``dtype`` and row slices, or a ``dask.array`` (the ``dask`` extra). An
        ``m`` larger than the number of samples uses every row as a centre, with a warning.
    block_size : int, default=4096
        Rows per kernel block of the Nyström pass (ignored without ``n_components``).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the Nyström kernel blocks and their products (sums are float64 either way;
        float32 is about twice as fast, see docs/kernel.md for its measured error).
    random_state : int or None, default=None
        Seed of the Nyström centres.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n, d)
        Training inputs (the Gram matrix for ``kernel="precomputed"``).
    dual_coefs_ : ndarray of shape (steps, n) or (steps, n, q)
        Coefficients of every step: ``f_t(x) = k(x, X) @ dual_coefs_[t - 1]``.
    alphas_ : ndarray of shape (steps,)
        Ground-truth weight used at each step; the first entry is NaN.
    lams_ : ndarray of shape (steps,) or (steps, q)
        Ridge of each step; ``(steps, q)`` in epsilon mode with 2-D ``y``. ``inf`` marks a
        collapsed step, ``0.0`` a step that took the ``lam -> 0+`` limit.
    collapsed_at_ : int or None
        First step (1-based) whose solution is the zero function in every output column, or None.
    eigvals_ : ndarray of shape (n,)
        Eigenvalues of ``K``, descending; those ``<= EIGVAL_RTOL * max`` are exactly ``0``.
        Lazy in fixed-lam mode.
    eigvecs_ : ndarray of shape (n, n)
        Orthonormal eigenvectors of ``K``, column ``k`` for ``eigvals_[k]``. Lazy in fixed-lam mode.
    B_ : ndarray of shape (steps, n) or (steps, n, q)
        Diagonal of ``B^(t)`` (Borup eq. 10-12; Mobahi eq. 19) for each step, in the order of
        ``eigvals_``; ``(steps, n, q)`` only in epsilon mode with 2-D ``y`` (one ridge per column).
    n_features_in_ : int
        Number of features seen in ``fit``.
    eigval_rtol_ : float
        The relative eigenvalue tolerance used (:data:`EIGVAL_RTOL`).
    centres_ : ndarray of shape (m, d)
        The Nyström centres (with ``n_components``; ``X_fit_`` is then the same array and
        ``dual_coefs_`` are coefficients on the centres, ``eigvals_`` the non-zero spectrum of
        the Nyström Gram matrix, whose other ``n - m`` eigenvalues are 0).
    n_components_ : int
        Number of centres used (with ``n_components``).

    Examples
    --------
    >>> import numpy as np
    >>> from selfdistill import SelfDistilledKernelRidge
    >>> X = np.linspace(0, 1, 11)[:, None]
    >>> y = np.sin(2 * np.pi * X[:, 0])
    >>> est = SelfDistilledKernelRidge(kernel="rbf", gamma=80.0, lam=0.2, steps=3).fit(X, y)
    >>> [round(float(np.abs(p).max()), 3) for p in est.staged_predict(X)]
    [0.715, 0.526, 0.399]
    """

    # ------------------------------------------------------------------ scikit-learn plumbing
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _kernel(self, X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
        return kernel_matrix(
            X,
            Y,
            kernel=self.kernel,
            gamma=self.gamma,
            degree=self.degree,
            coef0=self.coef0,
            kernel_params=self.kernel_params,
        )

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> tuple[int, float | None, float | None, np.ndarray | None, str]:
        """Validate the hyper-parameters; return steps, lam, epsilon, alphas, alpha mode."""
        steps = check_int("steps", self.steps, low=1)
        check_kernel(self.kernel)
        check_kernel_params(self.kernel, self.gamma, self.degree, self.coef0)
        if self.lam is not None and self.epsilon is not None:
            raise ValueError(
                "lam and epsilon are exclusive: set lam (fixed ridge) or lam=None with epsilon, "
                f"got lam={self.lam!r} and epsilon={self.epsilon!r}"
            )
        if self.lam is None and self.epsilon is None:
            raise ValueError("one of lam or epsilon must be set, got lam=None and epsilon=None")
        # equivalent: low_inclusive=None is falsy like False (the check_real call lines marked;
        # their other mutants are killed, the names and bounds on the next lines stay mutated)
        lam = (
            None
            if self.lam is None
            else check_real(  # pragma: no mutate
                "lam", self.lam, low=0, low_inclusive=False
            )
        )
        epsilon = (
            None
            if self.epsilon is None
            else check_real(  # pragma: no mutate
                "epsilon", self.epsilon, low=0, low_inclusive=False
            )
        )
        alpha = self.alpha
        if isinstance(alpha, str):
            mode = check_choice("alpha", alpha, _OPTIMAL)
            if lam is None:
                raise ValueError(
                    f"alpha={alpha!r} needs a fixed lam (Borup Thm 4.4 holds for a fixed ridge); "
                    "in epsilon mode pass a float or a sequence"
                )
            return steps, lam, epsilon, None, mode
        alphas = np.full(steps, np.nan)
        if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool):
            alphas[1:] = check_real("alpha", alpha, low=0.0, high=1.0)
            # equivalent: the label is never read ("fixed" and "sequence" differ from the
            # optimal modes only by `mode in _OPTIMAL`)
            return steps, lam, epsilon, alphas, "fixed"  # pragma: no mutate
        try:
            seq = [float(a) for a in alpha]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(
                "alpha must be a float in [0, 1], a sequence of steps - 1 floats in [0, 1], "
                f"'optimal' or 'optimal-clipped', got {alpha!r}"
            ) from None
        if len(seq) != steps - 1:
            raise ValueError(
                f"alpha as a sequence must have length steps - 1 = {steps - 1}, got {len(seq)}"
            )
        for i, a in enumerate(seq):
            check_real(f"alpha[{i}]", a, low=0.0, high=1.0)
        alphas[1:] = seq
        return steps, lam, epsilon, alphas, "sequence"  # pragma: no mutate  # (as "fixed")

    def _check_X_kernel(self, name: str, X: np.ndarray, *, fit: bool = False) -> None:
        check_kernel_input(self.kernel, name, X, fit=fit)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> SelfDistilledKernelRidge:
        """Fit all ``steps`` steps.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Training inputs (``(n, n)`` Gram matrix for ``kernel="precomputed"``).
        y : array-like of shape (n,) or (n, q)
            Targets (one-hot for multiclass, Borup section 3.6).
        X_val, y_val : array-like, optional
            Validation data for ``alpha="optimal"`` / ``"optimal-clipped"`` (for
            ``"precomputed"``, ``X_val`` is ``k(X_val, X)``).

        Returns
        -------
        self
        """
        steps, lam, epsilon, alphas, mode = self._check_params()
        nystrom = check_nystrom_params(self)
        if nystrom is not None:
            X, y = validate_nystrom_input(self, X, y)
        else:
            check_same_rows(X, y)
            check_numeric_columns(X)
            X, y = validate_data(
                self,
                X,
                y,
                dtype=np.float64,
                multi_output=True,
                y_numeric=True,  # pragma: no mutate  # equivalent: y is cast to float64 below
            )
            self._check_X_kernel("X", X, fit=True)
        # equivalent: every use of y (int or float32 after validation) promotes it to float64
        # exactly, as this cast does
        y = np.asarray(y, dtype=np.float64)  # pragma: no mutate
        self._y_ndim = y.ndim
        Y = target_columns(y)
        q = Y.shape[1]
        # equivalent: Xv, Yv are read only in the optimal modes, which need X_val and y_val
        Xv = Yv = None  # pragma: no mutate
        if mode in _OPTIMAL:
            if X_val is None or y_val is None:
                raise ValueError(f"alpha={mode!r} needs validation data: pass X_val and y_val")
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("X_val and y_val must be given together")
            check_numeric_columns(X_val, "X_val")
            # equivalent: dtype dropped (kernels promote X_val against the float64 X_fit_)
            Xv = check_array(X_val, dtype=np.float64, input_name="X_val")  # pragma: no mutate
            if Xv.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X_val must have {self.n_features_in_} features like X, got {Xv.shape[1]}"
                )
            self._check_X_kernel("X_val", Xv)
            # equivalent: dtype dropped (y_val enters float64 products only, promoted exactly)
            # and ensure_2d=None (falsy like False): the call line is marked
            yv = check_array(  # pragma: no mutate
                y_val,
                dtype=np.float64,
                ensure_2d=False,
                input_name="y_val",
            )
            Yv = target_columns(yv)
            if Yv.shape != (Xv.shape[0], q):
                raise ValueError(
                    f"y_val must have shape ({Xv.shape[0]}, {q}) matching X_val and y, "
                    f"got {yv.shape}"
                )

        if nystrom is not None:  # its fitted state is set by _set_nystrom_fit
            return self._fit_nystrom(X, Y, Xv, Yv, nystrom, lam, epsilon, steps, alphas, mode)
        self._y_fit = Y
        self.eigval_rtol_ = EIGVAL_RTOL
        self._spectrum: tuple[np.ndarray, np.ndarray] | None = None
        self._limit_coef: np.ndarray | None = None
        self._B: np.ndarray | None = None
        self._nystrom: NystromSpectrum | None = None
        self.X_fit_ = X
        K = self._kernel(X)
        if lam is not None:
            coefs, alphas = self._fit_fixed_lam(K, Y, lam, steps, alphas, mode, Xv, Yv)
            self.lams_ = np.full(steps, lam)
            self.collapsed_at_ = None
        else:
            # equivalent: `or` too (_check_params gives both in epsilon mode); narrows types
            assert epsilon is not None and alphas is not None  # pragma: no mutate
            coefs = self._fit_epsilon(K, Y, epsilon, steps, alphas)
        self.alphas_ = alphas
        self.dual_coefs_ = coefs if self._y_ndim == 2 else coefs[:, :, 0]
        return self

    def _fit_fixed_lam(
        self,
        K: np.ndarray,
        Y: np.ndarray,
        lam: float,
        steps: int,
        alphas: np.ndarray | None,
        mode: str,
        Xv: np.ndarray | None,
        Yv: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fixed ridge: one factorisation of ``K + lam I``, one solve per step (Borup eqs. 3-5)."""
        n, q = Y.shape
        # K + lam I in place, on a copy when K is the user's Gram matrix (kept as X_fit_)
        # equivalent: copying every kernel (`or True`) costs memory only, never a result
        A = K.copy() if self.kernel == "precomputed" else K  # pragma: no mutate
        A[np.diag_indices_from(A)] += lam
        try:
            # Cholesky in place (no second n x n array); the LU fallback below rebuilds K + lam I
            # pragma: no mutate start  # equivalent: overwrite_a (memory only) and check_finite
            # (it only scans for NaN/inf, and K + lam I is finite)
            factor = scipy.linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
            # pragma: no mutate end
            L = np.asfortranarray(factor[0])  # lower triangle holds L

            def solve(b: np.ndarray) -> np.ndarray:
                # equivalent: `>= 1` solves one column with cho_solve too, the same solve by
                # another LAPACK route (rounding only)
                if b.shape[1] > 1:  # pragma: no mutate
                    # pragma: no mutate start  # equivalent: check_finite only scans for
                    # NaN/inf, and the targets are finite
                    return scipy.linalg.cho_solve((L, True), b, check_finite=False)
                    # pragma: no mutate end
                # one right-hand side: two BLAS-2 triangular solves (dtrsv) read L once each
                # and are about twice as fast as LAPACK potrs, which goes through trsm
                x = dtrsv(L, b[:, 0], lower=1)
                # equivalent: trans=2 (conjugate transpose) is trans=1 for a real L
                return dtrsv(L, x, lower=1, trans=1)[:, None]  # pragma: no mutate

        except scipy.linalg.LinAlgError:  # an indefinite kernel (e.g. sigmoid): plain LU
            # the failed Cholesky may have overwritten A: K + lam I afresh, never the user's K
            A = self.X_fit_.copy() if self.kernel == "precomputed" else self._kernel(self.X_fit_)
            A[np.diag_indices_from(A)] += lam
            # pragma: no mutate start  # equivalent: A is not used after (overwrite or not) and
            # is finite (check_finite only scans for NaN/inf)
            lu = scipy.linalg.lu_factor(A, overwrite_a=True, check_finite=False)
            # pragma: no mutate end

            def solve(b: np.ndarray) -> np.ndarray:
                # equivalent: check_finite only scans for NaN/inf; targets are finite
                return scipy.linalg.lu_solve(lu, b, check_finite=False)  # pragma: no mutate

        coefs = np.empty((steps, n, q))
        c1 = solve(Y)
        coefs[0] = c1
        prev = Y - lam * c1  # = K c1, the step's training predictions
        used = np.full(steps, np.nan) if alphas is None else alphas.copy()
        if mode in _OPTIMAL:
            # equivalent: `or` too (fit passes both or neither); the assert narrows types
            assert Xv is not None and Yv is not None  # pragma: no mutate
            Kv = self._kernel(Xv, self.X_fit_)
            f1v = Kv @ c1
        for t in range(1, steps):
            if mode in _OPTIMAL:
                g = solve(prev)  # step t fitted with alpha = 0 (Borup eq. 7)
                a = optimal_alpha(Yv, f1v, Kv @ g)
                if mode == "optimal-clipped":
                    a = min(max(a, 0.0), 1.0)
                used[t] = a
                c = a * c1 + (1.0 - a) * g
            else:
                a = used[t]
                c = solve(a * Y + (1.0 - a) * prev)
            target = a * Y + (1.0 - a) * prev
            coefs[t] = c
            prev = target - lam * c
        return coefs, used

    def _fit_epsilon(
        self, K: np.ndarray, Y: np.ndarray, epsilon: float, steps: int, alphas: np.ndarray
    ) -> np.ndarray:
        """Epsilon mode: one eigendecomposition, diagonal updates, one root per step and column."""
        n, q = Y.shape
        d, V = eigh_descending(K)
        self._spectrum = (d, V)
        Z = V.T @ Y
        coef_eig = np.zeros((steps, n, q))
        B = np.empty((steps, n, q))
        lams = np.empty((steps, q))
        status = np.empty((steps, q), dtype=object)
        positive = d > 0
        # equivalent: the fill value only stands in for d == 0, entries np.where discards below
        safe_d = np.where(positive, d, 1.0)  # pragma: no mutate
        for j in range(q):
            z = Z[:, j]
            z_prev = z
            b_prev = np.ones(n)
            for t in range(steps):
                # equivalent: at t = 0, z_prev = z and b_prev = 1, so w = z, diff = 0 and
                # (1 - a) b_prev + a = 1 whatever a is (any value for step 1)
                a = 1.0 if t == 0 else float(alphas[t])  # pragma: no mutate
                w = a * z + (1.0 - a) * z_prev
                diff = z - z_prev
                const = a * (1.0 - a) * float(np.dot(diff, diff)) / n
                lam_t, st = epsilon_ridge(d, w, const, epsilon)
                shrink = shrink_factors(d, lam_t)
                if st == "root":
                    coef_eig[t, :, j] = w / (d + lam_t)
                elif st == "limit":
                    coef_eig[t, :, j] = np.where(positive, w / safe_d, 0.0)
                b_prev = shrink * ((1.0 - a) * b_prev + a)
                B[t, :, j] = b_prev
                z_prev = shrink * w
                lams[t, j] = lam_t
                status[t, j] = st
        collapsed = np.all(status == "collapse", axis=1)
        self.collapsed_at_ = int(np.argmax(collapsed)) + 1 if collapsed.any() else None
        _warn_epsilon(status, epsilon, q)
        self.lams_ = lams if self._y_ndim == 2 else lams[:, 0]
        self._B = B if self._y_ndim == 2 else B[:, :, 0]
        # Coefficients of all steps from one product with V (never through D^-1 on tiny d).
        coefs = V @ coef_eig.transpose(1, 0, 2).reshape(n, steps * q)
        return coefs.reshape(n, steps, q).transpose(1, 0, 2)

    def _fit_nystrom(self, X, Y, Xv, Yv, nystrom, lam, epsilon, steps, alphas, mode):
        """``n_components`` set: one streamed pass, the steps as filters (module nystrom_steps)."""
        m, block_size, dtype = nystrom
        fit = fit_nystrom(
            X,
            Y,
            n_components=m,
            kernel_args=self._kernel_args(),
            lam=lam,
            epsilon=epsilon,
            steps=steps,
            alphas=alphas,
            mode=mode,
            X_val=Xv,
            Y_val=Yv,
            block_size=block_size,
            dtype=dtype,
            random_state=self.random_state,
        )
        self._set_nystrom_fit(fit, Y, self._y_ndim)
        if fit.status is not None:
            assert epsilon is not None
            _warn_epsilon(fit.status, epsilon, Y.shape[1])
        return self

    def _set_nystrom_fit(self, fit: NystromFit, Y: np.ndarray, y_ndim: int) -> Self:
        """Fitted state from a Nyström fit (also used by the CV refit from its statistics)."""
        self._y_ndim = y_ndim
        self._y_fit = Y
        self.eigval_rtol_ = EIGVAL_RTOL
        self._limit_coef = None
        self.n_features_in_ = int(fit.centres.shape[1])
        for name, value in nystrom_attributes(fit, y_ndim).items():
            setattr(self, name, value)
        return self

    def _kernel_args(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "gamma": self.gamma,
            "degree": self.degree,
            "coef0": self.coef0,
            "kernel_params": self.kernel_params,
        }

    # ------------------------------------------------------------------ spectrum (lazy)
    def _get_spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        check_is_fitted(self)
        if self._nystrom is not None:
            raise AttributeError(
                "eigvecs_: with n_components the n x n eigenvectors of the Nyström Gram matrix "
                "are never formed (its eigenvalues are eigvals_)"
            )
        if self._spectrum is None:
            self._spectrum = eigh_descending(self._kernel(self.X_fit_))
        return self._spectrum

    @property
    def eigvals_(self) -> np.ndarray:
        """Eigenvalues of ``K``, descending, below-tolerance ones exactly 0 (lazy).

        With ``n_components``: the non-zero spectrum of the Nyström Gram matrix (``m`` values;
        its other ``n - m`` eigenvalues are exactly 0).
        """
        check_is_fitted(self)
        if self._nystrom is not None:
            return self._nystrom.eigvals
        return self._get_spectrum()[0]

    @property
    def eigvecs_(self) -> np.ndarray:
        """Eigenvectors of ``K`` as columns, aligned with :attr:`eigvals_` (lazy)."""
        return self._get_spectrum()[1]

    @property
    def B_(self) -> np.ndarray:
        """Diagonal of ``B^(t)`` for each step (Borup Lemma 4.2), aligned with ``eigvals_``."""
        check_is_fitted(self)
        if self._B is None:
            self._B = b_recursion(self.eigvals_, self.lams_, self.alphas_)
        return self._B

    # ------------------------------------------------------------------ predict
    def _coefs3(self) -> np.ndarray:
        c = self.dual_coefs_
        return c if c.ndim == 3 else c[:, :, None]

    def _check_new(self, X: np.ndarray) -> np.ndarray:
        """New inputs validated against the fit (features, numbers). The kernel's domain is
        checked where the kernel is evaluated (the spline kernel names ``X``; a precomputed
        ``k(X_new, X)`` is rectangular and not a Gram matrix)."""
        check_numeric_columns(X)
        # equivalent: dtype dropped (every kernel promotes X to float64 against the float64
        # X_fit_) and reset=None (falsy like False): the call line is marked
        X = validate_data(  # pragma: no mutate
            self,
            X,
            dtype=np.float64,
            reset=False,
        )
        return X

    def _apply(self, X: np.ndarray, C: np.ndarray) -> np.ndarray:
        """``k(X, X_fit_) @ C``; with ``n_components`` in row blocks of ``block_size`` (memory
        ``block_size * m`` for the kernel, never ``n_new * m``)."""
        X = self._check_new(X)  # (callers have checked that the estimator is fitted)
        if self._nystrom is None:
            return self._kernel(X, self.X_fit_) @ C
        rows = check_int("block_size", self.block_size, low=1)
        out = np.empty((X.shape[0], C.shape[1]))
        for start in range(0, X.shape[0], rows):
            out[start : start + rows] = self._kernel(X[start : start + rows], self.X_fit_) @ C
        return out

    def _shape_out(self, P: np.ndarray) -> np.ndarray:
        return P if self._y_ndim == 2 else P[:, 0]

    def predict(self, X: np.ndarray, step: int | None = None) -> np.ndarray:
        """Predictions of step ``step`` (1..steps; ``None`` = the last step), Borup eq. 4."""
        check_is_fitted(self)
        steps = self.dual_coefs_.shape[0]
        step = steps if step is None else check_int("step", step, low=1, high=steps)
        return self._shape_out(self._apply(X, self._coefs3()[step - 1]))

    def staged_predict(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Predictions of steps ``1..steps`` in order, from one kernel product."""
        check_is_fitted(self)
        C = self._coefs3()
        steps, n, q = C.shape
        P = self._apply(X, C.transpose(1, 0, 2).reshape(n, steps * q))  # step t: columns t q..
        for t in range(steps):
            yield self._shape_out(P[:, t * q : (t + 1) * q])

    def predict_limit(self, X: np.ndarray) -> np.ndarray:
        """Prediction for ``steps -> inf`` with a constant alpha (Borup Thm 4.5).

        ``f_inf(x) = k(x, X) (K + lam I)^-1 (alpha y + (1 - alpha) y_inf)`` with
        ``y_inf = K (K + lam/alpha I)^-1 y``: kernel ridge regression with the ridge amplified to
        ``lam / alpha``, distilled once more. The zero function when ``alpha == 0``.

        Raises
        ------
        ValueError
            If ``alpha`` is not one float, or in epsilon mode with ``alpha > 0`` (Borup appendix
            D: no closed-form limit).
        """
        check_is_fitted(self)
        alpha = self.alpha
        if isinstance(alpha, str) or not isinstance(alpha, numbers.Real):
            raise ValueError(
                f"predict_limit needs one constant float alpha in [0, 1], got alpha={alpha!r}"
            )
        q = self._y_fit.shape[1]
        if alpha == 0.0:
            return self._shape_out(
                np.zeros_like(self._apply(X, np.zeros((self.X_fit_.shape[0], q))))
            )
        if self.lam is None:
            raise ValueError(
                "predict_limit with alpha > 0 needs a fixed lam: in epsilon mode the ridge of "
                "each step depends on the previous one and there is no closed-form limit"
            )
        if self._limit_coef is None and self._nystrom is not None:
            self._limit_coef = limit_filter(self._nystrom, float(self.lam), float(alpha))
        if self._limit_coef is None:
            lam = float(self.lam)
            d, V = self._get_spectrum()
            # V (D + lam)^-1 (alpha + (1 - alpha) D (D + lam/alpha)^-1) V^T y  (Thm 4.5 + eq. 9)
            scale = (alpha + (1.0 - alpha) * d / (d + lam / alpha)) / (d + lam)
            self._limit_coef = V @ (scale[:, None] * (V.T @ self._y_fit))
        return self._shape_out(self._apply(X, self._limit_coef))
