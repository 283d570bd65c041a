"""The relabelling report (labels.csv rows), the flagged precision / recall and predictions rows,
checked against brute-force set counts (torch-free)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from selfdistill.label_report import flag_scores, label_rows, prediction_rows


def _proba(seed: int, n: int, k: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, k)) * 3
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(2, 6))
def test_label_rows_by_hand(seed: int, n: int, k: int) -> None:
    proba = _proba(seed, n, k)
    given_labels = np.random.default_rng(seed + 1).integers(0, k, size=n)
    rows = label_rows(proba, given_labels, [f"c{j}" for j in range(k)])
    assert sorted(r["index"] for r in rows) == list(range(n))
    for r in rows:
        i = r["index"]
        assert r["given_label"] == given_labels[i]
        assert r["predicted_label"] == int(np.argmax(proba[i]))
        assert r["confidence"] == pytest.approx(proba[i].max(), abs=0)
        assert r["p_given"] == pytest.approx(proba[i, given_labels[i]], abs=0)
        assert r["flagged"] == (r["predicted_label"] != r["given_label"])
        assert r["given_name"] == f"c{given_labels[i]}"
    # sorted: every flagged row before every other one, then p_given ascending within each group
    keys = [(not r["flagged"], r["p_given"]) for r in rows]
    assert keys == sorted(keys)


def test_label_rows_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="proba"):
        label_rows(np.ones((3,)), [0, 1, 0])
    with pytest.raises(ValueError, match="given"):
        label_rows(_proba(0, 3, 2), [0, 1])
    with pytest.raises(ValueError, match=r"given labels must lie in \[0, 1\]"):
        label_rows(_proba(0, 3, 2), [0, 1, 2])
    with pytest.raises(ValueError, match="class_names"):
        label_rows(_proba(0, 3, 2), [0, 1, 0], ["a"])


@given(arrays(bool, 30), arrays(bool, 30))
def test_flag_scores_against_set_counts(flagged: np.ndarray, corrupted: np.ndarray) -> None:
    scores = flag_scores(flagged, corrupted)
    f_set = {i for i in range(30) if flagged[i]}
    c_set = {i for i in range(30) if corrupted[i]}
    if not c_set:
        assert scores == dict.fromkeys(scores)
        return
    assert scores["flagged_recall"] == pytest.approx(len(f_set & c_set) / len(c_set), abs=1e-15)
    if not f_set:
        assert scores["flagged_precision"] is None and scores["flagged_f1"] is None
        return
    precision = len(f_set & c_set) / len(f_set)
    assert scores["flagged_precision"] == pytest.approx(precision, abs=1e-15)
    if f_set & c_set:
        # F1 = 2 |F ∩ C| / (|F| + |C|), the set form of the harmonic mean
        f1 = 2 * len(f_set & c_set) / (len(f_set) + len(c_set))
        assert scores["flagged_f1"] == pytest.approx(f1, abs=1e-12)
    else:
        assert scores["flagged_f1"] is None


def test_flag_scores_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="flagged and corrupted"):
        flag_scores([True, False], [True])


def test_prediction_rows() -> None:
    proba = _proba(3, 5, 3)
    rows = prediction_rows(proba, ["cat", "dog", "eel"])
    assert [r["index"] for r in rows] == list(range(5))
    for r, p in zip(rows, proba, strict=True):
        assert r["predicted_label"] == int(p.argmax())
        assert r["predicted_name"] == ["cat", "dog", "eel"][int(p.argmax())]
        assert [r["p_cat"], r["p_dog"], r["p_eel"]] == p.tolist()
        assert r["confidence"] == p.max()
