"""Which CLK two agencies are compared on: the CLK of every field, or a view.

An agency that never holds a field (a tax file without birth dates) encodes
it empty, so its records share fewer bits with anyone's CLK of every field
and their true links score like non-matches. A schema with ``views`` gives
every record, after that CLK, one CLK per named subset of the fields; two
agencies whose headers declare different ``absent_fields`` are compared on
the view that holds the most fields both hold and the fewest either lacks.
Agencies that hold the same fields, and records within one agency, keep the
CLK of every field. An agency that sends a view in place of its CLK of every
field counts as lacking the fields outside that view; views an agency sends
empty (``views_left_empty``: it holds too little of them) are passed over,
and two agencies left with nothing to compare on are compared on nothing
(:mod:`linkage.encoding.stand_in`).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from linkage.formats.clkfile import EncodingView
from linkage.formats.extension import WHOLE_CLK
from linkage.matching.one_to_one import SampledSide
from linkage.matching.parties import Party, PartySet
from linkage.matching.sampling import (
    SAMPLE_SEED,
    ScoreSample,
    best_against_halves,
    pool_halves,
)
from linkage.matching.threshold import choose_threshold


class ViewPlan:
    """The view each pair of parties is compared on, and the parties' CLKs
    of each view (sliced from the encodings once, on first use)."""

    def __init__(self, parties: PartySet) -> None:
        self._parties = parties.parties
        header = self._parties[0].encodings.header
        views = header.views if header is not None else ()
        self._views = {view.name: view for view in views}
        self.pair_view: dict[tuple[int, int], str] = {}
        # Pairs whose only fitting view one of them sends empty: compared on
        # nothing, so their records never become candidates.
        self.not_compared: set[tuple[int, int]] = set()
        for i, left in enumerate(self._parties):
            for j in range(i + 1, len(self._parties)):
                right = self._parties[j]
                empty = _left_empty(left) | _left_empty(right)
                chosen = _view_for(views, _absent(left), _absent(right), empty)
                if chosen != WHOLE_CLK:
                    self.pair_view[(i, j)] = chosen
                if chosen in empty:
                    self.not_compared.add((i, j))
        self._clks: dict[tuple[int, str], npt.NDArray[np.uint8]] = {}

    def view_of(self, left: int, right: int) -> str:
        """The view parties ``left`` and ``right`` are compared on."""
        return self.pair_view.get((min(left, right), max(left, right)), WHOLE_CLK)

    def compared(self, left: int, right: int) -> bool:
        """False if one of the two sends empty the view they would be
        compared on (no comparison can find a candidate)."""
        return (min(left, right), max(left, right)) not in self.not_compared

    def clks(self, number: int, view: str = WHOLE_CLK) -> npt.NDArray[np.uint8]:
        """Party ``number``'s CLKs of ``view``: its whole encodings when the
        files have no views."""
        encodings = self._parties[number].encodings.clks
        if not self._views:
            return encodings
        key = (number, view)
        if key not in self._clks:
            place = self._views[view]
            self._clks[key] = np.ascontiguousarray(
                encodings[:, place.start : place.stop]
            )
        return self._clks[key]

    def _compared_on_views(self) -> dict[tuple[int, int], str]:
        """The pairs of parties compared on a view, with the view (pairs
        compared on nothing left out)."""
        return {
            pair: view
            for pair, view in self.pair_view.items()
            if pair not in self.not_compared
        }

    def views_in_use(self) -> list[str]:
        """The views some pair is compared on, other than the whole CLK, the
        most used first."""
        counts = Counter(self._compared_on_views().values())
        return sorted(counts, key=lambda view: (-counts[view], view))

    def best_scores(
        self, view: str, rng: np.random.Generator, *, one_to_one: bool = False
    ) -> ScoreSample:
        """Sampled best-match scores (:mod:`linkage.matching.sampling`) of the
        pairs of parties compared on ``view``; with ``one_to_one``, also each
        pair's other direction, as sides for the threshold."""
        pairs = sorted(
            pair for pair, name in self._compared_on_views().items() if name == view
        )
        halves = [
            best_against_halves(self.clks(i, view), self.clks(j, view), rng)
            for i, j in pairs
        ]
        pooled = np.concatenate([pool_halves(*scores) for scores in halves])
        if not one_to_one:
            return ScoreSample(pooled)
        sides: list[SampledSide] = []
        for (i, j), (first, second) in zip(pairs, halves, strict=True):
            back = best_against_halves(self.clks(j, view), self.clks(i, view), rng)
            here = len(sides)
            records = len(self.clks(i, view))
            sides.append(SampledSide(records, first, second, (here + 1,)))
            sides.append(SampledSide(len(self.clks(j, view)), *back, (here,)))
        return ScoreSample(pooled, tuple(sides))

    def shifts(
        self, threshold: float, *, one_to_one: bool, crossing_first: bool = False
    ) -> dict[str, float]:
        """For each view some pairs are compared on: how far its scores are
        shifted so that the threshold chosen from its own scores lands on
        ``threshold`` (fewer fields score differently). A view whose own
        scores show no threshold is not shifted. ``crossing_first`` as for
        :func:`~linkage.matching.threshold.choose_threshold`, as the
        threshold was chosen."""
        rng = np.random.default_rng(SAMPLE_SEED)
        shifts = {}
        for view in self.views_in_use():
            sample = self.best_scores(view, rng, one_to_one=one_to_one)
            own = choose_threshold(
                sample.pooled,
                prefer_fit=False,
                one_to_one=sample.sides,
                crossing_first=crossing_first,
            )
            if own.method != "default":
                shifts[view] = round(threshold - own.threshold, 4)
        return shifts

    def partially_compared(self) -> npt.NDArray[np.bool_]:
        """For each two parties, whether the CLK they are compared on holds
        a field one of them holds and the other does not: then their true
        matches score low, and a pair that is no candidate says little.

        Parties compared on nothing (:meth:`compared`) are not: a merge that
        puts two records of one party together must then find its evidence
        elsewhere (20,000-person demo, within-agency precision 0.915 with
        them marked, 0.936 without; all pairs 0.881 and 0.882)."""
        count = len(self._parties)
        partial = np.zeros((count, count), dtype=bool)
        for i in range(count):
            for j in range(count):
                differ = _absent(self._parties[i]) ^ _absent(self._parties[j])
                view = self._views.get(self.view_of(i, j))
                # Without views the one CLK holds every field.
                held = differ if view is None else differ & set(view.fields)
                partial[i, j] = i != j and bool(held) and self.compared(i, j)
        return partial

    def all_across_on_views(self, parties: int) -> bool:
        """Whether every pair of different parties is compared on a view."""
        return parties > 1 and len(self.pair_view) == parties * (parties - 1) // 2

    def describe(self) -> str:
        """Which pairs are compared on which view (or on nothing), which
        parties send a view in place of their CLK of every field and which
        send views empty ("none" if every pair is compared on the CLK of
        every field)."""
        parts = [
            f"{self._parties[i].name} with {self._parties[j].name}: "
            + ("nothing" if (i, j) in self.not_compared else view)
            for (i, j), view in sorted(self.pair_view.items())
        ]
        stand_ins = [
            f"{party.name} {header.clk_same_as}"
            for party in self._parties
            if (header := party.encodings.header) is not None and header.clk_same_as
        ]
        if stand_ins:
            parts.append(f"in place of the CLK of every field: {', '.join(stand_ins)}")
        empty = [
            f"{party.name} {view}"
            for party in self._parties
            for view in _left_empty(party)
        ]
        if empty:
            parts.append(f"sent empty: {', '.join(sorted(empty))}")
        return "; ".join(parts) or "none"


def _absent(party: Party) -> frozenset[str]:
    """The fields nothing the party sends holds: those it does not hold, and
    for one that sends a view in place of its CLK of every field, those
    outside that view (:mod:`linkage.encoding.stand_in`)."""
    header = party.encodings.header
    if header is None:
        return frozenset()
    absent = set(header.absent_fields)
    if header.clk_same_as is not None:
        places = {view.name: view for view in header.views}
        absent |= set(places[WHOLE_CLK].fields) - set(places[header.clk_same_as].fields)
    return frozenset(absent)


def _left_empty(party: Party) -> frozenset[str]:
    header = party.encodings.header
    return frozenset(header.views_left_empty if header is not None else ())


def _view_for(
    views: tuple[EncodingView, ...],
    left: frozenset[str],
    right: frozenset[str],
    empty: frozenset[str] = frozenset(),
) -> str:
    """The view holding the most fields both sides hold, and of those the
    one with fewest fields either side lacks; the whole CLK on a tie. Views
    either side sends ``empty`` are passed over while another fits.

    A view that leaves out a field both hold costs more than a field one
    side lacks: a school register without sex is compared with a hospital
    on the CLK of every field, not on a view without birth dates.
    """
    if left == right or len(views) < 2:
        return WHOLE_CLK
    lacking = left | right

    def rank(fields: set[str]) -> tuple[int, int]:
        return (len(fields - lacking), -len(fields & lacking))

    sent = [view for view in views[1:] if view.name not in empty] or views[1:]
    best = max(sent, key=lambda view: rank(set(view.fields)))
    better = rank(set(best.fields)) > rank(set(views[0].fields))
    return best.name if better else WHOLE_CLK
