"""Driving the whole console against a demo stack: open it, wait on what it shows,
pick a row, run the stack's kamal."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from textual.pilot import Pilot

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.levels import Alert, Level
from widgets.finding_table import FindingTable
from widgets.keyed_rows import KeyedTable

# The console's poll interval in these tests: short, so a drill shows within seconds.
POLL_S = 1.0


@asynccontextmanager
async def console(
    stack: DemoProcess,
    monkeypatch: pytest.MonkeyPatch,
    *,
    read_only: bool = False,
    size: tuple[int, int] = (160, 48),
) -> AsyncIterator[tuple[RainbowApp, Pilot[int]]]:
    """The console on ``stack``, its database passwords in the environment as an
    operator's shell would have them."""
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    app = make_app(demo_config(stack.endpoints, poll_s=POLL_S), read_only=read_only)
    async with app.run_test(size=size) as pilot:
        yield app, pilot


async def until(pilot: Pilot[int], condition: Callable[[], bool], within: float = 40.0) -> None:
    """Wait for a condition the way a person watches the screen: with a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.2)


def level(app: RainbowApp, key: str) -> Level | None:
    """The level of one finding in the latest reading, None before it is read."""
    state = app.session.latest
    if state is None:
        return None
    return next((f.level for f in state.findings if f.key == key), None)


def alert(app: RainbowApp, key: str) -> Alert | None:
    """The open alert with this key, None when there is none."""
    state = app.session.latest
    return next((a for a in state.alerts if a.key == key), None) if state else None


def row_text(app: RainbowApp, table_id: str, key: str) -> str:
    """One dashboard row as the operator reads it."""
    table = app.dashboard.query_one(f"#{table_id}", FindingTable)
    return " ".join(cell.plain for cell in table.get_row(key))


async def select_row(app: RainbowApp, pilot: Pilot[int], table_id: str, key: str) -> None:
    """Focus a dashboard table and put its cursor on the row ``key`` once it shows."""
    await until(pilot, lambda: bool(app.dashboard.query(f"#{table_id}")))
    table = app.dashboard.query_one(f"#{table_id}", KeyedTable)
    await until(pilot, lambda: key in table.rows, within=90)
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


def kamal(stack: DemoProcess, *args: str) -> None:
    """The stack's kamal, as the operator would type it; it must succeed."""
    result = subprocess.run(
        [*stack.endpoints.kamal_command, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def start_incident(app: RainbowApp, pilot: Pilot[int]) -> None:
    """`i`, then Enter on the runbook the picker proposes (the cause's, else general)."""
    from screens.incident import IncidentScreen
    from screens.runbook_picker import RunbookPickerScreen

    await pilot.press("i")
    await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=10)
