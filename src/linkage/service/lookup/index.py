"""One project's linked records in memory: what a lookup is scored against.

:func:`load_linked_records` reads the latest completed run's inputs and
outputs once: each party's encodings file the run used (not a newer upload:
the run's groups are of those records) and its results CSV. It keeps, per
party and per view the run compared it on, a :class:`~linkage.matching.lookup.ClkIndex`,
and each record's group. A lookup then scores the query against every
party's records on the view the run used for that pair of agencies, with
that view's score shift, at the run's threshold: as the run scored pairs.

Of the records at or above the threshold the best-scoring one decides: its
group in the run's results gives the match ID, the asking agency's
pseudonyms in that group and whether another agency holds a record in it.
A record the run left in no group still makes the person *known*, without
a match ID (the run's one-to-one solving or clustering kept it apart).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.batching import Combiner
from linkage.errors import EncodingFileError, LinkageError
from linkage.formats.clkfile import EncodingHeader, Encodings, read_encodings
from linkage.formats.extension import WHOLE_CLK
from linkage.matching.lookup import ClkIndex
from linkage.matching.match_keys import KEY_SCORE, KeyIndex
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import Party as MatchParty
from linkage.matching.parties import PartySet
from linkage.matching.views import ViewPlan
from linkage.storage import Store
from linkage.storage.records import Project, Run, Upload

__all__ = [
    "Found",
    "LinkedRecords",
    "LookupQueryError",
    "LookupUnavailableError",
    "RunParameters",
    "load_linked_records",
    "run_parameters",
]


class LookupUnavailableError(LinkageError):
    """The project cannot answer lookups now (no run, no encodings, ...)."""


class LookupQueryError(EncodingFileError):
    """The submitted encodings cannot be compared with the project's."""


@dataclass(frozen=True)
class RunParameters:
    """What decided a run's matches: its threshold and per-view score shifts
    (a view's Dice plus its shift is compared with the threshold)."""

    threshold: float
    shifts: Mapping[str, float]


def run_parameters(run: Run, data_dir: Path) -> RunParameters:
    """The run's threshold and view shifts: from ``parameters.json`` in its
    results folder (:class:`~linkage.matching.parameters.LinkageParameters`)
    when the run wrote one, else from its stats, where both are rounded to 4
    decimals (a score within 0.00005 of the threshold may then be judged
    differently from the run).

    Raises:
        InputError: ``parameters.json`` is malformed.
    """
    if run.result_dir is not None:
        written = data_dir / run.result_dir / "parameters.json"
        if written.is_file():
            document = json.loads(written.read_text("utf-8"))
            fixed = LinkageParameters.from_document(document)
            return RunParameters(fixed.threshold, dict(fixed.shifts))
    threshold = float(run.stats["threshold"])
    return RunParameters(threshold, parse_shifts(str(run.stats["view_score_shifts"])))


def parse_shifts(text: str) -> dict[str, float]:
    """Read the stats' ``"view +0.0123; other -0.0045"`` (or ``"none"``)."""
    if text.strip() in ("", "none"):
        return {}
    pairs = (part.strip().rsplit(" ", 1) for part in text.split(";"))
    return {view: float(shift) for view, shift in pairs}


@dataclass(frozen=True)
class Found:
    """What one submitted record matched, before the policy shapes it.

    Attributes:
        known: a record scored at or above the run's threshold.
        match_id: the best record's group, or None (unknown, or in no group).
        own: the asking party's pseudonyms in that group (or the best record
            itself, if it is the asker's and in no group).
        others: names of the other parties holding a record in that group
            (or the best record's party, if it is another's and in no group).
    """

    known: bool
    match_id: str | None
    own: tuple[str, ...]
    others: tuple[str, ...]


class LinkedRecords:
    """One completed run's records, indexed for lookups (see the module doc)."""

    def __init__(
        self,
        run_id: int,
        parameters: RunParameters,
        parties: Sequence[tuple[int, str, Encodings]],
        groups: Sequence[npt.NDArray[np.int64]],
        match_ids: Sequence[str],
    ) -> None:
        self.run_id = run_id
        self.parameters = parameters
        self.party_ids = tuple(party_id for party_id, _, _ in parties)
        self.names = tuple(name for _, name, _ in parties)
        self.headers: tuple[EncodingHeader | None, ...] = tuple(
            encodings.header for _, _, encodings in parties
        )
        plan = ViewPlan(PartySet(tuple(MatchParty(n, e) for _, n, e in parties)))
        count = len(parties)
        self._view = {
            (a, b): plan.view_of(a, b) for a in range(count) for b in range(count)
        }
        self._view.update({(a, a): WHOLE_CLK for a in range(count)})
        needed = {(b, view) for (_, b), view in self._view.items()}
        self._indexes = {key: ClkIndex(plan.clks(*key)) for key in sorted(needed)}
        keys = [encodings.match_keys for _, _, encodings in parties]
        header = parties[0][2].header if parties else None
        unique = header.unique_keys if header is not None else 0
        self._keys = (
            KeyIndex([k for k in keys if k is not None], unique)
            if keys and all(k is not None for k in keys)
            else None
        )
        self._pseudonyms = [encodings.pseudonyms for _, _, encodings in parties]
        self._groups = list(groups)
        self._match_ids = list(match_ids)
        self._members = _members(self._groups, len(match_ids))
        self._combiner: Combiner[_Asked, list[Found]] = Combiner(self._look_up_many)

    @property
    def records(self) -> int:
        """Linked records held, over every party."""
        return sum(len(groups) for groups in self._groups)

    def number_of(self, party_id: int) -> int:
        """The position of party ``party_id`` in this run.

        Raises:
            LookupUnavailableError: the party took no part in the run.
        """
        if party_id not in self.party_ids:
            raise LookupUnavailableError(
                f"your agency took no part in run {self.run_id}; wait for a run "
                "with your upload"
            )
        return self.party_ids.index(party_id)

    def look_up(
        self,
        asker: int,
        clks: npt.NDArray[np.uint8],
        keys: npt.NDArray[np.uint8] | None = None,
    ) -> list[Found]:
        """What each row of ``clks`` (the asker's encodings, whole with their
        views; ``keys`` their match keys) matches among the run's records.
        Lookups that arrive while another is being scored are scored
        together, in one pass over the linked records
        (:class:`~linkage.batching.Combiner`)."""
        return self._combiner.run((asker, clks, keys))

    def _look_up_many(self, asked: Sequence[_Asked]) -> list[list[Found]]:
        """:meth:`look_up` for several askers' CLKs at once."""
        sizes = [len(clks) for _, clks, _ in asked]
        total = sum(sizes)
        best_party = np.full(total, -1, dtype=np.int64)
        best_row = np.full(total, -1, dtype=np.int64)
        best_score = np.full(total, -np.inf)
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        threshold = self.parameters.threshold
        for party in range(len(self.names)):
            by_view: dict[str, list[int]] = {}
            for number, (asker, _, _) in enumerate(asked):
                by_view.setdefault(self._view[(asker, party)], []).append(number)
            for view, numbers in by_view.items():
                shift = self.parameters.shifts.get(view, 0.0)
                raw = min(max(threshold - shift, 1e-9), 1.0)
                queries = np.concatenate(
                    [self._slice(asked[n][0], asked[n][1], view) for n in numbers]
                )
                found = self._indexes[(party, view)].best(queries, raw)
                place = np.concatenate(
                    [np.arange(starts[n], starts[n + 1]) for n in numbers]
                )
                score = np.where(found.rows >= 0, found.scores + shift, -np.inf)
                # Strictly better only: on a tie the earlier party keeps it.
                better = score > best_score[place]
                best_party[place[better]] = party
                best_row[place[better]] = found.rows[better]
                best_score[place[better]] = score[better]
        self._by_keys(asked, starts, (best_party, best_row, best_score))
        return [
            [
                self._found(asker, int(p), int(r))
                for p, r in zip(
                    best_party[starts[n] : starts[n + 1]],
                    best_row[starts[n] : starts[n + 1]],
                    strict=True,
                )
            ]
            for n, (asker, _, _) in enumerate(asked)
        ]

    def _by_keys(
        self,
        asked: Sequence[_Asked],
        starts: npt.NDArray[np.int64],
        best: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[Any]],
    ) -> None:
        """A query sharing a match key with a linked record matches it at
        :data:`~linkage.matching.match_keys.KEY_SCORE`, if no CLK beat that."""
        if self._keys is None:
            return
        best_party, best_row, best_score = best
        for number, (_, _, keys) in enumerate(asked):
            if keys is None:
                continue
            party, row = self._keys.find(keys)
            place = np.arange(starts[number], starts[number + 1])
            better = (party >= 0) & (KEY_SCORE > best_score[place])
            best_party[place[better]] = party[better]
            best_row[place[better]] = row[better]
            best_score[place[better]] = KEY_SCORE

    def _slice(
        self, asker: int, clks: npt.NDArray[np.uint8], view: str
    ) -> npt.NDArray[np.uint8]:
        header = self.headers[asker]
        views = {v.name: v for v in header.views} if header is not None else {}
        if not views:
            return clks
        place = views[view]
        return np.ascontiguousarray(clks[:, place.start : place.stop])

    def _found(self, asker: int, party: int, row: int) -> Found:
        if party < 0:
            return Found(known=False, match_id=None, own=(), others=())
        group = int(self._groups[party][row])
        if group < 0:
            if party == asker:
                return Found(True, None, (self._pseudonym(party, row),), ())
            return Found(True, None, (), (self.names[party],))
        start, stop = self._members.starts[group], self._members.starts[group + 1]
        parties = self._members.party[start:stop]
        rows = self._members.row[start:stop]
        mine = rows[parties == asker].tolist()
        own = tuple(sorted(self._pseudonym(asker, r) for r in mine))
        others = tuple(sorted({self.names[int(p)] for p in parties if p != asker}))
        return Found(True, self._match_ids[group], own, others)

    def _pseudonym(self, party: int, row: int) -> str:
        pseudonyms = self._pseudonyms[party]
        if pseudonyms is None:  # clkhash JSON: the row stands in for it.
            return str(row)
        return bytes(pseudonyms[row]).hex()


#: One lookup: the asker's number, its query's CLKs and match keys.
_Asked = tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8] | None]


@dataclass(frozen=True)
class _Members:
    """Every group's records: ``party[starts[g]:starts[g+1]]`` and ``row[...]``."""

    starts: npt.NDArray[np.int64]
    party: npt.NDArray[np.int64]
    row: npt.NDArray[np.int64]


def _members(groups: Sequence[npt.NDArray[np.int64]], count: int) -> _Members:
    group = np.concatenate([g for g in groups]) if groups else np.zeros(0, np.int64)
    party = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    row = np.concatenate([np.arange(len(g)) for g in groups]) if groups else group
    grouped = group >= 0
    order = np.argsort(group[grouped], kind="stable")
    starts = np.searchsorted(group[grouped][order], np.arange(count + 1))
    return _Members(
        starts.astype(np.int64),
        party[grouped][order].astype(np.int64),
        row[grouped][order].astype(np.int64),
    )


def load_linked_records(
    store: Store, data_dir: Path, project: Project, run: Run
) -> LinkedRecords:
    """Read ``run``'s encodings files and results into a :class:`LinkedRecords`.

    Raises:
        LookupUnavailableError: a file the run used was deleted.
    """
    uploads = {
        upload.id: upload
        for upload in store.uploads_for(project_id=project.id, include_superseded=True)
    }
    parties, frames = [], []
    for party in store.parties_of(project_id=project.id):
        result = store.run_result(run_id=run.id, party_id=party.id)
        upload = uploads[result.upload_id]
        parties.append((party.id, party.name, _read_upload(data_dir, upload, run)))
        frames.append(pd.read_csv(data_dir / result.path, dtype=str))
    # One number per match ID, the same in every party's rows.
    codes, match_ids = pd.factorize(pd.concat([f["match_id"] for f in frames]))
    groups, first = [], 0
    for (_, _, encodings), frame in zip(parties, frames, strict=True):
        rows = pd.Index(encodings.pseudonym_strings()).get_indexer(
            pd.Index(frame["pseudonym"])
        )
        group = np.full(len(encodings), -1, dtype=np.int64)
        group[rows] = codes[first : first + len(frame)]
        groups.append(group)
        first += len(frame)
    return LinkedRecords(
        run.id, run_parameters(run, data_dir), parties, groups, list(match_ids)
    )


def _read_upload(data_dir: Path, upload: Upload, run: Run) -> Encodings:
    if upload.deleted_at is not None or not upload.path:
        raise LookupUnavailableError(
            f"the encodings run {run.id} linked were deleted, so the service "
            "has nothing to compare a lookup with; lookups need a project that "
            "keeps its encodings"
        )
    return read_encodings(data_dir / upload.path)
