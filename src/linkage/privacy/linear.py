"""The linear attack: diffusion is XOR, so it is linear over GF(2).

Diffusion turns a Bloom filter ``b`` (``n`` bits, keyed by the secret) into
``e = M b``, where the secret ``M`` has ``taps`` ones per row. An attacker who
holds many encodings, a few known (encoding, person) pairs and the public
schema can exploit that linearity twice:

* **Bit relations.** Every encoding lies in the column space of ``M``; input
  bits that no tap uses (about ``e**-taps`` of them) and input bits no record
  sets make its rank less than the length, so some XORs of output bits are the
  same in every encoding. :func:`bit_relations` finds them by Gaussian
  elimination over GF(2). They hold for encodings not yet seen only when
  there are clearly more encodings than the rank (else the sample itself is
  short of rank), which :attr:`BitRelations.held_out_violations` checks.
* **Distances survive.** ``e1 XOR e2 = M (b1 XOR b2)``: an output bit differs
  when an odd number of its taps differ, so two encodings whose filters differ
  in ``d`` of ``n`` bits differ in about ``L/2 * (1 - (1 - 2d/n)**taps)`` of
  their ``L`` bits. The attacker predicts ``d`` for any two records from
  their tokens (the schema says how many bits each token sets) and anchors on
  the known pairs: an unknown encoding's distances to the known encodings
  should follow the predicted distances of its record to the known records.
  Each (encoding, record) pair is scored by the Gaussian log-likelihood of
  that fit, calibrated on the distances among the known pairs themselves;
  records are assigned one to one and the anchors grow from the most
  confident assignments (:func:`linkage.privacy.self_training.self_train`).
  An encoding of several filters (views, field groups) is fitted filter by
  filter, each with its own fields and taps, and the evidence summed: each
  filter's distances are a separate measurement of the same people. Fitting
  the whole encoding as one filter found about 1 % of the demo's hardened
  field groups; filter by filter finds nearly all of them.

Without diffusion the transform is the identity and the attack works on
plain CLKs as well. What it does not do: recover ``M`` or the known records'
filters. ``L`` equations ``e = M b`` with ``M`` unknown have far too many
solutions; the relations constrain only the left null space of ``M``, whose
dense basis (Gaussian elimination gives dense vectors, and finding the sparse
ones is a minimum-weight codeword problem) does not name the taps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from linkage.formats.extension import Segment
from linkage.formats.schema import BitsPerToken, LinkageSchema
from linkage.privacy.assign import Assignment
from linkage.privacy.bits import Progress, filter_slices, unpack_bits
from linkage.privacy.self_training import Pairs, checked_pairs, self_train
from linkage.privacy.tokens import TokenTable, merge_owners, token_table

Floats = npt.NDArray[np.float32]
Packed = npt.NDArray[np.uint64]

_MAX_ANCHORS = 2000  # Beyond this many anchors the scores barely change.
_VARIANCE_FLOOR = 1.0  # A distance is never predicted better than to a bit.


@dataclass(frozen=True)
class BitRelations:
    """What Gaussian elimination over GF(2) found in the encodings.

    Attributes:
        length: bits per encoding.
        encodings: how many encodings were eliminated.
        rank: the dimension of the affine span of those encodings.
        relations: ``(length - rank, length)`` 0/1 matrix: each row a set of
            output bits whose XOR is the same in every encoding.
        constants: that XOR for each row.
        held_out_violations: the share of (relation, held-out encoding) pairs
            where the relation fails; near 0 means the relations are the
            encoding's, near 0.5 that they came from too few encodings.
    """

    length: int
    encodings: int
    rank: int
    relations: npt.NDArray[np.uint8]
    constants: npt.NDArray[np.uint8]
    held_out_violations: float

    @property
    def count(self) -> int:
        """How many independent relations were found."""
        return len(self.relations)


def bit_relations(
    clks: npt.NDArray[np.uint8], length: int, *, held_out: float = 0.2
) -> BitRelations:
    """The XORs of output bits that are constant over the encodings.

    Args:
        clks: the encodings, one packed CLK per row; empty ones (a record
            with nothing to encode) are left out.
        length: bits per encoding.
        held_out: the share of encodings kept back to check the relations.
    """
    bits = np.unpackbits(np.asarray(clks, dtype=np.uint8), axis=1)[:, :length]
    bits = bits[bits.any(axis=1)]
    cut = len(bits) - int(len(bits) * held_out)
    fitted, kept = bits[:cut], bits[cut:]
    if not len(fitted):
        empty = np.zeros((0, length), dtype=np.uint8)
        return BitRelations(length, 0, 0, empty, np.zeros(0, np.uint8), 0.0)
    # The affine span: differences from the first encoding span its direction.
    differences = fitted[1:] ^ fitted[0]
    pivots, reduced = _row_reduce(_pack(differences), length)
    relations = _null_space(pivots, reduced, length)
    constants = (relations.astype(np.int64) @ fitted[0].astype(np.int64)) % 2
    violations = 0.0
    if len(kept) and len(relations):
        values = (kept.astype(np.int64) @ relations.T.astype(np.int64)) % 2
        violations = float((values != constants[None, :]).mean())
    return BitRelations(
        length=length,
        encodings=len(fitted),
        rank=len(pivots),
        relations=relations,
        constants=constants.astype(np.uint8),
        held_out_violations=violations,
    )


def linear_attack(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    known: Pairs,
    *,
    rounds: int = 20,
    progress: Progress | None = None,
    names_apart: bool = False,
) -> Assignment:
    """Re-identify diffused encodings by their distances to known pairs.

    Args:
        clks: the encodings, one packed CLK per row.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the (public) linkage schema the encodings were made with.
        known: ``(k, 2)`` array of (encoding row, population row) pairs.
        rounds: the most rounds of growing the anchors.
        progress: called with ("Linear attack", round, rounds).
        names_apart: where the schema's ``either_order`` hashes two fields
            under one key, model their tokens apart (each field's its own)
            instead of as the encoder sets them; neither model wins on
            every list, so the privacy check runs both.

    Returns:
        An assignment in which the known pairs are assigned to themselves.

    Raises:
        ValueError: ``known`` has a row outside the encodings or population.
        InputError: the population lacks a column the schema encodes.
    """
    known = checked_pairs(known, len(clks), len(population), "linear attack")
    bits = unpack_bits(clks, schema.clk_length)
    # Each field's tokens weighed by its own strategy, then (unless kept
    # apart) merged where two fields hash under one key (``either_order``).
    table = token_table(schema, population, by_feature=True)
    weights = _token_weights(schema, table)
    vocabulary = table.vocabulary
    if not names_apart:
        vocabulary, weights = merge_owners(schema, table, weights)
    token_features = [feature for feature, _ in vocabulary]
    parts = [
        _Part.of(schema, segment, bits[:, columns], weights, token_features)
        for segment, columns in zip(schema.segments, filter_slices(schema), strict=True)
    ]

    def scores_of(pairs: Pairs) -> Floats:
        # Each filter is diffused on its own: fitted apart, evidence summed.
        anchors = pairs[:_MAX_ANCHORS]
        return sum(
            (part.scores(anchors) for part in parts[1:]), parts[0].scores(anchors)
        )

    return self_train(
        scores_of,
        known,
        len(clks),
        step="Linear attack",
        rounds=rounds,
        progress=progress,
    )


@dataclass(frozen=True)
class _Transform:
    """Expected diffused distance from a Bloom-filter distance.

    Attributes:
        filter_bits: ``n``, the bits of the filter that is diffused.
        output_bits: ``L``, the bits of the encoding.
        taps: input bits XORed into each output bit (1: no diffusion).
    """

    filter_bits: int
    output_bits: int
    taps: int

    @classmethod
    def of(cls, schema: LinkageSchema, segment: Segment) -> _Transform:
        hardening = segment.hardening or schema.extension.hardening
        filter_bits = hardening.balanced_length(segment.hash_bits >> schema.xor_folds)
        taps = 1 if hardening.diffusion is None else hardening.diffusion.taps
        return cls(filter_bits, segment.clk_bits, taps)

    def __call__(self, distance: Floats) -> Floats:
        if self.taps == 1:
            # No diffusion: the filter's bits are the encoding's (balancing
            # doubles the length but also the distance, so this still holds).
            return distance * np.float32(self.output_bits / self.filter_bits)
        differ = np.clip(distance / self.filter_bits, 0.0, 0.5)
        share = (1 - (1 - 2 * differ) ** self.taps) / 2
        result: Floats = (self.output_bits * share).astype(np.float32)
        return result


@dataclass(frozen=True)
class _Part:
    """One filter of the encodings (the CLK, a view, a field's filter): its
    bits, the token weights of the features it holds, and its diffusion."""

    bits: Floats
    weights: sp.csr_matrix
    transform: _Transform

    @classmethod
    def of(
        cls,
        schema: LinkageSchema,
        segment: Segment,
        bits: Floats,
        weights: sp.csr_matrix,
        token_features: list[str],
    ) -> _Part:
        held = [i for i, f in enumerate(token_features) if f in segment.features]
        return cls(bits, weights[:, held], _Transform.of(schema, segment))

    def scores(self, anchors: Pairs) -> Floats:
        """Each (encoding, record) pair's fit of this filter's distances."""
        observed = _hamming(self.bits, self.bits[anchors[:, 0]])
        filter_distance = _filter_distance(self.weights, anchors[:, 1], self.transform)
        return _fit_scores(observed, self.transform(filter_distance), anchors)


def _token_weights(schema: LinkageSchema, table: TokenTable) -> sp.csr_matrix:
    """The bits each token of each record sets, as the schema says."""
    weights = table.matrix.tocsc(copy=True)
    features = np.array([feature for feature, _ in table.vocabulary], dtype=object)
    for feature in schema.encoded_features:
        columns = np.flatnonzero(features == feature.identifier)
        if not len(columns):
            continue
        block = weights[:, columns]
        if isinstance(feature.strategy, BitsPerToken):
            per_token = np.full(block.shape[0], float(feature.strategy.k))
        else:
            assert feature.strategy is not None
            # bitsPerFeature: the feature's bits are shared among its tokens.
            count = np.asarray(block.sum(axis=1)).ravel()
            per_token = feature.strategy.bits / np.maximum(count, 1.0)
        weights[:, columns] = sp.diags(per_token.astype(np.float32)) @ block
    return sp.csr_matrix(weights, dtype=np.float32)


def _filter_distance(
    weights: sp.csr_matrix, anchors: npt.NDArray[np.int64], transform: _Transform
) -> Floats:
    """Expected Hamming distance of every record's filter to each anchor's.

    A filter of ``n`` bits after ``W`` token bits has about
    ``u(W) = n (1 - 1/n)**W`` bits unset; two filters differ in
    ``u(W1) + u(W2) - 2 u(W1 + W2 - shared)``. A token in both records sets
    about the bits of the smaller of its two weights, approximated by the
    geometric mean so that the shared weights are one sparse product.
    """
    n = transform.filter_bits
    total = np.asarray(weights.sum(axis=1), dtype=np.float32).ravel()
    roots = weights.sqrt()
    shared = np.asarray((roots @ roots[anchors].T).todense(), dtype=np.float32)
    union = total[:, None] + total[anchors][None, :] - shared
    keep = np.float32(np.log1p(-1 / n))
    unset = np.exp(total * keep)
    both_unset = np.exp(union * keep)
    result: Floats = n * (unset[:, None] + unset[anchors][None, :] - 2 * both_unset)
    return result


def _hamming(bits: Floats, anchors: Floats) -> Floats:
    """Hamming distances, ``(encodings, anchors)``."""
    counts = bits.sum(axis=1)
    result: Floats = (
        counts[:, None] + anchors.sum(axis=1)[None, :] - 2 * (bits @ anchors.T)
    )
    return result


def _fit_scores(observed: Floats, predicted: Floats, anchors: Pairs) -> Floats:
    """Gaussian log-likelihood of each encoding's distances given each record's.

    ``observed`` is ``(encodings, anchors)``, ``predicted`` ``(records,
    anchors)``. A line ``a + b * predicted`` and the residual variance are
    fitted on the distances among the anchors, whose pairing is known, so the
    approximations in the prediction are calibrated away.
    """
    among_observed = observed[anchors[:, 0]]
    among_predicted = predicted[anchors[:, 1]]
    off = ~np.eye(len(anchors), dtype=bool)
    x, y = among_predicted[off], among_observed[off]
    spread = float(np.var(x)) if len(x) else 0.0
    slope, intercept = 1.0, 0.0
    if spread > 0:
        slope = float(np.mean((x - x.mean()) * (y - y.mean()))) / spread
        intercept = float(y.mean() - slope * x.mean())
    variance = max(float(np.var(y - (slope * x + intercept))), _VARIANCE_FLOOR)
    expected = (slope * predicted + intercept).astype(np.float32)
    # -sum (o - e)**2 / 2v over anchors, as matrix products.
    cross = observed @ expected.T
    squares = (observed**2).sum(axis=1)[:, None] + (expected**2).sum(axis=1)[None, :]
    scores: Floats = ((2 * cross - squares) / (2 * variance)).astype(np.float32)
    return scores


def _pack(bits: npt.NDArray[np.uint8]) -> Packed:
    """0/1 rows as uint64 words, bit ``j`` in word ``j // 64``, bit ``j % 64``."""
    words = -(-bits.shape[1] // 64)
    padded = np.zeros((bits.shape[0], words * 64), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    packed = np.packbits(
        padded.reshape(len(bits), words, 64), axis=2, bitorder="little"
    )
    return np.ascontiguousarray(packed).view(np.uint64).reshape(len(bits), words)


def _row_reduce(rows: Packed, length: int) -> tuple[list[int], Packed]:
    """Reduced row echelon form over GF(2): (pivot columns, their rows)."""
    rows = rows.copy()
    pivots: list[int] = []
    top = 0
    for column in range(length):
        if top == len(rows):
            break
        word, mask = column // 64, np.uint64(1) << np.uint64(column % 64)
        has = (rows[top:, word] & mask) != 0
        if not has.any():
            continue
        pivot = top + int(np.argmax(has))
        rows[[top, pivot]] = rows[[pivot, top]]
        # Clear the column everywhere else, above and below: one XOR per row.
        others = (rows[:, word] & mask) != 0
        others[top] = False
        rows[others] ^= rows[top]
        pivots.append(column)
        top += 1
    return pivots, rows[:top]


def _null_space(
    pivots: list[int], reduced: Packed, length: int
) -> npt.NDArray[np.uint8]:
    """A basis of the vectors every reduced row is orthogonal to over GF(2)."""
    free = np.setdiff1d(np.arange(length), pivots)
    basis = np.zeros((len(free), length), dtype=np.uint8)
    basis[np.arange(len(free)), free] = 1
    if len(pivots):
        unpacked = np.unpackbits(
            reduced.view(np.uint8).reshape(len(reduced), -1), axis=1, bitorder="little"
        )[:, :length]
        # Each pivot variable equals the XOR of the free variables in its row.
        basis[:, pivots] = unpacked[:, free].T
    return basis
