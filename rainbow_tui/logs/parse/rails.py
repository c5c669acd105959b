"""Rails' message bodies: TaggedLogging tags (and the app's ``config.log_tags``),
request lines (Started, Processing, Completed and the controller's other lines),
exceptions, Active Record's SQL lines, and the dispatch by a message's first
words that also hands Active Job and Solid Queue messages to :mod:`.jobs`.

Templates of the log subscribers (tests/test_log_templates.py transcribes them from
Rails 7.1-8.1 and Solid Queue 1.x).  Rails 8 writes no severity prefix, so each
template gives the level its subscriber logs it at.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from rainbow_tui.logs.parse.fields import (
    CLASS_NAME,
    MILLISECONDS,
    LogKind,
    LogLevel,
    ScratchFields,
    level_for_status,
    split_exception,
)
from rainbow_tui.logs.parse.jobs import (
    parse_error_performing,
    parse_failed_enqueuing,
    parse_job_event,
    parse_job_with_queue,
    parse_performed,
    parse_solid_queue,
    parse_step,
)
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern

_TAG = LazyPattern(r"\[([^\[\]]*)\] *")
_TAG_RUN = LazyPattern(r"(?:\[[^\[\]]*\] *)+")
# ActionDispatch::RequestId keeps only [\w\-@] of an X-Request-Id header (and makes a
# UUID when there is none), so an IP address (dots, colons) is never a request id.
_REQUEST_ID = LazyPattern(r"[A-Za-z0-9_@-]{1,255}")
_UUID = LazyPattern(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_STARTED = LazyPattern(r'Started ([A-Z]+) "(.*)" for (\S+)(?: at (.*))?')
_PROCESSING = LazyPattern(r"Processing by (\S+) as (\S+)")
_COMPLETED = LazyPattern(r"Completed (\d{3})\b.*? in " + MILLISECONDS)
_ACTION_CONTROLLER_DURATION = LazyPattern(
    r"(?:Sent (?:file|data)|(?:Write|Read|Exist|Expire) fragment\??) .* \(" + MILLISECONDS + r"\)"
)
_RESCUED = LazyPattern(r"rescue_from handled (" + CLASS_NAME + r") \(")
_CAUSED_BY = LazyPattern(r"Caused by: (" + CLASS_NAME + r") \(")
# Active Record's SQL line: "  User Load (0.4ms)  SELECT ..." (CACHE, ASYNC with the
# lock wait and then the database time), coloured unless colorize_logging is off
# (the escapes are inert here).
_SGR = r"(?:␛\[[0-9;]*m)*"
_SQL = LazyPattern(
    _SGR + r"(?:CACHE )?(?:ASYNC )?[A-Za-z][A-Za-z0-9_:]*(?: [A-Za-z][A-Za-z0-9_?]*)* \("
    + MILLISECONDS + r"\)(?: \(db time " + MILLISECONDS + r"\))?" + _SGR + "  "
)
# ActionController lines that carry no field: the level by their first words.
_CONTROLLER_LEVELS: Final = (
    ("Parameters: ", LogLevel.INFO),
    ("Filter chain halted as ", LogLevel.INFO),
    ("Redirected to ", LogLevel.INFO),
    ("Unpermitted parameter", LogLevel.DEBUG),
)
_EXCEPTION_SUFFIXES = ("Error", "Exception", "Timeout", "Interrupt", "Invalid")
_LEVEL_WORD = LazyPattern(r"\[?(DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC)\b")
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


def _looks_like_exception_class(name: str) -> bool:
    # A bare "Word (text)" is too common in prose; real exception classes are
    # namespaced or end in a conventional suffix.
    return "::" in name or name.endswith(_EXCEPTION_SUFFIXES)


# -- pre-filters: what a parse need not be run to rule out ----------------------------

# What the parse reads as a Rails "Completed" line when the line has no Logger
# prefix: a run of tags (the parse takes them all), then the Completed message.
TAGGED_COMPLETED = LazyPattern(r"(?:\[[^\[\]]*\] *)*+" + _COMPLETED.pattern)

# A bare exception line is ERROR only when _looks_like_exception_class accepts its
# class, and split_exception needs " (" right after it: so a line in which no
# namespaced or suffixed class name comes before " (" holds none.
EXCEPTION_HINT = LazyPattern(
    r"(?:::[A-Z][A-Za-z0-9_]*|Error|Exception|Timeout|Interrupt|Invalid) \("
)
# The same where the message must start, after a run of tags.
EXCEPTION_START = LazyPattern(
    r"(?:\[[^\[\]]*\] *)*+"
    r"(?:(?=[A-Z])[A-Za-z0-9_]*(?:Error|Exception|Timeout|Interrupt|Invalid)"
    r"|[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)+) \("
)

# Words of the messages this module gives WARN or worse (besides Completed, an
# exception, and the jobs' words): DebugExceptions' causes, and a level word at the
# start of a message (_LEVEL_WORD; "WARN" stands for "WARNING" too).
MAY_ERROR_WORDS: Final = ("Caused by: ", "ERROR", "FATAL", "CRITICAL", "PANIC")
MAY_WARN_WORDS: Final = ("WARN",)


# -- the app's config.log_tags ----------------------------------------------------------

DEFAULT_LOG_TAGS: Final = ("request_id",)
# Names of config.log_tags entries the parse reads; any other name is an opaque tag.
_REQUEST_ID_TAGS: Final = frozenset({"request_id", "uuid"})


class TagLayout:
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
    tag_layout(key)
    return key


_tag_layouts: dict[str, TagLayout] = {}


def tag_layout(key: str) -> TagLayout:
    """The layout of a :func:`log_tags_key`, worked out once per key."""
    layout = _tag_layouts.get(key)
    if layout is None:
        layout = _tag_layouts[key] = TagLayout(tuple(key.split(",")) if key else ())
    return layout


def _request_id_of(tags: list[str], layout: TagLayout | None) -> str | None:
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


def _parse_tags(text: str, fields: ScratchFields, layout: TagLayout | None) -> str:
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


def parse_body(body: str, fields: ScratchFields) -> bool:
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
            return parse_solid_queue(body, fields)
        elif body.startswith("Stopped retrying "):
            return parse_job_event(body, fields, LogLevel.ERROR)
        elif body.startswith("Step '"):
            return parse_step(body, fields)
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
                fields.raise_level(level_for_status(status, warn_on_4xx=True))
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
            if parse_performed(body, fields):
                return True
        elif body.startswith("Processing by "):
            if _PROCESSING.match(body) is not None:
                fields.kind = LogKind.RAILS_PROCESSING
                fields.raise_level(LogLevel.INFO)
                return True
        elif body.startswith("Performing "):
            return parse_job_with_queue(body, fields)
    elif first == "E":
        if body.startswith("Error performing "):
            if parse_error_performing(body, fields):
                return True
        elif body.startswith("Enqueued "):
            return parse_job_with_queue(body, fields)
        elif body.startswith("Error during step '"):
            return parse_step(body, fields)
        elif body.startswith(("Exist fragment", "Expire fragment")):
            return _parse_controller_duration(body, fields)
    elif first == "R":
        if body.startswith(("Retrying ", "Resuming ")):
            return parse_job_event(body, fields, LogLevel.INFO)
        if body.startswith("Read fragment "):
            return _parse_controller_duration(body, fields)
    elif first == "D":
        if body.startswith("Discarded "):
            return parse_job_event(body, fields, LogLevel.ERROR)
    elif first == "F":
        if body.startswith("Failed enqueuing "):
            return parse_failed_enqueuing(body, fields)
    elif first == "I":
        if body.startswith("Interrupted "):
            return parse_job_event(body, fields, LogLevel.INFO)
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
        split = split_exception(body)
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


def _parse_controller_duration(body: str, fields: ScratchFields) -> bool:
    match = _ACTION_CONTROLLER_DURATION.fullmatch(body)
    if match is None:
        return False
    fields.kind = LogKind.RAILS_OTHER
    fields.duration_ms = float(match.group(1))
    fields.raise_level(LogLevel.INFO)
    return True


def parse_message(
    text: str, fields: ScratchFields, unmatched_kind: LogKind, layout: TagLayout | None
) -> None:
    """Rails/Active Job text, possibly tagged; ``unmatched_kind`` when unknown."""
    body = _parse_tags(text, fields, layout) if text.startswith("[") else text
    tagged = body is not text
    fields.message = body
    if parse_body(body, fields):
        return
    if tagged and unmatched_kind is LogKind.RAW:
        fields.kind = LogKind.RAILS_OTHER
    else:
        fields.kind = unmatched_kind
    if fields.level is LogLevel.UNKNOWN:
        match = _LEVEL_WORD.match(body)
        if match is not None:
            fields.level = _LEVEL_WORDS[match.group(1)]
