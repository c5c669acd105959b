"""Ask for one line of text: a reason, a note, or a target typed to confirm."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from rainbow_tui.text import tr
from screens.stylesheets import stylesheet
from widgets.level_style import inert


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the text entered (Enter), or None (Esc).

    With ``must_equal`` set, Enter is accepted only when the text equals it: the
    way a destructive command asks for its target to be typed.
    """

    CSS_PATH = stylesheet("prompt")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", tr("screen.prompt.key.cancel"))
    ]

    def __init__(
        self,
        question: str,
        detail: str = "",
        *,
        must_equal: str | None = None,
        placeholder: str = "",
        allow_empty: bool = False,
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.must_equal = must_equal
        self.placeholder = placeholder
        self.allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-body"):
            # The question may name a step, a host or a target: never markup.
            yield Static(inert(self.question), id="prompt-question")
            if self.detail:
                yield Static(inert(self.detail, keep_newlines=True), id="prompt-detail")
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-hint")

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        hint = self.query_one("#prompt-hint", Static)
        if self.must_equal is not None and text != self.must_equal:
            hint.update(inert(tr("screen.prompt.type_exactly", text=self.must_equal)))
            return
        if not text and not self.allow_empty:
            hint.update(tr("screen.prompt.empty"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
