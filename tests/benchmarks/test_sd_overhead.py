"""The statistics of benchmarks/sd_overhead.py (the estimator behind its reported ratios)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "sd_overhead.py"
_spec = importlib.util.spec_from_file_location("sd_overhead", _PATH)
sd_overhead = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sd_overhead)


def test_balanced_ratio_cancels_an_order_effect():
    # True overhead 4 %; the second run of a pair is 1 % slower. CE-first pairs then measure
    # 1.04 * 1.01, SD-first pairs 1.04 / 1.01; the pooled median would be either, the balanced
    # estimate is 1.04 to rounding.
    ce_first = [math.log(1.04 * 1.01) + e for e in (-0.002, 0.0, 0.001, 0.003, -0.001)]
    sd_first = [math.log(1.04 / 1.01) + e for e in (0.002, -0.003, 0.0, 0.001, -0.001)]
    assert sd_overhead.balanced_ratio(sd_first, ce_first) == pytest.approx(1.04, rel=1e-12)
    low, high = sd_overhead.bootstrap_ci95(sd_first, ce_first)
    assert low <= 1.04 <= high
    assert high / low < 1.01  # the noise above is ±0.3 %, so the interval is narrow


def test_bootstrap_interval_is_reproducible_and_ordered():
    a = [0.01 * i for i in range(11)]
    b = [0.02 - 0.003 * i for i in range(9)]
    first = sd_overhead.bootstrap_ci95(a, b)
    assert first == sd_overhead.bootstrap_ci95(a, b)  # seeded
    assert first[0] <= sd_overhead.balanced_ratio(a, b) <= first[1]
