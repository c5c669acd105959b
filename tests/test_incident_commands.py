"""A command of the incident runs until it ends or the responder cancels it with x:
another key (Enter, 1-9) while it runs says so and leaves it running.  A command that
changes nothing runs on Enter; a destructive one asks for its action typed out."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from textual.widgets import RichLog

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config
from rainbow_tui.incidents.model import CommandFinished, CommandStarted
from screens.confirm import ConfirmScreen
from screens.incident import IncidentScreen
from tests.helpers.console import start_incident, until

# The team's own general runbook: a command that speaks, then runs for a long while.
SLOW_RUNBOOK = """
id = "general"
title_ja = "長いコマンド"
title_en = "A long command"
severity = "medium"
matches = []

[[steps]]
id = "wait"
phase = "detect"
title_ja = "待つ"
title_en = "Wait"

[[steps.commands]]
kind = "local"
argv = ["sh", "-c", "echo waiting for the replica; sleep 120"]
timeout_s = 300

[[steps.commands]]
kind = "local"
argv = ["echo", "the second command"]
timeout_s = 30
"""


def toasts(app: RainbowApp) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def finished(screen: IncidentScreen) -> list[CommandFinished]:
    return [e for e in screen.wizard.incident.events if isinstance(e, CommandFinished)]


async def test_only_x_cancels_a_running_command_and_it_asks_first(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "general.toml").write_text(SLOW_RUNBOOK, encoding="utf-8")
    config = demo_config(demo_stack.endpoints)
    config = msgspec.structs.replace(
        config,
        incidents=msgspec.structs.replace(
            config.incidents, state_dir=str(tmp_path / "incidents"), runbooks_dir=str(runbooks)
        ),
    )
    app = make_app(config, autostart=False)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        assert not app.session.catalog.problems
        await start_incident(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        assert screen.wizard.runbook.title_en == "A long command"
        output = screen.query_one("#incident-output", RichLog)

        # It changes nothing, so Enter runs it without a question.
        await pilot.press("enter")
        # Its output reaches the screen as the session's events.
        await until(
            pilot, lambda: any("waiting for the replica" in line.text for line in output.lines)
        )
        assert screen.wizard.command_in_progress

        for key in ("enter", "2"):
            await pilot.press(key)
            await until(
                pilot, lambda: "A command is running — x cancels it" in toasts(app), within=10
            )
            app.clear_notifications()
            await pilot.pause()
            assert screen.wizard.command_in_progress and not finished(screen)
        started = [e for e in screen.wizard.incident.events if isinstance(e, CommandStarted)]
        assert len(started) == 1  # the second command was never begun

        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # not after all: it goes on
        await until(pilot, lambda: app.screen is screen)
        assert screen.wizard.command_in_progress and not finished(screen)

        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: bool(finished(screen)), within=30)
        assert finished(screen)[0].outcome == "cancelled"
        assert not screen.wizard.command_in_progress
        await until(pilot, lambda: any("cancelled" in line.text for line in output.lines))

        await pilot.press("x")  # nothing left to cancel: said so, nothing asked
        await until(pilot, lambda: "No command is running" in toasts(app), within=10)
        assert app.screen is screen


@pytest.fixture(autouse=True)
def _no_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands here are local: the console needs no database."""
    for name in ("RAINBOW_TUI_DATABASE_URL", "RAINBOW_TUI_QUEUE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
