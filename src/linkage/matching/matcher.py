"""The matcher: parties' encodings in, groups of pseudonyms with match IDs out.

One object does one linkage, in four steps an operator can follow:

1. **threshold**: fixed, or chosen from the distribution of best-match scores
   (no ground truth);
2. **candidates**: every pair at or above the threshold, by the popcount-pruned
   Dice kernel, in bounded memory;
3. **solving**: one-to-one for two parties, consistent groups for more, and
   groups within a party when deduplicating;
4. **match IDs**: a fresh random, unguessable ID per group, the same string in
   every party's results.
"""

from __future__ import annotations

import csv
import io
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import IO, TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError
from linkage.formats.extension import WHOLE_CLK
from linkage.matching.candidates import (
    CandidateLimitError,
    CandidatePairs,
    candidate_floor_error,
    candidate_limit_error,
)
from linkage.matching.clk.blocking import (
    DEFAULT_COMPLETENESS,
    LshPlan,
    all_pairs_comparisons,
    plan_lsh,
    run_lsh,
)
from linkage.matching.clk.similarity import best_scores, dice, iter_candidates
from linkage.matching.grouping import group_records
from linkage.matching.match_keys import key_pairs, merged
from linkage.matching.one_to_one import SampledSide
from linkage.matching.parameters import LinkageParameters, Solver
from linkage.matching.parties import PartySet
from linkage.matching.probabilistic import FellegiSunterResult
from linkage.matching.probabilistic.link import (
    LinkSettings,
    ProbabilisticLink,
    file_segments,
    link_probabilistically,
)
from linkage.matching.sampling import (
    SAMPLE_ROWS,
    SAMPLE_SEED,
    ScoreSample,
    best_against_halves,
    pool_halves,
    sample_rows,
)
from linkage.matching.threshold import (
    ThresholdChoice,
    choose_threshold,
    fixed_threshold,
)
from linkage.matching.unique_keys import (
    UniqueKeyUse,
    unique_key_use,
    unique_keys_as_decided,
)
from linkage.matching.views import ViewPlan

# pandas takes about 0.3 s to import and `linkage match` writes its groups
# without it: only MatchResult.matches and for_party import it.
if TYPE_CHECKING:
    import pandas as pd

Method = Literal["clk", "probabilistic"]
Blocking = Literal["auto", "lsh", "none"]
MATCH_COLUMNS = ("match_id", "party", "pseudonym", "score")
#: What each agency receives of its own rows.
PARTY_COLUMNS = ("pseudonym", "match_id", "score")
_DEDUP_MARGIN = 0.1  # Dedup candidates reach this far below the threshold.
_UNRELATED_PAIRS = 200_000  # Random pairs that show the scores of unrelated records.
_UNRELATED_SHARE = 0.001  # Share of random pairs the dedup floor may let in.


@dataclass(frozen=True)
class MatchSettings:
    """How to link.

    Attributes:
        threshold: a Dice threshold in (0, 1], or ``"auto"`` to choose it from
            the score distribution.
        dedup: also group records within a party (with one file: only that).
        solver: for two parties, ``greedy`` (as anonlink) or ``optimal``
            (maximum total similarity per connected component).
        max_candidates: candidate pairs held at most (about 24 bytes each);
            a threshold that yields more stops the run with a clear message
            instead of exhausting memory.
        blocking: ``none`` compares every pair; ``lsh`` only pairs that
            collide in Hamming LSH tables on the CLKs; ``auto`` uses LSH where
            it is modelled to take under half the all-pairs time.
        lsh_bits, lsh_tables: override the LSH plan's choices.
        lsh_completeness: the share of pairs >= threshold the LSH plan aims
            to find.
        scheduler: a Dask scheduler's address (``tcp://host:8786``): the LSH
            tables are compared on its workers; the result is the same.
        method: ``clk`` scores pairs by the Dice of the whole encoding;
            ``probabilistic`` (per-field encodings only) by a Fellegi-Sunter
            match probability learnt from the data.
        candidate_threshold: for ``probabilistic``, the Dice floor of the
            whole encoding that makes a pair a candidate (default: 0.2 under
            the single-CLK threshold, at least 0.5).
    """

    threshold: float | Literal["auto"] = "auto"
    dedup: bool = False
    solver: Solver = "greedy"
    max_candidates: int = 100_000_000
    blocking: Blocking = "auto"
    lsh_bits: int | None = None
    lsh_tables: int | None = None
    lsh_completeness: float = DEFAULT_COMPLETENESS
    scheduler: str | None = None
    method: Method = "clk"
    candidate_threshold: float | None = None


@dataclass(frozen=True)
class MatchRows:
    """The groups: one row per grouped record, sorted by match ID, party and
    pseudonym, in the columns of :data:`MATCH_COLUMNS`."""

    match_id: list[str]
    party: list[str]
    pseudonym: list[str]
    score: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.match_id)

    def column(self, name: str) -> Sequence[object]:
        """One column's values, by its name in :data:`MATCH_COLUMNS`."""
        values: Sequence[object] = getattr(self, name)
        return values

    def of_party(self, name: str) -> MatchRows:
        """Only the rows of party ``name``, in the same order."""
        keep = [i for i, party in enumerate(self.party) if party == name]
        return MatchRows(
            [self.match_id[i] for i in keep],
            [self.party[i] for i in keep],
            [self.pseudonym[i] for i in keep],
            self.score[keep],
        )

    def frame(self, columns: Sequence[str] = MATCH_COLUMNS) -> pd.DataFrame:
        """These rows as a pandas frame with ``columns``."""
        import pandas as pd

        return pd.DataFrame({name: self.column(name) for name in columns})

    def write_csv(
        self, binary: IO[bytes], columns: Sequence[str] = MATCH_COLUMNS
    ) -> None:
        """Write ``columns`` as CSV, byte for byte as pandas' ``to_csv`` of
        :meth:`frame` without its index writes them (minimal quoting, ``\\n``
        line ends, scores in their shortest round-trip form)."""
        values = [
            [repr(float(v)) for v in self.score]
            if name == "score"
            else self.column(name)
            for name in columns
        ]
        if len(columns) > 1 and all(map(_unquoted, [columns, *values])):
            # Hex IDs and plain party names need no quoting: joined at once,
            # a million rows take a fifth of the csv module's time.
            lines = [",".join(columns), *map(",".join, zip(*values, strict=True))]
            binary.write(("\n".join(lines) + "\n").encode("utf-8"))
            return
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*values, strict=True))
        text.flush()
        text.detach()


def _unquoted(column: Sequence[object]) -> bool:
    """Whether the csv module writes every value of ``column`` as it is."""
    joined = "\x00".join(map(str, column))
    return not any(mark in joined for mark in ',"\r\n')


@dataclass
class MatchResult:
    """What a linkage produced, and what it rests on.

    ``best_scores`` gives the best-match scores of :attr:`best`; they are
    computed when first asked for, since only a report shows them when the
    threshold is fixed.
    """

    rows: MatchRows
    choice: ThresholdChoice
    best_scores: Callable[[], npt.NDArray[np.float64]] = field(repr=False)
    stats: dict[str, int | float | str] = field(default_factory=dict)
    model: FellegiSunterResult | None = None  # The probabilistic method's model.
    # The rule applied and the pairs it found, for the CLK method: what an
    # incremental update (linkage.matching.standing) starts from.
    parameters: LinkageParameters | None = None
    candidates: CandidatePairs | None = field(default=None, repr=False)

    @cached_property
    def best(self) -> npt.NDArray[np.float64]:
        """The best-match scores the threshold was (or could be) chosen from."""
        return self.best_scores()

    @cached_property
    def matches(self) -> pd.DataFrame:
        """The groups as a pandas frame (columns :data:`MATCH_COLUMNS`)."""
        return self.rows.frame()

    def for_party(self, name: str) -> pd.DataFrame:
        """One party's rows only: what that agency may receive."""
        return self.rows.of_party(name).frame(PARTY_COLUMNS)


class Matcher:
    """Links the parties of one project under one set of settings.

    Example:
        >>> parties = load_parties(paths)  # doctest: +SKIP
        >>> result = Matcher(parties, MatchSettings()).run()  # doctest: +SKIP
    """

    def __init__(
        self,
        parties: PartySet,
        settings: MatchSettings,
        progress: Callable[[str, int, int], None] | None = None,
        *,
        fixed: LinkageParameters | None = None,
    ) -> None:
        if fixed is not None:
            # The rule of an earlier run, kept whole: threshold, view shifts
            # and candidate floor are not chosen again from these records.
            settings = replace(
                settings,
                threshold=fixed.threshold,
                dedup=fixed.dedup,
                solver=fixed.solver,
                method="clk",
            )
        if len(parties.parties) == 1 and not settings.dedup:
            raise InputError(
                "One encodings file can only be deduplicated",
                hint="Pass --dedup, or give the encodings of two or more agencies.",
            )
        self.parties = parties
        self.settings = settings
        self.views = ViewPlan(parties)
        self._progress = progress
        self._clks: npt.NDArray[np.uint8] | None = None
        # Per view other than the whole CLK: what its scores are shifted by,
        # so that one threshold applies to every pair (see ``ViewPlan.shifts``).
        self._shift: dict[str, float] = dict(fixed.shifts) if fixed else {}
        self._fixed = fixed

    def run(self) -> MatchResult:
        """Choose the threshold, find candidates, solve, and assign match IDs."""
        started = time.perf_counter()
        if self.settings.threshold == "auto":
            sample, choice = self._reference_scores()
            best = sample.pooled
            one_to_one = not self.settings.dedup
            self._shift = self.views.shifts(
                choice.threshold,
                one_to_one=one_to_one,
                crossing_first=self._crossing_first(),
            )

            def best_scores() -> npt.NDArray[np.float64]:
                return best

        else:
            # A fixed threshold needs no scores (about a tenth of a 100k x 50k
            # link's time): they are scored only if the result is asked for them.
            choice = fixed_threshold(float(self.settings.threshold))
            best_scores = self._first_scores
        model, parameters = None, None
        keyed: CandidatePairs | None = None
        unique: UniqueKeyUse | None = None
        if self.settings.method == "probabilistic":
            linked = self._link_probabilistically(choice)
            candidates, choice, model = linked.candidates, linked.choice, linked.model
            labels = self.solve(candidates, choice.threshold)
        else:
            floor = self._candidate_floor(choice.threshold)
            candidates = self._floor_candidates(choice, floor)
            keyed = key_pairs(self.parties, dedup=self.settings.dedup)
            candidates = merged(candidates, keyed, self.parties.total)
            unique, candidates, labels = self._with_unique_keys(
                candidates, choice.threshold
            )
            parameters = LinkageParameters(
                choice.threshold,
                floor,
                dict(self._shift),
                self.settings.dedup,
                self.settings.solver,
                self._missing_score(choice.threshold),
                unique.used,
            )
        rows = self._rows(labels, candidates)
        stats: dict[str, int | float | str] = {
            "method": self.settings.method,
            "parties": len(self.parties.parties),
            "records": self.parties.total,
            "fields not held": self.parties.fields_not_held(),
            "compared on views": self.views.describe(),
            "threshold": round(choice.threshold, 4),
            "threshold method": choice.method,
            "view score shifts": _describe_shifts(self._shift),
            "candidate pairs": len(candidates.score),
            "pairs sharing a match key": len(keyed.score) if keyed else 0,
            "unique keys": unique.describe() if unique else "none",
            "pairs compared": candidates.compared,
            "blocking": candidates.blocking,
            # The all-pairs kernel scores whole blocks, a little beyond the
            # popcount windows (and in dedup, both halves of a block on the
            # diagonal): its count may pass n(n-1)/2, but it reduced nothing.
            "reduction ratio": round(
                max(0.0, 1 - candidates.compared / self._all_pairs()), 6
            ),
            "estimated pair completeness": round(candidates.estimated_completeness, 5),
            "groups": len(set(rows.match_id)),
            "records matched": len(rows),
            "seconds": round(time.perf_counter() - started, 2),
        }
        return MatchResult(
            rows=rows,
            choice=choice,
            best_scores=best_scores,
            stats=stats,
            model=model,
            parameters=parameters,
            candidates=candidates if parameters is not None else None,
        )

    def _with_unique_keys(
        self, candidates: CandidatePairs, threshold: float
    ) -> tuple[UniqueKeyUse, CandidatePairs, npt.NDArray[np.int64]]:
        """The unique keys' use, the candidates with their pairs, and the
        groups: decided here (:func:`unique_key_use`), or, given an earlier
        run's rule, as it decided."""
        if self._fixed is not None:
            use = unique_keys_as_decided(
                self.parties, threshold, used=self._fixed.unique_keys
            )
        else:
            # The keys beside the match key are decided first and the others
            # judged on the groups with their pairs: where none of the others
            # is used, those groups are the result.
            judged_on: list[tuple[CandidatePairs, npt.NDArray[np.int64]]] = []

            def grouped(added: CandidatePairs) -> npt.NDArray[np.int64]:
                whole = merged(candidates, added, self.parties.total)
                judged_on.append((whole, self.solve(whole, threshold)))
                return judged_on[-1][1]

            use = unique_key_use(self.parties, threshold, grouped)
            if not any(v.used and not v.beside for v in use.verdicts):
                whole, labels = judged_on[-1]
                return use, whole, labels
        candidates = merged(candidates, use.pairs, self.parties.total)
        return use, candidates, self.solve(candidates, threshold)

    def _link_probabilistically(self, choice: ThresholdChoice) -> ProbabilisticLink:
        """Candidates scored by their match probability, from field blocks and
        whole encodings at Dice >= the candidate threshold (else ``choice``'s
        valley: the end of the non-match pile let in so many pairs that the
        demo's hardened groups lost 4 F1 points, 0.873 -> 0.834)."""
        segments = file_segments(self.parties)
        settings = LinkSettings(
            floor=self.settings.candidate_threshold or choice.valley_or_threshold,
            max_candidates=self.settings.max_candidates,
            across=len(self.parties.parties) > 1,
            within=self.settings.dedup,
        )
        try:
            return link_probabilistically(
                self.all_clks(),
                self.parties.party_of,
                segments,
                self.candidates,
                settings,
                progress=self.report,
            )
        except CandidateLimitError as error:
            given = self.settings.candidate_threshold is not None
            floor = (
                "the --candidate-threshold given"
                if given
                else "the probabilistic method's candidate threshold, chosen "
                f"from the scores for the {self._threshold_words(choice)}"
            )
            hint = (
                "Raise --candidate-threshold: whole encodings at or above it "
                "are candidates, which the model then scores."
            )
            raise candidate_floor_error(error, floor, hint) from None

    def best_match_scores(self) -> npt.NDArray[np.float64]:
        """Scores whose distribution shows the match and non-match modes, of
        the parties compared on the whole CLK.

        A record's best score alone is not enough: where every record has its
        match (as in FEBRL4) there is no non-match mode. So the records each
        record may match are split into two random halves, and a sample of
        records is scored against each: the better of the two is the record's
        best match, the other the best of records that are (mostly) not its
        match. Both go into the distribution.
        """
        return self._whole_clk_sample(one_to_one=False).pooled

    def _whole_clk_sample(self, *, one_to_one: bool) -> ScoreSample:
        """:meth:`best_match_scores`; with ``one_to_one``, also each party
        compared on the whole CLK as a side for the threshold."""
        rng = np.random.default_rng(SAMPLE_SEED)
        count = len(self.parties.parties)
        # Both directions of a two-party link tell the same story: the
        # histogram shows one, but the sides of one-to-one linkage need both.
        one_direction = count == 2 and not self.settings.dedup
        pooled: list[npt.NDArray[np.float64]] = []
        sides: dict[int, SampledSide] = {}
        for number in range(count):
            others = self._other_clks(number)
            if others is None and not self.settings.dedup:
                continue  # Compared with every other party on views only.
            if pooled and one_direction and not one_to_one:
                break
            halves = self._half_scores(number, others, rng)
            if not (pooled and one_direction):
                pooled.append(pool_halves(*halves))
            if one_to_one:
                sides[number] = SampledSide(len(self.views.clks(number)), *halves)
        if not one_to_one:
            return ScoreSample(np.concatenate(pooled))
        return ScoreSample(np.concatenate(pooled), self._with_partners(sides))

    def _with_partners(self, sides: dict[int, SampledSide]) -> tuple[SampledSide, ...]:
        """The sides, each naming the sides it is compared with on whole CLKs."""
        numbers = list(sides)
        return tuple(
            replace(
                side,
                partners=tuple(
                    at
                    for at, other in enumerate(numbers)
                    if other != number
                    and self.views.view_of(number, other) == WHOLE_CLK
                ),
            )
            for number, side in sides.items()
        )

    def _reference_scores(self) -> tuple[ScoreSample, ThresholdChoice]:
        """The best-match scores the shared threshold is chosen from, and the
        choice: the first of :meth:`_score_distributions` whose scores show
        the matches apart from the non-matches (few parties with few people
        in common may show their links only on a view), else the first."""
        first: tuple[ScoreSample, ThresholdChoice] | None = None
        one_to_one = not self.settings.dedup
        for sample in self._score_distributions(one_to_one=one_to_one):
            choice = self.threshold(sample)
            if choice.method != "default":
                return sample, choice
            first = first or (sample, choice)
        assert first is not None  # Whole CLKs, or else at least one view.
        return first

    def _first_scores(self) -> npt.NDArray[np.float64]:
        """The scores a fixed threshold's report shows: the first distribution."""
        return next(self._score_distributions(one_to_one=False)).pooled

    def _score_distributions(self, *, one_to_one: bool) -> Iterator[ScoreSample]:
        """Best-match scores of the whole CLKs, then of each view in use, the
        most used first. Where every two parties are compared on a view, the
        whole CLKs show no links across parties and are left out."""
        if not self.views.all_across_on_views(len(self.parties.parties)):
            yield self._whole_clk_sample(one_to_one=one_to_one)
        rng = np.random.default_rng(SAMPLE_SEED)
        for view in self.views.views_in_use():
            yield self.views.best_scores(view, rng, one_to_one=one_to_one)

    def _half_scores(
        self,
        number: int,
        others: npt.NDArray[np.uint8] | None,
        rng: np.random.Generator,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """A sample's best scores against two disjoint halves of its references."""
        clks = self.views.clks(number)
        if not self.settings.dedup:
            assert others is not None
            return best_against_halves(clks, others, rng)
        rows = sample_rows(rng, len(clks), limit=min(SAMPLE_ROWS, len(clks) // 2 or 1))
        rest = np.setdiff1d(np.arange(len(clks)), rows)
        references = (
            clks[rest] if others is None else np.concatenate([clks[rest], others])
        )
        sample = clks[rows]
        within = (
            best_scores(sample, None, floor=0.0) if len(sample) > 1 else np.zeros(1)
        )
        return within, best_scores(sample, references, floor=0.0)

    def _floor_candidates(
        self, choice: ThresholdChoice, floor: float
    ) -> CandidatePairs:
        """The candidates at ``floor`` (:meth:`_candidate_floor`); a stop
        there names the threshold it was derived from, not only the floor."""
        try:
            return self.candidates(floor)
        except CandidateLimitError as error:
            if floor >= choice.threshold:
                raise
            what = (
                "the lowest score deduplication gathers for the "
                f"{self._threshold_words(choice)}, since its average-linkage "
                "clustering weighs pairs a little below the threshold too"
            )
            hint = (
                "Raise the threshold: the floor rises with it (it lies "
                f"{_DEDUP_MARGIN} below the threshold, or half the threshold if "
                "that is higher, and no lower than the scores of nearly all "
                "unrelated records). Or raise --max-candidates if memory allows "
                "(about 24 bytes a pair)."
            )
            raise candidate_floor_error(error, what, hint) from None

    def _threshold_words(self, choice: ThresholdChoice) -> str:
        if self.settings.threshold == "auto":
            return f"threshold {choice.threshold:.3f} chosen from the scores"
        return f"threshold {choice.threshold:.3f} you gave"

    def _candidate_floor(self, threshold: float) -> float:
        # Average-linkage clustering needs the pairs a little below the
        # threshold too: they count in the average between two groups. But
        # never pairs from the bulk of unrelated records: diffusion squeezes
        # scores towards 0.5, where a fixed margin below the threshold would
        # take in a large share of all pairs (4 taps: 0.613 - 0.1 held more
        # than 100 million of the 20,000-person demo's pairs).
        if self._fixed is not None:
            return self._fixed.floor
        if self.settings.dedup:
            floor = max(threshold - _DEDUP_MARGIN, threshold / 2)
            ceiling = self._unrelated_quantile(1 - _UNRELATED_SHARE)
            return min(threshold, max(floor, ceiling))
        return threshold

    def _missing_score(self, threshold: float) -> float:
        """What a pair that is not a candidate counts as in average linkage
        (dedup only): the score of a typical pair of unrelated records, which
        most such pairs are (see ``clustering.cluster_links_and_dedup``)."""
        if self._fixed is not None:
            return self._fixed.missing
        if not self.settings.dedup:
            return 0.0
        typical = self._unrelated_quantile(0.5)
        # A floor at or under the typical unrelated score gathers the bulk
        # of random pairs: there, counting missing pairs 0 is no worse.
        return typical if typical < self._candidate_floor(threshold) else 0.0

    def _unrelated_quantile(self, share: float) -> float:
        """The score that ``1 - share`` of random pairs reach (0.999: above
        it lie related records, below it the bulk; 0.5: a typical pair)."""
        scores = self._unrelated_scores
        return float(np.quantile(scores, share)) if len(scores) else 0.0

    @cached_property
    def _unrelated_scores(self) -> npt.NDArray[np.float64]:
        """Dice scores of random pairs of records: nearly all unrelated."""
        clks = self.all_clks()
        if len(clks) < 2:
            return np.zeros(0)
        rng = np.random.default_rng(SAMPLE_SEED)
        left = rng.integers(0, len(clks), _UNRELATED_PAIRS)
        right = rng.integers(0, len(clks), _UNRELATED_PAIRS)
        distinct = left != right
        return dice(clks[left[distinct]], clks[right[distinct]])

    def threshold(self, sample: ScoreSample) -> ThresholdChoice:
        """The settings' fixed threshold, or one chosen from ``sample``."""
        if self.settings.threshold == "auto":
            # Across three or more parties a false link spreads through the
            # groups it joins, so the threshold stays at the valley's bottom.
            return choose_threshold(
                sample.pooled,
                prefer_fit=len(self.parties.parties) <= 2,
                one_to_one=sample.sides,
                crossing_first=self._crossing_first(),
            )
        return fixed_threshold(float(self.settings.threshold))

    def _crossing_first(self) -> bool:
        """Whether the threshold may lie at the fit's crossing below the
        pile's end: deduplication across agencies, whose grouping keeps two
        records of one agency apart unless alike themselves. An agency
        deduplicating alone keeps the end: its relatives (twins, siblings at
        one address) score just above the pile (5,000-person benchmarks: the
        crossing cost three of the demo's agencies alone 0.2-0.7 points and
        gained the tax office 2.2; it cost the households' benefits office
        and hospital 3.5 and 1.8)."""
        return self.settings.dedup and len(self.parties.parties) > 1

    def candidates(self, threshold: float) -> CandidatePairs:
        """The pairs of records, across parties (and within, for dedup), >= t:
        every one, or those LSH blocking finds (see ``settings.blocking``)."""
        if self.settings.blocking == "none":
            return self._all_pair_candidates(threshold)
        # A cluster compares LSH tables: with one, use them.
        forced = self.settings.blocking == "lsh" or self.settings.scheduler is not None
        # Otherwise plan only where a plan could choose LSH: planning compares
        # a sample of records with every record (about a tenth of a 100k x 50k
        # link's time), for nothing where all-pairs is quick anyway.
        if forced or LshPlan.may_be_worthwhile(self._all_pairs()):
            plan = self.lsh_plan(threshold)
            if forced or plan.worthwhile:
                return self._with_view_pairs(self._lsh_candidates(plan), threshold)
        return self._all_pair_candidates(threshold)

    def _with_view_pairs(
        self, found: CandidatePairs, threshold: float
    ) -> CandidatePairs:
        """LSH candidates on the whole CLKs, with the pairs of parties that
        are compared on a view compared in full on it instead."""
        if not self.views.pair_view:
            return found
        party_of = self.parties.party_of
        left, right = party_of[found.left], party_of[found.right]
        whole = np.array(
            [
                self.views.view_of(int(a), int(b)) == WHOLE_CLK
                for a, b in zip(left, right, strict=True)
            ],
            dtype=bool,
        )
        on_views = self._all_pair_candidates(threshold, views_only=True)
        return CandidatePairs(
            np.concatenate([found.left[whole], on_views.left]),
            np.concatenate([found.right[whole], on_views.right]),
            np.concatenate([found.score[whole], on_views.score]),
            found.compared + on_views.compared,
            found.blocking,
            found.estimated_completeness,
        )

    def lsh_plan(self, threshold: float) -> LshPlan:
        """The LSH parameters for this linkage at ``threshold``."""
        return plan_lsh(
            self.all_clks(),
            self.parties.party_of,
            threshold,
            across=len(self.parties.parties) > 1,
            within=self.settings.dedup,
            completeness=self.settings.lsh_completeness,
            bits=self.settings.lsh_bits,
            tables=self.settings.lsh_tables,
        )

    def _lsh_candidates(self, plan: LshPlan) -> CandidatePairs:
        clks, party_of = self.all_clks(), self.parties.party_of
        across, within = len(self.parties.parties) > 1, self.settings.dedup
        tables = None
        if self.settings.scheduler is not None:
            from linkage.matching.clk.distributed import dask_tables

            tables = dask_tables(
                self.settings.scheduler,
                clks,
                party_of,
                plan,
                across=across,
                within=within,
            )
        return run_lsh(
            clks,
            party_of,
            plan,
            across=across,
            within=within,
            limit=self.settings.max_candidates,
            progress=self._progress,
            tables=tables,
        )

    def all_clks(self) -> npt.NDArray[np.uint8]:
        """Every party's encodings, in global record order."""
        if self._clks is None:
            self._clks = np.concatenate(
                [self.views.clks(number) for number in range(len(self.parties.parties))]
            )
        return self._clks

    def _all_pairs(self) -> int:
        sizes = [len(p.encodings.clks) for p in self.parties.parties]
        across = len(sizes) > 1
        return max(
            all_pairs_comparisons(sizes, across=across, within=self.settings.dedup), 1
        )

    def _all_pair_candidates(
        self, threshold: float, *, views_only: bool = False
    ) -> CandidatePairs:
        lefts, rights, scores, compared, held = [], [], [], 0, 0
        chunks = self._chunks(threshold, views_only=views_only)
        for left_party, right_party, chunk in chunks:
            held += len(chunk.score)
            if held > self.settings.max_candidates:
                raise candidate_limit_error(self.settings.max_candidates, threshold)
            lefts.append(chunk.left + self.parties.offsets[left_party])
            rights.append(chunk.right + self.parties.offsets[right_party])
            scores.append(chunk.score)
            compared += chunk.compared
        if not scores:
            empty = np.zeros(0, dtype=np.int64)
            return CandidatePairs(empty, empty.copy(), np.zeros(0))
        return CandidatePairs(
            np.concatenate(lefts),
            np.concatenate(rights),
            np.concatenate(scores),
            compared,
        )

    def solve(
        self, candidates: CandidatePairs, threshold: float
    ) -> npt.NDArray[np.int64]:
        """A group label per global record (-1: in no group)."""
        # Fellegi-Sunter weighs a field one side lacks as neither agreeing nor
        # not, so only Dice scores of partial comparisons run low.
        partial, missing = None, 0.0
        if self.settings.method == "clk":
            partial = self.views.partially_compared()
            missing = self._missing_score(threshold)
        return group_records(
            self.parties.party_of,
            len(self.parties.parties),
            candidates,
            threshold,
            dedup=self.settings.dedup,
            solver=self.settings.solver,
            partial=partial,
            missing=missing,
        )

    def _other_clks(self, number: int) -> npt.NDArray[np.uint8] | None:
        """The whole CLKs of the other parties compared with ``number`` on
        them (not on a view)."""
        others = [
            self.views.clks(i)
            for i in range(len(self.parties.parties))
            if i != number and self.views.view_of(number, i) == WHOLE_CLK
        ]
        return np.concatenate(others) if others else None

    def _chunks(
        self, threshold: float, *, views_only: bool = False
    ) -> Iterator[tuple[int, int, CandidatePairs]]:
        parties = self.parties.parties
        for i, left in enumerate(parties):
            for j in range(i, len(parties)):
                if i == j and not self.settings.dedup:
                    continue
                view = self.views.view_of(i, j)
                if (views_only and view == WHOLE_CLK) or not self.views.compared(i, j):
                    continue
                shift = self._shift.get(view, 0.0)
                right = None if i == j else self.views.clks(j, view)
                label = f"comparing {left.name} with {parties[j].name}"
                if view != WHOLE_CLK:
                    label += f" on {view}"
                progress = self._reporter(label, len(left))
                for chunk in iter_candidates(
                    self.views.clks(i, view),
                    right,
                    threshold - shift,
                    progress=progress,
                    limit=self.settings.max_candidates,
                ):
                    if shift:
                        chunk = CandidatePairs(
                            chunk.left, chunk.right, chunk.score + shift, chunk.compared
                        )
                    yield i, j, chunk

    def report(self, label: str, done: int, total: int) -> None:
        """Tell the progress callback, if any, how far step ``label`` is."""
        if self._progress is not None:
            self._progress(label, done, total)

    def _reporter(self, label: str, total: int) -> Callable[[int], None] | None:
        report = self._progress
        if report is None:
            return None
        started = time.perf_counter()

        def progress(done: int) -> None:
            left = (time.perf_counter() - started) / max(done, 1) * (total - done)
            report(f"{label} (about {left:.0f} s left)", done, total)

        return progress

    def _rows(
        self, labels: npt.NDArray[np.int64], candidates: CandidatePairs
    ) -> MatchRows:
        grouped = np.flatnonzero(labels >= 0)
        if not len(grouped):
            return MatchRows([], [], [], np.zeros(0))
        ids = [secrets.token_hex(16) for _ in range(int(labels.max()) + 1)]
        score = np.round(member_scores(labels, candidates)[grouped], 4)
        party_names = [p.name for p in self.parties.parties]
        match_id = [ids[label] for label in labels[grouped].tolist()]
        party = [party_names[p] for p in self.parties.party_of[grouped].tolist()]
        located = [self.parties.locate(g) for g in grouped.tolist()]
        pseudonym = [owner.pseudonyms[row] for owner, row in located]
        # Every record is in one group at most: the three keys tell all rows
        # apart, so any sort gives the order pandas' sort_values gave.
        order = sorted(
            range(len(grouped)), key=lambda i: (match_id[i], party[i], pseudonym[i])
        )
        return MatchRows(
            [match_id[i] for i in order],
            [party[i] for i in order],
            [pseudonym[i] for i in order],
            score[order],
        )


def _describe_shifts(shifts: dict[str, float]) -> str:
    return "; ".join(f"{view} {shift:+.4f}" for view, shift in shifts.items()) or "none"


def member_scores(
    labels: npt.NDArray[np.int64], candidates: CandidatePairs
) -> npt.NDArray[np.float64]:
    """Each grouped record's best score with another member of its group."""
    best = np.zeros(len(labels))
    left, right, score = candidates.left, candidates.right, candidates.score
    inside = (labels[left] >= 0) & (labels[left] == labels[right])
    np.maximum.at(best, left[inside], score[inside])
    np.maximum.at(best, right[inside], score[inside])
    return best
