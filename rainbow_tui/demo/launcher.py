"""Start the demo stack from Python and wait until it answers.

:func:`start_demo_stack` runs ``python -m rainbow_tui.demo serve`` as a child in a
session of its own and waits for ``stack.json``.  The child asks the kernel to be
killed when its parent dies; since Linux ties that to the *thread* that forked it,
a call from any thread but the main one forks from a thread that lives as long as
this process, so the stack does not vanish when a short-lived worker thread ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rainbow_tui.demo.endpoints import STACK_FILE, DemoEndpoints

SUPERVISOR_LOG = "supervisor.log"
_LOG_TAIL_LINES = 40

_spawner: concurrent.futures.ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


class DemoStartError(RuntimeError):
    """The stack did not come up; ``log_tail`` holds the end of supervisor.log."""

    def __init__(self, message: str, log_tail: str) -> None:
        super().__init__(f"{message}\n--- supervisor.log (last lines) ---\n{log_tail}")
        self.log_tail = log_tail


def _log_tail(state_dir: Path) -> str:
    try:
        lines = (state_dir / SUPERVISOR_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no supervisor.log)"
    return "\n".join(lines.splitlines()[-_LOG_TAIL_LINES:])


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
    return process.returncode


class DemoProcess:
    """A running demo stack: its endpoints, and how to stop it."""

    def __init__(self, process: subprocess.Popen[bytes], endpoints: DemoEndpoints) -> None:
        self.process = process
        self.endpoints = endpoints

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait for an orderly stop, SIGKILL if it does not come."""
        return _terminate(self.process, timeout)

    def __enter__(self) -> DemoProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _popen(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,  # terminal signals (Ctrl-C) are for the console, not us
            close_fds=True,
        )


def _spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return _popen(argv, log_path)
    with _spawner_lock:
        if _spawner is None:
            _spawner = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="demo-stack-spawner"
            )
    return _spawner.submit(_popen, argv, log_path).result()


def start_demo_stack(
    state_dir: Path,
    drills: Sequence[str] = (),
    log_rate: float | None = None,
    app_hosts: int = 2,
    timeout: float = 60,
    monitor_grants: bool = True,
) -> DemoProcess:
    """Start a stack in ``state_dir`` and return once ``stack.json`` is written."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STACK_FILE).unlink(missing_ok=True)
    argv = [sys.executable, "-m", "rainbow_tui.demo", "serve", "--state-dir", str(state_dir),
            "--app-hosts", str(app_hosts), "--parent-pid", str(os.getpid())]
    for drill in drills:
        argv += ["--drill", drill]
    if log_rate is not None:
        argv += ["--log-rate", str(log_rate)]
    if not monitor_grants:
        argv.append("--monitor-without-grants")
    process = _spawn(argv, state_dir / SUPERVISOR_LOG)
    deadline = time.monotonic() + timeout
    stack_file = state_dir / STACK_FILE
    while time.monotonic() < deadline:
        if stack_file.exists():
            try:
                endpoints = DemoEndpoints.load(state_dir)
            except (OSError, ValueError, KeyError):
                time.sleep(0.02)
                continue
            if endpoints.supervisor_pid == process.pid:
                return DemoProcess(process, endpoints)
        code = process.poll()
        if code is not None:
            raise DemoStartError(f"the demo supervisor exited with status {code}",
                                 _log_tail(state_dir))
        time.sleep(0.02)
    _terminate(process, 5.0)
    raise DemoStartError(f"the demo stack did not start within {timeout}s", _log_tail(state_dir))
