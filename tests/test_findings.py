"""Judging readings and keeping alerts: pure logic, no servers needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rainbow_tui.config import parse_config
from rainbow_tui.findings import NO_DATA, evaluate, exit_status
from rainbow_tui.levels import Level
from rainbow_tui.monitor import AlertBook
from rainbow_tui.sources.database import DatabaseSnapshot
from rainbow_tui.sources.health import HealthSnapshot
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.queue import CappedCount, QueueProcess, QueueSnapshot
from rainbow_tui.sources.service_sources import Readings

CONFIG = parse_config(
    '[service]\nkamal_service = "shiojiri-rainbow-seeker"\nhealth_url = "http://127.0.0.1/up"\n',
    "test.toml",
)
T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _healthy(**changes: object) -> Readings:
    fields: dict[str, object] = {
        "health": HealthSnapshot(T0, "http://127.0.0.1/up", 200, 12.0),
        "database": DatabaseSnapshot(T0, connections=7, max_connections=100, version="16.2"),
        "queue": QueueSnapshot(
            T0,
            ready=CappedCount(3),
            scheduled=CappedCount(0),
            claimed=CappedCount(1),
            blocked=CappedCount(0),
            failed=CappedCount(0),
            processes=(QueueProcess(1, "Worker", "app-1", 42, "worker-1", 10.0),),
        ),
        "hosts": (HostSnapshot(T0, "db-1", ("db",), memory_percent=55.0, cpu_percent=20.0),),
    }
    fields.update(changes)
    return Readings(**fields)  # type: ignore[arg-type]


def _by_key(readings: Readings) -> dict[str, tuple[Level, str]]:
    return {f.key: (f.level, f.display) for f in evaluate(CONFIG, readings)}


def test_healthy_is_all_normal_and_exit_0() -> None:
    findings = evaluate(CONFIG, _healthy())
    assert exit_status(findings) == 0
    levels = {f.key: f.level for f in findings}
    assert levels["service:health"] is Level.NORMAL
    assert levels["queue:failed_jobs"] is Level.NORMAL
    # p95 and error rate have no source yet: shown as no data, never zero.
    assert _by_key(_healthy())["service:response_time_p95_ms"] == (Level.UNKNOWN, NO_DATA)


def test_service_down_is_critical() -> None:
    readings = _healthy(health=HealthSnapshot(T0, "u", 500, 3.0, error="HTTP 500"))
    findings = evaluate(CONFIG, readings)
    health = next(f for f in findings if f.key == "service:health")
    assert (health.level, health.severity) == (Level.CRITICAL, "critical")
    assert exit_status(findings) == 2


def test_queue_levels_and_capped_display() -> None:
    queue = _healthy().queue
    assert queue is not None
    backlog = QueueSnapshot(
        T0, ready=CappedCount(2001, capped=True), failed=CappedCount(12), processes=queue.processes
    )
    found = _by_key(_healthy(queue=backlog))
    assert found["queue:waiting_jobs"] == (Level.CRITICAL, "2,000+")
    assert found["queue:failed_jobs"][0] is Level.WARNING
    assert exit_status(evaluate(CONFIG, _healthy(queue=backlog))) == 2


def test_unreachable_parts_named_others_judged() -> None:
    readings = _healthy(
        database=DatabaseSnapshot(T0, error="connection refused (is PostgreSQL running?)"),
        hosts=(HostSnapshot(T0, "app-1", ("web",), error="connection timed out"),),
    )
    findings = evaluate(CONFIG, readings)
    reasons = {f.key: (f.level, f.reason) for f in findings}
    assert reasons["database:reachable"] == (
        Level.CRITICAL,
        "connection refused (is PostgreSQL running?)",
    )
    assert reasons["host app-1:reachable"] == (Level.CRITICAL, "connection timed out")
    assert reasons["service:health"][0] is Level.NORMAL


def test_missing_web_container_is_critical() -> None:
    host = HostSnapshot(T0, "app-1", ("web",), memory_percent=50.0, cpu_percent=10.0)
    found = _by_key(_healthy(hosts=(host,)))
    assert found["host app-1:container:web"] == (Level.CRITICAL, "not running")


def test_dead_process_warns() -> None:
    dead = QueueProcess(2, "Worker", "app-2", 77, "worker-2", 400.0)
    queue = QueueSnapshot(T0, ready=CappedCount(0), failed=CappedCount(0), processes=(dead,))
    found = _by_key(_healthy(queue=queue))
    assert found["queue:processes"][0] is Level.WARNING


def test_alert_clock_follows_severity_and_first_sighting() -> None:
    book = AlertBook(CONFIG)
    memory_80 = HostSnapshot(T0, "app-1", ("db",), memory_percent=85.0, cpu_percent=1.0)
    memory_95 = HostSnapshot(T0, "app-1", ("db",), memory_percent=95.0, cpu_percent=1.0)
    (first,) = book.update(evaluate(CONFIG, _healthy(hosts=(memory_80,))), T0)
    assert first.severity == "medium" and first.respond_by == T0 + timedelta(hours=8)
    later = T0 + timedelta(minutes=5)
    (again,) = book.update(evaluate(CONFIG, _healthy(hosts=(memory_95,))), later)
    assert again.first_seen == T0 and again.level is Level.CRITICAL
    assert book.update(evaluate(CONFIG, _healthy()), later) == ()
    down = _healthy(health=HealthSnapshot(T0, "u", error="timed out after 5 s"))
    (critical,) = book.update(evaluate(CONFIG, down), later)
    assert critical.respond_by - critical.first_seen == timedelta(minutes=15)
