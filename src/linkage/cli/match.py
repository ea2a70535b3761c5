"""``linkage match``: the operator links the agencies' encodings."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from linkage.atomic import private_output
from linkage.cli.options import existing_file, output_file
from linkage.matching.matcher import (
    MATCH_COLUMNS,
    PARTY_COLUMNS,
    Matcher,
    MatchResult,
    MatchRows,
    MatchSettings,
)
from linkage.matching.parties import load_parties
from linkage.matching.probabilistic import FellegiSunterResult
from linkage.service.settings import check_dask_address

_CLOSE_CALLS = 5  # Waterfalls written with the model: the pairs nearest the line.


class ThresholdType(click.ParamType):  # type: ignore[type-arg]
    """``auto``, or a Dice threshold in (0, 1]."""

    name = "auto|T"

    def convert(self, value: Any, param: Any, ctx: Any) -> float | str:
        if isinstance(value, float) or value == "auto":
            return value  # type: ignore[no-any-return]
        try:
            number = float(value)
        except ValueError:
            self.fail(
                f"must be 'auto' or a number in (0, 1] (got {value!r})", param, ctx
            )
        if not 0 < number <= 1:
            self.fail(f"must be in (0, 1] (got {number})", param, ctx)
        return number


@click.command()
@click.argument(
    "encodings", metavar="ENCODINGS...", nargs=-1, required=True, type=existing_file
)
@click.option(
    "--threshold",
    type=ThresholdType(),
    default="auto",
    show_default=True,
    help="Dice similarity at which two records may match, or 'auto' to choose "
    "it from the distribution of best-match scores (no ground truth needed).",
)
@click.option(
    "--dedup",
    is_flag=True,
    help="Also find duplicates within each file (with one file: only that).",
)
@click.option(
    "--solver",
    type=click.Choice(["greedy", "optimal"]),
    default="greedy",
    show_default=True,
    help="Two parties: greedy one-to-one (as anonlink) or optimal (largest "
    "total similarity per connected component).",
)
@click.option(
    "--out",
    type=output_file,
    required=True,
    help="All groups as CSV: match_id,party,pseudonym,score.",
)
@click.option(
    "--per-party-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write <party>.csv per agency with only its own rows "
    "(pseudonym,match_id,score), for `linkage vault resolve`.",
)
@click.option(
    "--report",
    type=output_file,
    default=None,
    help="Write an HTML report (or .png) of the score histogram and the threshold.",
)
@click.option(
    "--max-candidates",
    type=click.IntRange(min=1),
    default=100_000_000,
    show_default=True,
    help="Stop with a message if more candidate pairs than this reach the "
    "threshold (each takes about 24 bytes of memory).",
)
@click.option(
    "--blocking",
    type=click.Choice(["auto", "lsh", "none"]),
    default="auto",
    show_default=True,
    help="none: compare every pair; lsh: only pairs that collide in Hamming LSH "
    "tables on the CLKs (no plaintext key); auto: LSH where it is modelled to "
    "take under half the time of all pairs.",
)
@click.option(
    "--lsh-bits",
    type=click.IntRange(8, 62),
    default=None,
    metavar="K",
    help="Bits sampled per LSH table (default: chosen from the data).",
)
@click.option(
    "--lsh-tables",
    type=click.IntRange(1, 4000),
    default=None,
    metavar="L",
    help="LSH tables (default: enough to find --lsh-completeness of the pairs).",
)
@click.option(
    "--lsh-completeness",
    type=click.FloatRange(0.5, 0.99999),
    default=0.998,
    show_default=True,
    help="Share of the pairs at or above the threshold that LSH aims to find "
    "(estimated from a sample of them; the report gives the estimate reached).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    envvar="LINKAGE_DASK_SCHEDULER",
    help="Compare the LSH tables on a Dask cluster (tls://host:8786, or "
    "tcp:// on this machine; default: the LINKAGE_DASK_SCHEDULER environment "
    "variable, else this machine). Only CLKs go to the workers; the result is "
    "the same as a local run.",
)
@click.option(
    "--method",
    type=click.Choice(["clk", "probabilistic"]),
    default="clk",
    show_default=True,
    help="clk: score a pair by the Dice similarity of the whole encodings. "
    "probabilistic: per-field encodings only; compare field by field and score "
    "a pair by a Fellegi-Sunter match probability whose m and u are learnt "
    "from the data (no ground truth).",
)
@click.option(
    "--candidate-threshold",
    type=click.FloatRange(0.05, 1.0),
    default=None,
    metavar="T",
    help="probabilistic: the Dice of the whole encodings that makes a pair a "
    "candidate (default: 0.2 under the single-CLK threshold, at least 0.5).",
)
@click.option(
    "--model-out",
    type=output_file,
    default=None,
    help="probabilistic: write the model (m, u, weight per field and level, "
    "the threshold, the weight histogram and a waterfall of the closest "
    "calls) as JSON.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress on stderr (default: when stderr is a terminal).",
)
def match(
    encodings: tuple[Path, ...],
    threshold: float | str,
    dedup: bool,
    solver: str,
    out: Path,
    per_party_dir: Path | None,
    report: Path | None,
    max_candidates: int,
    blocking: str,
    lsh_bits: int | None,
    lsh_tables: int | None,
    lsh_completeness: float,
    scheduler: str | None,
    method: str,
    candidate_threshold: float | None,
    model_out: Path | None,
    progress: bool | None,
) -> None:
    """Link the ENCODINGS files of two or more agencies (or dedup one).

    Files are the agencies' encodings (linkage format or clkhash JSON). They
    must share the bit length, schema fingerprint and key-check value.
    """
    if scheduler is not None:
        try:
            check_dask_address(scheduler)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--scheduler") from None
    parties = load_parties(list(encodings))
    settings = MatchSettings(
        threshold="auto" if threshold == "auto" else float(threshold),
        dedup=dedup,
        solver="optimal" if solver == "optimal" else "greedy",
        max_candidates=max_candidates,
        blocking="lsh"
        if blocking == "lsh"
        else "none"
        if blocking == "none"
        else "auto",
        lsh_bits=lsh_bits,
        lsh_tables=lsh_tables,
        lsh_completeness=lsh_completeness,
        scheduler=scheduler,
        method="probabilistic" if method == "probabilistic" else "clk",
        candidate_threshold=candidate_threshold,
    )
    show = progress if progress is not None else sys.stderr.isatty()
    result = Matcher(parties, settings, progress=_Progress() if show else None).run()
    _write_csv(out, result.rows)
    if per_party_dir is not None:
        per_party_dir.mkdir(parents=True, exist_ok=True)
        for party in parties.parties:
            _write_csv(
                per_party_dir / f"{party.name}.csv",
                result.rows.of_party(party.name),
                PARTY_COLUMNS,
            )
    if report is not None:
        from linkage.matching.report import write_report

        write_report(
            report,
            best=result.best,
            choice=result.choice,
            summary=_summary(result, encodings),
        )
    if result.model is not None:
        click.echo(result.model.model.to_text(), err=True)
        if model_out is not None:
            _write_model(model_out, result.model)
    click.echo(result.choice.explanation, err=True)
    click.echo(
        f"Threshold {result.choice.threshold:.3f} ({result.choice.method}): "
        f"{result.stats['groups']} groups, {result.stats['records matched']} records "
        f"matched of {result.stats['records']}; wrote {out}.",
        err=True,
    )
    click.echo(
        f"Blocking: {result.stats['blocking']}; {result.stats['pairs compared']:,} "
        f"pairs compared (reduction ratio {result.stats['reduction ratio']:.4f}, "
        "estimated pair completeness "
        f"{result.stats['estimated pair completeness']:.4f}).",
        err=True,
    )
    if result.stats.get("pairs sharing a match key"):
        click.echo(
            f"Match keys: {result.stats['pairs sharing a match key']:,} pairs of "
            "records agree exactly on a key's fields (candidates at score 1.0).",
            err=True,
        )
    unique = result.stats.get("unique keys")
    if unique and unique != "none":
        click.echo(f"Unique keys: {unique}.", err=True)


def _write_model(path: Path, model: FellegiSunterResult) -> None:
    """The model and the waterfalls of the pairs closest to the threshold."""
    document = model.document(_CLOSE_CALLS)
    with private_output(path) as binary:
        binary.write(json.dumps(document, indent=2).encode("utf-8"))


def _write_csv(
    path: Path, rows: MatchRows, columns: Sequence[str] = MATCH_COLUMNS
) -> None:
    with private_output(path) as binary:
        rows.write_csv(binary, columns)


def _summary(
    result: MatchResult, encodings: tuple[Path, ...]
) -> dict[str, str | int | float]:
    summary: dict[str, str | int | float] = {
        "files": ", ".join(str(p) for p in encodings)
    }
    summary.update(result.stats)
    return summary


class _Progress:
    """One progress bar per comparison step, on stderr."""

    def __init__(self) -> None:
        self._label = ""
        self._done = 0

    def __call__(self, label: str, done: int, total: int) -> None:
        # "Step (details)": a new line for a new step, not for new details.
        step = label.split(" (")[0]
        if step != self._label:
            if self._label:
                click.echo("", err=True)
            self._label, self._done = step, 0
        percent = 100 * done // max(total, 1)
        click.echo(f"\r{label}: {percent:3d}% ({done}/{total})", err=True, nl=False)
        if done >= total:
            click.echo("", err=True)
            self._label = ""
