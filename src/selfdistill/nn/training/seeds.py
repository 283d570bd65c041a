"""Seeds derived from a run's seed: one rule for every place that needs an independent stream.

A run has one seed; its model initialisation, data order, label corruption, ... each need a seed
of their own that is unrelated to the others and to those of other runs. :func:`derive_seed`
hashes ``(run seed, purpose, ...)`` with NumPy's ``SeedSequence`` (whose entropy mixing makes
nearby inputs give unrelated outputs), so ``seed + 1`` is never reused by accident: the data
order of seed s at epoch e + 1 is not the one of seed s + 1 at epoch e.
"""

from __future__ import annotations

import numpy as np

__all__ = ["derive_seed"]


def derive_seed(*entropy: int, bits: int = 32) -> int:
    """A ``bits``-bit seed from the integers ``entropy`` (``1 <= bits <= 64``).

    The low ``bits`` bits of the first 64-bit word of ``SeedSequence(entropy)``, so that a
    32-bit seed is the sequence's first 32-bit word.

    Examples
    --------
    >>> derive_seed(0, 1) == int(np.random.SeedSequence([0, 1]).generate_state(1)[0])
    True
    """
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be in [1, 64], got {bits!r}")
    word = int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1, np.uint64)[0])
    return word & ((1 << bits) - 1)
