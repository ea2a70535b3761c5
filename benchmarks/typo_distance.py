"""How close a one-typo record stays to its original under each hardening.

Usage (from the repository root, after `make install`)::

    .venv/bin/python benchmarks/typo_distance.py [--people 2000]

For people of the demo generator (given name, surname, date of birth, sex,
postcode, street; the demo schema, 1,024 bits), each record is copied with
one substituted letter in its surname (or in its given name, a birth date
with day and month swapped, another address, or another address and a
surname typo), and both are encoded under the same secret
with the plain schema and with 3, 4 and 5 diffusion taps (output as long as
the CLK). Reported: the Dice of the record with its copy (median and 5th
percentile), of random pairs of different people (median and 99.9th
percentile), and the *margin*: the copy's 5th percentile less the random
pairs' 99.9th. A margin below 0 means the typo pushes one record in twenty
among the top random pairs, where no threshold can tell them apart.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
import pandas as pd
from quality import schema_with, shipped_schema
from saul import SaulEncoder

from linkage.demo.generator import generate_population
from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema

FIELDS = ["given_name", "surname", "date_of_birth", "sex", "postcode", "street"]
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def schema(taps: int) -> LinkageSchema:
    """The demo schema, plain (``taps`` 0) or its CLK diffused with ``taps``
    (without the shipped views, so that every row is one vector of 1,024 bits)."""
    if not taps:
        return schema_with("demo.json", None)
    return shipped_schema("demo.json", taps=taps, views=False)


def people(size: int) -> pd.DataFrame:
    frame = generate_population(size, np.random.default_rng(11))
    frame = frame.rename(columns={"street_address": "street"})
    for column in ("given_name", "surname", "street"):
        frame[column] = frame[column].str.lower()
    return frame[FIELDS].reset_index(drop=True)


def substituted(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Each value with one letter replaced by another."""
    out = []
    for value in values:
        position = int(rng.integers(0, len(value)))
        letter = rng.choice(_LETTERS[_LETTERS != value[position]])
        out.append(value[:position] + letter + value[position + 1 :])
    return pd.Series(out, index=values.index)


def day_month_swapped(values: pd.Series) -> pd.Series:
    parts = values.str.split("-", expand=True)
    swapped = parts[0] + "-" + parts[2] + "-" + parts[1]
    valid = parts[2].astype(int) <= 12
    return swapped.where(valid, values)


def dice(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    a, b = np.unpackbits(left, axis=1), np.unpackbits(right, axis=1)
    shared = (a & b).sum(axis=1)
    return 2 * shared / np.maximum(a.sum(axis=1) + b.sum(axis=1), 1)


Encode = Callable[[pd.DataFrame], np.ndarray]


def hardenings() -> dict[str, Callable[[bytes], Encode]]:
    """Each hardening measured: how to make its encoder under a secret."""

    def diffused(taps: int) -> Callable[[bytes], Encode]:
        return lambda secret: (
            lambda frame: ClkEncoder(schema(taps), secret).encode(frame).clks
        )

    def saul(votes: int) -> Callable[[bytes], Encode]:
        return lambda secret: (
            SaulEncoder(schema(0), secret, length=1024, votes=votes).encode
        )

    made = {"plain": diffused(0)}
    made.update({f"{taps} taps": diffused(taps) for taps in (3, 4, 5)})
    made.update({f"SAUL, {votes} votes": saul(votes) for votes in (2, 3, 4)})
    return made


def copies(original: pd.DataFrame, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """The copies of each person with one kind of error."""
    errors = {
        "surname, one letter": original.assign(
            surname=substituted(original["surname"], rng)
        ),
        "given name, one letter": original.assign(
            given_name=substituted(original["given_name"], rng)
        ),
        "birth date, day and month swapped": original.assign(
            date_of_birth=day_month_swapped(original["date_of_birth"])
        ),
    }
    elsewhere = original.iloc[rng.permutation(len(original))].reset_index(drop=True)
    moved = original.assign(postcode=elsewhere["postcode"], street=elsewhere["street"])
    errors["moved (another postcode and street)"] = moved
    errors["moved, and one letter of the surname"] = moved.assign(
        surname=errors["surname, one letter"]["surname"]
    )
    return errors


def others(original: pd.DataFrame, rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Other people who share part of each person's record."""
    elsewhere = original.iloc[rng.permutation(len(original))].reset_index(drop=True)
    same = ["given_name", "surname", "sex"]
    family = ["surname", "postcode", "street"]
    return {
        "not the person: namesake (names and sex)": elsewhere.assign(
            **{field: original[field] for field in same}
        ),
        "not the person: family (surname and address)": elsewhere.assign(
            **{field: original[field] for field in family}
        ),
    }


def random_pairs(
    size: int, rng: np.random.Generator, count: int = 100_000
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pairs of different people, drawn at random."""
    left, right = rng.integers(0, size, count), rng.integers(0, size, count)
    keep = left != right
    return left[keep], right[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    options = parser.parse_args()
    rng = np.random.default_rng(5)
    original = people(options.people)
    rows = {**copies(original, rng), **others(original, rng)}
    shuffled = rng.permutation(len(original))
    distinct = shuffled != np.arange(len(original))
    secrets = os.urandom(32), os.urandom(32)
    print(
        "| hardening | graph agreement | error | copy: median | copy: 5th pct "
        "| random: median | random: 99.9th pct | margin |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, make in hardenings().items():
        encode, encode_again = make(secrets[0]), make(secrets[1])
        clean = encode(original)
        unrelated = dice(clean, clean[shuffled])[distinct]
        again = encode_again(original)
        left, right = random_pairs(len(original), rng)
        agreement = np.corrcoef(
            dice(clean[left], clean[right]), dice(again[left], again[right])
        )
        high = np.quantile(unrelated, 0.999)
        for label, copy in rows.items():
            changed = (copy != original).any(axis=1).to_numpy()
            near = dice(clean, encode(copy))[changed]
            low = np.quantile(near, 0.05)
            print(
                f"| {name} | {agreement[0, 1]:.3f} | {label} | {np.median(near):.3f} "
                f"| {low:.3f} | {np.median(unrelated):.3f} | {high:.3f} "
                f"| {low - high:+.3f} |"
            )


if __name__ == "__main__":
    main()
