"""The checks that prove a runbook step worked, one per kind of verification
(``http_ok``, ``metric_below``, ``sql_scalar_below``, ``none``), each made once and
answering whether it passed and why, in words.  The runner repeats them until one
passes or the verification's time runs out."""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from rainbow_tui.incidents.runbook_sql import runbook_session
from rainbow_tui.sources.postgres_link import DatabaseUnavailable
from rainbow_tui.sources.transactions import READ, transact

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.config import Config
    from rainbow_tui.incidents.executors import CommandContext
    from rainbow_tui.incidents.runbooks import Verification, VerificationKind
    from rainbow_tui.sources.service_sources import ServiceSources

__all__ = ["MetricProbe", "StepChecks", "findings_probe"]

# The current value of every finding, by key ("database:db_connections" → 7.0).
MetricProbe = Callable[[], Awaitable[Mapping[str, float | None]]]
Check = Callable[["Verification"], Awaitable[tuple[bool, str]]]


class StepChecks:
    """Each kind of verification, checked once against one configured service."""

    def __init__(self, context: CommandContext, metric_probe: MetricProbe | None) -> None:
        self.context = context
        self.metric_probe = metric_probe
        self.by_kind: Mapping[VerificationKind, Check] = {
            "none": self._nothing_to_check,
            "http_ok": self._http_ok,
            "metric_below": self._metric_below,
            "sql_scalar_below": self._sql_scalar_below,
        }

    async def check(self, verification: Verification) -> tuple[bool, str]:
        """Whether ``verification`` passes right now, and why in words."""
        return await self.by_kind[verification.kind](verification)

    async def _nothing_to_check(self, verification: Verification) -> tuple[bool, str]:
        return True, "nothing to check automatically"

    async def _http_ok(self, verification: Verification) -> tuple[bool, str]:
        snapshot = await self.context.sources.health.poll()
        if snapshot.up:
            latency = f" in {snapshot.latency_ms:.0f} ms" if snapshot.latency_ms else ""
            return True, f"GET {snapshot.url} answered 200{latency}"
        return False, f"GET {snapshot.url}: {snapshot.error}"

    async def _metric_below(self, verification: Verification) -> tuple[bool, str]:
        if self.metric_probe is None:
            return False, "no metric source to check against"
        values = await self.metric_probe()
        matching = {k: v for k, v in values.items() if fnmatch.fnmatchcase(k, verification.key)}
        if not matching:
            return False, f"no finding matches {verification.key}"
        verdicts: list[str] = []
        passed = True
        for key, value in sorted(matching.items()):
            metric = key.split(":", 1)[1]
            threshold = getattr(self.context.config.thresholds, metric, None)
            if threshold is None:
                return False, f"{key}: no threshold for {metric}"
            line = {
                "normal": threshold.normal,
                "warn": threshold.warn,
                "critical": threshold.critical,
            }[verification.threshold]
            if value is None:
                passed = False
                verdicts.append(f"{key} has no data")
                continue
            # "Below warn" means not warning any more: warn is crossed when exceeded,
            # normal is a strict upper bound (levels.judge).
            ok = value < line if verification.threshold == "normal" else value <= line
            passed = passed and ok
            relation = "≤" if ok else ">"
            verdicts.append(f"{key} = {value:g} {relation} {verification.threshold} {line:g}")
        return passed, "; ".join(verdicts)

    async def _sql_scalar_below(self, verification: Verification) -> tuple[bool, str]:
        monitored = self.context.link(verification.database)
        if monitored is None:
            return False, self.context.why_no_database()
        # A check is as quick as a poll: the monitor's statement timeout, own session.
        link = runbook_session(
            monitored,
            self.context.config.database.statement_timeout_ms / 1000,
            self.context.config.database.connect_timeout_s,
        )
        below = verification.below if verification.below is not None else 0.0

        async def fetch(connection: asyncpg.Connection) -> object:
            return await connection.fetchval(verification.sql)

        try:
            value = await transact(link, fetch, READ)
        except DatabaseUnavailable as error:
            return False, str(error)
        finally:
            await link.close()
        if value is None:
            return False, "the query returned no value"
        try:
            number = float(str(value))
        except ValueError:
            return False, f"the query returned {value!r}, not a number"
        if number < below:
            return True, f"{number:g} < {below:g}"
        return False, f"{number:g} is not below {below:g}"


def findings_probe(config: Config, sources: ServiceSources) -> MetricProbe:
    """A probe that polls every source once and judges the readings, as the monitor does."""
    from rainbow_tui.findings import evaluate

    async def probe() -> Mapping[str, float | None]:
        readings = await sources.poll_all()
        return {finding.key: finding.value for finding in evaluate(config, readings)}

    return probe
