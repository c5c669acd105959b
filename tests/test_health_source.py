"""The health source against real HTTP(S) servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rainbow_tui.sources.health import HealthSource


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    delay_s = 0.0

    def do_GET(self) -> None:
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html><body style='background-color: green'></body></html>")

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[_Handler], context: ssl.SSLContext | None = None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/up"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def healthy() -> Iterator[str]:
    yield from _serve(type("Ok", (_Handler,), {"status": 200}))


@pytest.fixture
def failing() -> Iterator[str]:
    yield from _serve(type("Broken", (_Handler,), {"status": 500}))


@pytest.fixture
def slow() -> Iterator[str]:
    yield from _serve(type("Slow", (_Handler,), {"delay_s": 2.0}))


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    yield from _serve(_Handler, context)


async def test_healthy(healthy: str) -> None:
    source = HealthSource(healthy, timeout_s=2)
    snapshot = await source.poll()
    await source.close()
    assert snapshot.up and snapshot.status == 200
    assert snapshot.latency_ms is not None and snapshot.latency_ms > 0
    assert snapshot.tls_days_left is None  # plain http has no certificate


async def test_non_200_named(failing: str) -> None:
    source = HealthSource(failing, timeout_s=2)
    snapshot = await source.poll()
    await source.close()
    assert not snapshot.up
    assert snapshot.error == "HTTP 500"


async def test_timeout_named(slow: str) -> None:
    source = HealthSource(slow, timeout_s=0.3)
    snapshot = await source.poll()
    await source.close()
    assert snapshot.error == "timed out after 0.3 s: /up had not finished its response headers"
    assert snapshot.timed_out


async def test_unreachable_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = HealthSource(f"http://127.0.0.1:{port}/up", timeout_s=1)
    snapshot = await source.poll()
    await source.close()
    assert snapshot.error is not None and snapshot.error.startswith("unreachable")


async def test_tls_error_named(self_signed: str) -> None:
    source = HealthSource(self_signed, timeout_s=2)
    snapshot = await source.poll()
    await source.close()
    assert snapshot.error is not None and snapshot.error.startswith("TLS error")
    assert "certificate verify failed" in snapshot.error
    assert snapshot.tls_error is not None and snapshot.tls_days_left is None


async def test_silent_tls_server_times_out_request_and_probe_together() -> None:
    """A server that accepts TCP and never answers the TLS handshake: the request
    and the certificate probe, run side by side, both end at the one deadline."""
    import asyncio

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    source = HealthSource(f"https://127.0.0.1:{port}/up", timeout_s=1)
    try:
        snapshot = await asyncio.wait_for(source.poll(), 60)
    finally:
        await source.close()
        for writer in accepted:
            writer.close()
        server.close()
    assert snapshot.timed_out
    assert snapshot.error == "timed out after 1 s: the TLS handshake did not finish"
    assert snapshot.tls_error == "TLS handshake timed out after 1 s"
    assert snapshot.tls_days_left is None
