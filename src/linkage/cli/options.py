"""Options shared by several commands, written once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
output_file = click.Path(dir_okay=False, writable=True, path_type=Path)


def schema_option(function: F) -> F:
    """``--schema``: the linkage schema (clkhash v3 JSON) the agencies agreed."""
    return click.option(
        "--schema",
        "schema_path",
        type=existing_file,
        required=True,
        help="Linkage schema file (clkhash linkage schema v3 or v2 JSON).",
    )(function)


def secret_file_option(function: F) -> F:
    """``--secret-file``: the shared secret, never taken on the command line."""
    return click.option(
        "--secret-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=(
            "File holding the linkage secret shared among the agencies "
            "(make one with `linkage keygen`). Default: the LINKAGE_SECRET "
            "environment variable."
        ),
    )(function)


def vault_key_option(function: F) -> F:
    """``--vault-key-file``: the agency's own vault key."""
    return click.option(
        "--vault-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=(
            "File holding this agency's vault key (make one with `linkage "
            "keygen`). Default: the LINKAGE_VAULT_KEY environment variable."
        ),
    )(function)
