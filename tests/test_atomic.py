"""Outputs appear whole or not at all (linkage.atomic)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from linkage.atomic import private_output


def test_a_finished_file_is_private_and_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with private_output(target) as out:
        out.write(b"all of it")
    assert target.read_bytes() == b"all of it"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_an_error_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"before")
    with pytest.raises(RuntimeError), private_output(target) as out:
        out.write(b"half")
        raise RuntimeError("stopped")
    assert target.read_bytes() == b"before"
    assert list(tmp_path.iterdir()) == [target]


def test_the_null_device_is_written_to_not_replaced() -> None:
    """`--out /dev/null` once renamed a file over the device, as root."""
    with private_output(Path(os.devnull)) as out:
        out.write(b"discarded")
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)


def test_a_pipe_is_written_to_not_replaced(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    with private_output(pipe) as out:
        out.write(b"through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_an_encodings_file_refuses_a_device(tmp_path: Path) -> None:
    """It is finished in place (keys settled, count written), which a
    device cannot take: a clear error, and the device stays."""
    from linkage.errors import EncodingFileError
    from linkage.formats.clkfile import EncodingHeader, open_writer

    header = EncodingHeader(
        schema_fingerprint="0" * 64, bit_length=8, key_check="0" * 16
    )
    with pytest.raises(EncodingFileError, match="device or pipe"):
        open_writer(Path(os.devnull), "linkage", header)
    assert stat.S_ISCHR(Path(os.devnull).stat().st_mode)
