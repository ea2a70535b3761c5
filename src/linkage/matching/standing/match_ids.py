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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

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
    targets = _most_records(old_ids, labels, groups)
    ids: list[str | None] = [None] * groups
    merged: dict[str, str] = {}
    dissolved = sorted(set(gone_ids) - set(targets))
    for old in sorted(targets, key=registry.age.__getitem__):
        target = targets[old]
        if target < 0:
            dissolved.append(old)
        elif ids[target] is None:
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


def _most_records(
    old_ids: Sequence[str | None], labels: Sequence[int], groups: int
) -> dict[str, int]:
    """Per old ID, the new group holding most of its records (ties: the
    lowest label), or -1 if none of them is in a group."""
    held = [n for n, old in enumerate(old_ids) if old is not None]
    names = list(dict.fromkeys(str(old_ids[n]) for n in held))
    code_of = {name: code for code, name in enumerate(names)}
    codes = np.array([code_of[str(old_ids[n])] for n in held], dtype=np.int64)
    label = np.asarray(labels, dtype=np.int64)[held]
    grouped = label >= 0
    pairs, counts = np.unique(
        codes[grouped] * max(groups, 1) + label[grouped], return_counts=True
    )
    code, target = np.divmod(pairs, max(groups, 1))
    # Per code: the most records first, then the lowest label.
    order = np.lexsort((target, -counts, code))
    first = (
        order[np.r_[True, code[order][1:] != code[order][:-1]]] if len(order) else order
    )
    best = np.full(len(names), -1, dtype=np.int64)
    best[code[first]] = target[first]
    return dict(zip(names, best.tolist(), strict=True))
