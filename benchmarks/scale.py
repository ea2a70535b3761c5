"""Scale: end-to-end linkage of large synthetic registers, time and peak memory.

Usage (from the repository root, after `make install`)::

    # two-party linkage at 100k and 300k records per side (a few minutes)
    .venv/bin/python benchmarks/scale.py --json /tmp/scale.jsonl

    # opt-in, large: 1M per side, six parties of 1M, dedup of 1M
    .venv/bin/python benchmarks/scale.py --sizes 1000000 --json /tmp/scale.jsonl
    .venv/bin/python benchmarks/scale.py --sizes "" --parties 6 --per-party 1000000
    .venv/bin/python benchmarks/scale.py --sizes "" --dedup 1000000

    # the plot of every row gathered in a JSON lines file, without running
    .venv/bin/python benchmarks/scale.py --sizes "" --json /tmp/scale.jsonl \\
        --plot benchmarks/scale.svg

Data come from the demo generator (``linkage.demo.generator``): a population
and agency exports with their own column shapes, typing errors, missing
values, nicknames, moved addresses and in-agency duplicates (7% of people
have two or more records). Each data set is generated and encoded once with
the demo schema without its hardening (``configs/schemas/demo.json``, plain
CLKs, as measured) under ``--work/<scenario>``
(default ``$TMPDIR/linkage-scale``),
and reused on later runs with the same size and seed.

Scenarios:

- ``--sizes N,...`` (default ``100000,300000`` when no other scenario is
  chosen): two parties, a health-shaped and a tax-shaped export (tax holds no
  birth date or sex) of about N records each, every person in 75% of the
  population held by each.
- ``--parties K --per-party N``: K agencies (the four demo shapes in turn,
  named ``health_a``, ``tax_a``, ``police_a``, ``social_services_a``,
  ``health_b``, ...) of about N records each, each holding 60% of the
  population: multi-party clustering.
- ``--dedup N``: deduplication of one health-shaped export of about N records,
  at ``--dedup-threshold`` (default 0.9: dedup candidates reach 0.1 below the
  threshold, and at 0.8 the demo data give over 100 candidate pairs per record
  at 20k records and a pairwise precision of 9%).

Every linkage runs END TO END in a fresh subprocess (this script with
``--worker``): load the encodings, block, compare, solve, assign match IDs and
write each party's results CSV. Wall time is measured around the subprocess
(interpreter start and imports included); peak memory is that subprocess's
VmHWM from ``/proc/self/status``. The threshold is fixed (``--threshold``,
default 0.8) so that LSH blocking and all pairs answer the same question.

Pair completeness (PC) is measured, not only estimated: the LSH run is
repeated without blocking (``blocking='none'``) and the two are compared on
(a) candidate pairs at or above the threshold and (b) final matched pairs
(two records in the same match group). Up to ``--full-pc-max`` records per
party the all-pairs run uses the full data; above it, both runs use a random
sample of ``--pc-sample`` records per party, with the LSH run forced to the
full run's tables and bits (a pair's chance of being found depends only on
those and on the pair, not on the data size). Precision and recall are
measured against the generator's truth.

Rows are printed as a table and appended as JSON lines to ``--json``;
``--plot FILE.svg`` draws time and peak memory against records from every row
in that file (a hand-written SVG: no plotting library needed).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from linkage.demo.generator import export_agency, generate_population  # noqa: E402
from linkage.encoding.mapping_file import load_mapping  # noqa: E402
from linkage.encoding.recipe import encode_csv  # noqa: E402
from linkage.evaluation import evaluate  # noqa: E402
from linkage.formats.clkfile import (  # noqa: E402
    EncodingWriter,
    format_pseudonyms,
    read_encodings,
)
from linkage.formats.schema import LinkageSchema, schema_from_dict  # noqa: E402

SCHEMA = ROOT / "configs" / "schemas" / "demo.json"
MAPPINGS = ROOT / "configs" / "mappings"
SECRET = b"scale benchmark secret, not for production use"
SHAPES = ("health", "tax", "police", "social_services")
# Records per person an agency holds: 7% of its people have a second record,
# a fifth of those a third (``export_agency``'s default duplicate rate).
RECORDS_PER_PERSON = 1 + 0.07 * 1.2
TWO_PARTY_OVERLAP = 0.75
MULTI_PARTY_OVERLAP = 0.6
DEDUP_OVERLAP = 0.85
DEFAULT_SIZES = "100000,300000"
Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PartySpec:
    """One agency of a scenario: its name, its export's shape and its share."""

    name: str
    shape: str
    overlap: float


@dataclass(frozen=True)
class DataSet:
    """A generated, encoded data set: encodings files and the truth."""

    directory: Path
    files: list[Path]
    truth: Path
    records: list[int]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def encoding_schema(hardened: bool) -> LinkageSchema:
    """The demo schema as shipped (``hardened``), or without its hardening:
    the figures in benchmarks/README.md were measured on plain CLKs unless a
    row says otherwise. (Diffusion moves matches to lower Dice scores, nearer
    the non-matches, so LSH needs more tables at the same completeness.)"""
    document = json.loads(SCHEMA.read_text())
    if not hardened:
        document.pop("linkage", None)
    return schema_from_dict(document)


def population_for(records: int, overlap: float) -> int:
    """The population whose export at ``overlap`` holds about ``records``."""
    return max(round(records / (overlap * RECORDS_PER_PERSON)), 1)


def build(
    work: Path,
    key: str,
    people: int,
    specs: list[PartySpec],
    args: argparse.Namespace,
) -> DataSet:
    """Generate and encode a scenario's exports, or reuse them from ``work``."""
    seed = args.seed
    schema = encoding_schema(args.hardened)
    # Encodings made under another schema (an earlier shipped default) are
    # never reused: the fingerprint names the folder.
    suffix = f"-hardened-{schema.fingerprint[:12]}" if args.hardened else ""
    directory = work / (key + suffix)
    done = directory / "done.json"
    files = [directory / f"{spec.name}.lnk" for spec in specs]
    truth_path = directory / "truth.parquet"
    if done.exists():
        records = json.loads(done.read_text())["records"]
        print(f"reusing {directory}", flush=True)
        return DataSet(directory, files, truth_path, records)
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    population_rng, *rngs = np.random.default_rng(seed).spawn(1 + len(specs))
    population = generate_population(people, population_rng)
    truths, records = [], []
    for spec, rng, path in zip(specs, rngs, files, strict=True):
        export, truth = export_agency(population, spec.shape, rng, spec.overlap)
        csv = directory / f"{spec.name}.csv"
        export.to_csv(csv, index=False, lineterminator="\n")
        summary = encode_csv(
            csv,
            schema,
            SECRET,
            path,
            mapping=load_mapping(MAPPINGS / f"{spec.shape}.yaml"),
            party=spec.name,
        )
        pseudonyms = read_encodings(path).pseudonym_strings()
        if summary.encoded != len(export) or len(pseudonyms) != len(export):
            raise SystemExit(
                f"{spec.name}: {len(export)} rows but {summary.encoded} encoded; "
                "pseudonyms would not follow the rows"
            )
        truths.append(
            pd.DataFrame(
                {"party": spec.name, "id": pseudonyms, "entity": truth["person_id"]}
            )
        )
        records.append(len(export))
        csv.unlink()
    pd.concat(truths, ignore_index=True).to_parquet(truth_path)
    done.write_text(json.dumps({"records": records, "people": people, "seed": seed}))
    print(
        f"generated and encoded {sum(records):,} records in {directory} "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    return DataSet(directory, files, truth_path, records)


def sample(data: DataSet, size: int, seed: int) -> DataSet:
    """A random ``size`` records of each party (cached beside the data)."""
    directory = data.directory / f"sample-{size}-{seed}"
    done = directory / "done.json"
    files = [directory / path.name for path in data.files]
    truth_path = directory / "truth.parquet"
    if done.exists():
        records = json.loads(done.read_text())["records"]
        return DataSet(directory, files, truth_path, records)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    truth = pd.read_parquet(data.truth)
    kept, records = [], []
    for source, target in zip(data.files, files, strict=True):
        encodings = read_encodings(source)
        assert encodings.header is not None and encodings.pseudonyms is not None
        rows = np.sort(rng.choice(len(encodings), min(size, len(encodings)), False))
        with EncodingWriter(target, encodings.header) as writer:
            writer.write(encodings.pseudonyms[rows], encodings.clks[rows])
        party = str(encodings.header.extensions["party"])
        ids = set(format_pseudonyms(encodings.pseudonyms[rows]))
        kept.append(truth[(truth["party"] == party) & truth["id"].isin(ids)])
        records.append(len(rows))
    pd.concat(kept, ignore_index=True).to_parquet(truth_path)
    done.write_text(json.dumps({"records": records}))
    return DataSet(directory, files, truth_path, records)


# ---------------------------------------------------------------------------
# The worker: one linkage in a fresh process
# ---------------------------------------------------------------------------


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(spec_path: Path) -> None:
    """Run one linkage as the CLI would, and write its figures as JSON."""
    from linkage.matching.candidates import CandidatePairs
    from linkage.matching.matcher import Matcher, MatchSettings
    from linkage.matching.parties import load_parties

    spec = json.loads(spec_path.read_text())
    out = Path(spec["out"])
    started = time.perf_counter()
    last = [started]

    def progress(label: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 30 or done == total:
            last[0] = now
            print(f"    {label}: {done:,}/{total:,}", file=sys.stderr, flush=True)

    parties = load_parties([Path(name) for name in spec["files"]])
    loaded = time.perf_counter()
    matcher = Matcher(parties, MatchSettings(**spec["settings"]), progress=progress)
    kept: list[CandidatePairs] = []
    find = matcher.candidates

    def keep(threshold: float) -> CandidatePairs:
        found = find(threshold)
        kept.append(found)
        return found

    matcher.candidates = keep  # type: ignore[method-assign]
    result = matcher.run()
    matched = time.perf_counter()
    for party in parties.parties:
        result.for_party(party.name).to_csv(out / f"{party.name}.csv", index=False)
    written = time.perf_counter()
    candidates = kept[0]
    np.savez(
        out / "candidates.npz",
        left=np.minimum(candidates.left, candidates.right),
        right=np.maximum(candidates.left, candidates.right),
    )
    figures = {
        "peak_mb": round(peak_mb(), 1),
        "load_s": round(loaded - started, 2),
        "match_s": round(matched - loaded, 2),
        "write_s": round(written - matched, 2),
        "stats": result.stats,
    }
    (out / "result.json").write_text(json.dumps(figures))


def link(
    data: DataSet,
    out: Path,
    *,
    threshold: float,
    blocking: str,
    dedup: bool,
    bits: int | None = None,
    tables: int | None = None,
) -> dict[str, Any]:
    """Run one linkage in a subprocess; its figures, with the wall time."""
    out.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "threshold": threshold,
        "dedup": dedup,
        "blocking": blocking,
        "max_candidates": 500_000_000,
    }
    if bits is not None:
        settings.update(lsh_bits=bits, lsh_tables=tables)
    spec = {
        "files": [str(p) for p in data.files],
        "out": str(out),
        "settings": settings,
    }
    spec_path = out / "spec.json"
    spec_path.write_text(json.dumps(spec))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--worker", str(spec_path)], check=True, cwd=ROOT
    )
    wall = time.perf_counter() - started
    figures: dict[str, Any] = json.loads((out / "result.json").read_text())
    figures["wall_s"] = round(wall, 2)
    return figures


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def read_matches(data: DataSet, out: Path) -> pd.DataFrame:
    """Every party's results CSV, as one frame with a ``party`` column."""
    frames = []
    for path in data.files:
        party = str(read_header_party(path))
        frame = pd.read_csv(out / f"{party}.csv", dtype=str, keep_default_na=False)
        frames.append(frame.assign(party=party))
    return pd.concat(frames, ignore_index=True)


def read_header_party(path: Path) -> str:
    """The party name an encodings file carries."""
    header = read_encodings(path).header
    assert header is not None
    return str(header.extensions["party"])


def matched_pairs(matches: pd.DataFrame, records: pd.Index) -> Int64s:
    """Pairs of records in the same match group, as sorted int64 keys."""
    codes = records.get_indexer(pd.Index(matches["party"] + ":" + matches["pseudonym"]))
    frame = pd.DataFrame({"group": matches["match_id"].to_numpy(), "row": codes})
    joined = frame.merge(frame, on="group")
    joined = joined[joined["row_x"] < joined["row_y"]]
    keys = joined["row_x"].to_numpy(np.int64) * len(records) + joined["row_y"].to_numpy(
        np.int64
    )
    return np.unique(keys)


def candidate_pairs(out: Path, total: int) -> Int64s:
    """The candidate pairs a run kept, as sorted int64 keys."""
    saved = np.load(out / "candidates.npz")
    return np.unique(saved["left"] * total + saved["right"])


def completeness(found: Int64s, reference: Int64s) -> float | None:
    """The share of the reference pairs that were found."""
    if not len(reference):
        return None
    return len(np.intersect1d(found, reference, assume_unique=True)) / len(reference)


def quality(data: DataSet, out: Path, dedup_only: bool) -> dict[str, Any]:
    """Precision and recall of a run's groups against the generator's truth."""
    truth = pd.read_parquet(data.truth)
    evaluation = evaluate(read_matches(data, out), truth)
    scores = evaluation.within_party if dedup_only else evaluation.across_parties
    return {
        "precision": _round(scores.precision),
        "recall": _round(scores.recall),
        "cluster_precision": _round(evaluation.cluster_precision),
        "cluster_recall": _round(evaluation.cluster_recall),
    }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def measure_pc(data: DataSet, lsh_out: Path, reference_out: Path) -> dict[str, Any]:
    """Candidate and final-pair completeness of an LSH run against all pairs."""
    truth = pd.read_parquet(data.truth)
    total = sum(data.records)
    records = pd.Index(truth["party"] + ":" + truth["id"])
    return {
        "measured_pc_candidates": _round(
            completeness(
                candidate_pairs(lsh_out, total), candidate_pairs(reference_out, total)
            ),
            5,
        ),
        "measured_pc_matches": _round(
            completeness(
                matched_pairs(read_matches(data, lsh_out), records),
                matched_pairs(read_matches(data, reference_out), records),
            ),
            5,
        ),
    }


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


def row(
    scenario: str,
    data: DataSet,
    run: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """One table row from a run's figures."""
    stats = run["stats"]
    return {
        "scenario": scenario,
        "parties": len(data.records),
        "records": data.records,
        "total_records": sum(data.records),
        "blocking": _blocking(str(stats["blocking"])),
        "wall_s": run["wall_s"],
        "match_s": run["match_s"],
        "load_s": run["load_s"],
        "write_s": run["write_s"],
        "peak_mb": run["peak_mb"],
        "pairs_compared": stats["pairs compared"],
        "reduction_ratio": stats["reduction ratio"],
        "candidate_pairs": stats["candidate pairs"],
        "estimated_pc": stats["estimated pair completeness"],
        "threshold": stats["threshold"],
        "groups": stats["groups"],
        "records_matched": stats["records matched"],
        "date": time.strftime("%Y-%m-%d"),
        **extra,
    }


def _blocking(description: str) -> str:
    found = re.search(r"(\d+) tables of (\d+) sampled bits", description)
    if found:
        return f"LSH {found.group(1)}x{found.group(2)}"
    return "all pairs" if description.startswith("none") else description


def _plan(description: str) -> tuple[int, int] | None:
    found = re.search(r"(\d+) tables of (\d+) sampled bits", description)
    return (int(found.group(2)), int(found.group(1))) if found else None


def scenario(
    name: str,
    data: DataSet,
    args: argparse.Namespace,
    *,
    dedup: bool,
    dedup_only: bool = False,
    threshold: float | None = None,
) -> list[dict[str, Any]]:
    """The LSH run of a data set, and its pair completeness against all pairs."""
    threshold = args.threshold if threshold is None else threshold
    runs = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.work))
    rows = []
    print(f"{name}: {' x '.join(f'{n:,}' for n in data.records)} records", flush=True)
    lsh = link(
        data,
        runs / "lsh",
        threshold=threshold,
        blocking=args.blocking,
        dedup=dedup,
    )
    extra: dict[str, Any] = {"pc_basis": "not measured"}
    extra.update(quality(data, runs / "lsh", dedup_only))
    plan = _plan(str(lsh["stats"]["blocking"]))
    if not args.skip_pc and plan is not None:
        if max(data.records) <= args.full_pc_max:
            reference = link(
                data,
                runs / "none",
                threshold=threshold,
                blocking="none",
                dedup=dedup,
            )
            extra.update(measure_pc(data, runs / "lsh", runs / "none"))
            extra["pc_basis"] = "full data"
            rows.append(
                row(
                    name,
                    data,
                    reference,
                    {
                        "pc_basis": "reference",
                        **quality(data, runs / "none", dedup_only),
                    },
                )
            )
        else:
            small = sample(data, args.pc_sample, args.seed)
            bits, tables = plan
            small_lsh = link(
                small,
                runs / "sample-lsh",
                threshold=threshold,
                blocking="lsh",
                dedup=dedup,
                bits=bits,
                tables=tables,
            )
            reference = link(
                small,
                runs / "sample-none",
                threshold=threshold,
                blocking="none",
                dedup=dedup,
            )
            extra.update(measure_pc(small, runs / "sample-lsh", runs / "sample-none"))
            extra["pc_basis"] = f"{args.pc_sample // 1000}k-per-party sample"
            extra["sample_estimated_pc"] = small_lsh["stats"][
                "estimated pair completeness"
            ]
            extra["sample_lsh_s"] = small_lsh["wall_s"]
            extra["sample_all_pairs_s"] = reference["wall_s"]
    rows.insert(0, row(name, data, lsh, extra))
    return rows


def _label(name: str, args: argparse.Namespace) -> str:
    return f"{name} hardened" if args.hardened else name


def two_party(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Health-shaped vs tax-shaped exports of about ``size`` records each."""
    specs = [
        PartySpec("health", "health", TWO_PARTY_OVERLAP),
        PartySpec("tax", "tax", TWO_PARTY_OVERLAP),
    ]
    people = population_for(size, TWO_PARTY_OVERLAP)
    data = build(args.work, f"two-{size}-seed{args.seed}", people, specs, args)
    return scenario(_label(f"two-party {size:,}", args), data, args, dedup=False)


def multi_party(
    count: int, size: int, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``count`` agencies of about ``size`` records each, clustered."""
    specs = [
        PartySpec(
            f"{SHAPES[i % 4]}_{chr(ord('a') + i // 4)}",
            SHAPES[i % 4],
            MULTI_PARTY_OVERLAP,
        )
        for i in range(count)
    ]
    people = population_for(size, MULTI_PARTY_OVERLAP)
    key = f"multi-{count}x{size}-seed{args.seed}"
    data = build(args.work, key, people, specs, args)
    return scenario(_label(f"{count}-party {size:,}", args), data, args, dedup=False)


def dedup(size: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Deduplication of one health-shaped export of about ``size`` records."""
    specs = [PartySpec("health", "health", DEDUP_OVERLAP)]
    people = population_for(size, DEDUP_OVERLAP)
    data = build(args.work, f"dedup-{size}-seed{args.seed}", people, specs, args)
    return scenario(
        _label(f"dedup {size:,}", args),
        data,
        args,
        dedup=True,
        dedup_only=True,
        threshold=args.dedup_threshold,
    )


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    header = (
        "| scenario | records | blocking | wall s | match s | peak MB | pairs compared "
        "| reduction ratio | est. PC | measured PC (candidates) "
        "| measured PC (matches) | PC basis | precision | recall |"
    )
    lines = [header, "|" + "---|" * 14]
    for r in rows:
        lines.append(
            "| "
            + " | ".join(
                [
                    r["scenario"],
                    " x ".join(f"{n:,}" for n in r["records"]),
                    r["blocking"],
                    f"{r['wall_s']:.1f}",
                    f"{r['match_s']:.1f}",
                    f"{r['peak_mb']:,.0f}",
                    _cell(r["pairs_compared"]),
                    _cell(r["reduction_ratio"], 6),
                    _cell(r["estimated_pc"], 5),
                    _cell(r.get("measured_pc_candidates"), 5),
                    _cell(r.get("measured_pc_matches"), 5),
                    r.get("pc_basis", "-"),
                    _cell(r.get("precision")),
                    _cell(r.get("recall")),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Time and peak memory against total records, log-log, as an SVG."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        latest[
            (r["scenario"], r["blocking"] if r["blocking"] == "all pairs" else "lsh")
        ] = r
    series: dict[str, list[dict[str, Any]]] = {}
    for (name, kind), r in latest.items():
        family = name.split(" ")[0] + (" all pairs" if kind == "all pairs" else " LSH")
        series.setdefault(family, []).append(r)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    width, height, pad = 420, 300, 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width + 40}" '
        f'height="{height + 60}" font-family="sans-serif" font-size="11">',
        f'<rect width="{2 * width + 40}" height="{height + 60}" fill="white"/>',
    ]
    xs = [r["total_records"] for r in latest.values()] or [1]
    for panel, (key, label) in enumerate(
        [("wall_s", "wall time (s)"), ("peak_mb", "peak memory (MB)")]
    ):
        ys = [r[key] for r in latest.values()] or [1]
        left = panel * (width + 20)
        box = (left + pad, 20, left + width - 10, height - 20)
        x_range = _log_range(min(xs), max(xs))
        y_range = _log_range(min(ys), max(ys))
        parts.append(_axes(box, x_range, y_range, "total records", label))
        for number, (family, members) in enumerate(sorted(series.items())):
            colour = colours[number % len(colours)]
            points = sorted(
                (
                    _scale(r["total_records"], x_range, box[0], box[2]),
                    _scale(r[key], y_range, box[3], box[1]),
                )
                for r in members
            )
            if len(points) > 1:
                path_text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(
                    f'<polyline points="{path_text}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.5"/>'
                )
            for x, y in points:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>'
                )
            if panel == 0:
                legend_y = height + 35 + 14 * (number // 6)
                legend_x = 20 + 145 * (number % 6)
                parts.append(
                    f'<rect x="{legend_x}" y="{legend_y - 8}" width="10" height="10" '
                    f'fill="{colour}"/>'
                    f'<text x="{legend_x + 14}" y="{legend_y + 1}">{family}</text>'
                )
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def _log_range(low: float, high: float) -> tuple[float, float]:
    low, high = max(low, 1e-3), max(high, 1e-3)
    return 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high * 1.0001))


def _scale(value: float, span: tuple[float, float], start: float, end: float) -> float:
    low, high = (math.log10(v) for v in span)
    share = (math.log10(max(value, 1e-3)) - low) / (high - low or 1)
    return start + share * (end - start)


def _axes(
    box: tuple[float, float, float, float],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    x_label: str,
    y_label: str,
) -> str:
    x0, y0, x1, y1 = box
    parts = [
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
        'fill="none" stroke="#444"/>'
    ]
    for span, horizontal in ((x_range, True), (y_range, False)):
        decade = span[0]
        while decade <= span[1] * 1.0001:
            for step in (1, 2, 5):
                tick = decade * step
                if not span[0] <= tick <= span[1] * 1.0001:
                    continue
                text = _short(tick)
                if horizontal:
                    x = _scale(tick, span, x0, x1)
                    parts.append(
                        f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y1}" '
                        'stroke="#ddd"/>'
                    )
                    parts.append(
                        f'<text x="{x:.1f}" y="{y1 + 14}" '
                        f'text-anchor="middle">{text}</text>'
                    )
                else:
                    y = _scale(tick, span, y1, y0)
                    parts.append(
                        f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" '
                        'stroke="#ddd"/>'
                    )
                    parts.append(
                        f'<text x="{x0 - 4}" y="{y + 4:.1f}" '
                        f'text-anchor="end">{text}</text>'
                    )
            decade *= 10
    parts.append(
        f'<text x="{(x0 + x1) / 2}" y="{y1 + 30}" '
        f'text-anchor="middle">{x_label} (log)</text>'
    )
    parts.append(
        f'<text x="{x0 - 44}" y="{(y0 + y1) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 44} {(y0 + y1) / 2})">{y_label} (log)</text>'
    )
    return "\n".join(parts)


def _short(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main() -> None:
    """Parse the options, run the chosen scenarios, print and save the figures."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Large runs are opt-in: --sizes 1000000,3000000; "
        "--parties 6 --per-party 1000000 (target: under 30 min and 8 GB); "
        "--dedup 1000000. See benchmarks/README.md, section Scale.",
    )
    parser.add_argument(
        "--sizes",
        default=None,
        help="two-party records per side, comma-separated (default "
        f"{DEFAULT_SIZES} when no other scenario is chosen; '' for none)",
    )
    parser.add_argument("--parties", type=int, default=0, help="multi-party: agencies")
    parser.add_argument(
        "--per-party", type=int, default=0, help="multi-party: records each"
    )
    parser.add_argument(
        "--dedup", type=int, default=0, help="dedup of one agency of N records"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.8, help="fixed Dice threshold"
    )
    parser.add_argument(
        "--dedup-threshold",
        type=float,
        default=0.9,
        help="threshold of the dedup scenario (its candidates reach 0.1 lower; "
        "at 0.8 the demo data give over 100 candidate pairs per record at 20k)",
    )
    parser.add_argument(
        "--blocking",
        choices=["lsh", "auto", "none"],
        default="lsh",
        help="blocking of the measured run (default lsh)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--work", type=Path, default=None, help="data directory (reused)"
    )
    parser.add_argument(
        "--pc-sample",
        type=int,
        default=100_000,
        help="records per party of the all-pairs sample above --full-pc-max",
    )
    parser.add_argument(
        "--full-pc-max",
        type=int,
        default=300_000,
        help="largest party measured against all pairs on the full data",
    )
    parser.add_argument("--skip-pc", action="store_true", help="no all-pairs reference")
    parser.add_argument(
        "--json", type=Path, default=None, help="append rows as JSON lines"
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="SVG of every row in --json"
    )
    parser.add_argument(
        "--hardened",
        action="store_true",
        help="encode with the shipped demo schema, diffusion included (default: "
        "plain CLKs, as the recorded figures were measured)",
    )
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return
    if args.work is None:
        args.work = Path(tempfile.gettempdir()) / "linkage-scale"
    args.work.mkdir(parents=True, exist_ok=True)
    chosen = bool(args.parties or args.dedup)
    sizes_text = (
        args.sizes if args.sizes is not None else ("" if chosen else DEFAULT_SIZES)
    )
    sizes = [int(s) for s in sizes_text.split(",") if s.strip()]
    if bool(args.parties) != bool(args.per_party):
        parser.error("--parties and --per-party go together")
    rows: list[dict[str, Any]] = []

    def report(new: list[dict[str, Any]]) -> None:
        rows.extend(new)
        if args.json is not None:
            with args.json.open("a") as sink:
                for r in new:
                    sink.write(json.dumps(r) + "\n")
        print(table(new), flush=True)

    for size in sizes:
        report(two_party(size, args))
    if args.parties:
        report(multi_party(args.parties, args.per_party, args))
    if args.dedup:
        report(dedup(args.dedup, args))
    if rows:
        print("\nAll runs:\n" + table(rows))
    if args.plot is not None:
        saved = rows
        if args.json is not None and args.json.exists():
            saved = [
                json.loads(line) for line in args.json.read_text().splitlines() if line
            ]
        plot(saved, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
