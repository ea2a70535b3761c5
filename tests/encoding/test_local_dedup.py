"""An agency's own duplicates, found on its own records and filed in its
vault; nothing sent changes (linkage.encoding.local_dedup, .recipe)."""

from __future__ import annotations

import io
import itertools
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.demo import write_demo_data
from linkage.encoding.local_dedup import LocalDuplicates, local_schema, people
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.vault import Vault
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema
from tests.conftest import CONFIGS

SECRET = b"local deduplication tests secret"
SCHEMA = load_schema(CONFIGS / "schemas" / "demo.json")
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo generator's exports of 3,000 people, with their truth."""
    return write_demo_data(tmp_path_factory.mktemp("local") / "data", size=3000, seed=3)


def encode(export: Path, agency: str, folder: Path, *, local: bool) -> Path:
    """``export`` encoded as ``agency`` would, with a vault; the file's path."""
    out = folder / f"{agency}-{'local' if local else 'keys'}.lnk"
    encode_csv(
        export, SCHEMA, SECRET, out,
        mapping=load_mapping(CONFIGS / "mappings" / f"{agency}.yaml"),
        vault=VaultTarget(out.with_suffix(".vault"), KEY),
        local_dedup=local,
    )  # fmt: skip
    return out


def filed_pairs(encodings: Path, truth: pd.DataFrame, agency: str) -> set[tuple]:
    """The pairs of record IDs the vault files as one person."""
    vault = Vault.open(encodings.with_suffix(".vault"), KEY)
    record_of = {entry.pseudonym: entry.record_id for entry in vault}
    members = defaultdict(set)
    for later, first in vault.repeats.items():
        members[first] |= {record_of[later], record_of[first]}
    return {
        tuple(sorted(pair))
        for group in members.values()
        for pair in itertools.combinations(group, 2)
    }


def true_pairs(truth: pd.DataFrame, agency: str) -> set[tuple]:
    own = truth[truth["agency"] == agency].groupby("person_id")["record_id"]
    return {
        tuple(sorted(pair))
        for records in own
        for pair in itertools.combinations(records[1], 2)
    }


def test_the_local_schema_puts_each_field_in_an_unhardened_filter() -> None:
    schema = local_schema(SCHEMA)
    assert [s.name for s in schema.segments] == [
        f.identifier for f in SCHEMA.encoded_features
    ]
    assert not schema.extension.all_keys and not schema.extension.views
    assert schema.fingerprint != SCHEMA.fingerprint


@pytest.mark.parametrize("agency", ["police", "health"])
def test_the_vault_files_more_of_ones_own_duplicates_and_few_strangers(
    exports: dict[str, Path], tmp_path: Path, agency: str
) -> None:
    """Police and health exports hold names, birth date, sex and address:
    the local model finds most duplicates the match keys alone miss, and
    joins very few records of two people."""
    truth = pd.read_csv(exports["truth"], dtype=str)
    true = true_pairs(truth, agency)
    by_keys = filed_pairs(
        encode(exports[agency], agency, tmp_path, local=False), truth, agency
    )
    by_both = filed_pairs(
        encode(exports[agency], agency, tmp_path, local=True), truth, agency
    )
    assert by_keys <= by_both  # Rows sharing every key stay one person.
    precision = len(by_both & true) / len(by_both)
    recall, recall_keys = (
        len(by_both & true) / len(true),
        len(by_keys & true) / len(true),
    )
    assert precision >= 0.97, precision
    assert recall >= recall_keys + 0.05, (recall, recall_keys)


def test_nothing_sent_changes(exports: dict[str, Path], tmp_path: Path) -> None:
    """The same CLKs and header either way; the ordinary match key differs
    only on the rows whose key is hidden (random stand-ins, both times, as
    are the unique keys' stand-ins)."""
    sent = []
    for local in (False, True):
        (tmp_path / str(local)).mkdir()
        sent.append(
            read_encodings(
                encode(exports["police"], "police", tmp_path / str(local), local=local)
            )
        )
    without, with_local = sent
    assert np.array_equal(without.clks, with_local.clks)
    assert without.header.extensions == with_local.header.extensions
    ordinary = 16 * len(SCHEMA.extension.match_keys)
    differ = (
        without.match_keys[:, :ordinary] != with_local.match_keys[:, :ordinary]
    ).any(axis=1)
    hidden = len(Vault.open(tmp_path / "False" / "police-keys.vault", KEY).repeats)
    assert differ.sum() == hidden > 0


def test_a_file_without_birth_dates_is_not_deduplicated_locally() -> None:
    """Names and address alone cannot tell housemates apart: nothing is
    encoded, no groups, and the reason is given."""
    duplicates = LocalDuplicates(SCHEMA, absent=["date_of_birth", "sex"])
    row = {
        f.identifier: np.array(["x"] * 3, dtype=object) for f in SCHEMA.encoded_features
    }
    duplicates.add(row, np.ones(3, dtype=bool))
    found = duplicates.groups()
    assert "date_of_birth" in found.doubt and found.records == 0
    assert found.group_of.tolist() == [-1, -1, -1]


def test_housemates_stay_apart_and_a_person_recorded_twice_joins(
    exports: dict[str, Path],
) -> None:
    """A police export with, added at its end: twins (same surname, birth
    date and address), a father and son of one name and address, and one
    person recorded again with a typo in the birth date (so without the
    first record's match key) and the street type abbreviated."""
    mapping = load_mapping(CONFIGS / "mappings" / "police.yaml")
    export = pd.read_csv(exports["police"], dtype=str, keep_default_na=False)
    added = pd.read_csv(
        io.StringIO(
            "T1|QUIGLEY, ROSALIND|03/04/1990|F|7 WATTLE WAY|DUBBO|2830\n"
            "T2|QUIGLEY, ANNABEL|03/04/1990|F|7 WATTLE WAY|DUBBO|2830\n"
            "S1|FAIRWEATHER, DESMOND|12/05/1951|M|9 OAK LANE|ORANGE|2800\n"
            "S2|FAIRWEATHER, DESMOND|30/07/1984|M|9 OAK LANE|ORANGE|2800\n"
            "M1|HOLLINGWORTH, PERPETUA|21/10/1966|F|4 RIVER ROAD|TAREE|2430\n"
            "M2|HOLLINGWORTH, PERPETUA|21/10/1969|F|4 RIVER RD|TAREE|2430\n"
        ),
        sep="|",
        header=None,
        names=list(export.columns),
        dtype=str,
    )
    frame = pd.concat([export, added], ignore_index=True)
    mapped = mapping.apply(frame, source="police.csv", first_row=1)
    duplicates = LocalDuplicates(SCHEMA)
    columns = {
        name: mapped.fields[name].to_numpy(dtype=object) for name in mapping.field_names
    }
    duplicates.add(columns, ~mapped.invalid)
    group_of = duplicates.groups().group_of
    row = {ref: i for i, ref in enumerate(frame[frame.columns[0]])}
    assert group_of[row["M2"]] == group_of[row["M1"]] >= 0
    for first, second in (("T1", "T2"), ("S1", "S2")):
        assert (
            group_of[row[first]] == -1 or group_of[row[first]] != group_of[row[second]]
        )


def test_a_file_of_one_record_has_no_groups() -> None:
    duplicates = LocalDuplicates(SCHEMA)
    row = {f.identifier: np.array([""], dtype=object) for f in SCHEMA.encoded_features}
    row["given_name"] = np.array(["ann"], dtype=object)
    duplicates.add(row, np.ones(1, dtype=bool))
    assert duplicates.groups().group_of.tolist() == [-1]


def naive_people(first: list[int], group_of: list[int]) -> list[int]:
    parent = list(range(len(first)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for row, other in [
        *enumerate(first),
        *((r, g) for r, g in enumerate(group_of) if g >= 0),
    ]:
        a, b = root(row), root(other)
        parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(first))]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_people_joins_both_kinds_of_links_through_each_other(
    data: st.DataObject,
) -> None:
    count = data.draw(st.integers(1, 30))
    # first rows point back to an earlier row; groups are named by a member.
    first = [data.draw(st.integers(0, row)) for row in range(count)]
    group_of = [data.draw(st.sampled_from([-1, *range(count)])) for _ in range(count)]
    joined = people(np.array(first), np.array(group_of))
    assert joined.tolist() == naive_people(first, group_of)
    assert all(joined[row] <= row for row in range(count))
