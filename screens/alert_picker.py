"""Which open alert a decision is about: ``a`` (acknowledge) or ``S`` (silence) on
the dashboard.

The alerts in the bar's order, each with what was decided about it already; the
arrows or 1–9 pick one, Enter takes the highlighted one, Esc decides nothing.
Titles and names are remote or typed words: inert Text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rainbow_tui.levels import severity_word
from rainbow_tui.text import tr
from screens.stylesheets import stylesheet
from widgets.alerts_bar import decision_words, in_order
from widgets.level_style import inert

if TYPE_CHECKING:
    from rainbow_tui.alert_decisions import AlertStanding
    from rainbow_tui.levels import Alert

NUMBERED = 9


class AlertPickerScreen(ModalScreen[str | None]):
    """Dismisses with the key of the alert picked, or None."""

    CSS_PATH = stylesheet("picker")

    DEFAULT_CSS = """
    AlertPickerScreen { align: center middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.alert_picker.key.cancel")),
        *(
            Binding(str(number), f"pick({number})", tr("screen.alert_picker.key.pick"),
                    show=False)
            for number in range(1, NUMBERED + 1)
        ),
    ]

    def __init__(
        self, question: str, alerts: Sequence[Alert],
        decisions: Mapping[str, AlertStanding], now: datetime,
    ) -> None:
        super().__init__()
        self.question = question
        self.now = now
        self.decisions = decisions
        self.alerts = in_order(tuple(alerts), decisions, now)

    def compose(self) -> ComposeResult:
        options = []
        for number, alert in enumerate(self.alerts, start=1):
            prompt = Text(f"{number}. " if number <= NUMBERED else "   ")
            prompt.append(severity_word(alert.severity), style="bold")
            prompt.append(" ")
            prompt.append_text(inert(alert.title_text()))
            if said := decision_words(self.decisions.get(alert.key), self.now):
                said_text = inert(said)
                said_text.stylize("dim")
                prompt.append_text(said_text)
            options.append(Option(prompt, id=str(number)))
        with Vertical(id="picker-body"):
            yield Static(inert(self.question), id="picker-title")
            yield OptionList(*options, id="picker-list", markup=False)

    def on_mount(self) -> None:
        self.query_one("#picker-list", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.action_pick(int(event.option.id))

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.alerts):
            self.dismiss(self.alerts[number - 1].key)

    def action_cancel(self) -> None:
        self.dismiss(None)
