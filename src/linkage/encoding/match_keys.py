"""Match keys: a keyed hash of each combination of fields a record holds whole.

A CLK diffused for privacy forgives a typo but not a whole field that
differs: a move, a street written another way, a field one agency left
empty. A match key forgives nothing inside it but ignores every field
outside it: two records with the same full name and date of birth share the
key of those three fields wherever they live. National statistics offices
link on several such keys side by side (Randall et al., "Privacy preserving
linkage using multiple match-keys", IJPDS 2019); here they sit beside the
CLK, which keeps the typos.

Each key is HMAC-SHA256 under its own key, derived from the linkage secret
with HKDF under the schema's fingerprint and the key's fields, over the
record's prepared values (as the CLK hashes them), each length-prefixed so
that no two combinations run together; its first 16 bytes are sent. Without
the secret nobody can compute a key or tell anything from one but equality:
the operator learns which records agree exactly on a key's fields. A record
that lacks a field of a key (empty, missing, or invalid) has no key: 16 zero
bytes. ``linkage privacy-check`` attacks the keys' equality structure too.

A member written ``soundex(field)`` takes the field's Soundex code in place
of its value (:mod:`linkage.encoding.phonetic`), so "smith" and "smyth" give
one key. A key holding both fields of the schema's ``either_order`` pair
takes their two values (or codes) sorted, so a record with the given name
and the surname swapped (a common error, more so with names from other
cultures) keeps its key.

Unique keys (the schema's ``unique_keys``) come after the match keys and are
made alike, then settled over the whole file (:func:`settle_unique_keys`):
a record whose value another person in the file shares, or that has none,
gets 16 random bytes instead. Rows that share every ordinary match key (or,
without one, their whole encoding) are taken for one person
(:func:`person_digests`), who keeps the key on the first of them only.
Within one file every unique key is then distinct, so it shows nobody who
shares a name with whom (the equality attack sees no class in it); a random
stand-in matches nothing anywhere.

The ordinary match keys are settled too (:func:`first_rows`,
:func:`hide_repeated_keys`): a person recorded twice (every ordinary key
shared) sends them on the first row only, the later rows random stand-ins.
Two records of one file sharing a key would tell the operator, and anyone
holding the file, who is recorded twice, a class the equality attack reads
(measured on the demo's exports, 12 secrets: 0.83 % of health's records
and 0.93 % of police's re-identified on average, up to 1.5 % in a draw,
with the keys on every row; 0.73 % and 0.77 %, up to 1.2 %, on first rows
only; the graph and linear attackers, which do not read keys, unchanged).
The agency keeps which row is whose first in its vault and joins the later
rows to the first row's group when it resolves its results
(:mod:`linkage.encoding.repeats`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from linkage.encoding.columns import ColumnValues, factorize
from linkage.encoding.phonetic import PHONETIC
from linkage.encoding.values import prepare_values
from linkage.formats.clkfile import MATCH_KEY_BYTES, MOST_SHARING, match_key_columns
from linkage.formats.extension import KeyMember, key_fields
from linkage.formats.schema import MATCH_KEY_LABEL, Feature, LinkageSchema

__all__ = [
    "MatchKeyMaker",
    "first_rows",
    "hide_repeated_keys",
    "match_key_secret",
    "person_digests",
    "settle_unique_keys",
]

_LABEL = MATCH_KEY_LABEL + b"v1/"
_NO_VALUE = -1


def match_key_secret(
    secret: bytes, schema: LinkageSchema, fields: Sequence[str]
) -> bytes:
    """The HMAC key of the match key of ``fields`` under ``schema``."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=bytes.fromhex(schema.fingerprint),
        info=_LABEL + ",".join(fields).encode("utf-8"),
    ).derive(secret)


class MatchKeyMaker:
    """Makes the match keys the schema's ``linkage`` block lists."""

    def __init__(self, schema: LinkageSchema, secret: bytes) -> None:
        self.keys = schema.extension.all_keys
        self._features = {f.identifier: f for f in schema.encoded_features}
        self._secrets = [match_key_secret(secret, schema, key) for key in self.keys]
        self._either_order = schema.extension.either_order

    @property
    def width(self) -> int:
        """Bytes of match keys per record."""
        return MATCH_KEY_BYTES * len(self.keys)

    def make(
        self, columns: Mapping[str, ColumnValues], count: int
    ) -> npt.NDArray[np.uint8]:
        """The match keys of ``count`` records, ``(count, width)`` bytes."""
        keys = np.zeros((count, self.width), dtype=np.uint8)
        if not count:
            return keys
        needed = {member for key in self.keys for member in key}
        values = {member: self._prepared(member, columns) for member in needed}
        for members, secret, column in zip(
            self.keys, self._secrets, match_key_columns(keys), strict=True
        ):
            held = [values[member] for member in members]
            fields = key_fields(members)
            swap = self._either_order
            if swap is not None and set(swap) <= set(fields):
                first, second = fields.index(swap[0]), fields.index(swap[1])
                held[first], held[second] = _in_either_order(held[first], held[second])
            column[:] = _hashed(secret, held)
        return keys

    def _prepared(
        self, member: str, columns: Mapping[str, ColumnValues]
    ) -> tuple[npt.NDArray[np.intp], list[bytes]]:
        """Each record's distinct value of a key member (``-1``: none) and
        the distinct values as the CLK hashes them (or their phonetic
        codes), UTF-8."""
        wanted = KeyMember.parse(member)
        feature = self._features[wanted.field]
        codes, distinct = factorize(columns[wanted.field])
        prepared, errors = prepare_values(feature, distinct)
        if wanted.code is not None:
            prepared = [PHONETIC[wanted.code](text) for text in prepared]
        usable = np.array(
            [
                position not in errors and text != "" and not _missing(feature, raw)
                for position, (raw, text) in enumerate(
                    zip(distinct, prepared, strict=True)
                )
            ],
            dtype=np.bool_,
        )
        codes = np.where(usable[codes], codes, _NO_VALUE) if len(distinct) else codes
        return codes, [text.encode("utf-8") for text in prepared]


def settle_unique_keys(
    keys: npt.NDArray[np.uint8],
    unique: int,
    persons: npt.NDArray[np.uint8],
) -> list[npt.NDArray[np.intp]]:
    """Give the last ``unique`` key columns of a whole file's ``keys`` a
    random stand-in wherever a value is missing, held by another person
    too, or held by an earlier row of the same person, in place; the rows
    given one, per unique column.

    ``persons`` (:func:`person_digests`, a row each) says which rows are
    taken for one person. A person recorded twice keeps the key on one
    row: no value repeats within the file, so the key shows nobody who
    belongs with whom there.
    """
    columns = match_key_columns(keys)
    person = _codes(persons)
    people = int(person.max(initial=0)) + 1
    changed = []
    for column in columns[len(columns) - unique :]:
        value = _codes(column)
        holders = np.bincount(_distinct(value * people + person) // people)
        order = np.argsort(value, kind="stable")
        kept = np.zeros(len(value), dtype=bool)
        kept[order[_starts(value[order])]] = True
        rows = np.flatnonzero((holders[value] > 1) | ~kept | ~column.any(axis=1))
        random = secrets.token_bytes(MATCH_KEY_BYTES * len(rows))
        column[rows] = np.frombuffer(random, np.uint8).reshape(-1, MATCH_KEY_BYTES)
        changed.append(rows)
    return changed


def first_rows(keys: npt.NDArray[np.uint8], ordinary: int) -> npt.NDArray[np.intp]:
    """Each row's first row of the same person by the ``ordinary`` match
    keys: the first row holding the same value of every one of them, where
    at most :data:`~linkage.formats.clkfile.MOST_SHARING` rows do (one sound
    of the names and one birth date, as the matcher takes them). A row
    without every key, or of a value held more widely, is its own first row.
    """
    first = np.arange(len(keys), dtype=np.intp)
    keyed = _holds_every_key(keys, ordinary)
    if not keyed.any():
        return first
    rows = np.flatnonzero(keyed)
    columns = match_key_columns(keys[rows, : ordinary * MATCH_KEY_BYTES])
    codes = _codes(columns[0])
    if len(columns) > 1:
        every = np.stack([_codes(column) for column in columns], axis=1)
        codes = np.unique(every, axis=0, return_inverse=True)[1].reshape(-1)
    _, earliest, counts = np.unique(codes, return_index=True, return_counts=True)
    shared = (counts[codes] > 1) & (counts[codes] <= MOST_SHARING)
    first[rows[shared]] = rows[earliest[codes[shared]]]
    return first


def hide_repeated_keys(
    keys: npt.NDArray[np.uint8], ordinary: int, first: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp]:
    """Give the ``ordinary`` match keys of every row that is not its own
    ``first`` row (:func:`first_rows`) random stand-ins, in place; the rows
    given them."""
    rows = np.flatnonzero(first != np.arange(len(first)))
    width = ordinary * MATCH_KEY_BYTES
    random = secrets.token_bytes(width * len(rows))
    keys[rows, :width] = np.frombuffer(random, np.uint8).reshape(-1, width)
    return rows


def _holds_every_key(
    keys: npt.NDArray[np.uint8], ordinary: int
) -> npt.NDArray[np.bool_]:
    """Whether each row holds a value of each of the ``ordinary`` keys."""
    if not ordinary or not len(keys):
        return np.zeros(len(keys), dtype=bool)
    parts = match_key_columns(keys[:, : ordinary * MATCH_KEY_BYTES])
    held: npt.NDArray[np.bool_] = np.logical_and.reduce(
        [part.any(axis=1) for part in parts]
    )
    return held


def person_digests(
    clks: npt.NDArray[np.uint8], keys: npt.NDArray[np.uint8], ordinary: int
) -> npt.NDArray[np.uint8]:
    """What the rows of one person share, 16 bytes a row: a digest of its
    ``ordinary`` match keys where it has every one and no more than
    :data:`~linkage.formats.clkfile.MOST_SHARING` rows share them (one sound
    of the names and one birth date: what the key itself takes for one
    person), else of its whole encoding (rows alike in every field held)."""
    ordinary_keys = keys[:, : ordinary * MATCH_KEY_BYTES]
    keyed = _holds_every_key(keys, ordinary)
    digests = np.empty((len(clks), MATCH_KEY_BYTES), np.uint8)
    digests[keyed] = _digests(ordinary_keys[keyed])
    codes = _codes(digests[keyed])
    keyed[keyed] = np.bincount(codes)[codes] <= MOST_SHARING
    digests[~keyed] = _digests(clks[~keyed])
    return digests


def _digests(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A 16-byte BLAKE2b digest of each row."""
    digests = np.empty((len(rows), MATCH_KEY_BYTES), np.uint8)
    for number, row in enumerate(rows):
        digest = hashlib.blake2b(row.tobytes(), digest_size=MATCH_KEY_BYTES)
        digests[number] = np.frombuffer(digest.digest(), np.uint8)
    return digests


def _codes(rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """A code per distinct row of keyed-hash bytes, from its first 8 bytes:
    two different keys agree there by chance once in 2**64, and then only
    lose a key (a stand-in), never make a false match."""
    prefix = np.ascontiguousarray(rows[:, :8]).view("<u8").ravel()
    return np.unique(prefix, return_inverse=True)[1].astype(np.intp)


def _distinct(values: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The distinct ``values``, sorted."""
    ordered = np.sort(values)
    return ordered[_starts(ordered)]


def _starts(ordered: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Where each run of equal values in ``ordered`` starts."""
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    return starts


Prepared = tuple[npt.NDArray[np.intp], list[bytes]]


def _in_either_order(first: Prepared, second: Prepared) -> tuple[Prepared, Prepared]:
    """Two fields' values recoded over their joint values, each record's pair
    sorted: the lesser value first, whichever field held it."""
    texts = sorted(set(first[1]) | set(second[1]))
    code_of = {text: code for code, text in enumerate(texts)}
    recoded = [
        np.array([code_of[text] for text in column[1]] or [0], dtype=np.intp)[
            np.maximum(column[0], 0)
        ]
        for column in (first, second)
    ]
    missing = (first[0] == _NO_VALUE) | (second[0] == _NO_VALUE)
    low = np.where(missing, _NO_VALUE, np.minimum(*recoded))
    high = np.where(missing, _NO_VALUE, np.maximum(*recoded))
    return (low, texts), (high, texts)


def _missing(feature: Feature, raw: str) -> bool:
    # A missing-value sentinel is replaced before hashing into the CLK, but
    # the replacement says nothing of the person: it makes no key.
    missing = feature.missing_value
    return missing is not None and raw == missing.sentinel


def _hashed(secret: bytes, fields: list[Prepared]) -> npt.NDArray[np.uint8]:
    """One key per record: each distinct combination of values hashed once."""
    combined, inverse = _combinations([codes for codes, _ in fields])
    held = (combined != _NO_VALUE).all(axis=1)
    messages = np.zeros(int(held.sum()), dtype=object)
    messages[:] = b""
    for column, (_, texts) in enumerate(fields):
        prefixed = np.array(
            [len(text).to_bytes(4, "big") + text for text in texts] or [b""],
            dtype=object,
        )
        # Object arrays add their bytes elementwise, in one C loop.
        messages = messages + prefixed[combined[held, column]]
    table = np.zeros((len(combined), MATCH_KEY_BYTES), dtype=np.uint8)
    digests = b"".join(
        [
            hmac.digest(secret, message, "sha256")[:MATCH_KEY_BYTES]
            for message in messages.tolist()
        ]
    )
    table[held] = np.frombuffer(digests, dtype=np.uint8).reshape(-1, MATCH_KEY_BYTES)
    return table[inverse]


def _combinations(
    codes: list[npt.NDArray[np.intp]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The distinct rows of the fields' codes side by side, and each
    record's row among them. One integer per record where the codes fit in
    63 bits (sorting integers is far faster than sorting rows)."""
    stacked = np.stack(codes, axis=1)
    sizes = [int(c.max(initial=-1)) + 2 for c in codes]  # -1 (no value) too.
    if float(np.prod(sizes, dtype=np.float64)) >= 2**62:
        rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
        return rows, inverse.reshape(-1)
    number = np.zeros(len(stacked), dtype=np.int64)
    for column, size in enumerate(sizes):
        number = number * size + (stacked[:, column] + 1)
    _, first, inverse = np.unique(number, return_index=True, return_inverse=True)
    return stacked[first], inverse.reshape(-1)
