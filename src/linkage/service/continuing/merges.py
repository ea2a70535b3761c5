"""Match IDs absorbed in a merge point investigators to the ID that survived.

When an update run merges groups, the oldest ID survives and the others are
recorded as merged into it (:mod:`linkage.matching.standing.match_ids`). An
investigator who noted an absorbed ID and asks for its reveal would find no
records under it; the service says which ID it became instead. Each update
run writes every merge so far (absorbed ID -> the ID it went into) as
``merged.json`` beside its results: match IDs only, no pseudonym.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from linkage.atomic import private_text_output

__all__ = ["MERGED", "surviving_id", "write_merges"]

MERGED: Final = "merged.json"


def write_merges(folder: Path, merged_into: Mapping[str, str]) -> None:
    """Write every merge so far into the run ``folder``, whole or not at all."""
    with private_text_output(folder / MERGED) as out:
        json.dump(dict(merged_into), out, sort_keys=True)


def surviving_id(folder: Path, match_id: str) -> str | None:
    """The ID ``match_id`` was merged into, followed to the last merge, as
    the run ``folder`` records them; None if it was not merged."""
    path = folder / MERGED
    if not path.is_file():
        return None
    merged_into: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    seen = {match_id}
    current = merged_into.get(match_id)
    while current is not None and current in merged_into and current not in seen:
        seen.add(current)
        current = merged_into[current]
    return current
