"""四半期メンテナンス パフォーマンスレビュー: slow queries and the index review.

With ``pg_stat_statements`` installed, the top statements by total and by mean
execution time (PostgreSQL 13's ``total_exec_time`` / ``mean_exec_time``); the
slowest mean above the manual's query-time warning line makes the item a
warning.  Without it, a clear note of how to install it.  Either way the indexes
``pg_stat_user_indexes`` shows never scanned since the statistics were reset
(primary keys and unique indexes left out: they enforce, not only speed up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable
from rainbow_tui.sources.transactions import READ, transact
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.database_sessions import maintenance_session
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, Outcome, not_available

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["review_statements"]

INSTALLED_SQL = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
TOP_SQL = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query, calls,
       total_exec_time, mean_exec_time
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY {order} DESC LIMIT 5
"""
UNUSED_INDEXES_SQL = """
SELECT s.schemaname || '.' || s.indexrelname AS index, s.relname AS table,
       pg_relation_size(s.indexrelid) AS bytes
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
ORDER BY pg_relation_size(s.indexrelid) DESC, s.indexrelname LIMIT 20
"""
TIMEOUT_S = 30.0


async def review_statements(context: RoutineContext) -> ItemResult:
    session = maintenance_session(context, "primary", TIMEOUT_S, writes=False)
    if session is None:
        return not_available(Phrase.verbatim(context.runner.context.why_no_database()))

    async def read(
        connection: asyncpg.Connection,
    ) -> tuple[bool, list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
        installed = int(await connection.fetchval(INSTALLED_SQL)) > 0
        by_total: list[asyncpg.Record] = []
        by_mean: list[asyncpg.Record] = []
        if installed:
            by_total = await connection.fetch(TOP_SQL.format(order="total_exec_time"))
            by_mean = await connection.fetch(TOP_SQL.format(order="mean_exec_time"))
        unused: list[asyncpg.Record] = await connection.fetch(UNUSED_INDEXES_SQL)
        return installed, by_total, by_mean, unused

    try:
        installed, by_total, by_mean, unused = await transact(session, read, READ)
    except DatabaseUnavailable as error:
        return ItemResult("unknown", Phrase(N_("routine.statements.failed"), error=str(error)))
    finally:
        await session.close()
    lines: list[str] = []
    for title, rows in (("total", by_total), ("mean", by_mean)):
        lines += [
            f"[{title}] {row['mean_exec_time']:.1f} ms mean, {row['total_exec_time']:.0f} ms "
            f"total, {row['calls']} calls: {row['query']}"
            for row in rows
        ]
    lines += [f"[unused index] {row['index']} on {row['table']} ({row['bytes']} bytes)"
              for row in unused]
    figures = {"unused_indexes": float(len(unused))}
    indexes = Phrase.plural("routine.statements.unused", len(unused))
    if not installed:
        return ItemResult("unknown",
                          JoinedPhrase([Phrase(N_("routine.statements.not_installed")), indexes]),
                          figures, tuple(lines))
    slowest = max((float(row["mean_exec_time"]) for row in by_mean), default=0.0)
    figures["slowest_mean_ms"] = slowest
    line = context.config.thresholds.db_query_time_ms
    outcome: Outcome = "warning" if slowest > line.warn else "ok"
    return ItemResult(
        outcome,
        JoinedPhrase([Phrase(N_("routine.statements.top"), slowest=slowest, warn=line.warn),
                      indexes]),
        figures, tuple(lines),
    )
