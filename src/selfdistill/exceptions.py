"""Warnings raised by selfdistill."""

from __future__ import annotations

__all__ = ["CollapseWarning", "DamagedStateWarning", "ToleranceWarning"]


class CollapseWarning(UserWarning):
    """The zero function already meets the loss tolerance: the solution collapsed.

    Mobahi et al. (2020) eq. 7 (Borup & Andersen appendix D.1 when alpha > 0): at a step where
    ``alpha * mean(y**2) + (1 - alpha) * mean(y_prev**2) <= epsilon`` the constrained problem is
    solved by ``f = 0``. Raised once per fit, at the first collapsed step.
    """


class ToleranceWarning(UserWarning):
    """The loss tolerance epsilon cannot be reached by any ridge ``lam > 0``.

    The residual that the kernel's null space forces (plus, for ``0 < alpha < 1``, the constant
    ``alpha (1 - alpha) mean((y - y_prev)**2)`` of the step's loss) already exceeds epsilon. The
    estimator then takes the ``lam -> 0+`` limit: the minimum-norm fit on the range of the kernel.
    """


class DamagedStateWarning(UserWarning):
    """A file of a resumable run's state is damaged (truncated, not valid JSON, or its weights
    do not match the checksum of their record); the work it held is redone from what is intact.
    """
