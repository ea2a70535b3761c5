"""Unique keys: keys of the names (and of one name and the address) written
only where no other person in the file holds them, once per person, random
bytes elsewhere (linkage.encoding.match_keys)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.recipe import encode_csv
from linkage.formats.clkfile import MOST_SHARING, read_encodings
from linkage.formats.schema import (
    LinkageSchema,
    SchemaError,
    load_schema,
    schema_from_dict,
)
from linkage.privacy.equality import key_classes
from tests.conftest import CONFIGS

SECRET = b"unique key tests secret"
SCHEMA = load_schema(CONFIGS / "schemas" / "demo.json")
FIELDS = [f.identifier for f in SCHEMA.encoded_features]


def people(given_names: list[str], surnames: list[str]) -> dict[str, list[str]]:
    """Records with these names, born on different days, living elsewhere."""
    count = len(given_names)
    return {
        "given_name": given_names,
        "surname": surnames,
        "date_of_birth": [
            f"19{50 + i % 40}-0{1 + i % 9}-1{i % 9}" for i in range(count)
        ],
        "sex": ["f"] * count,
        "postcode": [str(2000 + i) for i in range(count)],
        "street": [f"{i} high street" for i in range(count)],
    }


def unique_keys(
    records: dict[str, list[str]], schema: LinkageSchema = SCHEMA
) -> npt.NDArray[np.uint8]:
    """The names' unique key of each record (the first unique key)."""
    keys = ClkEncoder(schema, SECRET).encode(records).match_keys
    assert keys is not None
    return keys[:, 16:32]


def test_the_shipped_schema_writes_five_after_its_match_key() -> None:
    assert SCHEMA.extension.unique_keys == (
        ("given_name", "surname"),
        ("given_name", "postcode", "street"),
        ("surname", "postcode", "street"),
        ("given_name", "date_of_birth"),
        ("surname", "date_of_birth"),
    )
    assert SCHEMA.extension.all_keys[1] == ("given_name", "surname")
    keys = ClkEncoder(SCHEMA, SECRET).encode(people(["ann"], ["smith"])).match_keys
    assert keys is not None and keys.shape == (1, 96)


def test_one_person_recorded_twice_keeps_the_key_on_one_row() -> None:
    """Ann Smith twice with one birth date (the match key takes them for one
    person) keeps her names' key on her first row, which a lone Ann Smith
    elsewhere shares; Bob Jones twice with two birth dates is two people."""
    records = people(["ann", "ann", "bob", "bob"], ["smith", "smith", "jones", "jones"])
    records["date_of_birth"][1] = records["date_of_birth"][0]
    keys = unique_keys(records)
    alone = unique_keys(people(["ann", "bob"], ["smith", "jones"]))
    assert bytes(keys[0]) == bytes(alone[0])
    assert len({bytes(row) for row in keys}) == len(keys)  # No class in the file.
    assert bytes(alone[1]) not in {bytes(keys[2]), bytes(keys[3])}


def test_without_a_match_key_rows_alike_in_every_field_are_one_person() -> None:
    records = people(["ann", "ann", "bob"], ["smith", "smith", "jones"])
    records["date_of_birth"] = ["", "", ""]
    records["postcode"][1], records["street"][1] = (
        records["postcode"][0],
        records["street"][0],
    )
    keys = unique_keys(records)
    records["postcode"][1] = "9999"  # Ann Smith at two addresses: two people.
    moved = unique_keys(records)
    alone = unique_keys(people(["ann"], ["smith"]))
    assert bytes(keys[0]) == bytes(alone[0]) != bytes(keys[1])
    assert bytes(alone[0]) not in {bytes(moved[0]), bytes(moved[1])}


def test_a_birth_date_shared_by_more_than_one_person_has_is_no_person() -> None:
    """21 Ann Smiths born on one day at 21 addresses: a placeholder date,
    not one person (as the matcher passes such a key over)."""
    count = MOST_SHARING + 1
    records = people(["ann"] * count, ["smith"] * count)
    records["date_of_birth"] = ["1900-01-01"] * count
    assert (
        unique_keys(records)[0].tobytes()
        != unique_keys(people(["ann"], ["smith"]))[0].tobytes()
    )
    fewer = people(["ann"] * MOST_SHARING, ["smith"] * MOST_SHARING)
    fewer["date_of_birth"] = ["1900-01-01"] * MOST_SHARING
    alone = people(["ann"], ["smith"])
    alone["date_of_birth"] = ["1900-01-01"]
    assert bytes(unique_keys(fewer)[0]) == bytes(unique_keys(alone)[0])


def test_a_typo_in_one_name_leaves_the_other_name_and_the_address() -> None:
    health = people(["ann", "bob"], ["smith", "jones"])
    tax = people(["anne", "bob"], ["smith", "jnoes"])
    for fields in (health, tax):
        fields["date_of_birth"] = ["", ""]  # Only the address is shared.
    left = ClkEncoder(SCHEMA, SECRET).encode(health).match_keys
    right = ClkEncoder(SCHEMA, SECRET).encode(tax).match_keys
    assert left is not None and right is not None
    given_and_address, surname_and_address = slice(32, 48), slice(48, 64)
    assert bytes(left[0, surname_and_address]) == bytes(right[0, surname_and_address])
    assert bytes(left[1, given_and_address]) == bytes(right[1, given_and_address])
    assert bytes(left[0, given_and_address]) != bytes(right[0, given_and_address])


def test_names_unique_in_both_files_share_the_key_in_either_order() -> None:
    health = unique_keys(people(["ann", "bob", "bob"], ["smith", "jones", "jones"]))
    tax = unique_keys(people(["smith", "carl"], ["ann", "white"]))
    assert bytes(health[0]) == bytes(tax[0])  # Ann Smith, swapped at the tax office.
    # Bob Jones twice at the health agency: neither record carries his key.
    bob = unique_keys(people(["bob"], ["jones"]))
    assert bytes(bob[0]) not in {bytes(health[1]), bytes(health[2])}
    assert bytes(health[1]) != bytes(health[2])


def test_a_record_without_both_names_gets_a_stand_in() -> None:
    keys = unique_keys(people(["ann", "", "bob"], ["smith", "jones", ""]))
    assert keys.any(axis=1).all()
    assert len({bytes(row) for row in keys}) == 3
    again = unique_keys(people(["ann", "", "bob"], ["smith", "jones", ""]))
    assert bytes(again[0]) == bytes(keys[0])
    assert bytes(again[1]) != bytes(keys[1])  # Random each time.


def test_no_key_value_of_a_file_is_shared_so_the_attacker_sees_no_class() -> None:
    records = people(["ann", "ann", "bob", "cy"], ["lee", "lee", "lee", "lee"])
    keys = unique_keys(records)
    classes = key_classes(keys)
    assert len(np.unique(classes[:, 0])) == len(keys)


names = st.lists(
    st.tuples(
        st.sampled_from(["ann", "bob", "cy", ""]), st.sampled_from(["lee", "ng"])
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(first=names, second=names)
def test_two_records_share_it_exactly_when_their_names_are_unique_in_both(
    first: list[tuple[str, str]], second: list[tuple[str, str]]
) -> None:
    def named(rows: list[tuple[str, str]]) -> list[frozenset[str] | None]:
        return [frozenset((g, s)) if g and s else None for g, s in rows]

    left = unique_keys(people([g for g, _ in first], [s for _, s in first]))
    right = unique_keys(people([g for g, _ in second], [s for _, s in second]))
    for keys in (left, right):
        assert len({bytes(row) for row in keys}) == len(keys)
    left_names, right_names = named(first), named(second)
    for i, a in enumerate(left_names):
        for j, b in enumerate(right_names):
            expected = (
                a is not None
                and a == b
                and left_names.count(a) == 1
                and right_names.count(b) == 1
            )
            assert (bytes(left[i]) == bytes(right[j])) == expected


def test_a_file_settles_them_over_all_its_chunks(tmp_path: Path) -> None:
    """A name held by two people, once in the file's first block and once
    in its last, gets stand-ins, though each block holds it once; one held
    twice by one person (one birth date) keeps its key on the first row.
    The other rows share a code of the names and a birth date, as more
    people than one person has records: each is a person of its own."""
    export = tmp_path / "agency.csv"
    rows = 170_000  # Over the reader's 8 MB block: several chunks.
    with export.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        for i in range(rows):
            names = (f"g{i}", f"s{i}")
            born = "1980-01-01"
            if i in (0, rows - 1):
                names, born = ("ann", "smith"), f"19{50 + i % 7}-01-01"
            elif i in (1, rows - 2):
                names, born = ("cy", "ng"), "1960-06-06"
            writer.writerow([*names, born, "f", "2000", "x" * 30])
    out = tmp_path / "agency.lnk"
    encode_csv(export, SCHEMA, SECRET, out)
    keys = read_encodings(out).match_keys
    assert keys is not None
    unique = keys[:, 16:32]
    assert len({bytes(row) for row in unique}) == rows
    alone = unique_keys(people(["ann"], ["smith"]))
    assert bytes(alone[0]) not in {bytes(unique[0]), bytes(unique[-1])}
    assert bytes(unique[1]) == bytes(unique_keys(people(["cy"], ["ng"]))[0])
    record = people(["g7"], ["s7"]) | {"date_of_birth": ["1980-01-01"]}
    assert bytes(unique_keys(record)[0]) == bytes(unique[7])


def test_the_schema_refuses_a_unique_key_that_is_also_a_match_key() -> None:
    document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    document["linkage"]["unique_keys"] = document["linkage"]["match_keys"]
    with pytest.raises(SchemaError) as caught:
        schema_from_dict(document)
    assert "linkage.unique_keys[0]" in str(caught.value)
    assert "same fields as match key 0" in str(caught.value)


def test_the_schema_refuses_unique_keys_without_a_match_key() -> None:
    """Nothing could tell how reliable they are: they would never be used."""
    document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    del document["linkage"]["match_keys"]
    with pytest.raises(SchemaError) as caught:
        schema_from_dict(document)
    assert "linkage.unique_keys" in str(caught.value)
    assert "needs a match key beside it" in str(caught.value)
