"""Candidate pairs from match keys: records that agree exactly on a key's fields.

Agencies whose schema lists match keys (:mod:`linkage.encoding.match_keys`)
send one keyed hash per key and record. Two records with the same hash agree
exactly on that key's fields, whatever the others say, and become a
candidate pair scoring :data:`KEY_SCORE`, as identical CLKs would. What the
shipped key (both names' Soundex codes and the birth date) adds to each
benchmark population is in ``benchmarks/README.md``, "Match keys" and
"Names sounding alike in the key".

A key value shared by more than :data:`MOST_SHARING` records is passed over:
no person has that many records, so it is a placeholder (a date of birth
standing for "unknown" beside a common name) rather than evidence.

Unique keys (the last key columns, ``header.unique_keys`` of them) are not
match keys here: :mod:`linkage.matching.unique_keys` decides where they count.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import MATCH_KEY_BYTES, MOST_SHARING, match_key_columns
from linkage.matching.candidates import (
    CandidatePairs,
    Indices,
    pairs_sharing_a_value,
)
from linkage.matching.parties import PartySet

__all__ = [
    "KEY_SCORE",
    "MOST_SHARING",
    "KeyIndex",
    "key_columns",
    "key_pairs",
    "merged",
    "pairs_sharing_keys",
]

#: The score of two records that share a match key.
KEY_SCORE = 1.0


def key_pairs(
    parties: PartySet, *, dedup: bool, among: Indices | None = None
) -> CandidatePairs:
    """The pairs of records (global indices, lower first) sharing a match
    key: across parties, and within one too if ``dedup``; with ``among``,
    only pairs with a record in it."""
    ordinary, _ = key_columns(parties)
    if not ordinary:
        return _no_pairs()
    return pairs_sharing_keys(ordinary, parties, dedup=dedup, among=among)


def key_columns(
    parties: PartySet,
) -> tuple[list[npt.NDArray[np.uint8]], list[npt.NDArray[np.uint8]]]:
    """Every record's keys in global order, one ``(n, 16)`` column per key:
    the match keys' and the unique keys' ([] and [] if a party has none)."""
    keys = _all_keys(parties)
    if keys is None:
        return [], []
    header = parties.parties[0].encodings.header
    unique = header.unique_keys if header is not None else 0
    columns = match_key_columns(keys)
    return columns[: len(columns) - unique], columns[len(columns) - unique :]


def pairs_sharing_keys(
    columns: list[npt.NDArray[np.uint8]],
    parties: PartySet,
    *,
    dedup: bool,
    among: Indices | None = None,
) -> CandidatePairs:
    """The pairs of records (global indices, lower first) sharing a value of
    one of the key ``columns``, at :data:`KEY_SCORE`."""
    party_of = parties.party_of
    wanted = None
    if among is not None:
        wanted = np.zeros(len(party_of), dtype=np.bool_)
        wanted[among] = True
    lefts, rights = [], []
    for column in columns:
        left, right = _sharing(column)
        keep = np.ones(len(left), dtype=np.bool_)
        if not dedup:
            keep &= party_of[left] != party_of[right]
        if wanted is not None:
            keep &= wanted[left] | wanted[right]
        lefts.append(left[keep])
        rights.append(right[keep])
    if not lefts:
        return _no_pairs()
    left, right = np.concatenate(lefts), np.concatenate(rights)
    low, high = np.minimum(left, right), np.maximum(left, right)
    _, first = np.unique(low * len(party_of) + high, return_index=True)
    return CandidatePairs(
        low[first], high[first], np.full(len(first), KEY_SCORE, dtype=np.float64)
    )


def merged(
    first: CandidatePairs, second: CandidatePairs, records: int
) -> CandidatePairs:
    """The pairs of both (lower index first), each once with its best score;
    ``first``'s counts of pairs compared and how they were found."""
    if not len(second.score):
        return first
    left = np.concatenate([first.left, second.left]).astype(np.int64)
    right = np.concatenate([first.right, second.right]).astype(np.int64)
    score = np.concatenate([first.score, second.score])
    low, high = np.minimum(left, right), np.maximum(left, right)
    # Best score first, so the first of each pair is the one kept.
    order = np.lexsort((-score, high, low))
    low, high, score = low[order], high[order], score[order]
    _, first_of = np.unique(low * records + high, return_index=True)
    return CandidatePairs(
        low[first_of],
        high[first_of],
        score[first_of],
        compared=first.compared,
        blocking=first.blocking,
        estimated_completeness=first.estimated_completeness,
    )


def _all_keys(parties: PartySet) -> npt.NDArray[np.uint8] | None:
    """Every record's match keys, in global order; None if a party has none."""
    keys = [party.encodings.match_keys for party in parties.parties]
    if any(party_keys is None for party_keys in keys):
        return None
    return np.concatenate([k for k in keys if k is not None])


def _sharing(keys: npt.NDArray[np.uint8]) -> tuple[Indices, Indices]:
    """Pairs of records with the same non-zero key, in groups of at most
    :data:`MOST_SHARING` records."""
    held: npt.NDArray[np.bool_] = np.any(keys, axis=1)
    return pairs_sharing_a_value(_values(keys), held, MOST_SHARING)


def _no_pairs() -> CandidatePairs:
    empty = np.zeros(0, dtype=np.int64)
    return CandidatePairs(empty, empty.copy(), np.zeros(0))


class KeyIndex:
    """Linked records by match key, for lookups: a query that shares a key
    with a linked record matches it at :data:`KEY_SCORE`, as in a run.

    ``keys`` holds each party's match keys (rows as its encodings).
    """

    def __init__(self, keys: list[npt.NDArray[np.uint8]], unique: int = 0) -> None:
        # Unique keys find names alone: never a lookup's match by themselves.
        self._ordinary = (keys[0].shape[1] // MATCH_KEY_BYTES - unique) if keys else 0
        whole = np.concatenate(keys) if keys else np.zeros((0, 0), np.uint8)
        self._party = np.repeat(np.arange(len(keys)), [len(k) for k in keys])
        self._row = np.concatenate([np.arange(len(k)) for k in keys]).astype(np.int64)
        self._sorted: list[tuple[npt.NDArray[np.void], Indices]] = []
        for column in match_key_columns(whole)[: self._ordinary]:
            values = _values(column)
            held = np.flatnonzero(column.any(axis=1))
            order = held[np.argsort(values[held], kind="stable")]
            self._sorted.append((values[order], order))

    def find(self, queries: npt.NDArray[np.uint8]) -> tuple[Indices, Indices]:
        """For each query, the party and row of the first linked record that
        shares its first key it shares with fewer than :data:`MOST_SHARING`
        records; -1 and -1 where none does."""
        party = np.full(len(queries), -1, dtype=np.int64)
        row = np.full(len(queries), -1, dtype=np.int64)
        for (values, order), column in zip(
            self._sorted, match_key_columns(queries)[: self._ordinary], strict=True
        ):
            asked = _values(column)
            first = np.searchsorted(values, asked, side="left")
            sharing = np.searchsorted(values, asked, side="right") - first
            hit = (
                (party < 0)
                & column.any(axis=1)
                & (sharing > 0)
                & (sharing < MOST_SHARING)
            )
            found = order[first[hit]]
            party[hit], row[hit] = self._party[found], self._row[found]
        return party, row


def _values(keys: npt.NDArray[np.uint8]) -> npt.NDArray[np.void]:
    """One comparable value per 16-byte key."""
    whole = np.ascontiguousarray(keys)
    return whole.view(np.dtype((np.void, MATCH_KEY_BYTES))).ravel()
