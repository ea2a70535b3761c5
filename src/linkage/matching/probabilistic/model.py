"""Training a Fellegi-Sunter model: u from random pairs, m and lambda by EM.

The model says, for each field and level, how likely a pair lands there if it
is a match (m) and if it is not (u), and what share of the candidate pairs
are matches (lambda, the prior). Fields are taken as independent given the
match status, as in every Fellegi-Sunter model.

Training follows Splink's default:

1. **u from random pairs.** Nearly every randomly drawn pair is a non-match,
   so the share of random pairs at each level estimates u directly. u stays
   fixed afterwards: EM left free to move u can drift to a solution where the
   "match" class is just "pairs from the same suburb".
2. **m and lambda by EM over the candidate pairs.** Each candidate pair's
   chance of being a match (E-step) re-weights the level counts that give m
   and lambda (M-step), until neither moves by more than the tolerance.
   Candidate pairs are grouped by their pattern of levels first, so each
   iteration costs one pass over the distinct patterns, not the pairs.

**Blocking.** Candidate pairs are found by blocking, which forces agreement:
pairs blocked on equal surnames all agree on the surname, matches or not.
Scored against u from random pairs, that forced agreement looks like evidence
of a match, and EM may then take every candidate for a match (lambda near 1).
Where the caller knows which fields forced each pair's agreement
(``blocked``, pairs x fields), those fields are left out of that pair's
evidence, and each combination of blocked fields gets its own lambda: the
share of matches among pairs agreeing on those fields. Under the model's
independence this is exact (the odds of a match given agreement on the
blocked fields is that group's lambda), and it is Splink's reasoning for
training m in sessions that each skip the fields they were blocked on. One
consequence shows in the parameter table: a field that is a blocking key on
its own is seen by EM only in pairs that do *not* agree on it exactly, so its
``exact`` m stays near its pseudo-count and its other levels carry m among
those pairs, which is what scoring those pairs needs.

Guards against degenerate fits:

* **Smoothing.** Every level gets a pseudo-count (``u_pseudo_count`` random
  pairs, ``m_pseudo_count`` matches) before its share is taken, so no m or u
  is ever 0 or 1 and no weight is infinite. A level never seen among ``n``
  random pairs gets u of about ``1 / n``: all the sample can say is that it
  is rarer than that.
* **Missing values** (level 0) count in neither m nor u; a missing field adds
  weight 0.
* **Bounds.** lambda is kept within [1e-6, 1 - 1e-6]; each group's lambda
  gets half a match and half a non-match as pseudo-counts.
* **Checks.** The fit reports, in :attr:`FellegiSunterModel.warnings`, when EM
  stopped at ``max_iterations`` without converging, and when a field's top
  level ends with m <= u (the "match" class does not agree on it, which
  usually means the field is useless or the fit went wrong), and when lambda
  exceeds :data:`MAX_PLAUSIBLE_LAMBDA` (blocking probably forced the
  agreement; pass ``blocked``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from linkage.matching.probabilistic.levels import MISSING, FieldLevels, level_codes

__all__ = [
    "MAX_PLAUSIBLE_LAMBDA",
    "FellegiSunterModel",
    "LevelParameters",
    "TrainingSettings",
    "train_model",
]

_MIN_LAMBDA = 1e-6

MAX_PLAUSIBLE_LAMBDA = 0.9
"""A share of matches among candidates above this is reported as suspect."""

BlockedPattern = tuple[bool, ...]


@dataclass(frozen=True)
class TrainingSettings:
    """How EM is run.

    Attributes:
        max_iterations: EM stops here even if it has not converged.
        tolerance: EM has converged when no m and not lambda moves by more.
        m_pseudo_count: Matches added to every level before m is taken.
        u_pseudo_count: Random pairs added to every level before u is taken.
        initial_lambda: The share of candidate pairs first taken as matches.
        learn_m: False keeps m at its starting shares (each level of a field
            four times as likely among matches as the level below it) and
            lets EM learn lambda alone, which, with m and u fixed, has a
            single best fit. For files with few fields, where EM left free
            to move m can settle on a "match" class that is not one person:
            a file holding only names, birth date and sex took every pair of
            namesakes for one person (m of a birth-date disagreement as high
            as its u), and a file of households every pair of housemates.
    """

    max_iterations: int = 200
    tolerance: float = 1e-6
    m_pseudo_count: float = 0.5
    u_pseudo_count: float = 1.0
    initial_lambda: float = 0.1
    learn_m: bool = True

    def __post_init__(self) -> None:
        """Refuse settings EM cannot run with."""
        if self.max_iterations < 1:
            raise ValueError(
                f"max_iterations must be at least 1 (got {self.max_iterations!r})"
            )
        if not self.tolerance > 0.0:
            raise ValueError(f"tolerance must be above 0 (got {self.tolerance!r})")
        if not (self.m_pseudo_count > 0.0 and self.u_pseudo_count > 0.0):
            raise ValueError(
                "pseudo-counts must be above 0, or a level never seen gets an "
                f"infinite weight (got m {self.m_pseudo_count!r}, "
                f"u {self.u_pseudo_count!r})"
            )
        if not 0.0 < self.initial_lambda < 1.0:
            raise ValueError(
                f"initial_lambda must lie strictly between 0 and 1 "
                f"(got {self.initial_lambda!r})"
            )


@dataclass(frozen=True)
class LevelParameters:
    """m, u and the weight of one level of one field.

    Attributes:
        field: The field.
        code: The level code (1 is the lowest band).
        label: The level's name.
        low: The lowest similarity in the level.
        high: The similarity the level stops below (``inf`` for the top).
        m: P(level | match).
        u: P(level | non-match).
        weight: log2(m / u), the level's match weight.
        candidate_pairs: Candidate pairs at this level.
        random_pairs: Random pairs at this level.
    """

    field: str
    code: int
    label: str
    low: float
    high: float
    m: float
    u: float
    weight: float
    candidate_pairs: int
    random_pairs: int


@dataclass(frozen=True)
class FellegiSunterModel:
    """A trained model: levels, m and u per field, and the prior.

    ``m[f][c - 1]`` and ``u[f][c - 1]`` belong to level code ``c`` of field
    ``f``; the missing level has neither.

    Attributes:
        levels: How each field is cut into levels, in column order.
        m: P(level | match) per field and level.
        u: P(level | non-match) per field and level.
        prior: lambda, the share of candidate pairs that are matches.
        iterations: EM iterations run.
        converged: Whether EM converged before ``max_iterations``.
        candidate_pairs: Candidate pairs EM ran on.
        random_pairs: Random pairs u was taken from.
        parameters: One row per field and level, for tables and reports.
        warnings: Sentences about a fit that may not be trusted.
    """

    levels: tuple[FieldLevels, ...]
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    iterations: int
    converged: bool
    candidate_pairs: int
    random_pairs: int
    parameters: tuple[LevelParameters, ...]
    warnings: tuple[str, ...]
    blocked_priors: tuple[tuple[BlockedPattern, float], ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names, in column order."""
        return tuple(spec.name for spec in self.levels)

    @property
    def prior_weight(self) -> float:
        """log2(lambda / (1 - lambda)): the weight of a pair before any field."""
        return _log_odds(self.prior)

    def weight_table(self) -> NDArray[np.float64]:
        """Weights by field and level code (fields x codes); code 0 is 0."""
        width = 1 + max(spec.count for spec in self.levels)
        table = np.zeros((len(self.levels), width))
        for f, (m, u) in enumerate(zip(self.m, self.u, strict=True)):
            table[f, 1 : 1 + len(m)] = np.log2(np.asarray(m) / np.asarray(u))
        return table

    def field_weights(
        self,
        similarities: NDArray[np.floating],
        blocked: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float64]:
        """Each field's weight for each pair (pairs x fields).

        A missing field, and a field the pair was blocked on, weighs 0.
        """
        codes = _evidence(self.levels, similarities, blocked).astype(np.intp)
        return self.weight_table()[np.arange(len(self.levels))[None, :], codes]

    def prior_weights(
        self, pairs: int, blocked: NDArray[np.bool_] | None = None
    ) -> NDArray[np.float64]:
        """Each pair's prior weight: its blocked group's lambda, as log2 odds.

        Without ``blocked``, or for a group not seen in training, the overall
        lambda.
        """
        weights = np.full(pairs, self.prior_weight)
        if blocked is None or not self.blocked_priors:
            return weights
        patterns, inverse, _ = unique_rows(
            _checked_blocked(blocked, pairs, len(self.levels))
        )
        known = dict(self.blocked_priors)
        for index, pattern in enumerate(patterns):
            prior = known.get(tuple(bool(flag) for flag in pattern))
            if prior is not None:
                weights[inverse.ravel() == index] = _log_odds(prior)
        return weights

    def weights(
        self,
        similarities: NDArray[np.floating],
        blocked: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.float64]:
        """The match weight of each pair: its prior plus every field's weight."""
        fields: NDArray[np.float64] = self.field_weights(similarities, blocked).sum(
            axis=1
        )
        return fields + self.prior_weights(len(fields), blocked)

    def to_text(self) -> str:
        """The m, u and weight of every level, as a table for the terminal."""
        header = (
            f"{'field':<16}{'level':<10}{'similarity':>14}{'m':>10}{'u':>10}"
            f"{'weight':>8}{'candidates':>12}{'random':>9}"
        )
        rows = [_parameter_row(row) for row in self.parameters]
        prior = (
            f"Prior: lambda {self.prior:.4g} of {self.candidate_pairs:,} candidate "
            f"pairs are matches (weight {self.prior_weight:+.2f}"
            + _groups_text(self.blocked_priors)
            + "); u from "
            f"{self.random_pairs:,} random pairs; EM "
            + (
                f"converged in {self.iterations} iterations."
                if self.converged
                else f"did NOT converge in {self.iterations} iterations."
            )
        )
        return "\n".join([header, *rows, prior, *self.warnings])


def _groups_text(groups: tuple[tuple[BlockedPattern, float], ...]) -> str:
    if not groups:
        return ""
    low, high = min(p for _, p in groups), max(p for _, p in groups)
    return (
        f"; by blocked fields, {len(groups)} groups with lambda {low:.3g} to {high:.3g}"
    )


def _log_odds(p: float) -> float:
    return math.log2(p / (1.0 - p))


def _checked_blocked(
    blocked: NDArray[np.bool_], pairs: int, fields: int
) -> NDArray[np.bool_]:
    flags = np.asarray(blocked)
    if flags.dtype != np.bool_ or flags.shape != (pairs, fields):
        raise ValueError(
            f"blocked must be a boolean array of shape ({pairs}, {fields}), one "
            f"flag per pair and field (got {flags.dtype} of shape {flags.shape})"
        )
    return flags


def _evidence(
    levels: Sequence[FieldLevels],
    similarities: NDArray[np.floating],
    blocked: NDArray[np.bool_] | None,
) -> NDArray[np.int8]:
    """Level codes, with the fields each pair was blocked on set to missing."""
    codes = level_codes(levels, similarities)
    if blocked is None:
        return codes
    flags = _checked_blocked(blocked, codes.shape[0], codes.shape[1])
    return np.where(flags, np.int8(MISSING), codes)


def _parameter_row(row: LevelParameters) -> str:
    high = "" if math.isinf(row.high) else f"{row.high:.2f}"
    band = f"[{row.low:.2f}, {high or '1.00'}" + ("]" if not high else ")")
    return (
        f"{row.field:<16}{row.label:<10}{band:>14}{row.m:>10.4f}{row.u:>10.4f}"
        f"{row.weight:>+8.2f}{row.candidate_pairs:>12,}{row.random_pairs:>9,}"
    )


def train_model(
    levels: Sequence[FieldLevels],
    similarities: NDArray[np.floating],
    random_similarities: NDArray[np.floating],
    settings: TrainingSettings | None = None,
    blocked: NDArray[np.bool_] | None = None,
) -> FellegiSunterModel:
    """Estimate u from random pairs, then m and lambda by EM on the candidates.

    Args:
        levels: How each field is cut into levels, in column order.
        similarities: Candidate pairs x fields, Dice in [0, 1], NaN if missing.
        random_similarities: The same for randomly drawn pairs.
        settings: EM's settings; the defaults when not given.
        blocked: Candidate pairs x fields, True where blocking forced the
            pair's agreement on the field (see the module doc). Pass the same
            flags when scoring.

    Raises:
        ValueError: An array has the wrong shape or a value outside [0, 1], or
            there are no candidate pairs or no random pairs.
    """
    settings = settings or TrainingSettings()
    levels = tuple(levels)
    codes = _evidence(levels, similarities, blocked)
    random_codes = level_codes(levels, random_similarities)
    for name, array in (("candidate", codes), ("random", random_codes)):
        if array.shape[0] == 0:
            raise ValueError(
                f"no {name} pairs to train on; give at least one {name} pair"
            )
    width = 1 + max(spec.count for spec in levels)
    random_counts = _level_counts(random_codes, np.ones(len(random_codes)), width)
    u = _shares(random_counts, levels, settings.u_pseudo_count)
    flags = (
        np.zeros(codes.shape, dtype=np.bool_)
        if blocked is None
        else np.asarray(blocked, dtype=np.bool_)
    )
    groups, group_of_pair, _ = unique_rows(flags)
    keyed = np.column_stack([group_of_pair, codes]).astype(np.intp)
    unique_keyed, _, pattern_counts = unique_rows(keyed)
    patterns = unique_keyed.astype(np.intp, copy=False)
    fit = _em(levels, patterns, pattern_counts, len(groups), u, settings)
    candidate_counts = _level_counts(codes, np.ones(len(codes)), width)
    parameters = _parameters(levels, fit, u, candidate_counts, random_counts)
    return FellegiSunterModel(
        levels=levels,
        m=_as_tuples(fit.m, levels),
        u=_as_tuples(u, levels),
        prior=fit.prior,
        iterations=fit.iterations,
        converged=fit.converged,
        candidate_pairs=int(codes.shape[0]),
        random_pairs=int(random_codes.shape[0]),
        parameters=parameters,
        warnings=_warnings(
            levels, fit, u, candidate_counts, settings, blocked is not None
        ),
        blocked_priors=()
        if blocked is None
        else tuple(
            (tuple(bool(flag) for flag in group), float(prior))
            for group, prior in zip(groups, fit.group_priors, strict=True)
        ),
    )


def unique_rows(
    rows: NDArray[np.generic],
) -> tuple[NDArray[np.generic], NDArray[np.intp], NDArray[np.intp]]:
    """``np.unique(rows, axis=0)`` with the inverse and the counts, for rows
    of small non-negative integers or flags, in the same (lexicographic)
    order. Each row is packed into one integer first when they fit, which
    takes seconds off millions of candidate pairs (numpy sorts rows as
    opaque records otherwise)."""
    values = np.asarray(rows)
    if values.ndim == 2 and len(values) and values.shape[1]:
        numbers = values.astype(np.int64)
        radix = [int(top) + 1 for top in numbers.max(axis=0)]
        if int(numbers.min()) >= 0 and math.prod(radix) < 2**62:
            packed = np.zeros(len(numbers), dtype=np.int64)
            for column, base in enumerate(radix):
                packed = packed * base + numbers[:, column]
            _, first, inverse, counts = np.unique(
                packed, return_index=True, return_inverse=True, return_counts=True
            )
            return values[first], inverse.ravel(), counts
    unique, inverse, counts = np.unique(
        values, axis=0, return_inverse=True, return_counts=True
    )
    return unique, inverse.ravel(), counts


@dataclass(frozen=True)
class _Fit:
    m: NDArray[np.float64]  # fields x codes, column 0 (missing) unused.
    prior: float  # Over all candidate pairs.
    group_priors: NDArray[np.float64]  # Per group of blocked fields.
    iterations: int
    converged: bool


def _level_counts(
    codes: NDArray[np.integer], weights: NDArray[np.float64], width: int
) -> NDArray[np.float64]:
    """Weighted count of each field's codes (fields x codes)."""
    counts = np.zeros((codes.shape[1], width))
    for f in range(codes.shape[1]):
        counts[f] = np.bincount(codes[:, f], weights=weights, minlength=width)
    return counts


def _shares(
    counts: NDArray[np.float64], levels: Sequence[FieldLevels], pseudo: float
) -> NDArray[np.float64]:
    """Smoothed shares of the non-missing levels of each field; missing is 1."""
    shares = np.ones_like(counts)
    for f, spec in enumerate(levels):
        present = counts[f, 1 : 1 + spec.count] + pseudo
        shares[f, 1 : 1 + spec.count] = present / present.sum()
    return shares


def _initial_m(levels: Sequence[FieldLevels], width: int) -> NDArray[np.float64]:
    # Matches mostly agree: start with each level 4 times as likely as the one
    # below it, so EM begins on the side of the solution where matches agree.
    m = np.ones((len(levels), width))
    for f, spec in enumerate(levels):
        rising = 4.0 ** np.arange(spec.count)
        m[f, 1 : 1 + spec.count] = rising / rising.sum()
    return m


def _em(
    levels: Sequence[FieldLevels],
    patterns: NDArray[np.intp],
    counts: NDArray[np.int64],
    group_count: int,
    u: NDArray[np.float64],
    settings: TrainingSettings,
) -> _Fit:
    """EM on distinct (group, level codes) rows, each with its count of pairs."""
    group, codes = patterns[:, 0], patterns[:, 1:]
    fields = np.arange(len(levels))[None, :]
    log_u = np.log(u)[fields, codes].sum(axis=1)
    m = _initial_m(levels, u.shape[1])
    priors = np.full(group_count, settings.initial_lambda)
    weights = counts.astype(np.float64)
    group_sizes = np.bincount(group, weights=weights, minlength=group_count).astype(
        np.float64
    )
    for iteration in range(1, settings.max_iterations + 1):
        log_m = np.log(m)[fields, codes].sum(axis=1)
        log_odds = np.log(priors / (1.0 - priors))[group] + log_m - log_u
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700.0, 700.0)))
        matches = posterior * weights
        found = np.bincount(group, weights=matches, minlength=group_count)
        new_priors = np.clip(
            (found + 0.5) / (group_sizes + 1.0), _MIN_LAMBDA, 1 - _MIN_LAMBDA
        )
        new_m = (
            _shares(
                _level_counts(codes, matches, u.shape[1]),
                levels,
                settings.m_pseudo_count,
            )
            if settings.learn_m
            else m
        )
        change = max(
            float(np.abs(new_m - m).max()), float(np.abs(new_priors - priors).max())
        )
        m, priors = new_m, new_priors
        if change <= settings.tolerance:
            return _fit(m, priors, group_sizes, iteration, converged=True)
    return _fit(m, priors, group_sizes, settings.max_iterations, converged=False)


def _fit(
    m: NDArray[np.float64],
    priors: NDArray[np.float64],
    sizes: NDArray[np.float64],
    iterations: int,
    converged: bool,
) -> _Fit:
    overall = float(
        np.clip((priors * sizes).sum() / sizes.sum(), _MIN_LAMBDA, 1 - _MIN_LAMBDA)
    )
    return _Fit(m, overall, priors, iterations, converged)


def _as_tuples(
    table: NDArray[np.float64], levels: Sequence[FieldLevels]
) -> tuple[tuple[float, ...], ...]:
    return tuple(
        tuple(float(value) for value in table[f, 1 : 1 + spec.count])
        for f, spec in enumerate(levels)
    )


def _parameters(
    levels: Sequence[FieldLevels],
    fit: _Fit,
    u: NDArray[np.float64],
    candidates: NDArray[np.float64],
    randoms: NDArray[np.float64],
) -> tuple[LevelParameters, ...]:
    rows = []
    for f, spec in enumerate(levels):
        for code in range(spec.count, MISSING, -1):
            low, high = spec.band(code)
            m, u_value = float(fit.m[f, code]), float(u[f, code])
            rows.append(
                LevelParameters(
                    field=spec.name,
                    code=code,
                    label=spec.label(code),
                    low=low,
                    high=high,
                    m=m,
                    u=u_value,
                    weight=math.log2(m / u_value),
                    candidate_pairs=int(candidates[f, code]),
                    random_pairs=int(randoms[f, code]),
                )
            )
    return tuple(rows)


def _warnings(
    levels: Sequence[FieldLevels],
    fit: _Fit,
    u: NDArray[np.float64],
    candidate_counts: NDArray[np.float64],
    settings: TrainingSettings,
    has_blocked: bool,
) -> tuple[str, ...]:
    found = []
    if fit.prior > MAX_PLAUSIBLE_LAMBDA:
        cause = (
            "the fields left once blocking is accounted for may be too few or "
            "too coarse to tell people apart (a field or group holding little "
            "more than sex, say): compare more fields, or use another method"
            if has_blocked
            else "the agreement blocking forces may look like evidence of a "
            "match; if blocking forced agreement on some fields, pass `blocked`"
        )
        found.append(
            f"EM takes {fit.prior:.1%} of the candidate pairs for matches, which "
            f"is implausible: {cause}."
        )
    if not fit.converged:
        found.append(
            f"EM did not converge in {settings.max_iterations} iterations (some m "
            f"or lambda still moved by more than {settings.tolerance:g}); the "
            "weights may be off. Check the candidate pairs, or raise max_iterations."
        )
    for f, spec in enumerate(levels):
        top = spec.count
        # A blocking key's exact agreements are all left out of the evidence;
        # its top m is then only a pseudo-count and says nothing either way.
        if candidate_counts[f, top] and fit.m[f, top] <= u[f, top]:
            found.append(
                f"Field {spec.name!r}: matches agree on it no more often than "
                f"random pairs (m {fit.m[f, top]:.3g} <= u {u[f, top]:.3g} at "
                f"level {spec.label(top)!r}); the field is not helping, or the fit "
                "found a group other than the matches."
            )
    return tuple(found)
