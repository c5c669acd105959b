"""A Rails app and its Solid Queue processes, as seen from PostgreSQL.

Several asyncpg connections play the parts of Puma (``application_name`` ``puma``:
reads and writes sightings, enqueues jobs) and of Solid Queue's supervisor, workers,
dispatcher and scheduler (register in ``solid_queue_processes``, heartbeat every
10 s, claim ready executions with ``FOR UPDATE SKIP LOCKED``, perform for 0.2–3 s,
finish or fail them, move due scheduled jobs, enqueue recurring ones, prune finished
jobs older than an hour).  When healthy the queue stays short (a handful ready,
nothing failed) and every statement takes milliseconds.

Every actor reconnects with backoff, so the workload rides out a PostgreSQL restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from rainbow_tui.demo.faults import FaultState
from rainbow_tui.demo.schema import NOW_UTC

log = logging.getLogger("rainbow_tui.demo.workload")

HEARTBEAT_SECONDS = 10.0
PRUNE_EVERY_SECONDS = 60.0
RECURRING_EVERY_SECONDS = 30
WORKER_THREADS = 3
WORKER_POLL_SECONDS = 0.1
# When a claim comes back full the queue is backed up: finish this many more at
# once, as a worker with many threads catching up would.
CATCH_UP_BATCH = 25

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)

S3_ERROR = {
    "exception_class": "Aws::S3::Errors::ServiceUnavailable",
    "message": "Service Unavailable",
    "backtrace": [
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-core-3.211.0/lib/seahorse/client/plugins/"
        "raise_response_errors.rb:17:in `call'",
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-s3-1.169.0/lib/aws-sdk-s3/plugins/sse_cpk.rb:"
        "24:in `call'",
        "/usr/local/bundle/ruby/3.3.0/gems/aws-sdk-core-3.211.0/lib/aws-sdk-core/plugins/"
        "idempotency_token.rb:19:in `call'",
        "/rails/app/models/rainbow_photo.rb:41:in `upload_variant!'",
        "/rails/app/jobs/image_variant_job.rb:12:in `perform'",
    ],
}


def solid_queue_error_json() -> str:
    """``solid_queue_failed_executions.error`` as Solid Queue writes it (compact JSON)."""
    return json.dumps(S3_ERROR, separators=(",", ":"))


def active_job_arguments(class_name: str, queue: str, job_id: str, args: list[Any],
                         scheduled_at: datetime | None = None) -> str:
    """The ``arguments`` column as Active Job serializes a job."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "job_class": class_name,
        "job_id": job_id,
        "provider_job_id": None,
        "queue_name": queue,
        "priority": None,
        "arguments": args,
        "executions": 0,
        "exception_executions": {},
        "locale": "ja",
        "timezone": "Asia/Tokyo",
        "enqueued_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "scheduled_at": (scheduled_at or now).isoformat(timespec="microseconds")
        .replace("+00:00", "Z"),
    }
    return json.dumps(payload, separators=(",", ":"))


_ENQUEUE_READY = f"""
WITH job AS (
    INSERT INTO solid_queue_jobs
        (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
         created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, {NOW_UTC}, {NOW_UTC}, {NOW_UTC})
    RETURNING id, queue_name, priority
)
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT id, queue_name, priority, {NOW_UTC} FROM job
"""

_ENQUEUE_SCHEDULED = f"""
WITH job AS (
    INSERT INTO solid_queue_jobs
        (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
         created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, {NOW_UTC} + make_interval(secs => $6), {NOW_UTC}, {NOW_UTC})
    RETURNING id, queue_name, priority, scheduled_at
)
INSERT INTO solid_queue_scheduled_executions
    (job_id, queue_name, priority, scheduled_at, created_at)
SELECT id, queue_name, priority, scheduled_at, {NOW_UTC} FROM job
"""

_CLAIM = f"""
WITH picked AS (
    SELECT id FROM solid_queue_ready_executions
    WHERE queue_name NOT IN (SELECT queue_name FROM solid_queue_pauses)
    ORDER BY priority, job_id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), removed AS (
    DELETE FROM solid_queue_ready_executions r USING picked
    WHERE r.id = picked.id
    RETURNING r.job_id
), claimed AS (
    INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at)
    SELECT job_id, $2, {NOW_UTC} FROM removed
    RETURNING job_id
)
SELECT j.id, j.class_name, j.queue_name
FROM solid_queue_jobs j JOIN claimed c ON c.job_id = j.id
"""

_CATCH_UP = f"""
WITH picked AS (
    SELECT id FROM solid_queue_ready_executions
    WHERE queue_name NOT IN (SELECT queue_name FROM solid_queue_pauses)
    ORDER BY priority, job_id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), removed AS (
    DELETE FROM solid_queue_ready_executions r USING picked
    WHERE r.id = picked.id
    RETURNING r.job_id
)
UPDATE solid_queue_jobs SET finished_at = {NOW_UTC}, updated_at = {NOW_UTC}
WHERE id IN (SELECT job_id FROM removed)
"""

_FINISH = f"""
WITH released AS (
    DELETE FROM solid_queue_claimed_executions WHERE job_id = ANY($1::bigint[])
)
UPDATE solid_queue_jobs SET finished_at = {NOW_UTC}, updated_at = {NOW_UTC}
WHERE id = ANY($1::bigint[])
"""

_FAIL = f"""
WITH released AS (
    DELETE FROM solid_queue_claimed_executions WHERE job_id = ANY($1::bigint[])
)
INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
SELECT u.job_id, u.error, {NOW_UTC}
FROM unnest($1::bigint[], $2::text[]) AS u(job_id, error)
JOIN solid_queue_jobs j ON j.id = u.job_id
ON CONFLICT (job_id) DO NOTHING
"""

_DISPATCH = f"""
WITH due AS (
    SELECT id FROM solid_queue_scheduled_executions
    WHERE scheduled_at <= {NOW_UTC}
    ORDER BY scheduled_at, priority, job_id
    LIMIT 100
    FOR UPDATE SKIP LOCKED
), moved AS (
    DELETE FROM solid_queue_scheduled_executions s USING due
    WHERE s.id = due.id
    RETURNING s.job_id, s.queue_name, s.priority
)
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT job_id, queue_name, priority, {NOW_UTC} FROM moved
"""

_RECURRING = f"""
WITH job AS (
    INSERT INTO solid_queue_jobs
        (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
         created_at, updated_at)
    SELECT 'default', 'WeatherFetchJob', $2, 0, $3, $1, {NOW_UTC}, {NOW_UTC}
    WHERE NOT EXISTS (
        SELECT 1 FROM solid_queue_recurring_executions
        WHERE task_key = 'weather_fetch' AND run_at = $1
    )
    RETURNING id, queue_name, priority
), recurring AS (
    INSERT INTO solid_queue_recurring_executions (job_id, task_key, run_at, created_at)
    SELECT id, 'weather_fetch', $1, {NOW_UTC} FROM job
)
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT id, queue_name, priority, {NOW_UTC} FROM job
"""

_REGISTER = f"""
INSERT INTO solid_queue_processes
    (kind, last_heartbeat_at, supervisor_id, pid, hostname, metadata, created_at, name)
VALUES ($1, {NOW_UTC}, $2, $3, $4, $5, {NOW_UTC}, $6)
RETURNING id
"""

_BULK_READY = f"""
WITH jobs AS (
    INSERT INTO solid_queue_jobs
        (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
         created_at, updated_at)
    SELECT CASE n % 3 WHEN 0 THEN 'images' ELSE 'default' END,
           CASE n % 3 WHEN 0 THEN 'ImageVariantJob' WHEN 1 THEN 'RainbowSightingNotifyJob'
                ELSE 'WeatherFetchJob' END,
           '{{"job_class":"' || CASE n % 3 WHEN 0 THEN 'ImageVariantJob'
                WHEN 1 THEN 'RainbowSightingNotifyJob' ELSE 'WeatherFetchJob' END
             || '","arguments":[' || n || '],"executions":0}}',
           0, gen_random_uuid()::text,
           {NOW_UTC} - make_interval(secs => ($1 - n) * $2),
           {NOW_UTC} - make_interval(secs => ($1 - n) * $2),
           {NOW_UTC} - make_interval(secs => ($1 - n) * $2)
    FROM generate_series(1, $1) AS n
    RETURNING id, queue_name, priority, created_at
)
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT id, queue_name, priority, created_at FROM jobs
"""

_BULK_FAILED = f"""
WITH jobs AS (
    INSERT INTO solid_queue_jobs
        (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
         created_at, updated_at)
    SELECT $3::varchar, $2::varchar,
           '{{"job_class":"' || $2::varchar || '","arguments":[' || (4000 + n)
             || '],"executions":0}}',
           0, gen_random_uuid()::text,
           {NOW_UTC} - make_interval(secs => ($1 - n) * 0.7),
           {NOW_UTC} - make_interval(secs => ($1 - n) * 0.7),
           {NOW_UTC} - make_interval(secs => ($1 - n) * 0.7)
    FROM generate_series(1, $1) AS n
    RETURNING id, created_at
)
INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
SELECT id, $4, created_at + interval '40 milliseconds' FROM jobs
"""


@dataclass
class _ProcessRow:
    kind: str
    name: str
    pid: int
    metadata: dict[str, Any]
    id: int | None = None


@dataclass
class WorkloadStats:
    enqueued: int = 0
    performed: int = 0
    failed: int = 0
    reconnects: int = 0


@dataclass
class Workload:
    """Puma and Solid Queue traffic against the demo database."""

    dsn: str  # the app's database
    queue_dsn: str  # Solid Queue's own, as Rails 8 has it
    faults: FaultState
    job_container_running: Callable[[], bool]
    web_running: Callable[[], bool]
    job_hostname: str
    rng: random.Random = field(default_factory=random.Random)
    stats: WorkloadStats = field(default_factory=WorkloadStats)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _processes: list[_ProcessRow] = field(default_factory=list)
    _registered: asyncio.Event = field(default_factory=asyncio.Event)
    _generation: int = 0
    _connections: set[Any] = field(default_factory=set)

    async def start(self) -> None:
        actors: list[tuple[str, str, Callable[[Any], Awaitable[None]]]] = [
            ("supervisor", "solid_queue-supervisor", self._supervise),
            ("worker-1", "solid_queue-worker", lambda c: self._work(c, 0)),
            ("worker-2", "solid_queue-worker", lambda c: self._work(c, 1)),
            ("dispatcher", "solid_queue-dispatcher", self._dispatch),
            ("scheduler", "solid_queue-scheduler", self._schedule),
            ("puma", "puma", self._serve_requests),
        ]
        for label, application_name, body in actors:
            self._tasks.append(
                asyncio.create_task(self._actor(label, application_name, body), name=label)
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for conn in list(self._connections):
            conn.terminate()
        self._connections.clear()

    def restart_processes(self) -> None:
        """The job container was replaced: Solid Queue registers anew with new pids."""
        self._generation += 1
        self._registered.clear()

    async def connect(self, application_name: str, database: str = "queue") -> Any:
        """A session as Rails opens one: in UTC (the PostgreSQL adapter sets it),
        to the app's database or (``"queue"``) Solid Queue's."""
        return await asyncpg.connect(
            self.queue_dsn if database == "queue" else self.dsn,
            timeout=5,
            command_timeout=30,
            server_settings={"application_name": application_name, "timezone": "UTC"},
        )

    async def _actor(
        self, label: str, application_name: str, body: Callable[[Any], Awaitable[None]]
    ) -> None:
        backoff = 0.2
        while True:
            conn = None
            try:
                conn = await self.connect(
                    application_name, "primary" if application_name == "puma" else "queue"
                )
                self._connections.add(conn)
                backoff = 0.2
                await body(conn)
            except _CONNECTION_ERRORS as exc:
                self.stats.reconnects += 1
                log.info("%s lost its database connection (%s); retrying in %.1fs", label,
                         exc.__class__.__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; restarting it", label)
                await asyncio.sleep(1.0)
            finally:
                if conn is not None:
                    self._connections.discard(conn)
                    conn.terminate()

    # -- Solid Queue supervisor: registration, heartbeats, pruning ------------------

    def _new_process_rows(self) -> list[_ProcessRow]:
        def name(kind: str) -> str:
            return f"{kind}-{self.rng.getrandbits(40):010x}"

        base_pid = self.rng.randint(7, 20)
        worker_meta = {"polling_interval": WORKER_POLL_SECONDS, "queues": "*",
                       "thread_pool_size": WORKER_THREADS}
        return [
            _ProcessRow("Supervisor", name("supervisor"), 1, {}),
            _ProcessRow("Worker", name("worker"), base_pid, worker_meta),
            _ProcessRow("Worker", name("worker"), base_pid + 3, worker_meta),
            _ProcessRow("Dispatcher", name("dispatcher"), base_pid + 6,
                        {"polling_interval": 1, "batch_size": 500,
                         "concurrency_maintenance_interval": 600}),
            _ProcessRow("Scheduler", name("scheduler"), base_pid + 9,
                        {"recurring_schedule": ["weather_fetch",
                                                "clear_solid_queue_finished_jobs"]}),
        ]

    async def _register(self, conn: Any) -> None:
        await self._deregister(conn)
        rows = self._new_process_rows()
        async with conn.transaction():
            supervisor_id: int | None = None
            for row in rows:
                row.id = await conn.fetchval(
                    _REGISTER, row.kind, supervisor_id, row.pid, self.job_hostname,
                    json.dumps(row.metadata), row.name,
                )
                if row.kind == "Supervisor":
                    supervisor_id = row.id
        self._processes = rows
        self._registered.set()

    async def _deregister(self, conn: Any) -> None:
        ids = [row.id for row in self._processes if row.id is not None]
        self._registered.clear()
        if ids:
            await conn.execute("DELETE FROM solid_queue_processes WHERE id = ANY($1::bigint[])",
                               ids)
        self._processes = []

    async def _supervise(self, conn: Any) -> None:
        registered_generation = -1
        next_heartbeat = 0.0
        next_prune = time.monotonic() + 5.0
        while True:
            now = time.monotonic()
            if not self.job_container_running():
                if self._processes:
                    await self._deregister(conn)
                registered_generation = -1
            else:
                ids = [row.id for row in self._processes if row.id is not None]
                alive = ids and await conn.fetchval(
                    "SELECT count(*) FROM solid_queue_processes WHERE id = ANY($1::bigint[])", ids
                ) == len(ids)
                if registered_generation != self._generation or not alive:
                    await self._register(conn)
                    registered_generation = self._generation
                    next_heartbeat = now + HEARTBEAT_SECONDS
                elif now >= next_heartbeat:
                    await conn.execute(
                        f"UPDATE solid_queue_processes SET last_heartbeat_at = {NOW_UTC} "
                        "WHERE id = ANY($1::bigint[])",
                        ids,
                    )
                    next_heartbeat = now + HEARTBEAT_SECONDS
            if now >= next_prune:
                await conn.execute(
                    "DELETE FROM solid_queue_jobs "
                    f"WHERE finished_at < {NOW_UTC} - interval '1 hour'"
                )
                next_prune = now + PRUNE_EVERY_SECONDS
            await asyncio.sleep(1.0)

    # -- workers --------------------------------------------------------------------

    def _can_claim(self) -> bool:
        return self.job_container_running() and not self.faults.workers_stalled

    async def _work(self, conn: Any, worker_index: int) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        finished: list[int] = []
        failed: list[tuple[int, str]] = []
        # Set when a claim came back full (more is waiting), cleared once caught up.
        backlogged = False

        async def perform(job_id: int, class_name: str) -> None:
            if class_name == self.faults.failing_job_class:
                await asyncio.sleep(self.rng.uniform(0.005, 0.04))
                failed.append((job_id, solid_queue_error_json()))
            else:
                await asyncio.sleep(self.rng.uniform(0.2, 3.0))
                finished.append(job_id)

        try:
            while True:
                if finished:
                    batch, finished[:] = list(finished), []
                    await conn.execute(_FINISH, batch)
                    self.stats.performed += len(batch)
                if failed:
                    failures, failed[:] = list(failed), []
                    await conn.execute(_FAIL, [f[0] for f in failures], [f[1] for f in failures])
                    self.stats.failed += len(failures)
                free = WORKER_THREADS - len(in_flight)
                if self._can_claim() and self._registered.is_set():
                    if free > 0:
                        workers = [p for p in self._processes if p.kind == "Worker"]
                        process = workers[worker_index % len(workers)] if workers else None
                        rows = await conn.fetch(_CLAIM, free, process.id if process else None)
                        for row in rows:
                            task = asyncio.create_task(perform(row["id"], row["class_name"]))
                            in_flight.add(task)
                            task.add_done_callback(in_flight.discard)
                        backlogged = backlogged or len(rows) == free
                    if backlogged:
                        status = await conn.execute(_CATCH_UP, CATCH_UP_BATCH)
                        caught_up = int(status.split()[-1])
                        self.stats.performed += caught_up
                        backlogged = caught_up == CATCH_UP_BATCH
                await asyncio.sleep(WORKER_POLL_SECONDS)
        finally:
            for task in in_flight:
                task.cancel()

    # -- dispatcher and scheduler ---------------------------------------------------

    async def _dispatch(self, conn: Any) -> None:
        while True:
            if self.job_container_running():
                await conn.execute(_DISPATCH)
            await asyncio.sleep(1.0)

    async def _schedule(self, conn: Any) -> None:
        while True:
            if self.job_container_running():
                # Runs are keyed by their slot, so a reconnect never enqueues one twice.
                slot = int(time.time()) // RECURRING_EVERY_SECONDS * RECURRING_EVERY_SECONDS
                run_at = datetime.fromtimestamp(slot, UTC).replace(tzinfo=None)
                job_id = str(uuid.uuid4())
                await conn.execute(
                    _RECURRING, run_at,
                    active_job_arguments("WeatherFetchJob", "default", job_id, []), job_id,
                )
            await asyncio.sleep(1.0)

    # -- Puma: app queries and enqueues ---------------------------------------------

    async def enqueue(self, conn: Any, class_name: str, queue: str, args: list[Any],
                      delay_seconds: float = 0.0) -> None:
        job_id = str(uuid.uuid4())
        arguments = active_job_arguments(class_name, queue, job_id, args)
        if delay_seconds > 0:
            await conn.execute(_ENQUEUE_SCHEDULED, queue, class_name, arguments, 0, job_id,
                               delay_seconds)
        else:
            await conn.execute(_ENQUEUE_READY, queue, class_name, arguments, 0, job_id)
        self.stats.enqueued += 1

    async def _serve_requests(self, conn: Any) -> None:
        # Puma holds a session in each database: SolidQueue::Record connects to
        # the queue one, so enqueuing goes there.
        queue_conn = await self.connect("puma", "queue")
        self._connections.add(queue_conn)
        try:
            await self._serve_requests_with(conn, queue_conn)
        finally:
            self._connections.discard(queue_conn)
            queue_conn.terminate()

    async def _serve_requests_with(self, conn: Any, queue_conn: Any) -> None:
        rng = self.rng
        while True:
            await asyncio.sleep(rng.uniform(0.3, 0.9))
            if not self.web_running():
                continue
            await conn.fetch(
                "/*application='ShiojiriRainbowSeeker',controller='rainbows',action='index'*/ "
                "SELECT id, observed_at, latitude, longitude, intensity FROM rainbow_sightings "
                f"WHERE observed_at > {NOW_UTC} - interval '7 days' "
                "ORDER BY observed_at DESC LIMIT 50"
            )
            roll = rng.random()
            if roll < 0.45:
                sighting_id = await conn.fetchval(
                    "/*application='ShiojiriRainbowSeeker',controller='sightings',"
                    "action='create'*/ INSERT INTO rainbow_sightings "
                    "(observed_at, latitude, longitude, intensity, photo_key, created_at, "
                    f"updated_at) VALUES ({NOW_UTC}, $1, $2, $3, $4, {NOW_UTC}, {NOW_UTC}) "
                    "RETURNING id",
                    36.115 + rng.uniform(-0.1, 0.1), 137.953 + rng.uniform(-0.1, 0.1),
                    rng.randint(1, 5), f"sightings/{uuid.uuid4().hex}.jpg",
                )
                await self.enqueue(
                    queue_conn, "RainbowSightingNotifyJob", "default", [sighting_id]
                )
                await self.enqueue(queue_conn, "ImageVariantJob", "images", [sighting_id])
            elif roll < 0.6:
                await self.enqueue(queue_conn, "ActionMailer::MailDeliveryJob", "mailers",
                                   ["RainbowMailer", "nearby_rainbow", "deliver_now"],
                                   delay_seconds=rng.uniform(5.0, 30.0))

    # -- bulk helpers used by drills ------------------------------------------------

    async def bulk_enqueue_ready(self, count: int, spread_seconds: float = 0.01) -> None:
        """Insert ``count`` ready jobs in one statement (``generate_series``)."""
        conn = await self.connect("puma")
        try:
            await conn.execute(_BULK_READY, count, spread_seconds)
            self.stats.enqueued += count
        finally:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await conn.close(timeout=2)

    async def bulk_fail(self, count: int, class_name: str = "ImageVariantJob",
                        queue: str = "images") -> None:
        """A burst of jobs that already failed, stored the way Solid Queue stores them."""
        conn = await self.connect("solid_queue-worker")
        try:
            await conn.execute(_BULK_FAILED, count, class_name, queue, solid_queue_error_json())
            self.stats.failed += count
        finally:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await conn.close(timeout=2)
