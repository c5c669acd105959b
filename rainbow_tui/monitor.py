"""The monitor: polls each source on its own clock, judges, raises and clears alerts.

Each source has its own loop; the next poll starts ``interval`` seconds after the
previous one *ended*, so a slow source never piles polls up.  After every poll the
readings are judged again and the listener gets a fresh, immutable ``MonitorState``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.findings import Finding, evaluate, overall
from rainbow_tui.levels import Alert, Level
from rainbow_tui.logs.request_stats import RequestStatsSnapshot
from rainbow_tui.sources.service_sources import Readings, ServiceSources
from rainbow_tui.stopping import stop_tasks

if TYPE_CHECKING:
    from rainbow_tui.alert_decisions import AlertStanding

HISTORY_POINTS = 120
REQUESTS_INTERVAL_S = 2.0
SOURCE_NAMES = ("health", "database", "queue", "hosts", "backups", "sentry", "s3", "proxy")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MonitorState:
    readings: Readings
    findings: tuple[Finding, ...]
    alerts: tuple[Alert, ...]
    overall: Level
    # Recent values of each judged metric (finding key → oldest first), for sparklines.
    history: dict[str, tuple[float, ...]] = field(default_factory=dict)
    # Sources whose latest data is older than two poll intervals.
    stale: frozenset[str] = frozenset()
    paused: bool = False
    updated_at: datetime = field(default_factory=utc_now)
    # What the responders decided about the open alerts (acknowledged, silenced), by
    # alert key: the session fills it in from its log of decisions.
    decisions: Mapping[str, AlertStanding] = field(default_factory=dict)


def source_of(component: str) -> str:
    """Which source's poll produces a finding of ``component``."""
    if component == "service":
        return "health"
    if component.startswith("host "):
        return "hosts"
    return component


class AlertBook:
    """Which alerts are open, since when, and by when someone must respond."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._open: dict[str, Alert] = {}

    def update(
        self, findings: list[Finding], now: datetime, remedy_verified_at: datetime | None = None
    ) -> tuple[Alert, ...]:
        """The alerts open now.  ``remedy_verified_at``: when a remedy last passed its
        verification; a windowed alert seen before it and not rising is recovering."""
        still_open: dict[str, Alert] = {}
        for finding in findings:
            if not finding.level.alerting or finding.severity is None:
                continue
            previous = self._open.get(finding.key)
            first_seen = previous.first_seen if previous is not None else now
            # A worse severity shortens the clock, counted from the first sighting.
            within = self.config.alert_levels.for_severity(finding.severity).respond_within
            recovering = finding.windowed and (
                finding.trend == "falling"
                or (
                    remedy_verified_at is not None
                    and remedy_verified_at >= first_seen
                    and finding.trend != "rising"
                )
            )
            # The words for the record, the phrases for each view's language.
            still_open[finding.key] = Alert(
                key=finding.key,
                title=finding.alert_title(),
                level=finding.level,
                severity=finding.severity,
                first_seen=first_seen,
                respond_by=first_seen + within,
                detail=finding.reason,
                title_phrase=finding.alert_phrase(),
                detail_phrase=finding.reason_phrase,
                trend=finding.trend if finding.windowed else None,
                recovering=recovering,
            )
        self._open = still_open
        order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        return tuple(sorted(still_open.values(), key=lambda a: (order[a.severity], a.first_seen)))


class Monitor:
    def __init__(
        self,
        config: Config,
        sources: ServiceSources,
        listener: Callable[[MonitorState], None],
        clock: Callable[[], datetime] = utc_now,
        on_failure: Callable[[str, Exception], None] | None = None,
        request_stats: Callable[[], RequestStatsSnapshot] | None = None,
        remedy_verified: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.config = config
        self.sources = sources
        self.listener = listener
        self.clock = clock
        self.on_failure = on_failure
        self.request_stats = request_stats
        # When a remedy last passed its verification (the session's incidents).
        self.remedy_verified = remedy_verified
        self.readings = Readings(database_missing=sources.database_missing)
        self.alerts = AlertBook(config)
        self.history: dict[str, deque[float]] = {}
        self.paused = False
        self.state: MonitorState | None = None
        # Polls made per source, however many views show them.
        self.polls: Counter[str] = Counter()
        # When each source last brought good data; older than two intervals is stale.
        self._last_good: dict[str, datetime] = {}
        self._wake: dict[str, asyncio.Event] = {
            name: asyncio.Event() for name in (*SOURCE_NAMES, "requests")
        }
        self._tasks: list[asyncio.Task[None]] = []

    def interval(self, source: str) -> float:
        if source == "requests":
            # Reading the rolling statistics is cheap; keep the p95 cell lively.
            return min(self.config.poll.health, REQUESTS_INTERVAL_S)
        value: float = getattr(self.config.poll, source)
        return value

    def start(self) -> None:
        pollers: dict[str, Callable[[], Awaitable[None]]] = {
            "health": self._poll_health,
            "database": self._poll_database,
            "queue": self._poll_queue,
            "hosts": self._poll_hosts,
        }
        if self.sources.backups is not None:
            pollers["backups"] = self._poll_backups
        # Each on its own (slower) clock: a SaaS API, a HEAD, a kamal run.
        if self.sources.sentry is not None:
            pollers["sentry"] = self._poll_sentry
        if self.sources.s3 is not None:
            pollers["s3"] = self._poll_s3
        if self.sources.proxy is not None:
            pollers["proxy"] = self._poll_proxy
        if self.request_stats is not None:
            pollers["requests"] = self._poll_requests
        for name, poll in pollers.items():
            self._tasks.append(asyncio.create_task(self._loop(name, poll), name=f"poll-{name}"))

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks.clear()
        await self.sources.close()

    def refresh_now(self) -> None:
        for event in self._wake.values():
            event.set()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.refresh_now()
        self._publish()

    async def _loop(self, name: str, poll: Callable[[], Awaitable[None]]) -> None:
        wake = self._wake[name]
        while True:
            if not self.paused:
                try:
                    self.polls[name] += 1
                    await poll()
                    if self._answered(name):
                        self._last_good[name] = self.clock()
                    self._publish(polled=name)
                except Exception as error:
                    # Sources report failures as data; reaching here is a bug.  Say
                    # so, and keep this source's loop (and every other) alive.
                    if self.on_failure is None:
                        raise
                    self.on_failure(name, error)
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.interval(name))

    # Await first, then replace: the other sources update ``readings`` meanwhile,
    # and ``replace(self.readings, x=await …)`` would write back a stale copy.
    async def _poll_health(self) -> None:
        health = await self.sources.health.poll()
        self.readings = replace(self.readings, health=health)

    async def _poll_database(self) -> None:
        database = await self.sources.poll_database()
        self.readings = replace(self.readings, database=database)

    async def _poll_queue(self) -> None:
        queue, privileges = await self.sources.poll_queue()
        self.readings = replace(self.readings, queue=queue, queue_privileges=privileges)

    async def _poll_requests(self) -> None:
        assert self.request_stats is not None
        self.readings = replace(self.readings, requests=self.request_stats())

    async def _poll_hosts(self) -> None:
        hosts = await self.sources.hosts.poll()
        self.readings = replace(self.readings, hosts=hosts)

    async def _poll_backups(self) -> None:
        backups = await self.sources.poll_backups()
        self.readings = replace(self.readings, backups=backups)

    async def _poll_sentry(self) -> None:
        sentry = await self.sources.poll_sentry()
        self.readings = replace(self.readings, sentry=sentry)

    async def _poll_s3(self) -> None:
        s3 = await self.sources.poll_s3()
        self.readings = replace(self.readings, s3=s3)

    async def _poll_proxy(self) -> None:
        proxy = await self.sources.poll_proxy()
        self.readings = replace(self.readings, proxy=proxy)

    def _answered(self, name: str) -> bool:
        """Whether the source's latest poll brought data rather than an error."""
        readings = self.readings
        if name == "health":
            return readings.health is not None and readings.health.status is not None
        if name == "database":
            return readings.database is not None and readings.database.error is None
        if name == "queue":
            return readings.queue is not None and readings.queue.error is None
        if name == "hosts":
            return any(host.error is None for host in readings.hosts)
        if name == "backups":
            return readings.backups is not None and readings.backups.error is None
        if name == "sentry":
            return readings.sentry is not None and readings.sentry.problem is None
        if name == "s3":
            return readings.s3 is not None and readings.s3.status is not None
        if name == "proxy":
            return readings.proxy is not None and not readings.proxy.error
        return True

    def _stale(self, now: datetime) -> frozenset[str]:
        return frozenset(
            name
            for name, at in self._last_good.items()
            if now - at > timedelta(seconds=2 * self.interval(name))
        )

    def _publish(self, polled: str | None = None) -> None:
        now = self.clock()
        findings = evaluate(self.config, self.readings)
        for finding in findings:
            # One history point per poll of the finding's own source.
            if finding.value is not None and source_of(finding.component) == polled:
                self.history.setdefault(finding.key, deque(maxlen=HISTORY_POINTS)).append(
                    finding.value
                )
        self.state = MonitorState(
            readings=self.readings,
            findings=tuple(findings),
            alerts=self.alerts.update(
                findings, now, self.remedy_verified() if self.remedy_verified else None
            ),
            overall=overall(findings),
            history={key: tuple(values) for key, values in self.history.items()},
            stale=self._stale(now),
            paused=self.paused,
            updated_at=now,
        )
        self.listener(self.state)
