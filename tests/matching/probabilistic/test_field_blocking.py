"""Blocking on identical per-field filters, checked against brute force."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.errors import InputError
from linkage.formats.schema import load_schema
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.probabilistic.blocking import block_pairs, choose_keys
from tests.conftest import CONFIGS, encode_febrl4_agencies

values = st.integers(min_value=0, max_value=4)  # 0: the field is missing.


@settings(max_examples=60, deadline=None)
@given(
    table=st.lists(st.tuples(values, values, values), min_size=2, max_size=40),
    parties=st.data(),
    across=st.booleans(),
    within=st.booleans(),
)
def test_block_pairs_are_exactly_the_pairs_agreeing_on_a_key(
    table: list[tuple[int, int, int]],
    parties: st.DataObject,
    across: bool,
    within: bool,
) -> None:
    if not (across or within):
        within = True
    hashes = np.array(table, dtype=np.uint64)
    party_of = np.array(
        parties.draw(
            st.lists(st.integers(0, 2), min_size=len(table), max_size=len(table))
        )
    )
    keys = ((0,), (1, 2))
    found = block_pairs(hashes, keys, party_of, across=across, within=within)
    expected = {}
    for a, b in combinations(range(len(table)), 2):
        same = party_of[a] == party_of[b]
        if (same and not within) or (not same and not across):
            continue
        for number, key in enumerate(keys):
            if all(table[a][f] == table[b][f] != 0 for f in key):
                expected.setdefault((a, b), number)
    got = dict(
        zip(
            zip(found.left.tolist(), found.right.tolist(), strict=True),
            found.key_of.tolist(),
            strict=True,
        )
    )
    assert got == expected
    assert (found.key_table(3)[found.key_of].sum(axis=1) >= 1).all()


def test_keys_stay_within_the_budget_and_skip_redundant_ones() -> None:
    rng = np.random.default_rng(3)
    rare = rng.integers(1, 10_000, 1000).astype(np.uint64)  # A birth date.
    common = rng.integers(1, 3, 1000).astype(np.uint64)  # Sex.
    middling = rng.integers(1, 50, 1000).astype(np.uint64)  # A postcode.
    hashes = np.column_stack([rare, common, middling])
    keys = choose_keys(hashes, budget=8_000)
    # 48 pairs agree on the birth date, 249,861 on sex, 10,338 on the postcode,
    # 5,144 on sex and postcode; a key holding the birth date adds nothing.
    assert keys == ((0,), (1, 2))
    assert choose_keys(hashes, budget=8_000, total_budget=1_000) == ((0,),)


def test_the_candidate_cap_stops_probabilistic_linkage_with_a_message(
    tmp_path: Path, febrl4_frames: tuple[pd.DataFrame, ...]
) -> None:
    schema = load_schema(CONFIGS / "schemas" / "febrl-fields.json")
    paths, _ = encode_febrl4_agencies(tmp_path, febrl4_frames, schema, b"s", 300)
    settings = MatchSettings(method="probabilistic", max_candidates=100)
    with pytest.raises(InputError, match="More than 100 pairs") as caught:
        Matcher(load_parties(paths), settings).run()
    # The floor is the method's own, not a threshold the operator gave.
    assert "(the probabilistic method's candidate threshold" in str(caught.value)
    assert "chosen from the scores" in str(caught.value)
    assert "--candidate-threshold" in str(caught.value)
