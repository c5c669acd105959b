"""Launch → first dashboard frame, against a minimal Textual app.

Each run is a fresh interpreter (imports included, as a user pays them); the
parent times from spawning it until the child reports its first frame painted.
Both apps run headless at 120×40; the two kinds alternate so drift hits both.

Each child reports the CPU time it had spent when its first frame was up (user
and system, ``time.process_time``): the row is launch → first frame, so what the process
does on its way out is no part of it.  The whole run's CPU, exit included, is a
row of its own, so a costly exit is still seen.

Both read compiled bytecode, as an installed console does, from a cache of the
bench's own (``PYTHONPYCACHEPREFIX``: a temporary directory the warm-up runs fill),
even where the environment says not to write bytecode (``PYTHONDONTWRITEBYTECODE``,
as some shells here do).  Otherwise the console's sources would be compiled on
every run while Textual's came compiled from site-packages: not what a user pays
from the second start on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Row, median

REPO = Path(__file__).resolve().parent.parent
RUNS = 15

MINIMAL_APP = """
import time
from textual.app import App
from textual.widgets import Static

class Minimal(App[None]):
    def compose(self):
        yield Static("hello")
    def on_mount(self):
        self.call_after_refresh(self.first_frame)
    def first_frame(self):
        print("FIRST-FRAME", time.process_time(), flush=True)
        self.exit()

app = Minimal()
app.run(headless=True, size=(120, 40))
raise SystemExit(app.return_code or 0)
"""

# The console's own start: parse the CLI's config, build the app, paint the
# dashboard.  The session starts after the first frame, so no host is contacted.
RAINBOW_APP = f"""
import time
from pathlib import Path
from rainbow_tui.config import load_config
from rainbow_tui.app import RainbowApp
from rainbow_tui.session import Session

class Timed(RainbowApp):
    def _start_session(self):
        print("FIRST-FRAME", time.process_time(), flush=True)
        self.exit()

app = Timed(Session(load_config(Path({str(REPO / "config.toml")!r}))))
app.run(headless=True, size=(120, 40))
raise SystemExit(app.return_code or 0)
"""


def _child_environment(bytecode_cache: str) -> dict[str, str]:
    environment = dict(os.environ, PYTHONPYCACHEPREFIX=bytecode_cache)
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def _time_to_first_frame(
    code: str, environment: dict[str, str]
) -> tuple[float, float, float]:
    """Wall time to the first frame, the child's CPU time by then, and the CPU time
    it spent in all (its exit included).

    CPU time barely moves when other work shares the machine; wall time does.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if "FIRST-FRAME" in line:
            elapsed = time.perf_counter() - started
            cpu_at_frame = float(line.split()[-1])
            break
    else:
        raise RuntimeError("the app exited without painting a frame")
    child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = 0
    if os.waitstatus_to_exitcode(status) != 0:
        # An error on the way out is a bug a user meets too (quitting at once).
        raise RuntimeError(f"the app painted its first frame, then failed:\n{code}")
    return elapsed, cpu_at_frame, usage.ru_utime + usage.ru_stime


def bench_startup() -> list[Row]:
    minimal: list[tuple[float, float, float]] = []
    rainbow: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="rainbow-tui-bench-pycache-") as bytecode_cache:
        environment = _child_environment(bytecode_cache)
        # Warm the OS file cache for both, and fill the bytecode cache.
        _time_to_first_frame(MINIMAL_APP, environment)
        _time_to_first_frame(RAINBOW_APP, environment)
        for _ in range(RUNS):
            minimal.append(_time_to_first_frame(MINIMAL_APP, environment))
            rainbow.append(_time_to_first_frame(RAINBOW_APP, environment))
    goal = "<= 1.3x minimal Textual app"
    return [
        Row("launch -> first dashboard frame, wall (median)",
            median([r[0] for r in rainbow]), median([m[0] for m in minimal]), "s", goal),
        Row("launch -> first dashboard frame, CPU (median)",
            median([r[1] for r in rainbow]), median([m[1] for m in minimal]), "s", goal),
        Row("launch -> first frame -> exit, CPU (median)",
            median([r[2] for r in rainbow]), median([m[2] for m in minimal]), "s"),
    ]
