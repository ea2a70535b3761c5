"""``linkage reveal``: request, approve, fulfil and open a governed reveal.

\b
Investigator:  reveal request, reveal status, reveal open
Approver:      reveal approve, reveal deny, reveal status
Agency:        reveal pending, reveal fulfil, reveal refuse
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from linkage.cli.connection import (
    connect,
    project_option,
    server_option,
    token_option,
)
from linkage.cli.options import existing_file, output_file, vault_key_option
from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.errors import LinkageError
from linkage.reveal.agency import (
    CheckedGrant,
    check_grant,
    remember_answer,
    seal_for_grant,
)
from linkage.reveal.disclosure import Disclosure, FulfilmentLedger
from linkage.reveal.grants import SignedGrant
from linkage.reveal.investigator import SealedAnswer, open_answer, write_disclosures
from linkage.reveal.keys import (
    read_investigator_private_key,
    read_service_public_key,
)

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def reveal() -> None:
    """Reveal who is behind a match ID, only as the policy allows.

    \b
    1. An investigator requests it:        linkage reveal request
    2. Approvers decide:                   linkage reveal approve|deny
    3. Each agency checks and answers:     linkage reveal pending|fulfil|refuse
    4. The investigator opens the answers: linkage reveal open
    """


def _request_option(function: F) -> F:
    return click.option(
        "--request",
        "request_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="ID",
        help="The request ID `linkage reveal request` printed.",
    )(function)


def _service_key_option(function: F) -> F:
    return click.option(
        "--service-key",
        "service_key_path",
        required=True,
        type=existing_file,
        metavar="FILE",
        help="The service's public key you pinned (service-key.pub from the "
        "operator); grants must be signed with it.",
    )(function)


def _party_option(function: F) -> F:
    return click.option(
        "--party", required=True, metavar="NAME", help="Your agency's party name."
    )(function)


def _grant_option(function: F) -> F:
    return click.option(
        "--grant",
        "grant_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="ID",
        help="The grant ID `linkage reveal pending` lists.",
    )(function)


def _reason_option(function: F) -> F:
    return click.option(
        "--reason",
        required=True,
        metavar="TEXT",
        help="Why: recorded with the decision and in the audit log.",
    )(function)


# Investigator ---------------------------------------------------------------


@reveal.command("request")
@project_option
@click.option("--match-id", required=True, metavar="MATCH", help="The match ID.")
@click.option(
    "--party",
    "parties",
    multiple=True,
    required=True,
    metavar="NAME",
    help="An agency whose records in the match you ask for; repeat for each.",
)
@click.option("--purpose", required=True, metavar="TEXT", help="What it is for.")
@click.option(
    "--legal-basis",
    required=True,
    metavar="TEXT",
    help="The law or agreement that allows it.",
)
@click.option("--case-ref", default=None, metavar="TEXT", help="Your case reference.")
@server_option
@token_option("your investigator")
def request(
    project_id: int,
    match_id: str,
    parties: tuple[str, ...],
    purpose: str,
    legal_basis: str,
    case_ref: str | None,
    server: str,
    token_file: Path | None,
) -> None:
    """Ask to reveal who is behind MATCH in the named agencies; prints its ID."""
    with connect(server, token_file) as client:
        made = client.request_reveal(
            project_id,
            match_id=match_id,
            parties=parties,
            purpose=purpose,
            legal_basis=legal_basis,
            case_reference=case_ref,
        )
    click.echo(made["request_id"])
    click.echo(
        f"Request {made['request_id']} is {made['state']}: it needs "
        f"{made['approvals_required']} approvals.",
        err=True,
    )


@reveal.command("list")
@project_option
@click.option(
    "--state",
    type=click.Choice(["pending", "approved", "denied"]),
    default=None,
    help="Show only requests in this state (approvers: pending).",
)
@server_option
@token_option("your investigator's or approver's")
def list_requests(
    project_id: int, state: str | None, server: str, token_file: Path | None
) -> None:
    """List the requests you may see, newest first (approvers see all,
    investigators their own)."""
    with connect(server, token_file) as client:
        found = client.reveals(project_id)
    shown = [r for r in found if state is None or r["state"] == state]
    if not shown:
        click.echo("No requests.", err=True)
    for item in shown:
        click.echo(
            f"{item['request_id']}\t{item['state']}\t{item['approvals']}/"
            f"{item['approvals_required']}\t{item['investigator']}\t"
            f"match {item['match_id']}\t{item['purpose']}"
        )


@reveal.command("status")
@project_option
@_request_option
@server_option
@token_option("your investigator's or approver's")
def status(
    project_id: int, request_id: int, server: str, token_file: Path | None
) -> None:
    """Show a request: its state, the decisions and each agency's answer."""
    with connect(server, token_file) as client:
        _print_request(client.reveal(project_id, request_id))


@reveal.command("approve")
@project_option
@_request_option
@_reason_option
@server_option
@token_option("your approver")
def approve(
    project_id: int, request_id: int, reason: str, server: str, token_file: Path | None
) -> None:
    """Approve a request (never your own); the last approval issues the grants."""
    _decide(project_id, request_id, "approve", reason, server, token_file)


@reveal.command("deny")
@project_option
@_request_option
@_reason_option
@server_option
@token_option("your approver")
def deny(
    project_id: int, request_id: int, reason: str, server: str, token_file: Path | None
) -> None:
    """Deny a request; under the default policy one deny ends it."""
    _decide(project_id, request_id, "deny", reason, server, token_file)


def _decide(
    project_id: int,
    request_id: int,
    decision: str,
    reason: str,
    server: str,
    token_file: Path | None,
) -> None:
    with connect(server, token_file) as client:
        decided = client.decide_reveal(project_id, request_id, decision, reason)
    click.echo(
        f"Request {request_id}: {decision} recorded; it is {decided['state']} "
        f"({decided['approvals']} of {decided['approvals_required']} approvals).",
        err=True,
    )


@reveal.command("open")
@project_option
@_request_option
@click.option(
    "--key",
    "key_path",
    required=True,
    type=existing_file,
    metavar="FILE",
    help="Your private key (from `linkage keygen --investigator`).",
)
@_service_key_option
@click.option(
    "--out",
    required=True,
    type=output_file,
    metavar="FILE",
    help="Where to write the revealed records as CSV (mode 0600).",
)
@server_option
@token_option("your investigator")
def open_request(
    project_id: int,
    request_id: int,
    key_path: Path,
    service_key_path: Path,
    out: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Open the agencies' sealed answers to your request with your private key."""
    private_key = read_investigator_private_key(key_path)
    service_key = read_service_public_key(service_key_path)
    with connect(server, token_file) as client:
        answers = client.reveal_answers(project_id, request_id)
        try:
            disclosures = [
                open_answer(
                    SealedAnswer.from_json(item),
                    private_key,
                    service_key,
                    project_id=project_id,
                    request_id=request_id,
                )
                for item in answers["sealed"]
            ]
        except LinkageError as error:
            client.report_opened(project_id, request_id, str(error)[:2000])
            raise
        rows = write_disclosures(disclosures, out) if disclosures else 0
        client.report_opened(project_id, request_id)
    _print_outcome(answers["request"], disclosures, rows, out)


def _print_outcome(
    request: Mapping[str, Any], disclosures: list[Disclosure], rows: int, out: Path
) -> None:
    for disclosure in disclosures:
        click.echo(
            f"{disclosure.party}: {len(disclosure.records)} records disclosed",
            err=True,
        )
    for target in request["targets"]:
        if target["state"] == "refused":
            click.echo(
                f"{target['party']}: refused ({target['refusal_reason']})", err=True
            )
        elif target["state"] in ("awaiting", "issued"):
            click.echo(f"{target['party']}: no answer yet", err=True)
    if rows:
        click.echo(f"Wrote {rows} revealed records to {out} (mode 0600).", err=True)


# Agency -----------------------------------------------------------------------


def _ledger_option(function: F) -> F:
    return click.option(
        "--ledger",
        "ledger_path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Your agency's record of grants already answered (created if "
        "missing): a grant seen there before is refused as a replay.",
    )(function)


@reveal.command("pending")
@project_option
@_party_option
@_service_key_option
@_ledger_option
@server_option
@token_option("your party's")
def pending(
    project_id: int,
    party: str,
    service_key_path: Path,
    ledger_path: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """List the grants awaiting your agency, each checked against the pinned
    service key, its expiry and your ledger."""
    service_key = read_service_public_key(service_key_path)
    ledger = FulfilmentLedger(ledger_path)
    with connect(server, token_file) as client:
        grants = client.grants(project_id)
    if not grants:
        click.echo("No grants await your agency.", err=True)
    for item in grants:
        checked = _check(item, service_key, party, project_id, ledger)
        click.echo(_describe(checked))


@reveal.command("fulfil")
@project_option
@_party_option
@_grant_option
@_service_key_option
@_ledger_option
@click.option(
    "--vault",
    "vault_path",
    required=True,
    type=existing_file,
    metavar="FILE",
    help="Your agency's vault, written by `linkage encode`.",
)
@vault_key_option
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="NAME",
    help="Disclose only this identity field; repeat for each (default: all the "
    "vault holds). Disclose no more than the purpose needs.",
)
@server_option
@token_option("your party's")
def fulfil(
    project_id: int,
    party: str,
    grant_id: int,
    service_key_path: Path,
    ledger_path: Path,
    vault_path: Path,
    vault_key_file: Path | None,
    fields: tuple[str, ...],
    server: str,
    token_file: Path | None,
) -> None:
    """Check grant ID, then seal the records it names to the investigator.

    A grant that is forged or altered, expired, for another agency or project,
    or answered before is refused: the refusal and its reason go to the
    service's audit log, and nothing is disclosed.
    """
    service_key = read_service_public_key(service_key_path)
    ledger = FulfilmentLedger(ledger_path)
    vault = Vault.open(vault_path, read_vault_key(vault_key_file))
    with connect(server, token_file) as client:
        item = _find_grant(client.grants(project_id), grant_id)
        checked = _check(item, service_key, party, project_id, ledger)
        if checked.grant is None:
            assert checked.rejection is not None
            rejection = checked.rejection
            client.refuse_grant(
                project_id,
                grant_id,
                f"rejected by the agency ({rejection.reason}): {rejection}"[:2000],
            )
            raise checked.rejection
        sealed = seal_for_grant(checked.grant, vault, fields=fields or None)
        client.fulfil_grant(project_id, grant_id, sealed.to_json())
    remember_answer(ledger, checked.grant, service_key, "fulfilled")
    click.echo(
        f"Grant {grant_id}: {len(checked.grant.pseudonyms)} records sealed to "
        f"investigator {checked.grant.investigator!r} and delivered.",
        err=True,
    )


@reveal.command("refuse")
@project_option
@_grant_option
@_reason_option
@server_option
@token_option("your party's")
def refuse(
    project_id: int, grant_id: int, reason: str, server: str, token_file: Path | None
) -> None:
    """Refuse to fulfil grant ID, with your reason; nothing is disclosed."""
    with connect(server, token_file) as client:
        client.refuse_grant(project_id, grant_id, reason)
    click.echo(f"Grant {grant_id} refused.", err=True)


def _find_grant(grants: list[dict[str, Any]], grant_id: int) -> dict[str, Any]:
    for item in grants:
        if item.get("grant_id") == grant_id:
            return item
    raise click.ClickException(
        f"grant {grant_id} is not awaiting your agency's answer; "
        "`linkage reveal pending` lists those that are"
    )


def _check(
    item: Mapping[str, Any],
    service_key: Ed25519PublicKey,
    party: str,
    project_id: int,
    ledger: FulfilmentLedger,
) -> CheckedGrant:
    return check_grant(
        SignedGrant.from_json(item["grant"]),
        service_key,
        party=party,
        project_id=project_id,
        ledger=ledger,
        now=datetime.now(UTC),
    )


def _describe(checked: CheckedGrant) -> str:
    if checked.grant is None:
        assert checked.rejection is not None
        return f"grant {checked.grant_id}: REFUSE ({checked.rejection.reason}): " + str(
            checked.rejection
        )
    grant = checked.grant
    case = f", case {grant.case_reference}" if grant.case_reference else ""
    return (
        f"grant {grant.grant_id}: ok: request {grant.request_id}, match "
        f"{grant.match_id}, {len(grant.pseudonyms)} records, for investigator "
        f"{grant.investigator!r}; purpose: {grant.purpose}; legal basis: "
        f"{grant.legal_basis}{case}; expires {grant.expires_at.isoformat()}"
    )


def _print_request(body: Mapping[str, Any]) -> None:
    click.echo(f"request: {body['request_id']}")
    click.echo(f"state: {body['state']}")
    click.echo(f"match: {body['match_id']} (run {body['run_id']})")
    click.echo(f"investigator: {body['investigator']}")
    click.echo(f"purpose: {body['purpose']}")
    click.echo(f"legal basis: {body['legal_basis']}")
    if body.get("case_reference"):
        click.echo(f"case: {body['case_reference']}")
    click.echo(f"approvals: {body['approvals']} of {body['approvals_required']}")
    for decision in body["decisions"]:
        click.echo(
            f"decision: {decision['approver']} {decision['decision']}: "
            f"{decision['reason']}"
        )
    for target in body["targets"]:
        line = f"agency: {target['party']} {target['state']}"
        if target.get("refusal_reason"):
            line += f" ({target['refusal_reason']})"
        click.echo(line)
