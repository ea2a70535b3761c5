"""The agency's side of a reveal: check a grant, then disclose or refuse.

Everything here runs on the agency's own machine. A grant is fulfilled only if
its signature verifies against the service key the agency pinned, it is for
this agency and project, it has not expired, and this agency's ledger has no
earlier answer to it; the identities then go out sealed to the investigator's
key, so the operator relaying them cannot read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linkage.encoding.vault import Vault
from linkage.reveal.disclosure import FulfilmentLedger, build_disclosure
from linkage.reveal.grants import (
    Grant,
    GrantRejected,
    SignedGrant,
    unverified_grant_id,
    verify_grant,
)
from linkage.reveal.keys import key_id, x25519_public_from_b64
from linkage.reveal.sealing import SealedEnvelope, binding, seal

__all__ = ["CheckedGrant", "check_grant", "remember_answer", "seal_for_grant"]


@dataclass(frozen=True)
class CheckedGrant:
    """A grant as the agency sees it: verified, or refused with the reason.

    ``grant`` is set only when every check passed; ``rejection`` says why not
    otherwise (its ``reason`` is a short code: bad-signature, expired,
    replayed, ...).
    """

    grant_id: int | None
    grant: Grant | None
    rejection: GrantRejected | None

    @property
    def ok(self) -> bool:
        """Whether the grant may be fulfilled."""
        return self.grant is not None


def check_grant(
    signed: SignedGrant,
    service_key: Ed25519PublicKey,
    *,
    party: str,
    project_id: int,
    ledger: FulfilmentLedger,
    now: datetime,
) -> CheckedGrant:
    """Verify ``signed`` for this agency now, and that it was never answered."""
    try:
        grant = verify_grant(
            signed, service_key, now=now, party=party, project_id=project_id
        )
    except GrantRejected as error:
        return CheckedGrant(unverified_grant_id(signed), None, error)
    earlier = ledger.answered(
        project_id, grant.grant_id, service_key_id=key_id(service_key)
    )
    if earlier is not None:
        replayed = GrantRejected(
            f"grant {grant.grant_id} was already answered ({earlier}, in "
            f"{ledger.path}); a grant is used once, so this is a replay: do not "
            "answer it again, and tell the operator",
            reason="replayed",
            grant_id=grant.grant_id,
        )
        return CheckedGrant(grant.grant_id, None, replayed)
    return CheckedGrant(grant.grant_id, grant, None)


def seal_for_grant(
    grant: Grant,
    vault: Vault,
    *,
    fields: Sequence[str] | None = None,
) -> SealedEnvelope:
    """Look the grant's pseudonyms up in ``vault`` and seal what they are to
    the investigator's key, bound to this project, request, grant and party.

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
    return seal(disclosure.to_bytes(), recipient, context)


def remember_answer(
    ledger: FulfilmentLedger,
    grant: Grant,
    service_key: Ed25519PublicKey,
    outcome: Literal["fulfilled", "refused"],
) -> None:
    """Put the answer to ``grant`` in the ledger, keyed as :func:`check_grant`
    looks it up (by service key, project and grant), so it is never answered
    again."""
    ledger.record(
        grant.project_id,
        grant.grant_id,
        outcome,
        datetime.now(UTC),
        service_key_id=key_id(service_key),
    )
