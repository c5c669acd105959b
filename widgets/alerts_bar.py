"""The alerts bar: severity, what, since when, and the time left to respond."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.text import Text

from rainbow_tui.levels import format_span, severity_word
from rainbow_tui.text import N_, tr
from widgets.level_style import (
    LEVEL_COMPONENT_CLASSES,
    component_style,
    inert,
    level_css,
    level_style,
)
from widgets.steady_static import SteadyStatic

if TYPE_CHECKING:
    from textual.widget import Widget

    from rainbow_tui.levels import Alert

# A windowed alert on its way back: calmer than its level, the level's word kept.
RECOVERING_COMPONENT = "alerts--recovering"
TREND_ARROWS = {"falling": "↓", "rising": "↑", "steady": "→"}

# On a short terminal the panes need the room more than the third alert does.
MAX_SHOWN = 4
MAX_SHOWN_SHORT = 2
SHORT_SCREEN = 30


def render_alerts(
    alerts: tuple[Alert, ...], now: datetime, limit: int = MAX_SHOWN, widget: Widget | None = None
) -> Text:
    """The alerts, one a line, each severity in the colours ``widget``'s theme gives its
    level; "no open alerts" takes the bar's own colour."""
    if not alerts:
        return Text(tr("widget.alerts.none"))
    lines = Text()
    for index, alert in enumerate(alerts[:limit]):
        if index:
            lines.append("\n")
        left = alert.time_left(now)
        # Padded by terminal cells, so the titles line up in Japanese too.
        severity = severity_word(alert.severity)
        calm = component_style(widget, RECOVERING_COMPONENT) if widget is not None else ""
        lines.append(f" {severity}{' ' * max(8 - cell_len(severity), 0)} ",
                     style=calm if alert.recovering else level_style(alert.level, widget))
        lines.append(" ")
        lines.append_text(inert(alert.title_text()))
        arrow = TREND_ARROWS.get(alert.trend or "", "")
        if alert.recovering:
            lines.append(tr("widget.alerts.recovering", arrow=arrow), style=calm)
        elif alert.trend == "rising":
            lines.append(f" {arrow}", style="bold")
        lines.append(tr("widget.alerts.since", at=f"{alert.first_seen.astimezone():%H:%M:%S}"))
        overdue = left.total_seconds() < 0
        respond = N_("widget.alerts.overdue") if overdue else N_("widget.alerts.within")
        lines.append(tr(respond, span=format_span(left)), style="bold" if overdue else "")
    if len(alerts) > limit:
        lines.append(tr("widget.alerts.more", count=len(alerts) - limit))
    return lines


class AlertsBar(SteadyStatic):
    COMPONENT_CLASSES = LEVEL_COMPONENT_CLASSES | {RECOVERING_COMPONENT}
    DEFAULT_CSS = level_css("AlertsBar")

    def show(self, alerts: tuple[Alert, ...], now: datetime) -> None:
        limit = MAX_SHOWN_SHORT if self.app.size.height < SHORT_SCREEN else MAX_SHOWN
        self.update(render_alerts(alerts, now, limit, self))
        # Red while any alert still needs someone; calmer once all are on their way back.
        recovering = bool(alerts) and all(alert.recovering for alert in alerts)
        self.set_class(bool(alerts) and not recovering, "-alerting")
        self.set_class(recovering, "-recovering")
