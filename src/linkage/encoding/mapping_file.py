"""Reading and checking agency mapping files (the format is in `mapping`).

Every problem in a file is collected and reported at once, each with its key
path and the fix; unknown keys are refused, so a typo never silently does
nothing.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast, get_args

from linkage.encoding.mapping import (
    MAPPING_VERSION,
    AgencyMapping,
    DateRule,
    FieldMapping,
    MiddleNames,
    NamePart,
    Step,
    Unmapped,
)
from linkage.encoding.name_variants import VariantTable, load_variant_table
from linkage.encoding.normalise import (
    NameOrder,
    PartOrder,
    PunctuationRule,
    collapse_whitespace,
    digits_only,
    first_word,
    fold_case,
    fold_spelling,
    missing_tokens,
    nfkc,
    remove_punctuation,
    remove_whitespace,
    split_name_parts,
    strip_accents,
    uses_two_digit_year,
    validate_date_format,
    zero_pad,
)
from linkage.encoding.parts import (
    check_group,
    check_replacement,
    compile_pattern,
    drop_first_word,
    drop_last_word,
    extract,
    last_word,
    replace,
    split_part,
)
from linkage.encoding.street_types import load_street_types
from linkage.errors import MappingError, Problem
from linkage.yaml_files import UniqueKeyLoader, load_yaml_file

__all__ = ["load_mapping", "parse_mapping"]


def load_mapping(path: Path) -> AgencyMapping:
    """Read and check an agency mapping file (the format is in the module doc).

    Raises:
        MappingError: The file cannot be read, is not YAML, or breaks any rule;
            every problem is listed, each with its key path and the fix.
    """
    document = load_yaml_file(
        path,
        what="mapping file",
        error=MappingError,
        loader=_TextLoader,
        missing_hint="Check the path given for the mapping file.",
    )
    return parse_mapping(document, source=str(path))


def parse_mapping(document: Any, *, source: str = "<mapping>") -> AgencyMapping:
    """Check a mapping already read from YAML (or built in code).

    Raises:
        MappingError: Every problem of the mapping, each with its key path.
    """
    checker = _Checker(source)
    mapping = _parse_document(document, checker)
    if checker.problems or mapping is None:
        raise MappingError(
            f"Mapping file {source} has {len(checker.problems)} problem(s)",
            checker.problems,
            hint="Correct the keys shown; docs/mappings.md describes the format.",
        )
    return mapping


class _TextLoader(UniqueKeyLoader):
    """A safe YAML loader that reads every scalar as text and refuses duplicates.

    YAML 1.1 would read ``NULL`` as nothing, ``no`` as false and ``0700`` as
    448: all plausible values in an agency export. Here they stay text.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's API


class _Checker:
    """Collects every problem of a mapping, each located by its key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Files the mapping names (variant tables) are read from its folder.
        self.folder = Path(source).parent if not source.startswith("<") else Path()

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(message, source=self.source, field=path))

    def keys(self, value: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        for key in value:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            self.fail(
                _join(path, str(key)),
                f"unknown key {key!r}; {guess}Allowed here: {', '.join(allowed)}. "
                "Remove it or correct its spelling.",
            )

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict) and all(isinstance(key, str) for key in value):
            return value
        self.fail(path, f"must be a mapping of keys to values (got {_kind(value)})")
        return None

    def text(self, value: Any, path: str) -> str | None:
        if isinstance(value, str):
            return value
        self.fail(path, f"must be text (got {_kind(value)})")
        return None

    def texts(self, value: Any, path: str, *, allow_empty: bool) -> tuple[str, ...]:
        if not isinstance(value, list) or not (value or allow_empty):
            need = "a list" if allow_empty else "a non-empty list"
            self.fail(path, f"must be {need} of text, like [a, b] (got {_kind(value)})")
            return ()
        items = [
            self.text(item, f"{path}[{index}]") for index, item in enumerate(value)
        ]
        return tuple(item for item in items if item is not None)

    def integer(self, value: Any, path: str, low: int, high: int) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool):
            number: int | None = value
        elif isinstance(value, str) and value.isascii() and _is_whole(value):
            number = int(value)
        else:
            number = None
        if number is None or not low <= number <= high:
            self.fail(
                path, f"must be a whole number from {low} to {high} (got {value!r})"
            )
            return None
        return number

    def choice(self, value: Any, path: str, options: tuple[str, ...]) -> str | None:
        if value in options:
            return cast(str, value)
        self.fail(path, f"must be one of {', '.join(options)} (got {value!r})")
        return None


def _is_whole(text: str) -> bool:
    return text.removeprefix("-").isdigit()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


_TOP_KEYS = ("version", "description", "encoding", "record_id", "missing", "fields")
_FIELD_KEYS = (
    "column",
    "columns",
    "join",
    "constant",
    "name_part",
    "name_order",
    "middle_names",
    "steps",
    "value_map",
    "unmapped",
    "date_formats",
    "output_format",
    "pivot_year",
    "missing",
    "description",
)
_SOURCES = ("column", "columns", "constant")


def _parse_document(document: Any, checker: _Checker) -> AgencyMapping | None:
    top = checker.mapping(document, "")
    if top is None:
        return None
    checker.keys(top, "", _TOP_KEYS)
    _check_version(top, checker)
    encoding = _parse_encoding(top.get("encoding", "utf-8"), checker)
    description = checker.text(top.get("description", ""), "description") or ""
    record_id = None
    if "record_id" in top:
        record_id = checker.text(top["record_id"], "record_id")
        if record_id == "":
            checker.fail("record_id", "must name a column; remove the key if none")
    tokens = missing_tokens(
        checker.texts(top.get("missing", []), "missing", allow_empty=True)
    )
    fields = _parse_fields(top, tokens, checker)
    return AgencyMapping(
        fields=fields,
        record_id=record_id or None,
        encoding=encoding,
        missing=tokens,
        source=checker.source,
        description=description,
    )


def _check_version(top: Mapping[str, Any], checker: _Checker) -> None:
    if "version" not in top:
        checker.fail(
            "version", f"is missing; add `version: {MAPPING_VERSION}` at the top"
        )
        return
    version = top["version"]
    if str(version) != str(MAPPING_VERSION):
        checker.fail(
            "version",
            f"is {version!r}; this linkage reads version {MAPPING_VERSION} mapping "
            "files, so upgrade linkage or rewrite the file for version "
            f"{MAPPING_VERSION}",
        )


def _parse_encoding(value: Any, checker: _Checker) -> str:
    encoding = checker.text(value, "encoding")
    if encoding is None:
        return "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        checker.fail(
            "encoding",
            f"{encoding!r} is not a known text encoding; use a Python codec name "
            "such as utf-8, utf-8-sig, cp1252 or latin-1",
        )
        return "utf-8"
    return encoding


def _parse_fields(
    top: Mapping[str, Any], tokens: frozenset[str], checker: _Checker
) -> tuple[FieldMapping, ...]:
    if "fields" not in top:
        checker.fail(
            "fields", "is missing; add `fields:` with one entry per schema field"
        )
        return ()
    specs = checker.mapping(top["fields"], "fields")
    if specs is None:
        return ()
    if not specs:
        checker.fail("fields", "is empty; add one entry per schema field")
    parsed = []
    for name, spec in specs.items():
        mapped = _parse_field(name, spec, tokens, checker)
        if mapped is not None:
            parsed.append(mapped)
    return tuple(parsed)


def _parse_field(
    name: str, value: Any, tokens: frozenset[str], checker: _Checker
) -> FieldMapping | None:
    path = f"fields.{name}"
    spec = checker.mapping(value, path)
    if spec is None:
        return None
    before = len(checker.problems)
    checker.keys(spec, path, _FIELD_KEYS)
    columns, constant = _parse_source(spec, path, checker)
    name_part, name_order, middle_names = _parse_name_part(spec, path, checker)
    steps = _parse_steps(spec.get("steps", []), f"{path}.steps", checker)
    value_map, unmapped = _parse_value_map(spec, path, checker)
    dates = _parse_dates(spec, path, checker)
    field_tokens = checker.texts(
        spec.get("missing", []), f"{path}.missing", allow_empty=True
    )
    mapped = FieldMapping(
        name=name,
        columns=columns,
        join=checker.text(spec.get("join", " "), f"{path}.join") or "",
        constant=constant,
        name_part=name_part,
        name_order=name_order,
        middle_names=middle_names,
        steps=steps,
        value_map=value_map,
        unmapped=unmapped,
        dates=dates,
        missing=tokens | missing_tokens(field_tokens),
    )
    if len(checker.problems) > before:
        return None
    if constant is not None:
        _, error = mapped.transform(constant)
        if error is not None:
            checker.fail(f"{path}.constant", f"{constant!r} {error}")
    return mapped


def _parse_source(
    spec: Mapping[str, Any], path: str, checker: _Checker
) -> tuple[tuple[str, ...], str | None]:
    given = [key for key in _SOURCES if key in spec]
    if len(given) != 1:
        found = f" (found {', '.join(given)})" if given else ""
        checker.fail(
            path,
            f"needs exactly one source{found}: `column: NAME`, `columns: [A, B]` "
            "with `join`, or `constant: VALUE`",
        )
        return (), None
    if "join" in spec and "columns" not in spec:
        checker.fail(f"{path}.join", "applies only with `columns: [A, B]`; remove it")
    if "column" in spec:
        column = checker.text(spec["column"], f"{path}.column")
        if column == "":
            checker.fail(f"{path}.column", "must name a CSV column")
        return ((column,) if column else ()), None
    if "columns" in spec:
        return checker.texts(
            spec["columns"], f"{path}.columns", allow_empty=False
        ), None
    return (), checker.text(spec["constant"], f"{path}.constant")


def _parse_name_part(
    spec: Mapping[str, Any], path: str, checker: _Checker
) -> tuple[NamePart | None, NameOrder, MiddleNames]:
    if "name_part" not in spec:
        for key in ("name_order", "middle_names"):
            if key in spec:
                checker.fail(
                    f"{path}.{key}", "applies only with `name_part`; remove it"
                )
        return None, "auto", "drop"
    if "column" not in spec:
        checker.fail(f"{path}.name_part", "needs `column:` naming the full-name column")
    part = checker.choice(spec["name_part"], f"{path}.name_part", get_args(NamePart))
    order = checker.choice(
        spec.get("name_order", "auto"), f"{path}.name_order", get_args(NameOrder)
    )
    middle = checker.choice(
        spec.get("middle_names", "drop"), f"{path}.middle_names", get_args(MiddleNames)
    )
    if "middle_names" in spec and part == "surname":
        checker.fail(f"{path}.middle_names", "applies only to `name_part: given`")
    return (
        cast("NamePart | None", part),
        cast(NameOrder, order or "auto"),
        cast(MiddleNames, middle or "drop"),
    )


_SIMPLE_STEPS: dict[str, Callable[[str], str]] = {
    "nfkc": nfkc,
    "strip_accents": strip_accents,
    "lower": str.lower,
    "upper": str.upper,
    "casefold": fold_case,
    "fold_spelling": fold_spelling,
    "collapse_whitespace": collapse_whitespace,
    "remove_whitespace": remove_whitespace,
    "digits_only": digits_only,
    "first_word": first_word,
    "last_word": last_word,
    "drop_first_word": drop_first_word,
    "drop_last_word": drop_last_word,
}
_STEP_NAMES = (
    *_SIMPLE_STEPS,
    "remove_punctuation",
    "zero_pad",
    "given_name_variants",
    "street_types",
    "surname_parts",
    "split",
    "extract",
    "replace",
)


def _parse_steps(value: Any, path: str, checker: _Checker) -> tuple[Step, ...]:
    if not isinstance(value, list):
        checker.fail(
            path, f"must be a list of steps, like [lower] (got {_kind(value)})"
        )
        return ()
    steps = [
        _parse_step(item, f"{path}[{index}]", checker)
        for index, item in enumerate(value)
    ]
    return tuple(step for step in steps if step is not None)


def _parse_step(item: Any, path: str, checker: _Checker) -> Step | None:
    if isinstance(item, dict) and len(item) == 1:
        name, options = next(iter(item.items()))
    elif isinstance(item, str):
        name, options = item, None
    else:
        checker.fail(path, "must be a step name or `NAME: OPTIONS`, like `zero_pad: 4`")
        return None
    if name not in _STEP_NAMES:
        close = difflib.get_close_matches(str(name), _STEP_NAMES, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        checker.fail(
            path, f"unknown step {name!r}; {guess}Steps: {', '.join(_STEP_NAMES)}"
        )
        return None
    if name in _SIMPLE_STEPS:
        if options is not None:
            checker.fail(path, f"step {name!r} takes no options; write just `{name}`")
            return None
        return Step(name, _SIMPLE_STEPS[name])
    if name in _WORD_TABLE_STEPS:
        return _parse_word_table_step(name, options, path, checker)
    if name == "surname_parts":
        return _parse_surname_parts_step(options, path, checker)
    if name in _PART_STEPS:
        return _PART_STEPS[name](options, f"{path}.{name}", checker)
    if name == "zero_pad":
        if options is None:
            checker.fail(path, "step 'zero_pad' needs a width, like `zero_pad: 4`")
            return None
        width = checker.integer(options, f"{path}.zero_pad", 1, 64)
        return (
            Step(f"zero_pad: {width}", partial(zero_pad, width=width))
            if width
            else None
        )
    return _parse_punctuation_step(options, path, checker)


def _parse_punctuation_step(options: Any, path: str, checker: _Checker) -> Step | None:
    path = f"{path}.remove_punctuation"
    settings = {} if options is None else checker.mapping(options, path)
    if settings is None:
        return None
    checker.keys(settings, path, ("hyphen", "apostrophe"))
    rules = get_args(PunctuationRule)
    hyphen = checker.choice(settings.get("hyphen", "space"), f"{path}.hyphen", rules)
    apostrophe = checker.choice(
        settings.get("apostrophe", "remove"), f"{path}.apostrophe", rules
    )
    if hyphen is None or apostrophe is None:
        return None
    function = partial(
        remove_punctuation,
        hyphen=cast(PunctuationRule, hyphen),
        apostrophe=cast(PunctuationRule, apostrophe),
    )
    label = f"remove_punctuation: {{hyphen: {hyphen}, apostrophe: {apostrophe}}}"
    return Step(label, function)


# Each word-table step: its tables, and how to load them (built-in table by
# name, extra files) into a table of variants and canonical forms.
_WordTables = Callable[[str, list[Path]], VariantTable]
_WORD_TABLE_STEPS: dict[str, tuple[tuple[str, ...], _WordTables]] = {
    "given_name_variants": (
        ("builtin", "international", "none"),
        lambda table, extra: load_variant_table(
            builtin=table != "none",
            international=table == "international",
            extra=extra,
        ),
    ),
    "street_types": (
        ("builtin", "none"),
        lambda table, extra: load_street_types(builtin=table != "none", extra=extra),
    ),
}


def _parse_word_table_step(
    name: str, options: Any, path: str, checker: _Checker
) -> Step | None:
    """``NAME``, ``NAME: TABLE`` or ``NAME: {table: TABLE, extra: FILES}``
    for a step that replaces words by a table (given-name variants, street
    types)."""
    tables, load = _WORD_TABLE_STEPS[name]
    path = f"{path}.{name}"
    settings: dict[str, Any] | None
    if options is None or isinstance(options, str):
        table_path, settings = path, {"table": options or "builtin"}
    else:
        table_path, settings = f"{path}.table", checker.mapping(options, path)
    if settings is None:
        return None
    checker.keys(settings, path, ("table", "extra"))
    table = checker.choice(settings.get("table", "builtin"), table_path, tables)
    extra = _parse_extra_tables(settings.get("extra", []), f"{path}.extra", checker)
    if table is None or extra is None:
        return None
    if table == "none" and not extra:
        checker.fail(
            path,
            "uses no table: add `extra: YOUR_TABLE.csv` or set `table: builtin`",
        )
        return None
    try:
        words = load(table, [checker.folder / file for file in extra])
    except MappingError as error:
        for problem in error.problems or [Problem(error.summary)]:
            checker.fail(f"{path}.extra", f"{problem}")
        return None
    shown = f"{{table: {table}, extra: [{', '.join(extra)}]}}" if extra else table
    return Step(f"{name}: {shown}", words.canonicalise)


def _parse_extra_tables(
    value: Any, path: str, checker: _Checker
) -> tuple[str, ...] | None:
    if isinstance(value, str):
        value = [value]
    before = len(checker.problems)
    names = checker.texts(value, path, allow_empty=True)
    if any(not name for name in names):
        checker.fail(path, "must name CSV files, relative to the mapping file")
    return None if len(checker.problems) > before else names


def _parse_surname_parts_step(
    options: Any, path: str, checker: _Checker
) -> Step | None:
    """``surname_parts`` or ``surname_parts: {order: sort | keep}``."""
    path = f"{path}.surname_parts"
    settings = {} if options is None else checker.mapping(options, path)
    if settings is None:
        return None
    checker.keys(settings, path, ("order",))
    order = checker.choice(
        settings.get("order", "sort"), f"{path}.order", get_args(PartOrder)
    )
    if order is None:
        return None
    function = partial(split_name_parts, order=cast(PartOrder, order))
    return Step(f"surname_parts: {{order: {order}}}", function)


def _parse_split_step(options: Any, path: str, checker: _Checker) -> Step | None:
    """``split: {on: DELIMITER, part: INDEX}``."""
    if options is None:
        checker.fail(path, "step 'split' needs `{on: DELIMITER, part: INDEX}`")
        return None
    settings = checker.mapping(options, path)
    if settings is None:
        return None
    before = len(checker.problems)
    checker.keys(settings, path, ("on", "part"))
    delimiter = _required(settings, "on", path, checker, "the delimiter, like `,`")
    if delimiter is not None:
        delimiter = checker.text(delimiter, f"{path}.on")
        if delimiter == "":
            checker.fail(f"{path}.on", "must not be empty")
    part = _required(settings, "part", path, checker, "0 (the first), -1 (the last)")
    if part is not None:
        part = checker.integer(part, f"{path}.part", -_MAX_PART, _MAX_PART)
    if len(checker.problems) > before:
        return None
    function = partial(split_part, delimiter=delimiter, part=part)
    return Step(f"split: {{on: {_quoted(delimiter)}, part: {part}}}", function)


def _quoted(text: str) -> str:
    # As written in the YAML file: repr() would double every backslash.
    return f"'{text}'"


_MAX_PART = 1000


def _parse_extract_step(options: Any, path: str, checker: _Checker) -> Step | None:
    """``extract: PATTERN`` or ``extract: {pattern: PATTERN, group: N | NAME}``."""
    settings = _pattern_settings(options, path, checker, "extract")
    if settings is None:
        return None
    checker.keys(settings, path, ("pattern", "group"))
    pattern = _parse_pattern(settings, path, checker)
    if pattern is None:
        return None
    group: int | str = 1 if pattern.groups else 0
    if "group" in settings:
        given = checker.text(settings["group"], f"{path}.group")
        if given is None:
            return None
        group = int(given) if given.isascii() and given.isdigit() else given
        try:
            check_group(pattern, group)
        except ValueError as error:
            checker.fail(f"{path}.group", str(error))
            return None
    function = partial(extract, pattern=pattern, group=group)
    label = f"extract: {{pattern: {_quoted(pattern.pattern)}, group: {group}}}"
    return Step(label, function)


def _parse_replace_step(options: Any, path: str, checker: _Checker) -> Step | None:
    """``replace: {pattern: PATTERN, with: TEXT}``."""
    settings = _pattern_settings(options, path, checker, "replace")
    if settings is None:
        return None
    checker.keys(settings, path, ("pattern", "with"))
    pattern = _parse_pattern(settings, path, checker)
    replacement = checker.text(settings.get("with", ""), f"{path}.with")
    if pattern is None or replacement is None:
        return None
    try:
        check_replacement(pattern, replacement)
    except ValueError as error:
        checker.fail(f"{path}.with", f"{_quoted(replacement)} {error}")
        return None
    function = partial(replace, pattern=pattern, replacement=replacement)
    label = (
        f"replace: {{pattern: {_quoted(pattern.pattern)}, "
        f"with: {_quoted(replacement)}}}"
    )
    return Step(label, function)


def _pattern_settings(
    options: Any, path: str, checker: _Checker, name: str
) -> dict[str, Any] | None:
    if options is None:
        checker.fail(path, f"step {name!r} needs `{{pattern: REGEX, ...}}`")
        return None
    if isinstance(options, str) and name == "extract":
        return {"pattern": options}
    return checker.mapping(options, path)


def _parse_pattern(
    settings: Mapping[str, Any], path: str, checker: _Checker
) -> re.Pattern[str] | None:
    given = _required(settings, "pattern", path, checker, "a regular expression")
    text = None if given is None else checker.text(given, f"{path}.pattern")
    if text is None:
        return None
    if text == "":
        checker.fail(f"{path}.pattern", "must not be empty")
        return None
    try:
        return compile_pattern(text)
    except ValueError as error:
        checker.fail(f"{path}.pattern", f"{_quoted(text)} {error}")
        return None


def _required(
    settings: Mapping[str, Any], key: str, path: str, checker: _Checker, what: str
) -> Any:
    if key not in settings:
        checker.fail(f"{path}.{key}", f"is missing; add `{key}:` with {what}")
        return None
    return settings[key]


_PART_STEPS: dict[str, Callable[[Any, str, _Checker], Step | None]] = {
    "split": _parse_split_step,
    "extract": _parse_extract_step,
    "replace": _parse_replace_step,
}


def _parse_value_map(
    spec: Mapping[str, Any], path: str, checker: _Checker
) -> tuple[dict[str, str], Unmapped]:
    if "value_map" not in spec:
        if "unmapped" in spec:
            checker.fail(f"{path}.unmapped", "applies only with `value_map`; remove it")
        return {}, "keep"
    table = checker.mapping(spec["value_map"], f"{path}.value_map")
    if table is None:
        return {}, "keep"
    if not table:
        checker.fail(f"{path}.value_map", "is empty; add `FROM: TO` pairs or remove it")
    for key, value in table.items():
        checker.text(value, f"{path}.value_map.{key}")
    unmapped = checker.choice(
        spec.get("unmapped", "keep"), f"{path}.unmapped", get_args(Unmapped)
    )
    return dict(table), cast(Unmapped, unmapped or "keep")


def _parse_dates(
    spec: Mapping[str, Any], path: str, checker: _Checker
) -> DateRule | None:
    if "date_formats" not in spec:
        for key in ("output_format", "pivot_year"):
            if key in spec:
                checker.fail(
                    f"{path}.{key}", "applies only with `date_formats`; remove it"
                )
        return None
    formats = checker.texts(
        spec["date_formats"], f"{path}.date_formats", allow_empty=False
    )
    for index, date_format in enumerate(formats):
        _check_date_format(date_format, f"{path}.date_formats[{index}]", checker)
    output = _parse_output_format(spec, path, checker)
    pivot = None
    two_digit = any(uses_two_digit_year(date_format) for date_format in formats)
    if "pivot_year" in spec:
        pivot = checker.integer(spec["pivot_year"], f"{path}.pivot_year", 1000, 9899)
        if not two_digit:
            checker.fail(
                f"{path}.pivot_year", "has no effect without a %y format; remove it"
            )
    elif two_digit:
        checker.fail(
            f"{path}.date_formats",
            "has a two-digit year (%y), which is ambiguous; add `pivot_year: YYYY` "
            "(two-digit years then fall in YYYY to YYYY+99) or use %Y",
        )
    return DateRule(formats, output or "%Y-%m-%d", pivot)


def _parse_output_format(
    spec: Mapping[str, Any], path: str, checker: _Checker
) -> str | None:
    if "output_format" not in spec:
        checker.fail(
            f"{path}.output_format",
            "is missing; add the schema's date format, like "
            '`output_format: "%Y-%m-%d"`',
        )
        return None
    output = checker.text(spec["output_format"], f"{path}.output_format")
    if output is None:
        return None
    if uses_two_digit_year(output):
        checker.fail(
            f"{path}.output_format", "must write a four-digit year (%Y), not %y"
        )
    _check_date_format(output, f"{path}.output_format", checker)
    return output


def _check_date_format(date_format: str, path: str, checker: _Checker) -> None:
    try:
        validate_date_format(date_format)
    except ValueError as error:
        checker.fail(path, f"{date_format!r} {error}")
