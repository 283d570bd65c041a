"""Warnings raised by selfdistill, and :class:`Interrupted`."""

from __future__ import annotations

import signal

__all__ = ["CollapseWarning", "DamagedStateWarning", "Interrupted", "ToleranceWarning"]


class Interrupted(KeyboardInterrupt):
    """A long run was stopped by a signal (Ctrl-C's SIGINT, or SIGTERM from a scheduler or
    ``timeout``) after it kept what had finished.

    A subclass of :class:`KeyboardInterrupt`, so code that lets Ctrl-C through lets it through.
    The command line prints :meth:`message` as one line and exits with ``128 + signum`` (130 for
    SIGINT, 143 for SIGTERM).

    Attributes
    ----------
    signum
        The signal (``signal.SIGINT`` or ``signal.SIGTERM``).
    kept, total
        How many of the runs (``unit``) are finished and stored, and how many there are; ``None``
        when not known.
    unit
        What was counted (``"runs"``, ``"generations"``).
    """

    def __init__(
        self,
        signum: int = signal.SIGINT,
        kept: int | None = None,
        total: int | None = None,
        unit: str = "runs",
    ) -> None:
        super().__init__(signum)
        self.signum, self.kept, self.total, self.unit = int(signum), kept, total, unit

    @property
    def exit_status(self) -> int:
        """``128 + signum``: 130 after SIGINT, 143 after SIGTERM (the shells' convention)."""
        return 128 + self.signum

    def message(self) -> str:
        """``interrupted; N of M runs kept, rerun the same command to resume``."""
        what = "interrupted" if self.signum == signal.SIGINT else "interrupted (SIGTERM)"
        if self.kept is None or self.total is None:
            return f"{what}; rerun the same command to resume"
        counted = f"{self.kept} of {self.total} {self.unit} kept"
        return f"{what}; {counted}, rerun the same command to resume"


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
