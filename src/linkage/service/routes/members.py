"""Investigators and approvers: the operator registers them in a project."""

from __future__ import annotations

from fastapi import APIRouter, Response

from linkage.reveal.keys import (
    KeyFileError,
    key_id,
    load_investigator_public_pem,
    load_signing_public_pem,
)
from linkage.service.deps import AuditDep, Operator, ReachableProject, StoreDep
from linkage.service.errors import ApiProblem
from linkage.service.models import MemberCreate, MemberCreated, ResourceId

router = APIRouter(prefix="/projects", tags=["members"])


@router.post("/{project_id}/members", status_code=201)
def add_member(
    body: MemberCreate,
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    audit: AuditDep,
) -> MemberCreated:
    """Register an investigator (with their X25519 public key), an approver
    (with their Ed25519 signing key) or an oversight member (no key: they read
    the project's audit trail in the web console).

    Operator only. The answer holds the member's token, shown only once. The
    key registered here is only what the service shows; agencies rely on the
    keys they pinned themselves.
    """
    details: dict[str, object] = {"name": body.name, "role": body.role}
    investigator = body.role == "investigator"
    if body.role == "oversight":
        if body.public_key is not None:
            raise ApiProblem(
                422, "an oversight member has no key; leave out 'public_key'"
            )
    elif body.public_key is None:
        made_by = "--investigator" if investigator else "--signing"
        raise ApiProblem(
            422,
            f"an {body.role} needs 'public_key': the .pub file written by "
            f"`linkage keygen {made_by}`",
        )
    load = load_investigator_public_pem if investigator else load_signing_public_pem
    if body.public_key is not None:
        try:
            details["key_id"] = key_id(load(body.public_key, "public_key"))
        except KeyFileError as error:
            raise ApiProblem(422, str(error)) from None
    with store.transaction():
        member, token = store.add_member(
            project_id=project.id,
            name=body.name,
            role=body.role,
            public_key=body.public_key,
        )
        audit.append(
            actor=operator.actor,
            action="member.added",
            project_id=project.id,
            details={**details, "member_id": member.id},
        )
    return MemberCreated(
        project_id=project.id,
        member_id=member.id,
        name=member.name,
        role=member.role,
        token=token,
    )


@router.delete("/{project_id}/members/{member_id}", status_code=204)
def revoke_member(
    member_id: ResourceId,
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    audit: AuditDep,
) -> Response:
    """Revoke an investigator's or approver's token (operator only).

    Their requests and decisions stay on record; from now on their token gets
    the same 401 as an unknown one.
    """
    with store.transaction():
        member = store.revoke_member(project_id=project.id, member_id=member_id)
        audit.append(
            actor=operator.actor,
            action="member.revoked",
            project_id=project.id,
            details={"member_id": member.id, "name": member.name, "role": member.role},
        )
    return Response(status_code=204)


@router.delete("/{project_id}/members/{member_id}/token")
def reissue_member_token(
    member_id: ResourceId,
    project: ReachableProject,
    operator: Operator,
    store: StoreDep,
    audit: AuditDep,
) -> MemberCreated:
    """Revoke the member's token(s) and answer with a new one, shown once.

    Operator only; one transaction, so the member is never left with two
    tokens or none. Their key, requests and decisions stay as they were.
    """
    with store.transaction():
        member = store.get_member(project_id=project.id, member_id=member_id)
        token = store.reissue_member_token(project_id=project.id, member_id=member_id)
        audit.append(
            actor=operator.actor,
            action="token.reissued",
            project_id=project.id,
            details={"member_id": member.id, "name": member.name, "role": member.role},
        )
    return MemberCreated(
        project_id=project.id,
        member_id=member.id,
        name=member.name,
        role=member.role,
        token=token,
    )
