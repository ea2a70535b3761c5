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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from linkage.atomic import private_output
from linkage.audit.chain import verify_log
from linkage.audit.export import read_export
from linkage.audit.report import transparency_report
from linkage.client import ServiceClient
from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.errors import LinkageError
from linkage.reveal.agency import AgencyChecks, remember_answer, seal_for_grant
from linkage.reveal.disclosure import Disclosure
from linkage.reveal.investigator import SealedAnswer, open_answer, write_disclosures
from linkage.reveal.keys import (
    read_investigator_private_key,
    read_investigator_public_key,
    read_service_public_key,
    read_signing_private_key,
    read_signing_public_key,
    write_investigator_keypair,
    write_signing_keypair,
)
from linkage.reveal.trust import TrustFile, load_trust, write_trust
from linkage.service.loopback import RunningService

__all__ = ["RevealOutcome", "reveal_one_match"]

INVESTIGATOR = "inspector-lee"
APPROVERS = ("approver-ng", "approver-okafor")
# An oversight body's member: reads the audit trail in the web console.
OVERSIGHT = "ombudsman-reyes"
ASKING, HOLDING = "police", "health"
APPROVAL_VALID_FOR = timedelta(hours=24)

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
    token_dir: Path | None = None,
) -> RevealOutcome:
    """Walk one reveal through request, approvals, fulfilment and opening,
    then export and verify the audit log.

    With ``token_dir``, the members' tokens are also written there (mode
    0600), so that they can log in to the web console afterwards; otherwise
    they stay in this process.
    """
    match_id = _a_shared_match(matches)
    tokens = _register(service, out, project_id)
    if token_dir is not None:
        for member, token in tokens.items():
            with private_output(token_dir / f"{member}.token") as target:
                target.write(token.encode("ascii") + b"\n")
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
            state = client.approve_reveal(
                project_id,
                request_id,
                "purpose and basis checked",
                key=read_signing_private_key(_key_file(out, approver)),
                valid_for=APPROVAL_VALID_FOR,
                now=datetime.now(UTC),
            )
        say(
            f"   {approver}: signed and approved ({state['approvals']} of "
            f"{state['approvals_required']}); request is {state['state']}"
        )
    _fulfil(service, out, project_id, party_token(HOLDING), say)
    revealed = out / "revealed.csv"
    records = _open(service, out, project_id, request_id, tokens[INVESTIGATOR])
    rows = write_disclosures(records, revealed)
    say(
        f"   {INVESTIGATOR}: opened {_records(rows)} with the private key, "
        f"signed by {HOLDING}'s pinned key, in {revealed}"
    )
    entries = _audit(service, out, say)
    return RevealOutcome(request_id, rows, revealed, entries)


def _a_shared_match(matches: pd.DataFrame) -> str:
    """A match ID that both the asking and the holding agency have records
    in, the one with the fewest records (as a real case would be)."""
    # Set operations on the two parties' match IDs: a set per group, built by
    # a Python function for each of 14,000 groups, took 0.3 s of the demo.
    asking = set(matches.loc[matches["party"] == ASKING, "match_id"])
    shared = asking & set(matches.loc[matches["party"] == HOLDING, "match_id"])
    if not shared:
        raise LinkageError("the demo linkage found no police-health match")
    sizes = matches["match_id"].value_counts()
    # The smallest group; of equally small ones, the first match ID.
    return str(min(shared, key=lambda match_id: (sizes[match_id], match_id)))


def _key_file(out: Path, owner: str) -> Path:
    return out / "keys" / f"{owner}.key"


def _fresh_keys(path: Path, write: Callable[[Path], Path]) -> Path:
    for stale in (path, Path(f"{path}.pub")):
        stale.unlink(missing_ok=True)
    return write(path)


def _register(service: RunningService, out: Path, project_id: int) -> dict[str, str]:
    """Everyone makes their own key pair; the operator registers the
    investigator and two approvers with their public keys, and an oversight
    member (their tokens stay in this process); health pins the approvers'
    and the investigator's keys in its trust file, and the investigator pins
    health's signing key."""
    investigator_pub = _fresh_keys(
        _key_file(out, INVESTIGATOR), write_investigator_keypair
    )
    approver_pubs = {
        name: _fresh_keys(_key_file(out, name), write_signing_keypair)
        for name in APPROVERS
    }
    agency_pub = _fresh_keys(
        _key_file(out, f"{HOLDING}-signing"), write_signing_keypair
    )
    tokens = {}
    with ServiceClient(service.url, service.operator_token) as operator:
        member = operator.add_member(
            project_id, INVESTIGATOR, "investigator", investigator_pub.read_text()
        )
        tokens[INVESTIGATOR] = member.token
        for approver, public in approver_pubs.items():
            tokens[approver] = operator.add_member(
                project_id, approver, "approver", public.read_text()
            ).token
        tokens[OVERSIGHT] = operator.add_member(
            project_id, OVERSIGHT, "oversight"
        ).token
    write_trust(
        _trust_file(out, HOLDING),
        TrustFile(
            approvers={n: read_signing_public_key(p) for n, p in approver_pubs.items()},
            investigators={
                INVESTIGATOR: read_investigator_public_key(investigator_pub)
            },
        ),
    )
    write_trust(
        _trust_file(out, INVESTIGATOR),
        TrustFile(agencies={HOLDING: read_signing_public_key(agency_pub)}),
    )
    return tokens


def _trust_file(out: Path, owner: str) -> Path:
    return out / "keys" / f"{owner}.trust"


def _fulfil(
    service: RunningService, out: Path, project_id: int, token: str, say: Say
) -> None:
    """The holding agency checks each grant against its own files, then signs
    and seals its records."""
    checks = AgencyChecks.load(
        service.public_key_file,
        _trust_file(out, HOLDING),
        out / "results" / f"{HOLDING}.csv",
        out / "vaults" / f"{HOLDING}.answered",
        HOLDING,
        project_id,
    )
    vault = Vault.open(
        out / "vaults" / f"{HOLDING}.vault",
        read_vault_key(out / "keys" / f"{HOLDING}-vault.key"),
    )
    signing_key = read_signing_private_key(_key_file(out, f"{HOLDING}-signing"))
    with ServiceClient(service.url, token) as agency:
        for item in agency.grants(project_id):
            checked = checks.check(item)
            if checked.grant is None:
                # A refusal is the agency's answer too (in its ledger, as
                # `linkage reveal fulfil` puts it), and the demo goes on.
                checks.remember_refusal(checked)
                agency.refuse_grant(
                    project_id, int(item["grant_id"]), str(checked.rejection)[:2000]
                )
                say(f"   {HOLDING}: refused: {checked.rejection}")
                continue
            remember_answer(
                checks.ledger, checked.grant, checks.service_key, "fulfilled"
            )
            sealed = seal_for_grant(checked.grant, vault, signing_key)
            agency.fulfil_grant(project_id, checked.grant.grant_id, sealed.to_json())
            say(
                f"   {HOLDING}: grant {checked.grant.grant_id}: service signature, "
                f"approvals by {' and '.join(checked.approvers)} (pinned keys), "
                "investigator key, match rows and ledger checked; "
                f"{_records(len(checked.grant.pseudonyms))} signed and sealed to "
                "the investigator's key"
            )


def _open(
    service: RunningService, out: Path, project_id: int, request_id: int, token: str
) -> list[Disclosure]:
    private_key = read_investigator_private_key(_key_file(out, INVESTIGATOR))
    service_key = read_service_public_key(service.public_key_file)
    agency_keys = load_trust(_trust_file(out, INVESTIGATOR)).agencies
    with ServiceClient(service.url, token) as investigator:
        answers = investigator.reveal_answers(project_id, request_id)
        opened = [
            open_answer(
                SealedAnswer.from_json(item),
                private_key,
                service_key,
                project_id=project_id,
                request_id=request_id,
                agency_keys=agency_keys,
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


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"
