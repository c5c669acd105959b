"""Resident memory after 1 000 000 parsed lines into a ``LogBuffer`` (default bound,
100 000), beside 10 000 lines into the same bound.

Each count runs in a fresh interpreter, so each starts clean.  Lines come from the
demo stack's own generators (Rails web and job lines, kamal-proxy JSON), stamped
the way ``docker logs --timestamps`` does, produced on the fly in batches of 500
(no pool of raw text is kept) and made into lines with ``parse_line``; the batches go
to ``LogBuffer.append_many`` as a stream would deliver them.  Lines are parsed when a
field is first read, so each batch is also read as the console's log tail reads it
(request statistics parse the Rails ``Completed`` lines): what the console holds.
RSS is read with psutil after a full ``gc.collect()``.

For reading, 100 000 lines (the bound exactly: the same number of lines held as
after 1 000 000) separates what the bound holds from what the churn costs, and the
bytes per held line follow from 10 000 → 100 000.  Also for reading, the worst case:
1 000 000 lines of which every one was read (a level filter over the whole buffer
parses every line it holds).
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench.report import Row

BATCH = 500
CHILD_TIMEOUT_S = 150

CHILD = """
import gc, json, random, sys, time
import psutil
from rainbow_tui.demo.faults import FaultState
from rainbow_tui.demo.loggen import (
    JobLogSource, LogContext, ProxyLogSource, WebLogSource, docker_timestamp)
from rainbow_tui.logs.buffer import LogBuffer
from rainbow_tui.logs.parse import LogKind, parse_line
from rainbow_tui.logs.request_stats import request_sample

count, batch_size, read_all = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "all"
context = LogContext(FaultState(), lambda: True, lambda: "3f2a9c1")
sources = [
    ("app-1", "web", WebLogSource(random.Random(1), context)),
    ("app-2", "web", WebLogSource(random.Random(2), context)),
    ("app-1", "job", JobLogSource(random.Random(3), context)),
    ("app-1", "proxy", ProxyLogSource(random.Random(4), context, ecs=True)),
]
buffer = LogBuffer()
process = psutil.Process()
gc.collect()
start_rss = process.memory_info().rss
stamp = time.time_ns()
appended = 0
started = time.perf_counter()
while appended < count:
    batch = []
    while len(batch) < batch_size and appended + len(batch) < count:
        for host, container, source in sources:
            for text in source.next_lines(stamp):
                batch.append(parse_line(docker_timestamp(stamp) + " " + text, host, container))
                stamp += 37_000
    batch = batch[: count - appended]
    for line in batch:
        if read_all:
            line.level
        elif line.could_be(LogKind.RAILS_COMPLETED):  # as LogTail does
            request_sample(line, "rails")
    buffer.append_many(batch)
    appended += len(batch)
    del batch
gc.collect()
print(json.dumps({"rss": process.memory_info().rss, "start_rss": start_rss,
                  "held": len(buffer), "seconds": time.perf_counter() - started}))
"""


def _child(count: int, read: str = "tail") -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(count), str(BATCH), read],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=True,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def bench_log_memory() -> list[Row]:
    small = _child(10_000)
    full = _child(100_000)
    huge = _child(1_000_000)
    every = _child(1_000_000, "all")
    if huge["held"] != 100_000 or small["held"] != 10_000:
        raise RuntimeError(f"unexpected buffer sizes: {huge['held']}, {small['held']}")
    mb = 1024 * 1024
    per_line = (full["rss"] - small["rss"]) / (full["held"] - small["held"])
    return [
        Row("RSS after 1M lines vs 10k (bound 100k)", huge["rss"] / mb, small["rss"] / mb,
            "MB", "<= 1.2x"),
        Row("RSS after 1M lines vs 100k (bound 100k)", huge["rss"] / mb, full["rss"] / mb,
            "MB", f"for reading: same lines held; ~{per_line:,.0f} B per held line"),
        Row("  RSS at start (imports, no lines)", huge["start_rss"] / mb,
            small["start_rss"] / mb, "MB", "for reading: 1M child vs 10k child"),
        Row("RSS after 1M lines, every one parsed", every["rss"] / mb, huge["rss"] / mb,
            "MB", "for reading: vs parsed as the log tail does"),
    ]


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_log_memory(), header=True)
