"""The CLK encoder: columns of raw values in, packed CLKs out.

Byte-identical to clkhash 0.18.3, and fast because real data repeats itself:
each distinct value of a feature is validated, tokenised and hashed once, and
its Bloom filter is kept. A record's CLK is then the OR of its features'
filters, gathered with numpy. Caches are bounded, so memory stays flat on
files of any size.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from linkage.encoding.bloom import TokenHasher, bits_per_occurrence, fold, set_bits
from linkage.encoding.columns import (
    ColumnValues,
    KnownValues,
    as_arrow_strings,
    factorize,
)
from linkage.encoding.hardening import Hardener, salted_keys
from linkage.encoding.keys import derive_feature_keys
from linkage.encoding.match_keys import (
    MatchKeyMaker,
    first_rows,
    hide_repeated_keys,
    person_digests,
    settle_unique_keys,
)
from linkage.encoding.tokens import (
    InvalidNumber,
    Occurrences,
    decode_gram,
    ngram_occurrences,
    tokenize,
    vectorisable,
)
from linkage.encoding.values import prepare_values
from linkage.errors import Problem
from linkage.formats.extension import Hardening, Segment
from linkage.formats.schema import (
    BitsPerFeature,
    Feature,
    LinkageSchema,
    NgramComparison,
)

if TYPE_CHECKING:
    import pandas as pd

_BATCH = 8192  # Distinct values filtered at once: bounds the bit matrix to 8 MB.
_CACHE_LIMIT = 100_000  # Distinct values remembered per feature.
_INVALID = -1
_OR_BLOCK = 2048  # Records ORed at once: 256 KB of 1024-bit filters.
_SALT_LIMIT = 1000  # Salt values whose encoders (and caches) are kept.


@dataclass
class EncodedChunk:
    """CLKs of one chunk of records.

    ``clks`` has a row for every record, all zero for an invalid record;
    ``invalid`` marks those records and ``problems`` says what is wrong.
    """

    clks: npt.NDArray[np.uint8]
    invalid: npt.NDArray[np.bool_]
    problems: list[Problem] = field(default_factory=list)
    #: The schema's match keys, a row per record (None if it lists none).
    match_keys: npt.NDArray[np.uint8] | None = None
    #: Encoding a whole file: each record's first record of the same person,
    #: which alone sends the person's match keys (itself if it is one;
    #: :func:`~linkage.encoding.match_keys.first_rows`). None otherwise.
    first_rows: npt.NDArray[np.intp] | None = None


class ClkEncoder:
    """Encodes records into CLKs under one schema and one secret.

    Build it once per file: it remembers the filters of values it has seen.

    Example:
        >>> encoder = ClkEncoder(schema, secret)  # doctest: +SKIP
        >>> chunk = encoder.encode({"given_name": ["jane"], ...})  # doctest: +SKIP
    """

    def __init__(self, schema: LinkageSchema, secret: bytes, threads: int = 2):
        self.schema = schema
        keys = dict(
            zip(schema.identifiers, derive_feature_keys(schema, secret), strict=True)
        )
        hardening = schema.extension.hardening
        salted = hardening.salt.features if hardening.salt else ()
        self._segments = [
            _Segment(segment, index, secret, hardening, schema.xor_folds)
            for index, segment in enumerate(schema.segments)
        ]
        self._features: list[_FeatureEncoder | _SaltedFeatureEncoder] = []
        self._segment_of: list[int] = []
        for number, segment in enumerate(schema.segments):
            for feature in schema.encoded_features:
                if feature.identifier not in segment.features:
                    continue
                kind = (
                    _SaltedFeatureEncoder
                    if feature.identifier in salted
                    else _FeatureEncoder
                )
                owner = (
                    segment.features[0]
                    if segment.shared_keys
                    else schema.extension.key_owner(feature.identifier)
                )
                self._features.append(
                    kind(
                        feature,
                        keys[owner],
                        segment.hash_bits,
                    )
                )
                self._segment_of.append(number)
        self._threads = threads
        # Each feature's time on the last chunk; before the first, its bits
        # per value stand in (the work grows with them).
        self._seconds = [_bits_per_value(f.feature) for f in self._features]
        self._match_keys = (
            MatchKeyMaker(schema, secret) if schema.extension.all_keys else None
        )

    @property
    def clk_bytes(self) -> int:
        """Bytes per encoding: ``ceil(bits / 8)``, after any hardening."""
        return -(-self.schema.clk_length // 8)

    def encode(
        self,
        columns: Mapping[str, ColumnValues] | pd.DataFrame,
        *,
        source: str = "<records>",
        first_row: int = 1,
        whole_file: bool = True,
    ) -> EncodedChunk:
        """Encode one chunk; ``columns`` maps each encoded feature to its values.

        Values may be a sequence of ``str``, a numpy object array or an Arrow
        string array. ``first_row`` is the 1-based row number of the chunk's
        first record, used in problem reports. With ``whole_file``, the
        records are all of the file, and its keys are settled here: unique
        keys, and a person's match keys sent on the first of its records
        only (the result's ``first_rows`` says which is whose first: keep it
        to join the others to that record's group). A caller encoding a
        file in chunks passes False and settles them once the file is
        complete (:mod:`linkage.encoding.match_keys`).
        """
        selected = {f.identifier: columns[f.identifier] for f in self._features}
        count = _row_count(selected, len(columns))
        salts = self._salts(selected)
        filters = [segment.empty(count) for segment in self._segments]
        invalid = np.zeros(count, dtype=np.bool_)
        # Costliest first, so that the threads finish together rather than
        # one waiting on a large feature started last. Problems are gathered
        # per feature, so their order does not follow the schedule.
        order = sorted(range(len(self._features)), key=lambda i: -self._seconds[i])
        problems_of: list[list[Problem]] = [[] for _ in self._features]
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            pending = [
                (index, pool.submit(self._timed_parts, index, selected, salts))
                for index in order
            ]
            for index, future in pending:
                identifier = self._features[index].identifier
                for part in future.result():
                    bad = part.column.rows == _INVALID
                    invalid[part.records[bad]] = True
                    problems_of[index] += part.problems(source, first_row, identifier)
                    part.or_into(filters[self._segment_of[index]])
        problems = [problem for found in problems_of for problem in found]
        finished = [
            segment.finish(segment_filters, invalid)
            for segment, segment_filters in zip(self._segments, filters, strict=True)
        ]
        # One filter (the plain layout) needs no copy into a new array.
        clks = finished[0] if len(finished) == 1 else np.concatenate(finished, axis=1)
        # A field in several filters (the CLK and a view) is checked in each:
        # report each of its problems once.
        unique = list(dict.fromkeys(problems))
        unique.sort(key=lambda problem: problem.row or 0)
        keys, first = None, None
        if self._match_keys is not None:
            keys = self._match_keys.make(selected, count)
            if whole_file:
                first = self._settle(keys, clks, invalid)
            keys[invalid] = 0
        return EncodedChunk(
            clks=np.ascontiguousarray(clks),
            invalid=invalid,
            problems=unique,
            match_keys=keys,
            first_rows=first,
        )

    def _settle(
        self,
        keys: npt.NDArray[np.uint8],
        clks: npt.NDArray[np.uint8],
        invalid: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.intp]:
        """Settle a whole file's keys in place (unique keys, a person's match
        keys on its first row); each record's first row of its person."""
        rows = np.flatnonzero(~invalid)
        valid = keys[rows]
        ordinary = len(self.schema.extension.match_keys)
        unique_keys = len(self.schema.extension.unique_keys)
        if unique_keys:
            persons = person_digests(clks[rows], valid, ordinary)
            settle_unique_keys(valid, unique_keys, persons)
        first = first_rows(valid, ordinary)
        hide_repeated_keys(valid, ordinary, first)
        keys[rows] = valid
        every = np.arange(len(keys), dtype=np.intp)
        every[rows] = rows[first]
        return every

    def _timed_parts(
        self,
        index: int,
        columns: Mapping[str, ColumnValues],
        salts: ColumnValues | None,
    ) -> list[_Part]:
        encoder = self._features[index]
        started = time.perf_counter()
        parts = encoder.parts_of(columns[encoder.identifier], salts)
        self._seconds[index] = time.perf_counter() - started
        return parts

    def _salts(self, columns: Mapping[str, ColumnValues]) -> ColumnValues | None:
        salt = self.schema.extension.hardening.salt
        if salt is None:
            return None
        source = columns[salt.source]
        if isinstance(source, pa.ChunkedArray | pa.Array):
            sliced = pc.utf8_slice_codeunits(source, salt.start, salt.stop)
            return pc.fill_null(sliced, "")
        return [salt.salt_of(str(value)) for value in source]


class _Segment:
    """One filter of the encoding: its size, folding and hardening."""

    def __init__(
        self,
        segment: Segment,
        index: int,
        secret: bytes,
        hardening: Hardening,
        folds: int,
    ) -> None:
        self.hash_bits = segment.hash_bits
        self._folds = folds
        # Segment 0 keeps the unnumbered label, so a one-segment (plain layout)
        # encoding is hardened the same whether or not segments were asked for.
        label = b"" if index == 0 else f"/segment/{index}".encode()
        own = segment.hardening or hardening
        self._hardener = Hardener(own, secret, segment.hash_bits >> folds, label=label)

    def empty(self, count: int) -> npt.NDArray[np.uint8]:
        """Zeroed filters for ``count`` records."""
        return np.zeros((count, -(-self.hash_bits // 8)), dtype=np.uint8)

    def finish(
        self, filters: npt.NDArray[np.uint8], invalid: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.uint8]:
        """Fold and harden the filters; invalid records stay all zero."""
        filters[invalid] = 0
        return self._hardener.apply(fold(filters, self.hash_bits, self._folds))


def _bits_per_value(feature: Feature) -> float:
    strategy = feature.strategy
    if isinstance(strategy, BitsPerFeature):
        return float(strategy.bits)
    return 10.0 * (strategy.k if strategy is not None else 0)  # About ten tokens.


def _row_count(columns: Mapping[str, ColumnValues], default: int) -> int:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError("every column of a chunk must have the same length")
    return lengths.pop() if lengths else default


@dataclass(frozen=True)
class _Column:
    """One feature of a chunk: its values' rows in the filter table."""

    table: npt.NDArray[np.uint8]
    rows: npt.NDArray[np.intp]
    codes: npt.NDArray[np.intp]
    distinct: list[str] | pa.Array  # Each code's value.
    errors: Mapping[str, str]  # Why each invalid distinct value is invalid.

    def value(self, code: int) -> str:
        """The text of the value with this code."""
        value = self.distinct[code]
        return value if isinstance(value, str) else str(value.as_py())


@dataclass(frozen=True)
class _Part:
    """The filters of one feature for some records of a chunk."""

    column: _Column
    records: npt.NDArray[np.intp]  # Positions of those records in the chunk.
    whole: bool  # True when ``records`` is every record, in order.

    def problems(self, source: str, first_row: int, field: str) -> list[Problem]:
        """One problem for every invalid value, located by row and field."""
        column = self.column
        return [
            Problem(
                column.errors.get(column.value(column.codes[i]), "invalid value"),
                source=source,
                row=first_row + int(self.records[i]),
                field=field,
            )
            for i in np.flatnonzero(column.rows == _INVALID)
        ]

    def or_into(self, filters: npt.NDArray[np.uint8]) -> None:
        """OR these filters into the chunk's (invalid values add nothing)."""
        valid = self.column.rows != _INVALID
        if self.whole and valid.all():
            _or_rows(filters, self.column.table, self.column.rows)
            return
        records = self.records[valid]
        some = filters[records]
        _or_rows(some, self.column.table, self.column.rows[valid])
        filters[records] = some


def _or_rows(
    filters: npt.NDArray[np.uint8],
    table: npt.NDArray[np.uint8],
    rows: npt.NDArray[np.intp],
) -> None:
    if filters.shape[1] % 8 == 0:
        # Whole machine words: eight times fewer operations than bytes.
        filters, table = filters.view(np.uint64), table.view(np.uint64)
    # A block at a time, so that the gathered rows stay in cache: twice as
    # fast as gathering a whole chunk's. ``take`` into one reused buffer is
    # three times faster than fancy indexing, which allocates and copies
    # row by row.
    gathered = np.empty((min(_OR_BLOCK, len(rows)), table.shape[1]), table.dtype)
    for start in range(0, len(rows), _OR_BLOCK):
        block = filters[start : start + _OR_BLOCK]
        some = gathered[: len(block)]
        np.take(table, rows[start : start + _OR_BLOCK], axis=0, out=some)
        np.bitwise_or(block, some, out=block)


class _FeatureEncoder:
    """Filters of the distinct values of one feature, computed once each."""

    def __init__(self, feature: Feature, keys: tuple[bytes, bytes], length: int):
        self.feature = feature
        self.identifier = feature.identifier
        self._hasher = TokenHasher(feature, keys, length)
        self._width = -(-length // 8)
        self._known = KnownValues()
        self._errors: dict[str, str] = {}
        self._table = np.zeros((0, self._width), dtype=np.uint8)
        self._filled = 0

    def rows_of(self, values: ColumnValues) -> _Column:
        """The filter table and each value's row in it (``-1``: invalid)."""
        column = as_arrow_strings(values)
        if column is None:
            return self._rows_without_cache(values)
        codes, dictionary = self._known.encode(column)
        if len(dictionary) > _CACHE_LIMIT and len(self._known):
            self._forget()
            codes, dictionary = self._known.encode(column)
        new = dictionary.slice(len(self._known))
        if len(new):
            self._known.remember(dictionary, self._add(new.to_pylist()))
        return _Column(
            self._table, self._known.rows[codes], codes, dictionary, self._errors
        )

    def _rows_without_cache(self, values: ColumnValues) -> _Column:
        """Values Arrow cannot hold (not UTF-8 text): encoded afresh each time."""
        codes, distinct = factorize(values)
        self._forget()
        rows = self._add(distinct)
        return _Column(self._table, rows[codes], codes, distinct, self._errors)

    def parts_of(self, values: ColumnValues, salts: ColumnValues | None) -> list[_Part]:
        """The filters of every record's value (one unsalted part)."""
        column = self.rows_of(values)
        everyone = np.arange(len(column.rows), dtype=np.intp)
        return [_Part(column, everyone, whole=True)]

    def _forget(self) -> None:
        self._known.clear()
        self._errors.clear()
        self._filled = 0

    def _add(self, values: list[str]) -> npt.NDArray[np.intp]:
        prepared, errors = prepare_values(self.feature, values)
        rows = np.full(len(values), _INVALID, dtype=np.intp)
        valid = [position for position in range(len(values)) if position not in errors]
        for start in range(0, len(valid), _BATCH):
            positions = valid[start : start + _BATCH]
            batch = [prepared[position] for position in positions]
            filters, token_errors = self._filters(batch)
            rows[positions] = self._store(filters, list(token_errors))
            errors.update({positions[o]: m for o, m in token_errors.items()})
        self._errors.update({values[position]: m for position, m in errors.items()})
        return rows

    def _filters(
        self, values: list[str]
    ) -> tuple[npt.NDArray[np.uint8], dict[int, str]]:
        """Filters of prepared values, and the message of each that failed."""
        comparison = self.feature.comparison
        assert comparison is not None and self.feature.strategy is not None
        occurrences = None
        if isinstance(comparison, NgramComparison) and vectorisable(comparison):
            occurrences = ngram_occurrences(comparison, values)
        if occurrences is not None:
            assert isinstance(comparison, NgramComparison)
            distinct, inverse = np.unique(occurrences.codes, return_inverse=True)
            keys = [int(code) for code in distinct]
            texts = [decode_gram(comparison, code) for code in keys]
            token_rows = self._hasher.lookup(list(keys), texts)[inverse]
            errors: dict[int, str] = {}
        else:
            occurrences, token_rows, errors = self._tokenise_slowly(values)
        bits = bits_per_occurrence(
            self.feature.strategy,
            occurrences.token_counts,
            occurrences.value_index,
            occurrences.rank,
        )
        filters = set_bits(
            self._hasher, token_rows, bits, occurrences.value_index, len(values)
        )
        return filters, errors

    def _tokenise_slowly(
        self, values: list[str]
    ) -> tuple[Occurrences, npt.NDArray[np.intp], dict[int, str]]:
        comparison = self.feature.comparison
        assert comparison is not None
        tokens_of: list[list[str]] = []
        errors: dict[int, str] = {}
        for position, value in enumerate(values):
            try:
                tokens_of.append(tokenize(comparison, value))
            except InvalidNumber as error:
                tokens_of.append([])
                errors[position] = str(error)
        counts = np.array([len(tokens) for tokens in tokens_of], dtype=np.int64)
        flat = [token for tokens in tokens_of for token in tokens]
        value_index = np.repeat(np.arange(len(values)), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        rank = np.arange(len(flat)) - starts
        token_rows = self._hasher.lookup(list(flat), None)
        occurrences = Occurrences(
            codes=np.zeros(len(flat), dtype=np.int64),
            value_index=value_index,
            rank=rank,
            token_counts=counts,
        )
        return occurrences, token_rows, errors

    def _store(
        self, filters: npt.NDArray[np.uint8], invalid: list[int]
    ) -> npt.NDArray[np.intp]:
        needed = self._filled + len(filters)
        if needed > len(self._table):
            capacity = max(needed, 2 * len(self._table), 1024)
            grown = np.zeros((capacity, self._width), dtype=np.uint8)
            grown[: self._filled] = self._table[: self._filled]
            self._table = grown
        self._table[self._filled : needed] = filters
        rows = np.arange(self._filled, needed, dtype=np.intp)
        self._filled = needed
        rows[invalid] = _INVALID
        return rows


class _SaltedFeatureEncoder:
    """A salted feature: one encoder, with its own keys, per salt value."""

    def __init__(self, feature: Feature, keys: tuple[bytes, bytes], length: int):
        self.feature = feature
        self.identifier = feature.identifier
        self._keys = keys
        self._length = length
        self._by_salt: dict[str, _FeatureEncoder] = {}

    def parts_of(self, values: ColumnValues, salts: ColumnValues | None) -> list[_Part]:
        """The filters of every record's value, one part per salt value."""
        assert salts is not None
        codes, distinct = factorize(salts)
        if len(self._by_salt) + len(distinct) > _SALT_LIMIT:
            self._by_salt.clear()
        parts = []
        for code, salt in enumerate(distinct):
            records = np.flatnonzero(codes == code)
            column = self._encoder(salt).rows_of(_take(values, records))
            parts.append(_Part(column, records, whole=len(distinct) == 1))
        return parts

    def _encoder(self, salt: str) -> _FeatureEncoder:
        encoder = self._by_salt.get(salt)
        if encoder is None:
            keys = salted_keys(self._keys, salt)
            encoder = _FeatureEncoder(self.feature, keys, self._length)
            self._by_salt[salt] = encoder
        return encoder


def _take(values: ColumnValues, records: npt.NDArray[np.intp]) -> ColumnValues:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return values.take(pa.array(records))
    return np.asarray(values, dtype=object)[records]
