"""QueueSource against a real PostgreSQL: a private database on the demo's server
(its own TimeZone is Asia/Tokyo), Solid Queue's tables as its installer creates
them (lib/generators/solid_queue/install/templates/db/queue_schema.rb, transcribed
in rainbow_tui/demo/schema.py), rows written as Rails writes them: UTC wall-clock
into ``timestamp without time zone``, from a session whose TimeZone is UTC
(rails/rails activerecord/lib/active_record/connection_adapters/postgresql_adapter.rb).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from rainbow_tui.config import parse_config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.schema import SOLID_QUEUE_SQL
from rainbow_tui.findings import evaluate
from rainbow_tui.levels import Level
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.sources.queue import FAILED_SAMPLE, QueueSnapshot, QueueSource, queue_sql
from rainbow_tui.sources.service_sources import Readings, ServiceSources

# Ages are measured against the server's clock while rows are written from ours:
# the same machine, so a second covers the time between writing and polling.
SLACK_S = 5.0


class SessionZoneLink(PostgresLink):
    """The console's link with another session TimeZone, as a server's default
    would give a session that never sets one."""

    def __init__(self, dsn: str, zone: str) -> None:
        super().__init__(dsn)
        self.zone = zone

    async def _connect(self) -> asyncpg.Connection:
        connection = await super()._connect()
        await connection.execute(f"SET timezone = '{self.zone}'")
        return connection


def _with_database(dsn: str, name: str) -> str:
    base, _, query = dsn.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


@asynccontextmanager
async def private_database(stack: DemoProcess, *, solid_queue: bool = True) -> AsyncIterator[str]:
    """A database of our own on the demo's server, dropped afterwards."""
    admin_dsn = stack.endpoints.pg_admin_dsn
    name = f"queue_source_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        dsn = _with_database(admin_dsn, name)
        if solid_queue:
            conn = await asyncpg.connect(dsn, timeout=10, server_settings={"timezone": "UTC"})
            try:
                await conn.execute(SOLID_QUEUE_SQL)
            finally:
                await conn.close()
        yield dsn
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _utc_ago(seconds: float) -> datetime:
    """What Rails writes for ``Time.current - seconds``: UTC wall-clock, no zone."""
    return (datetime.now(UTC) - timedelta(seconds=seconds)).replace(tzinfo=None)


class RailsWriter:
    """Inserts Solid Queue rows with explicit UTC wall-clock times, as Rails does."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def job(
        self,
        queue: str = "default",
        priority: int = 0,
        age_s: float = 0.0,
        class_name: str = "RainbowSightingNotifyJob",
    ) -> int:
        at = _utc_ago(age_s)
        job_id: int = await self.conn.fetchval(
            "INSERT INTO solid_queue_jobs (queue_name, class_name, arguments, priority,"
            " active_job_id, created_at, updated_at)"
            " VALUES ($1, $2, '{}', $3, $4, $5, $5) RETURNING id",
            queue,
            class_name,
            priority,
            str(uuid.uuid4()),
            at,
        )
        return job_id

    async def ready(
        self, job_id: int, queue: str = "default", priority: int = 0, age_s: float = 0.0
    ) -> None:
        await self.conn.execute(
            "INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)"
            " VALUES ($1, $2, $3, $4)",
            job_id,
            queue,
            priority,
            _utc_ago(age_s),
        )

    async def ready_job(self, queue: str = "default", priority: int = 0, age_s: float = 0.0) -> int:
        job_id = await self.job(queue, priority, age_s)
        await self.ready(job_id, queue, priority, age_s)
        return job_id

    async def claimed(self, process_id: int, running_s: float) -> int:
        job_id = await self.job(age_s=running_s + 1)
        await self.conn.execute(
            "INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at)"
            " VALUES ($1, $2, $3)",
            job_id,
            process_id,
            _utc_ago(running_s),
        )
        return job_id

    async def process(self, name: str, heartbeat_age_s: float, kind: str = "Worker") -> int:
        process_id: int = await self.conn.fetchval(
            "INSERT INTO solid_queue_processes (kind, last_heartbeat_at, pid, hostname,"
            " metadata, created_at, name) VALUES ($1, $2, $3, 'app-1', '{}', $4, $5)"
            " RETURNING id",
            kind,
            _utc_ago(heartbeat_age_s),
            1000 + len(name),
            _utc_ago(3600),
            name,
        )
        return process_id

    async def failures(
        self, count: int, age_s: float, exception_class: str = "Net::ReadTimeout"
    ) -> None:
        """``count`` failed executions, all ``age_s`` old (error as Solid Queue's
        FailedExecution serializes it: exception_class, message, backtrace)."""
        error = json.dumps(
            {
                "exception_class": exception_class,
                "message": "timed out",
                "backtrace": ["app/jobs/weather_fetch_job.rb:12:in `perform'"],
            },
            separators=(",", ":"),
        )
        for _ in range(count):
            job_id = await self.job(age_s=age_s + 1, class_name="WeatherFetchJob")
            await self.conn.execute(
                "INSERT INTO solid_queue_failed_executions (job_id, error, created_at)"
                " VALUES ($1, $2, $3)",
                job_id,
                error,
                _utc_ago(age_s),
            )


@asynccontextmanager
async def rails_writer(dsn: str) -> AsyncIterator[RailsWriter]:
    conn = await asyncpg.connect(dsn, timeout=10, server_settings={"timezone": "UTC"})
    try:
        yield RailsWriter(conn)
    finally:
        await conn.close()


async def _poll(link: PostgresLink, **options: Any) -> QueueSnapshot:
    try:
        snapshot = await QueueSource(link, **options).poll()
    finally:
        await link.close()
    assert snapshot.error is None, snapshot.error
    return snapshot


async def test_ages_are_utc_whatever_the_session_time_zone(demo_stack: DemoProcess) -> None:
    async with private_database(demo_stack) as dsn:
        async with rails_writer(dsn) as rails:
            alive = await rails.process("worker-alive", heartbeat_age_s=30)
            await rails.process("worker-silent", heartbeat_age_s=600)
            await rails.claimed(alive, running_s=45)
            await rails.ready_job(age_s=20)
        tokyo = SessionZoneLink(dsn, "Asia/Tokyo")
        # The session really is in Tokyo: a naive ``now() - created_at`` is 9 h off there.
        naive = await tokyo.fetch_json(
            "SELECT json_build_object('zone', current_setting('TimeZone'), 'age',"
            " extract(epoch FROM now() - max(created_at))) FROM solid_queue_ready_executions"
        )
        assert naive["zone"] == "Asia/Tokyo"
        assert naive["age"] > 8 * 3600
        await tokyo.close()

        for snapshot in (
            await _poll(SessionZoneLink(dsn, "Asia/Tokyo")),
            await _poll(PostgresLink(dsn)),
        ):
            ages = {p.name: p.heartbeat_age_s for p in snapshot.processes}
            assert ages["worker-alive"] == pytest.approx(30, abs=SLACK_S)
            assert ages["worker-silent"] == pytest.approx(600, abs=SLACK_S)
            assert [p.name for p in snapshot.processes if p.dead] == ["worker-silent"]
            assert snapshot.longest_running_s == pytest.approx(45, abs=SLACK_S)
            assert snapshot.oldest_ready_s == pytest.approx(20, abs=SLACK_S)
            assert snapshot.latency_by_queue["default"] == pytest.approx(20, abs=SLACK_S)


async def test_dead_process_threshold_is_the_configured_one(demo_stack: DemoProcess) -> None:
    # lib/solid_queue.rb: process_alive_threshold defaults to 5 minutes; an app may
    # set another, and [queue] process_alive_threshold_s follows it.
    async with private_database(demo_stack) as dsn:
        async with rails_writer(dsn) as rails:
            await rails.process("worker-1", heartbeat_age_s=200)
        default = await _poll(PostgresLink(dsn))
        assert not default.processes[0].dead
        short = await _poll(PostgresLink(dsn), process_alive_threshold_s=120.0)
        assert short.processes[0].dead


def test_service_sources_pass_the_queue_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_TEST_DSN", "postgresql://nobody@127.0.0.1:1/none")
    config = parse_config(
        '[service]\nkamal_service = "s"\nhealth_url = "http://127.0.0.1/up"\n'
        '[database]\ndsn_env = "QUEUE_TEST_DSN"\n'
        "[queue]\nprocess_alive_threshold_s = 90.0\nnew_failures_window_s = 600.0\n",
        "test.toml",
    )
    queue = ServiceSources(config).queue
    assert queue is not None
    assert (queue.process_alive_threshold_s, queue.new_failures_window_s) == (90.0, 600.0)


async def test_failures_of_the_last_hour_apart_from_the_backlog(demo_stack: DemoProcess) -> None:
    config = parse_config(
        '[service]\nkamal_service = "s"\nhealth_url = "http://127.0.0.1/up"\n', "test.toml"
    )
    async with private_database(demo_stack) as dsn:
        async with rails_writer(dsn) as rails:
            await rails.process("worker-1", heartbeat_age_s=10)
            await rails.failures(60, age_s=2 * 86400)  # last week's incident, never cleared
            await rails.failures(3, age_s=20 * 60, exception_class="ActiveRecord::Deadlocked")
        snapshot = await _poll(SessionZoneLink(dsn, "Asia/Tokyo"))
        assert (str(snapshot.failed), str(snapshot.new_failures)) == ("63", "3")
        found = {f.key: f for f in evaluate(config, Readings(queue=snapshot))}
        assert found["queue:failed_backlog"].level is Level.WARNING  # held: never pages
        assert found["queue:failed_jobs"].level is Level.ELEVATED
        assert "3 in the last hour" in found["queue:failed_backlog"].reason

        # A shorter window leaves the 20-minute-old ones out.
        narrow = await _poll(PostgresLink(dsn), new_failures_window_s=600.0)
        assert str(narrow.new_failures) == "0"

        async with rails_writer(dsn) as rails:
            await rails.failures(FAILED_SAMPLE + 5, age_s=60)
        storm = await _poll(PostgresLink(dsn))
        assert storm.new_failures is not None and storm.new_failures.capped
        assert str(storm.new_failures) == f"{FAILED_SAMPLE - 1:,}+"
        found = {f.key: f for f in evaluate(config, Readings(queue=storm))}
        assert found["queue:failed_jobs"].level is Level.CRITICAL


async def test_latency_per_queue_finds_the_oldest_across_priorities(
    demo_stack: DemoProcess,
) -> None:
    async with private_database(demo_stack) as dsn:
        async with rails_writer(dsn) as rails:
            await rails.process("worker-1", heartbeat_age_s=10)
            # A job retried (app/models/solid_queue/failed_execution.rb#retry) keeps its
            # old id and enters ready anew: first by id, yet only just ready.
            retried = await rails.job("mailers", age_s=7200)
            await rails.ready(retried, "mailers", age_s=1)
            await rails.ready_job("mailers", age_s=40)
            # In "images" the urgent band is fresh; the low-priority one waits longest.
            await rails.ready_job("images", priority=0, age_s=5)
            await rails.ready_job("images", priority=10, age_s=300)
            await rails.ready_job("default", age_s=2)
        snapshot = await _poll(SessionZoneLink(dsn, "Asia/Tokyo"))
    latency = snapshot.latency_by_queue
    assert set(latency) == {"mailers", "images", "default"}
    assert latency["mailers"] == pytest.approx(40, abs=SLACK_S)
    assert latency["images"] == pytest.approx(300, abs=SLACK_S)
    assert latency["default"] == pytest.approx(2, abs=SLACK_S)


async def test_missing_tables_name_the_database_and_rails_8s_queue_database(
    demo_stack: DemoProcess,
) -> None:
    async with private_database(demo_stack, solid_queue=False) as dsn:
        link = PostgresLink(dsn)
        try:
            snapshot = await QueueSource(link).poll()
        finally:
            await link.close()
    name = dsn.split("?")[0].rsplit("/", 1)[1]
    assert snapshot.error is not None
    assert snapshot.error.startswith(f"Solid Queue tables not found in database {name}; ")
    assert "_production_queue (config/database.yml `queue:`)" in snapshot.error
    assert "set [queue] dsn_env" in snapshot.error


async def test_latency_of_a_rare_queue_reads_its_own_index_range(demo_stack: DemoProcess) -> None:
    # A queue of three jobs beside two of thousands, enqueued in turn: ordered by
    # job_id alone the planner may walk the job_id index and filter through every
    # row for the rare one.  The statement reads the (queue_name, priority, job_id)
    # index instead.
    async with private_database(demo_stack) as dsn:
        async with rails_writer(dsn) as rails:
            await rails.conn.execute(
                "WITH jobs AS (INSERT INTO solid_queue_jobs (queue_name, class_name, priority,"
                " created_at, updated_at) SELECT (ARRAY['default', 'images'])[1 + n % 2],"
                " 'ImageVariantJob', 0, $1, $1 FROM generate_series(1, 20000) AS n"
                " RETURNING id, queue_name)"
                " INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority,"
                " created_at) SELECT id, queue_name, 0, $1 FROM jobs ORDER BY id",
                _utc_ago(30),
            )
            for _ in range(3):
                await rails.ready_job("mailers", age_s=90)
            await rails.conn.execute("VACUUM ANALYZE solid_queue_ready_executions")
        link = PostgresLink(dsn)
        try:
            plan = await link.with_connection(
                lambda conn: conn.fetch(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + queue_sql(25_000, FAILED_SAMPLE), [], []
                )
            )
        finally:
            await link.close()
    scans: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("Relation Name") == "solid_queue_ready_executions":
            scans.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan[0][0])[0]["Plan"])
    by_queue = [s for s in scans if s.get("Index Name") == "index_solid_queue_poll_by_queue"]
    assert by_queue, [s.get("Index Name") for s in scans]
    # Two bands, a few rows each: nothing like the 20 000 a filtered walk reads.
    assert all(s["Actual Rows"] * s["Actual Loops"] <= 50 for s in by_queue)
    assert all(s.get("Rows Removed by Filter", 0) < 100 for s in scans if s in by_queue)
