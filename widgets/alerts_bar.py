"""The alerts bar: severity, what, since when, and the time left to respond."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from rainbow_tui.levels import format_span
from widgets.level_style import LEVEL_STYLE, inert

if TYPE_CHECKING:
    from rainbow_tui.levels import Alert

# On a short terminal the panes need the room more than the third alert does.
MAX_SHOWN = 4
MAX_SHOWN_SHORT = 2
SHORT_SCREEN = 30


def render_alerts(alerts: tuple[Alert, ...], now: datetime, limit: int = MAX_SHOWN) -> Text:
    if not alerts:
        return Text("No open alerts", style="green")
    lines = Text()
    for index, alert in enumerate(alerts[:limit]):
        if index:
            lines.append("\n")
        left = alert.time_left(now)
        lines.append(f" {alert.severity.upper():8} ", style=LEVEL_STYLE[alert.level])
        lines.append(" ")
        lines.append_text(inert(alert.title))
        lines.append(f"  since {alert.first_seen.astimezone():%H:%M:%S}")
        overdue = left.total_seconds() < 0
        lines.append(
            f"  respond {'OVERDUE ' if overdue else 'within '}{format_span(left)}",
            style="bold" if overdue else "",
        )
    if len(alerts) > limit:
        lines.append(f"\n … and {len(alerts) - limit} more")
    return lines


class AlertsBar(Static):
    def show(self, alerts: tuple[Alert, ...], now: datetime) -> None:
        limit = MAX_SHOWN_SHORT if self.app.size.height < SHORT_SCREEN else MAX_SHOWN
        self.update(render_alerts(alerts, now, limit))
        self.set_class(bool(alerts), "-alerting")
