"""The log tail over a real SSH stream from the demo hosts: every format, hostile
bytes, the request metrics, and a dropped link that resumes without duplicates."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config
from rainbow_tui.logs.buffer import GapMarker
from rainbow_tui.logs.parse import LogKind, LogLevel, LogLine, docker_stamp_heads, parse_lines
from rainbow_tui.logs.streams import (
    Backoff,
    CommandStream,
    FileStream,
    LogEntry,
    ResumePoint,
    SshContainerStream,
    StreamState,
)
from rainbow_tui.logs.tail import LogTail
from rainbow_tui.sources.service_sources import ServiceSources

RID = "7d1c9e2a-0b3f-4c55-9e61-2f0c8a1b9d33"
FORMATS = [
    f'[{RID}] Started GET "/api/v1/rainbows" for 203.0.113.5 at 2026-11-28 12:00:00 +0900',
    f"[{RID}] Processing by Api::V1::RainbowsController#index as JSON",
    f"[{RID}] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms (3 queries, 0 cached) | GC: 0.4ms)",
    f"[{RID}] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds)",
    f"E, [2026-11-28T12:00:00.123456 #1] ERROR -- : [{RID}] Something broke",
    '{"@timestamp":"2026-11-28T03:00:00Z","log.level":"info","message":"Request","http.request.method":"GET","url.path":"/up","http.response.status_code":200,"event.duration":1234567,"client.ip":"203.0.113.5"}',
    '{"time":"2026-11-28T03:00:00Z","level":"INFO","msg":"Request","method":"POST","path":"/api/v1/sightings","status":502,"dur":12,"remote_addr":"203.0.113.9"}',
    "Performed RainbowSightingNotifyJob (Job ID: 3b6a) from SolidQueue(default) in 123.4ms",
    "Error performing ImageVariantJob (Job ID: 9f2e) from SolidQueue(images) in 5.1ms: Aws::S3::Errors::ServiceUnavailable (Service Unavailable)",
]


def _driver(stack: DemoProcess, drive: Callable[[DemoProcess], Any]) -> Any:
    return drive(stack)


async def _wait(condition: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _inject(driver: Any, data: bytes) -> None:
    name = driver.container("app-1", "web")["name"]
    driver.control(
        "POST",
        "/logs/inject",
        {"host": "app-1", "container": name, "data_b64": base64.b64encode(data).decode()},
    )


def _stream(
    stack: DemoProcess, sink: Callable[[list[LogEntry]], None], states: list[StreamState]
) -> SshContainerStream:
    config = demo_config(stack.endpoints)
    target = ServiceSources(config).targets["app-1"]
    return SshContainerStream(target, config.service.kamal_service, "web", 0, sink, states.append)


async def test_every_format_and_hostile_bytes_through_ssh(
    demo_stack_factory: Callable[..., DemoProcess], drive: Callable[[DemoProcess], Any]
) -> None:
    stack = demo_stack_factory(log_rate=0)
    driver = _driver(stack, drive)
    received: list[LogEntry] = []
    states: list[StreamState] = []
    task = asyncio.create_task(_stream(stack, received.extend, states).run())
    try:
        await _wait(lambda: any(s.state == "streaming" for s in states))
        hostile = (
            b"\x1b[31m[bold]red?[/bold]\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\\n"
            b"bad utf-8 \xff\xfe here\n"
            b"nul\x00byte\n"
            b"cr-one\rcr-two\rcr-three\n"
            + b"x" * 1_000_000
            + b"\n"
            + b"\n".join(b"." for _ in range(2000))
            + b"\n"
        )
        # One injection per line, so docker stamps each; the hostile bytes in one
        # piece, exactly as a misbehaving app would write them.
        for line in FORMATS:
            _inject(driver, line.encode() + b"\n")
        _inject(driver, hostile + b"END-OF-TEST\n")
        await _wait(
            lambda: any(isinstance(e, LogLine) and e.raw.endswith("END-OF-TEST") for e in received)
        )
    finally:
        task.cancel()
    lines = [e for e in received if isinstance(e, LogLine)]
    kinds = [line.kind for line in lines[: len(FORMATS)]]
    assert kinds == [
        LogKind.RAILS_STARTED,
        LogKind.RAILS_PROCESSING,
        LogKind.RAILS_COMPLETED,
        LogKind.RAILS_EXCEPTION,
        LogKind.LOGGER,
        LogKind.PROXY_REQUEST,
        LogKind.PROXY_REQUEST,
        LogKind.JOB_PERFORMED,
        LogKind.JOB_ERROR,
    ]
    completed = lines[2]
    assert (completed.status, completed.duration_ms, completed.request_id) == (200, 45.0, RID)
    assert completed.host == "app-1" and completed.container == "web"
    assert completed.timestamp is not None  # the docker --timestamps prefix was read
    assert lines[3].exception_class == "ActiveRecord::ConnectionTimeoutError"
    assert lines[3].level is LogLevel.ERROR
    assert (lines[5].status, lines[5].method, lines[5].path) == (200, "GET", "/up")
    assert (lines[6].status, lines[6].level) == (502, LogLevel.ERROR)
    assert lines[8].exception_class == "Aws::S3::Errors::ServiceUnavailable"
    rest = lines[len(FORMATS) :]
    texts = [line.raw for line in rest]
    # Terminal control arrives inert; markup stays literal text.
    assert "\x1b" not in texts[0] and "[bold]red?[/bold]" in texts[0] and "␛" in texts[0]
    assert "\ufffd" in texts[1]
    assert "\x00" not in texts[2] and "␀" in texts[2]
    assert texts[3:6] == ["cr-one", "cr-two", "cr-three"]
    assert "truncated" in texts[6] and len(texts[6]) < 70_000
    assert texts[7:2007] == ["."] * 2000
    assert texts[-1] == "END-OF-TEST"


async def test_request_metrics_from_the_stream(
    demo_stack_factory: Callable[..., DemoProcess], drive: Callable[[DemoProcess], Any]
) -> None:
    stack = demo_stack_factory(log_rate=0)
    driver = _driver(stack, drive)
    config = demo_config(stack.endpoints)
    # No history: only the requests this test writes are counted.
    config = msgspec.structs.replace(
        config, logs=msgspec.structs.replace(config.logs, tail_lines=0)
    )
    sources = ServiceSources(config)
    received: list[LogEntry] = []
    tail = LogTail(config, {"app-1": sources.targets["app-1"]}, received.extend)
    tail.start()
    try:
        await _wait(lambda: any(s.state == "streaming" for s in tail.states.values()))
        lines = [f"[r{i}] Completed 200 OK in {40 + i}ms (ActiveRecord: 1.0ms)" for i in range(18)]
        lines += [
            "[e1] Completed 500 Internal Server Error in 2000ms",
            "[e2] Completed 503 Service Unavailable in 3000ms",
        ]
        for line in lines:
            _inject(driver, line.encode() + b"\n")
        await _wait(lambda: tail.request_snapshot().window(60).request_count >= 20)
    finally:
        await tail.stop()
    window = tail.request_snapshot().window(60)
    assert window.request_count == 20
    assert window.error_percent == 10.0
    assert window.p95_ms is not None and 1900 < window.p95_ms < 2100


@pytest.mark.slow
async def test_dropped_link_resumes_without_duplicates(
    demo_stack_factory: Callable[..., DemoProcess], drive: Callable[[DemoProcess], Any]
) -> None:
    stack = demo_stack_factory(log_rate=40)
    driver = _driver(stack, drive)
    received: list[LogEntry] = []
    states: list[StreamState] = []
    task = asyncio.create_task(_stream(stack, received.extend, states).run())
    try:
        await _wait(lambda: sum(isinstance(e, LogLine) for e in received) > 40)
        driver.control("POST", "/ssh/stop")
        await _wait(lambda: any(s.state == "reconnecting" for s in states))
        await asyncio.sleep(1.5)  # the outage itself, under test: docker keeps logging meanwhile
        driver.control("POST", "/ssh/start")
        await _wait(lambda: any(isinstance(e, GapMarker) for e in received), within=40)
        gap_at = next(i for i, e in enumerate(received) if isinstance(e, GapMarker))
        await _wait(lambda: sum(isinstance(e, LogLine) for e in received[gap_at:]) > 40)
    finally:
        task.cancel()
    gap = received[gap_at]
    assert isinstance(gap, GapMarker) and gap.ended_at > gap.started_at
    assert "stream lost" in gap.text
    lines = [e for e in received if isinstance(e, LogLine)]
    stamps = [(line.timestamp_text, line.raw) for line in lines]
    assert len(stamps) == len(set(stamps)), "a line was delivered twice"
    # Nothing docker still has was lost: every line between the first and the last
    # we received is among what we received.
    status, history, _ = await driver.ssh(
        "app-1", f"docker logs --timestamps --tail all {driver.container('app-1', 'web')['name']}"
    )
    assert status == 0
    first, last = lines[0].timestamp_text, lines[-1].timestamp_text
    expected = []
    for raw in history.decode("utf-8", "replace").splitlines():
        stamp, _, text = raw.partition(" ")
        if first <= stamp <= last:
            expected.append((stamp, text))
    got = set(stamps)
    missing = [entry for entry in expected if entry not in got]
    assert missing == []


# -- resuming, batch by batch ---------------------------------------------------------

BASE = "2026-11-28T03:00:00.000000"


def stamped(offset: int | None) -> str:
    """A line stamped ``offset`` ns after BASE, in docker's form; None: no stamp;
    a negative offset: another stamp form at the same instant as -offset."""
    if offset is None:
        return "no stamp here"
    if offset < 0:
        return f"2026-11-28T12:00:00.000000{-offset:03d}+09:00 other form {offset}"
    return f"{BASE}{offset:03d}Z line {offset}"


def resume_state(point: ResumePoint) -> tuple[object, ...]:
    return point.last_ns, point.last_text, point.seen_at_last


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.lists(st.none() | st.integers(min_value=-9, max_value=9), max_size=8)
            | st.lists(st.integers(min_value=0, max_value=9), max_size=8).map(sorted),
        ),
        max_size=6,
    )
)
def test_batches_are_accepted_as_line_by_line(batches: list[tuple[bool, list[int | None]]]) -> None:
    one_by_one, batched = ResumePoint(), ResumePoint()
    for resume, offsets in batches:
        if resume:
            one_by_one.resuming()
            batched.resuming()
        texts = [stamped(offset) for offset in offsets]
        expected = [line.text for line in parse_lines(texts) if one_by_one.accept(line)]
        heads = docker_stamp_heads(texts)
        kept = batched.accept_many(parse_lines(texts, stamped=heads is not None), heads)
        assert [line.text for line in kept] == expected
        assert resume_state(batched) == resume_state(one_by_one)


def test_a_resumed_stream_skips_what_it_already_had() -> None:
    point = ResumePoint()
    first = [stamped(1), stamped(2), stamped(2)]
    assert len(point.accept_many(parse_lines(first), docker_stamp_heads(first))) == 3
    point.resuming()
    # docker logs --since repeats the lines stamped at the resume point.
    again = [stamped(2), stamped(2), stamped(2), stamped(3)]
    kept = point.accept_many(parse_lines(again), docker_stamp_heads(again))
    assert [line.raw for line in kept] == ["line 2", "line 3"]
    assert resume_state(point)[1:] == (f"{BASE}003Z", 1)


def test_out_of_order_lines_kept_while_streaming_dropped_on_replay() -> None:
    """stdout and stderr interleave: a line stamped a little earlier is new while
    streaming, and only a resume's replay of old lines is dropped."""
    point = ResumePoint()
    streamed = [stamped(5), stamped(4), stamped(6)]
    assert [line.raw for line in parse_lines(streamed) if point.accept(line)] == [
        "line 5",
        "line 4",
        "line 6",
    ]
    point.resuming()
    replay = [stamped(4), stamped(5), stamped(6), stamped(7)]
    assert [line.raw for line in parse_lines(replay) if point.accept(line)] == ["line 7"]
    assert [line.raw for line in parse_lines([stamped(3)]) if point.accept(line)] == ["line 3"]


async def test_local_command_and_saved_file(tmp_path: Path) -> None:
    """The other two sources: a local command (re-run when it exits) and a file."""
    saved = tmp_path / "saved.log"
    saved.write_bytes(
        b"2026-11-28T03:00:00.000000001Z [a1] Completed 200 OK in 12ms\n"
        b"2026-11-28T03:00:00.000000002Z [a2] Completed 503 Service Unavailable in 9ms\r\n"
        b"no newline at the end"
    )
    from_file: list[LogEntry] = []
    states: list[StreamState] = []
    await FileStream(saved, from_file.extend, on_state=states.append).run()
    lines = [e for e in from_file if isinstance(e, LogLine)]
    assert [line.status for line in lines] == [200, 503, None]
    assert lines[2].raw == "no newline at the end"
    assert states[-1].state == "ended"

    script = tmp_path / "emit.sh"
    script.write_text("#!/bin/sh\nprintf 'I, [2026-11-28T12:00:00.1 #1]  INFO -- : hello\\n'\n")
    script.chmod(0o755)
    from_command: list[LogEntry] = []
    stream = CommandStream([str(script)], from_command.extend, name="emit")
    task = asyncio.create_task(stream.run())
    try:
        # It exits after one line; the stream starts it again, with a gap marker.
        await _wait(lambda: sum(isinstance(e, LogLine) for e in from_command) >= 2, within=20)
    finally:
        task.cancel()
    first = next(e for e in from_command if isinstance(e, LogLine))
    assert (first.kind, first.level, first.host) == (LogKind.LOGGER, LogLevel.INFO, "local")
    assert any(isinstance(e, GapMarker) for e in from_command)


# -- backing off ----------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_resets_only_after_a_steady_run() -> None:
    backoff = Backoff(first_s=1.0, longest_s=8.0, steady_s=30.0, rng=random.Random(7))
    ceilings = []
    for _ in range(5):
        backoff.ended(uptime_s=2.0)  # up, then gone again well before steady
        delay = backoff.next_delay()
        ceilings.append(backoff.ceiling())
        assert backoff.ceiling() / 2 <= delay <= backoff.ceiling()
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert backoff.exits == 5
    backoff.ended(uptime_s=None)  # could not even start: still counts
    assert (backoff.exits, backoff.ceiling()) == (6, 8.0)
    backoff.ended(uptime_s=30.0)  # this run was healthy: start over
    assert (backoff.exits, backoff.ceiling()) == (1, 1.0)


async def test_a_local_command_that_keeps_exiting_says_so(tmp_path: Path) -> None:
    script = tmp_path / "gone.sh"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    states: list[StreamState] = []
    stream = CommandStream(
        [str(script)], lambda batch: None, name="gone", on_state=states.append,
        backoff=Backoff(first_s=0.01, longest_s=0.02),
    )
    task = asyncio.create_task(stream.run())
    try:
        await _wait(lambda: any(s.exits == 3 and s.retry_in_s is not None for s in states))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    waiting = next(s for s in states if s.exits == 3 and s.retry_in_s is not None)
    assert waiting.state == "reconnecting"
    assert waiting.detail == (
        f"command exited with status 3; exited 3 times, retrying in {waiting.retry_in_s:.1f}s"
    )
