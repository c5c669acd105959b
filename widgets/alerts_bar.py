"""The alerts bar: severity, what, since when, and the time left to respond."""

from __future__ import annotations

from collections.abc import Mapping
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

    from rainbow_tui.alert_decisions import AlertStanding
    from rainbow_tui.levels import Alert

# A windowed alert on its way back: calmer than its level, the level's word kept.
RECOVERING_COMPONENT = "alerts--recovering"
# A silenced alert: still listed, dimmed, after the ones someone must answer.
SILENCED_COMPONENT = "alerts--silenced"
TREND_ARROWS = {"falling": "↓", "rising": "↑", "steady": "→"}

# On a short terminal the panes need the room more than the third alert does.
MAX_SHOWN = 4
MAX_SHOWN_SHORT = 2
SHORT_SCREEN = 30


def silenced_now(standing: AlertStanding | None, now: datetime) -> bool:
    """Silenced, and not past the silence's time (the session ends it at its next look)."""
    if standing is None or not standing.silenced:
        return False
    return standing.silenced_until is None or standing.silenced_until > now


def in_order(
    alerts: tuple[Alert, ...], decisions: Mapping[str, AlertStanding], now: datetime
) -> tuple[Alert, ...]:
    """The monitor's order, silenced alerts last: the lines go to those someone must
    answer."""
    return tuple(sorted(alerts, key=lambda a: silenced_now(decisions.get(a.key), now)))


def decision_words(standing: AlertStanding | None, now: datetime) -> str:
    """What the responders decided, after the alert's clock: "acked by tanaka 03:12",
    "silenced until 04:15: deploy window"."""
    if standing is None:
        return ""
    words = ""
    if silenced_now(standing, now):
        if standing.silenced_until is None:
            words = tr("widget.alerts.silenced_until_resolved", reason=standing.reason)
        else:
            words = tr("widget.alerts.silenced", reason=standing.reason,
                       until=f"{standing.silenced_until.astimezone():%H:%M}")
    elif standing.broke_through_at is not None:
        words = tr("widget.alerts.broke_through")
    if standing.acknowledged_at is not None:
        words = tr("widget.alerts.acked", who=standing.acknowledged_by,
                   at=f"{standing.acknowledged_at.astimezone():%H:%M}") + words
    return words


def render_alerts(
    alerts: tuple[Alert, ...], now: datetime, limit: int = MAX_SHOWN, widget: Widget | None = None,
    decisions: Mapping[str, AlertStanding] | None = None,
) -> Text:
    """The alerts, one a line, each severity in the colours ``widget``'s theme gives its
    level; "no open alerts" takes the bar's own colour."""
    if not alerts:
        return Text(tr("widget.alerts.none"))
    decided = decisions or {}
    alerts = in_order(alerts, decided, now)
    lines = Text()
    for index, alert in enumerate(alerts[:limit]):
        if index:
            lines.append("\n")
        left = alert.time_left(now)
        standing = decided.get(alert.key)
        silenced = silenced_now(standing, now)
        # Padded by terminal cells, so the titles line up in Japanese too.
        severity = severity_word(alert.severity)
        calm = component_style(widget, RECOVERING_COMPONENT) if widget is not None else ""
        quiet = component_style(widget, SILENCED_COMPONENT) if widget is not None else ""
        badge = quiet if silenced else calm if alert.recovering else level_style(alert.level,
                                                                                widget)
        lines.append(f" {severity}{' ' * max(8 - cell_len(severity), 0)} ", style=badge)
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
        lines.append(tr(respond, span=format_span(left)), style="bold" if overdue and not silenced
                     else "")
        # Names and reasons are typed by people: inert, never markup.
        if said := decision_words(standing, now):
            lines.append_text(inert(said))
    if len(alerts) > limit:
        lines.append(tr("widget.alerts.more", count=len(alerts) - limit))
    return lines


class AlertsBar(SteadyStatic):
    COMPONENT_CLASSES = LEVEL_COMPONENT_CLASSES | {RECOVERING_COMPONENT, SILENCED_COMPONENT}
    DEFAULT_CSS = level_css("AlertsBar") + """
    AlertsBar > .alerts--silenced { color: $text-muted; }
    """

    def show(
        self, alerts: tuple[Alert, ...], now: datetime,
        decisions: Mapping[str, AlertStanding] | None = None,
    ) -> None:
        limit = MAX_SHOWN_SHORT if self.app.size.height < SHORT_SCREEN else MAX_SHOWN
        self.update(render_alerts(alerts, now, limit, self, decisions))
        # Red while any alert still needs someone; calmer once all are on their way back
        # (or silenced: someone decided they can wait).
        decided = decisions or {}
        loud = tuple(a for a in alerts if not silenced_now(decided.get(a.key), now))
        recovering = bool(loud) and all(alert.recovering for alert in loud)
        self.set_class(bool(loud) and not recovering, "-alerting")
        self.set_class(recovering, "-recovering")
        # Every open alert silenced: not the all-clear's colour.
        self.set_class(bool(alerts) and not loud, "-silenced")
