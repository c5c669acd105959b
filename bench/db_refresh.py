"""One database + jobs refresh against a busy PostgreSQL, beside ``SELECT 1``.

A dedicated server is started from the demo's binaries and cached template (the
demo stack's own server allows 100 connections, too few for 200 extra sessions),
so nothing but this benchmark runs on it.  It holds 200 idle application sessions
we open ourselves and a Solid Queue with 100 000 failed and 50 000 ready
executions, bulk-inserted with ``generate_series``, their errors carrying whole
backtraces as Solid Queue stores them (kilobytes, compressed by TOAST), then
vacuumed and worked on the way a busy queue is between two autovacuums.  A new
failure arrives before each refresh, and the database size is walked as often as
the console does at the default poll interval (the mean row counts it in).

The bundled PostgreSQL has no ``pg_stat_statements``, so the server's own account
comes from its log: ``log_min_duration_statement = 0`` for the monitoring role
(``ALTER ROLE``, set after the idle sessions are up, so only new sessions log) and
the ``duration:`` lines of the console's backend pid.  A refresh's server time is
the sum of its parse, bind and execute durations; its statements are the execute
(or simple-query) entries.  The baseline is ``SELECT 1`` on the same connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from bench.report import Row, median

EXTRA_SESSIONS = 200
FAILED_EXECUTIONS = 100_000
READY_EXECUTIONS = 50_000
# Changes since the last autovacuum (see _work_since_vacuum).
CHURN_READY = 5_000
CHURN_FAILED = 2_000
REFRESHES = 50
WARMUP = 3
# QueueSource refreshes with nothing remembered from before (a fresh console, or a
# failure storm that replaced every recent failure since the last refresh).
COLD_REFRESHES = 10
# New failures arriving between two refreshes, as on a queue that keeps failing.
NEW_FAILURES_PER_REFRESH = 1
MAX_CONNECTIONS = 260
ANCHOR = (
    "pg_activity: 8 statements, ~2.6 ms server time at 201 sessions, no job queue; "
    "goal ≤ 3 statements and less server time"
)

_DURATION = re.compile(
    rb"\[(\d+)\] LOG:  duration: ([0-9.]+) ms  (parse|bind|execute|statement)\b"
)

_GEMS = "/usr/local/bundle/ruby/3.3.0/gems"
# What sits under a job's own frames in a Solid Queue worker: Active Job's execution
# and callbacks, the Rails executor, Solid Queue's claimed execution and pool, and
# concurrent-ruby's thread pool.  Solid Queue stores ``exception.backtrace`` whole on
# PostgreSQL (it truncates only for columns with a size limit), so a real ``error``
# is several kilobytes and TOASTed: reading it costs a decompression.
_BACKTRACE_TAIL = [
    f"{_GEMS}/activejob-8.0.1/lib/active_job/execution.rb:68:in `block in _perform_job'",
    *[f"{_GEMS}/activesupport-8.0.1/lib/active_support/callbacks.rb:{line}:in `{where}'"
      for _ in range(4)
      for line, where in ((120, "block in run_callbacks"),
                          (22, "block in with_lock"),
                          (130, "run_callbacks"))],
    f"{_GEMS}/activejob-8.0.1/lib/active_job/execution.rb:67:in `_perform_job'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/instrumentation.rb:32:in `_perform_job'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/execution.rb:51:in `perform_now'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/instrumentation.rb:26:in "
    "`block in instrument'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/notifications/instrumenter.rb:58:in "
    "`instrument'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/notifications.rb:210:in `instrument'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/instrumentation.rb:35:in `instrument'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/instrumentation.rb:26:in `perform_now'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/logging.rb:32:in `block in perform_now'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/tagged_logging.rb:143:in "
    "`block in tagged'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/tagged_logging.rb:38:in `tagged'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/tagged_logging.rb:143:in `tagged'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/broadcast_logger.rb:241:in "
    "`method_missing'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/logging.rb:39:in `tag_logger'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/logging.rb:32:in `perform_now'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/execution.rb:29:in "
    "`block in execute'",
    *[f"{_GEMS}/activesupport-8.0.1/lib/active_support/callbacks.rb:{line}:in `{where}'"
      for line, where in ((120, "block in run_callbacks"), (130, "run_callbacks"))],
    f"{_GEMS}/activejob-8.0.1/lib/active_job/railtie.rb:79:in `block (4 levels) in "
    "<class:Railtie>'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/reloader.rb:77:in `block in wrap'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/execution_wrapper.rb:91:in `wrap'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/reloader.rb:74:in `wrap'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/railtie.rb:78:in `block (3 levels) in "
    "<class:Railtie>'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/callbacks.rb:129:in `instance_exec'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/callbacks.rb:129:in "
    "`block in run_callbacks'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/callbacks.rb:140:in `run_callbacks'",
    f"{_GEMS}/activejob-8.0.1/lib/active_job/execution.rb:27:in `execute'",
    f"{_GEMS}/solid_queue-1.1.2/lib/solid_queue/claimed_execution.rb:91:in `execute'",
    f"{_GEMS}/solid_queue-1.1.2/lib/solid_queue/claimed_execution.rb:68:in `perform'",
    f"{_GEMS}/solid_queue-1.1.2/lib/solid_queue/pool.rb:22:in `block (2 levels) in post'",
    f"{_GEMS}/activesupport-8.0.1/lib/active_support/execution_wrapper.rb:91:in `wrap'",
    f"{_GEMS}/solid_queue-1.1.2/lib/solid_queue/app_executor.rb:7:in `wrap_in_app_executor'",
    f"{_GEMS}/solid_queue-1.1.2/lib/solid_queue/pool.rb:21:in `block in post'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "safe_task_executor.rb:24:in `block in execute'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/synchronization/"
    "mutex_lockable_object.rb:48:in `block in synchronize'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/synchronization/"
    "mutex_lockable_object.rb:48:in `synchronize'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "safe_task_executor.rb:22:in `execute'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/promises.rb:1596:in "
    "`block (2 levels) in run'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:359:in `run_task'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:350:in `block (3 levels) in create_worker'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:341:in `loop'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:341:in `block (2 levels) in create_worker'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:340:in `catch'",
    f"{_GEMS}/concurrent-ruby-1.3.4/lib/concurrent-ruby/concurrent/executor/"
    "ruby_thread_pool_executor.rb:340:in `block in create_worker'",
]

# (weight out of 10, exception class, message, the app's frames)
_FAILURES = [
    (4, "Aws::S3::Errors::ServiceUnavailable", "Service Unavailable", [
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-core-3.211.0/lib/seahorse/client/plugins/"
        "raise_response_errors.rb:17:in `call'",
        "/rails/app/models/rainbow_photo.rb:41:in `upload_variant!'",
        "/rails/app/jobs/image_variant_job.rb:12:in `perform'",
    ]),
    (2, "Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>", [
        "/usr/local/lib/ruby/3.3.0/net/protocol.rb:229:in `rbuf_fill'",
        "/rails/app/services/jma_forecast.rb:27:in `fetch'",
        "/rails/app/jobs/weather_fetch_job.rb:8:in `perform'",
    ]),
    (2, "ActiveRecord::Deadlocked",
     'PG::TRDeadlockDetected: ERROR:  deadlock detected\nDETAIL:  Process 4211 waits for '
     'ShareLock on transaction 918273; blocked by process 4207.\n: UPDATE "rainbow_sightings" '
     'SET "intensity" = $1 WHERE "rainbow_sightings"."id" = $2', [
        "/usr/local/bundle/ruby/3.3.0/gems/activerecord-8.0.1/lib/active_record/"
        "connection_adapters/postgresql_adapter.rb:894:in `exec_params'",
        "/rails/app/jobs/rainbow_sighting_notify_job.rb:19:in `perform'",
    ]),
    (1, "Faraday::ConnectionFailed",
     "Failed to open TCP connection to www.jma.go.jp:443 (getaddrinfo: Temporary failure "
     "in name resolution)", [
        "/usr/local/bundle/ruby/3.3.0/gems/faraday-net_http-3.3.0/lib/faraday/adapter/"
        "net_http.rb:71:in `rescue in call'",
        "/rails/app/jobs/weather_fetch_job.rb:8:in `perform'",
    ]),
    (1, "ActiveJob::DeserializationError",
     "Error while trying to deserialize arguments: Couldn't find RainbowSighting with "
     "'id'=48213", [
        "/usr/local/bundle/ruby/3.3.0/gems/activejob-8.0.1/lib/active_job/core.rb:196:in "
        "`rescue in deserialize_arguments_if_needed'",
    ]),
]


def _error_texts() -> list[str]:
    """Ten ``error`` column values, each class as often as its weight."""
    texts: list[str] = []
    for weight, exception_class, message, frames in _FAILURES:
        text = json.dumps(
            {"exception_class": exception_class, "message": message,
             "backtrace": [*frames, *_BACKTRACE_TAIL]},
            separators=(",", ":"),
        )
        texts += [text] * weight
    return texts


_NOW = "(now() AT TIME ZONE 'UTC')"

_JOBS = f"""
INSERT INTO solid_queue_jobs
    (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
     created_at, updated_at, finished_at)
SELECT q.queue_name, q.class_name,
       '{{"job_class":"' || q.class_name || '","job_id":"' || gen_random_uuid()
         || '","queue_name":"' || q.queue_name || '","arguments":[' || n
         || '],"executions":0,"locale":"ja","timezone":"Asia/Tokyo"}}',
       0, gen_random_uuid()::text,
       {_NOW} - make_interval(secs => ($1 - n) * $2),
       {_NOW} - make_interval(secs => ($1 - n) * $2),
       {_NOW} - make_interval(secs => ($1 - n) * $2),
       NULL
FROM generate_series(1, $1) AS n
CROSS JOIN LATERAL (SELECT
    CASE n % 3 WHEN 0 THEN 'images' ELSE 'default' END AS queue_name,
    CASE n % 3 WHEN 0 THEN 'ImageVariantJob' WHEN 1 THEN 'RainbowSightingNotifyJob'
         ELSE 'WeatherFetchJob' END AS class_name) AS q
RETURNING id, queue_name, created_at
"""

_FAILED_SQL = f"""
WITH jobs AS ({_JOBS})
INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
SELECT id, ($3::text[])[1 + (id % 10)::int], created_at + interval '40 milliseconds' FROM jobs
"""

_READY_SQL = f"""
WITH jobs AS ({_JOBS})
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT id, queue_name, 0, created_at FROM jobs
"""

_CLAIMED_SQL = f"""
WITH jobs AS ({_JOBS})
INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at)
SELECT id, $3, {_NOW} - interval '3 seconds' FROM jobs
"""

_SCHEDULED_SQL = f"""
WITH jobs AS ({_JOBS})
INSERT INTO solid_queue_scheduled_executions
    (job_id, queue_name, priority, scheduled_at, created_at)
SELECT id, queue_name, 0, {_NOW} + interval '1 hour', created_at FROM jobs
"""

_PROCESS_SQL = f"""
INSERT INTO solid_queue_processes
    (kind, last_heartbeat_at, supervisor_id, pid, hostname, metadata, created_at, name)
VALUES ($1, {_NOW}, $2, $3, 'app-1-3f9c2a7d1e04', '{{}}', {_NOW}, $4)
RETURNING id
"""

# What an idle Rails connection last ran, so pg_stat_activity.query is realistic.
_APP_QUERY = (
    'SELECT "rainbow_sightings".* FROM "rainbow_sightings" '
    'WHERE "rainbow_sightings"."observed_at" >= $1 ORDER BY "rainbow_sightings"."observed_at" '
    "DESC LIMIT $2"
)


async def _fill_queue(conn: Any) -> None:
    await conn.execute(_FAILED_SQL, FAILED_EXECUTIONS, 3.0, _error_texts())
    await conn.execute(_READY_SQL, READY_EXECUTIONS, 0.05)
    await conn.execute(_SCHEDULED_SQL, 300, 1.0)
    supervisor = await conn.fetchval(_PROCESS_SQL, "Supervisor", None, 4100, "supervisor-a1")
    worker = 0
    for index, kind in enumerate(("Dispatcher", "Worker", "Worker", "Scheduler")):
        row_id = await conn.fetchval(_PROCESS_SQL, kind, supervisor, 4101 + index,
                                     f"{kind.lower()}-{index}")
        worker = row_id if kind == "Worker" else worker
    await conn.execute(_CLAIMED_SQL, 6, 1.0, worker)
    for table in ("solid_queue_jobs", "solid_queue_failed_executions",
                  "solid_queue_ready_executions", "solid_queue_claimed_executions",
                  "solid_queue_scheduled_executions", "solid_queue_processes"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    await _work_since_vacuum(conn)


async def _work_since_vacuum(conn: Any) -> None:
    """What a busy queue does between two autovacuums, so the tables are not the
    freshly vacuumed ones no production database has: workers took the oldest
    ready jobs and new ones came in, new failures arrived, some were retried.

    Autovacuum's default thresholds (20 % of the rows changed, or inserted, plus a
    few) put a 50 000-row table through up to ~10 000 changes between two runs;
    this is half of that, the average, and leaves those pages out of the
    visibility map and the dead rows in the indexes, as they are in production.
    """
    await conn.execute(
        "DELETE FROM solid_queue_ready_executions WHERE id IN (SELECT id FROM"
        " solid_queue_ready_executions ORDER BY priority, job_id LIMIT $1)", CHURN_READY)
    await conn.execute(_READY_SQL, CHURN_READY, 0.001)
    await conn.execute(
        "DELETE FROM solid_queue_failed_executions WHERE id IN (SELECT id FROM"
        " solid_queue_failed_executions WHERE id % 97 = 0 LIMIT $1)", CHURN_FAILED // 2)
    await conn.execute(_FAILED_SQL, CHURN_FAILED, 0.01, _error_texts())


async def _open_sessions(dsn: str, count: int) -> list[Any]:
    import asyncpg

    gate = asyncio.Semaphore(16)

    async def one(index: int) -> Any:
        async with gate:
            name = "solid_queue-worker" if index % 5 == 0 else "puma"
            conn = await asyncpg.connect(dsn, timeout=30,
                                         server_settings={"application_name": name})
            await conn.fetch(_APP_QUERY, datetime(2025, 1, 1), 20)
            return conn

    return list(await asyncio.gather(*(one(i) for i in range(count))))


class _LogReader:
    """The server log's new ``duration:`` lines of one backend since the last call."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def skip(self) -> None:
        self.handle.read()

    def account(self, pid: int) -> tuple[int, float]:
        statements, server_ms = 0, 0.0
        for match in _DURATION.finditer(self.handle.read()):
            if int(match[1]) != pid:
                continue
            server_ms += float(match[2])
            statements += match[3] in (b"execute", b"statement")
        return statements, server_ms


async def _measure(call: Callable[[], Awaitable[object]], log: _LogReader,
                   pid: Callable[[], int]) -> tuple[int, float, float]:
    log.skip()
    started = time.perf_counter()
    await call()
    wall_ms = (time.perf_counter() - started) * 1000
    statements, server_ms = log.account(pid())
    return statements, server_ms, wall_ms


async def _run(state_dir: Path) -> list[Row]:
    import asyncpg

    from rainbow_tui.config import PollConfig
    from rainbow_tui.demo.postgres import PostgresServer, prepare_server
    from rainbow_tui.demo.schema import APP_DATABASE, APP_ROLE, SUPERUSER
    from rainbow_tui.sources.database import DatabaseSource
    from rainbow_tui.sources.postgres_link import PostgresLink
    from rainbow_tui.sources.queue import QueueSource

    class RoomyServer(PostgresServer):
        def _argv(self) -> list[str]:
            # A later -c wins over the demo's max_connections=100.
            return [*super()._argv(), "-c", f"max_connections={MAX_CONNECTIONS}"]

    described, temporary_socket_dir = await prepare_server(state_dir)
    server = RoomyServer(**{f.name: getattr(described, f.name) for f in fields(described)
                            if f.init})
    sessions: list[Any] = []
    link: PostgresLink | None = None
    await server.start()
    try:
        app_dsn = server.dsn(APP_ROLE, APP_DATABASE)
        # Opened before the role starts logging; its statements are not counted.
        owner = await asyncpg.connect(app_dsn)
        sessions.append(owner)
        await _fill_queue(owner)
        sessions += await _open_sessions(app_dsn, EXTRA_SESSIONS)
        admin = await asyncpg.connect(server.dsn(SUPERUSER, APP_DATABASE))
        try:
            await admin.execute(f"ALTER ROLE {APP_ROLE} SET log_min_duration_statement = 0")
        finally:
            await admin.close()

        link = PostgresLink(app_dsn)
        # Each poll is one poll interval later on the source's clock, so what it does
        # only every so often (the database size) comes as often as in production.
        poll_clock = itertools.count(0.0, PollConfig().database).__next__
        database, queue = DatabaseSource(link, monotonic=poll_clock), QueueSource(link)

        async def poll_database() -> None:
            db = await database.poll()
            if db.error or (db.connections or 0) < EXTRA_SESSIONS:
                raise RuntimeError(f"unexpected database reading: {db}")

        async def poll_queue() -> None:
            jobs = await queue.poll()
            if jobs.error or jobs.failed is None or not jobs.failed.capped:
                raise RuntimeError(f"unexpected queue reading: {jobs.error or jobs.failed}")

        async def poll_queue_cold() -> None:
            nonlocal queue
            queue = QueueSource(link)
            await poll_queue()

        async def select_one() -> None:
            await link.with_connection(lambda conn: conn.fetchval("SELECT 1"))

        def backend_pid() -> int:
            connection = link._connection  # the link's one session, whose log lines count
            assert connection is not None
            pid: int = connection.get_server_pid()
            return pid

        with server.log_path.open("rb") as handle:
            log = _LogReader(handle)
            for _ in range(WARMUP):
                for call in (poll_database, poll_queue, select_one):
                    await _measure(call, log, backend_pid)
            db_part: list[tuple[int, float, float]] = []
            queue_part: list[tuple[int, float, float]] = []
            base: list[tuple[int, float, float]] = []
            for _ in range(REFRESHES):
                await owner.execute(_FAILED_SQL, NEW_FAILURES_PER_REFRESH, 0.0, _error_texts())
                # One refresh = both polls, as the monitor runs them on the one link.
                db_part.append(await _measure(poll_database, log, backend_pid))
                queue_part.append(await _measure(poll_queue, log, backend_pid))
                base.append(await _measure(select_one, log, backend_pid))
            cold = [await _measure(poll_queue_cold, log, backend_pid)
                    for _ in range(COLD_REFRESHES)]
    finally:
        if link is not None:
            await link.close()
        await asyncio.gather(*(conn.close(timeout=5) for conn in sessions),
                             return_exceptions=True)
        await server.stop()
        if temporary_socket_dir is not None:
            shutil.rmtree(temporary_socket_dir, ignore_errors=True)

    refreshes = [(d[0] + q[0], d[1] + q[1], d[2] + q[2]) for d, q in zip(db_part, queue_part,
                                                                        strict=True)]

    def column(samples: list[tuple[int, float, float]], index: int) -> float:
        return median([float(sample[index]) for sample in samples])

    def mean(samples: list[tuple[int, float, float]], index: int) -> float:
        return statistics.mean(float(sample[index]) for sample in samples)

    part = "breakdown of the line above; baseline SELECT 1"
    return [
        Row("db+jobs refresh: statements", column(refreshes, 0), column(base, 0), "", ANCHOR),
        Row("db+jobs refresh: server time (median)", column(refreshes, 1), column(base, 1),
            "ms", ANCHOR),
        Row("  DatabaseSource statement: server time", column(db_part, 1), column(base, 1),
            "ms", part),
        Row("  QueueSource statement: server time", column(queue_part, 1), column(base, 1),
            "ms", part),
        Row("db+jobs refresh: server time (mean)", mean(refreshes, 1), mean(base, 1), "ms",
            "every cost averaged in, the size walk of one refresh a minute included"),
        Row("QueueSource, nothing remembered: server time", column(cold, 1), column(base, 1),
            "ms", "first refresh, or every recent failure new since the last one"),
        Row("db+jobs refresh: client wall time (median)", column(refreshes, 2), column(base, 2),
            "ms", "for reading; baseline SELECT 1 on the same connection"),
    ]


def bench_db_refresh() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="rtui-bench-db-"))
    try:
        return asyncio.run(_run(state_dir))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    from bench.report import print_rows

    print_rows(bench_db_refresh(), header=True)
