"""``linkage demo``: a whole linkage, end to end, through the real service.

Four agencies (police, health, social services, tax) export overlapping,
messy records of one synthetic population in their own shapes, with
duplicates. Each encodes its export with its own mapping and vault key under
one shared secret. The demo then starts the linkage service on a free
loopback port: the operator creates a project, each agency uploads its own
encodings with its own token, the operator runs the linkage (across agencies
and within them), and each agency downloads and resolves only its own
results. The demo, which alone knows the truth, scores the result.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Collection
from contextlib import ExitStack
from pathlib import Path

import click
import pandas as pd

import linkage
from linkage.atomic import private_output
from linkage.client import RunStatus, ServiceClient
from linkage.demo.reveal import (
    APPROVERS,
    INVESTIGATOR,
    OVERSIGHT,
    reveal_one_match,
)
from linkage.demo.second_day import ask_about_one, second_day, split_days
from linkage.encoding.keyfiles import read_secret, read_vault_key, write_key_file
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import EncodeSummary, VaultTarget, encode_csv
from linkage.encoding.repeats import with_repeats_joined
from linkage.encoding.resolve import resolve_results
from linkage.encoding.vault import Vault
from linkage.evaluation import evaluate
from linkage.formats.schema import load_schema
from linkage.matching.matcher import Method
from linkage.service.loopback import RunningService, running_service

AGENCIES = ("police", "health", "social_services", "tax")
# The shipped default: one hardened CLK per record plus two hardened views
# (without the address, without the birth date), measured to keep every
# attack at or under 1 % on records of several fields. Hardened field groups
# link this messy data better but give the linear attacker what it needs
# (benchmarks/README.md); --method probabilistic shows them.
SCHEMAS = {
    "clk": Path("schemas") / "demo.json",
    "probabilistic": Path("schemas") / "demo-groups.json",
}
RUN_TIMEOUT_SECONDS = 1800.0


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Directory for the demo's data, keys, encodings, vaults and service.",
)
@click.option(
    "--people",
    type=click.IntRange(min=100),
    default=20_000,
    show_default=True,
    help="Size of the synthetic population the agencies draw from.",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option(
    "--method",
    type=click.Choice(["clk", "probabilistic"]),
    default="clk",
    show_default=True,
    help="clk: one hardened CLK per record, plus CLKs without the address and "
    "without the birth date, so agencies that hold different fields are "
    "compared on what both hold (schemas/demo.json, the shipped default). "
    "probabilistic: one hardened filter per group "
    "of fields (name, birth, address; schemas/demo-groups.json) linked with "
    "Fellegi-Sunter weights: much better linkage on this messy data, broken "
    "by the linear attack from a few known pairs (see the README).",
)
@click.option(
    "--configs",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Directory with the schemas/demo*.json and mappings/<agency>.yaml "
    "[default: ./configs if there is one, else the copy installed with linkage].",
)
@click.option(
    "--keep-serving",
    is_flag=True,
    help="After the demo, keep the service running so that its web console "
    "can be opened in a browser (log in with the token files the demo prints); "
    "Ctrl-C stops it.",
)
def demo(
    out: Path,
    people: int,
    seed: int,
    method: str,
    configs: Path | None,
    keep_serving: bool,
) -> None:
    """Run a linkage end to end on four synthetic agencies, through the service.

    \b
    1. Each agency maps and encodes its own export (keys and vault stay home).
    2. The service starts on a free loopback port (stopped at the end).
    3. The operator creates a project; each agency uploads with its own token.
    4. The operator runs the linkage (threshold chosen automatically; with
       --method probabilistic, field by field with Fellegi-Sunter weights).
    5. Each agency downloads and resolves only its own results.
    6. An investigator asks who health holds in one match; two approvers
       agree; health seals the records to the investigator's key; the
       investigator opens them; the audit log is exported and verified.
    7. The next day (CLK method): the last 3 % of each export arrive as a
       change set, the police withdraw five records, the operator links them
       in with an update run; each agency downloads what changed.
    8. A health responder asks whether one patient is known elsewhere.
    9. The demo, which knows the truth, scores the final linkage.

    With --keep-serving, the service then stays up for its web console.
    """
    from linkage.demo.generator import write_demo_data

    configs = configs if configs is not None else shipped_configs()
    started = time.perf_counter()
    # Each demo gets a fresh service: old projects, runs and tokens go.
    for folder in ("service", "tokens"):
        shutil.rmtree(out / folder, ignore_errors=True)
    for folder in ("data", "keys", "encodings", "vaults", "results", "resolved"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    (out / "tokens").mkdir(mode=0o700)
    exports = write_demo_data(out / "data", size=people, seed=seed)
    click.echo(f"Synthetic exports of {people} people written to {out / 'data'}.")
    click.echo("1. Agencies encode their exports:")
    schema_path = configs / SCHEMAS[method]
    _encode_agencies(out, exports, configs, schema_path)
    # The CLK method keeps linking: most records are uploaded today, the
    # rest arrive tomorrow as change sets.
    continuing = method == "clk"
    arriving = _split_days(out) if continuing else {}
    click.echo("2. The service starts on loopback:")
    with ExitStack() as serving:
        service = serving.enter_context(running_service(out / "service"))
        click.echo(f"   listening at {service.url}; its data in {service.data_dir}")
        click.echo(f"   web console at {service.url}/console")
        click.echo("3. The operator creates a project; each agency uploads:")
        project_id = _create_project(service, out, schema_path, keep=continuing)
        _upload(service, out, project_id, "-day1" if continuing else "")
        click.echo("4. The operator runs the linkage and sees only aggregates:")
        _run(service, project_id)
        click.echo("5. Each agency downloads and resolves only its own results:")
        matches, vaults = _download_and_resolve(service, out, project_id)
        click.echo("6. A governed reveal of one match, then the audit log:")
        reveal_one_match(
            service,
            out,
            project_id,
            matches,
            party_token=lambda agency: _token_file(out, agency).read_text().strip(),
            say=click.echo,
            token_dir=out / "tokens" if keep_serving else None,
        )
        withdrawn: set[str] = set()
        if continuing:
            click.echo("7. The next day: agencies send what changed; an update run:")
            with ServiceClient(service.url, service.operator_token) as operator:
                day = second_day(
                    operator,
                    lambda agency: _party_client(service, out, agency),
                    project_id,
                    arriving,
                    out,
                    click.echo,
                )
            withdrawn = {p for names in day.withdrawn.values() for p in names}
            matches, vaults = _download_and_resolve(service, out, project_id, withdrawn)
            click.echo("8. Is this person known elsewhere? One lookup:")
            schema = load_schema(schema_path)
            secret = read_secret(_key(out / "keys" / "linkage-secret.key"), schema)
            with _party_client(service, out, "health") as client:
                ask_about_one(
                    client,
                    project_id,
                    schema,
                    secret,
                    exports["health"],
                    configs / "mappings" / "health.yaml",
                    matches,
                    out,
                    click.echo,
                )
        if not keep_serving:
            serving.close()
            click.echo("   The service has stopped.")
        step = 9 if continuing else 7
        click.echo(f"{step}. Scored against the truth (only the demo knows it):")
        _score(exports["truth"], matches, vaults, withdrawn)
        seconds = time.perf_counter() - started
        click.echo(f"Demo finished in {seconds:.1f} s; its files are in {out}.")
        if keep_serving:
            _serve_console(service, out)
        else:
            click.echo(
                f"Its web console was at {service.url}/console; to open it, run "
                f"`linkage demo --out {out} --keep-serving`."
            )


def _serve_console(service: RunningService, out: Path) -> None:
    """Say where the console is and whose token files log in, then wait for
    Ctrl-C (the tokens themselves are never printed)."""
    roles = {
        "operator": service.operator_token_file,
        **{f"agency {a}": _token_file(out, a) for a in AGENCIES},
        f"investigator {INVESTIGATOR}": _token_file(out, INVESTIGATOR),
        **{f"approver {a}": _token_file(out, a) for a in APPROVERS},
        f"oversight {OVERSIGHT}": _token_file(out, OVERSIGHT),
    }
    click.echo(f"The service keeps running. Web console: {service.url}/console")
    click.echo("Log in by pasting the content of one of these token files:")
    for role, path in roles.items():
        click.echo(f"   {role:<32} {path}")
    click.echo("Press Ctrl-C to stop the service.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("Stopping the service.")


def shipped_configs() -> Path:
    """``./configs`` when run in a checkout of linkage (or a folder laid out
    like one), else the schemas, mappings and policy installed with it."""
    here = Path("configs")
    if (here / "schemas").is_dir() and (here / "mappings").is_dir():
        return here
    return Path(linkage.__file__).parent / "configs"


def _encode_agencies(
    out: Path, exports: dict[str, Path], configs: Path, schema_path: Path
) -> None:
    schema = load_schema(schema_path)
    secret = read_secret(_key(out / "keys" / "linkage-secret.key"), schema)
    for agency in AGENCIES:
        vault_key = read_vault_key(_key(out / "keys" / f"{agency}-vault.key"))
        started = time.perf_counter()
        summary = encode_csv(
            exports[agency],
            schema,
            secret,
            out / "encodings" / f"{agency}.lnk",
            mapping=load_mapping(configs / "mappings" / f"{agency}.yaml"),
            vault=VaultTarget(out / "vaults" / f"{agency}.vault", vault_key),
            party=agency,
        )
        seconds = time.perf_counter() - started
        absent = ", ".join(summary.fields_absent) or "none"
        click.echo(
            f"   {agency:<16} {summary.encoded:>7} records in {seconds:5.2f} s"
            f" (fields it does not hold: {absent}); {_own_duplicates(summary)}"
        )


def _own_duplicates(summary: EncodeSummary) -> str:
    """What the agency's vault files as its own duplicates."""
    found = summary.repeats + summary.local_duplicates
    words = f"{found} records filed as another of the same person in its vault"
    if summary.local_doubt:
        return f"{words}; not deduplicated further: {summary.local_doubt}"
    return words


def _split_days(out: Path) -> dict[str, Path]:
    """Each agency's first-day upload and second-day change set, written
    beside its encodings; the change sets' paths."""
    arriving = {}
    for agency in AGENCIES:
        whole = out / "encodings" / f"{agency}.lnk"
        arriving[agency] = out / "encodings" / f"{agency}-day2.lnk"
        split_days(whole, out / "encodings" / f"{agency}-day1.lnk", arriving[agency])
    return arriving


def _create_project(
    service: RunningService, out: Path, schema_path: Path, *, keep: bool
) -> int:
    """The operator creates the project and writes each agency's token file;
    with ``keep``, the project keeps its encodings for continuing linkage."""
    schema = load_schema(schema_path)
    method: Method = "probabilistic" if schema.extension.segments else "clk"
    with ServiceClient(service.url, service.operator_token) as operator:
        created = operator.create_project(
            "demo",
            schema_fingerprint=schema.fingerprint,
            parties=AGENCIES,
            threshold="auto",
            dedup=True,
            method=method,
            retain_encodings=keep,
        )
    for agency in AGENCIES:
        with private_output(_token_file(out, agency), overwrite=False) as target:
            target.write(created.party_tokens[agency].encode("ascii") + b"\n")
    click.echo(
        f"   operator: project {created.id} (link-dedup, {method}, threshold auto) for "
        f"{', '.join(AGENCIES)}; party tokens in {out / 'tokens'}"
    )
    return created.id


def _upload(service: RunningService, out: Path, project_id: int, day: str) -> None:
    for agency in AGENCIES:
        with _party_client(service, out, agency) as client:
            accepted = client.upload(
                project_id, agency, out / "encodings" / f"{agency}{day}.lnk"
            )
        click.echo(
            f"   {agency:<16} uploaded {accepted.record_count:>7} encodings "
            f"with its own token"
        )


def _run(service: RunningService, project_id: int) -> None:
    shown = [""]

    def progress(status: RunStatus) -> None:
        line = f"{status.state} {status.progress:4.0%} {status.message or ''}"
        if line != shown[0]:
            shown[0] = line
            click.echo(f"   run: {line.rstrip()}", err=True)

    with ServiceClient(service.url, service.operator_token) as operator:
        run = operator.start_run(project_id)
        status = operator.wait_for_run(
            project_id,
            run.run_id,
            timeout=RUN_TIMEOUT_SECONDS,
            poll=0.25,
            progress=progress,
        )
    if status.state != "completed":
        raise click.ClickException(
            f"run {run.run_id} failed: {status.message or 'no reason given'}"
        )
    stats = status.stats
    click.echo(
        f"   operator: threshold {stats['threshold']} ({stats['threshold_method']})"
    )
    click.echo(f"   {stats['threshold_explanation']}")
    if stats.get("compared_on_views", "none") != "none":
        click.echo(f"   operator: compared on views: {stats['compared_on_views']}")
    for warning in stats.get("model_warnings", []):
        click.echo(f"   model warning: {warning}")
    click.echo(
        f"   operator: {stats['groups']} groups of {stats['records_matched']} of "
        f"{stats['records']} records, matched in {stats['seconds']} s"
    )


def _download_and_resolve(
    service: RunningService,
    out: Path,
    project_id: int,
    withdrawn: Collection[str] = (),
) -> tuple[pd.DataFrame, dict[str, Vault]]:
    """Each agency's own results, resolved; gathered here only for the
    scoring, with the vaults they were resolved with (the scoring reads the
    same vaults: opening one again took 0.1 s an agency)."""
    gathered = []
    vaults = {}
    for agency in AGENCIES:
        results = out / "results" / f"{agency}.csv"
        with _party_client(service, out, agency) as client:
            rows = client.results(project_id, results)
        key = read_vault_key(out / "keys" / f"{agency}-vault.key")
        vault = vaults[agency] = Vault.open(out / "vaults" / f"{agency}.vault", key)
        target = out / "resolved" / f"{agency}.csv"
        summary = resolve_results(results, vault, target, withdrawn=withdrawn)
        click.echo(
            f"   {agency:<16} {rows:>7} own rows; {summary.rows:>7} records "
            f"resolved in {summary.match_ids} groups to {target}"
        )
        own = pd.read_csv(results, dtype=str, keep_default_na=False)
        gathered.append(own.assign(party=agency))
    return pd.concat(gathered, ignore_index=True), vaults


def _score(
    truth_path: Path,
    matches: pd.DataFrame,
    vaults: dict[str, Vault],
    withdrawn: set[str],
) -> None:
    """Pairwise quality of ``matches`` over every record still linked (the
    withdrawn ones left the linkage), as the agencies resolve them: each
    with its records of one person in one group (the vaults' repeats)."""
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    rows: list[tuple[str, str, str]] = []
    for agency in AGENCIES:
        person = truth[truth["agency"] == agency].set_index("record_id")["person_id"]
        rows.extend(
            (agency, e.pseudonym, person[e.record_id])
            for e in vaults[agency]
            if e.pseudonym not in withdrawn
        )
    repeats = {agency: vault.repeats for agency, vault in vaults.items()}
    evaluation = evaluate(
        with_repeats_joined(matches, repeats, withdrawn),
        pd.DataFrame(rows, columns=["party", "id", "entity"]),
    )
    for line in evaluation.to_text().splitlines():
        click.echo(f"   {line}")


def _party_client(service: RunningService, out: Path, agency: str) -> ServiceClient:
    token = _token_file(out, agency).read_text(encoding="ascii").strip()
    return ServiceClient(service.url, token)


def _token_file(out: Path, agency: str) -> Path:
    return out / "tokens" / f"{agency}.token"


def _key(path: Path) -> Path:
    if not path.exists():
        write_key_file(path)
    return path
