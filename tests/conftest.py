"""Shared test configuration.

Hypothesis runs derandomized (the same examples every run, so CI is reproducible) with no
per-example deadline (2-core CI machines are slow and shared).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile(
    "default", derandomize=True, deadline=None, max_examples=60, print_blob=True
)
settings.register_profile("thorough", deadline=None, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
