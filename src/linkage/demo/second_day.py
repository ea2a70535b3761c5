"""The demo's second day: registers change, and a responder asks about one person.

On the first day each agency uploads most of its export; the rest arrive the
next day as new records, and the police withdraw a few records (closed cases).
Each agency sends its change set with its own token, the operator links them
in with an update run (no pairs compared again but the changed records'), and
each agency downloads what changed in its own rows: unchanged groups keep
their match IDs. Then a health responder asks whether one patient is known to
another agency: the answer names the match ID and health's own pseudonyms,
never another agency's.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.client import ServiceClient
from linkage.encoding.mapping_file import load_mapping
from linkage.encoding.recipe import encode_csv
from linkage.formats.clkfile import read_encodings, write_encodings
from linkage.formats.schema import LinkageSchema

__all__ = ["DAY_TWO_SHARE", "SecondDay", "ask_about_one", "second_day", "split_days"]

#: The share of each agency's records that arrive on the second day.
DAY_TWO_SHARE = 0.03
WITHDRAWING, WITHDRAWN = "police", 5
ASKING = "health"

Say = Callable[[str], None]
ClientFor = Callable[[str], ServiceClient]


@dataclass(frozen=True)
class SecondDay:
    """What the second day changed: the pseudonyms withdrawn, per agency."""

    withdrawn: dict[str, list[str]]


def split_days(encodings: Path, first: Path, second: Path) -> int:
    """Write ``encodings``' records as those of the first day and those that
    arrive on the second (its last :data:`DAY_TWO_SHARE`); return how many
    arrive on the second."""
    whole = read_encodings(encodings)
    later = int(len(whole) * DAY_TWO_SHARE)
    cut = len(whole) - later
    write_encodings(first, whole, slice(0, cut))
    write_encodings(second, whole, slice(cut, None))
    return later


def second_day(
    operator: ServiceClient,
    client_for: ClientFor,
    project_id: int,
    arriving: dict[str, Path],
    out: Path,
    say: Say,
) -> SecondDay:
    """Send each agency's change set, run the update, download the changes."""
    withdrawn: dict[str, list[str]] = {}
    for agency, path in arriving.items():
        with client_for(agency) as client:
            staged = client.send_changes(project_id, path)
            line = f"   {agency:<16} sends {staged['additions']:>5} new records"
            if agency == WITHDRAWING:
                withdrawn[agency] = _closed_cases(out, agency)
                client.withdraw(project_id, withdrawn[agency])
                line += f" and withdraws {len(withdrawn[agency])} (closed cases)"
        say(line)
    run = operator.start_run(project_id, kind="update")
    status = operator.wait_for_run(project_id, run.run_id, timeout=600.0, poll=0.1)
    if status.state != "completed":
        raise RuntimeError(f"update run {run.run_id} failed: {status.message}")
    stats = status.stats
    say(
        f"   operator: update run linked {stats['records_added']} new and "
        f"{stats['records_withdrawn']} withdrawn records into "
        f"{stats['groups']} groups ({stats['groups_created']} new, "
        f"{stats['groups_merged']} merged, {stats['groups_dissolved']} dissolved); "
        f"{stats['records_grouped_again']} records grouped again"
    )
    for agency in arriving:
        target = out / "results" / f"{agency}-changes.csv"
        with client_for(agency) as client:
            client.result_changes(project_id, target)
        kinds = Counter(row["kind"] for row in _rows(target))
        listed = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        say(f"   {agency:<16} what changed in its own rows: {listed or 'nothing'}")
    say("   every other row kept its match ID")
    return SecondDay(withdrawn)


def ask_about_one(
    client: ServiceClient,
    project_id: int,
    schema: LinkageSchema,
    secret: bytes,
    export: Path,
    mapping: Path,
    matches: pd.DataFrame,
    out: Path,
    say: Say,
) -> dict[str, object]:
    """A health responder encodes one patient, as health encodes its export,
    and asks whether another agency knows them."""
    health = matches[matches["party"] == ASKING]
    others = matches[matches["party"] != ASKING]
    shared = health[health["match_id"].isin(set(others["match_id"]))]
    pseudonym = str(shared["pseudonym"].iloc[0])
    whole = read_encodings(out / "encodings" / f"{ASKING}.lnk")
    row = whole.pseudonym_strings().index(pseudonym)
    # The responder types the patient in again: the same row of the export,
    # encoded afresh (a new pseudonym, no vault).
    frame = pd.read_csv(export, dtype=str, keep_default_na=False)
    one = out / "data" / f"{ASKING}-patient.csv"
    frame.iloc[[row]].to_csv(one, index=False)
    query = out / "encodings" / f"{ASKING}-patient.lnk"
    encode_csv(one, schema, secret, query, mapping=load_mapping(mapping), party=ASKING)
    answer = client.lookup(project_id, query)
    item = answer["results"][0]
    assert isinstance(item, dict)
    own = ", ".join(item.get("own_pseudonyms") or []) or "none"
    say(
        f"   {ASKING} asks about one patient: known "
        f"{'yes' if item.get('known') else 'no'}, known elsewhere "
        f"{'yes' if item.get('known_elsewhere') else 'no'}, match ID "
        f"{item.get('match_id')}; its own pseudonyms there: {own}"
    )
    return item


def _closed_cases(out: Path, agency: str) -> list[str]:
    """A few of the agency's first-day records, chosen at random."""
    first = read_encodings(out / "encodings" / f"{agency}-day1.lnk")
    rng = np.random.default_rng(len(first))
    rows = rng.choice(len(first), WITHDRAWN, replace=False)
    names = first.pseudonym_strings()
    return [names[row] for row in sorted(rows.tolist())]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
