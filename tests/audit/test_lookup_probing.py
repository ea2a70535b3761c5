"""The probing rule flags bursts of lookups that match nothing, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linkage.audit import AuditEntry, next_entry, transparency_report
from linkage.audit.probing import ProbingRule, lookup_probes

START = datetime(2025, 5, 1, 9, tzinfo=UTC)


def _log(lookups: list[tuple[float, str, int, int]]) -> list[AuditEntry]:
    """(minutes after START, party, records, known) -> lookup.answered entries."""
    entries: list[AuditEntry] = []
    for minutes, party, records, known in lookups:
        details: dict[str, Any] = {
            "party": party, "run_id": 1, "records": records, "known": known,
        }  # fmt: skip
        entries.append(
            next_entry(
                entries[-1] if entries else None,
                at=START + timedelta(minutes=minutes),
                actor=f"party:{party}",
                action="lookup.answered",
                project_id=7,
                details=details,
            )
        )
    return entries


def test_many_misses_in_a_short_time_are_flagged() -> None:
    """25 single-record misses in five minutes: one burst, with its counts."""
    entries = _log([(i * 0.2, "police", 1, 0) for i in range(25)])
    [probe] = lookup_probes(entries)
    assert (probe.project_id, probe.party, probe.lookups, probe.misses) == (
        7, "police", 25, 25,
    )  # fmt: skip
    assert probe.first == START and probe.last == START + timedelta(minutes=4.8)


def test_an_incident_is_not_probing() -> None:
    """Many lookups that are mostly known, or few misses, or misses spread
    over hours, are not flagged."""
    mostly_known = [(i * 0.1, "health", 10, 7) for i in range(10)]  # 30 of 100 miss.
    few = [(i, "tax", 1, 0) for i in range(19)]
    spread = [(i * 30.0, "social", 1, 0) for i in range(40)]
    assert lookup_probes(_log(mostly_known + few + spread)) == []


def test_overlapping_windows_are_one_burst_and_separate_ones_two() -> None:
    """Two runs of misses an hour apart are two bursts; each is one."""
    first = [(i * 0.1, "police", 1, 0) for i in range(30)]
    second = [(60 + i * 0.1, "police", 1, 0) for i in range(30)]
    probes = lookup_probes(_log(first + second))
    assert [p.lookups for p in probes] == [30, 30]


def test_the_rule_is_configurable_and_checked() -> None:
    """A stricter rule flags less; an impossible one is refused by name."""
    entries = _log([(i * 0.2, "police", 1, 0) for i in range(25)])
    assert lookup_probes(entries, ProbingRule(min_misses=30)) == []
    with pytest.raises(ValueError, match="min_miss_share"):
        ProbingRule(min_miss_share=1.5)


def test_the_transparency_report_shows_lookups_and_bursts() -> None:
    """The report counts looked-up records and lists the flagged bursts."""
    entries = _log([(i * 0.2, "police", 2, 0) for i in range(15)])
    report = transparency_report(entries)
    assert report.totals.lookups == 30
    data = report.to_dict()
    assert [b["party"] for b in data["lookup_probing"]["bursts"]] == ["police"]
    text = report.to_text()
    assert "Lookup probing (flagged: at least 20 records not known" in text
    assert "police" in text
