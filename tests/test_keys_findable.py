"""Every key findable and no key that loses work: `?` lists the screen's own keys
(read from its bindings), the palette finds every action by its words, the footer
leads with what comes next at 80 and 120 columns, `:` runs a command line, and `q`
asks before it leaves an open incident or typed text behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.command_line import CommandProblem, CommandRequest, completions, parse_command
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.incidents.model import Note
from rainbow_tui.text import language
from screens.command_line import CommandLineScreen
from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.incident import IncidentScreen
from screens.logs import LogScreen
from screens.prompt import PromptScreen
from tests.helpers.console import console as demo_console
from tests.helpers.console import until
from tests.helpers.language_tour import visible_text
from tests.helpers.snapshots import CONFIG

RUNBOOKS = ("db-connections", "general", "restore-backup", "service-down")
ALERTS = ("database:db_connections", "service:health")


@asynccontextmanager
async def console(
    tmp_path: Path, size: tuple[int, int] = (120, 40)
) -> AsyncIterator[tuple[RainbowApp, Pilot[int]]]:
    """The console without polling, its incidents under ``tmp_path``."""
    config = msgspec.structs.replace(
        CONFIG,
        incidents=msgspec.structs.replace(CONFIG.incidents, state_dir=str(tmp_path / "state")),
    )
    app = make_app(config, autostart=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        yield app, pilot


async def open_incident(app: RainbowApp, pilot: Pilot[int]) -> IncidentScreen:
    """An incident on the general runbook, its screen in front."""
    app.session.start_incident(runbook_id="general")
    app.action_show_incident()
    await until(pilot, lambda: isinstance(app.screen, IncidentScreen) and app.screen.is_mounted)
    screen = app.screen
    assert isinstance(screen, IncidentScreen)
    return screen


def footer(app: RainbowApp) -> str:
    return visible_text(app.screen).splitlines()[-1]


async def help_text(app: RainbowApp, pilot: Pilot[int]) -> str:
    """The help page as shown, every line of it (it is scrolled through)."""
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(app.screen, HelpScreen))
    await pilot.pause()
    body = app.screen.query_one("#help-body")
    lines: list[str] = []
    while True:
        lines.extend(visible_text(app.screen).splitlines())
        if body.scroll_y >= body.max_scroll_y:
            break
        body.scroll_page_down(animate=False)
        await pilot.pause()
    await pilot.press("escape")
    return "\n".join(lines)


# -- ? ---------------------------------------------------------------------------------


async def test_help_on_the_incident_screen_lists_its_own_keys(tmp_path: Path) -> None:
    async with console(tmp_path, size=(80, 24)) as (app, pilot):
        await open_incident(app, pilot)
        shown = await help_text(app, pilot)
    for words in ("Resolved", "Escalate", "Postmortem", "Mitigated", "Closed",
                  "Correct a time", "Cancel command", "Run the step's next command"):
        assert words in shown
    assert "This screen" in shown and "Every screen" in shown
    # The dashboard's keys are not the incident screen's.
    assert "Filter" not in shown and "Refresh" not in shown


async def test_help_on_the_dashboard_lists_i_and_I_and_its_panes_keys(tmp_path: Path) -> None:
    async with console(tmp_path, size=(120, 40)) as (app, pilot):
        shown = await help_text(app, pilot)
    assert "Incident" in shown and "Back to incident" in shown
    assert "Filter" in shown and "Refresh" in shown and "Pause" in shown
    # The panes' own keys, under the panes' titles, hidden ones included.
    assert "3 Database" in shown and "Terminate backend" in shown
    assert "4 Jobs" in shown and "Retry class" in shown
    assert "Command line" in shown
    assert "Resolved" not in shown


async def test_help_on_the_log_screen_and_the_postmortem(tmp_path: Path) -> None:
    async with console(tmp_path, size=(120, 40)) as (app, pilot):
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        shown = await help_text(app, pilot)
        assert "Follow" in shown and "Timestamps" in shown and "Back" in shown
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)
        await open_incident(app, pilot)
        await pilot.press("P")
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen")
        # The editor may hold the focus; the help comes from the app's action too.
        app.action_help()
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()
        shown = visible_text(app.screen)
    assert "Export" in shown


async def test_dimmed_keys_are_those_that_would_do_nothing_now(tmp_path: Path) -> None:
    from screens.key_guide import key_groups

    async with console(tmp_path) as (app, pilot):
        screen = await open_incident(app, pilot)
        entries = {e.description: e for g in key_groups(screen) for e in g.entries}
    assert entries["Acknowledged"].available
    # Resolved is not next, but its key still answers (saying what comes next).
    assert entries["Resolved"].available
    assert entries["Postmortem"].available


# -- the palette -----------------------------------------------------------------------


async def palette_offers(app: RainbowApp, pilot: Pilot[int], query: str) -> list[str]:
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    results = app.screen.query_one(CommandList)
    await until(pilot, lambda: results.option_count > 0, within=10)
    await pilot.pause(0.3)  # every provider's hits in
    return [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]


@pytest.mark.parametrize(
    ("query", "words"),
    [("resol", "Resolved"), ("post", "Postmortem"), ("escal", "Escalate")],
)
async def test_the_palette_finds_incident_actions_by_their_words(
    tmp_path: Path, query: str, words: str
) -> None:
    async with console(tmp_path) as (app, pilot):
        await open_incident(app, pilot)
        offered = await palette_offers(app, pilot, query)
    assert any(words in text for text in offered), offered


async def test_an_action_chosen_in_the_palette_runs_on_its_screen(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        screen = await open_incident(app, pilot)
        offered = await palette_offers(app, pilot, "acknow")
        assert offered[0].startswith("Acknowledged")
        await pilot.press("enter")
        await until(pilot, lambda: screen.wizard.incident.status == "acknowledged")
        # Textual's own entries are still offered.
        app.action_command_palette()
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"theme")
        results = app.screen.query_one(CommandList)
        await until(pilot, lambda: results.option_count > 0, within=10)


def test_the_palette_words_in_japanese_are_the_catalogue_words() -> None:
    japanese = language("ja")
    # The incident screen's bindings take these words under --lang ja.
    for key, words in (("screen.incident.key.resolved", "解決"),
                       ("screen.incident.key.postmortem", "ポストモーテム"),
                       ("screen.incident.key.escalate", "エスカレーション")):
        assert words in japanese.tr(key)


# -- the footer ------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
async def test_the_incident_footer_leads_with_what_comes_next(
    tmp_path: Path, width: int
) -> None:
    lead = " ⏎ Run  v Verify  d Step done  n Note"
    expected = {
        "detected": f"{lead}  a Acknowledged  ? Help",
        "acknowledged": f"{lead}  m Mitigated  ? Help",
        "mitigated": f"{lead}  R Resolved  ? Help",
        "resolved": " n Note  P Postmortem  C Closed  ? Help",
        "closed": " n Note  P Postmortem  ? Help",
    }
    async with console(tmp_path, size=(width, 30)) as (app, pilot):
        screen = await open_incident(app, pilot)
        await until(pilot, lambda: footer(app).startswith(expected["detected"]), within=10)
        if width >= 120:
            assert "e Escalate" in footer(app) and "s Skip step" in footer(app)
        for key, status in (("a", "acknowledged"), ("m", "mitigated"), ("R", "resolved"),
                            ("C", "closed")):
            await pilot.press(key)
            await until(pilot, lambda status=status: screen.wizard.incident.status == status)
            # The footer follows the status (check_action, bindings refreshed).
            await until(pilot, lambda status=status: footer(app).startswith(expected[status]),
                        within=10)


@pytest.mark.parametrize("width", [80, 120])
async def test_the_dashboard_footer_leads_with_incident_filter_help(
    tmp_path: Path, width: int
) -> None:
    async with console(tmp_path, size=(width, 24)) as (app, _pilot):
        shown = footer(app)
    assert shown.startswith(" i Incident  / Filter  ? Help  r Refresh  q Quit")


async def test_an_out_of_turn_status_key_says_what_comes_next(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        screen = await open_incident(app, pilot)
        await pilot.press("R")
        await until(pilot, lambda: any("next comes acknowledged" in str(n.message)
                                       for n in app._notifications))
        assert screen.wizard.incident.status == "detected"


# -- the command line ------------------------------------------------------------------


def test_a_command_line_is_read_against_the_names_known() -> None:
    known = {"runbooks": RUNBOOKS, "alerts": ALERTS}
    assert parse_command(":runbook restore-backup", **known) == CommandRequest(
        "runbook", "restore-backup")
    assert parse_command("incident db-connections", **known) == CommandRequest(
        "incident", "db-connections")
    assert parse_command(":incident service:health", **known) == CommandRequest(
        "incident", "service:health")
    assert parse_command(":res", **known) == CommandRequest("resolve")
    assert parse_command(":post", **known) == CommandRequest("postmortem")
    english = language("en")
    unknown = parse_command(":frobnicate now", **known)
    assert isinstance(unknown, CommandProblem)
    assert unknown.why.text(english).startswith('Unknown command "frobnicate"')
    assert "resolve" in unknown.why.text(english)
    ambiguous = parse_command(":r", **known)
    assert isinstance(ambiguous, CommandProblem)
    assert "resolve, routine, runbook" in ambiguous.why.text(english)
    missing = parse_command(":runbook nope", **known)
    assert isinstance(missing, CommandProblem)
    assert "restore-backup" in missing.why.text(english)
    assert "「frobnicate」" in unknown.why.text(language("ja"))


def test_a_command_line_completes_commands_then_names() -> None:
    known = {"runbooks": RUNBOOKS, "alerts": ALERTS}
    assert completions("re", **known) == ("resolve",)
    assert completions(":runbook re", **known) == ("runbook restore-backup",)
    # An open alert before the runbooks, for :incident.
    assert completions("incident ", **known)[:2] == (
        "incident database:db_connections", "incident service:health")
    assert completions("incident db", **known) == ("incident db-connections",)
    assert completions("resolve ", **known) == ()


async def command_line(app: RainbowApp, pilot: Pilot[int], line: str) -> None:
    await pilot.press("colon")
    await until(pilot, lambda: isinstance(app.screen, CommandLineScreen))
    await pilot.press(*line, "enter")


async def test_colon_runbook_starts_an_incident_on_that_runbook(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        await command_line(app, pilot, "runbook restore-backup")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        assert screen.wizard.runbook.id == "restore-backup"
        await command_line(app, pilot, "ack")
        await until(pilot, lambda: screen.wizard.incident.status == "acknowledged")
        await command_line(app, pilot, "postmortem")
        await until(pilot, lambda: type(app.screen).__name__ == "PostmortemScreen")


async def test_colon_incident_names_a_runbook_and_status_commands_follow(
    tmp_path: Path,
) -> None:
    async with console(tmp_path) as (app, pilot):
        await command_line(app, pilot, "incident db-connections")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        screen = app.screen
        assert isinstance(screen, IncidentScreen)
        assert screen.wizard.runbook.id == "db-connections"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)
        # From the dashboard: the incident comes to the front and is changed.
        for line, status in (("acknowledge", "acknowledged"), ("mitigate", "mitigated"),
                             ("resolve", "resolved"), ("close", "closed")):
            await command_line(app, pilot, line)
            await until(pilot, lambda status=status: screen.wizard.incident.status == status)
        assert app.screen is screen


async def test_an_unknown_command_says_so_and_keeps_the_line(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        await command_line(app, pilot, "resolv everything")
        await pilot.pause()
        assert isinstance(app.screen, CommandLineScreen)
        box = app.screen.query_one(Input)
        assert box.value == "resolv everything"
        shown = visible_text(app.screen)
        assert ":resolve takes no name" in shown
        await pilot.press("ctrl+u", *"frob", "enter")
        await pilot.pause()
        assert 'Unknown command "frob"' in visible_text(app.screen)
        assert box.value == "frob"
        # Tab completes; Esc closes without running anything.
        await pilot.press("ctrl+u", *"runb", "tab")
        assert box.value == "runbook "
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)
        assert app.session.current_incident_id is None


# -- nothing lost on quit --------------------------------------------------------------


async def test_q_quits_at_once_with_nothing_open(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None or not app.is_running)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_with_an_open_incident_asks_first(tmp_path: Path, key: str) -> None:
    async with console(tmp_path) as (app, pilot):
        screen = await open_incident(app, pilot)
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "is open (detected)" in visible_text(app.screen)
        await pilot.press(key)  # asked once, not twice
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen)
        assert app.is_running
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running)


async def test_quit_with_text_typed_in_a_dialog_asks_first(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        await open_incident(app, pilot)
        await pilot.press("C")  # nothing to close yet: no dialog; the incident is open
        app.push_screen(PromptScreen("A note"))
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"half a sentence")
        reasons = app._reasons_to_stay()
    assert any("not yet saved" in reason for reason in reasons)


# -- keys that act never fire in a text field ------------------------------------------


async def test_a_word_typed_in_the_dashboard_filter_stays_there(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with demo_console(demo_stack, monkeypatch, size=(120, 40)) as (app, pilot):
        dashboard = app.dashboard
        await until(pilot, lambda: bool(dashboard.query("#components-table")))
        dashboard.query_one("#components-table").focus()
        await pilot.press("slash")
        box = dashboard.query_one("#table-filter", Input)
        assert box.has_focus
        # Every single-letter key of the app and the dashboard, typed as text.
        await pilot.press(*"quiz LIKpr:?iI 1234 C")
        await pilot.pause()
        assert box.value == "quiz LIKpr:?iI 1234 C"
        assert app.is_running and app.screen is dashboard
        assert app.session.current_incident_id is None and not app.session.paused


async def test_a_word_typed_in_the_log_screen_prompt_stays_there(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        await pilot.press("slash")
        await until(pilot, lambda: app.log_screen.prompt_purpose == "filter")
        await pilot.press(*"quiet q fLhtwsm")
        await pilot.pause()
        box = app.screen.query_one("#log-prompt Input", Input)
        assert box.value == "quiet q fLhtwsm"
        assert app.is_running and app.screen is app.log_screen


async def test_a_word_typed_in_a_prompt_stays_there(tmp_path: Path) -> None:
    async with console(tmp_path) as (app, pilot):
        screen = await open_incident(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"quick fix: RCamPe dvx?i")
        await pilot.pause()
        box = app.screen.query_one(Input)
        assert box.value == "quick fix: RCamPe dvx?i"
        assert app.is_running and screen.wizard.incident.status == "detected"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        notes = [e for e in screen.wizard.incident.events if isinstance(e, Note)]
        assert notes and notes[-1].text == "quick fix: RCamPe dvx?i"
