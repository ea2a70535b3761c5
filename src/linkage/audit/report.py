"""Transparency reports: what was asked for, by whom, why, and what came of it,
and which agencies' lookups look like probing (:mod:`linkage.audit.probing`).

Built from audit entries alone, so an oversight body can compute the same
numbers from an export it has verified.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from linkage.audit.chain import AuditEntry, format_time, parse_time
from linkage.audit.probing import (
    DEFAULT_PROBING_RULE,
    LookupProbe,
    ProbingRule,
    lookup_probes,
)

UNKNOWN = "(unknown)"

# Action → the ReportTotals field it increments.
_TOTALS = {
    "reveal.requested": "requests",
    "reveal.approved": "approvals",
    "reveal.denied": "denials",
    "reveal.granted": "grants",
    "reveal.fulfilled": "fulfilments",
    "reveal.refused": "refusals",
    "reveal.opened": "opened",
    "reveal.open_failed": "open_failures",
    "auth.failed": "failed_authentications",
    "access.denied": "denied_accesses",
    "lookup.answered": "lookups",
    "lookup.limited": "lookups_rate_limited",
}

# Action → the AgencyCounts field it increments for the party named.
_AGENCY = {
    "reveal.granted": "granted",
    "reveal.fulfilled": "fulfilled",
    "reveal.refused": "refused",
}


@dataclass(frozen=True)
class ReportTotals:
    """How many times each kind of event happened in the period."""

    requests: int = 0
    approvals: int = 0
    denials: int = 0
    grants: int = 0
    fulfilments: int = 0
    refusals: int = 0
    opened: int = 0
    open_failures: int = 0
    failed_authentications: int = 0
    denied_accesses: int = 0
    lookups: int = 0
    lookups_rate_limited: int = 0


@dataclass(frozen=True)
class AgencyCounts:
    """Reveal events for one agency (party)."""

    requested: int = 0
    granted: int = 0
    fulfilled: int = 0
    refused: int = 0


@dataclass(frozen=True)
class PurposeCounts:
    """Requests made for one purpose, and how many were granted or denied."""

    requests: int = 0
    granted: int = 0
    denied: int = 0


@dataclass(frozen=True)
class TransparencyReport:
    """Counts of reveal activity over ``since <= at < until`` (None: open)."""

    since: datetime | None
    until: datetime | None
    totals: ReportTotals
    agencies: Mapping[str, AgencyCounts] = field(default_factory=dict)
    purposes: Mapping[str, PurposeCounts] = field(default_factory=dict)
    probes: tuple[LookupProbe, ...] = ()
    probing_rule: ProbingRule = DEFAULT_PROBING_RULE

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "period": {
                "since": None if self.since is None else format_time(self.since),
                "until": None if self.until is None else format_time(self.until),
            },
            "totals": asdict(self.totals),
            "agencies": {name: asdict(c) for name, c in self.agencies.items()},
            "purposes": {name: asdict(c) for name, c in self.purposes.items()},
            "lookup_probing": {
                "rule": _rule_text(self.probing_rule),
                "bursts": [
                    {
                        **asdict(probe),
                        "first": format_time(probe.first),
                        "last": format_time(probe.last),
                    }
                    for probe in self.probes
                ],
            },
        }

    def to_text(self) -> str:
        """The report as plain-text tables for an oversight body."""
        since = (
            "the start of the log" if self.since is None else format_time(self.since)
        )
        until = (
            "the end of the log"
            if self.until is None
            else f"(not including) {format_time(self.until)}"
        )
        parts = [
            "Transparency report",
            f"Period: from {since} until {until}",
            "",
            _table(
                ("Event", "Count"),
                [(_label(name), str(n)) for name, n in asdict(self.totals).items()],
            ),
            "",
            "Per agency",
            _table(
                ("Agency", "Requested", "Granted", "Fulfilled", "Refused"),
                [
                    (name, *(str(v) for v in asdict(c).values()))
                    for name, c in self.agencies.items()
                ],
            ),
            "",
            "Per purpose",
            _table(
                ("Purpose", "Requests", "Granted", "Denied"),
                [
                    (name, *(str(v) for v in asdict(c).values()))
                    for name, c in self.purposes.items()
                ],
            ),
            "",
            f"Lookup probing ({_rule_text(self.probing_rule)})",
            _table(
                ("Agency", "Project", "From", "Until", "Lookups", "Misses"),
                [
                    (
                        probe.party,
                        str(probe.project_id),
                        format_time(probe.first),
                        format_time(probe.last),
                        str(probe.lookups),
                        str(probe.misses),
                    )
                    for probe in self.probes
                ],
            ),
        ]
        return "\n".join(parts) + "\n"


def _rule_text(rule: ProbingRule) -> str:
    minutes = rule.window.total_seconds() / 60
    return (
        f"flagged: at least {rule.min_misses} records not known within "
        f"{minutes:g} minutes, and at least {rule.min_miss_share:.0%} of those "
        "looked up"
    )


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        rows = [("(none)", *("" for _ in header[1:]))]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        # Names left-aligned, numbers right-aligned, as in a printed table.
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def transparency_report(
    entries: Sequence[AuditEntry],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    probing: ProbingRule = DEFAULT_PROBING_RULE,
) -> TransparencyReport:
    """Count reveal activity in ``entries`` with ``since <= at < until``,
    and flag the bursts of lookups there that ``probing`` calls probing.

    Only events inside the period count, including the grants and denials
    used for the per-purpose columns: a request made before ``since`` and
    granted inside the period counts as a grant for its agency but not under
    any purpose. Unknown actions are ignored; missing details count under
    ``"(unknown)"``.

    Raises:
        ValueError: ``since`` or ``until`` is a naive datetime.
    """
    for bound in (since, until):
        if bound is not None and bound.utcoffset() is None:
            raise ValueError("report period bounds must be timezone-aware")
    tally = _Tally()
    inside = []
    for entry in entries:
        at = parse_time(entry.at)
        if (since is None or since <= at) and (until is None or at < until):
            tally.add(entry)
            inside.append(entry)
    report = tally.report(since, until)
    return replace(
        report,
        probes=tuple(lookup_probes(inside, probing)),
        probing_rule=probing,
    )


class _Tally:
    """Mutable counters filled entry by entry, frozen into a report at the end."""

    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.agencies: dict[str, Counter[str]] = {}
        self.request_purpose: dict[str, str] = {}
        self.purpose_requests: Counter[str] = Counter()
        self.granted_requests: set[str] = set()
        self.denied_requests: set[str] = set()

    def add(self, entry: AuditEntry) -> None:
        total = _TOTALS.get(entry.action)
        if total is None:
            return
        details = entry.details
        self.totals[total] += _events_in(entry.action, details)
        request_id = _text(details.get("request_id"))
        if entry.action == "reveal.requested":
            self._request(request_id, details)
        elif entry.action in _AGENCY:
            self._agency(_text(details.get("party")))[_AGENCY[entry.action]] += 1
        if entry.action == "reveal.granted":
            self.granted_requests.add(request_id)
        elif entry.action == "reveal.denied":
            self.denied_requests.add(request_id)

    def _request(self, request_id: str, details: Mapping[str, Any]) -> None:
        purpose = _text(details.get("purpose"))
        self.purpose_requests[purpose] += 1
        self.request_purpose[request_id] = purpose
        for party in _parties(details.get("parties")):
            self._agency(party)["requested"] += 1

    def _agency(self, name: str) -> Counter[str]:
        return self.agencies.setdefault(name, Counter())

    def report(
        self, since: datetime | None, until: datetime | None
    ) -> TransparencyReport:
        return TransparencyReport(
            since=since,
            until=until,
            totals=ReportTotals(**self.totals),
            agencies={
                name: AgencyCounts(**counts)
                for name, counts in sorted(self.agencies.items())
            },
            purposes={
                purpose: PurposeCounts(
                    requests=n,
                    granted=self._outcomes(purpose, self.granted_requests),
                    denied=self._outcomes(purpose, self.denied_requests),
                )
                for purpose, n in sorted(self.purpose_requests.items())
            },
        )

    def _outcomes(self, purpose: str, request_ids: set[str]) -> int:
        return sum(
            1
            for request_id, p in self.request_purpose.items()
            if p == purpose and request_id in request_ids
        )


def _events_in(action: str, details: Mapping[str, Any]) -> int:
    """How many events an entry stands for: the service writes failed
    authentications from one client as a ``count`` (see
    linkage.service.auth_failures), and a lookup counts its ``records``; any
    other entry, or one without a valid count, is one event."""
    key = {"auth.failed": "count", "lookup.answered": "records"}.get(action)
    count = details.get(key) if key else None
    if isinstance(count, bool) or not isinstance(count, int):
        return 1
    return max(count, 1)


def _text(value: Any) -> str:
    if value is None or value == "":
        return UNKNOWN
    return str(value)


def _parties(value: Any) -> list[str]:
    """The distinct parties a request names: each counts once per request."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        return [UNKNOWN]
    return list(dict.fromkeys(_text(party) for party in value))
