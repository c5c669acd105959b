"""The row arithmetic of a log view: entries → rows, widths, and back.

A view shows the entries of a :class:`FilteredView`, one row each, or several
when wrapping at a width.  :class:`LogLayout` keeps what that takes: the
host-column width the labels seen so far need, the widest entry (for horizontal
scrolling), and when wrapping the row offsets of every shown entry, so that a
virtual row is located in O(log n) and nothing is laid out twice.

The text helpers here (:func:`message_text`, :func:`column_label`,
:func:`entry_width`) are the ones the renderer draws with, so that a width
counted here is the width drawn.  No Textual: the layout is plain arithmetic
over records, testable without an app.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from datetime import tzinfo
from typing import NamedTuple

from rich.cells import cell_len, set_cell_size

from rainbow_tui.logs.buffer import Entry, FilteredView, GapMarker, Synced
from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import (
    LineRecord,
    LogLine,
    line_view,
    record_raw_length,
    record_source,
)

__all__ = [
    "GUTTER",
    "MAX_HOST_WIDTH",
    "TIMESTAMP_WIDTH",
    "CaughtUp",
    "LogLayout",
    "RenderOptions",
    "cell_width",
    "column_label",
    "entry_width",
    "host_label",
    "message_text",
    "prefix_width",
]

# Left gutter, outside horizontal scrolling: a mark symbol and a space.
GUTTER = 2
# Widest host/container column; longer labels (container names carry a version
# hash) are cut with an ellipsis.
MAX_HOST_WIDTH = 28
TIMESTAMP_WIDTH = len("HH:MM:SS.mmm")


class RenderOptions(NamedTuple):
    """Everything besides the entry itself that changes how it is drawn."""

    show_timestamps: bool = True
    show_host: bool = True
    host_width: int = 0
    search: str = ""
    highlight: str = ""


def cell_width(text: str) -> int:
    """Cells ``text`` takes; inert text has no control characters, so ASCII is
    one cell per character."""
    return len(text) if text.isascii() else cell_len(text)


def host_label(line: LogLine) -> str:
    return "/".join(part for part in (line.host, line.container) if part)


def message_text(line: LogLine) -> str:
    """The line's text as shown: inert, tabs expanded.

    TAB is the one control character ``make_inert`` keeps; it is expanded here so
    that a cell count equals what the terminal shows.
    """
    text = make_inert(line.raw)
    return text.expandtabs(8) if "\t" in text else text


def column_label(label: str, width: int) -> str:
    """``label`` fitted to the host column: padded, or cut with an ellipsis."""
    label = make_inert(label)
    fitted = set_cell_size(label, width)
    if cell_width(label) > width:
        fitted = set_cell_size(fitted, width - 1) + "…"
    return fitted


def prefix_width(options: RenderOptions) -> int:
    """Cells of the timestamp and host columns before a line's text."""
    width = 0
    if options.show_timestamps:
        width += TIMESTAMP_WIDTH + 1
    if options.show_host and options.host_width:
        width += options.host_width + 1
    return width


def entry_width(entry: Entry, options: RenderOptions, zone: tzinfo | None = None) -> int:
    """Cells an entry is drawn in (no gutter)."""
    if isinstance(entry, GapMarker):
        return cell_width(entry.describe(zone))
    return prefix_width(options) + cell_width(message_text(entry))


class CaughtUp(NamedTuple):
    """What taking in one :meth:`FilteredView.sync` did to the rows."""

    dropped_rows: int
    """Rows that left the front (a paused view scrolls up by as many)."""
    relaid: bool
    """Every entry was laid out again (the host column widened): drawn rows are stale."""


class LogLayout:
    """Rows, widths and the host column of the entries ``view`` shows.

    ``wrap_width`` 0 means one row per entry (long lines scroll sideways);
    otherwise entries wrap at ``wrap_width - GUTTER`` cells.  :attr:`options`
    are the render options widths depend on; the owner changes them and calls
    :meth:`relayout` when a column is shown or hidden.
    """

    def __init__(self, view: FilteredView, zone: tzinfo | None = None) -> None:
        self._view = view
        self._zone = zone
        self.options = RenderOptions()
        # (host, container) → label width; labels seen so far size the column.
        self._labels: dict[tuple[str, str], int] = {}
        self._max_width = 0
        self._wrap_width = 0
        # Row offsets of the shown entries when wrapping: entry i covers rows
        # [_offsets[i] - _offsets[0], _offsets[i + 1] - _offsets[0]).
        self._offsets: array[int] = array("q", [0])

    @property
    def wrap_width(self) -> int:
        return self._wrap_width

    @property
    def max_width(self) -> int:
        """The widest shown entry in cells, as far as known (see :meth:`widen`)."""
        return self._max_width

    # -- taking in entries --------------------------------------------------------

    def relayout(self, wrap_width: int) -> None:
        """Lay out every shown entry again, wrapping at ``wrap_width`` (0: no wrap)."""
        records = self._view.records()
        self._note_labels(records)
        self._wrap_width = wrap_width
        self._offsets = array("q", [0])
        if wrap_width:
            self._max_width = 0
            self._append_rows(records)
        else:
            self._max_width = self._estimated_width(records)

    def take_in(self, synced: Synced) -> CaughtUp:
        """Follow what one sync of the view dropped at the front and added at the end."""
        dropped_rows = self._drop_front(synced.dropped)
        view = self._view
        fresh = view.records(len(view) - synced.added) if synced.added else []
        if self._note_labels(fresh):
            self.relayout(self._wrap_width)
            return CaughtUp(dropped_rows, relaid=True)
        if self._wrap_width:
            self._append_rows(fresh)
        else:
            self._max_width = max(self._max_width, self._estimated_width(fresh))
        return CaughtUp(dropped_rows, relaid=False)

    def widen(self, width: int) -> bool:
        """A drawn entry turned out ``width`` cells wide; True when that is wider
        than any known so far (the virtual width grows)."""
        if width > self._max_width:
            self._max_width = width
            return True
        return False

    # -- rows -----------------------------------------------------------------------

    def row_count(self) -> int:
        if self._wrap_width:
            return self._offsets[-1] - self._offsets[0]
        return len(self._view)

    def first_row(self, index: int) -> int:
        """The first row of the entry shown at ``index``."""
        if self._wrap_width:
            return self._offsets[index] - self._offsets[0]
        return index

    def last_row(self, index: int) -> int:
        """The last row of the entry shown at ``index``."""
        if self._wrap_width:
            return self._offsets[index + 1] - self._offsets[0] - 1
        return index

    def locate(self, row: int) -> tuple[int, int] | None:
        """(index, row within the entry) of a virtual row, or None past the end."""
        if row < 0 or row >= self.row_count():
            return None
        if not self._wrap_width:
            return row, 0
        offsets = self._offsets
        index = bisect_right(offsets, offsets[0] + row) - 1
        return index, row - (offsets[index] - offsets[0])

    def virtual_size(self, content_width: int) -> tuple[int, int]:
        """(width, height) of everything there is to scroll through."""
        width = self._wrap_width or max(self._max_width + GUTTER, content_width)
        return width, self.row_count()

    # -- internals ------------------------------------------------------------------

    def _drop_front(self, dropped: int) -> int:
        """Forget the row offsets of ``dropped`` entries; return the rows they had."""
        if not dropped:
            return 0
        if not self._wrap_width:
            return dropped
        before = self._offsets[0]
        del self._offsets[:dropped]
        return self._offsets[0] - before

    def _note_labels(self, records: list[LineRecord | GapMarker | None]) -> bool:
        """Record host labels of new entries; True when the host column widened."""
        labels = self._labels
        widened = False
        # A set first: a burst comes from a handful of sources.
        sources = set(map(record_source, [r for r in records if type(r) is tuple]))
        for source in sources:
            if source in labels:
                continue
            label = "/".join(part for part in source if part)
            width = min(MAX_HOST_WIDTH, cell_width(make_inert(label)))
            labels[source] = width
            if width > self.options.host_width:
                self.options = self.options._replace(host_width=width)
                widened = True
        return widened

    def _estimated_width(self, records: list[LineRecord | GapMarker | None]) -> int:
        """Widest of these entries in cells, counting a character as one cell.

        Exact for ASCII; wider characters and tabs are found when the line is
        drawn (see :meth:`widen`), so a burst costs no cell counting.
        """
        lines = [r for r in records if type(r) is tuple]
        longest = max(map(record_raw_length, lines), default=0)
        width = prefix_width(self.options) + longest if longest else 0
        for record in records:
            if type(record) is GapMarker:
                width = max(width, cell_width(record.describe(self._zone)))
        return width

    def _append_rows(self, records: list[LineRecord | GapMarker | None]) -> None:
        """Row offsets of wrapped entries: their exact cell widths are needed."""
        avail = max(1, self._wrap_width - GUTTER)
        options, zone = self.options, self._zone
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
