"""Pane 1: the service and every host, judged."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from rainbow_tui.monitor import MonitorState
from widgets.finding_table import FindingTable


class ComponentsPane(VerticalScroll):
    BORDER_TITLE = "1 Components"

    def compose(self) -> ComposeResult:
        yield FindingTable(id="components-table")

    def show(self, state: MonitorState) -> None:
        table = self.query_one(FindingTable)
        table.show(
            finding
            for finding in state.findings
            if finding.component == "service" or finding.component.startswith("host ")
        )
