"""Lookup probing: an agency looking up many people the linkage does not know.

A lookup answers yes or no; an agency that submits guessed people (every
name in a phone book with a plausible birth date) learns, from the yeses,
who the other agencies hold. Its trace in the audit log is a burst of
lookups that match nothing. The rule, per agency and project, over the
``lookup.answered`` entries (each counts its records and how many were
known):

    within any window of ``window`` (10 minutes), at least ``min_misses``
    (20) records were not known, and they are at least ``min_miss_share``
    (80 %) of the records looked up in that window.

An agency answering an incident looks up a few people, most of them known;
a prober looks up many, most of them not. Overlapping flagged windows are
reported as one burst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from linkage.audit.chain import AuditEntry, parse_time

__all__ = ["DEFAULT_PROBING_RULE", "LookupProbe", "ProbingRule", "lookup_probes"]

LOOKUP_ACTION = "lookup.answered"


@dataclass(frozen=True)
class ProbingRule:
    """When a run of lookups counts as probing (see the module doc).

    Raises:
        ValueError: a bound is not positive, or the share is not in (0, 1].
    """

    window: timedelta = timedelta(minutes=10)
    min_misses: int = 20
    min_miss_share: float = 0.8

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError(f"'window' must be positive (got {self.window})")
        if self.min_misses < 1:
            raise ValueError(f"'min_misses' must be at least 1 (got {self.min_misses})")
        if not 0 < self.min_miss_share <= 1:
            raise ValueError(
                f"'min_miss_share' must be in (0, 1] (got {self.min_miss_share})"
            )


DEFAULT_PROBING_RULE = ProbingRule()


@dataclass(frozen=True)
class LookupProbe:
    """One flagged burst: who, where, when, and its counts."""

    project_id: int | None
    party: str
    first: datetime
    last: datetime
    lookups: int
    misses: int


@dataclass(frozen=True)
class _Lookup:
    at: datetime
    records: int
    misses: int


def lookup_probes(
    entries: Sequence[AuditEntry], rule: ProbingRule = DEFAULT_PROBING_RULE
) -> list[LookupProbe]:
    """The bursts of ``entries``' lookups that the rule flags, oldest first."""
    traces: dict[tuple[int | None, str], list[_Lookup]] = {}
    for entry in entries:
        if entry.action != LOOKUP_ACTION:
            continue
        records, known = entry.details.get("records"), entry.details.get("known")
        if not isinstance(records, int) or not isinstance(known, int):
            continue
        party = str(entry.details.get("party") or entry.actor)
        trace = traces.setdefault((entry.project_id, party), [])
        trace.append(_Lookup(parse_time(entry.at), records, max(records - known, 0)))
    probes = [
        LookupProbe(project_id, party, *burst)
        for (project_id, party), trace in traces.items()
        for burst in _bursts(sorted(trace, key=lambda item: item.at), rule)
    ]
    return sorted(probes, key=lambda probe: probe.first)


def _bursts(
    trace: list[_Lookup], rule: ProbingRule
) -> list[tuple[datetime, datetime, int, int]]:
    """Flagged windows of one agency's time-ordered lookups, merged where
    they overlap: (first, last, lookups, misses) of each."""
    spans: list[list[int]] = []
    start = 0
    for end, item in enumerate(trace):
        while item.at - trace[start].at > rule.window:
            start += 1
        window = trace[start : end + 1]
        records = sum(one.records for one in window)
        misses = sum(one.misses for one in window)
        if misses >= rule.min_misses and misses >= rule.min_miss_share * records:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
    bursts = []
    for first, last in spans:
        burst = trace[first : last + 1]
        bursts.append(
            (
                burst[0].at,
                burst[-1].at,
                sum(one.records for one in burst),
                sum(one.misses for one in burst),
            )
        )
    return bursts
