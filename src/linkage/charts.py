"""Histograms with a threshold, as SVG, drawn alike wherever they appear.

The threshold report (best-match scores) and the web console (best-match
scores, and the probabilistic model's match weights) draw their histograms
here: bars at or above the threshold blue, the rest grey, the threshold a
dashed red line. Colours are SVG attributes, not styles, so a page with a
strict Content-Security-Policy shows them; every chart has a title for
screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

import numpy as np

__all__ = ["Axis", "histogram_svg"]

_WIDTH: Final = 720
_HEIGHT: Final = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 40
_ABOVE: Final = "#0969da"
_BELOW: Final = "#8c959f"
_THRESHOLD: Final = "#cf222e"
_INK: Final = "#1f2328"

_Scale = Callable[[float], float]


@dataclass(frozen=True)
class Axis:
    """The horizontal axis: its range, labelled ticks and name."""

    low: float
    high: float
    ticks: Sequence[tuple[float, str]]
    label: str


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[int],
    threshold: float,
    *,
    axis: Axis,
    title: str,
    threshold_label: str,
    log: bool = False,
) -> str:
    """An ``<svg>`` histogram of ``counts`` between ``edges``, with the
    threshold drawn; with ``log``, bar heights are ``log10(count + 1)``."""
    counted = np.asarray(counts, dtype=np.float64)
    heights = np.log10(counted + 1.0) if log else counted
    top = _axis_top(float(heights.max(initial=0.0)), log=log)
    span = (axis.high - axis.low) or 1.0
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(value: float) -> float:
        return _LEFT + plot_w * (value - axis.low) / span

    def y(height: float) -> float:
        return _TOP + plot_h * (1.0 - height / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for left, right, height in zip(edges[:-1], edges[1:], heights, strict=True):
        if height <= 0:
            continue
        colour = _ABOVE if left >= threshold else _BELOW
        parts.append(
            f'<rect x="{x(left):.2f}" y="{y(height):.2f}" '
            f'width="{max(x(right) - x(left) - 0.5, 0.5):.2f}" '
            f'height="{y(0.0) - y(height):.2f}" fill="{colour}"/>'
        )
    parts += _axes(x, y, axis, top, log=log)
    # A threshold outside the bars' range is drawn at the nearer end.
    shown = min(max(threshold, axis.low), axis.high)
    right_side = (shown - axis.low) / span > 0.8
    parts += _threshold_line(x(shown), threshold_label, right_side=right_side)
    parts.append("</svg>")
    return "\n".join(parts)


def _axis_top(highest: float, *, log: bool) -> float:
    """The top of the count axis: a round number at or above the highest bar."""
    if highest <= 0:
        return 1.0
    if log:
        # Heights are log10(count + 1): end on a labelled power of ten.
        return math.log10(10 ** math.ceil(highest) + 1)
    step = _nice_step(highest / 4)
    return step * math.ceil(highest / step)


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= raw:
            return factor * power
    return 10.0 * power


def _axes(x: _Scale, y: _Scale, axis: Axis, top: float, *, log: bool) -> list[str]:
    baseline = y(0.0)
    parts = [
        f'<line x1="{x(axis.low):.2f}" y1="{baseline:.2f}" x2="{x(axis.high):.2f}" '
        f'y2="{baseline:.2f}" stroke="{_INK}"/>',
        f'<line x1="{x(axis.low):.2f}" y1="{y(top):.2f}" x2="{x(axis.low):.2f}" '
        f'y2="{baseline:.2f}" stroke="{_INK}"/>',
    ]
    for value, text in axis.ticks:
        parts.append(
            f'<text x="{x(value):.2f}" y="{baseline + 16:.2f}" '
            f'text-anchor="middle" font-size="12">{escape(text)}</text>'
        )
    middle = (axis.low + axis.high) / 2
    parts.append(
        f'<text x="{x(middle):.2f}" y="{baseline + 34:.2f}" text-anchor="middle" '
        f'font-size="12">{escape(axis.label)}</text>'
    )
    for value, text in _count_ticks(top, log=log):
        parts.append(
            f'<text x="{x(axis.low) - 6:.2f}" y="{y(value) + 4:.2f}" '
            f'text-anchor="end" font-size="12">{escape(text)}</text>'
        )
    return parts


def _count_ticks(top: float, *, log: bool) -> list[tuple[float, str]]:
    """Positions and labels of the count axis's ticks."""
    if log:
        return [
            (math.log10(10**power + 1), f"{10**power:,}")
            for power in range(math.floor(top) + 1)
        ]
    step = _nice_step(top / 4)
    return [(step * i, f"{step * i:,.0f}") for i in range(int(top / step) + 1)]


def _threshold_line(at: float, label: str, *, right_side: bool) -> list[str]:
    anchor, shift = ("end", -4) if right_side else ("start", 4)
    return [
        f'<line x1="{at:.2f}" y1="{_TOP - 6}" x2="{at:.2f}" '
        f'y2="{_HEIGHT - _BOTTOM}" stroke="{_THRESHOLD}" stroke-width="2" '
        'stroke-dasharray="6 3"/>',
        f'<text x="{at + shift:.2f}" y="{_TOP - 10}" text-anchor="{anchor}" '
        f'fill="{_THRESHOLD}" font-size="12">{escape(label)}</text>',
    ]
