"""Inline SVG charts of the report pages: the confusion heat map and the score histogram.

Each chart is a ``<svg role="img">`` with a title and a description; every colour is paired with
a number, a pattern or a word, and text on a coloured cell takes the text colour (black or white)
of the higher contrast ratio (WCAG 2: :func:`contrast_ratio`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .page import escape

__all__ = ["contrast_ratio", "heat_colour", "heatmap", "histogram", "relative_luminance"]

#: a heat map draws its numbers up to this many classes (the table beside it always has them)
MAX_NUMBERED = 30
_LOW = np.array([255, 255, 255], float)
_HIGH = np.array([29, 79, 145], float)  # the page's accent, #1d4f91
INK = "#1a1a1a"


def relative_luminance(rgb: Sequence[float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 0-255 channels."""
    c = np.asarray(rgb, float) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])


def contrast_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """WCAG 2 contrast ratio ``(L1 + 0.05) / (L2 + 0.05)`` of two sRGB colours, in [1, 21]."""
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in rgb)


def heat_colour(fraction: float) -> tuple[str, str]:
    """The fill of a cell at ``fraction`` in [0, 1] of the largest count, and its text colour
    (black or white, whichever contrasts more)."""
    rgb = _LOW + (_HIGH - _LOW) * float(np.clip(fraction, 0.0, 1.0))
    ink = (0, 0, 0) if contrast_ratio(rgb, (0, 0, 0)) >= contrast_ratio(rgb, (255, 255, 255)) else (
        255, 255, 255)  # fmt: skip
    return _hex(rgb), _hex(ink)


def heatmap(labels: Sequence[str], matrix: Sequence[Sequence[float]], *, title: str) -> str:
    """A K × K heat map: rows the given label, columns the suggested one, each cell's count
    written in it (up to :data:`MAX_NUMBERED` classes); colour on a square-root scale."""
    m = np.asarray(matrix, float)
    k = len(labels)
    if m.shape != (k, k) or k == 0:
        raise ValueError(f"heatmap: the matrix must be {k} x {k}, got {m.shape}")
    cell = int(np.clip(480 / k, 8, 44))
    label_w = int(min(160, 12 + 7.5 * max(len(str(s)) for s in labels)))
    left, top = label_w + 24, label_w + 24
    width, height = left + cell * k + 10, top + cell * k + 10
    peak = float(m.max()) or 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="hm-title hm-desc">',
        f'<title id="hm-title">{escape(title)}</title>',
        '<desc id="hm-desc">Rows: the given label; columns: the suggested label; each cell '
        "holds its count of samples (the table below lists them).</desc>",
        f'<text x="{left + cell * k / 2}" y="14" text-anchor="middle" font-size="13" '
        f'fill="#1a1a1a">suggested label →</text>',
        f'<text transform="translate(14 {top + cell * k / 2}) rotate(-90)" text-anchor="middle" '
        f'font-size="13" fill="#1a1a1a">given label →</text>',
    ]
    font = max(8, min(13, cell // 3))
    for i, name in enumerate(labels):
        short = escape(str(name)[:20])
        parts.append(
            f'<text x="{left - 6}" y="{top + cell * i + cell / 2 + 4}" text-anchor="end" '
            f'font-size="{font}" fill="#1a1a1a">{short}</text>'
        )
        parts.append(
            f'<text transform="translate({left + cell * i + cell / 2 + 4} {top - 6}) '
            f'rotate(-60)" font-size="{font}" fill="#1a1a1a">{short}</text>'
        )
    for i in range(k):
        for j in range(k):
            count = m[i, j]
            fill, ink = heat_colour(np.sqrt(count / peak))
            x, y = left + cell * j, top + cell * i
            border = ' stroke="#1a1a1a" stroke-width="1.5"' if i == j else ' stroke="#8a8f98"'
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"{border}>'
                f"<title>given {escape(labels[i])}, suggested {escape(labels[j])}: "
                f"{int(count)}</title></rect>"
            )
            if k <= MAX_NUMBERED and count:
                parts.append(
                    f'<text x="{x + cell / 2}" y="{y + cell / 2 + font / 3}" text-anchor="middle" '
                    f'font-size="{font}" fill="{ink}">{int(count)}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class _Frame:
    """The plot area of a chart: data range ``lo .. hi`` on x, ``0 .. peak`` on y."""

    lo: float
    hi: float
    peak: int
    width: int = 560
    height: int = 260
    left: int = 56
    bottom: int = 44
    top: int = 34

    @property
    def plot_w(self) -> float:
        return self.width - self.left - 16

    @property
    def plot_h(self) -> float:
        return self.height - self.bottom - self.top

    @property
    def axis_y(self) -> float:
        return self.top + self.plot_h

    def x(self, v: float) -> float:
        return self.left + (v - self.lo) / (self.hi - self.lo) * self.plot_w


def _bars(frame: _Frame, edges: np.ndarray, n_rest: np.ndarray, n_flag: np.ndarray) -> list[str]:
    parts = []
    bar_w = frame.plot_w / len(n_rest)
    for b in range(len(n_rest)):
        x = frame.left + b * bar_w
        h_rest = n_rest[b] / frame.peak * frame.plot_h
        h_flag = n_flag[b] / frame.peak * frame.plot_h
        span = f"score {edges[b]:.3g}–{edges[b + 1]:.3g}"
        if n_rest[b]:
            parts.append(
                f'<rect x="{x:.2f}" y="{frame.axis_y - h_rest:.2f}" width="{bar_w - 1:.2f}" '
                f'height="{h_rest:.2f}" fill="#9db4d3" stroke="#1d4f91" stroke-width="0.5">'
                f"<title>{int(n_rest[b])} not flagged, {span}</title></rect>"
            )
        if n_flag[b]:
            parts.append(
                f'<rect x="{x:.2f}" y="{frame.axis_y - h_rest - h_flag:.2f}" '
                f'width="{bar_w - 1:.2f}" height="{h_flag:.2f}" fill="url(#hatch)" '
                f'stroke="#8a1c12" stroke-width="0.5"><title>{int(n_flag[b])} flagged, {span}'
                "</title></rect>"
            )
    return parts


def _axes(frame: _Frame) -> list[str]:
    f = frame
    parts = [
        f'<line x1="{f.left}" y1="{f.axis_y}" x2="{f.left + f.plot_w}" y2="{f.axis_y}" '
        f'stroke="{INK}"/><line x1="{f.left}" y1="{f.top}" x2="{f.left}" y2="{f.axis_y}" '
        f'stroke="{INK}"/>'
    ]
    for v in np.linspace(f.lo, f.hi, 5):
        parts.append(
            f'<text x="{f.x(v):.1f}" y="{f.axis_y + 16}" text-anchor="middle" font-size="11" '
            f'fill="{INK}">{v:.3g}</text>'
        )
    for c in sorted({0, f.peak // 2, f.peak}):
        y = f.axis_y - c / f.peak * f.plot_h
        parts.append(
            f'<text x="{f.left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{c}</text>'
        )
    parts.append(
        f'<text x="{f.left + f.plot_w / 2}" y="{f.height - 6}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">score (higher = more surely wrong)</text>'
        f'<text transform="translate(14 {f.top + f.plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="12" fill="{INK}">samples</text>'
    )
    return parts


def _threshold_and_legend(frame: _Frame, threshold: float | None) -> list[str]:
    parts = []
    if threshold is not None and np.isfinite(threshold):
        xt = frame.x(threshold)
        anchor = "end" if xt > frame.left + frame.plot_w * 0.5 else "start"
        dx = -5 if anchor == "end" else 5
        parts.append(
            f'<line x1="{xt:.1f}" y1="{frame.top - 4}" x2="{xt:.1f}" y2="{frame.axis_y}" '
            f'stroke="{INK}" stroke-width="2" stroke-dasharray="6 4"/>'
            f'<text x="{xt + dx:.1f}" y="{frame.top + 10}" text-anchor="{anchor}" '
            f'font-size="12" fill="{INK}">threshold {threshold:.3g}</text>'
        )
    x = frame.width - 200
    parts.append(
        f'<rect x="{x}" y="4" width="14" height="12" fill="url(#hatch)" stroke="#8a1c12"/>'
        f'<text x="{x + 19}" y="14" font-size="12" fill="{INK}">flagged</text>'
        f'<rect x="{x + 84}" y="4" width="14" height="12" fill="#9db4d3" stroke="#1d4f91"/>'
        f'<text x="{x + 103}" y="14" font-size="12" fill="{INK}">not flagged</text>'
    )
    return parts


def histogram(
    scores: Sequence[float],
    flagged: Sequence[bool],
    *,
    threshold: float | None,
    title: str,
    bins: int = 40,
) -> str:
    """The score histogram: flagged samples hatched and dark, the rest light, stacked per bin; the
    flag threshold (when the run has one) a dashed line with its value written beside it."""
    s = np.asarray(scores, float)
    f = np.asarray(flagged, bool)
    finite = np.isfinite(s)
    s, f = s[finite], f[finite]
    lo, hi = (float(s.min()), float(s.max())) if s.size else (0.0, 1.0)
    if 0.0 <= lo and hi <= 1.0:  # scores that are probabilities: the whole unit interval
        lo, hi = 0.0, 1.0
    if threshold is not None and np.isfinite(threshold):
        lo, hi = min(lo, threshold), max(hi, threshold)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    n_flag, _ = np.histogram(s[f], edges)
    n_rest, _ = np.histogram(s[~f], edges)
    frame = _Frame(lo, hi, max(1, int((n_flag + n_rest).max())))
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{frame.width}" '
        f'height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" '
        'aria-labelledby="hist-title hist-desc">',
        f'<title id="hist-title">{escape(title)}</title>',
        f'<desc id="hist-desc">{int(f.sum())} flagged and {int((~f).sum())} other samples by '
        "score"
        + (f"; flag threshold {threshold:.4g}" if threshold is not None else "")
        + ".</desc>",
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#8a1c12"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2"/></pattern></defs>',
    ]
    body = _bars(frame, edges, n_rest, n_flag) + _axes(frame)
    return "".join(head + body + _threshold_and_legend(frame, threshold) + ["</svg>"])
