"""Log lines per second through the console's SSH stream, beside a bare asyncssh read.

One container of the demo stack (app-1's web) is filled with tens of thousands of
generated Rails lines, then its generator is stopped, so its ``docker logs`` is a
fixed input.  Both sides run the same command the console runs,
``docker logs --timestamps --follow --tail N <container>`` with N the lines held,
over SSH to the same host, and time from the first chunk received until all N
lines (or their bytes) are in:

* the console: ``SshContainerStream`` (read 64 KiB chunks → ``LineSplitter`` →
  ``parse_lines`` → resume check → sink), its sink ``LogBuffer.append_many``
  (default bound, 100 000);
* the console with the log tail's own sink in between, as the running console
  has it (``LogTail._receive``: request statistics from the Rails ``Completed``
  lines, as the demo configuration counts them), for reading;
* the baseline: ``create_process(..., encoding=None)`` and ``read(65536)`` until
  the same byte count, nothing else.

The three alternate, each on a fresh SSH connection.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import Row, median

FILL_RATE = 100_000  # lines/s, the demo's maximum
FILL_SECONDS = 2.0
MIN_LINES = 20_000
ROUNDS = 7
ROUND_TIMEOUT_S = 30.0


async def _bare_read(connect: Any, command: str, expected_bytes: int | None) -> tuple[
        float, int, int]:
    """Seconds from the first chunk to ``expected_bytes``; bytes and lines read."""
    connection = await connect()
    try:
        process = await connection.create_process(command, encoding=None)
        total = lines = 0
        first: float | None = None
        while expected_bytes is None or total < expected_bytes:
            try:
                chunk = await asyncio.wait_for(process.stdout.read(65536),
                                               1.0 if expected_bytes is None else None)
            except TimeoutError:
                break  # only when counting: the backlog is in, the follow idles
            if not chunk:
                break
            if first is None:
                first = time.perf_counter()
            total += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - (first or time.perf_counter())
        process.close()
        return elapsed, total, lines
    finally:
        connection.close()


async def _console_read(
    target: Any, config: Any, tail: int, with_tail: bool = False
) -> tuple[float, int]:
    """Seconds from the first chunk until ``tail`` lines are in the buffer."""
    from rainbow_tui.logs.buffer import LogBuffer
    from rainbow_tui.logs.streams import Reader, SshContainerStream
    from rainbow_tui.logs.tail import LogTail

    buffer = LogBuffer()
    done = asyncio.Event()
    first: list[float] = []

    def sink(batch: list[Any]) -> None:
        buffer.append_many(batch)
        if len(buffer) >= tail:
            done.set()

    class Timed(Reader):
        """Notes when the first chunk arrived; otherwise the console's own reader."""

        def __init__(self, inner: Reader) -> None:
            self.inner = inner

        async def read(self, size: int) -> bytes:
            data = await self.inner.read(size)
            if not first:
                first.append(time.perf_counter())
            return data

        async def finish(self) -> str:
            return await self.inner.finish()

        async def close(self) -> None:
            await self.inner.close()

    class TimedStream(SshContainerStream):
        async def open_reader(self, since: str | None) -> Reader:
            return Timed(await super().open_reader(since))

    # A tail with no streams of its own: its sink is the one the console runs.
    receive = LogTail(config, {}, sink)._receive if with_tail else sink
    stream = TimedStream(target, config.service.kamal_service, "web", tail, receive)
    task = asyncio.create_task(stream.run())
    try:
        await asyncio.wait_for(done.wait(), ROUND_TIMEOUT_S)
        elapsed = time.perf_counter() - first[0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return elapsed, len(buffer)


async def _run(state_dir: Path) -> list[Row]:
    import asyncssh

    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import demo_config
    from rainbow_tui.logs.streams import docker_logs_command, pick_container
    from rainbow_tui.sources.host_parsing import parse_docker_ps_json
    from rainbow_tui.sources.hosts import SshTarget

    stack = await asyncio.to_thread(start_demo_stack, state_dir, (), 0.0, 1)
    try:
        endpoints = stack.endpoints
        host = endpoints.hosts[0]
        target = SshTarget(
            name=host.name, address=host.address, port=host.port, user=endpoints.ssh_user,
            roles=host.roles, known_hosts=str(endpoints.known_hosts),
            client_keys=(str(endpoints.client_key),),
        )

        async def connect() -> asyncssh.SSHClientConnection:
            return await asyncssh.connect(
                host.address, port=host.port, username=endpoints.ssh_user,
                known_hosts=str(endpoints.known_hosts), client_keys=[str(endpoints.client_key)],
            )

        connection = await connect()
        try:
            listing = await connection.run("docker ps --format '{{json .}}'", check=True)
        finally:
            connection.close()
        container = pick_container(parse_docker_ps_json(str(listing.stdout)),
                                   endpoints.service, "web")
        assert container is not None, "no web container on app-1"

        async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
            async def rate(lines_per_s: float) -> None:
                response = await http.post(
                    f"{endpoints.control_url}/logs/rate",
                    json={"host": host.name, "container": container,
                          "lines_per_s": lines_per_s})
                response.raise_for_status()

            await rate(FILL_RATE)
            await asyncio.sleep(FILL_SECONDS)
            await rate(0)
        await asyncio.sleep(0.3)  # let a generator tick in flight land

        # Count what the container holds: that is N, the same input for both sides.
        _, _, held = await _bare_read(connect, docker_logs_command(container, 10**9, None),
                                      None)
        if held < MIN_LINES:
            raise RuntimeError(f"the container holds only {held} lines")
        command = docker_logs_command(container, held, None)
        _, size, lines = await _bare_read(connect, command, None)
        assert lines == held, (lines, held)

        bare: list[float] = []
        console: list[float] = []
        with_tail: list[float] = []
        await _bare_read(connect, command, size)  # warm both paths once
        config = demo_config(endpoints)
        await _console_read(target, config, held)
        await _console_read(target, config, held, with_tail=True)
        for _ in range(ROUNDS):
            elapsed, _, _ = await _bare_read(connect, command, size)
            bare.append(held / elapsed)
            elapsed, got = await _console_read(target, config, held)
            if got != held:
                raise RuntimeError(f"the console got {got} lines of {held}")
            console.append(held / elapsed)
            elapsed, got = await _console_read(target, config, held, with_tail=True)
            if got != held:
                raise RuntimeError(f"the console got {got} lines of {held}")
            with_tail.append(held / elapsed)
    finally:
        await asyncio.to_thread(stack.stop)
    mb_per_line = size / held / 1e6
    return [
        Row("log stream over SSH, thousand lines/s", median(console) / 1000,
            median(bare) / 1000, "k/s",
            f">= 0.5x bare asyncssh read(65536); {held} lines of {size / held:.0f} B"),
        Row("  with the log tail's request statistics", median(with_tail) / 1000,
            median(bare) / 1000, "k/s", "for reading: the sink the console runs"),
        Row("log stream, MB/s (same runs)",
            median(console) * mb_per_line, median(bare) * mb_per_line, "MB",
            "for reading"),
    ]


def bench_log_throughput() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="rtui-bench-logs-"))
    try:
        return asyncio.run(_run(state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_log_throughput(), header=True)
