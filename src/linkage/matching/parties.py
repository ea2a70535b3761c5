"""The parties of a linkage: their encodings files, checked to be comparable.

Encodings made with different schemas, secrets or lengths would compare as
noise, so :func:`load_parties` refuses such a set with a message that names
the files that disagree. clkhash JSON files carry no header: they can only be
checked for length, and their row index stands in for the pseudonym.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from linkage.errors import InputError, Problem
from linkage.formats.clkfile import Encodings, read_encodings, secret_mismatch_hint


@dataclass(frozen=True)
class Party:
    """One agency's encodings, named."""

    name: str
    encodings: Encodings

    def __len__(self) -> int:
        return len(self.encodings)

    @cached_property
    def pseudonyms(self) -> list[str]:
        """The pseudonym of each record, in file order."""
        return self.encodings.pseudonym_strings()


@dataclass(frozen=True)
class PartySet:
    """Parties sharing one global record index: party p's record i is offsets[p]+i."""

    parties: tuple[Party, ...]

    @cached_property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Where each party's records start in the global index."""
        sizes = [len(party) for party in self.parties]
        return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    @cached_property
    def party_of(self) -> npt.NDArray[np.int64]:
        """The party of every global record."""
        sizes = [len(party) for party in self.parties]
        return np.repeat(np.arange(len(self.parties), dtype=np.int64), sizes)

    @property
    def total(self) -> int:
        """Records over all parties."""
        return sum(len(party) for party in self.parties)

    def fields_not_held(self) -> str:
        """Which schema fields each party does not hold, as its header says
        ("none" if every party holds them all): links to a party that lacks
        fields rest on fewer of them and score lower."""
        lacking = [
            f"{party.name}: {', '.join(absent)}"
            for party in self.parties
            if (absent := _absent_fields(party))
        ]
        return "; ".join(lacking) or "none"

    def locate(self, global_index: int) -> tuple[Party, int]:
        """The party of a global record and its row in that party's file."""
        number = int(self.party_of[global_index])
        return self.parties[number], global_index - int(self.offsets[number])


def _absent_fields(party: Party) -> tuple[str, ...]:
    header = party.encodings.header
    return () if header is None else header.absent_fields


def load_parties(paths: Sequence[Path]) -> PartySet:
    """Read encodings files and check that they can be compared.

    Raises:
        EncodingFileError: a file cannot be read.
        InputError: the files disagree on bit length, schema or secret, two
            files claim the same party name, or a file holds no records.
    """
    parties = tuple(
        Party(_party_name(encodings, path), encodings)
        for path, encodings in ((path, read_encodings(path)) for path in paths)
    )
    _check_not_empty(parties)
    _check_agree(parties, "bit length", lambda e: str(e.bit_length))
    _check_agree(parties, "schema fingerprint", _header_field("schema_fingerprint"))
    _check_agree(parties, "key-check value (secret)", _header_field("key_check"))
    _check_unique_names(parties)
    return PartySet(parties)


def _party_name(encodings: Encodings, path: Path) -> str:
    header = encodings.header
    if header is not None and isinstance(header.extensions.get("party"), str):
        name: str = header.extensions["party"]
        return name
    return path.stem


def _header_field(name: str) -> Callable[[Encodings], str | None]:
    def value(encodings: Encodings) -> str | None:
        if encodings.header is None:
            return None  # clkhash JSON: nothing to compare.
        return str(getattr(encodings.header, name))

    return value


def _check_not_empty(parties: Sequence[Party]) -> None:
    for party in parties:
        if len(party) == 0:
            raise InputError(
                f"{party.encodings.source} holds no records",
                hint="Encode the agency's export again; an empty file cannot match.",
            )


def _check_agree(
    parties: Sequence[Party], what: str, value: Callable[[Encodings], str | None]
) -> None:
    seen: dict[str, list[Party]] = {}
    for party in parties:
        key = value(party.encodings)
        if key is not None:
            seen.setdefault(key, []).append(party)
    if len(seen) <= 1:
        return
    problems = [
        Problem(
            f"{what} {key[:16]}: " + ", ".join(str(p.encodings.source) for p in group)
        )
        for key, group in seen.items()
    ]
    hint = {
        "bit length": "All parties must encode with the same schema (clkConfig.l).",
        "schema fingerprint": "All parties must encode with the same schema file; "
        "compare `linkage schema check` fingerprints.",
    }.get(what) or secret_mismatch_hint(list(seen))
    raise InputError(f"The encodings files differ in {what}:", problems, hint=hint)


def _check_unique_names(parties: Sequence[Party]) -> None:
    names = [party.name for party in parties]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(
            f"Several files are named as party {', '.join(map(repr, repeated))}",
            hint="Give each agency its own --party name when encoding, or its own "
            "file name.",
        )
