"""Local stand-ins for PagerDuty's Events API v2 and Slack, on 127.0.0.1.

Real HTTP servers (``http.server`` in a thread) that check what they are sent the
way the services document it and answer in their published shapes: PagerDuty
(developer.pagerduty.com, Events API v2 "Send an Alert Event") answers 202
``{"status": "success", "message": "Event processed", "dedup_key": …}`` or 400
``{"status": "invalid event", "message": "Event object is invalid", "errors": […]}``;
a Slack incoming webhook answers 200 ``ok`` or an error code with its status, and
``chat.postMessage`` answers ``{"ok": true, "channel": …, "ts": …}`` or ``{"ok":
false, "error": …}``.  A test can queue other answers (a 429 with ``Retry-After``,
a 500) that are given before the checked one.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# The severities, actions and fields PagerDuty's Events API v2 accepts.
PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_TOP_FIELDS = {"routing_key", "event_action", "dedup_key", "payload", "images", "links",
                 "client", "client_url"}
PD_PAYLOAD_FIELDS = {"summary", "source", "severity", "timestamp", "component", "group",
                     "class", "custom_details"}
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"  # 32 characters, as PagerDuty's are


def pagerduty_errors(body: Any) -> list[str]:
    """What PagerDuty would reject in ``body`` (empty: a valid event)."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    errors = [f"'{name}' is not a field of an event" for name in body if name not in PD_TOP_FIELDS]
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if action != "trigger" and not isinstance(dedup, str):
        errors.append("'dedup_key' is missing (required for acknowledge and resolve)")
    if dedup is not None and (not isinstance(dedup, str) or not 0 < len(dedup) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing"]
        errors += [f"'payload.{n}' is not a field" for n in payload if n not in PD_PAYLOAD_FIELDS]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
            errors.append("'payload.summary' must be 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errors.append("'payload.source' is missing")
        if payload.get("severity") not in PD_SEVERITIES:
            errors.append("'payload.severity' is invalid")
        for name in ("timestamp", "component", "group", "class"):
            if name in payload and not isinstance(payload[name], str):
                errors.append(f"'payload.{name}' must be a string")
        if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
            errors.append("'payload.custom_details' must be an object")
        for link in body.get("links", []):
            if not isinstance(link, dict) or set(link) - {"href", "text"} or "href" not in link:
                errors.append("'links' entries are {href, text}")
    return errors


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """One server: what it received, and the answers queued before its own."""

    def __init__(self, kind: str, *, token: str = "", channels: tuple[str, ...] = ()) -> None:
        self.kind = kind  # "pagerduty", "webhook" or "slack-api"
        self.token = token
        self.channels = channels
        self.received: list[Received] = []
        self.queued: deque[Answer] = deque()
        self.lock = threading.Lock()
        self.url = ""

    def queue(self, status: int, body: str = "", **headers: str) -> None:
        with self.lock:
            self.queued.append(Answer(status, body.encode(), {k.replace("_", "-"): v
                                                              for k, v in headers.items()}))

    def answer(self, received: Received) -> Answer:
        with self.lock:
            self.received.append(received)
            if self.queued:
                return self.queued.popleft()
        if self.kind == "pagerduty":
            return self._pagerduty(received)
        if self.kind == "webhook":
            return self._webhook(received)
        return self._slack_api(received)

    def _pagerduty(self, received: Received) -> Answer:
        try:
            body = received.json()
        except ValueError:
            body = None
        errors = pagerduty_errors(body)
        if errors:
            return _json(400, {"status": "invalid event", "message": "Event object is invalid",
                               "errors": errors})
        return _json(202, {"status": "success", "message": "Event processed",
                           "dedup_key": body.get("dedup_key") or "generated"})

    def _webhook(self, received: Received) -> Answer:
        try:
            body = received.json()
        except ValueError:
            return Answer(400, b"invalid_payload")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return Answer(400, b"no_text")
        return Answer(200, b"ok")

    def _slack_api(self, received: Received) -> Answer:
        if received.headers.get("authorization") != f"Bearer {self.token}":
            return _json(200, {"ok": False, "error": "invalid_auth"})
        body = received.json()
        if body.get("channel") not in self.channels:
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list):
            return _json(200, {"ok": False, "error": "no_text"})
        return _json(200, {"ok": True, "channel": "C0RAINBOW", "ts": "1700000000.000100",
                           "message": {"text": body["text"]}})

    def bodies(self) -> list[Any]:
        with self.lock:
            return [received.json() for received in self.received]


def _json(status: int, value: Any) -> Answer:
    return Answer(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


def _handler(stand_in: StandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            answer = stand_in.answer(received)
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving(stand_in: StandIn, path: str = "/") -> Iterator[StandIn]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(stand_in))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
