"""Agency mapping files: one agency's CSV export -> the linkage schema's fields.

Agencies export the same people in different shapes: ``"SMITH, John"`` in one
column or ``first_name`` and ``last_name`` in two, ``03/02/1980`` or
``1980-02-03``, ``F`` or ``female``. A mapping file, written once per agency
and export, turns the export into the fields of the shared linkage schema so
that every agency writes the *identical* string for the same value.

The format (YAML, version 1)::

    version: 1                  # required; this code reads version 1
    description: Police PROMIS nightly export   # optional free text
    encoding: utf-8             # optional; the CSV's text encoding (default utf-8,
                                #   use utf-8-sig for files that start with a BOM)
    record_id: PERSON_REF       # optional; the agency's own record ID column,
                                #   which goes into the vault only, never encoded
    missing: ["", "UNKNOWN", "N/A"]   # optional; tokens meaning "no value", for
                                #   every field (compared ignoring case and spaces)
    fields:                     # required; keyed by schema field, in output order
      surname:
        column: FULL_NAME       # take one CSV column ...
        name_part: surname      # ... and the surname part of the full name in it
        name_order: auto        # optional: auto | given_first | surname_first
        steps: [strip_accents, lower, remove_punctuation]
      given_name:
        column: FULL_NAME
        name_part: given        # given | surname
        middle_names: drop      # optional, for name_part given: drop | keep
        steps: [strip_accents, lower, remove_punctuation]
      street:
        columns: [ADDRESS_1, ADDRESS_2]   # or join several columns ...
        join: " "               # ... with this separator (default one space)
        steps: [lower, collapse_whitespace]
      date_of_birth:
        column: DOB
        missing: ["00/00/0000"]           # optional; extra tokens for this field
        date_formats: ["%d/%m/%Y", "%d/%m/%y"]   # strptime patterns, tried in order
        output_format: "%Y-%m-%d"         # required with date_formats
        pivot_year: 1930        # only with a %y format: "29" -> 2029, "30" -> 1930
      sex:
        column: GENDER
        steps: [lower]
        value_map: {f: f, m: m, female: f, male: m}
        unmapped: problem       # optional: keep (default) | missing | problem
      country:
        constant: au            # or a fixed value for every row
        description: not in the export; all our clients live here  # free text

Each field takes exactly one source: ``column``, ``columns`` or ``constant``.
Its value then goes through, in this order:

1. Missing values: a blank value, or one equal to a token in the global or the
   field's ``missing`` list (ignoring case and surrounding spaces), becomes
   ``""`` and skips the other steps. With ``columns``, each column is checked
   and blank parts are left out of the join.
2. ``name_part``: the full name is split by
   :func:`~linkage.encoding.normalise.split_full_name`.
3. ``steps``, in the order listed. A step is a name or a one-key mapping of a
   name to its options: ``nfkc``, ``strip_accents``, ``lower``, ``upper``,
   ``casefold``, ``collapse_whitespace``, ``remove_whitespace``,
   ``remove_punctuation`` (options ``hyphen`` and ``apostrophe``, each
   ``keep | space | remove``; default ``{hyphen: space, apostrophe: remove}``),
   ``digits_only``, ``first_word``, ``last_word``, ``drop_first_word``,
   ``drop_last_word``, ``zero_pad: WIDTH``, ``given_name_variants``,
   ``street_types``, ``fold_spelling``, ``surname_parts``, and the steps that
   take part of a value
   (:mod:`linkage.encoding.parts`): ``split: {on: ",", part: 0}`` (a
   negative part counts from the end), ``extract: REGEX`` or
   ``extract: {pattern: REGEX, group: N | NAME}`` (default: group 1 if the
   pattern has groups, else the whole match) and
   ``replace: {pattern: REGEX, with: TEXT}`` (every match; ``\\1`` in
   ``with`` is group 1). A part that is not there (no match, too few parts)
   is ``""``; patterns, groups and part numbers are checked with the file.

   ``given_name_variants`` replaces each word that is a known variant of a
   given name with its canonical form ("bill" -> "william"), using the
   built-in table (:mod:`linkage.encoding.name_variants`); its options are
   ``builtin`` (the default, English), ``international`` (English and short
   forms in other languages), or
   ``{table: builtin | international | none, extra: FILE.csv}``
   to add the agency's own tables (``variant,canonical`` rows, read relative
   to the mapping file; a row there replaces the built-in one). Put it after
   ``lower`` and ``remove_punctuation``, and use the same tables at every
   agency. ``street_types`` replaces each word that is a street type with
   its standard abbreviation ("railway place" -> "railway pl", "elm drive"
   -> "elm dr") from the built-in table
   (:mod:`linkage.encoding.street_types`), with the same options as
   ``given_name_variants`` (``table: builtin | none``, ``extra``); put it
   after ``lower`` and ``remove_punctuation``. ``fold_spelling`` writes
   alike the letters spellings and romanisations of a name swap (kh as k, y
   as i, ou as u, a doubled letter once: Khoury and Khouri,
   :func:`~linkage.encoding.normalise.fold_spelling`); for agencies whose
   names come romanised differently, at every agency or none, before
   ``surname_parts``. ``surname_parts`` splits a
   hyphenated or double surname into its parts joined by one space (option
   ``order: sort | keep``, default ``sort``): "Smith-Jones" -> "jones
   smith", so that its bigrams are those of each part and Jones-Smith
   encodes alike
   (:func:`~linkage.encoding.normalise.split_name_parts`).
4. ``value_map``: a value equal to a key (exactly, after the steps) is replaced
   by the key's value; ``""`` means missing. Other values follow ``unmapped``.
5. ``date_formats``: the value is read with the first pattern that fits exactly
   and written with ``output_format``.

All values in the file are read as text, so ``NULL``, ``no``, ``0800`` and
``~`` mean exactly those characters. Unknown keys, duplicate keys and keys that
do not fit together are errors: :func:`load_mapping` checks the whole file
first and raises one :class:`~linkage.errors.MappingError` listing every
problem with its key path (``fields.sex.value_map``). A value that cannot be
mapped (a date in no accepted format) is not an error of the file: it becomes
a :class:`~linkage.errors.Problem` of that row in :class:`MappedRecords`.
``docs/mappings.md`` explains the same format with more examples.

Example:
    >>> import pandas as pd
    >>> mapping = parse_mapping(
    ...     {"version": 1, "fields": {
    ...         "surname": {"column": "NAME", "name_part": "surname",
    ...                     "steps": ["lower"]},
    ...         "date_of_birth": {"column": "DOB", "date_formats": ["%d/%m/%Y"],
    ...                           "output_format": "%Y-%m-%d"}}})
    >>> frame = pd.DataFrame({"NAME": ["SMITH, John"], "DOB": ["3/2/1980"]})
    >>> mapping.apply(frame, source="police.csv", first_row=1).fields.iloc[0].tolist()
    ['smith', '1980-02-03']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import isnan
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import numpy.typing as npt

from linkage.encoding.normalise import (
    NameOrder,
    NameParts,
    fold_case,
    is_missing,
    reformat_date,
    split_full_name,
)
from linkage.errors import InputError, Problem

# pandas takes about 0.3 s to import, and an export encoded without a mapping
# (the identity mapping) never applies one: the functions that apply a mapping
# import it when they run.
if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAPPING_VERSION",
    "AgencyMapping",
    "DateRule",
    "FieldMapping",
    "MappedRecords",
    "Step",
    "identity_mapping",
]

#: The mapping file version this code reads and writes.
MAPPING_VERSION = 1

NamePart = Literal["given", "surname"]
MiddleNames = Literal["drop", "keep"]
Unmapped = Literal["keep", "missing", "problem"]


@dataclass(frozen=True)
class Step:
    """One named normalisation step of a field, such as ``lower``."""

    name: str
    function: Callable[[str], str] = field(repr=False)

    def __call__(self, value: str) -> str:
        """Apply the step to one value."""
        return self.function(value)


@dataclass(frozen=True)
class DateRule:
    """How to read a date field and how to write it for the schema."""

    formats: tuple[str, ...]
    output_format: str
    pivot_year: int | None = None


@dataclass(frozen=True)
class FieldMapping:
    """How one schema field is made from an agency's columns.

    Exactly one of ``columns`` (one column, or several joined with ``join``)
    and ``constant`` is set. ``missing`` holds the field's missing-value tokens
    together with the file's global ones, prepared by
    :func:`~linkage.encoding.normalise.missing_tokens`.
    """

    name: str
    columns: tuple[str, ...] = ()
    join: str = " "
    constant: str | None = None
    name_part: NamePart | None = None
    name_order: NameOrder = "auto"
    middle_names: MiddleNames = "drop"
    steps: tuple[Step, ...] = ()
    value_map: Mapping[str, str] = field(default_factory=dict)
    unmapped: Unmapped = "keep"
    dates: DateRule | None = None
    missing: frozenset[str] = frozenset()

    def transform(self, raw: str) -> tuple[str, str | None]:
        """Map one raw value: returns the field value and an error, if any.

        On an error the value is ``""`` and the error completes a sentence
        about the value ("is not a date in an accepted format ...; correct the
        value or ..."). This is :meth:`prepare` followed by :meth:`finish`.
        """
        return self.finish(self.prepare(raw))

    def prepare(self, raw: str) -> str:
        """Blank out missing values and take the name part, if any."""
        if is_missing(raw, self.missing):
            return ""
        if self.name_part is None:
            return raw
        return self.pick_name_part(split_full_name(raw, order=self.name_order))

    def pick_name_part(self, parts: NameParts) -> str:
        """The part of a split full name that this field takes."""
        if self.name_part == "surname":
            return parts.surname
        return parts.given_names if self.middle_names == "keep" else parts.given

    def finish(self, value: str) -> tuple[str, str | None]:
        """Apply the steps, the value map and the date rule to a prepared value."""
        if not value:
            return "", None
        for step in self.steps:
            value = step.function(value)
        if self.value_map:
            value, error = self._map_value(value)
            if error is not None:
                return "", error
        if value and self.dates is not None:
            return self._reformat_date(value)
        return value, None

    def stages(self, raw: str) -> tuple[list[tuple[str, str]], str | None]:
        """What each stage makes of one raw value, for a person checking the
        mapping: ``(stage, value)`` pairs in order, and the error, if any.

        The last value is what :meth:`transform` returns; a stage that does
        not apply is left out, and a missing value ends the list.
        """
        seen: list[tuple[str, str]] = []
        if is_missing(raw, self.missing):
            return [("missing", "")], None
        value = raw
        if self.name_part is not None:
            value = self.prepare(raw)
            seen.append((f"name_part: {self.name_part}", value))
        if not value:
            return seen, None
        for step in self.steps:
            value = step.function(value)
            seen.append((step.name, value))
        if self.value_map:
            value, error = self._map_value(value)
            seen.append(("value_map", value))
            if error is not None:
                return seen, error
        if value and self.dates is not None:
            value, error = self._reformat_date(value)
            seen.append(("date_formats", value))
            return seen, error
        return seen, None

    def _map_value(self, value: str) -> tuple[str, str | None]:
        mapped = self.value_map.get(value)
        if mapped is not None:
            return mapped, None
        if self.unmapped == "keep":
            return value, None
        if self.unmapped == "missing":
            return "", None
        keys = ", ".join(repr(key) for key in self.value_map)
        return "", (
            f"is not a key of value_map ({keys}) once the steps are applied "
            f"(giving {value!r}); correct the value or add it to value_map"
        )

    def _reformat_date(self, value: str) -> tuple[str, str | None]:
        rule = cast(DateRule, self.dates)
        try:
            formatted = reformat_date(
                value, rule.formats, rule.output_format, pivot_year=rule.pivot_year
            )
        except ValueError:
            formats = ", ".join(repr(date_format) for date_format in rule.formats)
            return "", (
                f"is not a date in an accepted format ({formats}); correct the "
                "value or add its format to date_formats"
            )
        return formatted, None


@dataclass
class MappedRecords:
    """A chunk of an export, mapped onto the schema's fields.

    ``fields`` has one ``str`` column per mapped field, in mapping order, with
    ``""`` for missing values and the input frame's index. ``invalid`` is
    ``True`` for each row that has at least one entry in ``problems``.
    """

    fields: pd.DataFrame
    record_ids: list[str] | None
    problems: list[Problem]
    invalid: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class AgencyMapping:
    """One agency's mapping file, checked and ready to apply to its exports."""

    fields: tuple[FieldMapping, ...]
    record_id: str | None = None
    encoding: str = "utf-8"
    missing: frozenset[str] = frozenset()
    source: str = "<mapping>"
    description: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        """The schema fields this mapping produces, in order."""
        return tuple(spec.name for spec in self.fields)

    @property
    def columns(self) -> tuple[str, ...]:
        """Every CSV column the mapping reads, the record ID column first."""
        wanted = [self.record_id] if self.record_id is not None else []
        wanted.extend(column for spec in self.fields for column in spec.columns)
        return tuple(dict.fromkeys(wanted))

    def check_fields(self, schema_fields: Sequence[str]) -> None:
        """Check that every field this mapping fills is one of the schema's.

        Raises:
            InputError: naming the fields the schema does not have.
        """
        unknown = [name for name in self.field_names if name not in schema_fields]
        if unknown:
            raise InputError(
                f"the mapping {self.source} fills fields the schema does not have: "
                f"{', '.join(unknown)}",
                hint=f"The schema's fields are: {', '.join(schema_fields)}.",
            )

    def check_columns(self, columns: Sequence[str], source: str) -> None:
        """Check that an export has every column this mapping reads.

        Raises:
            InputError: One or more columns are missing; the error names each of
                them, what needs it, a close match if there is one, and lists the
                columns the file does have.
        """
        present = set(columns)
        absent = [column for column in self.columns if column not in present]
        if not absent:
            return
        problems = [
            Problem(self._absent_column_message(column, columns), source=source)
            for column in absent
        ]
        available = ", ".join(repr(column) for column in columns) or "none"
        hint = (
            f"The columns of {source} are: {available}. Correct the column names in "
            f"{self.source} or the header row of {source}."
        )
        if any(column.startswith("\ufeff") for column in columns):
            hint += (
                f" The header starts with a byte-order mark: set `encoding: "
                f"utf-8-sig` in {self.source}."
            )
        raise InputError(
            f"{source} lacks {len(absent)} column(s) that {self.source} reads",
            problems,
            hint=hint,
        )

    def _absent_column_message(self, column: str, columns: Sequence[str]) -> str:
        if column == self.record_id:
            users = ["record_id"]
        else:
            users = [
                f"fields.{spec.name}" for spec in self.fields if column in spec.columns
            ]
        message = f"column {column!r} (for {', '.join(users)}) is not in the file"
        folded = {fold_case(name.strip("\ufeff ")): name for name in columns}
        close = folded.get(fold_case(column)) or next(
            iter(difflib.get_close_matches(column, list(columns), n=1)), None
        )
        return f"{message}; did you mean {close!r}?" if close else message

    def apply(
        self, frame: pd.DataFrame, *, source: str, first_row: int
    ) -> MappedRecords:
        """Map a chunk of an export onto the schema's fields.

        Each transformation runs once per unique value of its column, so a
        column of a million rows with ten thousand distinct values costs ten
        thousand calls.

        Args:
            frame: The raw CSV chunk, every column as ``str`` (read with
                ``dtype=str, keep_default_na=False``).
            source: The name of the export, used in problems.
            first_row: The 1-based data-row number of the frame's first row.

        Raises:
            InputError: The frame lacks a column the mapping reads.
        """
        import pandas as pd

        self.check_columns([str(column) for column in frame.columns], source)
        columns = _ColumnCache(frame)
        invalid = np.zeros(len(frame), dtype=np.bool_)
        problems: list[Problem] = []
        mapped: dict[str, npt.NDArray[np.object_]] = {}
        for spec in self.fields:
            values, errors = _map_field(spec, columns, len(frame))
            mapped[spec.name] = values
            for position, message in errors:
                invalid[position] = True
                row = first_row + position
                problems.append(Problem(message, source, row, spec.name))
        record_ids = None
        if self.record_id is not None:
            record_ids = columns.values(self.record_id).tolist()
            message = (
                f"the record ID column {self.record_id!r} is empty; give every "
                "record its ID so a match can be traced back"
            )
            for index in np.flatnonzero(columns.blank(self.record_id)):
                invalid[index] = True
                problems.append(Problem(message, source, first_row + int(index)))
        problems.sort(key=lambda problem: problem.row or 0)
        fields = pd.DataFrame(mapped, index=frame.index, columns=list(mapped))
        return MappedRecords(fields, record_ids, problems, invalid)


class _ColumnCache:
    """Factorised columns of one frame, so each column is factorised once."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._factorised: dict[str, tuple[npt.NDArray[np.intp], list[str]]] = {}
        self._names: dict[tuple[str, str, frozenset[str]], list[NameParts | None]] = {}

    def factorised(self, column: str) -> tuple[npt.NDArray[np.intp], list[str]]:
        """The codes and the unique values (as text) of ``column``."""
        if column not in self._factorised:
            import pandas as pd

            codes, uniques = pd.factorize(self._frame[column], use_na_sentinel=False)
            self._factorised[column] = (codes, [_text(value) for value in uniques])
        return self._factorised[column]

    def split_names(
        self, column: str, order: NameOrder, missing: frozenset[str]
    ) -> list[NameParts | None]:
        """The unique values of a full-name column, split (``None`` if missing)."""
        key = (column, order, missing)
        if key not in self._names:
            self._names[key] = [
                None
                if is_missing(value, missing)
                else split_full_name(value, order=order)
                for value in self.factorised(column)[1]
            ]
        return self._names[key]

    def values(self, column: str) -> npt.NDArray[np.object_]:
        """The values of ``column`` as an array of text."""
        codes, uniques = self.factorised(column)
        return np.array(uniques, dtype=object)[codes]

    def blank(self, column: str) -> npt.NDArray[np.bool_]:
        """Which rows of ``column`` are blank."""
        codes, uniques = self.factorised(column)
        return np.array([not value.strip() for value in uniques], dtype=bool)[codes]


def _text(value: object) -> str:
    # Frames read with keep_default_na=False hold only text; be forgiving of NaN.
    if isinstance(value, str):
        return value
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and isnan(value)):
        return ""
    return str(value)


def _map_field(
    spec: FieldMapping, columns: _ColumnCache, size: int
) -> tuple[npt.NDArray[np.object_], list[tuple[int, str]]]:
    """Map every row of one field; returns the values and (position, error)s."""
    import pandas as pd

    if spec.constant is not None:
        value, error = spec.transform(spec.constant)
        values = np.full(size, value, dtype=object)
        if error is None:
            return values, []
        message = f"constant {spec.constant!r} {error}"
        return values, [(position, message) for position in range(size)]
    if len(spec.columns) > 1:
        raw_codes, raw_uniques = _factorised_join(spec, columns, size)
        prepared = [spec.prepare(value) for value in raw_uniques]
    else:
        raw_codes, raw_uniques = columns.factorised(spec.columns[0])
        prepared = _prepared(spec, columns, raw_uniques)
    # Many raw values share a prepared value (one surname, many full names), so
    # the costlier steps run once per distinct prepared value.
    stage_codes, stage_uniques = pd.factorize(np.array(prepared, dtype=object))
    codes = stage_codes[raw_codes]
    results = [spec.finish(str(value)) for value in stage_uniques]
    values = np.array([value for value, _ in results], dtype=object)[codes]
    bad = [index for index, (_, error) in enumerate(results) if error is not None]
    if not bad:
        return values, []
    where = " + ".join(repr(column) for column in spec.columns)
    errors = []
    for position in np.flatnonzero(np.isin(codes, bad)):
        raw = raw_uniques[raw_codes[position]]
        message = results[codes[position]][1]
        errors.append((int(position), f"column {where} value {raw!r} {message}"))
    return values, errors


def _prepared(
    spec: FieldMapping, columns: _ColumnCache, uniques: list[str]
) -> list[str]:
    if spec.name_part is None:
        return [spec.prepare(value) for value in uniques]
    # Fields that take parts of the same full-name column share one split.
    names = columns.split_names(spec.columns[0], spec.name_order, spec.missing)
    return ["" if parts is None else spec.pick_name_part(parts) for parts in names]


def _factorised_join(
    spec: FieldMapping, columns: _ColumnCache, size: int
) -> tuple[npt.NDArray[np.intp], list[str]]:
    joined = np.full(size, "", dtype=object)
    for column in spec.columns:
        codes, uniques = columns.factorised(column)
        kept = np.array(
            ["" if is_missing(value, spec.missing) else value for value in uniques],
            dtype=object,
        )[codes]
        both = (joined != "") & (kept != "")
        joined = np.where(both, joined + spec.join + kept, joined + kept)
    import pandas as pd

    joined_codes, joined_uniques = pd.factorize(joined)
    return joined_codes, [str(value) for value in joined_uniques]


def identity_mapping(field_names: Iterable[str]) -> AgencyMapping:
    """A mapping that takes each field from the column of the same name, as is.

    Used when an agency gives no mapping file: its CSV already has the schema's
    columns and values. Only blank values are touched (they become ``""``).
    """
    fields = tuple(FieldMapping(name, columns=(name,)) for name in field_names)
    return AgencyMapping(fields, source="<identity mapping>")
