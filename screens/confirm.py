"""A confirmation that names its target: nothing changes without a yes."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from rainbow_tui.text import tr
from screens.stylesheets import stylesheet
from widgets.level_style import inert


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = stylesheet("confirm")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", tr("screen.confirm.key.yes")),
        Binding("n,escape", "answer(False)", tr("screen.confirm.key.no")),
    ]

    def __init__(self, title: str, target: str) -> None:
        super().__init__()
        self.title_text = title
        self.target = target

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-body"):
            # Title and target name remote things (exception classes, queries, job
            # errors): inert text, never markup.
            yield Static(inert(self.title_text), id="confirm-title")
            yield Static(inert(self.target, keep_newlines=True), id="confirm-target")
            with Horizontal(id="confirm-buttons"):
                yield Button(tr("screen.confirm.yes"), variant="error", id="yes")
                yield Button(tr("screen.confirm.no"), variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
