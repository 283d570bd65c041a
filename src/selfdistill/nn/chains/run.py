"""Chains of self-distilled network generations (Mobahi et al. sec. 5; Borup & Andersen sec. 5).

Generation 1 is trained on the labels. Generation t ≥ 2 is a re-initialised student (a fresh
initialisation per generation, or the same one every generation) trained on

    α_t · y + (1 − α_t) · teacher(x),

where the teacher is a frozen copy (eval mode, no gradients) of generation t − 1: a distinct object
that training the student cannot change. The teacher's softmax outputs on the training inputs are
computed once per generation.

α_t is chosen in one of three ways:

* fixed — one value for every step, or one value per step (Mobahi et al. use α = 0);
* ``"estimate"`` — Borup & Andersen sec. 5 / Algorithm 1: at each step fit the α = 0 student,
  compute α̂ in closed form from the validation predictions
  (:func:`~selfdistill.alpha.optimal_alpha`, Frobenius norm), then fit the student with α̂;
  2(τ − 1) + 1 fits for τ generations;
* ``"grid"`` — the baseline α̂ replaces: one fixed-α chain per grid value, all sharing generation 1,
  and at every generation the chain with the best validation accuracy; g(τ − 1) + 1 fits.

Every generation records α, the number of fits so far, the accuracy on the ORIGINAL training labels,
validation and test accuracy and losses. With a ``state_dir`` each finished generation's record and
weights are written atomically, and a rerun resumes at the first unfinished generation with the same
result as an uninterrupted run (every fit is seeded from the run seed and the generation); the
folder's layout is :mod:`selfdistill.nn.chains.store`'s. One generation is one
:func:`~selfdistill.nn.chains.distill.distill_step`.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..._util.io import to_jsonable
from ..._util.progress import Stages
from ..._util.validation import (
    MAX_GENERATIONS,
    MAX_WIDTH,
    check_choice,
    check_int,
    check_real,
    check_seeds,
)
from ...alpha import one_hot, optimal_alpha
from ...catalog import MODELS
from ...execution import Execution, run_sweep
from ..data_splits import DataSpec, DataSplits, load_splits
from ..models import ModelSpec, build_model
from ..training.loop import Callback, TrainConfig
from .distill import LOSSES, distill_step, make_loss, split_metrics, teacher_probabilities
from .outputs import ChainOutputs
from .store import ChainStore, check_state, safe_name

__all__ = [
    "ALPHA_MODES",
    "DEFAULT_GRID",
    "ChainConfig",
    "distill_generation",
    "run_alpha_chains",
    "run_chain",
    "run_chains",
    "select_grid",
]

ALPHA_MODES = ("estimate", "grid")
DEFAULT_GRID = tuple(round(0.1 * i, 1) for i in range(10))  # 0.0, 0.1, ..., 0.9 (Borup fig. 5)


@dataclass(frozen=True)
class ChainConfig:
    """What a chain of generations does (everything except the seed and the data).

    Attributes
    ----------
    generations
        Number of generations τ ≥ 1 (generation 1 is trained on the labels).
    alpha
        A float in the reals (the same α for every step t ≥ 2), a sequence of τ − 1 floats (α_2 …
        α_τ), ``"estimate"`` or ``"grid"``.
    grid
        The α values of ``"grid"``.
    loss
        ``"mse"`` (softmax output against target, the papers' ℓ2 setting) or ``"ce"``.
    temperature
        Softmax temperature of the teacher and student in ``ce`` distillation steps (t ≥ 2).
    same_init
        Re-initialise every generation with the same weights (else fresh weights per generation).
    clip_alpha
        Clip the estimated α̂ to [0, 1] before training with it (Borup allow any real α; with
        ``ce`` a negative weight would make the targets non-probabilities, so ``ce`` requires
        ``clip_alpha`` with ``"estimate"``, and fixed α and grid values in [0, 1]).
    model, width
        Passed to :func:`~selfdistill.nn.models.build_model`.
    train
        Training settings of every fit; ``train.seed`` is replaced per fit (see :func:`fit_seed`).
    """

    generations: int = 8
    alpha: float | tuple[float, ...] | str = 0.0
    grid: tuple[float, ...] = DEFAULT_GRID
    loss: str = "mse"
    temperature: float = 1.0
    same_init: bool = False
    clip_alpha: bool = True
    model: str | Callable[..., nn.Module] = "mlp"
    width: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_int("generations", self.generations, low=1, high=MAX_GENERATIONS)
        if not callable(self.model):
            check_choice("model", self.model, MODELS)
        if self.width is not None:
            check_int("width", self.width, low=1, high=MAX_WIDTH)
        if not isinstance(self.train, TrainConfig):
            raise TypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        check_choice("loss", self.loss, LOSSES)
        make_loss(self.loss, self.temperature)  # validates the temperature
        if isinstance(self.alpha, str):
            check_choice("alpha", self.alpha, ALPHA_MODES)
        elif isinstance(self.alpha, Sequence):
            if len(self.alpha) != self.generations - 1:
                raise ValueError(
                    f"alpha must list one value per generation 2..{self.generations} "
                    f"({self.generations - 1} values), got {len(self.alpha)}"
                )
            object.__setattr__(self, "alpha", tuple(check_real("alpha", a) for a in self.alpha))
        else:
            check_real("alpha", self.alpha)
        if not self.grid:
            raise ValueError("grid must hold at least one alpha value")
        object.__setattr__(self, "grid", tuple(check_real("grid", a) for a in self.grid))
        if self.loss == "ce":
            self._check_ce_alpha()

    def _check_ce_alpha(self) -> None:
        """With ``ce`` every α must lie in [0, 1]: outside it the teacher (or the labels) get a
        negative weight, the targets are no distribution and the loss is unbounded below."""
        if self.alpha == "estimate" and not self.clip_alpha:
            raise ValueError(
                "clip_alpha=False lets the estimated alpha leave [0, 1], which loss 'ce' does not "
                "allow (the targets would not be probabilities); clip it or use loss 'mse'"
            )
        values = self.grid if self.alpha == "grid" else ()
        if not isinstance(self.alpha, str):
            values = self.alphas()
        name = "grid" if self.alpha == "grid" else "alpha"
        for a in values:
            check_real(f"{name} (with loss 'ce')", a, low=0.0, high=1.0)

    def alphas(self) -> tuple[float, ...]:
        """α_2 … α_τ of a fixed schedule."""
        if isinstance(self.alpha, str):
            raise ValueError(f"alpha {self.alpha!r} is not a fixed schedule")
        if isinstance(self.alpha, tuple):
            return self.alpha
        return (float(self.alpha),) * (self.generations - 1)

    def describe(self) -> dict[str, Any]:
        """JSON-able description (the resume check compares it)."""
        out = asdict(replace(self, train=TrainConfig()))
        out["model"] = self.model if isinstance(self.model, str) else repr(self.model)
        out["train"] = {
            k: v for k, v in asdict(self.train).items() if k not in ("seed", "progress", "device")
        }
        return to_jsonable(out)


def fit_seed(seed: int, generation: int, role: int) -> int:
    """A 31-bit seed for one fit, derived from (run seed, generation, role) with SeedSequence.

    role 0: model initialisation, role 1: data order. With ``same_init`` the initialisation uses
    generation 0 for every generation.
    """
    state = np.random.SeedSequence([int(seed), int(generation), int(role)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


def _build(data: DataSplits, config: ChainConfig, seed: int, generation: int) -> nn.Module:
    init_generation = 0 if config.same_init else generation
    return build_model(
        config.model,
        data.input_shape,
        data.num_classes,
        width=config.width,
        seed=fit_seed(seed, init_generation, 0),
    )


def distill_generation(
    teacher: nn.Module | None,
    data: DataSplits,
    config: ChainConfig,
    seed: int,
    generation: int,
    alpha: float,
    *,
    callbacks: Sequence[Callback] = (),
    progress: bool = False,
) -> tuple[nn.Module, dict[str, float]]:
    """Train one generation: on the labels (``teacher is None``), else on α·y + (1 − α)·teacher(x).

    The chain's wrapper of :func:`~selfdistill.nn.chains.distill.distill_step`: the student is built
    with the generation's initialisation seed and trained with its data-order seed
    (:func:`fit_seed`), at ``config.temperature`` with the ``ce`` loss. Returns the student (eval
    mode) and its metrics: the final-epoch ``train_loss`` and
    :func:`~selfdistill.nn.chains.distill.split_metrics` (accuracies against the original labels).
    """
    device = config.train.device
    student = _build(data, config, seed, generation)
    history = distill_step(
        student,
        teacher,
        data,
        replace(config.train, seed=fit_seed(seed, generation, 1), progress=progress),
        alpha=alpha,
        loss=config.loss,
        temperature=config.temperature if config.loss == "ce" else 1.0,
        callbacks=callbacks,
    )
    last = history.epochs[-1] if history.epochs else {}
    info = {"train_loss": float(last.get("train_loss", math.nan))}
    info.update(split_metrics(student, data, device))
    return student, info


def _stored(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the store keeps it (``fits`` is counted when the chain is read)."""
    return {k: v for k, v in record.items() if k != "fits"}


@dataclass
class _SeedRun:
    """What the chains of one seed share: data, configuration, store, progress and callbacks."""

    data: DataSplits
    config: ChainConfig
    seed: int
    store: ChainStore
    stages: Stages
    callbacks: Sequence[Callback]
    progress: bool
    keep_weights: bool
    outputs: ChainOutputs | None = None

    def train(
        self, teacher: nn.Module | None, generation: int, alpha: float, key: str | None = None
    ) -> tuple[nn.Module, dict[str, float]]:
        """:func:`distill_generation` of this seed, then its outputs in chain folder ``key``
        (``None``: an auxiliary fit, e.g. α̂'s α = 0 student, writes nothing)."""
        callbacks = list(self.callbacks)
        outputs = self.outputs if key is not None else None
        if outputs is not None:
            epochs = self.config.train.epochs
            callbacks += outputs.callbacks(self.seed, key, alpha, epochs)
        model, info = distill_generation(
            teacher,
            self.data,
            self.config,
            self.seed,
            generation,
            alpha,
            callbacks=callbacks,
            progress=self.progress,
        )
        if outputs is not None and isinstance(self.config.model, str):
            network = ModelSpec(self.config.model, width=self.config.width)
            params = {"alpha": alpha, "generation": generation, **self.config.describe()}
            last = generation == self.config.generations
            outputs.keep(self.data, network, params, self.seed, key, model, last)
        return model, info

    def load(self, key: str, generation: int) -> nn.Module | None:
        """The stored weights of ``key`` in a model of the chain's architecture, on the device;
        None when they are missing or damaged (:meth:`ChainStore.load_into`)."""
        model = self.store.load_into(key, _build(self.data, self.config, self.seed, generation))
        return None if model is None else model.to(self.config.train.device)

    def rebuild(self, keys: Sequence[str], records: Sequence[Mapping[str, Any]]) -> nn.Module:
        """The weights of the last generation of ``keys`` (``keys[t - 1]`` for generation t):
        loaded, or, when they are missing or damaged, retrained from the latest generation whose
        weights are intact with the recorded α (the same seeds give the same weights) and stored
        again."""
        start = len(keys)
        model = self.load(keys[start - 1], start)
        while model is None and start > 1:
            start -= 1
            model = self.load(keys[start - 1], start)
        if model is None:  # even generation 1's weights are gone: retrain it
            model, _ = self.train(None, 1, 1.0)
            self.store.save(keys[0], model, _stored(records[0]))
        for t in range(start + 1, len(keys) + 1):
            model, _ = self.train(model, t, float(records[t - 1]["alpha"]))
            self.store.save(keys[t - 1], model, _stored(records[t - 1]))
            if not self.keep_weights and t > 2:
                self.store.drop_weights(keys[t - 2])
        return model

    def val_probs(self, model: nn.Module) -> np.ndarray:
        """Softmax outputs on the validation inputs (the predictions α̂ compares)."""
        device = self.config.train.device
        return teacher_probabilities(model, self.data.x_val, device=device).numpy()


def run_alpha_chains(
    data: DataSplits | DataSpec,
    config: ChainConfig,
    seed: int,
    schedules: Mapping[str, Sequence[float] | str],
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
    outputs: ChainOutputs | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Several chains of ``config.generations`` generations that share generation 1.

    Parameters
    ----------
    data
        The splits, or a :class:`~selfdistill.nn.data_splits.DataSpec` to load them from (with its
        own seed, else with ``seed``): what a worker process receives.
    schedules
        name -> α_2 … α_τ (a sequence of τ − 1 reals) or ``"estimate"``.
    state_dir
        Folder for per-generation records and weights (:mod:`selfdistill.nn.chains.store`);
        finished generations are loaded from it.
    keep_weights
        Keep every generation's weights in ``state_dir`` (default: generation 1 and the last
        finished generation of each chain, which is all a resume needs).
    outputs
        Where each generation writes its model card and weights, ``metrics.csv`` (and the
        last one ``labels.csv``): :class:`~selfdistill.nn.chains.outputs.ChainOutputs`.

    Returns
    -------
    dict
        name -> per-generation records (``fits`` counts this chain's own fits: t for a fixed
        schedule, 2(t − 1) + 1 for ``"estimate"``).
    """
    seed = check_int("seed", seed, low=0)
    data = load_splits(data, seed)
    tau = config.generations
    for name, schedule in schedules.items():
        if isinstance(schedule, str):
            check_choice(f"schedules[{name!r}]", schedule, ("estimate",))
        elif len(schedule) != tau - 1:
            raise ValueError(f"schedules[{name!r}] must hold {tau - 1} alpha values")
    root = None if state_dir is None else Path(state_dir) / f"seed-{seed}"
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    n_steps = 1 + len(schedules) * (tau - 1)
    run = _SeedRun(
        data,
        config,
        seed,
        ChainStore(root),
        Stages(n_steps, name=f"seed {seed}", enabled=progress),
        callbacks,
        progress,
        keep_weights,
        outputs,
    )
    first, first_record = _first_generation(run)
    first_val = run.val_probs(first)
    return {
        name: _run_schedule(run, name, schedule, first, first_record, first_val)
        for name, schedule in schedules.items()
    }


def _first_generation(run: _SeedRun) -> tuple[nn.Module, dict[str, Any]]:
    """Generation 1 (trained on the labels, or loaded when finished) and its record."""
    with run.stages("generation 1 (labels)"):
        record = run.store.record("gen-1")
        first = None if record is None else run.load("gen-1", 1)
        if first is None:  # not finished, or its weights are missing or damaged
            start = time.perf_counter()
            first, info = run.train(None, 1, 1.0, "gen-1")
            record = {"generation": 1, "alpha": None, **info}
            record["seconds"] = time.perf_counter() - start
            run.store.save("gen-1", first, record)
    return first, {**record, "fits": 1}


def _run_schedule(
    run: _SeedRun,
    name: str,
    schedule: Sequence[float] | str,
    first: nn.Module,
    first_record: dict[str, Any],
    first_val: np.ndarray,
) -> list[dict[str, Any]]:
    """Generations 2 … τ of the chain ``name``; finished ones are read from the store."""
    records = [dict(first_record)]
    keys = ["gen-1", *(f"{safe_name(name)}/gen-{t}" for t in range(2, run.config.generations + 1))]
    # The teacher is loaded lazily: a resumed chain only needs the last finished weights.
    teacher_key, teacher_generation, teacher = "gen-1", 1, first
    for t in range(2, run.config.generations + 1):
        key = keys[t - 1]
        model: nn.Module | None = None
        record = run.store.record(key)
        if record is None:
            if teacher is None:
                teacher = run.rebuild(keys[: t - 1], records)
            with run.stages(f"{name}: generation {t}"):
                start = time.perf_counter()
                if schedule == "estimate":
                    alpha, extra = _estimate_alpha(run, teacher, t, first_val)
                else:
                    alpha, extra = float(schedule[t - 2]), {}
                model, info = run.train(teacher, t, alpha, key)
                record = {"generation": t, "alpha": alpha, **extra, **info}
                record["seconds"] = time.perf_counter() - start
                run.store.save(key, model, record)
                if not run.keep_weights and teacher_generation > 1:
                    run.store.drop_weights(teacher_key)
        fits = 1 + 2 * (t - 1) if schedule == "estimate" else t
        records.append({**record, "fits": fits})
        teacher_key, teacher_generation, teacher = key, t, model
    return records


def _estimate_alpha(
    run: _SeedRun, teacher: nn.Module, generation: int, first_val: np.ndarray
) -> tuple[float, dict[str, float]]:
    """α̂ of one step (Borup & Andersen sec. 5 / Algorithm 1, eq. 16 with the Frobenius norm).

    Fits the α = 0 student of ``generation`` and compares its validation softmax outputs with the
    first generation's (``first_val``) against the one-hot validation labels
    (:func:`selfdistill.alpha.optimal_alpha`). Returns the α to train with (α̂ clipped to [0, 1]
    when ``config.clip_alpha``) and the record's extra fields ``alpha_hat``, ``alpha0_val_acc``
    and ``alpha0_test_acc``.
    """
    zero, zero_info = run.train(teacher, generation, 0.0)
    data = run.data
    val_onehot = one_hot(data.y_val.long().cpu().numpy(), data.num_classes)
    alpha_hat = optimal_alpha(val_onehot, first_val, run.val_probs(zero))
    alpha = min(max(alpha_hat, 0.0), 1.0) if run.config.clip_alpha else alpha_hat
    extra = {
        "alpha_hat": alpha_hat,
        "alpha0_val_acc": zero_info["val_acc"],
        "alpha0_test_acc": zero_info["test_acc"],
    }
    return alpha, extra


def select_grid(
    chains: Mapping[float, list[dict[str, Any]]], *, criterion: str = "val_acc"
) -> list[dict[str, Any]]:
    """Grid search over a fixed α (Borup sec. 4.3 baseline): per generation the best chain.

    ``chains`` maps α to the records of a fixed-α chain that shares generation 1 with the others.
    At generation t the chain with the highest validation accuracy (ties: lower validation squared
    error) is reported; ``fits`` is g(t − 1) + 1 and ``grid_val_acc`` lists every α's value.
    """
    g = len(chains)
    if g == 0:
        raise ValueError("chains must hold at least one alpha")
    lengths = {len(r) for r in chains.values()}
    if len(lengths) != 1:
        raise ValueError("every chain of the grid must have the same number of generations")
    out = []
    for i in range(lengths.pop()):
        if i == 0:
            out.append({**next(iter(chains.values()))[0], "fits": 1})
            continue

        def key(alpha: float, i: int = i) -> tuple[float, float]:
            rec = chains[alpha][i]
            return (-rec[criterion], rec.get("val_mse", 0.0))

        best = min(chains, key=key)
        record = dict(chains[best][i])
        record["alpha"] = best
        record["fits"] = g * i + 1
        record["grid_val_acc"] = {str(a): chains[a][i][criterion] for a in chains}
        out.append(record)
    return out


def run_chain(
    data: DataSplits | DataSpec,
    config: ChainConfig,
    seed: int,
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
    outputs: ChainOutputs | None = None,
) -> list[dict[str, Any]]:
    """One seed's chain of ``config.generations`` generations; a record per generation.

    ``state_dir`` makes the run resumable (see :func:`run_alpha_chains`). Records hold
    ``generation``, ``alpha`` (None for generation 1), ``fits`` (fits so far, counted as the α
    mode requires), ``train_acc`` (against the original training labels), ``val_acc``,
    ``test_acc``, ``train_loss`` (final-epoch training objective), ``val_mse``/``test_mse`` and
    ``val_ce``/``test_ce`` (softmax output against the one-hot labels) and ``seconds``.
    """
    if state_dir is not None:
        check_state(Path(state_dir), config.describe())
    kw = {
        "state_dir": state_dir,
        "progress": progress,
        "callbacks": callbacks,
        "keep_weights": keep_weights,
        "outputs": outputs,
    }
    if config.alpha == "estimate":
        return run_alpha_chains(data, config, seed, {"estimate": "estimate"}, **kw)["estimate"]
    if config.alpha == "grid":
        tau = config.generations
        names = {a: f"alpha={a:g}" for a in config.grid}
        chains = run_alpha_chains(
            data, config, seed, {names[a]: (a,) * (tau - 1) for a in config.grid}, **kw
        )
        return select_grid({a: chains[names[a]] for a in config.grid})
    return run_alpha_chains(data, config, seed, {"fixed": config.alphas()}, **kw)["fixed"]


def run_chains(
    data: DataSplits | DataSpec,
    config: ChainConfig,
    seeds: Sequence[int],
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
    execution: Execution | None = None,
    outputs: ChainOutputs | None = None,
) -> list[dict[str, Any]]:
    """:func:`run_chain` for every seed: ``[{"seed": s, "generations": [...]}, ...]``.

    Each seed's chain is one run of :func:`selfdistill.execution.run_sweep`, executed as
    ``execution`` says (serial by default; ``processes`` and ``ray`` train seeds side by side,
    with the data, config and callbacks pickled to the workers). Resuming is the per-generation
    state of ``state_dir``, whatever the executor.

    ``data`` is the splits or a :class:`~selfdistill.nn.data_splits.DataSpec`: run serially, a spec
    with its own seed is loaded once; otherwise each run loads it (a worker receives the spec,
    not the arrays).
    """
    seeds = check_seeds("seeds", seeds)
    if not isinstance(data, DataSplits | DataSpec):
        raise TypeError(f"data must be DataSplits or a DataSpec, got {type(data).__name__}")
    if not isinstance(config, ChainConfig):
        raise TypeError(f"config must be a ChainConfig, got {type(config).__name__}")
    if state_dir is not None:
        check_state(Path(state_dir), config.describe())
    serial = execution is None or execution.executor == "serial"
    if serial and isinstance(data, DataSpec) and data.seed is not None:
        data = data.load()
    fn = functools.partial(
        _seed_chain, data=data, config=config, state_dir=state_dir, keep_weights=keep_weights,
        progress=progress and serial, callbacks=tuple(callbacks), outputs=outputs,
    )  # fmt: skip
    specs = [{"seed": int(s), "chain": config.describe()} for s in seeds]
    return run_sweep(
        fn, specs, execution=execution, progress=progress and not serial, desc="chains",
        name=lambda spec: f"(seed {spec['seed']})",
    )  # fmt: skip


def _seed_chain(spec: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """One run of :func:`run_chains`: the chain of ``spec["seed"]``."""
    seed = int(spec["seed"])
    data, config = kwargs.pop("data"), kwargs.pop("config")
    return {"seed": seed, "generations": run_chain(data, config, seed, **kwargs)}
