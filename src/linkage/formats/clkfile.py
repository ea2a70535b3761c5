r"""The encodings file: the one place its formats are defined and versioned.

An encodings file is what an agency sends to the neutral linkage operator: one
random pseudonym and one CLK per record, and nothing that names a person. Two
formats are written and read here:

``linkage`` ("linkage encodings v1", binary)
    Pseudonyms, CLKs and a header saying how they were made. Use it between
    `linkage` parties.
``clkhash-json``
    The clkhash ecosystem's ``{"clks": ["<base64>", ...]}``: CLKs in row order,
    standard base64 with padding, no pseudonyms and no header. Use it to hand
    CLKs to anonlink and other clkhash tools.

Byte layout of linkage encodings v1. Integers are unsigned and little-endian;
``H`` is the header length, ``N`` the record count and ``R = 16 + clk_bytes +
key_bytes`` the record size, where ``clk_bytes = ceil(bit_length / 8)`` and
``key_bytes`` is 16 per match key the header lists (0 without)::

    offset        size  field
    0             8     magic b"LNKCLK\r\n"
    8             2     format_version (u16), 1
    10            2     flags (u16): bit 0 set means a SHA-256 trailer follows
                        the records; the other bits are reserved and are 0
    12            8     record_count (u64), N
    20            4     header_length (u32), H
    24            H     header: a UTF-8 JSON object (see EncodingHeader),
                        right-padded with ASCII spaces to H bytes
    24 + H        N*R   records, each:
                          16 bytes         pseudonym, 128 raw bits
                          clk_bytes bytes  CLK, bit order as the encoder wrote
                                           it (clkhash: first bit is the most
                                           significant bit of the first byte)
                          key_bytes bytes  version 2 only: the match keys, 16
                                           bytes each in the header's order,
                                           all zero where the record has none
    24 + H + N*R  32    only if flags bit 0: SHA-256 of bytes [0, 24 + H + N*R)

The ``\r\n`` in the magic makes a transfer that rewrote line endings visible.
``record_count`` is in both the preamble and the header and they must agree, as
must the two ``format_version`` values. Version 2 is version 1 with match keys
(``extensions.match_keys`` in the header); files without them stay version 1,
so readers of version 1 keep reading them. A later version of the format gets a new
``format_version``; readers refuse versions they do not know rather than guess.

Writers stream records to a temporary file in the target's directory and move
it onto the target only when the ``with`` block ends without an exception, so a
reader never sees half a file and a failed run leaves an old file in place. The
temporary file is created with mode 0600, which the target keeps.

Example::

    header = EncodingHeader(
        schema_fingerprint=fingerprint, bit_length=1024, key_check=check
    )
    with open_writer(Path("agency-a.lnk"), "linkage", header) as writer:
        for pseudonyms, clks in chunks:
            writer.write(pseudonyms, clks)
    encodings = read_encodings(Path("agency-a.lnk"))
"""

from __future__ import annotations

import abc
import base64
import binascii
import contextlib
import hashlib
import hmac
import io
import json
import os
import re
import struct
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Literal, Self

import numpy as np
import numpy.typing as npt

from linkage.atomic import is_stream
from linkage.errors import EncodingFileError
from linkage.formats.base64_rows import decode_rows
from linkage.formats.jsondoc import JSONTooDeepError, parse_json

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MATCH_KEYS_VERSION",
    "MATCH_KEY_BYTES",
    "MOST_SHARING",
    "PSEUDONYM_BYTES",
    "SUPPORTED_VERSIONS",
    "BaseEncodingWriter",
    "ClkhashJsonWriter",
    "EncodingHeader",
    "EncodingWriter",
    "Encodings",
    "clk_bytes_for",
    "format_pseudonyms",
    "match_key_columns",
    "open_writer",
    "parse_pseudonyms",
    "read_encodings",
    "read_encodings_bytes",
    "secret_mismatch_hint",
    "starts_like_clkhash_json",
    "write_encodings",
]

MAGIC: Final = b"LNKCLK\r\n"
FORMAT_VERSION: Final = 1
#: The version of files whose records carry match keys after the CLK.
MATCH_KEYS_VERSION: Final = 2
SUPPORTED_VERSIONS: Final = (1, 2)
PSEUDONYM_BYTES: Final = 16
#: Bytes of one match key (a truncated HMAC-SHA256).
MATCH_KEY_BYTES: Final = 16
#: Records that may share one match key value and still be taken for one
#: person: no person has more, so a value shared by more is a placeholder (a
#: date of birth standing for "unknown" beside a common name).
MOST_SHARING: Final = 20
#: Hex digits of the key-check value written now (salted per schema). Files
#: from versions before it was salted carry 16 (unsalted, the same in every
#: project); the length is what tells the two forms apart.
KEY_CHECK_HEX_DIGITS: Final = 32

_PREAMBLE: Final = struct.Struct("<8sHHQI")
_FLAG_CHECKSUM: Final = 0x0001
_KNOWN_FLAGS: Final = _FLAG_CHECKSUM
_CHECKSUM_BYTES: Final = 32
_U64_MAX: Final = 2**64 - 1
# Wide enough for any u64, so the header never grows when the count is patched.
_COUNT_DIGITS: Final = len(str(_U64_MAX))
_READ_CHUNK_RECORDS: Final = 1 << 16
_HASH_CHUNK_BYTES: Final = 1 << 20
_SNIFF_BYTES: Final = 1024

_HEX_RE: Final = re.compile(r"[0-9a-f]+")
_PSEUDONYM_RE: Final = re.compile(r"[0-9a-f]{32}")

_DAMAGED: Final = "the file is damaged; copy it again from the agency that made it"

Uint8Array = npt.NDArray[np.uint8]
Indices = npt.NDArray[np.intp]
Pseudonyms = Uint8Array | Sequence[str]


def _created_by() -> str:
    # Imported late: `linkage/__init__.py` may one day import this module.
    from linkage import __version__

    return f"linkage {__version__}"


def secret_mismatch_hint(key_checks: Sequence[str]) -> str:
    """What to do when the parties' key-check values differ."""
    if len({len(value) for value in key_checks}) > 1:
        return (
            "Some files carry the older, unsalted 16-digit key-check value: "
            "they were encoded by an older version of linkage. Encode them "
            "again with this version (same secret and schema)."
        )
    return "All parties must encode with the same shared secret."


def clk_bytes_for(bit_length: int) -> int:
    """Return how many bytes hold a CLK of ``bit_length`` bits: ceil(bits / 8)."""
    return (bit_length + 7) // 8


# ---------------------------------------------------------------------------
# Pseudonyms
# ---------------------------------------------------------------------------


def match_key_columns(keys: Uint8Array) -> list[Uint8Array]:
    """Records' match keys, ``(n, 16 * K)`` bytes, as one ``(n, 16)`` view
    per key (writable when ``keys`` is)."""
    return [
        keys[:, start : start + MATCH_KEY_BYTES]
        for start in range(0, keys.shape[1], MATCH_KEY_BYTES)
    ]


def parse_pseudonyms(values: Sequence[str]) -> Uint8Array:
    """Turn pseudonyms as users see them (32 lowercase hex) into an (n, 16) array.

    Raises:
        TypeError: ``values`` is a single string.
        ValueError: an entry is not 32 lowercase hex characters; the message
            gives its index.
    """
    if isinstance(values, str):
        raise TypeError("pseudonyms must be a sequence of strings, not one string")
    for index, value in enumerate(values):
        if not isinstance(value, str) or not _PSEUDONYM_RE.fullmatch(value):
            raise ValueError(
                f"pseudonym [{index}] must be 32 lowercase hex characters "
                f"(got {value!r})"
            )
    raw = bytearray.fromhex("".join(values))
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(values), PSEUDONYM_BYTES)


def format_pseudonyms(pseudonyms: Uint8Array) -> list[str]:
    """Turn an (n, 16) pseudonym array into 32-character lowercase hex strings."""
    text = np.ascontiguousarray(pseudonyms, dtype=np.uint8).tobytes().hex()
    width = 2 * PSEUDONYM_BYTES
    return [text[start : start + width] for start in range(0, len(text), width)]


# ---------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int) -> None:
    if type(value) is not int or not minimum <= value <= _U64_MAX:
        raise ValueError(
            f"'{name}' must be an integer from {minimum} to 2**64-1 (got {value!r})"
        )


def _check_hex(name: str, value: object, min_length: int, max_length: int) -> None:
    if (
        not isinstance(value, str)
        or not min_length <= len(value) <= max_length
        or not _HEX_RE.fullmatch(value)
    ):
        size = str(max_length) if min_length == max_length else f"1 to {max_length}"
        raise ValueError(
            f"'{name}' must be {size} lowercase hex characters (got {value!r})"
        )


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' must be a non-empty string (got {value!r})")


@dataclass(frozen=True)
class EncodingHeader:
    """What an encodings file says about how its CLKs were made.

    Writers take ``record_count`` from the records actually written, so leave
    it at 0 when making a header for a writer.

    Attributes:
        schema_fingerprint: SHA-256 (64 lowercase hex) of the linkage schema.
        bit_length: CLK length in bits; each CLK takes ``ceil(bit_length / 8)``
            bytes.
        key_check: a short key-check value (lowercase hex) of the secret, so
            parties can see they used the same secret without revealing it:
            :data:`KEY_CHECK_HEX_DIGITS` digits salted with the schema, or 16
            unsalted ones in files from older versions.
        record_count: number of records in the file.
        encoding: how the CLKs were built; ``"clk"`` for now.
        created_by: the program that wrote the file, ``"linkage <version>"``.
        format_version: version of the file format.
        extensions: JSON-compatible data added by later features:
            ``party``, ``segments`` (per-field filters), ``views`` (CLKs of
            subsets of the fields, after the CLK of all), ``absent_fields``
            (the schema's fields the agency does not hold) and
            ``clk_same_as`` (the view whose CLK it sends as its CLK of every
            field) and ``views_left_empty`` (views it sends as zero bytes,
            holding too little of them): :mod:`linkage.encoding.stand_in`;
            ``match_keys`` (the fields of each match key the records carry
            after the CLK, :mod:`linkage.encoding.match_keys`; version 2);
            ``unique_keys`` (how many of those keys, the last ones, are
            written only where their values are unique in the file, random
            bytes elsewhere).

    Raises:
        ValueError: a field has the wrong type or an impossible value.
    """

    schema_fingerprint: str
    bit_length: int
    key_check: str
    record_count: int = 0
    encoding: str = "clk"
    created_by: str = field(default_factory=_created_by)
    format_version: int = FORMAT_VERSION
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_int("format_version", self.format_version, minimum=1)
        _check_hex("schema_fingerprint", self.schema_fingerprint, 64, 64)
        _check_int("bit_length", self.bit_length, minimum=1)
        _check_hex("key_check", self.key_check, 1, 64)
        _check_int("record_count", self.record_count, minimum=0)
        _check_text("encoding", self.encoding)
        _check_text("created_by", self.created_by)
        if not isinstance(self.extensions, dict):
            raise ValueError(
                f"'extensions' must be a JSON object (got {self.extensions!r})"
            )
        if "segments" in self.extensions:
            _check_segments(self.extensions["segments"], self.bit_length)
        if "absent_fields" in self.extensions:
            _check_absent_fields(self.extensions["absent_fields"])
        if "views" in self.extensions:
            _check_views(self.extensions["views"], self.bit_length)
        if "clk_same_as" in self.extensions:
            _check_same_as(self.extensions["clk_same_as"], self.extensions)
        if "views_left_empty" in self.extensions:
            _check_left_empty(self.extensions["views_left_empty"], self.extensions)
        if "match_keys" in self.extensions:
            _check_match_keys(self.extensions["match_keys"])
        if "unique_keys" in self.extensions:
            _check_unique_keys(self.extensions["unique_keys"], len(self.match_keys))
        if (self.match_keys and self.format_version < MATCH_KEYS_VERSION) or (
            self.format_version == MATCH_KEYS_VERSION and not self.match_keys
        ):
            raise ValueError(
                f"'format_version' must be {MATCH_KEYS_VERSION} with match keys "
                f"and {FORMAT_VERSION} without (got {self.format_version}, "
                f"{len(self.match_keys)} match key(s))"
            )

    @property
    def segments(self) -> tuple[FieldSegment, ...] | None:
        """The per-field filters of each encoding, or None for one CLK."""
        listed = self.extensions.get("segments")
        return None if listed is None else field_segments(listed)

    @property
    def views(self) -> tuple[EncodingView, ...]:
        """Where each CLK of an encoding lies: the CLK of every field ("clk")
        first, then one per view; () for a file without views."""
        listed = self.extensions.get("views", ())
        size = self.clk_bytes // max(len(listed), 1)
        return tuple(
            EncodingView(item["name"], tuple(item["fields"]), number * size, size)
            for number, item in enumerate(listed)
        )

    @property
    def clk_same_as(self) -> str | None:
        """The view whose CLK the agency sends as its CLK of every field
        (it holds no field outside that view), or None."""
        named = self.extensions.get("clk_same_as")
        return str(named) if named is not None else None

    @property
    def views_left_empty(self) -> tuple[str, ...]:
        """The views the agency sends as zero bytes (it holds too little of
        them to send them safely)."""
        return tuple(self.extensions.get("views_left_empty", ()))

    @property
    def absent_fields(self) -> tuple[str, ...]:
        """The schema's fields the agency does not hold at all (encoded empty
        in every record), as its encoder declared them."""
        return tuple(self.extensions.get("absent_fields", ()))

    @property
    def match_keys(self) -> tuple[tuple[str, ...], ...]:
        """The fields of each match key the records carry after the CLK."""
        return tuple(tuple(key) for key in self.extensions.get("match_keys", ()))

    @property
    def ordinary_keys(self) -> tuple[tuple[str, ...], ...]:
        """The fields of each match key written for every record (the unique
        keys left out)."""
        return self.match_keys[: len(self.match_keys) - self.unique_keys]

    @property
    def unique_keys(self) -> int:
        """How many of the match keys, the last ones, are written only where
        their values are unique in the file (random bytes elsewhere)."""
        return int(self.extensions.get("unique_keys", 0))

    @property
    def clk_bytes(self) -> int:
        """Bytes per CLK: ceil(bit_length / 8)."""
        return clk_bytes_for(self.bit_length)

    @property
    def key_bytes(self) -> int:
        """Bytes of match keys per record: 16 per key."""
        return MATCH_KEY_BYTES * len(self.match_keys)

    def to_json_bytes(self) -> bytes:
        """Serialise the header as compact UTF-8 JSON with sorted keys.

        Raises:
            ValueError: ``extensions`` holds something JSON cannot represent.
        """
        try:
            text = json.dumps(
                asdict(self), sort_keys=True, ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"'extensions' must be JSON-compatible ({error})"
            ) from None
        return text.encode("utf-8")


_HEADER_KEYS: Final = frozenset(f.name for f in fields(EncodingHeader))


@dataclass(frozen=True)
class FieldSegment:
    """Where one field's filter lies in each encoding, in bytes."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        """The byte after the segment."""
        return self.start + self.size


def field_segments(listed: Sequence[dict[str, Any]]) -> tuple[FieldSegment, ...]:
    """Where each filter of a header's ``segments`` entry (:func:`segment_list`)
    lies in an encoding, in bytes."""
    offsets = np.cumsum([0] + [item["bits"] for item in listed]).tolist()
    return tuple(
        FieldSegment(item["name"], offset // 8, item["bits"] // 8)
        for item, offset in zip(listed, offsets, strict=False)
    )


def segment_list(segments: Sequence[Any]) -> list[dict[str, Any]]:
    """The header's ``segments`` entry: name and bits of each field's filter."""
    return [{"name": segment.name, "bits": segment.clk_bits} for segment in segments]


def view_list(segments: Sequence[Any]) -> list[dict[str, Any]]:
    """The header's ``views`` entry: name and fields of each CLK of an
    encoding, the CLK of every field ("clk") first."""
    return [{"name": s.name, "fields": list(s.features)} for s in segments]


@dataclass(frozen=True)
class EncodingView:
    """Where one CLK of an encoding lies, in bytes, and the fields it holds."""

    name: str
    fields: tuple[str, ...]
    start: int
    size: int

    @property
    def stop(self) -> int:
        """The byte after the view's CLK."""
        return self.start + self.size


def _check_views(listed: object, bit_length: int) -> None:
    if (
        not isinstance(listed, list)
        or len(listed) < 2
        or not all(
            isinstance(item, dict)
            and set(item) == {"name", "fields"}
            and isinstance(item["name"], str)
            and isinstance(item["fields"], list)
            and all(isinstance(name, str) for name in item["fields"])
            for item in listed
        )
    ):
        raise ValueError(
            '\'extensions.views\' must list two or more {"name", "fields"} '
            'objects ("clk" first), fields a list of identifiers'
        )
    if bit_length % (8 * len(listed)):
        raise ValueError(
            f"'extensions.views' lists {len(listed)} CLKs, but bit_length "
            f"{bit_length} is not {len(listed)} whole-byte CLKs"
        )


def _view_names(extensions: dict[str, Any]) -> list[object]:
    """The names of the views listed after the CLK of every field."""
    listed = extensions.get("views", [])
    return [item.get("name") for item in listed[1:] if isinstance(item, dict)]


def _check_same_as(named: object, extensions: dict[str, Any]) -> None:
    names = _view_names(extensions)
    if not isinstance(named, str) or named not in names:
        raise ValueError(
            "'extensions.clk_same_as' must name one of the file's views "
            f"(got {named!r}; views: {', '.join(map(str, names)) or 'none'})"
        )


def _check_left_empty(named: object, extensions: dict[str, Any]) -> None:
    names = _view_names(extensions)
    if (
        not isinstance(named, list)
        or not all(isinstance(name, str) and name in names for name in named)
        or extensions.get("clk_same_as") in named
    ):
        raise ValueError(
            "'extensions.views_left_empty' must list views of the file other "
            f"than its clk_same_as (got {named!r}; views: "
            f"{', '.join(map(str, names)) or 'none'})"
        )


def _check_match_keys(listed: object) -> None:
    if (
        not isinstance(listed, list)
        or not listed
        or not all(
            isinstance(key, list)
            and len(key) >= 2
            and all(isinstance(name, str) for name in key)
            for key in listed
        )
    ):
        raise ValueError(
            "'extensions.match_keys' must list the fields of each match key, "
            'two or more each: [["f1", "f2"], ...]'
        )


def _check_unique_keys(count: object, keys: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= keys:
        raise ValueError(
            "'extensions.unique_keys' must count the last match keys written "
            f"only where unique: 1 to {keys} (got {count!r})"
        )


def _check_segments(listed: object, bit_length: int) -> None:
    if not isinstance(listed, list) or not all(
        isinstance(item, dict)
        and set(item) == {"name", "bits"}
        and isinstance(item["name"], str)
        and isinstance(item["bits"], int)
        and item["bits"] > 0
        and item["bits"] % 8 == 0
        for item in listed
    ):
        raise ValueError(
            '\'extensions.segments\' must list {"name", "bits"} objects '
            "with bits a positive multiple of 8"
        )
    total = sum(item["bits"] for item in listed)
    if total != bit_length:
        raise ValueError(
            f"'extensions.segments' add up to {total} bits, not bit_length {bit_length}"
        )


def _check_absent_fields(listed: object) -> None:
    if (
        not isinstance(listed, list)
        or not all(isinstance(name, str) and name for name in listed)
        or len(set(listed)) != len(listed)
    ):
        raise ValueError(
            "'extensions.absent_fields' must list distinct field identifiers "
            f"(got {listed!r})"
        )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _parse_header(raw: bytes, path: Path) -> EncodingHeader:
    try:
        document = parse_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, JSONTooDeepError) as error:
        raise EncodingFileError(
            f"{path}: the header is not valid UTF-8 JSON ({error}); {_DAMAGED}"
        ) from None
    if not isinstance(document, dict):
        raise EncodingFileError(
            f"{path}: the header must be a JSON object "
            f"(got {type(document).__name__}); {_DAMAGED}"
        )
    missing = sorted(_HEADER_KEYS - document.keys())
    if missing:
        raise EncodingFileError(
            f"{path}: the header is missing {_quoted(missing)}; {_DAMAGED}"
        )
    unknown = sorted(document.keys() - _HEADER_KEYS)
    if unknown:
        raise EncodingFileError(
            f"{path}: the header has unknown key(s) {_quoted(unknown)}; "
            "upgrade linkage if a newer version wrote the file, otherwise " + _DAMAGED
        )
    try:
        return EncodingHeader(**document)
    except ValueError as error:
        raise EncodingFileError(
            f"{path}: the header is invalid: {error}; {_DAMAGED}"
        ) from None


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Encodings:
    """The contents of an encodings file.

    Attributes:
        header: the header, or None for clkhash JSON, which has none.
        pseudonyms: (n, 16) uint8 array, or None for clkhash JSON.
        clks: (n, clk_bytes) uint8 array.
        source: the file the encodings were read from.
        match_keys: (n, key_bytes) uint8 array of the match keys the header
            lists, or None for a file without them.
    """

    header: EncodingHeader | None
    pseudonyms: Uint8Array | None
    clks: Uint8Array
    source: Path
    match_keys: Uint8Array | None = None

    def __post_init__(self) -> None:
        keys = self.match_keys
        if keys is not None and len(keys) != len(self.clks):
            raise ValueError(
                f"{self.source}: {len(keys)} rows of match keys for "
                f"{len(self.clks)} CLKs; give one row per CLK"
            )

    def __len__(self) -> int:
        return int(self.clks.shape[0])

    @property
    def bit_length(self) -> int:
        """CLK length in bits; for clkhash JSON, 8 times the bytes per CLK."""
        if self.header is not None:
            return self.header.bit_length
        return int(self.clks.shape[1]) * 8

    def pseudonym_strings(self) -> list[str]:
        """Pseudonyms as 32 lowercase hex; for clkhash JSON, the row index."""
        if self.pseudonyms is None:
            return [str(index) for index in range(len(self))]
        return format_pseudonyms(self.pseudonyms)


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def _check_clks(clks: Uint8Array, clk_bytes: int | None) -> Uint8Array:
    if (
        not isinstance(clks, np.ndarray)
        or clks.dtype != np.uint8
        or clks.ndim != 2
        or clks.shape[1] == 0
        or (clk_bytes is not None and clks.shape[1] != clk_bytes)
    ):
        want = "clk_bytes" if clk_bytes is None else str(clk_bytes)
        got = (
            f"dtype {clks.dtype}, shape {clks.shape}"
            if isinstance(clks, np.ndarray)
            else type(clks).__name__
        )
        raise ValueError(f"clks must be a uint8 array of shape (n, {want}) (got {got})")
    return clks


def _check_pseudonyms(pseudonyms: Pseudonyms, count: int) -> Uint8Array:
    if isinstance(pseudonyms, np.ndarray):
        array = pseudonyms
        if array.dtype != np.uint8 or array.shape != (count, PSEUDONYM_BYTES):
            raise ValueError(
                f"pseudonyms must be a uint8 array of shape ({count}, 16) "
                f"(got dtype {array.dtype}, shape {array.shape})"
            )
        return array
    array = parse_pseudonyms(pseudonyms)
    if len(array) != count:
        raise ValueError(
            f"got {len(array)} pseudonyms for {count} clks; give one per clk"
        )
    return array


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable on POSIX; other systems cannot open a directory.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


class BaseEncodingWriter(abc.ABC):
    """Streams records to a temporary file and moves it onto ``path`` at the end.

    Use as a context manager: a clean exit calls :meth:`close`, an exception
    calls :meth:`abort`, which deletes the temporary file and leaves any
    existing ``path`` untouched.

    Raises:
        EncodingFileError: the temporary file cannot be created or written.
    """

    def __init__(self, path: Path, clk_bytes: int | None, opening: bytes) -> None:
        self.path = Path(path)
        self.record_count = 0
        self._clk_bytes = clk_bytes
        self._closed = False
        if is_stream(self.path):
            # Renaming the finished file onto it would replace the device.
            raise EncodingFileError(
                f"{self.path}: is a device or pipe; an encodings file is "
                "finished in place, so give the path of a regular file"
            )
        try:
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
            )
        except OSError as error:
            raise self._io_error(error) from None
        self._temporary = Path(temporary)
        self._file: IO[bytes] = os.fdopen(descriptor, "w+b")
        try:
            self._file.write(opening)
        except OSError as error:
            self.abort()
            raise self._io_error(error) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(
        self,
        pseudonyms: Pseudonyms,
        clks: Uint8Array,
        match_keys: Uint8Array | None = None,
    ) -> None:
        """Append records: one pseudonym (array row or 32 hex) per CLK row,
        and the rows' match keys if the header lists any.

        Raises:
            ValueError: the writer is closed, or the arrays have the wrong
                type or shape.
            EncodingFileError: the file cannot be written (disk full?).
        """
        if self._closed:
            raise ValueError(f"{self.path}: the writer is already closed")
        clks = _check_clks(clks, self._clk_bytes)
        self._clk_bytes = int(clks.shape[1])
        keys = self._checked_keys(match_keys, int(clks.shape[0]))
        try:
            self._write_records(pseudonyms, clks, keys)
        except OSError as error:
            raise self._io_error(error) from None
        self.record_count += int(clks.shape[0])

    def close(self) -> None:
        """Finish the file, flush it to disk and move it onto ``path``.

        Raises:
            EncodingFileError: the file cannot be written; ``path`` is then
                left as it was.
        """
        if self._closed:
            return
        try:
            self._finish()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temporary, self.path)
        except OSError as error:
            self.abort()
            raise self._io_error(error) from None
        except BaseException:
            self.abort()
            raise
        self._closed = True
        _fsync_directory(self.path.parent)

    def abort(self) -> None:
        """Delete the temporary file; ``path`` is left as it was."""
        self._closed = True
        self._file.close()
        self._temporary.unlink(missing_ok=True)

    def overwrite_keys(self, column: int, rows: Indices, keys: Uint8Array) -> None:
        """Replace match key ``column`` of the records already written at
        ``rows`` (0-based, in writing order) with ``keys``, one 16-byte row
        each: how unique keys are settled once a whole file is written.
        Formats without match keys have none to replace (clkhash JSON).

        Raises:
            ValueError: the writer is closed, or a row was not written.
            EncodingFileError: the file cannot be written.
        """
        if self._closed:
            raise ValueError(f"{self.path}: the writer is already closed")
        if len(rows) and not 0 <= int(rows.min()) <= int(rows.max()) < (
            self.record_count
        ):
            raise ValueError(
                f"{self.path}: rows outside the {self.record_count} written"
            )
        try:
            self._overwrite_keys(column, rows, keys)
        except OSError as error:
            raise self._io_error(error) from None

    @abc.abstractmethod
    def _overwrite_keys(self, column: int, rows: Indices, keys: Uint8Array) -> None:
        """Replace keys of records already in ``self._file``."""

    def _io_error(self, error: OSError) -> EncodingFileError:
        return EncodingFileError(
            f"{self.path}: cannot write the encodings file ({error.strerror}); "
            "check that the directory exists, is writable and has free space"
        )

    def _checked_keys(
        self, match_keys: Uint8Array | None, count: int
    ) -> Uint8Array | None:
        """``match_keys`` if this file carries them (else dropped: clkhash
        JSON has no place for them)."""
        return None

    @abc.abstractmethod
    def _write_records(
        self, pseudonyms: Pseudonyms, clks: Uint8Array, keys: Uint8Array | None
    ) -> None:
        """Append validated CLKs (their pseudonyms, match keys) to ``self._file``."""

    @abc.abstractmethod
    def _finish(self) -> None:
        """Complete the temporary file before it is synced and renamed."""


class EncodingWriter(BaseEncodingWriter):
    """Writes a "linkage encodings" file (version 1, or 2 with match keys);
    see the module docstring.

    Args:
        path: the file to create or replace.
        header: the header to store; its ``record_count`` is replaced by the
            number of records written.
        checksum: append a SHA-256 trailer so damage is detected on reading.
            Computing it reads the file back once when the writer closes.

    Raises:
        ValueError: ``header`` is for another format version or its
            ``extensions`` are not JSON-compatible.
        EncodingFileError: the temporary file cannot be created.
    """

    def __init__(
        self, path: Path, header: EncodingHeader, checksum: bool = True
    ) -> None:
        if header.format_version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"'format_version' must be one of {SUPPORTED_VERSIONS}; this "
                f"linkage writes only those (got {header.format_version})"
            )
        self.header = replace(header, record_count=0)
        self._flags = _FLAG_CHECKSUM if checksum else 0
        self._header_length = len(self.header.to_json_bytes()) + _COUNT_DIGITS
        super().__init__(path, header.clk_bytes, self._prefix(record_count=0))

    def _prefix(self, record_count: int) -> bytes:
        header = replace(self.header, record_count=record_count)
        raw = header.to_json_bytes().ljust(self._header_length, b" ")
        preamble = _PREAMBLE.pack(
            MAGIC,
            self.header.format_version,
            self._flags,
            record_count,
            self._header_length,
        )
        return preamble + raw

    def _checked_keys(
        self, match_keys: Uint8Array | None, count: int
    ) -> Uint8Array | None:
        size = self.header.key_bytes
        if match_keys is None and not size:
            return None
        if (
            not isinstance(match_keys, np.ndarray)
            or match_keys.dtype != np.uint8
            or match_keys.shape != (count, size)
            or not size
        ):
            got = (
                f"shape {match_keys.shape}"
                if isinstance(match_keys, np.ndarray)
                else repr(match_keys)
            )
            raise ValueError(
                f"match_keys must be a uint8 array of shape ({count}, {size}) "
                f"for a header listing {len(self.header.match_keys)} key(s) "
                f"(got {got})"
            )
        return match_keys

    def _write_records(
        self, pseudonyms: Pseudonyms, clks: Uint8Array, keys: Uint8Array | None
    ) -> None:
        count, width = int(clks.shape[0]), int(clks.shape[1])
        size = keys.shape[1] if keys is not None else 0
        records = np.empty((count, PSEUDONYM_BYTES + width + size), dtype=np.uint8)
        records[:, :PSEUDONYM_BYTES] = _check_pseudonyms(pseudonyms, count)
        records[:, PSEUDONYM_BYTES : PSEUDONYM_BYTES + width] = clks
        if keys is not None:
            records[:, PSEUDONYM_BYTES + width :] = keys
        self._file.write(records.data)

    def _overwrite_keys(self, column: int, rows: Indices, keys: Uint8Array) -> None:
        width = self._clk_bytes or self.header.clk_bytes
        record = PSEUDONYM_BYTES + width + self.header.key_bytes
        start = (
            _PREAMBLE.size
            + self._header_length
            + PSEUDONYM_BYTES
            + width
            + column * MATCH_KEY_BYTES
        )
        for row, key in zip(rows.tolist(), keys, strict=True):
            self._file.seek(start + row * record)
            self._file.write(key.tobytes())
        self._file.seek(0, os.SEEK_END)

    def _finish(self) -> None:
        self._file.seek(0)
        self._file.write(self._prefix(self.record_count))
        if self._flags & _FLAG_CHECKSUM:
            self._file.flush()
            self._file.write(_digest_while_syncing(self._file))


def _digest_while_syncing(file: IO[bytes]) -> bytes:
    """SHA-256 of the whole file, read back while the disk takes its data.

    The writer syncs the file before renaming it anyway: started here, on
    another thread, that wait and the hashing overlap, both without the GIL
    (a twentieth of a whole ``linkage encode``). The file position is left at
    its end.
    """
    file.seek(0)
    sync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync") as pool:
        synced = pool.submit(sync, file.fileno())
        digest = hashlib.sha256()
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
        synced.result()
    return digest.digest()


class ClkhashJsonWriter(BaseEncodingWriter):
    """Writes clkhash JSON, ``{"clks": ["<base64>", ...]}``; pseudonyms are dropped.

    Args:
        path: the file to create or replace.
        bit_length: if given, every CLK must have ``ceil(bit_length / 8)``
            bytes; otherwise every CLK must have as many as the first.

    Raises:
        EncodingFileError: the temporary file cannot be created.
    """

    def __init__(self, path: Path, bit_length: int | None = None) -> None:
        clk_bytes = None if bit_length is None else clk_bytes_for(bit_length)
        super().__init__(path, clk_bytes, b'{"clks": [')

    def _write_records(
        self, pseudonyms: Pseudonyms, clks: Uint8Array, keys: Uint8Array | None
    ) -> None:
        count = int(clks.shape[0])
        if count == 0:
            return
        lines = [b'"' + base64.b64encode(row.tobytes()) + b'"' for row in clks]
        separator = b"\n" if self.record_count == 0 else b",\n"
        self._file.write(separator + b",\n".join(lines))

    def _overwrite_keys(self, column: int, rows: Indices, keys: Uint8Array) -> None:
        """clkhash JSON drops match keys: there are none to replace."""

    def _finish(self) -> None:
        self._file.write(b"\n]}\n")


def write_encodings(
    path: Path, encodings: Encodings, rows: slice | npt.NDArray[np.int64] | None = None
) -> None:
    """Write ``encodings`` (only ``rows`` of them, if given) as a linkage
    encodings file under their own header, whole or not at all.

    Raises:
        ValueError: they came from clkhash JSON (no header, no pseudonyms).
    """
    header, pseudonyms = encodings.header, encodings.pseudonyms
    if header is None or pseudonyms is None:
        raise ValueError(f"{encodings.source} has no header or pseudonyms to write")
    chosen = slice(None) if rows is None else rows
    keys = encodings.match_keys
    with EncodingWriter(path, header) as writer:
        writer.write(
            pseudonyms[chosen],
            encodings.clks[chosen],
            keys[chosen] if keys is not None else None,
        )


def open_writer(
    path: Path, fmt: Literal["linkage", "clkhash-json"], header: EncodingHeader
) -> BaseEncodingWriter:
    """Open a writer for ``fmt``; clkhash JSON keeps only ``header.bit_length``.

    Raises:
        ValueError: ``fmt`` is not a known format.
        EncodingFileError: the temporary file cannot be created.
    """
    if fmt == "linkage":
        return EncodingWriter(path, header)
    if fmt == "clkhash-json":
        return ClkhashJsonWriter(path, header.bit_length)
    raise ValueError(f"'fmt' must be in ('linkage', 'clkhash-json') (got {fmt!r})")


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


def read_encodings(path: Path) -> Encodings:
    """Read an encodings file, telling linkage binary and clkhash JSON apart.

    Raises:
        EncodingFileError: the file is missing, empty, in an unknown format or
            version, truncated or otherwise damaged. The message names the
            file, says what is wrong and what to do.
    """
    path = Path(path)
    try:
        file = path.open("rb")
    except FileNotFoundError:
        raise EncodingFileError(
            f"{path}: no such encodings file; check the path"
        ) from None
    except OSError as error:
        raise EncodingFileError(
            f"{path}: cannot open the encodings file ({error.strerror}); "
            "check that it is a file you may read"
        ) from None
    with file:
        return _read_open_file(path, file)


def read_encodings_bytes(data: bytes, *, name: str) -> Encodings:
    """Read a linkage binary encodings file held in memory (a few records a
    service receives in a request, never written to its disk).

    ``name`` stands for the file in messages. clkhash JSON is not read here:
    it carries no header, so nothing in it can be checked.

    Raises:
        EncodingFileError: ``data`` is empty, not a linkage encodings file,
            or damaged; the message names ``name``.
    """
    path = Path(name)
    if not data:
        raise EncodingFileError(
            f"{name} is empty; send the file written by 'linkage encode'"
        )
    if not data.startswith(MAGIC):
        raise EncodingFileError(
            f"{name} is not a linkage encodings file: it starts with "
            f"{data[:8]!r}, not {MAGIC!r}; send the file written by "
            "'linkage encode' (clkhash JSON is not accepted here)"
        )
    return _read_binary(path, io.BytesIO(data), len(data))


def _read_open_file(path: Path, file: IO[bytes]) -> Encodings:
    size = os.fstat(file.fileno()).st_size
    if size == 0:
        raise EncodingFileError(
            f"{path}: the file is empty; encode the records again or copy the "
            "file again from the agency that made it"
        )
    head = file.read(_SNIFF_BYTES)
    file.seek(0)
    if head.startswith(MAGIC):
        return _read_binary(path, file, size)
    if head.startswith(MAGIC[:6]):
        raise EncodingFileError(
            f"{path}: the file starts like a linkage encodings file but its "
            f"signature is {head[:8]!r}, not {MAGIC!r}; it was probably copied "
            "in text mode, so copy it again in binary mode"
        )
    if _starts_like_json(head):
        return _read_clkhash_json(path, file)
    raise EncodingFileError(
        f"{path}: not an encodings file: it starts with {head[:8]!r}, but a "
        f"linkage encodings file starts with {MAGIC!r} and a clkhash JSON file "
        "with '{'; give the file written by 'linkage encode' or by clkhash"
    )


def starts_like_clkhash_json(path: Path) -> bool:
    """Whether the file at ``path`` would be read as clkhash JSON; reads only
    its first bytes, so a caller can refuse the format before parsing it.

    Raises:
        OSError: the file cannot be read.
    """
    with Path(path).open("rb") as file:
        return _starts_like_json(file.read(_SNIFF_BYTES))


def _starts_like_json(head: bytes) -> bool:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"{", b"[")


def _truncated(path: Path, size: int, expected: int) -> EncodingFileError:
    return EncodingFileError(
        f"{path}: the file is truncated: it holds {size} bytes but its header "
        f"promises {expected}; copy it again from the agency that made it"
    )


def _read_binary(path: Path, file: IO[bytes], size: int) -> Encodings:
    preamble = file.read(_PREAMBLE.size)
    if len(preamble) < _PREAMBLE.size:
        raise _truncated(path, size, _PREAMBLE.size)
    _, version, flags, count, header_length = _PREAMBLE.unpack(preamble)
    _check_version(path, version, flags)
    raw_header = file.read(header_length)
    if len(raw_header) < header_length:
        raise _truncated(path, size, _PREAMBLE.size + header_length)
    header = _parse_header(raw_header, path)
    _check_header_agrees(path, header, version, count)
    record_bytes = count * (PSEUDONYM_BYTES + header.clk_bytes + header.key_bytes)
    checksum_bytes = _CHECKSUM_BYTES if flags & _FLAG_CHECKSUM else 0
    expected = _PREAMBLE.size + header_length + record_bytes + checksum_bytes
    _check_size(path, size, expected)
    pseudonyms, clks, keys, digest = _read_records(
        path, file, header, preamble + raw_header
    )
    if checksum_bytes and not hmac.compare_digest(file.read(), digest):
        raise EncodingFileError(
            f"{path}: checksum mismatch: the file changed after it was written, "
            "so it is damaged; copy it again from the agency that made it"
        )
    return Encodings(
        header=header, pseudonyms=pseudonyms, clks=clks, source=path, match_keys=keys
    )


def _check_version(path: Path, version: int, flags: int) -> None:
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
        raise EncodingFileError(
            f"{path}: encodings format version {version} is not supported; "
            f"this {_created_by()} reads version(s) {supported}; upgrade linkage "
            "to read this file"
        )
    if flags & ~_KNOWN_FLAGS:
        raise EncodingFileError(
            f"{path}: the file sets unknown flags {flags:#06x}; upgrade linkage "
            "if a newer version wrote the file, otherwise " + _DAMAGED
        )


def _check_header_agrees(
    path: Path, header: EncodingHeader, version: int, count: int
) -> None:
    if header.format_version != version or header.record_count != count:
        raise EncodingFileError(
            f"{path}: the header (format_version {header.format_version}, "
            f"record_count {header.record_count}) disagrees with the preamble "
            f"(format_version {version}, record_count {count}); {_DAMAGED}"
        )


def _check_size(path: Path, size: int, expected: int) -> None:
    if size < expected:
        raise _truncated(path, size, expected)
    if size > expected:
        raise EncodingFileError(
            f"{path}: the file has {size - expected} unexpected bytes after its "
            f"records (it holds {size} bytes, its header promises {expected}); "
            + _DAMAGED
        )


def _read_records(
    path: Path, file: IO[bytes], header: EncodingHeader, prefix: bytes
) -> tuple[Uint8Array, Uint8Array, Uint8Array | None, bytes]:
    """Read the records in chunks; return their pseudonyms, CLKs and match
    keys (None without), and the SHA-256 of prefix + them."""
    digest = hashlib.sha256(prefix)
    parts = [
        ("pseudonym", np.uint8, (PSEUDONYM_BYTES,)),
        ("clk", np.uint8, (header.clk_bytes,)),
    ]
    if header.key_bytes:
        parts.append(("keys", np.uint8, (header.key_bytes,)))
    record = np.dtype(parts)
    count = header.record_count
    pseudonyms = np.empty((count, PSEUDONYM_BYTES), dtype=np.uint8)
    clks = np.empty((count, header.clk_bytes), dtype=np.uint8)
    keys = (
        np.empty((count, header.key_bytes), dtype=np.uint8)
        if header.key_bytes
        else None
    )
    for start in range(0, count, _READ_CHUNK_RECORDS):
        stop = min(start + _READ_CHUNK_RECORDS, count)
        raw = file.read((stop - start) * record.itemsize)
        if len(raw) < (stop - start) * record.itemsize:
            raise EncodingFileError(
                f"{path}: the file shrank while it was read; copy it again"
            )
        digest.update(raw)
        chunk = np.frombuffer(raw, dtype=record)
        pseudonyms[start:stop] = chunk["pseudonym"]
        clks[start:stop] = chunk["clk"]
        if keys is not None:
            keys[start:stop] = chunk["keys"]
    return pseudonyms, clks, keys, digest.digest()


_CLKHASH_SHAPE: Final = 'a clkhash file looks like {"clks": ["<base64>", ...]}'


def _read_clkhash_json(path: Path, file: IO[bytes]) -> Encodings:
    try:
        document = parse_json(file.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, JSONTooDeepError) as error:
        raise EncodingFileError(
            f"{path}: not valid JSON ({error}); {_CLKHASH_SHAPE}"
        ) from None
    if not isinstance(document, dict):
        raise EncodingFileError(
            f"{path}: the JSON must be an object "
            f"(got {type(document).__name__}); {_CLKHASH_SHAPE}"
        )
    if "clks" not in document:
        raise EncodingFileError(f"{path}: no 'clks' key; {_CLKHASH_SHAPE}")
    entries = document["clks"]
    if not isinstance(entries, list):
        raise EncodingFileError(
            f"{path}: 'clks' must be a list of base64 strings "
            f"(got {type(entries).__name__}); {_CLKHASH_SHAPE}"
        )
    clks = _decode_clks(path, entries)
    return Encodings(header=None, pseudonyms=None, clks=clks, source=path)


def _decode_clk(path: Path, index: int, entry: object) -> bytes:
    try:
        if not isinstance(entry, str):
            raise TypeError(f"got {type(entry).__name__}, not a string")
        clk = binascii.a2b_base64(entry, strict_mode=True)
    except (TypeError, ValueError) as error:
        # binascii.Error is a ValueError; non-ASCII text raises ValueError too.
        raise EncodingFileError(
            f"{path}: clks[{index}] is not standard base64 with padding "
            f"({error}): {str(entry)[:24]!r}; re-create the file with clkhash "
            "or 'linkage encode'"
        ) from None
    if not clk:
        raise EncodingFileError(
            f"{path}: clks[{index}] is empty; every CLK must hold at least one byte"
        )
    return clk


def _decode_clks(path: Path, entries: list[Any]) -> Uint8Array:
    if not entries:
        return np.empty((0, 0), dtype=np.uint8)
    rows = decode_rows(entries)
    if rows is not None:
        return rows
    # Entry by entry: slower, and names the first bad one.
    width = len(_decode_clk(path, 0, entries[0]))
    buffer = bytearray(len(entries) * width)
    for index, entry in enumerate(entries):
        clk = _decode_clk(path, index, entry)
        if len(clk) != width:
            raise EncodingFileError(
                f"{path}: clks[{index}] has {len(clk)} bytes but clks[0] has "
                f"{width}; all CLKs in a file must have the same length, so "
                "encode every record with the same schema"
            )
        buffer[index * width : (index + 1) * width] = clk
    return np.frombuffer(buffer, dtype=np.uint8).reshape(len(entries), width)
