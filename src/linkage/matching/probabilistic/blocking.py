"""Blocking on per-field encodings: records whose field filters are identical.

Two records whose filters for a field are bit for bit the same almost surely
hold the same value there (the filter is a keyed hash of its tokens), so
grouping records by a field's filter is exact-agreement blocking, as plaintext
linkers do on surname or birth date, with no plaintext key ever leaving an
agency. Keys are single fields or pairs of fields; :func:`choose_keys` keeps
those whose blocks stay within a budget of pairs (a key on sex alone never
qualifies; sex with a birth date may), and drops a key that adds nothing to a
looser one already kept.

Each candidate remembers the key that found it: the Fellegi-Sunter model must
not count the agreement blocking forced as evidence of a match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import FieldSegment
from linkage.matching.candidates import Clks, Indices, pairs_sharing_a_value

Key = tuple[int, ...]  # Segment numbers whose filters must all be identical.
_MIXER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class FieldBlocks:
    """Candidate pairs found by field keys, and the key that found each."""

    left: Indices
    right: Indices
    key_of: npt.NDArray[np.int32]  # Index into ``keys`` of each pair.
    keys: tuple[Key, ...]

    def key_table(self, segments: int) -> npt.NDArray[np.bool_]:
        """Keys x segments: True where the key forces agreement, plus a last
        row of False for pairs no key found."""
        table = np.zeros((len(self.keys) + 1, segments), dtype=np.bool_)
        for number, key in enumerate(self.keys):
            table[number, list(key)] = True
        return table


def segment_hashes(
    clks: Clks, segments: Sequence[FieldSegment]
) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each record's filter in each segment; 0 if empty.

    Not a cryptographic hash: it only groups identical filters, and the
    filters themselves are already keyed hashes.
    """
    hashes = np.zeros((len(clks), len(segments)), dtype=np.uint64)
    for column, segment in enumerate(segments):
        part = clks[:, segment.start : segment.stop]
        value = np.zeros(len(clks), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for offset in range(0, part.shape[1], 8):
                word = np.zeros((len(clks), 8), dtype=np.uint8)
                chunk = part[:, offset : offset + 8]
                word[:, : chunk.shape[1]] = chunk
                value = (value ^ word.view(np.uint64)[:, 0]) * _MIXER
                value ^= value >> np.uint64(29)
        empty = ~part.any(axis=1)
        value[empty] = 0
        value[~empty & (value == 0)] = 1
        hashes[:, column] = value
    return hashes


def choose_keys(
    hashes: npt.NDArray[np.uint64],
    budget: int,
    *,
    total_budget: int | None = None,
    max_width: int = 2,
) -> tuple[Key, ...]:
    """Keys (one or two segments) whose blocks hold at most ``budget`` pairs
    each, and at most ``total_budget`` together (tightest keys first)."""
    segments = hashes.shape[1]
    limit = total_budget if total_budget is not None else 4 * budget
    chosen: list[Key] = []
    held = 0
    for width in range(1, max_width + 1):
        for key in combinations(range(segments), width):
            if any(set(kept) <= set(key) for kept in chosen):
                continue  # Every pair it finds, a looser key finds already.
            pairs = _pair_count(_key_hash(hashes, key))
            if pairs <= budget and held + pairs <= limit:
                chosen.append(key)
                held += pairs
    return tuple(chosen)


def block_pairs(
    hashes: npt.NDArray[np.uint64],
    keys: Sequence[Key],
    party_of: npt.NDArray[np.integer],
    *,
    across: bool,
    within: bool,
) -> FieldBlocks:
    """Every allowed pair sharing a block under any key, each pair once."""
    total = len(hashes)
    codes, key_of = [], []
    for number, key in enumerate(keys):
        key_hash = _key_hash(hashes, key)
        left, right = pairs_sharing_a_value(key_hash, key_hash != 0)
        same = party_of[left] == party_of[right]
        allowed = np.zeros(len(left), dtype=np.bool_)
        if across:
            allowed |= ~same
        if within:
            allowed |= same
        left, right = left[allowed], right[allowed]
        low, high = np.minimum(left, right), np.maximum(left, right)
        codes.append(low * total + high)
        key_of.append(np.full(len(low), number, dtype=np.int32))
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return FieldBlocks(empty, empty.copy(), np.zeros(0, dtype=np.int32), ())
    code = np.concatenate(codes)
    # np.unique keeps the first occurrence: a pair belongs to the first key.
    unique, first = np.unique(code, return_index=True)
    return FieldBlocks(
        unique // total, unique % total, np.concatenate(key_of)[first], tuple(keys)
    )


def _key_hash(hashes: npt.NDArray[np.uint64], key: Key) -> npt.NDArray[np.uint64]:
    """One hash per record for a key; 0 where any of its fields is missing."""
    combined = hashes[:, key[0]].copy()
    missing = combined == 0
    with np.errstate(over="ignore"):
        for column in key[1:]:
            combined = (combined * _MIXER) ^ hashes[:, column]
            missing |= hashes[:, column] == 0
    combined[missing] = 0
    return combined


def _pair_count(key_hash: npt.NDArray[np.uint64]) -> int:
    present = key_hash[key_hash != 0]
    _, sizes = np.unique(present, return_counts=True)
    return int((sizes * (sizes - 1) // 2).sum())
