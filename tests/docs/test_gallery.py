"""The gallery (docs/gallery/): one page per registered reproduction, in the navigation, showing
every figure its committed run drew, with the exact command; the record of each run
(made.json, scripts/gallery.py) names the command the script runs, and that command is valid."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from selfdistill.experiments import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"
IMAGE = re.compile(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)")


def _script(name: str):
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gallery = _script("gallery")
hooks = _script("docs_hooks")


def test_the_gallery_script_covers_every_reproduction() -> None:
    assert list(gallery.OPTIONS) == list(EXPERIMENTS)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_each_reproduction_has_its_page(name: str) -> None:
    page = GALLERY / f"{name}.md"
    assert page.is_file(), f"write docs/gallery/{name}.md"
    text = page.read_text(encoding="utf-8")
    assert f"gallery/{name}.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f"]({name}.md)" in (GALLERY / "index.md").read_text(encoding="utf-8")
    assert hooks.MARKER in text, "the page shows how its figures were made"
    assert re.search(rf"^selfdistill reproduce {name}\b", text, re.MULTILINE), "the command"
    for heading in ("## What it shows", "## Command"):
        assert heading in text
    assert re.search(r"^## What holds", text, re.MULTILINE)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_each_page_shows_every_figure_of_its_run(name: str) -> None:
    folder = GALLERY / "figures" / name
    made = json.loads((folder / "made.json").read_text(encoding="utf-8"))
    assert made["experiment"] == name
    assert made["command"] == gallery.command(name), "rerun: python scripts/gallery.py " + name
    assert re.fullmatch(r"[0-9a-f]{40}", made["commit"])
    drawn = sorted(p.name for p in folder.glob("*.png"))
    assert drawn == made["figures"] and drawn
    shown = IMAGE.findall((GALLERY / f"{name}.md").read_text(encoding="utf-8"))
    assert sorted({s.removeprefix(f"figures/{name}/") for s in shown}) == drawn
    assert json.loads((folder / "results.json").read_text(encoding="utf-8"))["experiment"] == name


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_the_recorded_command_is_valid(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selfdistill.cli import main

    if EXPERIMENTS[name].needs_torch and importlib.util.find_spec("torch") is None:
        pytest.skip("needs the torch extra")
    argv = shlex.split(gallery.command(name))[1:]
    argv[argv.index("--out") + 1] = str(tmp_path / "out")
    assert main([*argv, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out) is not None
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


def test_made_note_names_command_and_commit() -> None:
    record = {
        "experiment": "x",
        "command": "selfdistill reproduce x --out runs/x",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "src_changed": False,
        "date": "2026-12-06",
        "seconds": 12.3,
        "machine": "2 CPU cores, no GPU",
        "versions": {"selfdistill": "0.1.0", "torch": None},
    }
    note = hooks.made_note(record)
    assert "`selfdistill reproduce x --out runs/x` at commit `0123456789`" in note
    assert "12 s on 2 CPU cores" in note and "torch" not in note
    assert "uncommitted" in hooks.made_note({**record, "src_changed": True})
