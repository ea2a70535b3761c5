"""Reading ahead and writing behind: order, errors and closing, and a whole
encode across many chunks that gives what one chunk gives."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkage.encoding import records as records_module
from linkage.encoding.encoder import ClkEncoder
from linkage.encoding.overlap import ReadAhead, WriteBehind
from linkage.encoding.recipe import VaultTarget, encode_csv
from linkage.encoding.records import RecordsReading
from linkage.encoding.vault import Vault
from linkage.errors import InputError
from linkage.formats.clkfile import read_encodings
from linkage.formats.schema import load_schema, schema_from_dict
from tests.conftest import FEBRL4_SCHEMA
from tests.encoding.test_encoder import small_schema

SECRET = b"a test secret of some length"
VAULT_KEY = bytes(range(32))
WAIT = 10.0  # Seconds: only reached when the behaviour under test is missing.


def test_read_ahead_yields_every_item_in_order() -> None:
    assert list(ReadAhead(iter(range(50)))) == list(range(50))
    assert list(ReadAhead(iter([]))) == []


def test_the_first_item_is_read_before_it_is_asked_for() -> None:
    """Reading starts when the object is made, so its maker can get on with
    other work (``linkage encode`` imports the encoder meanwhile)."""
    first_read = threading.Event()

    def source() -> Iterator[int]:
        first_read.set()
        yield 1

    with contextlib.closing(ReadAhead(source())) as items:
        assert first_read.wait(WAIT)
        assert list(items) == [1]


def test_the_next_item_is_read_while_the_current_one_is_used() -> None:
    second_read = threading.Event()

    def source() -> Iterator[int]:
        yield 1
        second_read.set()
        yield 2

    items = ReadAhead(source())
    assert next(items) == 1
    # Still holding item 1: item 2 is read on the other thread meanwhile.
    assert second_read.wait(WAIT)
    assert list(items) == [2]


def test_an_error_reading_is_raised_where_its_item_would_be() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise InputError("row 3 is broken")

    items = ReadAhead(source())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(InputError, match="row 3 is broken"):
        next(items)


def test_closing_early_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.set()

    items = ReadAhead(source())
    assert next(items) == 0
    items.close()
    assert closed.is_set()


def test_writes_run_in_order_and_an_error_surfaces_at_the_next_call() -> None:
    written: list[int] = []

    def write(number: int) -> None:
        if number == 3:
            raise OSError("disk full")
        written.append(number)

    with pytest.raises(OSError, match="disk full"), WriteBehind() as behind:
        for number in range(6):
            behind.submit(write, number)
    assert written == [0, 1, 2]


def test_leaving_on_an_error_waits_for_the_write_under_way() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow_write() -> None:
        started.set()
        release.wait(WAIT)
        finished.append(True)

    with pytest.raises(RuntimeError), WriteBehind() as behind:
        behind.submit(slow_write)
        assert started.wait(WAIT)
        threading.Timer(0.05, release.set).start()
        raise RuntimeError("the encoder failed")
    assert finished == [True]


@pytest.fixture()
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records read 4 KB at a time: a 500-row export is some forty chunks."""
    monkeypatch.setattr(records_module, "_BLOCK_BYTES", 4096)


@pytest.mark.usefixtures("small_blocks")
def test_many_chunks_encode_as_one_with_the_vault_in_step(
    tmp_path: Path, febrl4_a_csv: Path
) -> None:
    """Chunks read ahead and written behind keep their order: the CLKs are
    one chunk's, and the vault names each pseudonym's own record."""
    schema = load_schema(FEBRL4_SCHEMA)
    out, vault = tmp_path / "a.lnk", tmp_path / "a.vault"
    summary = encode_csv(
        febrl4_a_csv, schema, SECRET, out, vault=VaultTarget(vault, VAULT_KEY),
        id_column="rec_id",
    )  # fmt: skip
    frame = pd.read_csv(febrl4_a_csv, dtype=str, keep_default_na=False)
    expected = ClkEncoder(schema, SECRET).encode(frame).clks
    encodings = read_encodings(out)
    assert summary.encoded == 500
    assert np.array_equal(encodings.clks, expected)
    entries = Vault.open(vault, VAULT_KEY)
    record_ids = [
        entries.lookup(pseudonym).record_id
        for pseudonym in encodings.pseudonym_strings()
    ]
    assert record_ids == frame["rec_id"].tolist()


@pytest.mark.usefixtures("small_blocks")
def test_a_bad_row_in_a_late_chunk_leaves_nothing_written(tmp_path: Path) -> None:
    schema = schema_from_dict(small_schema())
    ages = [str(i % 90) for i in range(2000)]
    ages[1900] = "ninety"
    frame = pd.DataFrame({"name": [f"name {i}" for i in range(2000)], "age": ages})
    records = tmp_path / "late.csv"
    frame.to_csv(records, index=False)
    out = tmp_path / "late.lnk"
    with pytest.raises(InputError, match="row 1901, field 'age'"):
        encode_csv(records, schema, SECRET, out)
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == []


def test_records_already_being_read_encode_as_records_read_inside(
    tmp_path: Path, febrl4_a_csv: Path
) -> None:
    """A reading started before the call (as ``linkage encode`` starts one)
    gives the CLKs a reading started inside gives."""
    schema = load_schema(FEBRL4_SCHEMA)
    inside, early = tmp_path / "inside.lnk", tmp_path / "early.lnk"
    encode_csv(febrl4_a_csv, schema, SECRET, inside)
    with RecordsReading(febrl4_a_csv, "utf-8") as reading:
        encode_csv(febrl4_a_csv, schema, SECRET, early, reading=reading)
    assert np.array_equal(read_encodings(early).clks, read_encodings(inside).clks)


def test_a_reading_of_another_encoding_is_refused(
    tmp_path: Path, febrl4_a_csv: Path
) -> None:
    schema = load_schema(FEBRL4_SCHEMA)
    out = tmp_path / "a.lnk"
    reading = RecordsReading(febrl4_a_csv, "latin-1")
    with pytest.raises(ValueError, match=r"as latin-1, not .* as utf-8"):
        encode_csv(febrl4_a_csv, schema, SECRET, out, reading=reading)
    assert not out.exists()
    assert list(reading.chunks) == []  # Closed: nothing more is read.
