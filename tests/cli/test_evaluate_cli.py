"""Tests for `linkage evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage.cli import main
from linkage.cli.evaluate import evaluate

MATCHES = "match_id,party,pseudonym,score\ng1,A,a1,0.93\ng1,B,b1,0.93\n"
MATCHES += "g2,A,a2,0.88\ng2,B,b3,0.88\n"
TRUTH = "party,id,entity\nA,a1,p1\nB,b1,p1\nA,a2,p2\nB,b2,p2\nA,a3,p3\nB,b3,p3\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A matches file with one right and one wrong pair, and its truth."""
    matches, truth = tmp_path / "matches.csv", tmp_path / "truth.csv"
    matches.write_text(MATCHES)
    truth.write_text(TRUTH)
    return matches, truth


def _run(matches: Path, truth: Path, *extra: str) -> tuple[int, str]:
    args = ["--matches", str(matches), "--truth", str(truth), *extra]
    result = CliRunner().invoke(evaluate, args)
    return result.exit_code, result.output


def test_prints_the_figures(files: tuple[Path, Path]) -> None:
    """The table shows P 0.5, R 0.333, F1 0.4 for pairs across parties."""
    code, output = _run(*files)
    assert code == 0, output
    lines = output.splitlines()
    header = "Pairs of records precision recall F1 predicted true correct"
    assert lines[0].split() == header.split()
    across = "across parties 0.500 0.333 0.400 2 3 1"
    assert lines[1].split() == across.split()
    assert "Cluster precision 0.500, cluster recall 0.333." in output


def test_json(files: tuple[Path, Path]) -> None:
    """--json prints the same figures as one JSON object."""
    code, output = _run(*files, "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["pairs"]["across_parties"]["precision"] == 0.5
    assert data["pairs"]["within_party"]["precision"] is None
    assert data["clusters"] == {
        "groups": 2,
        "single_record_groups": 0,
        "true_entities": 3,
        "exact_groups": 1,
        "precision": 0.5,
        "recall": pytest.approx(1 / 3),
    }


def test_missing_column_names_file_and_columns(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    """A truth file without 'entity' fails naming the file and the columns."""
    matches, _ = files
    truth = tmp_path / "bad-truth.csv"
    truth.write_text("party,id,person\nA,a1,p1\n")
    code, output = _run(matches, truth)
    assert code == 1
    assert f"Error: {truth}: missing column(s) entity; expected the columns " in output
    assert "party, id, entity (found: party, id, person)" in output


def test_empty_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    """An empty matches file fails saying which columns it should have."""
    _, truth = files
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, output = _run(empty, truth)
    assert code == 1
    assert (
        f"Error: {empty} is empty; expected a CSV file with the columns "
        "match_id, party, pseudonym"
    ) in output


def test_truth_with_header_only(files: tuple[Path, Path], tmp_path: Path) -> None:
    """A truth file with no rows is refused; it could not score anything."""
    matches, _ = files
    truth = tmp_path / "truth-header.csv"
    truth.write_text("party,id,entity\n")
    code, output = _run(matches, truth)
    assert code == 1
    assert f"{truth} has a header but no rows" in output


def test_matches_with_header_only(files: tuple[Path, Path], tmp_path: Path) -> None:
    """No match groups at all is allowed: recall 0, precision n/a."""
    _, truth = files
    matches = tmp_path / "no-matches.csv"
    matches.write_text("match_id,party,pseudonym,score\n")
    code, output = _run(matches, truth)
    assert code == 0, output
    assert output.splitlines()[1].split()[2:5] == ["n/a", "0.000", "n/a"]


def test_not_utf8(files: tuple[Path, Path], tmp_path: Path) -> None:
    """A file in another text encoding is refused with the fix."""
    _, truth = files
    latin = tmp_path / "latin.csv"
    latin.write_bytes("match_id,party,pseudonym\ng1,Å,a1\n".encode("latin-1"))
    code, output = _run(latin, truth)
    assert code == 1
    assert f"{latin} is not UTF-8 text" in output
    assert "save it as UTF-8 CSV" in output


def test_records_missing_from_truth(files: tuple[Path, Path], tmp_path: Path) -> None:
    """A matched record the truth lacks: the error names it and the fix."""
    _, truth = files
    matches = tmp_path / "m.csv"
    matches.write_text("match_id,party,pseudonym\ng1,A,a1\ng1,C,zz\n")
    code, output = _run(matches, truth)
    assert code == 1
    assert f"{matches}, row 2: party 'C', pseudonym 'zz' is not in {truth}" in output
    assert "The truth file must cover every party's records" in output


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A path that does not exist is caught by click before anything runs."""
    code, output = _run(tmp_path / "nope.csv", tmp_path / "nope2.csv")
    assert code == 2
    assert "does not exist" in output


def test_registered_in_main(files: tuple[Path, Path]) -> None:
    """`linkage evaluate` runs through the main group."""
    matches, truth = files
    args = ["evaluate", "--matches", str(matches), "--truth", str(truth)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "across parties" in result.output
