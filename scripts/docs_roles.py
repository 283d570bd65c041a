"""Sphinx roles in docstrings as links of the API reference: a griffe extension (mkdocs.yml).

The docstrings cross-reference each other the Sphinx way (:class:`SelfDistilledKernelRidge`,
:func:`~selfdistill.nn.train.fit`, :mod:`.data`), which mkdocstrings would print as raw text.
When griffe has loaded the package, this extension rewrites every docstring once:

- a role whose target is an entry of the API reference becomes an autorefs link,
  ``[`fit`][selfdistill.nn.train.fit]``, to that entry (its canonical path: a re-export such
  as ``selfdistill.SelfDistilledKernelRidge`` links to where the class is documented);
- a role naming anything else (another library, a private helper, a module without a page, a
  fitted attribute) becomes inline code;
- ``:math:`x``` becomes inline maths for pymdownx.arithmatex.

Names resolve as Sphinx resolves them: ``~`` shows the last component only; a name is looked up
in the object that owns the docstring, then in each enclosing object up to the package, then as
a full path; ``.name`` looks upward from the owner the same way; failing those, a unique public
object whose path ends with ``.name`` (a module's own before a class's: ``fit`` is
``selfdistill.nn.train.fit``, not an estimator's method). The entries of the reference are read
from the ``::: module`` lines of docs/api/*.md (``members: false`` renders the module alone).

``convert_package(pkg, pages)`` returns what became of each role (tests/docs/test_roles.py
checks every public name links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import griffe

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?P<role>class|func|meth|attr|mod|data|exc|obj|math):`(?P<target>[^`]+)`")
DIRECTIVE = re.compile(r"^::: ([\w.]+)[ \t]*\n((?:[ \t]+.*\n?)*)", re.MULTILINE)


@dataclass(frozen=True)
class Reference:
    """What one role became: ``path`` is the entry linked to, or None for inline code."""

    owner: str
    role: str
    target: str
    path: str | None


def documented(pages: Path) -> tuple[set[str], set[str]]:
    """The modules the API pages render with their members, and those rendered alone."""
    with_members: set[str] = set()
    alone: set[str] = set()
    for page in sorted(pages.glob("*.md")):
        for name, options in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            (alone if re.search(r"members:\s*false", options) else with_members).add(name)
    return with_members, alone


def _is_public(path: str) -> bool:
    return not any(part.startswith("_") for part in path.split(".")[1:])


class _Resolver:
    def __init__(self, pkg: griffe.Module, pages: Path) -> None:
        self.pkg = pkg
        self.with_members, self.alone = documented(pages)
        self._suffixes: dict[str, list[str]] | None = None

    def get(self, path: str) -> griffe.Object | griffe.Alias | None:
        if path == self.pkg.path:
            return self.pkg
        if not path.startswith(self.pkg.path + "."):
            return None
        try:
            return self.pkg[path[len(self.pkg.path) + 1 :]]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None

    def canonical(self, path: str) -> str | None:
        """The path where the object at ``path`` is defined, or None if outside the package."""
        obj = self.get(path)
        if obj is None:
            return None
        if obj.is_alias:
            try:
                target = obj.final_target
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                return None
            return target.path if target.path.startswith(self.pkg.path + ".") else None
        return obj.path

    def linkable(self, path: str) -> bool:
        """Whether the API reference renders an entry for ``path`` (a canonical path)."""
        if not _is_public(path):
            return False
        if path in self.with_members or path in self.alone:
            return True
        parts = path.split(".")
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            if module in self.with_members:
                # every object between the module and the name is a member defined there
                obj = self.get(module)
                for part in parts[i:]:
                    if obj is None or obj.is_alias or part not in obj.members:
                        return False
                    obj = obj.members[part]
                return not obj.is_alias and not (obj.is_module and path != module)
        return False

    def _by_suffix(self, name: str) -> list[str]:
        if self._suffixes is None:
            self._suffixes = {}
            for obj in _walk(self.pkg):
                if _is_public(obj.path):
                    last = obj.path.rsplit(".", 1)[-1]
                    self._suffixes.setdefault(last, []).append(obj.path)
        last = name.rsplit(".", 1)[-1]
        return [p for p in self._suffixes.get(last, []) if p.endswith("." + name)]

    def resolve(self, target: str, owner: griffe.Object) -> str | None:
        """The canonical path of ``target`` seen from ``owner``'s docstring, or None."""
        name = target.lstrip(".")
        scopes = []
        obj: Any = owner
        while obj is not None:
            scopes.append(obj.path)
            obj = obj.parent
        candidates = [f"{scope}.{name}" for scope in scopes]
        if not target.startswith("."):
            candidates.append(name)
        for candidate in candidates:
            path = self.canonical(candidate)
            if path is not None:
                return path
        found = {self.canonical(p) for p in self._by_suffix(name)} - {None}
        if len(found) > 1:  # a function of a module before the methods of the same name
            found = {p for p in found if self.get(p.rsplit(".", 1)[0]).is_module}
        return found.pop() if len(found) == 1 else None


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def convert_text(text: str, owner: griffe.Object, resolver: _Resolver, log: list[Reference]) -> str:
    """``text`` with every role replaced (module docstring)."""

    def replace(match: re.Match[str]) -> str:
        role, raw = match["role"], match["target"]
        if role == "math":
            return f"${raw}$"
        target = raw.lstrip("~!")
        shown = target.rsplit(".", 1)[-1] if raw.startswith("~") else target.lstrip(".")
        path = resolver.resolve(target, owner)
        if role in ("func", "meth"):
            shown += "()"
        if path is None or not resolver.linkable(path):
            log.append(Reference(owner.path, role, raw, None))
            return f"`{shown}`"
        log.append(Reference(owner.path, role, raw, path))
        return f"[`{shown}`][{path}]"

    return ROLE.sub(replace, text)


def convert_package(pkg: griffe.Module, pages: Path = ROOT / "docs" / "api") -> list[Reference]:
    """Rewrite the roles of every docstring in ``pkg``; returns what each became."""
    resolver = _Resolver(pkg, pages)
    log: list[Reference] = []
    for obj in list(_walk(pkg)):
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = convert_text(obj.docstring.value, obj, resolver, log)
    return log


class SphinxRoles(griffe.Extension):
    """The griffe extension: converts the roles once the package is loaded."""

    def __init__(self, pages: str = "docs/api") -> None:
        super().__init__()
        self.pages = Path(pages)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        convert_package(pkg, self.pages)
