"""Judging readings and keeping alerts: pure logic, no servers needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rainbow_tui.config import parse_config
from rainbow_tui.findings import NO_DATA, Finding, evaluate, exit_status
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
            new_failures=CappedCount(0),
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
    assert levels["queue:failed_backlog"] is Level.NORMAL
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
        T0,
        ready=CappedCount(2001, capped=True),
        failed=CappedCount(12),
        new_failures=CappedCount(12),
        processes=queue.processes,
    )
    found = _by_key(_healthy(queue=backlog))
    assert found["queue:waiting_jobs"] == (Level.CRITICAL, "2,000+")
    assert found["queue:failed_jobs"] == (Level.WARNING, "12")
    # The same twelve: raised once, by the failures of the last hour.
    assert found["queue:failed_backlog"] == (Level.ELEVATED, "12")
    assert exit_status(evaluate(CONFIG, _healthy(queue=backlog))) == 2


def _queue_findings(**changes: object) -> dict[str, Finding]:
    fields: dict[str, object] = {
        "ready": CappedCount(0),
        "failed": CappedCount(0),
        "new_failures": CappedCount(0),
        "processes": (QueueProcess(1, "Worker", "app-1", 42, "worker-1", 10.0),),
    }
    fields.update(changes)
    queue = QueueSnapshot(T0, **fields)  # type: ignore[arg-type]
    return {f.key: f for f in evaluate(CONFIG, _healthy(queue=queue)) if f.component == "queue"}


def test_stale_failed_backlog_warns_without_paging() -> None:
    # Solid Queue never clears failed executions (app/models/solid_queue/
    # failed_execution.rb: only retry and discard remove one), so sixty failures
    # of last week are a clean-up, not an emergency.
    found = _queue_findings(failed=CappedCount(60), new_failures=CappedCount(0))
    backlog, recent = found["queue:failed_backlog"], found["queue:failed_jobs"]
    assert (backlog.label, backlog.display, backlog.level) == (
        "Failed (backlog)",
        "60",
        Level.WARNING,
    )
    assert backlog.severity == "medium"
    assert "held at warning" in backlog.reason and "0 in the last hour" in backlog.reason
    assert (recent.label, recent.level) == ("Failed in last hour", Level.NORMAL)
    assert exit_status(list(found.values())) == 1


def test_new_failures_drive_critical() -> None:
    found = _queue_findings(failed=CappedCount(70), new_failures=CappedCount(51))
    assert found["queue:failed_jobs"].level is Level.CRITICAL
    assert found["queue:failed_jobs"].severity == "high"
    # One cause, one alert: the backlog is shown beside it, not raised again.
    assert found["queue:failed_backlog"].level is Level.ELEVATED
    assert found["queue:failed_backlog"].reason == "the 51 failures of the last hour alert already"
    # A few new ones on a small old backlog: shown, both below alerting.
    found = _queue_findings(failed=CappedCount(8), new_failures=CappedCount(2))
    assert found["queue:failed_jobs"].level is Level.ELEVATED
    assert found["queue:failed_backlog"].level is Level.ELEVATED
    assert (
        found["queue:failed_backlog"].reason
        == "kept until retried or discarded; 2 in the last hour"
    )
    # The sample ran out inside the window: "more than", still critical.
    found = _queue_findings(
        failed=CappedCount(1001, capped=True), new_failures=CappedCount(300, capped=True)
    )
    assert (found["queue:failed_jobs"].display, found["queue:failed_jobs"].level) == (
        "299+",
        Level.CRITICAL,
    )


def test_new_failures_window_named_in_the_label() -> None:
    found = _queue_findings(new_failures=CappedCount(0), new_failures_window_s=1800.0)
    assert found["queue:failed_jobs"].label == "Failed, last 30 min"


def test_latency_per_queue_is_information() -> None:
    # The manual (監視項目) has no latency line: normal, elevated only while the
    # queue itself is past the waiting-jobs normal line (100), never an alert.
    found = _queue_findings(
        ready=CappedCount(160),
        ready_by_queue={"default": 40, "images": 120},
        latency_by_queue={"default": 2.5, "images": 900.0},
    )
    default, images = found["queue:latency:default"], found["queue:latency:images"]
    assert (default.label, default.display, default.level) == (
        "Latency default",
        "2.5 s",
        Level.NORMAL,
    )
    assert (images.display, images.level, images.severity) == ("900.0 s", Level.ELEVATED, None)
    assert "120 ready" in images.reason
    assert exit_status(list(found.values())) == 0


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


def test_dead_after_the_configured_alive_threshold_boundary_included() -> None:
    # app/models/solid_queue/process/prunable.rb: prunable is
    # ``last_heartbeat_at <= process_alive_threshold.ago``, so silence of exactly
    # the threshold is dead.
    at_line = QueueProcess(2, "Worker", "app-2", 77, "worker-2", 120.0, alive_threshold_s=120.0)
    assert at_line.dead
    assert not QueueProcess(2, "Worker", "app-2", 77, "w", 119.9, alive_threshold_s=120.0).dead
    assert QueueProcess(2, "Worker", "app-2", 77, "w", 300.0).dead  # upstream's 5 min default
    processes = _queue_findings(processes=(at_line,))["queue:processes"]
    assert processes.level is Level.WARNING
    assert processes.reason == "no heartbeat for 2 min or more: Worker app-2:77"


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


def test_a_finding_carries_its_code_and_values_and_says_them_in_either_language() -> None:
    from rainbow_tui.text import language

    readings = _healthy(database=DatabaseSnapshot(
        T0, connections=45, max_connections=50, reserved_connections=3, version="16.2"))
    found = {f.key: f for f in evaluate(CONFIG, readings)}
    connections = found["database:db_connections"]
    # 45 is below the manual's normal line, but 96 % of the 47 usable slots is past
    # its critical line: the code says which sentence, the values what it holds.
    assert connections.level is Level.CRITICAL
    assert connections.code == "finding.db.connections.share"
    assert connections.values["usable"] == 47 and connections.values["reserved"] == 3
    assert round(float(str(connections.values["share"]))) == 96
    english, japanese = language("en"), language("ja")
    assert connections.reason_phrase.text(english) == (
        "96 % of the 47 usable slots (50 max, 3 reserved) is past the manual's line as a share"
    )
    assert connections.reason_phrase.text(japanese) == (
        "利用可能な 47 枠（最大 50、予約 3）の 96 %: 割合で見ると運用マニュアルの閾値を超えています"
    )
    assert connections.alert_title(english) == "database: Connections 45 / 47 usable (96 %)"
    assert connections.alert_title(japanese) == "データベース: 接続数 45 / 利用可能 47（96 %）"
