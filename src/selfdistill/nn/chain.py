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
  (:func:`~selfdistill.nn.alpha.optimal_alpha`, Frobenius norm), then fit the student with α̂;
  2(τ − 1) + 1 fits for τ generations;
* ``"grid"`` — the baseline α̂ replaces: one fixed-α chain per grid value, all sharing generation 1,
  and at every generation the chain with the best validation accuracy; g(τ − 1) + 1 fits.

Every generation records α, the number of fits so far, the accuracy on the ORIGINAL training labels,
validation and test accuracy and losses. With a ``state_dir`` each finished generation's record and
weights are written atomically, and a rerun resumes at the first unfinished generation with the same
result as an uninterrupted run (every fit is seeded from the run seed and the generation).
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._io import atomic_write_bytes, read_json, to_jsonable, write_json
from .._validation import check_choice, check_int, check_real
from ..progress import Stages
from .alpha import optimal_alpha
from .data import DataSplits
from .distill import LOSSES, freeze, make_loss, mix_targets, teacher_probabilities
from .models import build_model
from .train import Callback, TrainConfig, accuracy, fit, predict_logits

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
        ``ce`` a negative weight would make the targets non-probabilities).
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
        check_int("generations", self.generations, low=1)
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


def _state_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def _build(data: DataSplits, config: ChainConfig, seed: int, generation: int) -> nn.Module:
    init_generation = 0 if config.same_init else generation
    return build_model(
        config.model,
        data.input_shape,
        data.num_classes,
        width=config.width,
        seed=fit_seed(seed, init_generation, 0),
    )


def _probs(model: nn.Module, x: Tensor, device: str) -> Tensor:
    return torch.softmax(predict_logits(model, x, device=device).detach().cpu().float(), dim=1)


def _metrics(model: nn.Module, data: DataSplits, device: str) -> dict[str, float]:
    """Accuracies against the ORIGINAL labels and losses of the softmax output against one-hot."""
    out: dict[str, float] = {}
    for name, x, y in (
        ("train", data.x_train, data.y_train),
        ("val", data.x_val, data.y_val),
        ("test", data.x_test, data.y_test),
    ):
        out[f"{name}_acc"] = accuracy(model, x, y, device=device)
        if name == "train":
            continue
        probs = _probs(model, x, device)
        onehot = torch.nn.functional.one_hot(y.long().cpu(), data.num_classes).float()
        out[f"{name}_mse"] = float(((probs - onehot) ** 2).sum(1).mean())
        out[f"{name}_ce"] = float(
            -(probs.gather(1, y.long().cpu()[:, None]).clamp_min(1e-12)).log().mean()
        )
    return out


def _train(
    model: nn.Module,
    data: DataSplits,
    targets: Tensor,
    config: ChainConfig,
    seed: int,
    generation: int,
    *,
    temperature: float,
    callbacks: Sequence[Callback],
    progress: bool,
) -> dict[str, float]:
    train_config = replace(config.train, seed=fit_seed(seed, generation, 1), progress=progress)
    history = fit(
        model,
        data.x_train,
        targets,
        train_config,
        loss_fn=make_loss(config.loss, temperature),
        callbacks=callbacks,
    )
    last = history.epochs[-1] if history.epochs else {}
    return {"train_loss": float(last.get("train_loss", math.nan))}


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

    The teacher is frozen first (:func:`~selfdistill.nn.distill.freeze`), so the caller's model is
    never trained or switched out of its mode; its softmax outputs (at the ``ce`` temperature) are
    computed once. Returns the student and its metrics (accuracies against the original labels).
    """
    device = config.train.device
    student = _build(data, config, seed, generation)
    if teacher is None:
        targets: Tensor = data.y_train
        temperature = 1.0
    else:
        temperature = config.temperature if config.loss == "ce" else 1.0
        frozen = freeze(teacher)
        if frozen is student or any(
            p.data_ptr() == q.data_ptr() for p in frozen.parameters() for q in student.parameters()
        ):  # pragma: no cover - guarded by construction
            raise RuntimeError("the teacher must be a distinct model from the student")
        probs = teacher_probabilities(frozen, data.x_train, temperature=temperature, device=device)
        targets = mix_targets(alpha, data.y_train, probs)
    info = _train(
        student,
        data,
        targets,
        config,
        seed,
        generation,
        temperature=temperature,
        callbacks=callbacks,
        progress=progress,
    )
    info.update(_metrics(student, data, device))
    student.eval()
    return student, info


class _Store:
    """Per-generation records and weights under ``root`` (atomic; None = keep nothing).

    A generation is finished when its record (``KEY.json``) exists; its weights (``KEY.pt``) are
    written before the record, and may be dropped once a later generation has finished.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def record(self, key: str) -> dict[str, Any] | None:
        if self.root is None or not (self.root / f"{key}.json").exists():
            return None
        return read_json(self.root / f"{key}.json")

    def load_model(
        self, key: str, data: DataSplits, config: ChainConfig, seed: int, generation: int
    ) -> nn.Module:
        assert self.root is not None
        path = self.root / f"{key}.pt"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: cannot resume this chain")
        model = _build(data, config, seed, generation)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.to(config.train.device)
        model.eval()
        return model

    def save(self, key: str, model: nn.Module, record: Mapping[str, Any]) -> None:
        if self.root is None:
            return
        atomic_write_bytes(self.root / f"{key}.pt", _state_bytes(model))
        write_json(self.root / f"{key}.json", record)

    def drop_weights(self, key: str) -> None:
        if self.root is not None:
            (self.root / f"{key}.pt").unlink(missing_ok=True)


def _check_state(state_dir: Path, description: Mapping[str, Any]) -> None:
    path = state_dir / "chain-config.json"
    if path.exists():
        saved = read_json(path)
        if saved != to_jsonable(description):
            raise ValueError(
                f"state_dir {state_dir} holds a run with another configuration; "
                "use a new output folder (or delete the old one) to start over"
            )
    else:
        write_json(path, description)


def run_alpha_chains(
    data: DataSplits,
    config: ChainConfig,
    seed: int,
    schedules: Mapping[str, Sequence[float] | str],
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Several chains of ``config.generations`` generations that share generation 1.

    Parameters
    ----------
    schedules
        name -> α_2 … α_τ (a sequence of τ − 1 reals) or ``"estimate"``.
    state_dir
        Folder for per-generation records and weights; finished generations are loaded from it.
    keep_weights
        Keep every generation's weights in ``state_dir`` (default: generation 1 and the last
        finished generation of each chain, which is all a resume needs).

    Returns
    -------
    dict
        name -> per-generation records (``fits`` counts this chain's own fits: t for a fixed
        schedule, 2(t − 1) + 1 for ``"estimate"``).
    """
    seed = check_int("seed", seed, low=0)
    tau = config.generations
    root = None if state_dir is None else Path(state_dir) / f"seed-{seed}"
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    store = _Store(root)
    device = config.train.device
    n_steps = 1 + sum(tau - 1 for _ in schedules)
    stages = Stages(n_steps, name=f"seed {seed}", enabled=progress)
    for name, schedule in schedules.items():
        if isinstance(schedule, str):
            check_choice(f"schedules[{name!r}]", schedule, ("estimate",))
        elif len(schedule) != tau - 1:
            raise ValueError(f"schedules[{name!r}] must hold {tau - 1} alpha values")

    with stages("generation 1 (labels)"):
        first_record = store.record("gen-1")
        if first_record is None:
            start = time.perf_counter()
            first, info = distill_generation(
                None, data, config, seed, 1, 1.0, callbacks=callbacks, progress=progress
            )
            first_record = {"generation": 1, "alpha": None, **info}
            first_record["seconds"] = time.perf_counter() - start
            store.save("gen-1", first, first_record)
        else:
            first = store.load_model("gen-1", data, config, seed, 1)
    first_record = {**first_record, "fits": 1}
    first_val = _probs(first, data.x_val, device).numpy()
    val_onehot = torch.nn.functional.one_hot(data.y_val.long().cpu(), data.num_classes).numpy()

    out: dict[str, list[dict[str, Any]]] = {}
    for name, schedule in schedules.items():
        records = [dict(first_record)]
        # The teacher is loaded lazily: a resumed chain only needs the last finished weights.
        teacher_key, teacher_generation, teacher = "gen-1", 1, first
        for t in range(2, tau + 1):
            key = f"{_safe(name)}/gen-{t}"
            fits = 1 + 2 * (t - 1) if schedule == "estimate" else t
            record = store.record(key)
            if record is not None:
                records.append({**record, "fits": fits})
                teacher_key, teacher_generation, teacher = key, t, None
                continue
            if teacher is None:
                teacher = store.load_model(teacher_key, data, config, seed, teacher_generation)
            with stages(f"{name}: generation {t}"):
                start = time.perf_counter()
                if schedule == "estimate":
                    zero, zero_info = distill_generation(
                        teacher,
                        data,
                        config,
                        seed,
                        t,
                        0.0,
                        callbacks=callbacks,
                        progress=progress,
                    )
                    alpha_hat = optimal_alpha(
                        val_onehot, first_val, _probs(zero, data.x_val, device).numpy()
                    )
                    del zero
                    alpha = min(max(alpha_hat, 0.0), 1.0) if config.clip_alpha else alpha_hat
                    extra = {
                        "alpha_hat": alpha_hat,
                        "alpha0_val_acc": zero_info["val_acc"],
                        "alpha0_test_acc": zero_info["test_acc"],
                    }
                else:
                    alpha, extra = float(schedule[t - 2]), {}
                model, info = distill_generation(
                    teacher, data, config, seed, t, alpha, callbacks=callbacks, progress=progress
                )
                record = {"generation": t, "alpha": alpha, **extra, **info}
                record["seconds"] = time.perf_counter() - start
                store.save(key, model, record)
                if not keep_weights and teacher_generation > 1:
                    store.drop_weights(teacher_key)
            records.append({**record, "fits": fits})
            teacher_key, teacher_generation, teacher = key, t, model
        out[name] = records
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)


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
    data: DataSplits,
    config: ChainConfig,
    seed: int,
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
) -> list[dict[str, Any]]:
    """One seed's chain of ``config.generations`` generations; a record per generation.

    ``state_dir`` makes the run resumable (see :func:`run_alpha_chains`). Records hold
    ``generation``, ``alpha`` (None for generation 1), ``fits`` (fits so far, counted as the α
    mode requires), ``train_acc`` (against the original training labels), ``val_acc``,
    ``test_acc``, ``train_loss`` (final-epoch training objective), ``val_mse``/``test_mse`` and
    ``val_ce``/``test_ce`` (softmax output against the one-hot labels) and ``seconds``.
    """
    if state_dir is not None:
        _check_state(Path(state_dir), config.describe())
    kw = {
        "state_dir": state_dir,
        "progress": progress,
        "callbacks": callbacks,
        "keep_weights": keep_weights,
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
    data: DataSplits,
    config: ChainConfig,
    seeds: Sequence[int],
    *,
    state_dir: str | Path | None = None,
    progress: bool = False,
    callbacks: Sequence[Callback] = (),
    keep_weights: bool = False,
) -> list[dict[str, Any]]:
    """:func:`run_chain` for every seed: ``[{"seed": s, "generations": [...]}, ...]``."""
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    return [
        {
            "seed": int(s),
            "generations": run_chain(
                data,
                config,
                s,
                state_dir=state_dir,
                progress=progress,
                callbacks=callbacks,
                keep_weights=keep_weights,
            ),
        }
        for s in seeds
    ]
