"""Where unique keys count: between agencies that share no match key, and
only where this linkage shows them to be reliable.

A unique key (the schema's ``unique_keys``, :mod:`linkage.encoding.match_keys`)
is shared by two records of two agencies that hold the same values (the
demo's: both names), each unique in its own agency's file. Between agencies
that can share a match key (both hold its fields), the match key and the
CLK already decide. Between agencies that cannot (the demo's tax office
holds no birth date), a person who moved, or whose other agency holds no
address, has nothing but the names in common with the other record, and
diffused views score such a pair like two strangers; the unique key is then
the only evidence, and it is added as a candidate pair scoring the
threshold, for the clustering to weigh like any pair at it.

Whether names alone tell people apart depends on the population: where
many people share names (families, small pools of names), a name unique in
two files is often two people. The linkage measures it before using the
key. ``confirmed`` is the share of unique-key pairs between agencies that
can share a match key that the linkage links on its own (the birth date
confirms them); ``linked`` the same share between agencies that cannot. If
the key pairs one person as often in both, ``(confirmed - linked) / (1 -
linked)`` estimates the share of one person among the pairs the key would
add (``reliability``). Where it is under :data:`MIN_RELIABILITY`, or there
are too few pairs to measure it, the key adds nothing. The decision is part
of the linkage's rule (:class:`~linkage.matching.parameters.LinkageParameters`):
incremental updates and runs given that rule keep it. Measured in
``benchmarks/README.md``, "Unique keys: the names where nothing else is
shared".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.formats.extension import key_fields
from linkage.matching.candidates import CandidatePairs, Indices
from linkage.matching.match_keys import key_columns, pairs_sharing_keys
from linkage.matching.parties import PartySet

__all__ = [
    "MIN_CONFIRMING",
    "MIN_RELIABILITY",
    "UniqueKeyUse",
    "unique_key_pairs",
    "unique_key_use",
    "unique_keys_as_decided",
]

#: The estimated share of one person among the pairs a unique key adds
#: below which it adds none. Adding pairs of which a share p is right raises
#: F1 when p is over half the F1; the demo's estimates were 0.48-0.59 (true
#: 0.73-0.83), a population of many namesakes' -0.01 (true 0.31).
MIN_RELIABILITY = 0.4
#: Unique-key pairs between agencies that can share a match key needed to
#: measure the reliability at all.
MIN_CONFIRMING = 50

_NONE = CandidatePairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True)
class UniqueKeyUse:
    """What the unique keys added to a linkage, and why."""

    pairs: CandidatePairs
    #: Unique-key pairs between agencies that cannot share a match key.
    found: int
    #: Between agencies that can: how many, and the share linked otherwise.
    confirming: int
    confirmed: float | None
    reliability: float | None

    def describe(self) -> str:
        """One line for the run's statistics."""
        if not self.found:
            return "none between agencies that share no match key"
        if self.reliability is None:
            return (
                f"{self.found:,} pairs between agencies that share no match key, "
                f"not used: {self.confirming} between agencies that can are "
                f"too few to tell how reliable they are (at least {MIN_CONFIRMING})"
            )
        verdict = "used" if len(self.pairs.score) else "not used"
        return (
            f"{self.found:,} pairs between agencies that share no match key, "
            f"{verdict} (reliability {self.reliability:.2f}, at least "
            f"{MIN_RELIABILITY} needed; {self.confirmed:.0%} of {self.confirming:,} "
            "between agencies that can are linked otherwise); "
            f"{len(self.pairs.score):,} scored at the threshold"
        )


def unique_key_pairs(
    parties: PartySet, threshold: float, among: Indices | None = None
) -> CandidatePairs:
    """The pairs sharing a unique key between parties that share no match
    key, scoring ``threshold`` (with ``among``, only pairs with a record in
    it): what a linkage that uses its unique keys adds."""
    pairs, keyed = _sharing_unique_keys(parties, among)
    return _at_threshold(pairs, ~keyed, threshold)


def _at_threshold(
    pairs: CandidatePairs, chosen: npt.NDArray[np.bool_], threshold: float
) -> CandidatePairs:
    """The ``chosen`` of ``pairs``, scoring ``threshold``."""
    return CandidatePairs(
        pairs.left[chosen],
        pairs.right[chosen],
        np.full(int(chosen.sum()), threshold, dtype=np.float64),
    )


def unique_key_use(
    parties: PartySet, labels: npt.NDArray[np.int64], threshold: float
) -> UniqueKeyUse:
    """Whether a linkage whose groups are ``labels`` (a label per global
    record, -1 for none) should use its unique keys, and the pairs they add
    if so (:func:`unique_key_pairs`)."""
    pairs, keyed = _sharing_unique_keys(parties)
    linked = (labels[pairs.left] >= 0) & (labels[pairs.left] == labels[pairs.right])
    found, confirming = int((~keyed).sum()), int(keyed.sum())
    if not found or confirming < MIN_CONFIRMING:
        return UniqueKeyUse(_NONE, found, confirming, None, None)
    confirmed = float(linked[keyed].mean())
    linked_alone = float(linked[~keyed].mean())
    reliability = (confirmed - linked_alone) / max(1 - linked_alone, 1e-9)
    if reliability < MIN_RELIABILITY:
        return UniqueKeyUse(_NONE, found, confirming, confirmed, reliability)
    chosen = _at_threshold(pairs, ~keyed, threshold)
    return UniqueKeyUse(chosen, found, confirming, confirmed, reliability)


def unique_keys_as_decided(
    parties: PartySet, threshold: float, *, used: bool
) -> UniqueKeyUse:
    """The unique keys' use as an earlier run of the same linkage decided."""
    pairs = unique_key_pairs(parties, threshold) if used else _NONE
    return UniqueKeyUse(pairs, len(pairs.score), 0, None, None)


def _sharing_unique_keys(
    parties: PartySet, among: Indices | None = None
) -> tuple[CandidatePairs, npt.NDArray[np.bool_]]:
    """The pairs of records of two parties sharing a unique key, and whether
    their parties can share a match key."""
    _, unique = key_columns(parties)
    if not unique:
        return _NONE, np.zeros(0, dtype=np.bool_)
    pairs = pairs_sharing_keys(unique, parties, dedup=False, among=among)
    party_of = parties.party_of
    keyed = _can_share_a_key(parties)[party_of[pairs.left], party_of[pairs.right]]
    return pairs, keyed


def _can_share_a_key(parties: PartySet) -> npt.NDArray[np.bool_]:
    """Whether each two parties both hold every field of some match key."""
    header = parties.parties[0].encodings.header
    count = len(parties.parties)
    able = np.zeros((count, count), dtype=np.bool_)
    if header is None:
        return able
    keys = header.ordinary_keys
    absent = [
        set(p.encodings.header.absent_fields) if p.encodings.header else set()
        for p in parties.parties
    ]
    for a in range(count):
        for b in range(count):
            lacking = absent[a] | absent[b]
            able[a, b] = any(not lacking & set(key_fields(key)) for key in keys)
    return able
