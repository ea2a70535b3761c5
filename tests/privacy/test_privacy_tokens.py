"""Tokens of population records, as the schema tokenises them."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from privacy_data import PLAIN_DEMO_SCHEMA, demo_schema

from linkage.errors import InputError
from linkage.formats.schema import LinkageSchema, schema_from_dict
from linkage.privacy.tokens import merge_owners, token_table


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


def _paired_schema() -> LinkageSchema:
    """The plain demo schema of the two names, hashed under one key."""
    document = copy.deepcopy(PLAIN_DEMO_SCHEMA)
    document["features"] = document["features"][:2]
    document["linkage"] = {"either_order": ["given_name", "surname"]}
    return schema_from_dict(document)


def test_names_hashed_under_one_key_are_one_token() -> None:
    """With ``either_order`` a surname's 'an' is the given name's 'an', as the
    encoder sets its bits; ``by_feature`` keeps them apart, and merging
    their weights adds up what each field's strategy gives them."""
    schema = _paired_schema()
    records = pd.DataFrame({"given_name": ["ann"], "surname": ["han"]})
    merged = token_table(schema, records)
    assert {feature for feature, _ in merged.vocabulary} == {"given_name"}
    assert merged.matrix[0, merged.vocabulary.index(("given_name", "an"))] == 1.0
    apart = token_table(schema, records, by_feature=True)
    assert ("surname", "an") in apart.vocabulary
    weights = apart.matrix.multiply([[200 / 4 for _ in apart.vocabulary]]).tocsr()
    vocabulary, summed = merge_owners(schema, apart, weights)
    assert set(vocabulary) == set(merged.vocabulary)
    # 'an' is in both names (4 bigrams each: 200 bits / 4 per token).
    assert summed[0, vocabulary.index(("given_name", "an"))] == pytest.approx(100.0)
    assert summed[0, vocabulary.index(("given_name", "nn"))] == pytest.approx(50.0)
