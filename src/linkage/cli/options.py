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


def _key_file_option(flag: str, what: str, env_var: str) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        return click.option(
            flag,
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help=(
                f"File holding {what} (make one with `linkage keygen`). "
                f"Default: the {env_var} environment variable."
            ),
        )(function)

    return decorate


secret_file_option = _key_file_option(
    "--secret-file", "the linkage secret shared among the agencies", "LINKAGE_SECRET"
)
"""``--secret-file``: the shared secret, never taken on the command line."""

vault_key_option = _key_file_option(
    "--vault-key-file", "this agency's vault key", "LINKAGE_VAULT_KEY"
)
"""``--vault-key-file``: the agency's own vault key."""
