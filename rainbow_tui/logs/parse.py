"""One log line from the Shiojiri Rainbow Seeker containers to a :class:`LogLine`.

Formats (DESIGN.md §2): the ``docker logs --timestamps`` prefix, Rails 7.1+/8
tagged lines, Ruby ``Logger::Formatter`` lines, kamal-proxy JSON request lines
(ECS-style and older flat slog), and Active Job / Solid Queue lines.  Anything
else stays RAW.  :func:`parse_line` never raises, and every string in the
result has been through :func:`~rainbow_tui.logs.lines.make_inert`, so a
``LogLine`` is safe to show as it is.

Speed matters (bursts of 10 000 lines/s): dispatch on the first character,
precompiled regexes, and ``json.loads`` only for lines that start with ``{``.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from rainbow_tui.logs.lines import make_inert

__all__ = ["LogKind", "LogLevel", "LogLine", "parse_docker_timestamp", "parse_line"]


# Sentinel for "key absent" where None is a legitimate value.
_MISSING: Final = object()


class LogKind(enum.Enum):
    RAILS_STARTED = "rails_started"
    RAILS_PROCESSING = "rails_processing"
    RAILS_COMPLETED = "rails_completed"
    RAILS_EXCEPTION = "rails_exception"
    RAILS_OTHER = "rails_other"
    LOGGER = "logger"
    PROXY_REQUEST = "proxy_request"
    JOB_PERFORMED = "job_performed"
    JOB_ERROR = "job_error"
    RAW = "raw"


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int:
        """Rank for "more severe than" comparisons; UNKNOWN means no information."""
        return _SEVERITY[self]


_SEVERITY: Final = {
    LogLevel.UNKNOWN: 0,
    LogLevel.DEBUG: 1,
    LogLevel.INFO: 2,
    LogLevel.WARN: 3,
    LogLevel.ERROR: 4,
    LogLevel.FATAL: 5,
}


@dataclass(frozen=True, slots=True)
class LogLine:
    """A parsed log line; fields a format does not carry are ``None``.

    ``raw`` is the line after the docker timestamp prefix; ``timestamp_text`` is
    that prefix exactly as received (nanoseconds intact, for ``docker logs
    --since`` resumption) or ``""``; ``message`` is the human part of the line
    (after the Logger prefix and Rails tags, or the JSON ``msg``).
    """

    raw: str
    host: str
    container: str
    timestamp: datetime | None
    timestamp_text: str
    kind: LogKind
    level: LogLevel
    message: str
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    duration_ms: float | None = None
    job_class: str | None = None
    job_id: str | None = None
    queue: str | None = None
    exception_class: str | None = None


# -- docker --timestamps prefix ---------------------------------------------------

_DOCKER_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) "
)


def parse_docker_timestamp(text: str) -> datetime | None:
    """An RFC 3339 stamp (up to nanoseconds) as an aware UTC datetime, or None.

    Python's datetime holds microseconds, so nanoseconds are truncated here;
    callers that resume ``docker logs --since`` keep the original text.
    """
    match = _DOCKER_TIMESTAMP.match(text + " ")
    if match is None or match.end() != len(text) + 1:
        return None
    return _timestamp_from_match(match)


def _timestamp_from_match(match: re.Match[str]) -> datetime | None:
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    # A burst of lines shares a handful of whole seconds: building that datetime
    # once and adding the fraction is several times cheaper than from scratch.
    second_key = match.string[: match.start(7) if fraction else match.start(8)] + offset
    whole_second = _whole_seconds.get(second_key, _MISSING)
    if whole_second is _MISSING:
        whole_second = _whole_second(year, month, day, hour, minute, second, offset)
        if len(_whole_seconds) >= _WHOLE_SECONDS_CACHE_SIZE:
            _whole_seconds.clear()
        _whole_seconds[second_key] = whole_second
    if not isinstance(whole_second, datetime):
        return None
    return whole_second.replace(microsecond=microsecond) if microsecond else whole_second


_WHOLE_SECONDS_CACHE_SIZE: Final = 256
_whole_seconds: dict[str, object] = {}


def _whole_second(
    year: str, month: str, day: str, hour: str, minute: str, second: str, offset: str
) -> datetime | None:
    if offset == "Z":
        zone = UTC
    else:
        minutes = int(offset[1:3]) * 60 + int(offset[4:6])
        if minutes >= 24 * 60:
            return None
        zone = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
        return stamp if zone is UTC else stamp.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# -- message bodies (Rails, Active Job) -------------------------------------------


# Mutable scratch record filled while parsing one line; LogLine is built once at
# the end because a frozen dataclass cannot be updated field by field cheaply.
class _Fields:
    __slots__ = (
        "duration_ms",
        "exception_class",
        "job_class",
        "job_id",
        "kind",
        "level",
        "message",
        "method",
        "path",
        "queue",
        "request_id",
        "status",
    )

    def __init__(self, message: str) -> None:
        self.message = message
        self.kind: LogKind | None = None
        self.level = LogLevel.UNKNOWN
        self.request_id: str | None = None
        self.method: str | None = None
        self.path: str | None = None
        self.status: int | None = None
        self.duration_ms: float | None = None
        self.job_class: str | None = None
        self.job_id: str | None = None
        self.queue: str | None = None
        self.exception_class: str | None = None

    def raise_level(self, level: LogLevel) -> None:
        if _SEVERITY[level] > _SEVERITY[self.level]:
            self.level = level


_TAG = re.compile(r"\[([^\[\]]*)\] *")
_TAG_RUN = re.compile(r"(?:\[[^\[\]]*\] *)+")
# Rails sanitises X-Request-Id to alphanumerics and dashes; generated ids are UUIDs.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:@-]+")
_CLASS_NAME = r"[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*"
# Bounded digits: a forged 5000-digit duration must not become float("inf").
_MILLISECONDS = r"(\d{1,15}(?:\.\d{1,15})?)ms"

_STARTED = re.compile(r'Started ([A-Z]+) "(.*)" for (\S+)(?: at (.*))?')
_PROCESSING = re.compile(r"Processing by (\S+) as (\S+)")
_COMPLETED = re.compile(r"Completed (\d{3})\b.*? in " + _MILLISECONDS)
_JOB_REFERENCE = r"(" + _CLASS_NAME + r") \(Job ID: ([^)]*)\) (?:from|to) [A-Za-z0-9_:]+\(([^)]*)\)"
_PERFORMED = re.compile(r"Performed " + _JOB_REFERENCE + r"(?: in " + _MILLISECONDS + ")?")
_ERROR_PERFORMING = re.compile(
    r"Error performing " + _JOB_REFERENCE + r"(?: in " + _MILLISECONDS + ")?(?:: (.*))?"
)
_OTHER_JOB_EVENT = re.compile(
    r"(Performing|Enqueued|Retrying|Discarded|Stopped retrying) " + _JOB_REFERENCE
)
_EXCEPTION = re.compile(r"(" + _CLASS_NAME + r") \((.*)")
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Timeout", "Interrupt", "Invalid")
_LEVEL_WORD = re.compile(r"\[?(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC)\b")
_LEVEL_WORDS: Final = {
    "DEBUG": LogLevel.DEBUG,
    "INFO": LogLevel.INFO,
    "WARN": LogLevel.WARN,
    "WARNING": LogLevel.WARN,
    "ERROR": LogLevel.ERROR,
    "FATAL": LogLevel.FATAL,
    "CRITICAL": LogLevel.FATAL,
    "PANIC": LogLevel.FATAL,
}
_ERROR_JOB_EVENTS = frozenset({"Discarded", "Stopped retrying"})


def _split_exception(text: str) -> tuple[str, str] | None:
    """``Some::Error (message):`` to (class, message); the ``)`` may be missing
    when the message continued on the next line."""
    match = _EXCEPTION.fullmatch(text)
    if match is None:
        return None
    exception_class, message = match.group(1), match.group(2)
    if message.endswith("):"):
        message = message[:-2]
    elif message.endswith(")"):
        message = message[:-1]
    return exception_class, message


def _looks_like_exception_class(name: str) -> bool:
    # A bare "Word (text)" is too common in prose; real exception classes are
    # namespaced or end in a conventional suffix.
    return "::" in name or name.endswith(_EXCEPTION_SUFFIXES)


def _parse_tags(text: str, fields: _Fields) -> str:
    """Consume leading ``[tag]`` groups; return the text after them."""
    match = _TAG_RUN.match(text)
    if match is None:
        return text
    tags = _TAG.findall(text, 0, match.end())
    if "ActiveJob" in tags:
        # [ActiveJob] [JobClass] [job-id]: the job's own log lines.
        job_tag = tags.index("ActiveJob")
        if job_tag + 1 < len(tags):
            fields.job_class = tags[job_tag + 1]
        if job_tag + 2 < len(tags):
            fields.job_id = tags[job_tag + 2]
        if job_tag == 0:
            return text[match.end() :]
    if _REQUEST_ID.fullmatch(tags[0]):
        fields.request_id = tags[0]
    return text[match.end() :]


def _parse_body(body: str, fields: _Fields) -> bool:
    """Recognise a Rails or Active Job message; False when it is none of them."""
    if not body:
        return False
    first = body[0]
    if first == "S":
        match = _STARTED.fullmatch(body)
        if match is not None:
            fields.kind = LogKind.RAILS_STARTED
            fields.method = match.group(1)
            fields.path = match.group(2)
            fields.raise_level(LogLevel.INFO)
            return True
        if body.startswith("Stopped retrying"):
            return _parse_job_event(body, fields)
    elif first == "C":
        match = _COMPLETED.match(body)
        if match is not None:
            status = int(match.group(1))
            fields.kind = LogKind.RAILS_COMPLETED
            fields.status = status
            fields.duration_ms = float(match.group(2))
            fields.raise_level(_level_for_status(status, warn_on_4xx=True))
            return True
    elif first == "P":
        if body.startswith("Performed "):
            match = _PERFORMED.match(body)
            if match is not None:
                fields.kind = LogKind.JOB_PERFORMED
                _set_job(fields, match)
                if match.group(4) is not None:
                    fields.duration_ms = float(match.group(4))
                fields.raise_level(LogLevel.INFO)
                return True
        elif body.startswith("Processing by "):
            if _PROCESSING.match(body) is not None:
                fields.kind = LogKind.RAILS_PROCESSING
                fields.raise_level(LogLevel.INFO)
                return True
        elif body.startswith("Performing "):
            return _parse_job_event(body, fields)
    elif first == "E":
        if body.startswith("Error performing "):
            match = _ERROR_PERFORMING.fullmatch(body)
            if match is not None:
                fields.kind = LogKind.JOB_ERROR
                _set_job(fields, match)
                if match.group(4) is not None:
                    fields.duration_ms = float(match.group(4))
                error = match.group(5)
                if error:
                    split = _split_exception(error)
                    if split is not None:
                        fields.exception_class = split[0]
                fields.raise_level(LogLevel.ERROR)
                return True
        elif body.startswith("Enqueued "):
            return _parse_job_event(body, fields)
    elif first in "RD" and body.startswith(("Retrying ", "Discarded ")):
        return _parse_job_event(body, fields)
    if "A" <= first <= "Z":
        split = _split_exception(body)
        if split is not None and _looks_like_exception_class(split[0]):
            fields.kind = LogKind.RAILS_EXCEPTION
            fields.exception_class = split[0]
            fields.raise_level(LogLevel.ERROR)
            return True
    return False


def _parse_job_event(body: str, fields: _Fields) -> bool:
    match = _OTHER_JOB_EVENT.match(body)
    if match is None:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.job_class = match.group(2)
    fields.job_id = match.group(3)
    fields.queue = match.group(4)
    fields.raise_level(LogLevel.ERROR if match.group(1) in _ERROR_JOB_EVENTS else LogLevel.INFO)
    return True


def _set_job(fields: _Fields, match: re.Match[str]) -> None:
    fields.job_class = match.group(1)
    fields.job_id = match.group(2)
    fields.queue = match.group(3)


def _level_for_status(status: int, *, warn_on_4xx: bool) -> LogLevel:
    if 500 <= status <= 599:
        return LogLevel.ERROR
    if warn_on_4xx and 400 <= status <= 499:
        return LogLevel.WARN
    return LogLevel.INFO


def _parse_message(text: str, fields: _Fields, unmatched_kind: LogKind) -> None:
    """Rails/Active Job text, possibly tagged; ``unmatched_kind`` when unknown."""
    body = _parse_tags(text, fields) if text.startswith("[") else text
    tagged = body is not text
    fields.message = body
    if _parse_body(body, fields):
        return
    if tagged and unmatched_kind is LogKind.RAW:
        fields.kind = LogKind.RAILS_OTHER
    else:
        fields.kind = unmatched_kind
    if fields.level is LogLevel.UNKNOWN:
        match = _LEVEL_WORD.match(body)
        if match is not None:
            fields.level = _LEVEL_WORDS[match.group(1)]


# -- Ruby Logger::Formatter ---------------------------------------------------------

# "I, [2026-11-28T12:00:00.123456 #1]  INFO -- progname: message"
_LOGGER_PREFIX = re.compile(r"([DIWEFA]), \[[^\]]*\] +[A-Z]+ -- (.*?):(?: |$)")
_LOGGER_LEVELS: Final = {
    "D": LogLevel.DEBUG,
    "I": LogLevel.INFO,
    "W": LogLevel.WARN,
    "E": LogLevel.ERROR,
    "F": LogLevel.FATAL,
    "A": LogLevel.UNKNOWN,
}


def _parse_logger(text: str, fields: _Fields) -> bool:
    match = _LOGGER_PREFIX.match(text)
    if match is None:
        return False
    fields.level = _LOGGER_LEVELS[match.group(1)]
    _parse_message(text[match.end() :], fields, LogKind.LOGGER)
    return True


# -- kamal-proxy JSON -----------------------------------------------------------------

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_MS: Final = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "m": 60e3,
    "h": 3600e3,
}
_JSON_LEVELS: Final = {
    "debug": LogLevel.DEBUG,
    "info": LogLevel.INFO,
    "warn": LogLevel.WARN,
    "warning": LogLevel.WARN,
    "error": LogLevel.ERROR,
    "fatal": LogLevel.FATAL,
    "critical": LogLevel.FATAL,
    "panic": LogLevel.FATAL,
}


def _json_get(document: dict[str, Any], dotted_key: str) -> object:
    """Look up an ECS key written flat (``"url.path"``), nested, or mixed."""
    value = document.get(dotted_key, _MISSING)
    if value is not _MISSING or "." not in dotted_key:
        return value
    head, _, rest = dotted_key.partition(".")
    while True:
        inner = document.get(head, _MISSING)
        if isinstance(inner, dict):
            value = _json_get(inner, rest)
            if value is not _MISSING:
                return value
        if "." not in rest:
            return _MISSING
        step, _, rest = rest.partition(".")
        head = f"{head}.{step}"


def _first(document: dict[str, Any], keys: tuple[str, ...]) -> object:
    for key in keys:
        value = _json_get(document, key)
        if value is not _MISSING and value is not None:
            return value
    return _MISSING


def _json_text(value: object) -> str | None:
    # json.loads turns "\u001b" escapes into real control characters.
    if isinstance(value, str):
        return make_inert(value)
    return None


def _json_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # "abc", or an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _go_duration_ms(text: str) -> float | None:
    """``"1.5ms"``, ``"2m3.1s"`` (Go time.Duration strings) in milliseconds."""
    total = 0.0
    position = 0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _GO_DURATION_MS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        return None
    return total


def _json_duration_ms(document: dict[str, Any]) -> float | None:
    # ECS event.duration and Go slog's time.Duration are nanoseconds; the older
    # kamal-proxy "dur" field is milliseconds.
    value = _json_get(document, "event.duration")
    if value is not _MISSING:
        number = _json_number(value)
        return None if number is None else number / 1e6
    value = _json_get(document, "dur")
    if value is not _MISSING:
        return _json_number(value)
    value = _json_get(document, "duration")
    if isinstance(value, str):
        number = _go_duration_ms(value)
        if number is not None:
            return number
    number = _json_number(value)
    return None if number is None else number / 1e6


def _json_status(value: object) -> int | None:
    number = _json_number(value)
    if number is None or not number.is_integer() or not 100 <= number <= 999:
        return None
    return int(number)


def _parse_json(text: str, fields: _Fields) -> bool:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(document, dict):
        return False
    message = _json_text(_first(document, ("message", "msg")))
    level_text = _json_text(_first(document, ("log.level", "level")))
    if level_text is not None:
        fields.level = _JSON_LEVELS.get(level_text.lower(), LogLevel.UNKNOWN)
    status = _json_status(_first(document, ("http.response.status_code", "status")))
    method = _json_text(_first(document, ("http.request.method", "method")))
    is_request = (message is not None and message.lower() == "request") or (
        status is not None and method is not None
    )
    if is_request:
        fields.kind = LogKind.PROXY_REQUEST
        fields.method = method
        fields.path = _json_text(_first(document, ("url.path", "path")))
        fields.status = status
        fields.duration_ms = _json_duration_ms(document)
        fields.request_id = _json_text(_first(document, ("http.request.id", "request_id")))
        if status is not None:
            fields.raise_level(_level_for_status(status, warn_on_4xx=False))
    elif message is not None or level_text is not None:
        fields.kind = LogKind.LOGGER
    else:
        return False
    if message is not None:
        fields.message = message
    return True


# -- entry point --------------------------------------------------------------------


def parse_line(raw: str, host: str = "", container: str = "") -> LogLine:
    """Parse one line of container output; never raises (property-tested)."""
    text = make_inert(raw)
    timestamp: datetime | None = None
    timestamp_text = ""
    if len(text) > 20 and text[10] == "T" and "0" <= text[0] <= "9":
        match = _DOCKER_TIMESTAMP.match(text)
        if match is not None:
            timestamp = _timestamp_from_match(match)
            if timestamp is not None:
                timestamp_text = text[: match.end() - 1]
                text = text[match.end() :]

    fields = _Fields(text)
    first = text[:1]
    if first == "{":
        if not _parse_json(text, fields):
            fields.kind = LogKind.RAW
    elif not (first and first in "DIWEFA" and text[1:3] == ", " and _parse_logger(text, fields)):
        _parse_message(text, fields, LogKind.RAW)

    return LogLine(
        raw=text,
        host=make_inert(host),
        container=make_inert(container),
        timestamp=timestamp,
        timestamp_text=timestamp_text,
        kind=fields.kind or LogKind.RAW,
        level=fields.level,
        message=fields.message,
        request_id=fields.request_id,
        method=fields.method,
        path=fields.path,
        status=fields.status,
        duration_ms=fields.duration_ms,
        job_class=fields.job_class,
        job_id=fields.job_id,
        queue=fields.queue,
        exception_class=fields.exception_class,
    )
