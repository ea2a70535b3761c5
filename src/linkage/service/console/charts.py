"""SVG charts of the probabilistic model, drawn from a run's stored model
document (:meth:`~linkage.matching.probabilistic.FellegiSunterResult.document`,
the file ``linkage match --model-out`` writes): the match-weight histogram
with the threshold (drawn as every histogram is, :mod:`linkage.charts`), and
Splink-style waterfalls of the closest calls.

Colours are SVG attributes, not styles, so the strict Content-Security-Policy
lets them through; every chart has a title and the page a table of the same
numbers, for screen readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

from linkage.charts import Axis, histogram_svg

__all__ = ["waterfall_svg", "weight_histogram_svg"]

_WIDTH: Final = 720
_BLUE: Final = "#0969da"
_RED: Final = "#cf222e"
_GREEN: Final = "#1a7f37"


def weight_histogram_svg(
    edges: Sequence[float], counts: Sequence[int], threshold_weight: float
) -> str:
    """Candidate pairs by match weight; bars at or above the threshold blue."""
    if not counts:
        return ""
    low, high = float(edges[0]), float(edges[-1])
    step = max(1, int((high - low) // 10))
    values = range(int(low), int(high) + 1, step)
    ticks = [(float(value), str(value)) for value in values]
    return histogram_svg(
        edges,
        counts,
        threshold_weight,
        axis=Axis(low, high, ticks, "match weight"),
        title=f"Candidate pairs by match weight, threshold {threshold_weight:+.2f}",
        threshold_label=f"threshold {threshold_weight:+.2f}",
    )


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
