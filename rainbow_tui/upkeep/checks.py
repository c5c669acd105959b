"""The automatic checks a routine's item names by key, each a function of the
run's context and the item, answering an :class:`ItemResult`.

Most read what the console's other parts measure: ``check``'s round (health, TLS,
Sentry, backups, the window of logs), the history (the day's and the week's
figures, sizes and their growth), the DR drill.  A check whose component is not
configured or not there answers "not available: …" as unknown, never ok.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from rainbow_tui.findings import Finding
from rainbow_tui.levels import judge
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.catalog import RoutineItem
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.due import FREQUENCY_KEYS, PERIODS
from rainbow_tui.upkeep.results import (
    ItemResult,
    JoinedPhrase,
    Outcome,
    not_available,
    outcome_of_level,
    worst_outcome,
)

__all__ = ["CHECKS", "CHECK_KEYS", "CheckFunction", "run_check"]

CheckFunction = Callable[[RoutineContext, RoutineItem], Awaitable[ItemResult]]
DAY_S = 86400.0
# The history's rows end before the minute of ``until``: a minute on, so this run's
# own round (recorded a moment ago) counts.
THIS_MINUTE_S = 60.0


# -- from check's round ---------------------------------------------------------------


def _judged(findings: list[Finding]) -> ItemResult:
    outcome = worst_outcome(outcome_of_level(finding.level) for finding in findings)
    said = [
        Phrase(N_("routine.finding"), alert=finding.alert_phrase(), reason=finding.reason_phrase)
        if not finding.reason_phrase.empty
        else finding.alert_phrase()
        for finding in findings
    ]
    figures = {f.key: f.value for f in findings if f.value is not None}
    return ItemResult(outcome, JoinedPhrase(said), figures)


async def _findings(
    context: RoutineContext, wanted: Callable[[Finding], bool], missing: Phrase
) -> ItemResult:
    found = [finding for finding in (await context.check_round()).findings if wanted(finding)]
    return _judged(found) if found else not_available(missing)


async def health_up(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    return await _findings(context, lambda f: f.key == "service:health",
                           Phrase(N_("routine.why.no_health")))


async def tls_expiry(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    return await _findings(context, lambda f: f.key == "service:tls_days_left",
                           Phrase(N_("routine.why.no_tls")))


async def sentry_new_issues(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    if context.config.sentry is None:
        return not_available(Phrase(N_("routine.why.no_sentry")))
    return await _findings(context, lambda f: f.component == "sentry",
                           Phrase(N_("routine.why.no_sentry")))


async def backups_fresh(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    return await _findings(context, lambda f: f.component == "backups",
                           Phrase(N_("routine.why.no_backups")))


_LOG_KEYS = frozenset({"service:request_count", "service:response_time_p95_ms",
                       "service:error_rate_percent", "logs:exceptions"})


async def recent_logs(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    result = await _findings(
        context, lambda f: f.key in _LOG_KEYS or f.key.startswith("logs:read:"),
        Phrase(N_("routine.why.no_logs")),
    )
    new = (await context.check_round()).new_exceptions
    if new is None:
        return result
    # The new classes (marked in the exceptions finding) by name, for the record.
    return dataclasses.replace(
        result, figures={**result.figures, "new_exception_classes": float(len(new))},
        lines=(*result.lines, *(f"new: {name}" for name in new)))


# -- from the history ------------------------------------------------------------------


def _until(context: RoutineContext) -> float:
    return context.clock().timestamp() + THIS_MINUTE_S


def _history_problem(error: Exception) -> ItemResult:
    return not_available(Phrase(N_("routine.why.no_history"), error=str(error)))


def _figures_outcome(context: RoutineContext, p95: float | None, errors: float | None) -> Outcome:
    thresholds = context.config.thresholds
    levels = [
        judge(value, line.normal, line.warn, line.critical)
        for value, line in ((p95, thresholds.response_time_p95_ms),
                            (errors, thresholds.error_rate_percent))
        if value is not None
    ]
    return worst_outcome(outcome_of_level(level) for level in levels) if levels else "unknown"


def _day_figures(context: RoutineContext, now: float) -> ItemResult:
    from rainbow_tui.history import ERROR_RATE, P95, REQUESTS_PER_MINUTE, open_history

    with open_history(context.config) as history:
        rates = {r.minute: r.mean for r in history.rows(REQUESTS_PER_MINUTE, now - DAY_S, now)}
        p95_rows = history.rows(P95, now - DAY_S, now)
        error_rows = history.rows(ERROR_RATE, now - DAY_S, now)
    if not rates and not p95_rows:
        return ItemResult("unknown", Phrase(N_("routine.history.empty_day")))

    def weighted(rows: Iterable[tuple[int, float]]) -> float | None:
        pairs = [(minute, value) for minute, value in rows]
        weight = sum(rates.get(minute, 0.0) for minute, _ in pairs)
        if not pairs:
            return None
        if weight <= 0:
            return sum(value for _, value in pairs) / len(pairs)
        return sum(value * rates.get(minute, 0.0) for minute, value in pairs) / weight

    p95 = weighted((row.minute, row.mean) for row in p95_rows)
    errors = weighted((row.minute, row.mean) for row in error_rows)
    # Requests per minute seen, over the minutes the console watched.
    requests = round(sum(rates.values())) if rates else 0
    figures = {"minutes_seen": float(len(rates)), "requests_seen": float(requests)}
    figures |= {"p95_ms": p95} if p95 is not None else {}
    figures |= {"error_rate_percent": errors} if errors is not None else {}
    return ItemResult(
        _figures_outcome(context, p95, errors),
        Phrase(N_("routine.history.day"), p95=_number(p95), errors=_number(errors),
               requests=requests, minutes=len(rates)),
        figures,
    )


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


async def request_figures_24h(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.history import HistoryError

    # This run's own round goes into the history first.
    await context.check_round()
    try:
        return await asyncio.to_thread(_day_figures, context, _until(context))
    except HistoryError as error:
        return _history_problem(error)


def _week(context: RoutineContext, now: float) -> ItemResult:
    from rainbow_tui.history import open_history, weekly_figures

    with open_history(context.config) as history:
        week = weekly_figures(history, now)
    if week.request_count is None and week.p95_ms is None:
        return ItemResult("unknown", Phrase(N_("routine.history.empty_week")))
    figures = {"coverage_percent": week.coverage_percent}
    for name, value in (("p95_ms", week.p95_ms), ("p95_worst_ms", week.p95_worst_ms),
                        ("error_rate_percent", week.error_rate_percent),
                        ("request_count", week.request_count)):
        if value is not None:
            figures[name] = float(value)
    return ItemResult(
        _figures_outcome(context, week.p95_ms, week.error_rate_percent),
        Phrase(N_("routine.history.week"), p95=_number(week.p95_ms),
               worst=_number(week.p95_worst_ms), errors=_number(week.error_rate_percent),
               requests=week.request_count or 0, coverage=week.coverage_percent),
        figures,
    )


async def weekly_figures(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.history import HistoryError

    await context.check_round()
    try:
        return await asyncio.to_thread(_week, context, _until(context))
    except HistoryError as error:
        return _history_problem(error)


def _megabytes(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def _megabytes_change(value: float | None) -> str:
    return "—" if value is None else f"{value / 1e6:+,.1f}"


def _growth(context: RoutineContext, now: float) -> ItemResult:
    from rainbow_tui.history import open_history
    from rainbow_tui.history import weekly_figures as figures_of_week

    with open_history(context.config) as history:
        week = figures_of_week(history, now)
    said: list[Phrase] = []
    figures: dict[str, float] = {}
    if week.database_size is not None:
        size = week.database_size
        figures["database_size_bytes"] = size.latest
        if size.growth_per_week is not None:
            figures["database_growth_bytes_per_week"] = size.growth_per_week
        said.append(Phrase(N_("routine.growth.database"), size=_megabytes(size.latest),
                           growth=_megabytes_change(size.growth_per_week)))
    for disk in week.disks:
        figures[disk.metric] = disk.latest
        said.append(Phrase(N_("routine.growth.disk"), disk=disk.metric, value=disk.latest,
                           growth=_number(disk.growth_per_week)))
    if not said:
        return ItemResult("unknown", Phrase(N_("routine.history.empty_week")))
    return ItemResult("ok", JoinedPhrase(said), figures)


async def disk_db_growth(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.history import HistoryError

    await context.check_round()
    try:
        return await asyncio.to_thread(_growth, context, _until(context))
    except HistoryError as error:
        return _history_problem(error)


# -- maintenance and the drill ------------------------------------------------------------


async def vacuum_analyze(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.vacuum import vacuum_analyze as run_vacuum

    return await run_vacuum(context)


async def cleanup_finished_jobs(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.finished_jobs import clear_finished_jobs

    return await clear_finished_jobs(context)


async def cleanup_old_data(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.cleanup import cleanup_old_data as run_cleanup

    return await run_cleanup(context)


async def pg_stat_statements_review(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.statements import review_statements

    return await review_statements(context)


async def dr_restore_test(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.dr_drill import DrillToolsMissing, run_dr_drill

    try:
        result = await run_dr_drill(context.config)
    except DrillToolsMissing as error:
        return not_available(Phrase.verbatim(str(error)))
    lines = tuple(
        f"{'✓' if check.ok else '✗'} {check.step}: {check.detail} ({check.duration_s:.1f} s)"
        for check in result.checks
    )
    figures = {"duration_s": result.duration_s,
               **{f"rows:{table}": float(count) for table, count in result.row_counts.items()}}
    dump = result.dump.name if result.dump is not None else "—"
    key = N_("routine.drill.ok") if result.ok else N_("routine.drill.failed")
    return ItemResult("ok" if result.ok else "critical",
                      Phrase(key, dump=dump, host=result.host or "—",
                             seconds=result.duration_s, tables=len(result.row_counts)),
                      figures, lines)


# -- security ---------------------------------------------------------------------------------


async def bundler_audit(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.security_scans import bundler_audit_scan

    return await bundler_audit_scan(context)


async def brakeman(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.security_scans import brakeman_scan

    return await brakeman_scan(context)


async def password_rotation_due(context: RoutineContext, item: RoutineItem) -> ItemResult:
    """Due by the last time a person marked this item done (it rotates nothing)."""
    frequency = item.frequency or "quarterly"
    period = PERIODS[frequency]
    if context.records is None:
        return not_available(Phrase(N_("routine.why.no_records")))
    last = await asyncio.to_thread(context.records.last_done, item.id)
    if last is None:
        return ItemResult("warning", Phrase(N_("routine.rotation.never"),
                                            frequency=Phrase(FREQUENCY_KEYS[frequency])))
    age = context.clock() - last
    days = age / timedelta(days=1)
    if age >= period:
        return ItemResult("warning", Phrase(N_("routine.rotation.due"), days=days),
                          {"days_since": days})
    left = (period - age) / timedelta(days=1)
    return ItemResult("ok", Phrase(N_("routine.rotation.not_due"), days=days, left=left),
                      {"days_since": days})


async def dependabot_alerts(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.dependabot_alerts import dependabot_alerts as read_alerts

    return await read_alerts(context)


async def access_log_audit(context: RoutineContext, _item: RoutineItem) -> ItemResult:
    from rainbow_tui.upkeep.access_audit import access_log_audit as audit

    return await audit(context)


def _missing(component: str) -> CheckFunction:
    """A check whose part of the console is not built yet: says so, as unknown."""

    async def check(_context: RoutineContext, _item: RoutineItem) -> ItemResult:
        return not_available(Phrase(N_("routine.why.no_component"), component=component))

    return check


CHECKS: dict[str, CheckFunction] = {
    "health_up": health_up,
    "tls_expiry": tls_expiry,
    "sentry_new_issues": sentry_new_issues,
    "backups_fresh": backups_fresh,
    "recent_logs": recent_logs,
    "request_figures_24h": request_figures_24h,
    "weekly_figures": weekly_figures,
    "disk_db_growth": disk_db_growth,
    "bundler_audit": bundler_audit,
    "brakeman": brakeman,
    "dependabot_alerts": dependabot_alerts,
    "vacuum_analyze": vacuum_analyze,
    "cleanup_finished_jobs": cleanup_finished_jobs,
    "cleanup_old_data": cleanup_old_data,
    "pg_stat_statements_review": pg_stat_statements_review,
    "dr_restore_test": dr_restore_test,
    "password_rotation_due": password_rotation_due,
    "access_log_audit": access_log_audit,
}
CHECK_KEYS = frozenset(CHECKS)


async def run_check(context: RoutineContext, item: RoutineItem) -> ItemResult:
    return await CHECKS[item.check](context, item)
