"""Dedup keeps candidates a little below the threshold, but never the bulk of
unrelated records that diffusion piles up near a Dice of 0.5."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from linkage.errors import InputError
from linkage.formats.schema import load_schema
from linkage.matching.clk.similarity import dice
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from tests.conftest import CONFIGS, RunCli, encode_demo_agencies

SCHEMA = CONFIGS / "schemas" / "demo.json"  # The shipped default: diffusion.


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    paths = encode_demo_agencies(
        tmp_path_factory.mktemp("dedup-floor"),
        ("health", "police"),
        load_schema(SCHEMA),
        b"dedup-floor-test-secret-0123456789",
        size=4000,
        seed=8,
    )
    return list(paths.values())


def test_dedup_candidates_stay_out_of_the_unrelated_bulk(encoded: list[Path]) -> None:
    """At a threshold of 0.62 (what the automatic choice picks on the demo) the
    old floor, 0.1 below it, reached a large share of all pairs of diffused
    encodings and hit the candidate cap; random pairs now set the floor."""
    parties = load_parties(encoded)
    records = parties.total
    settings = MatchSettings(
        threshold=0.62,
        dedup=True,
        blocking="none",
        max_candidates=20 * records,  # type: ignore[arg-type]
    )
    result = Matcher(parties, settings).run()
    assert 0 < int(result.stats["candidate pairs"]) <= 20 * records
    assert int(result.stats["groups"]) > 0


def _near_copies(pairs: int, flipped: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 1024-bit CLKs, ``pairs`` of them with a copy that has
    ``flipped`` bits flipped (Dice about 0.85 for 150), among twenty times as
    many unrelated ones (so random pairs are nearly all unrelated): the
    originals and the copies."""
    rng = np.random.default_rng(21)
    bits = rng.random((21 * pairs, 1024)) < 0.5
    copies = bits[:pairs].copy()
    for row in copies:
        row[rng.choice(1024, flipped, replace=False)] ^= True
    return np.packbits(bits, axis=1), np.packbits(copies, axis=1)


def _clkhash_json(path: Path, *clks: np.ndarray) -> Path:
    rows = np.concatenate(clks)
    document = {"clks": [base64.b64encode(clk.tobytes()).decode() for clk in rows]}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_stop_at_the_dedup_floor_names_the_threshold_given(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """Issue 21: `--threshold 0.9 --dedup` stopped saying that too many pairs
    "reach the threshold 0.800", the floor below 0.9 that dedup gathers at.
    The pairs here all lie between the two, so only the floor can stop it."""
    encodings = _clkhash_json(tmp_path / "clks.json", *_near_copies(100, 150))
    result = run_cli(
        "match", encodings, "--dedup", "--threshold", "0.9", "--blocking", "none",
        "--max-candidates", "50", "--out", tmp_path / "groups.csv",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "More than 50 pairs of records reach a Dice of 0.800 (" in result.output
    assert "for the threshold 0.900 you gave" in result.output
    assert "reach the threshold" not in result.output
    assert "Raise the threshold: the floor rises with it" in result.output


def test_the_same_pairs_stop_a_link_at_the_threshold_itself(tmp_path: Path) -> None:
    """Linking without dedup gathers at the threshold, and the message names it."""
    originals, copies = _near_copies(100, 150)
    paths = [
        _clkhash_json(tmp_path / "a.json", originals),
        _clkhash_json(tmp_path / "b.json", copies),
    ]
    settings = MatchSettings(
        threshold=0.8,
        blocking="none",
        max_candidates=50,  # type: ignore[arg-type]
    )
    with pytest.raises(InputError, match=r"reach the threshold 0\.80\d: too many"):
        Matcher(load_parties(paths), settings).run()


def test_dedup_counts_a_missing_pair_as_a_typical_unrelated_one(
    encoded: list[Path],
) -> None:
    """Diffusion puts unrelated records near a Dice of 0.5, so average
    linkage counts a pair that is not a candidate as the median random
    pair, not 0, and the run's parameters keep it for incremental updates;
    without dedup no average is taken."""
    parties = load_parties(encoded)
    dedup = Matcher(parties, MatchSettings(dedup=True, blocking="none")).run()
    assert dedup.parameters is not None
    clks = np.concatenate([party.encodings.clks for party in parties.parties])
    rng = np.random.default_rng(0)
    left, right = rng.integers(0, len(clks), (2, 20_000))
    keep = left != right
    random_median = float(np.median(dice(clks[left[keep]], clks[right[keep]])))
    assert dedup.parameters.missing == pytest.approx(random_median, abs=0.01)
    assert 0.4 < dedup.parameters.missing < dedup.parameters.floor
    linked = Matcher(parties, MatchSettings(blocking="none")).run()
    assert linked.parameters is not None and linked.parameters.missing == 0.0
