"""``rainbow-tui check``: one headless round of every health check.

A check run from cron or a CI job must end, whatever the network does: the round
has a deadline (``CHECK_DEADLINE_S``, connections closed included).  Each source
has its own, shorter deadline (the health timeout, the database's connect and
statement limits, SSH's connect timeout); whatever has not answered when the
round's runs out is reported as not answering, with why, and never as healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rainbow_tui.check_deadline import CHECK_DEADLINE_S, CLOSE_BUDGET_S
from rainbow_tui.config import Config
from rainbow_tui.findings import Finding, evaluate, exit_status, log_window_findings, overall
from rainbow_tui.levels import Level, level_word, severity_word
from rainbow_tui.logs.new_exceptions import NEW_AFTER_DAYS, new_in_history, record_window
from rainbow_tui.logs.window import LogWindow, read_log_window
from rainbow_tui.sources.backups import BackupsSnapshot
from rainbow_tui.sources.database import DatabaseSnapshot
from rainbow_tui.sources.health import HealthSnapshot
from rainbow_tui.sources.hosts import HostProbe, HostSnapshot
from rainbow_tui.sources.privileges import QueuePrivileges
from rainbow_tui.sources.proxy import ProxySnapshot
from rainbow_tui.sources.queue import QueueSnapshot
from rainbow_tui.sources.s3_bucket import S3Snapshot
from rainbow_tui.sources.sentry import SentrySnapshot
from rainbow_tui.sources.service_sources import Readings, ServiceSources
from rainbow_tui.text import tr

if TYPE_CHECKING:
    from rainbow_tui.alert_decisions import AlertStanding

# CPU use is a difference of two /proc/stat readings; this is the gap between them.
CPU_SAMPLE_S = 1.0

LEVEL_STYLE = {
    Level.NORMAL: "green",
    Level.ELEVATED: "yellow",
    Level.WARNING: "bold yellow",
    Level.CRITICAL: "bold red",
    Level.UNKNOWN: "dim",
}

T = TypeVar("T")


def not_answered(what: str, deadline_s: float) -> str:
    """Why a component has no reading: the check's deadline ran out first."""
    return tr("check.not_answered", seconds=deadline_s, what=what)


async def _by(deadline: float, poll: Awaitable[T], substitute: Callable[[], T]) -> T:
    """``poll``'s result, or ``substitute()`` when the loop time ``deadline`` comes first."""
    try:
        async with asyncio.timeout_at(deadline):
            return await poll
    except TimeoutError:
        return substitute()


class _Round:
    """One round of every source, each bounded by the round's deadline."""

    def __init__(self, sources: ServiceSources, deadline_s: float) -> None:
        self.sources = sources
        self.deadline_s = deadline_s
        self.loop = asyncio.get_running_loop()
        self.polls_end = self.loop.time() + deadline_s - CLOSE_BUDGET_S
        # The window of logs read with the readings (nothing until they are taken).
        self.logs = LogWindow(sources.config.logs.check_window_s, None, (), (), ())

    def _missed(self, what: str) -> str:
        return not_answered(what, self.deadline_s - CLOSE_BUDGET_S)

    async def _health(self) -> HealthSnapshot:
        health = self.sources.health
        return await _by(
            self.polls_end,
            health.poll(),
            lambda: HealthSnapshot(
                datetime.now(UTC), health.url, error=self._missed(health.url), timed_out=True
            ),
        )

    async def _database(self) -> DatabaseSnapshot | None:
        return await _by(
            self.polls_end,
            self.sources.poll_database(),
            lambda: DatabaseSnapshot(datetime.now(UTC), error=self._missed("PostgreSQL")),
        )

    async def _queue(self) -> tuple[QueueSnapshot | None, QueuePrivileges | None]:
        missed: tuple[QueueSnapshot | None, QueuePrivileges | None] = (
            QueueSnapshot(datetime.now(UTC), error=self._missed("Solid Queue")),
            None,
        )
        return await _by(self.polls_end, self.sources.poll_queue(), lambda: missed)

    async def _host(self, probe: HostProbe) -> HostSnapshot:
        target = probe.target
        return await _by(
            self.polls_end,
            probe.poll(),
            lambda: HostSnapshot(
                datetime.now(UTC), target.name, target.roles, error=self._missed(target.name)
            ),
        )

    async def _hosts(self) -> tuple[HostSnapshot, ...]:
        # Host by host, so one hung host does not take the others' readings along.
        probes = self.sources.hosts.probes
        return tuple(await asyncio.gather(*(self._host(probe) for probe in probes)))

    async def _backups(self) -> BackupsSnapshot | None:
        source = self.sources.backups
        if source is None:
            return None
        host = source.target.name if source.target is not None else ""
        return await _by(
            self.polls_end,
            source.poll(),
            lambda: BackupsSnapshot(datetime.now(UTC), host, source.config.directory,
                                    error=self._missed(host)),
        )

    async def _sentry(self) -> SentrySnapshot | None:
        source = self.sources.sentry
        if source is None:
            return None
        return await _by(
            self.polls_end, source.poll(),
            lambda: SentrySnapshot(datetime.now(UTC), source.project, source.config.window_h,
                                   problem="timeout", error=self._missed("Sentry")),
        )

    async def _s3(self) -> S3Snapshot | None:
        source = self.sources.s3
        if source is None:
            return None
        return await _by(
            self.polls_end, source.poll(),
            lambda: S3Snapshot(datetime.now(UTC), source.config.bucket, source.config.probe_key,
                               "timeout", error=self._missed("S3")),
        )

    async def _proxy(self) -> ProxySnapshot | None:
        source = self.sources.proxy
        if source is None:
            return None
        return await _by(
            self.polls_end, source.poll(),
            lambda: ProxySnapshot(datetime.now(UTC), error=self._missed(source.shown)),
        )

    async def _second_reading(self, probe: HostProbe, first: HostSnapshot) -> HostSnapshot:
        return await _by(self.polls_end, probe.poll(), lambda: first)

    async def _logs(self) -> LogWindow:
        # Each container's read ends by the round's deadline on its own, and says so.
        return await read_log_window(self.sources.config, self.sources.targets, self.polls_end)

    async def readings(self) -> Readings:
        sources = self.sources
        # Sentry, the bucket and the proxy's details beside the rest.
        components = asyncio.gather(self._sentry(), self._s3(), self._proxy())
        health, database, (queue, privileges), hosts, logs, backups = await asyncio.gather(
            self._health(), self._database(), self._queue(), self._hosts(), self._logs(),
            self._backups(),
        )
        self.logs = logs
        readings = Readings(
            health,
            database,
            queue,
            hosts,
            requests=logs.requests,
            database_missing=sources.database_missing,
            queue_privileges=privileges,
            backups=backups,
        )
        # CPU needs a second reading; only when the deadline leaves room for it, and
        # a host that misses it keeps its first (CPU unknown, the rest as read).
        if any(host.error is None for host in hosts) and (
            self.polls_end - self.loop.time() > CPU_SAMPLE_S
        ):
            await asyncio.sleep(CPU_SAMPLE_S)
            second = await asyncio.gather(
                *(
                    self._second_reading(probe, first)
                    for probe, first in zip(sources.hosts.probes, hosts, strict=True)
                )
            )
            readings = replace(readings, hosts=tuple(second))
        sentry, s3, proxy = await components
        return replace(readings, sentry=sentry, s3=s3, proxy=proxy)


@dataclass(frozen=True, slots=True)
class CheckRound:
    """What one round found, with the readings and the window of logs behind it."""

    findings: list[Finding]
    readings: Readings
    logs: LogWindow
    # The window's exception classes the history did not see over the last 7 days
    # (None: no history to compare with).
    new_exceptions: tuple[str, ...] | None = None


async def check_round(config: Config, deadline_s: float = CHECK_DEADLINE_S) -> CheckRound:
    """One round of every check, within ``deadline_s`` (closing included)."""
    sources = ServiceSources(config)
    try:
        round_ = _Round(sources, deadline_s)
        readings = await round_.readings()
        new = await asyncio.to_thread(new_in_history, config, round_.logs, time.time())
        findings = evaluate(config, readings) + log_window_findings(round_.logs, new=new)
        return CheckRound(findings, readings, round_.logs, new)
    finally:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_BUDGET_S):
                await sources.close()


async def run_check(config: Config, deadline_s: float = CHECK_DEADLINE_S) -> list[Finding]:
    """The findings of :func:`check_round`."""
    return (await check_round(config, deadline_s)).findings


def record_round(config: Config, found: CheckRound) -> str | None:
    """The round's measurements into the history (as the console keeps them); the
    problem in words when the history cannot take them, None when it did."""
    from rainbow_tui.history import HistoryError, open_history, points_of

    try:
        with open_history(config) as history:
            history.record(points_of(found.findings, found.readings))
            record_window(history, found.logs)
    except HistoryError as error:
        return str(error)
    return None


def _logs_document(logs: LogWindow, new: tuple[str, ...] | None) -> dict[str, object]:
    """The window of logs for a machine: the figures, the exception classes by count
    (each new or not, null when there is no history to tell), and which containers
    were read or not."""
    stats = logs.requests.window(logs.seconds) if logs.requests else None
    return {
        "window_s": logs.seconds,
        "request_count": stats.request_count if stats else None,
        "p95_ms": stats.p95_ms if stats else None,
        "error_rate_percent": stats.error_percent if stats else None,
        "exceptions": [
            {"class": entry.exception_class, "count": entry.count,
             "new": None if new is None else entry.exception_class in new}
            for entry in logs.exceptions
        ],
        "new_exceptions": None if new is None else list(new),
        "new_after_days": NEW_AFTER_DAYS,
        "read": list(logs.read),
        "unread": [{"source": entry.source, "reason": entry.reason} for entry in logs.unread],
    }


def _json_value(value: object) -> object:
    """A finding's value as JSON carries it: numbers and text as they are, a
    phrase (a window, a GRANT) in words."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    text = getattr(value, "text", None)
    return text() if callable(text) else str(value)


def _severity_cell(finding: Finding, standing: AlertStanding | None) -> str:
    if not finding.severity:
        return ""
    if standing is not None and standing.silenced:
        return tr("check.severity_silenced", severity=severity_word(finding.severity))
    return severity_word(finding.severity)


def _decided(config: Config, findings: list[Finding]) -> dict[str, AlertStanding]:
    """What the consoles decided about the findings' alerts; nothing when the log of
    decisions cannot be read (the findings stand as judged either way)."""
    from rainbow_tui.alert_decisions import standings_in_force

    try:
        return standings_in_force(config, findings, datetime.now(UTC))
    except OSError:
        return {}


def _decision_document(standing: AlertStanding | None) -> dict[str, object]:
    """A silenced alert still counts (and sets the exit status): it is marked, never
    left out."""
    if standing is None:
        return {}
    document: dict[str, object] = {}
    if standing.acknowledged_at is not None:
        document["acknowledged"] = {"by": standing.acknowledged_by,
                                    "at": standing.acknowledged_at.isoformat()}
    if standing.silenced_at is not None:
        document["silenced"] = {
            "by": standing.silenced_by,
            "at": standing.silenced_at.isoformat(),
            "until": standing.silenced_until.isoformat() if standing.silenced_until else None,
            "reason": standing.reason,
        }
    return document


def print_findings(
    config: Config, findings: list[Finding], as_json: bool, logs: LogWindow | None = None,
    new_exceptions: tuple[str, ...] | None = None,
) -> int:
    status = exit_status(findings)
    decided = _decided(config, findings)
    if as_json:
        document = {
            "service": config.service.name,
            "source": config.source,
            "overall": overall(findings).value,
            "exit_status": status,
            **({"logs": _logs_document(logs, new_exceptions)} if logs is not None else {}),
            "findings": [
                {
                    "component": f.component,
                    "metric": f.metric,
                    # What the finding says as a catalogue key and its values; the
                    # words beside them are in the chosen language.
                    "code": f.code,
                    "values": {name: _json_value(v) for name, v in f.values.items()},
                    "label": f.label,
                    "value": f.value,
                    "display": f.display,
                    "level": f.level.value,
                    "severity": f.severity,
                    "reason": f.reason,
                    # Windowed metrics: which way they go; the level stays as judged.
                    **({"trend": f.trend} if f.trend is not None else {}),
                    **_decision_document(decided.get(f.key)),
                }
                for f in findings
            ],
        }
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return status
    table = Table(
        title=tr("check.title", service=config.service.name,
                 level=level_word(overall(findings))),
        title_justify="left",
    )
    severities = [_severity_cell(f, decided.get(f.key)) for f in findings]
    # An all-clear has no severity to show: its column would only take the width
    # the values and reasons need (80 columns in Japanese).
    with_severity = any(severities)
    table.add_column(tr("check.column.component"), overflow="fold")
    table.add_column(tr("check.column.check"), overflow="fold")
    table.add_column(tr("check.column.value"), overflow="fold")
    table.add_column(tr("check.column.level"), no_wrap=True)
    if with_severity:
        table.add_column(tr("check.column.severity"), overflow="fold")
    table.add_column(tr("check.column.reason"), overflow="fold")
    # Each component named once, its findings under it in their order, a rule between
    # components (in the order each first appears).
    by_component: dict[str, list[tuple[Finding, str]]] = {}
    for f, severity in zip(findings, severities, strict=True):
        by_component.setdefault(f.component_name(), []).append((f, severity))
    for component, rows in by_component.items():
        if table.row_count:
            table.add_section()
        for index, (f, severity) in enumerate(rows):
            # Remote text (errors, versions) goes in as plain Text: never parsed as markup.
            table.add_row(
                Text(component if index == 0 else ""),
                Text(f.label),
                Text(f.display),
                Text(level_word(f.level), style=LEVEL_STYLE[f.level]),
                *([Text(severity)] if with_severity else []),
                Text(f.reason),
            )
    Console().print(table)
    return status
