"""Loading parties' encodings and refusing files that cannot be compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from linkage.errors import InputError
from linkage.formats.clkfile import EncodingHeader, open_writer
from linkage.formats.schema import load_schema
from linkage.matching.parties import load_parties
from tests.conftest import CONFIGS, encode_demo_agencies

FINGERPRINT = "a" * 64


def write(
    path: Path,
    count: int,
    *,
    bits: int = 64,
    fingerprint: str = FINGERPRINT,
    key_check: str = "00ff",
    party: str | None = None,
    fmt: str = "linkage",
) -> Path:
    header = EncodingHeader(
        schema_fingerprint=fingerprint,
        bit_length=bits,
        key_check=key_check,
        extensions={"party": party} if party else {},
    )
    rng = np.random.default_rng(count)
    clks = rng.integers(0, 256, size=(count, -(-bits // 8)), dtype=np.uint8)
    pseudonyms = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    with open_writer(path, fmt, header) as writer:  # type: ignore[arg-type]
        writer.write(pseudonyms, clks)
    return path


def test_parties_share_one_index(tmp_path: Path) -> None:
    """Offsets and party_of place every record in one global index."""
    parties = load_parties([write(tmp_path / "a.lnk", 3), write(tmp_path / "b.lnk", 2)])
    assert [p.name for p in parties.parties] == ["a", "b"]
    assert parties.offsets.tolist() == [0, 3]
    assert parties.party_of.tolist() == [0, 0, 0, 1, 1]
    party, row = parties.locate(4)
    assert (party.name, row) == ("b", 1)


def test_party_name_comes_from_the_header(tmp_path: Path) -> None:
    """A --party name in the header wins over the file name."""
    parties = load_parties([write(tmp_path / "x.lnk", 2, party="police")])
    assert parties.parties[0].name == "police"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"bits": 128}, "bit length"),
        ({"fingerprint": "b" * 64}, "schema fingerprint"),
        ({"key_check": "abcd"}, "key-check value"),
    ],
)
def test_disagreeing_files_are_refused_naming_them(
    tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    """Files from another schema, secret or length are named in the error."""
    first = write(tmp_path / "a.lnk", 3)
    second = write(tmp_path / "b.lnk", 3, **change)  # type: ignore[arg-type]
    with pytest.raises(InputError) as raised:
        load_parties([first, second])
    message = str(raised.value)
    assert expected in message
    assert str(first) in message and str(second) in message


@pytest.mark.parametrize(
    ("old", "new", "hint"),
    [("0" * 16, "1" * 32, "older version of linkage"),
     ("0" * 32, "1" * 32, "same shared secret"),
     ("0" * 16, "1" * 16, "same shared secret")],
)  # fmt: skip
def test_key_check_mismatch_says_whether_a_file_is_from_an_older_version(
    tmp_path: Path, old: str, new: str, hint: str
) -> None:
    """A 16-digit (unsalted) value beside a 32-digit one: re-encode, not
    another secret."""
    first = write(tmp_path / "a.lnk", 3, key_check=old)
    second = write(tmp_path / "b.lnk", 3, key_check=new)
    with pytest.raises(InputError, match=hint):
        load_parties([first, second])


def test_clkhash_json_files_are_checked_for_length_only(tmp_path: Path) -> None:
    """clkhash JSON has no header; its row index stands in for the pseudonym."""
    ours = write(tmp_path / "a.lnk", 3)
    theirs = write(tmp_path / "b.json", 2, fmt="clkhash-json")
    parties = load_parties([ours, theirs])
    assert parties.parties[1].pseudonyms == ["0", "1"]


def test_empty_file_and_duplicate_names_are_refused(tmp_path: Path) -> None:
    """An empty file, or two files for one party, cannot be linked."""
    with pytest.raises(InputError, match="holds no records"):
        load_parties([write(tmp_path / "a.lnk", 0), write(tmp_path / "b.lnk", 1)])
    one = write(tmp_path / "one.lnk", 2, party="police")
    two = write(tmp_path / "two.lnk", 2, party="police")
    with pytest.raises(InputError, match="'police'"):
        load_parties([one, two])


def test_the_fields_an_agency_lacks_reach_the_operator(tmp_path: Path) -> None:
    """The demo's tax agency holds no birth date and no sex: its encoder says
    so in the header, and the parties (and a run's stats) name them."""
    encoded = encode_demo_agencies(
        tmp_path,
        ("police", "tax"),
        load_schema(CONFIGS / "schemas" / "demo.json"),
        b"fields-not-held-test-secret-012345",
        size=300,
        seed=9,
    )
    paths = list(encoded.values())
    assert load_parties(paths).fields_not_held() == "tax: date_of_birth, sex"
    assert load_parties(paths[:1]).fields_not_held() == "none"
