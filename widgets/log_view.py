"""The live log tail: a virtual view over a bounded :class:`LogBuffer`.

Only visible rows are ever rendered (``ScrollView`` + ``render_line``), from an
LRU cache of strips keyed by (sequence number, wrap width, render options), so
100 000 lines cost no more to show than 30.  :meth:`LogView.add_entries` may be
called thousands of times a second: it only appends to the buffer and arms one
timer, and the view catches up at most once per frame (:attr:`FRAME_SECONDS`).

Remote text is untrusted: every string shown goes through ``make_inert`` into a
plain ``rich.text.Text`` (never markup), with theme-independent style names.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import ClassVar, Literal, NamedTuple

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from rainbow_tui.logs.buffer import (
    Entry,
    FilteredView,
    GapMarker,
    LogBuffer,
    LogFilter,
    compile_search,
)
from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import LineRecord, LogLevel, LogLine, line_view

__all__ = [
    "LEVEL_CYCLE",
    "LogView",
    "RenderOptions",
    "StyleResolver",
    "entry_segments",
    "render_entry",
]

# Left gutter, outside horizontal scrolling: a mark symbol and a space.
GUTTER = 2
MARK_SYMBOL = "●"
# Widest host/container column; longer labels (container names carry a version
# hash) are cut with an ellipsis.
MAX_HOST_WIDTH = 28
TIMESTAMP_WIDTH = len("HH:MM:SS.mmm")
SLOW_MS = 1000.0

LEVEL_CYCLE: tuple[LogLevel | None, ...] = (None, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR)

# Theme-independent style names: remote text must not depend on the theme to be
# readable, and a style name can never carry markup.
LEVEL_STYLE: dict[LogLevel, str] = {
    LogLevel.DEBUG: "dim",
    LogLevel.WARN: "yellow",
    LogLevel.ERROR: "red",
    LogLevel.FATAL: "bold red",
}
GAP_STYLE = "bold reverse"
TIMESTAMP_STYLE = "dim"
HOST_STYLE = "cyan"
FILTER_MATCH_STYLE = "underline"
SEARCH_MATCH_STYLE = "bold black on yellow"

# Where the status code of a line sits: Rails "Completed 503", JSON "status":503.
_STATUS_TOKEN = re.compile(r'(?:Completed |status(?:_code)?"?\s*[:=]\s*"?)(\d{3})\b')


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MARK_STYLE = Style(bold=True)
_NO_MARK = Segment(" " * GUTTER)


class RenderOptions(NamedTuple):
    """Everything besides the entry itself that changes how it is drawn."""

    show_timestamps: bool = True
    show_host: bool = True
    host_width: int = 0
    search: str = ""
    highlight: str = ""


def _clock(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return " " * TIMESTAMP_WIDTH
    local = moment.astimezone(zone) if moment.tzinfo is not None else moment
    return f"{local:%H:%M:%S}.{local.microsecond // 1000:03d}"


_NS_PER_SECOND = 1_000_000_000
_CLOCK_CACHE_SIZE = 512
# "HH:MM:SS" of a whole second since the epoch in a zone (None: local time).
_clock_seconds: dict[tuple[int, tzinfo | None], str] = {}


def _clock_ns(stamp_ns: int | None, zone: tzinfo | None) -> str:
    """:func:`_clock` of the instant ``stamp_ns``; lines of a burst share a few
    seconds, so each second is formatted once."""
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


def _host_label(line: LogLine) -> str:
    return "/".join(part for part in (line.host, line.container) if part)


def _message(line: LogLine) -> str:
    # TAB is the one control character make_inert keeps; expand it here so that
    # a cell count equals what the terminal shows.
    text = make_inert(line.raw)
    return text.expandtabs(8) if "\t" in text else text


def _width(text: str) -> int:
    # Inert text has no control characters, so ASCII is one cell per character.
    return len(text) if text.isascii() else cell_len(text)


def _prefix_width(options: RenderOptions) -> int:
    width = 0
    if options.show_timestamps:
        width += TIMESTAMP_WIDTH + 1
    if options.show_host and options.host_width:
        width += options.host_width + 1
    return width


def entry_width(entry: Entry, options: RenderOptions, zone: tzinfo | None = None) -> int:
    """Cells :func:`render_entry` needs for ``entry`` (no gutter)."""
    if isinstance(entry, GapMarker):
        return _width(entry.describe(zone))
    return _prefix_width(options) + _width(_message(entry))


def _highlight(text: Text, pattern: str, style: str) -> None:
    if not pattern:
        return
    # Own loop rather than Text.highlight_regex, which would turn the named
    # groups of an operator's regex into style names.
    for match in compile_search(pattern).regex.finditer(text.plain):
        start, end = match.span()
        if end > start:
            text.stylize(style, start, end)


def render_entry(entry: Entry, options: RenderOptions, zone: tzinfo | None = None) -> Text:
    """One entry as plain styled ``Text`` (no markup is ever parsed)."""
    if isinstance(entry, GapMarker):
        gap = Text(no_wrap=True, end="")
        gap.append(entry.describe(zone), GAP_STYLE)
        _highlight(gap, options.search, SEARCH_MATCH_STYLE)
        return gap
    text = Text(no_wrap=True, end="")
    if options.show_timestamps:
        text.append(_clock_ns(entry.stamp_ns, zone), TIMESTAMP_STYLE)
        text.append(" ")
    if options.show_host and options.host_width:
        text.append(_column_label(_host_label(entry), options.host_width), HOST_STYLE)
        text.append(" ")
    body = Text(_message(entry), style=LEVEL_STYLE.get(entry.level, ""), end="")
    if entry.duration_ms is not None and entry.duration_ms > SLOW_MS:
        body.stylize("bold")
    status = entry.status
    if status is not None and status >= 400:
        match = _STATUS_TOKEN.search(body.plain)
        if match is not None and int(match.group(1)) == status:
            body.stylize("bold red" if status >= 500 else "yellow", *match.span(1))
    _highlight(body, options.highlight, FILTER_MATCH_STYLE)
    _highlight(body, options.search, SEARCH_MATCH_STYLE)
    text.append_text(body)
    return text


def entry_segments(
    entry: LogLine, options: RenderOptions, styles: StyleResolver, zone: tzinfo | None = None
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
    length = 0
    if options.show_timestamps:
        clock = _clock_ns(entry.stamp_ns, zone)
        plain += (clock, " ")
        spans.append((0, len(clock), TIMESTAMP_STYLE))
        length = len(clock) + 1
    if options.show_host and options.host_width:
        label = _column_label(_host_label(entry), options.host_width)
        plain += (label, " ")
        spans.append((length, length + len(label), HOST_STYLE))
        length += len(label) + 1
    message = _message(entry)
    level_style = LEVEL_STYLE.get(entry.level, "")
    end = length + len(message)
    if level_style and message:
        spans.append((length, end, level_style))
    duration_ms = entry.duration_ms
    if duration_ms is not None and duration_ms > SLOW_MS and message:
        spans.append((length, end, "bold"))
    status = entry.status
    if status is not None and status >= 400:
        match = _STATUS_TOKEN.search(message)
        if match is not None and int(match.group(1)) == status:
            start, stop = match.span(1)
            spans.append((length + start, length + stop, "bold red" if status >= 500 else "yellow"))
    plain.append(message)
    text = "".join(plain)
    if not spans:
        return [Segment(text)], _width(text)
    edges = sorted({0, end, *(span[0] for span in spans), *(span[1] for span in spans)})
    segments: list[Segment] = []
    for start, stop in pairwise(edges):
        names = tuple(name for first, last, name in spans if first <= start and stop <= last)
        segments.append(Segment(text[start:stop], styles.combined(names)))
    return segments, _width(text)


class StyleResolver:
    """Style names resolved by a console and combined as ``Text.render`` does, cached."""

    def __init__(self, get_style: Callable[..., Style]) -> None:
        self._get_style = get_style
        self._combined: dict[tuple[str, ...], Style] = {}

    def combined(self, names: tuple[str, ...]) -> Style:
        style = self._combined.get(names)
        if style is None:
            null = Style.null()
            parts = [self._get_style("", default=null)]
            parts += (self._get_style(name, default=null) for name in names)
            style = self._combined[names] = Style.combine(parts)
        return style


def _column_label(label: str, width: int) -> str:
    """``label`` fitted to the host column: padded, or cut with an ellipsis."""
    label = make_inert(label)
    fitted = set_cell_size(label, width)
    if _width(label) > width:
        fitted = set_cell_size(fitted, width - 1) + "…"
    return fitted


def _describe_level(level: LogLevel) -> str:
    return f"≥ {level.name}"


class LogView(ScrollView, can_focus=True):
    """A scrolling, filterable, following view of log lines from many hosts."""

    FRAME_SECONDS: ClassVar[float] = 1 / 30
    # Rendered lines kept: five or so screens to scroll back through.  Each holds a
    # dozen or more objects the garbage collector tracks (a Strip and its caches),
    # and a full collection walks them all, so more would cost the event loop.
    STRIP_CACHE_SIZE: ClassVar[int] = 256

    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-view--cursor"}

    DEFAULT_CSS = """
    LogView {
        border: round $primary-muted;
        border-subtitle-color: $warning;
        border-subtitle-style: bold;
        background: $surface;
        overflow-y: scroll;
        overflow-x: auto;
    }
    LogView:focus {
        border: round $accent;
    }
    LogView.-wrap {
        overflow-x: hidden;
    }
    LogView > .log-view--cursor {
        background: $accent 30%;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("end", "resume_follow", "Resume follow", show=False),
        Binding("slash", "prompt('filter')", "Filter", key_display="/"),
        Binding("ctrl+f", "prompt('search')", "Find"),
        Binding("n", "next_match", "Next"),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("e", "next_error", "Error"),
        Binding("l", "cycle_level", "Level"),
        Binding("R", "follow_request", "Request"),
        Binding("m", "toggle_mark", "Mark"),
        Binding("apostrophe", "next_mark", "Next mark", key_display="'", show=False),
        Binding("t", "toggle_timestamps", "Timestamps", show=False),
        Binding("h", "toggle_host", "Host column", show=False),
        Binding("w", "toggle_wrap", "Wrap", show=False),
        Binding("s", "prompt('save')", "Save"),
        Binding("p", "pin", "Pin", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home", "cursor_home", "First line", show=False),
    ]

    show_timestamps: reactive[bool] = reactive(True)
    """Show each line's docker timestamp in local time (HH:MM:SS.mmm)."""
    show_host: reactive[bool] = reactive(True)
    """Show the host/container column."""
    wrap: reactive[bool] = reactive(False)
    """Wrap long lines to the width; off, long lines scroll horizontally."""
    follow: reactive[bool] = reactive(True)
    """Keep the newest line in view as lines arrive."""
    min_level: reactive[LogLevel | None] = reactive(None)
    """Hide lines below this level (and lines of unknown level)."""

    class PinRequested(Message):
        """The operator asked to pin ``line`` (to an incident's timeline)."""

        def __init__(self, line: LogLine, log_view: LogView | None = None) -> None:
            super().__init__()
            self.line = line
            self.log_view = log_view

        @property
        def control(self) -> LogView | None:
            return self.log_view

    class PromptRequested(Message):
        """The operator asked for a text prompt (``/`` filter, find, save path);
        whoever hosts the view shows an ``Input`` and calls back
        :meth:`LogView.set_pattern`, :meth:`LogView.set_search` or :meth:`LogView.save`."""

        def __init__(
            self, log_view: LogView, purpose: Literal["filter", "search", "save"], current: str
        ) -> None:
            super().__init__()
            self.log_view = log_view
            self.purpose: Literal["filter", "search", "save"] = purpose
            self.current = current

        @property
        def control(self) -> LogView:
            return self.log_view

    class Updated(Message):
        """The view caught up with its buffer (at most once per frame)."""

        def __init__(self, log_view: LogView, buffered: int, shown: int, dropped: int) -> None:
            super().__init__()
            self.log_view = log_view
            self.buffered = buffered
            self.shown = shown
            self.dropped = dropped

        @property
        def control(self) -> LogView:
            return self.log_view

    def __init__(
        self,
        max_lines: int = 100_000,
        *,
        timezone: tzinfo | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._buffer = LogBuffer(max_lines)
        self._view = FilteredView(self._buffer)
        self._zone = timezone
        self._search = ""
        self._options = RenderOptions()
        # (host, container) → label width; labels seen so far size the column.
        self._labels: dict[tuple[str, str], int] = {}
        self._max_width = 0
        # Row offsets of the filtered entries when wrapping: entry i covers rows
        # [_offsets[i] - _offsets[0], _offsets[i + 1] - _offsets[0]).
        self._wrap_width = 0
        self._offsets: array[int] = array("q", [0])
        self._strips: LRUCache[tuple[int, int, RenderOptions], list[Strip]] = LRUCache(
            self.STRIP_CACHE_SIZE
        )
        self._cursor_seq: int | None = None
        self._new_while_paused = 0
        self._update_timer: Timer | None = None
        self._update_pending = False
        self._scrolling = False
        self._stick_scheduled = False
        self._widen_scheduled = False
        self._frame_styles: tuple[Style, Style] | None = None
        self._style_resolver: StyleResolver | None = None
        self._previous_request: str | None = None
        # Counters for tests and benchmarks.
        self.updates = 0
        self.strips_built = 0
        self.render_line_calls = 0

    # -- public API -----------------------------------------------------------------

    @property
    def buffer(self) -> LogBuffer:
        return self._buffer

    @property
    def filtered(self) -> FilteredView:
        return self._view

    @property
    def log_filter(self) -> LogFilter:
        return self._view.filter

    @property
    def search_pattern(self) -> str:
        return self._search

    @property
    def cursor_seq(self) -> int | None:
        """Sequence number of the cursor line (None while nothing is shown)."""
        return self._cursor_seq

    @property
    def cursor_index(self) -> int | None:
        if self._cursor_seq is None:
            return None
        return self._view.index_of(self._cursor_seq)

    @property
    def strip_cache_size(self) -> int:
        return len(self._strips)

    @property
    def filter_description(self) -> str:
        """The active filter in a few words ("" when everything is shown)."""
        log_filter = self._view.filter
        parts: list[str] = []
        if log_filter.min_level is not None:
            parts.append(_describe_level(log_filter.min_level))
        if log_filter.pattern.startswith("!") and len(log_filter.pattern) > 1:
            parts.append(f"hiding /{log_filter.pattern[1:]}/")
        elif log_filter.pattern:
            parts.append(f"/{log_filter.pattern}/")
        if log_filter.request_id is not None:
            parts.append(f"request {log_filter.request_id}")
        if log_filter.hosts is not None:
            parts.append("hosts " + ", ".join(sorted(log_filter.hosts)))
        return make_inert(" · ".join(parts))

    def add_entries(self, entries: Iterable[Entry]) -> None:
        """Append lines; the view catches up within one frame, however often this is called."""
        self._buffer.append_many(entries)
        if self._update_pending:
            return
        self._update_pending = True
        if self.is_mounted:
            self._update_timer = self.set_timer(self.FRAME_SECONDS, self.flush, name="log-frame")

    def flush(self) -> None:
        """Catch up with the buffer now (normally the frame timer does this)."""
        self._update_pending = False
        if self._update_timer is not None:
            self._update_timer.stop()
            self._update_timer = None
        synced = self._view.sync()
        if not synced.added and not synced.dropped:
            return
        self.updates += 1
        dropped_rows = self._drop_front(synced.dropped)
        fresh = self._view.records(len(self._view) - synced.added)
        if self._note_labels(fresh):
            self._relayout()
        else:
            self._extend(fresh)
        self._set_virtual_size()
        if self.follow:
            self._cursor_seq = self._view.seq_at(-1) if len(self._view) else None
            self._scroll_to_end()
        else:
            self._new_while_paused += synced.added
            if dropped_rows:
                self._scroll_to_row(round(self.scroll_y) - dropped_rows)
            if self._cursor_seq is not None and self._cursor_seq < self._buffer.first_seq:
                self._cursor_seq = self._view.seq_at(0) if len(self._view) else None
            self._show_paused()
        self.refresh()
        self._post_updated()

    def set_pattern(self, text: str) -> str | None:
        """Filter by a regex (``!regex`` hides matches); return why it is taken
        literally, if it is invalid, else None."""
        self._apply_filter(replace(self._view.filter, pattern=text))
        return self._view.filter.error

    def set_search(self, text: str) -> str | None:
        """Highlight ``text`` (a regex) and make it what ``n``/``N`` look for; an
        invalid regex is searched literally and the reason returned."""
        self._search = text
        self._options = self._options._replace(search=text)
        self.refresh()
        return compile_search(text).error if text else None

    def follow_request(self, request_id: str | None) -> None:
        """Show only the lines of one request, from every host (None: all again)."""
        self._apply_filter(replace(self._view.filter, request_id=request_id))

    def set_filter(self, log_filter: LogFilter) -> None:
        self._apply_filter(log_filter)

    def save(self, path: str | Path) -> int:
        """Write the shown lines, redacted, to a new file (0600); return how many."""
        self.flush()
        return self._view.save(Path(path).expanduser())

    def line_text(self, row: int) -> str:
        """The text on screen row ``row`` of the viewport (for tests and copying)."""
        return self.render_line(row).text

    # -- reactives ------------------------------------------------------------------

    def watch_show_timestamps(self, value: bool) -> None:
        self._options = self._options._replace(show_timestamps=value)
        self._relayout_keeping_position()

    def watch_show_host(self, value: bool) -> None:
        self._options = self._options._replace(show_host=value)
        self._relayout_keeping_position()

    def watch_wrap(self, value: bool) -> None:
        self.set_class(value, "-wrap")
        if value:
            self._scroll_quietly(x=0)
        self._relayout_keeping_position()

    def watch_min_level(self, value: LogLevel | None) -> None:
        if value != self._view.filter.min_level:
            self._apply_filter(replace(self._view.filter, min_level=value))

    def watch_follow(self, value: bool) -> None:
        if value:
            self._new_while_paused = 0
            self.border_subtitle = ""
            if len(self._view):
                self._cursor_seq = self._view.seq_at(-1)
            self._scroll_to_end()
            self.refresh()
        else:
            self._show_paused()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Any scroll towards older lines that the view did not make itself
        # (wheel, scrollbar, keys) pauses following.
        if (
            not self._scrolling
            and self.follow
            and new_value < old_value
            and round(new_value) < self.max_scroll_y
        ):
            self.follow = False

    # -- lifecycle ------------------------------------------------------------------

    def on_mount(self) -> None:
        if self._update_pending:
            self._update_timer = self.set_timer(self.FRAME_SECONDS, self.flush, name="log-frame")

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._content_width() != self._wrap_width:
            self._relayout_keeping_position()
        elif self.follow:
            self._scroll_to_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._frame_styles = None
        self._style_resolver = None
        self._strips.clear()

    # -- layout ---------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _note_labels(self, records: list[LineRecord | GapMarker | None]) -> bool:
        """Record host labels of new entries; True when the host column widened."""
        labels = self._labels
        widened = False
        # A set first: a burst comes from a handful of sources.
        for host, container in {(r[1], r[2]) for r in records if type(r) is tuple}:
            if (host, container) in labels:
                continue
            label = "/".join(part for part in (host, container) if part)
            width = min(MAX_HOST_WIDTH, _width(make_inert(label)))
            labels[host, container] = width
            if width > self._options.host_width:
                self._options = self._options._replace(host_width=width)
                widened = True
        return widened

    def _estimated_width(self, records: list[LineRecord | GapMarker | None]) -> int:
        """Widest of these entries in cells, counting a character as one cell.

        Exact for ASCII; wider characters and tabs are found when the line is
        rendered (see :meth:`_entry_strips`), so a burst costs no cell counting.
        """
        longest = max((len(r[0]) - r[3] for r in records if type(r) is tuple), default=0)
        width = _prefix_width(self._options) + longest if longest else 0
        for record in records:
            if type(record) is GapMarker:
                width = max(width, _width(record.describe(self._zone)))
        return width

    def _append_rows(self, records: list[LineRecord | GapMarker | None]) -> None:
        """Row offsets of wrapped entries: their exact cell widths are needed."""
        avail = max(1, self._wrap_width - GUTTER)
        options, zone = self._options, self._zone
        offsets = self._offsets
        total = offsets[-1]
        for record in records:
            if record is None:
                width = 0
            else:
                entry = record if isinstance(record, GapMarker) else line_view(record)
                width = entry_width(entry, options, zone)
            total += max(1, -(-width // avail))
            offsets.append(total)

    def _relayout(self) -> None:
        """Recompute the width (and row offsets when wrapping) of every shown entry."""
        self._strips.clear()
        entries = self._view.records()
        self._note_labels(entries)
        self._wrap_width = self._content_width() if self.wrap else 0
        self._offsets = array("q", [0])
        if self._wrap_width:
            self._max_width = 0
            self._append_rows(entries)
        else:
            self._max_width = self._estimated_width(entries)

    def _extend(self, entries: list[LineRecord | GapMarker | None]) -> None:
        """Take in the newest shown ``entries``."""
        if self._wrap_width:
            self._append_rows(entries)
        else:
            self._max_width = max(self._max_width, self._estimated_width(entries))

    def _widen(self, width: int) -> None:
        """A rendered line turned out wider than estimated: let it scroll fully."""
        if width > self._max_width:
            self._max_width = width
            if not self._widen_scheduled:
                self._widen_scheduled = True
                self.call_after_refresh(self._apply_widen)

    def _apply_widen(self) -> None:
        self._widen_scheduled = False
        self._set_virtual_size()

    def _drop_front(self, dropped: int) -> int:
        """Forget the row offsets of ``dropped`` entries; return the rows they had."""
        if not dropped:
            return 0
        if not self._wrap_width:
            return dropped
        before = self._offsets[0]
        del self._offsets[:dropped]
        return self._offsets[0] - before

    def _row_count(self) -> int:
        if self._wrap_width:
            return self._offsets[-1] - self._offsets[0]
        return len(self._view)

    def _first_row(self, index: int) -> int:
        if self._wrap_width:
            return self._offsets[index] - self._offsets[0]
        return index

    def _last_row(self, index: int) -> int:
        if self._wrap_width:
            return self._offsets[index + 1] - self._offsets[0] - 1
        return index

    def _locate(self, row: int) -> tuple[int, int] | None:
        """(index, row within the entry) of a virtual row, or None past the end."""
        if row < 0 or row >= self._row_count():
            return None
        if not self._wrap_width:
            return row, 0
        offsets = self._offsets
        index = bisect_right(offsets, offsets[0] + row) - 1
        return index, row - (offsets[index] - offsets[0])

    def _set_virtual_size(self) -> None:
        width = self._wrap_width or max(self._max_width + GUTTER, self._content_width())
        self.virtual_size = Size(width, self._row_count())

    def _relayout_keeping_position(self) -> None:
        if not self.is_mounted:
            return
        top = self._locate(round(self.scroll_y))
        top_seq = self._view.seq_at(top[0]) if top is not None else None
        self._relayout()
        self._set_virtual_size()
        if self.follow:
            self._scroll_to_end()
        elif top_seq is not None and (index := self._view.index_of(top_seq)) is not None:
            self._scroll_to_row(self._first_row(index))
        self.refresh()

    def _apply_filter(self, log_filter: LogFilter) -> None:
        anchor = self._cursor_seq
        self._view.set_filter(log_filter)
        self._options = self._options._replace(
            highlight=log_filter.highlight.pattern if log_filter.highlight is not None else ""
        )
        if self.min_level != log_filter.min_level:
            self.set_reactive(LogView.min_level, log_filter.min_level)
        if not self.is_mounted:
            return
        self._relayout()
        self._set_virtual_size()
        if self.follow or anchor is None:
            self._cursor_seq = self._view.seq_at(-1) if len(self._view) else None
            if self.follow:
                self._scroll_to_end()
        else:
            index = self._view.index_of(anchor)
            self._cursor_seq = None if index is None else self._view.seq_at(index)
            if index is not None:
                self._center(index)
        self.refresh()
        self._post_updated()

    def _post_updated(self) -> None:
        self.post_message(
            self.Updated(self, len(self._buffer), len(self._view), self._buffer.dropped)
        )

    # -- scrolling ------------------------------------------------------------------

    def _scroll_quietly(self, *, x: float | None = None, y: float | None = None) -> None:
        self._scrolling = True
        try:
            self.scroll_to(x=x, y=y, animate=False, immediate=True)
        finally:
            self._scrolling = False

    def _scroll_to_row(self, row: int) -> None:
        self._scroll_quietly(y=max(0, row))

    def _scroll_to_end(self) -> None:
        self._scroll_quietly(y=self.max_scroll_y)
        # Scrollbars appearing after layout shrink the viewport: look again then.
        if not self._stick_scheduled and self.is_mounted:
            self._stick_scheduled = True
            self.call_after_refresh(self._stick_to_end)

    def _stick_to_end(self) -> None:
        self._stick_scheduled = False
        if self.follow and self.scroll_y != self.max_scroll_y:
            self._scroll_quietly(y=self.max_scroll_y)

    def _viewport_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def _center(self, index: int) -> None:
        first, last = self._first_row(index), self._last_row(index)
        top = round(self.scroll_y)
        height = self._viewport_height()
        if first < top or last >= top + height:
            self._scroll_to_row(first - height // 2)

    def _ensure_visible(self, index: int) -> None:
        first, last = self._first_row(index), self._last_row(index)
        top = round(self.scroll_y)
        height = self._viewport_height()
        if first < top:
            self._scroll_to_row(first)
        elif last >= top + height:
            self._scroll_to_row(min(first, last - height + 1))

    def _show_paused(self) -> None:
        count = self._new_while_paused
        noun = "line" if count == 1 else "lines"
        self.border_subtitle = f"PAUSED — {count:,} new {noun} (End resumes)"

    # -- rendering ------------------------------------------------------------------

    def _entry_strips(self, seq: int, entry: Entry) -> list[Strip]:
        key = (seq, self._wrap_width, self._options)
        strips = self._strips.get(key)
        if strips is not None:
            return strips
        self.strips_built += 1
        built = None
        if isinstance(entry, LogLine):
            if self._style_resolver is None:
                self._style_resolver = StyleResolver(self.app.console.get_style)
            built = entry_segments(entry, self._options, self._style_resolver, self._zone)
        if built is None:
            text = render_entry(entry, self._options, self._zone)
            built = list(text.render(self.app.console)), text.cell_len
        strip = Strip(*built)
        if self._wrap_width:
            avail = max(1, self._wrap_width - GUTTER)
            length = strip.cell_length
            cuts = [*range(avail, length, avail), length] if length else [0]
            strips = list(strip.divide(cuts)) if length else [strip]
        else:
            strips = [strip]
            self._widen(strip.cell_length)
        self._strips[key] = strips
        return strips

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles are resolved once per frame, not once per row.
        self._frame_styles = self._resolve_styles()
        return super().render_lines(crop)

    def _resolve_styles(self) -> tuple[Style, Style]:
        base = self.rich_style
        return base, base + self.get_component_rich_style("log-view--cursor")

    def render_line(self, y: int) -> Strip:
        self.render_line_calls += 1
        scroll_x, scroll_y = self.scroll_offset
        width = self._content_width()
        base, cursor_style = self._frame_styles or self._resolve_styles()
        located = self._locate(scroll_y + y)
        if located is None:
            return Strip.blank(width, base)
        index, part = located
        seq = self._view.seq_at(index)
        entry = self._buffer.get(seq)
        if entry is None:
            return Strip.blank(width, base)
        strips = self._entry_strips(seq, entry)
        body_width = max(0, width - GUTTER)
        if part >= len(strips):
            body = Strip.blank(body_width)
        elif self._wrap_width:
            body = strips[part].extend_cell_length(body_width)
        else:
            body = strips[part].crop_extend(scroll_x, scroll_x + body_width, None)
        marked = part == 0 and self._view.is_marked(seq)
        gutter = Strip([Segment(f"{MARK_SYMBOL} ", _MARK_STYLE) if marked else _NO_MARK], GUTTER)
        line = Strip.join([gutter, body])
        return line.apply_style(cursor_style if seq == self._cursor_seq else base)

    # -- actions --------------------------------------------------------------------

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_resume_follow(self) -> None:
        self.flush()
        self.follow = True

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps

    def action_toggle_host(self) -> None:
        self.show_host = not self.show_host

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_cycle_level(self) -> None:
        position = LEVEL_CYCLE.index(self.min_level) if self.min_level in LEVEL_CYCLE else 0
        self.min_level = LEVEL_CYCLE[(position + 1) % len(LEVEL_CYCLE)]
        shown = "all levels" if self.min_level is None else _describe_level(self.min_level)
        self.notify(f"Showing {shown}", timeout=2, markup=False)

    def action_prompt(self, purpose: str) -> None:
        if purpose == "filter":
            self.post_message(self.PromptRequested(self, "filter", self._view.filter.pattern))
        elif purpose == "search":
            self.post_message(self.PromptRequested(self, "search", self._search))
        elif purpose == "save":
            self.post_message(self.PromptRequested(self, "save", ""))

    def _jump(self, index: int | None, nothing: str) -> None:
        if index is None:
            self.notify(nothing, timeout=3, markup=False)
            return
        self.follow = False
        self._cursor_seq = self._view.seq_at(index)
        self._center(index)
        self.refresh()

    def _search_from(self, backwards: bool) -> None:
        if not self._search:
            self.notify("Nothing to find yet: ctrl+f sets what n / N look for", timeout=4)
            return
        start = self._cursor_index_or_end()
        found = self._view.search(compile_search(self._search).regex, start, backwards)
        direction = "before" if backwards else "after"
        self._jump(found, f"No match for /{make_inert(self._search)}/ {direction} the cursor")

    def action_next_match(self) -> None:
        self._search_from(backwards=False)

    def action_previous_match(self) -> None:
        self._search_from(backwards=True)

    def action_next_error(self) -> None:
        found = self._view.next_error(self._cursor_index_or_end())
        self._jump(found, "No error after the cursor")

    def action_toggle_mark(self) -> None:
        if self._cursor_seq is None:
            return
        self._view.toggle_mark(self._cursor_seq)
        self.refresh()

    def action_next_mark(self) -> None:
        found = self._view.next_mark(self._cursor_index_or_end())
        self._jump(found, "No marked line shown (m marks the cursor line)")

    def action_follow_request(self) -> None:
        if self._view.filter.request_id is not None:
            self.follow_request(None)
            self.notify("Showing every request again", timeout=2)
            return
        entry = self._cursor_entry()
        if not isinstance(entry, LogLine) or entry.request_id is None:
            self.notify("The cursor line carries no request id", timeout=3)
            return
        self.follow_request(entry.request_id)
        self.notify(f"Following request {entry.request_id} (R again: all)", timeout=3, markup=False)

    def action_pin(self) -> None:
        entry = self._cursor_entry()
        if isinstance(entry, LogLine):
            self.post_message(self.PinRequested(entry, self))

    def _cursor_entry(self) -> Entry | None:
        return None if self._cursor_seq is None else self._buffer.get(self._cursor_seq)

    def _cursor_index_or_end(self) -> int:
        index = self.cursor_index
        return len(self._view) - 1 if index is None else index

    # -- cursor ---------------------------------------------------------------------

    def _visible_indices(self) -> tuple[int, int] | None:
        top = round(self.scroll_y)
        first = self._locate(top)
        if first is None:
            return None
        bottom = min(self._row_count() - 1, top + self._viewport_height() - 1)
        last = self._locate(bottom)
        return first[0], first[0] if last is None else last[0]

    def _move_cursor(self, index: int) -> None:
        count = len(self._view)
        if not count:
            return
        index = max(0, min(count - 1, index))
        if self.follow and index != count - 1:
            self.follow = False
        self._cursor_seq = self._view.seq_at(index)
        self._ensure_visible(index)
        self.refresh()

    def _step_cursor(self, step: int) -> None:
        index = self.cursor_index
        visible = self._visible_indices()
        if index is None or visible is None:
            self._move_cursor(len(self._view) - 1)
            return
        first, last = visible
        if not first <= index <= last:
            # The cursor scrolled out of sight: start from the edge it left.
            self._move_cursor(last if step < 0 else first)
            return
        self._move_cursor(index + step)

    def action_cursor_up(self) -> None:
        self._step_cursor(-1)

    def action_cursor_down(self) -> None:
        self._step_cursor(1)

    def _page(self, direction: int) -> None:
        index = self.cursor_index
        if index is None:
            return
        height = self._viewport_height()
        row = self._first_row(index) + direction * height
        row = max(0, min(self._row_count() - 1, row))
        located = self._locate(row)
        if located is None:
            return
        if direction < 0 and self.follow:
            self.follow = False
        self._scroll_to_row(round(self.scroll_y) + direction * height)
        self._move_cursor(located[0])

    def action_cursor_page_up(self) -> None:
        self._page(-1)

    def action_cursor_page_down(self) -> None:
        self._page(1)

    def action_cursor_home(self) -> None:
        self._move_cursor(0)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        located = self._locate(round(self.scroll_y) + offset.y)
        if located is not None:
            self._move_cursor(located[0])
