"""Nyström statistics of kernel self-distillation, accumulated in one streamed pass over the data.

With ``m`` centres ``C`` the Nyström kernel is ``k~(x, x') = k(x, C) K_mm^+ k(C, x')`` and its
Gram matrix on the training inputs is ``K~ = K_nm K_mm^+ K_mn``. Kernel ridge regression with
``K~`` -- and with it every step of self-distillation (Borup & Andersen 2021, Lemma 4.2) -- needs
the data only through the ``m x m`` matrix ``G = K_mn K_nm``, the ``m x q`` matrix ``b = K_mn y``
and ``y^T y`` (module :mod:`selfdistill.kernel.nystrom_steps` turns them into the steps). This
module accumulates them: :class:`NystromAccumulator` takes row blocks (``partial_fit``), adds a
symmetric rank-``k`` update (BLAS ``syrk``) per block to ``G``, and two accumulators over
disjoint rows ``merge`` into the accumulator of their union -- the reduction a distributed
engine (Dask, :mod:`selfdistill.kernel.nystrom_dask`) runs. Rows may carry a fold label: the
statistics are then kept per fold (for cross-validation from one pass,
:mod:`selfdistill.kernel.nystrom_cv`), and the totals are their sums.

The kernel block ``K_bm`` of a row block is evaluated without a Python loop per row, in float64
or float32 (``dtype``); the block's products run in that precision and are added to float64
accumulators, so rounding does not grow with ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk
from sklearn.utils import check_random_state

from .._util.validation import check_choice, check_int
from .functions import kernel_matrix

__all__ = [
    "DTYPES",
    "NystromAccumulator",
    "check_n_components",
    "kernel_block",
    "select_centres",
]

#: Precisions of the kernel block and of its per-block products.
DTYPES: tuple[str, ...] = ("float64", "float32")


def check_n_components(n_components: object) -> int | None:
    """``None`` (the exact engine) or an int ``>= 1``; ``ValueError`` naming the argument."""
    if n_components is None:
        return None
    return check_int("n_components", n_components, low=1)


def select_centres(X: Any, n_components: int, random_state: object = None) -> np.ndarray:
    """Rows of ``X`` drawn uniformly without replacement (sorted), seeded by ``random_state``.

    ``X`` is anything with ``shape`` and row indexing by a sorted integer array (a numpy array or
    memmap, an h5py dataset, a Dask array). ``n_components`` is clipped to the number of rows.

    Returns
    -------
    ndarray of shape (min(n_components, n), d), float64
    """
    n = int(X.shape[0])
    m = min(int(n_components), n)
    rng = check_random_state(random_state)
    idx = np.sort(rng.choice(n, size=m, replace=False))
    C = X[idx]
    if hasattr(C, "compute"):  # a Dask array
        C = C.compute()
    return np.array(C, dtype=np.float64)


def kernel_block(
    X: np.ndarray,
    centres: np.ndarray,
    kernel_args: dict[str, Any],
    dtype: str = "float64",
    centres_sq: np.ndarray | None = None,
) -> np.ndarray:
    """The kernel block ``k(X, centres)`` of shape ``(b, m)`` in precision ``dtype``.

    The RBF kernel is evaluated directly in ``dtype``: ``exp(-gamma (|x|^2 + |c|^2 - 2 x.c))``
    with the cross term one GEMM (``gamma = None`` is ``1 / n_features``, as in scikit-learn).
    Every other kernel goes through :func:`selfdistill.kernel.functions.kernel_matrix` in
    float64 and is then cast.

    Parameters
    ----------
    X : ndarray of shape (b, d)
    centres : ndarray of shape (m, d)
    kernel_args : dict
        ``kernel``, ``gamma``, ``degree``, ``coef0``, ``kernel_params``.
    dtype : {"float64", "float32"}
    centres_sq : ndarray of shape (m,), optional
        ``|c|^2`` of the centres in ``dtype`` (computed when omitted).
    """
    if kernel_args.get("kernel") == "rbf" and not kernel_args.get("kernel_params"):
        gamma = kernel_args.get("gamma")
        gamma = 1.0 / X.shape[1] if gamma is None else float(gamma)
        Xd = np.asarray(X, dtype=dtype)
        Cd = np.asarray(centres, dtype=dtype)
        if centres_sq is None:
            centres_sq = np.einsum("ij,ij->i", Cd, Cd)
        K = Xd @ Cd.T
        K *= -2.0
        K += np.einsum("ij,ij->i", Xd, Xd)[:, None]
        K += centres_sq[None, :]
        np.maximum(K, 0.0, out=K)
        K *= -gamma
        np.exp(K, out=K)
        return K
    K = kernel_matrix(np.asarray(X, dtype=np.float64), centres, **kernel_args)
    return np.asarray(K, dtype=dtype)


def _syrk(dtype: str) -> Callable[..., np.ndarray]:
    return dsyrk if dtype == "float64" else ssyrk


class NystromAccumulator:
    """Streamed statistics ``G = K_mn K_nm``, ``b = K_mn y``, ``y^T y`` and ``n`` per fold.

    Parameters
    ----------
    centres : ndarray of shape (m, d)
        The Nyström centres ``C``.
    kernel_args : dict
        ``kernel``, ``gamma``, ``degree``, ``coef0``, ``kernel_params`` (as in
        :class:`selfdistill.SelfDistilledKernelRidge`; ``"precomputed"`` is not a kernel on
        features and is refused by the estimators).
    n_outputs : int
        Number of target columns ``q``.
    n_folds : int, default=1
        Number of row groups kept apart (``partial_fit(..., folds=...)``).
    dtype : {"float64", "float32"}, default="float64"
        Precision of the kernel block and of the block's ``syrk``/GEMM; the sums over blocks are
        float64 either way.
    block_size : int, default=4096
        Rows per kernel block: memory ``O(block_size * m)`` beyond the ``m x m`` accumulators.

    Attributes
    ----------
    gram_ : ndarray of shape (n_folds, m, m)
        ``K_mn K_nm`` of each fold (symmetric, both triangles filled by :meth:`gram`).
    target_ : ndarray of shape (n_folds, m, q)
        ``K_mn y`` of each fold.
    target_sq_ : ndarray of shape (n_folds, q)
        ``sum_i y_ij^2`` of each fold and column.
    target_sum_ : ndarray of shape (n_folds, q)
        ``sum_i y_ij`` of each fold and column (for R^2 from sums).
    n_samples_ : ndarray of shape (n_folds,)
        Rows seen per fold.
    """

    def __init__(
        self,
        centres: np.ndarray,
        kernel_args: dict[str, Any],
        *,
        n_outputs: int = 1,
        n_folds: int = 1,
        dtype: str = "float64",
        block_size: int = 4096,
    ) -> None:
        self.centres = np.ascontiguousarray(centres, dtype=np.float64)
        self.kernel_args = dict(kernel_args)
        self.dtype = check_choice("dtype", dtype, DTYPES)
        self.block_size = check_int("block_size", block_size, low=1)
        q = check_int("n_outputs", n_outputs, low=1)
        k = check_int("n_folds", n_folds, low=1)
        m = self.centres.shape[0]
        # F-ordered: syrk updates it in place; only the upper triangle is written until gram().
        self.gram_ = np.zeros((k, m, m), dtype=np.float64).transpose(0, 2, 1)
        self.target_ = np.zeros((k, m, q))
        self.target_sq_ = np.zeros((k, q))
        self.target_sum_ = np.zeros((k, q))
        self.n_samples_ = np.zeros(k, dtype=np.int64)
        Cd = self.centres.astype(self.dtype)
        self._centres_sq = np.einsum("ij,ij->i", Cd, Cd)

    # ------------------------------------------------------------------ accumulation
    @property
    def n_features(self) -> int:
        """Number of columns of ``X`` (that of the centres)."""
        return int(self.centres.shape[1])

    def _check_block(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(
                f"X_block must have shape (rows, {self.n_features}) like the centres, got {X.shape}"
            )
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(Y.shape[0], -1) if Y.ndim else Y.reshape(1, 1)
        q = self.target_.shape[2]
        if Y.shape != (X.shape[0], q):
            raise ValueError(
                f"y_block must have {X.shape[0]} rows and {q} column(s) like X_block and the "
                f"accumulator, got shape {np.shape(y)}"
            )
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise ValueError("X_block and y_block must be finite (no NaN or inf)")
        return X, Y

    def partial_fit(self, X: Any, y: Any, folds: Any = None) -> NystromAccumulator:
        """Add the rows ``(X, y)``; ``folds`` (ints in ``[0, n_folds)``) assigns each to a fold.

        Raises
        ------
        ValueError
            If ``X`` has another number of columns than the centres (``X_block``), ``y`` does
            not match, a value is not finite, or a fold label is out of range.
        """
        X, Y = self._check_block(X, y)
        k = self.gram_.shape[0]
        if folds is None:
            if k != 1:
                raise ValueError(f"folds must be given: this accumulator keeps {k} folds")
            labels = None
        else:
            labels = np.asarray(folds)
            if labels.shape != (X.shape[0],) or (
                labels.size and (labels.min() < 0 or labels.max() >= k)
            ):
                raise ValueError(
                    f"folds must hold one int in [0, {k}) per row of X_block, got shape "
                    f"{labels.shape}"
                )
        for start in range(0, X.shape[0], self.block_size):
            rows = slice(start, start + self.block_size)
            K = kernel_block(X[rows], self.centres, self.kernel_args, self.dtype, self._centres_sq)
            if labels is None:
                self._add(0, K, Y[rows])
                continue
            lab = labels[rows]
            for f in np.unique(lab):
                sel = lab == f
                self._add(int(f), K[sel], Y[rows][sel])
        return self

    def _add(self, fold: int, K: np.ndarray, Y: np.ndarray) -> None:
        """Add one kernel block: ``syrk`` into ``G``, GEMM into ``b`` (in the dtype of K)."""
        if K.shape[0] == 0:
            return
        syrk = _syrk(self.dtype)
        # K is C-ordered (b, m), so K.T is F-ordered (m, b) and syrk forms K^T K without a copy.
        if self.dtype == "float64":
            syrk(1.0, K.T, beta=1.0, c=self.gram_[fold], trans=0, overwrite_c=1)
        else:
            self.gram_[fold] += syrk(1.0, K.T, trans=0)
        self.target_[fold] += (K.T @ Y.astype(K.dtype)).astype(np.float64)
        self.target_sq_[fold] += np.einsum("ij,ij->j", Y, Y)
        self.target_sum_[fold] += Y.sum(axis=0)
        self.n_samples_[fold] += K.shape[0]

    # ------------------------------------------------------------------ reduction
    def _same_setup(self, other: NystromAccumulator) -> None:
        if not isinstance(other, NystromAccumulator):
            raise ValueError(f"can only merge a NystromAccumulator, got {type(other).__name__}")
        if self.centres.shape != other.centres.shape or not np.array_equal(
            self.centres, other.centres
        ):
            raise ValueError("cannot merge accumulators with different centres")
        for key in sorted(set(self.kernel_args) | set(other.kernel_args)):
            if self.kernel_args.get(key) != other.kernel_args.get(key):
                raise ValueError(
                    f"cannot merge accumulators with different kernel parameter {key!r}: "
                    f"{self.kernel_args.get(key)!r} vs {other.kernel_args.get(key)!r}"
                )
        if self.dtype != other.dtype:
            raise ValueError(f"cannot merge accumulators of dtype {self.dtype} and {other.dtype}")
        if self.target_.shape != other.target_.shape:
            raise ValueError(
                "cannot merge accumulators with different numbers of folds or outputs: "
                f"{self.target_.shape[::2]} vs {other.target_.shape[::2]} (folds, outputs)"
            )

    def merge(self, other: NystromAccumulator) -> NystromAccumulator:
        """A new accumulator holding the statistics of both (rows of the two must be disjoint).

        Raises
        ------
        ValueError
            If the centres, a kernel parameter (``gamma``, ...), the dtype or the numbers of
            folds or outputs differ.
        """
        self._same_setup(other)
        out = NystromAccumulator(
            self.centres,
            self.kernel_args,
            n_outputs=self.target_.shape[2],
            n_folds=self.gram_.shape[0],
            dtype=self.dtype,
            block_size=self.block_size,
        )
        for name in ("gram_", "target_", "target_sq_", "target_sum_", "n_samples_"):
            getattr(out, name)[...] = getattr(self, name) + getattr(other, name)
        return out

    # ------------------------------------------------------------------ read-out
    def gram(self, fold: int | None = None) -> np.ndarray:
        """Symmetric ``K_mn K_nm`` of one fold, or of all rows (``fold=None``)."""
        G = self.gram_.sum(axis=0) if fold is None else self.gram_[fold]
        upper = np.triu(G)
        return upper + np.triu(G, 1).T

    def totals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """``(G, b, y^T y per column, n)`` over all rows."""
        return (
            self.gram(),
            self.target_.sum(axis=0),
            self.target_sq_.sum(axis=0),
            int(self.n_samples_.sum()),
        )
