"""``find_label_issues``: the wrong labels of a data set, each judged out of sample.

:func:`find_label_issues` cross-fits the noisy-label methods (:mod:`.crossfit`: every sample
judged by models that never trained on its label), averages their out-of-fold probabilities,
flags with :func:`.flags.flag_top`, picks the method whose out-of-fold predictions agree best with
the GIVEN labels (no clean labels needed) and trains it once more on every sample: the model a
user keeps. ``len(methods) × folds + 1`` trainings (default 3 × 3 + 1 = 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..._util.validation import check_choice, check_int
from ...datasets.user_files import file_arrays
from ...execution import Execution
from ..data_splits import DataSplits
from ..noisy.config import NoisyConfig
from ..saved import SavedModel, model_card, save_model
from ..training.seeds import derive_seed
from .crossfit import check_folds, clean_methods, crossfit, train_network
from .flags import DEFAULT_QUANTILE, flag_top

__all__ = ["DEFAULT_FOLDS", "DEFAULT_METHODS", "LabelIssues", "find_label_issues"]

#: the methods cross-fitted by default (each won some of the settings in docs/noisy.md)
DEFAULT_METHODS = ("sd-margin", "elr", "gce")
DEFAULT_FOLDS = 3


@dataclass(frozen=True)
class LabelIssues:
    """The verdict on every sample's label (:func:`find_label_issues`); arrays of length n in
    the order of the samples given.

    Attributes
    ----------
    given, suggested
        The given label's and the most probable class's index (into :attr:`classes`).
    score
        ``1 − p_given``: higher is more surely wrong.
    flagged
        The samples whose label is judged wrong (:func:`~selfdistill.nn.clean.flags.flag_top`).
    p_given, p_suggested
        Out-of-fold probability of the given label and of the suggested class.
    proba
        Out-of-fold probabilities ``(n, K)``, averaged over the methods.
    classes
        Class names (``str`` of the labels given).
    threshold
        The lowest flagged score (``None`` when nothing is flagged).
    method
        The method of :attr:`model`: the one whose out-of-fold predictions agree best with the
        given labels, or the one forced.
    methods
        Each method's out-of-fold accuracy against the given labels.
    model
        The final model, trained with :attr:`method` on every sample (:class:`SavedModel`:
        ``predict_proba`` takes raw inputs; ``None`` when not asked for).
    trusted
        The samples whose labels were trusted (never flagged).
    trainings
        Networks trained.
    """

    given: np.ndarray
    suggested: np.ndarray
    score: np.ndarray
    flagged: np.ndarray
    p_given: np.ndarray
    p_suggested: np.ndarray
    proba: np.ndarray
    classes: tuple[str, ...]
    threshold: float | None
    method: str
    methods: dict[str, float]
    model: SavedModel | None = None
    trusted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    trainings: int = 0

    def __len__(self) -> int:
        return len(self.given)

    @property
    def n_flagged(self) -> int:
        """How many samples are flagged."""
        return int(self.flagged.sum())

    def to_frame(self, *, sort: bool = True) -> Any:
        """A pandas DataFrame, one row per sample: ``index``, ``given_label``,
        ``suggested_label`` (class names), ``score``, ``flagged`` (0/1), ``p_given``,
        ``p_suggested``; sorted by score, highest first (``sort=False``: sample order)."""
        from ...datasets.user_files import pandas_module

        names = np.asarray(self.classes, dtype=object)
        frame = pandas_module().DataFrame(
            {
                "index": np.arange(len(self.given)),
                "given_label": names[self.given],
                "suggested_label": names[self.suggested],
                "score": self.score,
                "flagged": self.flagged.astype(int),
                "p_given": self.p_given,
                "p_suggested": self.p_suggested,
            }
        )
        if sort:
            frame = frame.iloc[np.argsort(-self.score, kind="stable")].reset_index(drop=True)
        return frame

    def save_model(self, folder: str | Path) -> Path:
        """Write :attr:`model` (card + weights) to ``folder`` for ``selfdistill predict``."""
        if self.model is None:
            raise ValueError("model: no final model was trained (final_model=False)")
        return save_model(folder, self.model.model, self.model.card)


def _config(config: NoisyConfig | None, options: dict[str, Any]) -> NoisyConfig:
    if config is None:
        return NoisyConfig(**options)
    parts = {"dataset": config.dataset, "network": config.network, "budget": config.budget,
             "hyper": config.hyper}  # fmt: skip
    return NoisyConfig(**parts, **options)


def find_label_issues(
    x: Any,
    y: Any,
    *,
    methods: Sequence[str] = DEFAULT_METHODS,
    method: str | None = None,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    q: float = DEFAULT_QUANTILE,
    trusted: Any = None,
    final_model: bool = True,
    config: NoisyConfig | None = None,
    execution: Execution | None = None,
    store: str | Path | None = None,
    progress: bool = False,
    source: dict[str, Any] | None = None,
    classes: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    label_column: str | None = None,
    **options: Any,
) -> LabelIssues:
    """Find the wrong labels of ``(x, y)``: every sample judged out of sample.

    Parameters
    ----------
    x, y
        Features ``(n, D)`` or uint8 images ``(n, C, H, W)``, and one label per sample
        (integers or strings).
    methods
        The noisy-label methods cross-fitted (loss rules; default ``sd-margin, elr, gce``).
    method
        Force the final model's method; only it is cross-fitted (``folds + 1`` trainings).
    folds
        K of the stratified K-fold cross-fitting (at least 2, and at most the smallest class's
        sample count).
    seed
        Seed of the folds, the initial weights and the data order.
    q
        Quantile of the per-class thresholds of the flag rule (:mod:`.flags`).
    trusted
        Boolean mask of samples whose labels are trusted (a person's corrections): never
        flagged.
    final_model
        Train the final model on every sample (``False``: only the flags).
    config, **options
        The network and its budget: a :class:`~selfdistill.nn.noisy.config.NoisyConfig` and/or
        its flat keywords (``model="cnn"``, ``epochs=40``, ``optimizer="adam"``, ``device``,
        ``margin_lam``, ...; default an MLP, 40 epochs of SGD).
    execution, store, progress
        How the trainings run (:class:`~selfdistill.execution.Execution`), a folder where
        finished trainings are kept (a rerun resumes), progress bars.
    source
        Recorded in the model card as the data's description.
    classes
        The class names, when ``y`` holds class indices into them (then every class keeps its
        index, even one no sample is labelled with); default: the sorted distinct labels of
        ``y``.
    feature_names, label_column
        A table's feature columns and label column, recorded in the final model's card so that
        ``selfdistill predict`` takes a new table's columns by name.

    Returns
    -------
    LabelIssues

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from selfdistill.nn import find_label_issues
    >>> x, y = load_digits(return_X_y=True)
    >>> issues = find_label_issues(x[:300], y[:300], methods=["ce"], epochs=2)
    >>> len(issues.to_frame()) == 300
    True
    """
    xs, codes, classes, fitted, mask = _inputs(x, y, classes, methods, method, folds, trusted)
    chosen = None if method is None else fitted[0]
    seed = check_int("seed", seed, low=0)
    cfg = _config(config, options)
    k = len(classes)
    proba_of = crossfit(
        xs, codes, cfg, fitted, folds=folds, seed=seed, num_classes=k,
        execution=execution, store=store, progress=progress,
    )  # fmt: skip
    accuracy = {m: float((p.argmax(axis=1) == codes).mean()) for m, p in proba_of.items()}
    best = chosen or max(fitted, key=lambda m: (accuracy[m], -fitted.index(m)))
    proba = np.mean([proba_of[m] for m in fitted], axis=0)
    flagged, score, threshold = flag_top(proba, codes, q=q, trusted=mask)
    suggested = proba.argmax(axis=1)
    rows = np.arange(len(codes))
    model = None
    if final_model:
        table = (None if feature_names is None else tuple(feature_names), label_column)
        model = _final_model(xs, codes, cfg, best, seed, classes, source, folds, table)
    return LabelIssues(
        given=codes, suggested=suggested, score=score, flagged=flagged,
        p_given=proba[rows, codes], p_suggested=proba[rows, suggested], proba=proba,
        classes=classes, threshold=threshold, method=best, methods=accuracy, model=model,
        trusted=mask, trainings=len(fitted) * folds + int(final_model),
    )  # fmt: skip


def _inputs(
    x: Any,
    y: Any,
    classes: Sequence[str] | None,
    methods: Sequence[str],
    method: str | None,
    folds: int,
    trusted: Any,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], list[str], np.ndarray]:
    """The checked inputs of :func:`find_label_issues`: features, class indices, class names,
    the methods to cross-fit and the trusted mask."""
    if classes is None:
        data = file_arrays("x", {"x": _numpy(x), "y": _numpy(y)})
        xs, codes = data.splits["train"]
        classes = data.class_names
    else:
        classes = tuple(str(c) for c in classes)
        xs, codes = _numpy(x), _numpy(y).astype(np.int64)
        bad = not len(codes) or not 0 <= codes.min() <= codes.max() < len(classes)
        if len(xs) != len(codes) or bad:
            raise ValueError(f"y must hold {len(xs)} class indices in [0, {len(classes) - 1}]")
    names = clean_methods()
    if method is not None:
        fitted = [check_choice("method", method, names)]
    else:
        fitted = [check_choice("methods", m, names) for m in methods]
    if not fitted or len(set(fitted)) != len(fitted):
        raise ValueError(f"methods must be a non-empty list without repeats, got {list(methods)}")
    check_folds(codes, folds, classes)
    mask = np.zeros(len(codes), bool) if trusted is None else np.asarray(trusted, dtype=bool)
    if mask.shape != codes.shape:
        raise ValueError(f"trusted must be a boolean mask of {len(codes)} samples")
    return xs, codes, classes, fitted, mask


def _numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _final_model(
    x: np.ndarray,
    y: np.ndarray,
    config: NoisyConfig,
    method: str,
    seed: int,
    classes: tuple[str, ...],
    source: dict[str, Any] | None,
    folds: int,
    table: tuple[tuple[str, ...] | None, str | None] = (None, None),
) -> SavedModel:
    """``method`` trained on every sample (a noisy validation split for its switch)."""
    k = len(classes)
    model, stats, _ = train_network(method, x, y, config, derive_seed(seed, 99), k)
    empty = torch.zeros((0, *x.shape[1:]))
    splits = DataSplits(
        name=str((source or {}).get("name", "arrays")), x_train=empty,
        y_train=torch.zeros(0, dtype=torch.long), x_val=empty,
        y_val=torch.zeros(0, dtype=torch.long), x_test=empty,
        y_test=torch.zeros(0, dtype=torch.long), num_classes=k,
        input_shape=tuple(int(s) for s in x.shape[1:]), class_names=classes, standardisation=stats,
        feature_names=table[0], label_column=table[1],
    )  # fmt: skip
    params = {**asdict(config.hyper), "folds": folds, "budget": asdict(config.budget)}
    card = model_card(splits, config.network, method=method, params=params, seed=seed,
                      source=source)  # fmt: skip
    return SavedModel(model=model.cpu().eval(), card=card, path=Path("model.json"))
