"""``linkage keygen``: make a new random key, or an investigator's key pair."""

from __future__ import annotations

import stat
from pathlib import Path

import click

from linkage.encoding.keyfiles import write_key_file
from linkage.reveal.keys import (
    key_id,
    raw_public_b64,
    read_investigator_public_key,
    read_signing_public_key,
    write_investigator_keypair,
    write_signing_keypair,
)


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
    "--investigator",
    is_flag=True,
    help="Write an investigator's X25519 key pair instead: the private key to "
    "FILE (0600, keep it), the public key to FILE.pub (give it to the operator).",
)
@click.option(
    "--signing",
    is_flag=True,
    help="Write an Ed25519 signing key pair instead, for an approver (who "
    "signs approvals) or an agency (which signs what it discloses): the "
    "private key to FILE (0600, keep it), the public key to FILE.pub (give "
    "it to whoever pins it).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace FILE if it exists. Whatever the old key protects becomes unreadable.",
)
def keygen(out_path: Path, investigator: bool, signing: bool, force: bool) -> None:
    """Write a new random key (256 bits, base64url) to FILE.

    The same kind of file serves two purposes. As the linkage secret, it is
    shared among the agencies that link their records, over a secure channel,
    and never with the linkage operator. As a vault key, it stays with your
    agency alone: it opens your pseudonym vault.

    With --investigator, it writes the key pair identities are revealed to:
    agencies seal what they disclose to the public key, and only the private
    key opens it.

    With --signing, it writes an approver's or agency's signing key pair.

    The key is never printed. Pass it to other commands by file or through an
    environment variable, never on the command line.
    """
    if investigator and signing:
        raise click.UsageError("give --investigator or --signing, not both")
    if signing:
        public_path = write_signing_keypair(out_path, force=force)
        public = read_signing_public_key(public_path)
        click.echo(
            f"Wrote your signing key to {out_path} (mode "
            f"{stat.S_IMODE(out_path.stat().st_mode):04o}) and your public key "
            f"to {public_path} (key ID {key_id(public)}, pinned as "
            f"{raw_public_b64(public)}). Give the .pub file only, and read the "
            "key ID to whoever pins it.",
            err=True,
        )
        return
    if investigator:
        public_path = write_investigator_keypair(out_path, force=force)
        fingerprint = key_id(read_investigator_public_key(public_path))
        click.echo(
            f"Wrote your private key to {out_path} (mode "
            f"{stat.S_IMODE(out_path.stat().st_mode):04o}) and your public key "
            f"to {public_path} (key ID {fingerprint}). Give the operator the "
            ".pub file only.",
            err=True,
        )
        return
    write_key_file(out_path, force=force)
    mode = stat.S_IMODE(out_path.stat().st_mode)
    click.echo(f"Wrote a new key to {out_path} (mode {mode:04o}).", err=True)
