"""The incident wizard driven as a responder would: from the alert, through the
runbook (the stand-in kamal really cures the fault), to an exported postmortem —
and the same after the console dies halfway and is resumed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from markdown_it import MarkdownIt
from textual.pilot import Pilot

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.config import Config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.model import (
    CommandFinished,
    CommandStarted,
    Escalated,
    VerificationRecorded,
)
from rainbow_tui.incidents.postmortem import render_postmortem
from rainbow_tui.incidents.store import IncidentStore
from screens.confirm import ConfirmScreen
from screens.incident import IncidentScreen
from screens.prompt import PromptScreen
from tests.helpers.console import POLL_S, alert, start_incident, until

# Each drill, the alert it raises, and the runbook the console must pick for it.
DRILLS = {
    "service-down": ("service:health", "service-down"),
    "db-connections": ("database:db_connections", "db-connections"),
    "memory-leak": ("host app-1:memory_percent", "memory-growth"),
    "job-backlog": ("queue:waiting_jobs", "job-backlog"),
    "failed-jobs": ("queue:failed_jobs", "failed-jobs"),
    "slow-queries": ("database:db_query_time_ms", "slow-queries"),
    # A stale deploy lock: the service-down runbook's lock step releases it.
    "deploy-lock": ("service:health", "service-down"),
}


def _config(stack: DemoProcess, state: Path) -> Config:
    config = demo_config(stack.endpoints, poll_s=POLL_S)
    return msgspec.structs.replace(
        config, incidents=msgspec.structs.replace(config.incidents, state_dir=str(state))
    )


def wizard_screen(app: RainbowApp) -> IncidentScreen:
    screen = app.screen
    assert isinstance(screen, IncidentScreen), type(screen)
    return screen


async def answer(app: RainbowApp, pilot: Pilot[int]) -> None:
    """Type the action a destructive command asks for (``boot``, ``reboot db``)."""
    screen = app.screen
    assert isinstance(screen, PromptScreen) and screen.must_equal, screen
    screen.query_one("#prompt-input").value = screen.must_equal  # type: ignore[attr-defined]
    await pilot.press("enter")


async def run_step(app: RainbowApp, pilot: Pilot[int]) -> None:
    """Run every command of the current step, then mark it done (verifying it)."""
    screen = wizard_screen(app)
    wizard = screen.wizard
    step = wizard.step
    assert step is not None
    index = wizard.step_index

    def started(count: int) -> bool:
        return sum(
            1 for e in wizard.incident.events if isinstance(e, CommandStarted) and e.step == index
        ) >= count

    for number, command in enumerate(step.commands, start=1):
        if command.parameters:
            # A choice (the rollback version): skip the step rather than roll back.
            await pilot.press("s")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen))
            app.screen.query_one("#prompt-input").value = "restart was enough"  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: wizard.step_index > index, within=30)
            return
        # As a person does: the last dialog gone, the incident screen in front, then Enter.
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("enter")
        # A command that changes nothing starts at once; a destructive one asks first.
        await until(
            pilot,
            lambda n=number: isinstance(app.screen, PromptScreen) or started(n),
            within=10,
        )
        if isinstance(app.screen, PromptScreen):
            await answer(app, pilot)
        try:
            await until(
                pilot,
                lambda n=number: (
                    sum(
                        1
                        for e in wizard.incident.events
                        if isinstance(e, CommandFinished) and e.step == index
                    )
                    >= n
                ),
                within=240,
            )
        except AssertionError:
            raise AssertionError(f"{type(app.screen)} {wizard.incident.events[-3:]}") from None
    await pilot.press("d")
    await until(
        pilot,
        lambda: wizard.step_index > index or isinstance(app.screen, ConfirmScreen),
        within=120,
    )
    if isinstance(app.screen, ConfirmScreen):  # verification failed: say so, go on
        await pilot.press("y")
        await until(pilot, lambda: wizard.step_index > index, within=30)


async def drive_to_end(
    app: RainbowApp, pilot: Pilot[int], stop_after: int | None = None
) -> None:
    screen = wizard_screen(app)
    done = 0
    while not screen.wizard.finished:
        if stop_after is not None and done >= stop_after:
            return
        await run_step(app, pilot)
        done += 1


@pytest.mark.slow
@pytest.mark.parametrize("drill", sorted(DRILLS))
async def test_drill_from_alert_to_postmortem(
    drill: str,
    demo_stack_factory: Callable[..., DemoProcess],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    alert_key, runbook_id = DRILLS[drill]
    stack = demo_stack_factory(drills=[drill])
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    config = _config(stack, tmp_path / "incidents")

    # First console: from the alert, the first steps, escalate once, then it dies.
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: alert(app, alert_key) is not None)
        app.action_start_incident(alert_key)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        wizard = wizard_screen(app).wizard
        assert wizard.runbook.id == runbook_id
        assert wizard.incident.alert is not None and wizard.incident.alert.key == alert_key
        await pilot.press("a")  # acknowledged
        await pilot.press("e")  # escalate to L1
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any(isinstance(e, Escalated) for e in wizard.incident.events))
        await drive_to_end(app, pilot, stop_after=1)
        incident_id = wizard.incident.id
        halfway = wizard.step_index
    # The console is gone mid-incident (as after a dropped SSH session): a new one
    # resumes at the exact step.
    app = make_app(config, resume_incident=incident_id)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=30)
        wizard = wizard_screen(app).wizard
        assert wizard.incident.id == incident_id and wizard.step_index == halfway
        await drive_to_end(app, pilot)
        await until(
            pilot, lambda: alert(app, alert_key) is None or drill == "failed-jobs", within=90
        )
        for key in ("m", "R"):
            await pilot.press(key)
        await pilot.pause()
        wizard = wizard_screen(app).wizard
        assert wizard.incident.status == "resolved"

    incident = IncidentStore(tmp_path / "incidents").load(incident_id)
    verifications = [e for e in incident.events if isinstance(e, VerificationRecorded)]
    assert verifications and any(v.passed for v in verifications)
    commands = [e for e in incident.events if isinstance(e, CommandFinished)]
    assert commands and all(c.exit_code is not None or c.outcome != "ok" for c in commands)
    markdown = render_postmortem(incident, config)
    for command in commands:
        assert command.command in markdown or command.command.replace("|", "\\|") in markdown
    # The escalation on the timeline, in the record's words.
    assert "escalated to L1" in markdown or "へエスカレーション" in markdown
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    assert any(token.type == "table_open" for token in tokens)
    assert stack.endpoints.pg_dsn not in markdown
    # Commands as the operator knows them; the demo wrapper's paths in no record.
    stored = (tmp_path / "incidents").glob("*.toml")
    for text in (markdown, *(path.read_text(encoding="utf-8") for path in stored)):
        assert str(stack.endpoints.state_dir) not in text
        assert "rainbow_tui.demo.kamal" not in text and "--state-dir" not in text
    kamal_commands = [e.command for e in incident.events
                      if isinstance(e, CommandStarted) and e.command_kind == "kamal"]
    assert kamal_commands and all(c.startswith("bundle exec kamal ") for c in kamal_commands)


async def _type(app: RainbowApp, pilot: Pilot[int], text: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, PromptScreen), within=10)
    app.screen.query_one("#prompt-input").value = text  # type: ignore[attr-defined]
    await pilot.press("enter")


async def test_notes_roles_times_and_evidence(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rainbow_tui.incidents.model import EvidencePinned, Note, RoleAssigned, TimeEdited
    from rainbow_tui.logs.parse import parse_line
    from widgets.log_view import LogView

    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = _config(demo_stack, tmp_path / "incidents")
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.session.latest is not None and app.session.latest.readings.queue is not None)
        await start_incident(app, pilot)  # no alert: the general runbook
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        wizard = wizard_screen(app).wizard
        assert wizard.runbook.id == "general"
        await pilot.press("n")
        await _type(app, pilot, "customer report: map does not load; password=hunter2")
        await pilot.press("o")
        await _type(app, pilot, "commander alice")
        await pilot.press("T")
        await _type(app, pilot, "1 00:01 the first report came in before the alert")
        await pilot.press("p")
        await pilot.press("j")
        await pilot.press("escape")  # back to the dashboard: pin a log line from there
        line = parse_line(
            "2026-11-28T03:14:11.003000000Z [e5f6a7b8] ActiveRecord::ConnectionTimeoutError (boom)",
            "app-1",
            "web",
        )
        app.dashboard.log_pane.log_view.post_message(LogView.PinRequested(line))
        await until(
            pilot, lambda: sum(isinstance(e, EvidencePinned) for e in wizard.incident.events) >= 3
        )
        events = wizard.incident.events
        note = next(e for e in events if isinstance(e, Note))
        assert "hunter2" not in note.text  # redacted before it was stored
        assert any(isinstance(e, RoleAssigned) and e.person == "alice" for e in events)
        assert any(isinstance(e, TimeEdited) and e.target == 1 for e in events)
        kinds = sorted(e.evidence_kind for e in events if isinstance(e, EvidencePinned))
        assert kinds == ["log_lines", "metrics", "table"]
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
    stored = IncidentStore(tmp_path / "incidents").load(wizard.incident.id)
    assert len(stored.events) == len(wizard.incident.events)


async def test_postmortem_edited_previewed_exported(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from textual.widgets import Markdown, TextArea

    from screens.postmortem import PostmortemScreen

    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    config = _config(demo_stack, tmp_path / "incidents")
    app = make_app(config)
    async with app.run_test(size=(160, 48)) as pilot:
        await start_incident(app, pilot)
        incident_id = wizard_screen(app).wizard.incident.id
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))
        area = app.screen.query_one(TextArea)
        area.load_text(
            "The map API returned 500s for 12 minutes.\n\n```\nbackticks ``` inside\n```"
        )
        await pilot.press("ctrl+s")
        preview = app.screen.query_one(Markdown)
        # The preview follows once the section is on disk.
        await until(pilot, lambda: "12 minutes" in preview.source, within=10)
        saved = IncidentStore(tmp_path / "incidents").read(incident_id).incident
        assert saved.postmortem.summary.startswith("The map API")
        await pilot.press("ctrl+o")
        await _type(app, pilot, "exported.md")
        await until(pilot, lambda: (tmp_path / "exported.md").exists(), within=10)
    exported = (tmp_path / "exported.md").read_text(encoding="utf-8")
    assert (tmp_path / "exported.md").stat().st_mode & 0o777 == 0o600
    assert "The map API returned 500s for 12 minutes." in exported
    assert (
        IncidentStore(tmp_path / "incidents")
        .load(incident_id)
        .postmortem.summary.startswith("The map API")
    )
    tokens = MarkdownIt("commonmark").enable("table").parse(exported)
    assert [t for t in tokens if t.type == "fence"]  # the fenced block survived intact
