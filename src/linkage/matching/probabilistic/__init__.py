"""Probabilistic linkage on per-field similarities (Fellegi-Sunter).

In the per-field encoding each record carries one Bloom filter per field, so
the matcher knows, for each candidate pair, a Dice similarity per field (NaN
where either record lacks the field). This package turns those into a match
weight and a match probability per pair, and explains both:

1. Each field's similarity is cut into levels
   (:mod:`linkage.matching.probabilistic.levels`: exact, close, partial, far,
   missing).
2. u (how often non-matches land in each level) is taken from random pairs;
   m (the same for matches) and lambda (the share of candidates that match)
   are fitted by EM on the candidate pairs
   (:mod:`linkage.matching.probabilistic.model`).
3. A pair's match weight is the prior weight log2(lambda / (1 - lambda)) plus,
   for each field, log2(m / u) of its level (0 if missing); its probability is
   2^w / (1 + 2^w).
4. The threshold on the probability maximises the F1 the model expects
   (:mod:`linkage.matching.probabilistic.explain`), with no ground truth.

:func:`fellegi_sunter` does all four; the parts are public for callers that
train once and score many times. Tolerating swapped given name and surname is
an opt-in step on the similarities, :func:`with_name_swaps`.

Blocking matters: candidate pairs found by equal surnames all agree on the
surname, matches or not. Pass ``blocked`` (pairs x fields, True where the
blocking forced agreement) so that forced agreement is not counted as
evidence; without it EM can take every candidate for a match, which the model
reports in its warnings.

The sub-modules, besides the model's parts above:
:mod:`~linkage.matching.probabilistic.similarity` (Dice field by field),
:mod:`~linkage.matching.probabilistic.blocking` (candidates whose field
filters are identical) and :mod:`~linkage.matching.probabilistic.link`
(``--method probabilistic``: candidates, model and scores for the matcher).
This module holds the public API; it does not import ``link``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> matches = rng.uniform(0.8, 1.0, (50, 2))
    >>> others = rng.uniform(0.0, 0.6, (450, 2))
    >>> candidates = np.concatenate([matches, others]).astype(np.float32)
    >>> random_pairs = rng.uniform(0.0, 0.6, (1000, 2)).astype(np.float32)
    >>> result = fellegi_sunter(candidates, ["surname", "dob"], random_pairs)
    >>> result.model.converged, int(result.matches.sum())
    (True, 50)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from linkage.matching.probabilistic.explain import (
    ProbabilityThreshold,
    ThresholdMethod,
    Waterfall,
    WaterfallStep,
    WeightHistogram,
    choose_probability_threshold,
    probabilities,
    waterfall,
    weight_histogram,
)
from linkage.matching.probabilistic.levels import (
    DEFAULT_EDGES,
    DEFAULT_LABELS,
    FieldLevels,
    field_levels,
    with_name_swaps,
)
from linkage.matching.probabilistic.model import (
    FellegiSunterModel,
    LevelParameters,
    TrainingSettings,
    train_model,
)

__all__ = [
    "DEFAULT_EDGES",
    "DEFAULT_LABELS",
    "FellegiSunterModel",
    "FellegiSunterResult",
    "FieldLevels",
    "LevelParameters",
    "ProbabilityThreshold",
    "ThresholdMethod",
    "TrainingSettings",
    "Waterfall",
    "WaterfallStep",
    "WeightHistogram",
    "choose_probability_threshold",
    "fellegi_sunter",
    "field_levels",
    "score_pairs",
    "train_model",
    "waterfall",
    "weight_histogram",
    "with_name_swaps",
]

SUMMARY_VERSION = 1
"""Version of the layout of :meth:`FellegiSunterResult.summary`."""


@dataclass(frozen=True)
class FellegiSunterResult:
    """Scored candidate pairs, the model behind them and the threshold.

    Attributes:
        model: The trained model.
        similarities: The candidate pairs' similarities the scores came from.
        blocked: Which fields blocking forced each pair to agree on, if given.
        weights: Each pair's match weight.
        probabilities: Each pair's match probability.
        threshold: The threshold on the probability and why.
        histogram: The match weights, counted in bins of whole units.
        adjustments: Per-pair weight added after the fields (a term-frequency
            adjustment), already included in ``weights``; None if none.
    """

    model: FellegiSunterModel
    similarities: NDArray[np.float32]
    blocked: NDArray[np.bool_] | None
    weights: NDArray[np.float64]
    probabilities: NDArray[np.float64]
    threshold: ProbabilityThreshold
    histogram: WeightHistogram
    adjustments: NDArray[np.float64] | None = None

    @property
    def matches(self) -> NDArray[np.bool_]:
        """Which pairs are matches: probability at least the threshold."""
        return self.probabilities >= self.threshold.threshold

    def waterfall(self, pair: int) -> Waterfall:
        """How pair ``pair``'s match weight adds up, field by field."""
        extra = None if self.adjustments is None else float(self.adjustments[pair])
        return waterfall(self.model, self.similarities, pair, self.blocked, extra)

    def adjusted(
        self,
        adjustments: NDArray[np.floating],
        threshold: ThresholdMethod | float = "expected_f1",
    ) -> FellegiSunterResult:
        """The same pairs with ``adjustments`` added to their match weights
        (a term-frequency adjustment), and the threshold chosen again."""
        extra = np.asarray(adjustments, dtype=np.float64)
        if extra.shape != self.weights.shape:
            raise ValueError(
                f"adjustments must have one value per pair ({len(self.weights)}), "
                f"got shape {extra.shape}"
            )
        weights = self.weights + extra
        chances = probabilities(weights)
        return replace(
            self,
            weights=weights,
            probabilities=chances,
            threshold=choose_probability_threshold(chances, threshold),
            histogram=weight_histogram(weights),
            adjustments=extra,
        )

    def document(self, close_calls: int = 5) -> dict[str, Any]:
        """The :meth:`summary` with the waterfalls of the ``close_calls`` pairs
        nearest the threshold, as plain JSON values.

        ``linkage match --model-out`` writes it and a service run keeps it in
        its stats, where the web console draws it: one source for both.
        Pairs are named by their row among the candidates, never a pseudonym.
        """
        document = self.summary()
        distance = np.abs(self.weights - self.threshold.weight)
        closest = np.argsort(distance, kind="stable")[:close_calls]
        document["closest_calls"] = [asdict(self.waterfall(int(i))) for i in closest]
        # numpy scalars become floats, so any JSON encoder takes the result.
        plain: dict[str, Any] = json.loads(json.dumps(document, default=float))
        return plain

    def summary(self) -> dict[str, Any]:
        """Everything a report needs, as JSON-serialisable data."""
        model = self.model
        return {
            "version": SUMMARY_VERSION,
            "fields": [
                {
                    "name": spec.name,
                    "edges": list(spec.edges),
                    "labels": list(spec.labels),
                }
                for spec in model.levels
            ],
            "levels": [_level_dict(row) for row in model.parameters],
            "prior": model.prior,
            "prior_weight": model.prior_weight,
            "blocked_groups": [
                {"blocked": _names(model.fields, pattern), "prior": prior}
                for pattern, prior in model.blocked_priors
            ],
            "em": {
                "iterations": model.iterations,
                "converged": model.converged,
                "candidate_pairs": model.candidate_pairs,
                "random_pairs": model.random_pairs,
            },
            "warnings": list(model.warnings),
            "threshold": asdict(self.threshold),
            "matches": int(np.count_nonzero(self.matches)),
            "histogram": {
                "edges": list(self.histogram.edges),
                "counts": list(self.histogram.counts),
            },
        }

    def to_text(self) -> str:
        """The parameters, the threshold and the histogram, for the terminal."""
        return "\n\n".join(
            [
                self.model.to_text(),
                self.threshold.explanation,
                "Match weights (log2 odds) of the candidate pairs:\n"
                + self.histogram.to_text(),
            ]
        )


def _names(fields: tuple[str, ...], flags: tuple[bool, ...]) -> list[str]:
    return [name for name, flag in zip(fields, flags, strict=True) if flag]


def _level_dict(row: LevelParameters) -> dict[str, Any]:
    data = asdict(row)
    # JSON has no infinity; the top band simply has no upper end.
    data["high"] = None if np.isinf(row.high) else row.high
    return data


def score_pairs(
    model: FellegiSunterModel,
    similarities: NDArray[np.floating],
    threshold: ThresholdMethod | float = "expected_f1",
    blocked: NDArray[np.bool_] | None = None,
) -> FellegiSunterResult:
    """Score candidate pairs with a trained model and choose the threshold.

    Args:
        model: From :func:`train_model`.
        similarities: Candidate pairs x fields, in the model's field order.
        threshold: How to choose the threshold: ``"expected_f1"``,
            ``"posterior"`` (0.5) or a fixed probability.
        blocked: Pairs x fields, True where blocking forced agreement; give
            it if the model was trained with it.

    Raises:
        ValueError: As :func:`choose_probability_threshold`, or the
            similarities or flags have the wrong shape, or a similarity is
            outside [0, 1].
    """
    values = np.asarray(similarities, dtype=np.float32)
    weights = model.weights(values, blocked)
    chances = probabilities(weights)
    return FellegiSunterResult(
        model=model,
        similarities=values,
        blocked=None if blocked is None else np.asarray(blocked, dtype=np.bool_),
        weights=weights,
        probabilities=chances,
        threshold=choose_probability_threshold(chances, threshold),
        histogram=weight_histogram(weights),
    )


def fellegi_sunter(
    similarities: NDArray[np.floating],
    fields: Sequence[str],
    random_similarities: NDArray[np.floating],
    *,
    edges: Mapping[str, Sequence[float]] | None = None,
    labels: Mapping[str, Sequence[str]] | None = None,
    settings: TrainingSettings | None = None,
    threshold: ThresholdMethod | float = "expected_f1",
    blocked: NDArray[np.bool_] | None = None,
) -> FellegiSunterResult:
    """Train a model on the candidate pairs and score them.

    Args:
        similarities: Candidate pairs x fields: Dice similarities in [0, 1],
            NaN where either record lacks the field.
        fields: The field names, in column order.
        random_similarities: The same for randomly drawn pairs (nearly all
            non-matches), from which u is taken. A few thousand are enough
            for the common levels; rare levels (exact agreement on a date of
            birth) need more for a sharp u.
        edges: Band edges of some fields, highest first
            (:data:`DEFAULT_EDGES` for the others).
        labels: Band names of the fields given ``edges``.
        settings: EM's settings.
        threshold: ``"expected_f1"``, ``"posterior"`` or a fixed probability.
        blocked: Candidate pairs x fields, True where blocking forced the
            pair to agree on the field (blocked on equal surnames: surname is
            True). Those fields then weigh 0 for that pair and each
            combination of blocked fields gets its own lambda, so forced
            agreement is not read as evidence (see
            :mod:`linkage.matching.probabilistic.model`). Without it, every
            field counts.

    Raises:
        ValueError: Bad shapes, values, edges or settings; each message says
            which.
    """
    levels = field_levels(fields, edges, labels)
    model = train_model(levels, similarities, random_similarities, settings, blocked)
    return score_pairs(model, similarities, threshold, blocked)
