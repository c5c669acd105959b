"""A ``Static`` that repaints only when what it shows has changed.

The monitor publishes a state per source poll (several a second with four
sources), and each state is shown through a handful of one-line widgets.
``Static.update`` repaints, and lays the whole screen out again, even when the
new content equals the old; over an SSH link every repaint is bytes on the wire.
This one compares first, and lays out only when the number of lines changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static


def _lines(content: VisualType) -> int:
    if isinstance(content, Text):
        return content.plain.count("\n") + 1
    if isinstance(content, str):
        return content.count("\n") + 1
    return -1  # another renderable: its height is not known here


class SteadyStatic(Static):
    _shown: VisualType | None = None

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        before = self._shown
        if before is not None and type(before) is type(content) and before == content:
            return
        self._shown = content
        same_height = before is not None and _lines(before) == _lines(content) != -1
        super().update(content, layout=layout and not same_height)
