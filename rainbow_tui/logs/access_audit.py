"""The access-log audit's tally: requests by client, failed authentication, probes.

A request's client comes from where the request is counted (``[logs]
count_requests_from``): kamal-proxy's request lines carry it (``client.ip`` in the
ECS form, ``client_addr`` / ``remote_addr`` in the flat slog form of
basecamp/kamal-proxy's internal/server/logging_middleware.go); Rails' ``Started
GET "/x" for 1.2.3.4 at …`` line carries ``request.remote_ip``, and its status is
on the ``Completed`` line of the same request id (ActionDispatch's
log_subscriber / Rails::Rack::Logger).  A Started line with no Completed in the
window (an unrescued routing error, a request still running) counts as a request
of that client with no status.

Nothing of a line is kept but its counts, so a day of logs costs counters, not
lines.  What is suspicious (one client's 401/403s, probes of paths a Rails API
never serves, a burst of 404s) is judged against ``[access_audit]``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rainbow_tui.config import AccessAuditConfig
from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import LogKind, LogLine
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

__all__ = [
    "AccessReport",
    "AccessTally",
    "ClientCount",
    "FailedAuth",
    "Suspect",
    "client_of_proxy_line",
    "client_of_started",
]

_STARTED_CLIENT = LazyPattern(r'Started [A-Z]+ ".*" for (\S+)(?: at .*)?')
# Where kamal-proxy's request line names the client, most specific first.
_PROXY_CLIENT_KEYS = (("client", "ip"), ("client.ip",), ("client_addr",), ("remote_addr",))
FAILED_AUTH = frozenset({401, 403})
SuspectReason = Literal["failed_auth", "probes", "not_found"]


def client_of_started(message: str) -> str | None:
    """The client address of a Rails ``Started`` line's message."""
    match = _STARTED_CLIENT.fullmatch(message.lstrip(" "))
    return match.group(1) if match is not None else None


def client_of_proxy_line(raw: str) -> str | None:
    """The client address of a kamal-proxy request line (its JSON text)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    for path in _PROXY_CLIENT_KEYS:
        value: object = document
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return make_inert(value)
    return None


def _path_only(path: str) -> str:
    return path.split("?", 1)[0] or "/"


@dataclass(frozen=True, slots=True)
class ClientCount:
    client: str
    requests: int


@dataclass(frozen=True, slots=True)
class FailedAuth:
    """A client's 401s or 403s on one path."""

    client: str
    status: int
    method: str
    path: str
    count: int


@dataclass(frozen=True, slots=True)
class Suspect:
    """A client past a line of ``[access_audit]``: why, how many, on which paths."""

    client: str
    reason: SuspectReason
    count: int
    threshold: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessReport:
    requests: int
    clients: int
    failed_auth: int
    not_found: int
    probes: int
    top_clients: tuple[ClientCount, ...]
    failed_by_client: tuple[FailedAuth, ...]
    suspects: tuple[Suspect, ...]


@dataclass
class _Pending:
    """A Rails request seen Started, waiting for its Completed line."""

    client: str
    method: str
    path: str


@dataclass
class AccessTally:
    """Counts of every request read; ``take`` one container's lines in order."""

    rules: AccessAuditConfig
    count_from: Literal["rails", "proxy"] = "rails"
    requests: Counter[str] = field(default_factory=Counter)
    failed: Counter[tuple[str, int, str, str]] = field(default_factory=Counter)
    not_found: Counter[str] = field(default_factory=Counter)
    probes: Counter[str] = field(default_factory=Counter)
    probe_paths: dict[str, Counter[str]] = field(default_factory=dict)
    not_found_paths: dict[str, Counter[str]] = field(default_factory=dict)
    # Rails requests Started and not yet Completed, by container and request id.
    _pending: dict[tuple[str, str, str], _Pending] = field(default_factory=dict)
    _probe_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._probe_prefixes = tuple(path.lower() for path in self.rules.probe_paths)

    def is_probe(self, path: str) -> bool:
        return _path_only(path).lower().startswith(self._probe_prefixes)

    def add_request(self, client: str, method: str, path: str, status: int | None) -> None:
        path = _path_only(path)
        self.requests[client] += 1
        if self.is_probe(path):
            self.probes[client] += 1
            self.probe_paths.setdefault(client, Counter())[path] += 1
        if status in FAILED_AUTH:
            self.failed[(client, status, method, path)] += 1
        elif status == 404:
            self.not_found[client] += 1
            self.not_found_paths.setdefault(client, Counter())[path] += 1

    def take(self, lines: Iterable[LogLine]) -> None:
        if self.count_from == "proxy":
            self._take_proxy(lines)
        else:
            self._take_rails(lines)

    def _take_proxy(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            if not line.could_be(LogKind.PROXY_REQUEST) or line.kind is not LogKind.PROXY_REQUEST:
                continue
            client = client_of_proxy_line(line.raw)
            if client is not None:
                self.add_request(client, line.method or "", line.path or "/", line.status)

    def _take_rails(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            raw = line.raw
            # A substring test first: most lines are neither Started nor Completed.
            if "Started " in raw:
                if line.kind is not LogKind.RAILS_STARTED:
                    continue
                client = client_of_started(line.message)
                if client is None:
                    continue
                request_id = line.request_id
                if request_id is None:
                    # Nothing ties its Completed to it: a request without a status.
                    self.add_request(client, line.method or "", line.path or "/", None)
                else:
                    self._pending[(line.host, line.container, request_id)] = _Pending(
                        client, line.method or "", line.path or "/")
            elif "Completed " in raw and line.kind is LogKind.RAILS_COMPLETED:
                request_id = line.request_id
                if request_id is None:
                    continue
                started = self._pending.pop((line.host, line.container, request_id), None)
                if started is not None:
                    self.add_request(started.client, started.method, started.path, line.status)

    def finish(self) -> None:
        """Requests Started and never Completed within the window: counted, no status."""
        for started in self._pending.values():
            self.add_request(started.client, started.method, started.path, None)
        self._pending.clear()

    def merge(self, other: AccessTally) -> None:
        """``other``'s counts added to these (its pending requests stay its own)."""
        self.requests += other.requests
        self.failed += other.failed
        self.not_found += other.not_found
        self.probes += other.probes
        for mine, theirs in ((self.probe_paths, other.probe_paths),
                             (self.not_found_paths, other.not_found_paths)):
            for client, paths in theirs.items():
                mine.setdefault(client, Counter()).update(paths)

    def report(self) -> AccessReport:
        self.finish()
        rules = self.rules
        by_client: Counter[str] = Counter()
        for (client, _status, _method, _path), count in self.failed.items():
            by_client[client] += count
        suspects: list[Suspect] = []

        def paths_of(counter: Counter[str] | None) -> tuple[str, ...]:
            return tuple(path for path, _ in (counter or Counter()).most_common(5))

        failed_paths: dict[str, Counter[str]] = {}
        for (client, _status, _method, path), count in self.failed.items():
            failed_paths.setdefault(client, Counter())[path] += count
        for client, count in by_client.items():
            if count >= rules.failed_auth_per_client:
                suspects.append(Suspect(client, "failed_auth", count,
                                        rules.failed_auth_per_client,
                                        paths_of(failed_paths.get(client))))
        for client, count in self.probes.items():
            if count >= rules.probes_per_client:
                suspects.append(Suspect(client, "probes", count, rules.probes_per_client,
                                        paths_of(self.probe_paths.get(client))))
        for client, count in self.not_found.items():
            if count >= rules.not_found_per_client:
                suspects.append(Suspect(client, "not_found", count, rules.not_found_per_client,
                                        paths_of(self.not_found_paths.get(client))))
        suspects.sort(key=lambda suspect: (-suspect.count, suspect.client, suspect.reason))
        failed_rows = sorted(
            (FailedAuth(client, status, method, path, count)
             for (client, status, method, path), count in self.failed.items()),
            key=lambda row: (-row.count, row.client, row.path, row.status),
        )
        return AccessReport(
            requests=sum(self.requests.values()),
            clients=len(self.requests),
            failed_auth=sum(self.failed.values()),
            not_found=sum(self.not_found.values()),
            probes=sum(self.probes.values()),
            top_clients=tuple(ClientCount(client, count) for client, count in sorted(
                self.requests.items(), key=lambda item: (-item[1], item[0]))[:rules.top]),
            failed_by_client=tuple(failed_rows[:rules.top]),
            suspects=tuple(suspects),
        )
