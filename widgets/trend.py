"""A labelled sparkline of one metric's recent values ("no data" when there are none)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline


class Trend(Horizontal):
    DEFAULT_CSS = """
    Trend { height: 1; }
    Trend > Label { width: 14; color: $text-muted; }
    Trend > Sparkline { width: 1fr; }
    Trend > .latest { width: 12; text-align: right; }
    """

    def __init__(self, label: str, key: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.key = key  # the finding key whose history this draws

    def compose(self) -> ComposeResult:
        yield Label(self.label)
        yield Sparkline([])
        yield Label("no data", classes="latest")

    def show(self, history: dict[str, tuple[float, ...]], unit: str = "") -> None:
        values = history.get(self.key, ())
        self.query_one(Sparkline).data = list(values)
        latest = f"{values[-1]:,.0f}{unit}" if values else "no data"
        self.query_one(".latest", Label).update(latest)
