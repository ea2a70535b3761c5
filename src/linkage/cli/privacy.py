"""``linkage privacy-check``: how many encodings could an attacker re-identify?"""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.atomic import private_output
from linkage.cli.options import existing_file, output_file, schema_option
from linkage.encoding.records import iter_chunks
from linkage.errors import EncodingFileError, InputError, Problem
from linkage.formats.clkfile import Encodings, read_encodings
from linkage.formats.schema import LinkageSchema, load_schema
from linkage.privacy.check import ATTACKS, AttackName, PrivacyReport, privacy_check
from linkage.privacy.guessing import common_secrets, dictionary_file
from linkage.privacy.tokens import check_columns


@click.command("privacy-check")
@click.argument("encodings_path", metavar="ENCODINGS", type=existing_file)
@schema_option
@click.option(
    "--reference-population",
    "population_path",
    type=existing_file,
    required=True,
    metavar="FILE",
    help="CSV of people the attacker knows by name: a column per feature the "
    "schema encodes (named like the schema's features) and an ID column.",
)
@click.option(
    "--id-column",
    default=None,
    help="Column of the reference population with its record IDs "
    "(default: the first column).",
)
@click.option(
    "--known-pairs",
    "known_pairs_path",
    type=existing_file,
    default=None,
    metavar="FILE",
    help="CSV with columns pseudonym,record_id: the truth for some or all "
    "encodings (the pseudonym in ENCODINGS, the ID of the same person in the "
    "reference population). Used to score every attack; the known-plaintext "
    "and linear attackers are given --known of them. Without it, nothing can "
    "be scored and those two attacks do not run.",
)
@click.option(
    "--known",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Known pairs the known-plaintext and linear attackers are given, "
    "drawn from --known-pairs.",
)
@click.option(
    "--attack",
    "attacks",
    type=click.Choice(list(ATTACKS)),
    multiple=True,
    help="Attack to run; repeat for several (default: all six).",
)
@click.option(
    "--dictionary",
    "dictionary_path",
    type=existing_file,
    default=None,
    metavar="FILE",
    help="Candidate secrets for the secret-guess attack, one a line, tried "
    "after its built-in list of common passwords and patterns.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seeds the draw of the known pairs and the graph attacker's own "
    "secrets, so a check can be repeated.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of encodings re-identified above which the verdict is 'exposed'.",
)
@click.option(
    "--json",
    "json_path",
    type=output_file,
    default=None,
    metavar="OUT",
    help="Also write the full report as JSON to OUT.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on stderr (default: when stderr is a terminal).",
)
def privacy_check_command(
    encodings_path: Path,
    schema_path: Path,
    population_path: Path,
    id_column: str | None,
    known_pairs_path: Path | None,
    known: int,
    attacks: tuple[str, ...],
    dictionary_path: Path | None,
    seed: int,
    threshold: float,
    json_path: Path | None,
    progress: bool | None,
) -> None:
    """Attack ENCODINGS as someone without the secret would, and judge the risk.

    ENCODINGS is an encodings file as `linkage encode` writes it. The attacker
    holds it and the (public) schema, but not the secret, plus a plaintext
    reference population. Six attacks:

    \b
    frequency        aligns frequent bit patterns with frequent q-grams of the
                     population (pattern mining, Christen et al. 2018). Models
                     anyone with the encodings and a population list the
                     records were drawn from.
    equality         encodes the population under the attacker's own secret
                     and matches the pattern of identical filters (who
                     shares a name, birth date or address) by colour
                     refinement. Models anyone holding per-field or
                     field-group encodings.
    graph            encodes the population under the attacker's own secrets
                     and matches the two similarity graphs as published
                     (embeddings, alignment, assignment; Vidanage et al.
                     2020, Schäfer et al. 2024), then refines on anchors.
                     Models an attacker whose list holds many of the
                     encoded people.
    known-plaintext  learns each q-gram's bits from a few known (encoding,
                     person) pairs (--known). Models the operator, or anyone
                     with the encodings, who learns some identities, e.g.
                     through reveals. Balancing, BLIP and salting do not
                     stop it; diffusion did in our measurements.
    linear           the same attacker, using that XOR diffusion is linear:
                     distances between diffused encodings follow the
                     distances of the records, which the known pairs anchor.
    secret-guess     tries likely secrets (built-in list, plus --dictionary)
                     against the key-check value in ENCODINGS' header.
                     Models anyone holding the file, the operator included.
                     Found, the secret exposes every record (share 100 %);
                     a key made by `linkage keygen` is never found.

    With --known-pairs each attack's share of correct re-identifications is
    measured: 'exposed' above --threshold, else 'resistant'. Advice says which
    settings would lower it.
    """
    schema = load_schema(schema_path)
    encodings = _read_encodings(encodings_path, schema)
    absent = encodings.header.absent_fields if encodings.header else ()
    population, ids = _read_population(population_path, schema, id_column, absent)
    truth = None
    if known_pairs_path is not None:
        truth = _read_truth(known_pairs_path, encodings, ids)
    show = progress if progress is not None else sys.stderr.isatty()
    report = privacy_check(
        encodings.clks,
        population,
        schema,
        truth=truth,
        attacks=_attack_names(attacks),
        known=known,
        seed=seed,
        threshold=threshold,
        progress=_Progress() if show else None,
        key_check=encodings.header.key_check if encodings.header else None,
        dictionary=_dictionary(dictionary_path),
        match_keys=encodings.match_keys,
        absent=absent,
    )
    _print_report(report, truth is not None)
    if json_path is not None:
        with private_output(json_path) as binary:
            binary.write(report.to_json().encode("utf-8") + b"\n")
        click.echo(f"Wrote {json_path}.", err=True)


def _dictionary(path: Path | None) -> Iterable[str] | None:
    """The secret-guess attack's candidates: built in, then the file's."""
    if path is None:
        return None
    return itertools.chain(common_secrets(), dictionary_file(path))


def _attack_names(chosen: tuple[str, ...]) -> list[AttackName]:
    names = chosen or ATTACKS
    return [name for name in ATTACKS if name in names]


def _read_encodings(path: Path, schema: LinkageSchema) -> Encodings:
    encodings = read_encodings(path)
    header = encodings.header
    if header is not None and header.schema_fingerprint != schema.fingerprint:
        raise EncodingFileError(
            f"{path}: the encodings were made with a different schema than "
            f"--schema (fingerprint {header.schema_fingerprint[:12]}… vs "
            f"{schema.fingerprint[:12]}…); pass the schema they were encoded with"
        )
    expected_bytes = -(-schema.clk_length // 8)
    if encodings.clks.shape[1] != expected_bytes:
        raise EncodingFileError(
            f"{path}: encodings have {encodings.clks.shape[1] * 8} bits, but the "
            f"schema makes {schema.clk_length}; pass the schema they were "
            "encoded with"
        )
    return encodings


def _read_population(
    path: Path, schema: LinkageSchema, id_column: str | None, absent: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The attacker's list and its IDs; it needs no column for a field the
    encodings' agency does not hold (``absent``)."""
    frames = [chunk.frame for chunk in iter_chunks(path)]
    population = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if population.empty and not len(population.columns):
        raise InputError(f"{path}: the reference population has no columns")
    column = id_column if id_column is not None else str(population.columns[0])
    if column not in population.columns:
        raise InputError(
            f"{path}: no ID column {column!r}",
            [Problem("column missing", source=str(path), field=column)],
            hint="Name the column with the record IDs with --id-column.",
        )
    for name in absent:
        if name not in population.columns:
            population[name] = ""
    check_columns(schema, [str(c) for c in population.columns], str(path))
    if population.empty:
        raise InputError(f"{path}: the reference population has no records")
    return population, population[column].astype(str).tolist()


def _read_truth(
    path: Path, encodings: Encodings, ids: list[str]
) -> npt.NDArray[np.int64]:
    """Each encoding's population row (-1 if unknown), from a pairs file.

    Raises:
        InputError: listing every unknown pseudonym or record ID, by row.
    """
    row_of_pseudonym = {p: i for i, p in enumerate(encodings.pseudonym_strings())}
    row_of_id: dict[str, int] = {}
    for index, record_id in enumerate(ids):
        row_of_id.setdefault(record_id, index)
    truth = np.full(len(encodings), -1, dtype=np.int64)
    problems: list[Problem] = []
    source = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.DictReader(file)
            missing = {"pseudonym", "record_id"} - set(reader.fieldnames or [])
            if missing:
                raise InputError(
                    f"{path}: the known-pairs file needs the columns "
                    f"pseudonym,record_id (missing: {', '.join(sorted(missing))})"
                )
            for number, row in enumerate(reader, start=1):
                _add_pair(row, number, source, row_of_pseudonym, row_of_id, truth,
                          problems)  # fmt: skip
    except UnicodeDecodeError:
        raise InputError(f"{path}: the known-pairs file is not UTF-8 text") from None
    if problems:
        raise InputError(
            f"{path}: {len(problems)} known pair(s) cannot be used:",
            problems,
            hint="Each row must name a pseudonym of ENCODINGS and a record ID "
            "of the reference population.",
        )
    return truth


def _add_pair(
    row: dict[str, str],
    number: int,
    source: str,
    row_of_pseudonym: dict[str, int],
    row_of_id: dict[str, int],
    truth: npt.NDArray[np.int64],
    problems: list[Problem],
) -> None:
    pseudonym = (row.get("pseudonym") or "").strip()
    record_id = (row.get("record_id") or "").strip()
    encoding = row_of_pseudonym.get(pseudonym)
    record = row_of_id.get(record_id)
    if encoding is None:
        problems.append(
            Problem(
                f"pseudonym {pseudonym!r} is not in the encodings file",
                source=source,
                row=number,
                field="pseudonym",
            )
        )
    if record is None:
        problems.append(
            Problem(
                f"record ID {record_id!r} is not in the reference population",
                source=source,
                row=number,
                field="record_id",
            )
        )
    if encoding is None or record is None:
        return
    if truth[encoding] >= 0 and truth[encoding] != record:
        problems.append(
            Problem(
                f"pseudonym {pseudonym!r} is paired twice with different records",
                source=source,
                row=number,
                field="pseudonym",
            )
        )
    truth[encoding] = record


def _print_report(report: PrivacyReport, scored: bool) -> None:
    click.echo(
        f"Privacy check: {report.encodings:,} encodings, reference population "
        f"of {report.population:,} records."
    )
    click.echo("")
    header = (
        f"{'attack':<16} {'assigned':>9} {'re-identified':>14} {'share':>8}  verdict"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for result in report.results:
        correct = "-" if result.correct is None else f"{result.correct:,}"
        share = "-" if result.share is None else f"{100 * result.share:.1f} %"
        click.echo(
            f"{result.attack:<16} {result.assigned:>9,} {correct:>14} "
            f"{share:>8}  {result.verdict}"
        )
    notes = [f"{r.attack}: {r.note}." for r in report.results if r.note]
    if notes:
        click.echo("")
        for note in notes:
            click.echo(f"Note, {note}")
    if not scored:
        click.echo("")
        click.echo(
            "Without --known-pairs the attacks' assignments cannot be checked, so "
            "no share is given, and the known-plaintext attack cannot run."
        )
    if report.advice:
        click.echo("")
        click.echo(
            f"Exposed: more than {100 * report.threshold:g} % re-identified. "
            "What would lower it:"
        )
        for advice in report.advice:
            click.echo(f"  - {advice}")
    elif scored:
        click.echo("")
        click.echo(
            f"No attack re-identified more than {100 * report.threshold:g} % of "
            "the encodings."
        )


class _Progress:
    """One progress line per attack, on stderr."""

    def __init__(self) -> None:
        self._step = ""

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            if self._step:
                click.echo("", err=True)
            self._step = step
        percent = 100 * done // max(total, 1)
        click.echo(f"\r{step}: {percent:3d}%", err=True, nl=False)
        if done >= total:
            click.echo("", err=True)
            self._step = ""
