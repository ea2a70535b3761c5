"""First start: the data folder, the database and the operator's token."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from linkage.atomic import private_output
from linkage.audit.chain import KEY_ROTATED
from linkage.reveal.keys import (
    key_id,
    load_or_create_signing_key,
    write_service_public_key,
)
from linkage.service.datadir import prepare_data_dir
from linkage.service.settings import Settings
from linkage.storage import Store
from linkage.storage.audit_log import AuditLog

__all__ = ["initialise", "rotate_operator_token", "rotate_signing_key"]


def initialise(
    data_dir: Path,
    *,
    database_url: str | None = None,
    token_lifetime: timedelta | None = None,
) -> Path:
    """Prepare ``data_dir`` and return the operator token file's path.

    Creates the folder (mode 0700; one open to others is refused), the
    database (SQLite: mode 0600) and its tables, the service's
    Ed25519 signing key (``service-signing.key``, mode 0600, with its public
    key beside it) and, unless the file already exists, an operator token
    written to ``operator.token`` (mode 0600). Running it again changes
    nothing: an existing token and key are kept. The token is never logged or
    returned; read it from the file.

    Raises:
        DataFolderError: the folder is open to its group or others.
        OSError: the folder or file cannot be written.
    """
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    prepare_data_dir(settings)
    signing_key = load_or_create_signing_key(settings.signing_key_path)
    write_service_public_key(settings.public_key_path, signing_key.public_key())
    path = settings.operator_token_path
    store = Store.open(settings.database, token_lifetime=token_lifetime)
    try:
        if not path.exists():
            _write_operator_token(store, path)
    finally:
        store.close()
    return path


def rotate_operator_token(
    data_dir: Path,
    *,
    database_url: str | None = None,
    token_lifetime: timedelta | None = None,
) -> Path:
    """Revoke every operator token, write a new one to ``operator.token``
    (atomically, mode 0600) and record it in the audit log; return the file.

    For a token that leaked or expired: run it on the service's machine, with
    the service stopped or running (the old token stops working at once).

    Raises:
        OSError: the file cannot be written; then nothing changes (the old
            token stays valid), so fix the cause and run it again.
    """
    initialise(data_dir, database_url=database_url, token_lifetime=token_lifetime)
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    store = Store.open(settings.database, token_lifetime=token_lifetime)
    try:
        audit = AuditLog(store, load_or_create_signing_key(settings.signing_key_path))
        with store.transaction():
            token = store.rotate_operator_token()
            audit.append(
                actor="operator",
                action="token.rotated",
                details={"role": "operator"},
            )
            with private_output(settings.operator_token_path) as out:
                out.write(token.encode("ascii") + b"\n")
    finally:
        store.close()
    return settings.operator_token_path


def _write_operator_token(store: Store, path: Path) -> None:
    token = store.create_token(role="operator")
    try:
        with private_output(path, overwrite=False) as out:
            out.write(token.encode("ascii") + b"\n")
    except BaseException as error:
        # The write failed or another start won the race: this token is unused.
        store.revoke_token(token_id=store.authenticate(token=token).id)
        if not isinstance(error, FileExistsError):
            raise


def rotate_signing_key(
    data_dir: Path, *, database_url: str | None = None
) -> tuple[str, str]:
    """Replace the service's signing key; return the old and new key IDs.

    The old key signs one last audit entry, ``key.rotated``, naming both keys:
    from the entry after it, heads are signed by the new key, and a verifier
    holding both public keys checks each head against the key in force. The
    old public key stays beside the new one as ``service-signing-<id>.pub``;
    its private key is gone. Grants the old key signed that are not yet
    answered are signed again with the new key when the service next starts
    (:meth:`~linkage.service.reveals.RevealDesk.resign_outstanding_grants`),
    since agencies pin only the new one.

    Raises:
        OSError: a key file cannot be written.
    """
    initialise(data_dir, database_url=database_url)
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    old_key = load_or_create_signing_key(settings.signing_key_path)
    old_id = key_id(old_key.public_key())
    staged = settings.signing_key_path.with_name("service-signing.key.new")
    staged.unlink(missing_ok=True)
    new_key = load_or_create_signing_key(staged)  # Written 0600, atomically.
    new_id = key_id(new_key.public_key())
    write_service_public_key(
        settings.data_dir / f"service-signing-{old_id}.pub", old_key.public_key()
    )
    store = Store.open(settings.database)
    try:
        AuditLog(store, old_key).append(
            actor="operator",
            action=KEY_ROTATED,
            details={"old_key_id": old_id, "new_key_id": new_id},
        )
    finally:
        store.close()
    os.replace(staged, settings.signing_key_path)
    write_service_public_key(settings.public_key_path, new_key.public_key())
    return old_id, new_id
