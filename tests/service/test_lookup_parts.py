"""The lookup's parts on their own: rate, policy file, run parameters,
batching."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from linkage.batching import Combiner
from linkage.reveal.policy import load_policy
from linkage.service.lookup.answer import answer
from linkage.service.lookup.index import Found, parse_shifts, run_parameters
from linkage.service.lookup.policy import (
    DEFAULT_LOOKUP_POLICY,
    LookupPolicy,
    LookupPolicyError,
    load_lookup_policy,
)
from linkage.service.lookup.ratelimit import LookupLimiter, LookupRate
from linkage.storage.records import Run
from tests.conftest import CONFIGS


class Clock:
    """Monotonic seconds the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_pays_a_burst_then_refills_at_the_rate() -> None:
    """Ten at once, then one more waits 6 s at 10 a minute; parties are apart."""
    clock = Clock()
    limiter = LookupLimiter(LookupRate(per_minute=10, burst=10), clock)
    assert limiter.take(1, 10).allowed
    refused = limiter.take(1, 1)
    assert (refused.allowed, refused.retry_after, refused.first_refusal) == (
        False, 6, True,
    )  # fmt: skip
    assert not limiter.take(1, 1).first_refusal  # Audited once per streak.
    assert limiter.take(2, 10).allowed  # Another party's bucket is full.
    clock.now = 6.0
    assert limiter.take(1, 1).allowed
    clock.now = 1000.0
    assert limiter.take(1, 10).allowed and not limiter.take(1, 1).allowed


def test_a_rate_must_be_positive() -> None:
    """Zero or negative rates and bursts are refused, naming the field."""
    with pytest.raises(ValueError, match="per_minute"):
        LookupRate(per_minute=0)
    with pytest.raises(ValueError, match="burst"):
        LookupRate(burst=0)


def test_the_shipped_policy_holds_both_blocks() -> None:
    """configs/policy.yaml is read by both loaders; show_agencies is off."""
    load_policy(CONFIGS / "policy.yaml")
    assert load_lookup_policy(CONFIGS / "policy.yaml") == DEFAULT_LOOKUP_POLICY


def test_a_wrong_lookup_block_lists_every_problem(tmp_path: Path) -> None:
    """An unknown key and a non-boolean value are both named."""
    path = tmp_path / "policy.yaml"
    path.write_text("lookup:\n  show_agencies: maybe\n  show_scores: true\n")
    with pytest.raises(LookupPolicyError) as raised:
        load_lookup_policy(path)
    fields = {problem.field for problem in raised.value.problems}
    assert fields == {"lookup.show_agencies", "lookup.show_scores"}
    path.write_text("lookup:\n  show_agencies: true\n")
    assert load_lookup_policy(path).show_agencies


def _run(result_dir: str | None, stats: dict[str, object]) -> Run:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return Run(1, 1, "completed", 1.0, "", now, now, now, result_dir, stats)


def test_run_parameters_come_from_parameters_json_else_the_stats(
    tmp_path: Path,
) -> None:
    """The run's parameters file wins over its rounded stats."""
    stats = {"threshold": 0.7123, "view_score_shifts": "no-address +0.0123"}
    from_stats = run_parameters(_run("results/1/1", stats), tmp_path)
    assert from_stats.threshold == 0.7123
    assert from_stats.shifts == {"no-address": 0.0123}
    folder = tmp_path / "results" / "1" / "1"
    folder.mkdir(parents=True)
    (folder / "parameters.json").write_text(
        json.dumps(
            {
                "threshold": 0.71234567,
                "floor": 0.7,
                "shifts": {"no-address": 0.01234},
                "dedup": False,
                "solver": "greedy",
            }
        )
    )
    written = run_parameters(_run("results/1/1", stats), tmp_path)
    assert written.threshold == 0.71234567 and written.shifts == {"no-address": 0.01234}


def test_shifts_are_read_as_the_stats_write_them() -> None:
    """'none', one view, two views with signs."""
    assert parse_shifts("none") == {}
    assert parse_shifts("a -0.0045; no birth date +0.0123") == {
        "a": -0.0045,
        "no birth date": 0.0123,
    }


def test_agencies_are_named_only_where_the_policy_allows() -> None:
    """The same match answers with or without the other agencies' names;
    known_elsewhere either way."""
    found = [Found(True, "m1", ("p1", "p2"), ("health",)), Found(False, None, (), ())]
    hidden = answer(1, 2, ["q1", "q2"], found, DEFAULT_LOOKUP_POLICY)
    shown = answer(1, 2, ["q1", "q2"], found, LookupPolicy(show_agencies=True))
    assert [r.agencies for r in hidden.results] == [None, None]
    assert [r.agencies for r in shown.results] == [["health"], []]
    assert hidden.results[0].known_elsewhere and not hidden.results[1].known_elsewhere
    assert hidden.results[0].own_pseudonyms == ["p1", "p2"]


def test_requests_waiting_for_a_pass_are_served_together() -> None:
    """While one batch is served, the requests that arrive wait and are
    then served in one batch; each gets its own answer."""
    batches: list[list[int]] = []
    first_started, release = threading.Event(), threading.Event()

    def serve(requests: Sequence[int]) -> list[int]:
        batches.append(list(requests))
        if len(batches) == 1:
            first_started.set()
            assert release.wait(10)
        return [request * 10 for request in requests]

    combiner: Combiner[int, int] = Combiner(serve)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(combiner.run, 0)
        assert first_started.wait(10)
        later = [pool.submit(combiner.run, n) for n in range(1, 6)]
        # Let the five queue up behind the first pass (at most 10 s), then
        # finish it.
        for _ in range(1000):
            if len(combiner._waiting) == 5:
                break
            time.sleep(0.01)
        release.set()
        answers = [first.result(10), *(f.result(10) for f in later)]
    assert answers == [0, 10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_an_error_reaches_every_request_of_its_batch_only() -> None:
    def serve(requests: Sequence[int]) -> list[int]:
        if -1 in requests:
            raise ValueError("bad request in the batch")
        return list(requests)

    combiner: Combiner[int, int] = Combiner(serve)
    with pytest.raises(ValueError, match="bad request"):
        combiner.run(-1)
    assert combiner.run(7) == 7  # The combiner serves on after an error.
