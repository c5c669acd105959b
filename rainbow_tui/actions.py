"""Actions that change the operated system: backends, failed jobs, queues.

Each action is one short explicit ``READ WRITE`` transaction on the monitoring
session (which is read-only by default, so nothing else can write by accident),
and returns an ``ActionResult`` saying in words what happened.  The console asks
for a confirmation naming the target before calling any of these, and offers none
of them under ``--read-only``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.queue import exception_class_sql

if TYPE_CHECKING:
    import asyncpg


# Solid Queue's own retry puts a job back where a new one would go: ready when
# due, scheduled when its time has not come yet; then the failure is forgotten.
RETRY_SQL = """
WITH chosen AS (
    SELECT f.id, f.job_id FROM solid_queue_failed_executions AS f
    WHERE {where}
    FOR UPDATE SKIP LOCKED
), to_ready AS (
    INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
    SELECT j.id, j.queue_name, j.priority, now()
    FROM chosen JOIN solid_queue_jobs AS j ON j.id = chosen.job_id
    WHERE j.scheduled_at IS NULL OR j.scheduled_at <= now()
    RETURNING job_id
), to_scheduled AS (
    INSERT INTO solid_queue_scheduled_executions
        (job_id, queue_name, priority, scheduled_at, created_at)
    SELECT j.id, j.queue_name, j.priority, j.scheduled_at, now()
    FROM chosen JOIN solid_queue_jobs AS j ON j.id = chosen.job_id
    WHERE j.scheduled_at > now()
    RETURNING job_id
), forgotten AS (
    DELETE FROM solid_queue_failed_executions
    WHERE id IN (SELECT id FROM chosen)
    RETURNING job_id
)
SELECT (SELECT count(*) FROM forgotten) AS retried,
       (SELECT count(*) FROM to_ready) AS ready,
       (SELECT count(*) FROM to_scheduled) AS scheduled
"""

# Discarding deletes the job; its executions go with it (foreign keys cascade).
DISCARD_SQL = """
WITH chosen AS (
    SELECT f.job_id FROM solid_queue_failed_executions AS f WHERE {where}
)
DELETE FROM solid_queue_jobs WHERE id IN (SELECT job_id FROM chosen)
"""

BY_JOB = "f.job_id = $1"
# The same expression the queue pane groups by, so a class retries what it showed.
BY_CLASS = f"{exception_class_sql('f.error')} = $1"


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str


class DatabaseActions:
    def __init__(self, link: PostgresLink) -> None:
        self.link = link

    async def _write(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Run one statement in its own READ WRITE transaction."""

        async def run(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            await connection.execute("BEGIN READ WRITE")
            try:
                rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
            except BaseException:
                await connection.execute("ROLLBACK")
                raise
            await connection.execute("COMMIT")
            return rows

        return await self.link.with_connection(run)

    async def cancel_backend(self, pid: int) -> ActionResult:
        return await self._signal_backend("pg_cancel_backend", "cancelled the query of", pid)

    async def terminate_backend(self, pid: int) -> ActionResult:
        return await self._signal_backend("pg_terminate_backend", "terminated", pid)

    async def _signal_backend(self, function: str, done: str, pid: int) -> ActionResult:
        try:
            rows = await self._write(f"SELECT {function}($1) AS ok", pid)
        except DatabaseUnavailable as error:
            return ActionResult(False, f"backend {pid}: {error}")
        ok = bool(rows and rows[0]["ok"])
        if ok:
            return ActionResult(True, f"{done} backend {pid}")
        return ActionResult(False, f"backend {pid} not signalled (already gone?)")

    async def retry_failed_job(self, job_id: int) -> ActionResult:
        return await self._retry(BY_JOB, job_id, f"job {job_id}")

    async def retry_failed_class(self, exception_class: str) -> ActionResult:
        return await self._retry(BY_CLASS, exception_class, f"failed jobs of {exception_class}")

    async def _retry(self, where: str, key: object, what: str) -> ActionResult:
        try:
            rows = await self._write(RETRY_SQL.format(where=where), key)
        except DatabaseUnavailable as error:
            return ActionResult(False, f"retry {what}: {error}")
        row = rows[0]
        retried = int(row["retried"])
        if not retried:
            return ActionResult(False, f"retry {what}: nothing to retry (already handled?)")
        return ActionResult(
            True,
            f"retried {what}: {retried} job(s), {row['ready']} ready, {row['scheduled']} scheduled",
        )

    async def discard_failed_job(self, job_id: int) -> ActionResult:
        return await self._discard(BY_JOB, job_id, f"job {job_id}")

    async def discard_failed_class(self, exception_class: str) -> ActionResult:
        return await self._discard(BY_CLASS, exception_class, f"failed jobs of {exception_class}")

    async def _discard(self, where: str, key: object, what: str) -> ActionResult:
        sql = DISCARD_SQL.format(where=where) + " RETURNING id"
        try:
            rows = await self._write(sql, key)
        except DatabaseUnavailable as error:
            return ActionResult(False, f"discard {what}: {error}")
        if not rows:
            return ActionResult(False, f"discard {what}: nothing to discard (already handled?)")
        return ActionResult(True, f"discarded {what}: {len(rows)} job(s)")

    async def pause_queue(self, queue: str) -> ActionResult:
        sql = (
            "INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, now())"
            " ON CONFLICT (queue_name) DO NOTHING RETURNING queue_name"
        )
        try:
            rows = await self._write(sql, queue)
        except DatabaseUnavailable as error:
            return ActionResult(False, f"pause {queue}: {error}")
        if not rows:
            return ActionResult(False, f"queue {queue} was already paused")
        return ActionResult(True, f"paused queue {queue}")

    async def resume_queue(self, queue: str) -> ActionResult:
        sql = "DELETE FROM solid_queue_pauses WHERE queue_name = $1 RETURNING queue_name"
        try:
            rows = await self._write(sql, queue)
        except DatabaseUnavailable as error:
            return ActionResult(False, f"resume {queue}: {error}")
        if not rows:
            return ActionResult(False, f"queue {queue} was not paused")
        return ActionResult(True, f"resumed queue {queue}")
