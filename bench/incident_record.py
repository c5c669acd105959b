"""Recording one event into a 1 000-event incident, beside a plain append of the same bytes.

``IncidentStore.record`` does what the console does for every timeline entry: check
the incident's rules, redact, encode the event's TOML table, ``pwrite`` it (padded so
it never crosses a page) and ``fdatasync``.  The baseline is the least any durable
recorder must do: ``write`` the same bytes to the end of a file and ``fdatasync``.
Both run in the same directory (on disk: ``fsync`` on tmpfs proves nothing) and
alternate, so drift hits both.  A header change rewrites the whole file (temp file,
``fsync``, ``os.replace``, ``fsync`` of the directory); its cost at 1 000 events is
shown too, as the reason events are appended rather than rewritten.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import Row

if TYPE_CHECKING:
    from rainbow_tui.incidents.model import Event, Incident

EVENTS = 1000
SAMPLES = 400
REWRITES = 40
NOTE = "Connections back under 50 after the reboot; watching the pool for another 10 minutes. "


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _incident_with_events(count: int) -> Incident:
    from rainbow_tui.incidents.model import (
        command_finished,
        command_started,
        new_incident,
        note,
    )
    from rainbow_tui.incidents.runbooks import pick_runbook

    start = datetime(2026, 11, 28, 3, 14, tzinfo=UTC)
    incident = new_incident(runbook=pick_runbook("database:db_connections"), at=start, author="a")
    n = 0
    while len(incident.events) < count:
        n += 1
        at = start + timedelta(seconds=n)
        event: Event
        if n % 3:
            event = note(incident, f"{NOTE}{n}", at=at, author="bench")
        else:
            started = command_started(
                incident, 0, "bundle exec kamal app details", "kamal", at=at, author="bench"
            )
            incident = incident.with_event(started)
            event = command_finished(
                incident,
                started,
                "ok",
                exit_code=0,
                duration_s=1.2,
                at=at,
                author="bench",
                excerpt="App Host: app-1\nCONTAINER ID   IMAGE\n0358451438b4   app:v1",
            )
        incident = incident.with_event(event)
    return incident


def bench_incident_record() -> list[Row]:
    from rainbow_tui.incidents.model import note
    from rainbow_tui.incidents.store import IncidentStore, encode_event

    directory = Path(tempfile.mkdtemp(prefix="rainbow-bench-incident-"))
    try:
        store = IncidentStore(directory / "state")
        incident = store.create(_incident_with_events(EVENTS))
        plain_fd = os.open(directory / "plain.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        record_ms: list[float] = []
        plain_ms: list[float] = []
        try:
            for n in range(SAMPLES):
                event = note(incident, f"{NOTE}sample {n}", author="bench")
                block = encode_event(event)
                started = time.perf_counter()
                incident = store.record(incident.id, event)
                record_ms.append((time.perf_counter() - started) * 1000)

                started = time.perf_counter()
                os.write(plain_fd, block)
                os.fdatasync(plain_fd)
                plain_ms.append((time.perf_counter() - started) * 1000)

            rewrite_ms: list[float] = []
            append_ms: list[float] = []
            for n in range(REWRITES):
                summary = f"draft {n}"

                def draft(current: Incident, summary: str = summary) -> Incident:
                    return current.with_postmortem(summary=summary)

                started = time.perf_counter()
                store.update(incident.id, draft)
                rewrite_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                os.write(plain_fd, block)
                os.fdatasync(plain_fd)
                append_ms.append((time.perf_counter() - started) * 1000)
        finally:
            os.close(plain_fd)
            store.close()
        size_kib = store.path(incident.id).stat().st_size / 1024
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    goal = "p99 <= 5 ms"
    return [
        Row(
            f"incident record, {EVENTS} events, p50 (vs append+fdatasync)",
            statistics.median(record_ms),
            statistics.median(plain_ms),
            "ms",
            goal,
        ),
        Row(
            f"incident record, {EVENTS} events, p99 (vs append+fdatasync)",
            _percentile(record_ms, 0.99),
            _percentile(plain_ms, 0.99),
            "ms",
            goal,
        ),
        Row(
            f"incident header rewrite, {size_kib:,.0f} KiB, p50 (vs append)",
            statistics.median(rewrite_ms),
            statistics.median(append_ms),
            "ms",
            "why events are appended",
        ),
    ]


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_incident_record(), header=True)
