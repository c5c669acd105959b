"""LogLayout: a view's rows counted from its records, without Textual."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rainbow_tui.logs.buffer import FilteredView, GapMarker, LogBuffer
from rainbow_tui.logs.layout import (
    GUTTER,
    MAX_HOST_WIDTH,
    TIMESTAMP_WIDTH,
    LogLayout,
    entry_width,
)
from rainbow_tui.logs.parse import parse_line

T0 = datetime(2026, 11, 28, 3, 0, 0, tzinfo=UTC)
STAMP = "2026-11-28T03:00:00.123456789Z "


def laid_out(buffer: LogBuffer, wrap_width: int = 0) -> tuple[FilteredView, LogLayout]:
    view = FilteredView(buffer)
    layout = LogLayout(view)
    layout.relayout(wrap_width)
    return view, layout


def test_one_row_per_entry_without_wrapping_and_the_widest_sizes_the_scroll() -> None:
    buffer = LogBuffer()
    buffer.append_many(parse_line(STAMP + text, "app-1", "web") for text in ["a", "b" * 40, "c"])
    _, layout = laid_out(buffer)
    assert layout.options.host_width == len("app-1/web")
    prefix = TIMESTAMP_WIDTH + 1 + len("app-1/web") + 1
    assert layout.max_width == prefix + 40
    assert layout.row_count() == 3
    assert [layout.locate(row) for row in (0, 1, 2, 3, -1)] == [(0, 0), (1, 0), (2, 0), None, None]
    assert layout.virtual_size(content_width=20) == (prefix + 40 + GUTTER, 3)
    assert layout.virtual_size(content_width=500) == (500, 3)


def test_wrapped_entries_take_their_rows_and_rows_locate_back_to_them() -> None:
    buffer = LogBuffer()
    buffer.append_many(parse_line(STAMP + text, "app-1", "web") for text in ["a", "b" * 100, "c"])
    _, layout = laid_out(buffer, wrap_width=42)
    avail = 42 - GUTTER
    long_rows = -(-(TIMESTAMP_WIDTH + 1 + len("app-1/web") + 1 + 100) // avail)
    assert long_rows == 4
    assert layout.row_count() == 1 + long_rows + 1
    assert (layout.first_row(1), layout.last_row(1)) == (1, long_rows)
    assert layout.locate(3) == (1, 2)
    assert layout.locate(long_rows + 1) == (2, 0)
    assert layout.virtual_size(content_width=42) == (42, 1 + long_rows + 1)


def test_dropped_entries_take_their_rows_with_them() -> None:
    buffer = LogBuffer(max_lines=4)
    buffer.append_many(parse_line(STAMP + text, "app-1", "web") for text in ["x" * 100, "y", "z"])
    view, layout = laid_out(buffer, wrap_width=42)
    rows_before = layout.row_count()
    buffer.append_many(parse_line(STAMP + text, "app-1", "web") for text in ["p", "q"])
    caught_up = layout.take_in(view.sync())
    assert caught_up.dropped_rows == 4  # the long line's four rows
    assert not caught_up.relaid
    assert layout.row_count() == rows_before - 4 + 2
    assert layout.locate(0) == (0, 0)
    first = view.entry_at(0)
    assert not isinstance(first, GapMarker) and first is not None and first.raw == "y"


def test_a_new_wider_source_relays_every_entry_with_a_wider_host_column() -> None:
    buffer = LogBuffer()
    buffer.append_many(parse_line(STAMP + "a", "app-1", "web") for _ in range(3))
    view, layout = laid_out(buffer)
    width_before = layout.max_width
    buffer.append(parse_line(STAMP + "b", "app-22", "worker"))
    caught_up = layout.take_in(view.sync())
    assert caught_up.relaid
    assert layout.options.host_width == len("app-22/worker")
    assert layout.max_width == width_before + len("app-22/worker") - len("app-1/web")
    buffer.append(parse_line(STAMP + "c", "app-1", "web"))
    assert not layout.take_in(view.sync()).relaid


def test_host_column_is_capped_and_gap_markers_count_their_text() -> None:
    buffer = LogBuffer()
    buffer.append(parse_line(STAMP + "a", "h" * 60, "web"))
    gap = GapMarker("app-1", "web", T0, T0 + timedelta(seconds=8))
    buffer.append(gap)
    _, layout = laid_out(buffer)
    assert layout.options.host_width == MAX_HOST_WIDTH
    assert layout.max_width >= entry_width(gap, layout.options, UTC)


def test_widen_reports_only_a_wider_line() -> None:
    buffer = LogBuffer()
    buffer.append(parse_line(STAMP + "ab", "app-1", "web"))
    _, layout = laid_out(buffer)
    known = layout.max_width
    assert layout.widen(known + 3)
    assert not layout.widen(known + 1)
    assert layout.max_width == known + 3


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.text(alphabet="ab 虹\t", max_size=90), min_size=1, max_size=20),
    wrap_width=st.integers(3, 60),
    capacity=st.integers(1, 25),
    split=st.integers(0, 20),
)
def test_rows_taken_in_batch_by_batch_equal_a_fresh_layout(
    texts: list[str], wrap_width: int, capacity: int, split: int
) -> None:
    buffer = LogBuffer(max_lines=capacity)
    entries = [parse_line(STAMP + text, "app-1", "web") for text in texts]
    buffer.append_many(entries[:split])
    view, layout = laid_out(buffer, wrap_width)
    buffer.append_many(entries[split:])
    layout.take_in(view.sync())
    _, fresh = laid_out(buffer, wrap_width)
    rows = fresh.row_count()
    assert layout.row_count() == rows
    assert [layout.locate(row) for row in range(rows)] == [fresh.locate(row) for row in range(rows)]
    avail = wrap_width - GUTTER if wrap_width > GUTTER else 1
    for index in range(len(view)):
        entry = view.entry_at(index)
        assert entry is not None
        width = entry_width(entry, fresh.options)
        assert layout.last_row(index) - layout.first_row(index) + 1 == max(1, -(-width // avail))


def test_the_layout_imports_no_textual() -> None:
    code = (
        "import sys, rainbow_tui.logs.layout; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
