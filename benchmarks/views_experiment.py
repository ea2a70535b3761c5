"""Experiment (not a product path): compare each pair of agencies on a CLK
of the fields both hold.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/views_experiment.py [--data demo|households]
        [--least-fields 4]

The shipped one-CLK default loses most of its links where one agency lacks
whole fields (the demo's tax agency holds no birth date and no sex: recall
0.54 against health, 0.20 against social services), because a record's CLK
then shares fewer bits with anyone else's. Here every agency also encodes,
for each other agency whose fields differ from its own, a CLK of the fields
both hold (at least ``--least-fields`` of them, so that no such CLK holds
a name alone), hardened as the default is. The matcher compares that pair
of agencies on those CLKs, chooses a threshold for the pair from its own
scores, and shifts the pair's scores so that its threshold lands on the
shared one; solving and clustering are the matcher's own. A field counts as
held by an agency when more than half its records have it.

What it is for: the evidence for, or against, building this into the
encodings format and the matcher (issue 18). It overrides private parts of
:class:`~linkage.matching.matcher.Matcher`, so it may break when they change.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import quality_reference as ref
from households_data import households
from quality import SECRET, encode_sources, shipped_schema

from linkage.encoding.encoder import ClkEncoder
from linkage.evaluation import evaluate
from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.similarity import best_scores, iter_candidates
from linkage.matching.matcher import Matcher, MatchResult, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.threshold import ThresholdChoice, choose_threshold

Clks = npt.NDArray[np.uint8]
_SAMPLE = 5000


class PairViewMatcher(Matcher):
    """The matcher, comparing some pairs of parties on other CLKs."""

    views: dict[tuple[int, int], tuple[Clks, Clks]]

    def run(self) -> MatchResult:
        rng = np.random.default_rng(1)
        self.pair_choice: dict[tuple[int, int], ThresholdChoice] = {}
        for i, j in self._pairs():
            left, right = self._arrays(i, j)
            self.pair_choice[(i, j)] = self._pair_threshold(left, right, i == j, rng)
        return super().run()

    def threshold(self, best: npt.NDArray[np.float64]) -> ThresholdChoice:
        self.shared = super().threshold(best)
        return self.shared

    def _chunks(self, threshold: float) -> Iterator[tuple[int, int, CandidatePairs]]:
        for i, j in self._pairs():
            choice = self.pair_choice[(i, j)]
            own = (
                self.shared.threshold
                if choice.method == "default"
                else choice.threshold
            )
            shift = self.shared.threshold - own
            left, right = self._arrays(i, j)
            for chunk in iter_candidates(
                left, None if i == j else right, threshold - shift,
                limit=self.settings.max_candidates,
            ):  # fmt: skip
                yield (
                    i,
                    j,
                    CandidatePairs(
                        chunk.left, chunk.right, chunk.score + shift, chunk.compared
                    ),
                )

    def _pairs(self) -> Iterator[tuple[int, int]]:
        count = len(self.parties.parties)
        for i in range(count):
            for j in range(i, count):
                if i != j or self.settings.dedup:
                    yield i, j

    def _arrays(self, i: int, j: int) -> tuple[Clks, Clks]:
        parties = self.parties.parties
        default = (parties[i].encodings.clks, parties[j].encodings.clks)
        return self.views.get((i, j), default)

    def _pair_threshold(
        self, left: Clks, right: Clks, same: bool, rng: np.random.Generator
    ) -> ThresholdChoice:
        if same:
            rows = rng.permutation(len(left))
            sample, rest = (
                left[rows[: min(_SAMPLE, len(left) // 2)]],
                left[rows[len(left) // 2 :]],
            )
            halves = np.array_split(rest, 2)
        else:
            sample = left[rng.permutation(len(left))[:_SAMPLE]]
            halves = np.array_split(right[rng.permutation(len(right))], 2)
        first = best_scores(sample, halves[0], floor=0.0)
        second = best_scores(sample, halves[1], floor=0.0)
        pooled = np.concatenate([np.maximum(first, second), np.minimum(first, second)])
        return choose_threshold(
            pooled, prefer_fit=False, one_to_one=not self.settings.dedup
        )


def held_fields(records: pd.DataFrame, fields: list[str]) -> dict[str, frozenset[str]]:
    """The fields more than half of each source's records hold."""
    return {
        str(source): frozenset(f for f in fields if (group[f] != "").mean() > 0.5)
        for source, group in records.groupby("source")
    }


def pair_views(
    records: pd.DataFrame, names: list[str], least: int
) -> dict[tuple[int, int], tuple[Clks, Clks]]:
    """For each pair of parties holding different fields, the CLKs of the
    fields both hold (at least ``least`` of them)."""
    fields = [f.identifier for f in shipped_schema("demo.json").encoded_features]
    held = held_fields(records, fields)
    views: dict[tuple[int, int], tuple[Clks, Clks]] = {}
    for i, left in enumerate(names):
        for j in range(i + 1, len(names)):
            common = held[left] & held[names[j]]
            if common == frozenset(fields) or len(common) < least:
                continue
            schema = shipped_schema("demo.json", sorted(common))
            columns = [f.identifier for f in schema.encoded_features]
            encoder = ClkEncoder(schema, SECRET)
            left_clks, right_clks = (
                encoder.encode(records[records["source"] == name][columns]).clks
                for name in (left, names[j])
            )
            views[(i, j)] = (left_clks, right_clks)
    return views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["demo", "households"], default="demo")
    parser.add_argument("--least-fields", type=int, default=4)
    options = parser.parse_args()
    data = ref.demo(5000, 7) if options.data == "demo" else households(5000, 11)
    with tempfile.TemporaryDirectory() as work:
        paths, truth = encode_sources(
            data, shipped_schema("demo.json"), SECRET, Path(work)
        )
        names = [party.name for party in load_parties(paths).parties]
        PairViewMatcher.views = pair_views(data.records, names, options.least_fields)
        for matcher in (Matcher, PairViewMatcher):
            settings = MatchSettings(dedup=True, blocking="none")
            result = matcher(load_parties(paths), settings).run()
            scores = evaluate(result.matches, truth)
            every, within = scores.all_pairs, scores.within_party
            print(
                f"{matcher.__name__:16s} all pairs F1 {every.f1:.4f} "
                f"(P {every.precision:.4f}, R {every.recall:.4f}); across "
                f"parties F1 {scores.across_parties.f1:.4f}; within a party "
                f"P {within.precision:.3f}, R {within.recall:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
