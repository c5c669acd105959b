"""Pane 2: the live log tail, compact.  `L` (or Enter) opens the full-screen view."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from rainbow_tui.logs.buffer import LogBuffer
from rainbow_tui.text import N_, tr
from widgets.level_style import inert

if TYPE_CHECKING:
    from rainbow_tui.logs.streams import StreamState
    from widgets.log_view import LogView

# The pane shows the recent tail of the shared buffer; the full-screen view all of it.
PANE_LINES = 5_000
# Troubled streams named in the summary; the rest are counted only.
STREAM_PROBLEMS_SHOWN = 3
# A stream's state in words, by the state the tail reports.
STREAM_STATE_KEYS = {
    "connecting": N_("log.stream.connecting"),
    "streaming": N_("log.stream.streaming"),
    "reconnecting": N_("log.stream.reconnecting"),
    "ended": N_("log.stream.ended"),
}


def stream_summary(states: Iterable[StreamState], total: int) -> str:
    """How many of ``total`` streams are streaming, and what is wrong with the others
    (their names and SSH's own error text: remote text, to be shown inert)."""
    states = list(states)
    streaming = sum(1 for s in states if s.state == "streaming")
    problems = [
        tr("log.stream.problem", name=s.name, detail=s.detail,
           state=tr(STREAM_STATE_KEYS[s.state]) if s.state in STREAM_STATE_KEYS else s.state)
        for s in states
        if s.state != "streaming" and s.detail
    ]
    summary = tr("log.streams", streaming=streaming, total=total)
    if problems:
        summary += " · " + "; ".join(problems[:STREAM_PROBLEMS_SHOWN])
    return summary


class LogPane(Vertical):
    BORDER_TITLE = tr("log.pane.title")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("L,enter", "open_full", tr("log.key.full_screen"), key_display="L"),
    ]

    class OpenFull(Message):
        """The user wants the full-screen log view (optionally with a prompt open)."""

        def __init__(self, prompt: str | None = None, current: str = "") -> None:
            super().__init__()
            self.prompt = prompt
            self.current = current

    def __init__(
        self,
        buffer: LogBuffer | None = None,
        *,
        frames_per_s: float | None = None,
        id: str | None = None,
        classes: str = "",
    ) -> None:
        """``buffer`` is the session's, shared with the full-screen view; without one
        the pane keeps a buffer of its own of :data:`PANE_LINES`."""
        super().__init__(id=id, classes=classes)
        self._buffer = buffer if buffer is not None else LogBuffer(PANE_LINES)
        self._frames_per_s = frames_per_s
        self._log_view: LogView | None = None

    @property
    def log_view(self) -> LogView:
        """The pane's view of the buffer, made when first asked for (by :meth:`attach`,
        after the first frame): the first frame neither builds nor imports it."""
        if self._log_view is None:
            from widgets.log_view import LogView

            self._log_view = LogView(
                self._buffer, tail=PANE_LINES, frames_per_s=self._frames_per_s,
                id="pane-log-view",
            )
            self._log_view.show_host = True
        return self._log_view

    def compose(self) -> ComposeResult:
        # The view is mounted once the tail starts (after the first frame); lines
        # that arrive before that wait in its buffer.
        yield Static(tr("log.pane.starting"), classes="placeholder")

    def attach(self) -> None:
        if not self.log_view.is_mounted and self.is_mounted:
            for placeholder in self.query(".placeholder"):
                placeholder.remove()
            self.mount(self.log_view)

    def show_stream_states(self, states: Iterable[StreamState], total: int) -> None:
        """How the ``total`` log streams are doing, under the pane's border."""
        self.show_streams(stream_summary(states, total))

    def show_streams(self, summary: str) -> None:
        """The streams' summary (:func:`stream_summary`) under the pane's border."""
        # Text: a subtitle string is parsed as markup, and SSH's error text may hold
        # "[/]" (MarkupError would end the stream callback that set it).
        self.border_subtitle = inert(summary)

    def action_open_full(self) -> None:
        self.post_message(self.OpenFull())

    def on_log_view_prompt_requested(self, event: LogView.PromptRequested) -> None:
        # Prompts (filter, find, save) live on the full-screen view.
        event.stop()
        self.post_message(self.OpenFull(event.purpose, event.current))
