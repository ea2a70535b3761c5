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
evidence, and it is added as a candidate pair scoring halfway between the
threshold and a match key's 1.0 (:func:`unique_key_score`), for the
clustering to weigh with the rest.

Whether names alone tell people apart depends on the population: where
many people share names (families, small pools of names), a name unique in
two files is often two people; a family at one address shares its surname
there. The linkage measures each key before using it, on its own.
``confirmed`` is the share of the key's pairs between agencies that can
share a match key, both records holding one, that the linkage links on its
own (the birth date confirms them); ``linked`` the same share between
agencies that cannot. If the key pairs one person as often in both,
``(confirmed - linked) / (1 - linked)`` estimates the share of one person
among the pairs the key would add (``reliability``). Where it is under
:data:`MIN_RELIABILITY`, or there are too few pairs to measure it, the key
adds nothing. The estimate divides by the few pairs not linked otherwise,
so ``confirmed`` must not count one person's two records as unconfirmed
for want of evidence rather than for being two people: a record without a
birth date holds no match key (such pairs are left out), and a person whose
surname changed is linked by a key beside the match key (below), whose
pairs are added before the others are judged. The decisions are part
of the linkage's rule (:class:`~linkage.matching.parameters.LinkageParameters`):
incremental updates and runs given that rule keep them.

A unique key *beside* the match key
(:func:`~linkage.formats.extension.beside_a_match_key`: the demo's given
name and birth date, surname and birth date, beside both names' Soundex
codes and the birth date) works the other way round: it
serves agencies that can share the match key, for two records that do not
share it though they agree exactly on the birth date and one name. Their
other name sounds different: a typo that changes its code, or a surname
changed on marriage. Such pairs are added, scored alike, while
they are few beside the pairs sharing both keys (:data:`MOST_BESIDE`):
strangers sharing a name and a birth date grow with the square of the
files' size, typos with their size. Measured in
``benchmarks/README.md``, "Unique keys: the names where nothing else is
shared".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.formats.extension import beside_a_match_key, key_fields
from linkage.matching.candidates import CandidatePairs, Indices
from linkage.matching.match_keys import (
    KEY_SCORE,
    key_columns,
    merged,
    pairs_sharing_keys,
)
from linkage.matching.parties import PartySet

__all__ = [
    "MIN_CONFIRMING",
    "MIN_RELIABILITY",
    "MOST_BESIDE",
    "KeyVerdict",
    "UniqueKeyUse",
    "unique_key_pairs",
    "unique_key_score",
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
#: A key beside the match key (:func:`beside_a_match_key`) adds its pairs
#: that share it but not the match key only while they are at most this
#: share of those that share both. Its true pairs come from a typo that
#: changes a name's code, or a changed surname: a few in a hundred. Two
#: strangers sharing one name and a birth date, each alone with them in his
#: file, grow with the square of the files' size; where they outnumber the
#: typos the key stops. Measured (demo, households, registers, FEBRL4):
#: 0.01-0.12, the added pairs 75-100 % one person.
MOST_BESIDE = 0.25

_NONE = CandidatePairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True)
class KeyVerdict:
    """What one unique key found in a linkage, and whether it was used."""

    key: str
    #: Pairs sharing it between agencies that cannot share a match key.
    found: int
    #: Between agencies that can, both records holding a match key: how
    #: many, and the share linked otherwise.
    confirming: int
    confirmed: float | None
    reliability: float | None
    used: bool
    #: Decided by an earlier run of the linkage, not measured in this one.
    earlier: bool = False
    #: Beside a match key (:func:`beside_a_match_key`): ``found`` counts the
    #: pairs sharing it but not the match key, ``confirming`` those sharing both.
    beside: bool = False

    def _beside_verdict(self) -> str:
        counts = (
            f"{self.found:,} pairs that share it but not the match key, "
            f"{self.confirming:,} that share both"
        )
        if self.used:
            return f"{counts}, used (at most {MOST_BESIDE:.0%} as many needed)"
        if self.confirming < MIN_CONFIRMING:
            return f"{counts}, not used: fewer than {MIN_CONFIRMING} share both"
        return (
            f"{counts}, not used: more than {MOST_BESIDE:.0%} as many, chance "
            "rather than typos"
        )

    def describe(self) -> str:
        """One clause for the run's statistics."""
        if self.earlier:
            verdict = "used" if self.used else "not used"
            return f"{self.key}: {verdict}, as the linkage's rule says"
        if self.beside:
            return f"{self.key}: {self._beside_verdict()}"
        if not self.found:
            return f"{self.key}: none between agencies that share no match key"
        found = (
            f"{self.key}: {self.found:,} pairs between agencies that share no match key"
        )
        if self.reliability is None:
            return (
                f"{found}, not used: {self.confirming} between records that "
                "could share one are too few to tell how reliable they are "
                f"(at least {MIN_CONFIRMING})"
            )
        return (
            f"{found}, {'used' if self.used else 'not used'} (reliability "
            f"{self.reliability:.2f}, at least {MIN_RELIABILITY} needed; "
            f"{self.confirmed:.0%} of {self.confirming:,} between records that "
            "could share one are linked otherwise)"
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
            f"; {len(self.pairs.score):,} pairs scored halfway from the threshold to 1"
        )


def unique_key_pairs(
    parties: PartySet,
    threshold: float,
    keys: Sequence[int],
    among: Indices | None = None,
) -> CandidatePairs:
    """The pairs one of the unique ``keys`` (by their place among the unique
    keys; a place past the last names none) adds, scoring
    :func:`unique_key_score` of ``threshold`` (with ``among``, only pairs
    with a record in it): pairs sharing it
    between parties that share no match key, or, for a key beside the match
    key (:func:`beside_a_match_key`), between parties that can, where the
    two records share no match key."""
    _, unique = key_columns(parties)
    beside = _beside(parties)
    added = _NONE
    for n in keys:
        if n >= len(unique):
            continue
        pairs, _, usable = _usable(parties, unique[n], beside[n], among)
        added = merged(added, _scored(pairs, usable, threshold), parties.total)
    return added


def unique_key_score(threshold: float) -> float:
    """What a pair sharing a unique key scores: halfway between the
    threshold and a match key's :data:`~linkage.matching.match_keys.KEY_SCORE`.

    More likely one person than not (where measured, the pairs the keys
    beside the match key add were 75-100 % one person, the address keys'
    97-100 %, the names' 23-83 %), yet less sure than a match key. Scored
    at the threshold itself, a pair was outweighed in the average linkage of
    two groups by any pair between them scoring below it. Halfway up, F1
    rose on every population measured (demo at 20,000 people 0.9353 ->
    0.9365, households 0.8516 -> 0.8550, registers seed 23 0.8779 -> 0.8934,
    held out seed 103 0.8771 -> 0.8926); a quarter of the way gave about the
    same, all the way to 1.0 less.
    """
    return (threshold + KEY_SCORE) / 2


def _scored(
    pairs: CandidatePairs, chosen: npt.NDArray[np.bool_], threshold: float
) -> CandidatePairs:
    """The ``chosen`` of ``pairs``, scoring :func:`unique_key_score`."""
    return CandidatePairs(
        pairs.left[chosen],
        pairs.right[chosen],
        np.full(int(chosen.sum()), unique_key_score(threshold), dtype=np.float64),
    )


#: The linkage's groups with some pairs added: a label per global record,
#: -1 for none.
Groups = Callable[[CandidatePairs], npt.NDArray[np.int64]]


def unique_key_use(parties: PartySet, threshold: float, groups: Groups) -> UniqueKeyUse:
    """Which unique keys a linkage should use, each judged on its own, and
    the pairs they add (:func:`unique_key_pairs`).

    The keys beside a match key are decided first, by their own rule; the
    others on ``groups`` of the pairs those add."""
    _, unique = key_columns(parties)
    found = [
        (name, beside, *_usable(parties, column, beside))
        for name, column, beside in zip(
            _key_names(parties), unique, _beside(parties), strict=True
        )
    ]
    verdicts: dict[int, KeyVerdict] = {}
    added = _NONE
    for n, (name, beside, pairs, keyed, usable) in enumerate(found):
        if beside:
            verdicts[n] = _beside_verdict(name, keyed, usable)
            added = _with_used(
                added, verdicts[n], pairs, usable, threshold, parties.total
            )
    labels = groups(added)
    holds_a_key = _holds_a_match_key(parties)
    for n, (name, beside, pairs, keyed, usable) in enumerate(found):
        if not beside:
            confirming = keyed & holds_a_key[pairs.left] & holds_a_key[pairs.right]
            verdicts[n] = _verdict(name, pairs, keyed, confirming, labels)
            added = _with_used(
                added, verdicts[n], pairs, usable, threshold, parties.total
            )
    return UniqueKeyUse(added, tuple(verdicts[n] for n in range(len(found))))


def _with_used(
    added: CandidatePairs,
    verdict: KeyVerdict,
    pairs: CandidatePairs,
    usable: npt.NDArray[np.bool_],
    threshold: float,
    records: int,
) -> CandidatePairs:
    """``added`` with a key's ``usable`` pairs, if its verdict uses it."""
    if not verdict.used:
        return added
    return merged(added, _scored(pairs, usable, threshold), records)


def _beside_verdict(
    name: str, keyed: npt.NDArray[np.bool_], usable: npt.NDArray[np.bool_]
) -> KeyVerdict:
    """Whether a key beside the match key adds its ``usable`` pairs (those
    that share it but not the match key): if they are few beside those that
    share both (the ``keyed`` rest)."""
    found, confirming = int(usable.sum()), int((keyed & ~usable).sum())
    used = confirming >= MIN_CONFIRMING and found <= MOST_BESIDE * confirming
    return KeyVerdict(name, found, confirming, None, None, used, beside=True)


def _verdict(
    name: str,
    pairs: CandidatePairs,
    keyed: npt.NDArray[np.bool_],
    confirming: npt.NDArray[np.bool_],
    labels: npt.NDArray[np.int64],
) -> KeyVerdict:
    """Whether one unique key's ``pairs`` are reliable enough to use: those
    between parties that cannot share a match key (not ``keyed``) against
    the ``confirming`` ones, whose records both hold a match key."""
    linked = (labels[pairs.left] >= 0) & (labels[pairs.left] == labels[pairs.right])
    found, measured = int((~keyed).sum()), int(confirming.sum())
    if not found or measured < MIN_CONFIRMING:
        return KeyVerdict(name, found, measured, None, None, used=False)
    confirmed = float(linked[confirming].mean())
    linked_alone = float(linked[~keyed].mean())
    reliability = (confirmed - linked_alone) / max(1 - linked_alone, 1e-9)
    used = reliability >= MIN_RELIABILITY
    return KeyVerdict(name, found, measured, confirmed, reliability, used)


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
    return [" + ".join(key) for key in _unique_keys(parties)]


def _unique_keys(parties: PartySet) -> tuple[tuple[str, ...], ...]:
    header = parties.parties[0].encodings.header
    if header is None or not header.unique_keys:
        return ()
    return header.match_keys[-header.unique_keys :]


def _beside(parties: PartySet) -> list[bool]:
    """Whether each unique key lies beside one of the file's match keys."""
    header = parties.parties[0].encodings.header
    ordinary = header.ordinary_keys if header is not None else ()
    return [beside_a_match_key(key, ordinary) for key in _unique_keys(parties)]


def _usable(
    parties: PartySet,
    column: npt.NDArray[np.uint8],
    beside: bool,
    among: Indices | None = None,
) -> tuple[CandidatePairs, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The pairs sharing one unique key's value, whether their parties can
    share a match key, and which of them the key adds: between parties that
    share no match key, or for a key beside the match key, between parties
    that can where the records share none."""
    pairs, keyed = _sharing(parties, [column], among)
    if not beside:
        return pairs, keyed, ~keyed
    return pairs, keyed, keyed & ~_share_a_match_key(parties, pairs)


def _holds_a_match_key(parties: PartySet) -> npt.NDArray[np.bool_]:
    """Whether each record holds a value of some match key (one without a
    field of every key, such as a birth date, holds none)."""
    ordinary, _ = key_columns(parties)
    holds = np.zeros(parties.total, dtype=np.bool_)
    for column in ordinary:
        holds |= np.asarray(column.any(axis=1))
    return holds


def _share_a_match_key(
    parties: PartySet, pairs: CandidatePairs
) -> npt.NDArray[np.bool_]:
    """Whether each pair's two records share a value of some match key."""
    ordinary, _ = key_columns(parties)
    shared = np.zeros(len(pairs.left), dtype=np.bool_)
    for column in ordinary:
        held: npt.NDArray[np.bool_] = np.asarray(column.any(axis=1))
        same = np.asarray((column[pairs.left] == column[pairs.right]).all(axis=1))
        shared |= held[pairs.left] & same
    return shared


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
