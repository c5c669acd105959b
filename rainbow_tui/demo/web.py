"""The demo's HTTP server: the app's ``/up`` and the ``/_demo`` control API.

A stdlib ``ThreadingHTTPServer`` runs in a thread; every request that touches the
stack is handed to the supervisor's event loop with ``run_coroutine_threadsafe``,
so all state changes happen on one thread.

Routes (JSON in and out):

* ``GET  /up`` — 200 with Rails's green page, 500 with the red one when the service
  is broken or the app stopped, 502 from the proxy while the web containers crash-loop;
* ``GET  /_demo/state`` — drills, app state, versions, hosts' memory/CPU/disk, …;
* ``POST /_demo/drill/<name>`` / ``DELETE /_demo/drill/<name>`` — start / stop a drill;
* ``POST /_demo/kamal`` ``{"argv": [...]}`` → ``{"exit_code", "output"}``;
* ``POST /_demo/logs/inject`` ``{"host", "container", "data_b64"}`` — append raw bytes;
* ``POST /_demo/logs/rate`` ``{"lines_per_s", "host"?, "container"?}``;
* ``POST /_demo/ssh/stop`` / ``POST /_demo/ssh/start`` — drop SSH / listen again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

log = logging.getLogger("rainbow_tui.demo.web")

GREEN_PAGE = b'<!DOCTYPE html><html><body style="background-color: green"></body></html>'
RED_PAGE = b'<!DOCTYPE html><html><body style="background-color: red"></body></html>'
BAD_GATEWAY_PAGE = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
CONTROL_CALL_TIMEOUT = 120.0
MAX_BODY_BYTES = 16 * 1024 * 1024


class ControlError(Exception):
    """A control request that cannot be honoured; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DemoControl(Protocol):
    def app_healthy(self) -> bool: ...
    def up_status(self) -> int: ...
    async def state(self) -> dict[str, Any]: ...
    async def start_drill(self, name: str) -> dict[str, Any]: ...
    async def stop_drill(self, name: str) -> dict[str, Any]: ...
    async def kamal(self, argv: list[str]) -> dict[str, Any]: ...
    async def inject_log(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def set_log_rate(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def ssh_stop(self) -> dict[str, Any]: ...
    async def ssh_start(self) -> dict[str, Any]: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a console polls /up every few seconds
    server_version = "Thruster"  # what answers in front of Puma in a Rails 8 container
    sys_version = ""
    control: DemoControl
    loop: asyncio.AbstractEventLoop

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ControlError(413, "request body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ControlError(400, f"body is not JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise ControlError(400, "body must be a JSON object")
        return parsed

    def _call(self, make: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        async def runner() -> dict[str, Any]:
            return await make()

        future = asyncio.run_coroutine_threadsafe(runner(), self.loop)
        try:
            result = future.result(CONTROL_CALL_TIMEOUT)
        except ControlError as exc:
            self._send_json(exc.status, {"error": str(exc)})
            return
        except FutureTimeout:
            future.cancel()
            self._send_json(504, {"error": "the stack did not answer in time"})
            return
        except Exception as exc:
            log.exception("control request %s %s failed", self.command, self.path)
            self._send_json(500, {"error": f"{exc.__class__.__name__}: {exc}"})
            return
        self._send_json(200, result)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/up":
            status = self.control.up_status()
            page = {200: GREEN_PAGE, 502: BAD_GATEWAY_PAGE}.get(status, RED_PAGE)
            self._send(status, page, "text/html; charset=utf-8")
        elif path in ("/_demo/state", "/_demo", "/_demo/"):
            self._call(self.control.state)
        else:
            self._send_json(404, {"error": f"no route for GET {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._body()
        except ControlError as exc:
            self._send_json(exc.status, {"error": str(exc)})
            return
        if path.startswith("/_demo/drill/"):
            name = path.removeprefix("/_demo/drill/")
            self._call(lambda: self.control.start_drill(name))
        elif path == "/_demo/kamal":
            argv = body.get("argv")
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                self._send_json(400, {"error": 'expected {"argv": ["app", "boot"]}'})
                return
            self._call(lambda: self.control.kamal(argv))
        elif path == "/_demo/logs/inject":
            self._call(lambda: self.control.inject_log(body))
        elif path == "/_demo/logs/rate":
            self._call(lambda: self.control.set_log_rate(body))
        elif path == "/_demo/ssh/stop":
            self._call(self.control.ssh_stop)
        elif path == "/_demo/ssh/start":
            self._call(self.control.ssh_start)
        else:
            self._send_json(404, {"error": f"no route for POST {path}"})

    def do_DELETE(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/_demo/drill/"):
            name = path.removeprefix("/_demo/drill/")
            self._call(lambda: self.control.stop_drill(name))
        else:
            self._send_json(404, {"error": f"no route for DELETE {path}"})


class DemoWebServer:
    def __init__(self, control: DemoControl, loop: asyncio.AbstractEventLoop) -> None:
        handler = type("DemoHandler", (_Handler,), {"control": control, "loop": loop})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
            name="demo-http", daemon=True,
        )

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
