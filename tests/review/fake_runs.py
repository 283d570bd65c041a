"""Output folders of ``selfdistill clean`` made without training, exactly as its contract
(issue 23) lays them out: ``issues.csv``, ``probabilities.npy`` and ``results.json`` beside a
DATA that holds the samples (an image folder, a CSV, an ``.npz``).

The out-of-fold probabilities are drawn (Dirichlet around the given label, with a known set of
rows made to look mislabelled), so a test knows which rows are flagged and what is suggested.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

CLASSES = ("cat", "dog", "owl")
ISSUE_FIELDS = (
    "row", "index", "given_label", "suggested_label", "score", "flagged", "p_given",
    "p_suggested",
)  # fmt: skip


def _images(data: Path, labels: np.ndarray, rng: np.random.Generator) -> list[str]:
    """An image folder ``data/<class>/<i>.png`` (12 × 12 RGB); the rows in reading order."""
    from PIL import Image

    rows = []
    for k, name in enumerate(CLASSES):
        (data / name).mkdir(parents=True)
        for i in np.flatnonzero(labels == k):
            pixels = rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)
            pixels[:, :, k] = 255  # each class leans to one colour channel
            Image.fromarray(pixels).save(data / name / f"img{i:05d}.png")
    for name in CLASSES:  # reading order: classes sorted, files sorted
        rows += [f"{name}/{p.name}" for p in sorted((data / name).iterdir())]
    return rows


def make_clean_run(
    root: Path,
    kind: str = "images",
    *,
    n: int = 60,
    noisy: float = 0.15,
    seed: int = 0,
    threshold: float | None = 0.5,
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """Write DATA (``kind``: ``images``, ``table`` or ``arrays``) and OUT under ``root``; return
    OUT. About a fraction ``noisy`` of the samples get probabilities that point elsewhere."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    out, data_dir = root / "out", root / "data"
    out.mkdir(parents=True)
    data_dir.mkdir(parents=True)
    if kind == "images":
        order = np.sort(rng.integers(0, k, size=n))  # reading order groups the classes
        data = data_dir / "images"
        rows = _images(data, order, rng)
        given = order
    else:
        given = rng.integers(0, k, size=n)
        x = rng.normal(size=(n, 4)) + given[:, None] * 2.0
        if kind == "table":
            data = data_dir / "samples.csv"
            with data.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["length", "width", "height", "mass", "species"])
                for xi, yi in zip(x, given, strict=True):
                    writer.writerow([*(f"{v:.4f}" for v in xi), classes[yi]])
        else:
            data = data_dir / "samples.npz"
            np.savez(data, x=x, y=np.array(classes)[given])
        rows = [str(i) for i in range(n)]
    wrong = rng.random(n) < noisy
    target = np.where(wrong, (given + rng.integers(1, k, size=n)) % k, given)
    alpha = np.ones((n, k))
    alpha[np.arange(n), target] = 12.0
    probs = np.stack([rng.dirichlet(a) for a in alpha]).astype(np.float32)
    suggested = probs.argmax(axis=1)
    p_given = probs[np.arange(n), given]
    score = 1.0 - p_given
    flagged = (suggested != given) & (score > (threshold if threshold is not None else 0.5))
    np.save(out / "probabilities.npy", probs)
    order = np.argsort(-score, kind="stable")
    with (out / "issues.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ISSUE_FIELDS)
        for i in order:
            writer.writerow([
                rows[i], i, classes[given[i]], classes[suggested[i]], f"{score[i]:.6f}",
                int(flagged[i]), f"{p_given[i]:.6f}", f"{probs[i, suggested[i]]:.6f}",
            ])  # fmt: skip
    confusion = np.zeros((k, k), int)
    np.add.at(confusion, (given, suggested), 1)
    results = {
        "command": "clean",
        "settings": {"data": str(data.resolve()), "label_column": "species" if kind == "table"
                     else "label", "folds": 5, "seed": seed},
        "data_kind": {"images": "images", "table": "table", "arrays": "arrays"}[kind],
        "classes": list(classes),
        "n": n,
        "n_flagged": int(flagged.sum()),
        "threshold": threshold,
        "method": "sd-margin",
        "methods": {"sd-margin": 0.84, "elr": 0.82, "gce": 0.8},
        "flagged_per_class": {c: int((flagged & (given == j)).sum()) for j, c in
                              enumerate(classes)},
        "confusion": {"labels": list(classes), "matrix": confusion.tolist()},
        "corrections": 0,
    }  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return out


def read_issues(out: Path) -> list[dict[str, str]]:
    """``OUT/issues.csv`` as dicts, in file order (by score)."""
    with (out / "issues.csv").open(newline="") as f:
        return list(csv.DictReader(f))
