"""One log line from the Shiojiri Rainbow Seeker containers to a :class:`LogLine`.

Formats (DESIGN.md §2): the ``docker logs --timestamps`` prefix, Rails 7.1+/8
tagged lines, Ruby ``Logger::Formatter`` lines, kamal-proxy JSON request lines
(ECS-style and older flat slog), and Active Job / Solid Queue lines.  Anything
else stays RAW.  Parsing never raises, and every string a ``LogLine`` gives has
been through :func:`~rainbow_tui.logs.lines.make_inert`, so a line is safe to
show as it is.

Speed matters (bursts of 10 000 lines/s, backlogs of 100 000): a ``LogLine`` is
made with the text as received and the end of its docker stamp, nothing else;
the fields of its format are parsed the first time one is read (the line is
shown, filtered on, or counted as a request) and kept.  :func:`parse_lines`
takes a stream's batch at once: one inertness check and one stamp check for the
whole batch in the usual case that every line carries docker's own stamp.
"""

from __future__ import annotations

import enum
import json
import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from itertools import repeat
from operator import itemgetter
from typing import Any, Final, Protocol

from rainbow_tui.logs.lines import make_inert, make_inert_all

__all__ = [
    "DEFAULT_LOG_TAGS",
    "LOG_LINE_FIELDS",
    "LineRecord",
    "LogKind",
    "LogLevel",
    "LogLine",
    "ParsedLineStore",
    "docker_stamp_heads",
    "exception_stamps",
    "line_view",
    "log_tags_key",
    "parse_docker_timestamp",
    "parse_line",
    "parse_lines",
    "rails_completed_samples",
]


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

    # Members are singletons: hash them as objects, in C, instead of by name in
    # Python (Enum's own __hash__), which every dict lookup of a member would call.
    __hash__ = object.__hash__


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    UNKNOWN = "unknown"

    __hash__ = object.__hash__  # as LogKind's

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


# -- docker --timestamps prefix ---------------------------------------------------

_DOCKER_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) "
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND: Final = timedelta(seconds=1)
_NS_PER_SECOND: Final = 1_000_000_000


def parse_docker_timestamp(text: str) -> datetime | None:
    """An RFC 3339 stamp (up to nanoseconds) as an aware UTC datetime, or None.

    Python's datetime holds microseconds, so nanoseconds are truncated here;
    callers that resume ``docker logs --since`` keep the original text.
    """
    match = _DOCKER_TIMESTAMP.match(text + " ")
    if match is None or match.end() != len(text) + 1:
        return None
    return _datetime_from_ns(_ns_from_match(match))


def _datetime_from_ns(ns: int | None) -> datetime | None:
    if ns is None:
        return None
    return _EPOCH + timedelta(microseconds=ns // 1000)


def _ns_from_match(match: re.Match[str]) -> int | None:
    """Nanoseconds since the epoch of a matched stamp; None for an impossible date."""
    fraction = match.group(7)
    offset = match.group(8)
    # A burst of lines shares a handful of whole seconds: each is worked out once.
    key = match.string[: match.start(7) if fraction else match.start(8)] + offset
    seconds = _whole_seconds.get(key, _MISSING)
    if seconds is _MISSING:
        year, month, day, hour, minute, second = match.group(1, 2, 3, 4, 5, 6)
        seconds = _epoch_seconds(year, month, day, hour, minute, second, offset)
        _remember_seconds(key, seconds)
    if not isinstance(seconds, int):
        return None
    return seconds * _NS_PER_SECOND + (int(fraction.ljust(9, "0")) if fraction else 0)


_WHOLE_SECONDS_CACHE_SIZE: Final = 256
# Whole seconds (int since the epoch, or None when impossible) by the stamp's text
# up to the fraction plus its zone ("2026-11-28T03:00:00.Z"), or, for docker's own
# form, by its first 19 characters ("2026-11-28T03:00:00"): the keys cannot meet.
_whole_seconds: dict[str, object] = {}


def _remember_seconds(key: str, seconds: int | None) -> None:
    if len(_whole_seconds) >= _WHOLE_SECONDS_CACHE_SIZE:
        _whole_seconds.clear()
    _whole_seconds[key] = seconds


def _epoch_seconds(
    year: str, month: str, day: str, hour: str, minute: str, second: str, offset: str
) -> int | None:
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
        if zone is not UTC:
            stamp = stamp.astimezone(UTC)  # out of range near year 1 or 9999
    except (ValueError, OverflowError):
        return None
    return (stamp - _EPOCH) // _ONE_SECOND


# Docker's own form (RFC3339NanoFixed): "2026-11-28T03:00:00.123456789Z " — always
# 31 characters with the space, UTC, nine digits.  For such stamps text order is
# time order, which lets a whole batch be checked at once.
_HEAD_LENGTH: Final = 31
_HEAD_SHAPE: Final = "0000-00-00T00:00:00.000000000Z "
_DIGITS_TO_ZERO: Final = str.maketrans("123456789", "000000000")
_head_of = itemgetter(slice(0, _HEAD_LENGTH))


def _canonical_seconds(second: str) -> int | None:
    """Whole seconds of ``2026-11-28T03:00:00`` (digits in place), None if impossible."""
    seconds = _whole_seconds.get(second, _MISSING)
    if seconds is _MISSING:
        seconds = _epoch_seconds(
            second[0:4],
            second[5:7],
            second[8:10],
            second[11:13],
            second[14:16],
            second[17:19],
            "Z",
        )
        _remember_seconds(second, seconds)
    return seconds if isinstance(seconds, int) else None


def _is_canonical_stamp(text: str, end: int) -> bool:
    """Whether the stamp that ends at ``end`` (with its space) has docker's own form,
    given that it matched :data:`_DOCKER_TIMESTAMP`."""
    return end == _HEAD_LENGTH and text[29] == "Z" and text[19] == "."


def docker_stamp_heads(texts: list[str]) -> list[str] | None:
    """The first 31 characters of every line, when every line starts with a valid
    stamp in docker's own form and they never go back in time; else None.

    This is the usual case for a ``docker logs --timestamps`` stream, checked for a
    whole batch with a few C-level passes instead of a regex per line.  The heads
    sort as their times do.  ASCII digits only: other stamps take the per-line way.
    """
    if not texts:
        return None
    heads = list(map(_head_of, texts))
    if "".join(heads).translate(_DIGITS_TO_ZERO) != _HEAD_SHAPE * len(heads):
        return None
    if heads != sorted(heads):
        return None
    # Sorted, so each second's heads are adjacent: visit each second once.
    start, count = 0, len(heads)
    while start < count:
        second = heads[start][:19]
        if _canonical_seconds(second) is None:
            return None
        # "." sorts before "/", so every head of this second is below second + "/".
        start = bisect_left(heads, second + "/", start + 1)
    return heads


def _stamp_end(text: str) -> int:
    """Where the text after a valid docker stamp and its space starts; 0 if none."""
    if len(text) > 20 and text[10] == "T" and "0" <= text[0] <= "9":
        match = _DOCKER_TIMESTAMP.match(text)
        if match is not None and _ns_from_match(match) is not None:
            return match.end()
    return 0


def _stamp_ns(text: str, end: int) -> int | None:
    """Nanoseconds of the stamp that ``_stamp_end`` found ending at ``end``."""
    if not end:
        return None
    if end == _HEAD_LENGTH and text[29] == "Z" and text[19] == ".":  # docker's own form
        seconds = _whole_seconds.get(text[:19])
        if type(seconds) is not int:
            seconds = _canonical_seconds(text[:19])
            if seconds is None:
                return None
        return seconds * _NS_PER_SECOND + int(text[20:29])
    match = _DOCKER_TIMESTAMP.match(text)
    return None if match is None else _ns_from_match(match)


# -- message bodies (Rails, Active Job) -------------------------------------------


class _Fields:
    """Scratch record filled in field by field while parsing one line; what the
    line keeps is then packed into a tuple (see :data:`ParsedFields`).  Fields
    default to the class's values, so a line sets only those it has."""

    kind: LogKind | None = None
    level: LogLevel = LogLevel.UNKNOWN
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    duration_ms: float | None = None
    job_class: str | None = None
    job_id: str | None = None
    queue: str | None = None
    exception_class: str | None = None

    def __init__(self, message: str) -> None:
        self.message = message

    def raise_level(self, level: LogLevel) -> None:
        if _SEVERITY[level] > _SEVERITY[self.level]:
            self.level = level


_TAG = re.compile(r"\[([^\[\]]*)\] *")
_TAG_RUN = re.compile(r"(?:\[[^\[\]]*\] *)+")
# ActionDispatch::RequestId keeps only [\w\-@] of an X-Request-Id header (and makes a
# UUID when there is none), so an IP address (dots, colons) is never a request id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_@-]{1,255}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CLASS_NAME = r"[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*"
# Bounded digits: a forged 5000-digit duration must not become float("inf").
_MILLISECONDS = r"(\d{1,15}(?:\.\d{1,15})?)ms"

# Templates of the log subscribers (tests/test_log_templates.py transcribes them from
# Rails 7.1-8.1 and Solid Queue 1.x).  Rails 8 writes no severity prefix, so each
# template gives the level its subscriber logs it at.
_STARTED = re.compile(r'Started ([A-Z]+) "(.*)" for (\S+)(?: at (.*))?')
_PROCESSING = re.compile(r"Processing by (\S+) as (\S+)")
_COMPLETED = re.compile(r"Completed (\d{3})\b.*? in " + _MILLISECONDS)
_JOB_ID = r"\(Job ID: ([^)]*)\)"
_ADAPTER = r"[A-Za-z0-9_:]+\(([^)]*)\)"
_JOB_REFERENCE = r"(" + _CLASS_NAME + r") " + _JOB_ID + r" (?:from|to) " + _ADAPTER
_PERFORMED = re.compile(r"Performed " + _JOB_REFERENCE + r"(?: in " + _MILLISECONDS + ")?")
_ERROR_PERFORMING = re.compile(
    r"Error performing " + _JOB_REFERENCE + r"(?: in " + _MILLISECONDS + ")?(?:: (.*))?"
)
# Performing/Enqueued name their adapter and queue; the other events only the job.
_JOB_WITH_QUEUE = re.compile(r"(?:Performing|Enqueued) " + _JOB_REFERENCE)
_JOB_ONLY = re.compile(
    r"(?:Retrying|Discarded|Stopped retrying|Interrupted|Resuming) (" + _CLASS_NAME + r") "
    + _JOB_ID
)
_DUE_TO = re.compile(r" due to a (" + _CLASS_NAME + r") \(")
_FAILED_ENQUEUING = re.compile(
    r"Failed enqueuing (" + _CLASS_NAME + r") to " + _ADAPTER + r"(: (" + _CLASS_NAME + r") \()?"
)
# Active Job continuations (Rails 8.1): "Step 'name' ... for SomeJob (Job ID: id) in 1.2ms".
_STEP = re.compile(
    r"(Error during step|Step) '.*' (?:skipped (" + _CLASS_NAME + r")$|.*?for ("
    + _CLASS_NAME + r") " + _JOB_ID + r"(?: in " + _MILLISECONDS + r")?(?:: ("
    + _CLASS_NAME + r") \()?)"
)
_ACTION_CONTROLLER_DURATION = re.compile(
    r"(?:Sent (?:file|data)|(?:Write|Read|Exist|Expire) fragment\??) .* \(" + _MILLISECONDS + r"\)"
)
_RESCUED = re.compile(r"rescue_from handled (" + _CLASS_NAME + r") \(")
_CAUSED_BY = re.compile(r"Caused by: (" + _CLASS_NAME + r") \(")
# Active Record's SQL line: "  User Load (0.4ms)  SELECT ..." (CACHE, ASYNC with the
# lock wait and then the database time), coloured unless colorize_logging is off
# (the escapes are inert here).
_SGR = r"(?:␛\[[0-9;]*m)*"
_SQL = re.compile(
    _SGR + r"(?:CACHE )?(?:ASYNC )?[A-Za-z][A-Za-z0-9_:]*(?: [A-Za-z][A-Za-z0-9_?]*)* \("
    + _MILLISECONDS + r"\)(?: \(db time " + _MILLISECONDS + r"\))?" + _SGR + "  "
)
_SOLID_QUEUE = re.compile(
    r"SolidQueue-\d[0-9A-Za-z.]* (.+?) \(" + _MILLISECONDS + r"\) *(.*)"
)
_SOLID_QUEUE_ERROR = re.compile(r'(?:^|, )error: "(' + _CLASS_NAME + r')[ "]')
_SOLID_QUEUE_JOB_ID = re.compile(r'(?:^|, )active_job_id: "([^"]*)"')
# Solid Queue's actions (lib/solid_queue/log_subscriber.rb, the same in 1.0-1.5), and
# those that end in a process kind ("Started Worker") without it.
_SOLID_QUEUE_LEVELS: Final = {
    "Dispatch scheduled jobs": LogLevel.DEBUG,
    "Claim jobs": LogLevel.DEBUG,
    "Release claimed jobs": LogLevel.INFO,
    "Fail claimed jobs": LogLevel.WARN,
    "Release claimed job": LogLevel.INFO,
    "Retry failed jobs": LogLevel.DEBUG,
    "Retry failed job": LogLevel.DEBUG,
    "Discard jobs": LogLevel.DEBUG,
    "Discard job": LogLevel.DEBUG,
    "Unblock jobs": LogLevel.DEBUG,
    "Release blocked job": LogLevel.DEBUG,
    "Error enqueuing recurring task": LogLevel.ERROR,
    "Enqueued recurring task outside Solid Queue": LogLevel.DEBUG,
    "Skipped recurring task – already dispatched": LogLevel.DEBUG,
    "Enqueued recurring task": LogLevel.DEBUG,
    "Prune dead processes": LogLevel.DEBUG,
    "Error in thread": LogLevel.ERROR,
    "Supervisor wasn't terminated gracefully - shutdown timeout exceeded": LogLevel.WARN,
    "Supervisor terminated gracefully": LogLevel.INFO,
    "Supervisor terminated immediately": LogLevel.INFO,
    "Received unhandled signal": LogLevel.ERROR,
    "Tried to replace forked process but it had already died": LogLevel.WARN,
}
_SOLID_QUEUE_PROCESS_LEVELS: Final = {
    "Started": LogLevel.INFO,
    "Shutdown": LogLevel.INFO,
    "Register": LogLevel.DEBUG,
    "Error registering": LogLevel.WARN,
    "Deregister": LogLevel.DEBUG,
    "Error deregistering": LogLevel.WARN,
    "Replaced terminated": LogLevel.INFO,
}
# ActionController lines that carry no field: the level by their first words.
_CONTROLLER_LEVELS: Final = (
    ("Parameters: ", LogLevel.INFO),
    ("Filter chain halted as ", LogLevel.INFO),
    ("Redirected to ", LogLevel.INFO),
    ("Unpermitted parameter", LogLevel.DEBUG),
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


# -- the app's config.log_tags ----------------------------------------------------------

DEFAULT_LOG_TAGS: Final = ("request_id",)
# Names of config.log_tags entries the parse reads; any other name is an opaque tag.
_REQUEST_ID_TAGS: Final = frozenset({"request_id", "uuid"})


class _TagLayout:
    """Where the request id sits among a request's leading tags."""

    __slots__ = ("count", "request_id_at")

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.count = len(tags)
        self.request_id_at = next(
            (index for index, name in enumerate(tags) if name in _REQUEST_ID_TAGS), None
        )


def log_tags_key(tags: Iterable[str]) -> str | None:
    """What an unparsed line's record carries for the app's ``config.log_tags``
    (names in order, e.g. ``("remote_ip", "request_id")``); None for the default,
    ``[:request_id]``, read as a valid-looking first tag.  ``request_id`` (or its
    alias ``uuid``) is read as the request id; any other name is an opaque tag that
    only holds its place.
    """
    names = tuple(tags)
    if names == DEFAULT_LOG_TAGS:
        return None
    key = ",".join(name.replace(",", ";") for name in names)
    _tag_layout(key)
    return key


_tag_layouts: dict[str, _TagLayout] = {}


def _tag_layout(key: str) -> _TagLayout:
    layout = _tag_layouts.get(key)
    if layout is None:
        layout = _tag_layouts[key] = _TagLayout(tuple(key.split(",")) if key else ())
    return layout


def _request_id_of(tags: list[str], layout: _TagLayout | None) -> str | None:
    """The request id among a request's leading ``tags``, as the app tags its lines."""
    if not tags:
        return None
    if layout is None:
        return tags[0] if _REQUEST_ID.fullmatch(tags[0]) else None
    position = layout.request_id_at
    if position is None:
        return None
    missing = layout.count - len(tags)
    if missing <= 0:
        tag = tags[position]
        return tag if _REQUEST_ID.fullmatch(tag) else None
    # TaggedLogging drops blank tags, so the request id may sit up to `missing`
    # places further left; only a generated (UUID) id is then taken.
    for index in range(min(position, len(tags) - 1), max(0, position - missing) - 1, -1):
        if _UUID.fullmatch(tags[index]):
            return tags[index]
    return None


def _parse_tags(text: str, fields: _Fields, layout: _TagLayout | None) -> str:
    """Consume leading ``[tag]`` groups; return the text after them."""
    match = _TAG_RUN.match(text)
    if match is None:
        return text
    tags = _TAG.findall(text, 0, match.end())
    if "ActiveJob" in tags:
        # [ActiveJob] [JobClass] [job-id]: the job's own log lines (an enqueue has
        # [ActiveJob] alone), after the request's tags when a request ran the job.
        job_tag = tags.index("ActiveJob")
        if job_tag + 1 < len(tags):
            fields.job_class = tags[job_tag + 1]
        if job_tag + 2 < len(tags):
            fields.job_id = tags[job_tag + 2]
        del tags[job_tag:]
    fields.request_id = _request_id_of(tags, layout)
    return text[match.end() :]


# -- message bodies (Rails, Active Job, Solid Queue) --------------------------------------


def _parse_body(body: str, fields: _Fields) -> bool:
    """Recognise a Rails, Active Job or Solid Queue message; False when it is none."""
    if body[:1] == " ":
        body = body.lstrip(" ")
    if not body:
        return False
    first = body[0]
    if first == "S":
        if body.startswith("Started "):
            match = _STARTED.fullmatch(body)
            if match is not None:
                fields.kind = LogKind.RAILS_STARTED
                fields.method = match.group(1)
                fields.path = match.group(2)
                fields.raise_level(LogLevel.INFO)
                return True
        elif body.startswith("SolidQueue-"):
            return _parse_solid_queue(body, fields)
        elif body.startswith("Stopped retrying "):
            return _parse_job_event(body, fields, LogLevel.ERROR)
        elif body.startswith("Step '"):
            return _parse_step(body, fields)
        elif body.startswith("Sent "):
            return _parse_controller_duration(body, fields)
    elif first == "C":
        if body.startswith("Completed "):
            match = _COMPLETED.match(body)
            if match is not None:
                status = int(match.group(1))
                fields.kind = LogKind.RAILS_COMPLETED
                fields.status = status
                fields.duration_ms = float(match.group(2))
                fields.raise_level(_level_for_status(status, warn_on_4xx=True))
                return True
        elif body.startswith("Caused by: "):
            match = _CAUSED_BY.match(body)
            if match is not None:
                # DebugExceptions (8.0+) names each cause in the exception's message.
                fields.kind = LogKind.RAILS_OTHER
                fields.exception_class = match.group(1)
                fields.raise_level(LogLevel.ERROR)
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
            return _parse_job_with_queue(body, fields)
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
            return _parse_job_with_queue(body, fields)
        elif body.startswith("Error during step '"):
            return _parse_step(body, fields)
        elif body.startswith(("Exist fragment", "Expire fragment")):
            return _parse_controller_duration(body, fields)
    elif first == "R":
        if body.startswith(("Retrying ", "Resuming ")):
            return _parse_job_event(body, fields, LogLevel.INFO)
        if body.startswith("Read fragment "):
            return _parse_controller_duration(body, fields)
    elif first == "D":
        if body.startswith("Discarded "):
            return _parse_job_event(body, fields, LogLevel.ERROR)
    elif first == "F":
        if body.startswith("Failed enqueuing "):
            return _parse_failed_enqueuing(body, fields)
    elif first == "I":
        if body.startswith("Interrupted "):
            return _parse_job_event(body, fields, LogLevel.INFO)
    elif first == "W":
        if body.startswith("Write fragment "):
            return _parse_controller_duration(body, fields)
    elif first == "r" and body.startswith("rescue_from handled "):
        match = _RESCUED.match(body)
        if match is not None:
            fields.kind = LogKind.RAILS_OTHER
            fields.exception_class = match.group(1)
            fields.raise_level(LogLevel.INFO)
            return True
    if "A" <= first <= "Z":
        split = _split_exception(body)
        if split is not None and _looks_like_exception_class(split[0]):
            fields.kind = LogKind.RAILS_EXCEPTION
            fields.exception_class = split[0]
            fields.raise_level(LogLevel.ERROR)
            return True
        for start, level in _CONTROLLER_LEVELS:
            if body.startswith(start):
                fields.kind = LogKind.RAILS_OTHER
                fields.raise_level(level)
                return True
    if "ms)" in body:
        match = _SQL.match(body)
        if match is not None:
            fields.kind = LogKind.RAILS_OTHER
            fields.duration_ms = float(match.group(2) or match.group(1))
            fields.raise_level(LogLevel.DEBUG)
            return True
    return False


def _set_job(fields: _Fields, match: re.Match[str]) -> None:
    fields.job_class = match.group(1)
    fields.job_id = match.group(2)
    fields.queue = match.group(3)


def _parse_job_with_queue(body: str, fields: _Fields) -> bool:
    """``Performing``/``Enqueued`` a job, or ``Enqueued 3 jobs to SolidQueue (…)``."""
    match = _JOB_WITH_QUEUE.match(body)
    if match is not None:
        _set_job(fields, match)
    elif body.startswith("Enqueued ") and body[9:10].isdigit():
        # enqueue_all names no job: from inside a job, the tags are that job's.
        fields.job_class = fields.job_id = None
    else:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.raise_level(LogLevel.INFO)
    return True


def _parse_job_event(body: str, fields: _Fields, level: LogLevel) -> bool:
    """Retrying/Discarded/Stopped retrying/Interrupted/Resuming: no adapter part."""
    match = _JOB_ONLY.match(body)
    if match is None:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.job_class = match.group(1)
    fields.job_id = match.group(2)
    due = _DUE_TO.search(body, match.end())
    if due is not None:
        fields.exception_class = due.group(1)
    fields.raise_level(level)
    return True


def _parse_failed_enqueuing(body: str, fields: _Fields) -> bool:
    match = _FAILED_ENQUEUING.match(body)
    if match is None:
        # "Failed enqueuing 2 jobs to SolidQueue" (enqueue_all, at info).
        if not body[17:18].isdigit():
            return False
        fields.kind = LogKind.RAILS_OTHER
        fields.job_class = fields.job_id = None
        fields.raise_level(LogLevel.INFO)
        return True
    fields.kind = LogKind.RAILS_OTHER
    fields.job_class = match.group(1)
    fields.job_id = None
    fields.queue = match.group(2)
    if match.group(3) is None:
        fields.raise_level(LogLevel.INFO)  # a before_enqueue callback halted it
    else:
        fields.exception_class = match.group(4)
        fields.raise_level(LogLevel.ERROR)
    return True


def _parse_step(body: str, fields: _Fields) -> bool:
    match = _STEP.match(body)
    if match is None:
        return False
    failed, skipped_class, job_class, job_id, duration, error = match.groups()
    fields.kind = LogKind.RAILS_OTHER
    if skipped_class is not None:
        fields.job_class = skipped_class
    else:
        fields.job_class, fields.job_id = job_class, job_id
        if duration is not None:
            fields.duration_ms = float(duration)
    if failed == "Error during step":
        fields.exception_class = error
        fields.raise_level(LogLevel.ERROR)
    else:
        fields.raise_level(LogLevel.INFO)
    return True


def _parse_controller_duration(body: str, fields: _Fields) -> bool:
    match = _ACTION_CONTROLLER_DURATION.fullmatch(body)
    if match is None:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.duration_ms = float(match.group(1))
    fields.raise_level(LogLevel.INFO)
    return True


def _parse_solid_queue(body: str, fields: _Fields) -> bool:
    """``SolidQueue-1.2.0 Claim jobs (1.2ms)  process_id: 1, job_ids: [1]``."""
    match = _SOLID_QUEUE.fullmatch(body)
    if match is None:
        return False
    action, duration, attributes = match.groups()
    level = _SOLID_QUEUE_LEVELS.get(action)
    if level is None:
        level = _SOLID_QUEUE_PROCESS_LEVELS.get(action.rpartition(" ")[0])
        if level is None:
            return False
    fields.kind = LogKind.RAILS_OTHER
    fields.duration_ms = float(duration)
    fields.raise_level(level)
    if "error: " in attributes:
        error = _SOLID_QUEUE_ERROR.search(attributes)
        if error is not None:
            fields.exception_class = error.group(1)
    if "active_job_id: " in attributes:
        job_id = _SOLID_QUEUE_JOB_ID.search(attributes)
        if job_id is not None:
            fields.job_id = job_id.group(1)
    return True


def _level_for_status(status: int, *, warn_on_4xx: bool) -> LogLevel:
    if 500 <= status <= 599:
        return LogLevel.ERROR
    if warn_on_4xx and 400 <= status <= 499:
        return LogLevel.WARN
    return LogLevel.INFO


def _parse_message(
    text: str, fields: _Fields, unmatched_kind: LogKind, layout: _TagLayout | None
) -> None:
    """Rails/Active Job text, possibly tagged; ``unmatched_kind`` when unknown."""
    body = _parse_tags(text, fields, layout) if text.startswith("[") else text
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


def _parse_logger(text: str, fields: _Fields, layout: _TagLayout | None) -> bool:
    match = _LOGGER_PREFIX.match(text)
    if match is None:
        return False
    fields.level = _LOGGER_LEVELS[match.group(1)]
    _parse_message(text[match.end() :], fields, LogKind.LOGGER, layout)
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


# -- the line -----------------------------------------------------------------------


LOG_LINE_FIELDS: Final = (
    "raw",
    "host",
    "container",
    "timestamp",
    "timestamp_text",
    "kind",
    "level",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "job_class",
    "job_id",
    "queue",
    "exception_class",
)
"""What a :class:`LogLine` tells; fields a format does not carry are ``None``."""


# What a line holds is a record: an exact tuple of strings, numbers and None, which
# the garbage collector stops tracking, so that a buffer of 100 000 lines costs a
# collection nothing (objects of a class would each be walked by every full
# collection).  The record's parts:
#   text       the line as received, made inert, docker timestamp included
#   host, container
#   stamp end  where the text after the docker stamp and its space starts (0: none)
#   fields     before parsing, None, or a string when the app's log tags are not the
#              default (log_tags_key); then a tuple: kind and level (indexes into
#              _KINDS, _LEVELS), the message (an offset into raw when it is the
#              end of raw, else the text), request_id, method, path, status,
#              duration_ms, job_class, job_id, queue, exception_class, stamp_ns
ParsedFields = tuple[
    int,
    int,
    str | int,
    str | None,
    str | None,
    str | None,
    int | None,
    float | None,
    str | None,
    str | None,
    str | None,
    str | None,
    int | None,
]
LineRecord = tuple[str, str, str, int, ParsedFields | str | None]

_KINDS: Final = tuple(LogKind)
_KIND_INDEX: Final = {kind: index for index, kind in enumerate(_KINDS)}
_LEVELS: Final = tuple(LogLevel)
_LEVEL_INDEX: Final = {level: index for index, level in enumerate(_LEVELS)}
_RAILS_COMPLETED_INDEX: Final = _KIND_INDEX[LogKind.RAILS_COMPLETED]


# What can give a line a level of WARN or worse, or a status (see the parse): the
# start of a JSON or Logger line, a Completed line's status, words the message
# starts with, level words, and an exception class (namespaced, or with a
# conventional suffix) before " (".
_INFO_SEVERITY: Final = LogLevel.INFO.severity
_WARN_SEVERITY: Final = LogLevel.WARN.severity
_MAY_ERROR_PREFIXES: Final = ("{", "E, ", "F, ")
_MAY_WARN_PREFIXES: Final = (*_MAY_ERROR_PREFIXES, "W, ")
_MAY_ERROR_WORDS: Final = (
    "Error ",  # performing, during step; Solid Queue's in thread, enqueuing, (de)registering
    "Failed enqueuing ",
    "Discarded ",
    "Stopped retrying ",
    "Caused by: ",
    "Received unhandled signal",
    "ERROR",
    "FATAL",
    "CRITICAL",
    "PANIC",
)
_MAY_WARN_WORDS: Final = (
    *_MAY_ERROR_WORDS,
    "Fail claimed jobs",
    "terminated gracefully - shutdown",
    "Tried to replace forked",
    "WARN",
)
_EXCEPTION_HINT = re.compile(
    r"(?:::[A-Z][A-Za-z0-9_]*|Error|Exception|Timeout|Interrupt|Invalid) \("
)
# The same where the message must start, after a run of tags.
_EXCEPTION_START = re.compile(
    r"(?:\[[^\[\]]*\] *)*+"
    r"(?:(?=[A-Z])[A-Za-z0-9_]*(?:Error|Exception|Timeout|Interrupt|Invalid)"
    r"|[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)+) \("
)


# What the parse reads as a Rails "Completed" line when the line has no Logger
# prefix: a run of tags (the parse takes them all), then the Completed message.
_TAGGED_COMPLETED = re.compile(r"(?:\[[^\[\]]*\] *)*+" + _COMPLETED.pattern)


def _parse_text(text: str, stamp_end: int, tags_key: str | None) -> ParsedFields:
    """Every field of an inert line whose docker stamp (if any) ends at ``stamp_end``,
    tagged as ``tags_key`` says (see :func:`log_tags_key`)."""
    layout = None if tags_key is None else _tag_layout(tags_key)
    body = text[stamp_end:] if stamp_end else text
    fields = _Fields(body)
    first = body[:1]
    if first == "{":
        if not _parse_json(body, fields):
            fields.kind = LogKind.RAW
    elif not (
        first and first in "DIWEFA" and body[1:3] == ", " and _parse_logger(body, fields, layout)
    ):
        _parse_message(body, fields, LogKind.RAW, layout)
    message: str | int = fields.message
    if body.endswith(fields.message):
        message = len(body) - len(fields.message)
    return (
        _KIND_INDEX[fields.kind or LogKind.RAW],
        _LEVEL_INDEX[fields.level],
        message,
        fields.request_id,
        fields.method,
        fields.path,
        fields.status,
        fields.duration_ms,
        fields.job_class,
        fields.job_id,
        fields.queue,
        fields.exception_class,
        _stamp_ns(text, stamp_end),
    )


class ParsedLineStore(Protocol):
    """Where a line came from, told when the line is parsed so it keeps the result."""

    def keep_parsed(self, seq: int, before: LineRecord, after: LineRecord) -> None: ...


class LogLine:
    """One line of container output.

    ``text`` is the line as received, made inert, docker timestamp included;
    ``raw`` is the part after the docker timestamp prefix; ``timestamp_text`` is
    that prefix exactly as received (nanoseconds intact, for ``docker logs
    --since`` resumption) or ``""``; ``stamp_ns`` is the same instant in
    nanoseconds since the epoch and ``timestamp`` as a UTC datetime (microseconds);
    ``message`` is the human part of the line (after the Logger prefix and Rails
    tags, or the JSON ``msg``).  The other fields (see :data:`LOG_LINE_FIELDS`) are
    those of the line's format, ``None`` where it has none.

    A ``LogLine`` is a view of a record (see :data:`LineRecord`).  Lines from
    streams are parsed when a field of their format is first read, and keep the
    result (so does the buffer that handed the line out); this constructor makes
    a line whose fields are given.
    """

    __slots__ = ("_record", "_seq", "_store")

    _record: LineRecord
    _store: ParsedLineStore | None
    _seq: int

    def __init__(
        self,
        raw: str,
        host: str,
        container: str,
        timestamp: datetime | None,
        timestamp_text: str,
        kind: LogKind,
        level: LogLevel,
        message: str,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        duration_ms: float | None = None,
        job_class: str | None = None,
        job_id: str | None = None,
        queue: str | None = None,
        exception_class: str | None = None,
    ) -> None:
        stamp_ns = None
        if timestamp is not None:
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=UTC)
            stamp_ns = (timestamp - _EPOCH) // timedelta(microseconds=1) * 1000
        fields: ParsedFields = (
            _KIND_INDEX[kind],
            _LEVEL_INDEX[level],
            message,
            request_id,
            method,
            path,
            status,
            duration_ms,
            job_class,
            job_id,
            queue,
            exception_class,
            stamp_ns,
        )
        text = f"{timestamp_text} {raw}" if timestamp_text else raw
        stamp_end = len(timestamp_text) + 1 if timestamp_text else 0
        self._record = (text, host, container, stamp_end, fields)
        self._store = None
        self._seq = 0

    def __repr__(self) -> str:
        return f"LogLine(host={self.host!r}, container={self.container!r}, text={self.text!r})"

    def __eq__(self, other: object) -> bool:
        """Lines are equal when they hold the same text from the same source and
        say the same (both are parsed to compare)."""
        if not isinstance(other, LogLine):
            return NotImplemented
        return self._record[:4] == other._record[:4] and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._record[:3])

    @property
    def record(self) -> LineRecord:
        """What the line holds (see :data:`LineRecord`); ``line_view`` makes a line of it."""
        return self._record

    def _fields(self) -> ParsedFields:
        record = self._record
        fields = record[4]
        if not isinstance(fields, tuple):
            fields = _parse_text(record[0], record[3], fields)
            parsed = (record[0], record[1], record[2], record[3], fields)
            self._record = parsed
            if self._store is not None:
                self._store.keep_parsed(self._seq, record, parsed)
        return fields

    @property
    def is_parsed(self) -> bool:
        """Whether the fields of the line's format have been worked out yet."""
        return isinstance(self._record[4], tuple)

    # -- known without parsing ----------------------------------------------------------

    @property
    def text(self) -> str:
        return self._record[0]

    @property
    def host(self) -> str:
        return self._record[1]

    @property
    def container(self) -> str:
        return self._record[2]

    @property
    def raw(self) -> str:
        record = self._record
        return record[0][record[3] :]

    @property
    def raw_length(self) -> int:
        """``len(raw)``, without making ``raw``."""
        record = self._record
        return len(record[0]) - record[3]

    @property
    def timestamp_text(self) -> str:
        record = self._record
        end = record[3]
        return record[0][: end - 1] if end else ""

    @property
    def stamp_ns(self) -> int | None:
        record = self._record
        fields = record[4]
        if isinstance(fields, tuple):
            return fields[12]
        return _stamp_ns(record[0], record[3])

    @property
    def timestamp(self) -> datetime | None:
        return _datetime_from_ns(self.stamp_ns)

    def could_be(self, kind: LogKind) -> bool:
        """False only when the line is certainly not of ``kind``; cheap before
        parsing for the kinds request statistics count (a substring test)."""
        record = self._record
        fields = record[4]
        if isinstance(fields, tuple):
            return _KINDS[fields[0]] is kind
        if kind is LogKind.RAILS_COMPLETED:
            return "Completed " in record[0]
        if kind is LogKind.PROXY_REQUEST:
            return record[0].startswith("{", record[3])
        return True

    def could_reach(self, level: LogLevel) -> bool:
        """False only when the line's level is certainly below ``level`` and, for
        ERROR, its status certainly below 500 (as ``is_error`` asks).  Before parsing, a few
        substring tests for what can make a line WARN or worse, and the Completed
        regex for a Rails request line (property-tested), so a level filter or a
        search for errors parses few lines."""
        record = self._record
        severity = level.severity
        if isinstance(record[4], tuple) or severity <= _INFO_SEVERITY:
            return True
        text, start = record[0], record[3]
        warn = severity <= _WARN_SEVERITY
        if text.startswith(_MAY_WARN_PREFIXES if warn else _MAY_ERROR_PREFIXES, start):
            return True
        if text.find("Completed ", start) >= 0:
            if not text.startswith(("[", "C"), start):
                return True  # after a Logger prefix: let the parse say
            # No Logger prefix: the regex decides whether this is a Completed
            # line, whose level then comes from its status alone.
            match = _TAGGED_COMPLETED.match(text, start)
            if match is not None:
                status_level = _level_for_status(int(match.group(1)), warn_on_4xx=True)
                return status_level.severity >= severity
        for word in _MAY_WARN_WORDS if warn else _MAY_ERROR_WORDS:
            if text.find(word, start) >= 0:
                return True
        if text.find(" (", start) < 0:
            return False
        if text[start + 1 : start + 3] == ", ":  # may be a Logger line: anywhere
            return _EXCEPTION_HINT.search(text, start) is not None
        return _EXCEPTION_START.match(text, start) is not None

    def could_have_request_id(self, request_id: str) -> bool:
        """False only when the line's ``request_id`` is certainly not ``request_id``:
        before parsing, a line that is not JSON names it in its text."""
        record = self._record
        if isinstance(record[4], tuple):
            return True
        return request_id in record[0] or record[0].startswith("{", record[3])

    def rails_completed(self) -> tuple[float, int] | None:
        """``(duration_ms, status)`` when the line is a Rails ``Completed`` line, else
        None.  Before parsing, a line without a Logger prefix is read with one regex
        (request statistics need no other field); otherwise the line is parsed."""
        text, _, _, start, fields = self._record
        if not isinstance(fields, tuple):
            if "Completed " not in text:
                return None
            first = text[start : start + 1]
            if first == "[" or first == "C":
                match = _TAGGED_COMPLETED.match(text, start)
                if match is None:
                    return None
                return float(match.group(2)), int(match.group(1))
            fields = self._fields()
        status, duration_ms = fields[6], fields[7]
        if fields[0] != _RAILS_COMPLETED_INDEX or status is None or duration_ms is None:
            return None
        return duration_ms, status

    # -- parsed on first use ----------------------------------------------------------

    @property
    def kind(self) -> LogKind:
        return _KINDS[self._fields()[0]]

    @property
    def level(self) -> LogLevel:
        return _LEVELS[self._fields()[1]]

    @property
    def message(self) -> str:
        message = self._fields()[2]
        if isinstance(message, int):
            record = self._record
            return record[0][record[3] + message :]
        return message

    @property
    def request_id(self) -> str | None:
        return self._fields()[3]

    @property
    def method(self) -> str | None:
        return self._fields()[4]

    @property
    def path(self) -> str | None:
        return self._fields()[5]

    @property
    def status(self) -> int | None:
        return self._fields()[6]

    @property
    def duration_ms(self) -> float | None:
        return self._fields()[7]

    @property
    def job_class(self) -> str | None:
        return self._fields()[8]

    @property
    def job_id(self) -> str | None:
        return self._fields()[9]

    @property
    def queue(self) -> str | None:
        return self._fields()[10]

    @property
    def exception_class(self) -> str | None:
        return self._fields()[11]


class _LineView(LogLine):
    """A line made from its record (from a stream, or handed out by a buffer)."""

    __slots__ = ()

    def __init__(
        self, record: LineRecord, store: ParsedLineStore | None = None, seq: int = 0
    ) -> None:
        self._record = record
        self._store = store
        self._seq = seq


def line_view(record: LineRecord, store: ParsedLineStore | None = None, seq: int = 0) -> LogLine:
    """The line of ``record``; once parsed, it tells ``store`` (under ``seq``)."""
    return _LineView(record, store, seq)


# -- request statistics -------------------------------------------------------------

# _TAGGED_COMPLETED after a stamp in docker's own form (whole second, nanoseconds).
_STAMPED_COMPLETED = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z " + _TAGGED_COMPLETED.pattern
)


def rails_completed_samples(entries: Iterable[object]) -> list[tuple[int, float, int]]:
    """``(stamp_ns, duration_ms, status)`` of every stamped Rails ``Completed`` line
    among ``entries`` (other entries are skipped): what request statistics count.

    The same as ``stamp_ns`` and :meth:`LogLine.rails_completed` of each line, but
    a docker-stamped line is read with one regex, stamp and all, and a line without
    ``Completed `` in it costs a substring test.
    """
    samples: list[tuple[int, float, int]] = []
    for entry in entries:
        if not isinstance(entry, LogLine):
            continue
        text, _, _, start, fields = entry._record
        if not isinstance(fields, tuple):
            if "Completed " not in text:
                continue
            if _is_canonical_stamp(text, start) and text.startswith(("[", "C"), start):
                # No Logger prefix: the regex decides, as in rails_completed.
                match = _STAMPED_COMPLETED.match(text)
                if match is not None:
                    second, fraction, status, duration = match.groups()
                    seconds = _canonical_seconds(second)
                    if seconds is not None:
                        stamp = seconds * _NS_PER_SECOND + int(fraction)
                        samples.append((stamp, float(duration), int(status)))
                continue
        sample = entry.rails_completed()
        stamp_ns = None if sample is None else entry.stamp_ns
        if sample is not None and stamp_ns is not None:
            samples.append((stamp_ns, *sample))
    return samples


def exception_stamps(entries: Iterable[object], exception_class: str) -> list[int]:
    """``stamp_ns`` of every stamped line among ``entries`` (other entries are
    skipped) whose ``exception_class`` is ``exception_class``.  A line that does
    not name the class costs a substring test; only those that do are parsed."""
    named = [
        entry
        for entry in entries
        if isinstance(entry, LogLine) and exception_class in entry._record[0]
    ]
    stamps: list[int] = []
    for line in named:
        if line.exception_class == exception_class:
            stamp_ns = line.stamp_ns
            if stamp_ns is not None:
                stamps.append(stamp_ns)
    return stamps


# -- entry points -------------------------------------------------------------------


def parse_line(
    raw: str, host: str = "", container: str = "", tags_key: str | None = None
) -> LogLine:
    """One line of container output; its fields are parsed when first read, its
    leading Rails tags as ``tags_key`` (:func:`log_tags_key`) says.  Never raises,
    then or later (property-tested)."""
    text = make_inert(raw)
    return _LineView((text, make_inert(host), make_inert(container), _stamp_end(text), tags_key))


def parse_lines(
    texts: list[str],
    host: str = "",
    container: str = "",
    stamped: bool | None = None,
    inert: bool = False,
    tags_key: str | None = None,
) -> list[LogLine]:
    """:func:`parse_line` for a batch of one source's lines, e.g. what
    :meth:`LineSplitter.feed` returned for one chunk.

    ``stamped`` says whether :func:`docker_stamp_heads` found these ``texts`` all
    stamped in docker's own form, if the caller asked it (None: ask here).  Every
    line of a docker stream is, so for the usual batch nothing is done per line
    but making its record and the ``LogLine``.  ``inert`` says the texts are
    inert already (``LineSplitter(inert=True)`` made them).  ``tags_key`` is the
    app's log tags (:func:`log_tags_key`).
    """
    if not inert:
        texts = make_inert_all(texts)
    host, container = make_inert(host), make_inert(container)
    if stamped is None:
        stamped = docker_stamp_heads(texts) is not None
    if stamped:
        records = zip(
            texts, repeat(host), repeat(container), repeat(_HEAD_LENGTH), repeat(tags_key)
        )
    else:
        records = zip(
            texts, repeat(host), repeat(container), map(_stamp_end, texts), repeat(tags_key)
        )
    return list(map(_LineView, records))
