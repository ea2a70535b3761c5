"""The privacy self-check: run the attacks, score them, and give a verdict.

An agency or operator can ask: if these encodings leaked, how many people
could an attacker without the secret re-identify? :func:`privacy_check` runs
five attackers against the encodings and a plaintext reference population,
and a sixth that tries to guess the secret itself:

``frequency``
    Aligns frequent bit patterns with frequent q-grams of the population
    (pattern mining, Christen et al. 2018). Models anyone holding the
    encodings and a population list the records were drawn from.
``equality``
    Matches the pattern of identical filters (who shares a name, a birth date,
    an address) and match keys with the same pattern in the population
    encoded under the attacker's own secret, by colour refinement. Models
    anyone holding per-field or field-group encodings, or match keys; one CLK
    per record shows almost none.
``graph``
    Matches the similarity graph of the encodings with that of the population
    encoded under the attacker's own secrets: the published attack (Vidanage
    et al. 2020; Schäfer et al. 2024), refined on anchors. Models an attacker
    whose list holds many of the encoded people.
``known-plaintext``
    Learns each token's bits from a few known (encoding, person) pairs.
    Models someone who sees the encodings and can learn some identities, such
    as the operator after reveals. No bit-level hardening stops it.
``linear``
    Uses that XOR diffusion is linear: the distance between two diffused
    encodings follows from the distance of their Bloom filters, which the
    attacker predicts from the plaintext of the known pairs. Same attacker as
    ``known-plaintext``.
``secret-guess``
    Tries a dictionary of likely secrets against the key-check value in the
    encodings file's header (:mod:`linkage.privacy.guessing`). Models anyone
    holding one file, the operator included. A found secret exposes every
    record (share 1.0); a keygen key is never found.

With the truth (which population row each encoding is), each attack's share
of correct re-identifications is measured and judged against a threshold.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from linkage.errors import InputError
from linkage.formats.schema import LinkageSchema
from linkage.privacy.assign import Assignment, correct_share
from linkage.privacy.bits import Progress
from linkage.privacy.equality import equality_attack
from linkage.privacy.frequency import frequency_attack
from linkage.privacy.graph import graph_attack
from linkage.privacy.guessing import guess_secret
from linkage.privacy.known_plaintext import known_plaintext_attack
from linkage.privacy.linear import linear_attack

AttackName = Literal[
    "frequency", "equality", "graph", "known-plaintext", "linear", "secret-guess"
]
Verdict = Literal["exposed", "resistant", "not scored", "not run"]

#: Every attack, in the order they run.
ATTACKS: tuple[AttackName, ...] = (
    "frequency",
    "equality",
    "graph",
    "known-plaintext",
    "linear",
    "secret-guess",
)

# Attacks that start from known (encoding, population row) pairs.
_FROM_KNOWN_PAIRS = {
    "known-plaintext": known_plaintext_attack,
    "linear": linear_attack,
}

#: Above this share of correct re-identifications an encoding is "exposed".
DEFAULT_THRESHOLD = 0.01

#: The attacks score every (encoding, record) pair in memory (8 bytes each).
MAX_PAIRS = 64_000_000

_ADVICE: dict[AttackName, str] = {
    "frequency": (
        'Frequency / pattern mining: add hardening in the schema\'s "linkage" '
        'block: "balance": true, a "salt" of the name features with the '
        'year of birth ({"with": "date_of_birth", "characters": [0, 4]}), '
        'or "blip"; and encode more fields per CLK, which hides each '
        "q-gram's pattern among more bits."
    ),
    "equality": (
        "Equality structure: whoever holds the encodings sees which records "
        "share an identical filter, and the pattern of shared names, birth "
        "dates and addresses singles people out. Use one CLK per record (the "
        "shipped default), or fewer, larger field groups; per-field "
        "encodings expose almost everyone."
    ),
    "graph": (
        'Graph matching: use "diffusion" ({"taps": 4, "length": <l>} or more; '
        "the published attack breaks 3 taps on large lists of sparse "
        "filters). Salting every feature with the year of birth also breaks "
        "the graph, at a cost in recall. An attacker whose list holds few of "
        "the encoded people does much worse, so keep the encodings from "
        "parties who hold population registers."
    ),
    "linear": (
        "Linear (diffusion): the distances between diffused encodings still "
        "follow the distances of the records when few taps are used; use 4 or "
        'more taps ({"taps": 4, "length": <l>}), and keep the encodings away '
        "from anyone who can also learn identities (delete them once the run "
        "completes, the default)."
    ),
    "known-plaintext": (
        "Known plaintext: balancing, BLIP and salting are learnt from a few "
        "dozen known pairs; diffusion (the shipped default) took this "
        "decoder from 100 % to under 1 % in our measurements (the linear "
        "attack is the one aware of diffusion). Above all keep the "
        "encodings away from anyone who can also learn identities: let the "
        "service delete encodings once the run completes (the default; do not "
        "set retain_encodings), and limit who may request reveals."
    ),
    "secret-guess": (
        "Secret guessing: the linkage secret was found from the key-check "
        "value in the file's header, so every encoding can be recomputed. "
        "Make a new secret with `linkage keygen --out FILE`, share it among "
        "the agencies over a secure channel, and encode every file again; "
        "never use a password as the linkage secret."
    ),
}


@dataclass(frozen=True)
class AttackResult:
    """What one attack achieved.

    Attributes:
        attack: which attack.
        assigned: encodings it assigned to a population record.
        correct: of those, how many were right (None without the truth).
        scored: encodings with a true counterpart in the population, which
            the share is taken over (None without the truth).
        share: ``correct / scored``, or None.
        verdict: "exposed" above the threshold, "resistant" at or below it,
            "not scored" without the truth, "not run" if it could not run.
        seconds: how long it took.
        note: anything the reader needs to interpret the figures.
    """

    attack: AttackName
    assigned: int
    correct: int | None
    scored: int | None
    share: float | None
    verdict: Verdict
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class PrivacyReport:
    """The result of a privacy self-check; serialises to JSON."""

    encodings: int
    population: int
    known_pairs: int
    threshold: float
    results: list[AttackResult]
    advice: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    @property
    def exposed(self) -> bool:
        """Whether any attack re-identified more than the threshold."""
        return any(result.verdict == "exposed" for result in self.results)


def privacy_check(
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    *,
    truth: npt.NDArray[np.int64] | None = None,
    attacks: Sequence[AttackName] = ATTACKS,
    known: int = 50,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
    key_check: str | None = None,
    dictionary: Iterable[str] | None = None,
    match_keys: npt.NDArray[np.uint8] | None = None,
    absent: Sequence[str] = (),
) -> PrivacyReport:
    """Run the attacks on ``clks`` and judge how exposed they are.

    Args:
        clks: the encodings, one packed row each.
        population: the attacker's plaintext list, a column per encoded feature.
        schema: the schema the encodings were made with.
        truth: each encoding's population row, or -1 where the population
            does not hold that person; None if unknown (then nothing is
            scored and the known-plaintext attack cannot run).
        attacks: which attacks to run.
        known: known pairs the known-plaintext attacker gets, drawn from the
            truth with ``seed``.
        seed: seeds the draw of known pairs, and the order the population
            is taken in (never the encodings' own: see
            ``_in_an_order_of_its_own``).
        threshold: the share above which the verdict is "exposed".
        progress: called as the attacks advance.
        key_check: the key-check value of the encodings file's header, which
            the secret-guess attack tests guesses against (None: not run).
        dictionary: the secret-guess attack's candidates (default: its
            built-in list of common passwords and patterns).
        match_keys: the encodings' match keys, a row each (None if the file
            has none); the equality attack reads them too.
        absent: the fields the encodings' agency does not hold (its header's
            ``absent_fields``): the attackers that encode their own list
            encode it as that agency sent its records.

    Raises:
        InputError: the population lacks a column the schema encodes, or the
            inputs are too large to attack in memory.
        ValueError: ``truth`` does not have one entry per encoding, or names
            a row outside the population.
    """
    truth = _checked_truth(truth, len(clks), len(population))
    if len(clks) * len(population) > MAX_PAIRS:
        raise InputError(
            f"{len(clks):,} encodings against {len(population):,} records is "
            f"more than the {MAX_PAIRS:,} pairs the attacks hold in memory",
            hint="Check a random sample: a few thousand encodings and a "
            "population list of similar size show the risk as well.",
        )
    population, truth = _in_an_order_of_its_own(population, truth, seed)
    results: list[AttackResult] = []
    pairs = _known_pairs(truth, known, seed)
    for name in attacks:
        if name == "secret-guess":
            results.append(
                _secret_guess(len(clks), schema, key_check, dictionary, threshold)
            )
            continue
        results.append(
            _run(
                name,
                _Victims(clks, match_keys, tuple(absent)),
                population,
                schema,
                truth,
                pairs,
                threshold,
                seed,
                progress,
            )
        )
    advice = [_ADVICE[r.attack] for r in results if r.verdict == "exposed"]
    return PrivacyReport(
        encodings=len(clks),
        population=len(population),
        known_pairs=0 if pairs is None else len(pairs),
        threshold=threshold,
        results=results,
        advice=advice,
    )


@dataclass(frozen=True)
class _Victims:
    """What the attacker holds: the encodings, their match keys and the
    fields their header says the agency does not hold."""

    clks: npt.NDArray[np.uint8]
    match_keys: npt.NDArray[np.uint8] | None
    absent: tuple[str, ...] = ()


def _run(
    name: AttackName,
    victims: _Victims,
    population: pd.DataFrame,
    schema: LinkageSchema,
    truth: npt.NDArray[np.int64] | None,
    pairs: npt.NDArray[np.int64] | None,
    threshold: float,
    seed: int,
    progress: Progress | None,
) -> AttackResult:
    started = time.perf_counter()
    clks = victims.clks
    if name in _FROM_KNOWN_PAIRS:
        if pairs is None or not len(pairs):
            return AttackResult(
                name, 0, None, None, None, "not run", 0.0,
                "needs known pairs (encodings whose person is known); give the "
                "truth, e.g. --known-pairs FILE",
            )  # fmt: skip
        decoder = _FROM_KNOWN_PAIRS[name]
        assignment = decoder(clks, population, schema, pairs, progress=progress)
        # The known pairs are the attacker's input, not something it found.
        assert truth is not None
        rest = truth.copy()
        rest[pairs[:, 0]] = -1
        note = f"{len(pairs)} known pairs given; the share counts the others"
        result = _scored(name, assignment, rest, threshold, started, note)
        if name == "linear" and schema.extension.either_order is not None:
            result = _better_of(
                result, clks, population, schema, pairs, rest, threshold
            )
        return result
    if name == "graph":
        assignment = _graph_attack(victims, population, schema, seed, progress)
    elif name == "equality":
        secret = hashlib.sha256(f"linkage equality attacker {seed}".encode()).digest()
        assignment = equality_attack(
            clks,
            population,
            schema,
            secret=secret,
            seed=seed,
            progress=progress,
            match_keys=victims.match_keys,
            absent=victims.absent,
        )
    else:
        assignment = frequency_attack(clks, population, schema, progress=progress)
    if truth is None:
        return AttackResult(
            name, assignment.assigned, None, None, None, "not scored",
            time.perf_counter() - started,
            "without the truth, correct re-identifications cannot be counted",
        )  # fmt: skip
    return _scored(name, assignment, truth, threshold, started, "")


def _secret_guess(
    encodings: int,
    schema: LinkageSchema,
    key_check: str | None,
    dictionary: Iterable[str] | None,
    threshold: float,
) -> AttackResult:
    """Guess the secret; found, it exposes every encoding (no truth needed)."""
    if key_check is None:
        return AttackResult(
            "secret-guess", 0, None, None, None, "not run", 0.0,
            "needs the key-check value of an encodings file's header "
            "(clkhash JSON carries none)",
        )  # fmt: skip
    guess = guess_secret(key_check, schema, dictionary)
    exposed = encodings if guess.found else 0
    share = 1.0 if guess.found else 0.0
    return AttackResult(
        attack="secret-guess",
        assigned=exposed,
        correct=exposed,
        scored=encodings,
        share=share,
        verdict="exposed" if share > threshold else "resistant",
        seconds=guess.seconds,
        note=guess.describe(),
    )


def _graph_attack(
    victims: _Victims,
    population: pd.DataFrame,
    schema: LinkageSchema,
    seed: int,
    progress: Progress | None,
) -> Assignment:
    """The graph attack with the attacker's secrets derived from ``seed``, so
    that a check can be repeated."""
    label = f"linkage privacy-check attacker {seed}".encode()
    secret = hashlib.sha256(label).digest()
    return graph_attack(
        victims.clks,
        population,
        schema,
        secret=secret,
        progress=progress,
        absent=victims.absent,
    )


def _better_of(
    merged: AttackResult,
    clks: npt.NDArray[np.uint8],
    population: pd.DataFrame,
    schema: LinkageSchema,
    pairs: npt.NDArray[np.int64],
    rest: npt.NDArray[np.int64],
    threshold: float,
) -> AttackResult:
    """The linear attacker's better share of two models of names hashed
    under one key: their tokens merged (as the encoder sets them), or each
    field's apart. Neither wins on every list; the report takes the worse
    case for the agencies."""
    started = time.perf_counter() - merged.seconds
    apart = linear_attack(clks, population, schema, pairs, names_apart=True)
    note = merged.note + "; the better of the names' tokens merged and apart"
    other = _scored("linear", apart, rest, threshold, started, note)
    best = max((merged, other), key=lambda result: result.share or 0.0)
    return replace(best, note=note, seconds=other.seconds)


def _scored(
    name: AttackName,
    assignment: Assignment,
    truth: npt.NDArray[np.int64],
    threshold: float,
    started: float,
    note: str,
) -> AttackResult:
    correct, scored = correct_share(assignment, truth)
    share = correct / scored if scored else 0.0
    verdict: Verdict = "exposed" if share > threshold else "resistant"
    if not scored:
        note = (note + "; " if note else "") + "no encoding has a counterpart"
    return AttackResult(
        attack=name,
        assigned=assignment.assigned,
        correct=correct,
        scored=scored,
        share=share,
        verdict=verdict,
        seconds=time.perf_counter() - started,
        note=note,
    )


def _checked_truth(
    truth: npt.NDArray[np.int64] | None, encodings: int, records: int
) -> npt.NDArray[np.int64] | None:
    if truth is None:
        return None
    truth = np.asarray(truth, dtype=np.int64)
    if truth.shape != (encodings,):
        raise ValueError(
            f"truth must have one entry per encoding ({encodings}), "
            f"got shape {truth.shape}"
        )
    if (truth >= records).any() or (truth < -1).any():
        raise ValueError(f"truth must hold -1 or population rows 0 to {records - 1}")
    return truth


def _in_an_order_of_its_own(
    population: pd.DataFrame, truth: npt.NDArray[np.int64] | None, seed: int
) -> tuple[pd.DataFrame, npt.NDArray[np.int64] | None]:
    """The population shuffled (``seed``), and the truth pointing into it.

    An attacker's list is not in the order of the encodings. A list that is
    (an agency checking its own export against that export) would let ties
    score: where an attack tells records too little apart, the one-to-one
    assignment takes look-alikes in their order, and the first of each kind
    lands on its own record by position, not by anything the attack found.
    """
    order = np.random.default_rng(seed).permutation(len(population))
    shuffled = population.iloc[order].reset_index(drop=True)
    if truth is None or not len(order):
        return shuffled, truth
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order), dtype=np.int64)
    return shuffled, np.where(truth >= 0, position[np.maximum(truth, 0)], -1)


def _known_pairs(
    truth: npt.NDArray[np.int64] | None, known: int, seed: int
) -> npt.NDArray[np.int64] | None:
    """``known`` (encoding, population row) pairs drawn from the truth."""
    if truth is None:
        return None
    candidates = np.flatnonzero(truth >= 0)
    count = min(known, len(candidates))
    chosen = np.random.default_rng(seed).choice(candidates, count, replace=False)
    chosen = np.sort(chosen)
    return np.column_stack([chosen, truth[chosen]]).astype(np.int64)
