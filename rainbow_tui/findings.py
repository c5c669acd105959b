"""Readings judged against the manual: one ``Finding`` per component and metric.

A source that could not be asked is a finding too: the service not answering is
critical (サービス停止), an unreachable host or database is critical with the reason,
and a metric with no source yet (request p95 before the log tail runs) is
"no data", never zero.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rainbow_tui.config import Config, Threshold
from rainbow_tui.levels import Level, Severity, Trend, worst
from rainbow_tui.logs.request_stats import WindowStats
from rainbow_tui.sources.backups import BackupsSnapshot, KindVerdict, assess
from rainbow_tui.sources.database import DatabaseSnapshot
from rainbow_tui.sources.host_parsing import ContainerInfo
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.kamal_containers import (
    KamalLayout,
    accessory_container,
    current_container,
    layout_from_config,
    proxy_container,
)
from rainbow_tui.sources.proxy import PROXY_CONTAINER, ProxyOnHost
from rainbow_tui.sources.queue import QueueSnapshot
from rainbow_tui.sources.s3_bucket import S3Snapshot
from rainbow_tui.sources.sentry import SentryIssue, SentrySnapshot
from rainbow_tui.sources.service_sources import Readings
from rainbow_tui.text import N_, Language, Phrase

if TYPE_CHECKING:
    from rainbow_tui.logs.window import LogWindow

REQUEST_WINDOW_S = 300
# The windowed metrics' trend: the last minute against the whole window, a tenth
# apart or more, so a value that wobbles around the same level reads steady.
RECENT_WINDOW_S = 60
TREND_MARGIN = 0.1
# Judged over a window of recent requests: they stay above their line for minutes
# after the fix, so their alerts say when they are on their way back.
WINDOWED_METRICS = frozenset({"response_time_p95_ms", "error_rate_percent"})
NO_DATA_PHRASE = Phrase("finding.no_data")
# The English words of "no data", for callers that compare with them.
NO_DATA = "no data"


@dataclass(frozen=True, slots=True, init=False)
class Finding:
    """One component's metric, judged.  Its words (label, value, why) are phrases:
    a key and typed values, put into words in the current language when read."""

    component: str  # "service", "database", "queue", "host app-1"
    metric: str  # stable key: "health", "memory_percent", ...
    label_phrase: Phrase  # what a person reads: "Memory"
    display_phrase: Phrase  # the value as shown: "63.2 %", "2,000+", "no data"
    level: Level
    severity: Severity | None
    value: float | None
    reason_phrase: Phrase
    trend: Trend | None

    def __init__(
        self,
        component: str,
        metric: str,
        label: Phrase | str,
        display: Phrase | str,
        level: Level,
        severity: Severity | None = None,
        value: float | None = None,
        reason: Phrase | str = "",
        trend: Trend | None = None,
    ) -> None:
        # Plain strings are words already (a caller's own, or a server's).
        def phrase(words: Phrase | str) -> Phrase:
            return words if isinstance(words, Phrase) else Phrase.verbatim(words)

        for name, given in (
            ("component", component),
            ("metric", metric),
            ("label_phrase", phrase(label)),
            ("display_phrase", phrase(display)),
            ("level", level),
            ("severity", severity),
            ("value", value),
            ("reason_phrase", phrase(reason)),
            ("trend", trend),
        ):
            object.__setattr__(self, name, given)

    @property
    def key(self) -> str:
        return f"{self.component}:{self.metric}"

    @property
    def windowed(self) -> bool:
        """Judged over a window of recent requests (slow to clear after a fix)."""
        return self.metric in WINDOWED_METRICS

    @property
    def code(self) -> str:
        """What the finding says, as a catalogue key: the reason's when it has one."""
        return self.display_phrase.key if self.reason_phrase.empty else self.reason_phrase.key

    @property
    def values(self) -> dict[str, object]:
        """The typed values of the finding's display and reason."""
        reason = {} if self.reason_phrase.empty else dict(self.reason_phrase.values)
        return {**dict(self.display_phrase.values), **reason}

    @property
    def label(self) -> str:
        return self.label_phrase.text()

    @property
    def display(self) -> str:
        return self.display_phrase.text()

    @property
    def reason(self) -> str:
        return self.reason_phrase.text()

    def component_name(self, language: Language | None = None) -> str:
        """The component in words: "service", "host app-1" (サービス, ホスト app-1)."""
        return component_phrase(self.component).text(language)

    def alert_phrase(self) -> Phrase:
        """The alert line: "host app-1: Memory 87.0 %" (ホスト app-1: メモリ使用率 87.0 %)."""
        return Phrase(
            "finding.alert_title",
            component=component_phrase(self.component),
            label=self.label_phrase,
            display=self.display_phrase,
        )

    def alert_title(self, language: Language | None = None) -> str:
        return self.alert_phrase().text(language)

    def with_reason(self, reason: Phrase) -> Finding:
        return Finding(self.component, self.metric, self.label_phrase, self.display_phrase,
                       self.level, self.severity, self.value, reason, self.trend)

    def with_trend(self, trend: Trend | None) -> Finding:
        return Finding(self.component, self.metric, self.label_phrase, self.display_phrase,
                       self.level, self.severity, self.value, self.reason_phrase, trend)


_COMPONENT_KEYS = {
    "service": N_("component.service"),
    "database": N_("component.database"),
    "queue": N_("component.queue"),
    "sentry": N_("component.sentry"),
    "s3": N_("component.s3"),
    "proxy": N_("component.proxy"),
    "logs": N_("component.logs"),
    "backups": N_("component.backups"),
}


def component_phrase(component: str) -> Phrase:
    """A finding's component ("service", "host app-1") in words."""
    if component.startswith("host "):
        return Phrase("component.host", name=component.removeprefix("host "))
    key = _COMPONENT_KEYS.get(component)
    return Phrase(key) if key is not None else Phrase.verbatim(component)


_NUMBER_KEYS = {
    "%": N_("value.percent"),
    "ms": N_("value.ms"),
    "s": N_("value.seconds"),
}


_COUNT_KEY = N_("value.count")


def _number(value: float, unit: str) -> Phrase:
    return Phrase(_NUMBER_KEYS.get(unit, _COUNT_KEY), value=value)


def _judged(
    component: str,
    metric: str,
    label: Phrase,
    value: float | None,
    threshold: Threshold,
    display: Phrase | None = None,
) -> Finding:
    level = threshold.level(value)
    if value is None:
        return Finding(component, metric, label, NO_DATA_PHRASE, Level.UNKNOWN)
    return Finding(
        component,
        metric,
        label,
        display if display is not None else _number(value, threshold.unit),
        level,
        threshold.severity(level),
        value,
    )


def trend_of(recent: float | None, whole: float | None) -> Trend | None:
    """Which way a windowed value goes: its last minute against its whole window
    (None without requests in either)."""
    if recent is None or whole is None:
        return None
    margin = TREND_MARGIN * whole
    if recent < whole - margin:
        return "falling"
    if recent > whole + margin:
        return "rising"
    return "steady"


def _failure(component: str, metric: str, label: Phrase, reason: str) -> Finding:
    return Finding(component, metric, label, Phrase("finding.down"), Level.CRITICAL, "high",
                   reason=reason)


def evaluate(config: Config, readings: Readings) -> list[Finding]:
    findings: list[Finding] = []
    findings += _service(config, readings)
    findings += _database(config, readings)
    findings += _queue(config, readings)
    findings += _queue_privileges(readings)
    findings += _pool_timeouts(readings)
    for host in readings.hosts:
        findings += _host(config, host)
    if readings.backups is not None:
        findings += _backups(config, readings.backups)
    findings += _sentry(config, readings.sentry)
    findings += _s3(readings.s3)
    findings += _proxy(config, readings)
    return findings


def _service(config: Config, readings: Readings) -> list[Finding]:
    thresholds = config.thresholds
    health = readings.health
    found: list[Finding] = []
    up = Phrase.verbatim("/up")
    if health is None:
        found.append(Finding("service", "health", up, NO_DATA_PHRASE, Level.UNKNOWN))
    elif health.up:
        latency = (
            Phrase("finding.health.ok_in", ms=health.latency_ms)
            if health.latency_ms
            else Phrase("finding.health.ok")
        )
        found.append(Finding("service", "health", up, latency, Level.NORMAL))
    else:
        # A server that answers too slowly (a drip of bytes, a stall) is no more
        # serving than one that refuses: critical as well, with what it did send.
        why = (
            Phrase("finding.health.slow", error=health.error or "")
            if health.timed_out
            else Phrase("finding.health.down", error=health.error or "")
        )
        found.append(
            Finding(
                "service",
                "health",
                up,
                Phrase.verbatim(health.error) if health.error else Phrase("finding.down"),
                Level.CRITICAL,
                "critical",
                reason=why,
            )
        )
    if health is not None and (health.tls_days_left is not None or health.tls_error):
        found.append(_certificate(config, health.tls_days_left, health.tls_error))
    # Fed by the log tail, judged over 5 minutes; with no requests seen there
    # is no data, which is not zero.
    window = _judged_window(readings)
    recent = _recent_window(readings)
    p95 = window.p95_ms if window else None
    errors = window.error_percent if window else None
    p95_display: Phrase | None = None
    if p95 is not None:
        p95_display = (
            _p95_with_requests(p95, window)
            if window and window.request_count
            else Phrase("value.ms", value=p95)
        )
    found.append(
        _judged(
            "service",
            "response_time_p95_ms",
            Phrase("finding.label.p95"),
            p95,
            thresholds.response_time_p95_ms,
            p95_display,
        ).with_trend(trend_of(recent.p95_ms if recent else None, p95))
    )
    found.append(
        _judged(
            "service",
            "error_rate_percent",
            Phrase("finding.label.error_rate"),
            errors,
            thresholds.error_rate_percent,
            Phrase("value.percent_fine", value=errors) if errors is not None else None,
        ).with_trend(trend_of(recent.error_percent if recent else None, errors))
    )
    return found


def _judged_window(readings: Readings) -> WindowStats | None:
    """The window p95 and errors are judged over: the longest the statistics keep
    (the tail's five minutes; ``check``'s ``[logs] check_window_s``)."""
    if readings.requests is None or not readings.requests.windows:
        return None
    return max(readings.requests.windows, key=lambda stats: stats.seconds)


def _p95_with_requests(p95: float, window: WindowStats) -> Phrase:
    if window.seconds == REQUEST_WINDOW_S:
        return Phrase("finding.p95.with_requests", ms=p95, requests=window.request_count)
    return Phrase("finding.p95.with_requests_in", ms=p95, requests=window.request_count,
                  minutes=window.seconds / 60)


def _recent_window(readings: Readings) -> WindowStats | None:
    """The last minute of requests, when the statistics keep one."""
    if readings.requests is None:
        return None
    try:
        return readings.requests.window(RECENT_WINDOW_S)
    except KeyError:
        return None


def _certificate(config: Config, days_left: float | None, error: str | None) -> Finding:
    if days_left is None:
        return Finding(
            "service", "tls_days_left", Phrase("finding.label.tls"), Phrase("finding.unknown"),
            Level.UNKNOWN, reason=error or "",
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
        Phrase("finding.label.tls"),
        Phrase("finding.tls.days_left", days=days_left),
        level,
        severity,
        days_left,
    )


POSTGRESQL = Phrase.verbatim("PostgreSQL")
SOLID_QUEUE = Phrase.verbatim("Solid Queue")


def _database(config: Config, readings: Readings) -> list[Finding]:
    thresholds = config.thresholds
    database = readings.database
    if readings.database_missing:
        return [
            Finding(
                "database",
                "reachable",
                POSTGRESQL,
                Phrase("finding.not_configured"),
                Level.UNKNOWN,
                reason=readings.database_missing,
            )
        ]
    if database is None:
        return [Finding("database", "reachable", POSTGRESQL, NO_DATA_PHRASE, Level.UNKNOWN)]
    if database.error is not None:
        return [_failure("database", "reachable", POSTGRESQL, database.error)]
    blind = not database.read_all_stats
    longest = Phrase("finding.label.longest_query")
    return [
        Finding("database", "reachable", POSTGRESQL,
                Phrase("finding.db.up", version=database.version), Level.NORMAL),
        _privileges(database),
        _connections(thresholds.db_connections, database),
        _blind("db_query_time_ms", longest, database)
        if blind
        else _judged(
            "database",
            "db_query_time_ms",
            longest,
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
    label = Phrase("finding.label.pool_timeouts")
    if not count:
        return [Finding("database", "pool_timeouts", label,
                        Phrase("finding.per_minute", count=0), Level.NORMAL, value=0.0)]
    return [
        Finding(
            "database",
            "pool_timeouts",
            label,
            Phrase("finding.per_minute", count=count),
            Level.WARNING,
            "high",
            float(count),
            reason=Phrase("finding.db.pool_exhausted"),
        )
    ]


def _queue_privileges(readings: Readings) -> list[Finding]:
    """Missing reads leave the Jobs pane blind (a warning); missing writes only
    make retry / discard / pause fail (shown, no alert)."""
    privileges = readings.queue_privileges
    if privileges is None or privileges.error is not None:
        return []
    grants = privileges.grants()
    label = Phrase("finding.label.privileges")
    if not grants:
        return [
            Finding(
                "queue", "privileges", label, Phrase("finding.privileges.all"), Level.NORMAL,
                reason=Phrase("finding.queue.role_in", role=privileges.role,
                              database=privileges.database),
            )
        ]
    level = Level.WARNING if privileges.unreadable else Level.ELEVATED
    return [
        Finding(
            "queue",
            "privileges",
            label,
            Phrase("finding.queue.reads_denied")
            if privileges.unreadable
            else Phrase("finding.queue.actions_denied"),
            level,
            "medium" if level is Level.WARNING else None,
            float(len(privileges.unreadable) + len(privileges.unwritable)),
            reason=Phrase("finding.queue.grant", role=privileges.role,
                          database=privileges.database, grants=" ".join(grants)),
        )
    ]


def monitor_grant(role: str, privilege: str) -> Phrase:
    """The GRANT that gives the console's role ``privilege``."""
    return Phrase("finding.grant", privilege=privilege,
                  role=role or Phrase("finding.grant.the_role"))


def _privileges(database: DatabaseSnapshot) -> Finding:
    """What the role may not do, with the GRANT that fixes it.  Without
    pg_read_all_stats the console is blind to other roles' sessions (a warning:
    it would miss the incident it exists for); without pg_signal_backend only
    cancel / terminate fail (shown, no alert)."""
    missing: list[Phrase] = []
    level = Level.NORMAL
    role = database.role
    if not database.read_all_stats:
        missing.append(Phrase("finding.db.grant_monitor",
                              grant=monitor_grant(role, "pg_monitor"), hidden=database.hidden))
        level = Level.WARNING
    if not database.signal_backend:
        missing.append(Phrase("finding.db.grant_signal",
                              grant=monitor_grant(role, "pg_signal_backend")))
        level = worst([level, Level.ELEVATED])
    label = Phrase("finding.label.privileges")
    if not missing:
        return Finding(
            "database", "privileges", label, Phrase("finding.privileges.all"), level,
            reason=Phrase("finding.db.role", role=role),
        )
    return Finding(
        "database",
        "privileges",
        label,
        Phrase("finding.privileges.missing", count=len(missing)),
        level,
        "medium" if level is Level.WARNING else None,
        float(len(missing)),
        reason=Phrase("finding.db.grant_as_superuser", role=role, grants=_Joined(missing, "; ")),
    )


class _Joined(Phrase):
    """Several phrases as one value, each said in the language of the whole."""

    __slots__ = ("parts", "separator")

    def __init__(self, parts: list[Phrase], separator: str) -> None:
        super().__init__(N_("text.verbatim"))
        self.parts = tuple(parts)
        self.separator = separator

    def text(self, language: Language | None = None) -> str:
        return self.separator.join(part.text(language) for part in self.parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Joined) and (self.parts, self.separator) == (
            other.parts, other.separator)

    def __hash__(self) -> int:
        return hash((self.parts, self.separator))


def _blind(metric: str, label: Phrase, database: DatabaseSnapshot) -> Finding:
    return Finding(
        "database",
        metric,
        label,
        Phrase("finding.unknown"),
        Level.UNKNOWN,
        reason=Phrase("finding.db.blind", role=database.role,
                      grant=monitor_grant(database.role, "pg_monitor")),
    )


def _connections(threshold: Threshold, database: DatabaseSnapshot) -> Finding:
    """The manual's lines (written for 100 slots) and the same lines as a share of
    the slots the app can take (max_connections less the reserved ones): a server
    with fewer slots runs out before the manual's numbers say so.  The worse of
    the two counts; both are shown."""
    connections = database.connections
    usable = database.usable_connections
    label = Phrase("finding.label.connections")
    absolute = _judged("database", "db_connections", label, connections, threshold)
    if connections is None or not usable or usable <= 0:
        return absolute
    share = connections / usable * 100
    by_share = threshold.level(share)
    level = worst([absolute.level, by_share])
    # The value column holds about 24 characters: when sessions are hidden, that
    # matters more than the share.
    if database.hidden and not database.read_all_stats:
        display = Phrase("finding.db.connections.hidden", count=connections, usable=usable,
                         hidden=database.hidden)
    else:
        display = Phrase("finding.db.connections.usable", count=connections, usable=usable,
                         share=share)
    reason: Phrase | str = ""
    if by_share.rank > absolute.level.rank:
        reason = Phrase("finding.db.connections.share", share=share, usable=usable,
                        max=database.max_connections, reserved=database.reserved_connections)
    return Finding(
        "database",
        "db_connections",
        label,
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
        return [_failure("queue", "reachable", SOLID_QUEUE, queue.error)]
    assert queue.ready is not None and queue.failed is not None
    found = [
        _judged(
            "queue",
            "waiting_jobs",
            Phrase("finding.label.waiting"),
            queue.ready.value,
            thresholds.waiting_jobs,
            Phrase.verbatim(str(queue.ready)),
        ),
        *_queue_failures(config, queue),
        _judged(
            "queue",
            "job_processing_time_s",
            Phrase("finding.label.longest_job"),
            queue.longest_running_s,
            thresholds.job_processing_time_s,
        ),
        *_queue_latencies(config, queue),
    ]
    dead = [process for process in queue.processes if process.dead]
    label = Phrase("finding.label.processes")
    if dead:
        names = ", ".join(f"{p.kind} {p.hostname}:{p.pid}" for p in dead)
        silence = _span(dead[0].alive_threshold_s)
        found.append(
            Finding(
                "queue",
                "processes",
                label,
                Phrase("finding.processes.dead", count=len(dead)),
                Level.WARNING,
                "medium",
                float(len(dead)),
                reason=Phrase("finding.processes.no_heartbeat", span=silence, names=names),
            )
        )
    elif queue.processes:
        found.append(
            Finding(
                "queue",
                "processes",
                label,
                Phrase("finding.processes.alive", count=len(queue.processes)),
                Level.NORMAL,
                value=float(len(queue.processes)),
            )
        )
    else:
        found.append(
            Finding(
                "queue",
                "processes",
                label,
                Phrase("finding.processes.none"),
                Level.WARNING,
                "medium",
                0.0,
                reason=Phrase("finding.processes.unregistered"),
            )
        )
    return found


def _span(seconds: float) -> Phrase:
    """A window in an operator's words: "hour", "5 min", "90 s"."""
    if seconds == 3600:
        return Phrase("span.hour")
    if seconds % 3600 == 0:
        return Phrase("span.hours", hours=seconds / 3600)
    if seconds % 60 == 0:
        return Phrase("span.minutes", minutes=seconds / 60)
    return Phrase("span.seconds", seconds=seconds)


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
                Phrase("finding.label.failed_last_hour")
                if window.key == "span.hour"
                else Phrase("finding.label.failed_last", span=window),
                recent.value,
                threshold,
                Phrase.verbatim(str(recent)),
            )
        )
    level = threshold.level(backlog.value)
    reason: Phrase | str = ""
    if recent is None:
        pass  # nothing to weigh the backlog against: judged as the manual writes it
    elif level is Level.CRITICAL:
        level = Level.WARNING
        reason = Phrase("finding.backlog.held", critical=threshold.critical, recent=str(recent),
                        span=window)
    elif level is not Level.NORMAL:
        reason = Phrase("finding.backlog.kept", recent=str(recent), span=window)
    if recent is not None and found[0].level.alerting and level.alerting:
        # One cause, one alert: while the new failures alert, the backlog they
        # belong to is shown, not raised a second time.
        level = Level.ELEVATED
        reason = Phrase("finding.backlog.alerting", recent=str(recent), span=window)
    found.append(
        Finding(
            "queue",
            "failed_backlog",
            Phrase("finding.label.failed_backlog"),
            Phrase.verbatim(str(backlog)),
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
                Phrase("finding.label.latency", queue=name),
                _number(latency_s, "s"),
                Level.ELEVATED if busy else Level.NORMAL,
                value=latency_s,
                reason=(
                    Phrase("finding.latency.busy", ready=ready, normal=waiting.normal)
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
        return [_failure(component, "reachable", Phrase.verbatim("SSH"), host.error)]
    found = [
        _judged(component, "memory_percent", Phrase("finding.label.memory"),
                host.memory_percent, thresholds.memory_percent),
        _judged(component, "cpu_percent", Phrase("finding.label.cpu"), host.cpu_percent,
                thresholds.cpu_percent),
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
                Phrase("finding.label.data_disk")
                if is_data
                else Phrase("finding.label.disk", mount=disk.mount),
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
    label = Phrase("finding.label.container", role=role)
    # The service is down when web is: critical; other roles and accessories high.
    severity: Severity = "critical" if role == "web" else "high"
    what = name or f"{layout.container_prefix(role)}-*"
    if container is None:
        return Finding(
            component, metric, label, Phrase("finding.container.not_running"), Level.CRITICAL,
            "critical" if not name else "high",
            reason=Phrase("finding.container.missing_in", what=what,
                          destination=layout.destination)
            if layout.destination
            else Phrase("finding.container.missing", what=what),
        )
    restarts = container.restart_count or 0
    version = (container.version or "")[:12]  # Kamal versions are git SHAs
    if container.state == "restarting":
        exit_text = (
            Phrase("finding.container.exit", code=container.exit_code)
            if container.exit_code is not None
            else ""
        )
        oom = ", OOMKilled" if container.oom_killed else ""
        return Finding(
            component, metric, label,
            Phrase("finding.container.restarting", restarts=restarts, exit=exit_text, oom=oom),
            Level.CRITICAL, severity, float(restarts),
            reason=Phrase("finding.container.looping_exit", name=container.name,
                          restarts=restarts, code=container.exit_code,
                          oom=" (OOMKilled)" if container.oom_killed else ""),
        )
    if container.state != "running":
        return Finding(
            component, metric, label,
            Phrase.verbatim(container.state)
            if container.state
            else Phrase("finding.container.unknown_state"),
            Level.CRITICAL, severity,
            reason=Phrase("finding.container.state", name=container.name,
                          state=container.state),
        )
    up_for = _since(container.started_at, host.taken_at)
    if restarts >= LOOPING_RESTARTS and up_for is not None and up_for < RECENT_RESTART_S:
        return Finding(
            component, metric, label,
            Phrase("finding.container.looping", restarts=restarts, up=up_for),
            Level.CRITICAL, severity, float(restarts),
            reason=Phrase("finding.container.looping_up", name=container.name,
                          restarts=restarts, up=up_for),
        )
    if restarts and up_for is not None and up_for < RECENT_RESTART_S:
        return Finding(
            component, metric, label,
            Phrase("finding.container.running_restarted", version=version, restarts=restarts)
            if version
            else Phrase("finding.container.running_restarted_no_version", restarts=restarts),
            Level.WARNING, "high", float(restarts),
            reason=Phrase.plural("finding.container.restarted", restarts,
                                 name=container.name, restarts=restarts, ago=up_for),
        )
    running = (
        N_("finding.container.running_version") if version else N_("finding.container.running")
    )
    display = Phrase(
        running,
        version=version,
        restarts=Phrase.plural("finding.container.restarts", restarts) if restarts else "",
        puma=Phrase("finding.container.jobs_in_puma")
        if role == "web" and layout.jobs_in_puma
        else "",
    )
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
    label = Phrase("finding.label.container_memory", role=role)
    cpu: Phrase | str = (
        Phrase("finding.container.cpu", cpu=stats.cpu_percent)
        if stats.cpu_percent is not None
        else ""
    )
    if stats.memory_percent is None or stats.memory_used is None:
        return [Finding(component, metric, label, Phrase("finding.no_data_and", cpu=cpu),
                        Level.UNKNOWN)]
    limit = stats.memory_limit or 0
    # The value column is narrow: the share (and CPU) there, the sizes in "why".
    display = Phrase("finding.container.memory", share=stats.memory_percent, cpu=cpu)
    threshold = config.thresholds.memory_percent
    finding = _judged(component, metric, label, stats.memory_percent, threshold, display)
    used = (
        Phrase("finding.container.used_of", used=_size(stats.memory_used), limit=_size(limit))
        if container.memory_limit
        else Phrase.verbatim(_size(stats.memory_used))
    )
    if finding.level.rank >= Level.WARNING.rank:
        uses = (
            N_("finding.container.uses_of_limit")
            if container.memory_limit
            else N_("finding.container.uses_of_host")
        )
        used = Phrase(uses, name=container.name, share=stats.memory_percent, used=used)
    return [finding.with_reason(used)]


_BACKUP_LABELS = {
    "full": N_("finding.label.backup_full"),
    "differential": N_("finding.label.backup_differential"),
    "manual": N_("finding.label.backup_manual"),
}


def _backups(config: Config, snapshot: BackupsSnapshot) -> list[Finding]:
    """The dumps against the manual's policy (バックアップ戦略).  A listing that could
    not be made says why and is never read as "no backups needed"."""
    policy = config.backups
    where = dict(host=snapshot.host, directory=snapshot.directory)
    if snapshot.error is not None:
        label = Phrase("finding.label.backup_listing")
        if snapshot.directory_problem:
            return [Finding("backups", "listing", label, Phrase("finding.backup.unlisted"),
                            Level.WARNING, "medium",
                            reason=Phrase("finding.backup.unreadable", error=snapshot.error,
                                          **where))]
        # The host's own finding is critical already; here: nothing is known.
        return [Finding("backups", "listing", label, Phrase("finding.unknown"), Level.UNKNOWN,
                        reason=Phrase("finding.backup.unreachable", error=snapshot.error,
                                      **where))]
    found = [_backup_finding(config, verdict, snapshot) for verdict in assess(snapshot, policy)]
    manual = snapshot.of_kind("manual", policy)
    if manual:
        latest = manual[0]
        hours = snapshot.age_s(latest) / 3600
        found.append(Finding(
            "backups", "manual", Phrase(_BACKUP_LABELS["manual"]),
            Phrase("finding.backup.latest", hours=hours, size=_size(latest.size),
                   count=len(manual)),
            Level.NORMAL, value=hours, reason=Phrase.verbatim(latest.name),
        ))
    return found


def _backup_finding(config: Config, verdict: KindVerdict, snapshot: BackupsSnapshot) -> Finding:
    policy = config.backups
    full = verdict.kind == "full"
    limit = policy.full_max_age_h if full else policy.differential_max_age_h
    keep = policy.full_keep_days if full else policy.differential_keep_days
    pattern = policy.full_pattern if full else policy.differential_pattern
    label = Phrase(_BACKUP_LABELS[verdict.kind])
    latest = verdict.latest
    if latest is None or verdict.age_s is None:
        if verdict.problem == "covered":
            return Finding("backups", verdict.kind, label, Phrase("finding.backup.covered"),
                           verdict.level,
                           reason=Phrase("finding.backup.covered_why", limit=limit))
        reason = (
            Phrase("finding.backup.no_full", pattern=pattern, host=snapshot.host,
                   directory=snapshot.directory)
            if full
            else Phrase("finding.backup.no_differential", pattern=pattern, limit=limit)
        )
        return Finding("backups", verdict.kind, label, Phrase("finding.backup.none"),
                       verdict.level, verdict.severity, reason=reason)
    hours = verdict.age_s / 3600
    display = Phrase("finding.backup.latest", hours=hours, size=_size(latest.size),
                     count=verdict.count)
    reasons = {
        "late": Phrase("finding.backup.late", name=latest.name, hours=hours, limit=limit),
        "stopped": Phrase("finding.backup.stopped", name=latest.name, hours=hours,
                          limit=limit),
        "empty": Phrase("finding.backup.empty", name=latest.name),
        "shrunk": Phrase("finding.backup.shrunk", name=latest.name, size=_size(latest.size),
                         previous=_size(verdict.previous_size or 0)),
        "expired": Phrase("finding.backup.expired", count=verdict.expired, days=keep),
    }
    reason = reasons.get(verdict.problem, Phrase.verbatim(latest.name))
    return Finding("backups", verdict.kind, label, display, verdict.level, verdict.severity,
                   hours, reason=reason)


# Issues shown one by one (each its own alert); the rest are counted in the summary.
SENTRY_ISSUES_SHOWN = 10
_SENTRY_KIND_KEYS = {
    "new": N_("finding.sentry.kind.new"),
    "regressed": N_("finding.sentry.kind.regressed"),
    "ongoing": N_("finding.sentry.kind.ongoing"),
}


def _sentry(config: Config, sentry: SentrySnapshot | None) -> list[Finding]:
    """New and regressed issues of the window (毎日の確認事項: 新規エラーがないか),
    each judged; an issue's events by the [sentry] events lines."""
    settings = config.sentry
    if settings is None:
        return []
    label = Phrase("finding.label.sentry_issues")
    if sentry is None:
        return [Finding("sentry", "issues", label, NO_DATA_PHRASE, Level.UNKNOWN)]
    if sentry.missing_token_env:
        return [Finding("sentry", "issues", label, Phrase("finding.not_configured"),
                        Level.UNKNOWN,
                        reason=Phrase("finding.sentry.no_token", env=sentry.missing_token_env))]
    if sentry.problem == "auth":
        # Blind to the errors it exists to show: a warning, like a missing GRANT.
        return [Finding("sentry", "issues", label,
                        Phrase("finding.sentry.refused", status=sentry.status or 0),
                        Level.WARNING, "medium",
                        reason=Phrase("finding.sentry.refused_why", env=settings.token_env,
                                      project=sentry.project, error=sentry.error))]
    if sentry.problem is not None:
        reason = (
            Phrase("finding.sentry.rate_limited", seconds=sentry.retry_after_s or 0)
            if sentry.problem == "rate_limited"
            else Phrase("finding.sentry.no_answer", error=sentry.error)
        )
        return [Finding("sentry", "issues", label, Phrase("finding.unknown"), Level.UNKNOWN,
                        reason=reason)]
    since = sentry.since
    judged = [
        finding
        for issue in sentry.issues
        if (finding := _sentry_issue(settings.events, settings.new_issue_severity,
                                     settings.regressed_severity, issue, since)) is not None
    ]
    judged.sort(key=lambda f: (-f.level.rank, -(f.value or 0)))
    shown, rest = judged[:SENTRY_ISSUES_SHOWN], judged[SENTRY_ISSUES_SHOWN:]
    new, regressed = len(sentry.of_kind("new")), len(sentry.of_kind("regressed"))
    display = Phrase("finding.sentry.summary", new=new, regressed=regressed,
                     hours=sentry.window_h)
    # Shown issues alert one by one; the summary alerts only for those it hides.
    level = worst([f.level for f in rest]) if rest else Level.NORMAL
    severity = next((f.severity for f in rest if f.level is level), None) if rest else None
    if shown and not level.alerting:
        level = Level.ELEVATED
    summary_reason = (
        Phrase.plural("finding.sentry.more", len(rest)) if rest
        else Phrase("finding.sentry.project", project=sentry.project,
                    unresolved=len(sentry.issues))
    )
    summary = Finding("sentry", "issues", label, display, level, severity,
                      float(new + regressed), reason=summary_reason)
    return [summary, *shown]


def _sentry_issue(events: Threshold, new_severity: Severity, regressed_severity: Severity,
                  issue: SentryIssue, since: datetime) -> Finding | None:
    """One issue: new or regressed at least a warning, any issue by its events;
    an ongoing issue below the lines is no finding."""
    kind = issue.kind(since)
    level = events.level(float(issue.events))
    severity = events.severity(level)
    if kind != "ongoing" and not level.alerting:
        level = Level.WARNING
        severity = new_severity if kind == "new" else regressed_severity
    elif kind == "regressed" and severity is not None:
        severity = _graver(severity, regressed_severity)
    if not level.alerting:
        return None
    return Finding(
        "sentry",
        f"issue:{issue.id}",
        Phrase.verbatim(f"{issue.short_id} {issue.title}".strip()),
        Phrase("finding.sentry.issue", kind=Phrase(_SENTRY_KIND_KEYS[kind]),
               events=issue.events, users=issue.user_count),
        level,
        severity,
        float(issue.events),
        reason=Phrase("finding.sentry.issue_seen", first=_moment(issue.first_seen),
                      last=_moment(issue.last_seen), culprit=issue.culprit,
                      link=issue.permalink),
    )


def _graver(one: Severity, other: Severity) -> Severity:
    order = ("critical", "high", "medium", "low")
    return one if order.index(one) <= order.index(other) else other


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


_S3_TROUBLE: dict[str, tuple[str, Level, Severity]] = {
    # Credentials or policy: images may still load for users, the console cannot tell.
    "denied": (N_("finding.s3.denied"), Level.WARNING, "medium"),
    "no_credentials": (N_("finding.s3.no_credentials"), Level.WARNING, "medium"),
    # The manual's component list has S3 as the image store: gone, images fail.
    "no_key": (N_("finding.s3.no_key"), Level.CRITICAL, "high"),
    "no_bucket": (N_("finding.s3.no_bucket"), Level.CRITICAL, "high"),
    "unreachable": (N_("finding.s3.unreachable"), Level.CRITICAL, "high"),
    "timeout": (N_("finding.s3.timeout"), Level.CRITICAL, "high"),
    "http": (N_("finding.s3.http"), Level.CRITICAL, "high"),
}


def _s3(s3: S3Snapshot | None) -> list[Finding]:
    if s3 is None:
        return []
    label = Phrase("finding.label.s3")
    if s3.outcome == "ok":
        return [Finding("s3", "bucket", label,
                        Phrase("finding.s3.ok", ms=s3.latency_ms or 0.0), Level.NORMAL,
                        value=s3.latency_ms,
                        reason=Phrase("finding.s3.ok_why", target=s3.target, etag=s3.etag,
                                      size=s3.content_length if s3.content_length is not None
                                      else "-"))]
    if s3.outcome == "unavailable":
        return [Finding("s3", "bucket", label, Phrase("finding.unknown"), Level.UNKNOWN,
                        reason=Phrase("finding.s3.unavailable"))]
    key, level, severity = _S3_TROUBLE[s3.outcome]
    return [Finding("s3", "bucket", label, Phrase(key, status=s3.status or 0), level, severity,
                    reason=Phrase("finding.s3.why", target=s3.target, error=s3.error))]


def _proxy(config: Config, readings: Readings) -> list[Finding]:
    """kamal-proxy: its container on each web host (the host probe's docker ps),
    what ``kamal proxy details`` says of each proxy host, and what it answers
    for the app's /up."""
    found: list[Finding] = []
    for host in readings.hosts:
        if host.error is not None or "web" not in host.roles:
            continue
        layout = host.layout or layout_from_config(config, host.roles)
        component = f"host {host.name}"
        state = _container_state(config, layout, host, component, PROXY_CONTAINER,
                                 proxy_container(host.containers), name=PROXY_CONTAINER)
        if state.level is Level.CRITICAL:
            # Without its proxy a web host serves nothing: the service is down there.
            state = Finding(state.component, state.metric, state.label_phrase,
                            state.display_phrase, state.level, "critical", state.value,
                            state.reason_phrase)
        found.append(state)
    proxy = readings.proxy
    if proxy is not None:
        if proxy.error:
            found.append(Finding("proxy", "details", Phrase("finding.label.proxy_details"),
                                 Phrase("finding.unknown"), Level.UNKNOWN, reason=proxy.error))
        for on_host in proxy.hosts:
            found.append(_proxy_on_host(config, on_host))
    health = readings.health
    if health is not None and health.status in PROXY_ERROR_STATUSES:
        # The service's /up finding alerts already: this one says why, once.
        found.append(Finding("proxy", "app_health", Phrase("finding.label.proxy_app_health"),
                             Phrase("finding.proxy.answered", status=health.status),
                             Level.ELEVATED,
                             reason=Phrase(PROXY_ERROR_STATUSES[health.status])))
    elif health is not None and health.up and proxy is not None:
        found.append(Finding("proxy", "app_health", Phrase("finding.label.proxy_app_health"),
                             Phrase("finding.proxy.app_up"), Level.NORMAL))
    return found


# What kamal-proxy answers when it cannot serve (basecamp/kamal-proxy
# internal/server/load_balancer.go, service.go, target.go).
PROXY_ERROR_STATUSES = {
    502: N_("finding.proxy.bad_gateway"),
    503: N_("finding.proxy.no_healthy_target"),
    504: N_("finding.proxy.gateway_timeout"),
}


def _proxy_host_name(config: Config, printed: str) -> str:
    """The console's name of a host Kamal printed by address (or "name (address)")."""
    first = printed.split(" ", 1)[0]
    for host in config.hosts:
        if first in (host.name, host.address):
            return host.name
    return printed


def _proxy_on_host(config: Config, on_host: ProxyOnHost) -> Finding:
    name = _proxy_host_name(config, on_host.host)
    label = Phrase("finding.label.proxy_on", host=name)
    if on_host.running:
        return Finding("proxy", f"details:{name}", label, Phrase.verbatim(on_host.status),
                       Level.NORMAL, reason=on_host.image)
    return Finding("proxy", f"details:{name}", label,
                   Phrase.verbatim(on_host.status) if on_host.status
                   else Phrase("finding.container.not_running"),
                   Level.CRITICAL, "critical",
                   reason=Phrase("finding.proxy.not_running", host=on_host.host))


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


# -- check's window of logs ---------------------------------------------------------------


def log_window_findings(
    window: LogWindow, top: int = 5, new: Collection[str] | None = None
) -> list[Finding]:
    """What ``check`` adds from its window of logs: the request count, the most
    frequent exception classes with their counts (those ``new`` marked so, and
    listed even past the top), and each container whose logs could not be read (a
    warning: the figures above leave it out)."""
    minutes = window.seconds / 60
    stats = window.requests.window(window.seconds) if window.requests else None
    found = [
        Finding("service", "request_count", Phrase("finding.label.requests"), NO_DATA_PHRASE,
                Level.UNKNOWN)
        if stats is None
        else Finding("service", "request_count", Phrase("finding.label.requests"),
                     Phrase("finding.requests.in", count=stats.request_count, minutes=minutes),
                     Level.NORMAL, value=stats.request_count)
    ]
    label = Phrase("finding.label.exceptions", minutes=minutes)
    if window.requests is None:
        found.append(Finding("logs", "exceptions", label, NO_DATA_PHRASE, Level.UNKNOWN))
    else:
        total = sum(entry.count for entry in window.exceptions)
        fresh = frozenset(new or ())
        shown = [entry for index, entry in enumerate(window.exceptions)
                 if index < top or entry.exception_class in fresh]
        others = total - sum(entry.count for entry in shown)
        # Class names come from the logs: verbatim, never read as words or markup.
        listed = _Joined(
            [Phrase("finding.exceptions.new_class", name=entry.exception_class,
                    count=entry.count)
             if entry.exception_class in fresh
             else Phrase.verbatim(f"{entry.exception_class} ×{entry.count}") for entry in shown]
            + ([Phrase("finding.exceptions.others", count=others)] if others else []),
            ", ",
        )
        found.append(
            Finding("logs", "exceptions", label,
                    listed if shown else Phrase("finding.exceptions.none"),
                    Level.ELEVATED if shown else Level.NORMAL, value=total)
        )
    for unread in window.unread:
        found.append(
            Finding("logs", f"read:{unread.source}",
                    Phrase("finding.label.logs_of", source=unread.source),
                    Phrase("finding.logs.unread"), Level.WARNING, "medium",
                    reason=unread.reason)
        )
    return found
