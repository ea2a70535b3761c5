"""The tokens of plaintext records, exactly as the schema tokenises them.

Attacks that reason about q-grams need each population record's token set. A
token is a pair (feature, token text): ``("surname", "mi")`` and
``("given_name", "mi")`` are hashed with different keys, so they are
different tokens, unless the schema's ``either_order`` hashes the two fields
under one key: then both are the first field's token. Values the encoder
would reject yield no tokens.
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
from linkage.formats.schema import (
    BitsPerFeature,
    BitsPerToken,
    Feature,
    LinkageSchema,
    Strategy,
)

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


@dataclass(frozen=True)
class TokenOwner:
    """The tokens hashed under one feature's keys, and the bits they set.

    Attributes:
        name: the feature whose keys hash them (the tokens' feature in a
            :class:`TokenTable`).
        strategy: the bits they set: the feature's own strategy, or for two
            fields hashed under one key (``either_order``) the same bits per
            token, or their bits per feature added up.
    """

    name: str
    strategy: Strategy


def token_owners(schema: LinkageSchema) -> list[TokenOwner]:
    """Each feature whose keys hash tokens, in schema order."""
    members: dict[str, list[Strategy]] = {}
    for feature in schema.encoded_features:
        assert feature.strategy is not None
        owner = schema.extension.key_owner(feature.identifier)
        members.setdefault(owner, []).append(feature.strategy)
    return [
        TokenOwner(name, _together(strategies)) for name, strategies in members.items()
    ]


def _together(strategies: list[Strategy]) -> Strategy:
    # Tokens of either field set bits of one hash sequence: as many per token
    # as the larger k, or the fields' bits spread over all their tokens.
    if len(strategies) == 1:
        return strategies[0]
    per_token = [s.k for s in strategies if isinstance(s, BitsPerToken)]
    if len(per_token) == len(strategies):
        return BitsPerToken(max(per_token))
    return BitsPerFeature(
        sum(s.bits for s in strategies if isinstance(s, BitsPerFeature))
    )


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
    *,
    by_feature: bool = False,
) -> TokenTable:
    """Tokenise every record per the schema.

    Args:
        schema: the linkage schema the encodings were made with.
        records: a column of text values per encoded feature.
        vocabulary: tokens to use as columns, in this order; tokens outside it
            are dropped. Default: every token seen, in order of appearance.
        by_feature: keep the tokens of fields hashed under one key apart (for
            attackers that weigh each field's tokens by its own strategy and
            merge them with :func:`merge_owners`).

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
        owner = feature.identifier
        if not by_feature:
            owner = schema.extension.key_owner(owner)
        row, col = _feature_tokens(
            feature, owner, values, salts if salted else None, index, grow
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


def merge_owners(
    schema: LinkageSchema, table: TokenTable, weights: sp.csr_matrix
) -> tuple[list[Token], sp.csr_matrix]:
    """Columns of a ``by_feature`` table (or a same-shaped ``weights``)
    merged as the encoder hashes them: each token becomes its key owner's,
    and a record's weights of the tokens that meet are added up."""
    merged: dict[Token, int] = {}
    target = [
        merged.setdefault((schema.extension.key_owner(feature), text), len(merged))
        for feature, text in table.vocabulary
    ]
    size = len(table.vocabulary)
    mapping = sp.csr_matrix(
        (np.ones(size, dtype=np.float32), (np.arange(size), target)),
        shape=(size, len(merged)),
    )
    ordered = sorted(merged, key=merged.__getitem__)
    return ordered, sp.csr_matrix(weights @ mapping, dtype=np.float32)


def _feature_tokens(
    feature: Feature,
    owner: str,
    values: npt.NDArray[np.object_],
    salts: npt.NDArray[np.object_] | None,
    index: dict[Token, int],
    grow: bool,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(record, token column) pairs of one feature; each distinct value once.
    Its tokens are ``owner``'s: the feature whose keys hash them."""
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
            token = (owner, text + suffix)
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
