"""What every format's parse shares: the kinds and levels a line is given, the
scratch record a parse fills in, and the pieces of grammar several formats use."""

from __future__ import annotations

import enum
from typing import Final

from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

# Sentinel for "key absent" where None is a legitimate value.
MISSING: Final = object()


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
        return SEVERITY[self]


SEVERITY: Final = {
    LogLevel.UNKNOWN: 0,
    LogLevel.DEBUG: 1,
    LogLevel.INFO: 2,
    LogLevel.WARN: 3,
    LogLevel.ERROR: 4,
    LogLevel.FATAL: 5,
}


class ScratchFields:
    """Scratch record filled in field by field while parsing one line; what the
    line keeps is then packed into a tuple (see ``record.ParsedFields``).  Fields
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
        if SEVERITY[level] > SEVERITY[self.level]:
            self.level = level


def level_for_status(status: int, *, warn_on_4xx: bool) -> LogLevel:
    """The level of an HTTP status: Rails warns on a 4xx, kamal-proxy does not."""
    if 500 <= status <= 599:
        return LogLevel.ERROR
    if warn_on_4xx and 400 <= status <= 499:
        return LogLevel.WARN
    return LogLevel.INFO


# -- grammar shared by Rails and Active Job --------------------------------------------

CLASS_NAME = r"[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*"
# Bounded digits: a forged 5000-digit duration must not become float("inf").
MILLISECONDS = r"(\d{1,15}(?:\.\d{1,15})?)ms"

# Ruby's exception as Rails and Active Job log it: "Some::Error (message):".
_EXCEPTION = LazyPattern(r"(" + CLASS_NAME + r") \((.*)")


def split_exception(text: str) -> tuple[str, str] | None:
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
