"""The certificate authorities an HTTPS client of the service trusts.

httpx builds a new TLS context for every client it creates, loading all of
certifi's authorities each time (about 17 ms of CPU). The demo, the loopback
service's start-up wait and the tests each create many clients, so they share
one context per process. It makes httpx's own choice: the file named by
``SSL_CERT_FILE``, else the folder named by ``SSL_CERT_DIR``, else certifi's
bundle; changing either variable gives a new context.
"""

from __future__ import annotations

import functools
import os
import ssl

__all__ = ["trusted_tls_context"]


def trusted_tls_context() -> ssl.SSLContext:
    """The shared client context verifying servers as httpx does by default."""
    return _context(
        os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None
    )


@functools.cache
def _context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    if capath:
        return ssl.create_default_context(capath=capath)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())
