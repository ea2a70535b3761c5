"""``linkage evaluate``: match groups against a ground truth, when you have one."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from linkage import evaluation
from linkage.cli.options import existing_file
from linkage.errors import InputError, LinkageError

__all__ = ["evaluate", "read_table"]


@click.command()
@click.option(
    "--matches",
    "matches_path",
    type=existing_file,
    required=True,
    metavar="FILE",
    help="Match groups: CSV with the columns match_id,party,pseudonym (a score "
    "column may follow), one row per record in a group.",
)
@click.option(
    "--truth",
    "truth_path",
    type=existing_file,
    required=True,
    metavar="FILE",
    help="Ground truth: CSV with the columns party,id,entity, one row for every "
    "record of every party; id is the pseudonym used in the matches.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the figures as JSON instead."
)
def evaluate(matches_path: Path, truth_path: Path, as_json: bool) -> None:
    """Compare match groups with the truth: pairwise and cluster precision/recall.

    Pairs of records in the same group are predicted matches; pairs with the
    same true entity are true matches. Figures are given for pairs across
    parties, pairs within one party (duplicates) and all pairs, then for
    whole groups.

    These are the operator's groups. A person an agency recorded more than
    once sent the match keys on one record only; the agency joins the rest
    when it resolves its results (`linkage vault resolve`), which the
    operator's file does not show.
    """
    try:
        matches = read_table(matches_path, evaluation.MATCH_COLUMNS, allow_no_rows=True)
        truth = read_table(truth_path, evaluation.TRUTH_COLUMNS, allow_no_rows=False)
        result = evaluation.evaluate(
            matches,
            truth,
            matches_source=str(matches_path),
            truth_source=str(truth_path),
        )
    except LinkageError as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(result.to_text())


def read_table(
    path: Path, columns: tuple[str, ...], *, allow_no_rows: bool
) -> pd.DataFrame:
    """A CSV file as text cells, with the ``columns`` it must have.

    Raises:
        InputError: the file is empty, not UTF-8, not CSV, lacks a column,
            or (unless ``allow_no_rows``) has a header but no rows.
    """
    expected = ", ".join(columns)
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path} is empty; expected a CSV file with the columns {expected}"
        ) from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8 CSV "
            f"with the columns {expected}"
        ) from None
    except pd.errors.ParserError as error:
        raise InputError(
            f"{path} cannot be read as CSV ({error}); expected the columns {expected}"
        ) from None
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; expected the columns "
            f"{expected} (found: {', '.join(map(str, frame.columns)) or 'none'})",
            hint=f"The first row of {path.name} must name the columns.",
        )
    if frame.empty and not allow_no_rows:
        raise InputError(f"{path} has a header but no rows; expected one per record")
    return frame
