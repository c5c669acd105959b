"""Container log streams: what ``docker logs`` of each stand-in container shows.

Each running container has a :class:`LogStream`, a bounded history of
``(timestamp_ns, raw bytes)`` entries with strictly increasing timestamps, so that
``--tail N`` and ``--since`` select exactly, and followers are woken when entries
arrive.  :class:`LogHub` fills the streams at a configurable rate (lines per second
per container) from line sources that write the formats of DESIGN.md §2 and react
to the current :class:`~rainbow_tui.demo.faults.FaultState`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from rainbow_tui.demo.containers import SERVICE, Container
from rainbow_tui.demo.faults import FaultState

log = logging.getLogger("rainbow_tui.demo.loggen")

DEFAULT_LOG_RATE = 5.0  # lines per second per container
DEFAULT_HISTORY = 100_000  # entries kept per container (10 s at 10 000 lines/s)
TICK_SECONDS = 0.1
_JST = timezone(timedelta(hours=9))

LogEntry = tuple[int, bytes]  # (UTC timestamp in ns, raw bytes including the newline)


# -- timestamps ---------------------------------------------------------------------


class _SecondCache:
    """Formatting a date is the slow part of a log line; reuse it within a second."""

    def __init__(self, fmt: Callable[[int], str]) -> None:
        self._fmt = fmt
        self._second = -1
        self._text = ""

    def __call__(self, second: int) -> str:
        if second != self._second:
            self._second = second
            self._text = self._fmt(second)
        return self._text


_utc_second = _SecondCache(
    lambda s: datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S")
)
_jst_second = _SecondCache(
    lambda s: datetime.fromtimestamp(s, _JST).strftime("%Y-%m-%dT%H:%M:%S")
)
_pg_second = _SecondCache(
    lambda s: datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%d %H:%M:%S")
)


def docker_timestamp(ts_ns: int) -> str:
    """Docker's ``--timestamps`` prefix: RFC 3339 UTC with exactly nine fraction digits."""
    second, fraction = divmod(ts_ns, 1_000_000_000)
    return f"{_utc_second(second)}.{fraction:09d}Z"


def rails_started_at(ts_ns: int) -> str:
    """Rails' "Started … at" time: the app's zone (Asia/Tokyo), whole seconds."""
    return _jst_second(ts_ns // 1_000_000_000).replace("T", " ") + " +0900"


def ruby_logger_time(ts_ns: int) -> str:
    second, fraction = divmod(ts_ns, 1_000_000_000)
    return f"{_jst_second(second)}.{fraction // 1000:06d}"


def postgres_log_time(ts_ns: int) -> str:
    second, fraction = divmod(ts_ns, 1_000_000_000)
    return f"{_pg_second(second)}.{fraction // 1_000_000:03d} UTC"


# -- streams ------------------------------------------------------------------------


class LogStream:
    """The bounded log history of one container, plus wake-ups for followers."""

    def __init__(self, container_id: str, capacity: int = DEFAULT_HISTORY) -> None:
        self.container_id = container_id
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self.appended = 0  # entries ever appended; an entry's sequence number is its index
        self.last_ts = 0
        self.closed = False
        self._arrived = asyncio.Event()

    def _wake(self) -> None:
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def next_timestamp(self, wanted_ns: int) -> int:
        """Timestamps stay strictly increasing, so ``--since`` never splits a tie."""
        return wanted_ns if wanted_ns > self.last_ts else self.last_ts + 1

    def append_many(self, items: list[LogEntry]) -> None:
        if not items:
            return
        self.entries.extend(items)
        self.appended += len(items)
        self.last_ts = items[-1][0]
        self._wake()

    def append_raw(self, data: bytes) -> int:
        ts = self.next_timestamp(time.time_ns())
        self.append_many([(ts, data)])
        return ts

    def close(self) -> None:
        self.closed = True
        self._wake()

    @property
    def first_seq(self) -> int:
        return self.appended - len(self.entries)

    def select(
        self,
        tail: int | None = None,
        since_ns: int | None = None,
        since_inclusive: bool = True,
        until_ns: int | None = None,
    ) -> tuple[list[LogEntry], int]:
        """Entries as ``docker logs`` picks them, and the sequence number to follow from."""
        next_seq = self.appended
        if since_ns is None and until_ns is None:
            if tail is None:
                return list(self.entries), next_seq
            if tail <= 0:
                return [], next_seq
            chosen = list(itertools.islice(reversed(self.entries), tail))
            chosen.reverse()
            return chosen, next_seq
        picked: list[LogEntry] = []
        # Walk back from the newest entry: recent --since windows stay cheap.
        for entry in reversed(self.entries):
            ts = entry[0]
            if since_ns is not None and (ts < since_ns or (ts == since_ns and not since_inclusive)):
                break
            if until_ns is not None and ts > until_ns:
                continue
            picked.append(entry)
            if tail is not None and len(picked) >= tail:
                break
        picked.reverse()
        if tail is not None and tail <= 0:
            picked = []
        return picked, next_seq

    def read_from(self, seq: int) -> tuple[list[LogEntry], int]:
        """Entries from sequence number ``seq`` on; a follower that fell behind the
        bounded history skips to the oldest entry still kept."""
        count = self.appended - max(seq, self.first_seq)
        if count <= 0:
            return [], self.appended
        items = list(itertools.islice(reversed(self.entries), count))
        items.reverse()
        return items, self.appended

    async def wait_beyond(self, seq: int, at_most_seconds: float) -> None:
        if self.appended > seq or self.closed:
            return
        try:
            await asyncio.wait_for(self._arrived.wait(), at_most_seconds)
        except TimeoutError:
            return


# -- line sources -------------------------------------------------------------------


@dataclass
class LogContext:
    """What the line sources may look at besides the faults."""

    faults: FaultState
    app_running: Callable[[], bool]
    current_version: Callable[[], str]
    # The app's error tracker (sentry-ruby): exception class, message, culprit, when.
    report_exception: Callable[[str, str, str, float], None] | None = None

    def report(self, exception: tuple[str, str, tuple[str, ...]], culprit: str,
               ts_ns: int) -> None:
        if self.report_exception is not None:
            self.report_exception(exception[0], exception[1], culprit, ts_ns / 1e9)


def _request_id(rng: random.Random) -> str:
    bits = rng.getrandbits(128)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:]}"


def _client_ip(rng: random.Random) -> str:
    prefix = rng.choice(("203.0.113", "198.51.100", "192.0.2"))
    return f"{prefix}.{rng.randint(2, 254)}"


@dataclass(frozen=True)
class _Endpoint:
    method: str
    path: str
    action: str
    status: int
    weight: int


_ENDPOINTS = (
    _Endpoint("GET", "/api/v1/rainbows", "Api::V1::RainbowsController#index", 200, 40),
    _Endpoint("GET", "/api/v1/rainbows/{id}", "Api::V1::RainbowsController#show", 200, 20),
    _Endpoint("POST", "/api/v1/sightings", "Api::V1::SightingsController#create", 201, 10),
    _Endpoint("GET", "/api/v1/forecast", "Api::V1::ForecastsController#show", 200, 15),
    _Endpoint("GET", "/api/v1/rainbows/heatmap", "Api::V1::RainbowsController#heatmap", 200, 8),
    _Endpoint("PATCH", "/api/v1/devices/{token}", "Api::V1::DevicesController#update", 204, 4),
    _Endpoint("GET", "/api/v1/me", "Api::V1::ProfilesController#show", 304, 3),
    # A device whose token expired or was revoked: the API answers 401 until it
    # signs in again (a few in any hour, for the access-log audit to list).
    _Endpoint("GET", "/api/v1/me", "Api::V1::ProfilesController#show", 401, 2),
)
_ENDPOINT_WEIGHTS = [e.weight for e in _ENDPOINTS]
_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found",
    500: "Internal Server Error", 502: "Bad Gateway",
}
_USER_AGENTS = (
    "RainbowSeeker/2.3.1 (iPhone; iOS 18.1; Scale/3.00)",
    "RainbowSeeker/2.3.1 (Android 15; Pixel 8)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15",
)


@dataclass
class _Request:
    """One HTTP request as both Rails and kamal-proxy will report it."""

    request_id: str
    method: str
    path: str
    query: str
    action: str
    status: int
    duration_ms: float
    client_ip: str
    exception: tuple[str, str, tuple[str, ...]] | None = None  # class, message, backtrace
    slow_query: bool = False


_NAME_ERROR = (
    "NameError",
    "uninitialized constant Api::V1::RainbowsController::RainbowScorer",
    (),
)
_POOL_TIMEOUT = (
    "ActiveRecord::ConnectionTimeoutError",
    "could not obtain a connection from the pool within 5.000 seconds (waited 5.002 seconds); "
    "all pooled connections were in use",
    (
        "activerecord (8.0.1) lib/active_record/connection_adapters/abstract/connection_pool/"
        "queue.rb:128:in `block in wait_poll'",
    ),
)
# The weather provider times out; the controller serves the cached forecast and
# reports the exception (Sentry.capture_exception): the request still succeeds.
FORECAST_TIMEOUT = (
    "Faraday::TimeoutError",
    "Net::ReadTimeout with #<TCPSocket:(closed)>",
    ("app/services/forecast_client.rb:22:in `fetch'",),
)
_STALE_CONNECTION = (
    "ActiveRecord::ConnectionNotEstablished",
    "PG::ConnectionBad: PQconsumeInput() server closed the connection unexpectedly\n"
    "\tThis probably means the server terminated abnormally\n"
    "\tbefore or while processing the request.",
    ("app/models/rainbow_sighting.rb:31:in `nearby'",),
)


# The internet's background noise: now and then a scanner runs its list of paths
# no Rails API serves; the app's catch-all route answers 404.
SCANNER_IP = "192.0.2.66"
SCANNER_PATHS = ("/wp-login.php", "/.env", "/phpmyadmin/index.php", "/.git/config",
                 "/xmlrpc.php")
SCANNER_CHANCE = 0.008  # per request, a burst of the whole list begins (a minute or two apart)
_NOT_FOUND_ACTION = "ErrorsController#not_found"


class Scanner:
    """The probes still to come of a scanner's burst (one per source)."""

    def __init__(self) -> None:
        self.pending: list[str] = []

    def next_probe(self, rng: random.Random) -> str | None:
        if not self.pending and rng.random() < SCANNER_CHANCE:
            self.pending = list(SCANNER_PATHS)
        return self.pending.pop(0) if self.pending else None


def _probe_request(rng: random.Random, path: str) -> _Request:
    return _Request(request_id=_request_id(rng), method="GET", path=path, query="",
                    action=_NOT_FOUND_ACTION, status=404,
                    duration_ms=rng.uniform(1.0, 4.0), client_ip=SCANNER_IP)


def _make_request(rng: random.Random, ctx: LogContext,
                  scanner: Scanner | None = None) -> _Request:
    probe = scanner.next_probe(rng) if scanner is not None else None
    if probe is not None and not ctx.faults.service_broken:
        return _probe_request(rng, probe)
    endpoint = rng.choices(_ENDPOINTS, _ENDPOINT_WEIGHTS)[0]
    path = endpoint.path.replace("{id}", str(rng.randint(1, 600))).replace(
        "{token}", f"{rng.getrandbits(64):016x}"
    )
    query = ""
    if endpoint.action.endswith("#index") or endpoint.action.startswith("Api::V1::Forecasts"):
        query = f"lat={36.1 + rng.random() * 0.05:.4f}&lng={137.93 + rng.random() * 0.05:.4f}"
    elif endpoint.action.endswith("#heatmap"):
        query = f"zoom={rng.randint(10, 14)}"
    # Healthy: 18–150 ms, mostly around 40 ms (p95 ≈ 120 ms).
    duration = rng.triangular(18.0, 150.0, 40.0)
    request = _Request(
        request_id=_request_id(rng), method=endpoint.method, path=path, query=query,
        action=endpoint.action, status=endpoint.status, duration_ms=duration,
        client_ip=_client_ip(rng),
    )
    faults = ctx.faults
    if faults.service_broken:
        request.status, request.duration_ms = 500, rng.uniform(4.0, 20.0)
        request.exception = _NAME_ERROR
    elif faults.db_pool_exhausted and rng.random() < 0.7:
        request.status, request.duration_ms = 500, rng.uniform(5001.0, 5012.0)
        request.exception = _POOL_TIMEOUT
    elif faults.db_pool_stale and rng.random() < 0.2:
        request.status, request.duration_ms = 500, rng.uniform(2.0, 9.0)
        request.exception = _STALE_CONNECTION
    elif faults.slow_requests and rng.random() < 0.35:
        request.path, request.action = "/api/v1/rainbows/heatmap", (
            "Api::V1::RainbowsController#heatmap"
        )
        request.method, request.status, request.query = "GET", 200, "zoom=13"
        request.duration_ms = rng.uniform(2200.0, 3400.0)
        request.slow_query = True
    return request


def _controller_frame(action: str) -> str:
    """The app frame a backtrace ends in: ``Api::V1::RainbowsController#index`` →
    ``app/controllers/api/v1/rainbows_controller.rb:14:in `index'``."""
    controller, method = action.split("#")
    parts = controller.split("::")
    parts[-1] = re.sub(r"(?<!^)(?=[A-Z])", "_", parts[-1]).lower()
    path = "/".join(part.lower() for part in parts)
    return f"app/controllers/{path}.rb:14:in `{method}'"


class WebLogSource:
    """Rails 8 production log of a Puma container (tagged, no severity prefix).

    About one request in ten is logged through a gem's ``Logger::Formatter`` logger
    (``I, [time #1]  INFO -- : …``), which real apps also mix in.
    """

    def __init__(self, rng: random.Random, ctx: LogContext) -> None:
        self.rng = rng
        self.ctx = ctx
        self.scanner = Scanner()

    def next_lines(self, ts_ns: int) -> list[str]:
        rng = self.rng
        request = _make_request(rng, self.ctx, self.scanner)
        tag = f"[{request.request_id}] "
        target = request.path + (f"?{request.query}" if request.query else "")
        # (severity letter, message): Rails logs exceptions at FATAL, the rest at INFO.
        lines: list[tuple[str, str]] = [
            ("I", f'{tag}Started {request.method} "{target}" for {request.client_ip} at '
                  f"{rails_started_at(ts_ns)}"),
            ("I", f"{tag}Processing by {request.action} as JSON"),
        ]
        if request.query:
            params = ", ".join(
                f'"{k}"=>"{v}"' for k, v in (pair.split("=") for pair in request.query.split("&"))
            )
            lines.append(("I", f"{tag}  Parameters: {{{params}}}"))
        duration = round(request.duration_ms)
        if request.exception is not None:
            self.ctx.report(request.exception, request.action, ts_ns)
            exc_class, message, backtrace = request.exception
            ar_ms = 0.0 if request.exception is _POOL_TIMEOUT else rng.uniform(0.5, 3.0)
            lines.append(("I", f"{tag}Completed 500 Internal Server Error in {duration}ms "
                               f"(ActiveRecord: {ar_ms:.1f}ms (0 queries, 0 cached) | "
                               f"GC: {rng.random():.1f}ms)"))
            lines.append(("F", f"{tag}  "))
            message_lines = message.split("\n")
            message_lines[0] = f"{exc_class} ({message_lines[0]}"
            message_lines[-1] += "):"
            lines.extend(("F", f"{tag}{part}") for part in message_lines)
            lines.append(("F", f"{tag}  "))
            lines.extend(("F", f"{tag}{frame}") for frame in backtrace)
            lines.append(("F", f"{tag}{_controller_frame(request.action)}"))
        else:
            if self.ctx.faults.forecast_timeouts and request.action.startswith(
                "Api::V1::ForecastsController"
            ):
                self.ctx.report(FORECAST_TIMEOUT, request.action, ts_ns)
                lines.append(("W", f"{tag}Forecast provider failed, serving the cached forecast: "
                                   f"{FORECAST_TIMEOUT[0]} ({FORECAST_TIMEOUT[1]})"))
            queries = rng.randint(1, 6)
            if request.slow_query:
                ar_ms = request.duration_ms - rng.uniform(8.0, 20.0)
                queries = 2
            else:
                ar_ms = request.duration_ms * rng.uniform(0.1, 0.4)
            views = "" if request.status in (204, 304) else (
                f"Views: {request.duration_ms * rng.uniform(0.02, 0.1):.1f}ms | "
            )
            lines.append(("I", f"{tag}Completed {request.status} {_STATUS_TEXT[request.status]} "
                               f"in {duration}ms ({views}ActiveRecord: {ar_ms:.1f}ms "
                               f"({queries} queries, {rng.randint(0, 1)} cached) | "
                               f"GC: {rng.uniform(0.0, 2.5):.1f}ms)"))
        if rng.random() < 0.1:
            stamp = ruby_logger_time(ts_ns)
            return [f"{sev}, [{stamp} #1] {_SEVERITY_NAMES[sev]} -- : {text}"
                    for sev, text in lines]
        return [text for _, text in lines]


# Logger::Formatter right-aligns the severity name in five columns.
_SEVERITY_NAMES = {"D": "DEBUG", "I": " INFO", "W": " WARN", "E": "ERROR", "F": "FATAL"}


class ProxyLogSource:
    """kamal-proxy request lines: ECS-shaped JSON (newer) or flat slog JSON (older)."""

    def __init__(self, rng: random.Random, ctx: LogContext, ecs: bool) -> None:
        self.rng = rng
        self.ctx = ctx
        self.ecs = ecs
        self.scanner = Scanner()

    def next_lines(self, ts_ns: int) -> list[str]:
        rng = self.rng
        request = _make_request(rng, self.ctx, self.scanner)
        if not self.ctx.app_running():
            request.status, request.duration_ms = 502, rng.uniform(0.2, 1.5)
        duration_ns = int(request.duration_ms * 1_000_000)
        body_bytes = 0 if request.status in (204, 304) else rng.randint(180, 24_000)
        user_agent = rng.choice(_USER_AGENTS)
        target = f"{SERVICE}-web-{self.ctx.current_version()[:12]}:80"
        record: dict[str, object]
        if self.ecs:
            second, fraction = divmod(ts_ns, 1_000_000_000)
            record = {
                "@timestamp": f"{_utc_second(second)}.{fraction // 1_000_000:03d}Z",
                "log.level": "info",
                "message": "Request",
                "ecs.version": "1.6.0",
                "service": {"name": f"{SERVICE}-web"},
                "event": {"duration": duration_ns},
                "http": {
                    "version": "1.1",
                    "request": {"id": request.request_id, "method": request.method,
                                "body": {"bytes": 0 if request.method == "GET" else 312}},
                    "response": {"status_code": request.status, "body": {"bytes": body_bytes},
                                 "mime_type": "application/json"},
                },
                "url": {"scheme": "https", "domain": "api.shiojiri-rainbow.app",
                        "path": request.path, "query": request.query},
                "client": {"ip": request.client_ip, "port": rng.randint(20_000, 65_000)},
                "user_agent": {"original": user_agent},
                "target": target,
            }
        else:
            record = {
                "time": docker_timestamp(ts_ns),
                "level": "INFO",
                "msg": "Request",
                "host": "api.shiojiri-rainbow.app",
                "port": 443,
                "path": request.path,
                "request_id": request.request_id,
                "status": request.status,
                "service": f"{SERVICE}-web",
                "target": target,
                "duration": duration_ns,
                "method": request.method,
                "req_content_length": 0 if request.method == "GET" else 312,
                "req_content_type": "" if request.method == "GET" else "application/json",
                "resp_content_length": body_bytes,
                "resp_content_type": "application/json; charset=utf-8",
                "client_addr": request.client_ip,
                "client_port": str(rng.randint(20_000, 65_000)),
                "remote_addr": request.client_ip,
                "user_agent": user_agent,
                "proto": "HTTP/1.1",
                "scheme": "https",
                "query": request.query,
            }
        return [json.dumps(record, separators=(",", ":"))]


JOB_CLASSES = (
    ("RainbowSightingNotifyJob", "default"),
    ("ImageVariantJob", "images"),
    ("WeatherFetchJob", "default"),
    ("ActionMailer::MailDeliveryJob", "mailers"),
)
S3_UNAVAILABLE = (
    "Aws::S3::Errors::ServiceUnavailable",
    "Service Unavailable",
    (
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-core-3.211.0/lib/seahorse/client/plugins/"
        "raise_response_errors.rb:17:in `call'",
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-s3-1.169.0/lib/aws-sdk-s3/plugins/sse_cpk.rb:"
        "24:in `call'",
        "/rails/app/jobs/image_variant_job.rb:12:in `perform'",
    ),
)


class JobLogSource:
    """The Solid Queue container: Active Job's lines as Rails 8 writes them (no
    severity prefix): Performing/Performed, and for the failing class Stopped
    retrying + Error performing, or now and then Discarded."""

    def __init__(self, rng: random.Random, ctx: LogContext) -> None:
        self.rng = rng
        self.ctx = ctx

    def next_lines(self, ts_ns: int) -> list[str]:
        faults = self.ctx.faults
        if faults.workers_stalled:
            return []  # wedged workers perform nothing, so they log nothing
        rng = self.rng
        class_name, queue = rng.choice(JOB_CLASSES)
        if faults.failing_job_class is not None and rng.random() < 0.5:
            class_name, queue = faults.failing_job_class, "images"
        job_id = _request_id(rng)
        tags = f"[ActiveJob] [{class_name}] [{job_id}] "
        enqueued = docker_timestamp(ts_ns - rng.randint(50, 900) * 1_000_000)
        lines = [
            f"{tags}Performing {class_name} (Job ID: {job_id}) from SolidQueue({queue}) "
            f"enqueued at {enqueued[:-7]}Z with arguments: {rng.randint(1, 9999)}"
        ]
        if class_name == faults.failing_job_class and rng.random() < 0.1:
            # discard_on handles the error: Discarded (error), then the perform ends
            # as Performed (activejob/lib/active_job/log_subscriber.rb).
            lines.append(
                f"{tags}Discarded {class_name} (Job ID: {job_id}) due to a "
                "ActiveJob::DeserializationError (Error while trying to deserialize arguments: "
                "Couldn't find Photo with 'id'=4242)."
            )
            lines.append(
                f"{tags}Performed {class_name} (Job ID: {job_id}) from SolidQueue({queue}) in "
                f"{rng.uniform(3.0, 40.0):.1f}ms"
            )
        elif class_name == faults.failing_job_class:
            # retry_on's last attempt: Stopped retrying, then the error reaches the
            # perform, which ends as Error performing with its backtrace.
            exc_class, message, backtrace = S3_UNAVAILABLE
            self.ctx.report(S3_UNAVAILABLE, class_name, ts_ns)
            lines.append(
                f"{tags}Stopped retrying {class_name} (Job ID: {job_id}) due to a {exc_class} "
                f"({message}), which reoccurred on 5 attempts."
            )
            lines.append(
                f"{tags}Error performing {class_name} (Job ID: {job_id}) from "
                f"SolidQueue({queue}) in {rng.uniform(3.0, 40.0):.1f}ms: {exc_class} ({message}):"
            )
            lines.extend(backtrace)
        else:
            lines.append(
                f"{tags}Performed {class_name} (Job ID: {job_id}) from SolidQueue({queue}) in "
                f"{rng.uniform(80.0, 2900.0):.1f}ms"
            )
        return lines


class DbLogSource:
    """The PostgreSQL accessory's own chatter: connections, checkpoints, autovacuum.

    The real server's log lines (start-up, shutdown, errors) are forwarded into the
    same stream by the supervisor, so ``accessory reboot db`` shows up here too.
    """

    def __init__(self, rng: random.Random, ctx: LogContext) -> None:
        self.rng = rng
        self.ctx = ctx

    def next_lines(self, ts_ns: int) -> list[str]:
        rng = self.rng
        faults = self.ctx.faults
        stamp = postgres_log_time(ts_ns)
        pid = rng.randint(1_000, 60_000)
        prefix = f"{stamp} [{pid}] "
        roll = rng.random()
        if faults.db_pool_exhausted and roll < 0.4:
            return [
                f"{prefix}FATAL:  remaining connection slots are reserved for roles with the "
                "SUPERUSER attribute"
            ]
        if faults.slow_requests and roll < 0.4:
            return [
                f"{prefix}LOG:  duration: {rng.uniform(2100.0, 3300.0):.3f} ms  statement: "
                "/*application='ShiojiriRainbowSeeker',controller='rainbows',action='heatmap'*/ "
                "SELECT tiles.* FROM rainbow_sightings tiles ORDER BY tiles.observed_at DESC"
            ]
        if roll < 0.04:
            return [
                f"{prefix}LOG:  checkpoint starting: time",
                f"{prefix}LOG:  checkpoint complete: wrote {rng.randint(20, 900)} buffers "
                f"({rng.uniform(0.1, 5.0):.1f}%); 0 WAL file(s) added, 0 removed, "
                f"{rng.randint(0, 2)} recycled; write={rng.uniform(1, 27):.3f} s, "
                f"sync=0.00{rng.randint(1, 9)} s, total={rng.uniform(1, 27):.3f} s",
            ]
        if roll < 0.08:
            return [
                f"{prefix}LOG:  automatic vacuum of table "
                '"shiojiri_rainbow_seeker_production.public.solid_queue_ready_executions": '
                f"index scans: 1, pages: 0 removed, {rng.randint(2, 40)} remain, "
                f"tuples: {rng.randint(50, 900)} removed, {rng.randint(0, 60)} remain"
            ]
        port = rng.randint(30_000, 60_000)
        app = rng.choice(("puma", "solid_queue-worker", "solid_queue-dispatcher"))
        return [
            f"{prefix}LOG:  connection received: host=172.18.0.5 port={port}",
            f"{prefix}LOG:  connection authorized: user=shiojiri_rainbow_seeker "
            f"database=shiojiri_rainbow_seeker_production application_name={app}",
        ]


@dataclass
class _Feed:
    container: Container
    stream: LogStream
    source: WebLogSource | ProxyLogSource | JobLogSource | DbLogSource
    rate: float | None = None  # None: the hub's default rate
    carry: float = 0.0
    pending: deque[str] = field(default_factory=deque)


class LogHub:
    """All containers' log streams, fed at ``rate`` lines per second each."""

    def __init__(self, ctx: LogContext, rng: random.Random, default_rate: float = DEFAULT_LOG_RATE,
                 history: int = DEFAULT_HISTORY) -> None:
        self.ctx = ctx
        self.rng = rng
        self.default_rate = default_rate
        self.history = history
        self.streams: dict[str, LogStream] = {}
        self._feeds: dict[str, _Feed] = {}
        self._proxy_count = 0

    def _source_for(
        self, container: Container
    ) -> WebLogSource | ProxyLogSource | JobLogSource | DbLogSource:
        rng = random.Random(self.rng.getrandbits(64))
        if container.kind == "web":
            return WebLogSource(rng, self.ctx)
        if container.kind == "job":
            return JobLogSource(rng, self.ctx)
        if container.kind == "proxy":
            # app-1 runs the newer kamal-proxy (ECS JSON), app-2 an older one (flat slog);
            # further hosts alternate.
            self._proxy_count += 1
            host_number = container.host.rsplit("-", 1)[-1]
            ecs = int(host_number) % 2 == 1 if host_number.isdigit() else True
            return ProxyLogSource(rng, self.ctx, ecs=ecs)
        return DbLogSource(rng, self.ctx)

    def container_started(self, container: Container) -> None:
        # A restarted container keeps its log (docker logs shows every run's lines).
        stream = self.streams.get(container.id)
        if stream is None:
            stream = LogStream(container.id, self.history)
            self.streams[container.id] = stream
        stream.closed = False
        if container.crash_looping:
            self._failed_boot(container, stream)
            return  # it never gets to serve: no request lines
        feed = _Feed(container, stream, self._source_for(container))
        self._feeds[container.id] = feed
        if time.time() - (container.started_at or container.created_at) < 60:
            self._boot_banner(feed)  # long-running containers get history (backfill) instead

    def container_stopped(self, container: Container) -> None:
        self._feeds.pop(container.id, None)
        stream = self.streams.get(container.id)
        if stream is not None:
            stream.close()

    def _failed_boot(self, container: Container, stream: LogStream) -> None:
        """A boot that fails the way a bad deploy's does: Puma starts, loading the
        app raises, the process exits 1 (and docker starts it again)."""
        lines = [
            "=> Booting Puma",
            "=> Rails 8.0.1 application starting in production",
            "=> Run `bin/rails server --help` for more startup options",
            "bin/rails aborted!",
            'KeyError: key not found: "AWS_S3_BUCKET" (KeyError)',
            "/rails/config/initializers/active_storage.rb:4:in `fetch'",
            "/rails/config/initializers/active_storage.rb:4:in `<main>'",
            "Exiting",
        ]
        now = time.time_ns()
        entries = []
        for offset, line in enumerate(lines):
            ts = stream.next_timestamp(now - (len(lines) - offset) * 1_000)
            entries.append((ts, line.encode() + b"\n"))
        stream.append_many(entries)

    def _boot_banner(self, feed: _Feed) -> None:
        kind = feed.container.kind
        lines: list[str]
        if kind == "web":
            lines = [
                "=> Booting Puma",
                "=> Rails 8.0.1 application starting in production",
                "=> Run `bin/rails server --help` for more startup options",
                "Puma starting in single mode...",
                "* Puma version: 6.5.0 (\"Sky's Version\")",
                "* Ruby version: ruby 3.3.6 (2024-11-05 revision 75015d4c1f) +YJIT [x86_64-linux]",
                "*  Min threads: 3",
                "*  Max threads: 3",
                "*  Environment: production",
                "*          PID: 1",
                "* Listening on http://0.0.0.0:80",
                "Use Ctrl-C to stop",
            ]
        elif kind == "job":
            lines = [
                "SolidQueue-1.1.2 Register Supervisor (31.2ms)  pid: 1, hostname: "
                f'"{feed.container.host}", process_id: 1, name: "supervisor-3f1a2b"',
                "SolidQueue-1.1.2 Started Supervisor (52.8ms)  pid: 1, hostname: "
                f'"{feed.container.host}", process_id: 1, name: "supervisor-3f1a2b"',
            ]
        else:
            return
        now = time.time_ns()
        entries = []
        for offset, line in enumerate(lines):
            ts = feed.stream.next_timestamp(now - (len(lines) - offset) * 1_000)
            entries.append((ts, line.encode() + b"\n"))
        feed.stream.append_many(entries)

    def backfill(self, seconds: float, max_lines: int = 2000, max_total: int = 20_000) -> None:
        """Give containers that were already up some history, as ``docker logs`` would
        show for a container running for hours (bounded to keep start-up quick, also
        with fifty hosts)."""
        now_ns = time.time_ns()
        per_container = min(max_lines, max_total // max(1, len(self._feeds)))
        for feed in self._feeds.values():
            if feed.stream.appended:
                continue
            rate = feed.rate if feed.rate is not None else self.default_rate
            count = min(per_container, int(rate * seconds))
            if count <= 0:
                continue
            span = min(seconds, count / rate)
            start_ns = now_ns - int(span * 1e9)
            feed.carry = float(count)
            self._fill(feed, span, start_ns, now_ns, limit_burst=False)

    def stream_for(self, container_id: str) -> LogStream | None:
        return self.streams.get(container_id)

    def set_rate(self, rate: float, container_ids: Iterable[str] | None = None) -> None:
        if container_ids is None:
            self.default_rate = rate
            for feed in self._feeds.values():
                feed.rate = None
            return
        for container_id in container_ids:
            target = self._feeds.get(container_id)
            if target is not None:
                target.rate = rate

    def rate_of(self, container_id: str) -> float:
        feed = self._feeds.get(container_id)
        if feed is None or feed.rate is None:
            return self.default_rate
        return feed.rate

    def append_lines(self, container_id: str, lines: list[str]) -> None:
        """Real lines from outside (the PostgreSQL server's own log) join a stream."""
        stream = self.streams.get(container_id)
        if stream is None or not lines:
            return
        now = time.time_ns()
        entries = []
        for line in lines:
            ts = stream.next_timestamp(now)
            now = ts + 1
            entries.append((ts, line.encode("utf-8", "replace") + b"\n"))
        stream.append_many(entries)

    def _fill(self, feed: _Feed, elapsed: float, start_ns: int, end_ns: int,
              limit_burst: bool = True) -> None:
        rate = feed.rate if feed.rate is not None else self.default_rate
        if rate <= 0:
            return
        if limit_burst:
            feed.carry = min(feed.carry + rate * elapsed, rate + 1)  # no burst after a stall
        count = int(feed.carry)
        if count <= 0:
            return
        feed.carry -= count
        stream = feed.stream
        start_ns = stream.next_timestamp(start_ns)
        step = max(1, (end_ns - start_ns) // count)
        entries: list[LogEntry] = []
        pending = feed.pending
        ts = start_ns
        for _ in range(count):
            if not pending:
                pending.extend(feed.source.next_lines(ts))
                if not pending:
                    break
            entries.append((ts, pending.popleft().encode() + b"\n"))
            ts += step
        stream.append_many(entries)

    async def run(self) -> None:
        last_mono = time.monotonic()
        last_ns = time.time_ns()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now_mono = time.monotonic()
            now_ns = time.time_ns()
            elapsed = now_mono - last_mono
            for feed in list(self._feeds.values()):
                try:
                    self._fill(feed, elapsed, last_ns, now_ns)
                except Exception:  # one broken source must not silence every container
                    log.exception("log source of %s failed", feed.container.name)
            last_mono, last_ns = now_mono, now_ns
