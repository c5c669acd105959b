"""Containers as Kamal has them, against the demo stack: staging's containers run
beside production's on the same hosts and are never taken for them (dashboard and log
tail); a crash-looping web container is shown restarting with its RestartCount and
exit code, its log is followed across restarts (Kamal's filters take ``restarting``
containers too: basecamp/kamal lib/kamal/commands/app.rb, ACTIVE_DOCKER_STATUSES),
/up answers 502 from the proxy, and the service-down runbook's ``kamal app boot``
cures it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.findings import evaluate
from rainbow_tui.incidents.runbooks import load_runbooks
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.levels import Level
from rainbow_tui.logs.parse import LogLine
from rainbow_tui.logs.streams import LogEntry, SshContainerStream, StreamState
from rainbow_tui.logs.tail import LogTail
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.kamal_containers import layout_from_config
from rainbow_tui.sources.service_sources import Readings, ServiceSources


async def _wait(condition: Callable[[], bool], within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _containers(driver: Any, host: str, kind: str) -> list[dict[str, Any]]:
    entry = next(h for h in driver.state()["hosts"] if h["name"] == host)
    return [c for c in entry["containers"] if c["kind"] == kind and c["state"] != "exited"]


def _inject(driver: Any, host: str, name: str, text: str) -> None:
    driver.control("POST", "/logs/inject", {
        "host": host, "container": name, "data_b64": base64.b64encode(text.encode()).decode(),
    })


async def _poll(stack: DemoProcess, monkeypatch: pytest.MonkeyPatch) -> tuple[
        ServiceSources, Readings]:
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    sources = ServiceSources(demo_config(stack.endpoints))
    hosts = await sources.hosts.poll()
    return sources, Readings(hosts=hosts)


async def test_staging_beside_production_is_never_mixed_in(
    demo_stack: DemoProcess, drive: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = drive(demo_stack)
    webs = _containers(driver, "app-1", "web")
    production = next(c for c in webs if not c["destination"])
    staging = next(c for c in webs if c["destination"] == "staging")
    assert "-web-staging-" in staging["name"] and staging["version"] != production["version"]

    sources, readings = await _poll(demo_stack, monkeypatch)
    try:
        app_1: HostSnapshot = next(h for h in readings.hosts if h.name == "app-1")
        assert not app_1.problems
        assert {c.destination for c in app_1.containers} == {None, "staging"}
        findings = {f.key: f for f in evaluate(sources.config, readings)}
        web = findings["host app-1:container:web"]
        assert web.level is Level.NORMAL and web.display.endswith(production["version"][:12])
        # docker stats beside the host's figures, for the container Kamal picked.
        memory = findings["host app-1:container_memory:web"]
        assert memory.level is Level.NORMAL and " of 2.0 GiB" in memory.reason
        assert "CPU" in memory.display
        # The database's data disk, found from where its data lives.
        db_1 = next(h for h in readings.hosts if h.name == "db-1")
        assert db_1.data_mount == demo_stack.endpoints.db_data_mount
        assert findings[f"host db-1:disk:{db_1.data_mount}"].label == "DB data disk"
    finally:
        await sources.close()

    # The log tail follows production's web container, never staging's.
    config = demo_config(demo_stack.endpoints)
    lines: list[LogLine] = []
    states: list[StreamState] = []
    stream = SshContainerStream(
        ServiceSources(config).targets["app-1"], layout_from_config(config), "web", 0,
        lambda batch: lines.extend(e for e in batch if isinstance(e, LogLine)), states.append,
    )
    task = asyncio.create_task(stream.run())
    try:
        await _wait(lambda: any(s.state == "streaming" for s in states))
        assert stream.container_name == production["name"]
        _inject(driver, "app-1", staging["name"], "marker from staging\n")
        _inject(driver, "app-1", production["name"], "marker from production\n")
        await _wait(lambda: any("marker from production" in line.text for line in lines))
        assert not any("marker from staging" in line.text for line in lines)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.slow
async def test_crash_loop_shown_followed_and_cured_by_the_runbook_boot(
    demo_stack_factory: Callable[..., DemoProcess], drive: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["crash-loop"])
    driver = drive(stack)
    assert driver.health_status() == 502  # the proxy has no healthy target

    def production_web() -> dict[str, Any]:
        (web,) = [c for c in _containers(driver, "app-1", "web") if not c["destination"]]
        return web

    # Between two failed boots docker shows it restarting with the exit code; during a
    # boot it is running again, its exit code reset (moby's State.SetRunning).
    seen: list[dict[str, Any]] = []
    await _wait(lambda: seen.append(production_web()) or seen[-1]["state"] == "restarting")
    assert seen[-1]["exit_code"] == 1
    # Staging's web container is not part of production's crash loop.
    assert all(c["state"] == "running" for c in _containers(driver, "app-1", "web")
               if c["destination"])

    # The log tail follows the restarting container: each run's failing boot arrives.
    config = demo_config(stack.endpoints)
    entries: list[LogEntry] = []
    tail = LogTail(config, ServiceSources(config).targets, entries.extend)
    tail.start()

    def failures() -> int:
        return sum(1 for e in entries if isinstance(e, LogLine) and e.host == "app-1"
                   and e.container == "web" and "bin/rails aborted!" in e.text)

    try:
        await _wait(lambda: failures() >= 1)
        seen = failures()
        await _wait(lambda: failures() > seen)  # a later run's failure, after a restart
    finally:
        await tail.stop()

    # The dashboard: a critical crash-loop finding with RestartCount and exit code.
    sources, first = await _poll(stack, monkeypatch)
    try:
        findings = {f.key: f for f in evaluate(config, first)}
        looping = findings["host app-1:container:web"]
        assert looping.level is Level.CRITICAL and looping.severity == "critical"
        assert looping.display.startswith(("restarting ×", "crash-looping ×"))
        assert "restarted" in looping.reason and looping.value
        first_count = looping.value or 0.0

        async def restart_count() -> float:
            readings = Readings(hosts=await sources.hosts.poll())
            later = {f.key: f for f in evaluate(config, readings)}
            return later["host app-1:container:web"].value or 0.0

        # The next restart comes after docker's backoff (capped at 3 s in the demo):
        # poll until the count the dashboard reads has grown.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await restart_count() <= first_count:
            assert loop.time() < deadline, "the RestartCount never grew"
            await asyncio.sleep(0.2)  # between two polls of the host
    finally:
        await sources.close()

    # The service-down runbook (it matches host *:container:web) boots the app.
    runbook = load_runbooks().runbooks["service-down"]
    assert "host *:container:web" in runbook.matches
    boot = next(s for s in runbook.steps if s.id == "boot")
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    runner = CommandRunner(config)
    try:
        result = await runner.run(boot.commands[0])
        assert result.ok, result.excerpt
        assert boot.verify is not None
        verified = await runner.verify(boot.verify)
        assert verified.passed, verified.detail
    finally:
        await runner.close()
    assert driver.state()["drills"]["active"] == []
    assert driver.health_status() == 200
    sources, cured = await _poll(stack, monkeypatch)
    try:
        findings = {f.key: f for f in evaluate(config, cured)}
        assert findings["host app-1:container:web"].level is Level.NORMAL
        assert findings["host app-2:container:web"].level is Level.NORMAL
    finally:
        await sources.close()
