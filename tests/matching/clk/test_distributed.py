"""LSH tables run on a (local, in-process) Dask cluster match a local run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from linkage.encoding.encoder import ClkEncoder
from linkage.errors import InputError, LinkageError
from linkage.formats.schema import load_schema
from linkage.matching.clk.blocking import (
    LshPlan,
    clks_to_words,
    lsh_table,
    plan_lsh,
    run_lsh,
)
from linkage.matching.clk.distributed import (
    DaskRectangles,
    SchedulerError,
    dask_tables,
)
from linkage.matching.clk.similarity import iter_candidates, popcounts
from linkage.matching.matcher import Matcher, MatchSettings
from linkage.matching.parties import load_parties
from linkage.service.loopback import running_service
from tests.conftest import FEBRL4_SCHEMA, RunCli

THRESHOLD = 0.8
SECRET = b"distributed-test-secret-0123456789"
RECORDS = 2000  # Per FEBRL4 file: enough for hundreds of true pairs, and fast.


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two single-threaded workers in this process: real tasks, no subprocesses."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def febrl4_clks(
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """CLKs of FEBRL4 A and B (the first records of each) and their parties."""
    schema = load_schema(FEBRL4_SCHEMA)
    parts = [
        ClkEncoder(schema, SECRET).encode(frame.head(RECORDS)).clks
        for frame in febrl4_frames
    ]
    party_of = np.repeat(np.arange(2), [len(part) for part in parts])
    return np.concatenate(parts), party_of.astype(np.int64)


def test_a_few_against_many_on_the_cluster_gives_the_local_pairs(
    client: Client,
    febrl4_clks: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
) -> None:
    """What an update scores (its changed records against every other) on
    the cluster: the same pairs and scores, in the same order, as here."""
    clks, party_of = febrl4_clks
    few, many = clks[party_of == 0][:700], clks[party_of == 1]
    local = list(iter_candidates(few, many, THRESHOLD))
    with DaskRectangles(client, rows_per_task=128) as compare:
        remote = list(compare(few, many, THRESHOLD))
    assert len(remote) == 6  # 700 rows in tasks of 128.
    for name in ("left", "right", "score"):
        here = np.concatenate([getattr(chunk, name) for chunk in local])
        there = np.concatenate([getattr(chunk, name) for chunk in remote])
        assert np.array_equal(here, there), name
    assert sum(c.compared for c in remote) == sum(c.compared for c in local)
    assert len(np.concatenate([c.left for c in local])) > 200  # True pairs.
    assert client.status == "running"  # A client passed in is left open.


def test_dask_tables_merge_exactly_like_a_local_run(
    client: Client,
    febrl4_clks: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]],
) -> None:
    clks, party_of = febrl4_clks
    plan = plan_lsh(clks, party_of, THRESHOLD, across=True, within=False)
    options = {"across": True, "within": False, "limit": 10**7}
    local = run_lsh(clks, party_of, plan, **options)  # type: ignore[arg-type]
    # Small tasks, so there are many to come back in whatever order.
    remote_tables = list(
        dask_tables(
            client, clks, party_of, plan, across=True, within=False, tables_per_task=3
        )
    )
    # In table order: each is the table computed here with the same index.
    words, counts = clks_to_words(clks), popcounts(clks).astype(np.int64)
    assert len(remote_tables) == plan.tables
    for index, remote_table in enumerate(remote_tables):
        here = lsh_table(
            words, counts, party_of, plan, index, across=True, within=False
        )
        assert remote_table.compared == here.compared, index
        assert np.array_equal(np.sort(remote_table.codes), np.sort(here.codes)), index
    remote = run_lsh(
        clks,
        party_of,
        plan,
        tables=iter(remote_tables),
        **options,  # type: ignore[arg-type]
    )
    assert plan.tables > 3  # More than one task.
    assert len(local.left) > 500  # FEBRL4's true pairs, not an empty answer.
    for name in ("left", "right", "score"):
        assert np.array_equal(getattr(local, name), getattr(remote, name)), name
    assert remote.compared == local.compared
    assert remote.estimated_completeness == local.estimated_completeness
    assert client.status == "running"  # A client passed in is left open.


def test_a_degenerate_table_raises_the_workers_input_error(client: Client) -> None:
    """The worker's InputError arrives as itself, message and all."""
    clks = np.full((2500, 128), 0b1010_1010, dtype=np.uint8)  # All alike.
    party_of = np.zeros(len(clks), dtype=np.int64)
    plan = LshPlan(bits=8, tables=2, threshold=THRESHOLD)
    tables = dask_tables(client, clks, party_of, plan, across=False, within=True)
    with pytest.raises(InputError, match="LSH table 0 would compare"):
        next(tables)


def test_an_unreachable_scheduler_names_the_address() -> None:
    clks = np.zeros((2, 128), dtype=np.uint8)
    party_of = np.zeros(2, dtype=np.int64)
    plan = LshPlan(bits=8, tables=1, threshold=THRESHOLD)
    started = time.perf_counter()
    tables = dask_tables(
        "tcp://127.0.0.1:9",
        clks,
        party_of,
        plan,
        across=False,
        within=True,
        connect_timeout=0.5,
    )
    with pytest.raises(SchedulerError) as raised:
        next(tables)
    assert isinstance(raised.value, LinkageError)
    assert "tcp://127.0.0.1:9" in str(raised.value)
    assert "`dask scheduler` is running there" in str(raised.value)
    assert time.perf_counter() - started < 10  # The timeout bounds the wait.


def test_linkage_match_on_a_cluster_gives_the_local_answer(
    client: Client,
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    """`linkage match --scheduler` groups the same records as a local run."""
    encodings = []
    for name, frame in zip(("a", "b"), febrl4_frames, strict=True):
        source = tmp_path / f"{name}.csv"
        frame.head(RECORDS).to_csv(source, index=False)
        target = tmp_path / f"{name}.lnk"
        (tmp_path / "secret").write_text(SECRET.decode())
        encoded = run_cli(
            "encode", source, "--schema", FEBRL4_SCHEMA,
            "--secret-file", tmp_path / "secret", "--out", target, "--party", name,
        )  # fmt: skip
        assert encoded.exit_code == 0, encoded.output
        encodings.append(target)
    groups = []
    for where, extra in (
        ("local", []),
        ("dask", ["--scheduler", client.scheduler.address]),
    ):
        out = tmp_path / f"{where}.csv"
        matched = run_cli(
            "match", *encodings, "--threshold", "0.8", "--blocking", "lsh",
            "--out", out, *extra,
        )  # fmt: skip
        assert matched.exit_code == 0, matched.output
        frame = pd.read_csv(out, dtype=str)
        groups.append({frozenset(g["pseudonym"]) for _, g in frame.groupby("match_id")})
    assert len(groups[0]) > 500
    assert groups[0] == groups[1]


def test_the_service_hands_its_runs_to_the_cluster(
    client: Client,
    febrl4_frames: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    run_cli: RunCli,
) -> None:
    """A service started with a scheduler runs LSH on it: the parties' results
    group the records exactly as a local LSH run of the same files."""
    (tmp_path / "secret").write_text(SECRET.decode())
    encodings = {}
    for name, frame in zip(("a", "b"), febrl4_frames, strict=True):
        source = tmp_path / f"{name}.csv"
        frame.head(RECORDS).to_csv(source, index=False)
        encodings[name] = tmp_path / f"{name}.lnk"
        encoded = run_cli(
            "encode", source, "--schema", FEBRL4_SCHEMA, "--secret-file",
            tmp_path / "secret", "--out", encodings[name], "--party", name,
        )  # fmt: skip
        assert encoded.exit_code == 0, encoded.output
    address = client.scheduler.address
    with running_service(tmp_path / "service", dask_scheduler=address) as service:
        server = ["--server", service.url]
        operator = [*server, "--token-file", service.operator_token_file]
        created = run_cli(
            "project", "create", "clustered", "--schema", FEBRL4_SCHEMA,
            "--party", "a", "--party", "b", "--threshold", "0.8",
            "--tokens-dir", tmp_path / "tokens", *operator,
        )  # fmt: skip
        assert created.exit_code == 0, created.output
        project = created.stdout.strip()
        for name, path in encodings.items():
            token = ["--token-file", tmp_path / "tokens" / f"{name}.token"]
            uploaded = run_cli(
                "upload", path, "--project", project, "--party", name, *server, *token
            )
            assert uploaded.exit_code == 0, uploaded.output
        started = run_cli("run", "start", "--project", project, *operator)
        waited = run_cli(
            "run", "wait", "--project", project, "--run", started.stdout.strip(),
            "--poll", "0.2", "--timeout", "120", *operator,
        )  # fmt: skip
        assert waited.exit_code == 0, waited.output
        assert "stats.blocking: Hamming LSH" in waited.output
        results = []
        for name in encodings:
            token = ["--token-file", tmp_path / "tokens" / f"{name}.token"]
            out = tmp_path / f"{name}-results.csv"
            got = run_cli(
                "results", "--project", project, "--out", out, *server, *token
            )
            assert got.exit_code == 0, got.output
            results.append(pd.read_csv(out, dtype=str))
    served = pd.concat(results)
    local = Matcher(
        load_parties([encodings["a"], encodings["b"]]),
        MatchSettings(threshold=0.8, blocking="lsh"),
    ).run()
    assert _groups(served) == _groups(local.matches)
    assert len(_groups(served)) > 500


def _groups(matches: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(group["pseudonym"]) for _, group in matches.groupby("match_id")}
