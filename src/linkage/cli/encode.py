"""``linkage encode``: an agency's export in, pseudonymous encodings out."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from linkage.cli.memory import keep_freed_memory
from linkage.cli.options import (
    existing_file,
    output_file,
    schema_option,
    secret_file_option,
    vault_key_option,
)
from linkage.encoding.records import RecordsReading, count_rows

if TYPE_CHECKING:
    from linkage.encoding.recipe import EncodeSummary
    from linkage.formats.extension import Extension

_PROGRESS_MIN_ROWS = 50_000


@click.command()
@click.argument("records", metavar="RECORDS.csv", type=existing_file)
@schema_option
@click.option(
    "--mapping",
    "mapping_path",
    type=existing_file,
    default=None,
    help="Agency mapping (YAML) turning the export's columns into the schema's "
    "fields. Without it, columns must be named like the schema's features.",
)
@secret_file_option
@click.option("--out", type=output_file, required=True, help="Encodings file to write.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["linkage", "clkhash-json"]),
    default="linkage",
    show_default=True,
    help="linkage: pseudonyms, CLKs and a header (for the linkage service). "
    'clkhash-json: {"clks": [...]} in row order, for clkhash/anonlink tools.',
)
@click.option(
    "--vault",
    "vault_path",
    type=output_file,
    default=None,
    help="Write the pseudonym vault here (encrypted; keep it at the agency).",
)
@vault_key_option
@click.option(
    "--local-dedup/--no-local-dedup",
    default=True,
    help="With --vault: also find your own duplicates on your own records "
    "(nothing of it is sent) and file each person's records together in the "
    "vault, so resolving puts them in one group (default: on).",
)
@click.option(
    "--id-column",
    default=None,
    help="Column with your own record IDs; it goes into the vault only. "
    "Default: the mapping's record_id, else the row number.",
)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Leave out rows that cannot be encoded instead of failing.",
)
@click.option(
    "--report",
    type=output_file,
    default=None,
    help="With --skip-invalid: write the rows left out, and why, to this CSV.",
)
@click.option(
    "--encoding",
    default=None,
    help="Text encoding of RECORDS.csv (default: the mapping's, else utf-8).",
)
@click.option(
    "--party",
    default=None,
    help="Your agency's name, written into the encodings header so the "
    "operator's results name you (default: the operator uses the file name).",
)
@click.option(
    "--secret-as-is",
    is_flag=True,
    help="Use a secret that `linkage keygen` did not make exactly as written, "
    "as clkhash does, instead of stretching it: only to link with files made "
    "by clkhash itself with that secret.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: for large files on a terminal).",
)
def encode(
    records: Path,
    schema_path: Path,
    mapping_path: Path | None,
    secret_file: Path | None,
    out: Path,
    fmt: str,
    vault_path: Path | None,
    vault_key_file: Path | None,
    local_dedup: bool,
    id_column: str | None,
    skip_invalid: bool,
    report: Path | None,
    encoding: str | None,
    party: str | None,
    secret_as_is: bool,
    progress: bool | None,
) -> None:
    """Encode RECORDS.csv into CLKs with fresh random pseudonyms.

    The encodings file holds only pseudonyms and CLKs; the vault links each
    pseudonym to your own record ID and stays with you. Nothing is written if
    any row cannot be encoded, unless --skip-invalid is given.

    The secret should be a key made by `linkage keygen`. A passphrase is
    accepted instead only if it is not obviously weak; it is then stretched
    with scrypt for this schema (with a warning), unless --secret-as-is.
    """
    if report is not None and not skip_invalid:
        raise click.UsageError(
            "--report lists skipped rows; use it with --skip-invalid."
        )
    if vault_key_file is not None and vault_path is None:
        raise click.UsageError("--vault-key-file needs --vault FILE.")
    keep_freed_memory()
    with contextlib.ExitStack() as stack:
        reading = None
        if mapping_path is None:
            # Parsing the first block starts now, on another thread, while the
            # encoder's modules are imported (a tenth of a large encode).
            reading = stack.enter_context(RecordsReading(records, encoding or "utf-8"))
        from linkage.encoding.keyfiles import read_secret, read_vault_key
        from linkage.encoding.recipe import VaultTarget, encode_csv
        from linkage.formats.schema import load_schema

        schema = load_schema(schema_path)
        secret = read_secret(secret_file, schema, as_is=secret_as_is)
        vault = None
        if vault_path is not None:
            vault = VaultTarget(vault_path, read_vault_key(vault_key_file))
        mapping = None
        if mapping_path is not None:
            # Only here: applying a mapping needs pandas, encoding without one not.
            from linkage.encoding.mapping_file import load_mapping

            mapping = load_mapping(mapping_path)
        with _progress(records, progress) as advance:
            summary = encode_csv(
                records,
                schema,
                secret,
                out,
                fmt="clkhash-json" if fmt == "clkhash-json" else "linkage",
                mapping=mapping,
                vault=vault,
                id_column=id_column,
                skip_invalid=skip_invalid,
                report=report,
                encoding=encoding,
                party=party,
                progress=advance,
                reading=reading,
                local_dedup=local_dedup,
            )
    line = _summary_line(summary, out, vault_path)
    click.echo(line + _match_keys_note(schema.extension, fmt), err=True)
    if summary.fields_empty:
        click.echo(_unfilled_warning(summary, records), err=True)


@contextlib.contextmanager
def _progress(records: Path, progress: bool | None) -> Iterator[Callable[[int], None]]:
    """What moves a progress bar on stderr, shown if asked, or by default
    for a large file on a terminal."""
    show = progress if progress is not None else sys.stderr.isatty()
    # Counting reads the whole file once more: only for a bar that shows.
    total = count_rows(records) if show else 0
    if progress is None:
        show = show and total >= _PROGRESS_MIN_ROWS
    with click.progressbar(
        length=total, label="Encoding", file=sys.stderr, hidden=not show
    ) as bar:
        done = [0]

        def advance(rows: int) -> None:
            bar.update(rows - done[0])
            done[0] = rows

        yield advance


def _match_keys_note(extension: Extension, fmt: str) -> str:
    """What the file carries of the schema's match keys and unique keys."""
    if not extension.all_keys:
        return ""
    if fmt == "clkhash-json":
        return (
            f" The schema's match keys ({_listed(extension.all_keys)}) are not "
            "written: clkhash JSON has no place for them."
        )
    notes = []
    if extension.match_keys:
        notes.append(
            f" Each record carries its match key(s) of "
            f"{_listed(extension.match_keys)} (none where it lacks one of those "
            "fields)."
        )
    if extension.unique_keys:
        notes.append(
            f" Unique key(s) of {_listed(extension.unique_keys)}: each written "
            "once per person where no other person in this file holds the same "
            "values (records sharing every match key, or alike in every field, "
            "are one person), random bytes elsewhere."
        )
    return "".join(notes)


def _listed(keys: tuple[tuple[str, ...], ...]) -> str:
    return "; ".join(" + ".join(key) for key in keys)


def _unfilled_warning(summary: EncodeSummary, records: Path) -> str:
    empty = ", ".join(summary.fields_empty)
    views = summary.views_if_left_out
    sent = (
        f"the view {views.stand_in} in place of the CLK of every field"
        if views.stand_in is not None
        else f"view(s) {', '.join(views.left_empty)} empty"
    )
    return (
        f"Warning: no record of {records} holds {empty}. Encoded as they are, "
        "these CLKs hold fewer fields than the schema's and are easier to "
        f"re-identify. Leave {empty} out of the mapping and encode again: "
        f"linkage then sends {sent}."
    )


def _summary_line(summary: EncodeSummary, out: Path, vault: Path | None) -> str:
    line = f"Encoded {summary.encoded} of {summary.records} records into {out}"
    if vault is not None:
        line += f"; vault: {vault}"
    if summary.skipped:
        line += f"; skipped {summary.skipped} invalid row(s)"
    if summary.repeats:
        line += (
            f"; {summary.repeats} record(s) of people recorded more than once "
            "send no match key, so the file does not show who they are: the "
            "vault joins them to the person's group when you resolve results"
        )
    if summary.local_duplicates:
        line += (
            f"; {summary.local_duplicates} more record(s) found to be of a person "
            "recorded more than once, on your own records (nothing of it is "
            "sent): the vault joins them too"
        )
    if summary.local_doubt:
        line += (
            f"; your own duplicates were not looked for further: {summary.local_doubt}"
        )
    if summary.fields_absent:
        absent = ", ".join(summary.fields_absent)
        line += f"; fields not in this export (encoded empty): {absent}"
    views = summary.views
    if views.stand_in is not None:
        line += (
            f"; the view {views.stand_in} is sent in place of the CLK of every "
            "field, which would hold too few fields"
        )
    if views.left_empty:
        line += (
            f"; sent empty, holding too few of their fields: view(s) "
            f"{', '.join(views.left_empty)}"
        )
    return line + "."
