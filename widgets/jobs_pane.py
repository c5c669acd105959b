"""Pane 4: Solid Queue — counts, latency, failures by class, processes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from rainbow_tui.monitor import MonitorState
from rainbow_tui.sources.queue import QueueSnapshot
from widgets.finding_table import FindingTable
from widgets.level_style import inert

FAILURE_COLUMNS = ("exception", "count", "latest", "message")


class JobsPane(VerticalScroll):
    BORDER_TITLE = "4 Jobs"

    def compose(self) -> ComposeResult:
        yield FindingTable(id="jobs-table")
        yield Static(id="jobs-summary", classes="pane-summary")
        failures: DataTable[Text] = DataTable(id="failures-table", cursor_type="row")
        yield failures

    def on_mount(self) -> None:
        failures: DataTable[Text] = self.query_one("#failures-table", DataTable)
        for name in FAILURE_COLUMNS:
            failures.add_column(name, key=name)

    def show(self, state: MonitorState) -> None:
        self.query_one(FindingTable).show(f for f in state.findings if f.component == "queue")
        queue = state.readings.queue
        if queue is not None and queue.error is None:
            self.query_one("#jobs-summary", Static).update(self._summary(queue))
            self._show_failures(queue)
        self.set_class("queue" in state.stale, "-stale")

    @staticmethod
    def _summary(queue: QueueSnapshot) -> Text:
        latency = f"{queue.oldest_ready_s:,.1f} s" if queue.oldest_ready_s is not None else "—"
        per_queue = ", ".join(
            f"{name} {count}" for name, count in sorted(queue.ready_by_queue.items())
        )
        paused = ", ".join(queue.paused) or "none"
        return Text(
            f"ready {queue.ready} · scheduled {queue.scheduled} · claimed {queue.claimed} · "
            f"blocked {queue.blocked} · failed {queue.failed} · latency {latency}\n"
            f"ready by queue: {per_queue or '—'} · paused: {paused}"
        )

    def _show_failures(self, queue: QueueSnapshot) -> None:
        table: DataTable[Text] = self.query_one("#failures-table", DataTable)
        wanted = {group.exception_class: group for group in queue.failed_by_class}
        for key in [str(row.value) for row in table.rows]:
            if key not in wanted:
                table.remove_row(key)
        for key, group in wanted.items():
            cells = (
                inert(key),
                Text(str(group.count)),
                inert(group.latest_at[:19]),
                inert(" ".join(group.latest_message.split())[:200]),
            )
            if key in table.rows:
                for column, cell in zip(FAILURE_COLUMNS, cells, strict=True):
                    table.update_cell(key, column, cell)
            else:
                table.add_row(*cells, key=key)
