"""Actions from the dashboard change the real database, each after a confirmation,
and none of them is offered under --read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot

from rainbow_tui.app import RainbowApp
from rainbow_tui.demo.launcher import DemoProcess
from screens.confirm import ConfirmScreen
from tests.test_dashboard_drills import console, kamal, until
from widgets.keyed_rows import KeyedTable


async def sql(stack: DemoProcess, query: str, *args: Any) -> Any:
    connection = await asyncpg.connect(stack.endpoints.pg_admin_dsn)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def select_row(app: RainbowApp, pilot: Pilot[int], table_id: str, key: str) -> None:
    await until(pilot, lambda: bool(app.dashboard.query(f"#{table_id}")))
    table = app.dashboard.query_one(f"#{table_id}", KeyedTable)
    await until(pilot, lambda: key in table.rows, within=90)
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


async def confirm(app: RainbowApp, pilot: Pilot[int], key: str, expect_in_title: str) -> None:
    await pilot.press(key)
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), within=5)
    assert isinstance(app.screen, ConfirmScreen)
    assert expect_in_title in app.screen.title_text  # the target is named
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), within=5)


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
                app.latest is not None
                and app.latest.readings.queue is not None
                and bool(app.latest.readings.queue.failed_by_class)
            ),
        )
        assert app.latest is not None and app.latest.readings.queue is not None
        group = app.latest.readings.queue.failed_by_class[0]
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
        assert "retried job" in str(app.dashboard.query_one("#jobs-action").render())

        # Discard the (new) latest failed job: the job itself is gone.
        await until(
            pilot,
            lambda: (
                app.latest is not None
                and app.latest.readings.queue is not None
                and app.latest.readings.queue.failed_by_class[0].latest_job_id != job_id
            ),
        )
        assert app.latest is not None and app.latest.readings.queue is not None
        doomed = next(
            g
            for g in app.latest.readings.queue.failed_by_class
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
            state = app.latest
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
        assert not {"t", "T", "x", "X", "P"} & offered_keys(app)
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
