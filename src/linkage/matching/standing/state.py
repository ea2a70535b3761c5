"""A linkage that keeps running: its records, pairs, groups and match IDs.

:meth:`StandingLinkage.from_run` keeps what a full run found;
:meth:`StandingLinkage.apply` takes agencies' change sets and scores only the
changed records, groups again only the components they touch, and hands the
match IDs on (:mod:`~linkage.matching.standing.match_ids`). With the same
:class:`~linkage.matching.parameters.LinkageParameters`, the groups are the
ones a full run on the final data finds (``Matcher(..., fixed=parameters)``
with blocking ``none``); where LSH blocking made the full run miss a pair,
the update, which scores every pair of a changed record, may find it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import format_pseudonyms
from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.similarity import iter_candidates
from linkage.matching.match_keys import key_pairs, merged
from linkage.matching.matcher import MatchResult, MatchRows, member_scores
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import PartySet
from linkage.matching.standing.changes import Changed, ChangeSet, apply_change_sets
from linkage.matching.standing.match_ids import (
    Handover,
    IdRegistry,
    hand_on,
    new_match_id,
)
from linkage.matching.standing.regroup import regroup
from linkage.matching.standing.scoring import Compare, pairs_of_changed
from linkage.matching.unique_keys import unique_key_pairs
from linkage.matching.views import ViewPlan

__all__ = ["RecordChange", "StandingLinkage", "Update"]


@dataclass(frozen=True)
class RecordChange:
    """How one record's match ID changed.

    ``kind`` is ``added`` (now in a group, before in none), ``moved`` (in
    another group), ``left`` (in no group any more) or ``withdrawn`` (its
    agency withdrew it). ``before`` and ``after`` are match IDs or None.
    """

    party: str
    pseudonym: str
    kind: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Update:
    """What one update did: the changed records' IDs and the IDs' fate."""

    changes: list[RecordChange]
    handover: Handover
    records_grouped_again: int
    pairs_scored: int
    records_added: int
    records_corrected: int
    records_withdrawn: int


@dataclass
class StandingLinkage:
    """Records, candidate pairs and match IDs of a linkage kept up to date.

    Attributes:
        parties: every party's current records, in full-run order.
        parameters: the rule of the full run it started from.
        pairs: candidate pairs (global indices, lower first) at the floor.
        match_ids: per record, its match ID or None.
        registry: live IDs' ages and the merges so far.
    """

    parties: PartySet
    parameters: LinkageParameters
    pairs: CandidatePairs
    match_ids: list[str | None]
    registry: IdRegistry = field(default_factory=IdRegistry)

    @classmethod
    def from_run(cls, parties: PartySet, result: MatchResult) -> StandingLinkage:
        """What a full CLK run of ``parties`` found."""
        if result.parameters is None or result.candidates is None:
            raise ValueError("Only a CLK run can be kept up to date")
        index = _global_index(parties)
        match_ids: list[str | None] = [None] * parties.total
        for match_id, party, pseudonym in zip(
            result.rows.match_id, result.rows.party, result.rows.pseudonym, strict=True
        ):
            match_ids[index[party, pseudonym]] = match_id
        registry = IdRegistry()
        # Ages follow each group's first record, so they do not depend on
        # the random IDs.
        for carried in match_ids:
            if carried is not None and carried not in registry.age:
                registry.age[carried] = registry.next_age
                registry.next_age += 1
        pairs = _lower_first(result.candidates)
        return cls(parties, result.parameters, pairs, match_ids, registry)

    def apply(
        self,
        change_sets: Sequence[ChangeSet],
        make_id: Callable[[], str] = new_match_id,
        compare: Compare = iter_candidates,
    ) -> Update:
        """Link ``change_sets`` in; this linkage becomes the one after them.
        ``compare`` scores the changed records against the others (a
        :class:`~linkage.matching.clk.distributed.DaskRectangles` runs it
        on a cluster; the pairs are the same)."""
        changed = apply_change_sets(self.parties, change_sets)
        views = ViewPlan(changed.parties)
        new_pairs = merged(
            pairs_of_changed(
                changed.parties, views, changed.changed, self.parameters, compare
            ),
            key_pairs(
                changed.parties, dedup=self.parameters.dedup, among=changed.changed
            ),
            changed.parties.total,
        )
        if self.parameters.unique_keys:
            threshold = self.parameters.threshold
            new_pairs = merged(
                new_pairs,
                unique_key_pairs(
                    changed.parties,
                    threshold,
                    self.parameters.unique_keys,
                    among=changed.changed,
                ),
                changed.parties.total,
            )
        kept, lost_partner = self._kept_pairs(changed)
        pairs = _concat(kept, new_pairs)
        seeds = np.union1d(changed.changed, lost_partner)
        again = regroup(
            changed.parties.party_of,
            len(changed.parties.parties),
            pairs,
            seeds,
            self.parameters,
            views.partially_compared(),
        )
        old_ids = self._carried_ids(changed)
        gone = self._withdrawn_ids(changed)
        handover = hand_on(
            [old_ids[g] for g in again.records.tolist()],
            again.labels.tolist(),
            gone,
            self.registry,
            make_id,
        )
        new_ids = list(old_ids)
        for record, label in zip(
            again.records.tolist(), again.labels.tolist(), strict=True
        ):
            new_ids[record] = handover.ids[label] if label >= 0 else None
        changes = self._record_changes(changed, old_ids, new_ids, again.records)
        self.parties, self.pairs, self.match_ids = changed.parties, pairs, new_ids
        corrected = len(changed.corrected_old)
        return Update(
            changes,
            handover,
            len(again.records),
            new_pairs.compared,
            records_added=len(changed.changed) - corrected,
            records_corrected=corrected,
            records_withdrawn=int(np.count_nonzero(changed.old_to_new < 0)),
        )

    def rows(self) -> MatchRows:
        """The groups, as a full run writes them (sorted by match ID, party
        and pseudonym; each record's best score within its group)."""
        live = dict.fromkeys(filter(None, self.match_ids))
        code_of = {match_id: code for code, match_id in enumerate(live)}
        labels = np.array(
            [code_of[m] if m else -1 for m in self.match_ids], dtype=np.int64
        )
        best = member_scores(labels, self.pairs)
        grouped = np.flatnonzero(labels >= 0)
        parties, pseudonyms = _names(self.parties, grouped)
        match_ids = np.array(list(live), dtype="U")[labels[grouped]]
        # Arrays of fixed-width text sort in C; match IDs, then party names,
        # then pseudonyms, as a full run's rows are sorted.
        order = np.lexsort(
            (np.array(pseudonyms, dtype="U"), np.array(parties, dtype="U"), match_ids)
        )
        return MatchRows(
            match_ids[order].tolist(),
            [parties[i] for i in order.tolist()],
            [pseudonyms[i] for i in order.tolist()],
            np.round(best[grouped[order]], 4),
        )

    def _kept_pairs(
        self, changed: Changed
    ) -> tuple[CandidatePairs, npt.NDArray[np.int64]]:
        """The old pairs between records neither withdrawn nor corrected, in
        new indices; and the records that lost a pair that could link."""
        remap = changed.old_to_new.copy()
        remap[changed.corrected_old] = -1
        left, right = remap[self.pairs.left], remap[self.pairs.right]
        keep = (left >= 0) & (right >= 0)
        linking = ~keep & (self.pairs.score >= self.parameters.threshold)
        lost = np.concatenate([left[linking], right[linking]])
        kept = CandidatePairs(left[keep], right[keep], self.pairs.score[keep])
        return kept, np.unique(lost[lost >= 0])

    def _carried_ids(self, changed: Changed) -> list[str | None]:
        """Each record's match ID before the update (None for additions)."""
        before = np.array(self.match_ids, dtype=object)
        carried = np.full(changed.parties.total, None, dtype=object)
        stays = changed.old_to_new >= 0
        carried[changed.old_to_new[stays]] = before[stays]
        return list(carried)

    def _withdrawn_ids(self, changed: Changed) -> list[str]:
        gone = np.flatnonzero(changed.old_to_new < 0)
        return sorted({m for g in gone.tolist() if (m := self.match_ids[g])})

    def _record_changes(
        self,
        changed: Changed,
        old_ids: list[str | None],
        new_ids: list[str | None],
        records: npt.NDArray[np.int64],
    ) -> list[RecordChange]:
        """Withdrawn records, then records grouped again whose ID changed."""
        gone = np.flatnonzero(changed.old_to_new < 0)
        changes = [
            RecordChange(party, pseudonym, "withdrawn", self.match_ids[g], None)
            for g, party, pseudonym in zip(
                gone.tolist(), *_names(self.parties, gone), strict=True
            )
        ]
        before = np.array(old_ids, dtype=object)[records]
        after = np.array(new_ids, dtype=object)[records]
        moved = records[before != after]
        kept_before = before[before != after].tolist()
        kept_after = after[before != after].tolist()
        for old, new, party, pseudonym in zip(
            kept_before, kept_after, *_names(changed.parties, moved), strict=True
        ):
            kind = "added" if old is None else "left" if new is None else "moved"
            changes.append(RecordChange(party, pseudonym, kind, old, new))
        return changes


def _names(
    parties: PartySet, records: npt.NDArray[np.int64]
) -> tuple[list[str], list[str]]:
    """The party and the pseudonym of each of ``records`` (global indices),
    formatting only their pseudonyms, not every party's."""
    party_of = parties.party_of[records]
    rows = records - parties.offsets[party_of]
    names = [party.name for party in parties.parties]
    pseudonyms: list[str] = [""] * len(records)
    for number, party in enumerate(parties.parties):
        mine = np.flatnonzero(party_of == number)
        if not len(mine):
            continue
        raw = party.encodings.pseudonyms
        own = (
            format_pseudonyms(raw[rows[mine]])
            if raw is not None
            else [str(row) for row in rows[mine].tolist()]
        )
        for place, pseudonym in zip(mine.tolist(), own, strict=True):
            pseudonyms[place] = pseudonym
    return [names[p] for p in party_of.tolist()], pseudonyms


def _global_index(parties: PartySet) -> dict[tuple[str, str], int]:
    index = {}
    for party, offset in zip(parties.parties, parties.offsets.tolist(), strict=True):
        for row, pseudonym in enumerate(party.pseudonyms):
            index[party.name, pseudonym] = offset + row
    return index


def _lower_first(pairs: CandidatePairs) -> CandidatePairs:
    low = np.minimum(pairs.left, pairs.right)
    high = np.maximum(pairs.left, pairs.right)
    return CandidatePairs(low, high, pairs.score)


def _concat(first: CandidatePairs, second: CandidatePairs) -> CandidatePairs:
    return CandidatePairs(
        np.concatenate([first.left, second.left]).astype(np.int64),
        np.concatenate([first.right, second.right]).astype(np.int64),
        np.concatenate([first.score, second.score]),
    )
