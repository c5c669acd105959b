"""Ruby ``Logger::Formatter`` lines: a severity prefix, then a Rails message.

"I, [2026-11-28T12:00:00.123456 #1]  INFO -- progname: message"
"""

from __future__ import annotations

from typing import Final

from rainbow_tui.logs.parse.fields import LogKind, LogLevel, ScratchFields
from rainbow_tui.logs.parse.lazy_pattern import LazyPattern
from rainbow_tui.logs.parse.rails import TagLayout, parse_message

_LOGGER_PREFIX = LazyPattern(r"([DIWEFA]), \[[^\]]*\] +[A-Z]+ -- (.*?):(?: |$)")
_LOGGER_LEVELS: Final = {
    "D": LogLevel.DEBUG,
    "I": LogLevel.INFO,
    "W": LogLevel.WARN,
    "E": LogLevel.ERROR,
    "F": LogLevel.FATAL,
    "A": LogLevel.UNKNOWN,
}

# Pre-filter for a level filter (``LogLine.could_reach``): the prefix's letter is the
# line's level, so a line that starts with none of these is not ERROR (or WARN) by
# its prefix; its message may still be, which the message's own pre-filters cover.
MAY_ERROR_PREFIXES: Final = ("E, ", "F, ")
MAY_WARN_PREFIXES: Final = ("W, ",)


def parse_logger(text: str, fields: ScratchFields, layout: TagLayout | None) -> bool:
    """A Logger line's level, then its message as Rails'; False when ``text`` has no
    Logger prefix.  The dispatch calls it only for a text that starts with a severity
    letter and ", " (most lines do not: the check is inline there)."""
    match = _LOGGER_PREFIX.match(text)
    if match is None:
        return False
    fields.level = _LOGGER_LEVELS[match.group(1)]
    parse_message(text[match.end() :], fields, LogKind.LOGGER, layout)
    return True
