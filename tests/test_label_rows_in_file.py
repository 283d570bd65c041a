"""labels.csv points at the user's own rows (issue 12): ``row`` is the sample's row in the file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pd = pytest.importorskip("pandas")

from selfdistill.cli import main  # noqa: E402
from selfdistill.nn import DataSplits, load_dataset  # noqa: E402


def _table(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] > 0).astype(int)
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y), x


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_train_rows_are_the_files_rows(tmp_path: Path, suffix: str) -> None:
    frame, x = _table()
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        np.savez(path, x=x, y=frame["y"].to_numpy())
    data = load_dataset(str(path), seed=0, label_column="y", standardize=False)
    rows = data.train_rows
    assert rows is not None and len(rows) == len(data.y_train) and len(set(rows)) == len(rows)
    np.testing.assert_allclose(data.x_train.numpy(), x[rows].astype(np.float32))


def test_from_arrays_keeps_rows_too() -> None:
    _, x = _table()
    y = (x[:, 0] > 0).astype(int)
    data = DataSplits.from_arrays(x, y, seed=1, standardize=False)
    np.testing.assert_allclose(data.x_train.numpy(), x[data.train_rows].astype(np.float32))


def test_flagged_rows_of_labels_csv_are_the_flipped_rows_of_the_file(tmp_path: Path) -> None:
    frame, _ = _table(400)
    flipped = [5, 17, 42, 99, 150, 222, 301, 377]
    frame.loc[flipped, "y"] = 1 - frame.loc[flipped, "y"]
    frame.to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "out"
    argv = ["noisy", "--data", str(tmp_path / "mine.csv"), "--label-column", "y", "--noise", "0"]
    argv += ["--method", "ce", "--epochs", "30", "--seeds", "0", "--out", str(out)]
    assert main([*argv, "--no-progress", "--lr", "0.1"]) == 0
    (labels,) = out.glob("runs/*/labels.csv")
    with labels.open() as fh:
        table = list(csv.DictReader(fh))
    flagged_rows = {int(r["row"]) for r in table if r["flagged"] == "True"}
    in_train = {int(r["row"]) for r in table} & set(flipped)
    assert in_train, "some flipped rows fall in the training split"
    # the model disagrees with every flipped training row, named by its row in the file
    assert in_train <= flagged_rows
    for r in table:  # and every row's given label is the file's label at that row
        assert int(r["given_label"]) == int(frame.loc[int(r["row"]), "y"])
