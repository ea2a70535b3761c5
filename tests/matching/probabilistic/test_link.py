"""`--method probabilistic` on per-field encodings of FEBRL4, end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.encoding.recipe import encode_csv
from linkage.evaluation import evaluate
from linkage.formats.schema import load_schema, schema_from_dict
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.probabilistic.link import term_frequency
from tests.conftest import CONFIGS, RunCli, encode_febrl4_agencies

SECRET = b"probabilistic tests secret"
FIELDS_SCHEMA = CONFIGS / "schemas" / "febrl-fields.json"


@pytest.fixture(scope="module")
def febrl4_fields(
    tmp_path_factory: pytest.TempPathFactory,
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> tuple[list[Path], pd.DataFrame]:
    """1,000 FEBRL4 people in A and in B, per-field encoded, and the truth."""
    work = tmp_path_factory.mktemp("febrl4_fields")
    schema = load_schema(FIELDS_SCHEMA)
    return encode_febrl4_agencies(work, febrl4_frames, schema, SECRET, 1000)


def f1(paths: list[Path], truth: pd.DataFrame, method: str) -> float:
    settings = MatchSettings(method="probabilistic" if method == "fs" else "clk")
    result = Matcher(load_parties(paths), settings).run()
    return evaluate(result.matches, truth).all_pairs.f1 or 0.0


def test_probabilistic_links_febrl4_at_least_as_well_as_the_clk(
    febrl4_fields: tuple[list[Path], pd.DataFrame],
) -> None:
    paths, truth = febrl4_fields
    probabilistic, clk = f1(paths, truth, "fs"), f1(paths, truth, "clk")
    assert probabilistic >= 0.995
    assert probabilistic >= clk - 0.001


def test_cli_writes_the_model_with_weights_and_waterfalls(
    tmp_path: Path, run_cli: RunCli, febrl4_fields: tuple[list[Path], pd.DataFrame]
) -> None:
    paths, _ = febrl4_fields
    model = tmp_path / "model.json"
    result = run_cli(
        "match", *paths, "--method", "probabilistic", "--out", tmp_path / "m.csv",
        "--model-out", model,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "given_name" in result.output and "Prior: lambda" in result.output
    document = json.loads(model.read_text())
    fields = {level["field"] for level in document["levels"]}
    assert {"given_name", "surname", "date_of_birth"} <= fields
    for call in document["closest_calls"]:
        steps = sum(step["weight"] for step in call["steps"])
        assert call["weight"] == pytest.approx(call["prior_weight"] + steps)
    scores = pd.read_csv(tmp_path / "m.csv")["score"]
    assert scores.between(0, 1).all() and len(scores) > 1500


def test_probabilistic_needs_per_field_encodings(
    tmp_path: Path, run_cli: RunCli, febrl4_frames: tuple[pd.DataFrame, ...]
) -> None:
    plain = schema_from_dict(
        {
            k: v
            for k, v in json.loads(FIELDS_SCHEMA.read_text()).items()
            if k != "linkage"
        }
    )
    paths = []
    for party, frame in zip("ab", febrl4_frames, strict=True):
        export = tmp_path / f"{party}.csv"
        frame.head(50).to_csv(export, index=False)
        paths.append(tmp_path / f"{party}.lnk")
        encode_csv(export, plain, SECRET, paths[-1], party=party)
    result = run_cli(
        "match", *paths, "--method", "probabilistic", "--out", tmp_path / "m.csv"
    )
    assert result.exit_code != 0
    assert "needs per-field encodings" in result.output
    assert "segments" in result.output
    assert not (tmp_path / "m.csv").exists()


def test_fields_schema_is_the_plain_schema_plus_segments() -> None:
    document = json.loads(FIELDS_SCHEMA.read_text())
    plain = json.loads((CONFIGS / "schemas" / "febrl-linkage.json").read_text())
    assert copy.deepcopy(document) | {"linkage": None} == plain | {"linkage": None}


def test_a_rare_value_agreeing_weighs_more_than_a_common_one() -> None:
    # One field: value 1 held by half the records, value 3 by a quarter.
    hashes = np.array([[1], [1], [1], [1], [2], [2], [3], [3]], dtype=np.uint64)
    left, right = np.array([0, 6, 0]), np.array([1, 7, 6])
    adjustment = term_frequency(hashes, left, right, top_u=[0.3])
    assert adjustment[0] == pytest.approx(np.log2(0.3 / 0.5))
    assert adjustment[1] == pytest.approx(np.log2(0.3 / 0.25))
    assert adjustment[2] == 0  # Different values: no adjustment.


def test_the_waterfall_ends_with_the_term_frequency_step(
    febrl4_fields: tuple[list[Path], pd.DataFrame],
) -> None:
    paths, _ = febrl4_fields
    settings = MatchSettings(method="probabilistic")
    model = Matcher(load_parties(paths), settings).run().model
    assert model is not None and model.adjustments is not None
    pair = int(np.argmax(model.adjustments))
    steps = model.waterfall(pair).steps
    assert steps[-1].field == "term frequency"
    assert steps[-1].weight == pytest.approx(model.adjustments[pair])
    assert model.waterfall(pair).weight == pytest.approx(model.weights[pair])
