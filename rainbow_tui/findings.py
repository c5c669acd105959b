"""Readings judged against the manual: one ``Finding`` per component and metric.

A source that could not be asked is a finding too: the service not answering is
critical (サービス停止), an unreachable host or database is critical with the reason,
and a metric with no source yet (request p95 before the log tail runs) is
"no data", never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rainbow_tui.config import Config, Threshold
from rainbow_tui.levels import Level, Severity, worst
from rainbow_tui.sources.database import DatabaseSnapshot
from rainbow_tui.sources.host_parsing import ContainerInfo
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.kamal_containers import (
    KamalLayout,
    accessory_container,
    current_container,
    layout_from_config,
)
from rainbow_tui.sources.queue import QueueSnapshot
from rainbow_tui.sources.service_sources import Readings

NO_DATA = "no data"
REQUEST_WINDOW_S = 300


@dataclass(frozen=True, slots=True)
class Finding:
    component: str  # "service", "database", "queue", "host app-1"
    metric: str  # stable key: "health", "memory_percent", ...
    label: str  # what a person reads: "Memory"
    display: str  # the value as shown: "63.2 %", "2,000+", "no data"
    level: Level
    severity: Severity | None = None
    value: float | None = None
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.component}:{self.metric}"


def _number(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{value:,.0f}"


def _judged(
    component: str,
    metric: str,
    label: str,
    value: float | None,
    threshold: Threshold,
    display: str | None = None,
) -> Finding:
    level = threshold.level(value)
    if value is None:
        return Finding(component, metric, label, NO_DATA, Level.UNKNOWN)
    return Finding(
        component,
        metric,
        label,
        display if display is not None else _number(value, threshold.unit),
        level,
        threshold.severity(level),
        value,
    )


def _failure(component: str, metric: str, label: str, reason: str) -> Finding:
    return Finding(component, metric, label, "down", Level.CRITICAL, "high", reason=reason)


def evaluate(config: Config, readings: Readings) -> list[Finding]:
    findings: list[Finding] = []
    findings += _service(config, readings)
    findings += _database(config, readings)
    findings += _queue(config, readings)
    findings += _queue_privileges(readings)
    findings += _pool_timeouts(readings)
    for host in readings.hosts:
        findings += _host(config, host)
    return findings


def _service(config: Config, readings: Readings) -> list[Finding]:
    thresholds = config.thresholds
    health = readings.health
    found: list[Finding] = []
    if health is None:
        found.append(Finding("service", "health", "/up", NO_DATA, Level.UNKNOWN))
    elif health.up:
        latency = f"200 OK in {health.latency_ms:,.0f} ms" if health.latency_ms else "200 OK"
        found.append(Finding("service", "health", "/up", latency, Level.NORMAL))
    else:
        # A server that answers too slowly (a drip of bytes, a stall) is no more
        # serving than one that refuses: critical as well, with what it did send.
        what = "service not answering in time" if health.timed_out else "service down"
        found.append(
            Finding(
                "service",
                "health",
                "/up",
                health.error or "down",
                Level.CRITICAL,
                "critical",
                reason=f"{what}: {health.error}",
            )
        )
    if health is not None and (health.tls_days_left is not None or health.tls_error):
        found.append(_certificate(config, health.tls_days_left, health.tls_error))
    # Fed by the log tail, judged over 5 minutes; with no requests seen there
    # is no data, which is not zero.
    window = readings.requests.window(REQUEST_WINDOW_S) if readings.requests else None
    p95 = window.p95_ms if window else None
    errors = window.error_percent if window else None
    count = f" ({window.request_count:,} req / 5 min)" if window and window.request_count else ""
    found.append(
        _judged(
            "service",
            "response_time_p95_ms",
            "p95",
            p95,
            thresholds.response_time_p95_ms,
            f"{p95:,.0f} ms{count}" if p95 is not None else None,
        )
    )
    found.append(
        _judged(
            "service",
            "error_rate_percent",
            "5xx rate",
            errors,
            thresholds.error_rate_percent,
            f"{errors:.2f} %" if errors is not None else None,
        )
    )
    return found


def _certificate(config: Config, days_left: float | None, error: str | None) -> Finding:
    if days_left is None:
        return Finding(
            "service", "tls_days_left", "TLS cert", "unknown", Level.UNKNOWN, reason=error or ""
        )
    service = config.service
    severity: Severity | None
    if days_left < service.tls_critical_days:
        level, severity = Level.CRITICAL, "critical"
    elif days_left < service.tls_warn_days:
        level, severity = Level.WARNING, "medium"
    else:
        level, severity = Level.NORMAL, None
    return Finding(
        "service",
        "tls_days_left",
        "TLS cert",
        f"{days_left:.0f} days left",
        level,
        severity,
        days_left,
    )


def _database(config: Config, readings: Readings) -> list[Finding]:
    thresholds = config.thresholds
    database = readings.database
    if readings.database_missing:
        return [
            Finding(
                "database",
                "reachable",
                "PostgreSQL",
                "not configured",
                Level.UNKNOWN,
                reason=readings.database_missing,
            )
        ]
    if database is None:
        return [Finding("database", "reachable", "PostgreSQL", NO_DATA, Level.UNKNOWN)]
    if database.error is not None:
        return [_failure("database", "reachable", "PostgreSQL", database.error)]
    blind = not database.read_all_stats
    return [
        Finding("database", "reachable", "PostgreSQL", f"up, {database.version}", Level.NORMAL),
        _privileges(database),
        _connections(thresholds.db_connections, database),
        _blind("db_query_time_ms", "Longest query", database)
        if blind
        else _judged(
            "database",
            "db_query_time_ms",
            "Longest query",
            database.longest_query_ms,
            thresholds.db_query_time_ms,
        ),
    ]


def _pool_timeouts(readings: Readings) -> list[Finding]:
    """ActiveRecord's pool exhausted: ``ConnectionTimeoutError`` in the app's log.
    The database may look healthy from outside (its connections below the lines)
    while Puma's threads wait for the pool, so this is a finding of its own; the
    manual ranks database connection errors High (データベース接続エラー)."""
    requests = readings.requests
    if requests is None:
        return []
    count = requests.pool_timeouts_last_minute
    if not count:
        return [Finding("database", "pool_timeouts", "Pool timeouts", "0 / min", Level.NORMAL,
                        value=0.0)]
    return [
        Finding(
            "database",
            "pool_timeouts",
            "Pool timeouts",
            f"{count} / min",
            Level.WARNING,
            "high",
            float(count),
            reason="ActiveRecord::ConnectionTimeoutError in the app's log: the connection "
            "pool is exhausted (check pool size against Puma threads and DB connections)",
        )
    ]


def _queue_privileges(readings: Readings) -> list[Finding]:
    """Missing reads leave the Jobs pane blind (a warning); missing writes only
    make retry / discard / pause fail (shown, no alert)."""
    privileges = readings.queue_privileges
    if privileges is None or privileges.error is not None:
        return []
    grants = privileges.grants()
    if not grants:
        return [
            Finding(
                "queue", "privileges", "Privileges", "all granted", Level.NORMAL,
                reason=f"role {privileges.role} in {privileges.database}",
            )
        ]
    level = Level.WARNING if privileges.unreadable else Level.ELEVATED
    what = "reads" if privileges.unreadable else "job actions"
    return [
        Finding(
            "queue",
            "privileges",
            "Privileges",
            f"{what} not allowed",
            level,
            "medium" if level is Level.WARNING else None,
            float(len(privileges.unreadable) + len(privileges.unwritable)),
            reason=f"role {privileges.role} in database {privileges.database}; run as its owner: "
            + " ".join(grants),
        )
    ]


def monitor_grant(role: str, privilege: str) -> str:
    return f"GRANT {privilege} TO {role or 'the monitoring role'};"


def _privileges(database: DatabaseSnapshot) -> Finding:
    """What the role may not do, with the GRANT that fixes it.  Without
    pg_read_all_stats the console is blind to other roles' sessions (a warning:
    it would miss the incident it exists for); without pg_signal_backend only
    cancel / terminate fail (shown, no alert)."""
    missing: list[str] = []
    level = Level.NORMAL
    if not database.read_all_stats:
        missing.append(
            f"{monitor_grant(database.role, 'pg_monitor')} (sees {database.hidden} "
            "other sessions without state or query)"
        )
        level = Level.WARNING
    if not database.signal_backend:
        missing.append(
            f"{monitor_grant(database.role, 'pg_signal_backend')} (cancel / terminate "
            "other roles' backends)"
        )
        level = worst([level, Level.ELEVATED])
    if not missing:
        return Finding(
            "database", "privileges", "Privileges", "all granted", level,
            reason=f"role {database.role}",
        )
    return Finding(
        "database",
        "privileges",
        "Privileges",
        f"{len(missing)} missing",
        level,
        "medium" if level is Level.WARNING else None,
        float(len(missing)),
        reason=f"role {database.role}; run as a superuser: " + "; ".join(missing),
    )


def _blind(metric: str, label: str, database: DatabaseSnapshot) -> Finding:
    return Finding(
        "database",
        metric,
        label,
        "unknown",
        Level.UNKNOWN,
        reason=f"role {database.role} cannot see other roles' queries: "
        + monitor_grant(database.role, "pg_monitor"),
    )


def _connections(threshold: Threshold, database: DatabaseSnapshot) -> Finding:
    """The manual's lines (written for 100 slots) and the same lines as a share of
    the slots the app can take (max_connections less the reserved ones): a server
    with fewer slots runs out before the manual's numbers say so.  The worse of
    the two counts; both are shown."""
    connections = database.connections
    usable = database.usable_connections
    absolute = _judged("database", "db_connections", "Connections", connections, threshold)
    if connections is None or not usable or usable <= 0:
        return absolute
    share = connections / usable * 100
    by_share = threshold.level(share)
    level = worst([absolute.level, by_share])
    # The value column holds about 24 characters: when sessions are hidden, that
    # matters more than the share.
    if database.hidden and not database.read_all_stats:
        display = f"{connections} / {usable} ({database.hidden} hidden)"
    else:
        display = f"{connections} / {usable} usable ({share:.0f} %)"
    reason = ""
    if by_share.rank > absolute.level.rank:
        reason = (
            f"{share:.0f} % of the {usable} usable slots ({database.max_connections} max, "
            f"{database.reserved_connections} reserved) is past the manual's line as a share"
        )
    return Finding(
        "database",
        "db_connections",
        "Connections",
        display,
        level,
        threshold.severity(level),
        float(connections),
        reason=reason,
    )


def _queue(config: Config, readings: Readings) -> list[Finding]:
    thresholds = config.thresholds
    queue = readings.queue
    if readings.database_missing or queue is None:
        return []
    if queue.error is not None:
        return [_failure("queue", "reachable", "Solid Queue", queue.error)]
    assert queue.ready is not None and queue.failed is not None
    found = [
        _judged(
            "queue",
            "waiting_jobs",
            "Waiting",
            queue.ready.value,
            thresholds.waiting_jobs,
            str(queue.ready),
        ),
        *_queue_failures(config, queue),
        _judged(
            "queue",
            "job_processing_time_s",
            "Longest job",
            queue.longest_running_s,
            thresholds.job_processing_time_s,
        ),
        *_queue_latencies(config, queue),
    ]
    dead = [process for process in queue.processes if process.dead]
    if dead:
        names = ", ".join(f"{p.kind} {p.hostname}:{p.pid}" for p in dead)
        silence = _span(dead[0].alive_threshold_s)
        found.append(
            Finding(
                "queue",
                "processes",
                "Processes",
                f"{len(dead)} dead",
                Level.WARNING,
                "medium",
                float(len(dead)),
                reason=f"no heartbeat for {silence} or more: {names}",
            )
        )
    elif queue.processes:
        found.append(
            Finding(
                "queue",
                "processes",
                "Processes",
                f"{len(queue.processes)} alive",
                Level.NORMAL,
                value=float(len(queue.processes)),
            )
        )
    else:
        found.append(
            Finding(
                "queue",
                "processes",
                "Processes",
                "none",
                Level.WARNING,
                "medium",
                0.0,
                reason="no Solid Queue process is registered",
            )
        )
    return found


def _span(seconds: float) -> str:
    """A window in an operator's words: "hour", "5 min", "90 s"."""
    if seconds == 3600:
        return "hour"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _queue_failures(config: Config, queue: QueueSnapshot) -> list[Finding]:
    """The manual's failed-jobs lines, read two ways.

    Solid Queue never clears a failed execution: forty failures of last week stay
    forty until someone retries or discards them.  So the failures of the last
    window (an hour by default) are judged by the manual's lines in full and drive
    critical, and keep the metric the failed-jobs runbook follows; the backlog is
    judged by the same lines but held at warning, so a stale backlog is shown (and
    asks for a clean-up) without paging forever.
    """
    threshold = config.thresholds.failed_jobs
    backlog = queue.failed
    assert backlog is not None
    found: list[Finding] = []
    recent = queue.new_failures
    window = _span(queue.new_failures_window_s)
    if recent is not None:
        found.append(
            _judged(
                "queue",
                "failed_jobs",
                f"Failed in last {window}" if window == "hour" else f"Failed, last {window}",
                recent.value,
                threshold,
                str(recent),
            )
        )
    level = threshold.level(backlog.value)
    reason = ""
    if recent is None:
        pass  # nothing to weigh the backlog against: judged as the manual writes it
    elif level is Level.CRITICAL:
        level = Level.WARNING
        reason = (
            f"held at warning (over {threshold.critical:g}): Solid Queue keeps failures until"
            f" retried or discarded; {recent} in the last {window} decide critical"
        )
    elif level is not Level.NORMAL:
        reason = f"kept until retried or discarded; {recent} in the last {window}"
    if recent is not None and found[0].level.alerting and level.alerting:
        # One cause, one alert: while the new failures alert, the backlog they
        # belong to is shown, not raised a second time.
        level = Level.ELEVATED
        reason = f"the {recent} failures of the last {window} alert already"
    found.append(
        Finding(
            "queue",
            "failed_backlog",
            "Failed (backlog)",
            str(backlog),
            level,
            threshold.severity(level),
            float(backlog.value),
            reason=reason,
        )
    )
    return found


def _queue_latencies(config: Config, queue: QueueSnapshot) -> list[Finding]:
    """How long each queue's oldest ready job has waited (now − its ready
    created_at).

    The manual (監視項目) has no latency line, so latency is information: normal,
    elevated only while the queue's own ready count is past the waiting-jobs
    normal line, never an alert by itself (the waiting-jobs count alerts).
    """
    waiting = config.thresholds.waiting_jobs
    found: list[Finding] = []
    for name, latency_s in sorted(queue.latency_by_queue.items()):
        ready = queue.ready_by_queue.get(name, 0)
        busy = ready >= waiting.normal
        found.append(
            Finding(
                "queue",
                f"latency:{name}",
                f"Latency {name}",
                _number(latency_s, "s"),
                Level.ELEVATED if busy else Level.NORMAL,
                value=latency_s,
                reason=(
                    f"{ready:,} ready, past the normal {waiting.normal:g}; no latency line"
                    " in the manual"
                    if busy
                    else ""
                ),
            )
        )
    return found


def _host(config: Config, host: HostSnapshot) -> list[Finding]:
    thresholds = config.thresholds
    component = f"host {host.name}"
    if host.error is not None:
        return [_failure(component, "reachable", "SSH", host.error)]
    found = [
        _judged(
            component, "memory_percent", "Memory", host.memory_percent, thresholds.memory_percent
        ),
        _judged(component, "cpu_percent", "CPU", host.cpu_percent, thresholds.cpu_percent),
    ]
    for disk in host.disks:
        if host.data_mount is not None:
            is_data = disk.mount == host.data_mount
        else:
            database = config.database
            is_data = host.name == database.host and disk.mount == database.data_volume
        found.append(
            _judged(
                component,
                f"disk:{disk.mount}",
                "DB data disk" if is_data else f"Disk {disk.mount}",
                disk.use_percent,
                thresholds.db_disk_percent,
            )
        )
    found += _containers(config, host, component)
    return found


# A running container restarted this recently (by StartedAt) may be crash-looping:
# between two crashes docker shows it running for a moment.  Restarted more than
# once, it is judged as looping (no flapping between polls); once, a warning.
RECENT_RESTART_S = 120.0
LOOPING_RESTARTS = 2


def _containers(config: Config, host: HostSnapshot, component: str) -> list[Finding]:
    """Each Kamal role of the host (any name), then its accessories, as Kamal picks
    their containers: this destination only, running or restarting, the image
    tagged latest first."""
    layout = host.layout or layout_from_config(config, host.roles)
    found: list[Finding] = []
    for role in layout.app_roles(host.roles):
        container = current_container(host.containers, layout, role, host.latest_image_ids)
        found.append(_container_state(config, layout, host, component, role, container))
        if container is not None:
            found += _container_usage(config, host, component, role, container)
    for accessory_layout in layout.accessories:
        if accessory_layout.name not in host.roles and host.name not in accessory_layout.hosts:
            continue
        container = accessory_container(host.containers, accessory_layout)
        if container is None and not accessory_layout.expected:
            continue
        role = accessory_layout.name
        found.append(_container_state(config, layout, host, component, role, container,
                                      name=accessory_layout.container))
        if container is not None:
            found += _container_usage(config, host, component, role, container)
    return found


def _since(stamp: str, now: datetime) -> float | None:
    """Seconds from docker's RFC 3339 nanosecond stamp to ``now``."""
    if not stamp or stamp.startswith("0001-"):
        return None
    text = stamp.replace("Z", "+00:00")
    whole, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{whole}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (now - moment).total_seconds()


def _container_state(
    config: Config,
    layout: KamalLayout,
    host: HostSnapshot,
    component: str,
    role: str,
    container: ContainerInfo | None,
    name: str = "",
) -> Finding:
    metric = f"container:{role}"
    label = f"{role} container"
    # The service is down when web is: critical; other roles and accessories high.
    severity: Severity = "critical" if role == "web" else "high"
    what = name or f"{layout.container_prefix(role)}-*"
    if container is None:
        where = f" ({layout.destination})" if layout.destination else ""
        return Finding(
            component, metric, label, "not running", Level.CRITICAL,
            "critical" if not name else "high",
            reason=f"no running or restarting {what} container{where}",
        )
    restarts = container.restart_count or 0
    version = (container.version or "")[:12]  # Kamal versions are git SHAs
    if container.state == "restarting":
        exit_text = f", exit {container.exit_code}" if container.exit_code is not None else ""
        oom = ", OOMKilled" if container.oom_killed else ""
        return Finding(
            component, metric, label, f"restarting ×{restarts}{exit_text}{oom}",
            Level.CRITICAL, severity, float(restarts),
            reason=f"{container.name} is crash-looping: restarted {restarts} times, "
            f"last exit code {container.exit_code}{' (OOMKilled)' if container.oom_killed else ''}",
        )
    if container.state != "running":
        return Finding(
            component, metric, label, container.state or "unknown state", Level.CRITICAL,
            severity, reason=f"{container.name} is {container.state}",
        )
    up_for = _since(container.started_at, host.taken_at)
    if restarts >= LOOPING_RESTARTS and up_for is not None and up_for < RECENT_RESTART_S:
        return Finding(
            component, metric, label, f"crash-looping ×{restarts}, up {up_for:.0f} s",
            Level.CRITICAL, severity, float(restarts),
            reason=f"{container.name} is crash-looping: restarted {restarts} times, "
            f"up again for {up_for:.0f} s",
        )
    if restarts and up_for is not None and up_for < RECENT_RESTART_S:
        return Finding(
            component, metric, label, " ".join(["running", *([version] if version else [])])
            + f", restarted ×{restarts}",
            Level.WARNING, "high", float(restarts),
            reason=f"{container.name} restarted {restarts} times, the last {up_for:.0f} s ago",
        )
    display = f"running {version}".strip()
    if restarts:
        display += f" ({restarts} restarts)"
    if role == "web" and layout.jobs_in_puma:
        display += " + jobs (Puma)"
    return Finding(component, metric, label, display, Level.NORMAL, value=float(restarts))


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _container_usage(config: Config, host: HostSnapshot, component: str, role: str,
                     container: ContainerInfo) -> list[Finding]:
    """Memory against the container's limit (or the host's memory without one),
    judged by the memory thresholds; CPU shown beside it."""
    stats = host.stats_of(container)
    if stats is None:
        return []
    metric = f"container_memory:{role}"
    label = f"{role} memory"
    cpu = f", CPU {stats.cpu_percent:.0f} %" if stats.cpu_percent is not None else ""
    if stats.memory_percent is None or stats.memory_used is None:
        return [Finding(component, metric, label, f"no data{cpu}", Level.UNKNOWN)]
    limit = stats.memory_limit or 0
    of = f" of {_size(limit)}" if container.memory_limit else ""
    # The value column is narrow: the share (and CPU) there, the sizes in "why".
    display = f"{stats.memory_percent:.1f} %{cpu}"
    threshold = config.thresholds.memory_percent
    finding = _judged(component, metric, label, stats.memory_percent, threshold, display)
    bound = "its memory limit" if container.memory_limit else "the host's memory"
    used = f"{_size(stats.memory_used)}{of}"
    if finding.level.rank >= Level.WARNING.rank:
        used = f"{container.name} uses {stats.memory_percent:.1f} % of {bound} ({used})"
    return [replace(finding, reason=used)]


def overall(findings: list[Finding]) -> Level:
    """The worst level, where "no data yet" (unknown without a reason) does not
    count: a metric nobody has measured yet is no news, good or bad."""
    return worst([f.level for f in findings if f.level is not Level.UNKNOWN or f.reason])


def exit_status(findings: list[Finding]) -> int:
    """``check``'s exit status: 2 on any critical, 1 on any warning, else 0.

    Unknown (no data yet, not configured) is shown but does not fail the check:
    it is no evidence of a fault.
    """
    levels = {finding.level for finding in findings}
    if Level.CRITICAL in levels:
        return 2
    if Level.WARNING in levels:
        return 1
    return 0
