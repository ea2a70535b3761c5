"""Tests for the pseudonym vault: sealing, tamper detection and resolving results."""

from __future__ import annotations

import csv
import json
import stat
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.resolve import resolve_results
from linkage.encoding.vault import (
    PseudonymNotFoundError,
    Vault,
    VaultEntry,
    VaultWriter,
)
from linkage.errors import InputError, LinkageError, SecretError, VaultError

FIELDS = ("given_name", "surname", "dob")
KEY = bytes(range(32))
WRONG_KEY = bytes(range(1, 33))
NOT_OPEN = "the vault key does not open"


def _rows(count: int) -> tuple[list[str], list[str], list[list[str]]]:
    pseudonyms = [f"p{i:07d}" for i in range(count)]
    record_ids = [f"R-{i}" for i in range(count)]
    identities = [
        [f"Zoë{i}", f"Łukasiewicz-{i % 97}", "1970-01-01"] for i in range(count)
    ]
    return pseudonyms, record_ids, identities


def _write_vault(path: Path, count: int, segment_bytes: int = 1 << 22) -> None:
    with VaultWriter(path, KEY, FIELDS, segment_bytes=segment_bytes) as writer:
        writer.add(*_rows(count))


def _segments(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Return where the segments start, and each segment's (start, end)."""
    start = data.index(b"\n") + 1
    (header_size,) = struct.unpack(">I", data[start : start + 4])
    offset = start + 4 + header_size
    first = offset
    spans = []
    while offset < len(data):
        _flag, size = struct.unpack(">BI", data[offset : offset + 5])
        end = offset + 5 + 12 + size
        spans.append((offset, end))
        offset = end
    return first, spans


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    """A vault of 3,000 rows in several small segments."""
    path = tmp_path / "agency.vault"
    _write_vault(path, 3000, segment_bytes=16 * 1024)
    return path


def test_round_trip_small(tmp_path: Path) -> None:
    """Rows written are found again by pseudonym, with their identity."""
    path = tmp_path / "v"
    with VaultWriter(path, KEY, FIELDS) as writer:
        writer.add(["a", "b"], ["1", "2"], [["Ann", "Lee", "1990"], ["Bo", "Ng", ""]])
        writer.add(["c"], ["3"], [["Cy", "Wu", "2001"]])
    vault = Vault.open(path, KEY)
    assert len(vault) == 3
    assert vault.field_names == FIELDS
    assert vault.lookup("b") == VaultEntry(
        "b", "2", {"given_name": "Bo", "surname": "Ng", "dob": ""}
    )
    assert [entry.pseudonym for entry in vault] == ["a", "b", "c"]
    assert "c" in vault


def test_round_trip_100k_rows_in_several_segments(tmp_path: Path) -> None:
    """100,000 non-ASCII rows survive a round trip across many segments."""
    path = tmp_path / "big.vault"
    _write_vault(path, 100_000, segment_bytes=512 * 1024)
    assert len(_segments(path.read_bytes())[1]) > 5
    vault = Vault.open(path, KEY)
    assert len(vault) == 100_000
    entry = vault.lookup("p0099999")
    assert entry.record_id == "R-99999"
    assert entry.identity["given_name"] == "Zoë99999"
    assert entry.identity["surname"] == "Łukasiewicz-89"


def test_empty_vault_round_trip(tmp_path: Path) -> None:
    """A vault with no rows opens as an empty vault."""
    path = tmp_path / "v"
    with VaultWriter(path, KEY, FIELDS):
        pass
    vault = Vault.open(path, KEY)
    assert len(vault) == 0
    assert list(vault) == []


def test_awkward_strings_round_trip(tmp_path: Path) -> None:
    """Newlines, separators and quotes in values do not break the row format."""
    values = ["line\nbreak", "\u2028para\u2029", 'quote" ,comma']
    path = tmp_path / "v"
    with VaultWriter(path, KEY, FIELDS) as writer:
        writer.add(["x\ny"], ["id\r\n"], [values])
    entry = Vault.open(path, KEY).lookup("x\ny")
    assert entry.record_id == "id\r\n"
    assert list(entry.identity.values()) == values


@settings(max_examples=25, deadline=None)
@given(
    rows=st.dictionaries(
        st.text(min_size=1),
        st.tuples(st.text(), st.lists(st.text(), min_size=2, max_size=2)),
        max_size=30,
    ),
    segment_bytes=st.integers(min_value=1, max_value=300),
)
def test_round_trip_property(
    rows: dict[str, tuple[str, list[str]]], segment_bytes: int
) -> None:
    """Any rows with unique pseudonyms read back exactly, whatever the segmenting."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "v"
        with VaultWriter(path, KEY, ["a", "b"], segment_bytes=segment_bytes) as w:
            for pseudonym, (record_id, identity) in rows.items():
                w.add([pseudonym], [record_id], [identity])
        vault = Vault.open(path, KEY)
    assert {e.pseudonym: (e.record_id, list(e.identity.values())) for e in vault} == (
        {p: (r, list(i)) for p, (r, i) in rows.items()}
    )


def test_vault_file_has_mode_0600(vault_path: Path) -> None:
    """The vault is readable by its owner only."""
    assert stat.S_IMODE(vault_path.stat().st_mode) == 0o600


def test_vault_file_hides_identities(tmp_path: Path) -> None:
    """No identity value or record ID appears in the vault file in clear."""
    path = tmp_path / "v"
    with VaultWriter(path, KEY, FIELDS) as writer:
        writer.add(["pseudo"], ["RECORD-42"], [["Wilhelmina", "Zylstra", "1955"]])
    data = path.read_bytes()
    for secret in (b"RECORD-42", b"Wilhelmina", b"Zylstra", b"pseudo"):
        assert secret not in data
    assert data.startswith(b"linkage-vault v2\n")


def test_exception_inside_writer_leaves_no_file(tmp_path: Path) -> None:
    """An error inside the with block leaves neither the vault nor a temp file."""
    path = tmp_path / "v"
    with pytest.raises(RuntimeError), VaultWriter(path, KEY, FIELDS) as writer:
        writer.add(*_rows(10))
        raise RuntimeError("encoding failed")
    assert list(tmp_path.iterdir()) == []


def test_exception_inside_writer_keeps_existing_vault(vault_path: Path) -> None:
    """A failed rewrite leaves the previous vault byte for byte."""
    before = vault_path.read_bytes()
    with pytest.raises(RuntimeError), VaultWriter(vault_path, KEY, FIELDS) as writer:
        writer.add(*_rows(5))
        raise RuntimeError("encoding failed")
    assert vault_path.read_bytes() == before
    assert list(vault_path.parent.iterdir()) == [vault_path]


def test_writer_rejects_mismatched_rows(tmp_path: Path) -> None:
    """Rows of unequal lengths are an InputError, and no file is left."""
    path = tmp_path / "v"
    with (
        pytest.raises(InputError, match="one length"),
        VaultWriter(path, KEY, FIELDS) as writer,
    ):
        writer.add(["a", "b"], ["1"], [["x", "y", "z"]])
    assert not path.exists()


def test_writer_rejects_wrong_identity_width(tmp_path: Path) -> None:
    """An identity with the wrong number of values is an InputError."""
    with (
        pytest.raises(InputError, match="3 values"),
        VaultWriter(tmp_path / "v", KEY, FIELDS) as writer,
    ):
        writer.add(["a"], ["1"], [["only one"]])


def test_writer_rejects_short_key(tmp_path: Path) -> None:
    """A vault key that is not 32 bytes is a SecretError."""
    with pytest.raises(SecretError, match="32 bytes"):
        VaultWriter(tmp_path / "v", b"short", FIELDS)


def test_wrong_key(vault_path: Path) -> None:
    """The wrong key is a VaultError with a clear message, not an InvalidTag."""
    with pytest.raises(VaultError, match=NOT_OPEN) as caught:
        Vault.open(vault_path, WRONG_KEY)
    assert str(vault_path) in str(caught.value)
    assert "wrong key, or the file was altered" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_flipped_byte_in_a_segment(vault_path: Path) -> None:
    """One flipped ciphertext bit anywhere in a segment is detected."""
    data = bytearray(vault_path.read_bytes())
    _first, spans = _segments(bytes(data))
    start, end = spans[1]
    data[(start + end) // 2] ^= 0x01
    vault_path.write_bytes(data)
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(vault_path, KEY)


def test_altered_header(vault_path: Path) -> None:
    """A changed field name in the clear header stops every segment opening."""
    data = vault_path.read_bytes()
    vault_path.write_bytes(data.replace(b'"surname"', b'"surnomb"', 1))
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(vault_path, KEY)


@pytest.mark.parametrize("keep", [0.3, 0.999])
def test_truncated_file(vault_path: Path, keep: float) -> None:
    """A vault cut short anywhere is a VaultError."""
    data = vault_path.read_bytes()
    vault_path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(VaultError, match="damaged or incomplete"):
        Vault.open(vault_path, KEY)


def test_truncated_inside_header(vault_path: Path) -> None:
    """A vault cut inside its header is a VaultError."""
    vault_path.write_bytes(vault_path.read_bytes()[:25])
    with pytest.raises(VaultError, match="ends inside the header"):
        Vault.open(vault_path, KEY)


def test_swapped_segments(vault_path: Path) -> None:
    """Two segments swapped in place are detected."""
    data = vault_path.read_bytes()
    first, spans = _segments(data)
    (a_start, a_end), (b_start, b_end) = spans[0], spans[1]
    swapped = data[:first] + data[b_start:b_end] + data[a_start:a_end] + data[b_end:]
    vault_path.write_bytes(swapped)
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(vault_path, KEY)


def test_dropped_final_segment(vault_path: Path) -> None:
    """A vault without its final segment is reported as truncated."""
    data = vault_path.read_bytes()
    _first, spans = _segments(data)
    vault_path.write_bytes(data[: spans[-1][0]])
    with pytest.raises(VaultError, match="final segment is missing"):
        Vault.open(vault_path, KEY)


def test_dropped_last_data_segment(vault_path: Path) -> None:
    """Dropping the last data segment (keeping the final one) is detected."""
    data = vault_path.read_bytes()
    _first, spans = _segments(data)
    (drop_start, drop_end) = spans[-2]
    vault_path.write_bytes(data[:drop_start] + data[drop_end:])
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(vault_path, KEY)


def test_dropped_middle_segment(vault_path: Path) -> None:
    """Dropping a data segment in the middle is detected."""
    data = vault_path.read_bytes()
    _first, spans = _segments(data)
    (drop_start, drop_end) = spans[1]
    vault_path.write_bytes(data[:drop_start] + data[drop_end:])
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(vault_path, KEY)


def test_segment_spliced_from_another_vault(tmp_path: Path) -> None:
    """A segment taken from another vault under the same key does not open."""
    one, two = tmp_path / "one", tmp_path / "two"
    _write_vault(one, 2000, segment_bytes=16 * 1024)
    _write_vault(two, 2000, segment_bytes=16 * 1024)
    data_one, data_two = one.read_bytes(), two.read_bytes()
    (start_one, end_one) = _segments(data_one)[1][0]
    (start_two, end_two) = _segments(data_two)[1][0]
    one.write_bytes(
        data_one[:start_one] + data_two[start_two:end_two] + data_one[end_one:]
    )
    with pytest.raises(VaultError, match=NOT_OPEN):
        Vault.open(one, KEY)


def test_data_appended_after_final_segment(vault_path: Path) -> None:
    """Bytes after the final segment are detected."""
    vault_path.write_bytes(vault_path.read_bytes() + b"\x00")
    with pytest.raises(VaultError, match="after its final segment"):
        Vault.open(vault_path, KEY)


def test_not_a_vault(tmp_path: Path) -> None:
    """A file that is not a vault says so."""
    path = tmp_path / "records.csv"
    path.write_text("id,name\n1,Ann\n")
    with pytest.raises(VaultError, match="not a linkage vault"):
        Vault.open(path, KEY)


def test_future_format_version(vault_path: Path) -> None:
    """A vault from a newer format version asks for an upgrade."""
    data = vault_path.read_bytes()
    vault_path.write_bytes(
        data.replace(b"linkage-vault v2\n", b"linkage-vault v3\n", 1)
    )
    with pytest.raises(VaultError, match="upgrade linkage"):
        Vault.open(vault_path, KEY)


def test_missing_vault(tmp_path: Path) -> None:
    """A missing vault file is a VaultError naming it."""
    with pytest.raises(VaultError, match="does not exist"):
        Vault.open(tmp_path / "nope.vault", KEY)


def test_lookup_unknown_pseudonym(vault_path: Path) -> None:
    """An unknown pseudonym raises a LinkageError that is also a KeyError."""
    vault = Vault.open(vault_path, KEY)
    with pytest.raises(PseudonymNotFoundError) as caught:
        vault.lookup("nobody")
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, LinkageError)
    assert str(caught.value) == "pseudonym 'nobody' is not in this vault"


# Resolving the operator's results.


def _results(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small_vault(tmp_path: Path) -> Vault:
    """A vault of three records with non-ASCII identities."""
    path = tmp_path / "small.vault"
    with VaultWriter(path, KEY, ["name", "dob"]) as writer:
        writer.add(
            ["pa", "pb", "pc"],
            ["R1", "R2", "R3"],
            [
                ["Ana Núñez", "1980-01-02"],
                ["Björk", "1990-03-04"],
                ["李雷", "2000-05-06"],
            ],
        )
    return Vault.open(path, KEY)


def test_resolve_happy_path(tmp_path: Path, small_vault: Vault) -> None:
    """Each result row becomes record_id,match_id in an 0600 file."""
    results = _results(tmp_path / "r.csv", "pseudonym,match_id\npa,m1\npc,m1\npb,m2\n")
    out = tmp_path / "out.csv"
    summary = resolve_results(results, small_vault, out)
    assert (summary.rows, summary.match_ids) == (3, 2)
    assert out.read_text(encoding="utf-8").splitlines() == [
        "record_id,match_id",
        "R1,m1",
        "R3,m1",
        "R2,m2",
    ]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_resolve_with_identity_and_extra_columns(
    tmp_path: Path, small_vault: Vault
) -> None:
    """Extra columns are carried through and identity fields appended on request."""
    results = _results(
        tmp_path / "r.csv", "score,pseudonym,match_id\n0.93,pc,m7\n0.88,pa,m7\n"
    )
    out = tmp_path / "out.csv"
    resolve_results(results, small_vault, out, include_identity=True)
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["record_id", "match_id", "score", "name", "dob"],
        ["R3", "m7", "0.93", "李雷", "2000-05-06"],
        ["R1", "m7", "0.88", "Ana Núñez", "1980-01-02"],
    ]


def test_resolve_header_only(tmp_path: Path, small_vault: Vault) -> None:
    """Results with no rows resolve to a header-only file."""
    results = _results(tmp_path / "r.csv", "pseudonym,match_id\n")
    summary = resolve_results(results, small_vault, tmp_path / "out.csv")
    assert (summary.rows, summary.match_ids) == (0, 0)
    assert (tmp_path / "out.csv").read_bytes() == b"record_id,match_id\r\n"


def test_resolve_unknown_pseudonym(tmp_path: Path, small_vault: Vault) -> None:
    """An unknown pseudonym names the file and row, says why, and writes nothing."""
    results = _results(
        tmp_path / "r.csv", "pseudonym,match_id\npa,m1\nzz,m1\npb,m2\nqq,m3\n"
    )
    out = tmp_path / "out.csv"
    with pytest.raises(InputError) as caught:
        resolve_results(results, small_vault, out)
    message = str(caught.value)
    assert f"results file {results}, row 2, field 'pseudonym'" in message
    assert "row 4" in message
    assert "another agency or to another vault" in message
    assert "2 rows that cannot be resolved" in message
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "small.vault"]


def test_resolve_keeps_existing_output_on_error(
    tmp_path: Path, small_vault: Vault
) -> None:
    """A failed resolve leaves an existing output file untouched."""
    results = _results(tmp_path / "r.csv", "pseudonym,match_id\nzz,m1\n")
    out = tmp_path / "out.csv"
    out.write_text("keep me")
    with pytest.raises(InputError):
        resolve_results(results, small_vault, out)
    assert out.read_text() == "keep me"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("pseudonym,score\npa,1\n", "no 'match_id' column"),
        ("id,match\n", "no 'pseudonym' column"),
        ("pseudonym,match_id,match_id\n", "appears more than once"),
        ("pseudonym,match_id,record_id\npa,m,x\n", "duplicate columns"),
        ("pseudonym,match_id\npa\n", "expected 2 columns"),
        ("pseudonym,match_id\npa,\n", "field 'match_id': is empty"),
    ],
    ids=["empty", "no-match-id", "no-pseudonym", "dup", "clash", "short", "blank"],
)
def test_resolve_invalid_results(
    tmp_path: Path, small_vault: Vault, text: str, expected: str
) -> None:
    """Empty or malformed results files are InputErrors naming the file."""
    results = _results(tmp_path / "r.csv", text)
    with pytest.raises(InputError, match=expected) as caught:
        resolve_results(results, small_vault, tmp_path / "out.csv")
    assert str(results) in str(caught.value)
    assert not (tmp_path / "out.csv").exists()


def test_resolve_missing_results(tmp_path: Path, small_vault: Vault) -> None:
    """A missing results file is an InputError naming it."""
    with pytest.raises(InputError, match="does not exist"):
        resolve_results(tmp_path / "none.csv", small_vault, tmp_path / "out.csv")


def test_resolve_non_utf8_results(tmp_path: Path, small_vault: Vault) -> None:
    """A results file that is not UTF-8 is an InputError."""
    results = tmp_path / "r.csv"
    results.write_bytes(b"pseudonym,match_id\n\xff\xfe,m1\n")
    with pytest.raises(InputError, match="not UTF-8"):
        resolve_results(results, small_vault, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_resolve_caps_reported_problems(tmp_path: Path, small_vault: Vault) -> None:
    """Thousands of unknown rows are counted, but only the first are listed."""
    body = "".join(f"x{i},m\n" for i in range(5000))
    results = _results(tmp_path / "r.csv", "pseudonym,match_id\n" + body)
    with pytest.raises(InputError) as caught:
        resolve_results(results, small_vault, tmp_path / "out.csv")
    assert "5000 rows that cannot be resolved" in str(caught.value)
    assert len(caught.value.problems) == 100
    assert "  ... and 4,980 more" in str(caught.value)  # Not 80: all are counted.


def test_header_names_fields_but_no_values(vault_path: Path) -> None:
    """The clear header holds the format, field names and a 16-byte file id."""
    data = vault_path.read_bytes()
    start = data.index(b"\n") + 1
    (size,) = struct.unpack(">I", data[start : start + 4])
    header = json.loads(data[start + 4 : start + 4 + size])
    assert header["version"] == 2
    assert header["field_names"] == list(FIELDS)
    assert len(bytes.fromhex(header["file_id"])) == 16


def test_two_vaults_differ(tmp_path: Path) -> None:
    """Writing the same rows twice gives different files (fresh id and nonces)."""
    _write_vault(tmp_path / "a", 10)
    _write_vault(tmp_path / "b", 10)
    assert (tmp_path / "a").read_bytes() != (tmp_path / "b").read_bytes()


def test_writer_into_missing_directory(tmp_path: Path) -> None:
    """A vault in a missing directory is a VaultError naming it."""
    path = tmp_path / "missing" / "v"
    with pytest.raises(VaultError, match="cannot write vault file"):
        VaultWriter(path, KEY, FIELDS).__enter__()


def test_add_after_close_is_refused(tmp_path: Path) -> None:
    """Rows added after the with block are refused, not silently lost."""
    with VaultWriter(tmp_path / "v", KEY, FIELDS) as writer:
        pass
    with pytest.raises(VaultError, match="outside its `with` block"):
        writer.add(["a"], ["1"], [["x", "y", "z"]])


@pytest.mark.parametrize(
    "line",
    [
        b'["p2","r2","a","b","c"],["p3","r3","a","b","c"]',  # two rows, one line
        b'["p2","r2","a","b"',  # a row cut short
        b'"p2","r2","a","b","c"',  # not a list
        b'["p2","r2","a","b",3]',  # not a string
        b'["p2","r2","a","b"]',  # a field short
        b'["p1","r9","a","b","c"]',  # a pseudonym twice
    ],
)
def test_rows_the_writer_never_writes_are_refused(tmp_path: Path, line: bytes) -> None:
    """Rows sealed with the right key but not as the writer writes them (a
    faulty tool, or a key holder's forgery) are refused, not half-read."""
    path = tmp_path / "odd.vault"
    with VaultWriter(path, KEY, FIELDS) as writer:
        writer.add(["p1"], ["r1"], [["a", "b", "c"]])
        writer._add_line(line + b"\n")
    with pytest.raises(VaultError, match="damaged or incomplete"):
        Vault.open(path, KEY)
