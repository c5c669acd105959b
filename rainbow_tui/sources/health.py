"""The service's own health check (``GET /up``) and its TLS certificate.

httpx's timeouts bound each network operation (connect, one read, one write), not
the request: a server that sends one byte at a time, each before the read timeout,
would hold a poll for ever.  So the whole request, body included, and the
certificate probe beside it run under one deadline (``timeout_s``), and a timeout
says what the server had done by then: connected or not, headers or not, how many
bytes of the body it had sent.
"""

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
    # The deadline ran out: the server did not finish answering (slow or stalled).
    timed_out: bool = False

    @property
    def up(self) -> bool:
        return self.error is None and self.status == 200


def describe_ssl_error(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed: {error.verify_message}"
    return f"TLS error: {error.reason or error}"


# httpcore's trace steps of one request, in order.
_REQUEST_STEPS = frozenset(
    {
        "connect_tcp",
        "start_tls",
        "send_request_headers",
        "send_request_body",
        "receive_response_headers",
        "receive_response_body",
    }
)


class RequestProgress:
    """How far one request got, from httpcore's trace events and the body read."""

    def __init__(self, path: str, deadline_s: float) -> None:
        self.path = path
        self.deadline_s = deadline_s
        self.phase = "connect_tcp"
        self.body_bytes = 0

    async def trace(self, event: str, info: dict[str, object]) -> None:
        # Events read "connection.connect_tcp.started", "http11.receive_response_body.complete".
        # Closing after a failure emits events too ("response_closed"): only the
        # steps of the answer move the phase.
        name, _, stage = event.rpartition(".")
        step = name.rpartition(".")[2]
        if stage == "started" and step in _REQUEST_STEPS:
            self.phase = step

    def describe_timeout(self) -> str:
        """Why the request timed out, in words (one place for the sentences)."""
        # Whichever fired, httpx's per-operation timeout or the whole request's
        # deadline, it fired at the deadline: both are ``timeout_s``.
        head = f"timed out after {self.deadline_s:g} s"
        if self.phase == "connect_tcp":
            return f"{head}: no TCP connection"
        if self.phase == "start_tls":
            return f"{head}: the TLS handshake did not finish"
        if self.phase in ("send_request_headers", "send_request_body"):
            return f"{head}: the server did not take the request"
        if self.phase == "receive_response_headers":
            return f"{head}: {self.path} had not finished its response headers"
        if self.phase == "receive_response_body":
            sent = f"{self.body_bytes:,} bytes of its body"
            return f"{head}: {self.path} sent {sent} and had not finished"
        return head


def _describe_http_error(error: httpx.HTTPError) -> str:
    import httpx

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


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    timed_out: bool = False


class HealthSource:
    """Polls the health URL; the HTTP client is kept between polls.

    ``timeout_s`` is the deadline of a whole poll: the request with its body, and
    the TLS probe, which runs beside it.
    """

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def poll(self) -> HealthSnapshot:
        taken_at = datetime.now(UTC)
        try:
            parts = urlsplit(self.url)
        except ValueError as error:  # broken brackets: config validation names them first
            return HealthSnapshot(taken_at, self.url, error=f"invalid URL: {error}")
        if parts.scheme == "https":
            answer, (days_left, tls_error) = await asyncio.gather(
                self._request(), certificate_days_left(self.url, self.timeout_s)
            )
        else:
            answer, days_left, tls_error = await self._request(), None, None
        return HealthSnapshot(
            taken_at,
            self.url,
            answer.status,
            answer.latency_ms,
            answer.error,
            days_left,
            tls_error,
            answer.timed_out,
        )

    async def _request(self) -> _Answer:
        import httpx  # imported on first use: not needed for the first frame

        if self._client is None:
            # No redirects: /up answering with a redirect is itself a fault to show.
            self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        progress = RequestProgress(urlsplit(self.url).path or "/", self.timeout_s)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                request = self._client.build_request(
                    "GET", self.url, extensions={"trace": progress.trace}
                )
                response = await self._client.send(request, stream=True)
                try:
                    # The body is part of the answer: a drip of it is no answer yet.
                    async for chunk in response.aiter_raw():
                        progress.body_bytes += len(chunk)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return _Answer(error=progress.describe_timeout(), timed_out=True)
        except httpx.HTTPError as failure:
            return _Answer(error=_describe_http_error(failure))
        except httpx.InvalidURL as failure:
            return _Answer(error=f"invalid URL: {failure}")
        status = response.status_code
        latency = (time.perf_counter() - started) * 1000
        return _Answer(status, latency, None if status == 200 else f"HTTP {status}")

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
        # Connect and handshake under one deadline.
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host
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
