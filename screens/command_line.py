"""The command line (``:`` as in k9s): one line at the bottom, completed as it is
typed (Tab takes the first completion), read by ``rainbow_tui.command_line``.

Enter on a line understood dismisses with what it asks for, and the app runs it; a
line not understood stays as typed, with what was wrong said above it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from rainbow_tui.command_line import (
    COMMANDS,
    CommandProblem,
    CommandRequest,
    completions,
    parse_command,
)
from rainbow_tui.text import tr
from screens.stylesheets import stylesheet

# How many completions the line above the input offers at once.
SHOWN_COMPLETIONS = 6
_WHAT = {spec.name: spec.what for spec in COMMANDS}


class CommandSuggester(Suggester):
    """The first completion, shown greyed after the cursor (→ or End takes it)."""

    def __init__(self, runbooks: Collection[str], alerts: Collection[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.runbooks = runbooks
        self.alerts = alerts

    async def get_suggestion(self, value: str) -> str | None:
        found = completions(value, runbooks=self.runbooks, alerts=self.alerts)
        return next((line for line in found if line.startswith(value) and line != value), None)


class CommandLineScreen(ModalScreen[CommandRequest | None]):
    CSS_PATH = stylesheet("command_line")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.command_line.key.cancel")),
        Binding("tab", "complete", tr("screen.command_line.key.complete")),
    ]

    def __init__(self, runbooks: Collection[str], alerts: Collection[str]) -> None:
        super().__init__()
        self.runbooks = tuple(sorted(runbooks))
        self.alerts = tuple(alerts)

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Static(id="command-line-offer")
            with Horizontal(id="command-line-row"):
                yield Static(":", id="command-line-colon")
                yield Input(
                    placeholder=tr("screen.command_line.placeholder"),
                    suggester=CommandSuggester(self.runbooks, self.alerts),
                    id="command-line-input",
                )

    def on_mount(self) -> None:
        self._offer("")

    def _completions(self, line: str) -> tuple[str, ...]:
        return completions(line, runbooks=self.runbooks, alerts=self.alerts)

    def _offer(self, line: str) -> None:
        """The lines the typed one may become, each command with what it does."""
        offer = Text()
        for number, completion in enumerate(self._completions(line)[:SHOWN_COMPLETIONS]):
            if number:
                offer.append("   ")
            offer.append(completion, style="bold")
            what = _WHAT.get(completion)
            if what is not None:
                offer.append(f" {tr(what)}", style="dim")
        self.query_one("#command-line-offer", Static).update(offer)
        self.query_one("#command-line-offer").remove_class("-problem")

    @on(Input.Changed, "#command-line-input")
    def _typed(self, event: Input.Changed) -> None:
        self._offer(event.value)

    @on(Input.Submitted, "#command-line-input")
    def _entered(self, event: Input.Submitted) -> None:
        understood = parse_command(event.value, runbooks=self.runbooks, alerts=self.alerts)
        if isinstance(understood, CommandProblem):
            # What was typed stays, to be corrected; the reason is said above it.
            offer = self.query_one("#command-line-offer", Static)
            offer.update(Text(understood.why.text()))
            offer.add_class("-problem")
            return
        self.dismiss(understood)

    def action_complete(self) -> None:
        box = self.query_one("#command-line-input", Input)
        found = self._completions(box.value)
        if not found:
            return
        line = found[0]
        # A command that takes a name gets the space before it.
        if " " not in line and _takes_argument(line):
            line += " "
        box.value = line
        box.cursor_position = len(line)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _takes_argument(command: str) -> bool:
    return any(spec.name == command and spec.argument != "none" for spec in COMMANDS)
