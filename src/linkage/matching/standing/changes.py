"""One agency's change set, and the population it leaves behind.

A change set holds records (a pseudonym the agency already has is a
correction, a new one an addition) and withdrawals (pseudonyms to remove).
Applied, it gives the agency's records in the order a full run on the final
data reads them: the records kept in their old order, each corrected one in
its old place, the additions after them. That order is what keeps an update
and a full run tie-breaking equal scores alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError
from linkage.formats.clkfile import (
    EncodingHeader,
    Encodings,
    format_pseudonyms,
    parse_pseudonyms,
)
from linkage.matching.parties import Party, PartySet

__all__ = ["ChangeSet", "Changed", "apply_change_sets"]

Rows = npt.NDArray[np.int64]
# Rows kept (before), rows changed (after), rows corrected (before), and the
# agency's encodings after the change set.
_Applied = tuple[Rows, Rows, Rows, Encodings]


@dataclass(frozen=True)
class ChangeSet:
    """What one agency changed since its records were last linked.

    Attributes:
        party: the agency's name in the linkage.
        records: new and corrected records (their pseudonyms tell which), in
            the agency's encodings format; None if it only withdraws.
        withdrawn: pseudonyms (32 hex) whose records leave the linkage.
    """

    party: str
    records: Encodings | None = None
    withdrawn: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Changed:
    """The population after the change sets, and how it maps to the one before.

    Attributes:
        parties: every party's records after the changes, in full-run order.
        old_to_new: per record before, its global index after (-1: withdrawn).
        changed: global indices after of added and corrected records, sorted.
        corrected_old: global indices before of the records corrected.
    """

    parties: PartySet
    old_to_new: npt.NDArray[np.int64]
    changed: npt.NDArray[np.int64]
    corrected_old: npt.NDArray[np.int64]


def apply_change_sets(parties: PartySet, change_sets: Sequence[ChangeSet]) -> Changed:
    """The population after ``change_sets``; bad change sets raise
    :class:`~linkage.errors.InputError` naming the agency and what is wrong."""
    by_party = _one_per_party(parties, change_sets)
    new_parties, maps, changed, corrected = [], [], [], []
    offset = 0
    for number, party in enumerate(parties.parties):
        change = by_party.get(party.name)
        result = _apply_one(party, change) if change else _unchanged(party)
        kept, rows, corrected_rows, encodings = result
        old_to_new = np.full(len(party), -1, dtype=np.int64)
        # A corrected record keeps its place: only its pairs are scored anew.
        old_to_new[kept] = offset + np.arange(len(kept))
        maps.append(old_to_new)
        changed.append(offset + rows)
        corrected.append(int(parties.offsets[number]) + corrected_rows)
        new_parties.append(Party(party.name, encodings))
        offset += len(encodings)
    return Changed(
        PartySet(tuple(new_parties)),
        np.concatenate(maps) if maps else np.zeros(0, dtype=np.int64),
        np.sort(np.concatenate(changed)).astype(np.int64),
        np.sort(np.concatenate(corrected)).astype(np.int64),
    )


def _one_per_party(
    parties: PartySet, change_sets: Sequence[ChangeSet]
) -> dict[str, ChangeSet]:
    names = {party.name for party in parties.parties}
    by_party: dict[str, ChangeSet] = {}
    for change in change_sets:
        if change.party not in names:
            raise InputError(
                f"Agency {change.party!r} has no records in this linkage",
                hint="A new agency joins with a full run, not a change set.",
            )
        if change.party in by_party:
            raise InputError(f"Two change sets for agency {change.party!r}")
        by_party[change.party] = change
    return by_party


def _unchanged(party: Party) -> _Applied:
    empty = np.zeros(0, dtype=np.int64)
    return np.arange(len(party), dtype=np.int64), empty, empty, party.encodings


def _apply_one(party: Party, change: ChangeSet) -> _Applied:
    population = party.encodings.pseudonyms
    if population is None:
        raise InputError(
            f"Agency {party.name!r}'s linked records have no pseudonyms",
            hint="Continuing linkage needs linkage encodings files, not clkhash JSON.",
        )
    staying = np.ones(len(party), dtype=bool)
    staying[_withdrawn_rows(party.name, population, change.withdrawn)] = False
    keep = np.flatnonzero(staying).astype(np.int64)
    records = change.records
    if records is None or not len(records):
        empty = np.zeros(0, dtype=np.int64)
        return keep, empty, empty, _subset(party.encodings, keep)
    _check_header(party, records)
    sent = _pseudonym_array(records)
    if len(np.unique(_keys(sent))) != len(sent):
        raise InputError(f"Agency {party.name!r}'s change set lists a pseudonym twice")
    old_rows = _rows_in(population, sent)
    corrected = old_rows >= 0
    dropped = corrected & ~staying[np.maximum(old_rows, 0)]
    if dropped.any():
        example = format_pseudonyms(sent[dropped][:1])[0]
        raise InputError(
            f"Agency {party.name!r}'s change set both withdraws and sends "
            f"{int(dropped.sum())} pseudonym(s), for example {example}",
            hint="Send a record to correct it, or withdraw it; not both.",
        )
    clks = _corrected(party.encodings.clks, records.clks, old_rows, corrected)
    keys = None
    if party.encodings.match_keys is not None and records.match_keys is not None:
        keys = _corrected(
            party.encodings.match_keys, records.match_keys, old_rows, corrected
        )
    added = np.flatnonzero(~corrected)
    position = np.full(len(party), -1, dtype=np.int64)
    position[keep] = np.arange(len(keep))
    corrected_rows = np.sort(old_rows[corrected])
    rows = np.concatenate([position[corrected_rows], len(keep) + np.arange(len(added))])
    merged = replace(
        party.encodings,
        pseudonyms=np.concatenate([population[keep], sent[added]]),
        clks=np.concatenate([clks[keep], records.clks[added]]),
        match_keys=None
        if keys is None or records.match_keys is None
        else np.concatenate([keys[keep], records.match_keys[added]]),
    )
    return keep, rows.astype(np.int64), corrected_rows, merged


def _corrected(
    linked: npt.NDArray[np.uint8],
    sent: npt.NDArray[np.uint8],
    old_rows: Rows,
    corrected: npt.NDArray[np.bool_],
) -> npt.NDArray[np.uint8]:
    """``linked`` with the rows the change set corrects replaced by its own."""
    merged = linked.copy()
    merged[old_rows[corrected]] = sent[corrected]
    return merged


def _withdrawn_rows(
    name: str, population: npt.NDArray[np.uint8], withdrawn: Sequence[str]
) -> Rows:
    try:
        wanted = parse_pseudonyms(list(withdrawn))
    except ValueError as error:
        raise InputError(
            f"Agency {name!r} withdraws a malformed pseudonym: {error}"
        ) from None
    if len(np.unique(_keys(wanted))) != len(wanted):
        raise InputError(f"Agency {name!r} withdraws a pseudonym twice")
    rows = _rows_in(population, wanted)
    if (rows < 0).any():
        unknown = [
            p for p, row in zip(withdrawn, rows.tolist(), strict=True) if row < 0
        ]
        raise InputError(
            f"Agency {name!r} withdraws {len(unknown)} pseudonym(s) it has no "
            f"record for, for example {unknown[0]}",
            hint="Withdraw only pseudonyms of records already linked.",
        )
    return np.sort(rows)


def _keys(pseudonyms: npt.NDArray[np.uint8]) -> npt.NDArray[np.void]:
    """One comparable value per 16-byte pseudonym."""
    whole = np.ascontiguousarray(pseudonyms)
    return whole.view(np.dtype((np.void, whole.shape[1]))).ravel()


def _rows_in(population: npt.NDArray[np.uint8], wanted: npt.NDArray[np.uint8]) -> Rows:
    """Each wanted pseudonym's row in ``population``, or -1. (A dictionary of
    a million pseudonyms takes a second to build; sorting, a tenth.)"""
    if not len(population) or not len(wanted):
        return np.full(len(wanted), -1, dtype=np.int64)
    keys = _keys(population)
    order = np.argsort(keys, kind="stable")
    at = np.minimum(np.searchsorted(keys[order], _keys(wanted)), len(keys) - 1)
    found = keys[order][at] == _keys(wanted)
    return np.where(found, order[at], -1).astype(np.int64)


def _check_header(party: Party, records: Encodings) -> None:
    before, after = party.encodings.header, records.header
    if before is None or after is None or records.pseudonyms is None:
        raise InputError(
            f"Agency {party.name!r}'s change set must be a linkage encodings "
            "file with pseudonyms",
            hint="clkhash JSON has no pseudonyms to say which records change.",
        )
    for what in ("schema_fingerprint", "key_check", "bit_length"):
        if getattr(before, what) != getattr(after, what):
            raise InputError(
                f"Agency {party.name!r}'s change set was encoded with another "
                f"{what.replace('_', ' ')} than its linked records",
                hint="Encode changes with the project's schema and secret.",
            )
    if _compared_as(before) != _compared_as(after):
        raise InputError(
            f"Agency {party.name!r}'s change set declares other fields held "
            "(or other views) than its linked records",
            hint="A change in the fields an agency holds needs a full run.",
        )


def _compared_as(header: EncodingHeader) -> tuple[object, ...]:
    extensions = header.extensions
    return tuple(
        repr(extensions.get(key))
        for key in (
            "absent_fields",
            "views",
            "segments",
            "clk_same_as",
            "views_left_empty",
            "match_keys",
        )
    )


def _pseudonym_array(encodings: Encodings) -> npt.NDArray[np.uint8]:
    assert encodings.pseudonyms is not None  # Checked by _check_header.
    return encodings.pseudonyms


def _subset(encodings: Encodings, rows: npt.NDArray[np.int64]) -> Encodings:
    pseudonyms, keys = encodings.pseudonyms, encodings.match_keys
    return replace(
        encodings,
        pseudonyms=None if pseudonyms is None else pseudonyms[rows],
        clks=encodings.clks[rows],
        match_keys=None if keys is None else keys[rows],
    )
