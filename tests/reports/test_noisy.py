"""The choice of method on the NOISY validation split (``reports.noisy.noisy_val_selection``),
torch-free, against selections made by hand."""

from __future__ import annotations

import pytest

from selfdistill.reports.noisy import SELECTED, noisy_val_selection, selection_table


def _run(method, seed, noise, test, val, trainings=1):
    return {"method": method, "seed": seed, "noise": noise, "final_test_acc": test,
            "noisy_val_acc": val, "trainings": trainings}  # fmt: skip


RUNS = [
    _run("ce", 0, 0.4, 0.50, 0.40),
    _run("sd-margin", 0, 0.4, 0.60, 0.45),
    _run("confident-learning", 0, 0.4, 0.55, 0.44, trainings=4),
    _run("ce", 1, 0.4, 0.52, 0.47),  # the noisy val can pick the worse method on test
    _run("sd-margin", 1, 0.4, 0.61, 0.46),
    _run("confident-learning", 1, 0.4, 0.57, 0.30, trainings=4),
    _run("ce", 0, 0.0, 0.80, 0.70),  # a tie keeps the earlier method
    _run("sd-margin", 0, 0.0, 0.79, 0.70),
]


def test_selection_by_hand():
    picks = {(p["seed"], p["noise"]): p for p in noisy_val_selection(RUNS)}
    assert set(picks) == {(0, 0.4), (1, 0.4), (0, 0.0)}
    assert picks[0, 0.4]["chosen"] == "sd-margin" and picks[0, 0.4]["final_test_acc"] == 0.60
    assert picks[1, 0.4]["chosen"] == "ce" and picks[1, 0.4]["final_test_acc"] == 0.52
    assert picks[0, 0.0]["chosen"] == "ce"
    assert picks[0, 0.4]["trainings"] == 6  # every candidate is trained to choose
    assert all(p["method"] == SELECTED for p in picks.values())


def test_runs_stored_before_the_key_read_the_curve_at_the_reported_epoch():
    old = [
        {"method": "ce", "seed": 0, "noise": 0.2, "final_test_acc": 0.5,
         "noisy_val_curve": [0.1, 0.6, 0.3], "selected_epoch": 2},
        {"method": "early-stop", "seed": 0, "noise": 0.2, "final_test_acc": 0.55,
         "noisy_val_curve": [0.1, 0.6, 0.3], "selected_epoch": 1},
        {"method": "plugin", "seed": 0, "noise": 0.2, "final_test_acc": 0.9},  # no curve
    ]  # fmt: skip
    (pick,) = noisy_val_selection(old)
    assert (pick["chosen"], pick["noisy_val_acc"], pick["trainings"]) == ("early-stop", 0.6, 2)


def test_selection_table_rows():
    table = selection_table(RUNS)
    lines = table.splitlines()
    assert lines[0] == "| method | noise 0 | noise 0.4 |"
    assert lines[-2] == f"| {SELECTED} | **80.00** | 56.00 ± 5.66 |"  # ties ce: bold
    assert lines[-1] == "| chosen | ce × 1 | sd-margin × 1, ce × 1 |"
    single = [r for r in RUNS if r["method"] == "ce"]
    assert SELECTED not in selection_table(single)


@pytest.mark.parametrize("runs", [[], [{"method": "ce", "seed": 0, "noise": 0.1,
                                        "final_test_acc": 0.5}]])  # fmt: skip
def test_nothing_to_select(runs):
    assert noisy_val_selection(runs) == []
