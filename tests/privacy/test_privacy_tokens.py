"""Tokens of population records, as the schema tokenises them."""

from __future__ import annotations

import pandas as pd
import pytest
from privacy_data import demo_schema

from linkage.errors import InputError
from linkage.privacy.tokens import token_table


def test_tokens_are_per_feature_and_invalid_values_have_none() -> None:
    """'an' of a given name and 'an' of a surname differ; bad values add nothing."""
    schema = demo_schema("given_name", "surname", "sex")
    records = pd.DataFrame(
        {
            "given_name": ["ann", "ann", "BAD UPPER"],
            "surname": ["han", "", "lee"],
            "sex": ["f", "q", "m"],
        }
    )
    table = token_table(schema, records)
    tokens = [set() for _ in range(3)]
    for row, column in zip(*table.matrix.nonzero(), strict=True):
        tokens[row].add(table.vocabulary[column])
    assert ("given_name", "an") in tokens[0] and ("surname", "an") in tokens[0]
    assert ("sex", "f") in tokens[0]
    assert not any(feature == "sex" for feature, _ in tokens[1])  # 'q' invalid.
    assert not any(feature == "given_name" for feature, _ in tokens[2])
    assert table.frequencies[table.vocabulary.index(("given_name", " a"))] == 2 / 3


def test_a_given_vocabulary_fixes_the_columns() -> None:
    """Tokens outside the vocabulary are dropped; columns keep its order."""
    schema = demo_schema("given_name")
    vocabulary = [("given_name", "nn"), ("given_name", "zz")]
    table = token_table(schema, {"given_name": ["ann", "bo"]}, vocabulary)
    assert table.vocabulary == vocabulary
    assert table.matrix.toarray().tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_a_missing_feature_column_is_named() -> None:
    """The error names every encoded feature the records lack."""
    schema = demo_schema("given_name", "surname")
    with pytest.raises(InputError, match="surname"):
        token_table(schema, pd.DataFrame({"given_name": ["ann"]}))
