"""A standing linkage on disk: one folder, written whole or not at all.

The folder holds each party's records as a linkage encodings file
(``party-<n>.lnk``, in full-run order), the candidate pairs and each record's
match ID as arrays (``pairs.npz``), and the parameters, party names and match
ID registry as JSON (``state.json``). It is written under a temporary name and
renamed into place, so a crash leaves no half-written state.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from linkage.errors import InputError
from linkage.formats.clkfile import read_encodings, write_encodings
from linkage.matching.candidates import CandidatePairs
from linkage.matching.parameters import LinkageParameters
from linkage.matching.parties import Party, PartySet
from linkage.matching.standing.match_ids import IdRegistry
from linkage.matching.standing.state import StandingLinkage

__all__ = ["load_standing", "save_standing"]

_STATE = "state.json"
_ARRAYS = "pairs.npz"
_FORMAT = 1


def save_standing(linkage: StandingLinkage, folder: Path) -> None:
    """Write ``linkage`` to the new folder ``folder`` (which must not exist)."""
    if folder.exists():
        raise FileExistsError(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.{secrets.token_hex(8)}.tmp")
    temporary.mkdir(mode=0o700)
    try:
        _write(linkage, temporary)
        os.rename(temporary, folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def load_standing(folder: Path) -> StandingLinkage:
    """Read a folder :func:`save_standing` wrote."""
    try:
        state = json.loads((folder / _STATE).read_text(encoding="utf-8"))
        if state.get("format") != _FORMAT:
            raise InputError(f"{folder / _STATE} is of an unknown format")
        parties = PartySet(
            tuple(
                Party(name, read_encodings(folder / f"party-{number}.lnk"))
                for number, name in enumerate(state["parties"])
            )
        )
        with np.load(folder / _ARRAYS) as arrays:
            pairs = CandidatePairs(arrays["left"], arrays["right"], arrays["score"])
            codes = arrays["match_codes"].tolist()
    except (OSError, KeyError, ValueError) as error:
        raise InputError(
            f"The standing linkage in {folder} cannot be read ({error})",
            hint="Start again from a full run.",
        ) from None
    ids = state["match_ids"]
    registry = IdRegistry(
        dict(state["registry"]["age"]),
        dict(state["registry"]["merged_into"]),
        int(state["registry"]["next_age"]),
    )
    match_ids = [ids[code] if code >= 0 else None for code in codes]
    parameters = LinkageParameters.from_document(state["parameters"])
    return StandingLinkage(parties, parameters, pairs, match_ids, registry)


def _write(linkage: StandingLinkage, folder: Path) -> None:
    for number, party in enumerate(linkage.parties.parties):
        header = party.encodings.header
        if header is None or party.encodings.pseudonyms is None:
            raise InputError(
                f"Agency {party.name!r}'s records have no header or pseudonyms",
                hint="A standing linkage needs linkage encodings files.",
            )
        write_encodings(folder / f"party-{number}.lnk", party.encodings)
    ids = list(dict.fromkeys(filter(None, linkage.match_ids)))
    code_of = {match_id: code for code, match_id in enumerate(ids)}
    codes = np.array(
        [code_of[m] if m else -1 for m in linkage.match_ids], dtype=np.int64
    )
    pairs = linkage.pairs
    with (folder / _ARRAYS).open("wb") as out:
        np.savez(
            out,
            left=pairs.left,
            right=pairs.right,
            score=pairs.score,
            match_codes=codes,
        )
    state: dict[str, Any] = {
        "format": _FORMAT,
        "parties": [party.name for party in linkage.parties.parties],
        "parameters": linkage.parameters.document(),
        "match_ids": ids,
        "registry": {
            "age": linkage.registry.age,
            "merged_into": linkage.registry.merged_into,
            "next_age": linkage.registry.next_age,
        },
    }
    (folder / _STATE).write_text(json.dumps(state), encoding="utf-8")
