"""httpx calls for the tests, sharing one TLS context per process.

httpx otherwise builds a context for every client and every ``httpx.get``,
loading certifi's authorities each time (about 17 ms of CPU); the suite makes
thousands of them. A test that needs other trust passes its own ``verify``.
"""

from __future__ import annotations

from typing import Any

import httpx

from linkage.trusted_authorities import trusted_tls_context


def client(**options: Any) -> httpx.Client:
    """``httpx.Client(**options)`` with the shared TLS context."""
    options.setdefault("verify", trusted_tls_context())
    return httpx.Client(**options)


def request(method: str, url: str, **options: Any) -> httpx.Response:
    """``httpx.request(method, url, **options)`` with the shared TLS context."""
    options.setdefault("verify", trusted_tls_context())
    return httpx.request(method, url, **options)


def get(url: str, **options: Any) -> httpx.Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return request("POST", url, **options)


def put(url: str, **options: Any) -> httpx.Response:
    return request("PUT", url, **options)


def delete(url: str, **options: Any) -> httpx.Response:
    return request("DELETE", url, **options)
