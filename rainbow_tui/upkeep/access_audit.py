"""セキュリティ 2. アクセスログ監査 (月次): failed authentication and suspicious clients.

The last ``[access_audit] window_s`` seconds of the request logs are read as
``check`` reads its window (``docker logs --since … --timestamps`` over SSH,
through the same parser): kamal-proxy's lines when ``[logs] count_requests_from =
"proxy"``, else the app containers' Rails lines.  Each container's lines are
counted as they come (none kept) and only a container read in full counts.

Found: a client past a line of ``[access_audit]`` (its 401/403s, its probes of
paths such as /wp-login.php or /.env, its 404s): warning.  Nothing past them: ok,
with the figures.  No container read at all: unknown, with why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.logs.access_audit import AccessReport, AccessTally
from rainbow_tui.logs.parse import docker_stamp_heads, parse_lines
from rainbow_tui.logs.window import ContainerRead, LogWindowReader, UnreadLog
from rainbow_tui.text import N_, Phrase, tr
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, not_available

if TYPE_CHECKING:
    from rainbow_tui.ssh import SshTarget
    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["AuditWindow", "access_log_audit", "audit_lines", "judge_audit", "read_access_window"]

_REASON_KEYS = {
    "failed_auth": N_("routine.access.suspect.failed_auth"),
    "probes": N_("routine.access.suspect.probes"),
    "not_found": N_("routine.access.suspect.not_found"),
}


class _CountedRead(ContainerRead):
    """One container's window, counted into a tally of its own as it comes."""

    def __init__(self, host: str, role: str, tags_key: str | None, tally: AccessTally) -> None:
        super().__init__(host, role, tags_key)
        self.tally = tally

    def take(self, texts: list[str]) -> None:
        if texts:
            self.tally.take(parse_lines(
                texts, self.host, self.role, stamped=docker_stamp_heads(texts) is not None,
                inert=True, tags_key=self.tags_key,
            ))


class _AuditReader(LogWindowReader):
    def roles_of(self, host_roles: Sequence[str]) -> list[str]:
        roles = super().roles_of(host_roles)
        # Requests are counted from one place, never twice: the proxy's lines or
        # the app's.
        if self.config.logs.count_requests_from == "proxy":
            return [role for role in roles if role == "proxy"]
        return [role for role in roles if role != "proxy"]

    def new_read(self, host: str, role: str) -> ContainerRead:
        tally = AccessTally(self.config.access_audit, self.config.logs.count_requests_from)
        return _CountedRead(host, role, self.tags_key, tally)


class AuditWindow:
    """The window's report, and which containers were read and which not."""

    def __init__(self, seconds: int, report: AccessReport | None, read: tuple[str, ...],
                 unread: tuple[UnreadLog, ...]) -> None:
        self.seconds = seconds
        self.report = report
        self.read = read
        self.unread = unread


async def read_access_window(config: Config, targets: dict[str, SshTarget],
                             deadline: float) -> AuditWindow:
    """The audit's window of every container, by the loop time ``deadline``."""
    window_s = config.access_audit.window_s
    results = await _AuditReader(config, targets, window_s).read_containers(deadline)
    read = [result for result in results if isinstance(result, _CountedRead)]
    unread = tuple(result for result in results if isinstance(result, UnreadLog))
    if not read:
        return AuditWindow(window_s, None, (), unread)
    total = AccessTally(config.access_audit, config.logs.count_requests_from)
    for container in read:
        container.tally.finish()
        total.merge(container.tally)
    return AuditWindow(window_s, total.report(), tuple(c.source for c in read), unread)


def audit_lines(report: AccessReport) -> tuple[str, ...]:
    """The report's detail, one row a line: suspects, failed authentication by
    client and path, the busiest clients.  Addresses and paths are the logs'
    own (inert) text."""
    lines: list[str] = []
    for suspect in report.suspects:
        lines.append(tr(_REASON_KEYS[suspect.reason], client=suspect.client,
                        count=suspect.count, threshold=suspect.threshold,
                        paths=", ".join(suspect.paths)))
    for row in report.failed_by_client:
        lines.append(tr("routine.access.failed_row", client=row.client, status=row.status,
                        method=row.method, path=row.path, count=row.count))
    for client in report.top_clients:
        lines.append(tr("routine.access.top_row", client=client.client,
                        requests=client.requests))
    return tuple(lines)


def judge_audit(window: AuditWindow) -> ItemResult:
    hours = window.seconds / 3600
    unread = [Phrase(N_("routine.access.unread"), source=entry.source, reason=entry.reason)
              for entry in window.unread]
    report = window.report
    if report is None:
        return ItemResult("unknown", JoinedPhrase(
            [Phrase(N_("routine.access.no_logs"), hours=hours), *unread]))
    figures = {
        "requests": float(report.requests), "clients": float(report.clients),
        "failed_auth": float(report.failed_auth), "not_found": float(report.not_found),
        "probes": float(report.probes), "suspects": float(len(report.suspects)),
    }
    said = [Phrase(N_("routine.access.summary"), hours=hours, requests=report.requests,
                   clients=report.clients, failed=report.failed_auth,
                   not_found=report.not_found, probes=report.probes)]
    if report.suspects:
        said.append(Phrase.plural("routine.access.suspects",
                                  len({suspect.client for suspect in report.suspects})))
    else:
        said.append(Phrase(N_("routine.access.nothing_suspicious")))
    return ItemResult("warning" if report.suspects else "ok", JoinedPhrase(said + unread),
                      figures, audit_lines(report))


async def access_log_audit(context: RoutineContext) -> ItemResult:
    from rainbow_tui.sources.service_sources import ServiceSources

    config = context.config
    if not config.hosts:
        return not_available(Phrase(N_("routine.why.no_hosts")))
    sources = ServiceSources(config)
    try:
        loop = asyncio.get_running_loop()
        window = await read_access_window(config, sources.targets,
                                          loop.time() + config.access_audit.timeout_s)
    finally:
        with contextlib.suppress(Exception):
            await sources.close()
    return judge_audit(window)
