"""The threshold report: what the chosen threshold rests on, on one page.

The page is self-contained HTML (inline CSS and SVG, no scripts, nothing
fetched), so it opens from an e-mail or an air-gapped share. It shows the
explanation, the histogram of best-match scores with the threshold drawn in,
the same histogram on a log scale (so a small group of matches stays visible
beside a large group of non-matches), the numbers behind the choice and the
run's summary. A ``.png`` path gives a picture instead, if matplotlib is
installed.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from linkage import __version__
from linkage.atomic import private_output
from linkage.errors import LinkageError
from linkage.matching.threshold import ThresholdChoice

__all__ = ["histogram_svg", "write_report"]

_Scale = Callable[[float], float]

_BINS = 100
_WIDTH, _HEIGHT = 720, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 40

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 48rem;
       color: #1f2328; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
p.explanation { font-size: 1.05rem; background: #f6f8fa; padding: 0.75rem 1rem;
                border-left: 4px solid #0969da; }
figure { margin: 1rem 0; }
figcaption { font-size: 0.9rem; color: #59636e; }
svg { max-width: 100%; height: auto; }
svg text { font-size: 12px; fill: #1f2328; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 0.25rem 1.25rem 0.25rem 0; vertical-align: top;
         border-bottom: 1px solid #d1d9e0; }
footer { margin-top: 2rem; font-size: 0.85rem; color: #59636e; }
"""


def write_report(
    path: Path,
    *,
    best: NDArray[np.float64],
    choice: ThresholdChoice,
    summary: Mapping[str, str | int | float],
) -> None:
    """Write the threshold report to ``path``, whole or not at all.

    The file is written next to ``path`` under a temporary name and renamed
    onto it when complete (readable by its owner only, like every output).

    Args:
        path: Where to write; ``.html`` (or ``.htm``) for the page, ``.png``
            for a picture of the histograms.
        best: Each record's best Dice score, as given to the threshold choice.
        choice: The threshold and the numbers it rests on.
        summary: Facts about the run to list (files, records per party,
            candidates, groups, runtime, ...), in the order given.

    Raises:
        LinkageError: ``path`` ends in neither ``.html`` nor ``.png``, or is a
            ``.png`` and matplotlib is not installed.
        OSError: ``path``'s directory cannot be written.
    """
    suffix = path.suffix.lower()
    edges, counts = _histogram(best, choice)
    if suffix == ".png":
        pyplot = _pyplot(path)
        with private_output(path) as out:
            _write_png(out, pyplot, edges, counts, choice)
    elif suffix in (".html", ".htm"):
        with private_output(path) as out:
            above = int(np.count_nonzero(np.asarray(best) >= choice.threshold))
            page = _page(edges, counts, choice, summary, above=above)
            out.write(page.encode("utf-8"))
    else:
        raise LinkageError(
            f"cannot write the report {path}: the name must end in .html "
            f"(a web page) or .png (a picture), not {path.suffix or 'nothing'!r}"
        )


def _histogram(
    best: NDArray[np.float64], choice: ThresholdChoice
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The choice's own histogram, or one of ``best`` if it kept none."""
    if choice.histogram_counts:
        return (
            np.asarray(choice.histogram_edges, dtype=np.float64),
            np.asarray(choice.histogram_counts, dtype=np.int64),
        )
    scores = np.asarray(best, dtype=np.float64)
    counts, edges = np.histogram(
        scores[np.isfinite(scores)], bins=_BINS, range=(0.0, 1.0)
    )
    return edges, counts.astype(np.int64)


# The HTML page ---------------------------------------------------------------


def _page(
    edges: NDArray[np.float64],
    counts: NDArray[np.int64],
    choice: ThresholdChoice,
    summary: Mapping[str, str | int | float],
    *,
    above: int,
) -> str:
    threshold = _number(choice.threshold)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Linkage report: threshold {threshold}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Linkage report</h1>",
        f"<p>Dice threshold: <strong>{threshold}</strong> ({escape(choice.method)})"
        "</p>",
        f'<p class="explanation">{escape(choice.explanation)}</p>',
        "<h2>Best-match scores</h2>",
        _figure(edges, counts, choice, log=False),
        _figure(edges, counts, choice, log=True),
        "<h2>What the threshold rests on</h2>",
        _table(_choice_rows(choice, records=int(counts.sum()), above=above)),
        "<h2>Run summary</h2>",
        _table([(key, _value(value)) for key, value in summary.items()]),
        f"<footer>Written by linkage {escape(__version__)}.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _choice_rows(
    choice: ThresholdChoice, *, records: int, above: int
) -> list[tuple[str, str]]:
    rows = [
        ("Threshold", _number(choice.threshold)),
        ("Method", choice.method),
        ("Records (best-match scores)", _value(records)),
        ("Records at or above the threshold", _value(above)),
    ]
    optional: list[tuple[str, float | int | None]] = [
        ("Estimated matches (two-group fit)", choice.estimated_matches),
        ("Valley between the peaks", choice.valley_threshold),
        ("Two-group fit: posterior 0.5", choice.mixture_threshold),
        ("Otsu's threshold", choice.otsu_threshold),
    ]
    rows += [(name, _value(value)) for name, value in optional if value is not None]
    if len(choice.modes) == 2:
        low, high = choice.modes
        rows.append(("Peaks (non-matches, matches)", f"{low:g}, {high:g}"))
    return rows


def _table(rows: Sequence[tuple[str, str]]) -> str:
    if not rows:
        return "<p>Nothing to show.</p>"
    body = "\n".join(
        f'<tr><th scope="row">{escape(name)}</th><td>{escape(value)}</td></tr>'
        for name, value in rows
    )
    return f"<table>\n{body}\n</table>"


def _figure(
    edges: NDArray[np.float64],
    counts: NDArray[np.int64],
    choice: ThresholdChoice,
    *,
    log: bool,
) -> str:
    scale = "log scale" if log else "linear scale"
    caption = (
        "The same histogram with counts on a log scale, so a small group "
        "stays visible beside a large one."
        if log
        else "Records by their best Dice score; bars at or above the threshold "
        "are blue."
    )
    svg = _svg(edges, counts, choice.threshold, log=log, label=scale)
    return f"<figure>\n{svg}\n<figcaption>{escape(caption)}</figcaption>\n</figure>"


def histogram_svg(
    edges: Sequence[float], counts: Sequence[int], threshold: float, *, log: bool
) -> str:
    """The histogram of best-match scores as an SVG element, threshold drawn.

    The report draws its figures with this, and the web console draws a run's
    from the same numbers (the run's ``histogram_edges`` and
    ``histogram_counts``), so both show the same chart. Colours are SVG
    attributes, not styles, so a page with a strict Content-Security-Policy
    shows it.
    """
    return _svg(
        np.asarray(edges, dtype=np.float64),
        np.asarray(counts, dtype=np.int64),
        threshold,
        log=log,
        label="log scale" if log else "linear scale",
    )


def _svg(
    edges: NDArray[np.float64],
    counts: NDArray[np.int64],
    threshold: float,
    *,
    log: bool,
    label: str,
) -> str:
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    heights = np.log10(counts + 1.0) if log else counts.astype(np.float64)
    top = _axis_top(float(heights.max(initial=0.0)), log=log)

    def x(score: float) -> float:
        return _LEFT + plot_w * score

    def y(height: float) -> float:
        return _TOP + plot_h * (1.0 - height / top)

    title = f"Histogram of best-match scores ({label}), threshold {_number(threshold)}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for left, right, height in zip(edges[:-1], edges[1:], heights, strict=True):
        if height <= 0:
            continue
        colour = "#0969da" if left >= threshold else "#8c959f"
        parts.append(
            f'<rect x="{x(left):.2f}" y="{y(height):.2f}" '
            f'width="{max(x(right) - x(left) - 0.5, 0.5):.2f}" '
            f'height="{y(0.0) - y(height):.2f}" fill="{colour}"/>'
        )
    parts += _axes(x, y, top, log=log)
    parts += _threshold_line(x(threshold), threshold)
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


def _axes(x: _Scale, y: _Scale, top: float, *, log: bool) -> list[str]:
    baseline = y(0.0)
    parts = [
        f'<line x1="{x(0.0):.2f}" y1="{baseline:.2f}" x2="{x(1.0):.2f}" '
        f'y2="{baseline:.2f}" stroke="#1f2328"/>',
        f'<line x1="{x(0.0):.2f}" y1="{y(top):.2f}" x2="{x(0.0):.2f}" '
        f'y2="{baseline:.2f}" stroke="#1f2328"/>',
    ]
    for tick in range(11):
        score = tick / 10
        parts.append(
            f'<text x="{x(score):.2f}" y="{baseline + 16:.2f}" '
            f'text-anchor="middle">{score:.1f}</text>'
        )
    parts.append(
        f'<text x="{x(0.5):.2f}" y="{baseline + 34:.2f}" text-anchor="middle">'
        "best Dice score</text>"
    )
    for value, text in _count_ticks(top, log=log):
        parts.append(
            f'<text x="{x(0.0) - 6:.2f}" y="{y(value) + 4:.2f}" '
            f'text-anchor="end">{escape(text)}</text>'
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


def _threshold_line(at: float, threshold: float) -> list[str]:
    anchor = "end" if threshold > 0.8 else "start"
    shift = -4 if anchor == "end" else 4
    return [
        f'<line x1="{at:.2f}" y1="{_TOP - 6}" x2="{at:.2f}" '
        f'y2="{_HEIGHT - _BOTTOM}" stroke="#cf222e" stroke-width="2" '
        'stroke-dasharray="6 3"/>',
        f'<text x="{at + shift:.2f}" y="{_TOP - 10}" text-anchor="{anchor}" '
        f'fill="#cf222e">threshold {escape(_number(threshold))}</text>',
    ]


# The picture -----------------------------------------------------------------


def _pyplot(path: Path) -> ModuleType:
    """matplotlib's pyplot on a file-only backend, or a clear error."""
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise LinkageError(
            f"cannot write the report {path}: a .png report needs matplotlib, "
            "which is not installed. Write the report as .html instead, or "
            "install matplotlib (pip install matplotlib)."
        ) from None
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def _write_png(
    out: BinaryIO,
    pyplot: ModuleType,
    edges: NDArray[np.float64],
    counts: NDArray[np.int64],
    choice: ThresholdChoice,
) -> None:
    figure, axes = pyplot.subplots(2, 1, figsize=(8, 6), sharex=True)
    for ax, log in zip(axes, (False, True), strict=True):
        ax.stairs(counts, edges, fill=True, color="#8c959f")
        ax.axvline(
            choice.threshold,
            color="#cf222e",
            linestyle="--",
            label=f"threshold {_number(choice.threshold)}",
        )
        ax.set_ylabel("records (log scale)" if log else "records")
        if log:
            ax.set_yscale("symlog", linthresh=1)
    axes[0].set_title(f"Best-match scores; threshold {_number(choice.threshold)}")
    axes[0].legend(loc="upper left")
    axes[1].set_xlabel("best Dice score")
    figure.tight_layout()
    figure.savefig(out, format="png", dpi=120)
    pyplot.close(figure)


# Formatting ------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:g}"


def _value(value: str | float | None) -> str:
    """A summary value as a person reads it: 12,345 and 0.768, not 12345.0."""
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        return str(value)
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer()):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}" if abs(value) < 0.01 else _number(round(value, 3))
