"""Event-loop lag of the running console while ~10 000 log lines/s stream in,
beside the same console idle.

The console is the real app (``make_app(demo_config(endpoints))``) run headless
with ``run_test`` against a demo stack: it polls every source and follows the
web and job containers' logs over SSH.  A probe task on the app's event loop
sleeps 10 ms again and again and records how late it wakes.  The stack starts
with every log generator at 0 lines/s; the idle phase is measured first, then
the followed containers are asked for 10 000 lines/s between them and, after a
short ramp, the loaded phase is measured the same way.  Full (generation 2) garbage
collections are timed in both phases through ``gc.callbacks``, for reading: a pause
of the whole loop that grows with every object the console holds.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.report import Row

TARGET_LINES_PER_S = 10_000
PHASE_S = 15.0
RAMP_S = 3.0
PROBE_SLEEP_S = 0.010
READY_TIMEOUT_S = 60.0


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _lag(seconds: float, full_gcs: list[float] | None = None) -> list[float]:
    """Overshoots (s) of repeated 10 ms sleeps on the running loop; the duration (s)
    of each full garbage collection meanwhile goes to ``full_gcs``."""
    started_gc: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started_gc.append(time.perf_counter())
        elif started_gc and full_gcs is not None:
            full_gcs.append(time.perf_counter() - started_gc.pop())

    gc.callbacks.append(on_gc)
    overshoots: list[float] = []
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            started = time.perf_counter()
            await asyncio.sleep(PROBE_SLEEP_S)
            overshoots.append(time.perf_counter() - started - PROBE_SLEEP_S)
    finally:
        gc.callbacks.remove(on_gc)
    return overshoots


def _lines(app: Any) -> int:
    return sum(stream.lines for stream in app.session.log_tail.streams)


async def _run(state_dir: Path) -> list[Row]:
    from rainbow_tui.app import make_app
    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import demo_config, demo_dsn_variables, export_demo_dsn

    stack = await asyncio.to_thread(start_demo_stack, state_dir, (), 0.0, 2)
    saved = {name: os.environ.get(name) for name in demo_dsn_variables(stack.endpoints)}
    try:
        endpoints = stack.endpoints
        export_demo_dsn(endpoints)
        app = make_app(demo_config(endpoints))
        async with app.run_test(size=(160, 48)) as pilot, \
                httpx.AsyncClient(trust_env=False, timeout=60) as http:
            deadline = time.monotonic() + READY_TIMEOUT_S

            def ready() -> bool:
                tail = app.session.log_tail
                return (app.session.latest is not None and tail is not None and bool(tail.streams)
                        and all(s.state == "streaming" for s in tail.states.values())
                        and len(tail.states) == len(tail.streams))

            while not ready():
                if time.monotonic() > deadline:
                    raise RuntimeError("the console did not start streaming in time")
                await pilot.pause(0.2)
            streams = app.session.log_tail.streams
            await asyncio.sleep(2.0)  # the tails' backlog in, a poll or two done

            lines_before = _lines(app)
            idle_gcs: list[float] = []
            idle = await _lag(PHASE_S, idle_gcs)
            idle_rate = (_lines(app) - lines_before) / PHASE_S

            per_container = TARGET_LINES_PER_S / len(streams)
            for stream in streams:
                response = await http.post(
                    f"{endpoints.control_url}/logs/rate",
                    json={"host": stream.host, "container": stream.container_name,
                          "lines_per_s": per_container})
                response.raise_for_status()
            await asyncio.sleep(RAMP_S)
            lines_before = _lines(app)
            started = time.perf_counter()
            loaded_gcs: list[float] = []
            loaded = await _lag(PHASE_S, loaded_gcs)
            tracked = len(gc.get_objects())
            loaded_rate = (_lines(app) - lines_before) / (time.perf_counter() - started)
            await http.post(f"{endpoints.control_url}/logs/rate", json={"lines_per_s": 0})
            app.exit()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        await asyncio.to_thread(stack.stop)
    label = f"{loaded_rate:,.0f} vs {idle_rate:,.0f} lines/s"
    return [
        Row(f"event-loop lag p99 ({label})", _percentile(loaded, 0.99) * 1000,
            _percentile(idle, 0.99) * 1000, "ms", "p99 < 50 ms"),
        Row("event-loop lag p50 (same runs)", _percentile(loaded, 0.5) * 1000,
            _percentile(idle, 0.5) * 1000, "ms", "for reading"),
        Row("event-loop lag max (same runs)", max(loaded) * 1000, max(idle) * 1000, "ms",
            "for reading"),
        Row("full GC collections (same runs)", len(loaded_gcs), len(idle_gcs), "",
            f"for reading; {tracked:,} objects tracked after the loaded phase"),
        Row("longest full GC (same runs)", max(loaded_gcs, default=0.0) * 1000,
            max(idle_gcs, default=0.0) * 1000, "ms", "for reading"),
    ]


def bench_event_loop_lag() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="rtui-bench-lag-"))
    try:
        return asyncio.run(_run(state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_event_loop_lag(), header=True)
