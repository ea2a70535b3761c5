"""The automatic threshold against the best one chosen with the truth.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/threshold_check.py [--size 5000] [--json OUT]
        [--shipped demo.json] [--final-check [--final-check-size 5000]
        [--final-check-seed 23]]

The shipped default (``configs/schemas/demo.json``'s hardening, diffusion as
long as the CLK, and its views that fit; or another shipped schema's, with
``--shipped``) links, with ``--threshold auto``, each scenario:

* the demo population with 2, 3 and 4 of its agencies, and with 6 (health
  and tax each split in two offices), each with and without ``--dedup``;
* the households population (a second generator, never tuned on) with its
  5 agencies, with and without ``--dedup``;
* each agency of the demo and the households population that holds
  duplicates, deduplicated alone (as an agency cleans its own file);
* FEBRL4 (2 parties) and FEBRL3 (dedup);
* with ``--final-check`` only, last: the registers population (a third
  generator, held out: for the final check of a change, never to tune on)
  with its 5 agencies, with and without ``--dedup``.

Then the same encodings are linked at fixed thresholds from just above the
non-matches' pile to 0.9 in steps of 0.02, and the best F1 over record pairs
is the reference ("oracle"). The gap is what the automatic choice loses.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import quality_reference as ref
from households_data import households
from quality import (
    SECRET,
    add_final_check_options,
    as_resolved,
    encode_sources,
    shipped_schema,
)
from registers_data import registers

from linkage.evaluation import evaluate
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.matching.threshold import ThresholdChoice

_STEP = 0.02
_HIGHEST = 0.9


@dataclass(frozen=True)
class Scenario:
    """One linkage: which records, how many parties, dedup or not."""

    name: str
    data: ref.ReferenceData
    dedup: bool


@dataclass(frozen=True)
class Row:
    scenario: str
    parties: int
    dedup: bool
    threshold: float
    method: str
    f1: float
    best_threshold: float
    best_f1: float

    @property
    def gap(self) -> float:
        return self.best_f1 - self.f1


def subset(data: ref.ReferenceData, sources: list[str]) -> ref.ReferenceData:
    """Only these agencies' records."""
    records = data.records[data.records["source"].isin(sources)]
    return replace(data, records=records.reset_index(drop=True))


def with_duplicates(data: ref.ReferenceData) -> list[str]:
    """The agencies holding several records of one person, by name."""
    records = data.records
    repeated = records.duplicated(["source", "entity"], keep=False)
    return sorted(records.loc[repeated, "source"].unique())


def split_offices(data: ref.ReferenceData, agencies: list[str]) -> ref.ReferenceData:
    """Each of ``agencies`` split at random into two offices (two parties)."""
    records = data.records.copy()
    rng = np.random.default_rng(3)
    for agency in agencies:
        rows = records["source"] == agency
        office = np.where(rng.random(int(rows.sum())) < 0.5, "a", "b")
        records.loc[rows, "source"] = agency + "_" + office
    return replace(data, records=records)


def scenarios(size: int, final_check: tuple[int, int] | None = None) -> list[Scenario]:
    """The scenarios; with ``final_check`` (size, seed) the held-out one too."""
    demo = ref.demo(size, 7)
    found = []
    for sources in (
        ["police", "health"],
        ["police", "health", "tax"],
        ["police", "health", "social_services", "tax"],
    ):
        for dedup in (False, True):
            name = f"demo, {' + '.join(sources)}"
            found.append(Scenario(name, subset(demo, sources), dedup))
    six = split_offices(demo, ["health", "tax"])
    for dedup in (False, True):
        found.append(Scenario("demo, 6 (health, tax in two offices)", six, dedup))
    homes = households(size, 11)
    for dedup in (False, True):
        found.append(Scenario("households, 5 agencies", homes, dedup))
    for population, data in (("demo", demo), ("households", homes)):
        for agency in with_duplicates(data):
            alone = subset(data, [agency])
            found.append(Scenario(f"{population}, {agency} alone", alone, True))
    found.append(Scenario("FEBRL4", ref.febrl4(), False))
    found.append(Scenario("FEBRL3", ref.febrl3(), True))
    if final_check is not None:
        held_out = registers(*final_check)
        for dedup in (False, True):
            found.append(Scenario(f"{held_out.name}, 5 agencies", held_out, dedup))
    return found


def f1_at(
    paths: list[Path],
    truth: pd.DataFrame,
    dedup: bool,
    threshold: float | Literal["auto"],
) -> tuple[float, ThresholdChoice]:
    settings = MatchSettings(dedup=dedup, threshold=threshold)
    result = Matcher(load_parties(paths), settings).run()
    f1 = evaluate(as_resolved(result.matches, paths), truth).all_pairs.f1 or 0.0
    return f1, result.choice


def check(scenario: Scenario, work: Path, shipped: str = "demo.json") -> Row:
    febrl = scenario.data.name.startswith("FEBRL")
    base = "febrl-linkage.json" if febrl else "demo.json"
    schema = shipped_schema(
        base, shipped=shipped, identifiers=scenario.data.identifiers
    )
    paths, truth = encode_sources(scenario.data, schema, SECRET, work)
    f1, choice = f1_at(paths, truth, scenario.dedup, "auto")
    start = (choice.modes[0] if choice.modes else 0.5) + _STEP
    best_f1, best_threshold = f1, choice.threshold
    for threshold in np.arange(round(start, 2), _HIGHEST + 1e-9, _STEP):
        fixed, _ = f1_at(paths, truth, scenario.dedup, float(threshold))
        if fixed > best_f1:
            best_f1, best_threshold = fixed, float(threshold)
    return Row(
        scenario.name,
        int(scenario.data.records["source"].nunique()),
        scenario.dedup,
        choice.threshold,
        choice.method,
        f1,
        round(best_threshold, 3),
        best_f1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--shipped", default="demo.json", help="the shipped schema whose block is used"
    )
    add_final_check_options(parser)
    options = parser.parse_args()
    final_check = (
        (options.final_check_size, options.final_check_seed)
        if options.final_check
        else None
    )
    rows = []
    print(
        "| scenario | parties | dedup | auto threshold | rule | F1 "
        "| best threshold | best F1 | gap (points) |"
    )
    print("|---|---:|---|---:|---|---:|---:|---:|---:|")
    for scenario in scenarios(options.size, final_check):
        with tempfile.TemporaryDirectory() as work:
            row = check(scenario, Path(work), options.shipped)
        rows.append(row)
        print(
            f"| {row.scenario} | {row.parties} | {'yes' if row.dedup else 'no'} | "
            f"{row.threshold:.3f} | {row.method} | {row.f1:.4f} | "
            f"{row.best_threshold:.2f} | {row.best_f1:.4f} | {100 * row.gap:.1f} |",
            flush=True,
        )
    if options.json is not None:
        options.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))


if __name__ == "__main__":
    main()
