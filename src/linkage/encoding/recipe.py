"""The recipe a data officer runs: an export in, encodings and a vault out.

:func:`encode_csv` reads the agency's CSV in chunks, maps it onto the schema's
fields, encodes each record into a CLK under a fresh random pseudonym, and
writes the encodings file and the vault. Every problem in the file is reported
together at the end; unless ``skip_invalid`` is set, nothing is written when
there is one. Outputs appear only when complete (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import csv
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkage.atomic import private_text_output
from linkage.encoding.columns import ColumnValues
from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.keys import key_check_value
from linkage.encoding.mapping import AgencyMapping, identity_mapping
from linkage.encoding.match_keys import (
    first_rows,
    hide_repeated_keys,
    person_digests,
    settle_unique_keys,
)
from linkage.encoding.overlap import WriteBehind
from linkage.encoding.records import RecordChunk, RecordsReading, read_columns
from linkage.encoding.stand_in import SentViews, sent_views
from linkage.encoding.values import InvalidValue, prepare_value
from linkage.encoding.vault import VaultWriter
from linkage.errors import InputError, Problem
from linkage.formats.clkfile import (
    FORMAT_VERSION,
    MATCH_KEYS_VERSION,
    PSEUDONYM_BYTES,
    BaseEncodingWriter,
    EncodingHeader,
    format_pseudonyms,
    match_key_columns,
    open_writer,
    segment_list,
    view_list,
)
from linkage.formats.schema import LinkageSchema

if TYPE_CHECKING:
    from linkage.encoding.local_dedup import LocalDuplicates

OutputFormat = Literal["linkage", "clkhash-json"]
T = TypeVar("T")
_MAX_PROBLEMS_KEPT = 1000


@dataclass(frozen=True)
class VaultTarget:
    """Where the vault goes and the key that seals it."""

    path: Path
    key: bytes


@dataclass
class EncodeSummary:
    """What an encoding run did."""

    records: int = 0
    encoded: int = 0
    skipped: int = 0
    fields_absent: list[str] = field(default_factory=list)
    #: What the agency sends of the views, given the fields it lacks.
    views: SentViews = field(default_factory=SentViews)
    #: Mapped fields no record holds, where leaving them out of the mapping
    #: would change what is sent of the views (see ``views_if_left_out``).
    fields_empty: list[str] = field(default_factory=list)
    #: What would be sent of the views with ``fields_empty`` left out too.
    views_if_left_out: SentViews = field(default_factory=SentViews)
    problems: list[Problem] = field(default_factory=list)
    #: Every row that cannot be encoded and every problem found, counted
    #: although only the first problems are kept in ``problems``.
    invalid_rows: int = 0
    problems_found: int = 0
    #: Records of a person recorded more than once that send no match key
    #: (the vault files them under the person's first record).
    repeats: int = 0
    #: Records local deduplication alone filed under another record of
    #: the same person (:mod:`linkage.encoding.local_dedup`).
    local_duplicates: int = 0
    #: Why local deduplication kept no groups, if it ran and kept none.
    local_doubt: str = ""


def new_pseudonyms(count: int) -> npt.NDArray[np.uint8]:
    """``count`` fresh random 128-bit pseudonyms from the OS's CSPRNG."""
    raw = secrets.token_bytes(PSEUDONYM_BYTES * count)
    return np.frombuffer(raw, dtype=np.uint8).reshape(count, PSEUDONYM_BYTES)


def encode_csv(
    records: Path,
    schema: LinkageSchema,
    secret: bytes,
    out: Path,
    *,
    fmt: OutputFormat = "linkage",
    mapping: AgencyMapping | None = None,
    vault: VaultTarget | None = None,
    id_column: str | None = None,
    skip_invalid: bool = False,
    report: Path | None = None,
    encoding: str | None = None,
    party: str | None = None,
    progress: Callable[[int], None] | None = None,
    reading: RecordsReading | None = None,
    local_dedup: bool = True,
) -> EncodeSummary:
    """Encode an agency's records file.

    Args:
        records: the agency's CSV export (header row, one record per row).
        schema: the linkage schema the agencies agreed.
        secret: the linkage secret shared among the agencies.
        out: the encodings file to write.
        fmt: ``linkage`` (pseudonyms + CLKs + header) or ``clkhash-json``.
        mapping: how the export's columns become the schema's fields; without
            one, the columns must be named like the schema's features.
        vault: where to write the pseudonym vault, and its key.
        id_column: the agency's own record ID column (vault only); overrides
            the mapping's ``record_id``. Default: the row number.
        skip_invalid: leave invalid rows out instead of failing.
        report: with ``skip_invalid``, a CSV of the rows left out and why.
        encoding: the export's text encoding (default: the mapping's, or UTF-8).
        party: the agency's name as the operator will show it (header only).
        progress: called with the number of rows done after each chunk.
        reading: ``records``, already being read in ``encoding`` (it is
            closed here); by default reading starts here.
        local_dedup: with a ``vault`` (and the ``linkage`` format), also
            find the file's duplicates on its own records and file each
            person's records together in the vault
            (:mod:`linkage.encoding.local_dedup`); nothing sent changes.

    Raises:
        ValueError: ``reading`` reads another file or encoding.
        InputError: the file or its values do not fit the mapping or schema;
            the error lists every problem found (up to a thousand).
    """
    # Without a mapping, values are encoded exactly as written, as clkhash does.
    passthrough = mapping is None
    mapping = mapping or identity_mapping(
        [f.identifier for f in schema.encoded_features]
    )
    text_encoding = encoding or mapping.encoding
    source = str(records)
    reading = reading or RecordsReading(records, text_encoding)
    with contextlib.ExitStack() as outputs:
        chunks = outputs.enter_context(reading).chunks
        if (reading.path, reading.encoding) != (records, text_encoding):
            raise ValueError(
                f"'reading' reads {reading.path} as {reading.encoding}, not "
                f"{records} as {text_encoding}"
            )
        columns = read_columns(records, text_encoding)
        plan = _plan(schema, mapping, columns, source, id_column, passthrough)
        encoder = ClkEncoder(schema, secret)
        summary = EncodeSummary(fields_absent=plan.absent, views=plan.views)
        header = _encodings_header(schema, secret, party, plan)
        writer = outputs.enter_context(open_writer(out, fmt, header))
        vault_writer = None
        if vault is not None:
            vault_writer = outputs.enter_context(
                VaultWriter(vault.path, vault.key, mapping.field_names)
            )
        log_skipped = outputs.enter_context(
            problem_report(report if skip_invalid else None)
        )
        # Entered last, so every write is done before the files are closed.
        behind = outputs.enter_context(WriteBehind())
        # The mapped fields no chunk has held a value of yet; only views make
        # an empty field matter (see _note_unfilled).
        unfilled = [
            f.identifier
            for f in schema.encoded_features
            if schema.extension.views and f.identifier not in plan.absent
        ]
        local = None
        if local_dedup and vault_writer is not None and fmt == "linkage":
            # Imported here: it needs the matcher (numba, SciPy), which
            # encoding without a vault does not load.
            from linkage.encoding.local_dedup import LocalDuplicates

            local = LocalDuplicates(schema, plan.absent)
        settler = _KeySettler(schema, vault_writer, local)
        for chunk in chunks:
            batch = _encode_chunk(chunk, plan, encoder, source)
            unfilled = [name for name in unfilled if not _filled(batch.columns[name])]
            summary.records += len(chunk)
            summary.invalid_rows += int(batch.invalid.sum())
            _note_problems(summary, batch.problems)
            log_skipped(batch.problems)
            # After the first problem, without skip_invalid, only look for more.
            if skip_invalid or not summary.problems:
                behind.submit(
                    _write_batch, batch, plan, fmt, writer, vault_writer, summary,
                    settler,
                )  # fmt: skip
            if progress is not None:
                progress(summary.records)
        behind.finish()
        if summary.problems and not skip_invalid:
            raise _invalid_input(source, summary, passthrough=plan.passthrough)
        summary.repeats = settler.settle(writer)
        summary.local_duplicates = settler.local_records
        summary.local_doubt = settler.local_doubt
    if summary.records:
        _note_unfilled(summary, schema, plan, unfilled)
    return summary


def _filled(values: ColumnValues) -> bool:
    """Whether any record of the chunk holds a value of this field."""
    if isinstance(values, pa.Array):
        return bool(pc.any(pc.not_equal(values, "")).as_py())
    return any(values)


def _note_unfilled(
    summary: EncodeSummary, schema: LinkageSchema, plan: _Plan, unfilled: list[str]
) -> None:
    """Note mapped fields no record holds, if leaving them out of the
    mapping would send the views differently: an agency that lacks a field
    sends the views it holds in place of a CLK of too few fields, but only
    when it says it lacks it."""
    if not unfilled:
        return
    views = sent_views(schema, [*plan.absent, *unfilled])
    if views != plan.views:
        summary.fields_empty = unfilled
        summary.views_if_left_out = views


@dataclass(frozen=True)
class _Plan:
    mapping: AgencyMapping
    schema: LinkageSchema
    id_column: str | None
    absent: list[str]
    passthrough: bool
    # What this agency sends of the views: a stand-in for its CLK of every
    # field, views left empty.
    views: SentViews = field(default_factory=SentViews)


def _plan(
    schema: LinkageSchema,
    mapping: AgencyMapping,
    columns: list[str],
    source: str,
    id_column: str | None,
    passthrough: bool,
) -> _Plan:
    """Check up front that the export can be encoded at all."""
    mapping.check_columns(columns, source)
    if id_column is not None and id_column not in columns:
        raise InputError(
            f"{source} has no record ID column {id_column!r}",
            hint=f"Its columns are: {', '.join(columns)}.",
        )
    mapped = set(mapping.field_names)
    mapping.check_fields(schema.identifiers)
    absent = [
        f.identifier for f in schema.encoded_features if f.identifier not in mapped
    ]
    _check_absent_allowed(schema, absent, source)
    views = sent_views(schema, absent) if schema.extension.views else SentViews()
    return _Plan(mapping, schema, id_column, absent, passthrough, views)


def _check_absent_allowed(
    schema: LinkageSchema, absent: list[str], source: str
) -> None:
    """A field the agency does not hold is encoded as empty; it must allow that."""
    problems = []
    for feature in schema.encoded_features:
        if feature.identifier not in absent:
            continue
        try:
            prepare_value(feature, "")
        except InvalidValue as error:
            problems.append(
                Problem(
                    f"an empty value {error}", source=source, field=feature.identifier
                )
            )
    if problems:
        raise InputError(
            f"{source} does not hold every field the schema encodes",
            problems,
            hint=(
                'Map the field, or let the schema accept it empty with "missingValue": '
                '{"sentinel": ""} in its hashing section.'
            ),
        )


class _KeySettler:
    """The keys of the records written so far, in writing order, settled
    once the whole file is written (:mod:`~linkage.encoding.match_keys`):
    whether a value is unique, or a person's first record, shows only then.

    Only when a ``vault`` is written are a person's records filed together
    in it, to be joined to one group (:mod:`linkage.encoding.repeats`): the
    rows sharing every match key, whose later rows then send no match key,
    and the groups ``local`` deduplication finds.
    """

    def __init__(
        self,
        schema: LinkageSchema,
        vault: VaultWriter | None,
        local: LocalDuplicates | None = None,
    ) -> None:
        self.ordinary = len(schema.extension.match_keys)
        self.unique = len(schema.extension.unique_keys)
        self._vault = vault
        self._local = local  # Given only with a vault.
        # Later rows' match keys are hidden only where the vault joins them.
        self._hides = vault is not None and self.ordinary > 0
        self._keys: list[npt.NDArray[np.uint8]] = []
        self._persons: list[npt.NDArray[np.uint8]] = []
        self._pseudonyms: list[npt.NDArray[np.uint8]] = []
        #: Records filed under another of the same person by local
        #: deduplication alone, and why it kept none if so.
        self.local_records = 0
        self.local_doubt = ""

    def add(
        self,
        clks: npt.NDArray[np.uint8],
        keys: npt.NDArray[np.uint8] | None,
        pseudonyms: npt.NDArray[np.uint8],
        batch: _Batch,
    ) -> None:
        """Keep the keys of records just written under ``pseudonyms`` (the
        rows of ``batch`` it does not mark invalid), and whom each row is
        taken for (:func:`~linkage.encoding.match_keys.person_digests`)."""
        if self._vault is not None:
            self._pseudonyms.append(pseudonyms)
            if self._local is not None:
                self._local.add(batch.columns, ~batch.invalid)
        if keys is None or not (self.unique or self._hides):
            return  # Files without match keys keep none.
        self._keys.append(keys.copy())
        if self.unique:
            self._persons.append(person_digests(clks, keys, self.ordinary))

    def settle(self, writer: BaseEncodingWriter) -> int:
        """Give the written records' shared or missing unique keys, and the
        match keys of a person's later records, their random stand-ins in
        the file; file each person's records in the vault. Returns how many
        later records send no match key."""
        later: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        first = None
        if self._keys:
            keys = np.concatenate(self._keys)
            changed: list[tuple[int, npt.NDArray[np.intp]]] = []
            if self.unique:
                persons = np.concatenate(self._persons)
                unique = settle_unique_keys(keys, self.unique, persons)
                changed += [(self.ordinary + n, rows) for n, rows in enumerate(unique)]
            if self._hides:
                first = first_rows(keys, self.ordinary)
                later = hide_repeated_keys(keys, self.ordinary, first)
                changed += [(n, later) for n in range(self.ordinary)]
            columns = match_key_columns(keys)
            for column, rows in changed:
                writer.overwrite_keys(column, rows, columns[column][rows])
        if self._vault is not None and self._pseudonyms:
            self._file_people(np.concatenate(self._pseudonyms), first)
        return len(later)

    def _file_people(
        self, pseudonyms: npt.NDArray[np.uint8], first: npt.NDArray[np.intp] | None
    ) -> None:
        """File every record of a person recorded more than once under the
        person's first record: rows sharing every match key (``first``), and
        the groups local deduplication finds."""
        assert self._vault is not None
        rows = np.arange(len(pseudonyms), dtype=np.intp)
        person = rows if first is None else first
        if self._local is not None:
            from linkage.encoding.local_dedup import people

            found = self._local.groups()
            self.local_doubt = found.doubt
            joined = people(person, found.group_of)
            self.local_records = int((joined != person).sum())
            person = joined
        filed = np.flatnonzero(person != rows)
        self._vault.add_repeats(
            format_pseudonyms(pseudonyms[filed]),
            format_pseudonyms(pseudonyms[person[filed]]),
        )


@dataclass
class _Batch:
    """A chunk mapped onto the schema's fields and encoded."""

    chunk: RecordChunk
    columns: dict[str, ColumnValues]
    clks: npt.NDArray[np.uint8]
    invalid: npt.NDArray[np.bool_]
    problems: list[Problem]
    mapped_ids: list[str] | None
    match_keys: npt.NDArray[np.uint8] | None = None

    def record_ids(self, plan: _Plan) -> list[str]:
        """The agency's own ID of each record (for the vault only)."""
        if plan.id_column is not None:
            return [str(v) for v in self.chunk.column(plan.id_column).to_pylist()]
        if self.mapped_ids is not None:
            return self.mapped_ids
        return [str(self.chunk.first_row + i) for i in range(len(self.chunk))]

    def identities(self, names: tuple[str, ...]) -> list[list[str]]:
        """Each record's mapped field values, in ``names`` order."""
        columns = [_texts(self.columns[name]) for name in names]
        return [list(row) for row in zip(*columns, strict=True)]


def _texts(values: ColumnValues) -> list[str]:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return [str(value) for value in values.to_pylist()]
    return [str(value) for value in values]


def _encodings_header(
    schema: LinkageSchema, secret: bytes, party: str | None, plan: _Plan
) -> EncodingHeader:
    return EncodingHeader(
        schema_fingerprint=schema.fingerprint,
        bit_length=schema.clk_length,
        key_check=key_check_value(secret, schema),
        extensions=_header_extensions(schema, party, plan),
        format_version=MATCH_KEYS_VERSION
        if schema.extension.all_keys
        else FORMAT_VERSION,
    )


def _header_extensions(
    schema: LinkageSchema, party: str | None, plan: _Plan
) -> dict[str, Any]:
    absent = plan.absent
    extensions: dict[str, Any] = {"party": party} if party else {}
    if schema.extension.segments is not None:
        # The matcher needs the layout to compare records field by field.
        extensions["segments"] = segment_list(schema.segments)
    if schema.extension.views:
        # The matcher compares two agencies on the view of the fields both hold.
        extensions["views"] = view_list(schema.segments)
    if absent:
        # So the operator can see which agencies' records rest on fewer
        # fields; the schema is public, so this tells nothing about a record.
        extensions["absent_fields"] = list(absent)
    if plan.views.stand_in is not None:
        extensions["clk_same_as"] = plan.views.stand_in
    if plan.views.left_empty:
        extensions["views_left_empty"] = list(plan.views.left_empty)
    if schema.extension.all_keys:
        extensions["match_keys"] = [list(key) for key in schema.extension.all_keys]
    if schema.extension.unique_keys:
        extensions["unique_keys"] = len(schema.extension.unique_keys)
    return extensions


def _encode_chunk(
    chunk: RecordChunk, plan: _Plan, encoder: ClkEncoder, source: str
) -> _Batch:
    columns: dict[str, ColumnValues]
    if plan.passthrough:
        columns = {name: chunk.column(name) for name in plan.mapping.field_names}
        invalid = np.zeros(len(chunk), dtype=np.bool_)
        problems: list[Problem] = []
        mapped_ids = None
    else:
        mapped = plan.mapping.apply(
            chunk.frame, source=source, first_row=chunk.first_row
        )
        columns = {
            name: mapped.fields[name].to_numpy(dtype=object)
            for name in plan.mapping.field_names
        }
        invalid, problems, mapped_ids = (
            mapped.invalid,
            mapped.problems,
            mapped.record_ids,
        )
    for name in plan.absent:
        columns[name] = np.full(len(chunk), "", dtype=object)
    encoded = encoder.encode(
        columns, source=source, first_row=chunk.first_row, whole_file=False
    )
    plan.views.apply(encoded.clks, plan.schema.segments)
    return _Batch(
        chunk=chunk,
        columns=columns,
        clks=encoded.clks,
        invalid=invalid | encoded.invalid,
        problems=sorted(problems + encoded.problems, key=lambda p: p.row or 0),
        mapped_ids=mapped_ids,
        match_keys=encoded.match_keys,
    )


def _vault_keys(
    fmt: OutputFormat, pseudonyms: npt.NDArray[np.uint8], offset: int
) -> list[str]:
    """What the vault files each record under: what the matcher will report.

    clkhash JSON carries no pseudonyms; matchers report its row index instead.
    """
    if fmt == "clkhash-json":
        return [str(offset + i) for i in range(len(pseudonyms))]
    return format_pseudonyms(pseudonyms)


def _rows_kept(
    rows: npt.NDArray[np.uint8], keep: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint8]:
    # Boolean indexing copies the whole batch even when it keeps every row.
    return rows if keep.all() else rows[keep]


def _kept(values: Sequence[T], keep: npt.NDArray[np.bool_]) -> list[T]:
    return [value for value, wanted in zip(values, keep, strict=True) if wanted]


def _note_problems(summary: EncodeSummary, problems: list[Problem]) -> None:
    summary.problems_found += len(problems)
    room = _MAX_PROBLEMS_KEPT - len(summary.problems)
    summary.problems.extend(problems[: max(room, 0)])


def _write_batch(
    batch: _Batch,
    plan: _Plan,
    fmt: OutputFormat,
    writer: BaseEncodingWriter,
    vault_writer: VaultWriter | None,
    summary: EncodeSummary,
    settler: _KeySettler,
) -> None:
    """Write a batch's valid records under fresh pseudonyms, and file them."""
    keep = ~batch.invalid
    pseudonyms = new_pseudonyms(int(keep.sum()))
    keys = None if batch.match_keys is None else _rows_kept(batch.match_keys, keep)
    clks = _rows_kept(batch.clks, keep)
    writer.write(pseudonyms, clks, keys)
    settler.add(clks, keys, pseudonyms, batch)
    if vault_writer is not None:
        vault_writer.add(
            _vault_keys(fmt, pseudonyms, summary.encoded),
            _kept(batch.record_ids(plan), keep),
            _kept(batch.identities(plan.mapping.field_names), keep),
        )
    summary.encoded += len(pseudonyms)
    summary.skipped += int((~keep).sum())


def _invalid_input(
    source: str, summary: EncodeSummary, *, passthrough: bool
) -> InputError:
    rows, found = summary.invalid_rows, summary.problems_found
    every = rows == summary.records > 1
    counted = (
        f"none of the {rows:,} rows can be encoded"
        if every
        else f"{rows:,} row(s) cannot be encoded"
    )
    if found != rows:
        counted += f" ({found:,} problems)"
    hint = (
        "Correct the rows (or the mapping), or pass --skip-invalid to leave "
        "them out with --report FILE listing them."
    )
    if every and passthrough:
        hint = (
            "Without a mapping, values are encoded exactly as written and must "
            "fit the schema's formats: write one (docs/mappings.md) and see what "
            "the first rows become with `linkage mapping preview RECORDS.csv "
            "--mapping MAPPING.yaml --schema SCHEMA.json`. " + hint
        )
    elif every:
        # A mapping or schema that does not fit the export fails every row.
        hint = (
            "When every row fails, the mapping (or the schema) probably does not "
            "fit the export: see what the first rows become with `linkage mapping "
            "preview RECORDS.csv --mapping MAPPING.yaml --schema SCHEMA.json`. " + hint
        )
    return InputError(
        f"{source}: {counted}; nothing was written",
        summary.problems,
        hint=hint,
        total=found,
    )


@contextlib.contextmanager
def problem_report(path: Path | None) -> Iterator[Callable[[list[Problem]], None]]:
    """A CSV of skipped rows (row, field, problem), written whole or not at all."""
    if path is None:
        yield lambda problems: None
        return
    with private_text_output(path) as text:
        writer = csv.writer(text)
        writer.writerow(["row", "field", "problem"])
        yield lambda problems: writer.writerows(
            [p.row or "", p.field or "", p.message] for p in problems
        )
