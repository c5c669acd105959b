"""How long to silence an alert, and why: ``S`` on the dashboard, after the alert.

A span from the list (15 min, 1 h, 4 h, until it resolves) and a reason typed on
the line below (required: the next responder reads why it is quiet).  Enter on
the list moves to the reason; Enter on the reason silences; Esc silences nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from rainbow_tui.alert_decisions import SILENCE_SPANS
from rainbow_tui.text import tr
from screens.stylesheets import stylesheet
from widgets.level_style import inert


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    span: timedelta | None  # None: until the alert resolves
    reason: str


def span_words(span: timedelta | None) -> str:
    if span is None:
        return tr("screen.silence.until_resolved")
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0:
        return tr("screen.silence.hours", hours=minutes // 60)
    return tr("screen.silence.minutes", minutes=minutes)


class SilenceScreen(ModalScreen[SilenceRequest | None]):
    CSS_PATH = stylesheet("prompt")
    DEFAULT_CSS = """
    SilenceScreen { align: center middle; }
    SilenceScreen #silence-spans { height: auto; border: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.silence.key.cancel")),
    ]

    def __init__(self, alert_title: str) -> None:
        super().__init__()
        self.alert_title = alert_title

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body"):
            yield Static(inert(tr("screen.silence.title", title=self.alert_title)),
                         id="prompt-question")
            yield OptionList(
                *(Option(span_words(span), id=str(index))
                  for index, span in enumerate(SILENCE_SPANS)),
                id="silence-spans", markup=False,
            )
            yield Input(placeholder=tr("screen.silence.reason_placeholder"), id="prompt-input")
            yield Static("", id="prompt-hint")

    def on_mount(self) -> None:
        spans = self.query_one("#silence-spans", OptionList)
        spans.highlighted = 0
        spans.focus()

    @property
    def span(self) -> timedelta | None:
        index = self.query_one("#silence-spans", OptionList).highlighted
        return SILENCE_SPANS[index if index is not None else 0]

    @on(OptionList.OptionSelected, "#silence-spans")
    def _span_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        reason = event.value.strip()
        if not reason:
            self.query_one("#prompt-hint", Static).update(tr("screen.silence.reason_needed"))
            return
        self.dismiss(SilenceRequest(self.span, reason))

    def action_cancel(self) -> None:
        self.dismiss(None)
