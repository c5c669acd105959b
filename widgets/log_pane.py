"""Pane 2: live logs.  The log tail fills it; until then it says so plainly."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class LogPane(VerticalScroll):
    BORDER_TITLE = "2 Logs"

    def compose(self) -> ComposeResult:
        yield Static(
            "The live log tail is not part of this build yet.\n"
            'Response time p95 and error rate show as "no data" until it is.',
            classes="placeholder",
        )
