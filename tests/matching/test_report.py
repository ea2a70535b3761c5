"""Tests for the threshold report (HTML page, or PNG when matplotlib is there)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from linkage.errors import LinkageError
from linkage.matching import report
from linkage.matching.report import write_report
from linkage.matching.threshold import choose_threshold, fixed_threshold


@pytest.fixture
def best() -> NDArray[np.float64]:
    """500 matches near 0.91 beside 9,500 non-matches near 0.6, and 20 zeros."""
    rng = np.random.default_rng(3)
    return np.concatenate([rng.beta(60, 6, 500), rng.beta(60, 40, 9_500), np.zeros(20)])


def test_html_report_shows_threshold_explanation_and_histograms(
    tmp_path: Path, best: NDArray[np.float64]
) -> None:
    """The page names the threshold, quotes the explanation and draws two SVGs."""
    choice = choose_threshold(best)
    path = tmp_path / "report.html"
    write_report(path, best=best, choice=choice, summary={"records police": 10_020})
    page = path.read_text(encoding="utf-8")
    threshold = f"{choice.threshold:g}"
    assert page.startswith("<!DOCTYPE html>")
    assert f"<title>Linkage report: threshold {threshold}</title>" in page
    assert f"<strong>{threshold}</strong>" in page
    assert choice.explanation in page
    assert page.count("<svg") == 2
    assert page.count(f"threshold {threshold}</text>") == 2
    assert "log scale" in page
    assert '<th scope="row">records police</th><td>10,020</td>' in page


def test_html_report_is_self_contained(
    tmp_path: Path, best: NDArray[np.float64]
) -> None:
    """No scripts and nothing fetched: no <script>, no src= or href= links."""
    path = tmp_path / "report.html"
    write_report(path, best=best, choice=choose_threshold(best), summary={})
    page = path.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "src=" not in page
    assert "href=" not in page
    assert "@import" not in page


def test_text_is_escaped(tmp_path: Path, best: NDArray[np.float64]) -> None:
    """Summary keys and values are HTML-escaped, never injected."""
    path = tmp_path / "report.html"
    summary = {"<b>file</b>": "a&b <script>alert(1)</script>.lnk"}
    write_report(path, best=best, choice=choose_threshold(best), summary=summary)
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;b&gt;file&lt;/b&gt;" in page
    assert "a&amp;b &lt;script&gt;alert(1)&lt;/script&gt;.lnk" in page


def test_summary_values_are_formatted(
    tmp_path: Path, best: NDArray[np.float64]
) -> None:
    """Counts get thousands separators and seconds a few digits, in order."""
    path = tmp_path / "report.html"
    summary = {"candidates": 1_234_567, "runtime (s)": 12.34567, "groups": 4_000.0}
    write_report(path, best=best, choice=choose_threshold(best), summary=summary)
    page = path.read_text(encoding="utf-8")
    assert "<td>1,234,567</td>" in page
    assert "<td>12.346</td>" in page
    assert "<td>4,000</td>" in page
    rows = [page.index(f">{key}</th>") for key in summary]
    assert rows == sorted(rows)


def test_fixed_threshold_report_draws_its_own_histogram(
    tmp_path: Path, best: NDArray[np.float64]
) -> None:
    """A fixed choice keeps no histogram; the report bins the scores itself."""
    path = tmp_path / "report.html"
    write_report(path, best=best, choice=fixed_threshold(0.85), summary={})
    page = path.read_text(encoding="utf-8")
    assert "threshold 0.85</text>" in page
    assert page.count("<rect") > 20
    above = int(np.count_nonzero(best >= 0.85))
    assert f"at or above the threshold</th><td>{above:,}</td>" in page
    assert "Records (best-match scores)</th><td>10,020</td>" in page


def test_write_is_atomic_and_leaves_no_temporary_file(
    tmp_path: Path, best: NDArray[np.float64]
) -> None:
    """Only the report is left in the directory, and it replaces an old one."""
    path = tmp_path / "report.html"
    path.write_text("old")
    write_report(path, best=best, choice=choose_threshold(best), summary={})
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_failed_write_leaves_old_report_and_no_temporary_file(
    tmp_path: Path, best: NDArray[np.float64], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash while rendering leaves the old file as it was."""
    path = tmp_path / "report.html"
    path.write_text("old")

    def explode(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(report, "_page", explode)
    with pytest.raises(RuntimeError):
        write_report(path, best=best, choice=choose_threshold(best), summary={})
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.read_text() == "old"


def test_png_without_matplotlib_says_what_to_do(
    tmp_path: Path, best: NDArray[np.float64], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking for .png without matplotlib raises LinkageError naming the fixes."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = tmp_path / "report.png"
    with pytest.raises(LinkageError, match=r"needs matplotlib.*\.html instead"):
        write_report(path, best=best, choice=choose_threshold(best), summary={})
    assert list(tmp_path.iterdir()) == []


def test_png_with_matplotlib(tmp_path: Path, best: NDArray[np.float64]) -> None:
    """With matplotlib installed, a .png path gives a PNG file."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "report.png"
    write_report(path, best=best, choice=choose_threshold(best), summary={})
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_other_suffix_is_refused(tmp_path: Path, best: NDArray[np.float64]) -> None:
    """A name ending in neither .html nor .png is refused, saying which to use."""
    with pytest.raises(LinkageError, match=r"must end in \.html .* or \.png"):
        write_report(
            tmp_path / "report.pdf",
            best=best,
            choice=choose_threshold(best),
            summary={},
        )
