"""The review page of a ``selfdistill clean`` run: the summary, and the table of suspect labels
in which a person decides about each one and downloads ``corrections.csv``.

It reads ``OUT/results.json``, ``OUT/issues.csv`` (one row per sample, sorted by score) and, when
present, ``OUT/probabilities.npy`` (the out-of-fold probabilities, row ``i`` = sample ``index``
``i``), and the evidence from DATA (:mod:`.evidence`). The table itself is drawn in the browser
by ``assets/review.js`` from the data embedded as JSON, one page of rows at a time, so a run of
100,000 samples stays responsive.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .evidence import MAX_EVIDENCE, gather_evidence
from .page import asset, document, escape, fmt, json_script, settings_list, table
from .svg import heatmap, histogram

__all__ = ["ISSUE_COLUMNS", "TOP_CLASSES", "clean_page", "read_issues", "review_payload"]

#: the columns ``issues.csv`` starts with (its contract with ``selfdistill clean``)
ISSUE_COLUMNS = (
    "row", "index", "given_label", "suggested_label", "score", "flagged", "p_given",
    "p_suggested",
)  # fmt: skip
#: out-of-fold probabilities of this many most probable classes are shown per row
TOP_CLASSES = 3
#: the evidence of this many rows (the first pages of the flagged ones) comes with the table's
#: data; the rest follows at the end of the page, so the first page is drawn before it is parsed
FIRST_EVIDENCE = 250


def read_issues(path: Path) -> list[dict[str, str]]:
    """The rows of ``issues.csv`` as dicts of text; ValueError naming the file when a column of
    :data:`ISSUE_COLUMNS` is missing."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ISSUE_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not an issues.csv of clean (no column {missing[0]!r})")
        return list(reader)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _top_classes(
    probabilities: np.ndarray | None, indices: np.ndarray, fallback: np.ndarray
) -> tuple[int, list[int], list[float | None]]:
    """``(k, classes, permille)``: per row its ``k`` (:data:`TOP_CLASSES`) most probable
    classes and their probabilities in thousandths (integers parse fast), flattened row after
    row; without ``probabilities.npy``, ``fallback`` (rows of given class, p_given, suggested
    class, p_suggested) with ``k = 2``."""
    if probabilities is None:
        classes = fallback[:, [0, 2]].astype(np.int64).ravel().tolist()
        values = [None if not np.isfinite(v) else round(1000 * float(v)) for v in
                  fallback[:, [1, 3]].ravel()]  # fmt: skip
        return 2, classes, values
    p = probabilities[indices]
    k = min(TOP_CLASSES, p.shape[1])
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    values = np.take_along_axis(p, top, axis=1)
    return k, top.ravel().tolist(), np.round(1000 * values).astype(np.int64).ravel().tolist()


def _probabilities(out: Path, n: int, k: int) -> np.ndarray | None:
    path = out / "probabilities.npy"
    if not path.is_file():
        return None
    p = np.load(path, allow_pickle=False)
    if p.shape != (n, k):
        raise ValueError(f"{path}: shape {p.shape}, expected ({n}, {k}) (n samples, classes)")
    return p.astype(np.float64)


def run_key(out: Path) -> str:
    """The key the page stores its decisions under: a digest of ``issues.csv`` (a new run into
    the same folder starts with no decisions)."""
    return hashlib.sha256((out / "issues.csv").read_bytes()).hexdigest()[:16]


def review_payload(out: Path, results: Mapping[str, Any]) -> dict[str, Any]:
    """The data the page's script draws the table from (JSON-able)."""
    issues = read_issues(out / "issues.csv")
    classes = [str(c) for c in results.get("classes") or []]
    code = {c: i for i, c in enumerate(classes)}
    for r in issues:  # a label results.json does not list still shows
        for key in ("given_label", "suggested_label"):
            if r[key] not in code:
                code[r[key]] = len(classes)
                classes.append(r[key])
    indices = np.array([int(r["index"]) for r in issues], dtype=np.int64)
    flagged = [r["flagged"].strip().lower() in ("1", "true", "yes") for r in issues]
    given = [code[r["given_label"]] for r in issues]
    suggested = [code[r["suggested_label"]] for r in issues]
    fallback = np.array(
        [[g, _float(r["p_given"]), s, _float(r["p_suggested"])]
         for r, g, s in zip(issues, given, suggested, strict=True)], dtype=float,
    ).reshape(len(issues), 4)  # fmt: skip
    probs = _probabilities(out, len(issues), len(results.get("classes") or []))
    k, top_class, top_prob = _top_classes(probs, indices, fallback)
    settings = results.get("settings") or {}
    evidence = gather_evidence(
        settings.get("data"), str(results.get("data_kind", "")),
        rows=[r["row"] for r in issues], indices=indices.tolist(), flagged=flagged,
        label_column=str(settings.get("label_column") or "label"),
        image_size=settings.get("image_size"), limit=MAX_EVIDENCE,
    )  # fmt: skip
    names = [r["row"] for r in issues]
    scores = [_float(r["score"]) for r in issues]
    return {
        "run": run_key(out),
        "classes": classes,
        "kind": evidence.kind,
        # one column per field, in the file's order (by score); rowNames null: the row is the
        # index (tables, arrays)
        "rowNames": None if names == [str(i) for i in indices.tolist()] else names,
        "index": indices.tolist(),
        "given": given,
        "suggested": suggested,
        "score": [None if v is None else round(v, 6) for v in scores],
        "flagged": [int(f) for f in flagged],
        "topK": k,
        "topClass": top_class,
        "topProb": top_prob,
        "thumbs": {str(k): v for k, v in evidence.thumbs.items()},
        "featureNames": evidence.feature_names,
        "nFeatures": evidence.n_features,
        "features": {str(k): v for k, v in evidence.features.items()},
        "neighbours": {str(k): v for k, v in evidence.neighbours.items()},
        "notes": evidence.notes,
        # labels a person decided in an earlier review (clean --corrections): decided already
        "corrected": {r["row"]: r["corrected"] for r in issues if r.get("corrected")},
    }


def _summary(results: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    n = int(results.get("n", len(payload["index"])))
    n_flagged = int(results.get("n_flagged", sum(payload["flagged"])))
    share = f" ({100 * n_flagged / n:.1f} %)" if n else ""
    threshold = results.get("threshold")
    cards = [
        ("samples", f"{n:,}"),
        ("flagged", f"{n_flagged:,}{share}"),
        ("method", str(results.get("method", "–"))),
        ("flag threshold", fmt(threshold)),
        ("folds", fmt((results.get("settings") or {}).get("folds"))),
        ("corrections used", fmt(results.get("corrections", 0))),
    ]
    items = "".join(
        f'<li><span class="value">{escape(v)}</span><span class="label">{escape(k)}</span></li>'
        for k, v in cards
    )
    parts = [f'<section aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
             f'<ul class="cards">{items}</ul>']  # fmt: skip
    methods = results.get("methods") or {}
    if methods:
        chosen = results.get("method")
        rows = [
            (m, 100 * float(a) if a is not None else None, "chosen" if m == chosen else "")
            for m, a in sorted(methods.items(), key=lambda kv: -(kv[1] or 0.0))
        ]
        parts.append(table(
            ("method", "out-of-fold accuracy against the given labels (%)", ""), rows,
            caption="Methods compared (the most accurate trains the final model)",
            numeric=(False, True, False),
        ))  # fmt: skip
    parts.append(_charts(results, payload))
    parts.append("</section>")
    return "".join(parts)


def _charts(results: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    charts = []
    confusion = results.get("confusion") or {}
    labels, matrix = confusion.get("labels"), confusion.get("matrix")
    if labels and matrix:
        charts.append(
            "<figure>"
            + heatmap(labels, matrix, title="Given label → suggested label (all samples)")
            + "<figcaption>Given (rows) against suggested (columns) label; the diagonal, "
            "outlined, is the labels the models agree with.</figcaption></figure>"
        )
    charts.append(
        "<figure>"
        + histogram(
            [v if v is not None else math.nan for v in payload["score"]],
            [bool(f) for f in payload["flagged"]],
            threshold=results.get("threshold"),
            title="Scores of all samples",
        )
        + "<figcaption>Scores of every sample; flagged samples are hatched.</figcaption></figure>"
    )
    html = '<div class="charts">' + "".join(charts) + "</div>"
    per_class = results.get("flagged_per_class") or {}
    if isinstance(per_class, Mapping) and per_class:
        html += table(("class", "flagged"), sorted(per_class.items(), key=lambda kv: -kv[1]),
                      caption="Flagged samples per given class", numeric=(False, True))  # fmt: skip
    if labels and matrix:
        html += (
            "<details><summary>The confusion matrix as numbers</summary>"
            + table(
                ("given \\ suggested", *labels),
                [(g, *row) for g, row in zip(labels, matrix, strict=True)],
                numeric=(False, *([True] * len(labels))),
            )
            + "</details>"
        )
    return html


_REVIEW = """
<section aria-labelledby="review-h">
<h2 id="review-h">Review the suspect labels</h2>
<p class="note">Decide about each row: accept the suggested label, keep the given one, set another,
or mark it unsure. Decisions are kept in this browser (for this run) until you download them as
<code>corrections.csv</code> (<code>row,label</code>, the decided rows only) and pass it to
<code>selfdistill clean ... --corrections corrections.csv</code>.</p>
{notes}
<p class="keys" id="keys">Keyboard, on a focused row: <kbd>↓</kbd>/<kbd>↑</kbd> next/previous
row, <kbd>a</kbd> accept the suggestion, <kbd>k</kbd> keep the given label, <kbd>u</kbd> unsure,
<kbd>s</kbd> set a label (choose it in the list), <kbd>1</kbd>–<kbd>9</kbd> set the label to
class 1–9 of the list (classes named 0–9: the class of that name), <kbd>c</kbd> or
<kbd>Delete</kbd> clear, <kbd>PageDown</kbd>/<kbd>PageUp</kbd> next/
previous page.</p>
<fieldset class="controls no-print"><legend>Filter</legend>
<label>Given class <select id="filter-given"><option value="">any</option></select></label>
<label>Suggested class <select id="filter-suggested"><option value="">any</option></select></label>
<label>Score from <input id="filter-min" type="number" step="any" inputmode="decimal"></label>
<label>to <input id="filter-max" type="number" step="any" inputmode="decimal"></label>
<label>Decision <select id="filter-decision"><option value="">any</option>
<option value="undecided">undecided</option><option value="decided">decided</option>
<option value="unsure">unsure</option></select></label>
<label><input id="show-all" type="checkbox"> Show all samples, not only the flagged ones</label>
<label>Rows per page <select id="page-size"><option>25</option><option selected>50</option>
<option>100</option><option>250</option></select></label>
</fieldset>
<div class="toolbar">
<button type="button" id="download-corrections" class="primary">Download corrections.csv</button>
<button type="button" id="clear-decisions">Clear all decisions</button>
<span id="decided-count" class="status"></span>
<span id="storage-warning" class="warning" hidden></span>
</div>
<p id="status" class="status" role="status" aria-live="polite"></p>
<div class="scroll">
<table id="issues" aria-describedby="keys">
<caption class="sr">Suspect labels, most surely wrong first</caption>
<thead><tr><th scope="col">#</th><th scope="col">sample</th><th scope="col">row</th>
<th scope="col">given</th><th scope="col">suggested</th><th scope="col" class="num">score</th>
<th scope="col">out-of-fold probabilities</th><th scope="col">decision</th></tr></thead>
<tbody></tbody></table></div>
<noscript><p class="warning">The review table needs JavaScript; issues.csv holds the same
rows.</p></noscript>
<nav class="pager no-print" aria-label="pages of the table">
<button type="button" id="page-prev">← Previous page</button>
<span id="page-info"></span>
<button type="button" id="page-next">Next page →</button>
</nav>
</section>
"""


def clean_page(out: Path, results: Mapping[str, Any]) -> str:
    """The whole review page of the ``clean`` run in ``out``."""
    payload = review_payload(out, results)
    rest = _later_evidence(payload)
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in payload["notes"])
    settings = results.get("settings") or {}
    body = (
        _summary(results, payload)
        + _REVIEW.format(notes=notes)
        + '<section aria-labelledby="settings-h"><h2 id="settings-h">Settings</h2>'
        + settings_list(settings)
        + "</section>"
        + json_script("review-data", payload)
    )
    data = settings.get("data", "")
    return document(
        "selfdistill clean: review the suspect labels",
        body,
        subtitle=f"data: {data}; output: {out}",
        scripts=(asset("review.js"),),
        head=f'<meta name="selfdistill-run" content="{payload["run"]}">',
        tail=json_script("review-later", rest),
    )


def _later_evidence(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Move the evidence (thumbnails, feature values, neighbours) past the first
    :data:`FIRST_EVIDENCE` rows of the first view (flagged rows by score, then the others) out of
    ``payload``; return it, to follow the page's script."""
    index, flagged = payload["index"], payload["flagged"]
    first_rows = [str(i) for i, f in zip(index, flagged, strict=True) if f]
    first_rows += [str(i) for i, f in zip(index, flagged, strict=True) if not f]
    first = set(first_rows[:FIRST_EVIDENCE])
    later = {}
    for key in ("thumbs", "features", "neighbours"):
        values = payload[key]
        payload[key] = {k: v for k, v in values.items() if k in first}
        later[key] = {k: v for k, v in values.items() if k not in first}
    return later
