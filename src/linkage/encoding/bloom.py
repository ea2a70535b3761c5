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
        self._rows: list[npt.NDArray[np.int64]] = []
        self._table: npt.NDArray[np.int64] | None = None
        assert feature.strategy is not None
        blocks = -(-_max_bits_per_token(feature.strategy) // _SHORTS_PER_DIGEST)
        self._blake_blocks = blocks

    def lookup(
        self, keys: list[Hashable], texts: list[str] | None
    ) -> npt.NDArray[np.intp]:
        """Row numbers of the given tokens, hashing the ones not seen before.

        ``keys`` identify tokens; ``texts`` are their strings, or None when the
        keys are the strings themselves.
        """
        rows = np.empty(len(keys), dtype=np.intp)
        for position, key in enumerate(keys):
            row = self._index.get(key)
            if row is None:
                text = texts[position] if texts is not None else str(key)
                row = self._add(key, text)
            rows[position] = row
        return rows

    def table(self) -> npt.NDArray[np.int64]:
        """The hash rows of all tokens seen so far, one row per token."""
        if self._table is None or len(self._table) != len(self._rows):
            self._table = np.stack(self._rows) if self._rows else None
        assert self._table is not None
        return self._table

    def _add(self, key: Hashable, text: str) -> int:
        message = text.encode(self.feature.encoding)
        if self.feature.hash == "doubleHash":
            row = np.array(self._double_hash(message), dtype=np.int64)
        else:
            row = self._blake_shorts(message)
        self._rows.append(row)
        self._index[key] = len(self._rows) - 1
        return len(self._rows) - 1

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

    def _blake_shorts(self, message: bytes) -> npt.NDArray[np.int64]:
        digests = b"".join(
            hashlib.blake2b(message, key=self._keys[0], salt=str(i).encode()).digest()
            for i in range(self._blake_blocks)
        )
        # clkhash unpacks native-order shorts; every platform it runs on is
        # little-endian, so we fix the order to make CLKs portable.
        return np.frombuffer(digests, dtype="<u2").astype(np.int64)


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

    Occurrence ``o`` is token ``token_rows[o]`` of value ``value_index[o]`` and
    sets ``bits[o]`` bits. The result has one row of ``ceil(length / 8)`` bytes
    per value; bit 0 is the most significant bit of byte 0, as in clkhash.
    """
    length = hasher.length
    filters = np.zeros((value_count, length), dtype=np.bool_)
    if len(token_rows):
        occurrence = np.repeat(np.arange(len(token_rows)), bits)
        starts = np.cumsum(bits) - bits
        step = np.arange(len(occurrence), dtype=np.int64) - np.repeat(starts, bits)
        table = hasher.table()
        rows = token_rows[occurrence]
        if hasher.feature.hash == "doubleHash":
            positions = (table[rows, 0] + step * table[rows, 1]) % length
        else:
            positions = table[rows, step] % length
        filters[value_index[occurrence], positions] = True
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
