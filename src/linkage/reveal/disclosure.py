"""What an agency discloses under a grant, and its ledger of answered grants.

A :class:`Disclosure` is the plaintext an agency seals to the investigator
(see :mod:`linkage.reveal.sealing`): for one match, the records behind the
agency's pseudonyms, limited to the identity fields the grant allows.

Its byte form, version 1, is canonical UTF-8 JSON (sorted keys, no spaces)::

    {"grant_id": 7, "match_id": "m-1", "party": "agency-a", "project_id": 1,
     "records": [{"fields": {"name": "Ana"}, "pseudonym": "p1",
                  "record_id": "R-17"}],
     "request_id": 3, "version": 1}

The :class:`FulfilmentLedger` is the agency's own record of the grants it has
already answered, so a replayed grant is refused even if the server were to
offer it again.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, cast, get_args

from linkage.atomic import private_output
from linkage.encoding.vault import Vault
from linkage.errors import LinkageError

__all__ = [
    "FORMAT_VERSION",
    "DisclosedRecord",
    "Disclosure",
    "DisclosureError",
    "FulfilmentLedger",
    "LedgerAnswer",
    "Outcome",
    "build_disclosure",
]

FORMAT_VERSION: Final = 1

Outcome = Literal["fulfilled", "refused"]
_OUTCOMES: Final = frozenset(get_args(Outcome))
_DISCLOSURE_KEYS: Final = frozenset(
    {"version", "project_id", "request_id", "grant_id", "match_id", "party", "records"}
)
_RECORD_KEYS: Final = frozenset({"pseudonym", "record_id", "fields"})
_LEDGER_KEYS: Final = frozenset(
    {"project_id", "service_key_id", "grant_id", "outcome", "at"}
)
# Lines written since approvals are signed also name the request and agency:
# signed approvals are for a request, so a second grant for the same request
# and agency is a replay even under a new grant ID.
_LEDGER_KEYS_V2: Final = _LEDGER_KEYS | {"request_id", "party"}


class DisclosureError(LinkageError, ValueError):
    """A disclosure cannot be built or read, or the ledger file is damaged."""


@dataclass(frozen=True)
class DisclosedRecord:
    """One disclosed record: its pseudonym, record ID and allowed fields."""

    pseudonym: str
    record_id: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Disclosure:
    """Everything one agency discloses for one match under one grant."""

    project_id: int
    request_id: int
    grant_id: int
    match_id: str
    party: str
    records: tuple[DisclosedRecord, ...]

    def to_bytes(self) -> bytes:
        """Return the canonical UTF-8 JSON form (format version 1)."""
        document = {
            "version": FORMAT_VERSION,
            "project_id": self.project_id,
            "request_id": self.request_id,
            "grant_id": self.grant_id,
            "match_id": self.match_id,
            "party": self.party,
            "records": [
                {
                    "pseudonym": record.pseudonym,
                    "record_id": record.record_id,
                    "fields": record.fields,
                }
                for record in self.records
            ],
        }
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return text.encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Disclosure:
        """Parse what :meth:`to_bytes` produced, strictly.

        ``source`` names where ``data`` came from, for error messages.

        Raises:
            DisclosureError: ``data`` is not a version-1 disclosure.
        """
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DisclosureError(
                f"{source}: not a disclosure (not UTF-8 JSON: {error})"
            ) from None
        return _parse_disclosure(document, source)


def _problem(source: str, message: str) -> DisclosureError:
    return DisclosureError(f"{source}: {message}")


def _require_keys(
    obj: object, keys: frozenset[str], what: str, source: str
) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise _problem(source, f"{what} must be a JSON object")
    if set(obj) != keys:
        missing = sorted(keys - set(obj))
        extra = sorted(str(key) for key in set(obj) - keys)
        raise _problem(
            source, f"{what} has missing fields {missing} or unexpected fields {extra}"
        )
    return obj


def _int_field(obj: dict[str, object], name: str, source: str) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _problem(source, f"'{name}' must be a non-negative integer")
    return value


def _str_field(obj: dict[str, object], name: str, source: str) -> str:
    value = obj[name]
    if not isinstance(value, str) or not value:
        raise _problem(source, f"'{name}' must be a non-empty string")
    return value


def _parse_disclosure(document: object, source: str) -> Disclosure:
    obj = _require_keys(document, _DISCLOSURE_KEYS, "a disclosure", source)
    if obj["version"] != FORMAT_VERSION or isinstance(obj["version"], bool):
        raise _problem(
            source,
            f"unsupported disclosure version {obj['version']!r} "
            f"(this linkage reads version {FORMAT_VERSION})",
        )
    records = obj["records"]
    if not isinstance(records, list) or not records:
        raise _problem(source, "'records' must be a non-empty list")
    return Disclosure(
        project_id=_int_field(obj, "project_id", source),
        request_id=_int_field(obj, "request_id", source),
        grant_id=_int_field(obj, "grant_id", source),
        match_id=_str_field(obj, "match_id", source),
        party=_str_field(obj, "party", source),
        records=tuple(
            _parse_record(record, f"{source}, record {index}")
            for index, record in enumerate(records, start=1)
        ),
    )


def _parse_record(record: object, source: str) -> DisclosedRecord:
    obj = _require_keys(record, _RECORD_KEYS, "a record", source)
    fields = obj["fields"]
    if not isinstance(fields, dict) or not all(
        isinstance(value, str) for value in fields.values()
    ):
        raise _problem(source, "'fields' must be an object of strings")
    return DisclosedRecord(
        pseudonym=_str_field(obj, "pseudonym", source),
        record_id=_str_field(obj, "record_id", source),
        fields=dict(fields),
    )


def build_disclosure(
    *,
    project_id: int,
    request_id: int,
    grant_id: int,
    match_id: str,
    party: str,
    pseudonyms: Sequence[str],
    vault: Vault,
    fields: Sequence[str] | None = None,
) -> Disclosure:
    """Look ``pseudonyms`` up in ``vault`` and disclose only ``fields``.

    ``fields`` (data minimisation) must be vault identity fields; None means
    all of them. Either every pseudonym is found or nothing is disclosed.

    Raises:
        DisclosureError: no pseudonyms, a repeated one, any not in the vault,
            or a field the vault does not hold.
    """
    chosen = _check_fields(vault, fields)
    _check_pseudonyms(vault, pseudonyms)
    records = []
    for pseudonym in pseudonyms:
        entry = vault.lookup(pseudonym)
        allowed = {name: entry.identity[name] for name in chosen}
        records.append(DisclosedRecord(pseudonym, entry.record_id, allowed))
    return Disclosure(
        project_id=project_id,
        request_id=request_id,
        grant_id=grant_id,
        match_id=match_id,
        party=party,
        records=tuple(records),
    )


def _check_fields(vault: Vault, fields: Sequence[str] | None) -> tuple[str, ...]:
    available = vault.field_names
    if fields is None:
        return available
    if isinstance(fields, str):
        # A bare string is a sequence of letters, never what the caller meant.
        raise DisclosureError("'fields' must be a sequence of field names, not a str")
    unknown = [name for name in fields if name not in available]
    if unknown:
        raise DisclosureError(
            f"cannot disclose fields {unknown}: this vault holds only {list(available)}"
        )
    return tuple(dict.fromkeys(fields))


def _check_pseudonyms(vault: Vault, pseudonyms: Sequence[str]) -> None:
    if isinstance(pseudonyms, str):
        raise DisclosureError(
            "'pseudonyms' must be a sequence of pseudonyms, not a str"
        )
    if not pseudonyms:
        raise DisclosureError("a disclosure needs at least one pseudonym (got none)")
    if len(set(pseudonyms)) != len(pseudonyms):
        raise DisclosureError("the pseudonyms to disclose contain duplicates")
    missing = sum(1 for pseudonym in pseudonyms if pseudonym not in vault)
    if missing:
        # Never disclose part of a match: the grant may be for someone else.
        raise DisclosureError(
            f"{missing} of {len(pseudonyms)} pseudonyms are not in this vault: "
            "the grant is for another agency or another vault. Nothing was "
            "disclosed."
        )


@dataclass(frozen=True)
class LedgerAnswer:
    """One answered grant in an agency's ledger (``request_id`` and ``party``
    are None on lines written before approvals were signed)."""

    project_id: int
    service_key_id: str
    grant_id: int
    outcome: Outcome
    at: str
    request_id: int | None = None
    party: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.service_key_id, self.project_id, self.grant_id)

    def same_request(self, project_id: int, request_id: int, party: str) -> bool:
        return (self.project_id, self.request_id, self.party) == (
            project_id,
            request_id,
            party,
        )

    def to_line(self) -> bytes:
        document: dict[str, object] = {
            "project_id": self.project_id,
            "service_key_id": self.service_key_id,
            "grant_id": self.grant_id,
            "outcome": self.outcome,
            "at": self.at,
        }
        if self.request_id is not None and self.party is not None:
            document.update(request_id=self.request_id, party=self.party)
        return json.dumps(document, sort_keys=True, ensure_ascii=False).encode() + b"\n"


class FulfilmentLedger:
    """The agency's local record of grants it already answered.

    A JSON Lines file, one answered grant per line, keyed on
    ``(service_key_id, project_id, grant_id)``: grant IDs alone could repeat
    across services; and, when given, on ``(project_id, request_id, party)``,
    since approvals are signed for a request. Each :meth:`record` checks and
    rewrites the whole file atomically (mode 0600) under an exclusive lock of
    a ``.lock`` file beside it, so two agency processes never both answer one
    grant and a crash never leaves half a line. A missing file is an empty
    ledger.
    """

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        """Where the ledger lives."""
        return self._path

    def answered(
        self,
        project_id: int,
        grant_id: int,
        *,
        service_key_id: str = "",
        request: tuple[int, str] | None = None,
    ) -> str | None:
        """Return the earlier outcome and when (``"fulfilled at ..."``), or None.

        ``request`` (request ID, party) also finds an answer to another grant
        for the same request and agency.

        Raises:
            DisclosureError: the ledger file is unreadable or malformed.
        """
        earlier = _earlier(
            self._read(), (service_key_id, project_id, grant_id), request
        )
        return None if earlier is None else f"{earlier.outcome} at {earlier.at}"

    def record(
        self,
        project_id: int,
        grant_id: int,
        outcome: Outcome,
        at: datetime,
        *,
        service_key_id: str = "",
        request: tuple[int, str] | None = None,
    ) -> None:
        """Record that this grant was answered with ``outcome`` at ``at``.

        The check and the write happen under the ledger's lock: of two
        processes recording one grant, exactly one succeeds. An agency
        records a grant *before* it seals anything, so a crash after this
        call spends the grant rather than letting it be answered twice.

        Raises:
            DisclosureError: the grant (or, with ``request``, another grant for
                that request and agency) is already in the ledger, ``outcome``
                is unknown, ``at`` has no time zone, or the file is malformed
                or cannot be written.
        """
        if outcome not in _OUTCOMES:
            raise DisclosureError(
                f"outcome must be 'fulfilled' or 'refused' (got {outcome!r})"
            )
        if at.tzinfo is None or at.utcoffset() is None:
            raise DisclosureError("the ledger needs a time-zone-aware datetime")
        request_id, party = request if request is not None else (None, None)
        new = LedgerAnswer(
            project_id,
            service_key_id,
            grant_id,
            outcome,
            at.isoformat(),
            request_id,
            party,
        )
        with self._locked():
            entries = self._read()
            earlier = _earlier(entries, new.key, request)
            if earlier is not None:
                # An answered grant stays answered: never overwrite the record.
                raise DisclosureError(
                    f"grant {grant_id} of project {project_id} was already "
                    f"answered ({earlier.outcome} at {earlier.at}, grant "
                    f"{earlier.grant_id}) in {self._path}"
                )
            self._write([*entries, new])

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self._path.with_name(self._path.name + ".lock")
        try:
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise DisclosureError(
                f"cannot open the ledger's lock file {lock_path}: {error.strerror}"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)  # Closing releases the lock.

    def answers(self) -> list[LedgerAnswer]:
        """Every answer in the ledger, oldest first.

        Raises:
            DisclosureError: the ledger file is unreadable or malformed.
        """
        return self._read()

    def _read(self) -> list[LedgerAnswer]:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise DisclosureError(
                f"cannot read ledger file {self._path}: {error.strerror}"
            ) from None
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()  # The newline that ends the last line.
        return [self._parse_line(line, number) for number, line in enumerate(lines, 1)]

    def _parse_line(self, line: bytes, number: int) -> LedgerAnswer:
        where = f"ledger file {self._path}, line {number}"
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _problem(where, "not a JSON object; the ledger is damaged") from None
        keys = (
            _LEDGER_KEYS_V2
            if isinstance(obj, dict) and "party" in obj
            else _LEDGER_KEYS
        )
        obj = _require_keys(obj, keys, "a ledger entry", where)
        outcome = obj["outcome"]
        if outcome not in _OUTCOMES:
            raise _problem(where, f"unknown outcome {outcome!r}")
        service_key_id, at = obj["service_key_id"], obj["at"]
        if not isinstance(service_key_id, str) or not isinstance(at, str):
            raise _problem(where, "'service_key_id' and 'at' must be strings")
        return LedgerAnswer(
            project_id=_int_field(obj, "project_id", where),
            service_key_id=service_key_id,
            grant_id=_int_field(obj, "grant_id", where),
            outcome=cast(Outcome, outcome),
            at=at,
            request_id=_int_field(obj, "request_id", where) if "party" in obj else None,
            party=_str_field(obj, "party", where) if "party" in obj else None,
        )

    def _write(self, entries: Sequence[LedgerAnswer]) -> None:
        try:
            with private_output(self._path) as out:
                out.write(b"".join(entry.to_line() for entry in entries))
        except OSError as error:
            raise DisclosureError(
                f"cannot write ledger file {self._path}: {error.strerror}"
            ) from None


def _earlier(
    entries: Sequence[LedgerAnswer],
    key: tuple[str, int, int],
    request: tuple[int, str] | None,
) -> LedgerAnswer | None:
    for entry in entries:
        if entry.key == key:
            return entry
        if request is not None and entry.same_request(key[1], *request):
            return entry
    return None
