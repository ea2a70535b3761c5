"""Where unique keys count (linkage.matching.unique_keys): between agencies
that share no match key, where the linkage finds them reliable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkage.errors import InputError
from linkage.formats.extension import beside_a_match_key
from linkage.formats.schema import schema_from_dict
from linkage.matching import unique_keys
from linkage.matching.candidates import CandidatePairs
from linkage.matching.match_keys import (
    KeyIndex,
    key_columns,
    pairs_sharing_keys,
)
from linkage.matching.matcher import Matcher, MatchRows, MatchSettings
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import PartySet, load_parties
from linkage.matching.unique_keys import (
    unique_key_pairs,
    unique_key_use,
)
from tests.conftest import CONFIGS, encode_demo_agencies

SECRET = b"unique-keys-test-secret-0123456789"
# Social services holds no address and tax no birth date: the two share no
# match key with each other, and tax shares none with health.
AGENCIES = ("health", "social_services", "tax")
# The shipped unique keys (by their place among them): both names, given
# name and address, surname and address; beside the match key, given name
# and birth date, surname and birth date.
NAMES, BESIDE, EVERY_KEY = (0,), (3, 4), (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("unique-keys")
    schema = schema_from_dict(
        json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    )
    return encode_demo_agencies(root, AGENCIES, schema, SECRET, size=1000, seed=5)


@pytest.fixture
def parties(encoded: dict[str, Path]) -> PartySet:
    return load_parties(list(encoded.values()))


def _party_names(parties: PartySet, records: npt.NDArray[np.int64]) -> set[str]:
    return {parties.parties[int(p)].name for p in parties.party_of[records]}


def test_they_pair_only_records_of_agencies_sharing_no_match_key(
    parties: PartySet,
) -> None:
    pairs = unique_key_pairs(parties, 0.6, (0, 1, 2))  # Not beside the key.
    assert len(pairs.score) > 100  # The test means something.
    assert np.allclose(pairs.score, 0.8)  # Halfway from the threshold 0.6 to 1.
    tax = parties.party_of == 2
    assert (tax[pairs.left] | tax[pairs.right]).all()
    assert (parties.party_of[pairs.left] != parties.party_of[pairs.right]).all()
    assert _party_names(parties, pairs.left) | _party_names(parties, pairs.right) == {
        "health",
        "social_services",
        "tax",
    }


def test_each_is_used_where_the_match_key_confirms_it_elsewhere(
    parties: PartySet,
) -> None:
    nobody = np.full(parties.total, -1, dtype=np.int64)
    unused = unique_key_use(parties, 0.6, lambda _: nobody)
    names, *address = unused.verdicts[:3]
    assert names.reliability == 0.0 and not names.used
    # Keys beside the match key do not depend on the groups.
    assert unused.used == BESIDE
    beside = unique_key_pairs(parties, 0.6, BESIDE)
    assert len(unused.pairs.score) == len(beside.score)
    assert "given_name + surname: " in unused.describe()
    assert "not used (reliability 0.00" in unused.describe()
    # Groups that link every pair sharing the names' key where a match key
    # could confirm it, and none where it could not.
    labels = _components(parties.total, _names_key_pairs_between_keyed(parties))
    used = unique_key_use(parties, 0.6, lambda _: labels)
    assert used.verdicts[0].reliability == pytest.approx(1.0)
    assert used.used == NAMES + BESIDE
    assert len(used.pairs.score) == len(
        unique_key_pairs(parties, 0.6, NAMES + BESIDE).score
    )
    assert "given_name + surname: " in used.describe()
    assert "used (reliability 1.00" in used.describe()
    # Only health and tax hold an address here, and they share no match key:
    # nothing measures the address keys, judged each on its own.
    for verdict in address:
        assert verdict.found > 0 and verdict.confirming == 0 and not verdict.used
    assert "given_name + postcode + street: " in used.describe()


def test_only_records_holding_a_match_key_confirm_a_key(parties: PartySet) -> None:
    """A record without a birth date holds no match key: its pair sharing
    the names with another agency's record is no evidence either way, and
    groups that link every other such pair confirm the key fully."""
    holds = _holds_a_match_key(parties)
    assert 0 < (~holds[parties.party_of != 2]).sum()  # Some lack a birth date.
    sharing = _names_key_pairs_between_keyed(parties)
    both_hold = [pair for pair in sharing if holds[pair[0]] and holds[pair[1]]]
    assert 0 < len(both_hold) < len(sharing)  # The test means something.
    labels = _components(parties.total, both_hold)
    names = unique_key_use(parties, 0.6, lambda _: labels).verdicts[0]
    assert names.confirming == len(both_hold)
    assert names.reliability == pytest.approx(1.0)


def test_keys_beside_the_match_key_are_added_before_the_others_are_judged(
    parties: PartySet,
) -> None:
    seen: list[set[tuple[int, int]]] = []
    nobody = np.full(parties.total, -1, dtype=np.int64)

    def groups(added: CandidatePairs) -> npt.NDArray[np.int64]:
        seen.append(set(zip(added.left.tolist(), added.right.tolist(), strict=True)))
        return nobody

    unique_key_use(parties, 0.6, groups)
    beside = unique_key_pairs(parties, 0.6, BESIDE)
    assert seen == [set(zip(beside.left.tolist(), beside.right.tolist(), strict=True))]
    assert seen[0]  # The test means something.


def _holds_a_match_key(parties: PartySet) -> npt.NDArray[np.bool_]:
    (match_key,), _ = key_columns(parties)
    return np.asarray(match_key.any(axis=1))


def _names_key_pairs_between_keyed(parties: PartySet) -> list[tuple[int, int]]:
    """The pairs sharing the names' key between agencies that can share a
    match key (those not added by the key)."""
    alone = unique_key_pairs(parties, 0.6, NAMES)
    between_alone = set(zip(alone.left.tolist(), alone.right.tolist(), strict=True))
    return [
        pair
        for pair in _pairs_sharing_the_names_key(parties)
        if pair not in between_alone
    ]


def _pairs_sharing_the_names_key(parties: PartySet) -> list[tuple[int, int]]:
    _, unique = key_columns(parties)
    pairs = pairs_sharing_keys(unique[:1], parties, dedup=False)
    return list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))


def _components(records: int, pairs: list[tuple[int, int]]) -> npt.NDArray[np.int64]:
    """A label per record joined by ``pairs`` (-1 for the rest): a record of
    one agency pairs with records of several others, so the pairs chain."""
    graph = coo_matrix(
        (np.ones(len(pairs)), tuple(np.array(pairs, dtype=np.int64).T)),
        shape=(records, records),
    )
    _, labels = connected_components(graph, directed=False)
    joined = np.zeros(records, dtype=bool)
    joined[np.array(pairs, dtype=np.int64).ravel()] = True
    return np.where(joined, labels, -1).astype(np.int64)


def _groups(rows: MatchRows) -> set[frozenset[tuple[str, str]]]:
    members: dict[str, set[tuple[str, str]]] = {}
    for match_id, party, pseudonym in zip(
        rows.match_id, rows.party, rows.pseudonym, strict=True
    ):
        members.setdefault(match_id, set()).add((party, pseudonym))
    return {frozenset(group) for group in members.values()}


def test_too_few_confirming_pairs_leave_them_unused(encoded: dict[str, Path]) -> None:
    """Health and tax alone share no match key: nothing says how reliable
    names alone are."""
    parties = load_parties([encoded["health"], encoded["tax"]])
    everyone = np.zeros(parties.total, dtype=np.int64)
    use = unique_key_use(parties, 0.6, lambda _: everyone)
    names_and_address = use.verdicts[:3]
    assert all(v.found > 0 and v.confirming == 0 for v in names_and_address)
    # Nor do keys beside the match key pair anyone: tax holds no birth date.
    assert all(v.found == v.confirming == 0 for v in use.verdicts[3:])
    assert not len(use.pairs.score)
    assert "too few to tell how reliable" in use.describe()


def test_a_linkage_says_so_and_keeps_the_decision_in_its_rule(
    parties: PartySet,
) -> None:
    result = Matcher(parties, MatchSettings(dedup=True)).run()
    assert result.parameters is not None
    assert result.parameters.unique_keys == NAMES + BESIDE
    assert "used (reliability" in str(result.stats["unique keys"])
    document = result.parameters.document()
    assert LinkageParameters.from_document(document).unique_keys == NAMES + BESIDE
    # Given that rule back, a run adds the same pairs without measuring.
    again = Matcher(parties, MatchSettings(dedup=True), fixed=result.parameters).run()
    assert _groups(again.rows) == _groups(result.rows)


def test_lookups_never_match_on_a_unique_key_alone(parties: PartySet) -> None:
    keys = [p.encodings.match_keys for p in parties.parties]
    assert all(k is not None for k in keys)
    index = KeyIndex([k for k in keys if k is not None], unique=len(EVERY_KEY))
    pairs = unique_key_pairs(parties, 0.6, EVERY_KEY)
    tax = parties.parties[2].encodings
    row = int(pairs.right[0] - parties.offsets[2])
    query = np.array(tax.match_keys)[[row]]  # type: ignore[index]
    query[:, :16] = 0  # No match key: tax holds no birth date anyway.
    party, found = index.find(query)
    assert party[0] == -1 and found[0] == -1


def test_rules_written_before_each_key_was_judged_read_as_one_decision() -> None:
    rule = {"threshold": 0.6, "floor": 0.5, "shifts": {}, "dedup": True}
    rule["solver"] = "greedy"
    assert LinkageParameters.from_document(rule).unique_keys == ()
    assert (
        LinkageParameters.from_document({**rule, "unique_keys": False}).unique_keys
        == ()
    )
    every = LinkageParameters.from_document({**rule, "unique_keys": True}).unique_keys
    assert set(EVERY_KEY) <= set(every)
    with pytest.raises(InputError, match="unique_keys"):
        LinkageParameters.from_document({**rule, "unique_keys": ["names"]})


def test_keys_beside_the_match_key_are_told_apart() -> None:
    match_key = ("soundex(given_name)", "soundex(surname)", "date_of_birth")
    assert beside_a_match_key(("given_name", "date_of_birth"), [match_key])
    assert beside_a_match_key(("surname", "date_of_birth"), [match_key])
    assert not beside_a_match_key(("given_name", "surname"), [match_key])
    assert not beside_a_match_key(("given_name", "postcode", "street"), [match_key])
    assert not beside_a_match_key(("date_of_birth", "postcode"), [match_key])
    exact = ("given_name", "surname", "date_of_birth")
    assert not beside_a_match_key(("given_name", "date_of_birth"), [exact])


def test_beside_the_match_key_they_pair_records_that_do_not_share_it(
    parties: PartySet,
) -> None:
    """Health and social services can share the match key: a pair sharing
    one name and the birth date but not the key (the other name's code
    differs) is added; tax, without birth dates, has none."""
    pairs = unique_key_pairs(parties, 0.6, BESIDE)
    assert len(pairs.score) > 5  # The test means something.
    ordinary, unique = key_columns(parties)
    (match_key,) = ordinary
    assert not (match_key[pairs.left] == match_key[pairs.right]).all(axis=1).any()
    shares = [
        (column[pairs.left] == column[pairs.right]).all(axis=1)
        for column in (unique[3], unique[4])
    ]
    assert (shares[0] | shares[1]).all()
    assert _party_names(parties, pairs.left) | _party_names(parties, pairs.right) == {
        "health",
        "social_services",
    }


def test_a_key_beside_the_match_key_stops_where_chance_outnumbers_typos(
    parties: PartySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = np.full(parties.total, -1, dtype=np.int64)
    monkeypatch.setattr(unique_keys, "MOST_BESIDE", 0.0)
    use = unique_key_use(parties, 0.6, lambda _: nobody)
    assert use.used == () and not len(use.pairs.score)
    assert "chance rather than typos" in use.describe()
