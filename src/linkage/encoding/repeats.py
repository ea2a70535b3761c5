"""A person recorded more than once: the agency's later records join the group
of the person's other records.

Only the first record of a person sends the match keys
(:func:`~linkage.encoding.match_keys.first_rows`), so the operator never
learns who is recorded twice; the agency's vault remembers it
(:attr:`~linkage.encoding.vault.Vault.repeats`). When the results come back,
each such person's records take the group most of them are in: the operator
may have grouped a later record elsewhere, or not at all, since it no
longer shares the key. Ties go to the first record's group. A person the
operator grouped with nobody (no record of it in the results) forms a group
of its own records, under a match ID only this agency's results hold
(:func:`local_match_id`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    # Imported where used: resolving results (`linkage vault resolve`) needs
    # no pandas, and loading it would slow that command's start.
    import pandas as pd

__all__ = ["join_repeats", "local_match_id", "with_repeats_joined"]


def join_repeats(
    match_of: Mapping[str, str],
    repeats: Mapping[str, str],
    withdrawn: Collection[str] = (),
) -> dict[str, str]:
    """For every record of a person recorded more than once, the record whose
    group it takes (itself if it stays where it is).

    ``match_of`` gives the match ID of each record the results hold (by
    pseudonym); ``repeats`` each later record's first record. A person none
    of whose records is in ``match_of`` takes a record not in it: the group
    of the person's own records, under :func:`local_match_id` of that
    record. People recorded once, and records ``withdrawn`` from the
    linkage, are left out.

    Example:
        >>> join_repeats({"a": "m1", "b": "m2", "c": "m2"}, {"b": "a", "c": "a"})
        {'a': 'b', 'b': 'b', 'c': 'c'}
        >>> join_repeats({"a": "m1"}, {"b": "a"})
        {'a': 'a', 'b': 'a'}
        >>> join_repeats({}, {"b": "a"})
        {'a': 'a', 'b': 'a'}
    """
    people: dict[str, list[str]] = defaultdict(list)
    for later, first in repeats.items():
        people[first].append(later)
    gone = set(withdrawn)
    joined: dict[str, str] = {}
    for first, others in people.items():
        records = [r for r in (first, *sorted(others)) if r not in gone]
        held = [record for record in records if record in match_of]
        if not held:
            if len(records) > 1:  # A group of the person's own records.
                joined.update(dict.fromkeys(records, records[0]))
            continue
        counts = Counter(match_of[record] for record in held)
        most = max(counts.values())
        # The first record's group wins a tie; else the one of the later
        # record first in pseudonym order (any fixed order would do).
        chosen = next(r for r in held if counts[match_of[r]] == most)
        group = match_of[chosen]
        for record in records:
            joined[record] = record if match_of.get(record) == group else chosen
    return joined


def local_match_id(record: str) -> str:
    """The match ID of a group of one person's records that the operator
    grouped with nobody, named after the pseudonym of the record
    :func:`join_repeats` names: resolving again writes the same one, and it
    is in no other agency's results."""
    digest = hashlib.blake2b(record.encode(), digest_size=16, person=b"linkage-local")
    return digest.hexdigest()


def with_repeats_joined(
    matches: pd.DataFrame,
    repeats: Mapping[str, Mapping[str, str]],
    withdrawn: Collection[str] = (),
) -> pd.DataFrame:
    """``matches`` (columns ``party``, ``pseudonym``, ``match_id`` and any
    others) as the agencies see them once each joined its records of one
    person (:func:`join_repeats`; ``repeats`` by party, from the vaults):
    a moved record takes the row of the record whose group it joins, a
    record the matches lack is added so, and a person the matches hold no
    record of gets a group of its own (other columns empty)."""
    import pandas as pd

    drop = np.zeros(len(matches), dtype=bool)
    moved_rows = []
    for party, filed in repeats.items():
        in_party = (matches["party"] == party).to_numpy()
        own = matches[in_party].set_index("pseudonym")
        match_of = dict(zip(own.index, own["match_id"], strict=True))
        takes = join_repeats(match_of, filed, withdrawn)
        moved = {p: source for p, source in takes.items() if p != source}
        own_groups = {p: s for p, s in takes.items() if s not in match_of}
        if not moved and not own_groups:
            continue
        drop |= in_party & matches["pseudonym"].isin(moved).to_numpy()
        into_groups = [(p, s) for p, s in moved.items() if s in match_of]
        joined = own.loc[[s for _, s in into_groups]].reset_index(drop=True)
        joined["pseudonym"] = [p for p, _ in into_groups]
        alone = pd.DataFrame(
            {
                "match_id": [local_match_id(s) for s in own_groups.values()],
                "party": party,
                "pseudonym": list(own_groups),
            }
        )
        moved_rows += [joined, alone]
    rows = [frame.reindex(columns=matches.columns) for frame in moved_rows]
    return pd.concat([matches[~drop], *rows], ignore_index=True)
