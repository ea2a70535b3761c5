"""The service's data folder: private, or the service does not start.

The folder holds the database, the uploaded encodings, the operator's token
and the service's signing key. Files inside are created 0600, but a folder
others can list or enter would still show what is there and let them in if a
file's mode were ever wider, so a folder open to its group or to others is
refused with the command that fixes it, not silently narrowed.
"""

from __future__ import annotations

import os
import stat

from linkage.errors import LinkageError
from linkage.service.settings import Settings

__all__ = ["DataFolderError", "prepare_data_dir"]


class DataFolderError(LinkageError):
    """The data folder is open to others, or cannot be made private."""


def prepare_data_dir(settings: Settings) -> None:
    """Create the data and uploads folders (0700), refuse a data folder open
    to its group or others, and create the SQLite database file 0600 (or
    narrow an existing one to 0600).

    Raises:
        DataFolderError: the folder is open to others.
        OSError: a folder or file cannot be made.
    """
    folder = settings.data_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        raise DataFolderError(
            f"the data folder {folder} has mode {mode:04o}, so others on this "
            "machine can look into it; it holds encodings, tokens and the "
            f"service's signing key. Run `chmod 700 {folder}` and start again"
        )
    settings.uploads_dir.mkdir(mode=0o700, exist_ok=True)
    if settings.database_url is None:
        database = folder / "linkage.db"
        # Created here, before SQLite makes it with the process umask.
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(database, 0o600)
