"""The API reference (docs/testing.md, "API reference"): ``mkdocs build --strict`` succeeds, and
every public name of the modules it documents has a docstring (mkdocstrings would render a
missing one silently)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAS_TORCH = importlib.util.find_spec("torch") is not None


def documented_modules() -> list[str]:
    """The modules docs/api/*.md renders (``::: module`` lines)."""
    names = []
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        names += re.findall(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return names


MODULES = documented_modules()


def test_every_api_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in (ROOT / "docs" / "api").glob("*.md"))
    assert pages and all(f"api/{page}" in nav for page in pages)
    assert len(MODULES) >= 30


#: modules with no page of their own: the CLI subcommands and the single reproductions (their
#: `--help` is their documentation; `selfdistill.experiments` documents the registry) and the
#: torchrun entry point
NOT_IN_REFERENCE = re.compile(
    r"selfdistill\.(commands(\..*)?|experiments\..+|nn\.training\.torchrun)"
)


def test_every_public_module_has_a_page() -> None:
    src = ROOT / "src"
    modules = {
        ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        for p in (src / "selfdistill").rglob("*.py")
        if not any(part.startswith("_") for part in p.relative_to(src).parts[1:-1])
        and (p.name == "__init__.py" or not p.name.startswith("_"))
    }
    missing = sorted(m for m in modules - set(MODULES) if not NOT_IN_REFERENCE.fullmatch(m))
    assert missing == [], "add them to a docs/api/*.md page (or to NOT_IN_REFERENCE)"


def _own_methods(cls: type) -> list[str]:
    """Public methods and properties defined in ``cls`` itself (not inherited or generated)."""
    names = []
    for name, value in vars(cls).items():
        if name.startswith("_") or not (callable(value) or isinstance(value, property)):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if getattr(value, "__qualname__", "").startswith(cls.__qualname__ + "."):
            names.append(name)
        elif isinstance(value, property):
            names.append(name)
    return names


def missing_docstrings(module_name: str) -> list[str]:
    """Public functions, classes and methods of ``module_name`` (its ``__all__``) without a
    docstring of their own."""
    module = importlib.import_module(module_name)
    missing = [] if (module.__doc__ or "").strip() else [module_name]
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # constants and type aliases: described in the module docstring
        if obj.__module__ != module_name:
            continue  # a re-export: checked where it is defined
        if not (obj.__doc__ or "").strip():
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            for method in _own_methods(obj):
                if not (inspect.getdoc(getattr(obj, method)) or "").strip():
                    missing.append(f"{module_name}.{name}.{method}")
    return missing


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_docstrings(module_name: str) -> None:
    if module_name.split(".")[:2] in (["selfdistill", "nn"], ["selfdistill", "ntk"]):
        if not HAS_TORCH:
            pytest.skip("needs the torch extra")
    assert missing_docstrings(module_name) == []


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs (the dev extra) builds the API reference")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings[python] (dev extra)")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    theory = (tmp_path / "site" / "api" / "theory" / "index.html").read_text(encoding="utf-8")
    assert 'id="selfdistill.theory.guaranteed_rounds"' in theory
    shutil.rmtree(tmp_path / "site")


def test_missing_docstrings_finds_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    module = types.ModuleType("fake_public", "A module.")

    def documented() -> None:
        """Has one."""

    def bare() -> None:
        pass

    class Thing:
        """A class."""

        def method(self) -> None:
            pass

        @property
        def value(self) -> int:
            return 1

    for obj in (documented, bare, Thing):
        obj.__module__ = "fake_public"
        setattr(module, obj.__name__, obj)
    Thing.__qualname__ = "Thing"
    Thing.method.__qualname__ = "Thing.method"
    module.__all__ = ["Thing", "bare", "documented"]
    monkeypatch.setitem(sys.modules, "fake_public", module)
    assert missing_docstrings("fake_public") == [
        "fake_public.Thing.method",
        "fake_public.Thing.value",
        "fake_public.bare",
    ]
