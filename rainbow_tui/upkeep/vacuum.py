"""月次メンテナンス: ``VACUUM ANALYZE`` of the app's database, as the manual runs it
through ``psql -c "VACUUM ANALYZE;"``, with what it did measured.

It runs as ``VACUUM (VERBOSE, ANALYZE)``, the same work with a message per table:
each app table is reported as it finishes with the dead tuples it removed, and
those are counted (see :mod:`rainbow_tui.upkeep.vacuum_messages`).  The dead tuples
of every user table (``pg_stat_user_tables.n_dead_tup``) are summed before and
after; while it runs a second session reads ``pg_stat_progress_vacuum`` for the
VACUUM's backend (the table and phase, heap blocks scanned of the total) and
reports each change, which is what moves during a long table.  VACUUM cannot run
inside a transaction, so it runs on a writable session of its own in autocommit.

Before PostgreSQL 17 only a table's owner (or the database's, or a superuser) may
vacuum it, and a database-wide VACUUM says ``permission denied to vacuum "x",
skipping it`` for each other table.  So it runs as the owner's DSN when the
configuration names one (``owner_dsn_env``), and what it skipped is told apart:
the app's own tables left unvacuumed are a warning; system catalogs only a
superuser may vacuum (the shared ones, even for the database's owner) are left to
autovacuum, as they would be by the manual's ``psql -U <app>``, and only counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rainbow_tui.incidents.runbooks import DatabaseName
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.database_sessions import maintenance_session, monitored_link
from rainbow_tui.upkeep.results import ItemResult, JoinedPhrase, not_available
from rainbow_tui.upkeep.vacuum_messages import VacuumTally

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["DEAD_TUPLES_SQL", "PROGRESS_SQL", "owner_variable", "vacuum_analyze"]

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
USER_TABLES_SQL = "SELECT schemaname, relname FROM pg_stat_user_tables"


@dataclass
class _Vacuumed:
    """What one database's VACUUM did."""

    dead_before: int = 0
    dead_after: int = 0
    seconds: float = 0.0
    # What its messages said: the app's tables vacuumed and skipped, the catalogs.
    told: VacuumTally = field(default_factory=lambda: VacuumTally("", frozenset(),
                                                                  frozenset()))
    top_dead: list[str] = field(default_factory=list)


async def _scalar(connection: asyncpg.Connection, sql: str) -> int:
    value: Any = await connection.fetchval(sql)
    return int(value or 0)


async def _watch(watcher: PostgresLink, context: RoutineContext, pid: int) -> None:
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
                    context.progress(Phrase(
                        N_("routine.vacuum.progress"), relation=str(row["relation"]),
                        phase=str(row["phase"]), scanned=scanned, total=total,
                        percent=percent))
        await asyncio.sleep(PROGRESS_EVERY_S)


def owner_variable(context: RoutineContext, database: DatabaseName) -> str:
    """The variable named for the DSN of ``database``'s owner ('' when none is)."""
    config = context.config
    return (config.queue if database == "queue" else config.database).owner_dsn_env


async def _vacuum(context: RoutineContext, database: DatabaseName,
                  timeout_s: float) -> _Vacuumed:
    variable = owner_variable(context, database)
    session = maintenance_session(context, database, timeout_s, writes=True,
                                  dsn=os.environ.get(variable, "") if variable else "")
    watcher = maintenance_session(context, database, 10.0, writes=False)
    assert session is not None and watcher is not None
    done = _Vacuumed()

    async def work(connection: asyncpg.Connection) -> None:
        done.dead_before = await _scalar(connection, DEAD_TUPLES_SQL)
        done.top_dead = [f"{database}: {row['name']}: {row['n_dead_tup']}"
                         for row in await connection.fetch(TOP_DEAD_SQL)]
        pid = int(await connection.fetchval("SELECT pg_backend_pid()"))
        user_tables = await connection.fetch(USER_TABLES_SQL)
        done.told = VacuumTally(
            str(await connection.fetchval("SELECT current_database()")),
            frozenset(f"{row['schemaname']}.{row['relname']}" for row in user_tables),
            frozenset(str(row["relname"]) for row in user_tables))
        # The watcher's session is open before VACUUM starts: a short VACUUM must
        # not cut a connection attempt off half way.
        await watcher.with_connection(lambda c: c.fetchval("SELECT 1"), deadline_s=10.0)
        watch = asyncio.create_task(_watch(watcher, context, pid))
        started = time.monotonic()

        def heard(_connection: object, message: Any) -> None:
            # An INFO as each table finishes, a WARNING for each it may not vacuum.
            finished = done.told.hear(str(getattr(message, "message", "")))
            if finished is not None:
                context.progress(Phrase.plural("routine.vacuum.table_done", finished.removed,
                                               table=finished.qualified))

        connection.add_log_listener(heard)
        try:
            await connection.execute("VACUUM (VERBOSE, ANALYZE)")
        finally:
            connection.remove_log_listener(heard)
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        done.seconds = time.monotonic() - started
        # The statistics VACUUM reports reach this session's next snapshot.
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        done.dead_after = await _scalar(connection, DEAD_TUPLES_SQL)

    try:
        await session.with_connection(work, deadline_s=timeout_s + 30)
    finally:
        await session.close()
        await watcher.close()
    return done


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
    for database in databases:
        variable = owner_variable(context, database)
        if variable and not os.environ.get(variable):
            return ItemResult("unknown", Phrase(N_("routine.vacuum.owner_unset"),
                                                variable=variable, database=database))
    timeout_s = context.config.routines.vacuum_timeout_s
    runs: list[_Vacuumed] = []
    for database in databases:
        try:
            runs.append(await _vacuum(context, database, timeout_s))
        except DatabaseUnavailable as error:
            return ItemResult("warning", Phrase(N_("routine.vacuum.failed"), error=str(error)))
    before = sum(run.dead_before for run in runs)
    after = sum(run.dead_after for run in runs)
    took = sum(run.seconds for run in runs)
    vacuumed = [table for run in runs for table in run.told.vacuumed]
    removed = sum(table.removed for table in vacuumed)
    skipped = [f"{database}: {text}" for database, run in zip(databases, runs, strict=True)
               for text in run.told.skipped]
    catalogs = sum(run.told.catalogs_skipped for run in runs)
    counted = all(run.told.understood for run in runs)
    figures = {"dead_tuples_before": float(before), "dead_tuples_after": float(after),
               "duration_s": took, "tables_skipped": float(len(skipped)),
               "catalogs_skipped": float(catalogs), "databases": float(len(databases))}
    if counted:
        parts = [Phrase(N_("routine.vacuum.done"), seconds=took, tables=len(vacuumed),
                        removed=removed, before=before, after=after)]
        figures |= {"tables_vacuumed": float(len(vacuumed)),
                    "dead_tuples_removed": float(removed)}
    else:
        parts = [Phrase(N_("routine.vacuum.done_uncounted"), seconds=took, before=before,
                        after=after)]
    if skipped:
        parts.append(Phrase.plural("routine.vacuum.skipped", len(skipped)))
    if catalogs:
        parts.append(Phrase.plural("routine.vacuum.catalogs_left", catalogs))
    return ItemResult(
        "warning" if skipped else "ok",
        JoinedPhrase(parts) if len(parts) > 1 else parts[0],
        figures,
        tuple(line for run in runs for line in run.top_dead) + tuple(skipped),
        duration_s=took,
    )
