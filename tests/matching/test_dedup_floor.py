"""Dedup keeps candidates a little below the threshold, but never the bulk of
unrelated records that diffusion piles up near a Dice of 0.5."""

from __future__ import annotations

from pathlib import Path

import pytest

from linkage.formats.schema import load_schema
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from tests.conftest import CONFIGS, encode_demo_agencies

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
