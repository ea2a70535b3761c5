"""``linkage reveal``: request, approve, fulfil and open a governed reveal.

\b
Investigator:  reveal request, reveal status, reveal open
Approver:      reveal approve, reveal deny, reveal status, reveal sign
Agency:        reveal pending, reveal fulfil, reveal refuse
Everyone:      reveal trust (the public keys you pin)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from linkage.atomic import private_output
from linkage.cli.connection import (
    connect,
    project_option,
    server_option,
    token_option,
)
from linkage.cli.options import existing_file, output_file, vault_key_option
from linkage.client import decision_body
from linkage.encoding.keyfiles import read_vault_key
from linkage.encoding.vault import Vault
from linkage.errors import LinkageError
from linkage.reveal.agency import (
    AgencyChecks,
    CheckedGrant,
    remember_answer,
    seal_for_grant,
)
from linkage.reveal.approvals import (
    ApprovalError,
    RevealStatement,
    sign_statements,
    statements_from_json,
)
from linkage.reveal.disclosure import Disclosure
from linkage.reveal.investigator import SealedAnswer, open_answer, write_disclosures
from linkage.reveal.keys import (
    key_id,
    read_investigator_private_key,
    read_investigator_public_key,
    read_service_public_key,
    read_signing_private_key,
    read_signing_public_key,
    x25519_public_from_b64,
)
from linkage.reveal.policy import PolicyError, format_duration, parse_duration
from linkage.reveal.trust import TrustFile, load_trust, write_trust

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
def reveal() -> None:
    """Reveal who is behind a match ID, only as the policy allows.

    \b
    1. An investigator requests it:        linkage reveal request
    2. Approvers sign and decide:          linkage reveal approve|deny
    3. Each agency checks and answers:     linkage reveal pending|fulfil|refuse
    4. The investigator opens the answers: linkage reveal open

    Agencies and investigators first pin the keys they accept, received out
    of band: linkage reveal trust.
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


def _trust_option(function: F) -> F:
    return click.option(
        "--trust",
        "trust_path",
        required=True,
        type=existing_file,
        metavar="FILE",
        help="Your trust file: the public keys you pinned and the limits you "
        "accept (`linkage reveal trust` writes it).",
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


def _approval_options(function: F) -> F:
    """--key and --valid-for: what signs an approval, and for how long."""
    function = click.option(
        "--valid-for",
        default="24h",
        show_default=True,
        metavar="DURATION",
        help="How long your approval may be acted on (90m, 24h, 7d); agencies "
        "refuse approvals valid for longer than they allow.",
    )(function)
    return click.option(
        "--key",
        "key_path",
        required=True,
        type=existing_file,
        metavar="FILE",
        help="Your signing key (from `linkage keygen --signing`); agencies "
        "count your approval only if it is signed with the key they pinned "
        "for you.",
    )(function)


@reveal.command("approve")
@project_option
@_request_option
@_reason_option
@_approval_options
@server_option
@token_option("your approver")
def approve(
    project_id: int,
    request_id: int,
    reason: str,
    key_path: Path,
    valid_for: str,
    server: str,
    token_file: Path | None,
) -> None:
    """Sign and approve a request (never your own); the last approval needed
    issues the grants. What you sign is printed: each agency, how many of its
    records, and the key identities will be sealed to."""
    lifetime = _lifetime(valid_for)
    key = read_signing_private_key(key_path)
    with connect(server, token_file) as client:
        statements = client.reveal_statements(project_id, request_id)
        _say_signing(statements)
        decided = client.approve_reveal(
            project_id,
            request_id,
            reason,
            key=key,
            valid_for=lifetime,
            now=datetime.now(UTC),
            statements=statements,  # Sign what was printed, not a second fetch.
        )
    _print_decided(request_id, "approve", decided)


def _say_signing(statements: Sequence[RevealStatement]) -> None:
    """Print what is about to be signed, one line per agency."""
    for statement in statements:
        investigator_key = x25519_public_from_b64(statement.investigator_key)
        click.echo(
            f"Signing: {statement.party}: {len(statement.pseudonyms)} records "
            f"of match {statement.match_id}, sealed to {statement.investigator!r} "
            f"(key ID {key_id(investigator_key)}); purpose: {statement.purpose}",
            err=True,
        )


@reveal.command("sign")
@click.argument("statements_path", metavar="STATEMENTS", type=existing_file)
@_reason_option
@_approval_options
@click.option(
    "--out",
    "out_path",
    required=True,
    type=output_file,
    metavar="FILE",
    help="Where to write the signed approval (paste it into the web console).",
)
def sign(
    statements_path: Path, reason: str, key_path: Path, valid_for: str, out_path: Path
) -> None:
    """Sign a request's statements offline, for the web console.

    STATEMENTS is the file the console's request page offers ("statements
    to sign"); nothing goes over the network and your key never leaves this
    machine. Paste the file written to --out into the console's approval
    form: the service checks it exactly as it checks `linkage reveal
    approve`.
    """
    lifetime = _lifetime(valid_for)
    key = read_signing_private_key(key_path)
    try:
        items = json.loads(statements_path.read_text(encoding="utf-8"))
        statements = statements_from_json(items)
    except (ValueError, ApprovalError) as error:
        raise click.BadParameter(
            f"{statements_path} is not a statements file from the console: {error}",
            param_hint="STATEMENTS",
        ) from None
    _say_signing(statements)
    approvals = sign_statements(
        statements, key, reason=reason, now=datetime.now(UTC), valid_for=lifetime
    )
    body = decision_body(reason, approvals)
    with private_output(out_path) as out:
        out.write(json.dumps(body, indent=2).encode("utf-8") + b"\n")
    click.echo(
        f"Signed {len(statements)} statement(s); paste {out_path} into the "
        "console's approval form.",
        err=True,
    )


def _lifetime(valid_for: str) -> timedelta:
    try:
        lifetime = parse_duration(valid_for)
    except PolicyError as error:
        raise click.BadParameter(str(error), param_hint="--valid-for") from None
    if lifetime <= timedelta(0):
        raise click.BadParameter("must be more than zero", param_hint="--valid-for")
    return lifetime


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
    _print_decided(request_id, decision, decided)


def _print_decided(request_id: int, decision: str, decided: Mapping[str, Any]) -> None:
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
@_trust_option
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
    trust_path: Path,
    out: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """Open the agencies' sealed answers to your request with your private key.

    Each answer must be signed by the key your trust file pins for its
    agency; an answer made by anyone else (the operator included) is refused.
    """
    private_key = read_investigator_private_key(key_path)
    service_key = read_service_public_key(service_key_path)
    agency_keys = load_trust(trust_path).agencies
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
                    agency_keys=agency_keys,
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


def _results_option(function: F) -> F:
    return click.option(
        "--results",
        "results_path",
        required=True,
        type=existing_file,
        metavar="FILE",
        help="The results you downloaded with `linkage results`: a grant must "
        "name exactly the rows of its match ID there.",
    )(function)


@reveal.command("pending")
@project_option
@_party_option
@_service_key_option
@_trust_option
@_results_option
@_ledger_option
@server_option
@token_option("your party's")
def pending(
    project_id: int,
    party: str,
    service_key_path: Path,
    trust_path: Path,
    results_path: Path,
    ledger_path: Path,
    server: str,
    token_file: Path | None,
) -> None:
    """List the grants awaiting your agency, each checked as `fulfil` would:
    the service key, expiry, the approvers' signatures against your trust
    file, the investigator's key, the match's rows in your results, your cap
    and your ledger."""
    agency = AgencyChecks.load(
        service_key_path, trust_path, results_path, ledger_path, party, project_id
    )
    with connect(server, token_file) as client:
        grants = client.grants(project_id)
    if not grants:
        click.echo("No grants await your agency.", err=True)
    for item in grants:
        click.echo(_describe(agency.check(item)))


@reveal.command("fulfil")
@project_option
@_party_option
@_grant_option
@_service_key_option
@_trust_option
@_results_option
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
    "--signing-key",
    "signing_key_path",
    required=True,
    type=existing_file,
    metavar="FILE",
    help="Your agency's signing key (`linkage keygen --signing`): what you "
    "disclose is signed with it, so investigators know you made it.",
)
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
    trust_path: Path,
    results_path: Path,
    ledger_path: Path,
    vault_path: Path,
    vault_key_file: Path | None,
    signing_key_path: Path,
    fields: tuple[str, ...],
    server: str,
    token_file: Path | None,
) -> None:
    """Check grant ID, then sign and seal the records it names to the
    investigator.

    A grant that is forged or altered, expired, for another agency or project,
    not signed by enough approvers you pinned, for an investigator key you did
    not pin, for records that are not its match's rows in your results, over
    your cap, or answered before is refused: the refusal and its reason go to
    your ledger and the service's audit log, and nothing is disclosed. The
    grant is written to your ledger before anything is sealed, so it is never
    answered twice.
    """
    agency = AgencyChecks.load(
        service_key_path, trust_path, results_path, ledger_path, party, project_id
    )
    vault = Vault.open(vault_path, read_vault_key(vault_key_file))
    signing_key = read_signing_private_key(signing_key_path)
    with connect(server, token_file) as client:
        checked = agency.check(_find_grant(client.grants(project_id), grant_id))
        if checked.grant is None:
            assert checked.rejection is not None
            rejection = checked.rejection
            agency.remember_refusal(checked)
            client.refuse_grant(
                project_id,
                grant_id,
                f"rejected by the agency ({rejection.reason}): {rejection}"[:2000],
            )
            raise rejection
        remember_answer(agency.ledger, checked.grant, agency.service_key, "fulfilled")
        sealed = seal_for_grant(
            checked.grant, vault, signing_key, fields=fields or None
        )
        client.fulfil_grant(project_id, grant_id, sealed.to_json())
    click.echo(
        f"Grant {grant_id}: {len(checked.grant.pseudonyms)} records signed, "
        f"sealed to investigator {checked.grant.investigator!r} and delivered "
        f"(approved by {', '.join(checked.approvers)}).",
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


def _named_key(value: str, option: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise click.BadParameter(
            f"expected NAME=FILE.pub, not {value!r}", param_hint=option
        )
    return name, Path(path)


@reveal.command("trust")
@click.option(
    "--file",
    "trust_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Your trust file (created if missing; written atomically, mode 0600).",
)
@click.option(
    "--approver",
    "approvers",
    multiple=True,
    metavar="NAME=FILE.pub",
    help="Pin an approver's signing key (their `linkage keygen --signing` "
    ".pub); repeat for each. A name pinned again gets the new key (rotation).",
)
@click.option(
    "--investigator",
    "investigators",
    multiple=True,
    metavar="NAME=FILE.pub",
    help="Pin an investigator's key (their `linkage keygen --investigator` .pub).",
)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    metavar="NAME=FILE.pub",
    help="Pin an agency's signing key (investigators: answers must be signed with it).",
)
@click.option(
    "--remove",
    "removed",
    multiple=True,
    metavar="NAME",
    help="Remove NAME's key from every section (revocation); repeat for each.",
)
@click.option(
    "--approvals", type=click.IntRange(1, 50), default=None,
    help="Distinct pinned approvers a grant needs.",
)  # fmt: skip
@click.option(
    "--lifetime", default=None, metavar="DURATION",
    help="The longest an approval may be valid for (24h, 7d).",
)  # fmt: skip
@click.option(
    "--max-records", type=click.IntRange(1, 10_000), default=None,
    help="The most records one grant may reveal.",
)  # fmt: skip
def trust(
    trust_path: Path,
    approvers: tuple[str, ...],
    investigators: tuple[str, ...],
    agencies: tuple[str, ...],
    removed: tuple[str, ...],
    approvals: int | None,
    lifetime: str | None,
    max_records: int | None,
) -> None:
    """Write or edit your trust file, then print what it pins.

    Agencies pin the approvers and investigators they accept and the limits
    of a grant; investigators pin the agencies' keys. Get each public key
    out of band and compare its key ID (printed here) with its owner, by
    phone or in person, before you rely on it.
    """
    current = load_trust(trust_path) if trust_path.exists() else TrustFile()
    for name in removed:
        current = current.without(name)
    current = current.with_entries(
        approvers=_read_keys(approvers, "--approver", read_signing_public_key),
        investigators=_read_keys(
            investigators, "--investigator", read_investigator_public_key
        ),
        agencies=_read_keys(agencies, "--agency", read_signing_public_key),
    )
    limits: dict[str, Any] = {}
    if approvals is not None:
        limits["approvals_required"] = approvals
    if max_records is not None:
        limits["max_records"] = max_records
    if lifetime is not None:
        try:
            limits["grant_lifetime"] = parse_duration(lifetime)
        except PolicyError as error:
            raise click.BadParameter(str(error), param_hint="--lifetime") from None
    current = replace(current, **limits)
    write_trust(trust_path, current)
    load_trust(trust_path)  # What is written must read back.
    for section in ("approvers", "investigators", "agencies"):
        for name, key in sorted(getattr(current, section).items()):
            click.echo(f"{section[:-1]}\t{name}\tkey ID {key_id(key)}")
    click.echo(
        f"Wrote {trust_path}: {current.approvals_required} approvals, each valid "
        f"at most {format_duration(current.grant_lifetime)}, at most "
        f"{current.max_records} records per grant.",
        err=True,
    )


K = TypeVar("K")


def _read_keys(
    values: tuple[str, ...], option: str, read: Callable[[Path], K]
) -> dict[str, K]:
    pairs = [_named_key(value, option) for value in values]
    return {name: read(path) for name, path in pairs}


def _find_grant(grants: list[dict[str, Any]], grant_id: int) -> dict[str, Any]:
    for item in grants:
        if item.get("grant_id") == grant_id:
            return item
    raise click.ClickException(
        f"grant {grant_id} is not awaiting your agency's answer; "
        "`linkage reveal pending` lists those that are"
    )


def _describe(checked: CheckedGrant) -> str:
    if checked.grant is None:
        assert checked.rejection is not None
        return f"grant {checked.grant_id}: REFUSE ({checked.rejection.reason}): " + str(
            checked.rejection
        )
    grant = checked.grant
    case = f", case {grant.case_reference}" if grant.case_reference else ""
    investigator_key = key_id(x25519_public_from_b64(grant.investigator_key))
    return (
        f"grant {grant.grant_id}: ok: request {grant.request_id}, match "
        f"{grant.match_id}, {len(grant.pseudonyms)} records, for investigator "
        f"{grant.investigator!r} (key ID {investigator_key}), approved by "
        f"{', '.join(checked.approvers)}; purpose: {grant.purpose}; legal "
        f"basis: {grant.legal_basis}{case}; expires {grant.expires_at.isoformat()}"
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
