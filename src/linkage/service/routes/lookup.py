"""``POST /projects/{id}/lookup``: is this person known, and under which match ID?

An agency sends one to a hundred records' encodings (a linkage encodings file
from ``linkage encode``, in the request body) with its own token, and gets,
for each, what :mod:`linkage.service.lookup.answer` allows. Every answered
lookup is audited (``lookup.answered``: the party, the run, how many records
and how many were known; never a CLK or a pseudonym), and each agency is held
to its rate (429 with ``Retry-After``; the first refusal of a streak is
audited as ``lookup.limited``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from linkage.formats.clkfile import read_encodings_bytes
from linkage.service.deps import (
    AuditDep,
    CurrentToken,
    ReachableProject,
    forbidden,
)
from linkage.service.errors import ApiProblem
from linkage.service.lookup.answer import LookupAnswer, answer
from linkage.service.lookup.desk import LookupDesk, check_count, check_query
from linkage.service.lookup.index import LookupUnavailableError
from linkage.service.routes.bodies import file_body
from linkage.storage import TokenRecord
from linkage.storage.audit_log import AuditLog

router = APIRouter(tags=["lookup"])

LOOKUP_PATH = "/projects/{project_id}/lookup"
_BODY_NAME = "the lookup's encodings"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "No run has completed, or the project does not keep "
        "its encodings (or links by the probabilistic method)."
    },
    422: {
        "description": "The file cannot be read or is not encoded as the "
        "project's uploads were."
    },
    429: {"description": "The agency's lookup rate is used up; see Retry-After."},
}
_FILE_BODY = file_body()


@router.post(LOOKUP_PATH, responses=_RESPONSES, openapi_extra=_FILE_BODY)
async def look_up(
    request: Request,
    project: ReachableProject,
    token: CurrentToken,
    audit: AuditDep,
) -> LookupAnswer:
    """Score each submitted record against the latest completed run's linked
    records, and say which group it belongs to, within your own view."""
    if token.role != "party" or token.party_id is None:
        raise forbidden(
            "only an agency's own token may look up records: the answer names "
            "its own pseudonyms"
        )
    desk: LookupDesk = request.app.state.lookup
    query = read_encodings_bytes(await request.body(), name=_BODY_NAME)
    check_count(query, desk.limiter.rate.burst)
    decision = desk.limiter.take(token.party_id, len(query))
    if not decision.allowed:
        if decision.first_refusal:
            await run_in_threadpool(_record_limited, audit, token, project.id)
        raise ApiProblem(
            429,
            f"your agency's lookup rate ({desk.limiter.rate.per_minute:g} a "
            f"minute, {desk.limiter.rate.burst} at once) is used up; retry in "
            f"{decision.retry_after} s",
            headers={"Retry-After": str(decision.retry_after)},
        )
    try:
        records = await run_in_threadpool(desk.records_for, project)
        asker = records.number_of(token.party_id)
    except LookupUnavailableError as error:
        raise ApiProblem(409, str(error)) from None
    check_query(records, asker, query)
    found = await run_in_threadpool(
        records.look_up, asker, query.clks, query.match_keys
    )
    known = sum(item.known for item in found)
    # Busy desks answer many lookups at once: their entries share a commit.
    await run_in_threadpool(
        audit.append,
        batched=True,
        actor=token.actor,
        action="lookup.answered",
        project_id=project.id,
        details={
            "party": token.name,
            "run_id": records.run_id,
            "records": len(found),
            "known": known,
        },
    )
    return answer(
        project.id, records.run_id, query.pseudonym_strings(), found, desk.policy
    )


def _record_limited(audit: AuditLog, token: TokenRecord, project_id: int) -> None:
    audit.append(
        actor=token.actor,
        action="lookup.limited",
        project_id=project_id,
        details={"party": token.name},
    )
