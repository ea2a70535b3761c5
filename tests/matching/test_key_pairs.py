"""Records sharing a match key become candidates, in runs, updates and lookups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.default_hardening import default_block
from linkage.evaluation import evaluate
from linkage.formats.clkfile import (
    MATCH_KEYS_VERSION,
    EncodingHeader,
    Encodings,
)
from linkage.formats.schema import load_schema, schema_from_dict
from linkage.matching.candidates import CandidatePairs
from linkage.matching.match_keys import (
    KEY_SCORE,
    MOST_SHARING,
    KeyIndex,
    key_pairs,
    merged,
)
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import Party, PartySet, load_parties
from tests.conftest import (
    CONFIGS,
    RunCli,
    demo_truth,
    encode_demo_agencies,
    encode_febrl4_agencies,
)

FINGERPRINT = "f" * 64
KEYS = [["given_name", "date_of_birth"], ["surname", "date_of_birth"]]


def key_rows(values: list[int | None], *, second: list[int | None] | None = None):
    """Match keys of records: key value ``v`` as 16 bytes, None as none."""
    rows = np.zeros((len(values), 32), dtype=np.uint8)
    for row, value in enumerate(values):
        if value is not None:
            rows[row, :16] = value + 1
    for row, value in enumerate(second or []):
        if value is not None:
            rows[row, 16:] = value + 1
    return rows


def party(name: str, clks: np.ndarray, keys: np.ndarray | None) -> Party:
    header = EncodingHeader(
        schema_fingerprint=FINGERPRINT,
        bit_length=clks.shape[1] * 8,
        key_check="ab" * 16,
        format_version=MATCH_KEYS_VERSION if keys is not None else 1,
        extensions={"match_keys": KEYS} if keys is not None else {},
    )
    pseudonyms = np.random.default_rng(len(name)).integers(
        0, 256, (len(clks), 16), dtype=np.uint8
    )
    encodings = Encodings(header, pseudonyms, clks, Path(name), match_keys=keys)
    return Party(name, encodings)


def random_clks(count: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 128), dtype=np.uint8)


def pairs_of(found: CandidatePairs) -> set[tuple[int, int]]:
    return set(zip(found.left.tolist(), found.right.tolist(), strict=True))


def test_records_sharing_a_key_pair_up_within_and_across_parties() -> None:
    parties = PartySet(
        (
            party("a", random_clks(3, 1), key_rows([7, 7, None])),
            party("b", random_clks(2, 2), key_rows([7, 8], second=[None, 5])),
        )
    )
    both = key_pairs(parties, dedup=True)
    assert pairs_of(both) == {(0, 1), (0, 3), (1, 3)}
    assert (both.score == KEY_SCORE).all()
    across = key_pairs(parties, dedup=False)
    assert pairs_of(across) == {(0, 3), (1, 3)}
    assert pairs_of(key_pairs(parties, dedup=True, among=np.array([1]))) == {
        (0, 1),
        (1, 3),
    }


def test_a_key_value_too_many_records_share_is_no_evidence() -> None:
    crowd = key_rows([3] * (MOST_SHARING + 1) + [4, 4])
    parties = PartySet((party("a", random_clks(len(crowd), 3), crowd),))
    assert pairs_of(key_pairs(parties, dedup=True)) == {
        (MOST_SHARING + 1, MOST_SHARING + 2)
    }


def test_files_without_keys_give_no_pairs() -> None:
    parties = PartySet(
        (
            party("a", random_clks(2, 1), None),
            party("b", random_clks(2, 2), key_rows([1, 1])),
        )
    )
    assert not len(key_pairs(parties, dedup=True).score)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=1, max_size=12),
    split=st.integers(0, 12),
)
def test_key_pairs_are_every_pair_with_an_equal_key(
    values: list[int | None], split: int
) -> None:
    """Against a plain loop over every pair."""
    split = min(split, len(values))
    keys = key_rows(values)
    parts = [p for p in ((0, split), (split, len(values))) if p[1] > p[0]]
    parties = PartySet(
        tuple(
            party(f"p{n}", random_clks(stop - start, n), keys[start:stop])
            for n, (start, stop) in enumerate(parts)
        )
    )
    expected = {
        (i, j)
        for i in range(len(values))
        for j in range(i + 1, len(values))
        if values[i] is not None and values[i] == values[j]
    }
    assert pairs_of(key_pairs(parties, dedup=True)) == expected


def test_merged_keeps_each_pair_once_with_its_best_score() -> None:
    first = CandidatePairs(np.array([2, 0]), np.array([0, 5]), np.array([0.7, 0.6]))
    second = CandidatePairs(np.array([0, 3]), np.array([2, 4]), np.array([1.0, 1.0]))
    both = merged(first, second, records=6)
    assert sorted(
        zip(both.left.tolist(), both.right.tolist(), both.score.tolist(), strict=True)
    ) == [(0, 2, 1.0), (0, 5, 0.6), (3, 4, 1.0)]


@pytest.mark.parametrize("with_keys", [True, False])
def test_a_run_groups_records_that_share_a_key(with_keys: bool) -> None:
    """Two records whose CLKs are unrelated are one person when they share a
    key, and two people when they do not (or the files carry no keys)."""
    clks = random_clks(40, 5)
    keys = key_rows([None] * 38 + [9, 9]) if with_keys else None
    parties = PartySet(
        (
            party("a", clks[:20], None if keys is None else keys[:20]),
            party("b", clks[20:], None if keys is None else keys[20:]),
        )
    )
    result = Matcher(parties, MatchSettings(dedup=True, threshold=0.9)).run()
    linked = result.matches
    assert (len(linked) == 2) == with_keys
    if with_keys:
        assert sorted(linked.party) == ["b", "b"]
        assert set(linked.score) == {KEY_SCORE}
        assert result.stats["pairs sharing a match key"] == 1


def test_the_key_index_finds_a_linked_record_by_key() -> None:
    index = KeyIndex([key_rows([1, None, 2]), key_rows([None, 3], second=[4, 5])])
    queries = key_rows([2, None, 6, None], second=[None, 5, None, None])
    party, row = index.find(queries)
    assert party.tolist() == [0, 1, -1, -1]
    assert row.tolist() == [2, 1, -1, -1]


AGENCIES = ("police", "health", "tax")
SECRET = b"match keys end to end"
VAULT_KEY = bytes(32)  # The test plays every agency.
Encoded = dict[bool, tuple[list[Path], pd.DataFrame]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Encoded:
    """The demo's agencies encoded under the shipped schema, with its match
    key and without (then without its unique key too, which needs one)."""
    encoded = {}
    for keyed in (True, False):
        root = tmp_path_factory.mktemp(f"keys-{keyed}")
        document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
        if not keyed:
            del document["linkage"]["match_keys"]
            del document["linkage"]["unique_keys"]
        paths = encode_demo_agencies(
            root, AGENCIES, schema_from_dict(document), SECRET,
            size=1500, seed=9, vault_key=VAULT_KEY,
        )  # fmt: skip
        encoded[keyed] = (list(paths.values()), demo_truth(root, AGENCIES, VAULT_KEY))
    return encoded


def test_the_shipped_key_finds_links_the_clks_miss(
    demo: Encoded, run_cli: RunCli, tmp_path: Path
) -> None:
    """The same people linked with and without the key, at the automatic
    threshold: the key adds true links and hardly any false ones; the
    operator's command says how many pairs share a key."""
    found = {}
    for keyed, (paths, truth) in demo.items():
        result = Matcher(load_parties(paths), MatchSettings(dedup=True)).run()
        found[keyed] = evaluate(result.matches, truth).all_pairs
        assert (result.stats["pairs sharing a match key"] > 0) is keyed
    with_key, without = found[True], found[False]
    assert with_key.recall is not None and without.recall is not None
    assert with_key.precision is not None and without.precision is not None
    assert with_key.recall >= without.recall + 0.01
    assert with_key.precision >= without.precision - 0.01
    paths, _ = demo[True]
    shown = run_cli("match", *paths, "--dedup", "--out", tmp_path / "m.csv")
    assert shown.exit_code == 0, shown.output
    assert "pairs of records agree exactly on a key's fields" in shown.output


def test_an_identifier_key_finds_febrl_links_the_clks_miss(
    tmp_path: Path, febrl4_frames: tuple[pd.DataFrame, ...]
) -> None:
    """FEBRL4 under the shipped default, with and without soc_sec_id named
    as an identifier (its keys with birth date, surname and postcode): the
    keys add true links (5,000 people: recall 0.986 -> 0.992) and no false
    one."""
    plain = load_schema(CONFIGS / "schemas" / "febrl-linkage.json")
    found = {}
    for identifiers in ((), ("soc_sec_id",)):
        block = default_block(plain, identifiers=identifiers)
        schema = schema_from_dict({**plain.raw, "linkage": block})
        work = tmp_path / ("keyed" if identifiers else "plain")
        work.mkdir()
        paths, truth = encode_febrl4_agencies(work, febrl4_frames, schema, SECRET, 2000)
        result = Matcher(load_parties(paths), MatchSettings()).run()
        found[identifiers] = evaluate(result.matches, truth).all_pairs
    keyed, without = found[("soc_sec_id",)], found[()]
    assert keyed.recall is not None and without.recall is not None
    assert keyed.correct > without.correct
    assert keyed.precision == without.precision == 1.0
