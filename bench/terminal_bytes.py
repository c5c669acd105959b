"""Bytes a console at 80×24 writes to its terminal, beside ``tail -f`` of the same lines.

Over a slow SSH link to the bastion every byte the console paints is a byte on the
wire.  The console runs in a real pseudo-terminal sized 80×24, against a demo stack,
exactly as a responder starts it; the bytes read from the pty's master side are what
its terminal would receive.  The baseline, in the same run and the same window, is
the peer a responder would otherwise use: the real OpenSSH client running
``docker logs --timestamps --follow --tail 0`` on each container the console follows
(``tail -f`` of the same lines), each in a pty of its own, bytes summed.

Four phases: the dashboard and then the full-screen log view (``L``) at the demo's
own log rate, then the log view and the dashboard again (Esc) at 2 000 lines/s spread
over the followed containers (the demo's control API sets each container's rate).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.report import Row

if TYPE_CHECKING:
    from rainbow_tui.demo.endpoints import DemoEndpoints

REPO = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 80, 24
SETTLE_S = 8.0  # the console painted, its streams caught up
PHASE_S = 10.0
FAST_LINES_PER_S = 2000.0
READY_TIMEOUT_S = 90.0
FOLLOWED_KINDS = ("web", "job")

# The console as `rainbow-tui demo` runs it, on a stack this bench started.
CONSOLE = """
import sys
from pathlib import Path
from rainbow_tui.app import make_app
from rainbow_tui.demo.endpoints import DemoEndpoints
from rainbow_tui.demo.profile import demo_config, export_demo_dsn
endpoints = DemoEndpoints.load(Path(sys.argv[1]))
export_demo_dsn(endpoints)
make_app(demo_config(endpoints)).run()
"""


def _spawn_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 80×24, then the program
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ,
                    struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    return pid, fd


def _drain(fds: list[int], counts: dict[int, int], seconds: float) -> None:
    """Read every pty for ``seconds``, counting bytes per fd."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select(fds, [], [], min(left, 0.1))
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            counts[fd] = counts.get(fd, 0) + len(chunk)


def _followed(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(host, container) of every production container the console follows."""
    return [
        (host["name"], container["name"])
        for host in state["hosts"]
        for container in host["containers"]
        if container["kind"] in FOLLOWED_KINDS and container["state"] == "running"
        and not container.get("destination")
    ]


def _tail_command(endpoints: DemoEndpoints, host: str, container: str) -> list[str]:
    port = next(h.port for h in endpoints.hosts if h.name == host)
    return [
        "ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={endpoints.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        "-i", str(endpoints.client_key), "-p", str(port), "-t",
        f"{endpoints.ssh_user}@127.0.0.1",
        f"docker logs --timestamps --follow --tail 0 {container}",
    ]


def _stop(pid: int, fd: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            os.read(fd, 65536)
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)


def _measure(state_dir: Path) -> list[Row]:
    from rainbow_tui.demo.launcher import start_demo_stack

    stack = start_demo_stack(state_dir, (), None, 2)
    children: list[tuple[int, int]] = []
    try:
        endpoints = stack.endpoints
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
               "LINES": str(LINES)}
        with httpx.Client(trust_env=False, timeout=30) as http:
            state = http.get(f"{endpoints.control_url}/state").json()
            followed = _followed(state)
            console = _spawn_in_pty([sys.executable, "-c", CONSOLE, str(state_dir)], env)
            children.append(console)
            tails = [_spawn_in_pty(_tail_command(endpoints, host, name), env)
                     for host, name in followed]
            children.extend(tails)
            fds = [fd for _, fd in children]
            _drain(fds, {}, SETTLE_S)  # painted, connected, caught up
            rows: list[Row] = []
            # (what is on screen, the key that brings it, the log rate)
            phases = (("dashboard", b"", None), ("log screen", b"L", None),
                      ("log screen", b"", FAST_LINES_PER_S), ("dashboard", b"\x1b", None))
            for view, key, rate in phases:
                if key:
                    os.write(console[1], key)
                if rate is not None:
                    for host, name in followed:
                        http.post(f"{endpoints.control_url}/logs/rate",
                                  json={"host": host, "container": name,
                                        "lines_per_s": rate / len(followed)}).raise_for_status()
                if key or rate is not None:
                    _drain(fds, {}, 2.0)  # the new screen painted, the new rate under way
                fast = rate is not None or (view == "dashboard" and key)
                counts: dict[int, int] = {}
                _drain(fds, counts, PHASE_S)
                console_rate = counts.get(console[1], 0) / PHASE_S
                tail_rate = sum(counts.get(fd, 0) for _, fd in tails) / PHASE_S
                label = "2 000 lines/s" if fast else "demo's log rate"
                goal = "≤ 0.5× tail -f" if fast else "< 10 kB/s"
                rows.append(Row(f"terminal bytes/s 80×24 {view}, {label} (vs tail -f)",
                                console_rate / 1000, tail_rate / 1000, "kB", goal=goal))
            return rows
    finally:
        for pid, fd in reversed(children):
            _stop(pid, fd)
        stack.stop()


def bench_terminal_bytes() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="rainbow-bench-bytes-") as work:
        return asyncio.run(asyncio.to_thread(_measure, Path(work)))
