"""Remote command lines against a real SSH server whose commands run in a real
``/bin/sh``, with a stand-in ``docker`` that answers with hostile names: every value
the console puts into a remote command line reaches the host as one quoted word,
and nothing injected runs.  The same server shows a log stream whose ``docker logs``
exits at once keeping its one SSH link while it backs off."""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from rainbow_tui.logs.parse import LogLine
from rainbow_tui.logs.streams import Backoff, LogEntry, SshContainerStream, StreamState
from rainbow_tui.sources.hosts import HostProbe
from rainbow_tui.sources.kamal_containers import HostPath, KamalLayout
from tests.ssh_servers import ShellServer, shell_server, write_script

# What a compromised or broken host could print as a container's name.
HOSTILE_NAME = "web-x;touch PWNED;#$(touch PWNED2)`touch PWNED3`'\"; touch PWNED4"
HOSTILE_SERVICE = "svc$(touch PWNED5);touch PWNED6"
HOSTILE_PATH = "/data;touch PWNED7"
ARGV_LOG = "docker-argv.jsonl"

DOCKER = r'''#!/usr/bin/env python3
"""docker, as a hostile host would answer: one container with a hostile name."""
import json, sys
NAME, SERVICE = {name!r}, {service!r}
args = sys.argv[1:]
with open({argv_log!r}, "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:1] == ["ps"]:
    print("c0ffee")
elif args[:1] == ["inspect"]:
    print(json.dumps({{
        "Id": "c0ffee" * 10, "Name": "/" + NAME, "Created": "2026-11-28T03:00:00Z",
        "Image": "sha256:" + "ab" * 32, "ConfigImage": "app:latest",
        "Labels": {{"service": SERVICE, "role": "web", "destination": ""}},
        "State": {{"Status": "running"}}, "RestartCount": 0, "Memory": 0,
    }}))
elif args[:1] == ["logs"]:
    # A container that logs one line and ends at once, every time.
    print("2026-11-28T03:00:00.000000001Z booting")
    sys.exit(1)
'''


@pytest.fixture
async def hostile_host(tmp_path: Path) -> AsyncIterator[ShellServer]:
    async with shell_server(tmp_path) as server:
        write_script(
            server.bin_dir / "docker",
            DOCKER.format(name=HOSTILE_NAME, service=HOSTILE_SERVICE, argv_log=ARGV_LOG),
        )
        yield server


def _docker_calls(server: ShellServer) -> list[list[str]]:
    log = server.workdir / ARGV_LOG
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _injected(server: ShellServer) -> list[str]:
    return sorted(path.name for path in server.workdir.iterdir() if "PWNED" in path.name)


async def _until(condition: Callable[[], bool], within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_a_hostile_container_name_reaches_docker_logs_as_one_word(
    hostile_host: ShellServer,
) -> None:
    received: list[LogEntry] = []
    states: list[StreamState] = []
    stream = SshContainerStream(
        hostile_host.target(), KamalLayout(HOSTILE_SERVICE), "web", 10,
        received.extend, states.append, backoff=Backoff(first_s=0.01, longest_s=0.05),
    )
    task = asyncio.create_task(stream.run())
    try:
        # The container's first line arrived: docker logs ran and its output came back.
        await _until(lambda: any(isinstance(e, LogLine) and e.raw == "booting" for e in received))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    logs_call = next(call for call in _docker_calls(hostile_host) if call[:1] == ["logs"])
    assert logs_call[-1] == HOSTILE_NAME
    assert logs_call[:-1] == ["logs", "--timestamps", "--follow", "--tail", "10"]
    logs_line = next(c for c in hostile_host.commands if c.startswith("docker logs"))
    assert logs_line.endswith(" " + shlex.quote(HOSTILE_NAME))
    filter_call = next(call for call in _docker_calls(hostile_host) if call[:2] == ["image", "ls"])
    assert f"label=service={HOSTILE_SERVICE}" in filter_call
    assert _injected(hostile_host) == []


@pytest.mark.slow
async def test_a_command_that_exits_at_once_backs_off_on_one_ssh_link(
    hostile_host: ShellServer,
) -> None:
    states: list[StreamState] = []
    stream = SshContainerStream(
        hostile_host.target(), KamalLayout(HOSTILE_SERVICE), "web", 10,
        lambda batch: None, states.append, backoff=Backoff(first_s=0.01, longest_s=0.08),
    )
    task = asyncio.create_task(stream.run())
    try:
        await _until(lambda: any(s.exits >= 4 and s.retry_in_s is not None for s in states))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert hostile_host.connection_count == 1
    assert stream.connections_opened == 1
    waits = [s for s in states if s.retry_in_s is not None]
    assert [s.exits for s in waits[:4]] == [1, 2, 3, 4]
    # Each wait lies in half to all of a ceiling that doubles: 0.01, 0.02, 0.04, 0.08.
    for wait, ceiling in zip(waits, (0.01, 0.02, 0.04, 0.08), strict=False):
        assert ceiling / 2 <= (wait.retry_in_s or 0) <= ceiling
    assert waits[2].detail.startswith("docker logs exited with status 1; exited 3 times, retrying in ")


async def test_a_dropped_link_is_opened_again(hostile_host: ShellServer) -> None:
    """Only a link that dropped is replaced: the stream notices and reconnects."""
    states: list[StreamState] = []
    stream = SshContainerStream(
        hostile_host.target(), KamalLayout(HOSTILE_SERVICE), "web", 10,
        lambda batch: None, states.append, backoff=Backoff(first_s=0.01, longest_s=0.02),
    )
    task = asyncio.create_task(stream.run())
    try:
        await _until(lambda: stream.connections_opened == 1 and len(states) > 3)
        link = stream._connection
        assert link is not None
        link.close()
        await _until(lambda: stream.connections_opened == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert hostile_host.connection_count == 2
    assert stream._connection is None  # stopping the stream let go of its link


async def test_host_poll_quotes_the_service_and_the_data_path(
    hostile_host: ShellServer,
) -> None:
    probe = HostProbe(
        hostile_host.target(), KamalLayout(HOSTILE_SERVICE), data_path=HostPath(HOSTILE_PATH)
    )
    try:
        snapshot = await probe.poll()
    finally:
        await probe.close()
    assert snapshot.error is None
    assert [c.name for c in snapshot.containers] == [HOSTILE_NAME]
    (command,) = hostile_host.commands
    assert shlex.quote(f"label=service={HOSTILE_SERVICE}") in command
    assert f"df -P / {shlex.quote(HOSTILE_PATH)}" in command
    image_call = next(call for call in _docker_calls(hostile_host) if call[:2] == ["image", "ls"])
    assert image_call[2:4] == ["--filter", f"label=service={HOSTILE_SERVICE}"]
    assert _injected(hostile_host) == []
