"""Job actions against a real PostgreSQL holding Solid Queue's tables, checked against
what Solid Queue 1.x itself does (each test names the upstream file it transcribes).

A private server is started from the demo's cached template (Solid Queue's schema
in its own database, the server's TimeZone Asia/Tokyo), so 100 000 failures and
the absence of workers disturb no shared stack.  The actions run as the console
does: the monitoring role, a read-only session with a 2 s statement timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from rainbow_tui.config import ConcurrencyLimit
from rainbow_tui.demo.postgres import PostgresServer
from rainbow_tui.demo.schema import APP_ROLE, QUEUE_DATABASE
from rainbow_tui.job_actions import (
    BATCH_SIZE,
    FailedSelection,
    JobActions,
    format_count,
    reset_execution_counters,
)
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.sources.queue import QueueSource
from tests.helpers.queue_db import (
    NOW_UTC,
    TABLES,
    QueueDatabase,
    add_failed,
    private_queue_database,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def queue_db() -> AsyncIterator[QueueDatabase]:
    async with private_queue_database("rtui-job-actions-") as database:
        assert await asyncpg_value(database.server, "SHOW timezone") == "Asia/Tokyo"
        yield database


async def asyncpg_value(server: PostgresServer, query: str) -> Any:
    conn = await asyncpg.connect(server.dsn(APP_ROLE, QUEUE_DATABASE))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="module")
async def db(queue_db: QueueDatabase) -> AsyncIterator[QueueDatabase]:
    await queue_db.fetch(f"TRUNCATE {TABLES} RESTART IDENTITY")
    yield queue_db


@pytest_asyncio.fixture(loop_scope="module")
async def link(db: QueueDatabase) -> AsyncIterator[PostgresLink]:
    """The console's own session: monitoring role, read-only, 2 s statement timeout."""
    link = PostgresLink(db.monitor_dsn, statement_timeout_ms=2000)
    yield link
    await link.close()


async def utc_now(db: QueueDatabase) -> datetime:
    value: datetime = await db.value(f"SELECT {NOW_UTC}")
    return value


def near(value: datetime, expected: datetime, within_s: float = 5.0) -> bool:
    return abs((value - expected).total_seconds()) <= within_s


# -- one job -------------------------------------------------------------------------------


async def test_retry_without_key_goes_ready_with_counters_reset(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/failed_execution.rb (#retry),
    job/retryable.rb (#reset_execution_counters), job/executable.rb (#dispatch, #ready);
    rails activejob/lib/active_job/core.rb (#serialize: the two counters)."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout", queue="weather", priority=3)
    before = await db.value("SELECT arguments FROM solid_queue_jobs WHERE id = $1", job_id)

    result = await JobActions(link).retry_failed_job(job_id)

    assert result.ok and result.message == f"retried job {job_id}: ready"
    (job,) = await db.fetch("SELECT arguments, updated_at FROM solid_queue_jobs WHERE id = $1",
                            job_id)
    data = json.loads(job["arguments"])
    assert data["executions"] == 0 and data["exception_executions"] == {}
    # Only those two values change: the rest (an argument's own "executions" too)
    # keeps its bytes and the keys their order.
    assert job["arguments"] == before.replace(
        '"executions":5,"exception_executions":{"[Net::ReadTimeout]":5}',
        '"executions":0,"exception_executions":{}',
    )
    now = await utc_now(db)
    assert near(job["updated_at"], now)  # UTC wall clock, not the server's Tokyo time
    (ready,) = await db.fetch(
        "SELECT queue_name, priority, created_at FROM solid_queue_ready_executions"
        " WHERE job_id = $1", job_id)
    assert (ready["queue_name"], ready["priority"]) == ("weather", 3)
    assert near(ready["created_at"], now)
    assert not await db.fetch("SELECT 1 FROM solid_queue_failed_executions")
    assert not await db.fetch("SELECT 1 FROM solid_queue_semaphores")

    again = await JobActions(link).retry_failed_job(job_id)
    assert not again.ok and "nothing to retry" in again.message


async def test_retry_with_free_semaphore_takes_a_slot(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/semaphore.rb (Proxy#wait:
    attempt_decrement, expires_at = concurrency_duration.from_now) and
    job/concurrency_controls.rb (#acquire_concurrency_lock)."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout", class_name="ImageVariantJob",
                                 concurrency_key="ImageVariantJob/42")
    await db.fetch(
        f"INSERT INTO solid_queue_semaphores (key, value, expires_at, created_at, updated_at)"
        f" VALUES ('ImageVariantJob/42', 2, {NOW_UTC}, {NOW_UTC} - interval '1 hour',"
        f" {NOW_UTC} - interval '1 hour')")
    actions = JobActions(link, {"ImageVariantJob": ConcurrencyLimit(to=3, duration_s=600)})

    result = await actions.retry_failed_job(job_id)

    assert result.ok and result.message.endswith(": ready")
    (semaphore,) = await db.fetch("SELECT value, expires_at, updated_at FROM solid_queue_semaphores")
    now = await utc_now(db)
    assert semaphore["value"] == 1
    assert near(semaphore["expires_at"], now + timedelta(seconds=600))
    assert near(semaphore["updated_at"], now - timedelta(hours=1))  # update_all: untouched
    assert await db.fetch("SELECT 1 FROM solid_queue_ready_executions WHERE job_id = $1", job_id)
    assert not await db.fetch("SELECT 1 FROM solid_queue_blocked_executions")


async def test_retry_without_semaphore_row_creates_it(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/semaphore.rb (Proxy#attempt_creation:
    value limit - 1); lib/active_job/concurrency_controls.rb and lib/solid_queue.rb
    (defaults: to 1, default_concurrency_control_period 3 minutes)."""
    first, second = await add_failed(db, 2, "Net::ReadTimeout", class_name="UnlistedJob",
                                     concurrency_key="UnlistedJob")
    actions = JobActions(link)  # the class is not configured: Solid Queue's defaults

    assert (await actions.retry_failed_job(first)).message.endswith(": ready")
    (semaphore,) = await db.fetch("SELECT value, expires_at FROM solid_queue_semaphores")
    now = await utc_now(db)
    assert semaphore["value"] == 0  # to: 1 → created at 0
    assert near(semaphore["expires_at"], now + timedelta(minutes=3))

    # The one slot is taken now: the second waits in blocked.
    assert "blocked" in (await actions.retry_failed_job(second)).message


async def test_retry_with_key_taken_blocks(db: QueueDatabase, link: PostgresLink) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/job/concurrency_controls.rb (#block,
    #handle_concurrency_conflict), blocked_execution.rb (set_expires_at,
    assumes_attributes_from_job :concurrency_key), semaphore.rb (value 0: no slot)."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout", class_name="ImageVariantJob",
                                 concurrency_key="ImageVariantJob/42", queue="images",
                                 priority=5)
    await db.fetch(
        f"INSERT INTO solid_queue_semaphores (key, value, expires_at, created_at, updated_at)"
        f" VALUES ('ImageVariantJob/42', 0, {NOW_UTC} + interval '1 minute', {NOW_UTC},"
        f" {NOW_UTC})")
    actions = JobActions(link, {"ImageVariantJob": ConcurrencyLimit(to=2, duration_s=90)})

    result = await actions.retry_failed_job(job_id)

    assert result.ok and "blocked by its concurrency key" in result.message
    (blocked,) = await db.fetch(
        "SELECT queue_name, priority, concurrency_key, expires_at"
        " FROM solid_queue_blocked_executions WHERE job_id = $1", job_id)
    now = await utc_now(db)
    assert (blocked["queue_name"], blocked["priority"]) == ("images", 5)
    assert blocked["concurrency_key"] == "ImageVariantJob/42"
    assert near(blocked["expires_at"], now + timedelta(seconds=90))
    assert await db.value("SELECT value FROM solid_queue_semaphores") == 0
    assert not await db.fetch("SELECT 1 FROM solid_queue_ready_executions")
    assert not await db.fetch("SELECT 1 FROM solid_queue_failed_executions")
    arguments_now = await db.value("SELECT arguments FROM solid_queue_jobs")
    assert json.loads(arguments_now)["executions"] == 0


async def test_retry_with_key_taken_and_on_conflict_discard_destroys_the_job(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/job/concurrency_controls.rb
    (#handle_concurrency_conflict: on_conflict :discard → destroy, since 1.2)."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout", class_name="DigestJob",
                                 concurrency_key="DigestJob")
    await db.fetch(
        f"INSERT INTO solid_queue_semaphores (key, value, expires_at, created_at, updated_at)"
        f" VALUES ('DigestJob', 0, {NOW_UTC}, {NOW_UTC}, {NOW_UTC})")
    actions = JobActions(link, {"DigestJob": ConcurrencyLimit(on_conflict="discard")})

    result = await actions.retry_failed_job(job_id)

    assert result.ok and "discarded" in result.message
    assert not await db.fetch("SELECT 1 FROM solid_queue_jobs")


async def test_retry_not_due_yet_is_scheduled(db: QueueDatabase, link: PostgresLink) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/job/executable.rb
    (#prepare_for_execution: schedule unless due?), job/schedulable.rb (#due?,
    #schedule), scheduled_execution.rb (assumes_attributes_from_job :scheduled_at)."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout", class_name="ImageVariantJob",
                                 concurrency_key="ImageVariantJob/1", scheduled_in_s=3600)
    scheduled_at = await db.value("SELECT scheduled_at FROM solid_queue_jobs")

    result = await JobActions(link).retry_failed_job(job_id)

    assert result.ok and result.message.endswith(": scheduled")
    (row,) = await db.fetch("SELECT scheduled_at FROM solid_queue_scheduled_executions"
                            " WHERE job_id = $1", job_id)
    assert row["scheduled_at"] == scheduled_at
    assert not await db.fetch("SELECT 1 FROM solid_queue_ready_executions")
    assert not await db.fetch("SELECT 1 FROM solid_queue_semaphores")  # not dispatched yet


async def test_retry_of_unreadable_arguments_leaves_it_failed(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 job/retryable.rb: ``arguments["executions"] = 0`` needs the
    arguments hash; without one Solid Queue's own retry raises, and so nothing moves."""
    (job_id,) = await add_failed(db, 1, "Net::ReadTimeout")
    await db.fetch("UPDATE solid_queue_jobs SET arguments = NULL")

    result = await JobActions(link).retry_failed_job(job_id)

    assert not result.ok and "not retried" in result.message
    assert await db.fetch("SELECT 1 FROM solid_queue_failed_executions")
    assert not await db.fetch("SELECT 1 FROM solid_queue_ready_executions")


async def test_reset_execution_counters_keeps_every_other_byte() -> None:
    """solid_queue v1.5.0 job/retryable.rb (#reset_execution_counters)."""
    text = '{"job_class":"A","arguments":[1.0e+20,"東京\\u003c"],"executions":3}'
    assert reset_execution_counters(text) == (
        '{"job_class":"A","arguments":[1.0e+20,"東京\\u003c"],"executions":0,'
        '"exception_executions":{}}'
    )


async def test_discard_removes_the_job_and_its_executions(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/execution.rb (#discard: job.destroy),
    job/recurrable.rb (dependent: :destroy) and db/queue_schema.rb (on_delete: :cascade)."""
    doomed, kept = await add_failed(db, 2, "Net::ReadTimeout")
    await db.fetch(
        f"INSERT INTO solid_queue_recurring_executions (job_id, task_key, run_at, created_at)"
        f" VALUES ($1, 'weather_fetch', {NOW_UTC}, {NOW_UTC})", doomed)

    result = await JobActions(link).discard_failed_job(doomed)

    assert result.ok and result.message == f"discarded job {doomed}"
    for table in ("solid_queue_jobs", "solid_queue_failed_executions",
                  "solid_queue_recurring_executions"):
        column = "id" if table == "solid_queue_jobs" else "job_id"
        assert not await db.fetch(f"SELECT 1 FROM {table} WHERE {column} = $1", doomed)
    assert await db.fetch("SELECT 1 FROM solid_queue_failed_executions WHERE job_id = $1", kept)
    assert not (await JobActions(link).discard_failed_job(doomed)).ok


# -- by exception class ----------------------------------------------------------------------


async def test_selection_matches_the_queue_pane_grouping(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """The class is the queue pane's ``exception_class_sql``: errors written compactly
    (solid_queue v1.5.0 failed_execution.rb: ``serialize :error, coder: JSON`` of
    exception_class, message, backtrace) and otherwise are grouped alike.  Solid Queue
    has no selection by class; this one is the console's, matched to its own pane."""
    await add_failed(db, 30, "Net::ReadTimeout")
    await add_failed(db, 5, "Net::ReadTimeout",
                     error='{ "message": "late", "exception_class" : "Net::ReadTimeout" }')
    await add_failed(db, 7, "Aws::S3::Errors::ServiceUnavailable")

    snapshot = await QueueSource(link).poll()
    group = next(g for g in snapshot.failed_by_class if g.exception_class == "Net::ReadTimeout")
    selection = await JobActions(link, scan_chunk=8).select_failed_class("Net::ReadTimeout")

    assert selection.count == group.count == 35
    assert format_count(61234) == "61 234"


@pytest.mark.slow
async def test_bulk_retry_of_100_000_failures_in_batches(
    db: QueueDatabase, link: PostgresLink, capsys: pytest.CaptureFixture[str]
) -> None:
    """FailedExecution#retry (solid_queue v1.5.0 app/models/solid_queue/failed_execution.rb)
    for each failure of the class, a batch per transaction; one concurrency key held by
    every 100th job (limit 10, semaphore.rb) dispatches across the batches as
    Job#dispatch one by one in job id order would."""
    await add_failed(db, 100_000, "Net::ReadTimeout", class_name="ImageVariantJob",
                     concurrency_key="ImageVariantJob/photos", every=100)
    await add_failed(db, 2_000, "Aws::S3::Errors::ServiceUnavailable")  # another class
    actions = JobActions(link, {"ImageVariantJob": ConcurrencyLimit(to=10, duration_s=180)})

    started = time.monotonic()
    selection = await actions.select_failed_class("Net::ReadTimeout")
    counted_s = time.monotonic() - started
    assert selection.count == 100_000  # the true count, not the pane's sample of 300
    progress: list[tuple[int, int]] = []
    started = time.monotonic()
    outcome = await actions.retry_failed_class(
        selection, on_progress=lambda done, total: progress.append((done, total))
    )
    retried_s = time.monotonic() - started
    with capsys.disabled():
        print(f"\n  count 100 000 failures: {counted_s:.2f} s; retry in batches of "
              f"{BATCH_SIZE}: {retried_s:.2f} s ({outcome.batches} batches)")

    assert outcome.complete and outcome.severity == "information"
    assert (outcome.done, outcome.left, outcome.batches) == (100_000, 0, 100)
    assert (outcome.ready, outcome.blocked) == (100_000 - 990, 990)
    assert progress[0] == (0, 100_000) and progress[-1] == (100_000, 100_000)
    assert len(progress) == 101 and progress == sorted(progress)
    assert outcome.message == (
        "Retried 100 000 of 100 000 failed jobs of Net::ReadTimeout "
        "(99 010 ready, 990 blocked by their concurrency key)"
    )
    assert await db.value("SELECT count(*) FROM solid_queue_failed_executions") == 2_000
    assert await db.value("SELECT count(*) FROM solid_queue_ready_executions") == 99_010
    assert await db.value("SELECT value FROM solid_queue_semaphores") == 0
    # The ten slots went to the first ten keyed jobs, as one-by-one dispatch gives them.
    first_keyed = await db.fetch(
        "SELECT id FROM solid_queue_jobs WHERE concurrency_key IS NOT NULL ORDER BY id LIMIT 10")
    assert await db.value(
        "SELECT count(*) FROM solid_queue_ready_executions WHERE job_id = ANY($1::bigint[])",
        [r["id"] for r in first_keyed]) == 10
    assert await db.value(
        "SELECT count(*) FROM solid_queue_jobs WHERE class_name = 'ImageVariantJob'"
        " AND arguments LIKE '%\"executions\":0,\"exception_executions\":{},%'") == 100_000


async def test_cancel_stops_between_batches_and_says_what_is_left(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """Each batch is its own transaction (as solid_queue v1.5.0 execution.rb
    ``discard_all_in_batches`` does, 500 at a time): a cancellation leaves whole
    batches done and the rest failed, and says so."""
    await add_failed(db, 5_000, "Net::ReadTimeout")
    actions = JobActions(link, batch_size=500)
    selection = await actions.select_failed_class("Net::ReadTimeout")
    cancel = asyncio.Event()

    def progress(done: int, total: int) -> None:
        if done >= 1_000:
            cancel.set()

    outcome = await actions.discard_failed_class(selection, on_progress=progress, cancel=cancel)

    assert outcome.cancelled and not outcome.complete and outcome.severity == "warning"
    assert (outcome.done, outcome.left, outcome.batches) == (1_000, 4_000, 2)
    assert outcome.message == (
        "Cancelled: discarded 1 000 of 5 000 failed jobs of Net::ReadTimeout (4 000 left failed)"
    )
    assert await db.value("SELECT count(*) FROM solid_queue_failed_executions") == 4_000
    assert await db.value("SELECT count(*) FROM solid_queue_jobs") == 4_000


async def test_bulk_skips_failures_handled_or_held_elsewhere(
    db: QueueDatabase, link: PostgresLink
) -> None:
    """Failures retried by someone else meanwhile are gone, not failures of ours;
    one another session holds locked (solid_queue v1.5.0 failed_execution.rb
    ``with_lock``; ready_execution.rb claims with ``non_blocking_lock`` alike) is
    skipped, left failed and counted as left."""
    await add_failed(db, 10, "Net::ReadTimeout")
    actions = JobActions(link)
    selection = await actions.select_failed_class("Net::ReadTimeout")
    await db.fetch("DELETE FROM solid_queue_failed_executions WHERE id <= 2")
    other = await db.connect()
    try:
        await other.execute("BEGIN")
        await other.execute("SELECT 1 FROM solid_queue_failed_executions WHERE id = 3 FOR UPDATE")
        outcome = await actions.retry_failed_class(selection)
        await other.execute("ROLLBACK")
    finally:
        await other.close()

    assert (outcome.done, outcome.gone, outcome.left) == (7, 2, 1)
    assert outcome.severity == "warning"
    assert "1 left failed" in outcome.message and "2 already handled elsewhere" in outcome.message


async def test_an_empty_selection_is_complete(link: PostgresLink, db: QueueDatabase) -> None:
    """Nothing to do is done: solid_queue v1.5.0 execution.rb (discard_all_in_batches
    stops at no pending)."""
    outcome = await JobActions(link).retry_failed_class(FailedSelection("Nope", ()))
    assert outcome.complete and outcome.done == 0


async def test_pause_and_resume_write_utc(db: QueueDatabase, link: PostgresLink) -> None:
    """solid_queue v1.5.0 app/models/solid_queue/queue.rb (#pause, #resume)."""
    actions = JobActions(link)
    assert (await actions.pause_queue("images")).ok
    assert not (await actions.pause_queue("images")).ok
    created = await db.value("SELECT created_at FROM solid_queue_pauses")
    assert near(created, await utc_now(db))
    assert (await actions.resume_queue("images")).ok
    assert not (await actions.resume_queue("images")).ok
