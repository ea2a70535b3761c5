"""The one histogram drawer the threshold report and the console share."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from linkage.charts import Axis, histogram_svg
from linkage.matching.report import histogram_svg as score_histogram_svg
from linkage.service.console.charts import weight_histogram_svg

SVG = "{http://www.w3.org/2000/svg}"
UNIT = Axis(0.0, 1.0, [(0.0, "0"), (0.5, "0.5"), (1.0, "1")], "score")


def draw(counts: list[int], threshold: float, **options: object) -> ElementTree.Element:
    edges = [i / len(counts) for i in range(len(counts) + 1)]
    drawn = histogram_svg(
        edges, counts, threshold, axis=UNIT, title="a <chart>",
        threshold_label="threshold", **options,  # type: ignore[arg-type]
    )  # fmt: skip
    return ElementTree.fromstring(drawn)


def bars(svg: ElementTree.Element) -> list[ElementTree.Element]:
    return svg.findall(f"{SVG}rect")


def threshold_x(svg: ElementTree.Element) -> float:
    (line,) = [
        line for line in svg.findall(f"{SVG}line") if line.get("stroke-dasharray")
    ]
    return float(line.get("x1", "nan"))


def test_bars_at_or_above_the_threshold_are_blue_and_empty_bins_have_none() -> None:
    svg = draw([3, 0, 5, 7], threshold=0.5)
    colours = [bar.get("fill") for bar in bars(svg)]
    assert colours == ["#8c959f", "#0969da", "#0969da"]
    assert svg.findtext(f"{SVG}title") == "a <chart>"


def test_taller_counts_draw_taller_bars_on_either_scale() -> None:
    for log in (False, True):
        heights = [
            float(bar.get("height", 0))
            for bar in bars(draw([1, 10, 100], 0.5, log=log))
        ]
        assert heights == sorted(heights) and heights[0] > 0


def test_a_threshold_outside_the_bars_is_drawn_at_the_nearer_end() -> None:
    assert threshold_x(draw([1, 2], threshold=-3.0)) == threshold_x(draw([1, 2], 0.0))
    assert threshold_x(draw([1, 2], threshold=9.0)) == threshold_x(draw([1, 2], 1.0))


def test_the_report_and_the_console_draw_through_it() -> None:
    scores = ElementTree.fromstring(
        score_histogram_svg([0.0, 0.5, 1.0], [4, 2], 0.7, log=False)
    )
    weights = ElementTree.fromstring(
        weight_histogram_svg([-10.0, 0.0, 10.0], [4, 2], 2.5)
    )
    assert "best-match scores" in (scores.findtext(f"{SVG}title") or "")
    assert "threshold +2.50" in (weights.findtext(f"{SVG}title") or "")
    for svg in (scores, weights):
        assert [bar.get("fill") for bar in bars(svg)] == ["#8c959f", "#8c959f"]
    texts = [text.text for text in weights.findall(f"{SVG}text")]
    assert "match weight" in texts and "-10" in texts and "10" in texts
