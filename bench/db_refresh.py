"""One database + jobs refresh against a busy PostgreSQL, beside pg_activity's own.

A dedicated server is started from the demo's binaries and cached template (built
on demand; the demo stack's own server allows 100 connections, too few for 200
extra sessions), so nothing but this benchmark runs on it.  As Rails 8 lays it out,
it holds the app's database, with 200 idle application sessions we open ourselves,
and Solid Queue's own database (``…_production_queue``) with 100 000 failed and
50 000 ready executions, bulk-inserted with ``generate_series``, their errors
carrying whole backtraces as Solid Queue stores them (kilobytes, compressed by
TOAST), then vacuumed and worked on the way a busy queue is between two
autovacuums.  A new failure arrives before each refresh, and the database size and
the queue privileges are read as often as the console does at the default poll
intervals (the mean row counts them in).

The console logs in as its monitoring role, granted as README's "Database
privileges" says, with one connection to each database as ``ServiceSources`` opens
them: ``DatabaseSource`` on the app's, ``QueueSource`` and ``QueuePrivilegeCheck``
on the queue's.  pg_activity (a ``dev`` dependency, never imported by the package)
runs as the same role against the same server, in the same run: its own ``Data``
layer, connected as its command line connects, called as its UI loop
(``pgactivity/ui.py``) calls it on each refresh of the default "running queries"
view with its default options: the server information (which, by itself, reads WAL
senders and replication slots, and temporary files and WAL receivers when enabled)
and the activities.  Its waiting and blocking queries run only in their own views;
they are measured too, as a secondary figure, since the console's one refresh
shows blocked sessions and their blockers as well.  pg_activity prepares its
statements (psycopg, ``prepare=True``); from the sixth refresh on PostgreSQL's plan
cache runs its server-information statement with a generic plan, in which the
database sizes it was told to skip are walked all the same (an aggregate inside a
``CASE`` is computed whatever the branch), so its median is what a pg_activity left
running costs, not what its first five refreshes cost.

The bundled PostgreSQL has no ``pg_stat_statements``, so the server's own account
comes from its log: ``log_min_duration_statement = 0`` for the monitoring role
(``ALTER ROLE``, so only its sessions log) and the ``duration:`` lines of each
measured backend pid.  A refresh's server time is the sum of its parse, bind and
execute durations; its statements are the execute (or simple-query) entries.  Both
clients are counted the same way.  ``SELECT 1`` on the console's connection is the
floor the breakdown rows are read against.
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
GOAL_STATEMENTS = 3
# pg_activity's command line for each measured variant (the DSN is added): its
# defaults, and the header's optional readings all enabled (before 3.6 they were
# the defaults, and what the console's design notes quote).
PGA_DEFAULT: list[str] = []
PGA_HEADER_ON = ["--db-size", "--tempfiles", "--walreceiver"]

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
    """The server log's new ``duration:`` lines of some backends since the last call."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle

    def skip(self) -> None:
        self.handle.read()

    def account(self, pids: set[int]) -> tuple[int, float]:
        statements, server_ms = 0, 0.0
        for match in _DURATION.finditer(self.handle.read()):
            if int(match[1]) not in pids:
                continue
            server_ms += float(match[2])
            statements += match[3] in (b"execute", b"statement")
        return statements, server_ms


# (statements, server time ms, client wall time ms) of one measured call.
Sample = tuple[int, float, float]


async def _measure(call: Callable[[], Awaitable[object]], log: _LogReader,
                   pids: Callable[[], set[int]]) -> Sample:
    log.skip()
    started = time.perf_counter()
    await call()
    wall_ms = (time.perf_counter() - started) * 1000
    statements, server_ms = log.account(pids())
    return statements, server_ms, wall_ms


class _PgActivity:
    """pg_activity's own ``Data`` layer, driven as its UI loop drives it.

    Connected as ``pgactivity.cli.main`` connects (its parser's options, then
    ``data.pg_connect``), asked once what ``pgactivity.ui.main`` asks before its
    loop, then each ``refresh`` is one turn of that loop in the default "running
    queries" view, neither paused nor interactive: the server information, then the
    activities.  Nothing is drawn; ``activities.ps_complete``'s reading of local
    processes happens on the client, not on the server, and is left out.
    """

    def __init__(self, dsn: str, argv: list[str]) -> None:
        try:
            from pgactivity import cli, data, types
        except ImportError as error:  # pragma: no cover - a checkout without the dev extra
            raise SystemExit(
                "bench db_refresh runs pg_activity beside the console: "
                "pip install -e '.[dev]'"
            ) from error
        options = cli.get_parser().parse_args([*argv, dsn])
        self.options = options
        self.data = data.pg_connect(
            options, min_duration=options.minduration,
            filters=types.Filters.from_options(options.filters),
        )
        self.duration_mode = int(options.durationmode)
        self.is_local = self.data.pg_is_local() and self.data.pg_is_local_access()
        self.skip_db_size = not options.dbsize
        self.server_information = self._server_information(None)

    def pid(self) -> int:
        return int(self.data.pg_conn.info.backend_pid)

    def _server_information(self, previous: Any) -> Any:
        options = self.options
        return self.data.pg_get_server_information(
            prev_server_info=previous,
            using_rds=options.rds,
            skip_db_size=self.skip_db_size,
            skip_tempfile=not options.tempfiles,
            skip_walreceiver=not options.walreceiver,
        )

    def refresh(self) -> None:
        if not self.options.dbsize and not self.skip_db_size:
            self.skip_db_size = True
        self.server_information = self._server_information(self.server_information)
        self.data.pg_get_activities(self.duration_mode)
        sessions = int(self.server_information.total)
        if sessions < EXTRA_SESSIONS:
            raise RuntimeError(f"pg_activity saw {sessions} client sessions")

    def waiting_and_blocking(self) -> None:
        """What its waiting and blocking views ask instead of the activities."""
        self.data.pg_get_waiting(self.duration_mode)
        self.data.pg_get_blocking(self.duration_mode)

    def close(self) -> None:
        self.data.pg_conn.close()


def _poll_clock(interval_s: float) -> Callable[[], float]:
    """A source's clock that moves one poll interval per reading, so what a source
    does only every so often (the database size, the privilege check) comes as
    often as in production."""
    return itertools.count(0.0, interval_s).__next__


async def _run(state_dir: Path) -> list[Row]:
    import asyncpg

    from rainbow_tui.config import DatabaseConfig, PollConfig
    from rainbow_tui.demo.postgres import PostgresServer, grant_monitor, prepare_server
    from rainbow_tui.demo.schema import (
        APP_DATABASE,
        APP_ROLE,
        MONITOR_ROLE,
        QUEUE_DATABASE,
        SUPERUSER,
    )
    from rainbow_tui.sources.database import DatabaseSource
    from rainbow_tui.sources.postgres_link import PostgresLink
    from rainbow_tui.sources.privileges import QueuePrivilegeCheck
    from rainbow_tui.sources.queue import QueueSource

    class RoomyServer(PostgresServer):
        def _argv(self) -> list[str]:
            # A later -c wins over the demo's max_connections=100.
            return [*super()._argv(), "-c", f"max_connections={MAX_CONNECTIONS}"]

    described, temporary_socket_dir = await prepare_server(state_dir)
    server = RoomyServer(**{f.name: getattr(described, f.name) for f in fields(described)
                            if f.init})
    sessions: list[Any] = []
    links: list[PostgresLink] = []
    clients: list[_PgActivity] = []
    await server.start()
    try:
        # The app's role owns both databases and writes the queue, as the app does;
        # only the monitoring role's statements are logged and counted.
        queue_owner = await asyncpg.connect(server.dsn(APP_ROLE, QUEUE_DATABASE))
        sessions.append(queue_owner)
        await _fill_queue(queue_owner)
        sessions += await _open_sessions(server.dsn(APP_ROLE, APP_DATABASE), EXTRA_SESSIONS)
        await grant_monitor(server)
        admin = await asyncpg.connect(server.dsn(SUPERUSER, APP_DATABASE))
        try:
            await admin.execute(
                f"ALTER ROLE {MONITOR_ROLE} SET log_min_duration_statement = 0")
        finally:
            await admin.close()

        # As ServiceSources builds them: one link per database, the queue's apart.
        settings, intervals = DatabaseConfig(), PollConfig()

        def new_link(database: str) -> PostgresLink:
            link = PostgresLink(server.dsn(MONITOR_ROLE, database),
                                statement_timeout_ms=settings.statement_timeout_ms,
                                connect_timeout_s=settings.connect_timeout_s)
            links.append(link)
            return link

        app_link, queue_link = new_link(APP_DATABASE), new_link(QUEUE_DATABASE)
        database = DatabaseSource(app_link, monotonic=_poll_clock(intervals.database))
        privileges = QueuePrivilegeCheck(queue_link, monotonic=_poll_clock(intervals.queue))
        queue = QueueSource(queue_link)

        async def poll_database() -> None:
            db = await database.poll()
            if db.error or (db.connections or 0) < EXTRA_SESSIONS:
                raise RuntimeError(f"unexpected database reading: {db}")

        async def poll_queue() -> None:
            granted = await privileges.poll()
            if granted is None or granted.error or granted.unreadable:
                raise RuntimeError(f"unexpected queue privileges: {granted}")
            jobs = await queue.poll()
            if jobs.error or jobs.failed is None or not jobs.failed.capped:
                raise RuntimeError(f"unexpected queue reading: {jobs.error or jobs.failed}")

        async def poll_queue_cold() -> None:
            nonlocal queue
            queue = QueueSource(queue_link)
            await poll_queue()

        async def select_one() -> None:
            await app_link.with_connection(lambda conn: conn.fetchval("SELECT 1"))

        def link_pid(link: PostgresLink) -> Callable[[], set[int]]:
            def pids() -> set[int]:
                connection = link._connection  # the link's one session, whose lines count
                assert connection is not None
                return {int(connection.get_server_pid())}
            return pids

        # pg_activity as its defaults run it, and with the header's optional
        # readings enabled; each is one psycopg session of the same role.
        pga = _PgActivity(server.dsn(MONITOR_ROLE, APP_DATABASE), PGA_DEFAULT)
        clients.append(pga)
        pga_full = _PgActivity(server.dsn(MONITOR_ROLE, APP_DATABASE), PGA_HEADER_ON)
        clients.append(pga_full)

        def pga_pid(client: _PgActivity) -> Callable[[], set[int]]:
            return lambda: {client.pid()}

        async def pga_refresh() -> None:
            pga.refresh()

        async def pga_locks() -> None:
            pga.waiting_and_blocking()

        async def pga_full_refresh() -> None:
            pga_full.refresh()

        db_pids, queue_pids = link_pid(app_link), link_pid(queue_link)
        with server.log_path.open("rb") as handle:
            log = _LogReader(handle)
            for _ in range(WARMUP):
                await _measure(poll_database, log, db_pids)
                await _measure(poll_queue, log, queue_pids)
                await _measure(select_one, log, db_pids)
                await _measure(pga_refresh, log, pga_pid(pga))
                await _measure(pga_locks, log, pga_pid(pga))
                await _measure(pga_full_refresh, log, pga_pid(pga_full))
            db_part: list[Sample] = []
            queue_part: list[Sample] = []
            base: list[Sample] = []
            theirs: list[Sample] = []
            their_locks: list[Sample] = []
            theirs_full: list[Sample] = []
            for _ in range(REFRESHES):
                await queue_owner.execute(_FAILED_SQL, NEW_FAILURES_PER_REFRESH, 0.0,
                                          _error_texts())
                # One refresh = the database poll and the queue poll, each on its link.
                db_part.append(await _measure(poll_database, log, db_pids))
                queue_part.append(await _measure(poll_queue, log, queue_pids))
                theirs.append(await _measure(pga_refresh, log, pga_pid(pga)))
                their_locks.append(await _measure(pga_locks, log, pga_pid(pga)))
                theirs_full.append(await _measure(pga_full_refresh, log, pga_pid(pga_full)))
                base.append(await _measure(select_one, log, db_pids))
            cold = [await _measure(poll_queue_cold, log, queue_pids)
                    for _ in range(COLD_REFRESHES)]
    finally:
        for client in clients:
            client.close()
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
        await asyncio.gather(*(conn.close(timeout=5) for conn in sessions),
                             return_exceptions=True)
        await server.stop()
        if temporary_socket_dir is not None:
            shutil.rmtree(temporary_socket_dir, ignore_errors=True)

    def add(*parts: list[Sample]) -> list[Sample]:
        return [(sum(s[0] for s in same), sum(s[1] for s in same), sum(s[2] for s in same))
                for same in zip(*parts, strict=True)]

    refreshes = add(db_part, queue_part)
    theirs_with_locks = add(theirs, their_locks)

    def column(samples: list[Sample], index: int) -> float:
        return median([float(sample[index]) for sample in samples])

    def mean(samples: list[Sample], index: int) -> float:
        return statistics.mean(float(sample[index]) for sample in samples)

    ours_n, theirs_n = column(refreshes, 0), column(theirs, 0)
    ours_ms, theirs_ms = column(refreshes, 1), column(theirs, 1)
    met_n = ours_n <= GOAL_STATEMENTS
    met_ms = ours_ms < theirs_ms

    def verdict(met: bool) -> str:
        return "met" if met else "NOT MET"

    pga_name = "pg_activity's default refresh, same server, same role"
    part = "breakdown of the console's refresh; baseline SELECT 1"
    return [
        Row("db+jobs refresh statements", ours_n, theirs_n, "",
            f"≤ {GOAL_STATEMENTS}, queue database included: {verdict(met_n)}; "
            f"baseline {pga_name}"),
        Row("db+jobs refresh server time ms (median)", ours_ms, theirs_ms, "ms",
            f"less than pg_activity's (< 1x): {verdict(met_ms)}; baseline {pga_name}"),
        Row("db+jobs refresh server time ms (mean)", mean(refreshes, 1), mean(theirs, 1),
            "ms", "every cost averaged in: the size walk and privilege check once a minute"),
        Row("  vs pg_activity + its waiting/blocking", ours_ms, column(theirs_with_locks, 1),
            "ms", f"statements {ours_n:g} vs {column(theirs_with_locks, 0):g}; the console "
            "shows blocked sessions and blockers in the one refresh"),
        Row("  vs pg_activity --db-size --tempfiles ...", ours_ms, column(theirs_full, 1),
            "ms", f"statements {ours_n:g} vs {column(theirs_full, 0):g}; pg_activity's "
            "header readings all on (--walreceiver too), its defaults before 3.6"),
        Row("  DatabaseSource statement: server time", column(db_part, 1), column(base, 1),
            "ms", part),
        Row("  QueueSource statement: server time", column(queue_part, 1), column(base, 1),
            "ms", f"{part}; the queue database's own connection"),
        Row("QueueSource, nothing remembered: server time", column(cold, 1), column(base, 1),
            "ms", "first refresh, or every recent failure new since the last one"),
        Row("db+jobs refresh: client wall time (median)", column(refreshes, 2),
            column(theirs, 2), "ms", "for reading; baseline pg_activity's refresh"),
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
