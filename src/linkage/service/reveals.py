"""The rules of a governed reveal, as the service enforces them.

An investigator asks to reveal who is behind one match ID in named agencies;
approvers decide under the policy (k distinct approvals, nobody approves their
own request, one deny may end it), each approval signed by the approver's own
key over each agency's exact statement (:mod:`linkage.reveal.approvals`); the
k-th approval issues one grant per agency that holds records in the match,
signed with the service's Ed25519 key and handed out with the approvals; each
agency checks the approvals against the keys it pinned, then answers with a
signed, sealed disclosure or a refusal; the investigator collects the sealed
answers. Each step and its audit entry are committed in one transaction.

Until a request is approved, its investigator is not told which named
agencies hold records in the match, nor how many: a request naming an agency
without any is accepted like any other.

The service never holds an identity: it relays pseudonyms it already has (its
own results) and sealed blobs only the investigator's private key opens. The
checks here keep honest users on track; agencies do not rely on them.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.reveal.approvals import (
    ApprovalError,
    RevealStatement,
    SignedApproval,
    verify_approval,
)
from linkage.reveal.grants import Grant, GrantRejected, sign_grant
from linkage.reveal.keys import (
    KeyFileError,
    key_id,
    load_investigator_public_pem,
    load_signing_public_pem,
    raw_public_b64,
    x25519_public_from_b64,
)
from linkage.reveal.policy import RevealPolicy
from linkage.reveal.sealing import SealedEnvelope
from linkage.service.continuing.merges import surviving_id
from linkage.service.continuing.withdrawals import held_by_withdrawn
from linkage.service.errors import ApiProblem
from linkage.storage import (
    ConflictError,
    NotFoundError,
    Project,
    RevealRequest,
    RevealTarget,
    Store,
    TokenRecord,
)
from linkage.storage.audit_log import AuditLog
from linkage.storage.reveals import RevealStore

__all__ = ["RevealAsk", "RevealDesk"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevealAsk:
    """What an investigator asks for: one match, in the named agencies."""

    match_id: str
    parties: Sequence[str]
    purpose: str
    legal_basis: str
    case_reference: str | None = None


class RevealDesk:
    """Requests, decisions, grants and answers, under one policy."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        signing_key: Ed25519PrivateKey,
        policy: RevealPolicy,
        data_dir: Path,
    ) -> None:
        self._store = store
        self._reveals = RevealStore(store)
        self._audit = audit
        self._key = signing_key
        self._key_id = key_id(signing_key.public_key())
        self._policy = policy
        self._data_dir = data_dir

    # -- investigator ------------------------------------------------------

    def request(
        self, token: TokenRecord, project: Project, ask: RevealAsk
    ) -> RevealRequest:
        """Record an investigator's request against the latest completed run.

        Raises:
            ApiProblem: 409 when no run has completed; 422 when a named party
                does not exist (whether it holds records in the match is not
                said).
        """
        run = self._store.latest_completed_run(project_id=project.id)
        if run is None:
            raise ApiProblem(409, f"no run of project {project.id} has completed yet")
        named = self._named_parties(project.id, ask.parties)
        targets = self._unwithdrawn_targets(token, project, run.id, named, ask)
        assert token.member_id is not None
        investigator_key = self._investigator_key(project.id, token.member_id)
        with self._store.transaction():
            request = self._reveals.create_request(
                project_id=project.id,
                run_id=run.id,
                match_id=ask.match_id,
                investigator_id=token.member_id,
                investigator_key=investigator_key,
                purpose=ask.purpose,
                legal_basis=ask.legal_basis,
                case_reference=ask.case_reference,
                policy=self._policy.to_json(),
                targets=targets,
            )
            self._audit.append(
                actor=token.actor,
                action="reveal.requested",
                project_id=project.id,
                details={
                    "request_id": request.id,
                    "run_id": run.id,
                    "match_id": ask.match_id,
                    "parties": list(ask.parties),
                    "purpose": ask.purpose,
                    "legal_basis": ask.legal_basis,
                    "case_reference": ask.case_reference,
                    "investigator_key_id": key_id(
                        x25519_public_from_b64(investigator_key)
                    ),
                },
            )
        return request

    def collect(
        self, token: TokenRecord, project: Project, request_id: int
    ) -> RevealRequest:
        """The investigator's own request with its answered grants.

        Raises:
            ApiProblem: 403 when the request is someone else's.
        """
        request = self.visible_request(token, project, request_id)
        if token.role != "investigator":
            raise ApiProblem(403, "only the investigator who asked may collect it")
        answered = [t.id for t in request.targets if t.state == "fulfilled"]
        self._audit.append(
            actor=token.actor,
            action="reveal.delivered",
            project_id=project.id,
            details={"request_id": request.id, "grants": answered},
        )
        return request

    def report_opened(
        self, token: TokenRecord, project: Project, request_id: int, error: str | None
    ) -> None:
        """Record that the investigator opened the answers (or could not)."""
        request = self.visible_request(token, project, request_id)
        details: dict[str, object] = {"request_id": request.id}
        if error is not None:
            details["reason"] = error
        self._audit.append(
            actor=token.actor,
            action="reveal.opened" if error is None else "reveal.open_failed",
            project_id=project.id,
            details=details,
        )

    # -- approvers ---------------------------------------------------------

    def decide(
        self,
        token: TokenRecord,
        project: Project,
        request_id: int,
        decision: Literal["approve", "deny"],
        reason: str,
        approvals: Mapping[str, SignedApproval] | None = None,
    ) -> RevealRequest:
        """Record an approver's decision; the k-th approval issues the grants.

        An approval must carry the approver's signed approval of each
        agency's statement (:meth:`statements`), made with the key they
        registered; a denial carries none.

        Raises:
            ApiProblem: 403 for self-approval or a member without the role;
                422 for missing, extra or wrong signed approvals.
            ConflictError: the request is decided, or this approver decided.
        """
        with self._store.transaction():
            request = self._reveals.get_request(
                project_id=project.id, request_id=request_id, for_update=True
            )
            self._check_may_decide(token, request)
            assert token.member_id is not None
            signed = self._check_approvals(
                token, request, decision, dict(approvals or {})
            )
            self._reveals.add_decision(
                request_id=request.id,
                member_id=token.member_id,
                decision=decision,
                reason=reason,
                approvals={
                    party: approval.to_json() for party, approval in signed.items()
                }
                if decision == "approve"
                else None,
            )
            details: dict[str, object] = {"request_id": request.id, "reason": reason}
            if decision == "approve":
                details["approver_key_id"] = key_id(self._approver_key(token))
            self._audit.append(
                actor=token.actor,
                action="reveal.approved" if decision == "approve" else "reveal.denied",
                project_id=project.id,
                details=details,
            )
            request = self._reveals.get_request(
                project_id=project.id, request_id=request_id
            )
            self._close_if_decided(token, project, request)
            return self._reveals.get_request(
                project_id=project.id, request_id=request_id
            )

    def _check_may_decide(self, token: TokenRecord, request: RevealRequest) -> None:
        if token.role != RevealPolicy.from_json(request.policy).approver_role:
            raise ApiProblem(403, "only an approver may approve or deny a request")
        if token.name == request.investigator:
            raise ApiProblem(
                403,
                f"nobody approves their own request: {token.name!r} made request "
                f"{request.id}; another approver must decide",
            )
        if request.state != "pending":
            raise ConflictError(
                f"request {request.id} is already {request.state}; it cannot be "
                "decided again"
            )

    def statements(
        self, token: TokenRecord, project: Project, request_id: int
    ) -> list[RevealStatement]:
        """What an approver signs: one statement per named agency that holds
        records in the match.

        Raises:
            ApiProblem: 403 for anyone but an approver.
        """
        if token.role != "approver":
            raise ApiProblem(403, "only an approver reads what to sign")
        request = self.visible_request(token, project, request_id)
        return [
            self._statement(request, target)
            for target in request.targets
            if target.pseudonyms
        ]

    def _statement(
        self, request: RevealRequest, target: RevealTarget
    ) -> RevealStatement:
        return RevealStatement(
            project_id=request.project_id,
            request_id=request.id,
            run_id=request.run_id,
            match_id=request.match_id,
            party=target.party,
            pseudonyms=target.pseudonyms,
            investigator=request.investigator,
            investigator_key=self._request_key(request),
            purpose=request.purpose,
            legal_basis=request.legal_basis,
            case_reference=request.case_reference,
        )

    def _request_key(self, request: RevealRequest) -> str:
        # Requests made before the key was kept with them name the member's.
        if request.investigator_key is not None:
            return request.investigator_key
        return self._investigator_key(request.project_id, request.investigator_id)

    def _investigator_key(self, project_id: int, member_id: int) -> str:
        member = self._store.get_member(project_id=project_id, member_id=member_id)
        assert member.public_key is not None
        key = load_investigator_public_pem(member.public_key, "the member row")
        return raw_public_b64(key)

    def _approver_key(self, token: TokenRecord) -> Ed25519PublicKey:
        """The signing key the approver registered (403 without a usable one)."""
        assert token.project_id is not None and token.member_id is not None
        member = self._store.get_member(
            project_id=token.project_id, member_id=token.member_id
        )
        if member.public_key is None:
            raise ApiProblem(
                403,
                f"approver {member.name!r} has no signing key registered; the "
                "operator must register them again with the .pub file of "
                "`linkage keygen --signing`",
            )
        try:
            return load_signing_public_pem(member.public_key, "the member")
        except KeyFileError:
            raise ApiProblem(
                403,
                f"approver {member.name!r} is registered with another kind of "
                "key; the operator must register their `linkage keygen "
                "--signing` .pub file",
            ) from None

    def _check_approvals(
        self,
        token: TokenRecord,
        request: RevealRequest,
        decision: str,
        approvals: dict[str, SignedApproval],
    ) -> dict[str, SignedApproval]:
        if decision == "deny":
            if approvals:
                raise ApiProblem(422, "a denial carries no signed approvals")
            return {}
        key = self._approver_key(token)
        wanted = {t.party: t for t in request.targets if t.pseudonyms}
        if set(approvals) != set(wanted):
            needed = ", ".join(sorted(wanted)) or "none"
            got = ", ".join(sorted(approvals)) or "none"
            raise ApiProblem(
                422,
                "an approval needs one signed statement for each agency in "
                f"the request that holds records ({needed}); got {got}: use "
                "`linkage reveal approve --key YOUR-SIGNING-KEY`",
            )
        for party, signed in approvals.items():
            try:
                approval = verify_approval(signed, key)
            except ApprovalError as error:
                raise ApiProblem(422, f"the approval for {party!r}: {error}") from None
            if approval.statement != self._statement(request, wanted[party]):
                raise ApiProblem(
                    422,
                    f"the approval for {party!r} signs another statement than "
                    f"request {request.id}'s; fetch the statements again",
                )
        return approvals

    def _close_if_decided(
        self, token: TokenRecord, project: Project, request: RevealRequest
    ) -> None:
        policy = RevealPolicy.from_json(request.policy)
        denials = sum(1 for d in request.decisions if d.decision == "deny")
        if denials and policy.deny_ends_request:
            self._reveals.decide_request(request_id=request.id, state="denied")
            return
        if request.approvals >= policy.approvals_required:
            self._reveals.decide_request(request_id=request.id, state="approved")
            for target in request.targets:
                if target.state != "awaiting":
                    # Refused meanwhile: its agency withdrew a record it names.
                    continue
                if target.pseudonyms:
                    self._issue(project, request, target)
                else:
                    self._nothing_held(project, request, target)

    def resign_outstanding_grants(self) -> int:
        """Sign again, with the key in force, every grant an earlier service
        key signed that no agency has answered; return how many.

        Agencies pin the service's current key, so after a rotation they
        would refuse such grants. Only the key ID and the signature change:
        what was approved, by whom, and until when stay as they were. Each
        project's re-signed grants are audited (``reveal.grants_resigned``).
        """
        resigned: dict[int, list[int]] = {}
        for grant_id, payload in self._reveals.issued_grants():
            try:
                grant = Grant.from_json(json.loads(payload))
            except (ValueError, GrantRejected):
                # Not as the service wrote it: left for agencies to refuse,
                # not a reason to stay down.
                logger.warning("grant %d is malformed; not signed again", grant_id)
                continue
            if grant.service_key_id == self._key_id:
                continue
            signed = sign_grant(replace(grant, service_key_id=self._key_id), self._key)
            if self._reveals.resign_grant(
                grant_id=grant_id, payload=signed.payload, signature=signed.signature
            ):
                resigned.setdefault(grant.project_id, []).append(grant_id)
        for project_id, grant_ids in resigned.items():
            self._audit.append(
                actor="service",
                action="reveal.grants_resigned",
                project_id=project_id,
                details={"grant_ids": grant_ids, "service_key_id": self._key_id},
            )
        return sum(len(grant_ids) for grant_ids in resigned.values())

    def _nothing_held(
        self, project: Project, request: RevealRequest, target: RevealTarget
    ) -> None:
        self._reveals.mark_empty(grant_id=target.id)
        self._audit.append(
            actor="service",
            action="reveal.nothing_held",
            project_id=project.id,
            details={"request_id": request.id, "party": target.party},
        )

    def _issue(
        self, project: Project, request: RevealRequest, target: RevealTarget
    ) -> None:
        statement = self._statement(request, target)
        grant = statement.grant(
            target.id,
            issued_at=self._store.now(),
            lifetime=RevealPolicy.from_json(request.policy).grant_lifetime,
            service_key_id=self._key_id,
        )
        investigator_key = statement.investigator_key
        signed = sign_grant(grant, self._key)
        self._reveals.issue_grant(
            grant_id=target.id,
            payload=signed.payload,
            signature=signed.signature,
            expires_at=grant.expires_at,
        )
        self._audit.append(
            actor="service",
            action="reveal.granted",
            project_id=project.id,
            details={
                "request_id": request.id,
                "grant_id": target.id,
                "party": target.party,
                "records": len(target.pseudonyms),
                "expires_at": grant.expires_at.isoformat(),
                "investigator_key_id": key_id(x25519_public_from_b64(investigator_key)),
                "approved_by": [
                    d.approver for d in request.decisions if d.decision == "approve"
                ],
            },
        )

    # -- agencies ----------------------------------------------------------

    def grants_for(
        self, token: TokenRecord, project: Project
    ) -> list[tuple[RevealRequest, RevealTarget]]:
        """The calling agency's grants that await its answer."""
        assert token.party_id is not None
        return self._reveals.grants_for(project_id=project.id, party_id=token.party_id)

    @staticmethod
    def approvals_of(
        request: RevealRequest, target: RevealTarget
    ) -> list[dict[str, str]]:
        """The approvers' signed approvals of ``target``'s statement, as sent."""
        return [
            decision.approvals[target.party]
            for decision in request.decisions
            if decision.decision == "approve" and target.party in decision.approvals
        ]

    def answer(
        self,
        token: TokenRecord,
        project: Project,
        grant_id: int,
        sealed: SealedEnvelope | None,
        reason: str | None,
    ) -> RevealTarget:
        """Record the agency's sealed disclosure, or its refusal with a reason.

        Raises:
            ApiProblem: 403 for another agency's grant; 409 for an expired
                grant being fulfilled.
            ConflictError: the grant was answered before.
        """
        with self._store.transaction():
            request, target = self._reveals.find_grant(
                project_id=project.id, grant_id=grant_id, for_update=True
            )
            if target.party_id != token.party_id:
                raise ApiProblem(
                    403, f"grant {grant_id} is for another agency; only it may answer"
                )
            if sealed is not None:
                self._check_live(target)
            self._reveals.answer_grant(
                grant_id=grant_id,
                state="fulfilled" if sealed is not None else "refused",
                sealed=None if sealed is None else _envelope_text(sealed),
                reason=reason,
            )
            details: dict[str, object] = {
                "request_id": request.id,
                "grant_id": grant_id,
                "party": target.party,
            }
            if reason is not None:
                details["reason"] = reason
            self._audit.append(
                actor=token.actor,
                action="reveal.fulfilled" if sealed is not None else "reveal.refused",
                project_id=project.id,
                details=details,
            )
            _, answered = self._reveals.find_grant(
                project_id=project.id, grant_id=grant_id
            )
            return answered

    def _check_live(self, target: RevealTarget) -> None:
        if target.state != "issued":
            raise ConflictError(
                f"grant {target.id} is {target.state}; only an issued grant is "
                "answered, once"
            )
        assert target.expires_at is not None
        if self._store.now() >= target.expires_at:
            raise ApiProblem(
                409,
                f"grant {target.id} expired at {target.expires_at.isoformat()}; "
                "the investigator must make a new request",
            )

    # -- reading -----------------------------------------------------------

    def visible_request(
        self, token: TokenRecord, project: Project, request_id: int
    ) -> RevealRequest:
        """The request, if the token may see it: the operator, approvers, and
        the investigator who made it (others get 404, as for a missing one)."""
        request = self._reveals.get_request(
            project_id=project.id, request_id=request_id
        )
        if token.role in ("operator", "approver"):
            return request
        if token.role == "investigator" and token.member_id == request.investigator_id:
            return request
        raise NotFoundError(f"project {project.id} has no reveal request {request_id}")

    def visible_requests(
        self, token: TokenRecord, project: Project
    ) -> list[RevealRequest]:
        """The requests the token may see (an investigator sees their own)."""
        if token.role in ("operator", "approver"):
            return self._reveals.requests_of(project_id=project.id)
        if token.role == "investigator":
            return self._reveals.requests_of(
                project_id=project.id, investigator_id=token.member_id
            )
        raise ApiProblem(
            403, "only the operator, approvers and investigators see requests"
        )

    # -- helpers -----------------------------------------------------------

    def _named_parties(self, project_id: int, names: Sequence[str]) -> list[_Named]:
        found = []
        for name in names:
            try:
                party = self._store.find_party(project_id=project_id, name=name)
            except NotFoundError:
                raise ApiProblem(
                    422, f"project {project_id} has no party called {name!r}"
                ) from None
            found.append(_Named(party.id, party.name))
        return found

    def _unwithdrawn_targets(
        self,
        token: TokenRecord,
        project: Project,
        run_id: int,
        named: Sequence[_Named],
        ask: RevealAsk,
    ) -> dict[int, list[str]]:
        """Each named party's pseudonyms in the match, less those its agency
        withdrew; 409 (audited) when withdrawals left none of a match that
        had some (see :mod:`linkage.service.continuing.withdrawals`)."""
        found = {
            party.id: self._pseudonyms(run_id, party.id, ask.match_id)
            for party in named
        }
        withdrawn = self._store.withdrawn_pseudonyms(project_id=project.id)
        targets = {
            party_id: [p for p in held if p not in withdrawn.get(party_id, set())]
            for party_id, held in found.items()
        }
        if any(targets.values()):
            return targets
        self._check_not_merged(project, run_id, ask.match_id)
        names = [party.name for party in named]
        if any(found.values()) or held_by_withdrawn(
            self._store, self._data_dir, project.id, names, ask.match_id
        ):
            self._audit.append(
                actor=token.actor,
                action="reveal.refused_withdrawn",
                project_id=project.id,
                details={"run_id": run_id, "match_id": ask.match_id, "parties": names},
            )
            raise ApiProblem(
                409,
                f"the records of match {ask.match_id} in the agencies named were "
                "withdrawn by their agency; they are not revealed",
            )
        return targets

    def _check_not_merged(self, project: Project, run_id: int, match_id: str) -> None:
        """409 naming the surviving ID when ``match_id`` was merged into
        another group by an update run (the records are under that ID)."""
        run = self._store.get_run(project_id=project.id, run_id=run_id)
        if run.result_dir is None:
            return
        survivor = surviving_id(self._data_dir / run.result_dir, match_id)
        if survivor is not None:
            raise ApiProblem(
                409,
                f"match {match_id} was merged into match {survivor} when the "
                f"agencies' records changed; ask about {survivor}",
            )

    def _pseudonyms(self, run_id: int, party_id: int, match_id: str) -> list[str]:
        result = self._store.run_result(run_id=run_id, party_id=party_id)
        return _pseudonyms_in_match(self._data_dir / result.path, match_id)


@dataclass(frozen=True)
class _Named:
    id: int
    name: str


def _pseudonyms_in_match(path: Path, match_id: str) -> list[str]:
    """The pseudonyms of one match in a results CSV (``pseudonym,match_id,...``)."""
    with path.open(encoding="utf-8", newline="") as results:
        reader = csv.DictReader(results)
        return [row["pseudonym"] for row in reader if row["match_id"] == match_id]


def _envelope_text(sealed: SealedEnvelope) -> str:
    return json.dumps(sealed.to_json(), sort_keys=True)
