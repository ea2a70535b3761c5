"""Tests for the encodings file formats in `linkage.formats.clkfile`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from linkage.errors import EncodingFileError
from linkage.formats.clkfile import (
    FORMAT_VERSION,
    MAGIC,
    ClkhashJsonWriter,
    EncodingHeader,
    Encodings,
    EncodingWriter,
    clk_bytes_for,
    format_pseudonyms,
    open_writer,
    parse_pseudonyms,
    read_encodings,
    starts_like_clkhash_json,
)

FINGERPRINT = hashlib.sha256(b"schema").hexdigest()
PREAMBLE = struct.Struct("<8sHHQI")


def make_header(bit_length: int = 1024, **changes: Any) -> EncodingHeader:
    """Build a valid header, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "schema_fingerprint": FINGERPRINT,
        "bit_length": bit_length,
        "key_check": "a1b2c3",
    }
    return EncodingHeader(**(fields | changes))


def random_records(
    count: int, bit_length: int = 1024, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random pseudonyms and CLKs for ``count`` records."""
    rng = np.random.default_rng(seed)
    pseudonyms = rng.integers(0, 256, (count, 16), dtype=np.uint8)
    clks = rng.integers(0, 256, (count, clk_bytes_for(bit_length)), dtype=np.uint8)
    return pseudonyms, clks


def write_binary(
    path: Path, count: int = 3, bit_length: int = 1024, checksum: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Write a small linkage encodings file and return what was written."""
    pseudonyms, clks = random_records(count, bit_length)
    with EncodingWriter(path, make_header(bit_length), checksum=checksum) as writer:
        writer.write(pseudonyms, clks)
    return pseudonyms, clks


def handmade_binary(
    header: dict[str, Any] | bytes,
    *,
    version: int = FORMAT_VERSION,
    flags: int = 0,
    count: int = 0,
    records: bytes = b"",
) -> bytes:
    """Assemble a binary file by hand, so broken files can be made on purpose."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return PREAMBLE.pack(MAGIC, version, flags, count, len(raw)) + raw + records


def header_dict(**changes: Any) -> dict[str, Any]:
    """A valid header as the JSON object a file stores."""
    header = make_header(record_count=changes.pop("record_count", 0))
    stored = {
        "schema_fingerprint": header.schema_fingerprint,
        "bit_length": header.bit_length,
        "key_check": header.key_check,
        "record_count": header.record_count,
        "encoding": header.encoding,
        "created_by": header.created_by,
        "format_version": header.format_version,
        "extensions": header.extensions,
    }
    return stored | changes


def read_error(path: Path) -> str:
    """Read ``path``, expect EncodingFileError, and return its message."""
    with pytest.raises(EncodingFileError) as info:
        read_encodings(path)
    message = str(info.value)
    assert str(path) in message
    return message


# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

bit_lengths = st.one_of(
    st.sampled_from([1, 7, 8, 9, 1000, 1023, 1024]), st.integers(1, 2100)
)


@st.composite
def record_chunks(draw: st.DrawFn) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """A bit length and a list of (pseudonyms, clks) chunks, some possibly empty."""
    bit_length = draw(bit_lengths)
    width = clk_bytes_for(bit_length)
    chunks = []
    for count in draw(st.lists(st.integers(0, 12), max_size=4)):
        pseudonyms = draw(hnp.arrays(np.uint8, (count, 16)))
        clks = draw(hnp.arrays(np.uint8, (count, width)))
        chunks.append((pseudonyms, clks))
    return bit_length, chunks


@settings(max_examples=60, deadline=None)
@given(data=record_chunks(), checksum=st.booleans(), as_strings=st.booleans())
def test_binary_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    data: tuple[int, list[tuple[np.ndarray, np.ndarray]]],
    checksum: bool,
    as_strings: bool,
) -> None:
    """Chunks written to a binary file read back as the same records and header."""
    bit_length, chunks = data
    path = tmp_path_factory.mktemp("binary") / "out.lnk"
    header = make_header(bit_length, extensions={"note": ["é", 1]})
    with EncodingWriter(path, header, checksum=checksum) as writer:
        for pseudonyms, clks in chunks:
            given_pseudonyms = (
                format_pseudonyms(pseudonyms) if as_strings else pseudonyms
            )
            writer.write(given_pseudonyms, clks)
    encodings = read_encodings(path)
    width = clk_bytes_for(bit_length)
    expected_pseudonyms = np.concatenate(
        [np.empty((0, 16), np.uint8)] + [p for p, _ in chunks]
    )
    expected_clks = np.concatenate(
        [np.empty((0, width), np.uint8)] + [c for _, c in chunks]
    )
    np.testing.assert_array_equal(encodings.pseudonyms, expected_pseudonyms)
    np.testing.assert_array_equal(encodings.clks, expected_clks)
    assert encodings.header == replace(header, record_count=len(expected_clks))
    assert encodings.bit_length == bit_length
    assert len(encodings) == len(expected_clks)


@settings(max_examples=60, deadline=None)
@given(data=record_chunks())
def test_clkhash_json_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    data: tuple[int, list[tuple[np.ndarray, np.ndarray]]],
) -> None:
    """Chunks written as clkhash JSON read back as the same CLKs in row order."""
    bit_length, chunks = data
    path = tmp_path_factory.mktemp("json") / "out.json"
    with ClkhashJsonWriter(path, bit_length) as writer:
        for pseudonyms, clks in chunks:
            writer.write(pseudonyms, clks)
    encodings = read_encodings(path)
    expected = [row.tobytes() for _, clks in chunks for row in clks]
    assert [row.tobytes() for row in encodings.clks] == expected
    assert encodings.header is None
    assert encodings.pseudonyms is None
    assert encodings.pseudonym_strings() == [str(i) for i in range(len(expected))]
    document = json.loads(path.read_text())
    assert document == {"clks": [base64.b64encode(clk).decode() for clk in expected]}


@given(st.lists(st.binary(min_size=16, max_size=16), max_size=20))
def test_pseudonym_strings_round_trip(raw: list[bytes]) -> None:
    """Pseudonyms turn into 32 lowercase hex characters and back unchanged."""
    array = np.frombuffer(b"".join(raw), np.uint8).reshape(len(raw), 16)
    strings = format_pseudonyms(array)
    assert strings == [value.hex() for value in raw]
    np.testing.assert_array_equal(parse_pseudonyms(strings), array)


@pytest.mark.parametrize("fmt", ["linkage", "clkhash-json"])
def test_zero_records(tmp_path: Path, fmt: Any) -> None:
    """A file with no records round-trips in both formats."""
    path = tmp_path / "empty.out"
    with open_writer(path, fmt, make_header(1000)):
        pass
    encodings = read_encodings(path)
    assert len(encodings) == 0
    assert encodings.pseudonym_strings() == []
    if fmt == "linkage":
        assert encodings.clks.shape == (0, 125)
        assert encodings.header is not None
        assert encodings.header.record_count == 0
    else:
        assert encodings.clks.shape == (0, 0)


@pytest.mark.parametrize(("bit_length", "width"), [(1000, 125), (1023, 128)])
def test_bit_length_not_multiple_of_eight(
    tmp_path: Path, bit_length: int, width: int
) -> None:
    """The CLK takes ceil(bit_length / 8) bytes and the bit length is kept."""
    path = tmp_path / "odd.lnk"
    pseudonyms, clks = write_binary(path, count=5, bit_length=bit_length)
    encodings = read_encodings(path)
    assert encodings.clks.shape == (5, width)
    assert encodings.bit_length == bit_length
    np.testing.assert_array_equal(encodings.clks, clks)
    np.testing.assert_array_equal(encodings.pseudonyms, pseudonyms)


@pytest.mark.parametrize("fmt", ["linkage", "clkhash-json"])
def test_two_hundred_thousand_records(tmp_path: Path, fmt: Any) -> None:
    """200,000 records in several chunks round-trip quickly in both formats."""
    pseudonyms, clks = random_records(200_000, seed=7)
    path = tmp_path / "big.out"
    with open_writer(path, fmt, make_header()) as writer:
        for start in range(0, 200_000, 70_000):
            stop = start + 70_000
            writer.write(pseudonyms[start:stop], clks[start:stop])
    encodings = read_encodings(path)
    np.testing.assert_array_equal(encodings.clks, clks)
    if fmt == "linkage":
        np.testing.assert_array_equal(encodings.pseudonyms, pseudonyms)
        assert encodings.pseudonym_strings()[-1] == pseudonyms[-1].tobytes().hex()


def test_byte_layout(tmp_path: Path) -> None:
    """The file is magic, preamble, padded JSON header, records, then SHA-256."""
    path = tmp_path / "layout.lnk"
    pseudonyms, clks = write_binary(path, count=2, bit_length=12)
    data = path.read_bytes()
    magic, version, flags, count, length = PREAMBLE.unpack_from(data)
    assert (magic, version, flags, count) == (b"LNKCLK\r\n", 1, 1, 2)
    header = json.loads(data[24 : 24 + length])
    assert header["record_count"] == 2
    assert header["bit_length"] == 12
    assert header["created_by"].startswith("linkage ")
    records = data[24 + length : -32]
    assert records == b"".join(
        p.tobytes() + c.tobytes() for p, c in zip(pseudonyms, clks, strict=True)
    )
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()


def test_no_checksum_flag(tmp_path: Path) -> None:
    """Without a checksum the flag is clear and no trailer is written."""
    path = tmp_path / "plain.lnk"
    write_binary(path, count=4, bit_length=1024, checksum=False)
    data = path.read_bytes()
    _, _, flags, _, length = PREAMBLE.unpack_from(data)
    assert flags == 0
    assert len(data) == 24 + length + 4 * (16 + 128)


def test_clkhash_sample_by_hand(tmp_path: Path) -> None:
    """A hand-written clkhash file (with a BOM and indentation) is read in order."""
    path = tmp_path / "clks.json"
    text = '{\n  "clks": [\n    "AAECAw==",\n    "//79/A=="\n  ]\n}\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    encodings = read_encodings(path)
    assert encodings.clks.tolist() == [[0, 1, 2, 3], [255, 254, 253, 252]]
    assert encodings.bit_length == 32
    assert encodings.pseudonym_strings() == ["0", "1"]
    assert encodings.source == path


def test_encodings_helpers() -> None:
    """Encodings reports its length, bit length and pseudonyms as hex."""
    pseudonyms = parse_pseudonyms(["00" * 16, "ff" * 16])
    clks = np.zeros((2, 3), np.uint8)
    encodings = Encodings(make_header(20), pseudonyms, clks, Path("x.lnk"))
    assert len(encodings) == 2
    assert encodings.bit_length == 20
    assert encodings.pseudonym_strings() == ["00" * 16, "ff" * 16]


# ---------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["linkage", "clkhash-json"])
def test_exception_leaves_no_file(tmp_path: Path, fmt: Any) -> None:
    """An exception inside the writer leaves neither the target nor a temp file."""
    pseudonyms, clks = random_records(3)
    with (
        pytest.raises(RuntimeError),
        open_writer(tmp_path / "x", fmt, make_header()) as w,
    ):
        w.write(pseudonyms, clks)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["linkage", "clkhash-json"])
def test_exception_keeps_existing_file(tmp_path: Path, fmt: Any) -> None:
    """An exception inside the writer leaves an existing target byte for byte."""
    path = tmp_path / "x"
    path.write_bytes(b"previous contents")
    pseudonyms, clks = random_records(3)
    with (
        pytest.raises(ValueError, match="clks must be"),
        open_writer(path, fmt, make_header()) as writer,
    ):
        writer.write(pseudonyms, clks)
        writer.write(pseudonyms, clks[:, :5])
    assert path.read_bytes() == b"previous contents"
    assert list(tmp_path.iterdir()) == [path]


def test_failed_rename_keeps_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, the error names the file and nothing changes."""
    path = tmp_path / "x.lnk"
    path.write_bytes(b"previous contents")

    def refuse(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(EncodingFileError, match="No space left") as info:
        write_binary(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"previous contents"
    assert list(tmp_path.iterdir()) == [path]


def test_success_replaces_existing_file(tmp_path: Path) -> None:
    """A clean exit replaces an existing target and leaves no temp file."""
    path = tmp_path / "x.lnk"
    path.write_bytes(b"previous contents")
    write_binary(path, count=1)
    assert len(read_encodings(path)) == 1
    assert list(tmp_path.iterdir()) == [path]


def test_writer_in_missing_directory(tmp_path: Path) -> None:
    """A target in a missing directory is an EncodingFileError saying what to do."""
    path = tmp_path / "nowhere" / "x.lnk"
    with pytest.raises(EncodingFileError, match="directory exists") as info:
        EncodingWriter(path, make_header())
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------
# Writer input checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pseudonyms", "clks", "message"),
    [
        (np.zeros((2, 16), np.uint8), np.zeros((2, 127), np.uint8), r"\(n, 128\)"),
        (np.zeros((2, 16), np.uint8), np.zeros((2, 128), np.int64), "dtype int64"),
        (np.zeros((2, 16), np.uint8), np.zeros(128, np.uint8), "shape"),
        (np.zeros((3, 16), np.uint8), np.zeros((2, 128), np.uint8), r"\(2, 16\)"),
        (["00" * 16], np.zeros((2, 128), np.uint8), "1 pseudonyms for 2 clks"),
        (["00" * 16, "AB" * 16], np.zeros((2, 128), np.uint8), r"pseudonym \[1\]"),
        (["0" * 31, "00" * 16], np.zeros((2, 128), np.uint8), r"pseudonym \[0\]"),
    ],
)
def test_write_rejects_bad_input(
    tmp_path: Path, pseudonyms: Any, clks: np.ndarray, message: str
) -> None:
    """write() rejects arrays of the wrong type or shape, saying what it expected."""
    with (
        pytest.raises(ValueError, match=message),
        EncodingWriter(tmp_path / "x.lnk", make_header()) as writer,
    ):
        writer.write(pseudonyms, clks)
    assert list(tmp_path.iterdir()) == []


def test_write_after_close(tmp_path: Path) -> None:
    """Writing to a closed writer is an error."""
    writer = EncodingWriter(tmp_path / "x.lnk", make_header())
    writer.close()
    with pytest.raises(ValueError, match="already closed"):
        writer.write(*random_records(1))


def test_clkhash_writer_needs_one_width(tmp_path: Path) -> None:
    """Without a bit length, every chunk must match the first chunk's width."""
    with (
        pytest.raises(ValueError, match=r"\(n, 4\)"),
        ClkhashJsonWriter(tmp_path / "x.json") as writer,
    ):
        writer.write([], np.zeros((1, 4), np.uint8))
        writer.write([], np.zeros((1, 5), np.uint8))


def test_open_writer_unknown_format(tmp_path: Path) -> None:
    """open_writer names the formats it knows."""
    with pytest.raises(ValueError, match="'linkage', 'clkhash-json'"):
        open_writer(tmp_path / "x", "csv", make_header())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schema_fingerprint": "abc"}, "'schema_fingerprint' must be 64 lowercase"),
        ({"bit_length": 0}, "'bit_length' must be an integer from 1"),
        ({"bit_length": True}, "'bit_length' must be an integer"),
        ({"key_check": "XYZ"}, "'key_check' must be 1 to 64 lowercase hex"),
        ({"record_count": -1}, "'record_count' must be an integer from 0"),
        ({"encoding": ""}, "'encoding' must be a non-empty string"),
        ({"extensions": []}, "'extensions' must be a JSON object"),
    ],
)
def test_header_rejects_bad_values(changes: dict[str, Any], message: str) -> None:
    """EncodingHeader checks every field and names the one that is wrong."""
    with pytest.raises(ValueError, match=message):
        make_header(**changes)


def test_writer_rejects_unserialisable_extensions(tmp_path: Path) -> None:
    """Extensions must survive JSON, or the writer refuses before writing."""
    with pytest.raises(ValueError, match="JSON-compatible"):
        EncodingWriter(tmp_path / "x.lnk", make_header(extensions={"x": {1, 2}}))
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_other_format_version(tmp_path: Path) -> None:
    """The writer writes only the versions this linkage knows."""
    with pytest.raises(ValueError, match="writes only those"):
        EncodingWriter(tmp_path / "x.lnk", make_header(format_version=3))


def test_version_two_is_for_match_keys_only() -> None:
    """Version 2 means the records carry match keys; version 1 that they do
    not, so a reader of version 1 never misreads a file with keys."""
    with pytest.raises(ValueError, match="must be 2 with match keys"):
        make_header(format_version=2)
    keys = {"match_keys": [["given_name", "date_of_birth"]]}
    with pytest.raises(ValueError, match="must be 2 with match keys"):
        make_header(extensions=keys)
    assert make_header(format_version=2, extensions=keys).key_bytes == 16


# ---------------------------------------------------------------------------
# Reader errors
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is reported as such."""
    assert "no such encodings file" in read_error(tmp_path / "absent.lnk")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A directory is reported as unreadable, not as a crash."""
    assert "cannot open the encodings file" in read_error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    """An empty file is reported as empty."""
    path = tmp_path / "empty.lnk"
    path.write_bytes(b"")
    assert "the file is empty" in read_error(path)


def test_unknown_format(tmp_path: Path) -> None:
    """A file that is neither format says what both should start with."""
    path = tmp_path / "records.csv"
    path.write_text("given_name,surname\nAnna,Smith\n")
    message = read_error(path)
    assert "not an encodings file" in message
    assert "LNKCLK" in message
    assert "clkhash" in message


def test_text_mode_damage(tmp_path: Path) -> None:
    """A magic whose line ending was rewritten points at a text-mode copy."""
    path = tmp_path / "x.lnk"
    write_binary(path)
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n", 1))
    assert "copy it again in binary mode" in read_error(path)


def test_unsupported_version(tmp_path: Path) -> None:
    """A newer format version says which versions are supported and to upgrade."""
    path = tmp_path / "x.lnk"
    path.write_bytes(handmade_binary(header_dict(format_version=3), version=3))
    message = read_error(path)
    assert "format version 3 is not supported" in message
    assert "reads version(s) 1, 2" in message
    assert "upgrade linkage" in message


def test_unknown_flags(tmp_path: Path) -> None:
    """Reserved flag bits are refused with advice to upgrade."""
    path = tmp_path / "x.lnk"
    path.write_bytes(handmade_binary(header_dict(), flags=0x0100))
    assert "unknown flags 0x0100" in read_error(path)


@pytest.mark.parametrize("keep", [10, 30, -1, -40])
def test_truncated(tmp_path: Path, keep: int) -> None:
    """A file cut short anywhere says so and how big it should be."""
    path = tmp_path / "x.lnk"
    write_binary(path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    message = read_error(path)
    assert "the file is truncated" in message
    assert f"holds {len(data[:keep])} bytes" in message


def test_trailing_bytes(tmp_path: Path) -> None:
    """Bytes after the last record are reported as damage."""
    path = tmp_path / "x.lnk"
    write_binary(path, checksum=False)
    path.write_bytes(path.read_bytes() + b"xx")
    assert "2 unexpected bytes" in read_error(path)


def test_checksum_mismatch(tmp_path: Path) -> None:
    """One flipped bit in a CLK is caught by the checksum."""
    path = tmp_path / "x.lnk"
    write_binary(path)
    data = bytearray(path.read_bytes())
    data[-40] ^= 0x01
    path.write_bytes(bytes(data))
    message = read_error(path)
    assert "checksum mismatch" in message
    assert "copy it again" in message


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"{not json", "the header is not valid UTF-8 JSON"),
        (b"\xff\xfe", "the header is not valid UTF-8 JSON"),
        (b"[1, 2]", "the header must be a JSON object (got list)"),
        (
            json.dumps({"bit_length": 8}).encode(),
            "missing 'created_by', 'encoding', 'extensions'",
        ),
        (json.dumps(header_dict(colour="red")).encode(), "unknown key(s) 'colour'"),
        (json.dumps(header_dict(bit_length="8")).encode(), "'bit_length' must be"),
        (
            json.dumps(header_dict(record_count=5)).encode(),
            "disagrees with the preamble",
        ),
    ],
)
def test_bad_header(tmp_path: Path, header: bytes, message: str) -> None:
    """A header that is not JSON, lacks keys or has bad values is reported."""
    path = tmp_path / "x.lnk"
    path.write_bytes(handmade_binary(header))
    assert message in read_error(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"clks": [', "not valid JSON"),
        ('{"data": []}', "no 'clks' key"),
        ('["AAAA"]', "the JSON must be an object (got list)"),
        ('{"clks": "AAAA"}', "'clks' must be a list of base64 strings (got str)"),
        ('{"clks": ["AAAA", "AA*A"]}', "clks[1] is not standard base64"),
        ('{"clks": ["AAAA", "AAA"]}', "clks[1] is not standard base64"),
        ('{"clks": ["AAAA", 7]}', "clks[1] is not standard base64"),
        ('{"clks": ["AAAA", "Ä==="]}', "clks[1] is not standard base64"),
        ('{"clks": [""]}', "clks[0] is empty"),
        (
            '{"clks": ["AAAA", "AAAA", "AAAAAA=="]}',
            "clks[2] has 4 bytes but clks[0] has 3",
        ),
    ],
)
def test_bad_clkhash_json(tmp_path: Path, text: str, message: str) -> None:
    """Bad clkhash JSON names the file and the index of the bad entry."""
    path = tmp_path / "clks.json"
    path.write_text(text, encoding="utf-8")
    assert message in read_error(path)


def test_absent_fields_are_declared_and_checked() -> None:
    """The fields an agency does not hold travel in the header, checked."""
    header = make_header(extensions={"absent_fields": ["date_of_birth", "sex"]})
    assert header.absent_fields == ("date_of_birth", "sex")
    assert make_header().absent_fields == ()
    for bad in ("sex", ["sex", "sex"], ["", "sex"], [1]):
        with pytest.raises(ValueError, match="absent_fields"):
            make_header(extensions={"absent_fields": bad})


_BOMB = b"[" * 100_000


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"clks": ' + _BOMB, id="clkhash-json"),
        pytest.param(
            PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, 1, len(_BOMB)) + _BOMB,
            id="linkage-header",
        ),
    ],
)
def test_json_nested_too_deeply_is_a_file_error(tmp_path: Path, content: bytes) -> None:
    """Not a RecursionError: the file is at fault, and the message says how."""
    path = tmp_path / "bomb.enc"
    path.write_bytes(content)
    with pytest.raises(EncodingFileError, match="nested too deeply"):
        read_encodings(path)


def test_clkhash_json_is_told_by_its_first_bytes(tmp_path: Path) -> None:
    json_file = tmp_path / "clks.json"
    json_file.write_bytes(b'\xef\xbb\xbf \n{"clks": [' + b"x" * 10_000)
    binary = tmp_path / "clks.lnk"
    binary.write_bytes(PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, 0, 2) + b"{}")
    assert starts_like_clkhash_json(json_file)
    assert not starts_like_clkhash_json(binary)


def keyed_header() -> EncodingHeader:
    return make_header(
        bit_length=64,
        format_version=2,
        extensions={"match_keys": [["given_name", "date_of_birth"]] * 2},
    )


def test_match_keys_round_trip_after_each_clk(tmp_path: Path) -> None:
    """Version 2 records carry their match keys after the CLK; a damaged
    byte among them is caught by the checksum like any other."""
    rng = np.random.default_rng(3)
    clks = rng.integers(0, 256, (5, 8), dtype=np.uint8)
    keys = rng.integers(0, 256, (5, 32), dtype=np.uint8)
    pseudonyms = rng.integers(0, 256, (5, 16), dtype=np.uint8)
    path = tmp_path / "keyed.lnk"
    with EncodingWriter(path, keyed_header()) as writer:
        writer.write(pseudonyms[:2], clks[:2], keys[:2])
        writer.write(pseudonyms[2:], clks[2:], keys[2:])
    read = read_encodings(path)
    assert read.header is not None and read.header.format_version == 2
    assert np.array_equal(read.clks, clks)
    assert read.match_keys is not None and np.array_equal(read.match_keys, keys)
    raw = bytearray(path.read_bytes())
    raw[-33] ^= 1  # The last key's last byte, before the checksum.
    path.write_bytes(bytes(raw))
    assert "checksum mismatch" in read_error(path)


def test_a_keyed_file_needs_every_records_keys(tmp_path: Path) -> None:
    clks = np.zeros((2, 8), dtype=np.uint8)
    pseudonyms = np.zeros((2, 16), dtype=np.uint8)
    with EncodingWriter(tmp_path / "x.lnk", keyed_header()) as writer:
        with pytest.raises(ValueError, match=r"shape \(2, 32\)"):
            writer.write(pseudonyms, clks)
        with pytest.raises(ValueError, match=r"shape \(2, 32\)"):
            writer.write(pseudonyms, clks, np.zeros((2, 16), dtype=np.uint8))
    with EncodingWriter(tmp_path / "y.lnk", make_header(bit_length=64)) as plain:
        with pytest.raises(ValueError, match="listing 0 key"):
            plain.write(pseudonyms, clks, np.zeros((2, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match="one row per CLK"):
        Encodings(None, None, clks, tmp_path, match_keys=np.zeros((1, 32), np.uint8))
