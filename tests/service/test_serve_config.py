"""`linkage serve --config FILE` and `--log-format json`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from linkage.service.settings import check_dask_address
from tests import http_calls
from tests.conftest import RunCli


def test_the_config_file_sets_options_and_the_command_line_wins(
    run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "service.toml"
    config.write_text(f'data-dir = "{tmp_path / "from-file"}"\nport = 8123\n')
    made = run_cli("serve", "--config", config, "--init")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "from-file" / "operator.token").exists()
    overridden = run_cli(
        "serve", "--config", config, "--data-dir", tmp_path / "from-flag", "--init"
    )
    assert overridden.exit_code == 0, overridden.output
    assert (tmp_path / "from-flag" / "operator.token").exists()


def test_unknown_keys_in_the_config_file_are_named(
    run_cli: RunCli, tmp_path: Path
) -> None:
    config = tmp_path / "service.toml"
    config.write_text(f'data-dir = "{tmp_path / "d"}"\nprot = 80\n[extra]\nx = 1\n')
    refused = run_cli("serve", "--config", config, "--init")
    assert refused.exit_code != 0
    assert "field 'prot'" in refused.output and "field 'extra'" in refused.output
    assert not (tmp_path / "d").exists()


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    linkage = str(Path(sys.executable).parent / "linkage")
    server = subprocess.Popen(
        [linkage, "serve", "--data-dir", str(tmp_path / "data"), "--port",
         str(port), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                http_calls.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    logged = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    assert logged, errors
    assert {"time", "level", "logger", "message"} <= set(logged[0])
    assert any(entry["logger"].startswith("uvicorn") for entry in logged)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("tcp://127.0.0.1:8786", True),
        ("localhost:8786", True),
        ("tls://dask.internal:8786", True),
        ("inproc://192.0.2.2/5418/1", True),
        ("tcp://10.0.0.7:8786", False),
        ("dask.internal:8786", False),
        ("ws://dask.internal:8786", False),
    ],
)
def test_a_dask_scheduler_elsewhere_needs_tls(address: str, allowed: bool) -> None:
    if allowed:
        check_dask_address(address)
    else:
        with pytest.raises(ValueError, match="without TLS"):
            check_dask_address(address)


def test_serve_refuses_a_plain_dask_scheduler_elsewhere(
    run_cli: RunCli, tmp_path: Path
) -> None:
    refused = run_cli(
        "serve", "--data-dir", tmp_path / "data", "--init",
        "--dask-scheduler", "tcp://10.0.0.7:8786",
    )  # fmt: skip
    assert refused.exit_code == 2
    assert "--dask-scheduler" in refused.output and "tls://" in refused.output
    assert not (tmp_path / "data").exists()
