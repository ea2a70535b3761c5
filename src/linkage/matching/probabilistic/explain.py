"""Explaining Fellegi-Sunter scores: the threshold, a histogram, waterfalls.

**The threshold** is on the match probability and is chosen without ground
truth, from the model's own probabilities. If the probabilities are right,
predicting the ``k`` likeliest pairs as matches finds, on average, the sum of
their probabilities as true matches, out of the sum over all pairs. The
threshold keeps the ``k`` that maximises that expected F1::

    E[F1](k) ~ 2 * (p_1 + ... + p_k) / (k + p_1 + ... + p_n)

This is used rather than a posterior of 0.5 because F1 is what the
benchmarks report, and because it weighs the two kinds of error by how many
pairs of each there are, not one pair at a time. With calibrated
probabilities its threshold lies near half the best F1, so for a good model it
is close to 0.5 anyway; the explanation gives the 0.5 cut and its expected
F1 beside it, so a reader sees when the two differ. Both rest on the model's
probabilities, which a Fellegi-Sunter model makes too confident when fields
are not independent (street and suburb); the threshold is only as right as
they are.

**The waterfall** of a pair, as in Splink's waterfall chart: the prior weight,
then each field's weight (0 for a missing field), adding up to the match
weight, and the probability it gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from linkage.matching.probabilistic.levels import MISSING, level_codes
from linkage.matching.probabilistic.model import FellegiSunterModel

__all__ = [
    "ProbabilityThreshold",
    "ThresholdMethod",
    "Waterfall",
    "WaterfallStep",
    "WeightHistogram",
    "choose_probability_threshold",
    "probabilities",
    "waterfall",
    "weight_histogram",
]

ThresholdMethod = Literal["expected_f1", "posterior"]


@dataclass(frozen=True)
class ProbabilityThreshold:
    """A threshold on the match probability and the figures behind it.

    Attributes:
        threshold: Pairs with a match probability at least this are matches.
        weight: The same threshold as a match weight, log2(p / (1 - p)).
        method: ``"expected_f1"``, ``"posterior"`` (0.5) or ``"fixed"``.
        explanation: Sentences for the operator.
        expected_matches: The sum of all pairs' probabilities.
        pairs_above: Pairs at or above the threshold.
        expected_precision: Model-expected precision at the threshold.
        expected_recall: Model-expected recall at the threshold.
        expected_f1: Model-expected F1 at the threshold.
        posterior_pairs: Pairs at or above probability 0.5.
        posterior_expected_f1: Model-expected F1 at probability 0.5.
    """

    threshold: float
    weight: float
    method: str
    explanation: str
    expected_matches: float
    pairs_above: int
    expected_precision: float | None
    expected_recall: float | None
    expected_f1: float | None
    posterior_pairs: int
    posterior_expected_f1: float | None


def choose_probability_threshold(
    probabilities: NDArray[np.floating],
    method: ThresholdMethod | float = "expected_f1",
) -> ProbabilityThreshold:
    """Choose the match-probability threshold without ground truth.

    Args:
        probabilities: Each candidate pair's match probability.
        method: ``"expected_f1"`` (the default, see the module doc),
            ``"posterior"`` for 0.5, or a number in (0, 1) to fix it.

    Raises:
        ValueError: ``method`` is an unknown name or a number outside (0, 1).

    >>> choice = choose_probability_threshold(np.array([0.99, 0.98, 0.6, 0.02]))
    >>> choice.threshold, choice.pairs_above
    (0.6, 3)
    """
    p = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    found = np.cumsum(p)
    expected = float(found[-1]) if p.size else 0.0
    ranks = np.arange(1, p.size + 1)
    f1 = 2.0 * found / (ranks + expected) if expected > 0 else np.zeros(p.size)
    posterior_pairs = int(np.count_nonzero(p >= 0.5))
    posterior_f1 = _at(f1, posterior_pairs)
    if isinstance(method, str) and method not in ("expected_f1", "posterior"):
        raise ValueError(
            f"threshold method must be 'expected_f1', 'posterior' or a "
            f"probability (got {method!r})"
        )
    if not isinstance(method, str):
        if not 0.0 < float(method) < 1.0:
            raise ValueError(
                f"a fixed threshold must be a probability in (0, 1) (got {method!r})"
            )
        threshold, name = float(method), "fixed"
    elif method == "posterior" or expected < 1.0:
        threshold, name = 0.5, "posterior"
    else:
        # A probability, not a count: pairs tied with the k-th are kept too.
        threshold, name = float(p[int(np.argmax(f1))]), "expected_f1"
    above = int(np.count_nonzero(p >= threshold))
    return ProbabilityThreshold(
        threshold=threshold,
        weight=_logit2(threshold),
        method=name,
        explanation=_explain(name, method, threshold, above, expected, f1, p.size)
        + _posterior_note(name, posterior_pairs, posterior_f1),
        expected_matches=expected,
        pairs_above=above,
        expected_precision=float(found[above - 1] / above) if above else None,
        expected_recall=float(found[above - 1] / expected)
        if above and expected
        else None,
        expected_f1=_at(f1, above),
        posterior_pairs=posterior_pairs,
        posterior_expected_f1=posterior_f1,
    )


def _at(f1: NDArray[np.float64], pairs: int) -> float | None:
    return float(f1[pairs - 1]) if pairs else None


def _logit2(p: float) -> float:
    # Probabilities of very heavy weights round to 1.0 in floating point.
    p = min(max(p, 1e-300), 1.0 - 2.0**-53)
    return math.log2(p / (1.0 - p))


def _explain(
    name: str,
    method: ThresholdMethod | float,
    threshold: float,
    above: int,
    expected: float,
    f1: NDArray[np.float64],
    pairs: int,
) -> str:
    counts = (
        f"{above:,} of {pairs:,} candidate pairs have a match probability of at "
        f"least {threshold:.3g} (match weight {_logit2(threshold):+.2f}); the "
        f"model expects {expected:,.1f} matches among all the candidates."
    )
    if name == "fixed":
        return f"The threshold {threshold:.3g} was set by the operator. {counts}"
    if name == "posterior" and method == "expected_f1":
        return (
            "The model expects fewer than one match among the candidates, so "
            f"the threshold is the posterior 0.5. {counts}"
        )
    if name == "posterior":
        return (
            "The threshold is the posterior 0.5: a pair is a match when the "
            f"model finds it more likely a match than not. {counts}"
        )
    return (
        "The threshold maximises the F1 the model itself expects (taking its "
        "probabilities at their word, with no ground truth): "
        f"{_percent(_at(f1, above))}. {counts}"
    )


def _posterior_note(name: str, pairs: int, f1: float | None) -> str:
    if name == "posterior":
        return ""
    return (
        f" For comparison, a posterior of 0.5 would keep {pairs:,} pairs "
        f"(expected F1 {_percent(f1)})."
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@dataclass(frozen=True)
class WeightHistogram:
    """Candidate pairs counted by match weight.

    Attributes:
        edges: Bin edges, ``len(counts) + 1`` of them.
        counts: Pairs per bin.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    def to_text(self, width: int = 50) -> str:
        """One line per bin, with a bar scaled to the fullest bin."""
        top = max(self.counts, default=0) or 1
        lines = []
        for low, count in zip(self.edges, self.counts, strict=False):
            bar = "#" * math.ceil(width * count / top) if count else ""
            lines.append(f"{low:>+6.0f} {count:>9,} {bar}")
        return "\n".join(lines)


def weight_histogram(
    weights: NDArray[np.floating], max_bins: int = 40
) -> WeightHistogram:
    """Count the match weights in bins of whole units of weight.

    Bins are one unit wide (each doubles the odds), or a few units where one
    unit would need more than ``max_bins`` bins.
    """
    values = np.asarray(weights, dtype=np.float64)
    if values.size == 0:
        return WeightHistogram((), ())
    low, high = math.floor(values.min()), math.floor(values.max()) + 1
    step = max(1, math.ceil((high - low) / max_bins))
    edges = np.arange(low, high + step, step, dtype=np.float64)
    counts, _ = np.histogram(values, bins=edges)
    return WeightHistogram(
        tuple(float(edge) for edge in edges), tuple(int(c) for c in counts)
    )


@dataclass(frozen=True)
class WaterfallStep:
    """One field's part in a pair's match weight.

    Attributes:
        field: The field.
        similarity: The pair's similarity on it; ``None`` if missing.
        level: The level's name.
        m: P(level | match); ``None`` if missing.
        u: P(level | non-match); ``None`` if missing.
        weight: The field's weight (0 if missing).
        cumulative: The match weight after this field.
    """

    field: str
    similarity: float | None
    level: str
    m: float | None
    u: float | None
    weight: float
    cumulative: float


@dataclass(frozen=True)
class Waterfall:
    """How one pair's match weight adds up, field by field.

    Attributes:
        pair: The pair's row in the similarities.
        prior_weight: The weight before any field.
        steps: One step per field, in column order.
        weight: The final match weight (prior plus every step).
        probability: The match probability it gives.
    """

    pair: int
    prior_weight: float
    steps: tuple[WaterfallStep, ...]
    weight: float
    probability: float

    def to_text(self) -> str:
        """The waterfall as a table for the terminal."""
        header = (
            f"{'step':<16}{'similarity':>11}{'level':>10}{'m':>9}{'u':>9}"
            f"{'weight':>8}{'total':>8}"
        )
        prior = (
            f"{'prior':<16}{'':>11}{'':>10}{'':>9}{'':>9}"
            f"{self.prior_weight:>+8.2f}{self.prior_weight:>+8.2f}"
        )
        rows = [_step_row(step) for step in self.steps]
        end = f"Match weight {self.weight:+.2f}, probability {self.probability:.4f}."
        return "\n".join([f"Pair {self.pair}", header, prior, *rows, end])


def _step_row(step: WaterfallStep) -> str:
    similarity = "-" if step.similarity is None else f"{step.similarity:.3f}"
    m = "-" if step.m is None else f"{step.m:.4f}"
    u = "-" if step.u is None else f"{step.u:.4f}"
    return (
        f"{step.field:<16}{similarity:>11}{step.level:>10}{m:>9}{u:>9}"
        f"{step.weight:>+8.2f}{step.cumulative:>+8.2f}"
    )


def waterfall(
    model: FellegiSunterModel,
    similarities: NDArray[np.floating],
    pair: int,
    blocked: NDArray[np.bool_] | None = None,
    adjustment: float | None = None,
) -> Waterfall:
    """How the match weight of row ``pair`` of ``similarities`` adds up.

    A field the pair was blocked on (``blocked``, as given in training) is
    shown with level ``"blocked"`` and weight 0; its agreement is in the prior.
    An ``adjustment`` (the pair's term-frequency adjustment) is a last step.

    Raises:
        IndexError: ``pair`` is not a row of ``similarities``.
    """
    values = np.asarray(similarities, dtype=np.float64)
    if not 0 <= pair < values.shape[0]:
        raise IndexError(f"pair {pair} is not a row of {values.shape[0]} pairs")
    row = values[pair : pair + 1]
    flags = None if blocked is None else np.asarray(blocked)[pair : pair + 1]
    codes = level_codes(model.levels, row)[0]
    weights = model.field_weights(row, flags)[0]
    prior = float(model.prior_weights(1, flags)[0])
    total = prior
    steps = []
    for f, spec in enumerate(model.levels):
        code = int(codes[f])
        held = flags is not None and bool(flags[0, f])
        counted = code != MISSING and not held
        total += float(weights[f])
        steps.append(
            WaterfallStep(
                field=spec.name,
                similarity=None if code == MISSING else float(row[0, f]),
                level="blocked" if held else spec.label(code),
                m=model.m[f][code - 1] if counted else None,
                u=model.u[f][code - 1] if counted else None,
                weight=float(weights[f]),
                cumulative=total,
            )
        )
    if adjustment is not None:
        total += adjustment
        steps.append(
            WaterfallStep(
                field="term frequency",
                similarity=None,
                level="-",
                m=None,
                u=None,
                weight=adjustment,
                cumulative=total,
            )
        )
    return Waterfall(pair, prior, tuple(steps), total, _probability(total))


def _probability(weight: float) -> float:
    # 2**w / (1 + 2**w), written so that large |w| neither overflows nor rounds.
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    odds = math.pow(2.0, weight)
    return odds / (1.0 + odds)


def probabilities(weights: NDArray[np.floating]) -> NDArray[np.float64]:
    """Match probabilities from match weights (log2 odds)."""
    values = np.asarray(weights, dtype=np.float64)
    return 1.0 / (1.0 + np.exp2(-np.clip(values, -1000.0, 1000.0)))
