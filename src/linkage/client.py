"""Talk to a running `linkage serve` over HTTP, as the operator or as a party.

:class:`ServiceClient` wraps the service's API one method per action. Every
answer that is not a success raises :class:`ServiceError` carrying the
server's own ``detail`` (RFC 9457 problem+json) and its status, so the user
reads what the server said. The bearer token is sent in a header only: it is
never part of a message, a ``repr`` or a log line written here.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from linkage.atomic import private_output
from linkage.errors import LinkageError
from linkage.hosts import is_loopback_host
from linkage.reveal.approvals import (
    ApprovalError,
    RevealStatement,
    SignedApproval,
    sign_statements,
    statements_from_json,
)
from linkage.trusted_authorities import trusted_tls_context

__all__ = [
    "DEFAULT_SERVER",
    "MemberCreated",
    "ProjectCreated",
    "RunStatus",
    "ServiceClient",
    "ServiceError",
    "UploadAccepted",
    "decision_body",
]

DEFAULT_SERVER: Final = "http://127.0.0.1:8000"
UPLOAD_CHUNK_BYTES: Final = 1024 * 1024
FINISHED_STATES: Final = frozenset({"completed", "failed"})

Progress = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer advances."""


def decision_body(
    reason: str, approvals: Mapping[str, SignedApproval] | None = None
) -> dict[str, Any]:
    """The body of ``POST .../approve`` or ``.../deny``: the reason and, to
    approve, each agency's signed approval (``linkage reveal sign`` writes
    the same for the web console)."""
    body: dict[str, Any] = {"reason": reason}
    if approvals:
        body["approvals"] = [
            {"party": party, "approval": signed.to_json()}
            for party, signed in sorted(approvals.items())
        ]
    return body


class ServiceError(LinkageError):
    """The service refused a request, or could not be reached.

    Attributes:
        status: the HTTP status of the answer, or None when there was none.
        detail: the server's ``detail`` exactly as it sent it, when it sent one.
    """

    def __init__(
        self, message: str, *, status: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class ProjectCreated:
    """A new project and each party's token (shown by the server only once)."""

    id: int
    name: str
    party_tokens: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class MemberCreated:
    """A new investigator or approver and their token (shown only once)."""

    member_id: int
    name: str
    role: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class UploadAccepted:
    """What the service recorded for an accepted encodings upload."""

    project_id: int
    party: str
    version: int
    record_count: int
    format: str


@dataclass(frozen=True)
class RunStatus:
    """A run's state as the service reports it."""

    run_id: int
    project_id: int
    state: str
    progress: float = 0.0
    message: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """True once the run has completed or failed."""
        return self.state in FINISHED_STATES

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunStatus:
        """Read the service's run body; missing optional fields get defaults."""
        try:
            progress = body.get("progress")
            stats = body.get("stats")
            return cls(
                run_id=int(body["run_id"]),
                project_id=int(body["project_id"]),
                state=str(body["state"]),
                progress=float(progress) if progress is not None else 0.0,
                message=_optional_str(body.get("message")),
                created_at=_optional_str(body.get("created_at")),
                started_at=_optional_str(body.get("started_at")),
                finished_at=_optional_str(body.get("finished_at")),
                stats=dict(stats) if isinstance(stats, Mapping) else {},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ServiceError(
                f"the server's run status is not as expected (missing or bad "
                f"field {error}); is the client the same version as the server?"
            ) from None


def _segment(text: str) -> str:
    """``text`` as one URL path segment (a party name cannot add a path)."""
    return urllib.parse.quote(text, safe="")


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


ALLOW_HTTP_ENV: Final = "LINKAGE_ALLOW_HTTP"


def _loopback(server: str) -> bool:
    return is_loopback_host(urllib.parse.urlsplit(server).hostname or "")


class ServiceClient:
    """One server, one token: the operator's or a party's.

    Use it as a context manager, or call :meth:`close` when done.
    ``transport`` replaces the network (tests use ``httpx.MockTransport``).

    The token travels in every request, so plain ``http://`` is refused for
    any host but this machine's loopback, unless ``allow_http`` is true (or
    the ``LINKAGE_ALLOW_HTTP`` environment variable is ``1``): for a private
    network you trust, say.

    Raises:
        ServiceError: ``server`` is not an http(s) URL, is plain http to
            another machine, or ``token`` is empty or not a single line of
            ASCII text.
    """

    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        allow_http: bool | None = None,
    ) -> None:
        server = server.strip().rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise ServiceError(
                f"the server URL {server!r} must start with http:// or https://"
            )
        if allow_http is None:
            allow_http = os.environ.get(ALLOW_HTTP_ENV) == "1"
        if server.startswith("http://") and not allow_http and not _loopback(server):
            raise ServiceError(
                f"the server URL {server!r} is plain http to another machine: "
                "your token would cross the network unencrypted. Use https:// "
                f"(`linkage serve --ssl-certfile`, or a TLS proxy), or set "
                f"{ALLOW_HTTP_ENV}=1 if the network is private and you accept it"
            )
        token = token.strip()
        if not token or not token.isascii() or not token.isprintable():
            raise ServiceError(
                "the token is empty or not a single line of ASCII text; "
                "use the token file the service wrote"
            )
        self.server = server
        self._http = httpx.Client(
            base_url=server,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            verify=trusted_tls_context(),
        )

    def __repr__(self) -> str:
        return f"ServiceClient(server={self.server!r})"

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # Projects -----------------------------------------------------------------

    def create_project(
        self,
        name: str,
        *,
        schema_fingerprint: str,
        parties: Sequence[str],
        threshold: Literal["auto"] | float = "auto",
        dedup: bool = False,
        allow_clkhash_json: bool = False,
        retain_encodings: bool = False,
        method: Literal["clk", "probabilistic"] = "clk",
    ) -> ProjectCreated:
        """Create a project (operator token); returns each party's token.

        Unless ``retain_encodings``, the service deletes the project's
        encodings once its run has completed and every party has downloaded
        its results.
        """
        body = {
            "name": name,
            "schema_fingerprint": schema_fingerprint,
            "parties": list(parties),
            "threshold": threshold,
            "mode": "link-dedup" if dedup else "link",
            "method": method,
            "allow_clkhash_json": allow_clkhash_json,
            "retain_encodings": retain_encodings,
        }
        answer = self._json(self._request("POST", "/projects", json=body))
        try:
            tokens = answer["party_tokens"]
            return ProjectCreated(
                id=int(answer["id"]),
                name=str(answer["name"]),
                party_tokens={str(k): str(v) for k, v in tokens.items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _unexpected("project") from None

    def project(self, project_id: int) -> dict[str, Any]:
        """The project's settings, retention and upload state (operator or
        party token), as the service answers it."""
        return self._json(self._request("GET", f"/projects/{int(project_id)}"))

    def delete_encodings(self, project_id: int) -> dict[str, Any]:
        """Delete every encodings upload of the project now (operator token);
        returns how many uploads and records were deleted."""
        path = f"/projects/{int(project_id)}/encodings"
        return self._json(self._request("DELETE", path))

    # Uploads ------------------------------------------------------------------

    def upload(
        self,
        project_id: int,
        party: str,
        path: Path,
        progress: Progress | None = None,
    ) -> UploadAccepted:
        """Send ``path`` as ``party``'s encodings (party token), streamed.

        The file is read in chunks while it is sent, so memory stays flat
        whatever its size.

        Raises:
            ServiceError: the server refused the file or could not be reached.
            OSError: the file cannot be read.
        """
        answer = self._json(
            self._send_file(
                "PUT",
                f"/projects/{int(project_id)}/parties/{_segment(party)}/encodings",
                path,
                progress,
            )
        )
        try:
            return UploadAccepted(
                project_id=int(answer["project_id"]),
                party=str(answer["party"]),
                version=int(answer["version"]),
                record_count=int(answer["record_count"]),
                format=str(answer["format"]),
            )
        except (KeyError, TypeError, ValueError):
            raise _unexpected("upload") from None

    # Lookups ------------------------------------------------------------------

    def lookup(self, project_id: int, path: Path) -> dict[str, Any]:
        """Look up the records of the encodings file ``path`` (party token):
        the service's answer, ``{"project_id", "run_id", "results": [...]}``.

        Raises:
            ServiceError: the server refused the lookup (429: the agency's
                rate is used up) or could not be reached.
            OSError: the file cannot be read.
        """
        answer = self._json(
            self._request(
                "POST",
                f"/projects/{int(project_id)}/lookup",
                content=Path(path).read_bytes(),
                headers={"Content-Type": "application/octet-stream"},
            )
        )
        if not isinstance(answer.get("results"), list):
            raise _unexpected("lookup")
        return answer

    # Runs ---------------------------------------------------------------------

    def start_run(self, project_id: int, kind: str = "full") -> RunStatus:
        """Start matching the project's uploads (operator token); ``kind``
        ``update`` links the staged change sets in instead."""
        body = {} if kind == "full" else {"json": {"kind": kind}}
        return RunStatus.from_json(
            self._json(
                self._request("POST", f"/projects/{int(project_id)}/runs", **body)
            )
        )

    # Continuing linkage ---------------------------------------------------------

    def send_changes(
        self, project_id: int, path: Path, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Stage ``path`` (new and corrected records, an encodings file) as
        this party's change set (party token), streamed; return its counts.

        Raises:
            ServiceError: the server refused the file or could not be reached.
            OSError: the file cannot be read.
        """
        return self._json(
            self._send_file(
                "PUT", f"/projects/{int(project_id)}/changes", path, progress
            )
        )

    def withdraw(self, project_id: int, pseudonyms: Sequence[str]) -> dict[str, Any]:
        """Stage the withdrawal of this party's ``pseudonyms`` (party token)."""
        return self._json(
            self._request(
                "POST",
                f"/projects/{int(project_id)}/withdrawals",
                json={"pseudonyms": list(pseudonyms)},
            )
        )

    def staged_changes(self, project_id: int) -> dict[str, Any]:
        """This party's staged change set, as counts (party token)."""
        return self._json(self._request("GET", f"/projects/{int(project_id)}/changes"))

    def discard_changes(self, project_id: int) -> dict[str, Any]:
        """Discard this party's staged change set (party token)."""
        return self._json(
            self._request("DELETE", f"/projects/{int(project_id)}/changes")
        )

    def result_changes(self, project_id: int, out: Path) -> int:
        """Save what changed in this party's rows since its last download
        (CSV ``pseudonym,kind,match_id_before,match_id_after``) to ``out``;
        return the number of data rows."""
        lines = self._download(f"/projects/{int(project_id)}/results/changes", out)
        return max(lines - 1, 0)

    def run_status(self, project_id: int, run_id: int) -> RunStatus:
        """A run's current state."""
        path = f"/projects/{int(project_id)}/runs/{int(run_id)}"
        return RunStatus.from_json(self._json(self._request("GET", path)))

    def wait_for_run(
        self,
        project_id: int,
        run_id: int,
        *,
        timeout: float,
        poll: float = 1.0,
        progress: Callable[[RunStatus], None] | None = None,
    ) -> RunStatus:
        """Poll the run until it completes or fails; return its last status.

        ``progress`` is called with every status read. A failed run is
        returned, not raised: its ``message`` says why.

        Raises:
            ServiceError: the run has not finished after ``timeout`` seconds,
                or the server refused or could not be reached.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.run_status(project_id, run_id)
            if progress is not None:
                progress(status)
            if status.finished:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceError(
                    f"run {run_id} of project {project_id} is still {status.state} "
                    f"after {timeout:g} seconds; wait again later (the run goes on)"
                )
            time.sleep(min(poll, left))

    # Results ------------------------------------------------------------------

    def results(self, project_id: int, out: Path) -> int:
        """Save this party's results CSV to ``out`` (mode 0600, atomically).

        Returns the number of data rows written. Nothing is written if the
        server refuses or the transfer breaks off.
        """
        lines = self._download(f"/projects/{int(project_id)}/results", out)
        return max(lines - 1, 0)

    # Members, keys and the audit log -----------------------------------------

    def add_member(
        self, project_id: int, name: str, role: str, public_key: str | None = None
    ) -> MemberCreated:
        """Register an investigator (with their public key PEM) or an approver
        (operator token); returns their token, shown by the server only once."""
        body = {"name": name, "role": role, "public_key": public_key}
        answer = self._json(
            self._request("POST", f"/projects/{int(project_id)}/members", json=body)
        )
        try:
            return MemberCreated(
                member_id=int(answer["member_id"]),
                name=str(answer["name"]),
                role=str(answer["role"]),
                token=str(answer["token"]),
            )
        except (KeyError, TypeError, ValueError):
            raise _unexpected("member") from None

    def reissue_party_token(self, project_id: int, party: str) -> str:
        """Revoke a party's token(s) and return its new one (operator token)."""
        path = f"/projects/{int(project_id)}/parties/{_segment(party)}/token"
        answer = self._json(self._request("DELETE", path))
        return _token_of(answer, "party token")

    def reissue_member_token(self, project_id: int, member_id: int) -> str:
        """Revoke a member's token(s) and return their new one (operator token)."""
        path = f"/projects/{int(project_id)}/members/{int(member_id)}/token"
        answer = self._json(self._request("DELETE", path))
        return _token_of(answer, "member token")

    def revoke_member(self, project_id: int, member_id: int) -> None:
        """Revoke an investigator's or approver's token (operator token)."""
        path = f"/projects/{int(project_id)}/members/{int(member_id)}"
        self._request("DELETE", path)

    def service_key(self) -> tuple[str, str]:
        """The service's public key (PEM) and its key ID."""
        answer = self._json(self._request("GET", "/service-key"))
        try:
            return str(answer["public_key"]), str(answer["key_id"])
        except KeyError:
            raise _unexpected("service key") from None

    def export_audit(self, out: Path) -> int:
        """Save the audit log export to ``out`` (mode 0600, atomically); return
        the number of lines written."""
        return self._download("/audit/export", out)

    # Reveals ------------------------------------------------------------------

    def request_reveal(
        self,
        project_id: int,
        *,
        match_id: str,
        parties: Sequence[str],
        purpose: str,
        legal_basis: str,
        case_reference: str | None = None,
    ) -> dict[str, Any]:
        """Ask to reveal one match in the named agencies (investigator token)."""
        body = {
            "match_id": match_id,
            "parties": list(parties),
            "purpose": purpose,
            "legal_basis": legal_basis,
            "case_reference": case_reference,
        }
        return self._json(
            self._request("POST", f"/projects/{int(project_id)}/reveals", json=body)
        )

    def reveals(self, project_id: int) -> list[dict[str, Any]]:
        """The reveal requests this token may see, newest first."""
        response = self._request("GET", f"/projects/{int(project_id)}/reveals")
        return _json_list(response, "reveal requests")

    def reveal(self, project_id: int, request_id: int) -> dict[str, Any]:
        """A reveal request's state, decisions and grants."""
        path = f"/projects/{int(project_id)}/reveals/{int(request_id)}"
        return self._json(self._request("GET", path))

    def decide_reveal(
        self,
        project_id: int,
        request_id: int,
        decision: str,
        reason: str,
        approvals: Mapping[str, SignedApproval] | None = None,
    ) -> dict[str, Any]:
        """Approve or deny a request, with a reason (approver token); an
        approval carries the signed approval of each agency's statement
        (:meth:`approve_reveal` makes them)."""
        if decision not in ("approve", "deny"):
            raise ValueError(f"decision must be 'approve' or 'deny' (got {decision!r})")
        path = f"/projects/{int(project_id)}/reveals/{int(request_id)}/{decision}"
        body = decision_body(reason, approvals)
        return self._json(self._request("POST", path, json=body))

    def reveal_statements(
        self, project_id: int, request_id: int
    ) -> list[RevealStatement]:
        """What an approver signs to approve a request, one per agency."""
        path = f"/projects/{int(project_id)}/reveals/{int(request_id)}/statements"
        items = _json_list(self._request("GET", path), "statements")
        try:
            return statements_from_json(items)
        except ApprovalError:
            raise _unexpected("statements") from None

    def approve_reveal(
        self,
        project_id: int,
        request_id: int,
        reason: str,
        *,
        key: Ed25519PrivateKey,
        valid_for: timedelta,
        now: datetime,
        statements: Sequence[RevealStatement] | None = None,
    ) -> dict[str, Any]:
        """Sign each agency's statement of a request with the approver's own
        ``key`` (valid for ``valid_for`` from ``now``) and approve it.

        Give the ``statements`` the approver was shown, so that what is signed
        is what was read; without them they are fetched here.
        """
        if statements is None:
            statements = self.reveal_statements(project_id, request_id)
        approvals = sign_statements(
            statements, key, reason=reason, now=now, valid_for=valid_for
        )
        return self.decide_reveal(project_id, request_id, "approve", reason, approvals)

    def grants(self, project_id: int) -> list[dict[str, Any]]:
        """This agency's signed grants awaiting its answer (party token)."""
        response = self._request("GET", f"/projects/{int(project_id)}/grants")
        return _json_list(response, "grants")

    def fulfil_grant(
        self, project_id: int, grant_id: int, sealed: Mapping[str, str]
    ) -> dict[str, Any]:
        """Deliver the sealed disclosure for a grant (party token)."""
        path = f"/projects/{int(project_id)}/grants/{int(grant_id)}/fulfilment"
        return self._json(self._request("POST", path, json={"sealed": dict(sealed)}))

    def refuse_grant(
        self, project_id: int, grant_id: int, reason: str
    ) -> dict[str, Any]:
        """Refuse a grant, with the agency's reason (party token)."""
        path = f"/projects/{int(project_id)}/grants/{int(grant_id)}/refusal"
        return self._json(self._request("POST", path, json={"reason": reason}))

    def reveal_answers(self, project_id: int, request_id: int) -> dict[str, Any]:
        """The sealed answers of one's own request (investigator token)."""
        path = f"/projects/{int(project_id)}/reveals/{int(request_id)}/answers"
        return self._json(self._request("GET", path))

    def report_opened(
        self, project_id: int, request_id: int, error: str | None = None
    ) -> None:
        """Tell the service the answers were opened, or why they could not be."""
        path = f"/projects/{int(project_id)}/reveals/{int(request_id)}/opened"
        self._request("POST", path, json={"error": error})

    # Plumbing -----------------------------------------------------------------

    def _download(self, path: str, out: Path) -> int:
        """Stream ``path`` into ``out`` (0600, atomically); return its lines."""
        lines = 0
        last = b"\n"
        try:
            with self._http.stream("GET", path) as response:
                if not response.is_success:
                    response.read()
                    raise _refused(response)
                with private_output(Path(out)) as target:
                    for chunk in response.iter_bytes():
                        target.write(chunk)
                        lines += chunk.count(b"\n")
                        last = chunk[-1:] or last
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        return lines + (0 if last == b"\n" else 1)

    def _send_file(
        self, method: str, url: str, path: Path, progress: Progress | None
    ) -> httpx.Response:
        """Stream the file ``path`` as the body, read in chunks while it is
        sent, so memory stays flat whatever its size."""
        path = Path(path)
        total = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            done = 0
            with path.open("rb") as source:
                while chunk := source.read(UPLOAD_CHUNK_BYTES):
                    done += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(done, total)

        return self._request(
            method,
            url,
            content=chunks(),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(total),
            },
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise self._unreachable(error) from None
        if not response.is_success:
            raise _refused(response)
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServiceError(
                f"the server at {self.server} did not answer with JSON; "
                "is this URL a linkage service?",
                status=response.status_code,
            )
        return body

    def _unreachable(self, error: httpx.TransportError) -> ServiceError:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return ServiceError(
                f"could not reach the linkage server at {self.server} ({error}); "
                "check that `linkage serve` is running there and the URL is right"
            )
        if isinstance(error, httpx.TimeoutException):
            return ServiceError(
                f"the linkage server at {self.server} did not answer in time "
                f"({type(error).__name__}); try again, or check the server's log"
            )
        return ServiceError(
            f"the connection to the linkage server at {self.server} failed "
            f"({type(error).__name__}: {error}); try again"
        )


def _refused(response: httpx.Response) -> ServiceError:
    """The error for a non-2xx answer, with the server's detail verbatim."""
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    detail: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        detail = body["detail"]
    if detail is None:
        return ServiceError(
            f"the server answered {status} {phrase} without an explanation",
            status=status,
        )
    return ServiceError(
        f"the server answered {status} {phrase}: {detail}",
        status=status,
        detail=detail,
    )


def _json_list(response: httpx.Response, what: str) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise _unexpected(what)
    return [item for item in body if isinstance(item, dict)]


def _unexpected(what: str) -> ServiceError:
    return ServiceError(
        f"the server's {what} answer is not as expected; "
        "is the client the same version as the server?"
    )


def _token_of(answer: Mapping[str, Any], what: str) -> str:
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        raise _unexpected(what)
    return token
