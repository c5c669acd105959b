"""The header line: the service, its overall state, and how fresh the data is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from rainbow_tui.text import tr
from widgets.level_style import LEVEL_COMPONENT_CLASSES, level_badge, level_css
from widgets.steady_static import SteadyStatic

if TYPE_CHECKING:
    from rainbow_tui.monitor import MonitorState


class StateHeader(SteadyStatic):
    COMPONENT_CLASSES = LEVEL_COMPONENT_CLASSES
    DEFAULT_CSS = level_css("StateHeader")

    def show(self, service: str, state: MonitorState, read_only: bool) -> None:
        line = Text()
        line.append(f" {service} ", style="bold")
        line.append_text(level_badge(state.overall, self))
        line.append(tr("widget.header.updated", at=f"{state.updated_at.astimezone():%H:%M:%S}"))
        if state.stale:
            line.append(tr("widget.header.stale", sources=", ".join(sorted(state.stale))),
                        style="bold")
        if state.paused:
            line.append(tr("widget.header.paused"), style="bold")
        if read_only:
            line.append(tr("widget.header.read_only"))
        self.update(line)
