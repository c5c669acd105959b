"""Keyboard help: every key the console answers to, on one page."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("1 2 3 4", "show / focus a pane (Components, Logs, Database, Jobs); again: maximise"),
    ("tab / shift+tab", "move between tables"),
    ("↑ ↓ PgUp PgDn", "move in the focused table"),
    ("/", "filter the focused table (`!text` hides matching rows); Esc clears"),
    ("c  k", "Database pane: cancel the selected query / terminate its backend"),
    ("t  T", "Jobs pane: retry the latest failed job of the selected class / all of it"),
    ("x  X", "Jobs pane: discard the latest failed job of the class / all of it"),
    ("P", "Jobs pane: pause / resume the selected queue"),
    ("C", "Jobs pane: cancel a running bulk retry / discard after its current batch"),
    ("y  n", "answer a confirmation (every action asks first, naming its target)"),
    ("L / Enter", "Logs pane: open the full-screen log view (Esc comes back)"),
    ("f  End", "Logs: follow on/off; End resumes following after scrolling up"),
    ("/  ctrl+f", "Logs: filter (regex, `!regex` hides) / find; n N next/previous match"),
    ("e  l", "Logs: next error; cycle the minimum level (all, info, warn, error)"),
    ("R", "Logs: follow the request id of the cursor line across hosts (again: stop)"),
    ("m  '", "Logs: mark the cursor line; jump to the next mark"),
    ("t  h  w", "Logs: timestamps, host column, wrap on/off"),
    ("s", "Logs: save the shown lines to a file"),
    ("r", "refresh every source now"),
    ("p", "pause / resume polling"),
    ("ctrl+p", "command palette: every action by name"),
    ("K", "the manual's appendix (付録) in the palette, as \"Kamal: …\": Rails console, shell,"
          " DB console, container details, follow the log, cache clear, monitoring status;"
          " interactive ones take the terminal until you leave them, each is recorded on"
          " the open incident"),
    ("?", "this help"),
    ("q", "quit"),
)
READ_ONLY_NOTE = "Under --read-only the actions (c k t T x X P) are not offered."


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table(title="rainbow-tui keys", show_header=False, expand=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("what it does")
        for key, what in KEYS:
            # Text cells: a Rich table parses plain strings as markup.
            table.add_row(Text(key), Text(what))
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static(Text(f"{READ_ONLY_NOTE}  Esc closes this help."), classes="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
