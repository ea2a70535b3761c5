"""The investigator's side of a reveal: open the sealed answers, check them.

Each answer is opened with the investigator's private key, bound to its
project, request, grant and agency; its signature must verify against the key
the investigator pinned for that agency, so the operator cannot answer in the
agency's place; and it is checked against the grant the service signed: the
disclosure must name exactly the grant's pseudonyms, so neither an agency nor
the operator can slip in other records.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.atomic import private_text_output
from linkage.errors import LinkageError
from linkage.reveal.disclosure import Disclosure
from linkage.reveal.grants import Grant, SignedGrant, verify_grant
from linkage.reveal.keys import raw_public_b64
from linkage.reveal.sealing import SealedEnvelope, binding, open_sealed
from linkage.reveal.signing import verify_disclosure

__all__ = ["RevealOpenError", "SealedAnswer", "open_answer", "write_disclosures"]


class RevealOpenError(LinkageError):
    """An answer cannot be opened, or does not match its grant."""


@dataclass(frozen=True)
class SealedAnswer:
    """One agency's sealed answer, as the service hands it over."""

    grant_id: int
    party: str
    grant: SignedGrant
    sealed: SealedEnvelope

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> SealedAnswer:
        """Read one entry of the service's ``sealed`` list.

        Raises:
            GrantRejected, SealError: the grant or envelope is malformed.
        """
        return cls(
            grant_id=int(item["grant_id"]),
            party=str(item["party"]),
            grant=SignedGrant.from_json(item["grant"]),
            sealed=SealedEnvelope.from_json(item["sealed"]),
        )


def open_answer(
    answer: SealedAnswer,
    private_key: X25519PrivateKey,
    service_key: Ed25519PublicKey,
    *,
    project_id: int,
    request_id: int,
    agency_keys: Mapping[str, Ed25519PublicKey],
) -> Disclosure:
    """Open one sealed answer and check it against its signed grant and the
    agencies' pinned keys (``agency_keys``, by party name).

    Raises:
        GrantRejected: the grant does not verify against the service key.
        SealError: the answer does not open with this key or was altered.
        DisclosureError: the answer is not signed by the agency's pinned key.
        RevealOpenError: the disclosure does not match its grant.
    """
    grant = _grant(answer, service_key, project_id)
    if grant.request_id != request_id:
        raise RevealOpenError(
            f"grant {grant.grant_id} belongs to request {grant.request_id}, "
            f"not {request_id}"
        )
    if grant.investigator_key != raw_public_b64(private_key.public_key()):
        raise RevealOpenError(
            f"grant {grant.grant_id} was sealed to another investigator's key; "
            "use the private key whose public key you registered"
        )
    context = binding(
        project_id=project_id,
        request_id=request_id,
        grant_id=grant.grant_id,
        party=grant.party,
    )
    plaintext = open_sealed(answer.sealed, private_key, context)
    disclosure = verify_disclosure(
        plaintext,
        agency_keys,
        private_key.public_key(),
        f"the answer to grant {grant.grant_id}",
    )
    _check_matches(disclosure, grant)
    return disclosure


def _grant(
    answer: SealedAnswer, service_key: Ed25519PublicKey, project_id: int
) -> Grant:
    # The grant may have expired since the agency answered it; the
    # investigator still checks who signed it and for whom, at its issue time.
    unchecked = Grant.from_json(_payload(answer.grant))
    return verify_grant(
        answer.grant,
        service_key,
        now=unchecked.issued_at,
        party=answer.party,
        project_id=project_id,
    )


def _payload(signed: SignedGrant) -> object:
    try:
        return json.loads(signed.payload)
    except ValueError:
        raise RevealOpenError("a grant's payload is not JSON") from None


def _check_matches(disclosure: Disclosure, grant: Grant) -> None:
    disclosed = sorted(record.pseudonym for record in disclosure.records)
    if (
        disclosure.grant_id != grant.grant_id
        or disclosure.match_id != grant.match_id
        or disclosure.party != grant.party
        or disclosed != sorted(grant.pseudonyms)
    ):
        raise RevealOpenError(
            f"the answer to grant {grant.grant_id} does not disclose exactly the "
            "records the grant names; do not rely on it, and tell the operator"
        )


def write_disclosures(disclosures: Sequence[Disclosure], out: Path) -> int:
    """Write the disclosed records as one CSV (mode 0600); return the rows.

    Columns: ``party, match_id, pseudonym, record_id``, then every identity
    field any agency disclosed (blank where an agency holds no such field).
    """
    fields: list[str] = []
    for disclosure in disclosures:
        for record in disclosure.records:
            fields.extend(name for name in record.fields if name not in fields)
    rows = 0
    with private_text_output(out) as target:
        writer = csv.writer(target)
        writer.writerow(["party", "match_id", "pseudonym", "record_id", *fields])
        for disclosure in disclosures:
            for record in disclosure.records:
                writer.writerow(
                    [disclosure.party, disclosure.match_id, record.pseudonym]
                    + [record.record_id]
                    + [record.fields.get(name, "") for name in fields]
                )
                rows += 1
    return rows
