"""Probabilistic linkage of per-field encodings (``--method probabilistic``).

Candidates come from two sources, and each remembers which:

- **field blocks**: records whose filters for a field (or a pair of fields)
  are identical, as plaintext linkers block on equal surnames or birth dates
  (:mod:`linkage.matching.probabilistic.blocking`; keys chosen to fit a pair budget);
- **whole encodings**: the pairs the single-CLK method would consider (Dice of
  the whole encodings at or above ``candidate_threshold``, by default the
  single-CLK threshold), which catches records with small errors everywhere.

Each candidate is then compared field by field, and a Fellegi-Sunter model
learnt without ground truth (u from random pairs, m by EM over the candidates;
:mod:`linkage.matching.probabilistic`) turns the field similarities into a
match probability. The fields a candidate's block forced to agree are not
counted as evidence, and each source has its own prior, so blocking cannot
make every candidate look like a match. Pairs above the probability threshold
the model expects to give the best F1 are solved and grouped as in the
single-CLK method; the score reported is the match probability.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError
from linkage.formats.clkfile import FieldSegment
from linkage.matching.candidates import (
    CandidatePairs,
    Clks,
    Indices,
    candidate_limit_error,
)
from linkage.matching.parties import PartySet
from linkage.matching.probabilistic import FellegiSunterResult, fellegi_sunter
from linkage.matching.probabilistic.blocking import (
    FieldBlocks,
    Key,
    block_pairs,
    choose_keys,
    segment_hashes,
)
from linkage.matching.probabilistic.model import TrainingSettings
from linkage.matching.probabilistic.similarity import (
    field_similarities,
    random_pairs,
    segment_popcounts,
)
from linkage.matching.threshold import ThresholdChoice

_RANDOM_PAIRS = 200_000  # Enough to see rare agreement levels (a whole birth date).
_RANDOM_SEED = 20261126  # Fixed, so the same files give the same model.
_PAIRS_PER_RECORD = 25  # Field-block budget per key, per record linked.
_MIN_BUDGET = 100_000

#: Told ``(step, done, total)`` as the steps go.
Progress = Callable[[str, int, int], None]
#: The pairs whose whole encodings reach a Dice floor (the CLK method's).
ClkCandidates = Callable[[float], CandidatePairs]


@dataclass(frozen=True)
class LinkSettings:
    """What the probabilistic method needs of the linkage's settings.

    Attributes:
        floor: the Dice of the whole encodings that makes a pair a candidate.
        max_candidates: candidate pairs held at most; the field blocks and
            the whole-encoding candidates share it.
        across: link records of different parties.
        within: link records within a party (deduplication).
        training: how EM runs (its defaults if not given).
    """

    floor: float
    max_candidates: int
    across: bool
    within: bool
    training: TrainingSettings | None = None
    admissible: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.bool_]] | None = None


@dataclass(frozen=True)
class ProbabilisticLink:
    """What the probabilistic method decided, ready for solving."""

    candidates: CandidatePairs  # Pairs with their match probability as score.
    choice: ThresholdChoice  # The threshold on match probability.
    model: FellegiSunterResult
    blocking: str


def link_probabilistically(
    clks: Clks,
    party_of: Indices,
    segments: Sequence[FieldSegment],
    clk_candidates: ClkCandidates,
    settings: LinkSettings,
    progress: Progress | None = None,
) -> ProbabilisticLink:
    """Find candidates, learn the model, and score every candidate pair.

    Args:
        clks: every party's encodings, in global record order.
        party_of: the party of each record.
        segments: the fields' places in the encodings (:func:`file_segments`).
        clk_candidates: finds the pairs whose whole encodings reach a Dice
            floor (the matcher's
            :meth:`~linkage.matching.matcher.Matcher.candidates`).
        settings: the floor, the candidate cap, and which pairs to link.
        progress: told how far the steps are, if given.

    Raises:
        InputError: more than ``settings.max_candidates`` candidate pairs.
    """
    report = progress or _quiet
    report("field blocking", 0, 3)
    hashes = segment_hashes(clks, segments)
    keys, blocks = _field_blocks(hashes, party_of, settings)
    similar = clk_candidates(settings.floor)
    left, right, source = _union(blocks, similar, len(clks))
    if len(left) > settings.max_candidates:
        raise candidate_limit_error(settings.max_candidates, settings.floor)
    report("field similarities and the model", 1, 3)
    blocked = blocks.key_table(len(segments))[source]
    model = _learn(clks, party_of, segments, hashes, (left, right), blocked, settings)
    report("field similarities and the model", 3, 3)
    names = [segment.name for segment in segments]
    description = _describe(keys, names, settings.floor, similar.blocking)
    scored = CandidatePairs(
        left,
        right,
        model.probabilities.astype(np.float64),
        similar.compared + len(blocks.left),
        blocking=description,
        estimated_completeness=similar.estimated_completeness,
    )
    return ProbabilisticLink(scored, _choice(model, description), model, description)


def _quiet(label: str, done: int, total: int) -> None:
    """Progress nobody is told of."""


def _field_blocks(
    hashes: npt.NDArray[np.uint64], party_of: Indices, settings: LinkSettings
) -> tuple[tuple[Key, ...], FieldBlocks]:
    """The field keys that fit the budget, and the pairs they block together."""
    budget = max(_MIN_BUDGET, _PAIRS_PER_RECORD * len(hashes))
    # Field blocks and the whole-encoding candidates share the candidate cap.
    cap = settings.max_candidates
    keys = choose_keys(hashes, min(budget, cap // 2), total_budget=cap // 2)
    blocks = block_pairs(
        hashes, keys, party_of, across=settings.across, within=settings.within
    )
    return keys, blocks


def _learn(
    clks: Clks,
    party_of: Indices,
    segments: Sequence[FieldSegment],
    hashes: npt.NDArray[np.uint64],
    pairs: tuple[Indices, Indices],
    blocked: npt.NDArray[np.bool_],
    settings: LinkSettings,
) -> FellegiSunterResult:
    """The model learnt on the candidates' field similarities (u from random
    pairs), each pair's weight adjusted for the rarity of its values."""
    left, right = pairs
    popcounts = segment_popcounts(clks, segments)
    similarities = field_similarities(clks, segments, left, right, popcounts)
    random_left, random_right = random_pairs(
        party_of,
        _RANDOM_PAIRS,
        np.random.default_rng(_RANDOM_SEED),
        across=settings.across,
        within=settings.within,
    )
    baseline = field_similarities(clks, segments, random_left, random_right, popcounts)
    names = [segment.name for segment in segments]
    model = fellegi_sunter(
        similarities, names, baseline, settings=settings.training, blocked=blocked
    )
    top_u = [float(u[-1]) for u in model.model.u]  # Each field's exact level.
    return model.adjusted(term_frequency(hashes, left, right, top_u))


def term_frequency(
    hashes: npt.NDArray[np.uint64],
    left: Indices,
    right: Indices,
    top_u: Sequence[float],
) -> npt.NDArray[np.float64]:
    """Each pair's term-frequency adjustment of its match weight.

    Where both records hold the identical filter for a field, a rare value
    says more than a common one: the field's top level weighs
    ``log2(m / u_exact)`` on average (``top_u`` gives each field's
    ``u_exact``), and the adjustment ``log2(u_exact / share)`` replaces the
    average chance agreement ``u_exact`` by the share of records holding that
    very filter. It uses only the filters' equality
    counts, which the operator of per-field encodings sees anyway.

    Fields a pair's block forced to agree are adjusted too. Their average
    evidence is in the block's prior (the odds of a match among pairs that
    agree on them: lambda's odds times ``m / u_exact``), and the same
    ``log2(u_exact / share)`` turns that average into this value's. Leaving
    them out scored every pair of one name block alike, John Smiths and rare
    names together.
    """
    adjustment = np.zeros(len(left))
    for field in range(hashes.shape[1]):
        column = hashes[:, field]
        present = column != 0
        values, counts = np.unique(column[present], return_counts=True)
        if not len(values):
            continue
        share = np.zeros(len(column))
        holders = counts[np.searchsorted(values, column[present])]
        share[present] = holders / counts.sum()
        same = present[left] & (column[left] == column[right])
        adjustment[same] += np.log2(top_u[field] / share[left[same]])
    return adjustment


def _union(
    blocks: FieldBlocks, similar: CandidatePairs, total: int
) -> tuple[Indices, Indices, npt.NDArray[np.int32]]:
    """Both candidate sets, each pair once; a pair a key found keeps that key.

    ``source`` is the key's number, or ``len(keys)`` for pairs only the whole
    encodings found.
    """
    if not len(similar.left):  # Sorting the blocked pairs would change nothing.
        return blocks.left, blocks.right, blocks.key_of
    low = np.minimum(similar.left, similar.right)
    high = np.maximum(similar.left, similar.right)
    blocked_code = blocks.left * total + blocks.right
    similar_code = np.setdiff1d(low * total + high, blocked_code)
    code = np.concatenate([blocked_code, similar_code])
    source = np.concatenate(
        [blocks.key_of, np.full(len(similar_code), len(blocks.keys), dtype=np.int32)]
    )
    return code // total, code % total, source


def _describe(keys: tuple[Key, ...], names: list[str], floor: float, clk: str) -> str:
    listed = "; ".join(" + ".join(names[i] for i in key) for key in keys) or "none"
    return (
        f"identical field filters ({listed}), and whole encodings at Dice "
        f">= {floor:.3f} ({clk})"
    )


def file_segments(parties: PartySet) -> tuple[FieldSegment, ...]:
    """The per-field layout the parties' encodings files share.

    Raises:
        InputError: the files hold one CLK per record, not per-field filters.
    """
    encodings = parties.parties[0].encodings
    segments = encodings.header.segments if encodings.header is not None else None
    if not segments or len(segments) < 2:
        raise InputError(
            "The probabilistic method needs per-field encodings, and "
            f"{encodings.source} holds one CLK per record",
            hint='Encode with a schema whose "linkage" block has "segments" '
            "(see configs/schemas/*-fields.json), or use --method clk.",
        )
    return segments


def _choice(model: FellegiSunterResult, blocking: str) -> ThresholdChoice:
    threshold = model.threshold
    explanation = (
        f"{threshold.explanation} Candidates: {blocking}; fields were then "
        "compared one by one, with m and u learnt from the data (no ground truth)."
    )
    return ThresholdChoice(
        threshold=threshold.threshold,
        method=f"probabilistic, {threshold.method}",
        explanation=explanation,
        estimated_matches=round(threshold.expected_matches),
        records_above=threshold.pairs_above,
    )
