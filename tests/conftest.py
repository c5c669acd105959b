"""Shared fixtures: the embedded demo stack, started for real.

``demo_stack`` is one healthy stack for the whole session (tests must leave it
healthy: no drill active, SSH listening, default log rate).  ``demo_stack_factory``
starts private stacks, with drills or other options, and stops them afterwards.
The PostgreSQL template is cached under the user's cache directory, so only the
first stack ever started on a machine pays for ``initdb``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import asyncssh
import httpx
import pytest
from hypothesis import settings

from rainbow_tui.demo.endpoints import DemoHost
from rainbow_tui.demo.launcher import DemoProcess, start_demo_stack
from tests.helpers.disks import TinyDisk

DemoStackFactory = Callable[..., DemoProcess]

# The suite speaks English whatever the machine's locale (a developer's LANG=ja_JP
# must not change a result); the tests of the language choice pass their own.
os.environ.pop("RAINBOW_TUI_LANG", None)
os.environ["LC_ALL"] = "C.UTF-8"

# CI replays the same examples on every run (a property that held once holds on every
# clean clone); a developer's run keeps exploring new ones, which is where finds come from.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def _language_restored() -> Iterator[None]:
    """``main`` sets the process's language: every test leaves it as it found it."""
    from rainbow_tui.text import current_language, set_language

    before = current_language().code
    yield
    set_language(before)


@pytest.fixture(scope="session")
def demo_state_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where the test stacks keep their state: RAM-backed when the machine has it.

    Each stack copies a ~35 MB, 1 400-file database template; creating that many
    files costs over a second on these VMs' disks and a tenth of that on tmpfs.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="rainbow-tui-tests-", dir=shm))
    else:
        root = tmp_path_factory.mktemp("demo-stacks")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_stack(demo_state_root: Path) -> Iterator[DemoProcess]:
    stack = start_demo_stack(demo_state_root / "session-stack")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def demo_stack_factory(
    demo_state_root: Path, request: pytest.FixtureRequest
) -> Iterator[DemoStackFactory]:
    started: list[DemoProcess] = []
    test_dir = Path(tempfile.mkdtemp(prefix=f"{request.node.name[:40]}-", dir=demo_state_root))

    def start(
        drills: Sequence[str] = (),
        log_rate: float | None = None,
        app_hosts: int = 2,
        monitor_grants: bool = True,
    ) -> DemoProcess:
        state_dir = test_dir / f"stack-{len(started) + 1}"
        stack = start_demo_stack(state_dir, drills=drills, log_rate=log_rate,
                                 app_hosts=app_hosts, monitor_grants=monitor_grants)
        started.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in started:
            stack.stop()
        shutil.rmtree(test_dir, ignore_errors=True)


class StackDriver:
    """Talks to a running stack the way the console and an operator would."""

    def __init__(self, stack: DemoProcess) -> None:
        self.stack = stack
        self.endpoints = stack.endpoints
        self.http = httpx.Client(trust_env=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, f"{self.endpoints.control_url}{path}", json=body)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.control("GET", "/state")
        return result

    def health_status(self) -> int:
        return self.http.get(self.endpoints.health_url).status_code

    def kamal(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real stand-in command line, as a subprocess."""
        return subprocess.run(
            [*self.endpoints.kamal_command, *args],
            capture_output=True, text=True, timeout=120, check=False,
        )

    def host(self, name: str) -> DemoHost:
        return next(h for h in self.endpoints.hosts if h.name == name)

    def container(self, host: str, kind: str) -> dict[str, Any]:
        entry = next(h for h in self.state()["hosts"] if h["name"] == host)
        # Production's container (staging ones run beside it on the same hosts).
        container: dict[str, Any] = next(
            c for c in entry["containers"]
            if c["kind"] == kind and c["state"] == "running" and not c.get("destination")
        )
        return container

    async def ssh(self, host: str, command: str) -> tuple[int, bytes, bytes]:
        target = self.host(host)
        async with asyncssh.connect(
            target.address, target.port, username=self.endpoints.ssh_user,
            client_keys=[str(self.endpoints.client_key)],
            known_hosts=str(self.endpoints.known_hosts),
        ) as conn:
            result = await conn.run(command, encoding=None)
        return result.exit_status or 0, bytes(result.stdout or b""), bytes(result.stderr or b"")

    @staticmethod
    def wait_until(condition: Callable[[], bool], within: float, interval: float = 0.1) -> bool:
        """Poll ``condition`` until it holds or ``within`` seconds pass."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return condition()

    @staticmethod
    async def eventually(
        condition: Callable[[], Awaitable[bool]], within: float, interval: float = 0.2
    ) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await condition():
                return True
            await asyncio.sleep(interval)
        return await condition()

    async def sql(self, query: str, *args: Any) -> Any:
        """One value from the app's database, as the superuser."""
        return await self._fetchval(self.endpoints.pg_admin_dsn, query, *args)

    async def queue_sql(self, query: str, *args: Any) -> Any:
        """One value from Solid Queue's database (Rails 8 keeps it apart), in UTC
        as Rails' sessions are: the server's own TimeZone is Asia/Tokyo."""
        return await self._fetchval(self.endpoints.pg_admin_queue_dsn, query, *args)

    @staticmethod
    async def _fetchval(dsn: str, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(dsn, timeout=10, server_settings={"timezone": "UTC"})
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


@pytest.fixture
def drive() -> Iterator[Callable[[DemoProcess], StackDriver]]:
    drivers: list[StackDriver] = []

    def make(stack: DemoProcess) -> StackDriver:
        driver = StackDriver(stack)
        drivers.append(driver)
        return driver

    try:
        yield make
    finally:
        for driver in drivers:
            driver.close()


@pytest.fixture
def tiny_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TinyDisk]:
    """A 64 KiB disk of the test's own to fill (see TinyDisk), unmounted afterwards."""
    disk = TinyDisk(tmp_path / "tiny", monkeypatch)
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()
