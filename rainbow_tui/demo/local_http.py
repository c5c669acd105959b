"""The plumbing the demo's SaaS stand-ins share (Sentry, GitHub, S3): an HTTP server
on a free port of 127.0.0.1, served from a daemon thread, and a JSON answer.

What each service answers stays in its own stand-in; this is only how it is served,
so that the three cannot drift apart in how they start, stop or frame a reply.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

__all__ = ["LocalHTTPServer", "QuietHandler", "reply_json", "request_parts"]

# Short enough that stop() returns at once, long enough not to spin on an idle demo.
POLL_INTERVAL_S = 0.2
JOIN_TIMEOUT_S = 5.0


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as the services answer; the request lines go to the
    stand-in's logger at debug instead of stderr (they would draw over the console)."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    log: ClassVar[logging.Logger] = logging.getLogger("rainbow_tui.demo")

    def log_message(self, format: str, *args: Any) -> None:
        self.log.debug("%s " + format, self.address_string(), *args)


def request_parts(handler: BaseHTTPRequestHandler
                  ) -> tuple[str, dict[str, list[str]], dict[str, str], str]:
    """A GET as the JSON stand-ins read it: the path, the query (blank values kept,
    as the services see ``?cursor=``), the headers by lower-case name, and the URL
    the client asked for (its Host, so that Link headers point back at it)."""
    parts = urlsplit(handler.path)
    host = handler.headers.get("Host", "127.0.0.1")
    return (parts.path, parse_qs(parts.query, keep_blank_values=True),
            {name.lower(): value for name, value in handler.headers.items()},
            f"http://{host}{parts.path}")


def reply_json(handler: BaseHTTPRequestHandler, status: int, body: Any,
               headers: Mapping[str, str] | None = None,
               content_type: str = "application/json") -> None:
    """One whole answer: the status, its Content-Type and Content-Length, then
    ``headers`` in their order, then ``body`` as JSON (``bytes`` are sent as they
    are: a test's broken answer)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


class LocalHTTPServer:
    """A ThreadingHTTPServer on 127.0.0.1 and a port the system picks, so that any
    number of demos and tests run side by side."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._handler = handler
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve from a daemon thread (it never holds the process open); the base URL."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL_S},
                                        name=self._name, daemon=True)
        self._thread.start()
        return self.base_url()

    def base_url(self) -> str:
        assert self._server is not None, "the server is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
