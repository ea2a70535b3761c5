"""Governed reveal over HTTP: request, decide, grant, answer, collect.

Who may call what (others get 403, recorded in the audit log):

* investigators: make requests, read their own, collect the sealed answers;
* approvers: read requests and the statements to sign, approve (with their
  signed approvals) or deny with a reason;
* agencies (party tokens): list their grants, fulfil or refuse them;
* the operator: read requests (never an identity: it has none to read).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response

from linkage.reveal.approvals import ApprovalError, SignedApproval
from linkage.reveal.grants import SignedGrant
from linkage.reveal.policy import RevealPolicy
from linkage.reveal.sealing import SealedEnvelope, SealError
from linkage.service.deps import CurrentToken, ReachableProject, forbidden
from linkage.service.errors import ApiProblem
from linkage.service.models import (
    DecisionCreate,
    DecisionPublic,
    FulfilmentCreate,
    GrantPublic,
    OpenReport,
    RefusalCreate,
    ResourceId,
    RevealAnswers,
    RevealCreate,
    RevealPublic,
    SealedPublic,
    SignedBody,
    SignedGrantBody,
    StatementPublic,
    TargetPublic,
)
from linkage.service.reveals import RevealAsk, RevealDesk
from linkage.storage import RevealRequest, RevealTarget, TokenRecord

router = APIRouter(prefix="/projects/{project_id}", tags=["reveals"])


def get_desk(request: Request) -> RevealDesk:
    """The app's reveal desk."""
    desk: RevealDesk = request.app.state.reveals
    return desk


DeskDep = Annotated[RevealDesk, Depends(get_desk)]


def _require(token: TokenRecord, role: str, doing: str) -> None:
    if token.role != role:
        raise forbidden(
            f"only {'an' if role[0] in 'aeiou' else 'a'} {role} may {doing}"
        )


@router.post("/reveals", status_code=201)
def request_reveal(
    body: RevealCreate, project: ReachableProject, token: CurrentToken, desk: DeskDep
) -> RevealPublic:
    """Ask to reveal who is behind one match ID in the named agencies."""
    _require(token, "investigator", "request a reveal")
    ask = RevealAsk(
        match_id=body.match_id,
        parties=body.parties,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        case_reference=body.case_reference,
    )
    return public_request(desk.request(token, project, ask), token)


@router.get("/reveals")
def list_reveals(
    project: ReachableProject, token: CurrentToken, desk: DeskDep
) -> list[RevealPublic]:
    """The requests the token may see, newest first."""
    return [public_request(r, token) for r in desk.visible_requests(token, project)]


@router.get("/reveals/{request_id}")
def read_reveal(
    request_id: ResourceId,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> RevealPublic:
    """One request: its state, decisions and each agency's grant state."""
    return public_request(desk.visible_request(token, project, request_id), token)


@router.get("/reveals/{request_id}/statements")
def reveal_statements(
    request_id: ResourceId,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> list[StatementPublic]:
    """What an approver signs to approve: one statement per agency holding
    records in the match (approvers only)."""
    return [
        StatementPublic(party=statement.party, statement=statement.to_json())
        for statement in desk.statements(token, project, request_id)
    ]


@router.post("/reveals/{request_id}/approve")
def approve_reveal(
    request_id: ResourceId,
    body: DecisionCreate,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> RevealPublic:
    """Approve a request, with a reason; the last approval needed issues grants."""
    return decide_reveal(request_id, "approve", body, project, token, desk)


@router.post("/reveals/{request_id}/deny")
def deny_reveal(
    request_id: ResourceId,
    body: DecisionCreate,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> RevealPublic:
    """Deny a request, with a reason (under the default policy, this ends it)."""
    return decide_reveal(request_id, "deny", body, project, token, desk)


def decide_reveal(
    request_id: int,
    decision: Literal["approve", "deny"],
    body: DecisionCreate,
    project: ReachableProject,
    token: TokenRecord,
    desk: RevealDesk,
) -> RevealPublic:
    """Check and record an approver's decision, as the API and the web
    console both take it: each signed approval parsed, then the desk's rules."""
    _require(token, "approver", f"{decision} a reveal request")
    approvals = {}
    for item in body.approvals:
        if item.party in approvals:
            raise ApiProblem(422, f"two signed approvals for {item.party!r}")
        try:
            approvals[item.party] = SignedApproval.from_json(item.approval.model_dump())
        except ApprovalError as error:
            raise ApiProblem(422, f"the approval for {item.party!r}: {error}") from None
    decided = desk.decide(token, project, request_id, decision, body.reason, approvals)
    return public_request(decided, token)


@router.get("/reveals/{request_id}/answers")
def collect_answers(
    request_id: ResourceId,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> RevealAnswers:
    """The sealed disclosures of a request, for the investigator who made it."""
    _require(token, "investigator", "collect the answers of a request")
    request = desk.collect(token, project, request_id)
    sealed = [
        SealedPublic(
            grant_id=target.id,
            party=target.party,
            grant=_grant_body(target),
            sealed=_envelope(target),
        )
        for target in request.targets
        if target.state == "fulfilled"
    ]
    return RevealAnswers(request=public_request(request, token), sealed=sealed)


@router.post("/reveals/{request_id}/opened", status_code=204)
def report_opened(
    request_id: ResourceId,
    body: OpenReport,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> Response:
    """The investigator reports opening the answers, or why it failed."""
    _require(token, "investigator", "report opening a request's answers")
    desk.report_opened(token, project, request_id, body.error)
    return Response(status_code=204)


@router.get("/grants")
def pending_grants(
    project: ReachableProject, token: CurrentToken, desk: DeskDep
) -> list[GrantPublic]:
    """The calling agency's signed grants that await its answer, each with
    the approvers' signed approvals of it."""
    _require(token, "party", "list its grants")
    return [
        GrantPublic(
            grant_id=t.id,
            request_id=r.id,
            grant=_grant_body(t),
            approvals=[SignedBody(**a) for a in desk.approvals_of(r, t)],
        )
        for r, t in desk.grants_for(token, project)
    ]


@router.post("/grants/{grant_id}/fulfilment")
def fulfil_grant(
    grant_id: ResourceId,
    body: FulfilmentCreate,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> TargetPublic:
    """Deliver the agency's sealed disclosure for a grant (once)."""
    _require(token, "party", "fulfil a grant")
    try:
        sealed = SealedEnvelope.from_json(body.sealed)
    except SealError as error:
        raise ApiProblem(422, f"'sealed' is not a sealed envelope: {error}") from None
    return _target(desk.answer(token, project, grant_id, sealed, None))


@router.post("/grants/{grant_id}/refusal")
def refuse_grant(
    grant_id: ResourceId,
    body: RefusalCreate,
    project: ReachableProject,
    token: CurrentToken,
    desk: DeskDep,
) -> TargetPublic:
    """Refuse a grant, with the agency's reason (once)."""
    _require(token, "party", "refuse a grant")
    return _target(desk.answer(token, project, grant_id, None, body.reason))


def public_request(request: RevealRequest, viewer: TokenRecord) -> RevealPublic:
    """What ``viewer`` may read of a request (the API's and the console's)."""
    # Until approval, an investigator is not told which agencies hold records
    # in the match, nor how many.
    hidden = viewer.role == "investigator" and request.state != "approved"
    return RevealPublic(
        request_id=request.id,
        project_id=request.project_id,
        run_id=request.run_id,
        match_id=request.match_id,
        investigator=request.investigator,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        case_reference=request.case_reference,
        state=request.state,
        approvals=request.approvals,
        approvals_required=RevealPolicy.from_json(request.policy).approvals_required,
        created_at=request.created_at,
        decided_at=request.decided_at,
        decisions=[
            DecisionPublic(
                approver=d.approver,
                decision=d.decision,
                reason=d.reason,
                created_at=d.created_at,
            )
            for d in request.decisions
        ],
        targets=[_target(t, hidden=hidden) for t in request.targets],
    )


def _target(target: RevealTarget, *, hidden: bool = False) -> TargetPublic:
    return TargetPublic(
        grant_id=target.id,
        party=target.party,
        state=target.state,
        records=None if hidden else len(target.pseudonyms),
        expires_at=target.expires_at,
        refusal_reason=target.refusal_reason,
        answered_at=target.answered_at,
    )


def _grant_body(target: RevealTarget) -> SignedGrantBody:
    assert target.grant_payload is not None and target.grant_signature is not None
    signed = SignedGrant(payload=target.grant_payload, signature=target.grant_signature)
    return SignedGrantBody(**signed.to_json())


def _envelope(target: RevealTarget) -> dict[str, str]:
    assert target.sealed is not None
    envelope: dict[str, str] = json.loads(target.sealed)
    return envelope
