"""Incremental updates: a change set linked in equals a full run on the final
data under the same parameters, and unchanged groups keep their match IDs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.formats.schema import schema_from_dict
from linkage.matching.clk.similarity import dice
from linkage.matching.matcher import Matcher, MatchRows, MatchSettings
from linkage.matching.parties import Party, PartySet, load_parties
from linkage.matching.standing import (
    ChangeSet,
    StandingLinkage,
    load_standing,
    save_standing,
)
from linkage.matching.standing.match_ids import IdRegistry, hand_on
from linkage.matching.standing.regroup import _numbered_by_first_record
from tests.conftest import CONFIGS, encode_demo_agencies

SECRET = b"standing-test-secret-0123456789ab"
AGENCIES = ("police", "health", "tax")  # tax holds no birth date: views.

Partition = list[list[tuple[str, str]]]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> PartySet:
    """Every encoded record the tests draw populations and changes from."""
    root = tmp_path_factory.mktemp("standing")
    schema = schema_from_dict(
        json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    )
    paths = encode_demo_agencies(root, AGENCIES, schema, SECRET, size=700, seed=11)
    return load_parties(list(paths.values()))


def _rows_of(party: Party, rows: npt.NDArray[np.int64]) -> Party:
    encodings = party.encodings
    assert encodings.pseudonyms is not None
    return Party(
        party.name,
        replace(
            encodings,
            pseudonyms=encodings.pseudonyms[rows],
            clks=encodings.clks[rows],
            match_keys=_rows(encodings.match_keys, rows),
        ),
    )


def _rows(
    keys: npt.NDArray[np.uint8] | None, rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint8] | None:
    return None if keys is None else keys[rows]


def _partition(rows: MatchRows) -> Partition:
    groups: dict[str, list[tuple[str, str]]] = {}
    for match_id, party, pseudonym in zip(
        rows.match_id, rows.party, rows.pseudonym, strict=True
    ):
        groups.setdefault(match_id, []).append((party, pseudonym))
    return sorted(sorted(group) for group in groups.values())


def _scores(rows: MatchRows) -> list[tuple[str, str, float]]:
    return sorted(zip(rows.party, rows.pseudonym, rows.score.tolist(), strict=True))


def _start(
    pool: PartySet, rng: np.random.Generator, parties: int, dedup: bool
) -> tuple[StandingLinkage, list[npt.NDArray[np.int64]]]:
    """A full run on 70 % of the first ``parties`` agencies' records; the
    rest of each agency's rows, shuffled, for additions."""
    chosen, unused = [], []
    for party in pool.parties[:parties]:
        order = rng.permutation(len(party))
        cut = int(len(party) * 0.7)
        chosen.append(_rows_of(party, np.sort(order[:cut])))
        unused.append(order[cut:])
    start = PartySet(tuple(chosen))
    result = Matcher(start, MatchSettings(dedup=dedup, blocking="none")).run()
    return StandingLinkage.from_run(start, result), unused


def _change_set(
    pool: PartySet,
    standing: StandingLinkage,
    number: int,
    unused: list[npt.NDArray[np.int64]],
    rng: np.random.Generator,
    sizes: tuple[int, int, int],
) -> ChangeSet:
    """Additions from the pool, corrections (another pool record's encoding
    under an existing pseudonym) and withdrawals, for agency ``number``."""
    adding, correcting, withdrawing = sizes
    current = standing.parties.parties[number]
    source = pool.parties[number]
    added = _rows_of(source, unused[number][:adding]).encodings
    unused[number] = unused[number][adding:]
    rows = rng.permutation(len(current))
    corrected, withdrawn = (
        rows[:correcting],
        rows[correcting : correcting + withdrawing],
    )
    encodings = current.encodings
    assert encodings.pseudonyms is not None and added.pseudonyms is not None
    donors = rng.integers(0, len(source), len(corrected))
    records = replace(
        encodings,
        pseudonyms=np.concatenate([encodings.pseudonyms[corrected], added.pseudonyms]),
        clks=np.concatenate([source.encodings.clks[donors], added.clks]),
        match_keys=_joined(
            _rows(source.encodings.match_keys, donors), added.match_keys
        ),
    )
    return ChangeSet(
        current.name, records, [current.pseudonyms[row] for row in withdrawn.tolist()]
    )


def _joined(
    first: npt.NDArray[np.uint8] | None, second: npt.NDArray[np.uint8] | None
) -> npt.NDArray[np.uint8] | None:
    if first is None or second is None:
        return None
    return np.concatenate([first, second])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    parties=st.integers(2, 3),
    dedup=st.booleans(),
    steps=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 8), st.integers(0, 8)),
        min_size=1,
        max_size=3,
    ),
)
def test_updates_group_as_a_full_run_on_the_final_data(
    pool: PartySet,
    seed: int,
    parties: int,
    dedup: bool,
    steps: list[tuple[int, int, int]],
) -> None:
    rng = np.random.default_rng(seed)
    standing, unused = _start(pool, rng, parties, dedup)
    for sizes in steps:
        movers = rng.permutation(parties)[: rng.integers(1, parties + 1)]
        change_sets = [
            _change_set(pool, standing, int(number), unused, rng, sizes)
            for number in movers
        ]
        standing.apply(change_sets)
        full = Matcher(
            standing.parties, MatchSettings(blocking="none"), fixed=standing.parameters
        ).run()
        assert _partition(standing.rows()) == _partition(full.rows)
        assert _scores(standing.rows()) == _scores(full.rows)


def test_groups_no_change_touches_keep_their_match_ids(pool: PartySet) -> None:
    rng = np.random.default_rng(5)
    standing, unused = _start(pool, rng, 3, dedup=True)
    before = {tuple(group): match_id for match_id, group in _groups(standing.rows())}
    update = standing.apply([_change_set(pool, standing, 1, unused, rng, (30, 5, 5))])
    after = dict(_groups(standing.rows()))
    unchanged = [group for group in before if group in after.values()]
    assert len(unchanged) > len(before) / 2  # The test means something.
    after_by_group = {tuple(group): match_id for match_id, group in after.items()}
    for group in unchanged:
        assert after_by_group[group] == before[group]
    # Every ID that is gone was merged or dissolved, and says where it went.
    gone = set(before.values()) - set(after)
    assert gone == set(update.handover.merged) | set(update.handover.dissolved)
    for absorbed, survivor in update.handover.merged.items():
        assert standing.registry.current(absorbed) == survivor


def _groups(rows: MatchRows) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for match_id, party, pseudonym in zip(
        rows.match_id, rows.party, rows.pseudonym, strict=True
    ):
        groups.setdefault(match_id, []).append((party, pseudonym))
    return [(match_id, tuple(sorted(group))) for match_id, group in groups.items()]


def _whole_clks(party: Party) -> dict[str, npt.NDArray[np.uint8]]:
    """Each pseudonym's CLK of every field (police and health hold all)."""
    encodings = party.encodings
    assert encodings.header is not None
    whole = encodings.header.views[0]
    clks = encodings.clks[:, whole.start : whole.stop]
    return dict(zip(encodings.pseudonym_strings(), clks, strict=True))


def _one_whose_partner_has_no_other(standing: StandingLinkage) -> int:
    """The row of a record matched to one other whose partner scores below
    the threshold with every other record of the record's party: withdrawn,
    its match must dissolve. (Rows come in the order of random match IDs;
    the partner of a person's first health record may also match the
    second, and then rightly keeps the ID with it.)"""
    rows = standing.rows()
    clks = {party.name: _whole_clks(party) for party in standing.parties.parties}
    members: dict[str, list[int]] = {}
    for row, match_id in enumerate(rows.match_id):
        members.setdefault(match_id, []).append(row)
    for group in members.values():
        if len(group) != 2:
            continue
        row, partner = group
        party, own = rows.party[row], rows.pseudonym[row]
        others = [clk for name, clk in clks[party].items() if name != own]
        partner_clk = clks[rows.party[partner]][rows.pseudonym[partner]]
        scores = dice(np.array(others), np.tile(partner_clk, (len(others), 1)))
        if scores.max() < standing.parameters.threshold:
            return row
    raise AssertionError("no match whose partner has no other candidate")


def test_withdrawn_records_leave_every_row_and_are_reported(pool: PartySet) -> None:
    rng = np.random.default_rng(9)
    standing, _ = _start(pool, rng, 2, dedup=False)
    rows = standing.rows()
    first = _one_whose_partner_has_no_other(standing)
    party, pseudonym = rows.party[first], rows.pseudonym[first]
    match_id = rows.match_id[first]
    update = standing.apply([ChangeSet(party, None, [pseudonym])])
    assert pseudonym not in standing.rows().pseudonym
    assert pseudonym not in standing.parties.parties[0].pseudonyms + (
        standing.parties.parties[1].pseudonyms
    )
    withdrawn = [c for c in update.changes if c.kind == "withdrawn"]
    assert [(c.party, c.pseudonym, c.before) for c in withdrawn] == [
        (party, pseudonym, match_id)
    ]
    # Two parties: its partner is left alone, and its ID dissolves.
    assert match_id in update.handover.dissolved
    assert [c.kind for c in update.changes if c.before == match_id] == [
        "withdrawn",
        "left",
    ]


def test_saved_and_loaded_it_links_on_the_same(pool: PartySet, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    standing, unused = _start(pool, rng, 3, dedup=True)
    save_standing(standing, tmp_path / "state")
    loaded = load_standing(tmp_path / "state")
    assert _table(loaded.rows()) == _table(standing.rows())
    changes = [
        _change_set(pool, standing, 0, unused, np.random.default_rng(1), (20, 3, 3))
    ]
    ids = iter(f"{n:032x}" for n in range(1000))
    standing.apply(changes, make_id=lambda: next(ids))
    ids = iter(f"{n:032x}" for n in range(1000))
    loaded.apply(changes, make_id=lambda: next(ids))
    assert _table(loaded.rows()) == _table(standing.rows())
    with pytest.raises(FileExistsError):
        save_standing(standing, tmp_path / "state")


def _table(rows: MatchRows) -> list[tuple[str, str, str, float]]:
    return list(
        zip(rows.match_id, rows.party, rows.pseudonym, rows.score.tolist(), strict=True)
    )


def test_bad_change_sets_are_refused_by_name(pool: PartySet) -> None:
    standing, _ = _start(pool, np.random.default_rng(2), 2, dedup=False)
    first = standing.parties.parties[0]
    with pytest.raises(InputError, match="'nobody' has no records"):
        standing.apply([ChangeSet("nobody", None, [])])
    with pytest.raises(InputError, match="no record for"):
        standing.apply([ChangeSet(first.name, None, ["0" * 32])])
    sent = _rows_of(first, np.arange(2)).encodings
    with pytest.raises(InputError, match="both withdraws and sends"):
        standing.apply([ChangeSet(first.name, sent, [first.pseudonyms[0]])])
    assert sent.header is not None
    other_key = replace(sent, header=replace(sent.header, key_check="ab" * 16))
    with pytest.raises(InputError, match="another key check"):
        standing.apply([ChangeSet(first.name, other_key, [])])
    with pytest.raises(InputError, match="Two change sets"):
        standing.apply([ChangeSet(first.name), ChangeSet(first.name)])


def test_merges_keep_the_oldest_id_and_splits_give_the_larger_part_the_id() -> None:
    registry = IdRegistry({"old": 0, "young": 1, "split": 2}, {}, 3)
    fresh = iter(["new-1", "new-2"])
    handover = hand_on(
        # old and young merge into group 0; split's records go 2 : 1.
        ["old", "young", "young", "split", "split", "split", None],
        [0, 0, 0, 1, 1, 2, 2],
        ["gone"],
        registry,
        lambda: next(fresh),
    )
    assert handover.ids == ["old", "split", "new-1"]
    assert handover.merged == {"young": "old"}
    assert handover.created == ["new-1"]
    assert handover.dissolved == ["gone"]
    assert registry.current("young") == "old"
    assert registry.current("gone") is None
    assert registry.age["new-1"] > registry.age["split"]


def test_groups_grouped_again_are_numbered_by_their_first_record() -> None:
    """The one-to-one solvers number groups by pair; the ID rules' ties go
    to the group whose first record comes first, so regroup renumbers."""
    labels = np.array([2, -1, 0, 2, 1, 0], dtype=np.int64)
    renumbered = _numbered_by_first_record(labels)
    assert renumbered.tolist() == [0, -1, 1, 0, 2, 1]
    assert _numbered_by_first_record(np.full(3, -1)).tolist() == [-1, -1, -1]
