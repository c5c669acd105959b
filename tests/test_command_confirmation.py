"""How much a runbook command asks before it runs: nothing for a command that changes
nothing, a typed action word (``boot``, ``reboot db``) for a destructive one.

Which Kamal commands change something is transcribed from Kamal 2's command classes
(basecamp/kamal ``lib/kamal/cli/main.rb``, ``app.rb``, ``accessory.rb``, ``proxy.rb``,
``lock.rb``): each ``desc "VERB"`` there is listed below with what it does.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from textual.screen import ModalScreen

from rainbow_tui.app import make_app
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config
from rainbow_tui.incidents import kamal_verbs
from rainbow_tui.incidents.confirmation import confirmation_word
from rainbow_tui.incidents.model import CommandDeclined, CommandFinished, CommandStarted
from rainbow_tui.incidents.runbooks import RunbookError, load_runbooks, parse_runbook
from screens.incident import IncidentScreen
from screens.prompt import PromptScreen
from tests.helpers.console import until

# lib/kamal/cli/*.rb: the verbs that only show something.
READS = [
    "details", "audit", "config", "version", "docs",
    "app details", "app containers", "app images", "app logs --since 5m", "app version",
    "app stale_containers",
    "accessory details db", "accessory logs db", "proxy details", "proxy logs",
    "lock status",
]
# … and the ones that boot, stop, remove, lock or deploy.
CHANGES = [
    "deploy", "redeploy", "rollback abc123", "setup", "remove", "upgrade", "init",
    "app boot", "app start", "app stop", "app remove", "app live", "app maintenance",
    "app stale_containers --stop", "app boot --roles job",
    "accessory boot db", "accessory reboot db", "accessory start db", "accessory stop db",
    "accessory restart db", "accessory remove db", "accessory upgrade",
    "proxy boot", "proxy reboot", "proxy restart", "proxy stop", "proxy remove",
    "lock acquire -m x", "lock release", "prune all", "build push",
]


@pytest.mark.parametrize("command", READS)
def test_kamal_commands_that_only_show(command: str) -> None:
    assert kamal_verbs.effect(command.split()) == "reads"


@pytest.mark.parametrize("command", CHANGES)
def test_kamal_commands_that_change_the_deployment(command: str) -> None:
    assert kamal_verbs.effect(command.split()) == "changes"


def test_exec_is_the_authors_to_judge() -> None:
    assert kamal_verbs.effect(["app", "exec", "free -m"]) == "unknown"
    assert kamal_verbs.effect(["accessory", "exec", "db", "--reuse", "psql"]) == "unknown"


RUNBOOK = """
id = "team-restart"
title_ja = "再起動"
title_en = "Restart"
severity = "high"

[[steps]]
id = "boot"
phase = "recover"
title_ja = "起動"
title_en = "Boot"

[[steps.commands]]
kind = "kamal"
argv = ["app", "boot"]
"""


def test_a_runbook_cannot_call_a_changing_kamal_command_harmless() -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook(RUNBOOK, "team-restart.toml")
    problem = raised.value.problem
    assert problem.key == "steps[0].commands[0].destructive"
    assert "kamal app boot changes the deployment" in problem.problem
    parse_runbook(RUNBOOK + "destructive = true\n", "team-restart.toml")


def test_confirm_word_only_on_destructive_commands() -> None:
    with pytest.raises(RunbookError) as raised:
        parse_runbook(RUNBOOK.replace('argv = ["app", "boot"]', 'argv = ["app", "details"]')
                      + 'confirm = "look"\n', "team.toml")
    assert raised.value.problem.key == "steps[0].commands[0].confirm"


def test_the_word_typed_is_the_action() -> None:
    catalog = load_runbooks(None)
    words = {
        (runbook.id, " ".join(command.argv) or command.text.split()[0]): confirmation_word(command)
        for runbook in catalog.runbooks.values()
        for step in runbook.steps
        for command in step.commands
        if command.destructive
    }
    assert words[("service-down", "app boot")] == "boot"
    assert words[("service-down", "lock release")] == "release"
    assert words[("db-connections", "accessory reboot db")] == "reboot db"
    assert words[("job-backlog", "app boot --roles job")] == "boot job"
    assert words[("restore-backup", "docker")] == "restore"
    assert words[("failed-jobs", "WITH")] == "retry"
    # Short enough to type at 3 a.m.: never the 23-character service name.
    assert all(len(word) <= 12 for word in words.values()), words


TEAM_RUNBOOK = """
id = "general"
title_ja = "消去"
title_en = "Wipe"
severity = "medium"
matches = []

[[steps]]
id = "wipe"
phase = "recover"
title_ja = "消去"
title_en = "Wipe"

[[steps.commands]]
kind = "local"
argv = ["echo", "wiped"]
destructive = true
confirm = "wipe cache"
timeout_s = 30
"""


async def test_destructive_command_runs_once_its_action_is_typed(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RAINBOW_TUI_DATABASE_URL", "RAINBOW_TUI_QUEUE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "general.toml").write_text(TEAM_RUNBOOK, encoding="utf-8")
    config = demo_config(demo_stack.endpoints)
    config = msgspec.structs.replace(
        config,
        incidents=msgspec.structs.replace(
            config.incidents, state_dir=str(tmp_path / "incidents"), runbooks_dir=str(runbooks)
        ),
    )
    app = make_app(config, autostart=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("i")  # no alert: the general runbook (proposed, if asked)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen | ModalScreen))
        if not isinstance(app.screen, IncidentScreen):
            await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        # Declined first: Esc is a decision the record keeps, and nothing runs.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("escape")
        await until(
            pilot,
            lambda: any(isinstance(e, CommandDeclined) for e in screen.wizard.incident.events),
        )
        declined = next(
            e for e in screen.wizard.incident.events if isinstance(e, CommandDeclined)
        )
        assert declined.command == "echo wiped" and declined.step == 0
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        prompt = app.screen
        assert isinstance(prompt, PromptScreen) and prompt.must_equal == "wipe cache"
        # The service's name is not the word: nothing runs, the dialog stays.
        await pilot.press(*config.service.kamal_service, "enter")
        await pilot.pause()
        assert app.screen is prompt
        events = screen.wizard.incident.events
        assert not any(isinstance(e, CommandStarted) for e in events)
        prompt.query_one("#prompt-input").value = ""  # type: ignore[attr-defined]
        await pilot.press(*"wipe cache", "enter")
        await until(
            pilot,
            lambda: any(isinstance(e, CommandFinished) for e in screen.wizard.incident.events),
            within=30,
        )
