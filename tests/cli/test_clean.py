"""`selfdistill clean` on a CSV, an npz and an image folder the user made; bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from selfdistill.cli import main

FAST = ["--epochs", "2", "--width", "16", "--batch-size", "32", "--methods", "ce,gce",
        "--no-progress", "--device", "cpu"]  # fmt: skip


def _blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(0, 3, (3, 4))[y] + rng.normal(0, 1, (n, 4)), y


def _issues(out: Path) -> list[dict[str, str]]:
    with open(out / "issues.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _check_outputs(out: Path, n: int, given: list[str], kind: str) -> dict:
    rows = _issues(out)
    assert list(rows[0])[:8] == ["row", "index", "given_label", "suggested_label", "score",
                                 "flagged", "p_given", "p_suggested"]  # fmt: skip
    assert len(rows) == n and sorted(int(r["index"]) for r in rows) == list(range(n))
    assert [r["given_label"] for r in sorted(rows, key=lambda r: int(r["index"]))] == given
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    results = json.loads((out / "results.json").read_text())
    assert results["command"] == "clean" and results["data_kind"] == kind and results["n"] == n
    assert results["n_flagged"] == sum(int(r["flagged"]) for r in rows)
    assert sum(results["flagged_per_class"].values()) == results["n_flagged"]
    assert np.asarray(results["confusion"]["matrix"]).sum() == n
    assert set(results["methods"]) == {"ce", "gce"} and results["method"] in ("ce", "gce")
    assert results["settings"]["folds"] == 3 and Path(results["settings"]["data"]).is_absolute()
    proba = np.load(out / "probabilities.npy")
    assert proba.dtype == np.float32 and proba.shape == (n, len(results["classes"]))
    assert (out / "model" / "model.json").is_file()
    return results


def test_csv_end_to_end_and_predict(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pd = pytest.importorskip("pandas")
    x, y = _blobs()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    frame = pd.DataFrame({"a": x[:, 0], "species": names, "b": x[:, 1], "c": x[:, 2],
                          "d": np.arange(60)})  # fmt: skip
    src = tmp_path / "mine.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "out"
    assert main(["clean", "--data", str(src), "--label-column", "species", "--out", str(out),
                 *FAST]) == 0  # fmt: skip
    assert "60 samples" in capsys.readouterr().out
    _check_outputs(out, 60, names.tolist(), "table")
    back = pd.read_csv(out / "relabelled.csv")
    assert list(back.columns) == list(frame.columns) and len(back) == 60
    assert back.drop(columns="species").equals(frame.drop(columns="species"))
    flagged = {int(r["index"]): r["suggested_label"] for r in _issues(out) if r["flagged"] == "1"}
    expected = [flagged.get(i, names[i]) for i in range(60)]
    assert back["species"].tolist() == expected
    assert main(["predict", "--model", str(out / "model"), "--data", str(src),
                 "--label-column", "species", "--out", str(tmp_path / "p.csv")]) == 0  # fmt: skip
    assert len(pd.read_csv(tmp_path / "p.csv")) == 60
    # the card records the feature columns and the label column: a new table is read by name
    card = json.loads((out / "model" / "model.json").read_text())
    assert card["feature_names"] == ["a", "b", "c", "d"] and card["label_column"] == "species"
    frame[["d", "species", "c", "b", "a"]].to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", "--model", str(out / "model"), "--data", str(tmp_path / "new.csv"),
                 "--out", str(tmp_path / "p2.csv")]) == 0  # fmt: skip
    np.testing.assert_allclose(
        pd.read_csv(tmp_path / "p2.csv").drop(columns=["index"]).select_dtypes("number"),
        pd.read_csv(tmp_path / "p.csv").drop(columns=["index"]).select_dtypes("number"),
    )


def test_npz_every_split_is_judged(tmp_path: Path) -> None:
    x, y = _blobs(n=66)
    src = tmp_path / "d.npz"
    np.savez(src, x=x[:48], y=y[:48], x_test=x[48:], y_test=y[48:])
    out = tmp_path / "out"
    assert main(["clean", "--data", str(src), "--out", str(out), *FAST]) == 0
    _check_outputs(out, 66, [str(v) for v in y], "arrays")
    with np.load(out / "relabelled.npz") as back:
        assert sorted(back.files) == ["x", "x_test", "y", "y_test"]
        assert back["y"].dtype == y.dtype and len(back["y_test"]) == 18


def test_image_folder_and_corrections(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    x, y = _blobs(n=36)
    folder = tmp_path / "imgs"
    for i, (row, label) in enumerate(zip(x, y, strict=True)):
        (folder / f"c{label}").mkdir(parents=True, exist_ok=True)
        pixels = np.clip(np.tile(row * 20 + 128, 4).reshape(4, 4), 0, 255).astype(np.uint8)
        image.fromarray(pixels).save(folder / f"c{label}" / f"{i:03d}.png")
    out = tmp_path / "out"
    assert main(["clean", "--data", str(folder), "--out", str(out), *FAST]) == 0
    rows = _issues(out)
    assert all("/" in r["row"] and (folder / r["row"]).is_file() for r in rows)
    in_order = sorted(rows, key=lambda r: int(r["index"]))
    given = [r["given_label"] for r in in_order]
    assert given == [Path(r["row"]).parent.name for r in in_order]
    results = _check_outputs(out, 36, given, "images")
    assert results["corrections"] == 0
    relabelled = (out / "relabelled.csv").read_text().splitlines()
    assert relabelled[0] == "path,label" and len(relabelled) == 37
    # a person decides two rows: they are trusted, never flagged, their labels replaced
    top = rows[:2]
    other = {r["row"]: next(c for c in ("c0", "c1", "c2") if c != r["given_label"]) for r in top}
    fixes = tmp_path / "corrections.csv"
    fixes.write_text("row,label\n" + "".join(f"{k},{v}\n" for k, v in other.items()))
    out2 = tmp_path / "out2"
    assert main(["clean", "--data", str(folder), "--out", str(out2), "--corrections",
                 str(fixes), *FAST]) == 0  # fmt: skip
    again = {r["row"]: r for r in _issues(out2)}
    assert json.loads((out2 / "results.json").read_text())["corrections"] == 2
    for row, label in other.items():
        assert again[row]["flagged"] == "0" and again[row]["corrected"] == label
        assert again[row]["suggested_label"] == label
    labels = dict(line.split(",") for line in (out2 / "relabelled.csv").read_text().split()[1:])
    assert all(labels[row] == label for row, label in other.items())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--folds", "25"], "class '0' has 20 samples, fewer than --folds 25"),
        (["--folds", "1"], "--folds must be"),
        (["--methods", "ce,ce"], "without repeats"),
        (["--method", "confident-learning"], "unknown method 'confident-learning'"),
        (["--epochs", "0"], "--epochs"),
    ],
)
def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture, extra, message) -> None:
    x, y = _blobs()
    src = tmp_path / "d.npz"
    np.savez(src, x=x, y=y)
    out = tmp_path / "out"
    assert main(["clean", "--data", str(src), "--out", str(out), *FAST, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_out_inside_data_or_over_an_input(tmp_path: Path, capsys) -> None:
    x, y = _blobs()
    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "relabelled.npz", x=x, y=y)
    assert main(["clean", "--data", str(folder / "relabelled.npz"), "--out", str(folder),
                 *FAST]) == 2  # fmt: skip
    assert "would overwrite the input" in capsys.readouterr().err
    image = pytest.importorskip("PIL.Image")
    images = tmp_path / "images"
    for name in ("a/1.png", "a/2.png", "b/1.png", "b/2.png"):
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        image.new("L", (2, 2)).save(images / name)
    for out in (images, images / "out"):
        assert main(["clean", "--data", str(images), "--out", str(out), *FAST]) == 2
        assert "must not be the data folder or lie inside it" in capsys.readouterr().err
    assert not (images / "out").exists()
    fixes = tmp_path / "c.csv"
    fixes.write_text("row,label\n0,7\n")
    assert main(["clean", "--data", str(folder / "relabelled.npz"), "--out",
                 str(tmp_path / "o"), "--corrections", str(fixes), *FAST]) == 2  # fmt: skip
    assert "unknown label '7'" in capsys.readouterr().err


def test_a_page_that_fails_warns_and_the_run_still_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the results are saved before the review page: a failing page is one warning, not exit 2
    import selfdistill.reports.html as html

    def broken(out: Path) -> Path:
        raise ValueError("the page broke")

    monkeypatch.setattr(html, "write_report", broken)
    x, y = _blobs()
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    out = tmp_path / "out"
    assert main(["clean", "--data", str(tmp_path / "mine.npz"), "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "warning: no report.html (the page broke)" in err
    assert f"selfdistill report {out}" in err
    assert (out / "issues.csv").is_file() and not (out / "report.html").exists()
