"""Transparency reports count a hand-built log exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linkage.audit import (
    AgencyCounts,
    AuditEntry,
    PurposeCounts,
    ReportTotals,
    next_entry,
    transparency_report,
)

START = datetime(2025, 3, 1, tzinfo=UTC)

# (day, action, details): days let the tests cut the log into periods.
EVENTS: list[tuple[int, str, dict[str, Any]]] = [
    (0, "project.created", {"name": "p"}),
    (
        0,
        "reveal.requested",
        {
            "request_id": "r1",
            "match_id": 1,
            "parties": ["police", "health"],
            "purpose": "child protection",
            "legal_basis": "s1",
            "case_reference": "c1",
        },
    ),
    (0, "reveal.approved", {"request_id": "r1", "reason": "ok"}),
    (
        0,
        "reveal.granted",
        {
            "request_id": "r1",
            "grant_id": "g1",
            "party": "police",
            "records": 1,
            "expires_at": "x",
        },
    ),
    (
        0,
        "reveal.granted",
        {
            "request_id": "r1",
            "grant_id": "g2",
            "party": "health",
            "records": 1,
            "expires_at": "x",
        },
    ),
    (1, "reveal.fulfilled", {"request_id": "r1", "grant_id": "g1", "party": "police"}),
    (
        1,
        "reveal.refused",
        {"request_id": "r1", "grant_id": "g2", "party": "health", "reason": "no"},
    ),
    (1, "reveal.opened", {"request_id": "r1"}),
    (
        1,
        "reveal.requested",
        {
            "request_id": "r2",
            "match_id": 2,
            "parties": ["police", "police"],
            "purpose": "child protection",
            "legal_basis": "s1",
            "case_reference": "c2",
        },
    ),
    (1, "reveal.denied", {"request_id": "r2", "reason": "weak"}),
    (
        2,
        "reveal.requested",
        {
            "request_id": "r3",
            "match_id": 3,
            "parties": ["housing"],
            "purpose": "fraud",
            "legal_basis": "s2",
            "case_reference": "c3",
        },
    ),
    (2, "reveal.approved", {"request_id": "r3", "reason": "ok"}),
    (
        2,
        "reveal.granted",
        {
            "request_id": "r3",
            "grant_id": "g3",
            "party": "housing",
            "records": 2,
            "expires_at": "x",
        },
    ),
    (2, "reveal.open_failed", {"request_id": "r3", "reason": "expired"}),
    (2, "auth.failed", {"who": "?"}),
    (3, "auth.failed", {}),
    (3, "access.denied", {"path": "/x"}),
    (3, "reveal.requested", {"request_id": "r4"}),
    (3, "reveal.fulfilled", {"request_id": "r4"}),
    (3, "something.else", {"request_id": "r9"}),
]


def build() -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    previous = None
    for i, (day, action, details) in enumerate(EVENTS):
        previous = next_entry(
            previous,
            at=START + timedelta(days=day, minutes=i),
            actor="operator",
            action=action,
            project_id=1,
            details=details,
        )
        entries.append(previous)
    return entries


def test_whole_log_counts() -> None:
    report = transparency_report(build())
    assert report.totals == ReportTotals(
        requests=4,
        approvals=2,
        denials=1,
        grants=3,
        fulfilments=2,
        refusals=1,
        opened=1,
        open_failures=1,
        failed_authentications=2,
        denied_accesses=1,
    )
    assert report.agencies == {
        "(unknown)": AgencyCounts(requested=1, fulfilled=1),
        "health": AgencyCounts(requested=1, granted=1, refused=1),
        "housing": AgencyCounts(requested=1, granted=1),
        "police": AgencyCounts(requested=2, granted=1, fulfilled=1),
    }
    assert report.purposes == {
        "(unknown)": PurposeCounts(requests=1),
        "child protection": PurposeCounts(requests=2, granted=1, denied=1),
        "fraud": PurposeCounts(requests=1, granted=1),
    }


def test_since_until_is_half_open() -> None:
    report = transparency_report(
        build(), since=START + timedelta(days=1), until=START + timedelta(days=3)
    )
    assert report.totals == ReportTotals(
        requests=2,
        approvals=1,
        denials=1,
        grants=1,
        fulfilments=1,
        refusals=1,
        opened=1,
        open_failures=1,
        failed_authentications=1,
    )
    assert report.agencies == {
        "health": AgencyCounts(refused=1),
        "housing": AgencyCounts(requested=1, granted=1),
        "police": AgencyCounts(requested=1, fulfilled=1),
    }
    # r1 was requested before the period, so its outcomes count under no purpose.
    assert report.purposes == {
        "child protection": PurposeCounts(requests=1, denied=1),
        "fraud": PurposeCounts(requests=1, granted=1),
    }


def test_only_since_and_empty_period() -> None:
    assert transparency_report(build(), since=START + timedelta(days=3)).totals == (
        ReportTotals(
            requests=1, fulfilments=1, failed_authentications=1, denied_accesses=1
        )
    )
    empty = transparency_report(build(), until=START)
    assert empty.totals == ReportTotals() and not empty.agencies and not empty.purposes
    assert "(none)" in empty.to_text()


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        transparency_report(build(), since=datetime(2025, 1, 1))


def test_to_dict_is_json_and_to_text_is_readable() -> None:
    import json

    report = transparency_report(build(), until=START + timedelta(days=3))
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["period"] == {"since": None, "until": "2025-03-04T00:00:00.000000Z"}
    assert data["totals"]["requests"] == 3
    assert data["agencies"]["police"] == {
        "requested": 2,
        "granted": 1,
        "fulfilled": 1,
        "refused": 0,
    }
    text = report.to_text()
    assert "until (not including) 2025-03-04T00:00:00.000000Z" in text
    assert "child protection" in text and "Failed authentications" in text
    police = next(line for line in text.splitlines() if line.startswith("police"))
    assert police.split() == ["police", "2", "1", "1", "0"]


@pytest.mark.parametrize(
    ("details", "counted"),
    [
        ({"client": "10.0.0.1", "count": 1, "path": "/x"}, 1),
        ({"client": "10.0.0.1", "count": 299, "since": "t"}, 299),
        ({}, 1),  # Written before failures were counted: one each.
        ({"count": "many"}, 1),
        ({"count": True}, 1),
        ({"count": 0}, 1),
    ],
)
def test_failed_authentications_sum_their_counts(
    details: dict[str, Any], counted: int
) -> None:
    """The service writes a client's repeated failures as one counted entry."""
    entry = next_entry(
        None,
        at=START,
        actor="anonymous",
        action="auth.failed",
        project_id=None,
        details=details,
    )
    assert transparency_report([entry]).totals.failed_authentications == counted
