"""``linkage mapping``: try an agency's mapping file on its export."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from linkage.cli.options import existing_file

if TYPE_CHECKING:
    from linkage.encoding.preview import FieldPreview, RowPreview

# The library (pandas, the schema) is imported when a command runs, so that
# `linkage --help` does not pay for it.


@click.group()
def mapping() -> None:
    """Work with agency mapping files (docs/mappings.md)."""


@mapping.command()
@click.argument("export", metavar="EXPORT.csv", type=existing_file)
@click.option(
    "--mapping",
    "mapping_path",
    type=existing_file,
    required=True,
    help="The agency mapping (YAML) to try on EXPORT.csv.",
)
@click.option(
    "--rows",
    type=click.IntRange(1, 100_000),
    default=10,
    show_default=True,
    help="How many rows to show, from the first.",
)
@click.option(
    "--schema",
    "schema_path",
    type=existing_file,
    default=None,
    help="Also check each mapped value against this linkage schema's formats, "
    "as `linkage encode` would.",
)
@click.option(
    "--steps",
    "show_steps",
    is_flag=True,
    help="Show each field's value after every step of the mapping.",
)
@click.option(
    "--encoding",
    default=None,
    help="Text encoding of EXPORT.csv (default: the mapping's, else utf-8).",
)
def preview(
    export: Path,
    mapping_path: Path,
    rows: int,
    schema_path: Path | None,
    show_steps: bool,
    encoding: str | None,
) -> None:
    """Show what the mapping makes of the first rows of EXPORT.csv.

    For each row and field: the source column(s) and their values, and the
    value the encoder would receive. Rows that cannot be encoded are marked,
    with the reason. Nothing is encoded or written.
    """
    from linkage.encoding.mapping_file import load_mapping
    from linkage.encoding.preview import preview_mapping
    from linkage.formats.schema import load_schema

    loaded = load_mapping(mapping_path)
    schema = load_schema(schema_path) if schema_path is not None else None
    previews = preview_mapping(
        export, loaded, rows=rows, schema=schema, encoding=encoding
    )
    lines = [f"{export} mapped by {mapping_path}, first {len(previews)} row(s):"]
    id_column = loaded.record_id
    for row in previews:
        lines.append("")
        lines.extend(_row_lines(row, id_column, show_steps))
    lines.append("")
    lines.append(_summary(previews))
    if schema is not None:
        held = set(loaded.field_names)
        absent = [
            f.identifier for f in schema.encoded_features if f.identifier not in held
        ]
        if absent:
            lines.append(
                "Fields of the schema this mapping does not fill (encoded empty): "
                + ", ".join(absent)
                + "."
            )
    click.echo("\n".join(lines))


def _row_lines(row: RowPreview, id_column: str | None, show_steps: bool) -> list[str]:
    heading = f"row {row.row}"
    if id_column is not None:
        heading += f"  ({id_column} {row.record_id!r})"
    if row.fails:
        heading += "  FAILS"
    lines = [heading]
    lines.extend(f"  problem: {message}" for message in row.problems)
    width = max((len(field.name) for field in row.fields), default=0)
    sources = max((len(field.source) for field in row.fields), default=0)
    for field in row.fields:
        lines.append(
            f"  {field.name:<{width}}  {field.source:<{sources}}  ->  {_after(field)}"
        )
        if show_steps:
            label_width = max((len(stage) for stage, _ in field.stages), default=0)
            lines.extend(
                f"  {'':<{width}}    {stage:<{label_width}}  {value!r}"
                for stage, value in field.stages
            )
        lines.extend(
            f"  {'':<{width}}    problem: {message}" for message in field.problems
        )
    return lines


def _after(field: FieldPreview) -> str:
    if field.problems:
        return "cannot be encoded"
    return repr(field.value) if field.value else "(missing)"


def _summary(previews: Sequence[RowPreview]) -> str:
    failing = [row.row for row in previews if row.fails]
    if not previews:
        return "The export has no rows."
    if not failing:
        return f"All {len(previews)} row(s) shown can be encoded."
    rows = ", ".join(str(number) for number in failing)
    which = "row" if len(failing) == 1 else "rows"
    return (
        f"{len(failing)} of the {len(previews)} row(s) shown cannot be encoded "
        f"({which} {rows})."
    )
