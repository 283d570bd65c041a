"""The shape of the house (issues 10 and 21), kept by tests.

- Imports run downward by layer. Layers, top to bottom (docs/architecture.md): 4 ``commands``,
  ``experiments``, ``cli``; 3 ``reports``; 2 ``nn``, ``ntk``; 1 the torch-free core (every other
  module: ``kernel``, ``datasets``, ``_util``, ``theory``, ...). A module may import its own layer
  and the layers below it, never one above.
- No import circle anywhere: the graph of every ``selfdistill`` import, at module level, inside
  functions and under ``TYPE_CHECKING`` alike (a circle closed by a function-level import is still
  two modules that cannot be understood one without the other; issue 21 found one).
- No folder of ``src/selfdistill`` holds more than 12 modules directly.
- A private module (``_name.py``, or anything in a ``_name`` package) and a private name
  (``from x import _name``) are used only inside the package that holds them; ``_util`` sits at
  the top, so it is the whole package's shared toolbox.
- No module imports an old path of a moved module (they are deprecated, ``_util/moved.py``).
- No function is longer than 100 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from selfdistill._util.moved import MOVED

SRC = Path(__file__).resolve().parents[1] / "src" / "selfdistill"
MAX_LINES = 100
MAX_MODULES = 12


def _modules(src: Path = SRC) -> list[Path]:
    return sorted(src.rglob("*.py"))


def _layer(module: str) -> int:
    """Layer of a dotted module name below ``selfdistill`` (e.g. ``nn.training.loop`` -> 2)."""
    top = module.split(".")[0]
    if top in ("commands", "experiments", "cli", "__main__"):
        return 4
    if top == "reports":
        return 3
    if top in ("nn", "ntk"):
        return 2
    return 1


def _dotted(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)  # "" for the package's own __init__


def _package(path: Path, src: Path = SRC) -> list[str]:
    """The package a module's relative imports start from, as parts below ``selfdistill``."""
    parts = _dotted(path, src).split(".") if _dotted(path, src) else []
    return parts if path.name == "__init__.py" else parts[:-1]


def _imports(path: Path, src: Path = SRC, root: str = "selfdistill") -> list[tuple[int, str, str]]:
    """``(line, imported module, imported name or "")`` for every import of the package in
    ``path``, wherever it stands (module level, functions, ``TYPE_CHECKING``). ``from X import y``
    gives ``(X, y)``; :func:`_target` decides whether ``y`` is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _package(path, src)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module == root or node.module.startswith(root + ".")):
                module = node.module.removeprefix(root).lstrip(".")
            else:
                continue
            found += [(node.lineno, module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name.removeprefix(root).lstrip("."), "")
                for a in node.names
                if a.name.startswith(root + ".")
            ]
    return found


def _target(module: str, name: str, known: set[str]) -> str:
    """The module an import loads: ``module.name`` when that is a module, else ``module``."""
    sub = f"{module}.{name}".strip(".")
    return sub if name and sub in known else module


def import_graph(src: Path = SRC, root: str = "selfdistill") -> dict[str, set[str]]:
    """Module -> the modules it imports (dotted below ``root``; ``""`` is the package itself).

    Only explicit imports count; a submodule's implicit import of its parent package does not
    (with it, every package ``__init__`` that re-exports a submodule would be a circle)."""
    paths = _modules(src)
    known = {_dotted(p, src) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        edges = {_target(m, n, known) for _, m, n in _imports(path, src, root)}
        graph[_dotted(path, src)] = {e for e in edges if e in known and e != _dotted(path, src)}
    return graph


def import_circles(graph: dict[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_run_downward(path: Path) -> None:
    here = _layer(_dotted(path))
    upward = [
        f"line {line}: imports {target} (layer {_layer(target)})"
        for line, module, name in _imports(path)
        for target in [_target(module, name, {_dotted(p) for p in _modules()})]
        if _layer(target) > here
    ]
    assert not upward, f"{path.relative_to(SRC)} (layer {here}) " + "; ".join(upward)


def test_no_import_circle() -> None:
    assert import_circles(import_graph()) == []


def test_the_circle_check_finds_an_injected_circle(tmp_path: Path) -> None:
    """A guard on the guard: a circle closed by a function-level ``from . import`` in a package
    written here, and one edge added to the real graph, are both found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n    return a\n")
    (pkg / "c.py").write_text("from . import a\n")
    graph = import_graph(pkg, root="pkg")
    assert graph["a"] == {"sub.b"} and graph["sub.b"] == {"a"}
    assert import_circles(graph) == [["a", "sub.b"]]
    real = import_graph()
    assert "kernel.spectral" in real["theory"]
    real["kernel.spectral"] = {*real["kernel.spectral"], "theory"}
    assert ["kernel.spectral", "theory"] in import_circles(real)


def test_no_folder_holds_more_than_12_modules() -> None:
    folders: dict[Path, int] = {}
    for path in _modules():
        folders[path.parent] = folders.get(path.parent, 0) + 1
    crowded = {str(f.relative_to(SRC.parent)): n for f, n in folders.items() if n > MAX_MODULES}
    assert crowded == {}, f"split these folders into sub-packages by job: {crowded}"
    assert folders[SRC] >= 8  # the count sees the top folder (a guard on the guard)


def _private_owner(module: str) -> str | None:
    """The package a private module is private to (``experiments._state`` -> ``experiments``,
    ``_util.io`` -> ``""``, the whole package), or None for a public module."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _inside(module: str, package: str) -> bool:
    return package == "" or module == package or module.startswith(package + ".")


def _private_uses(path: Path) -> list[str]:
    here = _dotted(path)
    home = ".".join(_package(path))
    known = {_dotted(p) for p in _modules()}
    bad = []
    for line, module, name in _imports(path):
        target = _target(module, name, known)
        owner = _private_owner(target)
        if owner is not None and not _inside(here, owner):
            bad.append(f"line {line}: private module {target}")
        elif target == module and name.startswith("_") and not name.startswith("__"):
            if not _inside(module, home):
                bad.append(f"line {line}: private name {name} of {module}")
    return bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_private_modules_and_names_stay_in_their_package(path: Path) -> None:
    """In particular no command imports a private module of another layer."""
    assert _private_uses(path) == [], str(path.relative_to(SRC))


def test_the_privacy_rule_sees_a_command_importing_a_private_module() -> None:
    assert _private_owner("experiments._state") == "experiments"
    assert _private_owner("_util.io") == "" and _private_owner("nn.training.loop") is None
    assert _inside("commands.chain", "") and not _inside("commands.chain", "experiments")
    assert not _inside("nn.noisy.base", "nn.training") and _inside("nn.noisy.base", "nn.noisy")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_moved_path(path: Path) -> None:
    known = {_dotted(p) for p in _modules()}
    old = [
        f"line {line}: {target} (now {MOVED[f'selfdistill.{target}']})"
        for line, module, name in _imports(path)
        for target in [_target(module, name, known | {k[12:] for k in MOVED})]
        if f"selfdistill.{target}" in MOVED
    ]
    assert not old, f"{path.relative_to(SRC)} imports deprecated paths: " + "; ".join(old)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_LINES and node.name != "add_arguments":
                long.append(f"{node.name} ({lines} lines, line {node.lineno})")
    return long


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_longer_than_100_lines(path: Path) -> None:
    """argparse ``add_arguments`` declarations are the one allowed exception."""
    assert not _long_functions(path), f"{path.relative_to(SRC)}: {_long_functions(path)}"


def test_the_layer_rules_see_real_imports() -> None:
    """A guard on the guard: the parser finds the imports it must judge."""
    known = {_dotted(p) for p in _modules()}
    chain = SRC / "commands" / "chain.py"
    targets = {_target(m, n, known) for _, m, n in _imports(chain)}
    assert any(t.startswith("nn.") for t in targets) and "_util.validation" in targets
    top = {_target(m, n, known) for _, m, n in _imports(SRC / "__init__.py")}
    assert "kernel.ridge" in top and "_util.moved" in top
    assert _layer("reports.noisy") == 3 and _layer("nn.training.loop") == 2
    assert _layer("theory") == 1 and _layer("datasets.registry") == 1
