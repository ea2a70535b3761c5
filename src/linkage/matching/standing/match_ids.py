"""Stable match IDs: a group that did not change keeps its ID.

When records are grouped again, each old ID is handed on, oldest first, to
the new group that holds most of its records still linked (ties: the group
whose first record comes first). If that group already took an older ID, the
old ID is *merged* into it: the oldest ID of a merge survives. An old ID none
of whose records is in a group any more is *dissolved*. A group no old ID
reaches (new people, or the smaller part of a split) gets a fresh random ID.
So a group whose records are all unchanged always keeps its ID.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Handover", "IdRegistry", "hand_on"]


def new_match_id() -> str:
    """A fresh, unguessable match ID (32 hex), as a full run makes them."""
    return secrets.token_hex(16)


@dataclass
class IdRegistry:
    """The live match IDs and their age (lower: older), and where absorbed
    IDs went."""

    age: dict[str, int] = field(default_factory=dict)
    merged_into: dict[str, str] = field(default_factory=dict)
    next_age: int = 0

    def issue(self, make: Callable[[], str]) -> str:
        """A fresh ID, younger than every other."""
        match_id = make()
        self.age[match_id] = self.next_age
        self.next_age += 1
        return match_id

    def current(self, match_id: str) -> str | None:
        """The live ID ``match_id`` is now (itself, or the ID it was merged
        into, followed to the end); None if it dissolved."""
        seen = set()
        while match_id not in self.age:
            if match_id in seen or match_id not in self.merged_into:
                return None
            seen.add(match_id)
            match_id = self.merged_into[match_id]
        return match_id


@dataclass(frozen=True)
class Handover:
    """What happened to the IDs of the records grouped again.

    Attributes:
        ids: per new group label, its match ID.
        merged: absorbed ID -> the ID it was merged into.
        dissolved: IDs no longer in use, their records in no group.
        created: IDs made for groups no old ID reached.
    """

    ids: list[str]
    merged: dict[str, str]
    dissolved: list[str]
    created: list[str]


def hand_on(
    old_ids: Sequence[str | None],
    labels: Sequence[int],
    gone_ids: Sequence[str],
    registry: IdRegistry,
    make: Callable[[], str] = new_match_id,
) -> Handover:
    """Match IDs for the new groups ``labels`` (-1: none, else 0..k-1,
    numbered by first record) of records whose IDs before were ``old_ids``.

    ``gone_ids`` are IDs whose records all left (withdrawn): they dissolve
    unless a record still linked carries them too. ``registry`` is updated.
    """
    groups = max(labels, default=-1) + 1
    holders: dict[str, Counter[int]] = {}
    for old, label in zip(old_ids, labels, strict=True):
        if old is not None:
            counts = holders.setdefault(old, Counter())
            if label >= 0:
                counts[label] += 1
    ids: list[str | None] = [None] * groups
    merged: dict[str, str] = {}
    dissolved = sorted(set(gone_ids) - set(holders))
    for old in sorted(holders, key=registry.age.__getitem__):
        counts = holders[old]
        if not counts:
            dissolved.append(old)
            continue
        target = min(counts, key=lambda label: (-counts[label], label))
        if ids[target] is None:
            ids[target] = old
        else:
            merged[old] = str(ids[target])
    created = []
    for label in range(groups):
        if ids[label] is None:
            ids[label] = registry.issue(make)
            created.append(ids[label])
    for old in dissolved:
        registry.age.pop(old, None)
    for old, into in merged.items():
        registry.age.pop(old)
        registry.merged_into[old] = into
    return Handover([str(i) for i in ids], merged, dissolved, [str(i) for i in created])
