"""The report pages of ``noisy``, ``chain`` and ``reproduce NAME`` runs: a summary, the
settings, the result tables and the figures of the run's folder, embedded.

Each page is made from ``OUT/results.json`` and the files beside it alone (no training, no
torch), so ``selfdistill report OUT`` rewrites it at any time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..chain import ACCURACIES, summarise_chain
from ..noisy import CSV_FIELDS, FLAGGED_KEYS, flagged_tables, markdown_table, selection_table
from .page import document, escape, figures, fmt, markdown_tables, settings_list, table

__all__ = ["chain_page", "noisy_page", "reproduce_page"]

#: a list of records longer than this is summarised, not tabulated
MAX_TABLE_ROWS = 300


def _cards(items: Sequence[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<li><span class="value">{escape(fmt(v))}</span><span class="label">{escape(k)}</span>'
        "</li>"
        for k, v in items
    )
    return f'<ul class="cards">{cells}</ul>'


def _section(key: str, title: str, content: str) -> str:
    return (
        f'<section aria-labelledby="{key}-h"><h2 id="{key}-h">{escape(title)}</h2>'
        f"{content}</section>"
    )


def _figures_section(out: Path) -> str:
    found = figures(out)
    return _section("figures", "Figures", found) if found else ""


def _has(runs: Sequence[Mapping[str, Any]], key: str) -> bool:
    return any(isinstance(r.get(key), (int, float)) and math.isfinite(r[key]) for r in runs if r)


def noisy_page(out: Path, results: Mapping[str, Any]) -> str:
    """The page of a ``noisy`` sweep (``{"config", "runs"}``)."""
    config, runs = results.get("config") or {}, results.get("runs") or []
    if not runs:
        raise ValueError(f"{out / 'results.json'}: a noisy run with no runs")
    cards = _cards([
        ("data", config.get("data")), ("noise kind", config.get("noise_kind")),
        ("noise rates", ", ".join(fmt(n) for n in config.get("noises", []))),
        ("methods", ", ".join(config.get("methods", []))),
        ("seeds", ", ".join(fmt(s) for s in config.get("seeds", []))),
        ("model", config.get("model")), ("epochs", config.get("epochs")),
    ])  # fmt: skip
    parts = [_section("summary", "Summary", cards + markdown_tables(
        selection_table(runs),
        caption="Final clean test accuracy (%), mean ± std over seeds (best in bold)",
    ))]  # fmt: skip
    more = []
    if _has(runs, "label_recovery"):
        more.append(markdown_tables(
            markdown_table(runs, "label_recovery"),
            caption="Corrupted training labels the model recovers (%)",
        ))  # fmt: skip
    if any(_has(runs, k) for k in FLAGGED_KEYS):
        more.append(markdown_tables(flagged_tables(runs)))
    fields = [k for k in CSV_FIELDS if any(k in r for r in runs)]
    more.append(
        "<details><summary>Every run</summary>"
        + table(fields, [[r.get(k) for k in fields] for r in runs[:MAX_TABLE_ROWS]])
        + "</details>"
    )
    parts.append(_section("tables", "Tables", "".join(more)))
    parts.append(_figures_section(out))
    parts.append(_section("settings", "Settings", settings_list(config)))
    return document(
        f"selfdistill noisy: {config.get('data', '')}", "".join(parts), subtitle=f"output: {out}"
    )


def chain_page(out: Path, results: Mapping[str, Any]) -> str:
    """The page of a ``chain`` study (``{"config", "runs", "summary"}``)."""
    config, runs = results.get("config") or {}, results.get("runs") or []
    if not runs:
        raise ValueError(f"{out / 'results.json'}: a chain run with no runs")
    summary = results.get("summary") or summarise_chain(runs)
    chain = config.get("chain") or {}
    cards = _cards([
        ("data", config.get("data")), ("model", config.get("model")),
        ("generations", len(summary["generation"])),
        ("loss", chain.get("loss", config.get("loss"))),
        ("alpha", config.get("alpha")), ("seeds", summary.get("seeds")),
        ("train / val / test", f"{config.get('n_train')} / {config.get('n_val')} / "
                               f"{config.get('n_test')}"),
    ])  # fmt: skip
    rows = []
    for i, g in enumerate(summary["generation"]):
        cells: list[Any] = [g, summary["alpha_mean"][i], summary["fits"][i]]
        for key in ACCURACIES:
            m, s = summary[f"{key}_mean"][i], summary[f"{key}_std"][i]
            cells.append(f"{100 * m:.2f} ± {100 * s:.2f}" if m is not None else "–")
        rows.append(cells)
    accuracy = table(
        ("generation", "mean α", "fits", "train (%)", "validation (%)", "test (%)"), rows,
        caption="Accuracy per generation, mean ± std over seeds (train: against the original "
        "labels)", numeric=(True,) * 6,
    )  # fmt: skip
    body = (
        _section("summary", "Summary", cards + accuracy)
        + _figures_section(out)
        + _section("settings", "Settings", settings_list(config))
    )
    return document(f"selfdistill chain: {config.get('data', '')}", body, subtitle=f"output: {out}")


def _is_record_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
        and all(not isinstance(x, (Mapping, list)) for v in value for x in v.values())
    )


def _scalars(values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        (k, v) for k, v in values.items() if v is None or isinstance(v, (int, float, str, bool))
    ]


def _result_tables(results: Mapping[str, Any], depth: int = 0) -> str:
    """The scalars of ``results`` as one table, each list of flat records as a table, and the
    nested dicts likewise (two levels); long number lists stay in results.json."""
    parts = []
    scalars = _scalars(results)
    if scalars:
        parts.append(table(("quantity", "value"), [(k, fmt(v, 6)) for k, v in scalars],
                           numeric=(False, True)))  # fmt: skip
    for key, value in results.items():
        if _is_record_list(value):
            fields = list(dict.fromkeys(k for rec in value for k in rec))
            shown = value[:MAX_TABLE_ROWS]
            note = f" (first {MAX_TABLE_ROWS} of {len(value)})" if len(value) > len(shown) else ""
            parts.append(table(fields, [[rec.get(f) for f in fields] for rec in shown],
                               caption=f"{key}{note}"))  # fmt: skip
        elif isinstance(value, Mapping) and depth < 2 and key != "settings":
            inner = _result_tables(value, depth + 1)
            if inner:
                parts.append(f"<h3>{escape(key)}</h3>{inner}")
    return "".join(parts)


def reproduce_page(out: Path, results: Mapping[str, Any]) -> str:
    """The page of a ``reproduce NAME`` run (``{"experiment", "config", "results"}``): its
    settings, the numbers of its results (scalars and tables), the Markdown tables and the figures
    it wrote."""
    name = str(results.get("experiment", "?"))
    config = results.get("config") or {}
    values = results.get("results") or {}
    settings = values.get("settings") if isinstance(values.get("settings"), Mapping) else None
    tables = _result_tables(values)
    for md in sorted(out.glob("*.md")):
        tables += f"<h3>{escape(md.name)}</h3>" + markdown_tables(md.read_text(encoding="utf-8"))
    body = (
        _section("results", "Results", tables or '<p class="note">No tabulated numbers; '
                 "results.json holds every value.</p>")
        + _figures_section(out)
        + _section("settings", "Settings", settings_list({**config, **(settings or {})}))
    )  # fmt: skip
    return document(
        f"selfdistill reproduce {name}", body,
        subtitle=f"{'quick variant; ' if config.get('quick') else ''}output: {out}",
    )  # fmt: skip
