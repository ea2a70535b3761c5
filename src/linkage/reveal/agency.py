"""The agency's side of a reveal: check a grant, then disclose or refuse.

Everything here runs on the agency's own machine, and trusts nothing the
operator controls. A grant is fulfilled only if

* its signature verifies against the service key the agency pinned, it is for
  this agency and project, and it has not expired;
* it names an investigator and key the agency pinned in its trust file;
* at least k distinct approvers the agency pinned signed, with their own keys,
  exactly this grant's request (project, match, agency, pseudonyms,
  investigator key, purpose), and their approvals are still valid;
* its pseudonyms are all the rows of that match in the results the agency
  downloaded itself, and no more than its cap;
* the agency's ledger has no earlier answer to it or to its request.

The identities then go out signed by the agency and sealed to the
investigator's key, so the operator relaying them can neither read them nor
answer in the agency's place.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from linkage.encoding.vault import Vault
from linkage.errors import LinkageError
from linkage.reveal.approvals import (
    Approval,
    ApprovalError,
    RevealStatement,
    SignedApproval,
    claimed_key_id,
    verify_approval,
)
from linkage.reveal.disclosure import FulfilmentLedger, build_disclosure
from linkage.reveal.grants import (
    MAX_CLOCK_SKEW,
    Grant,
    GrantRejected,
    SignedGrant,
    unverified_grant_id,
    verify_grant,
)
from linkage.reveal.keys import (
    key_id,
    read_service_public_key,
    x25519_public_from_b64,
)
from linkage.reveal.sealing import SealedEnvelope, binding, seal
from linkage.reveal.signing import sign_disclosure
from linkage.reveal.trust import TrustFile, load_trust

__all__ = [
    "AgencyChecks",
    "CheckedGrant",
    "MatchRows",
    "check_grant",
    "read_match_rows",
    "remember_answer",
    "seal_for_grant",
]

#: Each match ID's pseudonyms in the agency's own downloaded results.
MatchRows = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class CheckedGrant:
    """A grant as the agency sees it: verified, or refused with the reason.

    ``grant`` is set only when every check passed; ``rejection`` says why not
    otherwise (its ``reason`` is a short code: bad-signature, expired,
    not-approved, not-in-match, replayed, ...). ``approvers`` are the pinned
    approvers whose signed approvals counted. ``signed_by_service`` is the
    grant whenever the service's signature verified, even if a later check
    refused it (so a refusal can be put in the ledger).
    """

    grant_id: int | None
    grant: Grant | None
    rejection: GrantRejected | None
    approvers: tuple[str, ...] = ()
    signed_by_service: Grant | None = None

    @property
    def ok(self) -> bool:
        """Whether the grant may be fulfilled."""
        return self.grant is not None


class AgencyChecks:
    """What an agency checks grants against, all of it its own files: the
    service key it pinned, its trust file, its downloaded results and its
    ledger, read once for every grant it is sent."""

    def __init__(
        self,
        service_key: Ed25519PublicKey,
        trust: TrustFile,
        match_rows: MatchRows,
        ledger: FulfilmentLedger,
        party: str,
        project_id: int,
    ) -> None:
        self.service_key = service_key
        self.trust = trust
        self.match_rows = match_rows
        self.ledger = ledger
        self.party = party
        self.project_id = project_id

    @classmethod
    def load(
        cls,
        service_key_path: Path,
        trust_path: Path,
        results_path: Path,
        ledger_path: Path,
        party: str,
        project_id: int,
    ) -> AgencyChecks:
        return cls(
            read_service_public_key(service_key_path),
            load_trust(trust_path),
            read_match_rows(results_path),
            FulfilmentLedger(ledger_path),
            party,
            project_id,
        )

    def check(self, item: Mapping[str, Any]) -> CheckedGrant:
        """Check one grant as the service lists it (its signed grant and the
        approvers' signed approvals), now.

        Raises:
            GrantRejected, ApprovalError: the item is malformed.
        """
        return check_grant(
            SignedGrant.from_json(item["grant"]),
            [SignedApproval.from_json(a) for a in item.get("approvals", [])],
            self.service_key,
            party=self.party,
            project_id=self.project_id,
            ledger=self.ledger,
            trust=self.trust,
            match_rows=self.match_rows,
            now=datetime.now(UTC),
        )

    def remember_refusal(self, checked: CheckedGrant) -> None:
        """Put a refused grant in the ledger, if the service signed it (a
        forged grant names nothing the ledger could key on) and it was not
        answered already (a replay)."""
        assert checked.rejection is not None
        grant = checked.signed_by_service
        if grant is not None and checked.rejection.reason != "replayed":
            remember_answer(self.ledger, grant, self.service_key, "refused")


def read_match_rows(path: Path) -> dict[str, frozenset[str]]:
    """Read the results an agency downloaded (``pseudonym,match_id,...`` CSV).

    Raises:
        LinkageError: the file cannot be read or lacks those columns.
    """
    rows: defaultdict[str, set[str]] = defaultdict(set)
    try:
        with path.open(encoding="utf-8", newline="") as results:
            reader = csv.DictReader(results)
            if not {"pseudonym", "match_id"} <= set(reader.fieldnames or ()):
                raise LinkageError(
                    f"results file {path} has no pseudonym and match_id columns; "
                    "give the file `linkage results` downloaded for your agency"
                )
            for row in reader:
                rows[row["match_id"]].add(row["pseudonym"])
    except (OSError, UnicodeDecodeError) as error:
        raise LinkageError(f"cannot read results file {path}: {error}") from None
    return {match_id: frozenset(members) for match_id, members in rows.items()}


def check_grant(
    signed: SignedGrant,
    approvals: Sequence[SignedApproval],
    service_key: Ed25519PublicKey,
    *,
    party: str,
    project_id: int,
    ledger: FulfilmentLedger,
    trust: TrustFile,
    match_rows: MatchRows,
    now: datetime,
) -> CheckedGrant:
    """Run every check of the module doc on ``signed`` for this agency now."""
    try:
        grant = verify_grant(
            signed, service_key, now=now, party=party, project_id=project_id
        )
    except GrantRejected as error:
        return CheckedGrant(unverified_grant_id(signed), None, error)
    try:
        _check_investigator(grant, trust)
        approvers = _count_approvals(grant, approvals, trust, now)
        _check_records(grant, trust, match_rows)
        _check_not_answered(grant, ledger, service_key)
    except GrantRejected as error:
        return CheckedGrant(grant.grant_id, None, error, signed_by_service=grant)
    return CheckedGrant(grant.grant_id, grant, None, approvers, grant)


def _refuse(grant: Grant, reason: str, message: str) -> GrantRejected:
    return GrantRejected(
        f"grant {grant.grant_id} was refused: {message}; nothing was disclosed",
        reason=reason,
        grant_id=grant.grant_id,
    )


def _check_investigator(grant: Grant, trust: TrustFile) -> None:
    if not trust.pinned_investigator(grant.investigator, grant.investigator_key):
        key = x25519_public_from_b64(grant.investigator_key)
        raise _refuse(
            grant,
            "unknown-investigator",
            f"it would seal identities to investigator {grant.investigator!r} "
            f"with key ID {key_id(key)}, which your trust file does not pin "
            "for that name; if the investigator is genuine, check the key ID "
            "with them and pin it (`linkage reveal trust --investigator`)",
        )


def _count_approvals(
    grant: Grant,
    approvals: Sequence[SignedApproval],
    trust: TrustFile,
    now: datetime,
) -> tuple[str, ...]:
    statement = RevealStatement.of_grant(grant)
    counted: dict[str, Approval] = {}
    for signed in approvals:
        pinned = _pinned_approval(signed, trust)
        if pinned is None:
            continue
        approver, approval = pinned
        valid_for = approval.expires_at - approval.signed_at
        if (
            approval.statement == statement
            and approver != grant.investigator
            and approval.signed_at <= now + MAX_CLOCK_SKEW
            and now < approval.expires_at
            and valid_for <= trust.grant_lifetime
        ):
            counted[approver] = approval
    if len(counted) < trust.approvals_required:
        raise _refuse(
            grant,
            "not-approved",
            f"{len(counted)} of the {trust.approvals_required} signed approvals "
            "your trust file requires are valid: an approval counts only if an "
            "approver you pinned signed exactly this request (agency, records, "
            "investigator key), is not the investigator, and it has not "
            f"expired or been valid for more than the "
            f"{trust.grant_lifetime} you allow",
        )
    return tuple(sorted(counted))


def _pinned_approval(
    signed: SignedApproval, trust: TrustFile
) -> tuple[str, Approval] | None:
    """The pinned approver's name and their approval, if it verifies."""
    claimed = claimed_key_id(signed)
    pinned = None if claimed is None else trust.approver_by_key_id(claimed)
    if pinned is None:
        return None
    name, key = pinned
    try:
        return name, verify_approval(signed, key)
    except ApprovalError:
        return None


def _check_records(grant: Grant, trust: TrustFile, match_rows: MatchRows) -> None:
    held = match_rows.get(grant.match_id, frozenset())
    if not held or set(grant.pseudonyms) != held:
        raise _refuse(
            grant,
            "not-in-match",
            f"its {len(grant.pseudonyms)} pseudonyms are not exactly the "
            f"{len(held)} rows of match {grant.match_id!r} in the results you "
            "downloaded; download your results again, and if they still "
            "differ, tell the operator",
        )
    if len(grant.pseudonyms) > trust.max_records:
        raise _refuse(
            grant,
            "too-many-records",
            f"it names {len(grant.pseudonyms)} records, more than the "
            f"{trust.max_records} your trust file allows for one grant",
        )


def _check_not_answered(
    grant: Grant, ledger: FulfilmentLedger, service_key: Ed25519PublicKey
) -> None:
    earlier = ledger.answered(
        grant.project_id,
        grant.grant_id,
        service_key_id=key_id(service_key),
        request=(grant.request_id, grant.party),
    )
    if earlier is not None:
        raise GrantRejected(
            f"grant {grant.grant_id} (request {grant.request_id}) was already "
            f"answered ({earlier}, in {ledger.path}); a request is answered "
            "once, so this is a replay: do not answer it again, and tell the "
            "operator",
            reason="replayed",
            grant_id=grant.grant_id,
        )


def seal_for_grant(
    grant: Grant,
    vault: Vault,
    signing_key: Ed25519PrivateKey,
    *,
    fields: Sequence[str] | None = None,
) -> SealedEnvelope:
    """Look the grant's pseudonyms up in ``vault``, sign what they are with the
    agency's key and seal it to the investigator's key, bound to this project,
    request, grant and party.

    Raises:
        DisclosureError: a pseudonym is not in the vault (nothing is sealed),
            or ``fields`` names a field the vault does not hold.
    """
    disclosure = build_disclosure(
        project_id=grant.project_id,
        request_id=grant.request_id,
        grant_id=grant.grant_id,
        match_id=grant.match_id,
        party=grant.party,
        pseudonyms=grant.pseudonyms,
        vault=vault,
        fields=fields,
    )
    recipient = x25519_public_from_b64(
        grant.investigator_key, source=f"grant {grant.grant_id}"
    )
    context = binding(
        project_id=grant.project_id,
        request_id=grant.request_id,
        grant_id=grant.grant_id,
        party=grant.party,
    )
    return seal(sign_disclosure(disclosure, signing_key, recipient), recipient, context)


def remember_answer(
    ledger: FulfilmentLedger,
    grant: Grant,
    service_key: Ed25519PublicKey,
    outcome: Literal["fulfilled", "refused"],
) -> None:
    """Put the answer to ``grant`` in the ledger, keyed as :func:`check_grant`
    looks it up (service key, project and grant; request and agency), under
    the ledger's lock. Call it with ``"fulfilled"`` *before* sealing: of two
    processes answering one grant, only one gets past this.

    Raises:
        DisclosureError: the grant or its request was answered already.
    """
    ledger.record(
        grant.project_id,
        grant.grant_id,
        outcome,
        datetime.now(UTC),
        service_key_id=key_id(service_key),
        request=(grant.request_id, grant.party),
    )
