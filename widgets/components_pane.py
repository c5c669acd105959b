"""Pane 1: the service and every host, judged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from rainbow_tui.text import tr
from widgets.table_slots import findings_in, waiting_line
from widgets.trend import trends_in

if TYPE_CHECKING:
    from rainbow_tui.monitor import MonitorState


# Besides every host: the service, its backups, its image bucket, Sentry, kamal-proxy.
PANE_COMPONENTS = frozenset({"service", "backups", "s3", "sentry", "proxy"})


class ComponentsPane(VerticalScroll):
    def on_mount(self) -> None:
        # Set here, not as BORDER_TITLE: the words follow the language chosen at start.
        self.border_title = tr("widget.components.title")

    def compose(self) -> ComposeResult:
        # The trends come with the first answer (trends_in).
        yield waiting_line()

    def show(self, state: MonitorState) -> None:
        for trend in trends_in(
            self,
            (tr("widget.trend.p95"), "service:response_time_p95_ms"),
            (tr("widget.trend.error_rate"), "service:error_rate_percent"),
        ):
            trend.show(state.history)
        table = findings_in(self, "components-table")
        table.show(
            finding
            for finding in state.findings
            if finding.component in PANE_COMPONENTS or finding.component.startswith("host ")
        )
