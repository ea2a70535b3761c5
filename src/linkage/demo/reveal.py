"""The demo's governed reveal: one match disclosed to one investigator.

A police officer (the investigator) sees that one of the police's records is
matched with records of the health agency, and asks who health holds in that
match. Two approvers agree; health checks the signed grant against the
service key it pinned and seals the records to the investigator's key; the
investigator opens them. The operator then exports the audit log, and an
oversight body verifies it against the service's public key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from linkage.audit.chain import verify_log
from linkage.audit.export import read_export
from linkage.audit.report import transparency_report
from linkage.client import ServiceClient
from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.errors import LinkageError
from linkage.reveal.agency import check_grant, remember_answer, seal_for_grant
from linkage.reveal.disclosure import Disclosure, FulfilmentLedger
from linkage.reveal.grants import SignedGrant
from linkage.reveal.investigator import SealedAnswer, open_answer, write_disclosures
from linkage.reveal.keys import (
    read_investigator_private_key,
    read_service_public_key,
    write_investigator_keypair,
)
from linkage.service.loopback import RunningService

__all__ = ["RevealOutcome", "reveal_one_match"]

INVESTIGATOR = "inspector-lee"
APPROVERS = ("approver-ng", "approver-okafor")
ASKING, HOLDING = "police", "health"

Say = Callable[[str], None]


@dataclass(frozen=True)
class RevealOutcome:
    """What the demo's reveal produced."""

    request_id: int
    records: int
    revealed_file: Path
    audit_entries: int


def reveal_one_match(
    service: RunningService,
    out: Path,
    project_id: int,
    matches: pd.DataFrame,
    party_token: Callable[[str], str],
    say: Say,
) -> RevealOutcome:
    """Walk one reveal through request, approvals, fulfilment and opening,
    then export and verify the audit log."""
    match_id = _a_shared_match(matches)
    tokens = _register(service, out, project_id)
    with ServiceClient(service.url, tokens[INVESTIGATOR]) as investigator:
        made = investigator.request_reveal(
            project_id,
            match_id=match_id,
            parties=[HOLDING],
            purpose="safeguarding check on a police record",
            legal_basis="Demo Information Sharing Agreement, clause 4",
            case_reference="DEMO-0001",
        )
    request_id = int(made["request_id"])
    say(
        f"   {INVESTIGATOR}: request {request_id}: who does {HOLDING} hold in "
        f"match {match_id}?"
    )
    for approver in APPROVERS:
        with ServiceClient(service.url, tokens[approver]) as client:
            state = client.decide_reveal(
                project_id, request_id, "approve", "purpose and basis checked"
            )
        say(
            f"   {approver}: approved ({state['approvals']} of "
            f"{state['approvals_required']}); request is {state['state']}"
        )
    _fulfil(service, out, project_id, party_token(HOLDING), say)
    revealed = out / "revealed.csv"
    records = _open(service, out, project_id, request_id, tokens[INVESTIGATOR])
    rows = write_disclosures(records, revealed)
    say(f"   {INVESTIGATOR}: opened {rows} records with the private key, in {revealed}")
    entries = _audit(service, out, say)
    return RevealOutcome(request_id, rows, revealed, entries)


def _a_shared_match(matches: pd.DataFrame) -> str:
    """A match ID that both the asking and the holding agency have records in."""
    parties = matches.groupby("match_id")["party"].agg(set)
    shared = parties[parties.map(lambda held: {ASKING, HOLDING} <= held)]
    if shared.empty:
        raise LinkageError("the demo linkage found no police-health match")
    return str(shared.index[0])


def _register(service: RunningService, out: Path, project_id: int) -> dict[str, str]:
    """The operator registers the investigator (with their public key) and
    two approvers; their tokens stay in this process."""
    key = out / "keys" / f"{INVESTIGATOR}.key"
    for stale in (key, Path(f"{key}.pub")):
        stale.unlink(missing_ok=True)
    public_key = write_investigator_keypair(key)
    tokens = {}
    with ServiceClient(service.url, service.operator_token) as operator:
        member = operator.add_member(
            project_id, INVESTIGATOR, "investigator", public_key.read_text()
        )
        tokens[INVESTIGATOR] = member.token
        for approver in APPROVERS:
            tokens[approver] = operator.add_member(
                project_id, approver, "approver"
            ).token
    return tokens


def _fulfil(
    service: RunningService, out: Path, project_id: int, token: str, say: Say
) -> None:
    """The holding agency checks each grant and seals its records."""
    service_key = read_service_public_key(service.public_key_file)
    ledger = FulfilmentLedger(out / "vaults" / f"{HOLDING}.answered")
    vault = Vault.open(
        out / "vaults" / f"{HOLDING}.vault",
        read_vault_key(out / "keys" / f"{HOLDING}-vault.key"),
    )
    with ServiceClient(service.url, token) as agency:
        for item in agency.grants(project_id):
            checked = check_grant(
                SignedGrant.from_json(item["grant"]),
                service_key,
                party=HOLDING,
                project_id=project_id,
                ledger=ledger,
                now=datetime.now(UTC),
            )
            if checked.grant is None:
                raise LinkageError(f"the demo's grant was refused: {checked.rejection}")
            sealed = seal_for_grant(checked.grant, vault)
            agency.fulfil_grant(project_id, checked.grant.grant_id, sealed.to_json())
            remember_answer(ledger, checked.grant, service_key, "fulfilled")
            say(
                f"   {HOLDING}: grant {checked.grant.grant_id} signature, expiry "
                f"and ledger checked; {len(checked.grant.pseudonyms)} records "
                "sealed to the investigator's key"
            )


def _open(
    service: RunningService, out: Path, project_id: int, request_id: int, token: str
) -> list[Disclosure]:
    private_key = read_investigator_private_key(out / "keys" / f"{INVESTIGATOR}.key")
    service_key = read_service_public_key(service.public_key_file)
    with ServiceClient(service.url, token) as investigator:
        answers = investigator.reveal_answers(project_id, request_id)
        opened = [
            open_answer(
                SealedAnswer.from_json(item),
                private_key,
                service_key,
                project_id=project_id,
                request_id=request_id,
            )
            for item in answers["sealed"]
        ]
        investigator.report_opened(project_id, request_id)
    return opened


def _audit(service: RunningService, out: Path, say: Say) -> int:
    """The operator exports the log; an oversight body verifies it."""
    export = out / "audit.jsonl"
    with ServiceClient(service.url, service.operator_token) as operator:
        operator.export_audit(export)
    log = read_export(export)
    verification = verify_log(
        log.entries, log.heads, read_service_public_key(service.public_key_file)
    )
    if not verification.ok:
        assert verification.problem is not None
        raise LinkageError(f"the demo's audit log fails: {verification.problem}")
    totals = transparency_report(log.entries).totals
    say(
        f"   oversight: {export} verified against the service key: "
        f"{verification.entries} entries, chain and signed heads intact; "
        f"{totals.requests} reveal requested, {totals.approvals} approvals, "
        f"{totals.fulfilments} fulfilled"
    )
    return verification.entries
