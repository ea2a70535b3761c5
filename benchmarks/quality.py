"""Linkage quality side by side: one CLK, per-field probabilistic, plaintext.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/quality.py [--demo-size 5000] [--demo-seed 7]
        [--households-seed 11] [--no-splink] [--json OUT]
        [--final-check [--final-check-size 5000] [--final-check-seed 23]]

On FEBRL4 (A vs B), FEBRL3 (dedup), the demo's synthetic four-agency
population (link across agencies and dedup within them; nicknames, married
names, moves, missing fields, in-agency duplicates) and the households
population of a second generator (``linkage.demo.households``: households
and twins, transliterated names, five agencies holding different fields,
their own date formats; never tuned on), the same records are

* encoded with the plain schema (one CLK per record), again with the
  shipped default's ``linkage`` block (``demo.json``: diffusion as long as
  the CLK, plus views, CLKs without the address and without the birth date,
  used where two agencies do not hold the same fields), and again with that
  block without its views, and linked with ``--method clk`` at its automatic
  threshold;
* encoded per field (the ``*-fields.json`` schema: the same features, one
  filter each) and linked with ``--method probabilistic``;
* encoded in hardened field groups (the ``*-groups.json`` schema: one filter
  per group such as name, birth, address, each diffused with 5 taps) and
  linked with ``--method probabilistic``;
* linked in plaintext by the references of ``quality_reference.py``:
  recordlinkage's ECM, our Fellegi-Sunter on plaintext bigram Dice, and Splink
  (if ``/tmp/splinkvenv`` exists; see that file).

With ``--final-check`` the registers population of a third generator
(``linkage.demo.registers``) is added after the others: a population no rule
has been tuned on, for the final check of a change only, never to tune on
(``benchmarks/README.md``). Without it nothing about the run changes.

No threshold is chosen with the truth. Precision, recall and F1 count record
pairs: for our engines, every pair of records in one predicted group.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import quality_reference as ref
from households_data import households
from registers_data import SEED as registers_seed
from registers_data import SIZE as registers_size
from registers_data import registers

from linkage.encoding.default_hardening import fitted_block
from linkage.encoding.mapping import identity_mapping
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.repeats import with_repeats_joined
from linkage.encoding.vault import Vault
from linkage.evaluation import PairScores, evaluate
from linkage.formats.schema import Feature, LinkageSchema, schema_from_dict
from linkage.matching.matcher import Matcher, MatchSettings, Method
from linkage.matching.parties import load_parties

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "configs" / "schemas"
SECRET = b"quality benchmark secret 2026"  # The benchmark plays every agency.
VAULT_KEY = bytes(32)


@dataclass(frozen=True)
class Engine:
    """One of our configurations: a schema per data set and a method."""

    label: str
    method: Method
    febrl_schema: str
    demo_schema: str
    hardening: Literal["as is", "none", "shipped", "shipped, no views"] = "as is"

    def schema_for(self, data: ref.ReferenceData) -> Path:
        """The schema file ``data`` is encoded with."""
        febrl = data.name.startswith("FEBRL")
        return SCHEMAS / (self.febrl_schema if febrl else self.demo_schema)

    def load(self, data: ref.ReferenceData) -> LinkageSchema:
        """The schema, its ``linkage`` block dropped or replaced as asked."""
        name = self.schema_for(data).name
        if self.hardening.startswith("shipped"):
            views = self.hardening == "shipped"
            return shipped_schema(name, views=views, identifiers=data.identifiers)
        if self.hardening == "none":
            return schema_with(name, None)
        return schema_from_dict(json.loads((SCHEMAS / name).read_text()))


def shipped_hardening(
    length: int,
    features: Sequence[Feature],
    shipped: str = "demo.json",
    views: bool = True,
    identifiers: Sequence[str] = (),
) -> dict[str, Any]:
    """The ``linkage`` block of a shipped schema (the default: ``demo.json``)
    fitted to a CLK of ``length`` bits of ``features``, with match keys of
    ``identifiers`` (:func:`~linkage.encoding.default_hardening.fitted_block`)."""
    block: dict[str, Any] = json.loads((SCHEMAS / shipped).read_text())["linkage"]
    return fitted_block(block, length, features, views=views, identifiers=identifiers)


def _clkhash_part(base: str, fields: Sequence[str]) -> dict[str, Any]:
    """The base schema's document without its ``linkage`` block, keeping only
    ``fields`` (all when empty)."""
    document: dict[str, Any] = json.loads((SCHEMAS / base).read_text())
    document.pop("linkage", None)  # The shipped demo schema has the default's.
    if fields:
        document["features"] = [
            f for f in document["features"] if f["identifier"] in fields
        ]
    return document


def schema_with(
    base: str, block: dict[str, Any] | None, fields: Sequence[str] = ()
) -> LinkageSchema:
    """The base schema's clkhash part (its ``fields`` only, if given), with
    ``block`` as its ``linkage`` block (none if None)."""
    document = _clkhash_part(base, fields)
    if block is not None:
        document["linkage"] = copy.deepcopy(block)
    return schema_from_dict(document)


def shipped_schema(
    base: str,
    fields: Sequence[str] = (),
    taps: int | None = None,
    shipped: str = "demo.json",
    views: bool = True,
    identifiers: Sequence[str] = (),
) -> LinkageSchema:
    """The base schema's clkhash part (its ``fields`` only, if given) with
    the hardening (and fitting views, unless not ``views``) of a shipped
    schema (the default's, ``demo.json``), diffusing to the schema's own
    length (with ``taps`` instead of its own, if given), with match keys of
    ``identifiers`` as ``linkage schema harden --identifier`` adds them."""
    document = _clkhash_part(base, fields)
    block = shipped_hardening(
        document["clkConfig"]["l"],
        schema_from_dict(document).encoded_features,
        shipped,
        views,
        identifiers,
    )
    if taps is not None:
        block["hardening"]["diffusion"]["taps"] = taps
    document["linkage"] = block
    return schema_from_dict(document)


ENGINES = (
    Engine("linkage one CLK, plain", "clk", "febrl-linkage.json", "demo.json", "none"),
    Engine(
        "linkage shipped default (CLK + views)",
        "clk",
        "febrl-linkage.json",
        "demo.json",
        "shipped",
    ),
    Engine(
        "linkage shipped default without views",
        "clk",
        "febrl-linkage.json",
        "demo.json",
        "shipped, no views",
    ),
    Engine(
        "linkage per-field FS", "probabilistic", "febrl-fields.json", "demo-fields.json"
    ),
    Engine(
        "linkage hardened groups FS",
        "probabilistic",
        "febrl-groups.json",
        "demo-groups.json",
    ),
)


def encode_sources(
    data: ref.ReferenceData, schema: LinkageSchema, secret: bytes, work: Path
) -> tuple[list[Path], pd.DataFrame]:
    """Each source's records encoded as its agency would; and the truth.

    A field no record of a source holds is left out of its export, as an
    agency's export has no column for it, and its encodings header declares
    it not held.
    """
    paths, truth = [], []
    for source, records in data.records.groupby("source", sort=True):
        name = str(source)
        export = work / f"{name}.csv"
        fields = [f.identifier for f in schema.encoded_features]
        held = [
            f for f in fields if f in records and records[f].fillna("").ne("").any()
        ]
        records.reindex(columns=["record_id", *held]).to_csv(export, index=False)
        out, vault = work / f"{name}.lnk", work / f"{name}.vault"
        encode_csv(
            export, schema, secret, out, vault=VaultTarget(vault, VAULT_KEY),
            id_column="record_id", party=name,
            mapping=None if held == fields else identity_mapping(held),
        )  # fmt: skip
        paths.append(out)
        entity = records.set_index("record_id")["entity"]
        truth.extend(
            (name, entry.pseudonym, entity[entry.record_id])
            for entry in Vault.open(vault, VAULT_KEY)
        )
    return paths, pd.DataFrame(truth, columns=["party", "id", "entity"])


def as_resolved(matches: pd.DataFrame, paths: Sequence[Path]) -> pd.DataFrame:
    """``matches`` as the agencies resolve them: each joins its records of
    one person, whose first record alone sent the match keys, to one group
    (the vault next to each encodings file knows them;
    :mod:`linkage.encoding.repeats`)."""
    repeats = {
        path.stem: Vault.open(path.with_suffix(".vault"), VAULT_KEY).repeats
        for path in paths
    }
    return with_repeats_joined(matches, repeats)


def run_engine(
    data: ref.ReferenceData, engine: Engine, work: Path
) -> list[ref.Outcome]:
    """Encode, link with one of our configurations, and score against the
    truth: all pairs; for the shipped default linking and deduplicating
    several agencies, also the pairs within one agency (issue 18's goal for
    several records per person at one agency)."""
    schema_path = engine.schema_for(data)
    paths, truth = encode_sources(data, engine.load(data), SECRET, work)
    started = time.perf_counter()
    dedup = data.link_type != "link_only"
    settings = MatchSettings(dedup=dedup, method=engine.method)
    result = Matcher(load_parties(paths), settings).run()
    seconds = time.perf_counter() - started
    scored = evaluate(as_resolved(result.matches, paths), truth)
    note = f"{schema_path.name}, threshold {result.choice.threshold:.3f}"
    rows = [_outcome(data.name, engine.label, scored.all_pairs, seconds, note)]
    several = data.records["source"].nunique() > 1
    if engine.hardening == "shipped" and dedup and several:
        label = f"{engine.label}, pairs within one agency"
        rows.append(_outcome(data.name, label, scored.within_party, seconds, note))
    return rows


def _outcome(
    data: str, method: str, pairs: PairScores, seconds: float, note: str
) -> ref.Outcome:
    return ref.Outcome(
        data=data,
        method=method,
        precision=pairs.precision or 0.0,
        recall=pairs.recall or 0.0,
        f1=pairs.f1 or 0.0,
        predicted=pairs.predicted,
        true=pairs.true,
        seconds=seconds,
        note=note,
    )


def add_final_check_options(parser: argparse.ArgumentParser) -> None:
    """``--final-check`` and its size and seed: the held-out population."""
    parser.add_argument(
        "--final-check",
        action="store_true",
        help="also run the held-out registers population: for the final check "
        "of a change only, never to tune on",
    )
    parser.add_argument("--final-check-size", type=int, default=registers_size)
    parser.add_argument("--final-check-seed", type=int, default=registers_seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-size", type=int, default=5000)
    parser.add_argument("--demo-seed", type=int, default=7)
    parser.add_argument("--households-seed", type=int, default=11)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write rows")
    add_final_check_options(parser)
    options = parser.parse_args()
    size, seed = options.demo_size, options.demo_seed
    loaders = [
        ref.febrl4,
        ref.febrl3,
        lambda: ref.demo(size, seed),
        lambda: households(size, options.households_seed),
    ]
    if options.final_check:
        # Last, so that every other row is printed before it is looked at.
        loaders.append(
            lambda: registers(options.final_check_size, options.final_check_seed)
        )
    outcomes: list[ref.Outcome] = []
    for load in loaders:
        data = load()
        for engine in ENGINES:
            with tempfile.TemporaryDirectory() as work:
                outcomes.extend(run_engine(data, engine, Path(work)))
        plaintext = ref.reference(
            [lambda data=data: data], splink=not options.no_splink
        )
        outcomes.extend(
            row for row in plaintext if not row.method.startswith("all candidates")
        )
        print(f"{data.name} done", flush=True)
    print(ref.table(outcomes))
    if options.json is not None:
        options.json.write_text(json.dumps([asdict(row) for row in outcomes], indent=1))


if __name__ == "__main__":
    main()
