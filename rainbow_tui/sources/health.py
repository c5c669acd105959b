"""The service's own health check (``GET /up``) and its TLS certificate."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    taken_at: datetime
    url: str
    status: int | None = None
    latency_ms: float | None = None
    # Why /up is not healthy, in words: "unreachable: …", "timed out after 5 s", "HTTP 500".
    error: str | None = None
    tls_days_left: float | None = None
    tls_error: str | None = None

    @property
    def up(self) -> bool:
        return self.error is None and self.status == 200


def describe_ssl_error(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed: {error.verify_message}"
    return f"TLS error: {error.reason or error}"


def _describe_http_error(error: httpx.HTTPError, timeout_s: float) -> str:
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return f"timed out after {timeout_s:g} s"
    # httpx wraps httpcore's error, which wraps the ssl module's: walk the chain.
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return describe_ssl_error(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.ConnectError):
        # The socket's own error, deepest in the chain, says most.
        link: BaseException | None = error
        while link is not None:
            if isinstance(link, ConnectionRefusedError):
                return "unreachable: connection refused"
            if isinstance(link, OSError) and link.strerror:
                return f"unreachable: {link.strerror}"
            link = link.__cause__ or link.__context__
        return f"unreachable: {error or type(error).__name__}"
    return f"{type(error).__name__}: {error}"


class HealthSource:
    """Polls the health URL; the HTTP client is kept between polls."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def poll(self) -> HealthSnapshot:
        import httpx  # imported on first use: not needed for the first frame

        taken_at = datetime.now(UTC)
        if self._client is None:
            # No redirects: /up answering with a redirect is itself a fault to show.
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        started = time.perf_counter()
        status: int | None = None
        latency: float | None = None
        try:
            response = await self._client.get(self.url)
            latency = (time.perf_counter() - started) * 1000
            status = response.status_code
            error = None if status == 200 else f"HTTP {status}"
        except httpx.HTTPError as failure:
            error = _describe_http_error(failure, self.timeout_s)
        days_left: float | None = None
        tls_error: str | None = None
        if urlsplit(self.url).scheme == "https":
            days_left, tls_error = await certificate_days_left(self.url, self.timeout_s)
        return HealthSnapshot(taken_at, self.url, status, latency, error, days_left, tls_error)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def certificate_days_left(url: str, timeout_s: float) -> tuple[float | None, str | None]:
    """Days until the server certificate of ``url``'s host expires, or why unknown."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    context = ssl.create_default_context()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout_s
        )
    except TimeoutError:
        return None, f"TLS handshake timed out after {timeout_s:g} s"
    except ssl.SSLError as error:
        return None, describe_ssl_error(error)
    except OSError as error:
        return None, f"unreachable: {error.strerror or error}"
    try:
        certificate = writer.get_extra_info("peercert") or {}
        not_after = certificate.get("notAfter")
        if not isinstance(not_after, str):
            return None, "certificate has no expiry date"
        expires = ssl.cert_time_to_seconds(not_after)
        return (expires - time.time()) / 86400, None
    finally:
        writer.close()
