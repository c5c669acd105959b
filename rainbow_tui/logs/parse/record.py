"""The line record and its view: the tuple a line is held as, :class:`LogLine`
that reads it, the dispatch of a line's text to its format's parse, and
:func:`parse_line` / :func:`parse_lines`, which make records of received text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import itemgetter
from typing import Final, Protocol

from rainbow_tui.logs.lines import make_inert, make_inert_all
from rainbow_tui.logs.parse.docker_stamp import (
    EPOCH,
    HEAD_LENGTH,
    datetime_from_ns,
    docker_stamp_heads,
    find_stamp_end,
    read_stamp_ns,
)
from rainbow_tui.logs.parse.fields import LogKind, LogLevel, ScratchFields, level_for_status
from rainbow_tui.logs.parse.jobs import MAY_ERROR_WORDS as JOB_MAY_ERROR_WORDS
from rainbow_tui.logs.parse.jobs import MAY_WARN_WORDS as JOB_MAY_WARN_WORDS
from rainbow_tui.logs.parse.proxy_json import MAY_ERROR_PREFIXES as JSON_MAY_ERROR_PREFIXES
from rainbow_tui.logs.parse.proxy_json import parse_json
from rainbow_tui.logs.parse.rails import (
    EXCEPTION_HINT,
    EXCEPTION_START,
    TAGGED_COMPLETED,
    parse_message,
    tag_layout,
)
from rainbow_tui.logs.parse.rails import MAY_ERROR_WORDS as RAILS_MAY_ERROR_WORDS
from rainbow_tui.logs.parse.rails import MAY_WARN_WORDS as RAILS_MAY_WARN_WORDS
from rainbow_tui.logs.parse.ruby_logger import MAY_ERROR_PREFIXES as LOGGER_MAY_ERROR_PREFIXES
from rainbow_tui.logs.parse.ruby_logger import MAY_WARN_PREFIXES as LOGGER_MAY_WARN_PREFIXES
from rainbow_tui.logs.parse.ruby_logger import parse_logger

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
# conventional suffix) before " (".  Each format's module keeps its own beside its
# grammar, with why it is safe; LogLine.could_reach puts them together.
_INFO_SEVERITY: Final = LogLevel.INFO.severity
_WARN_SEVERITY: Final = LogLevel.WARN.severity
_MAY_ERROR_PREFIXES: Final = (*JSON_MAY_ERROR_PREFIXES, *LOGGER_MAY_ERROR_PREFIXES)
_MAY_WARN_PREFIXES: Final = (*_MAY_ERROR_PREFIXES, *LOGGER_MAY_WARN_PREFIXES)
_MAY_ERROR_WORDS: Final = (*JOB_MAY_ERROR_WORDS, *RAILS_MAY_ERROR_WORDS)
_MAY_WARN_WORDS: Final = (*_MAY_ERROR_WORDS, *JOB_MAY_WARN_WORDS, *RAILS_MAY_WARN_WORDS)


def _parse_text(text: str, stamp_end: int, tags_key: str | None) -> ParsedFields:
    """Every field of an inert line whose docker stamp (if any) ends at ``stamp_end``,
    tagged as ``tags_key`` says (see :func:`log_tags_key`)."""
    layout = None if tags_key is None else tag_layout(tags_key)
    body = text[stamp_end:] if stamp_end else text
    fields = ScratchFields(body)
    first = body[:1]
    if first == "{":
        if not parse_json(body, fields):
            fields.kind = LogKind.RAW
    # The Logger prefix's first three characters are checked here rather than in
    # parse_logger: most lines have none, and this spares them a call.
    elif not (
        first and first in "DIWEFA" and body[1:3] == ", " and parse_logger(body, fields, layout)
    ):
        parse_message(body, fields, LogKind.RAW, layout)
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
        read_stamp_ns(text, stamp_end),
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
            stamp_ns = (timestamp - EPOCH) // timedelta(microseconds=1) * 1000
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
        return read_stamp_ns(record[0], record[3])

    @property
    def timestamp(self) -> datetime | None:
        return datetime_from_ns(self.stamp_ns)

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
            match = TAGGED_COMPLETED.match(text, start)
            if match is not None:
                status_level = level_for_status(int(match.group(1)), warn_on_4xx=True)
                return status_level.severity >= severity
        for word in _MAY_WARN_WORDS if warn else _MAY_ERROR_WORDS:
            if text.find(word, start) >= 0:
                return True
        if text.find(" (", start) < 0:
            return False
        if text[start + 1 : start + 3] == ", ":  # may be a Logger line: anywhere
            return EXCEPTION_HINT.search(text, start) is not None
        return EXCEPTION_START.match(text, start) is not None

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
                match = TAGGED_COMPLETED.match(text, start)
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


# -- named reads of a record ---------------------------------------------------------

# The parts of a record known without parsing, for code that holds records rather
# than lines (a buffer's ring, a view's rows): C-level item getters, so a pass over a
# burst (``set(map(record_source, records))``) costs no Python call per record.
record_text: Final[Callable[[LineRecord], str]] = itemgetter(0)
"""The line as received, made inert, docker stamp included (``LogLine.text``)."""
record_host: Final[Callable[[LineRecord], str]] = itemgetter(1)
"""The host the line came from (``LogLine.host``)."""
record_container: Final[Callable[[LineRecord], str]] = itemgetter(2)
"""The container the line came from (``LogLine.container``)."""
record_source: Final[Callable[[LineRecord], tuple[str, str]]] = itemgetter(1, 2)
"""``(host, container)`` of the line."""
record_stamp_end: Final[Callable[[LineRecord], int]] = itemgetter(3)
"""Where the text after the docker stamp and its space starts; 0 for none."""


def record_raw_length(record: LineRecord) -> int:
    """``len(raw)`` of the record's line, without making ``raw`` (``LogLine.raw_length``)."""
    return len(record[0]) - record[3]


# -- entry points -------------------------------------------------------------------


def parse_line(
    raw: str, host: str = "", container: str = "", tags_key: str | None = None
) -> LogLine:
    """One line of container output; its fields are parsed when first read, its
    leading Rails tags as ``tags_key`` (:func:`log_tags_key`) says.  Never raises,
    then or later (property-tested)."""
    text = make_inert(raw)
    return _LineView(
        (text, make_inert(host), make_inert(container), find_stamp_end(text), tags_key)
    )


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
            texts, repeat(host), repeat(container), repeat(HEAD_LENGTH), repeat(tags_key)
        )
    else:
        records = zip(
            texts, repeat(host), repeat(container), map(find_stamp_end, texts), repeat(tags_key)
        )
    return list(map(_LineView, records))
