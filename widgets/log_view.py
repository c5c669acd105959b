"""The live log tail: a virtual view over a shared :class:`LogBuffer`.

Many views read one buffer (the dashboard's pane and the full-screen view): a
batch is appended to the buffer once, and each mounted view, subscribed to it,
catches up at most once per frame (:attr:`LogView.FRAME_SECONDS`) from what the
buffer holds.  A view keeps only its own state: the filtered view (filter,
marks), search, follow or pause, cursor, and the layout of its rows.

Three parts: :mod:`rainbow_tui.logs.layout` counts rows and widths (entries →
wrapped rows, row → entry), :mod:`widgets.log_render` draws an entry with the
theme's styles, and this widget scrolls, takes keys and says what happened.
Only visible rows are ever rendered (``ScrollView`` + ``render_line``, an LRU
cache of strips), so 100 000 lines cost no more to show than 30.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import ClassVar, Literal

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.dom import DOMNode, NoScreen
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from rainbow_tui.logs.buffer import Entry, FilteredView, LogBuffer, LogFilter, compile_search
from rainbow_tui.logs.layout import LogLayout
from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import LogLevel, LogLine
from rainbow_tui.text import N_, tr, trn
from widgets.log_render import CURSOR, LOG_COMPONENT_CLASSES, LogRenderer, LogStyles

__all__ = ["LEVEL_CYCLE", "LogView"]

LEVEL_CYCLE: tuple[LogLevel | None, ...] = (None, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR)


# -- words (one place each, for the catalogue) ----------------------------------------


def level_words(level: LogLevel | None) -> str:
    return tr("log.all_levels") if level is None else f"≥ {level.name}"


def showing_level_message(level: LogLevel | None) -> str:
    return tr("log.showing", what=level_words(level))


def paused_subtitle(new_lines: int) -> str:
    return trn("log.paused", new_lines, count=f"{new_lines:,}")


def nothing_to_find_message() -> str:
    return tr("log.nothing_to_find")


def no_error_after_message() -> str:
    return tr("log.no_error_after")


def no_mark_shown_message() -> str:
    return tr("log.no_mark_shown")


def every_request_again_message() -> str:
    return tr("log.every_request_again")


def no_request_id_message() -> str:
    return tr("log.no_request_id")


def no_match_message(pattern: str, backwards: bool) -> str:
    key = N_("log.no_match_before") if backwards else N_("log.no_match_after")
    return tr(key, pattern=make_inert(pattern))


def following_request_message(request_id: str) -> str:
    return tr("log.following_request", request=request_id)


def filter_words(log_filter: LogFilter) -> str:
    """The filter in a few words ("" when everything is shown), inert."""
    parts: list[str] = []
    if log_filter.min_level is not None:
        parts.append(level_words(log_filter.min_level))
    if log_filter.pattern.startswith("!") and len(log_filter.pattern) > 1:
        parts.append(tr("log.filter.hiding", pattern=log_filter.pattern[1:]))
    elif log_filter.pattern:
        parts.append(f"/{log_filter.pattern}/")
    if log_filter.request_id is not None:
        parts.append(tr("log.filter.request", request=log_filter.request_id))
    if log_filter.hosts is not None:
        parts.append(tr("log.filter.hosts", hosts=", ".join(sorted(log_filter.hosts))))
    return make_inert(" · ".join(parts))


# A hidden view looks again this often whether it is shown (should no Show event come).
HIDDEN_RECHECK_S = 1.0


class LogView(ScrollView, can_focus=True):
    """A scrolling, filterable, following view of log lines from many hosts.

    ``buffer`` is shared with the other views of the same log; ``tail`` limits
    this view to the buffer's ``tail`` newest entries (a compact pane).  While
    mounted the view is subscribed to the buffer and catches up by itself.
    """

    FRAME_SECONDS: ClassVar[float] = 1 / 30
    STRIP_CACHE_SIZE: ClassVar[int] = LogRenderer.CACHE_SIZE

    COMPONENT_CLASSES: ClassVar[set[str]] = set(LOG_COMPONENT_CLASSES)

    # Every colour is a theme variable; dim, bold, reverse and underline are what
    # a monochrome or NO_COLOR terminal still shows.
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
    LogView > .log-view--timestamp {
        text-style: dim;
    }
    LogView > .log-view--host {
        color: $text-primary;
    }
    LogView > .log-view--gap {
        text-style: bold reverse;
    }
    LogView > .log-view--debug {
        text-style: dim;
    }
    LogView > .log-view--warn {
        color: $text-warning;
    }
    LogView > .log-view--error {
        color: $text-error;
    }
    LogView > .log-view--fatal {
        color: $text-error;
        text-style: bold;
    }
    LogView > .log-view--slow {
        text-style: bold;
    }
    LogView > .log-view--status-4xx {
        color: $text-warning;
    }
    LogView > .log-view--status-5xx {
        color: $text-error;
        text-style: bold;
    }
    LogView > .log-view--filter-match {
        text-style: underline;
    }
    LogView > .log-view--search-match {
        color: $background;
        background: $warning;
        text-style: bold;
    }
    LogView > .log-view--mark {
        text-style: bold;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", tr("log.key.follow")),
        Binding("end", "resume_follow", tr("log.key.resume_follow"), show=False),
        Binding("slash", "prompt('filter')", tr("log.key.filter"), key_display="/"),
        Binding("ctrl+f", "prompt('search')", tr("log.key.find")),
        Binding("n", "next_match", tr("log.key.next")),
        Binding("N", "previous_match", tr("log.key.previous_match"), show=False),
        Binding("e", "next_error", tr("log.key.error")),
        Binding("l", "cycle_level", tr("log.key.level")),
        Binding("R", "follow_request", tr("log.key.request")),
        Binding("m", "toggle_mark", tr("log.key.mark")),
        Binding("apostrophe", "next_mark", tr("log.key.next_mark"), key_display="'", show=False),
        Binding("t", "toggle_timestamps", tr("log.key.timestamps"), show=False),
        Binding("h", "toggle_host", tr("log.key.host"), show=False),
        Binding("w", "toggle_wrap", tr("log.key.wrap"), show=False),
        Binding("s", "prompt('save')", tr("log.key.save")),
        Binding("p", "pin", tr("log.key.pin"), show=False),
        Binding("up", "cursor_up", tr("log.key.cursor_up"), show=False),
        Binding("down", "cursor_down", tr("log.key.cursor_down"), show=False),
        Binding("pageup", "cursor_page_up", tr("log.key.page_up"), show=False),
        Binding("pagedown", "cursor_page_down", tr("log.key.page_down"), show=False),
        Binding("home", "cursor_home", tr("log.key.first_line"), show=False),
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
        """The view caught up with its buffer (at most once per frame): ``buffered``
        entries within its reach, ``shown`` of them passing its filter, ``dropped``
        no longer within reach."""

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
        buffer: LogBuffer,
        *,
        tail: int | None = None,
        timezone: tzinfo | None = None,
        frames_per_s: float | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        # Over SSH every repaint is bytes on the wire: how often the view catches up
        # is the operator's to bound ([display] log_frames_per_s).
        self.frame_s = 1 / frames_per_s if frames_per_s else self.FRAME_SECONDS
        self._buffer = buffer
        self._view = FilteredView(buffer, tail=tail)
        self._layout = LogLayout(self._view, timezone)
        self._renderer = LogRenderer(timezone, self.STRIP_CACHE_SIZE)
        self._search = ""
        self._cursor_seq: int | None = None
        self._new_while_paused = 0
        self._update_timer: Timer | None = None
        # True from the first unread append until the view caught up.
        self._update_pending = False
        self._scrolling = False
        self._stick_scheduled = False
        self._widen_scheduled = False
        self._frame_styles: tuple[Style, Style] | None = None
        # Counters for tests and benchmarks.
        self.updates = 0
        self.render_line_calls = 0

    # -- public API -----------------------------------------------------------------

    @property
    def buffer(self) -> LogBuffer:
        """The buffer this view reads (shared with the other views of the log)."""
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
    def strips_built(self) -> int:
        return self._renderer.strips_built

    @property
    def strip_cache_size(self) -> int:
        return self._renderer.cache_size

    @property
    def filter_description(self) -> str:
        """The active filter in a few words ("" when everything is shown)."""
        return filter_words(self._view.filter)

    def refresh_from_buffer(self) -> None:
        """The buffer gained entries: catch up within one frame, however often
        this is called (the buffer calls it after every append while mounted)."""
        if self._update_pending:
            return
        self._update_pending = True
        if self.is_mounted:
            self._update_timer = self.set_timer(self.frame_s, self._frame, name="log-frame")

    def add_entries(self, entries: Iterable[Entry]) -> None:
        """Append lines to the shared buffer and catch up within one frame.

        Every view of the buffer shows them: with several views, append once
        (here or to the buffer), not once per view.
        """
        self._buffer.append_many(entries)
        # Not mounted, the view is not subscribed yet: note it has lines to show.
        self.refresh_from_buffer()

    def _frame(self) -> None:
        """The frame timer: catch up, unless nothing of the view is on screen (a pane
        behind another at 80 columns, a screen not in front).  A hidden view that
        grew would lay the whole screen out again for nothing; it catches up when
        it is shown (``on_show``)."""
        self._update_timer = None
        if not self._shown():
            # Still pending; looked at again now and then in case no Show comes.
            self._update_timer = self.set_timer(HIDDEN_RECHECK_S, self._frame, name="log-frame")
            return
        self.flush()

    def _shown(self) -> bool:
        """On the screen in front, with no hidden container around it."""
        try:
            screen = self.screen
        except NoScreen:
            return False
        if not screen.is_current:
            return False
        node: DOMNode | None = self
        while node is not None and node is not screen:
            if not node.display:
                return False
            node = node.parent
        return True

    def on_show(self) -> None:
        if self._update_pending:
            self.flush()

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
        caught_up = self._layout.take_in(synced)
        if caught_up.relaid:
            self._renderer.forget()
        self._set_virtual_size()
        if self.follow:
            self._cursor_seq = self._view.seq_at(-1) if len(self._view) else None
            self._scroll_to_end()
        else:
            self._new_while_paused += synced.added
            if caught_up.dropped_rows:
                self._scroll_to_row(round(self.scroll_y) - caught_up.dropped_rows)
            if self._cursor_seq is not None and self._cursor_seq < self._view.first_seq:
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
        self._layout.options = self._layout.options._replace(search=text)
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
        self._layout.options = self._layout.options._replace(show_timestamps=value)
        self._relayout_keeping_position()

    def watch_show_host(self, value: bool) -> None:
        self._layout.options = self._layout.options._replace(show_host=value)
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
        self._buffer.subscribe(self.refresh_from_buffer)
        # What the buffer gained while the view was not mounted (nothing new: the
        # catch-up returns at once).
        self._update_pending = True
        self._update_timer = self.set_timer(self.frame_s, self._frame, name="log-frame")

    def on_unmount(self) -> None:
        self._buffer.unsubscribe(self.refresh_from_buffer)
        if self._update_timer is not None:
            self._update_timer.stop()
            self._update_timer = None
        # Catch up when mounted again (a screen shown again).
        self._update_pending = False

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._content_width() != self._layout.wrap_width:
            self._relayout_keeping_position()
        elif self.follow:
            self._scroll_to_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # The theme changed (or first styles): resolve the roles again.
        self._frame_styles = None
        self._renderer.set_styles(None)

    # -- layout ---------------------------------------------------------------------

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _relayout(self) -> None:
        """Lay out every shown entry again at the current width."""
        self._renderer.forget()
        self._layout.relayout(self._content_width() if self.wrap else 0)

    def _widen(self, width: int) -> None:
        """A rendered line turned out wider than estimated: let it scroll fully."""
        if self._layout.widen(width) and not self._widen_scheduled:
            self._widen_scheduled = True
            self.call_after_refresh(self._apply_widen)

    def _apply_widen(self) -> None:
        self._widen_scheduled = False
        self._set_virtual_size()

    def _set_virtual_size(self) -> None:
        self.virtual_size = Size(*self._layout.virtual_size(self._content_width()))

    def _relayout_keeping_position(self) -> None:
        if not self.is_mounted:
            return
        top = self._layout.locate(round(self.scroll_y))
        top_seq = self._view.seq_at(top[0]) if top is not None else None
        self._relayout()
        self._set_virtual_size()
        if self.follow:
            self._scroll_to_end()
        elif top_seq is not None and (index := self._view.index_of(top_seq)) is not None:
            self._scroll_to_row(self._layout.first_row(index))
        self.refresh()

    def _apply_filter(self, log_filter: LogFilter) -> None:
        anchor = self._cursor_seq
        self._view.set_filter(log_filter)
        highlight = log_filter.highlight
        self._layout.options = self._layout.options._replace(
            highlight=highlight.pattern if highlight is not None else ""
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
        view = self._view
        self.post_message(self.Updated(self, view.held, len(view), view.dropped))

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
        first, last = self._layout.first_row(index), self._layout.last_row(index)
        top = round(self.scroll_y)
        height = self._viewport_height()
        if first < top or last >= top + height:
            self._scroll_to_row(first - height // 2)

    def _ensure_visible(self, index: int) -> None:
        first, last = self._layout.first_row(index), self._layout.last_row(index)
        top = round(self.scroll_y)
        height = self._viewport_height()
        if first < top:
            self._scroll_to_row(first)
        elif last >= top + height:
            self._scroll_to_row(min(first, last - height + 1))

    def _show_paused(self) -> None:
        self.border_subtitle = paused_subtitle(self._new_while_paused)

    # -- rendering ------------------------------------------------------------------

    def _styles(self) -> LogStyles:
        styles = self._renderer.styles
        if styles is None:
            # Partial: a role sets only what its rule sets; the row's own colours
            # (and the cursor's background) show through the rest.
            styles = LogStyles(lambda role: self.get_component_rich_style(role, partial=True))
            self._renderer.set_styles(styles)
        return styles

    def render_lines(self, crop: Region) -> list[Strip]:
        # Styles are resolved once per frame, not once per row.
        self._frame_styles = self._resolve_styles()
        return super().render_lines(crop)

    def _resolve_styles(self) -> tuple[Style, Style]:
        base = self.rich_style
        return base, base + self.get_component_rich_style(CURSOR)

    def render_line(self, y: int) -> Strip:
        self.render_line_calls += 1
        scroll_x, scroll_y = self.scroll_offset
        width = self._content_width()
        base, cursor_style = self._frame_styles or self._resolve_styles()
        located = self._layout.locate(scroll_y + y)
        if located is None:
            return Strip.blank(width, base)
        index, part = located
        seq = self._view.seq_at(index)
        entry = self._buffer.get(seq)
        if entry is None:
            return Strip.blank(width, base)
        styles = self._styles()
        wrap_width = self._layout.wrap_width
        strips = self._renderer.strips(
            seq, entry, self._layout.options, wrap_width, styles, self.app.console
        )
        if not wrap_width:
            self._widen(strips[0].cell_length)
        line = self._renderer.row(
            strips,
            part,
            scroll_x=scroll_x,
            width=width,
            wrapped=bool(wrap_width),
            marked=self._view.is_marked(seq),
            styles=styles,
        )
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
        self.notify(showing_level_message(self.min_level), timeout=2, markup=False)

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
            self.notify(nothing_to_find_message(), timeout=4, markup=False)
            return
        start = self._cursor_index_or_end()
        found = self._view.search(compile_search(self._search).regex, start, backwards)
        self._jump(found, no_match_message(self._search, backwards))

    def action_next_match(self) -> None:
        self._search_from(backwards=False)

    def action_previous_match(self) -> None:
        self._search_from(backwards=True)

    def action_next_error(self) -> None:
        found = self._view.next_error(self._cursor_index_or_end())
        self._jump(found, no_error_after_message())

    def action_toggle_mark(self) -> None:
        if self._cursor_seq is None:
            return
        self._view.toggle_mark(self._cursor_seq)
        self.refresh()

    def action_next_mark(self) -> None:
        found = self._view.next_mark(self._cursor_index_or_end())
        self._jump(found, no_mark_shown_message())

    def action_follow_request(self) -> None:
        if self._view.filter.request_id is not None:
            self.follow_request(None)
            self.notify(every_request_again_message(), timeout=2, markup=False)
            return
        entry = self._cursor_entry()
        if not isinstance(entry, LogLine) or entry.request_id is None:
            self.notify(no_request_id_message(), timeout=3, markup=False)
            return
        self.follow_request(entry.request_id)
        self.notify(following_request_message(entry.request_id), timeout=3, markup=False)

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
        first = self._layout.locate(top)
        if first is None:
            return None
        bottom = min(self._layout.row_count() - 1, top + self._viewport_height() - 1)
        last = self._layout.locate(bottom)
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
        row = self._layout.first_row(index) + direction * height
        row = max(0, min(self._layout.row_count() - 1, row))
        located = self._layout.locate(row)
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
        located = self._layout.locate(round(self.scroll_y) + offset.y)
        if located is not None:
            self._move_cursor(located[0])
