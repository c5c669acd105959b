"""LogBuffer, LogFilter and FilteredView: bounded, incremental and exact."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rainbow_tui.logs.buffer import (
    Entry,
    FilteredView,
    GapMarker,
    LogBuffer,
    LogFilter,
    entry_text,
    is_error,
)
from rainbow_tui.logs.parse import LogKind, LogLevel, LogLine, parse_line

T0 = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)


def line(
    raw: str = "hello",
    *,
    level: LogLevel = LogLevel.INFO,
    host: str = "app-1",
    request_id: str | None = None,
    status: int | None = None,
) -> LogLine:
    return LogLine(
        raw=raw,
        host=host,
        container="web",
        timestamp=T0,
        timestamp_text="2026-11-28T03:00:00.000000000Z",
        kind=LogKind.RAW,
        level=level,
        message=raw,
        request_id=request_id,
        status=status,
    )


def gap(host: str = "app-2") -> GapMarker:
    return GapMarker(host, "web", T0, T0 + timedelta(seconds=8.1), None)


# -- buffer -------------------------------------------------------------------------


def test_million_appends_keep_only_the_newest_ten_thousand_in_bounded_memory() -> None:
    buffer = LogBuffer(max_lines=10_000)
    pool = [line(f"line {i}") for i in range(20_000)]
    tracemalloc.start()
    try:
        buffer.append_many(pool[:10_000])
        baseline = tracemalloc.get_traced_memory()[0]
        for batch in range(1, 100):
            half = batch % 2
            buffer.append_many(pool[half * 10_000 : (half + 1) * 10_000])
        # The ring never grows past max_lines: storage traced after 10 000 and
        # after 1 000 000 appends is the same (a leak of 8 bytes a line would be 8 MB).
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"memory grew by {grown} bytes after the ring was full"
    assert len(buffer) == 10_000
    assert (buffer.first_seq, buffer.last_seq, buffer.next_seq) == (990_000, 999_999, 1_000_000)
    assert buffer.dropped == 990_000
    # What is held is each line's own record, not a copy.
    assert buffer.get(990_000).record is pool[10_000].record  # type: ignore[union-attr]
    assert buffer.get(999_999).record is pool[19_999].record  # type: ignore[union-attr]
    assert list(buffer) == pool[10_000:]
    assert buffer.get(989_999) is None
    assert buffer.get(1_000_000) is None


def test_batches_larger_than_the_ring_and_ragged_batches_keep_seq_order() -> None:
    buffer = LogBuffer(max_lines=7)
    seqs = buffer.append_many(line(str(i)) for i in range(3))
    assert list(seqs) == [0, 1, 2]
    buffer.append_many([line(str(i)) for i in range(3, 20)])  # bigger than the ring
    buffer.append(line("20"))
    buffer.append_many([line(str(i)) for i in range(21, 26)])
    assert [e.raw for e in buffer if isinstance(e, LogLine)] == [str(i) for i in range(19, 26)]
    assert [buffer.get(s) for s in range(19, 26)] == list(buffer)
    assert len(buffer.entries(0, 22)) == 3


# -- filter -------------------------------------------------------------------------


def test_gap_markers_pass_every_filter() -> None:
    marker = gap()
    for log_filter in (
        LogFilter(min_level=LogLevel.FATAL),
        LogFilter(pattern="nothing-matches-this"),
        LogFilter(pattern="!"),
        LogFilter(pattern="!stream"),
        LogFilter(request_id="abc"),
        LogFilter(hosts=frozenset({"elsewhere"})),
    ):
        assert log_filter.matches(marker), log_filter
    assert marker.text.startswith("── app-2/web: stream lost ")
    assert marker.text.endswith(" (8.1 s) ──")


def test_gap_marker_text_counts_missed_lines() -> None:
    marker = GapMarker("app-1", "web", T0, T0 + timedelta(seconds=2), 15)
    assert (
        marker.describe(UTC)
        == "── app-1/web: stream lost 03:00:00 → 03:00:02 (2.0 s, 15 lines missed) ──"
    )
    one = GapMarker("app-1", "web", T0, T0 + timedelta(seconds=2), 1)
    assert one.describe(UTC).endswith("(2.0 s, 1 line missed) ──")


def test_inverse_regex_hides_matches_case_insensitively() -> None:
    log_filter = LogFilter(pattern="!GET /up")
    assert not log_filter.matches(line("get /up 200"))
    assert log_filter.matches(line("GET /api/v1/rainbows 200"))
    assert LogFilter(pattern="rain.*200").matches(line("GET /api/v1/RAINBOWS 200"))


def test_invalid_regex_matches_literally_and_says_so() -> None:
    log_filter = LogFilter(pattern="[error")
    assert log_filter.error is not None and "plain text" in log_filter.error
    assert log_filter.matches(line("an [ERROR happened"))
    assert not log_filter.matches(line("an error happened"))
    assert LogFilter(pattern="error").error is None


def test_request_id_follows_one_request_across_hosts() -> None:
    buffer = LogBuffer()
    raw = [
        ("app-1", '[req-a] Started GET "/api/v1/rainbows" for 203.0.113.5 at 2026-11-28'),
        ("app-2", '[req-b] Started GET "/up" for 203.0.113.9 at 2026-11-28'),
        ("app-2", "[req-a] Completed 500 Internal Server Error in 12ms"),
        ("app-1", "[req-b] Completed 200 OK in 1ms"),
    ]
    buffer.append_many(parse_line(text, host, "web") for host, text in raw)
    buffer.append(gap())
    view = FilteredView(buffer, LogFilter(request_id="req-a"))
    shown = [buffer.get(view.seq_at(i)) for i in range(len(view))]
    assert [(e.host, e.request_id) for e in shown if isinstance(e, LogLine)] == [
        ("app-1", "req-a"),
        ("app-2", "req-a"),
    ]
    assert isinstance(shown[-1], GapMarker)


# Brute-force reference: the definition of each condition, written out plainly.
def reference_passes(entry: Entry, log_filter: LogFilter) -> bool:
    if isinstance(entry, GapMarker):
        return True
    if log_filter.min_level is not None and (entry.level.severity < log_filter.min_level.severity):
        return False
    if log_filter.request_id is not None and entry.request_id != log_filter.request_id:
        return False
    if log_filter.hosts is not None and entry.host not in log_filter.hosts:
        return False
    pattern = log_filter.pattern
    inverse = pattern.startswith("!")
    body = pattern[1:] if inverse else pattern
    if body:
        try:
            found = re.search(body, entry.raw, re.IGNORECASE) is not None
        except re.error:
            found = body.lower() in entry.raw.lower()
        if found == inverse:
            return False
    return True


HOSTS = ("app-1", "app-2", "db-1")
REQUESTS = (None, "r1", "r2")
words = st.text(alphabet="abcAB[(.*! ", max_size=6)
entries = st.one_of(
    st.builds(
        line,
        raw=words,
        level=st.sampled_from(list(LogLevel)),
        host=st.sampled_from(HOSTS),
        request_id=st.sampled_from(REQUESTS),
        status=st.sampled_from((None, 200, 404, 503)),
    ),
    st.builds(gap, host=st.sampled_from(HOSTS)),
)
filters = st.builds(
    LogFilter,
    min_level=st.sampled_from([None, *LogLevel]),
    pattern=st.one_of(st.just(""), words, words.map(lambda w: "!" + w)),
    request_id=st.sampled_from(REQUESTS),
    hosts=st.one_of(st.none(), st.frozensets(st.sampled_from(HOSTS))),
)


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(entries, max_size=12), max_size=8),
    log_filter=filters,
    capacity=st.integers(1, 20),
    refilter_at=st.integers(0, 8),
    second_filter=filters,
)
def test_incremental_view_equals_brute_force(
    batches: list[list[Entry]],
    log_filter: LogFilter,
    capacity: int,
    refilter_at: int,
    second_filter: LogFilter,
) -> None:
    buffer = LogBuffer(max_lines=capacity)
    view = FilteredView(buffer, log_filter)
    current = log_filter
    for number, batch in enumerate(batches):
        if number == refilter_at:
            view.set_filter(second_filter)
            current = second_filter
        before = len(view)
        buffer.append_many(batch)
        synced = view.sync()
        assert before - synced.dropped + synced.added == len(view)
        expected = [
            seq
            for seq, entry in zip(range(buffer.first_seq, buffer.next_seq), buffer, strict=True)
            if reference_passes(entry, current)
        ]
        assert list(view.seqs()) == expected


# -- navigation -------------------------------------------------------------------------


@pytest.fixture
def mixed() -> FilteredView:
    buffer = LogBuffer()
    buffer.append_many(
        [
            line("GET /up 200"),  # 0
            line("timeout talking to S3", level=LogLevel.WARN),  # 1
            line("Completed 503 in 2ms", status=503),  # 2
            line("GET /api/v1/rainbows 200"),  # 3
            line("ActiveRecord::ConnectionTimeoutError", level=LogLevel.ERROR),  # 4
            line("Timeout again", level=LogLevel.WARN),  # 5
            line("boom", level=LogLevel.FATAL),  # 6
        ]
    )
    return FilteredView(buffer)


def test_search_forwards_and_backwards_without_wrapping(mixed: FilteredView) -> None:
    assert mixed.search("timeout", -1) == 1
    assert mixed.search("timeout", 1) == 4
    assert mixed.search("timeout", 4) == 5
    assert mixed.search("timeout", 5) is None
    assert mixed.search("timeout", 5, backwards=True) == 4
    assert mixed.search("timeout", 1, backwards=True) is None
    assert mixed.search("[unclosed", 0) is None  # literal fallback, no exception


def test_next_error_finds_error_fatal_and_5xx(mixed: FilteredView) -> None:
    found: list[int] = []
    index: int | None = -1
    while (index := mixed.next_error(index if index is not None else -1)) is not None:
        found.append(index)
    assert found == [2, 4, 6]
    assert is_error(line("x", status=500)) and not is_error(line("x", status=499))


def test_marks_toggle_cycle_and_survive_filter_changes(mixed: FilteredView) -> None:
    assert mixed.toggle_mark(mixed.seq_at(1)) is True
    assert mixed.toggle_mark(mixed.seq_at(5)) is True
    assert mixed.marks == frozenset({1, 5})
    assert mixed.next_mark(-1) == 1
    assert mixed.next_mark(1) == 5
    assert mixed.next_mark(5) == 1  # marks wrap around
    mixed.set_filter(LogFilter(min_level=LogLevel.WARN))  # shows seqs 1, 4, 5, 6
    assert mixed.next_mark(0) == 2  # seq 5 is now at index 2
    assert mixed.toggle_mark(1) is False
    assert mixed.marks == frozenset({5})


def test_marks_go_when_their_line_leaves_the_buffer() -> None:
    buffer = LogBuffer(max_lines=3)
    buffer.append_many([line("a"), line("b")])
    view = FilteredView(buffer)
    view.toggle_mark(0)
    buffer.append_many([line("c"), line("d")])
    view.sync()
    assert view.marks == frozenset()
    assert view.next_mark(0) is None


def test_index_of_returns_the_nearest_shown_line(mixed: FilteredView) -> None:
    mixed.set_filter(LogFilter(min_level=LogLevel.ERROR))  # seqs 4, 6
    assert [mixed.seq_at(i) for i in range(len(mixed))] == [4, 6]
    assert mixed.index_of(0) == 0
    assert mixed.index_of(4) == 0
    assert mixed.index_of(6) == 1
    assert mixed.index_of(99) == 1
    assert FilteredView(LogBuffer()).index_of(3) is None


def test_lines_text_and_save_write_exactly_the_shown_lines(
    mixed: FilteredView, tmp_path: Path
) -> None:
    mixed.buffer.append(gap())
    mixed.set_filter(LogFilter(pattern="timeout"))
    expected = [
        "app-1/web 2026-11-28T03:00:00.000000000Z timeout talking to S3",
        "app-1/web 2026-11-28T03:00:00.000000000Z ActiveRecord::ConnectionTimeoutError",
        "app-1/web 2026-11-28T03:00:00.000000000Z Timeout again",
        gap().text,
    ]
    assert mixed.lines_text() == "".join(f"{text}\n" for text in expected)
    target = tmp_path / "saved.log"
    assert mixed.save(target) == 4
    assert target.read_text(encoding="utf-8").splitlines() == expected
    with pytest.raises(FileExistsError):
        mixed.save(target)
    assert entry_text(line("x", host="")) == "web 2026-11-28T03:00:00.000000000Z x"


def test_sync_filters_only_new_entries() -> None:
    buffer = LogBuffer(max_lines=1000)
    checked: list[Entry] = []

    class CountingFilter(LogFilter):
        def predicate(self) -> Callable[[Entry], bool]:
            inner = super().predicate()

            def counted(entry: Entry) -> bool:
                checked.append(entry)
                return inner(entry)

            return counted

    view = FilteredView(buffer, CountingFilter(pattern="x"))
    for _ in range(10):
        buffer.append_many([line("x")] * 100)
        view.sync()
    assert len(checked) == 1000
    assert len(view) == 1000


# -- one buffer, many views -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(entries, max_size=12), max_size=8),
    log_filter=filters,
    capacity=st.integers(1, 20),
    tail=st.integers(1, 25),
    marked_every=st.integers(1, 4),
)
def test_a_tail_view_shows_what_passes_among_the_buffers_newest_entries(
    batches: list[list[Entry]],
    log_filter: LogFilter,
    capacity: int,
    tail: int,
    marked_every: int,
) -> None:
    buffer = LogBuffer(max_lines=capacity)
    whole = FilteredView(buffer, log_filter)
    recent = FilteredView(buffer, log_filter, tail=tail)
    for batch in batches:
        buffer.append_many(batch)
        whole.sync()
        recent.sync()
        reach = max(buffer.first_seq, buffer.next_seq - tail)
        assert recent.first_seq == reach
        assert recent.held == buffer.next_seq - reach
        assert recent.dropped == reach
        assert list(recent.seqs()) == [seq for seq in whole.seqs() if seq >= reach]
        for seq in list(recent.seqs())[::marked_every]:
            if not recent.is_marked(seq):
                recent.toggle_mark(seq)
        assert all(seq >= reach for seq in recent.marks)
    # A line beyond the tail's reach cannot be marked, though the buffer holds it.
    if buffer.first_seq < recent.first_seq:
        assert recent.toggle_mark(buffer.first_seq) is False
        assert whole.toggle_mark(buffer.first_seq) is True


def test_every_subscriber_hears_each_append_once_until_it_unsubscribes() -> None:
    buffer = LogBuffer(max_lines=10)
    heard: list[tuple[str, int]] = []

    def pane() -> None:
        heard.append(("pane", buffer.next_seq))

    def screen() -> None:
        heard.append(("screen", buffer.next_seq))

    buffer.subscribe(pane)
    buffer.subscribe(screen)
    buffer.subscribe(pane)  # twice is once
    assert buffer.subscribers == 2
    buffer.append_many([line("a"), line("b")])
    buffer.append(line("c"))
    buffer.unsubscribe(screen)
    buffer.unsubscribe(screen)  # not subscribed any more: no error
    buffer.append_many([line("d")] * 15)  # more than the ring holds
    assert heard == [("pane", 2), ("screen", 2), ("pane", 3), ("screen", 3), ("pane", 18)]
    assert buffer.subscribers == 1


def test_a_subscriber_may_unsubscribe_while_it_is_told() -> None:
    buffer = LogBuffer()
    heard: list[str] = []

    def once() -> None:
        heard.append("once")
        buffer.unsubscribe(once)

    def always() -> None:
        heard.append("always")

    buffer.subscribe(once)
    buffer.subscribe(always)
    buffer.append(line("a"))
    buffer.append(line("b"))
    assert heard == ["once", "always", "always"]


def test_a_tail_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tail must be positive"):
        FilteredView(LogBuffer(), tail=0)
