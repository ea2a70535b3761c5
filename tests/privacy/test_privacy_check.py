"""privacy_check: scoring, verdicts and the JSON report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from privacy_data import CONFIGS, demo_schema, encode, people, truth_by_id

from linkage.formats.schema import load_schema
from linkage.privacy.assign import correct_share
from linkage.privacy.check import _in_an_order_of_its_own, _known_pairs, privacy_check
from linkage.privacy.linear import linear_attack


@pytest.mark.slow
def test_encodings_without_a_counterpart_are_not_counted() -> None:
    """The share is over encodings whose person the population holds."""
    schema = demo_schema()
    everyone = people(700)
    encoded = everyone.head(600)
    population = everyone.iloc[100:700].sample(frac=1, random_state=2)
    population = population.reset_index(drop=True)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    assert (truth == -1).sum() == 100
    report = privacy_check(
        encode(schema, encoded), population, schema, truth=truth,
        attacks=["graph", "known-plaintext"],
    )  # fmt: skip
    graph, known = report.results
    assert graph.scored == 500
    assert graph.correct is not None and graph.correct <= 500
    assert graph.share == graph.correct / 500
    assert known.scored == 450  # The 50 known pairs are not counted.
    assert known.share is not None and known.share > 0.9
    assert known.verdict == "exposed"
    assert report.known_pairs == 50
    assert any("Known plaintext" in advice for advice in report.advice)


def test_report_is_json() -> None:
    """The report serialises to JSON with every attack's figures."""
    schema = demo_schema("given_name", "surname")
    population = people(300)
    truth = np.arange(300, dtype=np.int64)
    report = privacy_check(
        encode(schema, population), population, schema, truth=truth,
        attacks=["graph"],
    )  # fmt: skip
    document = json.loads(report.to_json())
    assert document["encodings"] == 300
    assert [r["attack"] for r in document["results"]] == ["graph"]
    assert set(document["results"][0]) >= {"assigned", "correct", "share", "verdict"}


def test_without_truth_nothing_is_scored_and_known_plaintext_does_not_run() -> None:
    """No truth: assignments are counted, not judged; the attacks that start
    from known pairs are skipped."""
    schema = demo_schema("given_name", "surname")
    population = people(200)
    report = privacy_check(encode(schema, population), population, schema)
    verdicts = {r.attack: r.verdict for r in report.results}
    assert verdicts == {
        "frequency": "not scored",
        "equality": "not scored",
        "graph": "not scored",
        "known-plaintext": "not run",
        "linear": "not run",
        "secret-guess": "not run",
    }
    graph = report.results[2]
    assert graph.attack == "graph" and graph.assigned == 200 and graph.share is None
    assert not report.exposed


def test_no_counterpart_at_all_scores_zero() -> None:
    """If the population holds none of the encoded people, the share is 0."""
    schema = demo_schema("given_name", "surname")
    everyone = people(400)
    encoded, population = everyone.head(200), everyone.tail(200)
    truth = np.full(200, -1, dtype=np.int64)
    report = privacy_check(
        encode(schema, encoded), population.reset_index(drop=True), schema,
        truth=truth, attacks=["graph"],
    )  # fmt: skip
    (graph,) = report.results
    assert (graph.correct, graph.scored, graph.share) == (0, 0, 0.0)
    assert graph.verdict == "resistant"
    assert "no encoding has a counterpart" in graph.note


def test_truth_must_match_the_encodings() -> None:
    """A truth of the wrong length is refused."""
    schema = demo_schema("given_name", "surname")
    population = people(50)
    clks = encode(schema, population)
    with pytest.raises(ValueError, match="one entry per encoding"):
        privacy_check(clks, population, schema, truth=np.zeros(3, dtype=np.int64))


@pytest.mark.slow
def test_the_linear_share_is_the_better_of_two_models_of_names_under_one_key() -> None:
    """The shipped schema hashes both names under one key: the check runs
    the linear attacker with their tokens merged and apart, and reports the
    larger share."""
    schema = load_schema(CONFIGS / "schemas" / "demo.json")
    encoded = people(400, seed=11)
    population = encoded.sample(frac=1, random_state=4).reset_index(drop=True)
    truth = truth_by_id(encoded["person_id"], population["person_id"])
    features = [f.identifier for f in schema.encoded_features]
    clks = encode(schema, encoded)
    report = privacy_check(
        clks, population[features], schema, truth=truth, attacks=["linear"]
    )
    (linear,) = report.results
    assert "the better of the names' tokens merged and apart" in linear.note
    # The check attacks a list in an order of its own (seed 0, the default).
    shuffled, shuffled_truth = _in_an_order_of_its_own(population, truth, 0)
    assert shuffled_truth is not None
    pairs = _known_pairs(shuffled_truth, 50, 0)
    rest = shuffled_truth.copy()
    rest[pairs[:, 0]] = -1
    shares = []
    for apart in (False, True):
        assignment = linear_attack(
            clks, shuffled[features], schema, pairs, names_apart=apart
        )
        correct, scored = correct_share(assignment, rest)
        shares.append(correct / scored)
    assert linear.share == max(shares)


def test_a_list_in_the_encodings_order_scores_nothing_an_attack_did_not_find() -> None:
    """Encodings that are all alike tell nobody apart. Against a list written
    in their order, a one-to-one assignment of ties pairs them in that order,
    so every one would land on its own record by position (the linear
    attacker scored 100 % so); the check takes the list in an order of its
    own, and the share stays at chance."""
    schema = demo_schema()
    population = people(400)
    alike = np.repeat(encode(schema, population.head(1)), len(population), axis=0)
    report = privacy_check(
        alike, population, schema, truth=np.arange(400, dtype=np.int64),
        attacks=["linear"],
    )  # fmt: skip
    (result,) = report.results
    assert result.share is not None and result.share <= 0.02, result
