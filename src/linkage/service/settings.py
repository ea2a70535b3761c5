"""What a running service needs to know: where its data lives and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from linkage.hosts import is_loopback_host
from linkage.reveal.policy import DEFAULT_POLICY, RevealPolicy
from linkage.service.lookup.policy import DEFAULT_LOOKUP_POLICY, LookupPolicy
from linkage.service.lookup.ratelimit import LookupRate

__all__ = [
    "DEFAULT_MAX_JSON_BYTES",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "MAX_REQUEST_HEAD_BYTES",
    "Settings",
    "check_dask_address",
    "server_limits",
]

DEFAULT_MAX_UPLOAD_BYTES: Final = 1024**3  # 1 GiB: ~7 million 1024-bit CLKs.
# Every JSON request the API takes (projects, members, reveals) is a few KiB.
DEFAULT_MAX_JSON_BYTES: Final = 1024**2
# A request line and headers larger than this are refused (400) by the HTTP
# parser itself; a token and a few headers are well under 1 KiB.
MAX_REQUEST_HEAD_BYTES: Final = 16 * 1024


def check_dask_address(address: str) -> None:
    """Refuse a Dask scheduler reached without TLS on another machine.

    Runs send the parties' CLKs to the cluster (pickled); over plain
    ``tcp://`` anyone on the network path could read or alter them, and an
    unauthenticated scheduler accepts any client. ``tls://`` uses Dask's own
    TLS settings (``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``, ``...__CLIENT__CERT``,
    ``...__CLIENT__KEY``, ``DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True``).

    Raises:
        ValueError: the address is neither tls:// nor inproc://, and its
            host is not this machine's loopback.
    """
    scheme, separator, rest = address.partition("://")
    if not separator:
        scheme, rest = "tcp", address
    host = rest.rsplit(":", 1)[0].strip("[]")
    # inproc:// never leaves this process; tls:// is encrypted and authenticated.
    if scheme not in ("tls", "inproc") and not is_loopback_host(host):
        raise ValueError(
            f"the Dask scheduler {address!r} is reached without TLS: the "
            "parties' CLKs would cross the network in clear to a scheduler "
            "that accepts anyone. Use tls://host:port with Dask's TLS settings "
            "(DASK_DISTRIBUTED__COMM__TLS__CA_FILE and the client certificate "
            "and key), or a scheduler on this machine"
        )


def server_limits() -> dict[str, Any]:
    """The ``uvicorn.Config`` arguments every way of serving the app shares.

    h11 is named rather than left to uvicorn's choice: it is the parser whose
    limit on the request head is set here.
    """
    return {
        "http": "h11",
        "ws": "none",
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }


@dataclass(frozen=True)
class Settings:
    """The service's configuration.

    Attributes:
        data_dir: holds the database (by default), the uploads and the
            operator token file.
        database_url: a SQLAlchemy URL; None means SQLite in ``data_dir``.
        max_upload_bytes: an encodings upload larger than this is refused
            with 413.
        max_json_bytes: any other request body larger than this is refused
            with 413.
        policy: when a reveal request is granted (``configs/policy.yaml``
            by default).
        dask_scheduler: a Dask scheduler's address; runs then compare their
            LSH tables on its workers.
        token_lifetime: how long the tokens the service issues are valid
            (None: until revoked).
        lookup_rate: how many records each agency may look up a minute, and
            at once.
        lookup_policy: what a lookup's answer may say beyond the agency's
            own (the ``lookup`` block of the policy file).

    Raises:
        ValueError: ``max_upload_bytes`` or ``max_json_bytes`` is not a
            positive integer.
    """

    data_dir: Path
    database_url: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    policy: RevealPolicy = field(default=DEFAULT_POLICY)
    dask_scheduler: str | None = None
    token_lifetime: timedelta | None = None
    lookup_rate: LookupRate = field(default_factory=LookupRate)
    lookup_policy: LookupPolicy = DEFAULT_LOOKUP_POLICY

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        for name in ("max_upload_bytes", "max_json_bytes"):
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"{name!r} must be a positive integer (got {size!r})")
        lifetime = self.token_lifetime
        if lifetime is not None and lifetime <= timedelta(0):
            raise ValueError(f"'token_lifetime' must be positive (got {lifetime})")
        if self.dask_scheduler is not None:
            check_dask_address(self.dask_scheduler)

    @property
    def database(self) -> str:
        """The database URL in use: ``database_url`` or SQLite in ``data_dir``."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'linkage.db'}"

    @property
    def uploads_dir(self) -> Path:
        """Where accepted encodings files are kept, one folder per project."""
        return self.data_dir / "uploads"

    @property
    def operator_token_path(self) -> Path:
        """The file (mode 0600) holding the operator's token."""
        return self.data_dir / "operator.token"

    @property
    def signing_key_path(self) -> Path:
        """The service's Ed25519 private key (mode 0600): it signs grants and
        the audit log's heads."""
        return self.data_dir / "service-signing.key"

    @property
    def public_key_path(self) -> Path:
        """The service's public key, for agencies and oversight bodies to pin."""
        return self.data_dir / "service-signing.pub"
