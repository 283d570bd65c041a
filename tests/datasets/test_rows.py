"""The faithful writer: every row of the user's file back, only the label column changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from selfdistill.datasets.rows import (
    read_corrections,
    read_rows,
    relabelled_name,
    write_relabelled,
)


def _table(path: Path) -> Path:
    path.write_text(
        "b,species,a,id\n"
        "0.1,setosa,1,7\n"
        "0.30000000000000004,virginica,2,8\n"
        "1e-3,setosa,3,9\n"
        "2.5,versicolor,4,10\n",
        encoding="utf-8",
    )
    return path


def test_csv_keeps_every_cell_but_the_labels(tmp_path: Path) -> None:
    src = _table(tmp_path / "mine.csv")
    rows = read_rows(src, label_column="species")
    assert rows.kind == "table" and rows.rows == ("0", "1", "2", "3")
    assert rows.class_names == ("setosa", "versicolor", "virginica")
    assert rows.y.tolist() == [0, 2, 0, 1]
    out = write_relabelled(rows, np.array([2, 2, 0, 1]), tmp_path / relabelled_name(rows))
    assert out.name == "relabelled.csv"
    lines = out.read_text(encoding="utf-8").splitlines()
    original = src.read_text(encoding="utf-8").splitlines()
    assert lines[0] == original[0]
    assert lines[1] == "0.1,virginica,1,7"  # the label changed, every other cell as written
    assert lines[2:] == original[2:]


def test_integer_labels_keep_their_dtype(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    src = tmp_path / "t.tsv"
    pd.DataFrame({"f": [0.5, 1.5, 2.5, 3.5], "label": [10, 2, 10, 2]}).to_csv(
        src, sep="\t", index=False
    )
    rows = read_rows(src)
    assert rows.class_names == ("2", "10")
    out = write_relabelled(rows, np.array([0, 0, 1, 1]), tmp_path / "r.tsv")
    back = pd.read_csv(out, sep="\t")
    assert list(back.columns) == ["f", "label"] and back["label"].dtype.kind == "i"
    assert back["label"].tolist() == [2, 2, 10, 10] and back["f"].tolist() == [0.5, 1.5, 2.5, 3.5]


def test_parquet_keeps_columns_and_dtypes(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    src = tmp_path / "t.parquet"
    frame = pd.DataFrame({"label": ["a", "b", "a"], "x": np.arange(3, dtype=np.float32)})
    frame.to_parquet(src)
    rows = read_rows(src)
    write_relabelled(rows, np.array([1, 1, 0]), tmp_path / "r.parquet")
    back = pd.read_parquet(tmp_path / "r.parquet")
    assert list(back.columns) == ["label", "x"] and back["x"].dtype == np.float32
    assert back["label"].tolist() == ["b", "b", "a"]


def test_npz_keeps_keys_and_relabels_every_split(tmp_path: Path) -> None:
    src = tmp_path / "d.npz"
    x = np.arange(12.0).reshape(6, 2)
    y = np.array([1, 3, 1, 3], np.int16)
    np.savez(src, x=x[:4], y=y, x_test=x[4:], y_test=np.array([3, 1]))
    rows = read_rows(src)
    assert rows.kind == "arrays" and len(rows) == 6 and rows.class_names == ("1", "3")
    write_relabelled(rows, np.array([1, 1, 1, 0, 0, 0]), tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as back:
        assert sorted(back.files) == ["x", "x_test", "y", "y_test"]
        assert back["y"].dtype == np.int16 and back["y"].tolist() == [3, 3, 3, 1]
        assert back["y_test"].tolist() == [1, 1] and np.array_equal(back["x"], x[:4])


def test_image_folder_gives_path_label_csv(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    for cls, names in (("cat", ["b.png", "a.png"]), ("dog", ["c.png"])):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for name in names:
            image.new("L", (4, 4), 128).save(tmp_path / "imgs" / cls / name)
    rows = read_rows(tmp_path / "imgs")
    assert rows.kind == "images" and rows.rows == ("cat/a.png", "cat/b.png", "dog/c.png")
    out = write_relabelled(rows, np.array([1, 0, 0]), tmp_path / relabelled_name(rows))
    assert out.read_text().splitlines() == [
        "path,label", "cat/a.png,dog", "cat/b.png,cat", "dog/c.png,cat",
    ]  # fmt: skip


def test_never_over_the_input_and_bad_labels(tmp_path: Path) -> None:
    src = _table(tmp_path / "mine.csv")
    rows = read_rows(src, label_column="species")
    with pytest.raises(ValueError, match="overwrite the input"):
        write_relabelled(rows, rows.y, src)
    with pytest.raises(ValueError, match="class indices"):
        write_relabelled(rows, rows.y[:2], tmp_path / "r.csv")
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        write_relabelled(rows, np.array([0, 1, 2, 3]), tmp_path / "r.csv")


def test_corrections_are_read_and_bad_ones_refused(tmp_path: Path) -> None:
    rows = read_rows(_table(tmp_path / "mine.csv"), label_column="species")
    good = tmp_path / "c.csv"
    good.write_text("row,label\n2,virginica\n0,setosa\n")
    assert read_corrections(good, rows) == {2: 2, 0: 0}
    cases = {
        "row,lab\n1,setosa\n": "columns must be row,label",
        "row,label\n9,setosa\n": "unknown row '9'",
        "row,label\n1,rose\n": "unknown label 'rose'",
        "row,label\n1,setosa\n1,virginica\n": "given twice",
    }
    for text, message in cases.items():
        good.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_corrections(good, rows)
