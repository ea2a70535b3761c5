"""`linkage mapping preview` on real exports and mapping files."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import click

from linkage.cli import main
from tests.conftest import RunCli

MAPPING = """\
version: 1
record_id: ID
fields:
  given_name:
    column: NAME
    name_part: given
    steps: [nfkc, strip_accents, lower, remove_punctuation, given_name_variants]
  street:
    column: ADDRESS
    steps: [{split: {on: ",", part: 0}}, lower]
  suburb:
    column: ADDRESS
    steps: [{split: {on: ",", part: 1}}, drop_last_word, lower]
  dob:
    column: DOB
    date_formats: ["%d/%m/%Y"]
    output_format: "%Y-%m-%d"
"""

ROWS = [
    ["ID", "NAME", "ADDRESS", "DOB"],
    ["p1", "SMITH, Bill", "309 Haley Dell, Carlside WA", "03/02/1980"],
    ["p2", "Seán O'Brien", "12 Main St, Perth WA", "31/02/1980"],
    ["", "Ann Lee", "", "01/01/1990"],
    ["p4", "Jo Kim", "1 Rue, Ville WA", "02/02/1992"],
]


def _files(folder: Path, mapping: str = MAPPING) -> tuple[Path, Path]:
    export, mapping_path = folder / "export.csv", folder / "agency.yaml"
    with open(export, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(ROWS)
    mapping_path.write_text(mapping, encoding="utf-8")
    return export, mapping_path


def _schema(folder: Path) -> Path:
    """A schema whose street must be at most 10 characters long."""
    hashing = {
        "comparison": {"type": "ngram", "n": 2},
        "strategy": {"bitsPerFeature": 50},
    }
    text = {"type": "string", "encoding": "utf-8"}
    document = {
        "version": 3,
        "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
        "features": [
            {"identifier": "given_name", "format": text, "hashing": hashing},
            {"identifier": "street", "format": {**text, "maxLength": 10},
             "hashing": hashing},
            {"identifier": "suburb", "format": text, "hashing": hashing},
            {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
             "hashing": hashing},
            {"identifier": "phone", "format": text, "hashing": hashing},
        ],
    }  # fmt: skip
    path = folder / "schema.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _row_block(output: str, row: int) -> str:
    """The lines of one row in the preview, from its heading to the next."""
    found = re.search(rf"^row {row}\b.*?(?=^row |\n\n|\Z)", output, re.M | re.S)
    assert found is not None, output
    return found[0]


def test_each_field_is_shown_before_and_after(run_cli: RunCli, tmp_path: Path) -> None:
    """Source column and value on the left, the mapped value on the right."""
    export, mapping = _files(tmp_path)
    result = run_cli("mapping", "preview", export, "--mapping", mapping)
    assert result.exit_code == 0, result.output
    first = _row_block(result.output, 1)
    assert first.startswith("row 1  (ID 'p1')\n")
    assert re.search(r"given_name +NAME 'SMITH, Bill' +->  'william'", first)
    street = r"street +ADDRESS '309 Haley Dell, Carlside WA' +->  '309 haley dell'"
    assert re.search(street, first)
    assert re.search(
        r"suburb +ADDRESS '309 Haley Dell, Carlside WA' +->  'carlside'", first
    )
    assert re.search(r"dob +DOB '03/02/1980' +->  '1980-02-03'", first)
    assert "FAILS" not in first


def test_rows_that_fail_are_marked_with_the_reason(
    run_cli: RunCli, tmp_path: Path
) -> None:
    """A bad date and an empty record ID: the row, the field and why."""
    export, mapping = _files(tmp_path)
    result = run_cli("mapping", "preview", export, "--mapping", mapping)
    second = _row_block(result.output, 2)
    assert second.startswith("row 2  (ID 'p2')  FAILS\n")
    assert re.search(r"dob +DOB '31/02/1980' +->  cannot be encoded", second)
    assert "problem: column 'DOB' value '31/02/1980' is not a date" in second
    third = _row_block(result.output, 3)
    assert "FAILS" in third
    assert "problem: the record ID column 'ID' is empty" in third
    assert re.search(r"street +ADDRESS '' +->  \(missing\)", third)
    assert "2 of the 4 row(s) shown cannot be encoded (rows 2, 3)." in result.output


def test_rows_limits_the_rows_shown(run_cli: RunCli, tmp_path: Path) -> None:
    export, mapping = _files(tmp_path)
    result = run_cli("mapping", "preview", export, "--mapping", mapping, "--rows", "1")
    assert result.exit_code == 0, result.output
    assert "first 1 row(s)" in result.output
    assert "\nrow 2" not in result.output
    assert "All 1 row(s) shown can be encoded." in result.output


def test_steps_shows_the_value_after_each_step(run_cli: RunCli, tmp_path: Path) -> None:
    export, mapping = _files(tmp_path)
    result = run_cli(
        "mapping", "preview", export, "--mapping", mapping, "--rows", "1", "--steps"
    )
    suburb = _row_block(result.output, 1).split("suburb", 1)[1].splitlines()
    assert [line.split()[-1] for line in suburb[1:4]] == [
        "WA'",
        "'Carlside'",
        "'carlside'",
    ]
    assert "split: {on: ',', part: 1}" in suburb[1]
    assert "drop_last_word" in suburb[2]


def test_the_schema_check_fails_the_rows_encode_would_fail(
    run_cli: RunCli, tmp_path: Path, secret_file: Path
) -> None:
    """With --schema, a value the schema refuses fails its row in the preview,
    and `linkage encode` refuses the same rows."""
    export, mapping = _files(tmp_path)
    schema = _schema(tmp_path)
    result = run_cli(
        "mapping", "preview", export, "--mapping", mapping, "--schema", schema
    )
    assert result.exit_code == 0, result.output
    first = _row_block(result.output, 1)
    assert "FAILS" in first
    assert re.search(r"street +ADDRESS .* ->  cannot be encoded", first)
    assert "problem: does not fit the schema:" in first
    assert (
        "Fields of the schema this mapping does not fill (encoded empty): phone."
        in (result.output)
    )
    failing = re.search(r"cannot be encoded \(rows ([\d, ]+)\)", result.output)
    assert failing is not None
    encoded = run_cli(
        "encode", export, "--schema", schema, "--mapping", mapping,
        "--secret-file", secret_file, "--out", tmp_path / "out.lnk",
    )  # fmt: skip
    assert encoded.exit_code == 1
    rows = {int(row) for row in re.findall(r"export\.csv, row (\d+)", encoded.output)}
    assert rows == {int(row) for row in failing[1].split(", ")}


def test_a_bad_mapping_is_refused_naming_the_file_and_the_step(
    run_cli: RunCli, tmp_path: Path
) -> None:
    bad = MAPPING.replace("part: 0}", "part: first}")
    export, mapping = _files(tmp_path, bad)
    result = run_cli("mapping", "preview", export, "--mapping", mapping)
    assert result.exit_code == 1
    assert f"Mapping file {mapping} has 1 problem(s)" in result.output
    assert "field 'fields.street.steps[0].split.part'" in result.output


def test_an_export_without_a_mapped_column_is_refused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    export, mapping = _files(tmp_path, MAPPING.replace("column: DOB", "column: BIRTH"))
    result = run_cli("mapping", "preview", export, "--mapping", mapping)
    assert result.exit_code == 1
    assert "column 'BIRTH' (for fields.dob) is not in the file" in result.output


def test_the_command_is_registered_under_mapping() -> None:
    group = main.get_command(click.Context(main), "mapping")
    assert isinstance(group, click.Group)
    assert "preview" in group.commands
