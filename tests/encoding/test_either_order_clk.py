"""``either_order`` in the CLK: the two fields hash under one key, so
swapped values set the same bits; schemas without it keep their own keys."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.encoding.encoder import ClkEncoder
from linkage.errors import SchemaError
from linkage.formats.schema import LinkageSchema, schema_from_dict
from tests.conftest import CONFIGS

SECRET = b"either order tests secret"
SHIPPED: dict[str, Any] = json.loads((CONFIGS / "schemas" / "demo.json").read_text())


def schema(either_order: bool = True, **block: Any) -> LinkageSchema:
    document = copy.deepcopy(SHIPPED)
    if not either_order:
        document["linkage"].pop("either_order")
    document["linkage"].update(block)
    return schema_from_dict(document)


def clks(
    schema: LinkageSchema, given_names: list[str], surnames: list[str]
) -> npt.NDArray[np.uint8]:
    """One packed CLK per name pair, the other fields alike."""
    count = len(given_names)
    records = {
        "given_name": given_names,
        "surname": surnames,
        "date_of_birth": ["1980-02-01"] * count,
        "sex": ["f"] * count,
        "postcode": ["2000"] * count,
        "street": ["high street"] * count,
    }
    return ClkEncoder(schema, SECRET).encode(records).clks


names = st.text(alphabet="abcdefgh", min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(given_name=names, surname=names)
def test_swapped_names_make_the_same_clk(given_name: str, surname: str) -> None:
    """The CLK of every field and both views, after diffusion: identical."""
    encoded = clks(schema(), [given_name, surname], [surname, given_name])
    assert np.array_equal(encoded[0], encoded[1])


def test_without_the_pair_each_field_keeps_its_own_key() -> None:
    encoded = clks(schema(either_order=False), ["ann", "smith"], ["smith", "ann"])
    assert not np.array_equal(encoded[0], encoded[1])
    # The pair changes the CLK itself (the surname takes the given name's
    # key), and the schema's fingerprint with it: such encodings never meet.
    paired = clks(schema(), ["ann"], ["smith"])
    assert not np.array_equal(paired[0], encoded[0])
    assert schema().fingerprint != schema(either_order=False).fingerprint


def test_a_typo_in_swapped_names_costs_what_it_costs_in_place() -> None:
    """A swap with a typo scores like the typo alone (Dice of the CLKs)."""
    encoded = clks(
        schema(),
        ["gabrielle", "langer", "gabrielle"],
        ["langer", "gabrielle", "lanzger"],
    )
    bits = np.unpackbits(encoded, axis=1).astype(bool)

    def dice(a: int, b: int) -> float:
        return 2 * (bits[a] & bits[b]).sum() / (bits[a].sum() + bits[b].sum())

    swapped_with_typo = clks(schema(), ["lanzger"], ["gabrielle"])
    swapped_bits = np.unpackbits(swapped_with_typo, axis=1).astype(bool)[0]
    in_place = dice(0, 2)
    swapped = 2 * (bits[0] & swapped_bits).sum() / (bits[0].sum() + swapped_bits.sum())
    assert dice(0, 1) == 1.0
    assert swapped == pytest.approx(in_place)


def test_a_view_of_one_field_of_the_pair_is_refused() -> None:
    document = copy.deepcopy(SHIPPED)
    document["linkage"]["views"]["names"] = ["given_name", "date_of_birth"]
    with pytest.raises(SchemaError, match="view 'names' holds one of") as raised:
        schema_from_dict(document)
    assert "linkage.either_order" in str(raised.value)


def test_the_pair_is_refused_with_segments() -> None:
    """Segment groups have their own ``shared_keys``."""
    document = copy.deepcopy(SHIPPED)
    for setting in ("views", "view_taps"):
        document["linkage"].pop(setting)
    document["linkage"]["segments"] = {"bits": 512}
    with pytest.raises(SchemaError, match="combined with 'segments'") as raised:
        schema_from_dict(document)
    assert "linkage.either_order" in str(raised.value)
