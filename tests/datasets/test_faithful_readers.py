"""Reading a user's table or image folder never changes what the user wrote (issue 24, part B).

The class of bug: a reader that quietly turns the user's data into something else (label "01"
read as the number 1 and merged with "1", a row id used as a feature, a duplicate column renamed,
an image left out or clipped, a transparent image flattened). Each reader is checked here by a
round trip (write, read, compare with what was written: an independent computation) over random
labels (hypothesis) and over a table of unusual files, each either read faithfully or refused
with one line naming the file or column.
"""

from __future__ import annotations

import string
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
Image = pytest.importorskip("PIL.Image")

from selfdistill.datasets import images as images_module  # noqa: E402
from selfdistill.datasets.user_files import (  # noqa: E402
    IMAGE_SIZE_MAX,
    class_order,
    read_data_file,
    read_image_folder,
    read_table,
)

# Labels a user may write, chosen to collide when read as numbers or as missing values.
TRICKY = ["01", "1", "1.0", "1e0", "NA", "nan", "None", "null", "True", " a", "a ", "0x1", "-0",
          "n/a", "#N/A", "ü", "a,b", 'say "hi"']  # fmt: skip
LABELS = st.lists(
    st.one_of(
        st.sampled_from(TRICKY),
        st.text(alphabet=string.ascii_letters + string.digits + " .-_", min_size=1, max_size=4),
    ),
    min_size=2,
    max_size=30,
).filter(lambda v: len(set(v)) >= 2 and all(s.strip() for s in v))


def _decoded(path: Path, **options) -> list[str]:
    data = read_data_file(path, **options)
    _, y = data.splits["train"]
    return [data.class_names[c] for c in y]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".npz"])
@given(labels=LABELS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_label_reads_back_as_the_string_written(tmp_path, suffix, labels):
    """Property: the class name of every row is the label string written in that row."""
    path = tmp_path / f"d{suffix}"
    x = np.arange(len(labels), dtype=np.float64)[:, None]
    frame = pd.DataFrame({"f0": x[:, 0], "label": labels})
    if suffix == ".npz":
        np.savez(path, x=x, y=np.array(labels))
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    assert _decoded(path) == labels


def test_01_1_and_1_0_stay_three_classes_in_numeric_order(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("f0,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(
        ["01", "1", "1.0", "2", "10", "01", "10"])))  # fmt: skip
    data = read_table(path)
    assert data.class_names == ("01", "1", "1.0", "2", "10")
    assert _decoded(path) == ["01", "1", "1.0", "2", "10", "01", "10"]


def test_class_order():
    assert list(class_order(np.array(["10", "2", "b", "a"]))) == ["10", "2", "a", "b"]
    assert list(class_order(np.array(["10", "2", "-1", "02"]))) == ["-1", "02", "2", "10"]
    assert list(class_order(np.array([3, -1, 2]))) == [-1, 2, 3]


# --------------------------------------------------------------------------------------------
# Columns: a feature is a feature, nothing else is


def test_id_columns_are_left_out_by_name_with_a_warning(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(12, 2)), columns=["a", "b"])
    frame["sample_id"] = np.arange(12) + 1000
    frame["label"] = ["x", "y"] * 6
    path = tmp_path / "d.csv"
    frame.to_csv(path)  # pandas writes its index as an unnamed first column
    with pytest.warns(UserWarning, match=r"'Unnamed: 0', 'sample_id'.*row ids"):
        data = read_table(path)
    assert data.feature_names == ("a", "b") and data.label_column == "label"
    assert np.array_equal(data.splits["train"][0], frame[["a", "b"]].to_numpy())


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("header-only.csv", "f0,f1,label\n", r"header \(3 columns\) but no rows"),
        ("empty.csv", "", "the file is empty"),
        ("commas.tsv", "f0,f1,label\n1,2,a\n3,4,b\n", "looks comma-separated; name it .csv"),
        ("tabs.csv", "f0\tf1\tlabel\n1\t2\ta\n3\t4\tb\n", "looks tab-separated; name it .tsv"),
        ("semi.csv", "f0;f1;label\n1;2;a\n3;4;b\n", "looks semicolon-separated"),
        ("dup.csv", "f0,f0,label\n1,2,a\n3,4,b\n", "'f0' appear more than once"),
        ("date.csv", "f0,when,label\n1,2024-01-02,a\n3,2024-01-03,b\n",
         r"'when'.*row 0: '2024-01-02'"),
        ("text.csv", "f0,f1,label\n1,2,a\n3,?,b\n", r"'f1'.*row 1: '\?'"),
        ("noheader.csv", "1.5,2.5,0\n3.5,4.5,1\n", "lack a header row"),
    ],
)  # fmt: skip
def test_tables_the_reader_refuses_by_name(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        read_table(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_parquet_date_column_is_named(tmp_path):
    frame = pd.DataFrame(
        {"f0": [1.0, 2.0], "when": pd.to_datetime(["2024-01-01", "2024-01-02"]), "label": [0, 1]}
    )
    frame.to_parquet(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match=r"'when'.*dates or times"):
        read_table(tmp_path / "d.parquet")


# --------------------------------------------------------------------------------------------
# Image folders: every file under the folder is read or refused by name


def _png(path: Path, array: np.ndarray, mode: str | None = None, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path, **save)
    return path


def _grey(value: int, size: int = 4) -> np.ndarray:
    return np.full((size, size), value, dtype=np.uint8)


def _folder(root: Path) -> Path:
    for i, cls in enumerate(("a", "b")):
        for j in range(2):
            _png(root / cls / f"{j}.png", _grey(10 * i + j))
    return root


def test_every_image_format_pillow_decodes_is_read(tmp_path):
    root = _folder(tmp_path / "d")
    _png(root / "a" / "2.bmp", _grey(7))
    _png(root / "b" / "2.GIF", _grey(8))
    _png(root / "b" / "3.tiff", _grey(9))
    data = read_image_folder(root)
    x, _ = data.splits["train"]
    assert len(x) == 7 and sorted(int(v) for v in x[:, 0, 0, 0]) == [0, 1, 7, 8, 9, 10, 11]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda r: (r / "a" / "notes.txt").write_text("x"), r"a/notes\.txt is not an image"),
        (lambda r: _png(r / "a" / "deeper" / "x.png", _grey(1)), r"a/deeper/ is a folder nested"),
        (lambda r: _png(r / "stray.png", _grey(1)), r"stray\.png is not inside a class folder"),
        (lambda r: (r / "c").mkdir(), r"class folder c/ has no images"),
        (lambda r: _png(r / "a" / "deep.png", np.full((4, 4), 300, np.uint16)),
         r"a/deep\.png: 'I;16' images .* clipped to 8 bits"),
        (lambda r: Image.fromarray(_grey(1)).save(
            r / "a" / "anim.gif", save_all=True, append_images=[Image.fromarray(_grey(200))]),
         r"anim\.gif: an animation of 2 frames"),
    ],
)  # fmt: skip
def test_image_folder_files_refused_by_name(tmp_path, make, match):
    root = _folder(tmp_path / "d")
    make(root)
    with pytest.raises(ValueError, match=match) as info:
        read_image_folder(root)
    assert "\n" not in str(info.value)


def test_split_layout_refuses_other_folders(tmp_path):
    _folder(tmp_path / "d" / "train")
    _folder(tmp_path / "d" / "extra")
    with pytest.raises(ValueError, match="holds extra besides the split folders"):
        read_image_folder(tmp_path / "d")


def test_hidden_and_system_files_are_left_out_with_a_warning(tmp_path):
    root = _folder(tmp_path / "d")
    (root / ".DS_Store").write_bytes(b"\0\1")
    (root / "a" / "._0.png").write_bytes(b"AppleDouble")
    (root / "b" / "Thumbs.db").write_bytes(b"x")
    with pytest.warns(UserWarning, match=r"left out 3 hidden or system file\(s\)"):
        data = read_image_folder(root)
    assert len(data.splits["train"][0]) == 4


def test_channels_keep_what_the_images_hold(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    rgba = np.dstack([rgb, np.full((4, 4), 255, np.uint8)])
    # grey and colour mixed: RGB, the grey image repeated on three channels
    root = _folder(tmp_path / "mixed")
    _png(root / "a" / "c.png", rgb)
    x = read_image_folder(root).splits["train"][0]
    assert x.shape[1] == 3 and (x[0] == 0).all() and (x[2, 0] == 200).all()
    # an opaque alpha carries nothing: RGB
    root = _folder(tmp_path / "opaque")
    _png(root / "a" / "c.png", rgba)
    assert read_image_folder(root).splits["train"][0].shape[1] == 3
    # real transparency is kept as a fourth channel, exactly
    rgba[0, 0, 3] = 0
    root = _folder(tmp_path / "alpha")
    _png(root / "a" / "c.png", rgba)
    x = read_image_folder(root).splits["train"][0]
    assert x.shape[1] == 4 and x[2, 3, 0, 0] == 0 and x[2, 3, 1, 1] == 255
    assert (x[0, 3] == 255).all() and (x[0, :3] == 0).all()


def test_exif_orientation_is_applied(tmp_path):
    root = _folder(tmp_path / "d")
    wide = np.zeros((4, 8), np.uint8)
    wide[0, :] = 255  # top row white; turned a quarter it becomes a 8x4 image
    exif = Image.Exif()
    exif[0x0112] = 6
    path = root / "a" / "turned.jpg"
    Image.fromarray(wide).save(path, exif=exif.tobytes(), quality=100)
    with pytest.raises(ValueError, match=r"turned\.jpg 4x8"):
        read_image_folder(root)  # as the user sees it: 4 wide, 8 high, unlike the 4x4 others
    data = read_image_folder(root, image_size=8)
    assert data.splits["train"][0].shape[1:] == (1, 8, 8)


def test_image_size_is_capped_and_memory_checked_before_decoding(tmp_path, monkeypatch):
    root = _folder(tmp_path / "d")
    cap = rf"image_size must be an integer in \[1, {IMAGE_SIZE_MAX}\]"
    with pytest.raises(ValueError, match=cap):
        read_image_folder(root, image_size=100_000)
    decoded = []
    monkeypatch.setattr(images_module, "_decode", lambda *a: decoded.append(a))
    monkeypatch.setattr(images_module, "memory_available", lambda: 10 * 2**20)
    with pytest.raises(ValueError, match=r"4 images of 1x4096x4096 need about 0\.6 GiB"):
        read_image_folder(root, image_size=4096)
    assert decoded == []  # refused before any image was decoded


def test_every_file_of_a_random_tree_is_read_or_refused_by_name(tmp_path):
    """Property over random trees: either every image file is read, or the error names a file
    or folder of the tree."""
    rng = np.random.default_rng(0)
    kinds = ["png", "jpg", "txt", "nested", "root", "hidden", "empty"]
    for trial in range(12):
        root = _folder(tmp_path / f"t{trial}")
        added = list(rng.choice(kinds, size=2))
        names = []
        for k, kind in enumerate(added):
            if kind in ("png", "jpg"):
                _png(root / "b" / f"n{k}.{kind}", _grey(50 + k))
            elif kind == "txt":
                (root / "a" / f"n{k}.txt").write_text("x")
                names.append(f"n{k}.txt")
            elif kind == "nested":
                _png(root / "a" / f"sub{k}" / "x.png", _grey(1))
                names.append(f"sub{k}")
            elif kind == "root":
                _png(root / f"n{k}.png", _grey(1))
                names.append(f"n{k}.png")
            elif kind == "hidden":
                (root / "a" / f".n{k}").write_text("x")
            else:
                (root / f"e{k}").mkdir()
                names.append(f"e{k}")
        images = 4 + sum(kind in ("png", "jpg") for kind in added)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                data = read_image_folder(root)
            except ValueError as exc:
                assert any(n in str(exc) for n in names), (added, str(exc))
                continue
        assert not names
        assert len(data.splits["train"][0]) == images
