"""The postmortem editor never loses a word: what is typed goes into the record on
its own, Esc saves before leaving, ctrl+o exports the text as it stands on screen,
a word typed at once (with a q in it) goes into the text, and action items are
entered from here."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App
from textual.binding import BindingType
from textual.pilot import Pilot
from textual.widgets import Input, Select, TextArea

from rainbow_tui.incidents.model import new_incident
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.wizard import IncidentWizard
from screens.postmortem import PostmortemScreen
from screens.prompt import PromptScreen
from tests.helpers.console import until
from tests.helpers.incidents import POSTMORTEM_CONFIG, T0, make_alert

SIZE = (120, 35)


class EditorHost(App[None]):
    """The editor on its own, in front of an empty screen it goes back to; ``q``
    quits, as the console's does, so a key that missed the editor would end it."""

    BINDINGS: ClassVar[list[BindingType]] = [("q", "quit", "Quit")]

    def __init__(self, wizard: IncidentWizard) -> None:
        super().__init__()
        self.wizard = wizard

    def on_mount(self) -> None:
        self.push_screen(PostmortemScreen(self.wizard))


def _wizard(state: Path) -> IncidentWizard:
    store = IncidentStore(state)
    runbook = pick_runbook("service:health")
    incident = store.create(
        new_incident(runbook=runbook, alert=make_alert(), at=T0 + timedelta(minutes=2), author="a")
    )
    return IncidentWizard(POSTMORTEM_CONFIG, store, CommandRunner(POSTMORTEM_CONFIG), runbook,
                          incident)


def _on_disk(state: Path, wizard: IncidentWizard) -> Any:
    return IncidentStore(state).read(wizard.incident_id).incident


async def _type(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*["space" if c == " " else c for c in text])


async def _answer(app: App[None], pilot: Pilot[None], text: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, PromptScreen))  # type: ignore[arg-type]
    app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_a_word_with_q_typed_at_once_goes_into_the_text_and_is_saved(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    app = EditorHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        await _type(pilot, "quick quiet queue")
        assert app.is_running
        assert app.screen.query_one(TextArea).text == "quick quiet queue"
        # Saved on its own, a moment after the last key, and on disk.
        await until(pilot, lambda: _on_disk(tmp_path, wizard).postmortem.summary  # type: ignore[arg-type]
                    == "quick quiet queue")


async def test_export_holds_the_words_just_typed_with_the_full_path_said(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    app = EditorHost(wizard)
    target = tmp_path / "out" / "pm.md"
    target.parent.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        await _type(pilot, "rollback fixed it")
        await pilot.press("ctrl+o")  # before any autosave
        await _answer(app, pilot, str(target))
        await until(pilot, target.exists)  # type: ignore[arg-type]
        assert "rollback fixed it" in target.read_text(encoding="utf-8")
        messages = [n.message for n in app._notifications]
        assert any(str(target.absolute()) in m for m in messages), messages


async def test_escape_saves_before_leaving(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    app = EditorHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        await _type(pilot, "nothing lost")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        assert _on_disk(tmp_path, wizard).postmortem.summary == "nothing lost"


async def test_changing_section_saves_the_one_left(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    app = EditorHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        await _type(pilot, "about the summary")
        app.screen.query_one(Select).value = "impact"
        await until(pilot, lambda: app.screen.query_one(TextArea).text == "")  # type: ignore[arg-type]
        await _type(pilot, "all requests failed")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        written = _on_disk(tmp_path, wizard).postmortem
        assert (written.summary, written.impact) == ("about the summary", "all requests failed")


@pytest.mark.parametrize("due", ["2026-12-05", ""])
async def test_an_action_item_is_entered_in_the_editor(tmp_path: Path, due: str) -> None:
    wizard = _wizard(tmp_path)
    app = EditorHost(wizard)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen))  # type: ignore[arg-type]
        await pilot.press("ctrl+n")
        await _answer(app, pilot, "Request spec for #index")
        await _answer(app, pilot, "suzuki")
        await _answer(app, pilot, "prev")  # a prefix is enough
        await _answer(app, pilot, due)
        await until(pilot, lambda: bool(  # type: ignore[arg-type]
            _on_disk(tmp_path, wizard).recorded_action_items()))
        (_, item), = _on_disk(tmp_path, wizard).recorded_action_items()
        assert (item.owner, item.type, item.text) == ("suzuki", "prevent", "Request spec for #index")
        assert item.due == (date(2026, 12, 5) if due else None)
        # Back in the editor, the draft's preview lists it.
        assert isinstance(app.screen, PostmortemScreen)
        assert app.screen.focused is not None
