"""The Sphinx roles of the docstrings become links of the API reference (scripts/docs_roles.py):
every role that names a public object of the package links to that object's entry; the roles
left as plain code name other libraries, private helpers or fitted attributes."""

from __future__ import annotations

import builtins
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.docs.test_api import NOT_IN_REFERENCE

griffe = pytest.importorskip("griffe", reason="griffe (mkdocstrings[python], the dev extra)")

ROOT = Path(__file__).resolve().parents[2]
#: top-level packages of other libraries the docstrings cite
OTHER_LIBRARIES = {
    "functools",
    "numpy",
    "pandas",
    "pathlib",
    "scipy",
    "sklearn",
    "tomllib",
    "torch",
}


def _roles_module():
    spec = importlib.util.spec_from_file_location("_docs_roles", ROOT / "scripts" / "docs_roles.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


roles = _roles_module()


def _without_page(path: str) -> bool:
    """Whether ``path`` lies in a public module deliberately left out of the reference."""
    parts = path.split(".")
    return any(NOT_IN_REFERENCE.fullmatch(".".join(parts[:i])) for i in range(2, len(parts) + 1))


def _load() -> griffe.Module:
    return griffe.load("selfdistill", search_paths=[str(ROOT / "src")], docstring_parser="numpy")


@pytest.fixture(scope="module")
def references() -> list:
    return roles.convert_package(_load())


def test_there_are_roles_to_convert(references: list) -> None:
    assert len(references) >= 300  # the docstrings use them: the checks below are not vacuous
    assert sum(r.path is not None for r in references) >= 300


def test_every_public_name_links_to_its_entry(references: list) -> None:
    resolver = roles._Resolver(_load(), ROOT / "docs" / "api")  # docstrings not converted
    unlinked = []
    for ref in references:
        if ref.path is not None or ref.role == "math":
            continue  # a link (the strict build checks it resolves), or maths
        target = ref.target.lstrip("~!")
        if target.lstrip(".").split(".")[0] in OTHER_LIBRARIES or hasattr(builtins, target):
            continue  # another library's name, or Python's (DeprecationWarning)
        if ref.role == "attr" and target.endswith("_"):
            continue  # a fitted attribute: documented in its class's Attributes section
        path = resolver.resolve(target, resolver.get(ref.owner))
        if path is not None and not roles._is_public(path):
            continue  # a private helper: no entry to link to
        if path is not None and _without_page(path):
            continue  # an object of a module that has no page of its own
        unlinked.append(f"{ref.owner}: :{ref.role}:`{ref.target}` -> {path}")
    assert unlinked == []


def _pkg(tmp_path: Path, files: dict[str, str]) -> griffe.Module:
    for name, text in files.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return griffe.load("fakepkg", search_paths=[str(tmp_path / "src")], docstring_parser="numpy")


def test_roles_resolve_like_sphinx(tmp_path: Path) -> None:
    pkg = _pkg(
        tmp_path,
        {
            "fakepkg/__init__.py": '"""See :class:`Thing` and :mod:`.sub`."""\n'
            "from .sub import Thing\n",
            "fakepkg/sub.py": '"""Sub."""\n\n'
            "class Thing:\n"
            '    """Use :meth:`fit`, :func:`helper`, :func:`~fakepkg.sub.helper`,\n'
            '    :class:`numpy.ndarray`, :func:`_private`, :attr:`coef_` and :math:`x^2`."""\n'
            "    def fit(self):\n"
            '        """Fit."""\n\n'
            "def helper():\n"
            '    """Help."""\n\n'
            "def _private():\n"
            '    """Hidden."""\n',
        },
    )
    pages = tmp_path / "api"
    pages.mkdir()
    (pages / "a.md").write_text(
        "::: fakepkg\n    options:\n      members: false\n\n::: fakepkg.sub\n", encoding="utf-8"
    )
    log = roles.convert_package(pkg, pages)
    # a re-export links to where the class is documented; a relative module name resolves
    assert pkg.docstring.value == "See [`Thing`][fakepkg.sub.Thing] and [`sub`][fakepkg.sub]."
    assert pkg["sub.Thing"].docstring.value == (
        "Use [`fit()`][fakepkg.sub.Thing.fit], [`helper()`][fakepkg.sub.helper], "
        "[`helper()`][fakepkg.sub.helper],\n"
        "`numpy.ndarray`, `_private()`, `coef_` and $x^2$."
    )
    assert {r.target: r.path for r in log}["_private"] is None
