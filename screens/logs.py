"""The full-screen log tail: what is tailed and how much, the view, a prompt line.

The view reads the session's one :class:`LogBuffer` (shared with the dashboard's
pane) and follows it by itself; this screen only shows it, says what is tailed
and how much, and asks for the text the view's keys need (``/`` filter,
``ctrl+f`` find, ``s`` save path) in an ``Input`` at the bottom: Enter applies,
Esc cancels.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from rainbow_tui.logs.buffer import LogBuffer
from rainbow_tui.logs.saved_logs import resolve_save_path
from rainbow_tui.text import N_, tr, trn
from widgets.fitted_footer import FittedFooter
from widgets.level_style import inert
from widgets.log_pane import stream_summary
from widgets.log_view import LogView
from widgets.steady_static import SteadyStatic

if TYPE_CHECKING:
    from rainbow_tui.logs.streams import StreamState

PromptPurpose = Literal["filter", "search", "save"]

# The prompt's label and hint by purpose, as catalogue keys.
PROMPT_LABELS: dict[PromptPurpose, str] = {
    "filter": N_("screen.logs.prompt.filter"),
    "search": N_("screen.logs.prompt.search"),
    "save": N_("screen.logs.prompt.save"),
}
PROMPT_PLACEHOLDERS: dict[PromptPurpose, str] = {
    "filter": N_("screen.logs.hint.filter"),
    "search": N_("screen.logs.hint.search"),
    "save": N_("screen.logs.hint.save"),
}


def default_save_name(now: datetime | None = None) -> str:
    """``rainbow-tui-logs-<timestamp>.log``: a bare name, saved in the state directory
    (see :func:`rainbow_tui.logs.saved_logs.resolve_save_path`)."""
    moment = now or datetime.now()
    return f"rainbow-tui-logs-{moment:%Y%m%d-%H%M%S}.log"


def tail_title_text(title: str, summary: str) -> str:
    """The header's first part: what is tailed, then how its streams are doing."""
    return tr("screen.logs.title", title=title, summary=summary)


def buffer_counts_text(buffered: int, shown: int, dropped: int) -> str:
    return tr("screen.logs.counts", buffered=f"{buffered:,}", shown=f"{shown:,}",
              dropped=f"{dropped:,}")


def filter_label() -> str:
    return tr("screen.logs.filter_label")


def saved_message(count: int, path: Path) -> str:
    return trn("screen.logs.saved", count, count=f"{count:,}", path=path)


def save_exists_message(path: Path) -> str:
    return tr("screen.logs.exists", path=path)


def save_failed_message(path: Path, error: OSError) -> str:
    return tr("screen.logs.save_failed", path=path, error=error.strerror or error)


class LogScreen(Screen[None]):
    """One live log view filling the terminal."""

    AUTO_FOCUS = "LogView"

    DEFAULT_CSS = """
    LogScreen #log-header {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    LogScreen #log-view {
        height: 1fr;
    }
    LogScreen #log-prompt {
        height: 1;
        display: none;
    }
    LogScreen #log-prompt.-open {
        display: block;
    }
    LogScreen #log-prompt Label {
        padding: 0 1;
        background: $primary-muted;
        color: $text;
    }
    LogScreen #log-prompt Input {
        width: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", tr("screen.logs.key.back")),
        Binding("q", "close", tr("screen.logs.key.back"), show=False),
    ]

    def __init__(
        self,
        title: str,
        buffer: LogBuffer | int = 100_000,
        *,
        timezone: tzinfo | None = None,
        frames_per_s: float | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        """``buffer`` is the session's, shared with the dashboard's pane; a number
        makes a buffer of its own of that many lines."""
        super().__init__(name=name, id=id, classes=classes)
        self._title = title
        self._tail_title = title
        if not isinstance(buffer, LogBuffer):
            buffer = LogBuffer(buffer)
        self.log_view = LogView(buffer, timezone=timezone, frames_per_s=frames_per_s,
                                id="log-view")
        self._prompt: PromptPurpose | None = None

    def compose(self) -> ComposeResult:
        yield SteadyStatic(self._header_text(), id="log-header")
        yield self.log_view
        with Horizontal(id="log-prompt"):
            yield Label("", id="log-prompt-label")
            yield Input(id="log-prompt-input", compact=True)
        yield FittedFooter()

    # -- header ---------------------------------------------------------------------

    @property
    def tail_title(self) -> str:
        """What is being tailed (hosts, containers), first on the header line."""
        return self._tail_title

    @tail_title.setter
    def tail_title(self, title: str) -> None:
        self._tail_title = title
        if self.is_mounted:
            self._refresh_header()

    def show_stream_states(self, states: Iterable[StreamState], total: int) -> None:
        """Say how the ``total`` log streams are doing after the screen's title."""
        self.tail_title = tail_title_text(self._title, stream_summary(states, total))

    def _header_text(self) -> Text:
        filtered = self.log_view.filtered
        buffered, shown, dropped = filtered.held, len(filtered), filtered.dropped
        header = Text(no_wrap=True, overflow="ellipsis")
        # The title carries stream errors (SSH's own words): inert, one line.
        header.append_text(inert(self._tail_title))
        header.stylize("bold")
        header.append(buffer_counts_text(buffered, shown, dropped))
        described = self.log_view.filter_description
        if described:
            header.append(filter_label())
            header.append(described, "bold")
        return header

    @on(LogView.Updated)
    def _refresh_header(self) -> None:
        self.query_one("#log-header", Static).update(self._header_text())

    # -- prompt ---------------------------------------------------------------------

    @property
    def prompt_purpose(self) -> PromptPurpose | None:
        """What the open prompt asks for, or None when it is closed."""
        return self._prompt

    @on(LogView.PromptRequested)
    def _open_prompt(self, event: LogView.PromptRequested) -> None:
        self.open_prompt(event.purpose, event.current)

    def open_prompt(self, purpose: PromptPurpose, current: str = "") -> None:
        self._prompt = purpose
        self.query_one("#log-prompt-label", Label).update(tr(PROMPT_LABELS[purpose]))
        prompt = self.query_one("#log-prompt-input", Input)
        prompt.placeholder = tr(PROMPT_PLACEHOLDERS[purpose])
        prompt.value = default_save_name() if purpose == "save" else current
        self.query_one("#log-prompt").add_class("-open")
        prompt.focus()

    def _close_prompt(self) -> None:
        self._prompt = None
        self.query_one("#log-prompt").remove_class("-open")
        self.log_view.focus()

    @on(Input.Submitted, "#log-prompt-input")
    def _submit_prompt(self, event: Input.Submitted) -> None:
        event.stop()
        purpose, value = self._prompt, event.value
        self._close_prompt()
        if purpose == "filter":
            error = self.log_view.set_pattern(value)
            if error is not None:
                self.notify(tr("screen.logs.bad_filter", error=error), severity="warning",
                            markup=False)
        elif purpose == "search":
            error = self.log_view.set_search(value)
            if error is not None:
                self.notify(tr("screen.logs.bad_search", error=error), severity="warning",
                            markup=False)
        elif purpose == "save":
            self._save(value.strip())
        self._refresh_header()

    def _save(self, path_text: str) -> None:
        """Save the shown lines, redacted, 0600; a bare name goes to the state directory."""
        if not path_text:
            return
        path = Path(path_text).expanduser()
        try:
            path = resolve_save_path(path_text)
            written = self.log_view.save(path)
        except FileExistsError:
            self.notify(save_exists_message(path), severity="warning", markup=False)
        except OSError as error:
            self.notify(save_failed_message(path, error), severity="error", markup=False)
        else:
            self.notify(saved_message(written, path), markup=False)

    def action_close(self) -> None:
        if self._prompt is not None:
            self._close_prompt()
        else:
            self.app.pop_screen()
