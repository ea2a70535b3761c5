"""SVG charts of the probabilistic model, drawn from a run's stored model
document (:meth:`~linkage.matching.probabilistic.FellegiSunterResult.document`,
the file ``linkage match --model-out`` writes): the match-weight histogram
with the threshold, and Splink-style waterfalls of the closest calls.

Colours are SVG attributes, not styles, so the strict Content-Security-Policy
lets them through; every chart has a title and the page a table of the same
numbers, for screen readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

__all__ = ["waterfall_svg", "weight_histogram_svg"]

_WIDTH: Final = 720
_BLUE: Final = "#0969da"
_GREY: Final = "#6e7781"
_RED: Final = "#cf222e"
_GREEN: Final = "#1a7f37"


def weight_histogram_svg(
    edges: Sequence[float], counts: Sequence[int], threshold_weight: float
) -> str:
    """Candidate pairs by match weight; bars at or above the threshold blue."""
    height, left, right, top, bottom = 260, 56, 16, 24, 40
    if not counts:
        return ""
    low, high = float(edges[0]), float(edges[-1])
    span = (high - low) or 1.0
    tallest = max(max(counts), 1)
    plot_w, plot_h = _WIDTH - left - right, height - top - bottom

    def x(value: float) -> float:
        return left + plot_w * (value - low) / span

    def y(count: float) -> float:
        return top + plot_h * (1 - count / tallest)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        'role="img" class="chart">',
        "<title>Candidate pairs by match weight, threshold "
        f"{threshold_weight:+.2f}</title>",
    ]
    for start, end, count in zip(edges[:-1], edges[1:], counts, strict=True):
        if count <= 0:
            continue
        colour = _BLUE if start >= threshold_weight else _GREY
        parts.append(
            f'<rect x="{x(start):.1f}" y="{y(count):.1f}" '
            f'width="{max(x(end) - x(start) - 1, 1):.1f}" '
            f'height="{y(0) - y(count):.1f}" fill="{colour}"/>'
        )
    base = y(0)
    parts.append(
        f'<line x1="{left}" y1="{base:.1f}" x2="{_WIDTH - right}" y2="{base:.1f}" '
        'stroke="#1f2328"/>'
    )
    for value in range(int(low), int(high) + 1, max(1, int(span // 10) or 1)):
        parts.append(
            f'<text x="{x(value):.1f}" y="{base + 16:.1f}" text-anchor="middle" '
            f'font-size="12">{value}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        'font-size="12">match weight</text>'
    )
    parts.append(
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="12">'
        f"{tallest:,}</text>"
    )
    at = x(min(max(threshold_weight, low), high))
    parts.append(
        f'<line x1="{at:.1f}" y1="{top - 8}" x2="{at:.1f}" y2="{base:.1f}" '
        f'stroke="{_RED}" stroke-width="2" stroke-dasharray="6 3"/>'
    )
    parts.append(
        f'<text x="{at + 4:.1f}" y="{top - 10}" fill="{_RED}" font-size="12">'
        f"threshold {threshold_weight:+.2f}</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts)


def waterfall_svg(call: Mapping[str, Any]) -> str:
    """One pair's waterfall: the prior, each field's weight, the total."""
    steps: list[tuple[str, float, float]] = [("prior", 0.0, call["prior_weight"])]
    running = float(call["prior_weight"])
    for step in call["steps"]:
        steps.append((str(step["field"]), running, float(step["cumulative"])))
        running = float(step["cumulative"])
    steps.append(("match weight", 0.0, float(call["weight"])))
    row, left, right, top = 26, 150, 70, 10
    height = top * 2 + row * len(steps)
    values = [v for _, a, b in steps for v in (a, b)] + [0.0]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    plot_w = _WIDTH - left - right

    def x(value: float) -> float:
        return left + plot_w * (value - low) / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        'role="img" class="chart">',
        f"<title>Waterfall of pair {int(call['pair'])}: match weight "
        f"{float(call['weight']):+.2f}, probability "
        f"{float(call['probability']):.3f}</title>",
        f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{height - top}" '
        'stroke="#1f2328"/>',
    ]
    for index, (name, start, end) in enumerate(steps):
        y = top + index * row
        first, last = sorted((start, end))
        total = index in (0, len(steps) - 1)
        colour = _BLUE if total else (_GREEN if end >= start else _RED)
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="12">'
            f"{escape(name)}</text>"
        )
        parts.append(
            f'<rect x="{x(first):.1f}" y="{y + 4}" '
            f'width="{max(x(last) - x(first), 1):.1f}" height="{row - 8}" '
            f'fill="{colour}"/>'
        )
        change = end if total else end - start
        parts.append(
            f'<text x="{x(last) + 4:.1f}" y="{y + 17}" font-size="12">'
            f"{change:+.2f}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
