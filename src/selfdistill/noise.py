"""Label corruption for noisy-label experiments (Dong et al. 2019, sec. 3.4).

NumPy only: works without torch. Three noise models, all reproducible from a seed:

``symmetric``
    Each label is *resampled* with probability ``rate``, uniformly over ALL ``C`` classes (the
    convention of most noisy-label papers, including Dong et al.'s "symmetric noisy label with
    probability p"). A resampled label can land on the true class, so only about
    ``rate * (C - 1) / C`` of the labels end up wrong.
``symmetric-exclusive``
    Each label is made *wrong* with probability ``rate``, the new label drawn uniformly over the
    ``C - 1`` other classes. Exactly a ``rate`` fraction is wrong in expectation.
``pair``
    Each label is made wrong with probability ``rate`` by the class flip ``c -> (c + 1) mod C``.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from ._util.validation import check_choice, check_int, check_real

__all__ = ["NOISE_KINDS", "corrupt_labels", "expected_wrong_fraction"]

NOISE_KINDS = ("symmetric", "symmetric-exclusive", "pair")


def expected_wrong_fraction(rate: float, kind: str, num_classes: int) -> float:
    """Expected fraction of labels that :func:`corrupt_labels` makes wrong.

    ``rate * (C - 1) / C`` for ``symmetric``, ``rate`` for ``symmetric-exclusive`` and ``pair``.
    """
    rate = check_real("rate", rate, low=0.0, high=1.0)
    kind = check_choice("kind", kind, NOISE_KINDS)
    num_classes = check_int("num_classes", num_classes, low=2)
    if kind == "symmetric":
        return rate * (num_classes - 1) / num_classes
    return rate


def _integer_labels(y: ArrayLike) -> np.ndarray:
    """``y`` as a 1-D int64 array after checking it holds whole numbers (NaN, strings refused)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array of class labels, got shape {arr.shape}")
    if arr.dtype.kind not in ("i", "u", "f"):  # booleans ("b"), strings, objects refused
        raise ValueError(f"y must hold integer class labels, got dtype {arr.dtype}")
    if not np.all(np.mod(arr, 1) == 0):  # non-integer floats, NaN, inf
        raise ValueError("y must hold integer class labels, got non-integer or non-finite floats")
    # equivalent mutant astype(None): float64 holds every label below 2**53 exactly and
    # corrupt_labels casts its result to int64 anyway
    return arr.astype(np.int64)  # pragma: no mutate  # equivalent: see above


def _check_labels(y: ArrayLike, num_classes: int) -> np.ndarray:
    arr = _integer_labels(y)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"y must hold labels in [0, {num_classes - 1}] (num_classes={num_classes}), "
            f"got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def corrupt_labels(
    y: ArrayLike,
    rate: float,
    kind: str = "symmetric",
    num_classes: int | None = None,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt class labels with symmetric, symmetric-exclusive or pair noise.

    Parameters
    ----------
    y
        True labels, a 1-D array of integers in ``[0, num_classes)``.
    rate
        Noise rate in ``[0, 1]``. For ``symmetric`` this is the probability that a label is
        resampled uniformly over all classes, so only ``rate * (C - 1) / C`` of the labels become
        wrong in expectation; for ``symmetric-exclusive`` and ``pair`` it is the probability that a
        label becomes wrong.
    kind
        ``"symmetric"``, ``"symmetric-exclusive"`` or ``"pair"`` (see the module docstring).
    num_classes
        Number of classes ``C >= 2``; default ``max(y) + 1``.
    seed
        Seed (or generator) of the random draws; the same seed gives the same labels.

    Returns
    -------
    noisy_labels : numpy.ndarray of int64
        The observed labels.
    mask : numpy.ndarray of bool
        ``True`` where the observed label differs from the true label (the corrupted samples).

    Raises
    ------
    ValueError
        For a rate outside ``[0, 1]``, an unknown kind, labels that are not integers in
        ``[0, num_classes)``, or ``num_classes < 2``.

    Examples
    --------
    >>> noisy, mask = corrupt_labels([0, 1, 2, 3], 1.0, "pair", num_classes=4)
    >>> noisy.tolist(), mask.tolist()
    ([1, 2, 3, 0], [True, True, True, True])
    """
    rate = check_real("rate", rate, low=0.0, high=1.0)
    kind = check_choice("kind", kind, NOISE_KINDS)
    if num_classes is None:
        arr = _integer_labels(y)
        if arr.size == 0:
            raise ValueError("num_classes must be given when y is empty")
        num_classes = int(np.max(arr)) + 1
    num_classes = check_int("num_classes", num_classes, low=2)
    if isinstance(seed, bool) or not (
        seed is None or isinstance(seed, (numbers.Integral, np.random.Generator))
    ):
        raise ValueError(f"seed must be an integer, a numpy Generator or None, got {seed!r}")
    labels = _check_labels(y, num_classes)
    rng = np.random.default_rng(seed)
    n = labels.shape[0]
    flip = rng.random(n) < rate  # pragma: no mutate  # equivalent: `<=` differs w.p. 2**-53
    if kind == "symmetric":
        # pragma: no mutate start  # equivalent: integers(C, size=n) draws as integers(0, C, ...)
        candidates = rng.integers(0, num_classes, size=n)
        # pragma: no mutate end
    elif kind == "symmetric-exclusive":
        candidates = (labels + rng.integers(1, num_classes, size=n)) % num_classes
    else:  # pair
        candidates = (labels + 1) % num_classes
    noisy = np.where(flip, candidates, labels).astype(np.int64)
    return noisy, noisy != labels
