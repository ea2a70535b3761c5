"""What the service tests share: creating a project as the operator, checking
a problem answer."""

from __future__ import annotations

import itertools
from typing import Protocol

import httpx

DEFAULT_FINGERPRINT = "a" * 64
_names = itertools.count()


class ServiceUnderTest(Protocol):
    """A running service the tests can talk to."""

    operator_token: str

    def client(self, token: str | None = None) -> httpx.Client: ...


def create_project(
    service: ServiceUnderTest,
    fingerprint: str = DEFAULT_FINGERPRINT,
    parties: tuple[str, ...] = ("police", "health"),
    **extra: object,
) -> tuple[int, dict[str, str]]:
    """Create a project as the operator; return its id and the party tokens."""
    body = {
        "name": f"project-{next(_names)}",
        "schema_fingerprint": fingerprint,
        "parties": list(parties),
        "threshold": "auto",
        "mode": "link",
        **extra,
    }
    with service.client(service.operator_token) as client:
        response = client.post("/projects", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["id"], created["party_tokens"]


def assert_problem(response: httpx.Response, status: int) -> str:
    """Check the RFC 9457 shape and return the detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    assert body["detail"]
    return str(body["detail"])
