"""Reading agency exports: every value comes back exactly as written."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkage.encoding.records import count_rows, iter_chunks, read_columns
from linkage.errors import InputError

cells = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00\r"
    ),
    max_size=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=30))
def test_values_round_trip_exactly(tmp_path: Path, rows: list[list[str]]) -> None:
    """Quotes, commas, newlines, 'NA' and non-ASCII text are read verbatim."""
    path = tmp_path / "export.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["a", "b", "c"])
        writer.writerows(rows)
    assert read_columns(path) == ["a", "b", "c"]
    read = [
        list(row)
        for chunk in iter_chunks(path)
        for row in zip(*(chunk.column(name).to_pylist() for name in "abc"), strict=True)
    ]
    assert read == rows


def test_na_like_values_stay_text(tmp_path: Path) -> None:
    """'NA', 'null', '007' and empty values are not reinterpreted."""
    path = tmp_path / "export.csv"
    path.write_text("id,name\n007,NA\n008,null\n009,\n", encoding="utf-8")
    (chunk,) = list(iter_chunks(path))
    assert chunk.column("id").to_pylist() == ["007", "008", "009"]
    assert chunk.column("name").to_pylist() == ["NA", "null", ""]
    assert count_rows(path) == 3


def test_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    """A UTF-8 BOM from a spreadsheet does not rename the first column."""
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffid,name\n1,ann\n".encode())
    assert read_columns(path) == ["id", "name"]


def test_header_only_file_has_no_records(tmp_path: Path) -> None:
    """A header with no rows reads as zero records, not an error."""
    path = tmp_path / "export.csv"
    path.write_text("id,name\n", encoding="utf-8")
    assert sum(len(chunk) for chunk in iter_chunks(path)) == 0


def test_unknown_text_encoding_is_named(tmp_path: Path) -> None:
    """An encoding Python does not know is refused with examples."""
    path = tmp_path / "export.csv"
    path.write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a text encoding"):
        list(iter_chunks(path, encoding="klingon-8"))
