"""The dashboard: is Shiojiri Rainbow Seeker healthy, and if not, what is wrong.

Four panes.  At 120 columns and more they sit in a 2×2 grid; below that one pane
fills the screen and 1–4 switch between them, so every pane stays readable at 80×24.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from screens.confirm import ConfirmScreen
from widgets.action_request import ActionRequest
from widgets.alerts_bar import AlertsBar
from widgets.components_pane import ComponentsPane
from widgets.database_pane import DatabasePane
from widgets.jobs_pane import JobsPane
from widgets.keyed_rows import KeyedTable
from widgets.log_pane import LogPane
from widgets.state_header import StateHeader

if TYPE_CHECKING:
    from rainbow_tui.actions import ActionResult, DatabaseActions
    from rainbow_tui.monitor import MonitorState

PANE_IDS = ("components", "logs", "database", "jobs")
PANE_TITLES = ("Components", "Logs", "Database", "Jobs")


class DashboardScreen(Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 (Textual's type)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane(0)", "Components", show=False),
        Binding("2", "pane(1)", "Logs", show=False),
        Binding("3", "pane(2)", "Database", show=False),
        Binding("4", "pane(3)", "Jobs", show=False),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh_now", "Refresh"),
        Binding("p", "toggle_pause", "Pause"),
    ]

    def __init__(self, service: str, read_only: bool) -> None:
        super().__init__()
        self.service = service
        self.read_only = read_only
        self.current_pane = 0
        # Set by the app once the database is watched; None: no actions possible.
        self.actions: DatabaseActions | None = None
        self._filter_target: KeyedTable | None = None
        # Built here, not in compose, so the app can feed it before the first frame.
        self.log_pane = LogPane(id="logs", classes="pane")

    @on(ActionRequest)
    def _confirm_action(self, request: ActionRequest) -> None:
        if self.read_only:
            return
        if self.actions is None:
            self.notify("No database connection: actions are unavailable", severity="error")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(request)

        self.app.push_screen(ConfirmScreen(request.title, request.target), answered)

    @work(exit_on_error=False, group="actions")
    async def _run_action(self, request: ActionRequest) -> None:
        assert self.actions is not None
        result: ActionResult = await getattr(self.actions, request.verb)(request.argument)
        pane = (
            self.query_one(DatabasePane) if "backend" in request.verb else self.query_one(JobsPane)
        )
        pane.show_action_result(result.ok, result.message)
        self.notify(result.message, severity="information" if result.ok else "error")
        self.action_refresh_now()

    def compose(self) -> ComposeResult:
        yield StateHeader("starting…", id="state-header")
        yield AlertsBar("", id="alerts-bar")
        yield Static(id="pane-tabs")
        with Container(id="panes"):
            yield ComponentsPane(id="components", classes="pane -current")
            yield self.log_pane
            yield DatabasePane(id="database", classes="pane", read_only=self.read_only)
            yield JobsPane(id="jobs", classes="pane", read_only=self.read_only)
        yield Input(
            placeholder="filter the focused table (!text hides matches) — Enter keeps, Esc clears",
            id="table-filter",
        )
        yield Footer()

    def on_mount(self) -> None:
        self._show_tabs()

    def show_state(self, state: MonitorState) -> None:
        self.query_one(StateHeader).show(self.service, state, self.read_only)
        self.query_one(AlertsBar).show(state.alerts, state.updated_at)
        self.query_one(ComponentsPane).show(state)
        self.query_one(DatabasePane).show(state)
        self.query_one(JobsPane).show(state)

    def _show_tabs(self) -> None:
        tabs = "  ".join(
            f"[reverse] {index + 1} {title} [/]"
            if index == self.current_pane
            else f" {index + 1} {title} "
            for index, title in enumerate(PANE_TITLES)
        )
        self.query_one("#pane-tabs", Static).update(tabs)

    def action_pane(self, index: int) -> None:
        """Show pane ``index`` (narrow), or focus it; again on a focused pane maximises it."""
        pane = self.query_one(f"#{PANE_IDS[index]}")
        if self.current_pane == index and self.has_class("-wide"):
            if self.maximized is pane:
                self.minimize()
            else:
                self.maximize(pane, container=False)
        elif self.maximized is not None:
            self.minimize()
        for other in self.query(".pane"):
            other.set_class(other is pane, "-current")
        self.current_pane = index
        self._show_tabs()
        focusable = pane.query("DataTable").first() if pane.query("DataTable") else pane
        focusable.focus()

    def action_filter(self) -> None:
        """Filter the focused table (or the current pane's first table)."""
        table = self.focused if isinstance(self.focused, KeyedTable) else None
        if table is None:
            pane = self.query_one(f"#{PANE_IDS[self.current_pane]}")
            tables = pane.query(KeyedTable)
            table = tables.first() if tables else None
        if table is None:
            self.notify("This pane has no table to filter", severity="warning")
            return
        self._filter_target = table
        box = self.query_one("#table-filter", Input)
        box.value = table.filter_text
        box.add_class("-open")
        box.focus()

    @on(Input.Changed, "#table-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_target is not None:
            self._filter_target.set_filter(event.value)

    @on(Input.Submitted, "#table-filter")
    def _filter_done(self) -> None:
        self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#table-filter", Input).remove_class("-open")
        if self._filter_target is not None:
            self._filter_target.focus()

    def key_escape(self) -> None:
        box = self.query_one("#table-filter", Input)
        if box.has_class("-open"):
            box.value = ""
            self._close_filter()

    def action_refresh_now(self) -> None:
        self.app.call_later(self.app.action_refresh_now)  # type: ignore[attr-defined]

    def action_toggle_pause(self) -> None:
        self.app.call_later(self.app.action_toggle_pause)  # type: ignore[attr-defined]
