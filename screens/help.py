"""Keyboard help: every key the console answers to, on one page."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("1 2 3 4", "show / focus a pane (Components, Logs, Database, Jobs); again: maximise"),
    ("tab / shift+tab", "move between tables"),
    ("↑ ↓ PgUp PgDn", "move in the focused table"),
    ("r", "refresh every source now"),
    ("p", "pause / resume polling"),
    ("ctrl+p", "command palette: every action by name"),
    ("?", "this help"),
    ("q", "quit"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table(title="rainbow-tui keys", show_header=False, expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        for key, what in KEYS:
            table.add_row(key, what)
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static("Esc closes this help.", classes="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
