"""Bloom-filter bit positions: the sharp layer under the encoder.

Use :mod:`linkage.encoding.encoder` instead; this module does not validate
values. It turns tokens into bit positions exactly as clkhash 0.18.3 does
(doubleHash per Schnell et al. 2011, or keyed BLAKE2b), caches the hash of each
distinct token, and sets the bits of many values at once with numpy.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Hashable

import numpy as np
import numpy.typing as npt

from linkage.formats.schema import BitsPerFeature, BitsPerToken, Feature, Strategy

_SHORTS_PER_DIGEST = 32  # A 64-byte BLAKE2b digest read as 16-bit integers.
_TOKEN_LIMIT = 500_000  # Distinct tokens remembered per feature.


def bits_per_occurrence(
    strategy: Strategy,
    token_counts: npt.NDArray[np.int64],
    value_index: npt.NDArray[np.intp],
    rank: npt.NDArray[np.intp],
) -> npt.NDArray[np.int64]:
    """How many bits each token occurrence sets.

    With bitsPerFeature ``B`` over ``T`` tokens, the first ``B % T`` tokens of
    a value set ``B // T + 1`` bits and the rest ``B // T``.
    """
    if isinstance(strategy, BitsPerToken):
        return np.full(len(value_index), strategy.k, dtype=np.int64)
    counts = token_counts[value_index]
    quotient, remainder = np.divmod(strategy.bits, counts)
    return quotient + (rank < remainder)


def _max_bits_per_token(strategy: Strategy) -> int:
    if isinstance(strategy, BitsPerFeature):
        return strategy.bits
    return strategy.k


class TokenHasher:
    """Hashes each distinct token of one feature once and remembers the result.

    For doubleHash it keeps ``(h1, h2)`` per token; for blakeHash the 16-bit
    integers of enough digests for the largest ``k`` the strategy can ask for.
    """

    def __init__(self, feature: Feature, keys: tuple[bytes, bytes], length: int):
        self.feature = feature
        self.length = length
        self._keys = keys
        self._index: dict[Hashable, int] = {}
        self._pending: list[bytes] = []
        self._width = self._row_width(feature)
        self._dtype = np.int64 if feature.hash == "doubleHash" else np.uint16
        self._table = np.zeros((0, self._width), dtype=self._dtype)

    def _row_width(self, feature: Feature) -> int:
        if feature.hash == "doubleHash":
            return 2
        assert feature.strategy is not None
        blocks = -(-_max_bits_per_token(feature.strategy) // _SHORTS_PER_DIGEST)
        self._blake_blocks = blocks
        return blocks * _SHORTS_PER_DIGEST

    def lookup(
        self, keys: list[Hashable], texts: list[str] | None
    ) -> npt.NDArray[np.intp]:
        """Row numbers of the given tokens, hashing the ones not seen before.

        ``keys`` identify tokens; ``texts`` are their strings, or None when the
        keys are the strings themselves.
        """
        if len(self._index) > _TOKEN_LIMIT:
            self._index.clear()
            self._pending.clear()
            self._table = self._table[:0]
        index = self._index
        rows = [index.get(key, -1) for key in keys]
        for position, row in enumerate(rows):
            if row == -1:
                key = keys[position]
                row = index.get(key, -1)
                if row == -1:
                    text = texts[position] if texts is not None else str(key)
                    row = self._add(key, text)
                rows[position] = row
        return np.array(rows, dtype=np.intp)

    def table(self) -> npt.NDArray[np.int64] | npt.NDArray[np.uint16]:
        """The hash rows of all tokens seen so far, one row per token.

        doubleHash rows are ``(h1, h2)``; blakeHash rows the digests' 16-bit
        integers, kept as such to hold many tokens in little memory.
        """
        if self._pending:
            raw = b"".join(self._pending)
            order = ">u8" if self.feature.hash == "doubleHash" else "<u2"
            new = np.frombuffer(raw, dtype=order).astype(self._dtype)
            self._table = np.vstack([self._table, new.reshape(-1, self._width)])
            self._pending.clear()
        return self._table

    def _add(self, key: Hashable, text: str) -> int:
        message = text.encode(self.feature.encoding)
        if self.feature.hash == "doubleHash":
            h1, h2 = self._double_hash(message)
            self._pending.append(h1.to_bytes(8, "big") + h2.to_bytes(8, "big"))
        else:
            self._pending.append(self._blake_digests(message))
        row = len(self._index)
        self._index[key] = row
        return row

    def _double_hash(self, message: bytes) -> tuple[int, int]:
        key_sha1, key_md5 = self._keys
        length = self.length
        h1 = _hmac_int(key_sha1, message, "sha1") % length
        h2 = _hmac_int(key_md5, message, "md5") % length
        attempt = 0
        while self.feature.prevent_singularity and h2 == 0:
            # clkhash appends chr(attempt) as UTF-8 until h2 is not zero.
            salted = message + chr(attempt).encode("utf-8")
            h2 = _hmac_int(key_md5, salted, "md5") % length
            attempt += 1
        return h1, h2

    def _blake_digests(self, message: bytes) -> bytes:
        # clkhash reads the digests as native-order shorts; every platform it
        # runs on is little-endian, so the order is fixed here to stay portable.
        key = self._keys[0]
        return b"".join(
            hashlib.blake2b(message, key=key, salt=str(i).encode()).digest()
            for i in range(self._blake_blocks)
        )


def _hmac_int(key: bytes, message: bytes, digest: str) -> int:
    return int.from_bytes(hmac.digest(key, message, digest), "big")


def set_bits(
    hasher: TokenHasher,
    token_rows: npt.NDArray[np.intp],
    bits: npt.NDArray[np.int64],
    value_index: npt.NDArray[np.intp],
    value_count: int,
) -> npt.NDArray[np.uint8]:
    """Bloom filters of ``value_count`` values, packed big-endian by bit.

    Occurrence ``o`` is token ``token_rows[o]`` of value ``value_index[o]``
    (sorted by value) and sets ``bits[o]`` bits. The result has one row of
    ``ceil(length / 8)`` bytes per value; bit 0 is the most significant bit of
    byte 0, as in clkhash.

    A token inserted with ``k`` bits always sets the same bits, so each
    distinct ``(token, k)`` pair is turned into a filter once, and a value's
    filter is the OR of its pairs' filters.
    """
    width = -(-hasher.length // 8)
    filters = np.zeros((value_count, width), dtype=np.uint8)
    if not len(token_rows):
        return filters
    pair_codes = token_rows.astype(np.int64) * (int(bits.max()) + 1) + bits
    pairs, pair_of_occurrence = np.unique(pair_codes, return_inverse=True)
    pair_filters = _pair_filters(hasher, pairs, int(bits.max()) + 1)
    word = np.uint64 if width % 8 == 0 else np.uint8
    _merge_by_value(
        filters.view(word), pair_filters.view(word), pair_of_occurrence, value_index
    )
    return filters


def _merge_by_value(
    filters: npt.NDArray[np.generic],
    pair_filters: npt.NDArray[np.generic],
    pair_of_occurrence: npt.NDArray[np.intp],
    value_index: npt.NDArray[np.intp],
) -> None:
    """OR each value's occurrences' filters into its row of ``filters``.

    Values with the same number of occurrences are merged together, as one
    ``(values, occurrences, words)`` block reduced along its middle axis: a
    reduction numpy runs without the GIL, where ``reduceat`` holds it (two
    encoder threads then merge at once), and a little faster on one.
    """
    values, starts, counts = np.unique(
        value_index, return_index=True, return_counts=True
    )
    by_count = np.argsort(counts, kind="stable")
    changes = np.flatnonzero(np.diff(counts[by_count])) + 1
    for group in np.split(by_count, changes):
        count = int(counts[group[0]])
        occurrences = (starts[group][:, None] + np.arange(count)).ravel()
        block = pair_filters[pair_of_occurrence[occurrences]]
        merged = np.bitwise_or.reduce(block.reshape(len(group), count, -1), axis=1)
        filters[values[group]] = merged


def _pair_filters(
    hasher: TokenHasher, pairs: npt.NDArray[np.int64], stride: int
) -> npt.NDArray[np.uint8]:
    """The filter of each ``(token row, k)`` pair encoded as ``row * stride + k``."""
    length = hasher.length
    token_rows, bits = np.divmod(pairs, stride)
    pair = np.repeat(np.arange(len(pairs)), bits)
    starts = np.repeat(np.cumsum(bits) - bits, bits)
    step = np.arange(len(pair), dtype=np.int64) - starts
    table = hasher.table()
    rows = token_rows[pair]
    if hasher.feature.hash == "doubleHash":
        positions = (table[rows, 0] + step * table[rows, 1]) % length
    else:
        positions = table[rows, step].astype(np.int64) % length
    filters = np.zeros((len(pairs), length), dtype=np.bool_)
    filters[pair, positions] = True
    return np.packbits(filters, axis=1)


def fold(clks: npt.NDArray[np.uint8], length: int, folds: int) -> npt.NDArray[np.uint8]:
    """XOR-fold packed filters of ``length`` bits ``folds`` times."""
    if folds == 0:
        return clks
    if length % (8 * 2**folds) == 0:
        for _ in range(folds):
            half = clks.shape[1] // 2
            clks = clks[:, :half] ^ clks[:, half:]
        return clks
    bits = np.unpackbits(clks, axis=1, count=length)
    for _ in range(folds):
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    return np.packbits(bits, axis=1)
