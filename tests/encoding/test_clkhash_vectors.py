"""Byte-for-byte compatibility with clkhash 0.18.3, from committed vector files.

The vectors were written by ``tests/vectors/generate_vectors.py`` running real
clkhash 0.18.3 in a throwaway environment; clkhash is not needed here.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from linkage.encoding.encoder import ClkEncoder
from linkage.errors import SchemaError
from linkage.formats.schema import schema_from_dict

VECTORS = sorted((Path(__file__).parents[1] / "vectors").glob("*.json"))
CAMEL_CASE_FOLDS = "xorfolds_camelcase_ignored.json"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def encode_cases(document: dict[str, Any], schema_document: dict[str, Any]) -> Any:
    schema = schema_from_dict(schema_document)
    encoder = ClkEncoder(schema, document["secret"].encode("utf-8"))
    columns = {
        name: [case["row"][i] for case in document["cases"]]
        for i, name in enumerate(document["columns"])
        if not schema.features[i].ignored
    }
    return encoder.encode(columns)


def test_vector_files_are_present_and_large_enough() -> None:
    """At least 1,000 valid rows over all vector files."""
    valid = sum(1 for path in VECTORS for case in load(path)["cases"] if "clk" in case)
    assert len(VECTORS) >= 10
    assert valid >= 1000


@pytest.mark.parametrize("path", VECTORS, ids=lambda path: path.stem)
def test_clks_match_clkhash(path: Path) -> None:
    """Every valid row encodes to clkhash's CLK; every invalid row is refused."""
    document = load(path)
    schema_document = copy.deepcopy(document["schema"])
    if path.name == CAMEL_CASE_FOLDS:
        # clkhash ignores xorFolds; we refuse it. Without it, CLKs must agree.
        schema_document["clkConfig"].pop("xorFolds")
    chunk = encode_cases(document, schema_document)
    invalid_fields = {
        problem.row: problem.field for problem in chunk.problems if problem.row
    }
    for index, case in enumerate(document["cases"]):
        row = index + 1
        if "clk" in case:
            assert not chunk.invalid[index], f"row {row}: {invalid_fields.get(row)}"
            got = base64.b64encode(chunk.clks[index].tobytes()).decode()
            assert got == case["clk"], f"row {row} of {path.name}: {case['row']}"
        else:
            assert chunk.invalid[index], f"row {row} should be invalid: {case}"
            assert invalid_fields[row] == case["field"]


def test_camel_case_xor_folds_is_refused() -> None:
    """The schema clkhash silently misreads is rejected, naming key and fix."""
    document = load(Path(__file__).parents[1] / "vectors" / CAMEL_CASE_FOLDS)
    with pytest.raises(SchemaError) as raised:
        schema_from_dict(document["schema"])
    assert "xorFolds" in str(raised.value)
    assert "xor_folds" in str(raised.value)
