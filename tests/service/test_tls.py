"""`linkage serve --ssl-certfile --ssl-keyfile` serves HTTPS: a real server
process on loopback with a certificate made here, reached by the client."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from linkage.client import ServiceClient, ServiceError
from linkage.trusted_authorities import trusted_tls_context
from tests import http_calls


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "linkage test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_speaks_https_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    port = _free_port()
    data_dir = tmp_path / "data"
    linkage = str(Path(sys.executable).parent / "linkage")
    server = subprocess.Popen(
        [linkage, "serve", "--data-dir", str(data_dir), "--port", str(port),
         "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    try:
        answer = _wait_for(f"{url}/health", cert)
        assert answer.status_code == 200
        os.environ["SSL_CERT_FILE"] = str(cert)
        try:
            token = (data_dir / "operator.token").read_text().strip()
            with ServiceClient(url, token) as client:
                assert client.service_key()[1]
        finally:
            del os.environ["SSL_CERT_FILE"]
        # The clients' shared TLS context follows the variable: without it
        # the self-signed certificate is refused again.
        with (
            ServiceClient(url, token) as client,
            pytest.raises(ServiceError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.service_key()
        _console_cookies_are_secure(url, cert, token)
        # Plain http on the same port gets no answer it could mistake for one.
        try:
            plain = http_calls.get(f"http://127.0.0.1:{port}/health", timeout=5)
        except httpx.HTTPError:
            pass
        else:
            assert plain.status_code == 400
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"Serving on https://127.0.0.1:{port}" in output


def _console_cookies_are_secure(url: str, cert: Path, token: str) -> None:
    """Over TLS, the web console's cookies are Secure (and still HttpOnly,
    SameSite=Strict)."""
    trusted = ssl.create_default_context(cafile=str(cert))
    with http_calls.client(base_url=url, verify=trusted, timeout=10) as browser:
        form = browser.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        login = browser.post(
            "/console/login", data={"csrf": csrf.group(1), "token": token}
        )
        assert login.status_code == 303
    cookies = [form.headers["set-cookie"], *login.headers.get_list("set-cookie")]
    session = [c for c in cookies if c.startswith("linkage_console=")]
    assert session and all(
        "; Secure" in c and "HttpOnly" in c and "SameSite=strict" in c for c in cookies
    ), cookies


def _wait_for(url: str, cert: Path) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            trusted = ssl.create_default_context(cafile=str(cert))
            return http_calls.get(url, verify=trusted, timeout=5)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_clients_share_one_tls_context_per_process() -> None:
    # Built once: loading certifi's authorities costs each new client ~17 ms.
    assert trusted_tls_context() is trusted_tls_context()
    assert trusted_tls_context().verify_mode is ssl.CERT_REQUIRED
    assert trusted_tls_context().check_hostname
