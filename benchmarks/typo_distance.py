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

import numpy as np
import pandas as pd
from quality import schema_with, shipped_schema

from linkage.demo.generator import generate_population
from linkage.encoding.encoder import ClkEncoder
from linkage.formats.schema import LinkageSchema

FIELDS = ["given_name", "surname", "date_of_birth", "sex", "postcode", "street"]
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def schema(taps: int) -> LinkageSchema:
    """The demo schema, plain (``taps`` 0) or diffused with ``taps``."""
    if not taps:
        return schema_with("demo.json", None)
    return shipped_schema("demo.json", taps=taps)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    options = parser.parse_args()
    rng = np.random.default_rng(5)
    original = people(options.people)
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
    others = rng.permutation(len(original))
    secret = os.urandom(32)
    print(
        "| hardening | error | copy: median | copy: 5th pct | random: median "
        "| random: 99.9th pct | margin |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for taps in (0, 3, 4, 5):
        encoder = ClkEncoder(schema(taps), secret)
        clean = encoder.encode(original).clks
        unrelated = dice(clean, clean[others])
        unrelated = unrelated[others != np.arange(len(original))]
        for label, copy in errors.items():
            changed = (copy != original).any(axis=1).to_numpy()
            near = dice(clean, encoder.encode(copy).clks)[changed]
            name = "plain" if taps == 0 else f"{taps} taps"
            low, high = np.quantile(near, 0.05), np.quantile(unrelated, 0.999)
            print(
                f"| {name} | {label} | {np.median(near):.3f} | {low:.3f} | "
                f"{np.median(unrelated):.3f} | {high:.3f} | {low - high:+.3f} |"
            )


if __name__ == "__main__":
    main()
