"""The runbook picker: the runbook for the cause first, every other one below it.

Keyboard first: the proposed runbook is highlighted, so Enter takes it (``i`` then
Enter opens the right runbook); the arrows move, 1–9 take that line at once, Esc
leaves without choosing.  It lists, in this order, the runbook proposed for the
cause (naming the cause alert and the alerts riding along with it), the runbooks
answering other open alerts, then every other runbook (restore, security, general
…).  The same picker switches an open incident's runbook (``current`` marks the one
it follows).  Alert titles and incident ids are shown as inert ``Text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rainbow_tui.alert_causes import ChoiceKind, RunbookChoice
from rainbow_tui.text import N_, current_language, tr
from screens.stylesheets import stylesheet
from widgets.level_style import inert

SECTION_KEYS: dict[ChoiceKind, str] = {
    "proposed": N_("screen.picker.section.proposed"),
    "matching": N_("screen.picker.section.matching"),
    "other": N_("screen.picker.section.other"),
}
# How many alerts riding along are named on the proposed line before "and N more".
RELATED_SHOWN = 3
NUMBERED = 9


def runbook_title(choice: RunbookChoice) -> str:
    runbook = choice.runbook
    if current_language().code == "ja":
        return runbook.title_ja or runbook.title_en
    return runbook.title_en or runbook.title_ja


def choice_prompt(number: int, choice: RunbookChoice, current: str = "") -> Text:
    """One line of the list (two for the proposed one): number, title, id, what for."""
    text = Text()
    text.append(f"{number}. " if number <= NUMBERED else "   ")
    text.append(runbook_title(choice), style="bold" if choice.kind == "proposed" else "")
    text.append(f"  ({choice.runbook.id})", style="dim")
    if choice.runbook.id == current:
        text.append(tr("screen.picker.current"))
    if choice.open_incident and not current:  # switching: the incident is this one
        text.append_text(inert(tr("screen.picker.open_incident", incident=choice.open_incident)))
    if choice.kind == "proposed" and choice.cause is not None:
        text.append("\n     ")
        text.append_text(inert(tr("screen.picker.cause", title=choice.cause.title_text())))
        if choice.related:
            titles = ", ".join(alert.title_text() for alert in choice.related[:RELATED_SHOWN])
            more = len(choice.related) - RELATED_SHOWN
            line = tr("screen.picker.related", titles=titles)
            if more > 0:
                line += tr("screen.picker.related_more", count=more)
            text.append("\n     ")
            text.append_text(inert(line))
    elif choice.kind == "matching" and choice.cause is not None:
        text.append_text(inert(tr("screen.picker.for_alert", title=choice.cause.title_text())))
    return text


class RunbookPickerScreen(ModalScreen[RunbookChoice | None]):
    CSS_PATH = stylesheet("picker")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.picker.key.cancel")),
        *(
            Binding(str(number), f"pick({number})", tr("screen.picker.key.pick"), show=False)
            for number in range(1, NUMBERED + 1)
        ),
    ]

    def __init__(
        self, title: str, choices: Sequence[RunbookChoice], *, current: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.choices = tuple(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        options: list[Option | None] = []
        shown_kind: ChoiceKind | None = None
        for number, choice in enumerate(self.choices, start=1):
            if choice.kind != shown_kind:
                if shown_kind is not None:
                    options.append(None)  # a rule between the sections
                options.append(Option(Text(tr(SECTION_KEYS[choice.kind]), style="dim"),
                                      disabled=True))
                shown_kind = choice.kind
            options.append(Option(choice_prompt(number, choice, self.current), id=str(number)))
        with Vertical(id="picker-body"):
            yield Static(inert(self.title_text), id="picker-title")
            yield OptionList(*options, id="picker-list", markup=False)
            yield Static(tr("screen.picker.hint"), id="picker-hint")

    def on_mount(self) -> None:
        listed = self.query_one("#picker-list", OptionList)
        listed.focus()
        if self.choices:
            # The proposed runbook first: Enter takes it.
            listed.highlighted = listed.get_option_index("1")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.action_pick(int(event.option.id))

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.choices):
            self.dismiss(self.choices[number - 1])

    def action_cancel(self) -> None:
        self.dismiss(None)
