"""Which open incident to go back to, when several are: ``I`` with a choice.

The incident in hand comes first, so ``I`` then Enter goes back to it; the arrows
or 1–9 pick another, Esc stays.  Titles are the alerts' (remote words): inert Text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rainbow_tui.text import tr
from screens.stylesheets import stylesheet
from widgets.level_style import inert

NUMBERED = 9


@dataclass(frozen=True, slots=True)
class IncidentLine:
    incident_id: str
    title: str
    status: str  # in words
    runbook: str  # its title, in words


class IncidentPickerScreen(ModalScreen[str | None]):
    CSS_PATH = stylesheet("picker")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.incident_picker.key.cancel")),
        *(
            Binding(str(number), f"pick({number})", tr("screen.incident_picker.key.pick"),
                    show=False)
            for number in range(1, NUMBERED + 1)
        ),
    ]

    def __init__(self, lines: Sequence[IncidentLine]) -> None:
        super().__init__()
        self.lines = tuple(lines)

    def compose(self) -> ComposeResult:
        options = []
        for number, line in enumerate(self.lines, start=1):
            prompt = Text(f"{number}. " if number <= NUMBERED else "   ")
            prompt.append_text(inert(line.incident_id))
            prompt.append(f" · {line.status} · ", style="dim")
            prompt.append_text(inert(line.title))
            prompt.append("\n     ")
            prompt.append_text(inert(line.runbook))
            options.append(Option(prompt, id=str(number)))
        with Vertical(id="picker-body"):
            yield Static(tr("screen.incident_picker.title"), id="picker-title")
            yield OptionList(*options, id="picker-list", markup=False)

    def on_mount(self) -> None:
        self.query_one("#picker-list", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.action_pick(int(event.option.id))

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.lines):
            self.dismiss(self.lines[number - 1].incident_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
