"""A labelled sparkline of one metric's recent values ("no data" when there are none).

Drawn as one line of block characters in a single Static: the stock Sparkline
widget costs more to mount than the whole rest of a pane.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from rainbow_tui.text import ljust_cells, tr

BLOCKS = "▁▂▃▄▅▆▇█"
LABEL_WIDTH = 14
LATEST_WIDTH = 12


def sparkline(values: tuple[float, ...], width: int) -> str:
    """The last ``width`` values scaled between their own minimum and maximum."""
    shown = values[-width:] if width > 0 else ()
    if not shown:
        return ""
    low, high = min(shown), max(shown)
    span = high - low
    if span == 0:
        return BLOCKS[0 if high == 0 else 3] * len(shown)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((value - low) / span * top)] for value in shown)


class Trend(Static):
    DEFAULT_CSS = """
    Trend { height: 1; padding: 0 1; }
    """

    def __init__(self, label: str, key: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.key = key  # the finding key whose history this draws
        self._values: tuple[float, ...] = ()

    def show(self, history: dict[str, tuple[float, ...]]) -> None:
        values = history.get(self.key, ())
        if values != self._values:
            self._values = values
            self.refresh()

    def render(self) -> Text:
        width = self.content_size.width - LABEL_WIDTH - LATEST_WIDTH
        # Widths in terminal cells: a Japanese label takes two per character.
        line = Text(ljust_cells(self.label, LABEL_WIDTH), style="dim")
        line.append(f"{sparkline(self._values, width):<{max(width, 0)}}")
        latest = f"{self._values[-1]:,.0f}" if self._values else tr("finding.no_data")
        line.append(" " * max(LATEST_WIDTH - cell_len(latest), 0) + latest)
        return line


def trends_in(pane: Widget, *shown: tuple[str, str]) -> list[Trend]:
    """The pane's trends, one per (label, finding key) in ``shown``, mounted on top of
    it with the first answer: with no value yet they said only "no data", and the
    first frame does without them (each costs styling and a paint)."""
    trends = list(pane.query(Trend))
    if not trends:
        trends = [Trend(label, key) for label, key in shown]
        if pane.children:
            pane.mount(*trends, before=0)
        else:
            pane.mount(*trends)
    return trends
