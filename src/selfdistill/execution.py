"""Independent runs of a sweep, executed one after another, on local processes or as Ray tasks.

A sweep (the seeds × noise rates × methods of ``selfdistill noisy``, the seeds of a chain study,
...) is a list of *run specifications* — JSON-describable dicts — and one module-level function
that executes a specification and returns a JSON-able dict. :func:`run_sweep` executes them with
the executor chosen in :class:`Execution` and returns the results in the order of the
specifications:

``serial``
    one after another in this process (the default).
``processes``
    a local pool of ``jobs`` worker processes (``spawn`` start method); each worker limits its
    torch/BLAS threads to ``cpu_count // jobs``.
``ray``
    one Ray task per run (``ray.init(address=...)``; a local Ray instance when no address is
    given), with ``cpus_per_run``/``gpus_per_run`` resources and ``max_retries`` re-runs of a task
    whose worker process died. Ray is an optional extra: ``pip install "selfdistill[ray]"``.

The driver stores every finished run as it arrives (one JSON file per run under the sweep's state
folder, written atomically), so rerunning the same command after the driver was killed executes
only the unfinished runs. A run that raises an ordinary exception is not retried: the sweep keeps
every other result and raises :class:`SweepError` naming each failed run and its error.

Results do not depend on the executor: every result passes through the same JSON normalisation
(:func:`selfdistill._util.io.to_jsonable`), fresh or loaded. Bit-identical numbers across executors
also need the same number of threads per run (parallel reductions round differently), which the
``processes`` and ``ray`` executors set per run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._util.io import read_json, to_jsonable, write_json
from ._util.progress import progress_bar
from ._util.validation import check_choice, check_int, check_real
from .exceptions import Interrupted

__all__ = [
    "EXECUTION_OPTIONS",
    "EXECUTORS",
    "Execution",
    "RunFailure",
    "RunStore",
    "SweepError",
    "add_execution_arguments",
    "check_ray_address",
    "execution_from_args",
    "run_sweep",
    "spec_key",
]

EXECUTORS = ("serial", "processes", "ray")
#: the CLI options of :func:`add_execution_arguments` (how a sweep runs, not what it computes:
#: left out of the configuration a ``results.json`` records)
EXECUTION_OPTIONS = ("executor", "jobs", "ray_address", "cpus_per_run", "gpus_per_run")
RAY_HINT = 'the ray executor needs Ray: pip install "selfdistill[ray]"'

Spec = dict[str, Any]
Result = dict[str, Any]
RunFn = Callable[[Spec], Mapping[str, Any]]
#: what an executor reports for one run: ("ok", result) or ("error", "Type: message")
Outcome = tuple[str, Any]


@dataclass(frozen=True)
class Execution:
    """How the runs of a sweep are executed (the ``--executor`` family of CLI options).

    Attributes
    ----------
    executor
        ``"serial"``, ``"processes"`` or ``"ray"`` (:data:`EXECUTORS`).
    jobs
        Worker processes of the ``processes`` executor (``None``: one per CPU core).
    ray_address
        Address of a running Ray cluster (``"auto"``, ``"ray://host:10001"``, ...); ``None``
        starts a local Ray instance bound to 127.0.0.1.
    cpus_per_run, gpus_per_run
        Ray resources of one run's task; ``cpus_per_run`` also sets the run's torch/BLAS threads.
    max_retries
        Times Ray re-runs a task whose worker process died (not a task that raised).
    ray_num_cpus
        CPUs of a local Ray instance this sweep starts (``None``: all cores).
    """

    executor: str = "serial"
    jobs: int | None = None
    ray_address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    max_retries: int = 2
    ray_num_cpus: int | None = None

    def __post_init__(self) -> None:
        check_choice("executor", self.executor, EXECUTORS)
        if self.jobs is not None:
            check_int("jobs", self.jobs, low=1, high=4096)
        check_real("cpus_per_run", self.cpus_per_run, low=0.0, low_inclusive=False)
        check_real("gpus_per_run", self.gpus_per_run, low=0.0)
        check_int("max_retries", self.max_retries, low=0, high=100)
        if self.ray_num_cpus is not None:
            check_int("ray_num_cpus", self.ray_num_cpus, low=1)
        if self.ray_address is not None and self.executor != "ray":
            raise ValueError(
                f"ray_address is only used with executor='ray', got executor={self.executor!r}"
            )

    @property
    def threads_per_run(self) -> int:
        """torch/BLAS threads of one run in a worker (processes: cores // jobs)."""
        cores = os.cpu_count() or 1
        if self.executor == "processes":
            return max(1, cores // (self.jobs or cores))
        return max(1, int(self.cpus_per_run))


@dataclass(frozen=True)
class RunFailure:
    """A run of a sweep that raised (or whose worker died after every retry)."""

    index: int
    spec: Spec
    error: str


def _spec_name(spec: Spec) -> str:
    return json.dumps(spec, sort_keys=True)


class SweepError(RuntimeError):
    """Some runs of a sweep failed; every other run finished and was stored.

    The message is one line (a CLI prints it as its error): how many runs failed, then each
    failed run's index, name (``name(spec)``; default its JSON) and error.
    """

    def __init__(
        self, failures: Sequence[RunFailure], total: int, name: Callable[[Spec], str] = _spec_name
    ) -> None:
        self.failures = list(failures)
        head = f"{len(failures)} of {total} runs failed (the others finished and were stored)"
        parts = [f"run {f.index} {name(f.spec)}: {' '.join(f.error.split())}" for f in failures]
        super().__init__(f"{head}: " + "; ".join(parts))


def _canonical(spec: Mapping[str, Any]) -> Spec:
    """``spec`` as plain JSON types (the form it is stored, hashed and handed to the run)."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"a run specification must be a mapping, got {type(spec).__name__}")
    return json.loads(json.dumps(to_jsonable(dict(spec)), sort_keys=True))


def spec_key(spec: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit name for a run specification (SHA-256 of its canonical JSON)."""
    text = json.dumps(_canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class RunStore:
    """Finished runs of a sweep on disk: ``folder/<spec_key>.json`` = ``{"spec", "result"}``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def _path(self, spec: Spec) -> Path:
        return self.folder / f"{spec_key(spec)}.json"

    def load(self, spec: Spec) -> Result | None:
        """The stored result of ``spec``, or ``None`` if it has not finished (or is unreadable)."""
        path = self._path(spec)
        if not path.is_file():
            return None
        try:
            record = read_json(path)
        except (OSError, ValueError):
            return None  # a damaged record is a run to redo, not a reason to stop
        if not isinstance(record, dict) or record.get("spec") != spec:
            return None
        return record.get("result")

    def save(self, spec: Spec, result: Result) -> None:
        """Store a finished run atomically."""
        write_json(self._path(spec), {"spec": spec, "result": result})


# ---------------------------------------------------------------------------------- executors


def _limit_threads(threads: int) -> None:
    """Limit this process's torch and BLAS threads (worker initialiser / start of a Ray task).

    The environment variables reach libraries imported later (torch reads ``OMP_NUM_THREADS`` when
    it starts); libraries already loaded are limited directly. torch is not imported here: a
    worker that never needs it should not pay for it.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def _init_worker(threads: int, driver: int) -> None:
    """Initialiser of a ``processes`` worker: its threads limited, Ctrl-C left to the driver.

    The terminal sends SIGINT to the driver and its workers alike; a worker ignores it (no
    traceback per worker) and the driver stops the workers itself (:func:`_stop_pool`). On Linux
    the worker also asks for SIGTERM when the driver dies, however it dies (even SIGKILL), so
    that no worker trains on without a driver to store its result.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
            if os.getppid() != driver:  # the driver died before the request
                os._exit(1)
    _limit_threads(threads)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while the workers are stopped (a second Ctrl-C must not leave
    them running); only the main thread can change handlers, elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while the ``with`` block starts processes (only in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued runs and stop the running ones: terminate every worker and wait for
    it (SIGKILL after 5 s), so that none outlives the driver."""
    with _signals_ignored():
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(OSError, ValueError):
                process.terminate()
        for process in processes:
            with contextlib.suppress(OSError, ValueError, AssertionError):
                process.join(5.0)
                if process.exitcode is None:
                    process.kill()
                    process.join(5.0)
        pool.shutdown(wait=True)


def _call(fn: RunFn, spec: Spec) -> Outcome:
    """Run one specification; an ordinary exception becomes an ``("error", ...)`` outcome."""
    try:
        return "ok", _normalise(fn(spec))
    except Exception as exc:  # reported per run, never retried
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return "error", detail


def _normalise(result: Mapping[str, Any]) -> Result:
    if not isinstance(result, Mapping):
        raise TypeError(f"a run must return a mapping, got {type(result).__name__}")
    return json.loads(json.dumps(to_jsonable(dict(result))))


def _serial(
    fn: RunFn, items: list[tuple[int, Spec]], ex: Execution
) -> Iterator[tuple[int, Outcome]]:
    for index, spec in items:
        yield index, _call(fn, spec)


def _processes(
    fn: RunFn, items: list[tuple[int, Spec]], ex: Execution
) -> Iterator[tuple[int, Outcome]]:
    workers = min(ex.jobs or os.cpu_count() or 1, max(1, len(items)))
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(ex.threads_per_run, os.getpid()),
    )
    try:
        with _sigint_ignored():  # the workers start with Ctrl-C ignored (inherited), so that
            # none prints a traceback when it comes before its initialiser has run
            futures = {pool.submit(_call, fn, spec): index for index, spec in items}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = ("error", "a worker process died (killed or out of memory)")
            yield futures[future], outcome
    except BaseException:  # Ctrl-C, SIGTERM, or the sweep closed early: no worker goes on
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _ray_task(fn: RunFn, spec: Spec, threads: int) -> Outcome:
    _limit_threads(threads)
    return _call(fn, spec)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RuntimeError(RAY_HINT) from None
    return ray


def _ray(fn: RunFn, items: list[tuple[int, Spec]], ex: Execution) -> Iterator[tuple[int, Outcome]]:
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        if ex.ray_address is None:  # a local instance, reachable from this machine only
            ray.init(
                num_cpus=ex.ray_num_cpus,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
            )
        else:
            check_ray_address(ex.ray_address)  # ray.init would retry it without end
            ray.init(address=ex.ray_address, log_to_driver=False)
        started = True
    try:
        task = ray.remote(_ray_task).options(
            num_cpus=ex.cpus_per_run,
            num_gpus=ex.gpus_per_run,
            max_retries=ex.max_retries,
            retry_exceptions=False,
        )
        refs = {task.remote(fn, spec, ex.threads_per_run): index for index, spec in items}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    outcome = ray.get(done[0])
                except ray.exceptions.RayError as exc:  # the worker died on every attempt
                    error = f"{type(exc).__name__} after {ex.max_retries} retries: {exc}"
                    outcome = ("error", error)
                yield refs[done[0]], outcome
        except BaseException:  # interrupted: the cluster's tasks stop too
            with _signals_ignored():
                for ref in pending:
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()


_EXECUTE = {"serial": _serial, "processes": _processes, "ray": _ray}


def run_sweep(
    fn: RunFn,
    specs: Sequence[Mapping[str, Any]],
    *,
    execution: Execution | None = None,
    store: str | os.PathLike[str] | None = None,
    progress: bool = True,
    desc: str = "runs",
    name: Callable[[Spec], str] = _spec_name,
) -> list[Result]:
    """Execute every specification of a sweep and return the results in their order.

    Parameters
    ----------
    fn
        A module-level function ``spec -> dict`` (it is pickled by reference for the
        ``processes`` and ``ray`` executors). It must derive everything random from the spec.
    specs
        JSON-describable run specifications, all different.
    execution
        The executor and its resources (default: serial).
    store
        Folder of finished runs: those found there are not executed again, new ones are written
        there as they finish. ``None`` keeps nothing.
    progress, desc
        A bar counting finished runs (stored ones included) on stderr.
    name
        How a failed run is named in :class:`SweepError` (default: its specification's JSON).

    Returns
    -------
    list of dict
        One JSON-normalised result per specification, in order.

    Raises
    ------
    SweepError
        After every other run finished, if any run raised or its worker died on every attempt.
    ValueError
        For a repeated specification.
    selfdistill.exceptions.Interrupted
        On Ctrl-C (``KeyboardInterrupt``) or a SIGTERM turned into :class:`Interrupted`: the
        workers are stopped first, and it counts the runs kept in ``store`` (0 without one).
    """
    execution = execution or Execution()
    canonical = [_canonical(spec) for spec in specs]
    keys = [spec_key(spec) for spec in canonical]
    if len(set(keys)) != len(keys):
        repeated = next(
            spec for spec, key in zip(canonical, keys, strict=True) if keys.count(key) > 1
        )
        raise ValueError(f"specs must all differ; repeated: {json.dumps(repeated, sort_keys=True)}")
    runs = None if store is None else RunStore(store)
    results: list[Result | None] = [None] * len(canonical)
    for index, spec in enumerate(canonical):
        results[index] = None if runs is None else runs.load(spec)
    todo = [(i, spec) for i, spec in enumerate(canonical) if results[i] is None]
    failures: list[RunFailure] = []
    outcomes = _EXECUTE[execution.executor](fn, todo, execution)
    bar = progress_bar(outcomes, desc=desc, total=len(todo), enabled=progress and bool(todo))
    try:
        for index, (status, value) in bar:
            if status == "ok":
                results[index] = value
                if runs is not None:
                    runs.save(canonical[index], value)
            else:
                failures.append(RunFailure(index, canonical[index], value))
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (Interrupted): say what is kept
        kept = 0 if runs is None else sum(r is not None for r in results)
        signum = getattr(exc, "signum", signal.SIGINT)
        raise Interrupted(signum, kept, len(canonical)) from None
    finally:
        getattr(bar, "close", lambda: None)()
        outcomes.close()  # stops the workers when the loop ended early
    if failures:
        raise SweepError(sorted(failures, key=lambda f: f.index), len(canonical), name)
    return results  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- CLI


#: seconds :func:`check_ray_address` waits for the cluster to answer
RAY_CONNECT_TIMEOUT = 10.0


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port`` or ``ray://host:port``; None for ``auto``, ``local``
    and anything else Ray resolves itself."""
    text = address.strip()
    if text.startswith("ray://"):
        text = text[len("ray://") :]
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_ray_address(address: str, timeout: float = RAY_CONNECT_TIMEOUT) -> str:
    """Check that something answers at the Ray cluster ``address`` (``host:port`` or
    ``ray://host:port``) within ``timeout`` seconds, before any work: ``ray.init`` itself
    retries an address where nothing listens without end.

    Raises
    ------
    RuntimeError
        Naming the address, when nothing accepts a connection there in time.
    """
    target = _host_port(address)
    if target is None:
        return address
    start = time.monotonic()
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        waited = time.monotonic() - start
        why = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RuntimeError(
            f"--ray-address {address}: no Ray cluster answers there ({why} after {waited:.0f} s); "
            "start one with `ray start --head` or leave --ray-address out to run a local one"
        ) from None
    return address


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    """The executor options every sweep command takes (torch-free, for ``--help``)."""
    group = parser.add_argument_group("execution (docs/scaling.md)")
    group.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="serial",
        help="how independent runs are executed (default: %(default)s)",
    )
    group.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes of --executor processes (default: one per CPU core)",
    )
    group.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="Ray cluster to join with --executor ray, e.g. auto (default: start a local one)",
    )
    group.add_argument(
        "--cpus-per-run",
        type=float,
        default=1.0,
        help="Ray CPUs (and torch threads) of one run (default: %(default)s)",
    )
    group.add_argument(
        "--gpus-per-run",
        type=float,
        default=0.0,
        help="Ray GPUs of one run, fractions allowed (default: %(default)s)",
    )


def execution_from_args(args: argparse.Namespace) -> Execution:
    """The :class:`Execution` named by the options of :func:`add_execution_arguments`."""
    executor = args.executor
    if args.jobs is not None and executor == "serial":
        executor = "processes"  # --jobs N alone means a local pool
    if executor == "ray":
        _import_ray()  # a one-line error before any work when Ray is missing
        if args.ray_address is not None:
            check_ray_address(args.ray_address)
    return Execution(
        executor=executor,
        jobs=args.jobs,
        ray_address=args.ray_address,
        cpus_per_run=args.cpus_per_run,
        gpus_per_run=args.gpus_per_run,
    )
