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

from rainbow_tui.text import N_, tr

# Each key's line, by catalogue key (said in the chosen language when shown).
KEYS: tuple[tuple[str, str], ...] = (
    ('1 2 3 4', N_("screen.help.pane")),
    ('tab / shift+tab', N_("screen.help.tables")),
    ('↑ ↓ PgUp PgDn', N_("screen.help.move")),
    ('/', N_("screen.help.filter")),
    ('c  k', N_("screen.help.db")),
    ('t  T', N_("screen.help.retry")),
    ('x  X', N_("screen.help.discard")),
    ('P', N_("screen.help.queue_pause")),
    ('C', N_("screen.help.bulk_cancel")),
    ('y  n', N_("screen.help.confirm")),
    ('L / Enter', N_("screen.help.log_full")),
    ('f  End', N_("screen.help.follow")),
    ('/  ctrl+f', N_("screen.help.log_filter")),
    ('e  l', N_("screen.help.log_level")),
    ('R', N_("screen.help.log_request")),
    ("m  '", N_("screen.help.log_mark")),
    ('t  h  w', N_("screen.help.log_columns")),
    ('s', N_("screen.help.log_save")),
    ('r', N_("screen.help.refresh")),
    ('p', N_("screen.help.pause")),
    ('ctrl+p', N_("screen.help.palette")),
    ('K', N_("screen.help.kamal")),
    ('?', N_("screen.help.help")),
    ('q', N_("screen.help.quit")),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", tr("screen.help.key.close")),
    ]

    def compose(self) -> ComposeResult:
        table = Table(title=tr("screen.help.title"), show_header=False, expand=True)
        table.add_column(tr("screen.help.column.key"), style="bold", no_wrap=True)
        table.add_column(tr("screen.help.column.what"))
        for key, what in KEYS:
            # Text cells: a Rich table parses plain strings as markup.
            table.add_row(Text(key), Text(tr(what)))
        with VerticalScroll(id="help-body"):
            yield Static(table)
            yield Static(Text(tr("screen.help.hint")), classes="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
