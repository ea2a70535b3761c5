"""Choosing the Dice threshold from the best-match scores alone.

Each record of one party has a best Dice score against the other party. True
matches score high (0.85 to 1.0); a record without a match still has a best
score, lower and piled up around a value set by the schema (0.4 to 0.75). With
no ground truth, the threshold must come from the shape of that distribution.

The threshold is the bottom of the valley between the two groups: the lowest
point, between its two peaks, of a smoothed histogram of the scores (a
Gaussian kernel of half Silverman's bandwidth, at least 0.01 and at least the
spacing of the values). Where several dips compete, the one deepest in
standard errors of the smoothed count wins. Two figures check it:

* a two-group mixture fitted by EM, one normal curve per group on the logit of
  the scores; where its posterior crosses 0.5 should lie in the valley too;
* Otsu's threshold, the cut that maximises the variance between the sides.

Hardening by diffusion changes that picture: the non-matches pile up in a
narrow peak and the matches spread thinly from just above it to 1.0, so the
valley's lowest point lies anywhere in a flat run of matches. So the pile is
fitted on its own (:mod:`linkage.matching.non_matches`); where it ends below
the valley, its end is the threshold ("non-match pile").

Otherwise the valley decides because it assumes no shape for either group. On
synthetic scores the mixture's boundary drifted low whenever a group was
skewed (non-match best scores are maxima, so skewed; identical records pile
up at exactly 1.0), while the valley stayed put.

The scores must show two clear groups: each side of the valley holds at
least :data:`MIN_GROUP_RECORDS` records, the valley is at most
:data:`MAX_VALLEY_RATIO` as high as the lower peak, and it is deeper than
:data:`MIN_VALLEY_SIGNIFICANCE` standard errors. Otherwise
:data:`DEFAULT_THRESHOLD` is used and the explanation says why.

Scores of exactly 0.0 mean that no candidate came close, and scores of
exactly 1.0 that the encodings are identical: whatever the threshold, the
first are non-matches and the second matches, so both are left out of the
analysis (a pile at 1.0 would otherwise look like a group of its own). Every
step is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from linkage.matching.non_matches import fit_non_matches
from linkage.matching.one_to_one import SampledSide, end_of_false_links

__all__ = [
    "DEFAULT_THRESHOLD",
    "MAX_VALLEY_RATIO",
    "MIN_GROUP_RECORDS",
    "MIN_VALLEY_SIGNIFICANCE",
    "ThresholdChoice",
    "choose_threshold",
    "fixed_threshold",
]

DEFAULT_THRESHOLD = 0.8
"""The threshold used when the scores do not show two clear groups."""

MIN_GROUP_RECORDS = 10
"""The fewest records each side of the valley must hold."""

MAX_VALLEY_RATIO = 0.75
"""How high the valley may be, as a share of the lower of the two peaks."""

MIN_VALLEY_SIGNIFICANCE = 3.5
"""How deep the valley must be, in standard errors of the smoothed count."""

_FINE_BINS = 1000  # Resolution of the internal histogram: 0.001.
_MIN_BANDWIDTH = 0.01  # Below this, sampling noise makes dips of its own.
_MAX_LATTICE_BANDWIDTH = 0.05  # Even coarse lattices keep the groups apart.
_CLIP = 0.01  # Scores are clipped to [0.01, 0.99] for the mixture's logit.
_MIN_SD = 0.05  # Floor on a group's spread (logit scale) so EM cannot collapse.
_EM_STEPS = 500
_EM_TOLERANCE = 1e-9
_SEED_QUANTILES = (0.5, 0.8, 0.95)  # EM also starts from these cuts.
_BODY_SCALES = 2.0  # The pile's end lies at least this many scales above its mode.


@dataclass(frozen=True)
class ThresholdChoice:
    """A Dice threshold, how it was chosen, and the numbers it rests on.

    Attributes:
        threshold: Pairs scoring at least this much are matches.
        method: ``"non-match pile"``, ``"mixture"``, ``"valley"``,
            ``"default"`` (no two clear groups) or ``"fixed"`` (set by the
            operator).
        explanation: One or two sentences for the operator.
        histogram_edges: Bin edges of the best-match scores (empty if fixed).
        histogram_counts: Records per bin (empty if fixed).
        modes: Peaks of the (non-match, match) groups, when two were found.
        estimated_matches: Records the fitted mixture puts in the high group
            (plus those scoring exactly 1.0), when two groups were found.
        records: Best-match scores given.
        records_above: Scores at or above the threshold.
        valley_threshold: The bottom of the deepest valley, if any.
        non_match_end: Where the fitted pile of non-match scores ends, when
            that comes before the valley (then it is the threshold).
        mixture_threshold: Where the mixture's posterior crosses 0.5, if it does.
        otsu_threshold: Otsu's threshold, if enough scores lie between 0 and 1.
    """

    threshold: float
    method: str
    explanation: str
    histogram_edges: tuple[float, ...] = ()
    histogram_counts: tuple[int, ...] = ()
    modes: tuple[float, ...] = ()
    estimated_matches: int | None = None
    records: int = 0
    records_above: int = 0
    valley_threshold: float | None = None
    mixture_threshold: float | None = None
    otsu_threshold: float | None = None
    non_match_end: float | None = None

    @property
    def valley_or_threshold(self) -> float:
        """The valley's bottom where the threshold is the non-match pile's
        end, else the threshold: a floor for candidates that a second model
        scores again, which more pairs near the pile would only confuse."""
        if self.method == "non-match pile" and self.valley_threshold is not None:
            return self.valley_threshold
        return self.threshold


def fixed_threshold(value: float) -> ThresholdChoice:
    """A threshold the operator set, with no histogram behind it.

    Raises:
        ValueError: ``value`` is not a number with 0 < value <= 1.

    >>> fixed_threshold(0.85).threshold
    0.85
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(
            f"threshold must be a number (got {value!r}); give the Dice "
            "similarity a pair needs to match, e.g. 0.8"
        )
    if not 0.0 < value <= 1.0:
        raise ValueError(
            f"threshold must be greater than 0 and at most 1 (got {value!r}); "
            "give the Dice similarity a pair needs to match, e.g. 0.8"
        )
    return ThresholdChoice(
        threshold=float(value),
        method="fixed",
        explanation=(
            f"The threshold {_fmt(value)} was set by the operator: pairs whose "
            "Dice similarity is at least this much are matches."
        ),
    )


def choose_threshold(
    best: NDArray[np.float64],
    *,
    bins: int = 100,
    prefer_fit: bool = True,
    one_to_one: Sequence[SampledSide] | None = None,
    crossing_first: bool = False,
) -> ThresholdChoice:
    """Choose the Dice threshold from each record's best-match score alone.

    Args:
        best: Each record's best Dice score against the other party, in
            [0, 1]; 0.0 where no candidate came close.
        bins: Bins of the histogram kept for the report.
        prefer_fit: take the two-group fit's crossing where it agrees with
            the valley and lies below its bottom (recovers the tail of the
            matches). Pass False where a false match costs more than a missed
            one, e.g. when groups are built across many parties.
        one_to_one: where each record links at most one record of each
            other party (no dedup), the samples ``best`` was drawn from: a
            record with a match does not take a false link, so the pile ends
            where false links would start to outnumber true ones
            (:mod:`linkage.matching.one_to_one`), lower than otherwise.
        crossing_first: take the two-group fit's crossing (a record as
            likely a match as not) where it lies between the non-matches'
            peak and the end of their pile. For deduplication across
            agencies, whose grouping keeps a pair from joining records that
            do not vouch for each other
            (:func:`~linkage.matching.clustering.cluster_links_and_dedup`),
            so the stricter end costs links it need not.

    Raises:
        ValueError: ``best`` is empty, not one-dimensional, or holds a value
            outside [0, 1] (or NaN); or ``bins`` is below 2.

    >>> rng = np.random.default_rng(0)
    >>> best = np.concatenate([rng.beta(60, 6, 500), rng.beta(60, 40, 500)])
    >>> choice = choose_threshold(best)
    >>> choice.method in ("valley", "mixture"), 0.7 < choice.threshold < 0.85
    (True, True)
    """
    scores = _validated(best, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, _ = np.histogram(scores, bins=edges)
    base = ThresholdChoice(
        threshold=DEFAULT_THRESHOLD,
        method="default",
        explanation="",
        histogram_edges=tuple(float(edge) for edge in edges),
        histogram_counts=tuple(int(count) for count in counts),
        records=int(scores.size),
    )
    if float(np.ptp(scores)) == 0.0:
        return _default(
            scores, base, f"all {scores.size:,} scores are {_fmt(scores[0])}"
        )
    middle = scores[(scores > 0.0) & (scores < 1.0)]
    if middle.size < 2 * MIN_GROUP_RECORDS:
        return _default(scores, base, _too_few(middle.size))
    if float(np.ptp(middle)) == 0.0:
        return _default(scores, base, f"all others are {_fmt(middle[0])}")
    return _from_distribution(
        scores, middle, base, prefer_fit, one_to_one, crossing_first
    )


def _validated(best: NDArray[np.float64], bins: int) -> NDArray[np.float64]:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2 (got {bins!r})")
    scores = np.asarray(best, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(
            "best must be one-dimensional, one score per record "
            f"(got shape {scores.shape})"
        )
    if scores.size == 0:
        raise ValueError(
            "no best-match scores to choose a threshold from; match at least "
            "one record, or set the threshold yourself"
        )
    bad = ~((scores >= 0.0) & (scores <= 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            "best-match scores must be Dice similarities in [0, 1] (got "
            f"{float(scores[first])!r} at position {first}); check how they "
            "were computed"
        )
    return scores


# The decision ---------------------------------------------------------------


def _from_distribution(
    scores: NDArray[np.float64],
    middle: NDArray[np.float64],
    base: ThresholdChoice,
    prefer_fit: bool,
    one_to_one: Sequence[SampledSide] | None,
    crossing_first: bool = False,
) -> ThresholdChoice:
    density = _Density.of(middle)
    valley = density.deepest_valley()
    otsu = _otsu(middle)
    seeds = [otsu] if valley is None else [otsu, valley.location]
    mixture = _fit_mixture(middle, seeds)
    crossing = None if mixture is None else mixture.crossing()
    checked = replace(
        base,
        valley_threshold=None if valley is None else _round(valley.location),
        mixture_threshold=None if crossing is None else _round(crossing),
        otsu_threshold=_round(otsu),
    )
    if valley is None:
        return _default(scores, checked, "only one peak")
    reason = _why_not_two_groups(valley)
    # A valley too weak to part two groups is a dip of noise and says little
    # of where the pile ends: the end stands, below the plain CLKs' default
    # (a broad pile of plain CLKs with few matches ends near 1.0). Bounded to
    # one of the pile's scales past the dip, the demo's tax office fell back
    # to 0.8 when its end lay 0.0135 past it (F1 0.762 against 0.844).
    pile_end, by_false_links = _end_of_non_matches(
        middle, valley, one_to_one, strict=reason is None
    )
    if reason is not None:
        if pile_end is None:
            return _default(scores, checked, reason)
        # Diffusion of few fields can leave the matches too thin to make a
        # second peak; the pile of non-matches still ends where it ends, and
        # the plain CLKs' default would lie far above it.
        end = _round(pile_end)
        above = int(np.count_nonzero(scores >= end))
        return replace(
            checked,
            threshold=end,
            method="non-match pile",
            explanation=_explain_lone_pile(
                scores.size, above, end, valley, reason, by_false_links
            ),
            records_above=above,
            non_match_end=end,
        )
    agrees = crossing is not None and valley.holds(density.at(crossing))
    method, threshold = _decide(
        valley, crossing, agrees, pile_end, prefer_fit, crossing_first
    )
    # Identical encodings (score 1.0) were left out of the fit; they match.
    identical = int(np.count_nonzero(scores == 1.0))
    return replace(
        checked,
        estimated_matches=None
        if mixture is None
        else mixture.matches(middle.size) + identical,
        threshold=threshold,
        method=method,
        explanation=(
            _explain_pile(scores, threshold, valley, by_false_links)
            if method == "non-match pile"
            else _explain_two_groups(
                scores, threshold, valley, crossing, agrees, method, pile_end
            )
        ),
        modes=(_round(valley.low_peak), _round(valley.high_peak)),
        records_above=int(np.count_nonzero(scores >= threshold)),
        non_match_end=None if pile_end is None else _round(pile_end),
    )


def _end_of_non_matches(
    middle: NDArray[np.float64],
    valley: _Valley,
    one_to_one: Sequence[SampledSide] | None,
    *,
    strict: bool = True,
) -> tuple[float | None, bool]:
    """Where the fitted pile of non-match scores ends, if below the valley
    (unless ``strict``: below :data:`DEFAULT_THRESHOLD`), and
    whether that is where false links would outnumber true ones.

    With ``one_to_one`` linkage a record links at most one record of each
    other party, so a record whose match scores higher never takes a
    non-match: the pile ends where false links would start to outnumber
    true ones (:func:`~linkage.matching.one_to_one.end_of_false_links`).
    Where the sides are too few to estimate that, or without them, it ends
    where the fitted pile holds at most half the records nearby.
    """
    ordered = np.sort(middle)
    fit = fit_non_matches(ordered, valley.low_peak)
    if fit is None:
        return None, False
    estimate = None if one_to_one is None else end_of_false_links(one_to_one)
    end = fit.end(ordered) if estimate is None else estimate.threshold
    bound = valley.location if strict else DEFAULT_THRESHOLD
    if end is None or end >= bound:
        return None, False
    # Never inside the pile's body: there a record is still likelier a
    # non-match than not, whoever competes.
    return max(end, fit.location + _BODY_SCALES * fit.scale), estimate is not None


def _decide(
    valley: _Valley,
    crossing: float | None,
    agrees: bool,
    pile_end: float | None,
    prefer_fit: bool,
    crossing_first: bool = False,
) -> tuple[str, float]:
    """(method, threshold): the end of the non-match pile where it comes
    before the valley (or, with ``crossing_first``, the fit's crossing where
    it lies between the pile's peak and that end); else the fit's crossing
    or the valley's bottom."""
    if (
        crossing_first
        and crossing is not None
        and pile_end is not None
        and valley.low_peak < crossing < pile_end
    ):
        # The crossing need not lie in the valley here: diffusion leaves the
        # matches a thin tail, and the fit's crossing sits on the pile's
        # shoulder, where the pairs the grouping lets in are mostly matches.
        return "mixture", _round(crossing)
    if pile_end is not None:
        # Matches spread thinly below a flat valley's lowest bin (diffusion
        # does this); above the pile's end a record is likelier a match.
        return "non-match pile", _round(pile_end)
    # Where the fit agrees with the valley and lies below its lowest bin, the
    # crossing is the better point: a flat valley's lowest bin is noise, and
    # the tail of the matches reaches into the valley, where the crossing
    # (a record as likely a match as not) keeps it.
    if prefer_fit and agrees and crossing is not None and crossing < valley.location:
        return "mixture", _round(crossing)
    return "valley", _round(valley.location)


def _why_not_two_groups(valley: _Valley | None) -> str | None:
    if valley is None:
        return "only one peak"
    if valley.ratio > MAX_VALLEY_RATIO:
        return (
            "only one clear peak: the deepest dip is "
            f"{valley.ratio:.0%} as high as the peak beside it"
        )
    if valley.significance < MIN_VALLEY_SIGNIFICANCE:
        return "the second peak is too small to tell from chance"
    return None


def _default(
    scores: NDArray[np.float64], base: ThresholdChoice, reason: str
) -> ThresholdChoice:
    above = int(np.count_nonzero(scores >= DEFAULT_THRESHOLD))
    explanation = (
        f"The best-match scores do not form two clear groups ({reason}), so the "
        f"default threshold {_fmt(DEFAULT_THRESHOLD)} is used; {above:,} of "
        f"{scores.size:,} records score at least that. Check the "
        "histogram, and set the threshold yourself if the matches lie elsewhere."
    )
    return replace(
        base,
        threshold=DEFAULT_THRESHOLD,
        method="default",
        explanation=explanation,
        records_above=above,
    )


def _too_few(middle: int) -> str:
    return (
        f"only {middle:,} records score above 0 and below 1; "
        f"at least {2 * MIN_GROUP_RECORDS} are needed"
    )


def _two_groups(scores: NDArray[np.float64], threshold: float, valley: _Valley) -> str:
    above = int(np.count_nonzero(scores >= threshold))
    empty = int(np.count_nonzero(scores == 0.0))
    no_candidate = f", {empty:,} of them with no candidate at all" if empty else ""
    return (
        f"Best-match scores form two groups: {above:,} around "
        f"{_fmt(valley.high_peak, 2)} (likely matches) and "
        f"{scores.size - above:,} around {_fmt(valley.low_peak, 2)} "
        f"(likely non-matches{no_candidate})."
    )


def _why_the_pile_ends(one_to_one: bool) -> str:
    """Why the threshold is where the non-match pile ends (after "ends")."""
    return (
        "as each record links at most one record of each other agency, a "
        "lower threshold would add more false links than true ones"
        if one_to_one
        else "a fit of it holds at most half the records nearby"
    )


def _explain_pile(
    scores: NDArray[np.float64], threshold: float, valley: _Valley, one_to_one: bool
) -> str:
    return (
        f"{_two_groups(scores, threshold, valley)} The non-matches' scores pile "
        f"up tightly around {_fmt(valley.low_peak, 2)} and the matches spread "
        f"thinly above them, so the threshold {_fmt(threshold)} is where that "
        f"pile ends ({_why_the_pile_ends(one_to_one)}), below the valley's "
        f"lowest point ({_fmt(valley.location)})."
    )


def _explain_lone_pile(
    records: int,
    above: int,
    threshold: float,
    valley: _Valley,
    reason: str,
    one_to_one: bool,
) -> str:
    return (
        f"The best-match scores do not form two clear groups ({reason}), but "
        f"most pile up tightly around {_fmt(valley.low_peak, 2)}, as unrelated "
        f"records' do under diffusion, so the threshold {_fmt(threshold)} is "
        f"where that pile ends ({_why_the_pile_ends(one_to_one)}); {above:,} of "
        f"{records:,} records score at least that. Few matches stand out: check "
        "the histogram, and set the threshold yourself if you know where they "
        "lie."
    )


def _explain_two_groups(
    scores: NDArray[np.float64],
    threshold: float,
    valley: _Valley,
    crossing: float | None,
    agrees: bool,
    method: str,
    pile_end: float | None,
) -> str:
    groups = _two_groups(scores, threshold, valley)
    if method == "mixture":
        where = (
            f"A two-group fit puts the threshold at {_fmt(threshold)}, where a "
            "record is as likely a match as not"
        )
        if pile_end is not None and threshold < pile_end:
            # Taken below the pile's end (choose_threshold's crossing_first).
            check = (
                f", below where the non-matches' pile ends ({_fmt(pile_end)}): "
                "deduplicating across agencies, two records of one agency share "
                "a group only if alike themselves, so the pairs between lose few "
                "people."
            )
        else:
            check = (
                f"; it lies in the valley between the groups (lowest at "
                f"{_fmt(valley.location)})."
            )
        return f"{groups} {where}{check}"
    where = (
        f"The threshold {_fmt(threshold)} sits in the valley between them, "
        "where the fewest records score"
    )
    if crossing is None:
        check = "."
    elif agrees:
        check = f"; a two-group fit agrees ({_fmt(crossing)})."
    else:
        check = (
            f"; a two-group fit of normal curves suggested {_fmt(crossing)}, "
            "outside the valley, so it was not used."
        )
    return f"{groups} {where}{check}"


# The smoothed histogram and its valley ---------------------------------------


@dataclass(frozen=True)
class _Valley:
    """The bottom of a dip in the smoothed histogram, and the peaks around it."""

    location: float
    low_peak: float
    high_peak: float
    ratio: float  # Height of the bottom over the height of the lower peak.
    significance: float  # Depth in standard errors of the smoothed count.
    height: float
    lower_peak_height: float

    def holds(self, height: float) -> bool:
        """Whether a point this high lies in the lower half of the valley."""
        return height <= (self.height + self.lower_peak_height) / 2


@dataclass(frozen=True)
class _Density:
    """Scores counted in fine bins, smoothed by a Gaussian kernel."""

    grid: NDArray[np.float64]
    smoothed: NDArray[np.float64]
    cumulative: NDArray[np.int64]
    sigma_bins: float

    @classmethod
    def of(cls, scores: NDArray[np.float64]) -> _Density:
        counts, edges = np.histogram(scores, bins=_FINE_BINS, range=(0.0, 1.0))
        sigma = _bandwidth(scores) * _FINE_BINS
        offsets = np.arange(-math.ceil(4 * sigma), math.ceil(4 * sigma) + 1)
        kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
        smoothed = np.convolve(counts.astype(np.float64), kernel / kernel.sum(), "same")
        grid = (edges[:-1] + edges[1:]) / 2
        return cls(grid, smoothed, np.cumsum(counts), sigma)

    def at(self, score: float) -> float:
        """The smoothed count at ``score``."""
        return float(np.interp(score, self.grid, self.smoothed))

    def deepest_valley(self) -> _Valley | None:
        """The dip deepest in standard errors with enough records either side."""
        d = self.smoothed
        left = np.maximum.accumulate(d)
        right = np.maximum.accumulate(d[::-1])[::-1]
        lower = np.minimum(left, right)
        # A kernel of sigma bins averages ~2*sqrt(pi)*sigma bins of counts.
        variance = (lower + d) / (2 * math.sqrt(math.pi) * self.sigma_bins)
        z = (lower - d) / np.sqrt(np.maximum(variance, 1e-12))
        total = int(self.cumulative[-1])
        sides = np.minimum(self.cumulative, total - self.cumulative)
        z = np.where(sides >= MIN_GROUP_RECORDS, z, 0.0)
        best = int(np.argmax(z))
        if z[best] <= 0.0:
            return None
        bottom = self._middle_of_bottom(best)
        low = int(np.argmax(d[:bottom]))
        high = bottom + int(np.argmax(d[bottom:]))
        peak = float(lower[best])
        return _Valley(
            location=float(self.grid[bottom]),
            low_peak=float(self.grid[low]),
            high_peak=float(self.grid[high]),
            ratio=float(d[best]) / peak,
            significance=float(z[best]),
            height=float(d[best]),
            lower_peak_height=peak,
        )

    def _middle_of_bottom(self, index: int) -> int:
        """The middle of the flat stretch around ``index``: a gap has no minimum."""
        d = self.smoothed
        flat = d <= d[index] + 1e-9 * float(d.max())
        start, stop = index, index
        while start > 0 and flat[start - 1]:
            start -= 1
        while stop < d.size - 1 and flat[stop + 1]:
            stop += 1
        return (start + stop) // 2


def _bandwidth(scores: NDArray[np.float64]) -> float:
    """The kernel's width: wide enough to hide noise and the lattice of values."""
    q25, q75 = np.quantile(scores, [0.25, 0.75])
    spread = min(float(np.std(scores)), float(q75 - q25) / 1.34)
    # Half of Silverman's bandwidth: his rule over-smooths two groups.
    silverman = 0.45 * spread * scores.size ** (-0.2)
    # Dice scores are fractions; with short encodings they sit on a coarse
    # lattice whose teeth would otherwise look like valleys.
    values = np.unique(scores)
    lattice = float(np.median(np.diff(values))) if values.size > 1 else 0.0
    return float(max(silverman, _MIN_BANDWIDTH, min(lattice, _MAX_LATTICE_BANDWIDTH)))


def _otsu(scores: NDArray[np.float64]) -> float:
    """The cut that maximises the variance between the two sides."""
    counts, edges = np.histogram(scores, bins=_FINE_BINS, range=(0.0, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)[:-1].astype(np.float64)
    weight_high = scores.size - weight_low
    sum_low = np.cumsum(counts * centers)[:-1]
    total = float(np.sum(counts * centers))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (total - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between = np.where((weight_low > 0) & (weight_high > 0), between, -1.0)
    return float(edges[int(np.argmax(between)) + 1])


# The two-group mixture ------------------------------------------------------


@dataclass(frozen=True)
class _Mixture:
    """Two normal curves on the logit scale; index 0 is the low group."""

    high_weight: float
    means: tuple[float, float]
    sds: tuple[float, float]
    loglik: float = -math.inf

    def log_weighted(
        self, z: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Log of each group's weight times its density at ``z``."""
        weights = (1.0 - self.high_weight, self.high_weight)
        low, high = (
            math.log(w) - math.log(sd) - 0.5 * ((z - mean) / sd) ** 2
            for w, mean, sd in zip(weights, self.means, self.sds, strict=True)
        )
        return low, high

    def crossing(self) -> float | None:
        """The score between the means where the posterior crosses 0.5."""
        z = np.linspace(self.means[0], self.means[1], 2001)
        low, high = self.log_weighted(z)
        gap = high - low
        if gap[0] >= 0.0 or gap[-1] < 0.0:
            return None
        i = int(np.argmax(gap >= 0.0))
        z0 = z[i - 1] + (z[i] - z[i - 1]) * gap[i - 1] / (gap[i - 1] - gap[i])
        return float(1.0 / (1.0 + math.exp(-z0)))

    def matches(self, records: int) -> int:
        """Records expected in the high group."""
        return round(self.high_weight * records)


def _fit_mixture(scores: NDArray[np.float64], seeds: list[float]) -> _Mixture | None:
    """The likeliest of several EM runs, each started from a cut of the scores."""
    z, counts = _logit_histogram(scores)
    cuts = [*seeds, *np.quantile(scores, _SEED_QUANTILES).tolist()]
    fits = [_em(z, counts, _logit(cut)) for cut in cuts]
    found = [fit for fit in fits if fit is not None]
    return max(found, key=lambda fit: fit.loglik) if found else None


def _logit_histogram(
    scores: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Logit scores counted in fine bins: EM on bins is fast and exact enough."""
    clipped = np.clip(scores, _CLIP, 1.0 - _CLIP)
    z = np.log(clipped) - np.log1p(-clipped)
    bound = _logit(1.0 - _CLIP)
    counts, edges = np.histogram(z, bins=_FINE_BINS, range=(-bound, bound))
    centers = (edges[:-1] + edges[1:]) / 2
    keep = counts > 0
    return centers[keep], counts[keep].astype(np.float64)


def _em(
    z: NDArray[np.float64], counts: NDArray[np.float64], cut: float
) -> _Mixture | None:
    high = (z > cut).astype(np.float64)
    loglik = -math.inf
    fit: _Mixture | None = None
    for _ in range(_EM_STEPS):
        fit = _m_step(z, counts, high)
        if fit is None:
            return None
        high, new = _e_step(z, counts, fit)
        done = new - loglik <= _EM_TOLERANCE * abs(new)
        loglik = new
        if done:
            break
    return None if fit is None else replace(fit, loglik=loglik)


def _m_step(
    z: NDArray[np.float64], counts: NDArray[np.float64], high: NDArray[np.float64]
) -> _Mixture | None:
    weights = (counts * (1.0 - high), counts * high)
    totals = [float(w.sum()) for w in weights]
    if min(totals) < 1e-9:
        return None
    means = [float((w * z).sum()) / t for w, t in zip(weights, totals, strict=True)]
    if means[0] >= means[1]:
        return None
    sds = [
        max(math.sqrt(float((w * (z - m) ** 2).sum()) / t), _MIN_SD)
        for w, t, m in zip(weights, totals, means, strict=True)
    ]
    return _Mixture(totals[1] / sum(totals), (means[0], means[1]), (sds[0], sds[1]))


def _e_step(
    z: NDArray[np.float64], counts: NDArray[np.float64], fit: _Mixture
) -> tuple[NDArray[np.float64], float]:
    low, high = fit.log_weighted(z)
    total = np.logaddexp(low, high)
    return np.exp(high - total), float((counts * total).sum())


# Formatting -----------------------------------------------------------------


def _logit(p: float) -> float:
    p = min(max(p, _CLIP), 1.0 - _CLIP)
    return math.log(p / (1.0 - p))


def _round(value: float) -> float:
    return round(float(value), 3)


def _fmt(value: float, digits: int = 3) -> str:
    """A score as an operator reads it: 0.79, not 0.790."""
    text = f"{float(value):.{digits}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text
