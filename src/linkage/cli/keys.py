"""``linkage keygen``: make a new random linkage secret or vault key."""

from __future__ import annotations

import stat
from pathlib import Path

import click

from linkage.encoding.keyfiles import write_key_file


@click.command()
@click.option(
    "--out",
    "out_path",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new key. It is created readable by you only (0600).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace FILE if it exists. Whatever the old key protects becomes unreadable.",
)
def keygen(out_path: Path, force: bool) -> None:
    """Write a new random key (256 bits, base64url) to FILE.

    The same kind of file serves two purposes. As the linkage secret, it is
    shared among the agencies that link their records, over a secure channel,
    and never with the linkage operator. As a vault key, it stays with your
    agency alone: it opens your pseudonym vault.

    The key is never printed. Pass it to other commands by file or through an
    environment variable, never on the command line.
    """
    write_key_file(out_path, force=force)
    mode = stat.S_IMODE(out_path.stat().st_mode)
    click.echo(f"Wrote a new key to {out_path} (mode {mode:04o}).", err=True)
