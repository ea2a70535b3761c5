"""The mapping steps that take part of a value: split, extract, replace, words."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import latin_words, messy_strings

from linkage.encoding.mapping import AgencyMapping
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.normalise import first_word
from linkage.encoding.parts import (
    check_replacement,
    drop_first_word,
    drop_last_word,
    extract,
    last_word,
    replace,
    split_part,
)
from linkage.errors import MappingError

ADDRESS_MAPPING = """\
version: 1
fields:
  street:
    column: ADDRESS
    steps: [{split: {on: ",", part: 0}}, lower]
  suburb:
    column: ADDRESS
    steps: [{split: {on: ",", part: -1}}, drop_last_word, lower]
  state:
    column: ADDRESS
    steps: [last_word, {extract: '^([A-Z]{2,3})$'}]
  street_number:
    column: ADDRESS
    steps: [{extract: {pattern: '^(?P<number>\\d+)\\s', group: number}}]
  street_name:
    column: ADDRESS
    steps:
      - {split: {on: ",", part: 0}}
      - {replace: {pattern: '^\\d+\\s+', with: ""}}
      - {replace: {pattern: '\\bSt$', with: Street}}
"""


def _write(folder: Path, text: str) -> Path:
    path = folder / "agency.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _field_mapping(folder: Path, steps: str) -> Path:
    text = f"version: 1\nfields:\n  f:\n    column: A\n    steps: {steps}\n"
    return _write(folder, text)


def test_an_address_column_gives_street_suburb_and_state(tmp_path: Path) -> None:
    """The issue's example: one address column cut into the schema's fields."""
    mapping = load_mapping(_write(tmp_path, ADDRESS_MAPPING))
    frame = pd.DataFrame(
        {"ADDRESS": ["309 Haley Dell, Carlside WA", "12 Main St", "Unit 4, Perth"]},
        dtype=object,
    )
    fields = mapping.apply(frame, source="export.csv", first_row=1).fields
    assert fields.to_dict("list") == {
        "street": ["309 haley dell", "12 main st", "unit 4"],
        "suburb": ["carlside", "12 main", ""],
        "state": ["WA", "", ""],
        "street_number": ["309", "12", ""],
        "street_name": ["Haley Dell", "Main Street", "Unit 4"],
    }


@pytest.mark.parametrize(
    ("steps", "path", "message"),
    [
        ("[{split: {on: ',', part: first}}]", "steps[0].split.part",
         "must be a whole number from -1000 to 1000 (got 'first')"),
        ("[{split: {on: '', part: 0}}]", "steps[0].split.on", "must not be empty"),
        ("[{split: ','}]", "steps[0].split", "must be a mapping"),
        ("[split]", "steps[0].split", "needs `{on: DELIMITER, part: INDEX}`"),
        ("[{extract: '(\\d+'}]", "steps[0].extract.pattern",
         "'(\\d+' is not a valid regular expression: missing ), unterminated "
         "subpattern at position 0"),
        ("[{extract: {pattern: '(\\d+)', group: 2}}]", "steps[0].extract.group",
         "names group 2, but the pattern has groups 0 to 1"),
        ("[{extract: {pattern: '\\d+', group: number}}]", "steps[0].extract.group",
         "the pattern has no groups"),
        ("[{replace: {pattern: '(a)', with: '\\2'}}]", "steps[0].replace.with",
         "'\\2' refers to a group the pattern lacks"),
        ("[{replace: {with: x}}]", "steps[0].replace.pattern", "is missing"),
        ("[{replace: {pattern: a, wiht: x}}]", "steps[0].replace.wiht",
         "did you mean 'with'?"),
        ("[{last_word: 1}]", "steps[0]", "takes no options"),
    ],
)  # fmt: skip
def test_a_bad_step_is_refused_naming_the_file_the_field_and_the_step(
    tmp_path: Path, steps: str, path: str, message: str
) -> None:
    """Patterns, groups and indices are checked when the file is read."""
    mapping_path = _field_mapping(tmp_path, steps)
    with pytest.raises(MappingError) as error:
        load_mapping(mapping_path)
    problems = error.value.problems
    assert [problem.field for problem in problems] == [f"fields.f.{path}"]
    assert problems[0].source == str(mapping_path)
    assert message in problems[0].message
    assert str(mapping_path) in str(error.value)


def test_every_bad_step_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """A split with two bad options and a bad pattern: three problems, one error."""
    steps = "[{split: {on: '', part: x}}, {extract: '['}]"
    with pytest.raises(MappingError) as error:
        load_mapping(_field_mapping(tmp_path, steps))
    assert [problem.field for problem in error.value.problems] == [
        "fields.f.steps[0].split.on",
        "fields.f.steps[0].split.part",
        "fields.f.steps[1].extract.pattern",
    ]


def test_a_missing_part_is_a_missing_value_not_a_problem(tmp_path: Path) -> None:
    """No match, no such part: the field is empty, and the row is still valid."""
    steps = "[{split: {on: ',', part: 1}}, {extract: '(\\d{4})'}]"
    mapping = load_mapping(_field_mapping(tmp_path, steps))
    frame = pd.DataFrame({"A": ["Perth", "Perth, WA 6000", "x, WA"]}, dtype=object)
    mapped = mapping.apply(frame, source="export.csv", first_row=1)
    assert mapped.fields["f"].tolist() == ["", "6000", ""]
    assert not mapped.problems
    assert not mapped.invalid.any()


# The primitives, for any input ------------------------------------------------

_DELIMITERS = st.sampled_from([",", ";", "|", " - ", "/"])


@given(st.lists(latin_words(), min_size=1, max_size=5), _DELIMITERS, st.data())
def test_split_part_takes_back_each_joined_part(
    parts: list[str], delimiter: str, data: st.DataObject
) -> None:
    """Parts joined with a delimiter come back by index, from either end."""
    joined = delimiter.join(parts)
    index = data.draw(st.integers(-len(parts), len(parts) - 1))
    assert split_part(joined, delimiter, index) == parts[index]
    assert split_part(joined, delimiter, len(parts)) == ""
    assert split_part(joined, delimiter, -len(parts) - 1) == ""


@given(messy_strings())
def test_taking_and_dropping_a_word_keep_every_word_once(value: str) -> None:
    """The first (last) word and the rest are together the value's words."""
    words = value.split()
    assert [*first_word(value).split(), *drop_first_word(value).split()] == words
    assert [*drop_last_word(value).split(), *last_word(value).split()] == words
    for part in (drop_first_word(value), drop_last_word(value), last_word(value)):
        assert part == part.strip()


@given(messy_strings(), latin_words(), messy_strings())
def test_extracting_a_literal_finds_it(before: str, word: str, after: str) -> None:
    """An escaped literal is found wherever it is; group 0 is the whole match."""
    assert extract(before + word + after, re.compile(re.escape(word)), 0) == word


@given(messy_strings(), latin_words(), messy_strings(max_size=5))
def test_replacing_a_literal_is_str_replace(
    value: str, target: str, replacement: str
) -> None:
    """With no pattern syntax, replace does what str.replace does."""
    pattern = re.compile(re.escape(target))
    template = replacement.replace("\\", "\\\\")
    assert replace(value, pattern, template) == value.replace(target, replacement)


_PATTERN = re.compile("(a)(?P<name>b)")


_TEMPLATE_PIECES = st.sampled_from(["\\", "1", "3", "g", "<", ">", "name", "x"])


@given(st.lists(_TEMPLATE_PIECES, max_size=8).map("".join))
def test_a_replacement_is_refused_exactly_when_python_would_fail(
    template: str,
) -> None:
    """The check up front agrees with what re.sub does on a matching value."""
    try:
        _PATTERN.sub(template, "ab")
    except (re.error, IndexError):
        fails = True
    else:
        fails = False
    try:
        check_replacement(_PATTERN, template)
    except ValueError:
        refused = True
    else:
        refused = False
    assert refused == fails


def test_the_address_example_in_the_docs_does_what_its_comments_say(
    tmp_path: Path,
) -> None:
    """docs/mappings.md's address fields give the values written beside them."""
    docs = (Path(__file__).parents[2] / "docs" / "mappings.md").read_text("utf-8")
    section = docs.split("### Addresses", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    mapping = load_mapping(_write(tmp_path, f"version: 1\nfields:\n{block}"))
    frame = pd.DataFrame({"ADDRESS": ["309 Haley Dell, Carlside WA"]}, dtype=object)
    fields = mapping.apply(frame, source="export.csv", first_row=1).fields
    promised = dict(re.findall(r"^  (\w+):\n(?:    .*\n)*?.*# (.+)$", block, re.M))
    assert len(promised) == 4
    assert {name: fields[name][0] for name in promised} == promised


_STAGED = """\
version: 1
missing: [NULL]
fields:
  given:
    column: A
    name_part: given
    steps: [nfkc, strip_accents, lower, remove_punctuation, given_name_variants]
  sex:
    column: A
    steps: [last_word, lower, {replace: {pattern: '^(f|m)\\w*', with: '\\1'}}]
    value_map: {f: f, m: m}
    unmapped: problem
  dob:
    column: A
    steps: [{extract: '(\\d+/\\d+/\\d+)'}]
    date_formats: ["%d/%m/%Y"]
    output_format: "%Y-%m-%d"
"""


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> AgencyMapping:
    return load_mapping(_write(tmp_path_factory.mktemp("staged"), _STAGED))


@given(messy_strings())
def test_the_stages_a_preview_shows_end_in_the_mapped_value(
    staged: AgencyMapping, raw: str
) -> None:
    """FieldMapping.stages, which `linkage mapping preview --steps` prints,
    ends where transform does, with the same error."""
    for spec in staged.fields:
        stages, error = spec.stages(raw)
        value, expected_error = spec.transform(raw)
        assert stages, spec.name
        assert (stages[-1][1] if error is None else "") == value
        assert error == expected_error
