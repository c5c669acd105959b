"""Named reads of a line's record: what code holding records (a buffer's ring, the
log view's rows) reads instead of indexing the tuple, agreeing with ``LogLine``."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.logs.buffer import GapMarker, LogBuffer
from rainbow_tui.logs.parse import (
    LineRecord,
    LogKind,
    LogLevel,
    LogLine,
    line_view,
    parse_line,
    parse_lines,
    record_container,
    record_host,
    record_raw_length,
    record_source,
    record_stamp_end,
    record_text,
)

STAMP = "2026-11-28T03:00:00.123456789Z"
RID = "4f1c2a9e-1b2c-4d5e-8f90-123456789abc"


def assert_reads_agree(line: LogLine) -> None:
    record = line.record
    assert record_text(record) == line.text
    assert record_host(record) == line.host
    assert record_container(record) == line.container
    assert record_source(record) == (line.host, line.container)
    assert record_raw_length(record) == len(line.raw) == line.raw_length
    assert line.text[record_stamp_end(record) :] == line.raw


def test_a_stamped_line_reads_its_source_and_the_length_after_the_stamp() -> None:
    record = parse_line(f"{STAMP} [{RID}] Completed 200 OK in 5ms", "app-1", "web").record
    assert record_source(record) == ("app-1", "web")
    assert (record_host(record), record_container(record)) == ("app-1", "web")
    assert record_text(record) == f"{STAMP} [{RID}] Completed 200 OK in 5ms"
    assert record_stamp_end(record) == len(STAMP) + 1
    assert record_raw_length(record) == len(f"[{RID}] Completed 200 OK in 5ms")


def test_a_line_without_a_stamp_has_all_its_text_as_raw() -> None:
    record = parse_line("not stamped at all", "db-1", "postgres").record
    assert record_stamp_end(record) == 0
    assert record_raw_length(record) == len("not stamped at all")
    assert record_source(record) == ("db-1", "postgres")


def test_a_record_keeps_its_reads_once_parsed() -> None:
    line = parse_line(f"{STAMP} Error performing FooJob (Job ID: 1) from SolidQueue(default)")
    unparsed = line.record
    assert line.kind is LogKind.JOB_ERROR  # parses the line: its record changes
    assert line.record is not unparsed
    for record in (unparsed, line.record):
        assert record_text(record) == line.text
        assert record_raw_length(record) == len(line.raw)
        assert record_stamp_end(record) == len(STAMP) + 1


def test_a_line_made_with_its_fields_reads_as_one_parsed_from_text() -> None:
    made = LogLine(
        "hello", "app-2", "job", datetime(2026, 11, 28, 3, tzinfo=UTC),
        "2026-11-28T03:00:00Z", LogKind.RAW, LogLevel.UNKNOWN, "hello",
    )
    parsed = parse_line("2026-11-28T03:00:00Z hello", "app-2", "job")
    assert record_raw_length(made.record) == record_raw_length(parsed.record) == 5
    assert record_stamp_end(made.record) == record_stamp_end(parsed.record)
    assert record_source(made.record) == record_source(parsed.record)


def test_remote_host_and_container_names_read_inert() -> None:
    record = parse_line("hello", "app\x1b[31m-1", "we\x07b").record
    assert "\x1b" not in record_host(record)
    assert "\x07" not in record_container(record)
    assert record_source(record) == (line_view(record).host, line_view(record).container)


def test_records_held_by_a_buffer_read_as_the_lines_they_were() -> None:
    buffer = LogBuffer(max_lines=100)
    web = parse_lines([f"{STAMP} GET /a", f"{STAMP} GET /bb"], "app-1", "web")
    job = parse_lines(["unstamped job line"], "app-2", "job")
    gap = GapMarker("app-1", "web", datetime(2026, 11, 28, 3, tzinfo=UTC),
                    datetime(2026, 11, 28, 3, 0, 8, tzinfo=UTC))
    seqs = buffer.append_many([*web, gap, *job])
    held: list[LineRecord | GapMarker] = buffer.records_for(seqs)
    records = [entry for entry in held if type(entry) is tuple]
    # What the log view asks of a burst: its sources, and its widest raw text.
    assert set(map(record_source, records)) == {("app-1", "web"), ("app-2", "job")}
    assert max(map(record_raw_length, records)) == len("unstamped job line")
    assert [record_raw_length(r) for r in records] == [len("GET /a"), len("GET /bb"), 18]


@given(
    st.sampled_from(["", f"{STAMP} ", "2026-11-28T12:00:00.5+09:00 ", "2026-02-30T03:00:00Z "]),
    st.text(max_size=40),
    st.text(max_size=6),
    st.text(max_size=6),
    st.booleans(),
)
def test_record_reads_agree_with_the_line_before_and_after_parsing(
    stamp: str, body: str, host: str, container: str, batch: bool
) -> None:
    text = stamp + body
    line = parse_lines([text], host, container)[0] if batch else parse_line(text, host, container)
    assert_reads_agree(line)
    _ = line.level  # reading a parsed field parses the line and replaces its record
    assert line.is_parsed
    assert_reads_agree(line)
