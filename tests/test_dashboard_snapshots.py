"""SVG snapshots of the dashboard at 80×24 and 160×48, healthy and during a drill.

The states are fixed (values as the demo stack shows them), so a snapshot changes
only when the rendering does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.pilot import Pilot

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.config import parse_config
from rainbow_tui.findings import evaluate
from rainbow_tui.logs.parse import parse_line
from rainbow_tui.logs.request_stats import RequestStats
from rainbow_tui.monitor import AlertBook, MonitorState
from rainbow_tui.sources.database import DatabaseSnapshot, QueryActivity
from rainbow_tui.sources.health import HealthSnapshot
from rainbow_tui.sources.host_parsing import ContainerInfo, DiskUsage, LoadAvg
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.queue import CappedCount, FailureGroup, QueueProcess, QueueSnapshot
from rainbow_tui.sources.service_sources import Readings

CONFIG = parse_config(
    '[service]\nname = "Shiojiri Rainbow Seeker (demo)"\nkamal_service = "shiojiri-rainbow-seeker"\n'
    'health_url = "http://127.0.0.1:8080/up"\n'
    '[[hosts]]\nname = "app-1"\naddress = "127.0.0.1"\nroles = ["web", "job"]\n'
    '[[hosts]]\nname = "db-1"\naddress = "127.0.0.1"\nroles = ["db"]\n',
    "snapshot.toml",
)
NOW = datetime(2026, 11, 28, 3, 14, 15, tzinfo=UTC)
VERSION = "5c63591f5099a1b2c3d4e5f60718293a4b5c6d7e"


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _container(role: str) -> ContainerInfo:
    name = f"shiojiri-rainbow-seeker-{role}-{VERSION}"
    # Kamal 2 always sets the destination label, empty without a destination
    # (basecamp/kamal test/commands/app_test.rb: "--label destination").
    labels = {"service": "shiojiri-rainbow-seeker", "role": role, "destination": ""}
    return ContainerInfo(
        id="0123456789ab",
        image=f"registry.example/app:{VERSION}",
        names=name,
        state="running",
        status="Up 3 hours",
        labels=labels,
        service="shiojiri-rainbow-seeker",
        role=role,
        destination="",
        version=VERSION,
    )


def _proxy_container() -> ContainerInfo:
    return ContainerInfo(
        id="fedcba987654", image="basecamp/kamal-proxy:v0.8.7", names="kamal-proxy",
        state="running", status="Up 12 days", labels={}, service=None, role=None,
        destination=None, version=None,
    )


def _readings(drill: bool) -> Readings:
    stats = RequestStats()
    for second in range(120):
        for index in range(5):
            slow = drill and index == 0
            stats.add(
                NOW.timestamp() - second,
                900.0 if slow else 40.0 + index * 12,
                500 if drill and index < 2 else 200,
            )
    health = (
        HealthSnapshot(NOW, CONFIG.service.health_url, 500, 4.0, error="HTTP 500")
        if drill
        else HealthSnapshot(NOW, CONFIG.service.health_url, 200, 3.0)
    )
    app_memory = 84.6 if drill else 55.8
    hosts = (
        HostSnapshot(
            NOW,
            "app-1",
            ("web", "job"),
            memory_percent=app_memory,
            cpu_percent=18.9,
            load=LoadAvg(0.4, 0.3, 0.2, 1, 180),
            disks=(DiskUsage("/dev/vda1", "40G", "17G", "23G", 44.0, "/"),),
            # Kamal 2 runs kamal-proxy on every web host (lib/kamal/configuration/proxy/boot.rb).
            containers=(_container("web"), _container("job"), _proxy_container()),
        ),
        HostSnapshot(
            NOW,
            "db-1",
            ("db",),
            memory_percent=50.9,
            cpu_percent=20.7,
            disks=(
                DiskUsage("/dev/vda1", "40G", "17G", "23G", 43.0, "/"),
                DiskUsage("/dev/vdb", "100G", "47G", "53G", 47.0, "/var/lib/postgresql/data"),
            ),
        ),
    )
    database = DatabaseSnapshot(
        NOW,
        connections=6,
        max_connections=100,
        reserved_connections=3,
        role="rainbow_monitor",
        by_state={"idle": 5, "active": 1},
        longest=(
            QueryActivity(
                4242,
                "rainbow",
                "127.0.0.1",
                "puma: cluster worker 0",
                "active",
                "",
                "SELECT \x1b[31m[bold]rainbows[/bold] FROM rainbow_sightings",
                12.0,
            ),
        ),
        size_bytes=8_700_000,
        database="shiojiri_rainbow_seeker_production",
        version="16.2",
        uptime_s=3600.0,
    )
    failures = (
        (
            FailureGroup(
                "Aws::S3::Errors::ServiceUnavailable",
                60,
                "2026-11-28 03:13:58",
                "Service Unavailable",
                61,
            ),
        )
        if drill
        else ()
    )
    queue = QueueSnapshot(
        NOW,
        ready=CappedCount(3),
        scheduled=CappedCount(2),
        claimed=CappedCount(1),
        blocked=CappedCount(0),
        failed=CappedCount(60 if drill else 0),
        # The drill's storm is minutes old: all of it inside the last hour.
        new_failures=CappedCount(60 if drill else 0),
        ready_by_queue={"default": 2, "images": 1},
        oldest_ready_s=0.4,
        latency_by_queue={"default": 0.4, "images": 0.2},
        failed_by_class=failures,
        processes=tuple(
            QueueProcess(i, kind, "app-1", 100 + i, f"{kind.lower()}-{i}", 12.0)
            for i, kind in enumerate(("Supervisor", "Worker", "Dispatcher"))
        ),
    )
    return Readings(health, database, queue, hosts, requests=stats.snapshot(NOW.timestamp()))


def _state(drill: bool) -> MonitorState:
    readings = _readings(drill)
    findings = evaluate(CONFIG, readings)
    book = AlertBook(CONFIG)
    book.update(findings, NOW - timedelta(minutes=4))
    alerts = book.update(findings, NOW)
    history = {
        "service:response_time_p95_ms": tuple(float(40 + (i * 7) % 60) for i in range(40)),
        "database:db_connections": tuple(float(5 + i % 3) for i in range(40)),
        "queue:waiting_jobs": tuple(float((i * 3) % 9) for i in range(40)),
    }
    from rainbow_tui.findings import overall

    return MonitorState(
        readings, tuple(findings), alerts, overall(findings), history, updated_at=NOW
    )


LOG_LINES = [
    '2026-11-28T03:14:10.100000000Z [a1b2c3d4] Started GET "/api/v1/rainbows" for 203.0.113.5 at 2026-11-28 12:14:10 +0900',
    "2026-11-28T03:14:10.145000000Z [a1b2c3d4] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms (3 queries, 0 cached) | GC: 0.4ms)",
    "2026-11-28T03:14:11.002000000Z [e5f6a7b8] Completed 500 Internal Server Error in 3ms (ActiveRecord: 0.0ms)",
    "2026-11-28T03:14:11.003000000Z [e5f6a7b8] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds)",
    "2026-11-28T03:14:12.500000000Z Performed RainbowSightingNotifyJob (Job ID: 3b6a) from SolidQueue(default) in 123.4ms",
    "2026-11-28T03:14:13.000000000Z \x1b[31m[bold]not markup[/bold]\x1b]8;;http://x\x1b\\",
]


def _run_before(drill: bool) -> Callable[[Pilot[Any]], Any]:
    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, RainbowApp)
        await pilot.pause()
        app.dashboard.show_state(_state(drill))
        app.dashboard.log_pane.attach()
        await pilot.pause()  # the view mounted
        view = app.dashboard.log_pane.log_view
        view.buffer.append_many(parse_line(line, "app-1", "web") for line in LOG_LINES)
        view.flush()  # now, rather than at the next frame
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("drill", [False, True], ids=["healthy", "drill"])
def test_dashboard_snapshot(snap_compare: Any, size: tuple[int, int], drill: bool) -> None:
    app = make_app(CONFIG, autostart=False)
    assert snap_compare(app, terminal_size=size, run_before=_run_before(drill))
