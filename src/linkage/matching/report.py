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
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from types import ModuleType
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from linkage import __version__, charts
from linkage.atomic import private_output
from linkage.errors import LinkageError
from linkage.matching.threshold import ThresholdChoice

__all__ = ["histogram_svg", "write_report"]

_BINS = 100
_DICE_AXIS = charts.Axis(
    0.0, 1.0, [(tick / 10, f"{tick / 10:.1f}") for tick in range(11)], "best Dice score"
)

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
    caption = (
        "The same histogram with counts on a log scale, so a small group "
        "stays visible beside a large one."
        if log
        else "Records by their best Dice score; bars at or above the threshold "
        "are blue."
    )
    svg = histogram_svg(edges.tolist(), counts.tolist(), choice.threshold, log=log)
    return f"<figure>\n{svg}\n<figcaption>{escape(caption)}</figcaption>\n</figure>"


def histogram_svg(
    edges: Sequence[float], counts: Sequence[int], threshold: float, *, log: bool
) -> str:
    """The histogram of best-match scores as an SVG element, threshold drawn.

    The report draws its figures with this, and the web console draws a run's
    from the same numbers (the run's ``histogram_edges`` and
    ``histogram_counts``), so both show the same chart.
    """
    label = "log scale" if log else "linear scale"
    return charts.histogram_svg(
        edges,
        counts,
        threshold,
        axis=_DICE_AXIS,
        title=f"Histogram of best-match scores ({label}), "
        f"threshold {_number(threshold)}",
        threshold_label=f"threshold {_number(threshold)}",
        log=log,
    )


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
