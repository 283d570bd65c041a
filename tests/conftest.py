"""Shared test configuration.

Hypothesis runs derandomized (the same examples every run, so CI is reproducible) with no
per-example deadline (2-core CI machines are slow and shared).

Each test process uses one BLAS/OpenMP/torch thread: pytest-xdist already runs one worker per
core, and the small tensors of the tests slow down badly when threads are oversubscribed
(measured: a 6.5 s test took 248 s with 2 workers x 2 threads on a loaded 2-core machine).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from hypothesis import settings  # noqa: E402

# The headless browser (tests/browser.py) is defined here, once for the whole suite: a
# session-scoped fixture imported into two sub-folder conftests would be two fixtures, and the
# second would start Playwright's sync API inside the first one's event loop.
from tests.browser import browser, offline_page  # noqa: E402, F401  (pytest fixtures)

settings.register_profile(
    "default", derandomize=True, deadline=None, max_examples=60, print_blob=True
)
settings.register_profile("thorough", deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


try:  # torch reads OMP_NUM_THREADS at import, but an earlier import may have fixed it already
    import torch
except ImportError:  # the torch extra is optional
    pass
else:
    torch.set_num_threads(1)
