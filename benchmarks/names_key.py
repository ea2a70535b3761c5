"""A key of the names, written only where they are unique in the agency's file.

Measures a design before it is built (issue 18). Two thirds of the pairs the
shipped default misses on the demo share nothing but the names: the tax
office holds no birth date, so a person who moved, or whose other agency
holds no address, has only the names in common with the tax record, and the
views diffused with 10 taps score such a pair like two strangers (median
0.52 against 0.50). Finding them takes an encoding in which the operator
sees that two records' names agree; a match key of the names does that, but
within one file it also shows who shares a name with whom, which the
equality attacker reads.

The design measured here: each agency writes a key of both names (exact,
either order) only for records whose names no other record of its own file
holds, and a random stand-in for every other record (a shared name, or a
name missing), so that within a file every key is distinct and the key tells
the single-file attacker nothing. The operator uses it only between two
agencies that cannot share the shipped key (one lacks a field of it), adds
each pair sharing it as a candidate at the threshold, and does so only where
the data says names alone are reliable: ``reliability`` estimates the share
of true pairs among those not linked otherwise from how often the shipped
linkage confirms names-key pairs between agencies that can compare more.

- quality: simulated from the plaintext on the shipped default's own
  candidates and clustering (the key's pairs are known from the names);
- privacy: the equality attacker of ``linkage privacy-check`` over several
  secrets and pairings, with the key written everywhere and as designed.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import quality as q
import quality_reference as ref
from households_data import households

from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.vault import Vault
from linkage.evaluation import evaluate
from linkage.formats.schema import schema_from_dict
from linkage.matching.candidates import CandidatePairs
from linkage.matching.match_keys import MATCH_KEY_BYTES, merged
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.privacy.check import privacy_check

KEY_FIELDS = {"given_name", "surname", "date_of_birth"}  # The shipped key's.
NAMES_KEY = [["given_name", "surname"]]


def names_of(frame: pd.DataFrame) -> list[tuple[str, str] | None]:
    """Each record's names, normalised and in either order; None if one is
    missing."""
    given = frame["given_name"].fillna("").astype(str).str.strip().str.lower()
    surname = frame["surname"].fillna("").astype(str).str.strip().str.lower()
    return [
        (min(g, s), max(g, s)) if g and s else None
        for g, s in zip(given, surname, strict=True)
    ]


def unique_in_file(names: list[tuple[str, str] | None]) -> npt.NDArray[np.bool_]:
    """Whether a record's names are held by no other record of its file."""
    counts = pd.Series([n for n in names if n is not None]).value_counts()
    return np.array([n is not None and counts[n] == 1 for n in names])


def simulate(data: ref.ReferenceData, label: str) -> None:
    """The shipped default's F1 with and without the names key's pairs."""
    work = Path(tempfile.mkdtemp())
    paths, truth = q.encode_sources(data, q.ENGINES[1].load(data), q.SECRET, work)
    parties = load_parties(paths)
    matcher = Matcher(parties, MatchSettings(dedup=True))
    result = matcher.run()
    threshold = result.choice.threshold
    assert result.candidates is not None
    labels = matcher.solve(result.candidates, threshold)
    names: list[tuple[str, str] | None] = []
    unique: list[npt.NDArray[np.bool_]] = []
    records = data.records.set_index(["source", "record_id"])
    for party in parties.parties:
        vault = Vault.open(work / f"{party.name}.vault", q.VAULT_KEY)
        row = {entry.pseudonym: entry.record_id for entry in vault}
        mine = records.loc[[(party.name, row[p]) for p in party.pseudonyms]]
        names.extend(names_of(mine))
        unique.append(unique_in_file(names_of(mine)))
    keyed = pd.DataFrame({"names": names, "party": parties.party_of})
    keyed = keyed[np.concatenate(unique)]
    absent = [set(p.encodings.header.absent_fields or ()) for p in parties.parties]
    left, right, comparable = [], [], []
    for _, sharing in keyed.groupby("names"):
        for a, b in itertools.combinations(sharing.index, 2):
            pa, pb = parties.party_of[a], parties.party_of[b]
            left.append(a)
            right.append(b)
            comparable.append(not (absent[pa] | absent[pb]) & KEY_FIELDS)
    left_, right_ = np.array(left, np.int64), np.array(right, np.int64)
    shared = np.array(comparable, bool)
    linked = (labels[left_] >= 0) & (labels[left_] == labels[right_])
    confirmed, linked_alone = linked[shared].mean(), linked[~shared].mean()
    reliability = (confirmed - linked_alone) / (1 - linked_alone)
    base = evaluate(result.matches, truth).all_pairs
    added = CandidatePairs(
        left_[~shared], right_[~shared], np.full(int((~shared).sum()), threshold)
    )
    candidates = merged(result.candidates, added, parties.total)
    frame = matcher._rows(matcher.solve(candidates, threshold), candidates).frame()
    after = evaluate(frame, truth).all_pairs
    print(
        f"{label}: names-key pairs {len(shared)} ({int(shared.sum())} between "
        f"agencies sharing the shipped key, {confirmed:.3f} linked; "
        f"{int((~shared).sum())} between agencies that cannot, {linked_alone:.3f} "
        f"linked); reliability {reliability:.3f}; F1 {base.f1:.4f} "
        f"(P {base.precision:.4f}, R {base.recall:.4f}) -> {after.f1:.4f} "
        f"(P {after.precision:.4f}, R {after.recall:.4f})",
        flush=True,
    )


@contextlib.contextmanager
def written_as_designed(column: int) -> Iterator[None]:
    """Encoders write key ``column`` only where the names are unique in the
    file encoded, and random bytes elsewhere: the rule an agency's encoder
    would apply to its whole file (the attacker applies it to her list)."""
    encode = ClkEncoder.encode

    def designed(self: ClkEncoder, frame: pd.DataFrame, *args, **kwargs):  # type: ignore[no-untyped-def]
        encoded = encode(self, frame, *args, **kwargs)
        place = slice(column * MATCH_KEY_BYTES, (column + 1) * MATCH_KEY_BYTES)
        stand_in = ~unique_in_file(names_of(frame))
        random = os.urandom(MATCH_KEY_BYTES * int(stand_in.sum()))
        encoded.match_keys[stand_in, place] = np.frombuffer(random, np.uint8).reshape(
            -1, MATCH_KEY_BYTES
        )
        return encoded

    ClkEncoder.encode = designed  # type: ignore[method-assign]
    try:
        yield
    finally:
        ClkEncoder.encode = encode  # type: ignore[method-assign]


def equality_shares(victim: pd.DataFrame, keys: str, draws: int) -> list[float]:
    """The equality attacker's share over ``draws`` secrets and pairings,
    full overlap, with the shipped key (``keys`` "shipped"), the names key
    too ("everywhere") or the names key as designed ("designed")."""
    document = json.loads((q.SCHEMAS / "demo.json").read_text())
    if keys != "shipped":
        document["linkage"]["match_keys"] = (
            document["linkage"]["match_keys"] + NAMES_KEY
        )
    schema = schema_from_dict(document)
    features = [f.identifier for f in schema.encoded_features]
    column = len(document["linkage"]["match_keys"]) - 1
    shares = []
    with (
        written_as_designed(column) if keys == "designed" else contextlib.nullcontext()
    ):
        for draw in range(draws):
            sent = ClkEncoder(schema, f"names key draw {draw}".encode()).encode(
                victim[features]
            )
            report = privacy_check(
                sent.clks, victim[features], schema, truth=np.arange(len(victim)),
                attacks=["equality"], seed=draw, match_keys=sent.match_keys,
            )  # fmt: skip
            shares.append(report.results[0].share)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--victims", type=int, default=1000)
    parser.add_argument("--large", action="store_true", help="also 20,000 people")
    options = parser.parse_args()
    simulate(ref.demo(5000, 7), "demo, 5,000 people, seed 7")
    simulate(ref.demo(5000, 3), "demo, 5,000 people, seed 3")
    if options.large:
        simulate(ref.demo(20000, 7), "demo, 20,000 people, seed 7")
    simulate(households(5000, 11), "households, 5,000 people, seed 11")
    records = ref.demo(5000, 7).records
    for agency in ("health", "tax"):
        victim = records[records["source"] == agency].head(options.victims)
        victim = victim.reset_index(drop=True)
        for keys in ("shipped", "everywhere", "designed"):
            shares = 100 * np.array(equality_shares(victim, keys, options.draws))
            print(
                f"equality attacker, demo {agency} records, names key {keys}: "
                f"mean {shares.mean():.2f} % ({shares.min():.1f}-{shares.max():.1f}) "
                f"over {options.draws} draws",
                flush=True,
            )


if __name__ == "__main__":
    main()
