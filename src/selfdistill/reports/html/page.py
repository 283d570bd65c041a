"""The frame every report page shares: one self-contained HTML document (inline CSS and scripts,
figures as ``data:`` URIs), with escaping, tables, settings lists and embedded PNG figures.

Nothing a page holds is fetched from elsewhere: it opens from ``file://``, moved or mailed, in
any current browser, and prints with its own stylesheet (``assets/report.css``).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "asset",
    "document",
    "escape",
    "figures",
    "fmt",
    "json_script",
    "markdown_tables",
    "png_data_uri",
    "settings_list",
    "table",
]


def escape(value: Any) -> str:
    """``value`` as text safe inside HTML (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """A number as a person reads it (``None`` and NaN as an en dash), anything else as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}g}"
    return str(value)


def asset(name: str) -> str:
    """The text of ``assets/NAME`` shipped beside this module (CSS, JavaScript)."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def json_script(element_id: str, payload: Any) -> str:
    """``payload`` as a ``<script type="application/json">`` block the page's script parses.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no value can close the element."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
    css_class: str = "data",
) -> str:
    """An HTML table (``<th scope="col">`` headers); cells are escaped, numbers formatted and
    right-aligned (``numeric`` per column, else guessed from the first row's values)."""
    rows = [list(r) for r in rows]
    if numeric is None:
        first = rows[0] if rows else []
        numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in first]
        numeric += [False] * (len(headers) - len(numeric))
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cls = ' class="num"' if i < len(numeric) and numeric[i] else ""
            tag = "th" if i == 0 else "td"
            scope = ' scope="row"' if i == 0 else ""
            cells.append(f"<{tag}{scope}{cls}>{escape(fmt(value))}</{tag}>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="{css_class}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out += _flatten(value, name + ".")
        elif isinstance(value, (list, tuple)) and all(
            isinstance(v, (int, float, str, bool)) or v is None for v in value
        ):
            out.append((name, ", ".join(fmt(v) for v in value) if value else "[]"))
        elif isinstance(value, (list, tuple)):
            out.append((name, f"[{len(value)} entries]"))
        else:
            out.append((name, value))
    return out


def settings_list(settings: Mapping[str, Any], *, caption: str = "Settings") -> str:
    """The settings of a run (nested dicts flattened to dotted names) as a two-column table."""
    rows = [(k, fmt(v, 6)) for k, v in _flatten(settings)]
    return table(("setting", "value"), rows, caption=caption, numeric=(False, False))


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _markdown_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_tables(text: str, *, caption: str | None = None) -> str:
    """The pipe tables of a Markdown text (``reports.noisy``'s tables) as HTML tables; ``**x**``
    (the best value of a column) becomes ``<strong>`` with the word "best" for screen readers and
    print. Headings become ``<h3>``, other lines paragraphs."""
    parts: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            headers = _markdown_row(line)
            i += 2
            body = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                body.append(_markdown_row(lines[i]))
                i += 1
            parts.append(_html_rows(headers, body, caption))
            continue
        if line.startswith("#"):
            parts.append(f"<h3>{escape(line.lstrip('#').strip())}</h3>")
        elif line:
            parts.append(f"<p>{escape(line)}</p>")
        i += 1
    return "\n".join(parts)


def _html_rows(headers: list[str], body: list[list[str]], caption: str | None) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    rows = []
    for cells in body:
        out = []
        for j, cell in enumerate(cells):
            text = _BOLD.sub(
                lambda m: f'<strong>{m.group(1)}<span class="sr"> (best)</span></strong>',
                escape(cell),
            )
            num = ' class="num"' if j and re.match(r"^[\s*]*[-\d.]", cell) else ""
            out.append(f'<th scope="row">{text}</th>' if j == 0 else f"<td{num}>{text}</td>")
        rows.append("<tr>" + "".join(out) + "</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<div class="scroll"><table class="data">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def png_data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data`` as a ``data:`` URI."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figures(out: Path, *, names: Sequence[str] | None = None) -> str:
    """Every PNG figure of ``out`` (or the ``names`` given, in that order), embedded."""
    paths = [out / n for n in names] if names is not None else sorted(out.glob("*.png"))
    parts = []
    for path in paths:
        if not path.is_file():
            continue
        caption = path.stem.replace("_", " ").replace("-", " ")
        parts.append(
            f'<figure><img src="{png_data_uri(path.read_bytes())}" '
            f'alt="figure {escape(path.name)}: {escape(caption)}">'
            f"<figcaption>{escape(path.name)}</figcaption></figure>"
        )
    return "\n".join(parts)


def document(
    title: str,
    body: str,
    *,
    subtitle: str = "",
    scripts: Sequence[str] = (),
    head: str = "",
    tail: str = "",
) -> str:
    """A complete page: ``<head>`` with the inline stylesheet, a header with ``title`` and the
    time it was written, ``body`` in ``<main>``, then the inline ``scripts`` (JavaScript source)
    and ``tail`` (data the scripts read once the page is parsed)."""
    written = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    js = "".join(f"<script>{s}</script>" for s in scripts)
    sub = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="selfdistill">{head}'
        f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head>"
        f'<body><a class="skip" href="#main">Skip to the content</a>'
        f"<header><h1>{escape(title)}</h1>{sub}"
        f'<p class="written">Written by selfdistill on {written}.</p></header>'
        f'<main id="main">{body}</main>{js}{tail}</body></html>\n'
    )
