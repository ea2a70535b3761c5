"""The pseudonym vault: pseudonym → the agency's own record ID and identity.

Each encoded record gets a random pseudonym; only the pseudonym leaves the
agency. The vault, sealed with the agency's own vault key, maps it back. It
never leaves the agency. When the linkage operator sends back results
(``pseudonym,match_id``), :func:`resolve_results` turns them into the agency's
record IDs.

File format, version 2 (all integers big-endian)::

    b"linkage-vault v2\\n"                          magic and format version
    u32 header length, header                       UTF-8 JSON, in clear
    segment 0, segment 1, ..., segment n-1          data, then repeat segments
    segment n                                       the final segment

The header is a JSON object: ``format`` ("linkage-vault"), ``version`` (2),
``cipher`` ("AES-256-GCM"), ``file_id`` (16 random bytes, hex),
``field_names`` (the identity fields, in order) and ``segment_bytes`` (the
target plaintext size of a segment, at most 4 MiB by default).

Each segment is ``u8 final flag, u32 ciphertext length, 12-byte nonce,
ciphertext`` sealed with AES-256-GCM (``cryptography``'s ``AESGCM``) under a
fresh random nonce. Its associated data is the magic, the header length and
header, then ``u64 segment index, u8 final flag``: so a segment moved,
dropped, repeated, or taken from another vault (another ``file_id``) does not
open, and a changed header opens nothing.

A data segment's plaintext is UTF-8 JSON lines, one per record:
``[pseudonym, record_id, identity values...]`` in ``field_names`` order. A
repeat segment's (flag 2) are ``[pseudonym, first_pseudonym]``: a later
record of a person recorded more than once and the person's first record,
which alone sent the match keys (:mod:`linkage.encoding.match_keys`); the
agency joins the one to the other's group when it resolves results. The
final segment's plaintext is a JSON object ``{"records": N, "repeats": R,
"segments": n}``; the vault ends right after it. The counts live there, not
in the header, because the header is written (and bound into every segment)
before the rows are known; a vault without its final segment is reported as
truncated. Version 1 had no repeat segments and no ``repeats`` count; it is
read as a vault without repeats.
"""

from __future__ import annotations

import json
import secrets
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from linkage.atomic import private_output
from linkage.encoding.keyfiles import KEY_BYTES
from linkage.errors import InputError, LinkageError, SecretError, VaultError

__all__ = [
    "DEFAULT_SEGMENT_BYTES",
    "FORMAT_VERSION",
    "PseudonymNotFoundError",
    "Vault",
    "VaultEntry",
    "VaultWriter",
]

FORMAT_VERSION: Final = 2
# Read too: version 1 has no repeat segments.
_READABLE: Final = (1, 2)
#: Target plaintext size of one sealed segment.
DEFAULT_SEGMENT_BYTES: Final = 4 * 1024 * 1024

_MAGIC_PREFIX: Final = b"linkage-vault v"
_MAGIC: Final = _MAGIC_PREFIX + f"{FORMAT_VERSION}\n".encode("ascii")
_MAGICS: Final = {_MAGIC_PREFIX + f"{v}\n".encode("ascii"): v for v in _READABLE}
_U32: Final = struct.Struct(">I")
_FRAME: Final = struct.Struct(">BI")
_POSITION: Final = struct.Struct(">QB")
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_FILE_ID_BYTES: Final = 16
_MAX_HEADER_BYTES: Final = 1024 * 1024
# No segment we write comes near this; a larger length means a damaged file.
_MAX_SEGMENT_BYTES: Final = 64 * 1024 * 1024
_DATA: Final = 0
_FINAL: Final = 1
_REPEATS: Final = 2


class PseudonymNotFoundError(LinkageError, KeyError):
    """The vault holds no record under this pseudonym."""

    def __str__(self) -> str:
        # KeyError would show the repr of the message, quotes and all.
        return str(self.args[0])


@dataclass(frozen=True)
class VaultEntry:
    """One record of the vault: its pseudonym, record ID and identity fields."""

    pseudonym: str
    record_id: str
    identity: dict[str, str]


def _cipher(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise SecretError(
            f"a vault key must be {KEY_BYTES} bytes (got {len(key)} bytes). "
            "Create one with `linkage keygen --out FILE`."
        )
    return AESGCM(key)


def _associated_data(prefix: bytes, index: int, flag: int) -> bytes:
    return prefix + _POSITION.pack(index, flag)


def _header_bytes(field_names: Sequence[str], segment_bytes: int) -> bytes:
    header = {
        "format": "linkage-vault",
        "version": FORMAT_VERSION,
        "cipher": "AES-256-GCM",
        "file_id": secrets.token_bytes(_FILE_ID_BYTES).hex(),
        "field_names": list(field_names),
        "segment_bytes": segment_bytes,
    }
    return json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()


class VaultWriter:
    """Write a vault, row batch by row batch, with bounded memory.

    Use it as a context manager. The vault appears at ``path`` (mode 0600)
    only when the block ends cleanly; if it raises, nothing is left behind and
    a file already at ``path`` is untouched.

    Example:
        >>> with VaultWriter(path, key, ["name", "dob"]) as writer:  # doctest: +SKIP
        ...     writer.add(["p1"], ["R-17"], [["Ana", "1990-02-01"]])
    """

    def __init__(
        self,
        path: Path,
        key: bytes,
        field_names: Sequence[str],
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        if not 1 <= segment_bytes <= _MAX_SEGMENT_BYTES // 2:
            raise ValueError(
                f"'segment_bytes' must be in 1..{_MAX_SEGMENT_BYTES // 2} "
                f"(got {segment_bytes})"
            )
        self._path = path
        self._cipher = _cipher(key)
        self._field_names = tuple(field_names)
        self._segment_bytes = segment_bytes
        header = _header_bytes(self._field_names, segment_bytes)
        self._prefix = _MAGIC + _U32.pack(len(header)) + header
        self._stack = ExitStack()
        self._out: BinaryIO | None = None
        self._lines: list[bytes] = []
        self._buffered = 0
        self._segments = 0
        self._records = 0
        self._repeats = 0
        self._kind = _DATA

    def __enter__(self) -> Self:
        try:
            self._out = self._stack.enter_context(private_output(self._path))
            self._out.write(self._prefix)
        except OSError as error:
            self._stack.close()
            raise self._cannot_write(error) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                self._stack.__exit__(exc_type, exc, tb)
                return
            # Any error while finishing reaches the stack, which drops the file.
            with self._stack:
                self._flush()
                summary = {
                    "records": self._records,
                    "repeats": self._repeats,
                    "segments": self._segments,
                }
                self._seal(json.dumps(summary).encode(), _FINAL)
        except OSError as error:
            raise self._cannot_write(error) from None
        finally:
            self._out = None
            self._lines = []

    def _cannot_write(self, error: OSError) -> VaultError:
        return VaultError(f"cannot write vault file {self._path}: {error.strerror}")

    def add(
        self,
        pseudonyms: Sequence[str],
        record_ids: Sequence[str],
        identities: Sequence[Sequence[str]],
    ) -> None:
        """Append records; ``identities[i]`` holds values in field-name order.

        Raises:
            InputError: the sequences differ in length, or a value is not a
                string, or an identity has the wrong number of values.
        """
        if self._out is None:
            raise VaultError("VaultWriter.add() called outside its `with` block")
        if not len(pseudonyms) == len(record_ids) == len(identities):
            raise InputError(
                "vault rows must come in sequences of one length (got "
                f"{len(pseudonyms)} pseudonyms, {len(record_ids)} record IDs, "
                f"{len(identities)} identities)"
            )
        if self._kind != _DATA:
            raise VaultError("VaultWriter.add() called after add_repeats()")
        for row in zip(pseudonyms, record_ids, identities, strict=True):
            self._add_line(self._encode_row(*row))
        self._records += len(pseudonyms)

    def add_repeats(self, repeats: Sequence[str], firsts: Sequence[str]) -> None:
        """File ``repeats[i]`` as a later record of the person whose first
        record is ``firsts[i]``, both added already; after every record.

        Raises:
            InputError: the sequences differ in length, or a pseudonym is
                not a string.
        """
        if self._out is None:
            raise VaultError(
                "VaultWriter.add_repeats() called outside its `with` block"
            )
        if len(repeats) != len(firsts):
            raise InputError(
                f"repeats and first records must pair up (got {len(repeats)} "
                f"and {len(firsts)})"
            )
        if self._kind == _DATA:
            self._flush()
            self._kind = _REPEATS
        for pair in zip(repeats, firsts, strict=True):
            if not all(isinstance(value, str) for value in pair):
                raise InputError("vault pseudonyms must be str")
            line = json.dumps(list(pair), separators=(",", ":"))
            self._add_line(line.encode("utf-8") + b"\n")
        self._repeats += len(repeats)

    def _encode_row(
        self, pseudonym: str, record_id: str, identity: Sequence[str]
    ) -> bytes:
        values = [pseudonym, record_id, *identity]
        if len(identity) != len(self._field_names):
            raise InputError(
                f"an identity must have {len(self._field_names)} values, one per "
                f"field {list(self._field_names)} (got {len(identity)})"
            )
        if not all(isinstance(value, str) for value in values):
            raise InputError("vault pseudonyms, record IDs and identities must be str")
        # JSON escapes newlines inside strings, so lines split cleanly.
        line = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        return line.encode("utf-8") + b"\n"

    def _add_line(self, line: bytes) -> None:
        if len(line) > _MAX_SEGMENT_BYTES // 2:
            raise InputError(f"a vault row is too large ({len(line)} bytes)")
        if self._buffered + len(line) > self._segment_bytes:
            self._flush()
        self._lines.append(line)
        self._buffered += len(line)

    def _flush(self) -> None:
        if self._lines:
            self._seal(b"".join(self._lines), self._kind)
            self._segments += 1
        self._lines = []
        self._buffered = 0

    def _seal(self, plaintext: bytes, flag: int) -> None:
        assert self._out is not None
        nonce = secrets.token_bytes(_NONCE_BYTES)
        aad = _associated_data(self._prefix, self._segments, flag)
        sealed = self._cipher.encrypt(nonce, plaintext, aad)
        self._out.write(_FRAME.pack(flag, len(sealed)) + nonce + sealed)


class Vault:
    """An opened vault: look records up by pseudonym, or iterate over them."""

    def __init__(
        self,
        field_names: Sequence[str],
        records: dict[str, tuple[str, tuple[str, ...]]],
        repeats: Mapping[str, str] | None = None,
    ) -> None:
        self._field_names = tuple(field_names)
        self._records = records
        self._repeats = dict(repeats or {})

    @classmethod
    def open(cls, path: Path, key: bytes) -> Vault:
        """Decrypt and check the whole vault at ``path``.

        Raises:
            VaultError: the file is missing or not a vault, the key does not
                open it, or it was altered, reordered or truncated.
            SecretError: ``key`` is not 32 bytes.
        """
        cipher = _cipher(key)
        try:
            with path.open("rb") as file:
                return _VaultReader(path, file, cipher).read()
        except FileNotFoundError:
            raise VaultError(f"vault file {path} does not exist") from None
        except OSError as error:
            raise VaultError(
                f"cannot read vault file {path}: {error.strerror}"
            ) from None

    @property
    def field_names(self) -> tuple[str, ...]:
        """The identity field names, in the order the vault stores them."""
        return self._field_names

    @property
    def repeats(self) -> Mapping[str, str]:
        """Each later record of a person recorded more than once, by
        pseudonym, with the person's first record, which alone sent the
        match keys: the agency's own knowledge, never sent."""
        return self._repeats

    def lookup(self, pseudonym: str) -> VaultEntry:
        """Return the record behind ``pseudonym``.

        Raises:
            PseudonymNotFoundError: the vault has no such pseudonym.
        """
        try:
            record_id, identity = self._records[pseudonym]
        except KeyError:
            raise PseudonymNotFoundError(
                f"pseudonym {pseudonym!r} is not in this vault"
            ) from None
        return VaultEntry(
            pseudonym, record_id, dict(zip(self._field_names, identity, strict=True))
        )

    def __contains__(self, pseudonym: object) -> bool:
        return pseudonym in self._records

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[VaultEntry]:
        for pseudonym in self._records:
            yield self.lookup(pseudonym)


class _VaultReader:
    """Parse and open a vault file, segment by segment."""

    def __init__(self, path: Path, file: BinaryIO, cipher: AESGCM) -> None:
        self._path = path
        self._file = file
        self._cipher = cipher

    def _damaged(self, what: str) -> VaultError:
        return VaultError(f"vault file {self._path} is damaged or incomplete: {what}")

    def _read_exactly(self, size: int, what: str) -> bytes:
        data = self._file.read(size)
        if len(data) != size:
            raise self._damaged(f"it ends inside {what}")
        return data

    def read(self) -> Vault:
        prefix, version, field_names = self._read_header()
        records: dict[str, tuple[str, tuple[str, ...]]] = {}
        repeats: dict[str, str] = {}
        index = 0
        while True:
            flag, plaintext = self._open_segment(prefix, index)
            if flag == _FINAL:
                self._check_summary(
                    plaintext, version, len(records), len(repeats), index
                )
                return Vault(field_names, records, repeats)
            if flag == _REPEATS and version > 1:
                self._load_repeats(plaintext, records, repeats)
            elif flag == _DATA and not repeats:
                self._load_rows(plaintext, len(field_names), records)
            else:
                raise self._damaged(f"segment {index} is out of place")
            index += 1

    def _read_header(self) -> tuple[bytes, int, tuple[str, ...]]:
        magic = self._file.read(len(_MAGIC))
        if magic not in _MAGICS:
            if magic.startswith(_MAGIC_PREFIX):
                readable = " and ".join(str(v) for v in _READABLE)
                raise VaultError(
                    f"vault file {self._path} has a format version this "
                    f"version of linkage cannot read (it reads versions "
                    f"{readable}); upgrade linkage"
                )
            raise VaultError(f"{self._path} is not a linkage vault file")
        (size,) = _U32.unpack(self._read_exactly(_U32.size, "the header"))
        if size > _MAX_HEADER_BYTES:
            raise self._damaged("its header length is implausible")
        header = self._read_exactly(size, "the header")
        prefix = magic + _U32.pack(size) + header
        return prefix, _MAGICS[magic], self._parse_field_names(header)

    def _parse_field_names(self, header: bytes) -> tuple[str, ...]:
        try:
            fields = json.loads(header)["field_names"]
        except (ValueError, KeyError, TypeError):
            raise self._damaged("its header is not valid") from None
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise self._damaged("its header is not valid")
        return tuple(fields)

    def _open_segment(self, prefix: bytes, index: int) -> tuple[int, bytes]:
        frame = self._file.read(_FRAME.size)
        if not frame:
            raise self._damaged("its final segment is missing (truncated file?)")
        if len(frame) != _FRAME.size:
            raise self._damaged(f"it ends inside segment {index}")
        flag, size = _FRAME.unpack(frame)
        if (
            flag not in (_DATA, _FINAL, _REPEATS)
            or not _TAG_BYTES <= size <= _MAX_SEGMENT_BYTES
        ):
            raise self._damaged(f"segment {index} has an invalid frame")
        nonce = self._read_exactly(_NONCE_BYTES, f"segment {index}")
        sealed = self._read_exactly(size, f"segment {index}")
        try:
            plaintext = self._cipher.decrypt(
                nonce, sealed, _associated_data(prefix, index, flag)
            )
        except InvalidTag:
            raise VaultError(
                f"the vault key does not open {self._path}: wrong key, "
                "or the file was altered"
            ) from None
        return flag, plaintext

    def _load_rows(
        self,
        plaintext: bytes,
        width: int,
        records: dict[str, tuple[str, tuple[str, ...]]],
    ) -> None:
        # One JSON array of the rows, parsed at once: a row is one line (JSON
        # escapes newlines in strings), and parsing line by line took most
        # of the time of opening a vault.
        lines = [line for line in plaintext.split(b"\n") if line]
        try:
            rows = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            raise self._damaged("a segment holds invalid rows") from None
        if len(rows) != len(lines):  # A line held more than one row.
            raise self._damaged("a segment holds invalid rows")
        for row in rows:
            if not (
                isinstance(row, list)
                and len(row) == width + 2
                and all(isinstance(value, str) for value in row)
            ):
                raise self._damaged("a segment holds invalid rows")
            if row[0] in records:
                raise self._damaged(f"pseudonym {row[0]!r} appears twice")
            records[row[0]] = (row[1], tuple(row[2:]))

    def _load_repeats(
        self,
        plaintext: bytes,
        records: Mapping[str, object],
        repeats: dict[str, str],
    ) -> None:
        """A repeat segment's pairs: each a later record and its person's
        first record, both in the vault, the first no repeat itself."""
        lines = [line for line in plaintext.split(b"\n") if line]
        try:
            pairs = json.loads(b"[" + b",".join(lines) + b"]")
        except ValueError:
            raise self._damaged("a segment holds invalid repeats") from None
        for pair in pairs:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(p, str) and p in records for p in pair)
                and pair[0] != pair[1]
                and pair[0] not in repeats
            ):
                raise self._damaged("a segment holds invalid repeats")
            repeats[pair[0]] = pair[1]
        if len(pairs) != len(lines) or not repeats.keys().isdisjoint(repeats.values()):
            raise self._damaged("a segment holds invalid repeats")

    def _check_summary(
        self, plaintext: bytes, version: int, records: int, repeats: int, segments: int
    ) -> None:
        try:
            summary = json.loads(plaintext)
        except ValueError:
            raise self._damaged("its final segment is not valid") from None
        expected = {"records": records, "segments": segments}
        if version > 1:
            expected["repeats"] = repeats
        if summary != expected:
            raise self._damaged("its record count does not match its rows")
        if self._file.read(1):
            raise self._damaged("it has data after its final segment")
