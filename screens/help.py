"""Keyboard help: the keys of the screen it opens over, then the keys of every screen,
read from the bindings (``screens.key_guide``), never written out by hand."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rainbow_tui.text import tr
from screens.key_guide import KeyGroup
from screens.stylesheets import stylesheet


def keys_table(group: KeyGroup) -> Table:
    """One group's keys; a key that would do nothing now is dimmed, not left out."""
    table = Table(title=group.title, title_justify="left", title_style="bold",
                  show_header=False, expand=True, box=None, padding=(0, 1))
    table.add_column(tr("screen.help.column.key"), style="bold", no_wrap=True)
    table.add_column(tr("screen.help.column.what"))
    for entry in group.entries:
        words = entry.description
        if entry.detail and entry.detail != words:
            words = tr("screen.help.words_detail", words=words, detail=entry.detail)
        style = "" if entry.available else "dim"
        # Text cells: a Rich table parses plain strings as markup.
        table.add_row(Text(entry.keys, style=style), Text(words, style=style))
    return table


class HelpScreen(ModalScreen[None]):
    CSS_PATH = stylesheet("help")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", tr("screen.help.key.close")),
    ]

    def __init__(self, groups: tuple[KeyGroup, ...]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        tables: list[Table | Text] = []
        for group in self.groups:
            if tables:
                tables.append(Text())
            tables.append(keys_table(group))
        with VerticalScroll(id="help-body"):
            yield Static(Text(tr("screen.help.title"), style="bold"))
            yield Static(Group(*tables))
            yield Static(Text(tr("screen.help.hint")), classes="hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
