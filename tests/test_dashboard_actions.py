"""Actions from the dashboard change the real database, each after a confirmation,
and none of them is offered under --read-only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot

from rainbow_tui.app import RainbowApp
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.incidents.model import Note
from screens.confirm import ConfirmScreen
from tests.helpers.console import console, kamal, select_row, start_incident, until


async def sql(stack: DemoProcess, query: str, *args: Any) -> Any:
    """Rows from the server; Solid Queue's tables are in its own database (Rails 8)."""
    endpoints = stack.endpoints
    dsn = endpoints.pg_admin_queue_dsn if "solid_queue_" in query else endpoints.pg_admin_dsn
    connection = await asyncpg.connect(dsn, server_settings={"timezone": "UTC"})
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def confirm(app: RainbowApp, pilot: Pilot[int], key: str, expect_in_title: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=15)
    assert isinstance(app.screen, ConfirmScreen)
    assert expect_in_title in app.screen.title_text  # the target is named
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), within=5)


def jobs_action_text(app: RainbowApp) -> str:
    return str(app.dashboard.query_one("#jobs-action").render())


def offered_keys(app: RainbowApp) -> set[str]:
    """Keys the footer and the palette offer right now."""
    return {key for key, active in app.screen.active_bindings.items() if active.enabled}


async def test_queue_and_failed_job_actions(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["failed-jobs"])
    kamal(stack, "app", "boot")  # no new failures from here on: the ids below stay put
    async with console(stack, monkeypatch) as (app, pilot):
        await pilot.press("4")
        await until(
            pilot,
            lambda: (
                app.session.latest is not None
                and app.session.latest.readings.queue is not None
                and bool(app.session.latest.readings.queue.failed_by_class)
            ),
        )
        assert app.session.latest is not None and app.session.latest.readings.queue is not None
        group = app.session.latest.readings.queue.failed_by_class[0]
        (job,) = await sql(
            stack, "SELECT queue_name FROM solid_queue_jobs WHERE id = $1", group.latest_job_id
        )
        queue_name = job["queue_name"]

        # Pause the failing jobs' queue, so a retried job waits in ready for us to see.
        await select_row(app, pilot, "queues-table", queue_name)
        await confirm(app, pilot, "P", f"Pause queue {queue_name}")
        assert await sql(
            stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", queue_name
        )

        # Retry the latest failed job of the class: back to ready, no longer failed.
        job_id = group.latest_job_id
        await select_row(app, pilot, "failures-table", group.exception_class)
        await confirm(app, pilot, "t", f"Retry failed job {job_id}")
        assert await sql(
            stack, "SELECT 1 FROM solid_queue_ready_executions WHERE job_id = $1", job_id
        )
        assert not await sql(
            stack, "SELECT 1 FROM solid_queue_failed_executions WHERE job_id = $1", job_id
        )
        assert "retried job" in jobs_action_text(app)
        (arguments,) = await sql(
            stack, "SELECT arguments FROM solid_queue_jobs WHERE id = $1", job_id
        )
        assert '"executions":0' in arguments["arguments"]  # FailedExecution#retry resets it

        # Discard the (new) latest failed job: the job itself is gone.
        await until(
            pilot,
            lambda: (
                app.session.latest is not None
                and app.session.latest.readings.queue is not None
                and app.session.latest.readings.queue.failed_by_class[0].latest_job_id != job_id
            ),
        )
        assert app.session.latest is not None and app.session.latest.readings.queue is not None
        doomed = next(
            g
            for g in app.session.latest.readings.queue.failed_by_class
            if g.exception_class == group.exception_class
        ).latest_job_id
        await select_row(app, pilot, "failures-table", group.exception_class)
        await confirm(app, pilot, "x", f"Discard failed job {doomed}")
        assert not await sql(stack, "SELECT 1 FROM solid_queue_jobs WHERE id = $1", doomed)

        # Resume the queue.
        await select_row(app, pilot, "queues-table", queue_name)
        await confirm(app, pilot, "P", f"Resume queue {queue_name}")
        assert not await sql(
            stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", queue_name
        )


async def test_cancel_and_terminate_backend(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["slow-queries"])
    async with console(stack, monkeypatch) as (app, pilot):
        await pilot.press("3")

        def slow_pids() -> list[int]:
            state = app.session.latest
            if state is None or state.readings.database is None:
                return []
            return [q.pid for q in state.readings.database.longest if q.duration_ms > 1000]

        await until(pilot, lambda: len(slow_pids()) >= 1)
        victim = slow_pids()[0]
        await select_row(app, pilot, "queries-table", str(victim))
        await confirm(app, pilot, "k", f"Terminate backend {victim}")
        await until(
            pilot,
            lambda: (
                "terminated backend" in str(app.dashboard.query_one("#database-action").render())
            ),
            within=10,
        )
        assert not await sql(stack, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", victim)


async def test_read_only_offers_no_action(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["failed-jobs", "slow-queries"])
    async with console(stack, monkeypatch, read_only=True) as (app, pilot):
        await pilot.press("4")
        await until(pilot, lambda: bool(app.dashboard.query("#failures-table")))
        app.dashboard.query_one("#failures-table").focus()
        await pilot.pause()
        assert not {"t", "T", "x", "X", "P", "C"} & offered_keys(app)
        before = (await sql(stack, "SELECT count(*) AS n FROM solid_queue_failed_executions"))[0][
            "n"
        ]
        for key in ("t", "T", "x", "X", "P"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("3")
        await until(pilot, lambda: bool(app.dashboard.query("#queries-table")))
        app.dashboard.query_one("#queries-table").focus()
        await pilot.pause()
        assert not {"c", "k"} & offered_keys(app)
        for key in ("c", "k"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
        after = (await sql(stack, "SELECT count(*) AS n FROM solid_queue_failed_executions"))[0][
            "n"
        ]
        assert after >= before  # nothing was retried or discarded
        assert "read-only" in str(app.dashboard.query_one("#state-header").render())


BULK_CLASS = "Net::ReadTimeout"
BULK_QUEUE = "bulk_weather"
BULK_FAILURES = 3_000


async def add_bulk_failures(stack: DemoProcess, count: int) -> None:
    """``count`` failures of one class, in a paused queue so that the demo's workers
    leave what is retried in ready; far more than the queue pane's sample of 300."""
    now = "(now() AT TIME ZONE 'UTC')"
    error = (
        '{"exception_class":"Net::ReadTimeout","message":"Net::ReadTimeout with '
        '#<TCPSocket:(closed)>","backtrace":["/rails/app/services/jma_forecast.rb:27"]}'
    )
    await sql(
        stack,
        f"""
        WITH pause AS (
            INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, {now})
            ON CONFLICT DO NOTHING
        ), job AS (
            INSERT INTO solid_queue_jobs
                (queue_name, class_name, arguments, priority, active_job_id, scheduled_at,
                 created_at, updated_at)
            SELECT $1, 'WeatherFetchJob',
                   '{{"job_class":"WeatherFetchJob","arguments":[' || n
                     || '],"executions":5,"exception_executions":{{"[Net::ReadTimeout]":5}}}}',
                   0, gen_random_uuid()::text, {now}, {now}, {now}
            FROM generate_series(1, $2) AS n
            RETURNING id
        )
        INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
        SELECT id, $3, {now} FROM job
        """,
        BULK_QUEUE, count, error,
    )


async def failed_of_class(stack: DemoProcess) -> int:
    rows = await sql(
        stack,
        "SELECT count(*) AS n FROM solid_queue_failed_executions f"
        " JOIN solid_queue_jobs j ON j.id = f.job_id WHERE j.queue_name = $1",
        BULK_QUEUE,
    )
    return int(rows[0]["n"])


@pytest.mark.slow
async def test_bulk_retry_by_class_counts_in_full_shows_progress_and_cancels(
    demo_stack_factory: Callable[..., DemoProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    """T on a class: the confirmation names the true count, not the pane's sample; the
    Jobs pane shows progress; C stops it between batches; the outcome says what is
    done and left, and goes on the open incident's timeline.  Each failure is retried
    as solid_queue v1.5.0 app/models/solid_queue/failed_execution.rb (#retry) does."""
    stack = demo_stack_factory()
    await add_bulk_failures(stack, BULK_FAILURES)
    async with console(stack, monkeypatch) as (app, pilot):
        await start_incident(app, pilot)
        await until(pilot, lambda: app.session.open_incident_id is not None)
        await pilot.pause()
        app.pop_screen()  # back to the dashboard, the incident still open
        await pilot.press("4")
        await until(pilot, lambda: app.dashboard.job_actions is not None)
        assert app.dashboard.job_actions is not None
        await select_row(app, pilot, "failures-table", BULK_CLASS)
        assert app.session.latest is not None and app.session.latest.readings.queue is not None
        sampled = next(
            g.count for g in app.session.latest.readings.queue.failed_by_class
            if g.exception_class == BULK_CLASS
        )
        assert sampled <= 300 < BULK_FAILURES

        # The second batch waits at a gate (the batches themselves run for real), so
        # that there is time to watch the progress and press C.
        actions = app.dashboard.job_actions
        write = actions._write
        gate = asyncio.Event()
        batches = 0

        async def gated_write(work: Any) -> Any:
            nonlocal batches
            batches += 1
            if batches == 2:
                await gate.wait()
            return await write(work)

        monkeypatch.setattr(actions, "_write", gated_write)
        await pilot.press("T")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=15)
        assert isinstance(app.screen, ConfirmScreen)
        assert app.screen.title_text == f"Retry all 3 000 failed jobs of {BULK_CLASS}?"
        await pilot.press("y")
        await until(pilot, lambda: "1 000 / 3 000" in jobs_action_text(app), within=15)
        assert "Retrying the failed jobs of Net::ReadTimeout: 1 000 / 3 000 (33 %)" in (
            jobs_action_text(app)
        )
        assert "C" in offered_keys(app)  # the cancel key is offered while it runs
        await pilot.press("C")
        await pilot.pause()
        gate.set()
        await until(pilot, lambda: "Cancelled" in jobs_action_text(app), within=30)
        assert "C" not in offered_keys(app)

        # The batch under way was finished, the third never begun.
        message = jobs_action_text(app)
        assert "Cancelled: retried 2 000 of 3 000 failed jobs of Net::ReadTimeout" in message
        assert "1 000 left failed" in message
        left = await failed_of_class(stack)
        assert left == 1_000
        ready = await sql(
            stack, "SELECT count(*) AS n FROM solid_queue_ready_executions WHERE queue_name = $1",
            BULK_QUEUE,
        )
        assert ready[0]["n"] == 2_000

        # Again: the rest, counted afresh, all of it this time.
        await pilot.press("T")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=15)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Retry all {left:,} failed jobs".replace(",", " ") in app.screen.title_text
        await pilot.press("y")
        await until(pilot, lambda: "Retried" in jobs_action_text(app), within=30)
        assert await failed_of_class(stack) == 0
        assert f"Retried {left:,} of {left:,} failed jobs of {BULK_CLASS}".replace(
            ",", " "
        ) in jobs_action_text(app)

        incident_id = app.session.open_incident_id
        assert incident_id is not None
        notes = [
            e.text for e in app.session.wizard(incident_id).incident.events
            if isinstance(e, Note)
        ]
        assert any(n.startswith("Dashboard action: Cancelled: retried") for n in notes)
        assert any(n.startswith(f"Dashboard action: Retried {left:,}".replace(",", " "))
                   for n in notes)
