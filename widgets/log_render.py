"""How a log entry is drawn: entry → styled ``Text`` or segments → strips.

Remote text is untrusted: every string drawn goes through ``make_inert`` into a
plain ``rich.text.Text`` or ``Segment`` (never markup).  Styles are roles (the
component classes in :data:`LOG_COMPONENT_CLASSES`) that the widget resolves
from the theme's CSS into :class:`LogStyles`; this module names no colour.

A line is parsed the first time its level or status is read here, and the
buffer keeps the parsed record (see ``LogBuffer.keep_parsed``), so every view of
the same buffer draws it from the one parse.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Final

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.strip import Strip

from rainbow_tui.logs.buffer import Entry, GapMarker, compile_search
from rainbow_tui.logs.layout import (
    GUTTER,
    TIMESTAMP_WIDTH,
    RenderOptions,
    cell_width,
    column_label,
    host_label,
    message_text,
)
from rainbow_tui.logs.parse import LogLevel, LogLine

__all__ = [
    "LOG_COMPONENT_CLASSES",
    "SLOW_MS",
    "LogRenderer",
    "LogStyles",
    "entry_segments",
    "render_entry",
]

SLOW_MS = 1000.0
MARK_SYMBOL = "●"

# Roles: the component classes of the log view, each styled in CSS from the
# theme (LogView.DEFAULT_CSS).  A style is always a role, never a colour here.
TIMESTAMP: Final = "log-view--timestamp"
HOST: Final = "log-view--host"
GAP: Final = "log-view--gap"
DEBUG: Final = "log-view--debug"
WARN: Final = "log-view--warn"
ERROR: Final = "log-view--error"
FATAL: Final = "log-view--fatal"
SLOW: Final = "log-view--slow"
STATUS_4XX: Final = "log-view--status-4xx"
STATUS_5XX: Final = "log-view--status-5xx"
FILTER_MATCH: Final = "log-view--filter-match"
SEARCH_MATCH: Final = "log-view--search-match"
MARK: Final = "log-view--mark"
CURSOR: Final = "log-view--cursor"

LEVEL_ROLE: Final[dict[LogLevel, str]] = {
    LogLevel.DEBUG: DEBUG,
    LogLevel.WARN: WARN,
    LogLevel.ERROR: ERROR,
    LogLevel.FATAL: FATAL,
}

LOG_COMPONENT_CLASSES: Final = frozenset(
    {
        TIMESTAMP,
        HOST,
        GAP,
        *LEVEL_ROLE.values(),
        SLOW,
        STATUS_4XX,
        STATUS_5XX,
        FILTER_MATCH,
        SEARCH_MATCH,
        MARK,
        CURSOR,
    }
)
"""Every role a log view draws with; the cursor's is applied over a whole row."""

# Where the status code of a line sits: Rails "Completed 503", JSON "status":503.
_STATUS_TOKEN = re.compile(r'(?:Completed |status(?:_code)?"?\s*[:=]\s*"?)(\d{3})\b')

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_PER_SECOND = 1_000_000_000
_CLOCK_CACHE_SIZE = 512
# "HH:MM:SS" of a whole second since the epoch in a zone (None: local time).
_clock_seconds: dict[tuple[int, tzinfo | None], str] = {}


def _clock_ns(stamp_ns: int | None, zone: tzinfo | None) -> str:
    """HH:MM:SS.mmm of the instant ``stamp_ns`` in ``zone``; lines of a burst
    share a few seconds, so each second is formatted once."""
    if stamp_ns is None:
        return " " * TIMESTAMP_WIDTH
    second = stamp_ns // _NS_PER_SECOND
    key = (second, zone)
    text = _clock_seconds.get(key)
    if text is None:
        if len(_clock_seconds) >= _CLOCK_CACHE_SIZE:
            _clock_seconds.clear()
        moment = _EPOCH + timedelta(seconds=second)
        text = _clock_seconds[key] = f"{moment.astimezone(zone):%H:%M:%S}"
    return f"{text}.{stamp_ns // 1_000_000 % 1000:03d}"


class LogStyles:
    """The roles resolved to styles once per theme, and their combinations, cached.

    ``resolve`` gives the style of one role (a component class): the widget's
    ``get_component_rich_style(role, partial=True)``, so a role sets only what its
    CSS rule sets and the row's own colours show through the rest.
    """

    def __init__(self, resolve: Callable[[str], Style]) -> None:
        self._roles = {role: resolve(role) for role in LOG_COMPONENT_CLASSES}
        self._combined: dict[tuple[str, ...], Style] = {}

    def __getitem__(self, role: str) -> Style:
        return self._roles[role]

    def combined(self, roles: tuple[str, ...]) -> Style:
        """The roles' styles combined in order, as ``Text.render`` combines spans."""
        style = self._combined.get(roles)
        if style is None:
            parts = [Style.null(), *(self._roles[role] for role in roles)]
            style = self._combined[roles] = Style.combine(parts)
        return style


def _highlight(text: Text, pattern: str, style: Style) -> None:
    if not pattern:
        return
    # Own loop rather than Text.highlight_regex, which would turn the named
    # groups of an operator's regex into style names.
    for match in compile_search(pattern).regex.finditer(text.plain):
        start, end = match.span()
        if end > start:
            text.stylize(style, start, end)


def _status_span(line: LogLine, message: str) -> tuple[int, int, str] | None:
    """Where a 4xx/5xx status sits in the message and its role, if it shows there."""
    status = line.status
    if status is None or status < 400:
        return None
    match = _STATUS_TOKEN.search(message)
    if match is None or int(match.group(1)) != status:
        return None
    start, stop = match.span(1)
    return start, stop, STATUS_5XX if status >= 500 else STATUS_4XX


def render_entry(
    entry: Entry, options: RenderOptions, styles: LogStyles, zone: tzinfo | None = None
) -> Text:
    """One entry as plain styled ``Text`` (no markup is ever parsed)."""
    if isinstance(entry, GapMarker):
        gap = Text(no_wrap=True, end="")
        gap.append(entry.describe(zone), styles[GAP])
        _highlight(gap, options.search, styles[SEARCH_MATCH])
        return gap
    text = Text(no_wrap=True, end="")
    if options.show_timestamps:
        text.append(_clock_ns(entry.stamp_ns, zone), styles[TIMESTAMP])
        text.append(" ")
    if options.show_host and options.host_width:
        text.append(column_label(host_label(entry), options.host_width), styles[HOST])
        text.append(" ")
    message = message_text(entry)
    level_role = LEVEL_ROLE.get(entry.level)
    body = Text(message, style=styles[level_role] if level_role else "", end="")
    if entry.duration_ms is not None and entry.duration_ms > SLOW_MS:
        body.stylize(styles[SLOW])
    status = _status_span(entry, message)
    if status is not None:
        body.stylize(styles[status[2]], status[0], status[1])
    _highlight(body, options.highlight, styles[FILTER_MATCH])
    _highlight(body, options.search, styles[SEARCH_MATCH])
    text.append_text(body)
    return text


def entry_segments(
    entry: LogLine, options: RenderOptions, styles: LogStyles, zone: tzinfo | None = None
) -> tuple[list[Segment], int] | None:
    """The segments ``render_entry(entry, ...).render(console)`` gives and their
    cell length, built directly (several times cheaper than through ``Text``);
    None when ``options`` search or highlight, for which only ``render_entry`` is
    used.

    Spans and regions follow ``Text.render`` exactly: a region between span edges
    gets the combination of the spans over it, in the order they were added.
    """
    if options.search or options.highlight:
        return None
    plain: list[str] = []
    spans: list[tuple[int, int, str]] = []

    def span(start: int, stop: int, role: str) -> None:
        # As Text.stylize: a role whose rule sets nothing adds no span.
        if styles[role] and stop > start:
            spans.append((start, stop, role))

    length = 0
    if options.show_timestamps:
        clock = _clock_ns(entry.stamp_ns, zone)
        plain += (clock, " ")
        span(0, len(clock), TIMESTAMP)
        length = len(clock) + 1
    if options.show_host and options.host_width:
        label = column_label(host_label(entry), options.host_width)
        plain += (label, " ")
        span(length, length + len(label), HOST)
        length += len(label) + 1
    message = message_text(entry)
    level_role = LEVEL_ROLE.get(entry.level)
    end = length + len(message)
    if level_role:
        span(length, end, level_role)
    duration_ms = entry.duration_ms
    if duration_ms is not None and duration_ms > SLOW_MS:
        span(length, end, SLOW)
    status = _status_span(entry, message)
    if status is not None:
        span(length + status[0], length + status[1], status[2])
    plain.append(message)
    text = "".join(plain)
    if not spans:
        return [Segment(text)], cell_width(text)
    edges = sorted({0, end, *(span[0] for span in spans), *(span[1] for span in spans)})
    segments: list[Segment] = []
    for start, stop in pairwise(edges):
        roles = tuple(role for first, last, role in spans if first <= start and stop <= last)
        segments.append(Segment(text[start:stop], styles.combined(roles)))
    return segments, cell_width(text)


StripKey = tuple[int, int, RenderOptions]


class LogRenderer:
    """Entries drawn as strips, cached by (sequence number, wrap width, options).

    Rendered lines kept: :attr:`CACHE_SIZE`, five or so screens to scroll back
    through.  Each holds a dozen or more objects the garbage collector tracks (a
    Strip and its caches), and a full collection walks them all, so more would
    cost the event loop.
    """

    CACHE_SIZE: Final = 256

    def __init__(self, zone: tzinfo | None = None, cache_size: int = CACHE_SIZE) -> None:
        self._zone = zone
        self._strips: LRUCache[StripKey, list[Strip]] = LRUCache(cache_size)
        self._styles: LogStyles | None = None
        # For tests and benchmarks.
        self.strips_built = 0

    @property
    def cache_size(self) -> int:
        """Entries whose strips are cached now."""
        return len(self._strips)

    def forget(self) -> None:
        """Drop the cached strips (the layout changed)."""
        self._strips.clear()

    def set_styles(self, styles: LogStyles | None) -> None:
        """Draw with ``styles`` from now on (None: the theme changed, resolve again)."""
        self._styles = styles
        self._strips.clear()

    @property
    def styles(self) -> LogStyles | None:
        return self._styles

    def strips(
        self,
        seq: int,
        entry: Entry,
        options: RenderOptions,
        wrap_width: int,
        styles: LogStyles,
        console: Console,
    ) -> list[Strip]:
        """The entry's rows: one strip, or one per ``wrap_width - GUTTER`` cells."""
        key = (seq, wrap_width, options)
        strips = self._strips.get(key)
        if strips is not None:
            return strips
        self.strips_built += 1
        built = None
        if isinstance(entry, LogLine):
            built = entry_segments(entry, options, styles, self._zone)
        if built is None:
            text = render_entry(entry, options, styles, self._zone)
            built = list(text.render(console)), text.cell_len
        strip = Strip(*built)
        if wrap_width:
            avail = max(1, wrap_width - GUTTER)
            length = strip.cell_length
            cuts = [*range(avail, length, avail), length] if length else [0]
            strips = list(strip.divide(cuts)) if length else [strip]
        else:
            strips = [strip]
        self._strips[key] = strips
        return strips

    def row(
        self,
        strips: list[Strip],
        part: int,
        *,
        scroll_x: int,
        width: int,
        wrapped: bool,
        marked: bool,
        styles: LogStyles,
    ) -> Strip:
        """Row ``part`` of an entry's strips in a viewport ``width`` wide: the gutter
        (with the mark symbol on a marked entry's first row), then the body."""
        body_width = max(0, width - GUTTER)
        if part >= len(strips):
            body = Strip.blank(body_width)
        elif wrapped:
            body = strips[part].extend_cell_length(body_width)
        else:
            body = strips[part].crop_extend(scroll_x, scroll_x + body_width, None)
        if marked and part == 0:
            gutter = Strip([Segment(f"{MARK_SYMBOL} ", styles[MARK])], GUTTER)
        else:
            gutter = Strip([Segment(" " * GUTTER)], GUTTER)
        return Strip.join([gutter, body])
