"""Files that appear whole or not at all, readable by their owner only.

Every output of `linkage` that holds a secret, a pseudonym or a record goes
through :func:`private_output`, so a crash or an error never leaves half a file
behind and no other user of the machine can read what was written.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO


@contextmanager
def private_output(path: Path, *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Write ``path`` atomically, readable by its owner only (mode 0600).

    The caller writes to a temporary file in the same directory, created with
    mode 0600 (never wider, whatever the umask). When the block ends cleanly
    the file is synced and renamed onto ``path``; when it raises, the temporary
    file is deleted and ``path`` is left as it was.

    A device or pipe (``/dev/null``, ``/dev/stdout``) is written as it is:
    renaming a file onto it would replace the device for every program.

    Raises:
        FileExistsError: ``overwrite`` is false and ``path`` exists.
        OSError: the directory cannot be written.
    """
    if is_stream(path):
        if not overwrite:
            raise FileExistsError(path)
        with path.open("wb") as stream:
            yield stream
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        _commit(tmp, path, overwrite=overwrite)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def is_stream(path: Path) -> bool:
    """Whether ``path`` is a character device or a pipe (symlinks followed)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _commit(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Move the finished ``tmp`` onto ``path``, never over a file unless told."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        # A hard link fails atomically when `path` exists, unlike a rename.
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        # Some file systems have no hard links: check, then rename.
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


@contextmanager
def private_text_output(path: Path) -> Iterator[TextIO]:
    """:func:`private_output` for UTF-8 text (CSV: ``newline=""``)."""
    with private_output(path) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        try:
            yield text
        finally:
            text.detach()  # Flushes; private_output closes the file itself.
