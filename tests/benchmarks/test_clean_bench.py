"""The scoring and the table of benchmarks/clean.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "clean.py"
_spec = importlib.util.spec_from_file_location("bench_clean", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_precision_recall_f1_against_a_count_by_hand() -> None:
    flagged = np.array([1, 1, 1, 0, 0, 0], bool)
    wrong = np.array([1, 0, 0, 1, 0, 0], bool)  # 1 of 3 flagged is wrong, 1 of 2 wrong flagged
    got = bench.prf(flagged, wrong)
    assert got["precision"] == pytest.approx(1 / 3) and got["recall"] == pytest.approx(1 / 2)
    assert got["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert bench.prf(np.zeros(6, bool), wrong) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_table_averages_over_seeds() -> None:
    def cell(seed: int, f1: float) -> dict:
        trio = {"precision": f1, "recall": f1, "f1": f1}
        return {"data": "d", "kind": "pair", "rate": 0.1, "seed": seed, "n_wrong": 10 + seed,
                "clean": trio, "cleanlab": trio, "in_sample": trio, "clean_test_acc": 0.5,
                "chosen": "elr", "test_acc": dict.fromkeys(bench.METHODS, 0.5),
                "clean_s": 1.0, "cleanlab_s": 2.0}  # fmt: skip

    text = bench.table([cell(0, 0.2), cell(1, 0.4)])
    row = text.splitlines()[2]
    assert row.startswith("| d | pair | 0.1 | 10 | 0.300 / 0.300 / 0.300 |") and "(elr)" in row
