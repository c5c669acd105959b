"""The log tail's memory: a bounded ring of lines and filtered views of it.

:class:`LogBuffer` holds the newest ``max_lines`` entries (parsed lines and
:class:`GapMarker` notes where a stream was lost).  Every entry gets a sequence
number that only grows, so a position or a mark taken on a line stays valid
while older lines fall off the front.

:class:`FilteredView` is the list of sequence numbers that pass a
:class:`LogFilter`.  It follows the buffer incrementally: :meth:`FilteredView.sync`
drops what left the ring and filters only what arrived since the last call, so a
burst of 10 000 lines costs 10 000 filter checks, not a rescan of the buffer.
"""

from __future__ import annotations

import re
import warnings
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import msgspec

from rainbow_tui.logs.lines import make_inert
from rainbow_tui.logs.parse import LineRecord, LogLevel, LogLine, line_view
from rainbow_tui.text import tr, trn

__all__ = [
    "Entry",
    "FilteredView",
    "GapMarker",
    "LogBuffer",
    "LogFilter",
    "SearchPattern",
    "Synced",
    "compile_search",
    "entry_text",
    "is_error",
    "shown_text",
]


class GapMarker(msgspec.Struct, frozen=True):
    """A stretch of time in which a stream delivered nothing (connection lost).

    Shown as one line, :attr:`text`, e.g.
    ``── app-1/web: stream lost 15:02:11 → 15:02:19 (8.1 s) ──``.
    """

    host: str
    container: str
    started_at: datetime
    ended_at: datetime
    lines_missed: int | None = None

    @property
    def text(self) -> str:
        """:meth:`describe` in the local time zone."""
        return self.describe()

    def describe(self, zone: tzinfo | None = None) -> str:
        """The marker's line in the current language, clock times in ``zone``
        (None: local time)."""
        source = "/".join(part for part in (self.host, self.container) if part) or tr(
            "log.gap.stream"
        )
        seconds = f"{(self.ended_at - self.started_at).total_seconds():.1f}"
        started, ended = _clock(self.started_at, zone), _clock(self.ended_at, zone)
        if self.lines_missed is None:
            line = tr("log.gap.lost", source=source, started=started, ended=ended,
                      seconds=seconds)
        else:
            line = trn("log.gap.lost_missed", self.lines_missed, source=source,
                       started=started, ended=ended, seconds=seconds, missed=self.lines_missed)
        return make_inert(line)


def _clock(moment: datetime, zone: tzinfo | None) -> str:
    local = moment.astimezone(zone) if moment.tzinfo is not None else moment
    return local.strftime("%H:%M:%S")


Entry = LogLine | GapMarker


def entry_text(entry: Entry) -> str:
    """One entry as a line of text (for search and "save to file").

    A log line reads ``host/container docker-timestamp raw``, each part present
    only when the line has it, so a saved file keeps where and when each line
    was written.
    """
    if isinstance(entry, GapMarker):
        return entry.text
    label = "/".join(part for part in (entry.host, entry.container) if part)
    # A line's text is its docker timestamp, a space and its raw text, or the raw
    # text alone.
    return f"{label} {entry.text}" if label else entry.text


def shown_text(entry: Entry) -> str:
    """The text patterns are matched in: a line's ``raw`` text (after the docker
    timestamp), a gap marker's ``text``."""
    return entry.text if isinstance(entry, GapMarker) else entry.raw


def is_error(entry: Entry) -> bool:
    """ERROR or FATAL, or an HTTP status of 500 or more."""
    if isinstance(entry, GapMarker) or not entry.could_reach(LogLevel.ERROR):
        return False
    if entry.level is LogLevel.ERROR or entry.level is LogLevel.FATAL:
        return True
    return entry.status is not None and entry.status >= 500


class LogBuffer:
    """The newest ``max_lines`` entries, each under a sequence number.

    Sequence numbers start at 0 and grow by one per appended entry, whether or
    not it is still held.  Storage is a fixed ring (a list of references,
    overwritten in place), so memory is bounded by ``max_lines`` however much
    was appended, and :meth:`get` is O(1).

    A line is held as its record (``LogLine.record``), a tuple the garbage
    collector does not track, and handed out as a new ``LogLine`` of it each
    time; a line parsed after that leaves its parsed record here (see
    :meth:`keep_parsed`), so it is parsed once however often it is read.

    One buffer serves every view of the log (:meth:`subscribe`): a batch is
    appended once, and each view catches up from here, so a line shown in two
    views is held and parsed once.
    """

    __slots__ = ("_listeners", "_max_lines", "_next_seq", "_ring")

    def __init__(self, max_lines: int = 100_000) -> None:
        if max_lines < 1:
            raise ValueError(f"max_lines must be positive, got {max_lines}")
        self._max_lines = max_lines
        # Invariant: the entry with sequence number s sits at _ring[s % max_lines]
        # (a line as its record).
        self._ring: list[LineRecord | GapMarker] = []
        self._next_seq = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def max_lines(self) -> int:
        return self._max_lines

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def first_seq(self) -> int:
        """Sequence number of the oldest entry held (``next_seq`` when empty)."""
        return self._next_seq - len(self._ring)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest entry (``first_seq - 1`` when empty)."""
        return self._next_seq - 1

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended entry will get."""
        return self._next_seq

    @property
    def dropped(self) -> int:
        """Entries that fell off the front of the ring so far."""
        return self.first_seq

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every append, on the appending thread.

        A listener should only note that there is more to read (a view arms its
        frame timer): it runs inside :meth:`append_many`, at stream rates.
        """
        if listener not in self._listeners:
            self._listeners.append(listener)

    @property
    def subscribers(self) -> int:
        """How many listeners are subscribed (mounted views, for one)."""
        return len(self._listeners)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener`` (no error when it was not subscribed)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def append(self, entry: Entry) -> int:
        """Add one entry; return its sequence number."""
        self.append_many((entry,))
        return self._next_seq - 1

    def append_many(self, entries: Iterable[Entry]) -> range:
        """Add a batch of entries; return their sequence numbers."""
        # The record slot itself, not the property: this runs for every line at
        # stream rates.
        batch = [entry if isinstance(entry, GapMarker) else entry._record for entry in entries]
        start = self._next_seq
        self._next_seq += len(batch)
        ring, capacity = self._ring, self._max_lines
        room = capacity - len(ring)
        if room > 0:
            # Still filling: ring length equals the next sequence number, so
            # extending puts every entry at its own index.
            ring.extend(batch[:room])
            batch = batch[room:]
        if batch:
            if len(batch) > capacity:
                batch = batch[-capacity:]
            position = (self._next_seq - len(batch)) % capacity
            head = min(capacity - position, len(batch))
            ring[position : position + head] = batch[:head]
            ring[: len(batch) - head] = batch[head:]
        # A copy: a listener may unsubscribe (its view unmounting) while called.
        for listener in tuple(self._listeners):
            listener()
        return range(start, self._next_seq)

    def get(self, seq: int) -> Entry | None:
        """The entry numbered ``seq``, or None when it was dropped or never added."""
        if seq < self._next_seq - len(self._ring) or seq >= self._next_seq:
            return None
        stored = self._ring[seq % self._max_lines]
        return stored if isinstance(stored, GapMarker) else line_view(stored, self, seq)

    def entries(self, start: int, stop: int | None = None) -> list[Entry]:
        """Entries with sequence numbers in ``[start, stop)``, clipped to what is held."""
        start = max(start, self.first_seq)
        stop = self._next_seq if stop is None else min(stop, self._next_seq)
        if start >= stop:
            return []
        capacity = self._max_lines
        low, high = start % capacity, (stop - 1) % capacity + 1
        ring = self._ring
        stored = ring[low:high] if low < high else ring[low:] + ring[:high]
        return [
            entry if isinstance(entry, GapMarker) else line_view(entry, self, seq)
            for seq, entry in zip(range(start, stop), stored, strict=True)
        ]

    def entries_for(self, seqs: Iterable[int]) -> list[Entry]:
        """The entries numbered ``seqs``, all of which must still be held."""
        ring, capacity = self._ring, self._max_lines
        return [
            entry
            if isinstance(entry := ring[seq % capacity], GapMarker)
            else line_view(entry, self, seq)
            for seq in seqs
        ]

    def records_for(self, seqs: Iterable[int]) -> list[LineRecord | GapMarker]:
        """What is held for the entries numbered ``seqs`` (all still held): a line's
        record, or a gap marker; cheaper than :meth:`entries_for` for a look at
        every entry's text and source."""
        ring, capacity = self._ring, self._max_lines
        return [ring[seq % capacity] for seq in seqs]

    def keep_parsed(self, seq: int, before: LineRecord, after: LineRecord) -> None:
        """A line handed out as ``seq`` was parsed: hold its parsed record instead."""
        if self.first_seq <= seq < self._next_seq:
            index = seq % self._max_lines
            if self._ring[index] is before:
                self._ring[index] = after

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries(self.first_seq))


# -- patterns -------------------------------------------------------------------------


class SearchPattern(NamedTuple):
    """A compiled, case-insensitive pattern and why it is literal, if it is."""

    regex: re.Pattern[str]
    error: str | None


@lru_cache(maxsize=64)
def compile_search(text: str) -> SearchPattern:
    """``text`` as a case-insensitive regex; an invalid one as a literal substring.

    The fallback keeps what the operator typed useful (``[error`` finds
    ``[error``) and ``error`` says why it was taken literally.
    """
    try:
        with warnings.catch_warnings():
            # "Possible nested set" and the like: the operator's regex, not our bug.
            warnings.simplefilter("ignore", FutureWarning)
            return SearchPattern(re.compile(text, re.IGNORECASE), None)
    except re.error as error:
        message = f"invalid regex ({error}); matching it as plain text"
        return SearchPattern(re.compile(re.escape(text), re.IGNORECASE), message)


@dataclass(frozen=True)
class LogFilter:
    """Which entries a view shows.  All conditions must hold; gap markers always pass.

    ``pattern`` is a case-insensitive regex searched in the line's text; a
    leading ``!`` inverts it (hide matching lines).  An invalid regex matches as
    a literal substring and ``error`` says so.  ``request_id`` follows one
    request across hosts; ``hosts`` keeps lines from those hosts only.  Lines of
    unknown level are hidden once ``min_level`` is set.
    """

    min_level: LogLevel | None = None
    pattern: str = ""
    request_id: str | None = None
    hosts: frozenset[str] | None = None
    error: str | None = field(init=False, default=None, compare=False)
    _regex: re.Pattern[str] | None = field(init=False, default=None, compare=False, repr=False)
    _inverse: bool = field(init=False, default=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        inverse = self.pattern.startswith("!")
        body = self.pattern[1:] if inverse else self.pattern
        if body:
            compiled = compile_search(body)
            object.__setattr__(self, "_regex", compiled.regex)
            object.__setattr__(self, "error", compiled.error)
            object.__setattr__(self, "_inverse", inverse)

    @property
    def is_empty(self) -> bool:
        """True when every entry passes."""
        return (
            self.min_level is None
            and self._regex is None
            and self.request_id is None
            and self.hosts is None
        )

    @property
    def highlight(self) -> re.Pattern[str] | None:
        """The pattern worth highlighting in shown lines (none for an inverse one)."""
        return None if self._inverse else self._regex

    def matches(self, entry: Entry) -> bool:
        return self.predicate()(entry)

    def predicate(self) -> Callable[[Entry], bool]:
        """A function deciding one entry, specialised to the conditions in use."""
        min_level = self.min_level
        min_severity = 0 if min_level is None else min_level.severity
        request_id, hosts = self.request_id, self.hosts
        search = None if self._regex is None else self._regex.search
        inverse = self._inverse

        def passes(entry: Entry) -> bool:
            if isinstance(entry, GapMarker):
                return True
            # could_reach and could_have_request_id rule most lines out unparsed.
            if min_level is not None and (
                not entry.could_reach(min_level) or entry.level.severity < min_severity
            ):
                return False
            if request_id is not None and (
                not entry.could_have_request_id(request_id) or entry.request_id != request_id
            ):
                return False
            if hosts is not None and entry.host not in hosts:
                return False
            return search is None or (search(entry.raw) is None) == inverse

        if self.is_empty:
            return lambda entry: True
        return passes


# -- filtered view --------------------------------------------------------------------


class Synced(NamedTuple):
    """What one :meth:`FilteredView.sync` changed at each end of the view."""

    dropped: int
    added: int


class FilteredView:
    """The sequence numbers of ``buffer`` that pass ``filter``, oldest first.

    With ``tail``, only the buffer's ``tail`` newest entries are looked at (a
    compact pane over the same buffer as a full-screen view).

    Call :meth:`sync` after appending to the buffer: between calls the view is a
    stable snapshot (indices do not shift under a reader).  Indices are
    positions in the view, 0 = oldest shown.  Marks are sequence numbers, so
    they survive filter changes; they go when their line leaves the buffer.
    """

    def __init__(
        self, buffer: LogBuffer, filter: LogFilter | None = None, tail: int | None = None
    ) -> None:
        if tail is not None and tail < 1:
            raise ValueError(f"tail must be positive, got {tail}")
        self._buffer = buffer
        self._tail = tail
        self._filter = filter or LogFilter()
        self._passes = self._filter.predicate()
        self._seqs: array[int] = array("q")
        self._synced_to = self.first_seq
        self._marks: set[int] = set()
        self.sync()

    @property
    def buffer(self) -> LogBuffer:
        return self._buffer

    @property
    def tail(self) -> int | None:
        """How many of the buffer's newest entries the view looks at (None: all)."""
        return self._tail

    @property
    def first_seq(self) -> int:
        """The oldest entry the view may show: the buffer's oldest, or the first of
        its ``tail`` newest; older ones count as dropped for this view."""
        first = self._buffer.first_seq
        if self._tail is None:
            return first
        return max(first, self._buffer.next_seq - self._tail)

    @property
    def held(self) -> int:
        """Entries within the view's reach (shown or filtered out)."""
        return self._buffer.next_seq - self.first_seq

    @property
    def dropped(self) -> int:
        """Entries that left the view's reach so far (the buffer's, or its tail's)."""
        return self.first_seq

    @property
    def filter(self) -> LogFilter:
        return self._filter

    def set_filter(self, new_filter: LogFilter) -> None:
        """Apply another filter: the one full pass over the buffer."""
        self._filter = new_filter
        self._passes = new_filter.predicate()
        self._seqs = array("q")
        self._synced_to = self.first_seq
        self.sync()

    def sync(self) -> Synced:
        """Take in what the buffer dropped and gained since the last call."""
        buffer = self._buffer
        first = self.first_seq
        dropped = 0
        if self._seqs and self._seqs[0] < first:
            dropped = bisect_left(self._seqs, first)
            del self._seqs[:dropped]
        if self._marks and min(self._marks) < first:
            self._marks = {seq for seq in self._marks if seq >= first}
        start = max(self._synced_to, first)
        end = buffer.next_seq
        added = 0
        if start < end and self._filter.is_empty:
            self._seqs.extend(range(start, end))
            added = end - start
        elif start < end:
            passes = self._passes
            fresh = [
                seq
                for seq, entry in zip(range(start, end), buffer.entries(start, end), strict=True)
                if passes(entry)
            ]
            self._seqs.extend(fresh)
            added = len(fresh)
        self._synced_to = end
        return Synced(dropped, added)

    def __len__(self) -> int:
        return len(self._seqs)

    def seq_at(self, index: int) -> int:
        """The sequence number shown at ``index`` (negative indices count from the end)."""
        return self._seqs[index]

    def entry_at(self, index: int) -> Entry | None:
        return self._buffer.get(self._seqs[index])

    def index_of(self, seq: int) -> int | None:
        """Index of ``seq``, or of the shown entry nearest to it; None when empty."""
        seqs = self._seqs
        if not seqs:
            return None
        index = bisect_left(seqs, seq)
        if index == len(seqs):
            return index - 1
        if seqs[index] == seq or index == 0:
            return index
        return index if seqs[index] - seq < seq - seqs[index - 1] else index - 1

    def contains(self, seq: int) -> bool:
        index = bisect_left(self._seqs, seq)
        return index < len(self._seqs) and self._seqs[index] == seq

    def seqs(self) -> Iterator[int]:
        return iter(self._seqs)

    def entries(self, start: int = 0, stop: int | None = None) -> list[Entry | None]:
        """Entries shown at indices ``[start, stop)`` (slice semantics); None for
        one that left the buffer since the last :meth:`sync`."""
        seqs = self._seqs[start:stop]
        held = bisect_left(seqs, self.first_seq)
        result: list[Entry | None] = [None] * held
        result.extend(self._buffer.entries_for(seqs[held:]))
        return result

    def records(
        self, start: int = 0, stop: int | None = None
    ) -> list[LineRecord | GapMarker | None]:
        """:meth:`entries` as the buffer holds them (see ``LogBuffer.records_for``)."""
        seqs = self._seqs[start:stop]
        held = bisect_left(seqs, self.first_seq)
        result: list[LineRecord | GapMarker | None] = [None] * held
        result.extend(self._buffer.records_for(seqs[held:]))
        return result

    # -- navigation ---------------------------------------------------------------

    def _candidates(self, from_index: int, backwards: bool) -> Iterator[tuple[int, Entry]]:
        """(index, entry) after ``from_index`` (before it when ``backwards``), nearest
        first; entries dropped from the buffer since the last :meth:`sync` are skipped."""
        seqs = self._seqs
        held = bisect_left(seqs, self.first_seq)
        if backwards:
            stop = min(from_index, len(seqs))
            indices = range(stop - 1, held - 1, -1)
            entries = self._buffer.entries_for(seqs[held:stop] if stop > held else [])
            entries.reverse()
        else:
            start = max(from_index + 1, held)
            indices = range(start, len(seqs))
            entries = self._buffer.entries_for(seqs[start:])
        return zip(indices, entries, strict=True)

    def _find(self, test: Callable[[Entry], bool], from_index: int, backwards: bool) -> int | None:
        for index, entry in self._candidates(from_index, backwards):
            if test(entry):
                return index
        return None

    def search(
        self, pattern: str | re.Pattern[str], from_index: int, backwards: bool = False
    ) -> int | None:
        """Index of the next entry (after ``from_index``, or before it when
        ``backwards``) whose :func:`shown_text` matches; None when there is none (no wrap-around:
        in a log, "next" means later)."""
        regex = compile_search(pattern).regex if isinstance(pattern, str) else pattern
        search = regex.search
        for index, entry in self._candidates(from_index, backwards):
            text = entry.text if isinstance(entry, GapMarker) else entry.raw
            if search(text) is not None:
                return index
        return None

    def next_error(self, from_index: int, backwards: bool = False) -> int | None:
        """Index of the next ERROR/FATAL line or 5xx response after ``from_index``."""
        return self._find(is_error, from_index, backwards)

    # -- marks ----------------------------------------------------------------------

    def toggle_mark(self, seq: int) -> bool:
        """Mark or unmark the entry ``seq``; return whether it is marked now."""
        if seq in self._marks:
            self._marks.discard(seq)
            return False
        if not self.first_seq <= seq < self._buffer.next_seq:
            return False
        self._marks.add(seq)
        return True

    @property
    def marks(self) -> frozenset[int]:
        """Sequence numbers of marked entries still within the view's reach."""
        return frozenset(self._marks)

    def is_marked(self, seq: int) -> bool:
        return seq in self._marks

    def next_mark(self, from_index: int) -> int | None:
        """Index of the next shown mark after ``from_index``, wrapping around to
        the first (marks are a handful of bookmarks to cycle through)."""
        indices = sorted(
            index
            for seq in self._marks
            if (index := bisect_left(self._seqs, seq)) < len(self._seqs)
            and self._seqs[index] == seq
        )
        if not indices:
            return None
        later = bisect_left(indices, from_index + 1)
        return indices[later] if later < len(indices) else indices[0]

    # -- export ---------------------------------------------------------------------

    def lines(self) -> list[str]:
        """Every shown entry as text (see :func:`entry_text`)."""
        get = self._buffer.get
        return [entry_text(entry) for seq in self._seqs if (entry := get(seq)) is not None]

    def lines_text(self) -> str:
        """:meth:`lines`, each ended by a newline."""
        return "".join(line + "\n" for line in self.lines())

    def save(self, path: Path) -> int:
        """Write :meth:`lines` to a new file ``path``, redacted and readable by its
        owner only (0600); return the lines written.

        Refuses to overwrite an existing file (``FileExistsError``)."""
        from rainbow_tui.logs.saved_logs import write_redacted_lines

        return write_redacted_lines(path, self.lines())
