"""The manual's appendix (付録 よく使うコマンド) from the console: in the palette, run on
the terminal, recorded on the open incident as the operator knows them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec
import pytest
from textual.command import CommandPalette

from rainbow_tui.app import make_app
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.appendix import (
    APPENDIX,
    kamal_command_line,
    record_finished,
    record_started,
    run_on_terminal,
)
from rainbow_tui.incidents.model import CommandFinished
from rainbow_tui.incidents.runbooks import load_runbooks
from rainbow_tui.incidents.store import IncidentStore
from screens.incident import IncidentScreen
from tests.helpers.console import POLL_S, start_incident, until


def test_the_appendix_runs_what_the_manuals_aliases_stand_for() -> None:
    """lib/kamal/cli/app.rb#exec (-i: over SSH with a terminal) and #logs (-f); the
    manual's console/shell/dbconsole/logs are deploy.yml aliases, not commands."""
    by_id = {entry.id: entry for entry in APPENDIX}
    assert by_id["console"].argv == ("app", "exec", "-i", "bin/rails console")
    assert by_id["shell"].argv == ("app", "exec", "-i", "bash")
    assert by_id["dbconsole"].argv == ("app", "exec", "-i", "bin/rails dbconsole")
    assert by_id["logs"].argv == ("app", "logs", "-f") and by_id["logs"].interactive
    assert by_id["details"].argv == ("app", "details") and not by_id["details"].interactive
    assert by_id["cache-clear"].argv == ("app", "exec", "bin/rails tmp:cache:clear")
    assert by_id["monitoring-status"].argv == ("app", "exec", "bin/rails monitoring:status")
    assert all(entry.changes for entry in APPENDIX if entry.id in ("console", "shell",
                                                                  "dbconsole", "cache-clear"))


def test_a_command_on_the_terminal_is_recorded_as_the_operator_knows_it(
    demo_stack: DemoProcess, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = demo_config(demo_stack.endpoints)
    entry = next(e for e in APPENDIX if e.id == "monitoring-status")
    shown = " ".join(kamal_command_line(config.kamal, entry.argv, shown=True))
    assert shown == "bundle exec kamal app exec bin/rails monitoring:status"
    result = run_on_terminal(kamal_command_line(config.kamal, entry.argv),
                             "bundle exec kamal app exec 'bin/rails monitoring:status'",
                             config.kamal.workdir, wait_for_enter=False)
    assert result.outcome == "ok", capfd.readouterr().out
    assert "solid_queue: ok" in capfd.readouterr().out

    from rainbow_tui.incidents.model import new_incident

    store = IncidentStore(tmp_path)
    runbook = load_runbooks().runbooks["general"]
    incident = store.create(new_incident(runbook=runbook, alert=None, findings=(),
                                         taken_ids=store.ids()))
    started = record_started(incident, 0, shown, entry.changes)
    incident = store.record(incident.id, started)
    incident = store.record(incident.id, record_finished(incident, started, result, False))
    store.close()
    text = next(tmp_path.glob("*.toml")).read_text(encoding="utf-8")
    assert shown in text
    assert str(demo_stack.endpoints.state_dir) not in text and "rainbow_tui.demo" not in text


def test_the_demo_database_console_answers_on_a_terminal(demo_stack: DemoProcess) -> None:
    result = subprocess.run(
        [*demo_stack.endpoints.kamal_command, "app", "exec", "-i", "bin/rails dbconsole"],
        input="SELECT 41 + 1 AS answer;\n\\q\n", capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "via SSH from new container" in result.stdout
    assert "answer" in result.stdout and "42" in result.stdout


async def test_palette_offers_the_appendix_and_records_on_the_open_incident(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(demo_stack.endpoints, poll_s=POLL_S)
    config = msgspec.structs.replace(
        config, incidents=msgspec.structs.replace(config.incidents,
                                                  state_dir=str(tmp_path / "incidents")))
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Kamal: Rails console (Railsコンソール)" in titles
        assert "Kamal: Monitoring status (監視ステータス)" in titles
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press("escape")
        await start_incident(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        incident_id = app.session.open_incident_id
        assert incident_id is not None
        wizard = app.session.wizard(incident_id)
        app.action_kamal_appendix("details")
        await pilot.pause()
        # A headless test terminal cannot be handed over: recorded as not run.
        finished = [e for e in wizard.incident.events if isinstance(e, CommandFinished)]
        assert finished[-1].command == "bundle exec kamal app details"
        assert finished[-1].outcome == "not_run"

    read_only = make_app(config, read_only=True)
    async with read_only.run_test(size=(160, 48)):
        titles = [c.title for c in read_only.get_system_commands(read_only.screen)]
        assert "Kamal: Container details (コンテナ詳細)" in titles
        assert not any(t.startswith("Kamal: Rails console") for t in titles)
