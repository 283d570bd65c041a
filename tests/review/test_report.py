"""``selfdistill.reports.html``: the pages made from a run's files, checked in Python (the browser
tests are test_browser.py). The clean runs are made by fake_runs.py to the contract of issue 23."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from selfdistill.cli import main as cli_main
from selfdistill.reports.html import command_of, render_report, write_report
from selfdistill.reports.html.evidence import MAX_FEATURES, nearest_correct
from tests.review.fake_runs import CLASSES, make_clean_run, read_issues

pytest.importorskip("PIL", reason="Pillow (the images extra) makes the test images")


class _Collect(HTMLParser):
    """Every start tag with its attributes, and the text of the JSON script blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        attrs = dict(attrs)
        if tag == "script" and attrs.get("type") == "application/json":
            self._in = attrs["id"]
            self.scripts[self._in] = ""

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.scripts[self._in] += data


def parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    return parser


def payload(page: str) -> dict:
    """The data of the review table, with the evidence that follows the script merged in, and
    its columns as ``rows``: ``[row, index, given, suggested, score, flagged, [[class, p], ...]]``
    per row of issues.csv."""
    scripts = parse(page).scripts
    data = json.loads(scripts["review-data"])
    later = json.loads(scripts["review-later"])
    for part in ("thumbs", "features", "neighbours"):
        assert not set(later[part]) & set(data[part])
        data[part].update(later[part])
    n, k = len(data["index"]), data["topK"]
    names = data["rowNames"] or [str(i) for i in data["index"]]
    top = [
        [[data["topClass"][p * k + j], data["topProb"][p * k + j] / 1000] for j in range(k)]
        for p in range(n)
    ]
    columns = (names, data["index"], data["given"], data["suggested"], data["score"],
               data["flagged"], top)  # fmt: skip
    data["rows"] = [list(r) for r in zip(*columns, strict=True)]
    return data


def external_references(page: str) -> list[str]:
    """Every src / href that would leave the file (anything but data:, blob:, # anchors)."""
    found = []
    for tag, attrs in parse(page).tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value and not value.startswith(("data:", "#", "blob:")):
                found.append(f"<{tag} {name}={value!r}>")
    return found


def test_the_image_review_page_holds_every_row_and_a_thumbnail_of_each_flagged_one(tmp_path):
    out = make_clean_run(tmp_path, "images", n=40)
    path = write_report(out)
    assert path == out / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<table id="issues"' in page
    assert 'id="download-corrections"' in page
    assert external_references(page) == []
    data = payload(page)
    issues = read_issues(out)
    assert [r[0] for r in data["rows"]] == [r["row"] for r in issues]  # the file's order
    assert data["classes"] == list(CLASSES) and data["kind"] == "images"
    for r, issue in zip(data["rows"], issues, strict=True):
        assert data["classes"][r[2]] == issue["given_label"]
        assert data["classes"][r[3]] == issue["suggested_label"]
        assert r[5] == int(issue["flagged"])
    from PIL import Image

    data_dir = Path(json.loads((out / "results.json").read_text())["settings"]["data"])
    for issue in issues:  # 40 samples: every one has its thumbnail, the image itself
        uri = data["thumbs"][issue["index"]]
        assert uri.startswith("data:image/png;base64,")
        thumb = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")
        original = Image.open(data_dir / issue["row"]).convert("RGB")
        assert np.array_equal(np.asarray(thumb), np.asarray(original))


def test_the_top_probabilities_are_the_largest_of_probabilities_npy(tmp_path):
    out = make_clean_run(tmp_path, "images", n=30)
    probs = np.load(out / "probabilities.npy")
    data = payload(render_report(out))
    for r in data["rows"]:
        expected = np.argsort(-probs[r[1]], kind="stable")[:3]
        assert [c for c, _ in r[6]] == expected.tolist()
        assert [p for _, p in r[6]] == pytest.approx(probs[r[1], expected], abs=5e-4)


def test_without_probabilities_npy_the_rows_show_p_given_and_p_suggested(tmp_path):
    out = make_clean_run(tmp_path, "images", n=20)
    (out / "probabilities.npy").unlink()
    data = payload(render_report(out))
    issues = {r["row"]: r for r in read_issues(out)}
    for r in data["rows"]:
        issue = issues[r[0]]
        assert r[6] == [
            [CLASSES.index(issue["given_label"]), pytest.approx(float(issue["p_given"]), abs=5e-4)],
            [CLASSES.index(issue["suggested_label"]),
             pytest.approx(float(issue["p_suggested"]), abs=5e-4)],
        ]  # fmt: skip


@pytest.mark.parametrize("kind", ["table", "arrays"])
def test_table_rows_show_their_features_and_their_nearest_unflagged_neighbours(tmp_path, kind):
    if kind == "table":
        pytest.importorskip("pandas", reason="pandas (the tables extra) reads CSV")
    out = make_clean_run(tmp_path, kind, n=80, noisy=0.25)
    data = payload(render_report(out))
    settings = json.loads((out / "results.json").read_text())["settings"]
    if kind == "table":
        with open(settings["data"], newline="") as f:
            x = np.array([[float(v) for v in row[:4]] for row in list(csv.reader(f))[1:]])
        assert data["featureNames"] == ["length", "width", "height", "mass"]
    else:
        x = np.load(settings["data"])["x"]
        assert data["featureNames"] == ["x[0]", "x[1]", "x[2]", "x[3]"]
    assert data["kind"] == "table"
    flagged = np.zeros(len(x), bool)
    for r in data["rows"]:
        flagged[r[1]] = bool(r[5])
    assert flagged.any()
    z = (x - x.mean(0)) / x.std(0)
    for r in data["rows"]:
        i = r[1]
        assert data["features"][str(i)] == pytest.approx(x[i, :MAX_FEATURES], abs=1e-4)
        # brute force: distances to every unflagged sample but itself
        d = np.sqrt(((z - z[i]) ** 2).sum(axis=1))
        d[flagged] = np.inf
        d[i] = np.inf
        expected = np.argsort(d, kind="stable")[:3]
        got = data["neighbours"][str(i)]
        assert [j for j, _ in got] == expected.tolist()
        assert [dist for _, dist in got] == pytest.approx(d[expected], abs=1e-3)


def test_nearest_correct_with_no_unflagged_sample_is_empty():
    x = np.arange(12.0).reshape(6, 2)
    assert nearest_correct(x, np.ones(6, bool), [0, 1]) == {}
    near = nearest_correct(x, np.array([1, 0, 1, 1, 1, 1], bool), [0, 1])
    assert near == {0: [[1, pytest.approx(np.sqrt(2) * 2 / np.sqrt(35 / 3), abs=1e-3)]], 1: []}


def test_a_label_that_could_close_the_script_element_stays_data(tmp_path):
    classes = ("</script><script>alert(1)</script>", "a&b", 'say "hi"')
    out = make_clean_run(tmp_path, "table", n=30, classes=classes)
    page = render_report(out)
    assert "<script>alert(1)" not in page
    assert payload(page)["classes"] == list(classes)


def test_missing_data_is_a_note_not_an_error(tmp_path):
    out = make_clean_run(tmp_path, "images", n=20)
    results = json.loads((out / "results.json").read_text())
    results["settings"]["data"] = str(tmp_path / "moved-away")
    (out / "results.json").write_text(json.dumps(results))
    page = render_report(out)
    assert payload(page)["thumbs"] == {}
    assert "is not a file or folder on this machine" in page


def test_evidence_for_a_data_file_that_changed_since_is_left_out(tmp_path):
    out = make_clean_run(tmp_path, "arrays", n=30)
    data = json.loads((out / "results.json").read_text())["settings"]["data"]
    np.savez(data, x=np.zeros((31, 4)), y=np.array(["cat", "dog"] * 15 + ["owl"]))
    page = render_report(out)
    assert payload(page)["features"] == {}
    assert "it holds 31 samples that are not the 30 rows the run judged" in page


def test_the_summary_shows_the_counts_the_methods_and_both_charts(tmp_path):
    out = make_clean_run(tmp_path, "images", n=50)
    results = json.loads((out / "results.json").read_text())
    page = render_report(out)
    assert f"{results['n_flagged']:,}" in page and "sd-margin" in page and "chosen" in page
    assert page.count("<svg") == 2
    assert "threshold 0.5" in page
    for row in results["confusion"]["matrix"]:
        for count in row:
            if count:
                assert f">{count}</text>" in page  # each count is written in its cell


def test_the_page_has_a_print_stylesheet_and_no_external_resource(tmp_path):
    out = make_clean_run(tmp_path, "images", n=10)
    page = render_report(out)
    assert "@media print" in page
    assert not re.search(r"@import|url\((?!#)", page)
    assert external_references(page) == []


# -------------------------------------------------------------------------------------------
# dispatch and bad input
# -------------------------------------------------------------------------------------------


def test_command_of_reads_the_key_or_the_shape_of_older_files():
    assert command_of({"command": "clean"}) == "clean"
    assert command_of({"experiment": "x", "config": {}, "results": {}}) == "reproduce"
    assert command_of({"config": {}, "runs": [{"seed": 0, "generations": []}]}) == "chain"
    assert command_of({"config": {}, "runs": [{"seed": 0, "method": "ce"}]}) == "noisy"
    assert command_of({"something": 1}) is None


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path.parent


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "nothing", "no such output folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no results.json"),
        (lambda p: _write(p / "bad" / "results.json", "{nope"), "is not valid JSON"),
        (lambda p: _write(p / "list" / "results.json", "[1, 2]"), "not a JSON object"),
        (lambda p: _write(p / "other" / "results.json", '{"a": 1}'), "a report is made for"),
        (
            lambda p: _write(p / "noissues" / "results.json", '{"command": "clean"}'),
            "issues.csv",
        ),
    ],
)
def test_a_bad_out_is_one_line_and_exit_2(tmp_path, capsys, setup, message):
    out = setup(tmp_path)
    assert cli_main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("selfdistill report: error")
    assert not (out / "report.html").exists()


def test_an_issues_csv_without_the_contract_columns_is_refused(tmp_path, capsys):
    out = make_clean_run(tmp_path, "images", n=10)
    (out / "issues.csv").write_text("row,label\n0,cat\n")
    assert cli_main(["report", str(out)]) == 2
    assert "no column 'index'" in capsys.readouterr().err


def test_probabilities_of_the_wrong_shape_are_refused(tmp_path, capsys):
    out = make_clean_run(tmp_path, "images", n=10)
    np.save(out / "probabilities.npy", np.zeros((9, 3), np.float32))
    assert cli_main(["report", str(out)]) == 2
    assert "expected (10, 3)" in capsys.readouterr().err


def test_report_rewrites_the_page_of_a_clean_run(tmp_path, capsys):
    out = make_clean_run(tmp_path, "images", n=10)
    (out / "report.html").write_text("old")
    assert cli_main(["report", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    assert '<table id="issues"' in (out / "report.html").read_text()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# -------------------------------------------------------------------------------------------
# the pages of noisy, chain and reproduce
# -------------------------------------------------------------------------------------------


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (200, 120), (30, 80, 140)).save(path)


def test_the_noisy_page_tabulates_the_sweep_and_embeds_its_figure(tmp_path):
    out = tmp_path / "noisy"
    out.mkdir()
    runs = [
        {"seed": s, "method": m, "noise": 0.4, "final_test_acc": acc + s / 100,
         "best_test_acc": acc + 0.02, "label_recovery": 0.5, "flagged_precision": 0.7,
         "flagged_recall": 0.6, "flagged_f1": 0.65, "test_acc_curve": [0.1, acc]}
        for s in (0, 1) for m, acc in (("ce", 0.6), ("sd", 0.8))
    ]  # fmt: skip
    config = {"data": "digits", "noise_kind": "symmetric", "noises": [0.4],
              "methods": ["ce", "sd"], "seeds": [0, 1], "model": "mlp", "epochs": 2}  # fmt: skip
    (out / "results.json").write_text(json.dumps({"config": config, "runs": runs}))
    _png(out / "curves.png")
    page = render_report(out)  # an older results.json without "command": found by its shape
    assert "selfdistill noisy: digits" in page
    assert "60.50 ± 0.71" in page and "<strong>80.50 ± 0.71" in page  # mean ± std over seeds
    assert "Corrupted training labels the model recovers" in page and "precision" in page
    assert page.count('src="data:image/png;base64,') == 1
    assert external_references(page) == []


def test_the_chain_page_tabulates_the_generations(tmp_path):
    out = tmp_path / "chain"
    out.mkdir()
    gens = [
        {"generation": g, "alpha": None if g == 1 else 0.5, "fits": 1,
         "train_acc": 0.9, "val_acc": 0.8 + g / 100, "test_acc": 0.7 + g / 100}
        for g in (1, 2, 3)
    ]  # fmt: skip
    runs = [{"seed": 0, "generations": gens}, {"seed": 1, "generations": gens}]
    config = {"data": "digits", "model": "mlp", "alpha": "0.5", "chain": {"loss": "ce"}}
    (out / "results.json").write_text(
        json.dumps({"command": "chain", "config": config, "runs": runs})
    )
    _png(out / "accuracy.png")
    page = render_report(out)
    assert "selfdistill chain: digits" in page
    assert "73.00 ± 0.00" in page and ">0.5<" in page
    assert page.count('src="data:image/png;base64,') == 1


def test_the_reproduce_page_shows_numbers_tables_and_figures(reproduce_run):
    page = (reproduce_run / "report.html").read_text(encoding="utf-8")
    results = json.loads((reproduce_run / "results.json").read_text())
    assert "selfdistill reproduce mobahi-fig2" in page
    assert f">{results['results']['rounds_before_collapse']}<" in page
    pngs = sorted(p.name for p in reproduce_run.glob("*.png"))
    assert pngs and page.count('src="data:image/png;base64,') == len(pngs)
    assert external_references(page) == []
