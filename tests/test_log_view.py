"""LogView and LogScreen driven through Textual's Pilot, as an operator would."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color
from textual.pilot import Pilot

from rainbow_tui.logs.buffer import Entry, GapMarker, LogBuffer
from rainbow_tui.logs.layout import RenderOptions
from rainbow_tui.logs.parse import LogKind, LogLevel, LogLine, parse_line
from screens.logs import LogScreen
from widgets.log_render import LOG_COMPONENT_CLASSES, LogStyles, entry_segments, render_entry
from widgets.log_view import LogView

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
SIZE = (100, 30)


def line(
    raw: str,
    *,
    level: LogLevel = LogLevel.INFO,
    host: str = "app-1",
    container: str = "web",
    request_id: str | None = None,
    status: int | None = None,
    offset_ms: int = 0,
) -> LogLine:
    return LogLine(
        raw=raw,
        host=host,
        container=container,
        timestamp=T0 + timedelta(milliseconds=offset_ms),
        timestamp_text="",
        kind=LogKind.RAW,
        level=level,
        message=raw,
        request_id=request_id,
        status=status,
    )


def numbered(count: int, start: int = 0) -> list[Entry]:
    return [line(f"line {n}", offset_ms=n) for n in range(start, start + count)]


class LogApp(App[None]):
    def __init__(self, max_lines: int = 100_000) -> None:
        super().__init__()
        self.view = LogView(LogBuffer(max_lines), timezone=JST, id="log")
        self.updated = asyncio.Event()
        self.pinned: list[LogLine] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        self.view.focus()

    def on_log_view_updated(self) -> None:
        self.updated.set()

    def on_log_view_pin_requested(self, event: LogView.PinRequested) -> None:
        self.pinned.append(event.line)


def rows(view: LogView) -> list[str]:
    """The text of every visible row, trailing blanks removed."""
    return [view.line_text(y).rstrip() for y in range(view.scrollable_content_region.height)]


def bodies(view: LogView) -> list[str]:
    """The visible rows without gutter, timestamp and host columns."""
    return [text[2 + 13 + 10 :] for text in rows(view) if text]


def fill(app: LogApp, entries: Iterable[Entry]) -> None:
    """Add lines and catch up at once, instead of waiting for the frame timer."""
    app.view.add_entries(entries)
    app.view.flush()


def saved_files(directory: Path) -> dict[str, list[str]]:
    """Lines of each file in ``directory``, keyed by name with digits as ``*``."""
    return {
        re.sub(r"\d{8}-\d{6}", "*", path.name): path.read_text(encoding="utf-8").splitlines()
        for path in directory.iterdir()
    }


def cursor_row(view: LogView) -> str:
    index = view.cursor_index
    assert index is not None
    return view.line_text(index - round(view.scroll_y))


# -- virtual rendering and batching ---------------------------------------------------


async def test_100k_lines_in_batches_render_only_the_visible_rows() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        await pilot.pause()
        calls_before = view.render_line_calls
        for batch in range(100):
            view.add_entries(numbered(1000, batch * 1000))
        await asyncio.wait_for(app.updated.wait(), timeout=5)
        await pilot.pause()
        height = view.scrollable_content_region.height
        assert view.updates == 1, "100 calls within one frame make one update"
        assert len(view.filtered) == 100_000
        assert view.virtual_size.height == 100_000
        assert view.strips_built <= 2 * height
        assert view.strip_cache_size <= 2 * height
        assert view.render_line_calls - calls_before <= 4 * height
        assert bodies(view)[-1] == "line 99999"
        assert view.follow


async def test_add_entries_before_mount_shows_them_once_mounted() -> None:
    app = LogApp()
    app.view.add_entries(numbered(3))
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(app.updated.wait(), timeout=5)
        await pilot.pause()
        assert bodies(app.view) == ["line 0", "line 1", "line 2"]


@pytest.mark.parametrize("wrap", [False, True])
async def test_dropped_front_lines_keep_a_paused_view_on_the_same_lines(wrap: bool) -> None:
    app = LogApp(max_lines=500)
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        view.wrap = wrap
        long_tail = " and more" * 12 if wrap else ""  # every third line takes two rows
        fill(app, [line(f"line {n}" + (long_tail if n % 3 == 0 else "")) for n in range(500)])
        await pilot.pause()
        view.scroll_to(y=200, animate=False)
        await pilot.pause()
        assert not view.follow
        before = rows(view)
        fill(app, numbered(50, 500))
        await pilot.pause()
        assert view.buffer.dropped == 50
        assert rows(view) == before
        assert view.border_subtitle == "PAUSED — 50 new lines (End resumes)"


# -- follow -----------------------------------------------------------------------------


async def test_follow_stays_at_the_bottom_scrolling_up_pauses_and_end_resumes() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, numbered(200))
        await pilot.pause()
        assert bodies(view)[-1] == "line 199"
        fill(app, numbered(10, 200))
        await pilot.pause()
        assert bodies(view)[-1] == "line 209"
        assert view.border_subtitle == ""

        view.scroll_to(y=view.scroll_y - 20, animate=False)  # the wheel does this
        await pilot.pause()
        assert not view.follow
        before = bodies(view)
        fill(app, numbered(5, 210))
        await pilot.pause()
        assert bodies(view) == before
        assert view.border_subtitle == "PAUSED — 5 new lines (End resumes)"

        await pilot.press("end")
        await pilot.pause()
        assert view.follow
        assert bodies(view)[-1] == "line 214"
        assert view.border_subtitle == ""


async def test_cursor_keys_pause_follow_and_f_toggles_it() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, numbered(100))
        assert view.cursor_seq == 99
        await pilot.press("up", "up")
        assert not view.follow
        assert view.cursor_seq == 97
        assert "line 97" in cursor_row(view)
        await pilot.press("home")
        assert view.cursor_seq == 0
        assert bodies(view)[0] == "line 0"
        await pilot.press("pagedown")
        assert view.cursor_seq is not None and view.cursor_seq > 20
        await pilot.press("f")
        assert view.follow and view.cursor_seq == 99
        await pilot.press("f")
        assert not view.follow


# -- options ------------------------------------------------------------------------------


async def test_timestamp_and_host_columns_toggle() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, [line("hello", host="app-2", container="worker", offset_ms=1234)])
        await pilot.pause()
        assert rows(view)[0] == "  12:00:01.234 app-2/worker hello"
        await pilot.press("t")
        assert rows(view)[0] == "  app-2/worker hello"
        await pilot.press("h")
        assert rows(view)[0] == "  hello"
        await pilot.press("t")
        assert rows(view)[0] == "  12:00:01.234 hello"


async def test_wrap_shows_a_long_line_on_several_rows() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        long_text = " ".join(f"word{n:03d}" for n in range(60))  # 479 characters
        fill(app, [line("first"), line(long_text), line("last")])
        await pilot.pause()
        assert view.virtual_size.height == 3
        assert len([text for text in rows(view) if text]) == 3
        await pilot.press("w")
        await pilot.pause()
        width = view.scrollable_content_region.width - 2
        wrapped_rows = -(-(13 + 10 + len(long_text)) // width)
        assert view.virtual_size.height == 2 + wrapped_rows
        shown = [text for text in rows(view) if text]
        assert len(shown) == 2 + wrapped_rows
        assert "".join(text[2:] for text in shown[1:-1]).endswith("word059")
        assert shown[-1].endswith("last")
        await pilot.press("w")
        await pilot.pause()
        assert view.virtual_size.height == 3


# -- filters ------------------------------------------------------------------------------

MIXED = [
    line("debug detail", level=LogLevel.DEBUG),
    line("GET /up 200"),
    line("timeout talking to S3", level=LogLevel.WARN),
    line("Completed 503 Service Unavailable in 3ms", level=LogLevel.ERROR, status=503),
    line("Timeout again", level=LogLevel.WARN),
    line("no level here", level=LogLevel.UNKNOWN),
]


async def test_level_key_cycles_the_minimum_level() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, MIXED)
        await pilot.pause()
        assert len(bodies(view)) == 6
        await pilot.press("l")
        assert view.min_level is LogLevel.INFO
        assert bodies(view) == [
            "GET /up 200",
            "timeout talking to S3",
            "Completed 503 Service Unavailable in 3ms",
            "Timeout again",
        ]
        await pilot.press("l")
        assert bodies(view) == [
            "timeout talking to S3",
            "Completed 503 Service Unavailable in 3ms",
            "Timeout again",
        ]
        await pilot.press("l")
        assert bodies(view) == ["Completed 503 Service Unavailable in 3ms"]
        await pilot.press("l")
        assert view.min_level is None
        assert len(bodies(view)) == 6


async def test_regex_filter_inverse_and_invalid_pattern() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, MIXED)
        assert view.set_pattern("time(out)?") is None
        await pilot.pause()
        assert bodies(view) == ["timeout talking to S3", "Timeout again"]
        assert view.set_pattern("!timeout") is None
        await pilot.pause()
        assert bodies(view) == [
            "debug detail",
            "GET /up 200",
            "Completed 503 Service Unavailable in 3ms",
            "no level here",
        ]
        error = view.set_pattern("(503")
        assert error is not None
        await pilot.pause()
        assert bodies(view) == []
        view.set_pattern("")
        await pilot.pause()
        assert len(bodies(view)) == 6


async def test_request_id_follow_across_hosts_and_back() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(
            app,
            [
                line("Started GET /api/v1/rainbows", host="app-1", request_id="req-a"),
                line("Started GET /up", host="app-2", request_id="req-b"),
                line("Completed 500 in 9ms", host="app-2", request_id="req-a", status=500),
                line("Completed 200 in 1ms", host="app-1", request_id="req-b"),
            ],
        )
        await pilot.press("home")
        await pilot.press("R")
        await pilot.pause()
        assert view.log_filter.request_id == "req-a"
        assert [text[15:] for text in rows(view) if text] == [
            "app-1/web Started GET /api/v1/rainbows",
            "app-2/web Completed 500 in 9ms",
        ]
        await pilot.press("R")
        await pilot.pause()
        assert view.log_filter.request_id is None
        assert len(bodies(view)) == 4


# -- hostile text -----------------------------------------------------------------------


async def test_markup_and_escape_sequences_render_inert() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        hostile = "[bold]x[/bold] \x1b[31mred\x1b]8;;http://x\x1b\\link"
        fill(app, [parse_line(hostile, "app-1", "web")])
        await pilot.pause()
        view.show_timestamps = False
        strip = view.render_line(0)
        assert strip.text.rstrip() == "  app-1/web [bold]x[/bold] ␛[31mred␛]8;;http://x␛\\link"
        for segment in strip:
            assert "\x1b" not in segment.text
            assert segment.style is None or segment.style.link is None
            assert segment.style is None or not segment.style.bold


# -- navigation -------------------------------------------------------------------------


async def test_search_n_and_shift_n_move_between_matches() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, MIXED)
        assert view.set_search("timeout") is None
        await pilot.press("n")
        assert view.cursor_seq == 5, "nothing after the last line: the cursor stays"
        await pilot.press("N")
        assert view.cursor_seq == 4
        assert "Timeout again" in cursor_row(view)
        await pilot.press("N")
        assert view.cursor_seq == 2
        await pilot.press("N")
        assert view.cursor_seq == 2
        await pilot.press("n")
        assert view.cursor_seq == 4
        assert not view.follow


async def test_search_match_is_highlighted() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, [line("a timeout here")])
        view.set_search("timeout")
        await pilot.pause()
        styled = [segment for segment in view.render_line(0) if segment.text == "timeout"]
        assert styled and styled[0].style is not None and styled[0].style.bold


async def test_e_jumps_to_the_next_error() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, [*MIXED, line("GET /x 502", status=502), line("fine")])
        await pilot.press("home", "e")
        assert view.cursor_seq == 3
        await pilot.press("e")
        assert view.cursor_seq == 6
        await pilot.press("e")
        assert view.cursor_seq == 6


async def test_marks_show_in_the_gutter_and_apostrophe_cycles_them() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, numbered(10))
        await pilot.press("home", "down", "m")
        assert view.filtered.marks == frozenset({1})
        await pilot.press("down", "down", "down", "m")
        await pilot.pause()
        marked_rows = [index for index, text in enumerate(rows(view)) if text.startswith("●")]
        assert marked_rows == [1, 4]
        await pilot.press("end", "apostrophe")
        assert view.cursor_seq == 1
        await pilot.press("apostrophe")
        assert view.cursor_seq == 4
        await pilot.press("m")
        assert view.filtered.marks == frozenset({1})


async def test_p_posts_a_pin_request_for_the_cursor_line() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        fill(app, numbered(3))
        await pilot.press("up", "p")
        await pilot.pause()
        assert [pinned.raw for pinned in app.pinned] == ["line 1"]


async def test_save_writes_exactly_the_filtered_lines(tmp_path: Path) -> None:
    app = LogApp()
    async with app.run_test(size=SIZE):
        view = app.view
        fill(app, MIXED)
        view.set_pattern("!timeout")
        target = tmp_path / "out.log"
        assert view.save(target) == 4
        assert target.read_text(encoding="utf-8").splitlines() == [
            "app-1/web debug detail",
            "app-1/web GET /up 200",
            "app-1/web Completed 503 Service Unavailable in 3ms",
            "app-1/web no level here",
        ]


# -- the screen -----------------------------------------------------------------------------


class ScreenApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.log_screen = LogScreen("app-1, app-2 · production", 50, timezone=JST)

    def on_mount(self) -> None:
        self.push_screen(self.log_screen)


async def test_log_screen_prompts_for_a_filter_and_a_save_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_in = tmp_path / "cwd"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = ScreenApp()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.log_screen
        view = screen.log_view
        view.add_entries([*MIXED, *numbered(60)])
        view.flush()
        await pilot.pause()
        header = str(screen.query_one("#log-header").render())
        assert "50 lines in buffer · 50 shown · 16 dropped" in header

        await pilot.press("slash")
        assert screen.prompt_purpose == "filter"
        await pilot.press(*"line 5", "enter")
        await pilot.pause()
        assert screen.prompt_purpose is None
        assert view.log_filter.pattern == "line 5"
        assert len(view.filtered) == 10  # line 50 … line 59; lines 0 … 9 were dropped
        assert "filter: /line 5/" in str(screen.query_one("#log-header").render())

        await pilot.press("slash", "x", "escape")
        assert screen.prompt_purpose is None
        assert view.log_filter.pattern == "line 5"

        await pilot.press("s")
        assert screen.prompt_purpose == "save"
        await pilot.press("enter")
        await pilot.pause()
        shown = view.filtered.lines()

        await pilot.press("q")
        await pilot.pause()
        assert app.screen is not screen
    # A bare name goes into the state directory's logs/, not where the console started.
    logs_dir = tmp_path / "state" / "rainbow-tui" / "logs"
    assert saved_files(logs_dir) == {"rainbow-tui-logs-*.log": shown}
    assert [path.stat().st_mode & 0o777 for path in logs_dir.iterdir()] == [0o600]
    assert logs_dir.stat().st_mode & 0o777 == 0o700
    assert list(started_in.iterdir()) == []


# -- snapshot -----------------------------------------------------------------------------

RID = "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"
REALISTIC = [
    (
        "app-1",
        "web",
        f'[{RID}] Started GET "/api/v1/rainbows" for 203.0.113.5 at 2026-11-28 12:00:00 +0900',
    ),
    ("app-1", "web", f"[{RID}] Processing by Api::V1::RainbowsController#index as JSON"),
    (
        "app-1",
        "web",
        f"[{RID}] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms "
        "(3 queries, 0 cached) | GC: 0.4ms)",
    ),
    (
        "lb-1",
        "kamal-proxy",
        '{"time":"2026-11-28T03:00:01Z","level":"INFO","msg":"Request","path":"/up","status":200,"dur":2,"method":"GET"}',
    ),
    (
        "app-2",
        "web",
        "I, [2026-11-28T12:00:01.002000 #1]  INFO -- : [b7e1] "
        "Completed 503 Service Unavailable in 1520ms",
    ),
    (
        "app-2",
        "web",
        "[b7e1] ActiveRecord::ConnectionTimeoutError "
        "(could not obtain a connection from the pool within 5.000 seconds):",
    ),
    (
        "lb-1",
        "kamal-proxy",
        '{"time":"2026-11-28T03:00:01Z","level":"INFO","msg":"Request","path":"/api/v1/spots/9","status":404,"dur":12,"method":"GET"}',
    ),
    (
        "app-1",
        "worker",
        "Performed RainbowForecastJob (Job ID: 1f2e) from SolidQueue(default) in 123.4ms",
    ),
    (
        "app-1",
        "worker",
        "W, [2026-11-28T12:00:02.500000 #1]  WARN -- : slow query [bold]x[/bold] \x1b[31mred",
    ),
    ("app-1", "web", "D, [2026-11-28T12:00:03.000000 #1] DEBUG -- : cache hit rainbows/index"),
    (
        "app-1",
        "worker",
        "E, [2026-11-28T12:00:03.100000 #1] ERROR -- : Error performing PushNotificationJob "
        "(Job ID: 9a) from SolidQueue(default) in 5.1ms: Net::ReadTimeout (Net::ReadTimeout)",
    ),
]


def realistic_entries() -> list[Entry]:
    entries: list[Entry] = []
    for repeat in range(3):
        for number, (host, container, raw) in enumerate(REALISTIC):
            stamp = T0 + timedelta(seconds=repeat * 20 + number, milliseconds=number * 37)
            text = f"{stamp:%Y-%m-%dT%H:%M:%S.%f}000Z {raw}"
            entries.append(parse_line(text, host, container))
        if repeat == 1:
            entries.append(
                GapMarker("app-2", "web", T0 + timedelta(seconds=32), T0 + timedelta(seconds=40.1))
            )
    return entries


class SnapshotApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(LogBuffer(1000), timezone=JST, id="log")

    def on_mount(self) -> None:
        view = self.query_one(LogView)
        view.add_entries(realistic_entries())
        view.flush()
        view.focus()


def test_log_view_snapshot(snap_compare: Callable[..., bool]) -> None:
    async def mark_and_pause(pilot: Pilot[None]) -> None:
        await pilot.press("up", "up", "up", "m", "up", "up")
        await pilot.pause()

    assert snap_compare(SnapshotApp(), terminal_size=SIZE, run_before=mark_and_pause)


# -- segments built directly ------------------------------------------------------------

render_lines = st.builds(
    lambda stamp, body: f"{stamp}{body}",
    st.sampled_from(["", "2026-11-28T03:00:00.123456789Z ", "1969-12-31T23:59:59.999999999Z "]),
    st.sampled_from([raw for _, _, raw in REALISTIC])
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "[r] Completed 404 Not Found in 2ms",
            "[r] Completed 503 Service Unavailable in 3000ms",
            "E, [x #1] ERROR -- : Completed 500 Internal Server Error in 9ms",
            '{"msg":"Request","method":"GET","status":502,"dur":4000}',
            "tab\there",
            "",
        ]
    ),
)


def _distinct_style(role: str) -> Style:
    """A style of its own for each role, so a segment that took the wrong roles differs."""
    index = sorted(LOG_COMPONENT_CLASSES).index(role)
    return Style(color=f"color({index + 1})", bold=index % 2 == 0, italic=index % 3 == 0)


DISTINCT_STYLES = LogStyles(_distinct_style)


@given(
    render_lines,
    st.sampled_from(["app-1", "", "a-very-long-host-name-for-the-column"]),
    st.sampled_from(["web", "", "虹"]),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=12),
    st.sampled_from([None, JST, UTC]),
)
def test_segments_built_directly_are_what_text_renders(
    raw: str,
    host: str,
    container: str,
    show_timestamps: bool,
    show_host: bool,
    host_width: int,
    zone: timezone | None,
) -> None:
    console = Console()
    options = RenderOptions(show_timestamps, show_host, host_width)
    entry = parse_line(raw, host, container)
    built = entry_segments(entry, options, DISTINCT_STYLES, zone)
    text = render_entry(parse_line(raw, host, container), options, DISTINCT_STYLES, zone)
    assert built == (list(text.render(console)), text.cell_len)


def test_search_and_highlight_are_left_to_text() -> None:
    options = RenderOptions(search="x")
    assert entry_segments(line("x"), options, DISTINCT_STYLES) is None


# -- colours from the theme -------------------------------------------------------------

GAP = GapMarker("app-2", "web", T0, T0 + timedelta(seconds=8))
THEMED: list[Entry] = [
    line("timeout talking to S3", level=LogLevel.WARN),
    line("Completed 503 Service Unavailable in 3ms", level=LogLevel.ERROR, status=503),
    GAP,
    line("fine"),
]


def segment_with(view: LogView, row: int, text: str) -> Style:
    """The style of the first segment on ``row`` whose text holds ``text``."""
    for segment in view.render_line(row):
        if text in segment.text and segment.style is not None:
            return segment.style
    raise AssertionError(f"no {text!r} on row {row}: {view.line_text(row)!r}")


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord"])
async def test_levels_and_statuses_take_the_themes_colours(theme: str) -> None:
    app = LogApp()
    app.theme = theme
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(app, THEMED)
        await pilot.press("home")  # the cursor off the rows looked at
        await pilot.pause()
        variables = app.theme_variables

        def colour(name: str) -> Color:
            return Color.parse(variables[name])

        warn = segment_with(view, 0, "timeout")
        assert warn.color is not None and Color.from_rich_color(warn.color) == colour(
            "text-warning"
        )
        status = segment_with(view, 1, "503")
        assert status.color is not None
        assert Color.from_rich_color(status.color) == colour("text-error") and status.bold
        host = segment_with(view, 3, "app-1/web")
        assert host.color is not None and Color.from_rich_color(host.color) == colour(
            "text-primary"
        )
        view.set_search("fine")
        await pilot.pause()
        match = segment_with(view, 3, "fine")
        assert match.bgcolor is not None
        assert Color.from_rich_color(match.bgcolor) == colour("warning") and match.bold


async def test_without_colour_levels_read_by_their_words_and_emphasis_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.view
        fill(
            app,
            [
                parse_line(
                    "E, [2026-11-28T12:00:03.100000 #1] ERROR -- : Net::ReadTimeout", "app-1", "web"
                ),
                parse_line(
                    "W, [2026-11-28T12:00:03.100000 #1]  WARN -- : slow query", "app-1", "web"
                ),
                line("Completed 503 Service Unavailable in 3ms", level=LogLevel.ERROR, status=503),
                GAP,
                line("fine"),
            ],
        )
        view.set_search("fine")
        await pilot.press("home")
        await pilot.pause()
        assert app.no_color
        filters = view.get_line_filters()  # what the screen applies to every row

        def shown(row: int) -> list[Segment]:
            strip = view.render_line(row)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, view.background_colors[1])
            return list(strip)

        for row in range(5):
            for segment in shown(row):
                for colour in (segment.style.color, segment.style.bgcolor) if segment.style else ():
                    if colour is not None:
                        red, green, blue = Color.from_rich_color(colour).rgb
                        assert red == green == blue, f"row {row} keeps a hue: {segment!r}"
        texts = [view.line_text(row) for row in range(5)]
        assert "ERROR" in texts[0] and "WARN" in texts[1] and "503" in texts[2]

        def style_of(row: int, text: str) -> Style:
            return next(s.style for s in shown(row) if text in s.text and s.style is not None)

        assert style_of(2, "503").bold, "a 5xx status stands out without colour"
        assert style_of(3, "stream lost").reverse, "a gap marker stands out without colour"
        assert style_of(4, "fine").bold, "a search match stands out without colour"


class RestyledApp(LogApp):
    # What an app's own .tcss can do: give a role other theme colours.
    CSS = "LogView > .log-view--error { color: $text-success; text-style: italic; }"


async def test_an_apps_stylesheet_can_restyle_a_role() -> None:
    app = RestyledApp()
    async with app.run_test(size=SIZE) as pilot:
        fill(app, [line("boom", level=LogLevel.ERROR), line("fine")])
        await pilot.press("end")
        await pilot.pause()
        style = segment_with(app.view, 0, "boom")
        assert style.color is not None and style.italic
        assert Color.from_rich_color(style.color) == Color.parse(
            app.theme_variables["text-success"]
        )
