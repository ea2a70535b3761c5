"""The equality-structure attack: who shares an identical filter with whom.

Whoever holds the encodings sees which records carry an identical filter: with
one filter per field, everyone with the same surname, postcode or birth date;
with field groups, the same name, the same birth date and sex, the same
address. Hashing hides the values, not that pattern. An attacker who encodes
her population list under the public schema with a secret of her own sees the
same pattern among her records (identical values give identical filters under
any key), and the two patterns are the same graph up to the names of its
nodes: records joined to the values they hold. Colour refinement (1-WL) on
that graph gives each record a colour that only the graph's shape decides;
a record whose colour no other record has, on either side, is re-identified
for certain. Records that share a colour are paired at random, as an attacker
would, so the share also counts lucky guesses (about one per colour).

Match keys (:mod:`linkage.encoding.match_keys`) are identical values by
design, so they join the graph as more values: the attacker's own keys of her
list under her own secret against the victims' keys.

This needs no known pairs and no similarity at all: it is what a curious
operator can do with a spreadsheet. It is strongest where the attacker's list
holds exactly the encoded records (full overlap); typing errors and missing
people break the pattern's correspondence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.formats.clkfile import match_key_columns
from linkage.formats.schema import LinkageSchema
from linkage.privacy.assign import Assignment
from linkage.privacy.bits import Progress, filter_slices, report
from linkage.privacy.mirror import encode_as_sent
from linkage.privacy.tokens import check_columns

__all__ = ["equality_attack", "key_classes", "value_classes"]

_STEP = "Equality-structure attack"
_MAX_ROUNDS = 12  # Refinement stops earlier once no colour splits.
_MISSING = -1

Codes = npt.NDArray[np.int64]


def equality_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    *,
    secret: bytes | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    match_keys: npt.NDArray[np.uint8] | None = None,
    absent: Sequence[str] = (),
) -> Assignment:
    """Re-identify encodings by the pattern of identical filters (and match
    keys) they share.

    Args:
        clks: the encodings, one packed row each.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) schema; the population is encoded with it under
            the attacker's own ``secret`` (default: derived from a fixed label).
        seed: seeds the pairing of records that share a colour.
        progress: called with ("Equality-structure attack", done, total).
        match_keys: the encodings' match keys, a row each (None: the file
            has none, or they are left out of the attack).
        absent: fields the victims' agency does not hold; the list is
            encoded as that agency sends its records.

    Raises:
        InputError: the population lacks a column the schema encodes.
    """
    check_columns(schema, list(population.columns))
    secret = secret or hashlib.sha256(b"linkage equality attacker").digest()
    encoded = encode_as_sent(schema, secret, population, absent)
    usable = np.flatnonzero(~encoded.invalid)
    theirs = value_classes(clks, schema)
    ours = value_classes(encoded.clks[usable], schema)
    if match_keys is not None and encoded.match_keys is not None:
        theirs = np.hstack([theirs, key_classes(match_keys)])
        ours = np.hstack([ours, key_classes(encoded.match_keys[usable])])
    report(progress, _STEP, 1, 3)
    colours = _refine(np.concatenate([theirs, ours + _offset(theirs, ours)]))
    report(progress, _STEP, 2, 3)
    assignment = _pair_by_colour(colours[: len(theirs)], colours[len(theirs) :], seed)
    report(progress, _STEP, 3, 3)
    record = np.where(assignment.record >= 0, usable[assignment.record], -1)
    return Assignment(record=record.astype(np.int64), confidence=assignment.confidence)


def value_classes(clks: npt.NDArray[np.uint8], schema: LinkageSchema) -> Codes:
    """``(records, filters)``: a code per distinct filter, -1 where it is empty.

    An empty filter is a missing value: it joins no class, as a missing field
    tells nothing about who else lacks it.
    """
    bits = np.unpackbits(np.asarray(clks, dtype=np.uint8), axis=1)
    filters = filter_slices(schema)
    codes = np.full((len(bits), len(filters)), _MISSING, np.int64)
    for column, part in enumerate(filters):
        packed = np.packbits(bits[:, part], axis=1)
        present = packed.any(axis=1)
        keys = [row.tobytes() for row in packed[present]]
        codes[present, column] = pd.factorize(pd.Series(keys, dtype=object))[0]
    return codes


def key_classes(match_keys: npt.NDArray[np.uint8]) -> Codes:
    """``(records, keys)``: a code per distinct match key, -1 where the
    record has none (all zero)."""
    columns = match_key_columns(match_keys)
    codes = np.full((len(match_keys), len(columns)), _MISSING, np.int64)
    for column, part in enumerate(columns):
        present = part.any(axis=1)
        keys = [row.tobytes() for row in part[present]]
        codes[present, column] = pd.factorize(pd.Series(keys, dtype=object))[0]
    return codes


def _offset(theirs: Codes, ours: Codes) -> Codes:
    """Shift the attacker's class codes past the victim's, keeping -1."""
    shift = int(theirs.max(initial=-1)) + 1
    return np.where(ours >= 0, shift, 0).astype(np.int64)


def _refine(classes: Codes) -> Codes:
    """Colour refinement on the bipartite record-value graph.

    A record's next colour is its colour with, for each filter, the sorted
    colours of the records sharing its value there (the value's colour).
    Classes are never shared between the two sides, so equal colours mean
    equal shapes, not shared values.
    """
    colours = np.zeros(len(classes), dtype=np.int64)
    count = 1
    for _ in range(_MAX_ROUNDS):
        signature = [colours]
        for column in range(classes.shape[1]):
            signature.append(_value_colours(classes[:, column], colours))
        keys = pd.Series(list(zip(*signature, strict=True)), dtype=object)
        colours = pd.factorize(keys)[0].astype(np.int64)
        if int(colours.max(initial=-1)) + 1 == count:
            break
        count = int(colours.max(initial=-1)) + 1
    return colours


def _value_colours(values: Codes, colours: Codes) -> Codes:
    """Each record's value class coloured by the multiset of its members'
    colours (-1 for a missing value)."""
    members: dict[int, list[int]] = {}
    for value, colour in zip(values.tolist(), colours.tolist(), strict=True):
        if value >= 0:
            members.setdefault(value, []).append(colour)
    shapes: dict[tuple[int, ...], int] = {}
    colour_of = {
        value: shapes.setdefault(tuple(sorted(held)), len(shapes))
        for value, held in members.items()
    }
    return np.array([colour_of.get(value, _MISSING) for value in values.tolist()])


def _pair_by_colour(theirs: Codes, ours: Codes, seed: int) -> Assignment:
    """Pair records of equal colour at random; a colour held by one record on
    each side is certain (confidence 1), one held by k is a 1-in-k guess.

    At random, not in order: a list kept in the victims' order would
    otherwise pair many look-alikes right by luck.
    """
    rng = np.random.default_rng(seed)
    record = np.full(len(theirs), -1, dtype=np.int64)
    confidence = np.zeros(len(theirs))
    mine = pd.Series(np.arange(len(theirs))).groupby(theirs).agg(list)
    yours = pd.Series(np.arange(len(ours))).groupby(ours).agg(list)
    for colour, rows in mine.items():
        candidates = yours.get(colour)
        if candidates is None:
            continue
        pairs = min(len(rows), len(candidates))
        record[rows[:pairs]] = rng.permutation(candidates)[:pairs]
        confidence[rows[:pairs]] = 1.0 / max(len(rows), len(candidates))
    return Assignment(record=record, confidence=confidence)
