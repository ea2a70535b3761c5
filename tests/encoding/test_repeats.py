"""A person recorded more than once sends the match keys on its first record
only; the agency's vault remembers the rest and its resolution joins them to
one group (linkage.encoding.match_keys, .vault, .repeats, .resolve)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.mapping import identity_mapping
from linkage.encoding.match_keys import first_rows, hide_repeated_keys
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.repeats import join_repeats, local_match_id, with_repeats_joined
from linkage.encoding.resolve import ResolveSummary, resolve_results
from linkage.encoding.vault import Vault, VaultWriter
from linkage.errors import VaultError
from linkage.formats.clkfile import MOST_SHARING, format_pseudonyms, read_encodings
from linkage.formats.schema import load_schema
from linkage.privacy.mirror import encode_as_sent
from tests.conftest import CONFIGS

SECRET = b"repeat records tests secret"
SCHEMA = load_schema(CONFIGS / "schemas" / "demo.json")
FIELDS = [f.identifier for f in SCHEMA.encoded_features]
KEY = bytes(range(32))
ANN = ["ann", "smith", "1970-01-02", "f", "2000", "1 high street"]
ANN_MOVED = ["ann", "smith", "1970-01-02", "f", "3000", "9 low road"]
BOB = ["bob", "jones", "1960-05-06", "m", "2000", "2 high street"]


def keys_with(values: list[int]) -> np.ndarray:
    """One ordinary key (a byte value each, 0: none) and one unique key."""
    keys = np.zeros((len(values), 32), dtype=np.uint8)
    keys[:, :16] = np.array(values, dtype=np.uint8)[:, None]
    keys[:, 16:] = np.arange(len(values), dtype=np.uint8)[:, None] + 100
    return keys


def test_later_rows_of_one_key_point_to_the_first() -> None:
    first = first_rows(keys_with([1, 2, 1, 0, 2, 3, 0]), 1)
    assert first.tolist() == [0, 1, 0, 3, 1, 5, 6]


def test_a_key_held_by_more_rows_than_one_person_has_is_no_person() -> None:
    """A placeholder birth date shared by many: each row its own person."""
    keys = keys_with([7] * (MOST_SHARING + 1))
    assert first_rows(keys, 1).tolist() == list(range(MOST_SHARING + 1))


def test_with_two_keys_a_person_shares_both() -> None:
    keys = np.zeros((3, 32), dtype=np.uint8)
    keys[:, :16] = 1  # All three share the first key,
    keys[:, 16:] = np.array([[5], [6], [5]], dtype=np.uint8)  # two the second.
    assert first_rows(keys, 2).tolist() == [0, 1, 0]


def test_later_rows_get_random_stand_ins_and_the_rest_stays() -> None:
    keys = keys_with([1, 2, 1, 1])
    before = keys.copy()
    first = first_rows(keys, 1)
    assert hide_repeated_keys(keys, 1, first).tolist() == [2, 3]
    assert np.array_equal(keys[:2], before[:2])
    assert np.array_equal(keys[:, 16:], before[:, 16:])  # Unique keys untouched.
    stand_ins = {bytes(keys[2, :16]), bytes(keys[3, :16])}
    assert len(stand_ins) == 2 and bytes(before[0, :16]) not in stand_ins
    assert all(keys[row, :16].any() for row in (2, 3))


def test_encoding_a_whole_file_sends_a_persons_key_once() -> None:
    rows = zip(ANN, BOB, ANN_MOVED, strict=True)
    records = {name: list(values) for name, values in zip(FIELDS, rows, strict=True)}
    encoded = ClkEncoder(SCHEMA, SECRET).encode(records)
    assert encoded.first_rows is not None and encoded.match_keys is not None
    assert encoded.first_rows.tolist() == [0, 1, 0]
    alone = ClkEncoder(SCHEMA, SECRET).encode(
        {name: [value] for name, value in zip(FIELDS, ANN_MOVED, strict=True)}
    )
    assert alone.match_keys is not None
    # The moved record alone would send Ann's key; beside her first record,
    # a stand-in.
    assert bytes(alone.match_keys[0, :16]) == bytes(encoded.match_keys[0, :16])
    assert bytes(encoded.match_keys[2, :16]) != bytes(encoded.match_keys[0, :16])


def write_export(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", *FIELDS])
        writer.writerows([f"R{n}", *row] for n, row in enumerate(rows))
    return path


def test_the_vault_files_the_later_record_under_the_first(tmp_path: Path) -> None:
    export = write_export(tmp_path / "agency.csv", [ANN, BOB, ANN_MOVED])
    out, vault_path = tmp_path / "agency.lnk", tmp_path / "agency.vault"
    encode_csv(
        export, SCHEMA, SECRET, out, vault=VaultTarget(vault_path, KEY), id_column="id"
    )
    sent = read_encodings(out)
    assert sent.match_keys is not None
    assert bytes(sent.match_keys[2, :16]) != bytes(sent.match_keys[0, :16])
    pseudonyms = format_pseudonyms(sent.pseudonyms)
    vault = Vault.open(vault_path, KEY)
    assert dict(vault.repeats) == {pseudonyms[2]: pseudonyms[0]}
    assert vault.lookup(pseudonyms[2]).record_id == "R2"


def test_without_a_vault_nothing_could_join_them_so_the_key_stays(
    tmp_path: Path,
) -> None:
    export = write_export(tmp_path / "agency.csv", [ANN, BOB, ANN_MOVED])
    out = tmp_path / "agency.lnk"
    encode_csv(export, SCHEMA, SECRET, out)
    keys = read_encodings(out).match_keys
    assert keys is not None
    assert bytes(keys[2, :16]) == bytes(keys[0, :16])


def test_repeats_survive_the_vault_over_many_segments(tmp_path: Path) -> None:
    path = tmp_path / "many.vault"
    names = [f"p{n:04d}" for n in range(400)]
    with VaultWriter(path, KEY, ["name"], segment_bytes=256) as writer:
        writer.add(names, names, [["x"]] * len(names))
        writer.add_repeats(names[200:], names[:200])
    vault = Vault.open(path, KEY)
    assert dict(vault.repeats) == dict(zip(names[200:], names[:200], strict=True))
    assert len(vault) == 400


def test_records_cannot_follow_repeats(tmp_path: Path) -> None:
    with (
        pytest.raises(VaultError, match="after add_repeats"),
        VaultWriter(tmp_path / "v.vault", KEY, ["name"]) as writer,
    ):
        writer.add(["a", "b"], ["1", "2"], [["x"], ["y"]])
        writer.add_repeats(["b"], ["a"])
        writer.add(["c"], ["3"], [["z"]])
    assert not (tmp_path / "v.vault").exists()


def seal_vault(path: Path, version: int, segments: list[tuple[int, bytes]]) -> None:
    """A vault written by hand, as its format says (module docstring of
    linkage.encoding.vault), to read what no writer here writes."""
    header = json.dumps(
        {"format": "linkage-vault", "version": version, "cipher": "AES-256-GCM",
         "file_id": "00" * 16, "field_names": ["name"], "segment_bytes": 4096},
        separators=(",", ":"),
    ).encode()  # fmt: skip
    prefix = f"linkage-vault v{version}\n".encode() + struct.pack(">I", len(header))
    prefix += header
    body = b""
    for index, (flag, plaintext) in enumerate(segments):
        nonce = bytes(12)
        aad = prefix + struct.pack(">QB", index, flag)
        sealed = AESGCM(KEY).encrypt(nonce, plaintext, aad)
        body += struct.pack(">BI", flag, len(sealed)) + nonce + sealed
    path.write_bytes(prefix + body)


ROWS = b'["a","R1","Ann"]\n["b","R2","Ann"]\n'


def test_a_version_1_vault_opens_without_repeats(tmp_path: Path) -> None:
    path = tmp_path / "old.vault"
    seal_vault(path, 1, [(0, ROWS), (1, b'{"records": 2, "segments": 1}')])
    vault = Vault.open(path, KEY)
    assert len(vault) == 2 and dict(vault.repeats) == {}


@pytest.mark.parametrize(
    "version, repeats, summary",
    [
        (1, b'["b","a"]\n', b'{"records": 2, "segments": 2}'),  # None in v1.
        (2, b'["b","nobody"]\n', b'{"records": 2, "repeats": 1, "segments": 2}'),
        (2, b'["b","b"]\n', b'{"records": 2, "repeats": 1, "segments": 2}'),
        (2, b'["b","a"]\n', b'{"records": 2, "repeats": 2, "segments": 2}'),
    ],
)
def test_a_vault_with_wrong_repeats_is_damaged(
    tmp_path: Path, version: int, repeats: bytes, summary: bytes
) -> None:
    path = tmp_path / "bad.vault"
    seal_vault(path, version, [(0, ROWS), (2, repeats), (1, summary)])
    with pytest.raises(VaultError, match="damaged"):
        Vault.open(path, KEY)


def test_a_person_takes_the_group_most_records_are_in() -> None:
    match_of = {"first": "m1", "later1": "m2", "later2": "m2", "other": "m9"}
    repeats = {"later1": "first", "later2": "first"}
    assert join_repeats(match_of, repeats) == {
        "first": "later1",
        "later1": "later1",
        "later2": "later2",
    }


def test_a_tie_goes_to_the_first_record_and_absent_records_join_it() -> None:
    repeats = {"later1": "first", "later2": "first"}
    joined = join_repeats({"first": "m1", "later1": "m2"}, repeats)
    assert joined == {"first": "first", "later1": "first", "later2": "first"}


def test_withdrawn_records_are_left_out_and_a_person_alone_forms_a_group() -> None:
    repeats = {"later": "first", "gone": "first", "b2": "b1", "c2": "c1"}
    joined = join_repeats({"first": "m1"}, repeats, withdrawn={"gone", "c1"})
    # b1 and b2 form a group of their own, under b1's local match ID; c2
    # is all that is left of its person.
    assert joined == {"first": "first", "later": "first", "b1": "b1", "b2": "b1"}
    assert local_match_id("b1") == local_match_id("b1") != local_match_id("b2")
    assert len(local_match_id("b1")) == 32


people = st.dictionaries(
    st.sampled_from([f"r{n}" for n in range(12)]),
    st.sampled_from(["m1", "m2", "m3", None]),
    min_size=1,
)


@settings(max_examples=80, deadline=None)
@given(groups=people, firsts=st.lists(st.integers(0, 2), min_size=12, max_size=12))
def test_every_record_of_a_person_with_a_group_ends_in_one_group(
    groups: dict[str, str | None], firsts: list[int]
) -> None:
    """Records r3..r11 each repeat one of r0..r2; a person recorded once
    (one of those no record repeats) is left out, one with no record in a
    group forms its own."""
    repeats = {f"r{n}": f"r{firsts[n]}" for n in range(3, 12)}
    match_of = {record: group for record, group in groups.items() if group}
    joined = join_repeats(match_of, repeats)
    for first in ("r0", "r1", "r2"):
        members = [first, *(r for r, f in repeats.items() if f == first)]
        held = [match_of[r] for r in members if r in match_of]
        if len(members) == 1:
            assert first not in joined
            continue
        if not held:  # A group of the person's own records, named after one.
            assert {joined[r] for r in members} == {first} and first not in match_of
            continue
        ends = {match_of[joined[r]] for r in members}
        assert len(ends) == 1
        (group,) = ends
        assert held.count(group) == max(held.count(g) for g in held)
        assert all(joined[r] == r for r in members if match_of.get(r) == group)


def test_matches_are_joined_party_by_party() -> None:
    matches = pd.DataFrame(
        {
            "match_id": ["m1", "m2", "m2", "m3"],
            "party": ["a", "a", "a", "b"],
            "pseudonym": ["x", "y", "z", "x"],
            "score": [1.0, 0.9, 0.8, 0.7],
        }
    )
    repeats = {"a": {"y": "x", "z": "x", "w": "x", "q": "p"}, "b": {}}
    joined = with_repeats_joined(matches, repeats)
    alone = joined[joined["pseudonym"].isin(["p", "q"])]
    assert set(alone["match_id"]) == {local_match_id("p")}
    assert len(alone) == 2 and alone["score"].isna().all()
    got = set(joined.drop(alone.index).itertuples(index=False, name=None))
    assert got == {
        ("m2", "a", "x", 0.9),  # Moved to where most of the person's records are,
        ("m2", "a", "y", 0.9),
        ("m2", "a", "z", 0.8),
        ("m2", "a", "w", 0.9),  # joined there though the matches lacked it.
        ("m3", "b", "x", 0.7),
    }


@pytest.fixture
def resolved(tmp_path: Path) -> Vault:
    path = tmp_path / "agency.vault"
    with VaultWriter(path, KEY, ["name"]) as writer:
        writer.add(["pa", "pb", "pc", "pd"], ["R1", "R2", "R3", "R4"], [["Ann"]] * 4)
        writer.add_repeats(["pb", "pc"], ["pa", "pa"])
    return Vault.open(path, KEY)


def read_rows(path: Path) -> set[tuple[str, ...]]:
    with path.open(newline="") as file:
        return {tuple(row) for row in csv.reader(file)}


def resolve_text(
    tmp_path: Path, vault: Vault, text: str, withdrawn: tuple[str, ...] = ()
) -> ResolveSummary:
    """Resolve results written as ``text`` into ``tmp_path / "out.csv"``."""
    results = tmp_path / "results.csv"
    results.write_text(text)
    return resolve_results(results, vault, tmp_path / "out.csv", withdrawn=withdrawn)


def test_resolving_adds_a_persons_record_the_results_lack(
    tmp_path: Path, resolved: Vault
) -> None:
    text = "pseudonym,match_id,score\npa,m1,0.9\npd,m1,0.8\n"
    summary = resolve_text(tmp_path, resolved, text)
    assert read_rows(tmp_path / "out.csv") == {
        ("record_id", "match_id", "score"),
        ("R1", "m1", "0.9"),
        ("R4", "m1", "0.8"),
        ("R2", "m1", "0.9"),
        ("R3", "m1", "0.9"),
    }
    assert (summary.rows, summary.match_ids) == (4, 1)


def test_resolving_moves_a_record_and_leaves_withdrawn_ones_out(
    tmp_path: Path, resolved: Vault
) -> None:
    text = "pseudonym,match_id\npa,m1\npb,m2\npd,m2\n"
    resolve_text(tmp_path, resolved, text, withdrawn=("pc",))
    # A tie between m1 and m2: the first record's group.
    assert read_rows(tmp_path / "out.csv") == {
        ("record_id", "match_id"),
        ("R1", "m1"),
        ("R2", "m1"),
        ("R4", "m2"),
    }


@pytest.mark.parametrize("absent", [(), ("postcode", "street")])
def test_the_recipe_sends_what_a_whole_file_encoding_does(
    tmp_path: Path, absent: tuple[str, ...]
) -> None:
    """Written in chunks and settled at the end, the file holds the same
    CLKs as the whole file encoded at once, for an agency holding every
    field and for one whose view stands in for its CLK; in both, the later
    records of a person send stand-ins for its key, and nothing else."""
    rows = [ANN, BOB, ANN_MOVED, ANN, BOB]
    held = [name for name in FIELDS if name not in absent]
    frame = pd.DataFrame(rows, columns=FIELDS)
    export = tmp_path / "agency.csv"
    frame[held].assign(id=[f"R{n}" for n in range(len(rows))]).to_csv(
        export, index=False
    )
    out, vault_path = tmp_path / "agency.lnk", tmp_path / "agency.vault"
    summary = encode_csv(
        export, SCHEMA, SECRET, out, vault=VaultTarget(vault_path, KEY),
        id_column="id", mapping=identity_mapping(held) if absent else None,
    )  # fmt: skip
    assert summary.repeats == 3
    written = read_encodings(out)
    whole = encode_as_sent(SCHEMA, SECRET, frame, absent)
    assert np.array_equal(written.clks, whole.clks)
    assert whole.first_rows is not None and written.match_keys is not None
    assert whole.first_rows.tolist() == [0, 1, 0, 0, 1]
    keys = {bytes(row[:16]) for row in written.match_keys}
    assert len(keys) == len(rows)  # No key repeats in the file.
    assert len(Vault.open(vault_path, KEY).repeats) == 3


def test_resolving_groups_a_person_the_results_hold_nothing_of(
    tmp_path: Path, resolved: Vault
) -> None:
    text = "pseudonym,match_id,score\npd,m1,0.8\n"
    summary = resolve_text(tmp_path, resolved, text)
    assert (summary.rows, summary.match_ids) == (4, 2)
    own = local_match_id("pa")
    assert read_rows(tmp_path / "out.csv") == {
        ("record_id", "match_id", "score"),
        ("R4", "m1", "0.8"),
        ("R1", own, ""),
        ("R2", own, ""),
        ("R3", own, ""),
    }
