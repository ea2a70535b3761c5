"""Hamming LSH blocking against the exact all-pairs answer, on encodings of
the demo's messy agencies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from linkage.errors import InputError
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import schema_from_dict
from linkage.matching.candidates import CandidatePairs
from linkage.matching.clk.blocking import (
    LshPlan,
    TableResult,
    clks_to_words,
    lsh_table,
    merge_tables,
    plan_lsh,
    run_lsh,
)
from linkage.matching.clk.similarity import iter_candidates, popcounts
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.sampling import ScoreSample
from tests.conftest import CONFIGS, encode_demo_agencies

THRESHOLD = 0.8
Clks = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Health and tax exports of one synthetic population, encoded."""
    # Plain CLKs (the demo schema without its diffusion): hardening moves the
    # scores, not what LSH must find.
    document = json.loads((CONFIGS / "schemas" / "demo.json").read_text())
    document.pop("linkage")
    return encode_demo_agencies(
        tmp_path_factory.mktemp("blocking"),
        ("health", "tax", "police"),
        schema_from_dict(document),
        b"blocking-test-secret-0123456789",
        size=6000,
        seed=3,
    )


def _stack(*parts: Clks) -> tuple[Clks, npt.NDArray[np.int64]]:
    party_of = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    return np.concatenate(parts), party_of.astype(np.int64)


def _exact(
    clks: Clks, party_of: npt.NDArray[np.int64], *, across: bool, within: bool
) -> dict[tuple[int, int], float]:
    """Every allowed pair >= the threshold, by the all-pairs kernel."""
    found = {}
    for chunk in iter_candidates(clks, None, THRESHOLD):
        for a, b, score in zip(chunk.left, chunk.right, chunk.score, strict=True):
            same = party_of[a] == party_of[b]
            if (same and within) or (not same and across):
                found[(min(a, b), max(a, b))] = score
    return found


def _found(result: object) -> dict[tuple[int, int], float]:
    left, right, score = result.left, result.right, result.score  # type: ignore[attr-defined]
    return dict(
        zip(zip(left.tolist(), right.tolist(), strict=True), score, strict=True)
    )


@pytest.mark.parametrize(
    ("agencies", "across", "within"),
    [
        (("health", "tax"), True, False),
        (("tax",), False, True),
        (("health", "tax", "police"), True, True),
    ],
    ids=["link", "dedup", "link-and-dedup"],
)
def test_lsh_finds_the_all_pairs_answer_and_nothing_else(
    encoded: dict[str, Path], agencies: tuple[str, ...], across: bool, within: bool
) -> None:
    clks, party_of = _stack(*(read_encodings(encoded[a]).clks for a in agencies))
    exact = _exact(clks, party_of, across=across, within=within)
    plan = plan_lsh(clks, party_of, THRESHOLD, across=across, within=within)
    result = run_lsh(clks, party_of, plan, across=across, within=within, limit=10**7)
    found = _found(result)
    assert len(exact) > 500
    assert set(found) <= set(exact)  # exact scores: never a false candidate
    for pair, score in found.items():
        assert score == pytest.approx(exact[pair], abs=1e-12)
    measured = len(found) / len(exact)
    assert measured >= 0.99
    assert result.estimated_completeness == pytest.approx(measured, abs=0.01)
    assert plan.expected_completeness >= 0.998
    assert result.compared < 0.5 * len(clks) ** 2 / 2
    assert isinstance(result, CandidatePairs) and result.plan == plan
    assert result.blocking == plan.describe()


def test_more_tables_find_more_and_overrides_are_honoured(
    encoded: dict[str, Path],
) -> None:
    clks, party_of = _stack(
        read_encodings(encoded["health"]).clks, read_encodings(encoded["tax"]).clks
    )
    few = plan_lsh(clks, party_of, THRESHOLD, across=True, within=False, bits=24,
                   tables=3)  # fmt: skip
    many = plan_lsh(clks, party_of, THRESHOLD, across=True, within=False, bits=24,
                    tables=60)  # fmt: skip
    assert (few.bits, few.tables, many.tables) == (24, 3, 60)
    found_few = run_lsh(clks, party_of, few, across=True, within=False, limit=10**7)
    found_many = run_lsh(clks, party_of, many, across=True, within=False, limit=10**7)
    assert set(_found(found_few)) < set(_found(found_many))
    assert found_few.estimated_completeness < found_many.estimated_completeness
    with pytest.raises(InputError, match="bits per table"):
        plan_lsh(clks, party_of, THRESHOLD, across=True, within=False, bits=4)
    with pytest.raises(InputError, match="completeness"):
        plan_lsh(clks, party_of, THRESHOLD, across=True, within=False,
                 completeness=1.0)  # fmt: skip


def test_a_pair_found_in_many_tables_is_kept_once() -> None:
    codes = np.array([5, 3, 5, 9], dtype=np.int64)
    table = TableResult(codes, np.array([0.9, 0.8, 0.9, 0.95]), 10)
    found = merge_tables(np.zeros(0, dtype=np.int64), table, 100, 0.8)
    again = merge_tables(
        found, TableResult(codes[:2], np.array([0.9, 0.8]), 2), 100, 0.8
    )
    assert found.tolist() == again.tolist() == [3, 5, 9]
    with pytest.raises(InputError, match="More than 3 pairs"):
        merge_tables(found, TableResult(np.array([11]), np.array([0.99]), 1), 3, 0.8)


def test_records_alike_on_the_sampled_bits_are_refused_not_run() -> None:
    clks = np.tile(np.arange(128, dtype=np.uint8), (3000, 1))
    party_of = np.zeros(3000, dtype=np.int64)
    counts = popcounts(clks).astype(np.int64)
    with pytest.raises(InputError, match="too alike on the sampled bits"):
        lsh_table(clks_to_words(clks), counts, party_of, LshPlan(16, 1, 0.8), 0,
                  across=False, within=True)  # fmt: skip


@pytest.mark.parametrize("blocking", ["lsh", "none"])
def test_a_pathological_threshold_ends_with_a_message(
    encoded: dict[str, Path], blocking: str
) -> None:
    parties = load_parties([encoded["health"], encoded["tax"]])
    settings = MatchSettings(
        threshold=0.3,
        blocking=blocking,
        max_candidates=100_000,  # type: ignore[arg-type]
    )
    with pytest.raises(InputError, match="More than 100,000 pairs"):
        Matcher(parties, settings).run()


def test_the_matcher_reports_its_blocking(encoded: dict[str, Path]) -> None:
    parties = load_parties([encoded["health"], encoded["tax"]])
    auto = Matcher(parties, MatchSettings(threshold=THRESHOLD)).run()
    assert auto.stats["blocking"] == "none (all pairs)"  # small: all pairs is cheap
    lsh = Matcher(parties, MatchSettings(threshold=THRESHOLD, blocking="lsh")).run()
    assert str(lsh.stats["blocking"]).startswith("Hamming LSH:")
    assert 0 < float(lsh.stats["reduction ratio"]) < 1
    assert float(lsh.stats["estimated pair completeness"]) >= 0.99
    pairs = {frozenset(g["pseudonym"]) for _, g in auto.matches.groupby("match_id")}
    lsh_pairs = {frozenset(g["pseudonym"]) for _, g in lsh.matches.groupby("match_id")}
    assert len(pairs & lsh_pairs) / len(pairs) >= 0.99


def test_automatic_blocking_plans_only_where_lsh_can_pay(
    encoded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan is worthwhile only when all-pairs is modelled to take long, which
    the number of pairs alone decides: below that, no plan is made at all."""
    few = 2 * 6000 * 6000
    assert not LshPlan.may_be_worthwhile(few)
    assert LshPlan.may_be_worthwhile(10**12)
    unused = LshPlan(16, 1, THRESHOLD, lsh_seconds=1.0, all_pairs_seconds=few * 3e-10)
    assert not unused.worthwhile
    planned: list[float] = []

    def plan(self: Matcher, threshold: float) -> LshPlan:
        planned.append(threshold)
        return LshPlan(16, 1, threshold)

    monkeypatch.setattr(Matcher, "lsh_plan", plan)
    parties = load_parties([encoded["health"], encoded["tax"]])
    auto = Matcher(parties, MatchSettings(threshold=THRESHOLD)).run()
    assert auto.stats["blocking"] == "none (all pairs)"
    assert planned == []
    Matcher(parties, MatchSettings(threshold=THRESHOLD, blocking="lsh")).run()
    assert planned == [THRESHOLD]


def test_a_fixed_threshold_scores_best_matches_only_when_asked(
    encoded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The best-match scores choose an automatic threshold; a fixed one needs
    them only for a report, so they are scored when first asked for, the
    same scores as before."""
    parties = load_parties([encoded["health"], encoded["tax"]])
    expected = Matcher(parties, MatchSettings(threshold=THRESHOLD)).best_match_scores()
    calls: list[int] = []
    sample = Matcher._whole_clk_sample

    def counted(self: Matcher, *, one_to_one: bool) -> ScoreSample:
        calls.append(1)
        return sample(self, one_to_one=one_to_one)

    monkeypatch.setattr(Matcher, "_whole_clk_sample", counted)
    result = Matcher(parties, MatchSettings(threshold=THRESHOLD)).run()
    assert calls == []
    assert np.array_equal(result.best, expected)
    assert np.array_equal(result.best, expected)
    assert calls == [1]
    auto = Matcher(parties, MatchSettings()).run()
    assert calls == [1, 1]
    assert np.array_equal(auto.best, expected)
