"""Mutation testing of selfdistill's core modules (issue 17): a small AST mutator and runner.

Each mutant changes one thing in one module (an arithmetic or comparison operator, ``and``/``or``,
a dropped ``not`` or unary minus, a number plus one, ``True``/``False``, ``min``/``max``, a
``raise`` or a call statement deleted, a ``return`` value replaced by ``None``). The runner

1. copies ``src/`` to a temporary folder and runs the module's test files once under ``coverage``
   with one context per test, to learn which tests execute each line;
2. for each mutant, writes the mutated module into the copy and runs, in a process forked from one
   that has already imported NumPy, SciPy, scikit-learn, Hypothesis (and torch where needed), only
   the tests that execute the mutated lines (all of the module's tests for code run at import:
   defaults, module constants), fastest first, stopping at the first failure (``pytest -x``);
3. classifies each mutant: ``killed`` (a test failed), ``timeout`` (ran over 10x the tests' clean
   time plus 60 s: counted as killed), ``survived`` (all selected tests passed), ``uncovered``
   (no test executes the line: counted as survived);
4. reads ``scripts/mutation_equivalents.toml`` (surviving mutants that change nothing observable,
   each with its reason) and reports per module killed / survived / equivalent and the kill rate
   over the non-equivalent mutants.

Usage (from the repository root, one campaign at a time; it uses one core)::

    nice -n 19 .venv/bin/python scripts/mutation.py                    # every core module
    nice -n 19 .venv/bin/python scripts/mutation.py theory noise       # some of them
    .venv/bin/python scripts/mutation.py --list spectral               # the mutants, not run

Results go to ``mutants/<module>.json`` and a Markdown summary to ``mutants/summary.md``. Not part
of CI: a full campaign takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.toml"
OUT = ROOT / "mutants"

#: module name -> (source file under src/selfdistill, the test files that exercise it)
MODULES: dict[str, tuple[str, list[str]]] = {
    "spectral": (
        "spectral.py",
        [
            "test_kernel_ridge.py",
            "test_kernel_ridge_api.py",
            "test_kernel_ridge_epsilon.py",
            "test_theory.py",
            "test_nn_alpha.py",
            "test_mutants_spectral.py",
        ],
    ),
    "kernel_ridge": (
        "kernel_ridge.py",
        [
            "test_kernel_ridge.py",
            "test_kernel_ridge_api.py",
            "test_kernel_ridge_epsilon.py",
            "test_theory.py",
            "test_bad_input_core.py",
            "test_mutants_kernel_ridge.py",
        ],
    ),
    "theory": (
        "theory.py",
        [
            "test_theory.py",
            "test_theory_estimator.py",
            "test_bad_input_core.py",
            "test_mutants_theory.py",
        ],
    ),
    "noise": ("noise.py", ["test_noise.py", "test_bad_input_core.py", "test_mutants_noise.py"]),
    "alpha": ("alpha.py", ["test_nn_alpha.py", "test_mutants_alpha.py"]),
    "refinery": ("nn/refinery.py", ["test_refinery.py", "test_mutants_refinery.py"]),
    "kernel_cv": (
        "kernel_cv.py",
        ["test_kernel_cv.py", "test_kernel_cv_api.py", "test_mutants_kernel_cv.py"],
    ),
}

SWAP_BINOP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
SWAP_CMP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
SWAP_NAME = {
    "min": "max",
    "max": "min",
    "argmin": "argmax",
    "argmax": "argmin",
    "any": "all",
    "all": "any",
    "minimum": "maximum",
    "maximum": "minimum",
}
OP_TEXT = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
    ast.Mod: "%",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass
class Mutant:
    index: int
    line: int
    end_line: int
    function: str  # qualified name of the enclosing function ("" at module level)
    in_body: bool  # executed by a test call (False: at import, e.g. a default or a constant)
    segment: str  # the original source of the mutated node (its first line, 80 characters)
    mutation: str
    code: str = ""  # the whole source line where the mutated node starts, stripped
    status: str = "pending"
    killer: str = ""
    seconds: float = 0.0

    def key(self) -> tuple[str, str, str, str]:
        return (self.function, self.code, " ".join(self.segment.split()), self.mutation)


class _Mutator(ast.NodeTransformer):
    """Walks a module in a fixed order; counts mutation points, or applies the ``target``-th."""

    def __init__(self, source: str, target: int = -1) -> None:
        self.source = source
        self.lines = source.splitlines()
        self.target = target
        self.count = 0
        self.found: list[Mutant] = []
        self.scope: list[str] = []
        self.depth_fn = 0

    # -- bookkeeping ---------------------------------------------------------------------
    def _point(self, node: ast.AST, mutation: str) -> bool:
        """Register a mutation point; True when it is the one to apply."""
        index = self.count
        self.count += 1
        if self.target < 0:
            segment = ast.get_source_segment(self.source, node) or ""
            self.found.append(
                Mutant(
                    index,
                    node.lineno,
                    node.end_lineno or node.lineno,
                    ".".join(self.scope),
                    self.depth_fn > 0,
                    segment.splitlines()[0][:80] if segment else "",
                    mutation,
                    self.lines[node.lineno - 1].strip(),
                )
            )
        return index == self.target

    # -- scopes and places never mutated -------------------------------------------------
    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        # defaults and decorators run at import (depth unchanged); annotations are not mutated
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [
            None if d is None else self.visit(d) for d in node.args.kw_defaults
        ]
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        self.scope.append(node.name)
        self.depth_fn += 1
        node.body = self._visit_body(node.body)
        self.depth_fn -= 1
        self.scope.pop()
        return node

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.scope.append(node.name)
        node.body = self._visit_body(node.body)
        self.scope.pop()
        return node

    def _visit_body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in body:
            new = self.visit(stmt)
            out.append(new if new is not None else ast.Pass())
        return out or [ast.Pass()]

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._visit_body(node.body)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        node.test = self.visit(node.test)
        node.body = self._visit_body(node.body)
        node.orelse = self._visit_body(node.orelse) if node.orelse else []
        return node

    def _visit_block_stmt(self, node: ast.AST) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._visit_body(value))
            elif isinstance(value, list):
                setattr(
                    node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value]
                )
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    visit_For = visit_While = visit_With = visit_Try = _visit_block_stmt

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node.body = self._visit_body(node.body)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_ImportFrom(self, node: ast.AST) -> ast.AST:
        return node

    visit_Import = visit_JoinedStr = visit_Assert = visit_ImportFrom

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant):  # docstrings
            return node
        if isinstance(node.value, ast.Call) and self._point(node, "call statement deleted"):
            return ast.Pass()
        node.value = self.visit(node.value)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST | None:
        # only the raise itself: its message is not mutated
        if self._point(node, "raise deleted"):
            return ast.Pass()
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        if node.value is None:
            return node
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):
            if self._point(node, "return value -> None"):
                return ast.Return(value=ast.Constant(None))
        node.value = self.visit(node.value)
        return node

    # -- the mutation operators ----------------------------------------------------------
    def _swap_arithmetic(self, node: ast.BinOp | ast.AugAssign, suffix: str = "") -> bool:
        new_op = SWAP_BINOP.get(type(node.op))
        if new_op is None:
            return False
        text = f"'{OP_TEXT[type(node.op)]}{suffix}' -> '{OP_TEXT[new_op]}{suffix}'"
        if self._point(node, text):
            node.op = new_op()
            return True
        return False

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if not self._swap_arithmetic(node):
            self.generic_visit(node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        if not self._swap_arithmetic(node, "="):
            node.value = self.visit(node.value)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        for i, op in enumerate(node.ops):
            new_op = SWAP_CMP.get(type(op))
            if new_op is not None:
                text = f"'{OP_TEXT[type(op)]}' -> '{OP_TEXT[new_op]}'"
                if self._point(node, text):
                    node.ops[i] = new_op()
                    return node
        self.generic_visit(node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        new_op = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._point(node, f"'{OP_TEXT[type(node.op)]}' -> '{OP_TEXT[new_op]}'"):
            node.op = new_op()
            return node
        self.generic_visit(node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if isinstance(node.op, ast.Not) and self._point(node, "'not' dropped"):
            return node.operand
        if isinstance(node.op, ast.USub) and self._point(node, "unary '-' dropped"):
            return node.operand
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} -> {not value}"):
                return ast.Constant(not value)
        elif isinstance(value, int | float) and not isinstance(value, complex):
            if self._point(node, f"{value!r} -> {value + 1!r}"):
                return ast.Constant(value + 1)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        other = SWAP_NAME.get(node.id)
        if other and isinstance(node.ctx, ast.Load) and self._point(node, f"{node.id} -> {other}"):
            return ast.Name(other, ast.Load())
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        other = SWAP_NAME.get(node.attr)
        if other and isinstance(node.ctx, ast.Load):
            if self._point(node, f".{node.attr} -> .{other}"):
                node.attr = other
                return node
        node.value = self.visit(node.value)
        return node


def enumerate_mutants(source: str) -> list[Mutant]:
    mutator = _Mutator(source)
    mutator.visit(ast.parse(source))
    return mutator.found


def mutate(source: str, index: int) -> str:
    mutator = _Mutator(source, index)
    tree = mutator.visit(copy.deepcopy(ast.parse(source)))
    return ast.unparse(ast.fix_missing_locations(tree))


# -- coverage: which tests execute which lines ---------------------------------------------------


def _coverage_child(target: str, tests: list[str], out: str) -> None:
    """Run in a subprocess: the module's tests under coverage, one context per test."""
    import coverage
    import pytest

    cov = coverage.Coverage(data_file=None, include=[target], branch=False)
    durations: dict[str, float] = {}
    failed: list[str] = []

    class Contexts:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(self, item, nextitem):
            cov.switch_context(item.nodeid)
            start = time.perf_counter()
            try:
                return (yield)
            finally:
                durations[item.nodeid] = time.perf_counter() - start
                cov.switch_context("")

        def pytest_runtest_logreport(self, report):
            if report.failed:
                failed.append(report.nodeid)

    cov.start()
    code = pytest.main(
        ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests], plugins=[Contexts()]
    )
    cov.stop()
    data = cov.get_data()
    lines: dict[int, list[str]] = {}
    for path in data.measured_files():
        for line, contexts in data.contexts_by_lineno(path).items():
            lines.setdefault(line, []).extend(c for c in contexts if c)
    Path(out).write_text(
        json.dumps({"exit": int(code), "durations": durations, "failed": failed, "lines": lines})
    )


def coverage_map(workdir: Path, module_file: str, tests: list[str]) -> dict:
    out = workdir / "coverage.json"
    target = str(workdir / "src" / "selfdistill" / module_file)
    env = _child_env(workdir)
    subprocess.run(
        [sys.executable, __file__, "--coverage-child", target, str(out), *tests],
        cwd=ROOT,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    result = json.loads(out.read_text())
    if result["exit"] != 0:
        raise SystemExit(f"the clean test run failed ({result['failed']}): fix the suite first")
    result["lines"] = {int(k): v for k, v in result["lines"].items()}
    return result


def _child_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(workdir / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


# -- the runner: a process that forks one child per mutant ---------------------------------------


class _Killer:
    """pytest plugin: the node id of the first failing test."""

    nodeid = ""

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed and not self.nodeid:
            self.nodeid = report.nodeid

    def pytest_collectreport(self, report) -> None:
        if report.failed and not self.nodeid:
            self.nodeid = f"collecting {report.nodeid}"


def _runner_child(preload: list[str]) -> None:
    """Subprocess loop: read 'TIMEOUT\tREPORT\tNODEIDS...' lines, answer with a status line.

    Before the loop it imports the test files (so every third-party module they and selfdistill
    use is loaded once), then forgets ``selfdistill`` and ``tests``: each forked child imports
    them afresh, the mutated module included, and pays only for those imports.
    """
    import importlib

    sys.dont_write_bytecode = True
    import matplotlib

    matplotlib.use("Agg")
    import pytest
    from hypothesis import settings

    # few examples per property for a first pass; survivors are rerun with the suite's profile
    settings.register_profile("mutation", derandomize=True, deadline=None, max_examples=10)
    sys.path.insert(0, str(ROOT))
    for name in ["tests.conftest", *preload]:
        try:
            importlib.import_module(name)
        except Exception:  # a test file that cannot import without torch: the child reports it
            pass
    for name in [n for n in sys.modules if n.split(".")[0] in ("selfdistill", "tests")]:
        del sys.modules[name]
    sys.path.remove(str(ROOT))
    for line in sys.stdin:
        parts = line.rstrip("\n").split("\t")
        timeout, report, profile, tests = float(parts[0]), parts[1], parts[2], parts[3:]
        pid = os.fork()
        if pid == 0:  # the child: fresh import of selfdistill (mutated), run the tests
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            killer = _Killer()
            os.environ["HYPOTHESIS_PROFILE"] = profile
            import selfdistill  # the copy under test, never the installed package

            if not selfdistill.__file__.startswith(os.environ["PYTHONPATH"]):
                Path(report).write_text(f"error: imported {selfdistill.__file__}")
                os._exit(3)

            try:
                code = pytest.main(
                    ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *tests],
                    plugins=[killer],
                )
            except BaseException as exc:  # a mutant that breaks import or pytest itself
                killer.nodeid = killer.nodeid or f"error: {type(exc).__name__}"
                code = 1
            Path(report).write_text(killer.nodeid)
            os._exit(0 if int(code) == 0 else 1)
        start = time.monotonic()
        status = None
        while status is None:
            done, wait_status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(wait_status)
                status = {0: "survived", 3: "error"}.get(code, "killed")
            elif time.monotonic() - start > timeout:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = "timeout"
            else:
                time.sleep(0.02)
        print(status, flush=True)


class Runner:
    def __init__(self, workdir: Path, tests: list[str]) -> None:
        self.workdir = workdir
        modules = [t.removesuffix(".py").replace("/", ".") for t in tests]
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--runner-child", *modules],
            cwd=ROOT,
            env=_child_env(workdir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, tests: list[str], timeout: float, profile: str = "default") -> tuple[str, str]:
        report = self.workdir / "killer.txt"
        report.write_text("")
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("\t".join([str(timeout), str(report), profile, *tests]) + "\n")
        self.proc.stdin.flush()
        status = self.proc.stdout.readline().strip()
        if status == "error":
            raise SystemExit(f"the runner did not test the copy: {report.read_text().strip()}")
        return status, report.read_text().strip()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


# -- equivalents and reporting ------------------------------------------------------------------


def load_equivalents() -> dict[str, dict[tuple[str, str, str], str]]:
    if not EQUIVALENTS.exists():
        return {}
    data = tomllib.loads(EQUIVALENTS.read_text())
    out: dict[str, dict[tuple[str, str, str], str]] = {}
    for entry in data.get("equivalent", []):
        key = (
            entry["function"],
            entry["code"],
            " ".join(entry["segment"].split()),
            entry["mutation"],
        )
        out.setdefault(entry["module"], {})[key] = entry["reason"]
    return out


def summarise(name: str, mutants: list[Mutant], equivalents: dict) -> dict:
    known = equivalents.get(name, {})
    killed = sum(m.status in ("killed", "timeout") for m in mutants)
    surviving = [m for m in mutants if m.status in ("survived", "uncovered")]
    equivalent = [m for m in surviving if m.key() in known]
    live = [m for m in surviving if m.key() not in known]
    non_eq = killed + len(live)
    return {
        "module": name,
        "mutants": len(mutants),
        "killed": killed,
        "survived": len(live),
        "equivalent": len(equivalent),
        "score": killed / non_eq if non_eq else 1.0,
        "live": [asdict(m) for m in live],
        "equivalent_list": [dict(asdict(m), reason=known[m.key()]) for m in equivalent],
    }


def markdown(summaries: list[dict]) -> str:
    rows = [
        "| module | mutants | killed | survived (non-equivalent) | equivalent | "
        "kill rate (non-equivalent) |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        rows.append(
            f"| `{s['module']}` | {s['mutants']} | {s['killed']} | {s['survived']} | "
            f"{s['equivalent']} | {100 * s['score']:.1f} % |"
        )
    live = [(s["module"], m) for s in summaries for m in s["live"]]
    if live:
        rows.append("\nSurviving non-equivalent mutants:\n")
        for module, m in live:
            rows.append(
                f"- `{module}` line {m['line']} ({m['function'] or 'module level'}): "
                f"`{m['segment']}` {m['mutation']} [{m['status']}]"
            )
    equivalent = [(s["module"], m) for s in summaries for m in s["equivalent_list"]]
    if equivalent:
        rows.append("\nEquivalent mutants (they change nothing observable):\n")
        rows.append("| module | line | function | code | mutation | why equivalent |")
        rows.append("|---|---|---|---|---|---|")
        for module, m in equivalent:
            code = m["segment"].replace("|", "&#124;")
            rows.append(
                f"| `{module}` | {m['line']} | `{m['function'] or '-'}` | `{code}` | "
                f"{m['mutation']} | {m['reason'].replace('|', '&#124;')} |"
            )
    return "\n".join(rows) + "\n"


def campaign(
    name: str, only: set[int] | None, verbose: bool, check: list[str] | None = None
) -> dict:
    module_file, test_files = MODULES[name]
    tests = [f"tests/{t}" for t in test_files if (ROOT / "tests" / t).exists()]
    if check:
        tests = check
    source = (ROOT / "src" / "selfdistill" / module_file).read_text()
    mutants = enumerate_mutants(source)
    with tempfile.TemporaryDirectory(prefix="selfdistill-mut-") as tmp:
        workdir = Path(tmp)
        shutil.copytree(
            ROOT / "src",
            workdir / "src",
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
        )
        target = workdir / "src" / "selfdistill" / module_file
        t0 = time.monotonic()
        if check:  # no coverage map: every mutant against the given tests, no time limit
            cov = {"durations": dict.fromkeys(check, 60.0), "lines": {}}
        else:
            cov = coverage_map(workdir, module_file, tests)
        clean = time.monotonic() - t0
        durations: dict[str, float] = cov["durations"]
        every = sorted(durations, key=durations.get)
        print(
            f"{name}: {len(mutants)} mutants, {len(every)} tests, clean run {clean:.0f} s",
            flush=True,
        )
        runner = Runner(workdir, tests)
        if check:  # the tests must pass on the unmutated code, or every mutant looks killed
            status, failed = runner.run(check, 600)
            if status != "survived":
                runner.close()
                raise SystemExit(f"the tests fail on the unmutated code ({failed or status})")
        try:
            for done, m in enumerate(mutants):
                if done % 10 == 0:
                    print(
                        f"  ... {done}/{len(mutants)} after {time.monotonic() - t0:.0f} s",
                        flush=True,
                    )
                if only is not None and m.index not in only:
                    m.status = "skipped"
                    continue
                if m.in_body and not check:
                    chosen = {
                        t
                        for line in range(m.line, m.end_line + 1)
                        for t in cov["lines"].get(line, [])
                    }
                    selected = [t for t in every if t in chosen]
                else:
                    selected = every
                if not selected:
                    m.status = "uncovered"
                    continue
                target.write_text(mutate(source, m.index))
                budget = 10 * sum(durations[t] for t in selected) + 60
                start = time.monotonic()
                # first with few Hypothesis examples (fast); a survivor again with the suite's own
                m.status, m.killer = runner.run(selected, budget, "mutation")
                if m.status == "survived":
                    m.status, m.killer = runner.run(selected, budget, "default")
                m.seconds = round(time.monotonic() - start, 2)
                if verbose or m.status == "survived":
                    print(
                        f"  [{m.index}] line {m.line} {m.function}: {m.segment!r} "
                        f"{m.mutation} -> {m.status} {m.killer}",
                        flush=True,
                    )
        finally:
            runner.close()
            target.write_text(source)
    mutants = [m for m in mutants if m.status != "skipped"]
    if not check:
        OUT.mkdir(exist_ok=True)
        (OUT / f"{name}.json").write_text(json.dumps([asdict(m) for m in mutants], indent=1))
    return summarise(name, mutants, load_equivalents())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--coverage-child":
        _coverage_child(argv[1], argv[3:], argv[2])
        return 0
    if argv and argv[0] == "--runner-child":
        _runner_child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"modules to mutate (default: all of {', '.join(MODULES)})",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", type=int, nargs="+", help="run only these mutant indices")
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="run N mutants per module drawn with a fixed seed (default: all)",
    )
    parser.add_argument(
        "--check",
        nargs="+",
        metavar="TEST",
        help="run the --only mutants against these tests only (e.g. to show that "
        "a new test kills its mutant); results are not saved",
    )
    parser.add_argument(
        "--report", action="store_true", help="summarise the saved mutants/*.json without running"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant")
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown modules {unknown}; choose from {', '.join(MODULES)}")
    if args.list and args.only:  # TOML entries to paste into mutation_equivalents.toml
        for name in names:
            source = (ROOT / "src" / "selfdistill" / MODULES[name][0]).read_text()
            for m in enumerate_mutants(source):
                if m.index in args.only:
                    print(
                        f"[[equivalent]]\nmodule = {name!r}\nfunction = {m.function!r}\n"
                        f"code = {m.code!r}\nsegment = {m.segment!r}\n"
                        f'mutation = {m.mutation!r}\nreason = ""\n'
                    )
        return 0
    if args.list:
        for name in names:
            source = (ROOT / "src" / "selfdistill" / MODULES[name][0]).read_text()
            for m in enumerate_mutants(source):
                print(f"{name} [{m.index}] line {m.line} {m.function}: {m.segment!r} {m.mutation}")
        return 0
    summaries = []
    for name in names:
        if args.report:
            saved = json.loads((OUT / f"{name}.json").read_text())
            summaries.append(summarise(name, [Mutant(**m) for m in saved], load_equivalents()))
        else:
            only = set(args.only) if args.only else None
            if args.sample:
                count = len(
                    enumerate_mutants((ROOT / "src" / "selfdistill" / MODULES[name][0]).read_text())
                )
                drawn = set(random.Random(0).sample(range(count), min(args.sample, count)))
                only = drawn if only is None else only & drawn
            summaries.append(campaign(name, only, args.verbose or bool(args.check), args.check))
    text = markdown(summaries)
    if not args.check:
        OUT.mkdir(exist_ok=True)
        (OUT / "summary.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
