"""Incremental updates: adding records to a linked population, beside a full run.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/incremental.py --json /tmp/incremental.jsonl
    .venv/bin/python benchmarks/incremental.py --size 100000 --added 2000

Data come from ``benchmarks/scale.py``'s two-party scenario (a health-shaped
and a tax-shaped export of the demo generator, plain CLKs of the demo
schema, cached under ``--work``): ``--size`` records per party. ``--added``
records, drawn at random from both parties, are held back; the rest are
linked by a full run (``Matcher``, threshold ``--threshold``, LSH blocking
as ``auto`` chooses, no dedup), kept as a standing linkage, and then the held
records are sent as one change set per party and linked in.

With ``--service``, the same is done the way an operator meets it: a
service on loopback (this process, SQLite), the project created to keep its
encodings, both parties uploaded, a full run, then each party's change set
sent and an update run; each run is timed from the request that starts it
to its completion (loading, linking, writing results and state).

Otherwise reported, each in this one process, after imports and loading the
files:
the full run's seconds; the update's seconds (scoring every changed record
against every record it may link to, grouping the touched components again,
handing match IDs on); writing every party's results; writing the standing
state to disk and reading it back (what an update run of the service does
besides the update itself). The issue's goal: adding 10,000 records to
1,000,000 in under 10 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale import TWO_PARTY_OVERLAP, PartySpec, build, population_for  # noqa: E402

from linkage.client import ServiceClient  # noqa: E402
from linkage.formats.clkfile import write_encodings  # noqa: E402
from linkage.matching.matcher import Matcher, MatchSettings  # noqa: E402
from linkage.matching.parties import Party, PartySet, load_parties  # noqa: E402
from linkage.matching.standing import (  # noqa: E402
    ChangeSet,
    StandingLinkage,
    load_standing,
    save_standing,
)
from linkage.service.loopback import running_service  # noqa: E402


def _split(parties: PartySet, added: int, seed: int) -> tuple[PartySet, list[Party]]:
    """The parties without ``added`` random records, and those records."""
    rng = np.random.default_rng(seed)
    total = parties.total
    held = np.zeros(total, dtype=bool)
    held[rng.choice(total, added, replace=False)] = True
    kept, sent = [], []
    for party, offset in zip(parties.parties, parties.offsets.tolist(), strict=True):
        mine = held[offset : offset + len(party)]
        encodings = party.encodings
        assert encodings.pseudonyms is not None
        for rows, into in ((~mine, kept), (mine, sent)):
            into.append(
                Party(
                    party.name,
                    replace(
                        encodings,
                        pseudonyms=encodings.pseudonyms[rows],
                        clks=encodings.clks[rows],
                    ),
                )
            )
    return PartySet(tuple(kept)), sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=505_000, help="records per party")
    parser.add_argument("--added", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "linkage-scale"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--service", action="store_true", help="time the service's runs instead"
    )
    args = parser.parse_args()
    args.hardened = False  # What scale.build reads.
    specs = [
        PartySpec("health", "health", TWO_PARTY_OVERLAP),
        PartySpec("tax", "tax", TWO_PARTY_OVERLAP),
    ]
    people = population_for(args.size, TWO_PARTY_OVERLAP)
    data = build(args.work, f"two-{args.size}-seed{args.seed}", people, specs, args)
    linked, sent = _split(load_parties(data.files), args.added, args.seed)
    if args.service:
        with tempfile.TemporaryDirectory() as folder:
            row = _through_the_service(Path(folder), linked, sent, args.threshold)
        _report(row, args.json)
        return

    started = time.perf_counter()
    settings = MatchSettings(threshold=args.threshold)
    result = Matcher(linked, settings).run()
    full_seconds = time.perf_counter() - started
    standing = StandingLinkage.from_run(linked, result)

    started = time.perf_counter()
    update = standing.apply([ChangeSet(p.name, p.encodings) for p in sent])
    update_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        rows = standing.rows()
        for party in standing.parties.parties:
            with (Path(folder) / f"{party.name}.csv").open("wb") as out:
                rows.of_party(party.name).write_csv(out)
        results_seconds = time.perf_counter() - started
        started = time.perf_counter()
        save_standing(standing, Path(folder) / "state")
        save_seconds = time.perf_counter() - started
        started = time.perf_counter()
        load_standing(Path(folder) / "state")
        load_seconds = time.perf_counter() - started

    kinds: dict[str, int] = {}
    for change in update.changes:
        kinds[change.kind] = kinds.get(change.kind, 0) + 1
    row = {
        "linked records": linked.total,
        "added records": args.added,
        "threshold": args.threshold,
        "full run s": round(full_seconds, 2),
        "full run blocking": str(result.stats["blocking"]),
        "update s": round(update_seconds, 2),
        "update pairs scored": update.pairs_scored,
        "records grouped again": update.records_grouped_again,
        "record changes": kinds,
        "results s": round(results_seconds, 2),
        "save s": round(save_seconds, 2),
        "load s": round(load_seconds, 2),
    }
    _report(row, args.json)


def _report(row: dict[str, object], path: Path | None) -> None:
    print(json.dumps(row, indent=1))
    if path:
        with path.open("a") as out:
            out.write(json.dumps(row) + "\n")


def _through_the_service(
    folder: Path, linked: PartySet, sent: list[Party], threshold: float
) -> dict[str, object]:
    """A full run and an update run in a service on loopback, each timed
    from the request that starts it to its completion."""
    files = {}
    for party, changes in zip(linked.parties, sent, strict=True):
        files[party.name] = folder / f"{party.name}.lnk"
        write_encodings(files[party.name], party.encodings)
        write_encodings(folder / f"{party.name}-changes.lnk", changes.encodings)
    header = linked.parties[0].encodings.header
    assert header is not None
    with running_service(folder / "service", max_upload_bytes=2**31) as service:
        with ServiceClient(service.url, service.operator_token) as operator:
            created = operator.create_project(
                "incremental",
                schema_fingerprint=header.schema_fingerprint,
                parties=list(files),
                threshold=threshold,
                retain_encodings=True,
            )
            for name, path in files.items():
                with ServiceClient(service.url, created.party_tokens[name]) as agency:
                    agency.upload(created.id, name, path)
            full = _timed_run(operator, created.id, "full")
            for name in files:
                with ServiceClient(service.url, created.party_tokens[name]) as agency:
                    agency.send_changes(created.id, folder / f"{name}-changes.lnk")
            update = _timed_run(operator, created.id, "update")
    return {
        "through the service": True,
        "linked records": linked.total,
        "added records": sum(len(party) for party in sent),
        "threshold": threshold,
        "full run s": full,
        "update run s": update,
    }


def _timed_run(operator: ServiceClient, project_id: int, kind: str) -> float:
    started = time.perf_counter()
    run = operator.start_run(project_id, kind=kind)
    status = operator.wait_for_run(project_id, run.run_id, timeout=3600, poll=0.1)
    if status.state != "completed":
        raise SystemExit(f"the {kind} run failed: {status.message}")
    return round(time.perf_counter() - started, 2)


if __name__ == "__main__":
    main()
