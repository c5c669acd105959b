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

# The formats, one module each: docker_stamp (the --timestamps prefix), rails (tags,
# requests, exceptions, SQL, and the dispatch of a message by its first words), jobs
# (Active Job, Solid Queue), ruby_logger (Logger::Formatter), proxy_json
# (kamal-proxy); fields holds the kinds, levels and scratch record they share;
# record the line record, LogLine and the entry points; scans the whole-buffer scans.
from rainbow_tui.logs.parse.docker_stamp import docker_stamp_heads, parse_docker_timestamp
from rainbow_tui.logs.parse.fields import LogKind, LogLevel
from rainbow_tui.logs.parse.rails import DEFAULT_LOG_TAGS, log_tags_key
from rainbow_tui.logs.parse.record import (
    LOG_LINE_FIELDS,
    LineRecord,
    LogLine,
    ParsedFields,
    ParsedLineStore,
    line_view,
    parse_line,
    parse_lines,
    record_container,
    record_host,
    record_raw_length,
    record_source,
    record_stamp_end,
    record_text,
)
from rainbow_tui.logs.parse.scans import exception_stamps, rails_completed_samples

__all__ = [
    "DEFAULT_LOG_TAGS",
    "LOG_LINE_FIELDS",
    "LineRecord",
    "LogKind",
    "LogLevel",
    "LogLine",
    "ParsedFields",
    "ParsedLineStore",
    "docker_stamp_heads",
    "exception_stamps",
    "line_view",
    "log_tags_key",
    "parse_docker_timestamp",
    "parse_line",
    "parse_lines",
    "rails_completed_samples",
    "record_container",
    "record_host",
    "record_raw_length",
    "record_source",
    "record_stamp_end",
    "record_text",
]
