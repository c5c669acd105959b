"""No process of the demo stack outlives its supervisor or the program that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rainbow_tui.demo.launcher import DemoStartError, start_demo_stack


def _family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait_all_gone(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _running(processes):
            return []
        time.sleep(0.1)
    return _running(processes)


def _postgres_among(processes: list[psutil.Process]) -> bool:
    return any(Path(p.exe()).name == "postgres" for p in processes)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_supervisor_signal_stops_every_part(demo_stack_factory, sig: signal.Signals) -> None:
    stack = demo_stack_factory()
    family = _family(stack.pid)
    assert _postgres_among(family)
    os.kill(stack.pid, sig)
    assert _wait_all_gone(family, within=15) == []
    assert stack.process.wait(5) == 0
    assert not (stack.endpoints.state_dir / "stack.json").exists()


# A parent that starts a stack and then only waits (its sleep is the behaviour: alive
# until the test kills it).
_LAUNCH_AND_WAIT = """
import sys, time
from pathlib import Path
from rainbow_tui.demo.launcher import start_demo_stack
stack = start_demo_stack(Path(sys.argv[1]))
print(stack.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_parent_killed_takes_the_stack_with_it(demo_state_root: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH_AND_WAIT, str(demo_state_root / "orphaned-stack")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert parent.stdout is not None
        supervisor_pid = int(parent.stdout.readline())
        family = _family(supervisor_pid)
        assert _postgres_among(family)
    finally:
        parent.kill()
        parent.wait()
    assert _wait_all_gone(family, within=15) == []


def test_failed_start_raises_with_the_supervisor_log(tmp_path: Path) -> None:
    with pytest.raises(DemoStartError) as caught:
        start_demo_stack(tmp_path / "stack", app_hosts=0, timeout=30)
    assert "--app-hosts must be at least 1" in caught.value.log_tail


@pytest.mark.slow
def test_postgres_dies_with_a_killed_supervisor(demo_stack_factory) -> None:
    stack = demo_stack_factory()
    family = _family(stack.pid)
    assert _postgres_among(family)
    os.kill(stack.pid, signal.SIGKILL)
    assert _wait_all_gone(family, within=15) == []
