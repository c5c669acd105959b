"""The README's promises about the demo, checked as a user meets them: the CLI in a
real process against a real embedded stack."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def _check(*args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "check", "--demo", "--json", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=REPO,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _findings(document: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = document["findings"]
    assert isinstance(rows, list)
    return {f"{row['component']}:{row['metric']}": row for row in rows}


def test_check_demo_healthy_reports_every_component() -> None:
    status, document = _check()
    findings = _findings(document)
    assert status == 0, findings
    assert findings["service:health"]["level"] == "normal"
    assert findings["database:db_connections"]["value"] is not None
    assert findings["queue:waiting_jobs"]["level"] == "normal"
    assert findings["queue:failed_jobs"]["display"] == "0"
    for host in ("app-1", "app-2", "db-1"):
        memory = findings[f"host {host}:memory_percent"]["value"]
        assert isinstance(memory, float) and 20 < memory < 70
        assert isinstance(findings[f"host {host}:cpu_percent"]["value"], float)
    assert findings["host app-1:container:web"]["display"].startswith("running ")  # type: ignore[union-attr]
    assert "host db-1:disk:/var/lib/postgresql/data" in findings


def test_check_demo_service_down_is_critical() -> None:
    status, document = _check("--drill", "service-down")
    health = _findings(document)["service:health"]
    assert status == 2
    assert (health["level"], health["severity"], health["display"]) == (
        "critical",
        "critical",
        "HTTP 500",
    )


@pytest.mark.slow
def test_check_demo_job_backlog_is_critical() -> None:
    status, document = _check("--drill", "job-backlog")
    waiting = _findings(document)["queue:waiting_jobs"]
    assert status == 2
    assert waiting["level"] == "critical"
    assert isinstance(waiting["value"], int | float) and waiting["value"] > 1000


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cmdline(process: psutil.Process) -> str:
    """The command line, or "" for a process that ended while we looked."""
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return ""


def _drain(fd: int) -> bytes:
    """What the console wrote to its terminal so far (read so that it never blocks)."""
    written = b""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        written += chunk
    return written


def _exited(pid: int) -> bool:
    """The console has ended (not reaped yet: the test reaps it once it was signalled)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _polling(pid: int) -> bool:
    """The console holds a connection to the stack: its first poll is under way."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return False
    return any(c.status == psutil.CONN_ESTABLISHED and c.raddr for c in connections)


# Textual's first write in application mode: the switch to the alternate screen.
ALTERNATE_SCREEN = b"\x1b[?1049h"


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_console_leaves_nothing_behind(signum: int, tmp_path: Path) -> None:
    """The console in a real terminal; a signal ends it; nothing of the stack survives."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "TERM": "xterm-256color"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the console, as a user starts it
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "rainbow_tui", "demo"], env)
    try:
        deadline = time.monotonic() + 90
        postgres: list[psutil.Process] = []
        screen = b""
        while time.monotonic() < deadline and not postgres:
            screen += _drain(fd)
            family = _descendants(pid)
            postgres = [p for p in family if "postgres" in _cmdline(p)]
            time.sleep(0.2)  # between two looks at the process tree
        assert postgres, "the demo stack never started PostgreSQL"
        # The signal must find the console painted (Textual switched to the alternate
        # screen) and polling the stack, not still starting.
        while time.monotonic() < deadline and not (
            ALTERNATE_SCREEN in screen and _polling(pid)
        ):
            screen += _drain(fd)
            assert not _exited(pid), f"the console ended on its own: {screen!r}"
            time.sleep(0.1)  # between two looks at the terminal and the sockets
        assert ALTERNATE_SCREEN in screen, "the console never painted its screen"
        assert _polling(pid), "the console never connected to the demo stack"
        family = _descendants(pid)
        assert any("rainbow_tui.demo" in _cmdline(p) for p in family)
        os.kill(pid, signum)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _drain(fd)
            finished, _status = os.waitpid(pid, os.WNOHANG)
            if finished:
                break
            time.sleep(0.1)  # between two looks at the exit status
        else:
            pytest.fail("the console did not exit")
        _gone, alive = psutil.wait_procs(family, timeout=20)
        assert alive == [], f"survivors: {[_cmdline(p) for p in alive]}"
        assert not list(tmp_path.glob("rainbow-tui-demo-*")), "the demo state was left behind"
    finally:
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
