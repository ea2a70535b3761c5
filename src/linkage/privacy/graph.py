"""The graph-matching attack (Vidanage et al., CIKM 2020; Schäfer et al., ACSAC 2024).

Threat model: someone holds the encodings but not the secret, knows the
(public) schema and holds a plaintext list of people, some of whom were
encoded. The attacker encodes that list with the same schema under secrets of
their own. Bloom-filter encodings keep similarities, whatever the key: two
records that share many q-grams have a high Dice coefficient under any key. So
the similarity graph of the encodings and the similarity graph of the
attacker's own encodings have nearly the same shape, and matching the two
graphs' nodes re-identifies the encodings.

The attack, as published: keep the strongest tenth of each graph's edges,
embed the nodes (:mod:`linkage.privacy.embedding`), align the two embedding
spaces without any known pair (:mod:`linkage.privacy.alignment`) and assign
the nodes one to one on the aligned embeddings.

Two additions make it stronger than published, as a determined attacker
would: the attacker averages the similarities of her list encoded under
several secrets of her own, which removes her own hash collisions from her
graph; and every start is refined on anchors, the most confident matches:
each node is described by its similarities to the anchors, which is far more
telling than any embedding, matched again, and the anchors grow. Node
features (highest similarities, degrees, mean similarity) give a cheap first
start; the published steps run when its matching makes the two graphs agree
less than a right matching would (the attacker measures that on her own
keys). The result that makes the two graphs agree best wins.

When the schema gives every field (or group of fields) its own filter, the
attacker knows where each filter lies and compares records filter by filter.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.formats.schema import LinkageSchema
from linkage.privacy.alignment import wasserstein_procrustes
from linkage.privacy.assign import Assignment, assign_one_to_one
from linkage.privacy.bits import Progress, filter_slices, report, unpack_bits
from linkage.privacy.embedding import netmf_embedding, strongest_edges
from linkage.privacy.mirror import encode_as_sent
from linkage.privacy.tokens import check_columns

Bits = npt.NDArray[np.float32]
Similarities = list[npt.NDArray[np.float32]]  # One square matrix per filter.

#: Secrets of her own under which the attacker encodes her list.
ATTACKER_KEYS = 4
_TOP = 10  # Highest similarities kept as node features.
_QUANTILES = (0.5, 0.9, 0.99, 0.999)  # Degree thresholds, as similarity quantiles.
_FIRST_ANCHORS = 15
_MAX_ANCHORS = 1000
_GROWTH = 1.5  # Anchors grow slowly so that wrong ones stay few.
_AGREEMENT_SAMPLE = 1000
_GOOD_ENOUGH = 0.9  # Share of the attainable agreement that ends the search.
_STEP = "Graph-matching attack"


def graph_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    *,
    secret: bytes | None = None,
    keys: int = ATTACKER_KEYS,
    rounds: int = 12,
    published: bool = False,
    progress: Progress | None = None,
    absent: Sequence[str] = (),
) -> Assignment:
    """Re-identify encodings by matching similarity graphs.

    Args:
        clks: the encodings, one packed CLK per row.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) schema; the population is encoded with it
            through :func:`~linkage.privacy.mirror.encode_as_sent`, so whatever
            the schema says (hardening included) is mirrored.
        secret: the attacker's own secret (default: random); ``keys`` secrets
            are derived from it.
        keys: how many secrets of her own the attacker encodes her list under.
        rounds: refinement rounds on anchors.
        published: only the published steps (embed, align, assign): no node
            features and no refinement, to compare with the published figures.
        progress: called with ("Graph-matching attack", done, total).
        absent: fields the victims' agency does not hold; the list is
            encoded as that agency sends its records.

    Raises:
        InputError: the population lacks a column the schema encodes.
    """
    check_columns(schema, list(population.columns))
    total = 3 + 2 * rounds
    step = _Steps(progress, total)
    usable, ours, attainable = _attacker_similarities(
        population, schema, secret or os.urandom(32), max(keys, 1), absent
    )
    step()
    filters = filter_slices(schema)
    bits = unpack_bits(clks, schema.clk_length)
    theirs = [_dice(bits[:, part], bits[:, part]) for part in filters]
    step()
    if published:
        return _in_population_rows(_published(theirs, ours), usable)
    best: Assignment | None = None
    best_agreement = -np.inf
    # The cheap start first; the published one only if that one falls short
    # of the agreement the attacker's own keys show a right matching reaches.
    for start in (_by_node_features, _published):
        found = _refine(theirs, ours, start(theirs, ours), rounds, step)
        agreement = graph_agreement(theirs, ours, found)
        if agreement > best_agreement:
            best, best_agreement = found, agreement
        if best_agreement >= _GOOD_ENOUGH * attainable:
            break
    assert best is not None
    report(progress, _STEP, total, total)
    return _in_population_rows(best, usable)


def _in_population_rows(
    assignment: Assignment, usable: npt.NDArray[np.intp]
) -> Assignment:
    """An assignment to the attacker's usable rows, as population rows."""
    record = np.where(assignment.record >= 0, usable[assignment.record], -1)
    return Assignment(record=record.astype(np.int64), confidence=assignment.confidence)


class _Steps:
    """Counts progress steps."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        report(self.progress, _STEP, min(self.done, self.total), self.total)


def graph_agreement(
    theirs: Similarities, ours: Similarities, assignment: Assignment
) -> float:
    """How well a matching makes the two graphs agree: the correlation of the
    pairwise similarities of matched nodes (near 0 for a random matching)."""
    assigned = np.flatnonzero(assignment.record >= 0)
    if len(assigned) < 3:
        return -1.0
    sample = assigned[:_AGREEMENT_SAMPLE]
    matched = assignment.record[sample]
    upper = np.triu_indices(len(sample), k=1)
    mine = np.concatenate([s[np.ix_(sample, sample)][upper] for s in theirs])
    yours = np.concatenate([s[np.ix_(matched, matched)][upper] for s in ours])
    if mine.std() == 0 or yours.std() == 0:
        return -1.0
    return float(np.corrcoef(mine, yours)[0, 1])


def _attacker_similarities(
    population: pd.DataFrame,
    schema: LinkageSchema,
    secret: bytes,
    keys: int,
    absent: Sequence[str],
) -> tuple[npt.NDArray[np.intp], Similarities, float]:
    """The attacker's similarity graphs, averaged over her own secrets, and the
    agreement a right matching can be expected to reach.

    Each secret's hash collisions add noise of their own; the average keeps
    what every key shares, the similarity of the records themselves. How well
    one of her keys' graphs agrees with the others' stands in for how well the
    victim's graph agrees with hers under the right matching.
    """
    filters = filter_slices(schema)
    usable: npt.NDArray[np.intp] | None = None
    sums: Similarities = []
    for index in range(keys):
        derived = hashlib.sha256(secret + index.to_bytes(4, "big")).digest()
        chunk = encode_as_sent(schema, derived, population, absent)
        if usable is None:
            usable = np.flatnonzero(~chunk.invalid)
        bits = unpack_bits(chunk.clks[usable], schema.clk_length)
        for position, part in enumerate(filters):
            similarity = _dice(bits[:, part], bits[:, part]) / np.float32(keys)
            if index == 0:
                sums.append(similarity)
            else:
                sums[position] += similarity
        if index == 0:
            first = [s * np.float32(keys) for s in sums]
    assert usable is not None
    identity = Assignment(
        record=np.arange(len(usable), dtype=np.int64), confidence=np.zeros(len(usable))
    )
    rest: Similarities = [
        ((total * np.float32(keys) - one) / max(keys - 1, 1)).astype(np.float32)
        for total, one in zip(sums, first, strict=True)
    ]
    attainable = graph_agreement(first, rest if keys > 1 else first, identity)
    return usable, sums, attainable


def _published(theirs: Similarities, ours: Similarities) -> Assignment:
    """The published attack: embed, align without known pairs, assign."""
    mine = netmf_embedding(strongest_edges(_mean(theirs)))
    yours = netmf_embedding(strongest_edges(_mean(ours)))
    rotation = wasserstein_procrustes(mine, yours)
    return assign_one_to_one((mine @ rotation) @ yours.T)


def _mean(similarities: Similarities) -> npt.NDArray[np.float64]:
    total = np.zeros(similarities[0].shape)
    for similarity in similarities:
        total += similarity
    result: npt.NDArray[np.float64] = total / len(similarities)
    return result


def _by_node_features(theirs: Similarities, ours: Similarities) -> Assignment:
    """Match nodes on features of their neighbourhoods, filter by filter."""
    features = [
        _node_features(mine, yours) for mine, yours in zip(theirs, ours, strict=True)
    ]
    mine = np.hstack([pair[0] for pair in features])
    yours = np.hstack([pair[1] for pair in features])
    squared = (mine * mine).sum(axis=1)[:, None] + (yours * yours).sum(axis=1)[None, :]
    return assign_one_to_one(-np.maximum(squared - 2 * (mine @ yours.T), 0))


def _node_features(
    theirs: npt.NDArray[np.float32], ours: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Neighbourhood features of both graphs, on one scale."""
    sample = theirs[: min(len(theirs), 1000), : min(len(theirs), 1000)]
    pairs = sample[np.triu_indices(len(sample), k=1)]
    thresholds = np.zeros(0)
    if len(pairs):
        thresholds = np.quantile(pairs.astype(np.float64), _QUANTILES)
    mine = _graph_features(theirs, thresholds)
    yours = _graph_features(ours, thresholds)
    both = np.concatenate([mine, yours])
    centre, scale = both.mean(axis=0), both.std(axis=0) + 1e-6
    return (mine - centre) / scale, (yours - centre) / scale


def _graph_features(
    similarity: npt.NDArray[np.float32], thresholds: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per node: top similarities, degree shares at thresholds, mean similarity."""
    count = len(similarity)
    others = similarity.astype(np.float64)
    np.fill_diagonal(others, -1.0)  # Not its own neighbour.
    top = min(_TOP, max(count - 1, 0))
    columns = [-np.sort(-np.partition(-others, top - 1, axis=1)[:, :top], axis=1)]
    if not top:
        columns = []
    scale = max(count - 1, 1)
    columns += [((others >= t).sum(axis=1) / scale)[:, None] for t in thresholds]
    columns.append(((others.sum(axis=1) + 1.0) / scale)[:, None])
    return np.hstack(columns)


def _refine(
    theirs: Similarities,
    ours: Similarities,
    assignment: Assignment,
    rounds: int,
    step: Callable[[], None],
) -> Assignment:
    """Match on similarities to the most confident matches, growing them."""
    anchors = _FIRST_ANCHORS
    for _ in range(rounds):
        step()
        chosen = assignment.most_confident(min(anchors, *theirs[0].shape, len(ours[0])))
        if not len(chosen):
            break
        matched = assignment.record[chosen]
        mine = _profiles([s[:, chosen] for s in theirs])
        yours = _profiles([s[:, matched] for s in ours])
        assignment = assign_one_to_one(mine @ yours.T)
        anchors = min(int(anchors * _GROWTH), _MAX_ANCHORS)
    return assignment


def _profiles(columns: Similarities) -> npt.NDArray[np.float64]:
    """Each node's similarities to the anchors, centred and scaled per filter,
    so that a dot product is a correlation that a node's overall density
    (many set bits, high similarity to everyone) does not sway."""
    parts = []
    for block in columns:
        centred = block.astype(np.float64) - block.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(centred, axis=1, keepdims=True)
        parts.append(centred / np.where(norms > 0, norms, 1.0))
    result: npt.NDArray[np.float64] = np.hstack(parts) / np.sqrt(len(parts))
    return result


def _dice(left: Bits, right: Bits) -> npt.NDArray[np.float32]:
    """Dense Dice coefficients of every left row with every right row."""
    common = left @ right.T
    total = left.sum(axis=1)[:, None] + right.sum(axis=1)[None, :]
    result: npt.NDArray[np.float32] = np.divide(
        2 * common, total, out=np.zeros_like(common), where=total > 0
    )
    return result
