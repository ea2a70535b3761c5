"""How client commands reach the service: its URL, a token, a project.

A token is read from ``--token-file`` or the ``LINKAGE_TOKEN`` environment
variable, never from the command line, and no message names what is in it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from linkage.client import DEFAULT_SERVER, ServiceClient, ServiceError

F = TypeVar("F", bound=Callable[..., Any])

TOKEN_ENV: Final = "LINKAGE_TOKEN"
SERVER_ENV: Final = "LINKAGE_SERVER"
PROGRESS_MIN_BYTES: Final = 16 * 1024 * 1024


def server_option(function: F) -> F:
    """``--server``: the service's URL (or ``LINKAGE_SERVER``)."""
    return click.option(
        "--server",
        metavar="URL",
        envvar=SERVER_ENV,
        default=DEFAULT_SERVER,
        show_default=True,
        help=f"The linkage service's URL. Default: the {SERVER_ENV} "
        "environment variable, else the local default.",
    )(function)


def token_option(whose: str) -> Callable[[F], F]:
    """``--token-file``: the file holding ``whose`` token (or ``LINKAGE_TOKEN``)."""

    def decorate(function: F) -> F:
        return click.option(
            "--token-file",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help=f"File holding {whose} token. Default: the {TOKEN_ENV} "
            "environment variable. Tokens are never taken on the command line.",
        )(function)

    return decorate


def project_option(function: F) -> F:
    """``--project``: the project's ID."""
    return click.option(
        "--project",
        "project_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="ID",
        help="The project ID `linkage project create` printed.",
    )(function)


def run_option(function: F) -> F:
    """``--run``: a run's ID."""
    return click.option(
        "--run",
        "run_id",
        required=True,
        type=click.IntRange(min=1),
        metavar="RUN",
        help="The run ID `linkage run start` printed.",
    )(function)


def progress_option(function: F) -> F:
    """``--progress/--no-progress``: whether to draw a progress bar."""
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Show progress on stderr (default: on a terminal only, and for "
        "uploads only for large files).",
    )(function)


def read_token(path: Path | None, env_var: str = TOKEN_ENV) -> str:
    """The token from ``path``, else from ``env_var``; whitespace stripped.

    Raises:
        ServiceError: there is no token, or it cannot be read. The message
            names the file or variable, never the token.
    """
    if path is None:
        value = os.environ.get(env_var, "").strip()
        if not value:
            raise ServiceError(
                f"no token given: pass --token-file FILE or set the environment "
                f"variable {env_var}"
            )
        return value
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ServiceError(f"the token file {path} does not exist") from None
    except OSError as error:
        raise ServiceError(
            f"the token file {path} cannot be read ({error.strerror})"
        ) from None
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ServiceError(f"the token file {path} does not hold a token") from None
    if not text:
        raise ServiceError(f"the token file {path} is empty")
    return text


@contextmanager
def connect(server: str, token_file: Path | None) -> Iterator[ServiceClient]:
    """A client for ``server`` with the token read from ``token_file``."""
    with ServiceClient(server, read_token(token_file)) as client:
        yield client
