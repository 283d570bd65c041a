"""Argument checks shared by every public entry point.

Each check raises ``ValueError`` whose message names the argument and the allowed range, so that
a user sees at once what to change.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_DEPTH",
    "MAX_EPOCHS",
    "MAX_GENERATIONS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_WIDTH",
    "as_real_array",
    "check_choice",
    "check_int",
    "check_numeric_columns",
    "check_real",
    "check_seeds",
    "parse_float_list",
    "parse_int_list",
    "parse_seeds",
]

#: Caps on sizes that would otherwise exhaust memory or time before any error (issue 11): far
#: above anything the papers or a workstation need, low enough to fail at once with a clear
#: message instead of a ``MemoryError`` minutes later.
MAX_GENERATIONS = 1_000
MAX_EPOCHS = 100_000
MAX_SEEDS = 1_000
#: seeds are 32-bit (``numpy.random.SeedSequence`` and ``torch.manual_seed`` take them)
MAX_SEED = 2**32 - 1
MAX_WIDTH = 65_536
MAX_DEPTH = 256
#: samples a generated data set (MNIST-1D) may have in all
MAX_SAMPLES = 1_000_000


def as_real_array(name: str, value: object) -> np.ndarray:
    """Return ``value`` as a float64 array after checking it holds real numbers.

    Complex values are refused (NumPy would silently drop the imaginary part), as are strings,
    objects and ragged nesting; booleans and integers are converted.

    Raises
    ------
    ValueError
        Naming ``name`` and the dtype found.
    """
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nesting
        raise ValueError(f"{name} must be an array of real numbers (not ragged)") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers, got complex values (dtype {arr.dtype})")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as float after checking it is a finite real in the given interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not (lo_ok and hi_ok):
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        lb = "[" if (low is not None and low_inclusive) else "("
        rb = "]" if (high is not None and high_inclusive) else ")"
        raise ValueError(f"{name} must be in {lb}{left}, {right}{rb}, got {value!r}")
    return value


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int after checking it is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        left = "-inf" if low is None else str(low)
        right = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{left}, {right}], got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value  # type: ignore[return-value]


def parse_int_list(
    name: str,
    text: str,
    *,
    low: int | None = None,
    high: int | None = None,
    unique: bool = False,
    max_len: int | None = None,
) -> list[int]:
    """Parse a comma list such as ``"0,1,2"``; every value is checked with :func:`check_int`
    against ``[low, high]``; ``unique`` refuses a value named twice, ``max_len`` a longer list."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"{name} must be a comma-separated list of integers, got {text!r}"
        ) from None
    if not values:
        raise ValueError(f"{name} must name at least one integer, got {text!r}")
    return _check_int_list(name, values, low=low, high=high, unique=unique, max_len=max_len)


def _check_int_list(
    name: str,
    values: list[int],
    *,
    low: int | None,
    high: int | None,
    unique: bool,
    max_len: int | None,
) -> list[int]:
    if max_len is not None and len(values) > max_len:
        raise ValueError(f"{name} may name at most {max_len} values, got {len(values)}")
    values = [check_int(name, v, low=low, high=high) for v in values]
    if unique:
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            shown = ", ".join(str(v) for v in repeated)
            raise ValueError(
                f"{name} names {shown} more than once; every value must be distinct "
                "(a repeated seed would repeat the same run and understate the spread)"
            )
    return values


def parse_seeds(name: str, text: str) -> list[int]:
    """``--seeds``: a comma list of distinct seeds in ``[0, MAX_SEED]``, at most
    :data:`MAX_SEEDS` of them (ValueError naming ``name``)."""
    return parse_int_list(name, text, low=0, high=MAX_SEED, unique=True, max_len=MAX_SEEDS)


def check_seeds(name: str, seeds: object) -> list[int]:
    """The Python APIs' seed lists: a non-empty sequence of distinct integers in
    ``[0, MAX_SEED]``, at most :data:`MAX_SEEDS` of them; returned as a list of ints."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of integers, got {type(seeds).__name__}")
    values = list(seeds)
    if not values:
        raise ValueError(f"{name} must name at least one seed")
    return _check_int_list(name, values, low=0, high=MAX_SEED, unique=True, max_len=MAX_SEEDS)


def parse_float_list(
    name: str, text: str, *, low: float | None = None, high: float | None = None
) -> tuple[float, ...]:
    """Parse a comma list such as ``"0,0.2,0.4"`` (``--noise``, ``--grid``, ``--alphas``).

    Every value is checked with :func:`check_real` against ``[low, high]``.
    """
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        message = f"{name} must be a comma-separated list of numbers, got {text!r}"
        raise ValueError(message) from None
    if not values:
        raise ValueError(f"{name} must name at least one number, got {text!r}")
    return tuple(check_real(name, v, low=low, high=high) for v in values)


def check_numeric_columns(X: object, name: str = "X") -> None:
    """ValueError naming the columns of a DataFrame ``X`` (anything with ``dtypes`` and
    ``columns``, e.g. pandas) that do not hold numbers: text, dates, categories. Arrays and
    other inputs pass unchecked (scikit-learn's own checks follow)."""
    dtypes = getattr(X, "dtypes", None)
    columns = getattr(X, "columns", None)
    if dtypes is None or columns is None or not hasattr(dtypes, "__iter__"):
        return
    bad = [
        (str(c), str(t))
        for c, t in zip(columns, dtypes, strict=False)
        if getattr(t, "kind", "O") not in "biuf"
    ]
    if bad:
        shown = ", ".join(f"{c!r} ({t})" for c, t in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"{name} must hold numbers only; column(s) {shown}{more} hold text, dates or "
            "categories: encode them as numbers or drop them"
        )
