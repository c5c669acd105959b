"""The Routine screen driven with Pilot: reached from the dashboard's command line,
an item run, a note typed, an item marked done, the run finished — each on disk."""

from __future__ import annotations

from pathlib import Path

import msgspec
from textual.widgets import DataTable, Input

from rainbow_tui.app import make_app
from rainbow_tui.config import Config, ServiceConfig
from rainbow_tui.upkeep.record import RoutineRecords
from screens.help import HelpScreen
from screens.key_guide import key_groups
from screens.routine import RoutineScreen
from tests.helpers.console import until


def _config(state_dir: Path) -> Config:
    config = Config(service=ServiceConfig(kamal_service="shiojiri-rainbow-seeker"))
    incidents = msgspec.structs.replace(config.incidents, state_dir=str(state_dir))
    return msgspec.structs.replace(config, incidents=incidents)


async def test_routine_screen_runs_notes_marks_done_and_records(tmp_path: Path) -> None:
    records = RoutineRecords(tmp_path / "state")
    app = make_app(_config(tmp_path / "state"), autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        await pilot.pause()
        app.screen.query_one(Input).value = "routine security"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RoutineScreen))
        screen = app.screen
        assert isinstance(screen, RoutineScreen) and screen.run is not None
        run_id = screen.run.record.id
        table = screen.query_one(DataTable)
        assert table.row_count == 3
        # Run the first item: the password rotation was never marked done.
        await pilot.press("enter")
        await until(pilot, lambda: records.load(run_id).items[0].outcome != "pending")
        assert records.load(run_id).items[0].outcome == "warning"
        assert "warning" in str(table.get_cell("password-rotation", "result"))
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one(Input).value = "DB password rotated"
        await pilot.press("enter")
        await until(pilot, lambda: records.load(run_id).items[0].note == "DB password rotated")
        await pilot.press("d")
        await until(pilot, lambda: records.load(run_id).items[0].done)
        await pilot.press("f")
        await until(pilot, lambda: records.load(run_id).finished_at is not None)
        assert "finished" in str(screen.query_one("#routine-title").render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RoutineScreen))
    assert records.last_done("password-rotation") is not None


async def test_question_mark_lists_the_routine_keys(tmp_path: Path) -> None:
    app = make_app(_config(tmp_path / "state"), autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_routine("daily")
        await until(pilot, lambda: isinstance(app.screen, RoutineScreen))
        groups = key_groups(app.screen)
        described = {entry.description for group in groups for entry in group.entries}
        for words in ("Run", "Run the rest", "Done", "Skip", "Note", "Finish", "Back"):
            assert words in described, words
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
