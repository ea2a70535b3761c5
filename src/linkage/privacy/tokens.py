"""The tokens of plaintext records, exactly as the schema tokenises them.

Attacks that reason about q-grams need each population record's token set. A
token is a pair (feature, token text): ``("surname", "mi")`` and
``("given_name", "mi")`` are hashed with different keys, so they are
different tokens. Values the encoder would reject yield no tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from linkage.encoding.tokens import InvalidNumber, tokenize
from linkage.encoding.values import InvalidValue, prepare_value
from linkage.errors import InputError, Problem
from linkage.formats.schema import Feature, LinkageSchema

Token = tuple[str, str]

_SEPARATOR = "\x1f"  # Between a value and its salt; not in real values.


@dataclass(frozen=True)
class TokenTable:
    """Which tokens each record has.

    Attributes:
        vocabulary: every token seen, as (feature identifier, token text).
        matrix: a sparse ``(records, tokens)`` 0/1 matrix (float32, CSR).
    """

    vocabulary: list[Token]
    matrix: sp.csr_matrix

    @property
    def frequencies(self) -> npt.NDArray[np.float64]:
        """The share of records that hold each token."""
        rows = max(self.matrix.shape[0], 1)
        counts = np.asarray(self.matrix.sum(axis=0), dtype=np.float64).ravel()
        result: npt.NDArray[np.float64] = counts / rows
        return result


def check_columns(
    schema: LinkageSchema, columns: Sequence[str], source: str = "<population>"
) -> None:
    """Raise if a feature the schema encodes has no column.

    Raises:
        InputError: naming every missing feature.
    """
    missing = [
        f.identifier for f in schema.encoded_features if f.identifier not in columns
    ]
    if missing:
        raise InputError(
            f"{source} lacks columns the schema encodes:",
            [Problem("column missing", source=source, field=name) for name in missing],
            hint="The reference population needs a column per encoded feature, "
            "named like the schema's feature identifiers.",
        )


def token_table(
    schema: LinkageSchema,
    records: pd.DataFrame | Mapping[str, Sequence[str]],
    vocabulary: Sequence[Token] | None = None,
) -> TokenTable:
    """Tokenise every record per the schema.

    Args:
        schema: the linkage schema the encodings were made with.
        records: a column of text values per encoded feature.
        vocabulary: tokens to use as columns, in this order; tokens outside it
            are dropped. Default: every token seen, in order of appearance.

    Raises:
        InputError: a feature the schema encodes has no column.
    """
    frame = pd.DataFrame(records) if not isinstance(records, pd.DataFrame) else records
    check_columns(schema, list(frame.columns))
    index: dict[Token, int] = {token: i for i, token in enumerate(vocabulary or [])}
    grow = vocabulary is None
    rows: list[npt.NDArray[np.intp]] = []
    cols: list[npt.NDArray[np.intp]] = []
    salt = schema.extension.hardening.salt
    salts = None
    if salt is not None:
        source = frame[salt.source].fillna("").astype(str)
        salts = np.array([salt.salt_of(value) for value in source], dtype=object)
    for feature in schema.encoded_features:
        values = frame[feature.identifier].fillna("").astype(str).to_numpy()
        salted = salt is not None and feature.identifier in salt.features
        row, col = _feature_tokens(
            feature, values, salts if salted else None, index, grow
        )
        rows.append(row)
        cols.append(col)
    row_all = np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)
    col_all = np.concatenate(cols) if cols else np.zeros(0, dtype=np.intp)
    shape = (len(frame), len(index))
    data = np.ones(len(row_all), dtype=np.float32)
    matrix = sp.csr_matrix((data, (row_all, col_all)), shape=shape)
    # Duplicate tokens of one value were summed; presence is what matters.
    matrix.data[:] = 1.0
    ordered = sorted(index, key=index.__getitem__)
    return TokenTable(vocabulary=ordered, matrix=matrix)


def _feature_tokens(
    feature: Feature,
    values: npt.NDArray[np.object_],
    salts: npt.NDArray[np.object_] | None,
    index: dict[Token, int],
    grow: bool,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(record, token column) pairs of one feature; each distinct value once."""
    keys = values
    if salts is not None:
        pairs = zip(values, salts, strict=True)
        keys = np.array([f"{v}{_SEPARATOR}{s}" for v, s in pairs], dtype=object)
    codes, distinct = pd.factorize(keys, sort=False)
    columns_of: list[list[int]] = []
    for key in distinct:
        value, salt = str(key), ""
        if salts is not None:
            value, _, salt = value.rpartition(_SEPARATOR)
        suffix = f"|{salt}" if salts is not None else ""
        columns: list[int] = []
        for text in _value_tokens(feature, value):
            token = (feature.identifier, text + suffix)
            column = index.get(token)
            if column is None and grow:
                column = index[token] = len(index)
            if column is not None:
                columns.append(column)
        columns_of.append(sorted(set(columns)))
    counts = np.array([len(c) for c in columns_of], dtype=np.intp)
    flat = np.array([c for cs in columns_of for c in cs], dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    per_record = counts[codes]
    record = np.repeat(np.arange(len(values), dtype=np.intp), per_record)
    offsets = np.arange(len(record)) - np.repeat(
        np.cumsum(per_record) - per_record, per_record
    )
    column = flat[np.repeat(starts[codes], per_record) + offsets]
    return record, column


def _value_tokens(feature: Feature, value: str) -> list[str]:
    assert feature.comparison is not None
    try:
        return tokenize(feature.comparison, prepare_value(feature, value))
    except (InvalidValue, InvalidNumber):
        # The encoder rejects such a value: it contributes no bits.
        return []
