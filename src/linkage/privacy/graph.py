"""The graph-matching attack (after Vidanage, Christen, Ranbaduge, Schnell, CIKM 2020).

Threat model: someone holds the encodings but not the secret, knows the
(public) schema and holds a plaintext list of people, some of whom were
encoded. The attacker encodes that list with the same schema under a secret
of their own. Bloom-filter encodings keep similarities, whatever the key: two
records that share many q-grams have a high Dice coefficient under any key. So
the similarity graph of the encodings and the similarity graph of the
attacker's own encodings have nearly the same shape, and matching the two
graphs' nodes re-identifies the encodings.

When the schema gives every field (or group of fields) its own filter, the
attacker knows where each filter lies and compares records filter by filter:
every feature below is then taken per filter, side by side, which tells far
more than the similarity of whole encodings.

Steps: describe each node by features of its neighbourhood (its highest
similarities, its degree at several thresholds, its bit count, its mean
similarity), match the nodes of the two graphs on those features one to one,
and keep the most confident matches as anchors. Then describe every node by
its similarities to the anchors, which is far more telling, match again, take
more anchors, and repeat. Seeds from node features are often wrong, so this
starts from a few different numbers of anchors and keeps the result whose
matches stand out most from their alternatives.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema
from linkage.privacy.assign import Assignment, assign_one_to_one
from linkage.privacy.bits import Progress, report, unpack_bits
from linkage.privacy.tokens import check_columns

Bits = npt.NDArray[np.float32]

_TOP = 10  # Highest similarities kept as node features.
_QUANTILES = (0.5, 0.9, 0.99, 0.999)  # Degree thresholds, as similarity quantiles.
_BLOCK = 2048  # Rows of a similarity block: bounds memory on large inputs.
_FIRST_ANCHORS = (10, 30, 60)  # Anchors of each start.
_MAX_ANCHORS = 1000
_GROWTH = 1.5  # Anchors grow slowly so that wrong ones stay few.
_STEP = "Graph-matching attack"


def graph_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    *,
    secret: bytes | None = None,
    rounds: int = 12,
    progress: Progress | None = None,
) -> Assignment:
    """Re-identify encodings by matching similarity graphs.

    Args:
        clks: the encodings, one packed CLK per row.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) schema; the population is encoded with it
            through :class:`~linkage.encoding.encoder.ClkEncoder`, so whatever
            the schema says (hardening included) is mirrored.
        secret: the attacker's own secret (default: random).
        rounds: refinement rounds on anchors.
        progress: called with ("Graph-matching attack", done, total).

    Raises:
        InputError: the population lacks a column the schema encodes.
    """
    check_columns(schema, list(population.columns))
    encoder = ClkEncoder(schema, secret if secret is not None else os.urandom(32))
    chunk = encoder.encode(population.fillna("").astype(str))
    usable = np.flatnonzero(~chunk.invalid)
    theirs = unpack_bits(clks, schema.clk_length)
    ours = unpack_bits(chunk.clks[usable], schema.clk_length)
    filters = _filter_bits(schema)
    total = len(_FIRST_ANCHORS) * rounds + 1
    report(progress, _STEP, 0, total)
    features = [_node_features(theirs[:, part], ours[:, part]) for part in filters]
    seeded = assign_one_to_one(
        -_distances(*(np.hstack(side) for side in zip(*features, strict=True)))
    )
    best: Assignment | None = None
    best_fit = -np.inf
    for trial, first in enumerate(_FIRST_ANCHORS):
        # Seeds from node features are often wrong; several starts, and the
        # one whose matches stand out most from the alternatives, win.
        assignment = _refine(theirs, ours, filters, seeded, first, rounds,
                             progress, trial * rounds, total)  # fmt: skip
        fit = float(np.median(assignment.confidence))
        if fit > best_fit:
            best, best_fit = assignment, fit
    assert best is not None
    assignment = best
    report(progress, _STEP, total, total)
    record = np.where(assignment.record >= 0, usable[assignment.record], -1)
    return Assignment(record=record.astype(np.int64), confidence=assignment.confidence)


def _filter_bits(schema: LinkageSchema) -> list[slice]:
    """The bit columns of each filter of an encoding (one for a plain CLK)."""
    ends = np.cumsum([segment.clk_bits for segment in schema.segments]).tolist()
    return [slice(start, end) for start, end in zip([0, *ends], ends, strict=False)]


def _refine(
    theirs: Bits,
    ours: Bits,
    filters: list[slice],
    assignment: Assignment,
    anchors: int,
    rounds: int,
    progress: Progress | None,
    done: int,
    total: int,
) -> Assignment:
    """Match on similarities to the most confident matches, growing them."""
    for step in range(rounds):
        report(progress, _STEP, done + step, total)
        chosen = assignment.most_confident(min(anchors, len(theirs), len(ours)))
        if not len(chosen):
            break
        matched = assignment.record[chosen]
        mine = np.hstack([_dice(theirs[:, f], theirs[chosen, f]) for f in filters])
        yours = np.hstack([_dice(ours[:, f], ours[matched, f]) for f in filters])
        assignment = assign_one_to_one(-_distances(mine, yours))
        anchors = min(int(anchors * _GROWTH), _MAX_ANCHORS)
    return assignment


def _dice(left: Bits, right: Bits) -> npt.NDArray[np.float32]:
    """Dense Dice coefficients of every left row with every right row."""
    common = left @ right.T
    total = left.sum(axis=1)[:, None] + right.sum(axis=1)[None, :]
    result: npt.NDArray[np.float32] = np.divide(
        2 * common, total, out=np.zeros_like(common), where=total > 0
    )
    return result


def _node_features(
    theirs: Bits, ours: Bits
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Neighbourhood features of both graphs, on one scale."""
    sample = theirs[: min(len(theirs), 1000)]
    pairs = _dice(sample, sample)[np.triu_indices(len(sample), k=1)]
    thresholds = np.zeros(0)
    if len(pairs):
        thresholds = np.quantile(pairs.astype(np.float64), _QUANTILES)
    mine = _graph_features(theirs, thresholds)
    yours = _graph_features(ours, thresholds)
    both = np.concatenate([mine, yours])
    centre, scale = both.mean(axis=0), both.std(axis=0) + 1e-6
    return (mine - centre) / scale, (yours - centre) / scale


def _graph_features(
    bits: Bits, thresholds: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """Per node: top similarities, degree shares, bit share, mean similarity."""
    count = len(bits)
    top = min(_TOP, max(count - 1, 0))
    columns = _TOP + len(thresholds) + 2
    features = np.zeros((count, columns), dtype=np.float32)
    for start in range(0, count, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, count))
        block = _dice(bits[rows], bits)
        block[np.arange(len(rows)), rows] = -1.0  # Not its own neighbour.
        if top:
            best = -np.partition(-block, top - 1, axis=1)[:, :top]
            features[rows, :top] = -np.sort(-best, axis=1)
        for k, threshold in enumerate(thresholds):
            features[rows, _TOP + k] = (block >= threshold).sum(axis=1) / max(
                count - 1, 1
            )
        features[rows, -2] = bits[rows].mean(axis=1)
        features[rows, -1] = (block.sum(axis=1) + 1.0) / max(count - 1, 1)
    return features


def _distances(
    left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Squared Euclidean distances of every left row to every right row."""
    squared = (left * left).sum(axis=1)[:, None] + (right * right).sum(axis=1)[None, :]
    result: npt.NDArray[np.float32] = np.maximum(squared - 2 * (left @ right.T), 0)
    return result
