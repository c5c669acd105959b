"""Pane 3: PostgreSQL — connections, the longest queries, who blocks whom."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from rainbow_tui.text import N_, tr
from widgets.action_request import ActionRequest
from widgets.level_style import inert, stale_note
from widgets.steady_static import SteadyStatic
from widgets.table_slots import findings_in, selected_key_in, table_in, waiting_line
from widgets.trend import trends_in

if TYPE_CHECKING:
    from rainbow_tui.monitor import MonitorState
    from rainbow_tui.sources.database import DatabaseSnapshot

QUERY_COLUMNS = ("pid", "duration", "user", "application", "state", "wait", "query")
QUERY_COLUMN_KEYS = {
    "pid": N_("widget.db.column.pid"),
    "duration": N_("widget.db.column.duration"),
    "user": N_("widget.db.column.user"),
    "application": N_("widget.db.column.application"),
    "state": N_("widget.db.column.state"),
    "wait": N_("widget.db.column.wait"),
    "query": N_("widget.db.column.query"),
}


def lock_tree_text(database: DatabaseSnapshot) -> Text:
    """Who blocks whom: each blocker with its query and age, its waiters below it."""
    tree = database.lock_tree()
    if not tree:
        return Text()
    text = Text(tr("widget.db.locks") + "\n", style="bold")
    for depth, query in tree:
        marker = "  " * depth + (tr("widget.db.waits") if depth else tr("widget.db.blocks"))
        text.append(marker)
        text.append(tr("widget.db.lock_pid", pid=query.pid, seconds=query.duration_ms / 1000))
        # Remote text goes in as plain text, never as markup.
        text.append(inert(f"{query.user} {query.application or '-'} {query.state} "))
        text.append(inert(" ".join(query.query.split())[:160]))
        text.append("\n")
    text.rstrip()
    return text


class DatabasePane(VerticalScroll):
    # Looked up when the module loads, which the console does after the command
    # line has chosen the language.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "signal_backend('cancel_backend')", tr("widget.db.key.cancel")),
        Binding("k", "signal_backend('terminate_backend')", tr("widget.db.key.terminate")),
    ]

    def __init__(
        self, *, read_only: bool = False, id: str | None = None, classes: str = ""
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.read_only = read_only
        self._latest: DatabaseSnapshot | None = None
        self.border_title = tr("widget.database.title")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under --read-only the actions are not merely refused: they are not offered.
        return not (self.read_only and action == "signal_backend")

    def action_signal_backend(self, verb: str) -> None:
        key = selected_key_in(self, "#queries-table")
        if self._latest is None or key is None:
            self.notify(tr("widget.db.select_query"), severity="warning", markup=False)
            return
        query = next((q for q in self._latest.longest if str(q.pid) == key), None)
        if query is None:
            return
        title = (
            tr("widget.db.confirm_cancel", pid=query.pid)
            if verb == "cancel_backend"
            else tr("widget.db.confirm_terminate", pid=query.pid)
        )
        target = tr(
            "widget.db.target",
            pid=query.pid,
            user=query.user,
            application=query.application or tr("widget.db.no_application"),
            seconds=query.duration_ms / 1000,
            query=" ".join(query.query.split())[:300],
        )
        self.post_message(ActionRequest(verb, query.pid, title, target))

    def show_action_result(self, ok: bool, message: str) -> None:
        self._mount_lines()
        result = self.query_one("#database-action", Static)
        # The message carries the server's own error text.
        result.update(inert(("✔ " if ok else "✘ ") + message))

    def compose(self) -> ComposeResult:
        # The trend comes with the first answer (trends_in).
        yield waiting_line()

    def _mount_lines(self) -> None:
        """The summary, locks and action lines, mounted with the first answer: empty
        until then, they would only add to the first frame's work."""
        if not self.query("#database-summary"):
            self.mount(
                SteadyStatic(id="database-summary", classes="pane-summary"),
                SteadyStatic(id="database-locks", classes="pane-summary"),
                Static(id="database-action", classes="action-result"),
            )

    def show(self, state: MonitorState) -> None:
        self._mount_lines()
        for trend in trends_in(self, (tr("widget.trend.connections"), "database:db_connections")):
            trend.show(state.history)
        findings_in(self, "database-table").show(
            f for f in state.findings if f.component == "database"
        )
        database = state.readings.database
        summary = self.query_one("#database-summary", Static)
        if database is not None and database.error is None:
            self._latest = database
            summary.update(self._summary(database))
            self.query_one("#database-locks", Static).update(lock_tree_text(database))
            self._show_queries(database)
        elif self._latest is not None:
            # The last good data stays on screen, marked with its age.
            summary.update(stale_note(self._latest.taken_at) + self._summary(self._latest))
        self.set_class("database" in state.stale, "-stale")

    @staticmethod
    def _summary(database: DatabaseSnapshot) -> Text:
        states = ", ".join(f"{name} {count}" for name, count in sorted(database.by_state.items()))
        size = (database.size_bytes or 0) / 1024 / 1024
        # The name and the version string are the server's words.
        return inert(
            tr(
                "widget.db.summary",
                database=database.database,
                size=size,
                version=database.version,
                postgis=database.postgis or tr("widget.db.postgis_absent"),
                states=states or tr("widget.db.no_sessions"),
                waiting=database.waiting,
            )
        )

    def _show_queries(self, database: DatabaseSnapshot) -> None:
        if not database.longest and not self.query("#queries-table"):
            return
        labels = {name: tr(key) for name, key in QUERY_COLUMN_KEYS.items()}
        table_in(self, "queries-table", QUERY_COLUMNS, before="#database-action",
                 labels=labels).sync(
            {
                str(query.pid): (
                    Text(str(query.pid)),
                    Text(tr("value.seconds", value=query.duration_ms / 1000)),
                    inert(query.user),
                    inert(query.application),
                    inert(query.state),
                    inert(query.wait),
                    inert(" ".join(query.query.split())[:300]),
                )
                for query in database.longest
            },
        )
