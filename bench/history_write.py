"""One history write per poll, beside a plain ``json.dumps`` of the same snapshot.

What the session hands the history's thread after each judged poll: every finding's
value by its key (here 24, a two-host service's), upserted into their minutes in one
transaction (WAL, ``synchronous = NORMAL``).  The file already holds a day of them,
so the upserts meet a real index.  The baseline is the least any keeper of the
snapshot must do: encode it.  Both alternate, so drift hits both.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Row

SAMPLES = 600
# A day of minutes already held, as after a day's run.
PREFILLED_MINUTES = 24 * 60
POLL_S = 2.0


def _snapshot() -> dict[str, float]:
    points = {
        "service:response_time_p95_ms": 121.4,
        "service:error_rate_percent": 0.3,
        "service:requests_per_minute": 67.2,
        "database:db_connections": 23.0,
        "database:db_query_time_ms": 41.0,
        "database:size_bytes": 734_003_200.0,
        "queue:waiting_jobs": 4.0,
        "queue:failed_jobs": 0.0,
        "queue:job_processing_time_s": 1.2,
    }
    for host in ("app-1", "app-2", "db-1"):
        points[f"host {host}:memory_percent"] = 61.0
        points[f"host {host}:cpu_percent"] = 12.0
        points[f"host {host}:disk:/"] = 48.0
        points[f"host {host}:disk:/var/lib/docker"] = 33.0
        points[f"host {host}:load"] = 0.4
    return points


def bench_history_write() -> list[Row]:
    from rainbow_tui.history import MINUTE_S, History

    directory = Path(tempfile.mkdtemp(prefix="rainbow-bench-history-"))
    try:
        points = _snapshot()
        start = time.time() - PREFILLED_MINUTES * MINUTE_S
        with History(directory / "history.sqlite3") as history:
            for minute in range(PREFILLED_MINUTES):
                history.record(points, at=start + minute * MINUTE_S)
            now = time.time()
            write_ms: list[float] = []
            dumps_ms: list[float] = []
            for n in range(SAMPLES):
                at = now + n * POLL_S
                began = time.perf_counter()
                history.record(points, at=at)
                write_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                json.dumps({"at": at, "points": points})
                dumps_ms.append((time.perf_counter() - began) * 1000)
            size_mb = history.size_bytes() / 1024 / 1024
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    write, dumps = statistics.median(write_ms), statistics.median(dumps_ms)
    return [
        Row(f"history write per poll ({len(points)} metrics)", write, dumps, "ms",
            "off the event loop; ≪ a 2 s poll"),
        Row("history file, a day of minutes", size_mb, 128.0 / 35, "MB",
            "35 days under the default max_mb (128)"),
    ]
