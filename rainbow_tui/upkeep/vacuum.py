"""月次メンテナンス: ``VACUUM ANALYZE`` of the app's database, as the manual runs it
through ``psql -c "VACUUM ANALYZE;"``, with what it did measured.

The dead tuples of every user table (``pg_stat_user_tables.n_dead_tup``) are
summed before and after; while it runs a second session reads
``pg_stat_progress_vacuum`` for the VACUUM's backend (the table and phase, heap
blocks scanned of the total) and reports each change.  VACUUM cannot run inside
a transaction, so it runs on a writable session of its own in autocommit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from rainbow_tui.incidents.runbooks import DatabaseName
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.database_sessions import maintenance_session, monitored_link
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, not_available

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["DEAD_TUPLES_SQL", "PROGRESS_SQL", "vacuum_analyze"]

DEAD_TUPLES_SQL = "SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables"
TOP_DEAD_SQL = """
SELECT schemaname || '.' || relname AS name, n_dead_tup FROM pg_stat_user_tables
WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC, relname LIMIT 5
"""
PROGRESS_SQL = """
SELECT p.relid::regclass::text AS relation, p.phase, p.heap_blks_total, p.heap_blks_scanned
FROM pg_stat_progress_vacuum p WHERE p.pid = $1
"""
PROGRESS_EVERY_S = 0.2


async def _scalar(connection: asyncpg.Connection, sql: str) -> int:
    value: Any = await connection.fetchval(sql)
    return int(value or 0)


async def _watch(watcher: PostgresLink, context: RoutineContext, pid: int,
                 seen: list[str]) -> None:
    """Report each new (table, phase, blocks) of the VACUUM's backend until cancelled."""
    last: tuple[object, ...] | None = None

    async def read(connection: asyncpg.Connection) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await connection.fetch(PROGRESS_SQL, pid)
        return rows

    while True:
        with contextlib.suppress(DatabaseUnavailable):
            for row in await watcher.with_connection(read, deadline_s=10.0):
                now = (row["relation"], row["phase"], row["heap_blks_scanned"])
                if now != last:
                    last = now
                    total = int(row["heap_blks_total"] or 0)
                    scanned = int(row["heap_blks_scanned"] or 0)
                    percent = 100.0 * scanned / total if total else 100.0
                    seen.append(str(row["relation"]))
                    context.progress(Phrase(
                        N_("routine.vacuum.progress"), relation=str(row["relation"]),
                        phase=str(row["phase"]), scanned=scanned, total=total,
                        percent=percent))
        await asyncio.sleep(PROGRESS_EVERY_S)


async def _vacuum(context: RoutineContext, database: DatabaseName,
                  timeout_s: float) -> tuple[int, int, list[str], float, int, int]:
    """(dead tuples before, after, the top tables before and those skipped, seconds,
    tables seen in progress, tables skipped: the role may vacuum only what it owns,
    or with PostgreSQL 17's MAINTAIN privilege)."""
    session = maintenance_session(context, database, timeout_s, writes=True)
    watcher = maintenance_session(context, database, 10.0, writes=False)
    assert session is not None and watcher is not None
    seen: list[str] = []
    skipped: list[str] = []

    async def work(connection: asyncpg.Connection) -> tuple[int, int, list[str], float]:
        before = await _scalar(connection, DEAD_TUPLES_SQL)
        top = [f"{database}: {row['name']}: {row['n_dead_tup']}"
               for row in await connection.fetch(TOP_DEAD_SQL)]
        pid = int(await connection.fetchval("SELECT pg_backend_pid()"))
        # The watcher's session is open before VACUUM starts: a short VACUUM must
        # not cut a connection attempt off half way.
        await watcher.with_connection(lambda c: c.fetchval("SELECT 1"), deadline_s=10.0)
        watch = asyncio.create_task(_watch(watcher, context, pid, seen))
        started = time.monotonic()

        def heard(_connection: object, message: Any) -> None:
            # PostgreSQL's WARNING for each table the role may not vacuum.
            text = str(getattr(message, "message", ""))
            if text.startswith("permission denied to vacuum") or "skipping" in text:
                skipped.append(f"{database}: {text}")

        connection.add_log_listener(heard)
        try:
            await connection.execute("VACUUM ANALYZE")
        finally:
            connection.remove_log_listener(heard)
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        took = time.monotonic() - started
        # The statistics VACUUM reports reach this session's next snapshot.
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        after = await _scalar(connection, DEAD_TUPLES_SQL)
        return before, after, top, took

    try:
        before, after, top, took = await session.with_connection(work, deadline_s=timeout_s + 30)
    finally:
        await session.close()
        await watcher.close()
    return before, after, top + skipped, took, len(set(seen)), len(skipped)


async def vacuum_analyze(context: RoutineContext) -> ItemResult:
    """The app's database, and Solid Queue's when it is another one (Rails 8)."""
    if context.runner.read_only:
        return ItemResult("unknown", Phrase(N_("routine.read_only"),
                                            command="VACUUM ANALYZE;"))
    primary = monitored_link(context, "primary")
    if primary is None:
        return not_available(Phrase.verbatim(context.runner.context.why_no_database()))
    queue = monitored_link(context, "queue")
    databases: list[DatabaseName] = ["primary"]
    if queue is not None and queue.dsn != primary.dsn:
        databases.append("queue")
    timeout_s = context.config.routines.vacuum_timeout_s
    before = after = tables = skipped = 0
    took = 0.0
    lines: list[str] = []
    for database in databases:
        try:
            one = await _vacuum(context, database, timeout_s)
        except DatabaseUnavailable as error:
            return ItemResult("warning", Phrase(N_("routine.vacuum.failed"), error=str(error)))
        before, after, took, tables, skipped = (before + one[0], after + one[1], took + one[3],
                                                tables + one[4], skipped + one[5])
        lines += one[2]
    done = Phrase(N_("routine.vacuum.done"), seconds=took, before=before, after=after,
                  tables=tables)
    return ItemResult(
        "warning" if skipped else "ok",
        JoinedPhrase([done, Phrase.plural("routine.vacuum.skipped", skipped)])
        if skipped else done,
        {"dead_tuples_before": float(before), "dead_tuples_after": float(after),
         "duration_s": took, "tables_seen_in_progress": float(tables),
         "tables_skipped": float(skipped), "databases": float(len(databases))},
        tuple(lines),
        duration_s=took,
    )
