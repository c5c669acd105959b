"""One LogBuffer, many LogViews: the dashboard's pane and the full-screen view read
the same lines, each parsed once, each view with its own filter, marks and tail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta, timezone

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

import rainbow_tui.logs.parse.record as record_module
from rainbow_tui.logs.buffer import LogBuffer
from rainbow_tui.logs.parse import LogLevel, LogLine, parse_line
from rainbow_tui.logs.streams import StreamState
from screens.logs import LogScreen
from widgets.log_pane import LogPane
from widgets.log_view import LogView

JST = timezone(timedelta(hours=9))
SIZE = (100, 40)
STAMP = "2026-11-28T03:00:{second:02d}.{milli:03d}000000Z "
LEVEL_PREFIX = {"INFO": "I", "WARN": "W", "ERROR": "E"}


def rails_lines(count: int, start: int = 0, host: str = "app-1") -> list[LogLine]:
    """Ruby Logger lines, every third a WARN: a level is known only once parsed."""
    result = []
    for n in range(start, start + count):
        level = "WARN" if n % 3 == 0 else "INFO"
        stamp = STAMP.format(second=n // 1000 % 60, milli=n % 1000)
        text = (
            f"{stamp}{LEVEL_PREFIX[level]}, [2026-11-28T12:00:00.000000 #1]  {level} -- : line {n}"
        )
        result.append(parse_line(text, host, "web"))
    return result


class UpdatesSeen:
    """The last ``LogView.Updated`` of each view, and a way to wait for one."""

    def __init__(self) -> None:
        self.last: dict[LogView, LogView.Updated] = {}
        self._changed = asyncio.Event()

    def note(self, event: LogView.Updated) -> None:
        self.last[event.log_view] = event
        self._changed.set()

    async def caught_up(self, pilot: Pilot[None], next_seq: int, *views: LogView) -> None:
        """Wait until each of ``views`` said it caught up with ``next_seq`` entries."""

        def done() -> bool:
            return all(
                (event := self.last.get(view)) is not None
                and event.dropped + event.buffered == next_seq
                for view in views
            )

        async def wait() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout=5)
        await pilot.pause()


class TwoViews(App[None]):
    """A tail view (the pane) and a whole-buffer view (the full screen), one buffer."""

    CSS = "LogView { height: 1fr; }"

    def __init__(self, buffer: LogBuffer, tail: int) -> None:
        super().__init__()
        self.buffer = buffer
        self.pane = LogView(buffer, tail=tail, timezone=JST, id="pane")
        self.full = LogView(buffer, timezone=JST, id="full")
        self.updates = UpdatesSeen()

    def compose(self) -> ComposeResult:
        yield self.pane
        yield self.full

    def on_log_view_updated(self, event: LogView.Updated) -> None:
        self.updates.note(event)

    async def caught_up(self, pilot: Pilot[None], next_seq: int) -> None:
        await self.updates.caught_up(pilot, next_seq, self.pane, self.full)

    def updated(self, view: LogView) -> LogView.Updated:
        return self.updates.last[view]


def visible_seqs(view: LogView) -> list[int]:
    top = round(view.scroll_y)
    height = view.scrollable_content_region.height
    filtered = view.filtered
    return [filtered.seq_at(index) for index in range(top, min(len(filtered), top + height))]


def bodies(view: LogView) -> list[str]:
    return [
        text.rstrip()
        for y in range(view.scrollable_content_region.height)
        if (text := view.line_text(y)).strip()
    ]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every parse of a line's fields, by text (the real parse, counted)."""
    seen: list[str] = []
    real = record_module._parse_text

    def counted(text: str, stamp_end: int, tags_key: str | None) -> record_module.ParsedFields:
        seen.append(text)
        return real(text, stamp_end, tags_key)

    monkeypatch.setattr(record_module, "_parse_text", counted)
    yield seen


async def test_a_batch_appended_once_reaches_both_views_each_line_parsed_once(
    parses: list[str],
) -> None:
    buffer = LogBuffer(1000)
    app = TwoViews(buffer, tail=50)
    async with app.run_test(size=SIZE) as pilot:
        assert buffer.subscribers == 2
        batch = rails_lines(300)
        buffer.append_many(batch)  # the owner appends once; nobody calls the views
        await app.caught_up(pilot, 300)
        assert len(app.full.filtered) == 300
        assert len(app.pane.filtered) == 50
        assert app.updated(app.pane).dropped == 250 and app.updated(app.full).dropped == 0
        assert bodies(app.pane)[-1].endswith("line 299")
        assert bodies(app.full)[-1].endswith("line 299")
        shown_in_both = set(visible_seqs(app.pane)) & set(visible_seqs(app.full))
        assert len(shown_in_both) >= 5

        # Both views now filter on the level, which needs every line within their
        # reach parsed: the whole buffer for one, its tail for the other.
        app.pane.min_level = LogLevel.WARN
        app.full.min_level = LogLevel.WARN
        await pilot.pause()
        assert len(app.full.filtered) == 100
        assert len(app.pane.filtered) == len([n for n in range(250, 300) if n % 3 == 0])
        assert bodies(app.pane)[-1].endswith("line 297")

    # No line parsed twice, whichever view read it first: the buffer kept the result
    # (lines the level pre-filter rules out are never parsed at all).
    assert len(parses) == len(set(parses))
    held = buffer.records_for(range(buffer.first_seq, buffer.next_seq))
    parsed = {
        seq
        for seq, record in enumerate(held)
        if isinstance(record, tuple) and isinstance(record[4], tuple)
    }
    assert len(parsed) == len(parses)
    assert {seq for seq in range(300) if seq % 3 == 0} <= parsed  # every WARN line
    for seq in shown_in_both:
        entry = buffer.get(seq)
        assert isinstance(entry, LogLine) and entry.is_parsed
        assert entry.record is held[seq]
    assert buffer.subscribers == 0, "unmounted views no longer listen"


async def test_dropped_lines_are_dropped_from_every_view_and_their_marks_go() -> None:
    buffer = LogBuffer(100)
    app = TwoViews(buffer, tail=30)
    async with app.run_test(size=SIZE) as pilot:
        buffer.append_many(rails_lines(100))
        await app.caught_up(pilot, 100)
        await pilot.click("#full")
        await pilot.press("home", "m")  # marks seq 0 in the full view only
        await pilot.click("#pane")
        await pilot.press("home", "m")  # the pane's first line: seq 70
        assert app.full.filtered.marks == frozenset({0})
        assert app.pane.filtered.marks == frozenset({70})
        for batch in range(5):  # 250 more, in five appends
            buffer.append_many(rails_lines(50, 100 + batch * 50))
        await app.caught_up(pilot, 350)
        assert app.updated(app.full).dropped == 250 and app.updated(app.full).buffered == 100
        assert app.updated(app.pane).dropped == 320 and app.updated(app.pane).buffered == 30
        assert app.full.filtered.marks == frozenset()
        assert app.pane.filtered.marks == frozenset()
        assert app.full.filtered.seq_at(0) == 250
        assert app.pane.filtered.seq_at(0) == 320
        # Both were paused by the cursor keys: each kept its cursor on a held line.
        for view in (app.pane, app.full):
            assert not view.follow
            assert view.cursor_seq is not None
            assert view.cursor_seq >= view.filtered.first_seq


class Console(App[None]):
    """The pane on the first screen and the full-screen view, as the console has them."""

    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer
        self.log_pane = LogPane(buffer, id="logs")
        self.log_screen = LogScreen("Shiojiri Rainbow Seeker — live logs", buffer, timezone=JST)
        self.updates = UpdatesSeen()

    def compose(self) -> ComposeResult:
        yield self.log_pane

    def on_mount(self) -> None:
        self.log_pane.attach()
        # The screen's messages do not bubble to the app: watch them as the app does.
        self.log_screen.message_signal.subscribe(self, self._screen_message, immediate=True)

    def _screen_message(self, message: object) -> None:
        if isinstance(message, LogView.Updated):
            self.updates.note(message)

    def on_log_view_updated(self, event: LogView.Updated) -> None:
        self.updates.note(event)


def header_text(screen: LogScreen) -> str:
    return str(screen.query_one("#log-header").render())


async def test_the_full_screen_view_catches_up_on_what_arrived_while_it_was_not_shown() -> None:
    buffer = LogBuffer(1000)
    app = Console(buffer)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane_view = app.log_pane.log_view
        assert buffer.subscribers == 1, "only what is mounted listens"
        buffer.append_many(rails_lines(40))
        await app.updates.caught_up(pilot, 40, pane_view)
        assert len(pane_view.filtered) == 40

        app.push_screen(app.log_screen)
        view = app.log_screen.log_view
        await app.updates.caught_up(pilot, 40, view)
        assert buffer.subscribers == 2
        assert len(view.filtered) == 40
        assert "40 lines in buffer · 40 shown · 0 dropped" in header_text(app.log_screen)

        app.pop_screen()
        await pilot.pause()
        assert buffer.subscribers == 1
        buffer.append_many(rails_lines(10, 40))
        await app.updates.caught_up(pilot, 50, pane_view)
        app.push_screen(app.log_screen)
        await app.updates.caught_up(pilot, 50, view)
        assert "50 lines in buffer · 50 shown · 0 dropped" in header_text(app.log_screen)

        app.log_screen.show_stream_states(
            [
                StreamState("app-1/web", "streaming"),
                StreamState("app-2/web", "reconnecting", "EOF"),
            ],
            2,
        )
        assert header_text(app.log_screen).startswith(
            "Shiojiri Rainbow Seeker — live logs — 1/2 streams · app-2/web: reconnecting (EOF)"
        )
