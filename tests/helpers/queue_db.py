"""The Solid Queue database of a private embedded PostgreSQL, and failed jobs put into it
as Solid Queue and Active Job write them: shared by the job action tests."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from rainbow_tui.demo.postgres import PostgresServer, grant_monitor, prepare_server
from rainbow_tui.demo.schema import APP_ROLE, MONITOR_ROLE, QUEUE_DATABASE

NOW_UTC = "(now() AT TIME ZONE 'UTC')"
TABLES = (
    "solid_queue_jobs, solid_queue_ready_executions, solid_queue_claimed_executions, "
    "solid_queue_failed_executions, solid_queue_scheduled_executions, "
    "solid_queue_blocked_executions, solid_queue_recurring_executions, "
    "solid_queue_semaphores, solid_queue_pauses"
)


class QueueDatabase:
    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.owner_dsn = server.dsn(APP_ROLE, QUEUE_DATABASE)
        self.monitor_dsn = server.dsn(MONITOR_ROLE, QUEUE_DATABASE)

    async def connect(self) -> asyncpg.Connection:
        # As Rails' sessions: UTC, whatever the server's own TimeZone.
        return await asyncpg.connect(self.owner_dsn, server_settings={"timezone": "UTC"})

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.connect()
        try:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows
        finally:
            await conn.close()

    async def value(self, query: str, *args: Any) -> Any:
        rows = await self.fetch(query, *args)
        return rows[0][0] if rows else None


def arguments(class_name: str, executions: int, exception: str) -> str:
    """The ``arguments`` column as Active Job's ``serialize`` writes it
    (rails activejob/lib/active_job/core.rb), after ``executions`` failed runs."""
    return json.dumps(
        {
            "job_class": class_name,
            "job_id": "0b6ce1a8-8f0c-4a3e-9d43-3f6c0e2f1a77",
            "provider_job_id": None,
            "queue_name": "default",
            "priority": None,
            "arguments": [{"_aj_globalid": "gid://app/RainbowSighting/7", "executions": 9}],
            "executions": executions,
            "exception_executions": {f"[{exception}]": executions},
            "locale": "ja",
            "timezone": "Asia/Tokyo",
            "enqueued_at": "2026-11-28T03:00:00.000000000Z",
            "scheduled_at": "2026-11-28T03:00:00.000000000Z",
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def error_json(exception_class: str, message: str = "boom") -> str:
    """``FailedExecution#expand_error_details_from_exception``, JSON-coded."""
    return json.dumps(
        {"exception_class": exception_class, "message": message,
         "backtrace": ["/rails/app/jobs/weather_fetch_job.rb:8:in `perform'"]},
        separators=(",", ":"),
    )


async def add_failed(
    db: QueueDatabase,
    count: int,
    exception_class: str,
    *,
    class_name: str = "WeatherFetchJob",
    concurrency_key: str | None = None,
    every: int = 1,
    scheduled_in_s: float = -60.0,
    queue: str = "default",
    priority: int = 0,
    error: str | None = None,
) -> list[int]:
    """``count`` failed jobs; every ``every``-th one carries ``concurrency_key``."""
    rows = await db.fetch(
        f"""
        WITH job AS (
            INSERT INTO solid_queue_jobs
                (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
                 concurrency_key, created_at, updated_at)
            SELECT $1, $2, $3, $4, gen_random_uuid()::text,
                   {NOW_UTC} + make_interval(secs => $5),
                   CASE WHEN n % $7 = 0 THEN $6 END,
                   {NOW_UTC} - interval '1 hour', {NOW_UTC} - interval '1 hour'
            FROM generate_series(1, $8) AS n ORDER BY n
            RETURNING id
        ), failed AS (
            INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
            SELECT id, $9, {NOW_UTC} FROM job ORDER BY id
            RETURNING job_id
        )
        SELECT job_id FROM failed ORDER BY job_id
        """,
        queue, class_name, arguments(class_name, 5, exception_class), priority,
        scheduled_in_s, concurrency_key, every, count,
        error if error is not None else error_json(exception_class),
    )
    return [int(r["job_id"]) for r in rows]




@asynccontextmanager
async def private_queue_database(prefix: str) -> AsyncIterator[QueueDatabase]:
    """A PostgreSQL of its own, roles granted as the demo grants them, gone afterwards."""
    state = Path(tempfile.mkdtemp(prefix=prefix))
    server, socket_dir = await prepare_server(state)
    await server.start()
    try:
        await grant_monitor(server)
        yield QueueDatabase(server)
    finally:
        await server.stop()
        shutil.rmtree(state, ignore_errors=True)
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
