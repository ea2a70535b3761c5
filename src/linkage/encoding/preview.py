"""What a mapping makes of the first rows of an export, before encoding it.

An agency writing a mapping file wants to see, for a few rows, each field's
source value beside the value the encoder would receive, and why a row
fails. :func:`preview_mapping` maps the rows with
:meth:`~linkage.encoding.mapping.AgencyMapping.apply`, exactly as
``linkage encode`` does, and, given the schema, checks each value against the
feature's format as the encoder does; ``linkage mapping preview`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from linkage.encoding.mapping import AgencyMapping, FieldMapping
from linkage.encoding.normalise import is_missing
from linkage.encoding.records import iter_chunks, read_columns
from linkage.encoding.values import InvalidValue, prepare_value
from linkage.formats.schema import Feature, LinkageSchema

__all__ = ["FieldPreview", "RowPreview", "preview_mapping"]


@dataclass(frozen=True)
class FieldPreview:
    """One field of one row: where it came from, what it became, and why not.

    Attributes:
        name: The schema field.
        source: The source as written in the export: ``FULL_NAME 'SMITH, Jo'``,
            ``A 'x' + B 'y'`` or ``constant 'au'``.
        value: The mapped value (``""`` for missing).
        problems: Why the value cannot be encoded (the mapping's, then the
            schema's), empty if it can.
        stages: Each stage of the mapping and its value (see
            :meth:`~linkage.encoding.mapping.FieldMapping.stages`).
    """

    name: str
    source: str
    value: str
    problems: tuple[str, ...]
    stages: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RowPreview:
    """One row of the export, mapped; ``row`` is 1-based, not counting the header."""

    row: int
    record_id: str | None
    fields: tuple[FieldPreview, ...]
    problems: tuple[str, ...]  # Of the row as a whole (an empty record ID).

    @property
    def fails(self) -> bool:
        """Whether the encoder would refuse (or, with --skip-invalid, skip) it."""
        return bool(self.problems) or any(field.problems for field in self.fields)


def preview_mapping(
    records: Path,
    mapping: AgencyMapping,
    *,
    rows: int,
    schema: LinkageSchema | None = None,
    encoding: str | None = None,
) -> list[RowPreview]:
    """Map the first ``rows`` rows of ``records`` and say what each becomes.

    Args:
        records: The agency's CSV export.
        mapping: The mapping to try.
        rows: How many rows, from the first.
        schema: If given, each value is also checked against its feature's
            format, and fields the schema lacks are an error.
        encoding: The export's text encoding (default: the mapping's).

    Raises:
        InputError: The export cannot be read, lacks a column the mapping
            reads, or the mapping fills a field the schema lacks.
    """
    if schema is not None:
        mapping.check_fields(schema.identifiers)
    frame = _first_rows(records, encoding or mapping.encoding, rows)
    mapped = mapping.apply(frame, source=str(records), first_row=1)
    problems: dict[tuple[int, str | None], list[str]] = {}
    for problem in mapped.problems:
        problems.setdefault((problem.row or 0, problem.field), []).append(
            problem.message
        )
    features = {} if schema is None else {f.identifier: f for f in schema.features}
    previews = []
    for position in range(len(frame)):
        row = position + 1
        fields = []
        for spec in mapping.fields:
            value = str(mapped.fields[spec.name].iloc[position])
            found = problems.get((row, spec.name), [])
            feature = features.get(spec.name)
            if feature is not None and not feature.ignored and not found:
                found = _schema_problems(feature, value)
            stages, _ = spec.stages(_raw(spec, frame, position))
            source = _source(spec, frame, position)
            fields.append(
                FieldPreview(spec.name, source, value, tuple(found), tuple(stages))
            )
        record_id = None if mapped.record_ids is None else mapped.record_ids[position]
        whole_row = tuple(problems.get((row, None), []))
        previews.append(RowPreview(row, record_id, tuple(fields), whole_row))
    return previews


def _schema_problems(feature: Feature, value: str) -> list[str]:
    try:
        prepare_value(feature, value)
    except InvalidValue as error:
        return [f"does not fit the schema: {error}"]
    return []


def _first_rows(records: Path, encoding: str, rows: int) -> pd.DataFrame:
    frames = []
    wanted = rows
    for chunk in iter_chunks(records, encoding=encoding):
        frames.append(chunk.frame.iloc[:wanted])
        wanted -= len(frames[-1])
        if wanted <= 0:
            break
    if not frames:
        # A header without rows: an empty frame still has the columns to check.
        return pd.DataFrame(columns=read_columns(records, encoding), dtype=object)
    return pd.concat(frames, ignore_index=True)


def _raw(spec: FieldMapping, frame: pd.DataFrame, position: int) -> str:
    """The value the mapping starts from, as ``apply`` builds it."""
    if spec.constant is not None:
        return spec.constant
    values = [str(frame[column].iloc[position]) for column in spec.columns]
    if len(values) == 1:
        return values[0]
    # Joined columns leave out their missing parts before the join.
    return spec.join.join(
        value for value in values if not is_missing(value, spec.missing)
    )


def _source(spec: FieldMapping, frame: pd.DataFrame, position: int) -> str:
    if spec.constant is not None:
        return f"constant {spec.constant!r}"
    return " + ".join(
        f"{column} {str(frame[column].iloc[position])!r}" for column in spec.columns
    )
