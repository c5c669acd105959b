"""Pane 3: PostgreSQL — connections, the longest queries, who blocks whom."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from rainbow_tui.monitor import MonitorState
from rainbow_tui.sources.database import DatabaseSnapshot
from widgets.finding_table import FindingTable
from widgets.level_style import inert

QUERY_COLUMNS = ("pid", "duration", "user", "application", "state", "wait", "query")


class DatabasePane(VerticalScroll):
    BORDER_TITLE = "3 Database"

    def compose(self) -> ComposeResult:
        yield FindingTable(id="database-table")
        yield Static(id="database-summary", classes="pane-summary")
        queries: DataTable[Text] = DataTable(id="queries-table", cursor_type="row")
        yield queries

    def on_mount(self) -> None:
        queries: DataTable[Text] = self.query_one("#queries-table", DataTable)
        for name in QUERY_COLUMNS:
            queries.add_column(name, key=name)

    def show(self, state: MonitorState) -> None:
        self.query_one(FindingTable).show(f for f in state.findings if f.component == "database")
        database = state.readings.database
        summary = self.query_one("#database-summary", Static)
        if database is None or database.error is not None:
            summary.update(
                Text("stale: showing the last data seen" if "database" in state.stale else "")
            )
        else:
            summary.update(self._summary(database))
            self._show_queries(database)
        self.set_class("database" in state.stale, "-stale")

    @staticmethod
    def _summary(database: DatabaseSnapshot) -> Text:
        states = ", ".join(f"{name} {count}" for name, count in sorted(database.by_state.items()))
        size = (database.size_bytes or 0) / 1024 / 1024
        return Text(
            f"{database.database} · {size:,.1f} MB · PostgreSQL {database.version} · "
            f"PostGIS {database.postgis or 'absent'} · {states or 'no sessions'} · "
            f"waiting on locks {database.waiting}"
        )

    def _show_queries(self, database: DatabaseSnapshot) -> None:
        table: DataTable[Text] = self.query_one("#queries-table", DataTable)
        wanted = {str(query.pid): query for query in database.longest}
        for key in [str(row.value) for row in table.rows]:
            if key not in wanted:
                table.remove_row(key)
        for key, query in wanted.items():
            cells = (
                Text(key),
                Text(f"{query.duration_ms / 1000:,.1f} s"),
                inert(query.user),
                inert(query.application),
                inert(query.state),
                inert(query.wait),
                inert(" ".join(query.query.split())[:300]),
            )
            if key in table.rows:
                for column, cell in zip(QUERY_COLUMNS, cells, strict=True):
                    table.update_cell(key, column, cell)
            else:
                table.add_row(*cells, key=key)
