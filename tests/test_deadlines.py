"""Every network wait has a deadline: a server that drips its answer one byte at a
time, a host that accepts a connection and never speaks, a frozen PostgreSQL.

The servers are real (asyncio servers on 127.0.0.1, the demo stack's PostgreSQL
stopped with SIGSTOP); each test has a generous outer guard only so that a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import msgspec
import psutil

from rainbow_tui.check import run_check
from rainbow_tui.config import parse_config
from rainbow_tui.findings import evaluate
from rainbow_tui.levels import Level
from rainbow_tui.sources.database import DatabaseSource
from rainbow_tui.sources.health import HealthSource
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.sources.service_sources import Readings
from tests.conftest import DemoStackFactory

# A guard against hangs only: every deadline under test is a few seconds.
GUARD_S = 60.0
# The dripping server sends one byte at this interval: the slowness under test.
DRIP_INTERVAL_S = 0.05
RESPONSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4000\r\n\r\n"
RESPONSE_BODY = b"x" * 4000


@dataclass
class DripServer:
    """An HTTP server that answers every request one byte at a time, each byte well
    inside any read timeout, so that only a deadline on the whole request ends it."""

    drip_head: bool
    url: str = ""
    # Bytes of the body written to the latest client.
    body_bytes_sent: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        payload = RESPONSE_HEAD + RESPONSE_BODY
        start = 0
        self.body_bytes_sent = 0
        try:
            await reader.readuntil(b"\r\n\r\n")
            if not self.drip_head:
                writer.write(RESPONSE_HEAD)
                start = len(RESPONSE_HEAD)
            for index in range(start, len(payload)):
                writer.write(payload[index : index + 1])
                await writer.drain()
                if index >= len(RESPONSE_HEAD):
                    self.body_bytes_sent += 1
                await asyncio.sleep(DRIP_INTERVAL_S)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: what a deadline is for
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def drip_server(drip_head: bool) -> AsyncIterator[DripServer]:
    drip = DripServer(drip_head)
    server = await asyncio.start_server(drip.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    drip.url = f"http://127.0.0.1:{port}/up"
    try:
        yield drip
    finally:
        server.close()
        # Handlers still dripping to a client that left end at their next write.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await server.wait_closed()


async def test_dripped_body_is_a_timeout_naming_the_bytes_sent() -> None:
    async with drip_server(drip_head=False) as drip:
        source = HealthSource(drip.url, timeout_s=1.0)
        try:
            snapshot = await asyncio.wait_for(source.poll(), GUARD_S)
        finally:
            await source.close()
    assert snapshot.timed_out and not snapshot.up
    assert snapshot.error is not None
    match = re.fullmatch(
        r"timed out after 1 s: /up sent ([\d,]+) bytes of its body and had not finished",
        snapshot.error,
    )
    assert match, snapshot.error
    reported = int(match[1].replace(",", ""))
    # What the console counted is what the server had sent by then, some of the body.
    assert 0 < reported < len(RESPONSE_BODY)
    assert reported <= drip.body_bytes_sent


async def test_dripped_headers_are_a_timeout_naming_the_headers() -> None:
    async with drip_server(drip_head=True) as drip:
        source = HealthSource(drip.url, timeout_s=1.0)
        try:
            snapshot = await asyncio.wait_for(source.poll(), GUARD_S)
        finally:
            await source.close()
    assert snapshot.timed_out
    assert snapshot.error == "timed out after 1 s: /up had not finished its response headers"


async def test_dripped_answer_is_a_critical_health_finding_with_its_reason(
    tmp_path: Path,
) -> None:
    async with drip_server(drip_head=False) as drip:
        config = parse_config(
            f'[service]\nkamal_service = "s"\nhealth_url = "{drip.url}"\n', tmp_path / "c.toml"
        )
        source = HealthSource(drip.url, timeout_s=1.0)
        try:
            snapshot = await asyncio.wait_for(source.poll(), GUARD_S)
        finally:
            await source.close()
    health = next(f for f in evaluate(config, Readings(health=snapshot)) if f.metric == "health")
    assert health.level is Level.CRITICAL and health.severity == "critical"
    assert health.reason.startswith("service not answering in time: timed out after 1 s: /up sent")


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_check_command_returns_on_a_dripping_health_url(tmp_path: Path) -> None:
    async with drip_server(drip_head=False) as drip:
        config = tmp_path / "config.toml"
        config.write_text(
            "[service]\n"
            'kamal_service = "s"\n'
            f'health_url = "{drip.url}"\n'
            "health_timeout_s = 1\n"
            "[[hosts]]\n"
            'name = "app-1"\n'
            'address = "127.0.0.1"\n'
            f"port = {_closed_port()}\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAINBOW_TUI_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rainbow_tui", "check", "--config", str(config), "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            cwd=tmp_path,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), GUARD_S)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 2, stderr.decode()
    document = msgspec.json.decode(stdout)
    health = next(f for f in document["findings"] if f["metric"] == "health")
    assert health["level"] == "critical"
    assert re.fullmatch(
        r"service not answering in time: timed out after 1 s: "
        r"/up sent [\d,]+ bytes of its body and had not finished",
        health["reason"],
    ), health["reason"]


async def test_check_reports_a_host_that_never_speaks_when_its_deadline_ends(
    tmp_path: Path,
) -> None:
    """A host that accepts TCP and never sends SSH's banner, with a connect timeout
    longer than the round: the round's deadline reports it, the rest as read."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    (tmp_path / "known_hosts").write_text("", encoding="utf-8")
    config = parse_config(
        "[service]\n"
        'kamal_service = "s"\n'
        f'health_url = "http://127.0.0.1:{_closed_port()}/up"\n'
        "health_timeout_s = 1\n"
        "[ssh]\n"
        "connect_timeout_s = 120\n"
        f'known_hosts = "{tmp_path / "known_hosts"}"\n'
        "[[hosts]]\n"
        'name = "app-1"\n'
        'address = "127.0.0.1"\n'
        f"port = {port}\n",
        tmp_path / "c.toml",
    )
    try:
        findings = await asyncio.wait_for(run_check(config, deadline_s=4.0), GUARD_S)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
    host = next(f for f in findings if f.component == "host app-1")
    assert host.level is Level.CRITICAL
    assert host.reason == (
        "timed out after 2 s: app-1 did not answer within the check's deadline"
    )
    health = next(f for f in findings if f.metric == "health")
    assert health.level is Level.CRITICAL and "connection refused" in health.reason


# -- a frozen PostgreSQL --------------------------------------------------------------


@contextlib.contextmanager
def frozen(processes: list[psutil.Process]) -> Iterator[None]:
    """SIGSTOP every process given, SIGCONT them again whatever happens."""
    stopped: list[psutil.Process] = []
    try:
        for process in processes:
            process.send_signal(signal.SIGSTOP)
            stopped.append(process)
        yield
    finally:
        for process in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


async def _postmaster(admin_dsn: str) -> psutil.Process:
    """The postmaster of the server behind ``admin_dsn``: the first line of its
    data directory's postmaster.pid."""
    connection = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        data_directory = await connection.fetchval("SHOW data_directory")
    finally:
        await connection.close()
    pid = int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


async def test_frozen_postgres_is_a_timeout_reading_not_a_hang(
    demo_stack_factory: DemoStackFactory,
) -> None:
    stack = demo_stack_factory()
    postmaster = await _postmaster(stack.endpoints.pg_admin_dsn)
    link = PostgresLink(stack.endpoints.pg_dsn, statement_timeout_ms=500, connect_timeout_s=1.0)
    source = DatabaseSource(link)
    try:
        first = await asyncio.wait_for(source.poll(), GUARD_S)
        assert first.error is None and first.connections is not None
        # The whole server: the postmaster and every backend, ours included.
        with frozen([postmaster, *postmaster.children(recursive=True)]):
            during_statement = await asyncio.wait_for(source.poll(), GUARD_S)
            # The timed-out session was ended; a new one cannot start either.
            during_connect = await asyncio.wait_for(source.poll(), GUARD_S)
        after = await asyncio.wait_for(source.poll(), GUARD_S)
    finally:
        await asyncio.wait_for(link.close(), GUARD_S)
    assert during_statement.error is not None
    assert re.fullmatch(
        r"timed out after [\d.]+ s: the server did not answer the statement, and its "
        r"statement_timeout \(500 ms\) did not fire \(frozen or cut off\?\)",
        during_statement.error,
    ), during_statement.error
    assert during_connect.error is not None
    assert re.fullmatch(
        r"timed out after [\d.]+ s connecting: the server accepted no session "
        r"\(frozen, overloaded or cut off\?\)",
        during_connect.error,
    ), during_connect.error
    # Thawed, the next poll reads the server again.
    assert after.error is None and after.connections is not None
    # On the dashboard and in check: PostgreSQL critical, with that reason.
    config = parse_config(
        '[service]\nkamal_service = "s"\nhealth_url = "http://127.0.0.1/up"\n', "c.toml"
    )
    readings = Readings(database=during_statement)
    postgres = next(f for f in evaluate(config, readings) if f.label == "PostgreSQL")
    assert postgres.level is Level.CRITICAL and postgres.reason == during_statement.error



async def test_dashboard_monitor_raises_the_dripping_health_check(tmp_path: Path) -> None:
    """The monitor behind the dashboard: the health poll ends at its deadline, so
    the finding turns critical and an alert opens, instead of "no data" for ever."""
    from rainbow_tui.monitor import Monitor, MonitorState
    from rainbow_tui.sources.service_sources import ServiceSources

    async with drip_server(drip_head=False) as drip:
        config = parse_config(
            f'[service]\nkamal_service = "s"\nhealth_url = "{drip.url}"\n'
            "health_timeout_s = 1\n[poll]\nhealth = 30\n",
            tmp_path / "c.toml",
        )
        raised = asyncio.Event()
        states: list[MonitorState] = []

        def listen(state: MonitorState) -> None:
            states.append(state)
            if any(alert.key == "service:health" for alert in state.alerts):
                raised.set()

        monitor = Monitor(config, ServiceSources(config), listen)
        monitor.start()
        try:
            await asyncio.wait_for(raised.wait(), GUARD_S)
        finally:
            await monitor.stop()
    state = states[-1]
    health = next(f for f in state.findings if f.metric == "health")
    assert health.level is Level.CRITICAL
    assert health.reason.startswith("service not answering in time: timed out after 1 s: /up sent")
    assert state.overall is Level.CRITICAL
