"""The screens at 80×24, 120×35 and 160×48: what a responder sees, pinned as SVG (the
postmortem editor is not: its Markdown preview is laid out in the background and its
picture differed between runs; tests/test_postmortem_editor.py covers its behaviour).

80×24 first: on the incident screen the current step's text, its commands and its
verification are on screen without a dialog; the other sizes show more around them.
The incident is worked through the wizard as a responder would, at fixed times (the
record's clock and the session's), so every picture is the same on every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.incidents import model
from rainbow_tui.logs.parse import parse_line
from rainbow_tui.session import Session
from screens.incident import IncidentScreen
from tests.helpers.snapshots import CONFIG

SIZES = [(80, 24), (120, 35), (160, 48)]
SIZE_IDS = ["80x24", "120x35", "160x48"]
T0 = datetime(2026, 11, 28, 3, 12, tzinfo=UTC)
NOW = T0 + timedelta(minutes=9)
LOG_LINES = [
    '2026-11-28T03:14:10.100000000Z [a1b2c3d4] Started GET "/api/v1/rainbows" for 203.0.113.5 at 2026-11-28 12:14:10 +0900',
    "2026-11-28T03:14:10.145000000Z [a1b2c3d4] Completed 200 OK in 45ms (Views: 1.2ms | ActiveRecord: 8.1ms (3 queries, 0 cached) | GC: 0.4ms)",
    "2026-11-28T03:14:11.002000000Z [e5f6a7b8] Completed 500 Internal Server Error in 3ms (ActiveRecord: 0.0ms)",
    "2026-11-28T03:14:11.003000000Z [e5f6a7b8] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds)",
]


@pytest.fixture(autouse=True)
def _fixed_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The record's clock stands still at T0, shown in UTC, written by tanaka."""
    monkeypatch.setattr(model, "utc_now", lambda: T0)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("USER", "tanaka")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _app(tmp_path: Path) -> RainbowApp:
    config = msgspec.structs.replace(
        CONFIG,
        incidents=msgspec.structs.replace(CONFIG.incidents, state_dir=str(tmp_path / "state")),
    )
    session = Session(config, clock=lambda: NOW)
    return make_app(config, autostart=False, session=session)


async def _at_the_boot_step(pilot: Pilot[Any]) -> None:
    """The service-down runbook worked to its restart: two steps done, one note."""
    app = pilot.app
    assert isinstance(app, RainbowApp)
    session = app.session
    incident_id = session.start_incident(runbook_id="service-down")
    wizard = session.wizard(incident_id)
    await wizard.advance("acknowledged")
    await wizard.begin_step()
    await wizard.complete_step()
    await wizard.begin_step()
    await wizard.add_note("no deploy lock held")
    await wizard.complete_step()
    await wizard.begin_step()
    app.show_incident(incident_id)
    await pilot.pause()
    assert isinstance(app.screen, IncidentScreen)
    await pilot.pause()


def _then(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run(pilot: Pilot[Any]) -> None:
        await _at_the_boot_step(pilot)
        await pilot.press(*keys)
        await pilot.pause()
        await pilot.pause()

    return run


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_incident_screen(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_then())


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_incident_help(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_then("question_mark"))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_runbook_picker(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.press("i")
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=run)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_log_screen(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, RainbowApp)
        await pilot.pause()
        app.session.log_buffer.append_many(parse_line(line, "app-1", "web") for line in LOG_LINES)
        await pilot.press("L")
        await pilot.pause()
        app.log_screen.log_view.flush()
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=run)


def _shown(widget: Widget) -> str:
    """The widget's lines as drawn on screen, one text line each."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "\n".join(line.text.rstrip() for line in lines)


async def test_at_80x24_the_first_step_shows_its_command_and_verification(tmp_path: Path) -> None:
    """The service-down incident just opened, at 80×24: step 1's commands are on screen,
    in a step pane of real height, with no dialog; so is the boot step's verification
    once it is the current one."""
    app = _app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        incident_id = app.session.start_incident(runbook_id="service-down")
        app.show_incident(incident_id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        await pilot.pause()
        step = screen.query_one("#incident-step")
        scroll = screen.query_one("#incident-step-scroll")
        shown = _shown(step)
        assert "Step 1 of 6" in shown
        assert "bundle exec kamal app details" in shown
        assert "bundle exec kamal app logs --since 5m" in shown
        # The command's note wraps under its command, not back at the pane's edge.
        note = [line for line in shown.splitlines() if "never ends" in line or "Kamal has" in line]
        assert len(note) == 2 and all(line.startswith("    ") for line in note), shown
        assert scroll.size.height >= 10  # not squeezed to nothing
        assert not screen.query_one("#incident-steps").display  # its width is the step's
        wizard = screen.wizard
        for _ in range(2):
            await wizard.begin_step()
            await wizard.complete_step()
        await pilot.pause()
        assert "HTTP check: /up answers 200" in _shown(step)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_routine_screen(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    """The quarterly routine opened at NOW: its first item skipped by tanaka, a note
    on the second, the cursor there (its why and checklist in the detail); nothing
    that reaches a host or a database runs, so the picture is the same every run."""
    from screens.routine import RoutineScreen

    async def run(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, RainbowApp)
        await pilot.pause()
        app.action_routine("quarterly")
        await pilot.pause()
        assert isinstance(app.screen, RoutineScreen)
        await pilot.press("s", "down", "n")
        await pilot.pause()
        await pilot.press(*"index on sightings(observed_at) unused since March")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=run)
