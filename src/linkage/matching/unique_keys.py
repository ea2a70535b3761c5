"""Where unique keys count: between agencies that share no match key, and
only where this linkage shows them to be reliable.

A unique key (the schema's ``unique_keys``, :mod:`linkage.encoding.match_keys`)
is shared by two records of two agencies that hold the same values (the
demo's: both names; the given name and the address; the surname and the
address), each unique to one person in its own agency's file. Between agencies
that can share a match key (both hold its fields), the match key and the
CLK already decide. Between agencies that cannot (the demo's tax office
holds no birth date), a person who moved, or whose other agency holds no
address, has nothing but the names in common with the other record, and
one with a typo in a name has one name and the address; diffused views
score such pairs like two strangers. The unique key is then the only
evidence, and it is added as a candidate pair scoring the
threshold, for the clustering to weigh like any pair at it.

Whether names alone tell people apart depends on the population: where
many people share names (families, small pools of names), a name unique in
two files is often two people; a family at one address shares its surname
there. The linkage measures each key before using it, on its own.
``confirmed`` is the share of the key's pairs between agencies that can
share a match key that the linkage links on its own (the birth date
confirms them); ``linked`` the same share between agencies that cannot. If
the key pairs one person as often in both, ``(confirmed - linked) / (1 -
linked)`` estimates the share of one person among the pairs the key would
add (``reliability``). Where it is under :data:`MIN_RELIABILITY`, or there
are too few pairs to measure it, the key adds nothing. The decisions are part
of the linkage's rule (:class:`~linkage.matching.parameters.LinkageParameters`):
incremental updates and runs given that rule keep them. Measured in
``benchmarks/README.md``, "Unique keys: the names where nothing else is
shared".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.formats.extension import key_fields
from linkage.matching.candidates import CandidatePairs, Indices
from linkage.matching.match_keys import key_columns, merged, pairs_sharing_keys
from linkage.matching.parties import PartySet

__all__ = [
    "MIN_CONFIRMING",
    "MIN_RELIABILITY",
    "KeyVerdict",
    "UniqueKeyUse",
    "unique_key_pairs",
    "unique_key_use",
    "unique_keys_as_decided",
]

#: The estimated share of one person among the pairs a unique key adds
#: below which it adds none. Adding pairs of which a share p is right raises
#: F1 when p is over half the F1; the demo's estimates for the names were
#: 0.48-0.59 (true 0.73-0.83), a population of many namesakes' -0.01 (true
#: 0.31).
MIN_RELIABILITY = 0.4
#: Unique-key pairs between agencies that can share a match key needed to
#: measure the reliability at all.
MIN_CONFIRMING = 50

_NONE = CandidatePairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True)
class KeyVerdict:
    """What one unique key found in a linkage, and whether it was used."""

    key: str
    #: Pairs sharing it between agencies that cannot share a match key.
    found: int
    #: Between agencies that can: how many, and the share linked otherwise.
    confirming: int
    confirmed: float | None
    reliability: float | None
    used: bool
    #: Decided by an earlier run of the linkage, not measured in this one.
    earlier: bool = False

    def describe(self) -> str:
        """One clause for the run's statistics."""
        if self.earlier:
            verdict = "used" if self.used else "not used"
            return f"{self.key}: {verdict}, as the linkage's rule says"
        if not self.found:
            return f"{self.key}: none between agencies that share no match key"
        found = (
            f"{self.key}: {self.found:,} pairs between agencies that share no match key"
        )
        if self.reliability is None:
            return (
                f"{found}, not used: {self.confirming} between agencies that can "
                f"are too few to tell how reliable they are (at least {MIN_CONFIRMING})"
            )
        return (
            f"{found}, {'used' if self.used else 'not used'} (reliability "
            f"{self.reliability:.2f}, at least {MIN_RELIABILITY} needed; "
            f"{self.confirmed:.0%} of {self.confirming:,} between agencies that "
            "can are linked otherwise)"
        )


@dataclass(frozen=True)
class UniqueKeyUse:
    """What the unique keys added to a linkage, and why."""

    pairs: CandidatePairs
    verdicts: tuple[KeyVerdict, ...]

    @property
    def used(self) -> tuple[int, ...]:
        """The unique keys used, by their place among the unique keys."""
        return tuple(n for n, verdict in enumerate(self.verdicts) if verdict.used)

    def describe(self) -> str:
        """One line for the run's statistics."""
        if not self.verdicts:
            return "none"
        return "; ".join(v.describe() for v in self.verdicts) + (
            f"; {len(self.pairs.score):,} pairs scored at the threshold"
        )


def unique_key_pairs(
    parties: PartySet,
    threshold: float,
    keys: Sequence[int],
    among: Indices | None = None,
) -> CandidatePairs:
    """The pairs sharing one of the unique ``keys`` (by their place among the
    unique keys; a place past the last names none) between parties that
    share no match key, scoring ``threshold`` (with ``among``, only pairs
    with a record in it): what a linkage that uses those keys adds."""
    _, unique = key_columns(parties)
    chosen = [unique[n] for n in keys if n < len(unique)]
    pairs, keyed = _sharing(parties, chosen, among)
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
    """Which unique keys a linkage whose groups are ``labels`` (a label per
    global record, -1 for none) should use, each judged on its own, and the
    pairs they add (:func:`unique_key_pairs`)."""
    _, unique = key_columns(parties)
    verdicts, added = [], _NONE
    for name, column in zip(_key_names(parties), unique, strict=True):
        pairs, keyed = _sharing(parties, [column])
        verdict = _verdict(name, pairs, keyed, labels)
        if verdict.used:
            chosen = _at_threshold(pairs, ~keyed, threshold)
            added = merged(added, chosen, parties.total) if len(added.score) else chosen
        verdicts.append(verdict)
    return UniqueKeyUse(added, tuple(verdicts))


def _verdict(
    name: str,
    pairs: CandidatePairs,
    keyed: npt.NDArray[np.bool_],
    labels: npt.NDArray[np.int64],
) -> KeyVerdict:
    """Whether one unique key's ``pairs`` are reliable enough to use."""
    linked = (labels[pairs.left] >= 0) & (labels[pairs.left] == labels[pairs.right])
    found, confirming = int((~keyed).sum()), int(keyed.sum())
    if not found or confirming < MIN_CONFIRMING:
        return KeyVerdict(name, found, confirming, None, None, used=False)
    confirmed = float(linked[keyed].mean())
    linked_alone = float(linked[~keyed].mean())
    reliability = (confirmed - linked_alone) / max(1 - linked_alone, 1e-9)
    used = reliability >= MIN_RELIABILITY
    return KeyVerdict(name, found, confirming, confirmed, reliability, used)


def unique_keys_as_decided(
    parties: PartySet, threshold: float, *, used: Sequence[int]
) -> UniqueKeyUse:
    """The unique keys' use as an earlier run of the same linkage decided."""
    pairs = unique_key_pairs(parties, threshold, used) if used else _NONE
    names = _key_names(parties)
    verdicts = tuple(
        KeyVerdict(name, 0, 0, None, None, used=n in used, earlier=True)
        for n, name in enumerate(names)
    )
    return UniqueKeyUse(pairs, verdicts)


def _key_names(parties: PartySet) -> list[str]:
    """Each unique key's fields, as the header lists them."""
    header = parties.parties[0].encodings.header
    if header is None or not header.unique_keys:
        return []
    return [" + ".join(key) for key in header.match_keys[-header.unique_keys :]]


def _sharing(
    parties: PartySet,
    columns: list[npt.NDArray[np.uint8]],
    among: Indices | None = None,
) -> tuple[CandidatePairs, npt.NDArray[np.bool_]]:
    """The pairs of records of two parties sharing a value of one of the key
    ``columns``, and whether their parties can share a match key."""
    if not columns:
        return _NONE, np.zeros(0, dtype=np.bool_)
    pairs = pairs_sharing_keys(columns, parties, dedup=False, among=among)
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
