"""The dashboard: is Shiojiri Rainbow Seeker healthy, and if not, what is wrong.

Four panes.  At 120 columns and more they sit in a 2×2 grid; below that one pane
fills the screen and 1–4 switch between them, so every pane stays readable at 80×24.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from rainbow_tui.text import N_, current_language, tr
from rainbow_tui.upkeep.due import due_summary
from widgets.action_request import ActionRequest
from widgets.alerts_bar import AlertsBar
from widgets.components_pane import ComponentsPane
from widgets.database_pane import DatabasePane
from widgets.fitted_footer import FittedFooter
from widgets.jobs_pane import JobsPane
from widgets.log_pane import LogPane
from widgets.state_header import StateHeader

if TYPE_CHECKING:
    from rainbow_tui.actions import ActionResult, DatabaseActions
    from rainbow_tui.job_actions import BulkOutcome, FailedSelection, JobActions
    from rainbow_tui.logs.streams import StreamState
    from rainbow_tui.monitor import MonitorState
    from rainbow_tui.session import Session
    from rainbow_tui.upkeep.due import RoutineDue
    from widgets.keyed_rows import KeyedTable

# How often the dashboard looks again at what routine work is due.
ROUTINES_DUE_EVERY_S = 300.0
PANE_IDS = ("components", "logs", "database", "jobs")
# The panes' names by catalogue key, in the order of their keys (1-4).
PANE_TITLES = (
    N_("screen.dashboard.pane.components"),
    N_("screen.dashboard.pane.logs"),
    N_("screen.dashboard.pane.database"),
    N_("screen.dashboard.pane.jobs"),
)
BULK_VERBS = {"retry_failed_class": "retry", "discard_failed_class": "discard"}
# The bulk actions' sentences, by verb.
BULK_KEYS = {
    "retry": {
        "not_counted": N_("screen.dashboard.bulk.retry_not_counted"),
        "confirm": N_("screen.dashboard.bulk.retry_confirm"),
        "progress": N_("screen.dashboard.bulk.retry_progress"),
    },
    "discard": {
        "not_counted": N_("screen.dashboard.bulk.discard_not_counted"),
        "confirm": N_("screen.dashboard.bulk.discard_confirm"),
        "progress": N_("screen.dashboard.bulk.discard_progress"),
    },
}


def action_name(request: ActionRequest) -> str:
    """An action in words, from its confirmation's question ("Retry failed job 42")."""
    return request.title.rstrip("?")


def breakpoint_class(width: int, breakpoints: list[tuple[int, str]]) -> str:
    """The class Textual's ``HORIZONTAL_BREAKPOINTS`` give a screen ``width`` wide."""
    return max(edge for edge in breakpoints if width >= edge[0])[1]


class DashboardScreen(Screen[None]):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 (Textual's type)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane(0)", tr(PANE_TITLES[0]), show=False),
        Binding("2", "pane(1)", tr(PANE_TITLES[1]), show=False),
        Binding("3", "pane(2)", tr(PANE_TITLES[2]), show=False),
        Binding("4", "pane(3)", tr(PANE_TITLES[3]), show=False),
        # First in the footer: what an on-call engineer does here next (the app binds
        # i and ? on every screen; named here too, so they lead).
        Binding("i", "app.start_incident", tr("app.key.incident")),
        Binding("slash", "filter", tr("screen.dashboard.key.filter"), key_display="/"),
        Binding("question_mark", "app.help", tr("app.key.help"), key_display="?"),
        Binding("r", "app.refresh_now", tr("screen.dashboard.key.refresh")),
        # Listed by ? and named by the line of routines due; the footer stays short.
        Binding("R", "app.routine", tr("screen.dashboard.key.routine"), show=False),
        Binding("p", "app.toggle_pause", tr("screen.dashboard.key.pause"), show=False),
        # Decisions about the open alerts (offered while there is one).
        Binding("a", "acknowledge_alert", tr("screen.dashboard.key.acknowledge")),
        Binding("S", "silence_alert", tr("screen.dashboard.key.silence")),
        # Offered only while a bulk job action runs (check_action).
        Binding("C", "cancel_bulk", tr("screen.dashboard.key.cancel_bulk")),
    ]

    class ActionDone(Message):
        """An action changed (or tried to change) the operated system: the app
        puts it on the open incident's timeline."""

        def __init__(self, text: str, ok: bool) -> None:
            super().__init__()
            self.text = text
            self.ok = ok

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.service = session.config.service.name
        self.read_only = session.read_only
        self.current_pane = 0
        # Set while a bulk job action runs; setting it stops it between batches.
        self._bulk_cancel: asyncio.Event | None = None
        # From the count to the outcome: one bulk action at a time.
        self._bulk_busy = False
        self._filter_target: KeyedTable | None = None
        self._state_before_mount: MonitorState | None = None
        self._alerts_open = False
        # A view of the session's one buffer: the lines follow by themselves.
        self.log_pane = LogPane(session.log_buffer, id="logs", classes="pane",
                                frames_per_s=session.config.display.log_frames_per_s)

    @property
    def actions(self) -> DatabaseActions | None:
        """Backend actions once the database is watched; None: none possible."""
        return self.session.database_actions

    @property
    def job_actions(self) -> JobActions | None:
        """Solid Queue's failed jobs and queues, in its own database."""
        return self.session.job_actions

    def _actions_for(self, verb: str) -> DatabaseActions | JobActions | None:
        return self.actions if verb.endswith("_backend") else self.job_actions

    @on(ActionRequest)
    def _confirm_action(self, request: ActionRequest) -> None:
        if self.read_only:
            return
        if self._actions_for(request.verb) is None:
            self.notify(tr("screen.dashboard.no_database"), severity="error", markup=False)
            return
        if request.verb in BULK_VERBS:
            if self._bulk_busy:
                self.notify(
                    tr("screen.dashboard.bulk_busy"),
                    severity="warning",
                    markup=False,
                )
                return
            self._bulk_busy = True
            self.run_worker(
                self._count_then_bulk(request),
                name=action_name(request),
                group="bulk",
                exit_on_error=False,
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                # Named after the action, so that an unexpected failure (reported by
                # the app's one worker-error handler) says which action it was.
                self.run_worker(
                    self._run_action(request),
                    name=action_name(request),
                    group="actions",
                    exit_on_error=False,
                )

        # Loaded at the first question asked: no part of the first frame.
        from screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(request.title, request.target), answered)

    async def _run_action(self, request: ActionRequest) -> None:
        actions = self._actions_for(request.verb)
        assert actions is not None
        result: ActionResult = await getattr(actions, request.verb)(request.argument)
        pane = (
            self.query_one(DatabasePane) if "backend" in request.verb else self.query_one(JobsPane)
        )
        pane.show_action_result(result.ok, result.message)
        self.notify(
            result.message, severity="information" if result.ok else "error", markup=False
        )
        self.post_message(self.ActionDone(result.message, result.ok))
        self.session.refresh_now()

    async def _count_then_bulk(self, request: ActionRequest) -> None:
        try:
            await self._count_confirm_and_run(request)
        finally:
            self._bulk_busy = False

    async def _count_confirm_and_run(self, request: ActionRequest) -> None:
        """Count the class in full, ask with the true number, then work in batches."""
        from rainbow_tui.job_actions import format_count
        from rainbow_tui.sources.postgres_link import DatabaseUnavailable
        from screens.confirm import ConfirmScreen

        assert self.job_actions is not None
        verb = BULK_VERBS[request.verb]
        exception_class = str(request.argument)
        jobs = self.query_one(JobsPane)
        jobs.show_progress(tr("screen.dashboard.bulk.counting", exception=exception_class))
        try:
            selection = await self.job_actions.select_failed_class(exception_class)
        except DatabaseUnavailable as error:
            message = tr(BULK_KEYS[verb]["not_counted"], exception=exception_class, error=error)
            jobs.show_action_result(False, message)
            self.notify(message, severity="error", markup=False)
            return
        if not selection.count:
            message = tr("screen.dashboard.bulk.none_left", exception=exception_class)
            jobs.show_action_result(False, message)
            self.notify(message, severity="warning", markup=False)
            return
        title = tr(BULK_KEYS[verb]["confirm"], count=format_count(selection.count),
                   exception=exception_class)
        target = tr("screen.dashboard.bulk.target", target=request.target,
                    count=format_count(selection.count))
        jobs.show_progress("")
        if not await self.app.push_screen_wait(ConfirmScreen(title, target)):
            return
        await self._run_bulk(verb, selection)

    async def _run_bulk(self, verb: str, selection: FailedSelection) -> None:
        from rainbow_tui.job_actions import format_count

        assert self.job_actions is not None
        jobs = self.query_one(JobsPane)
        cancel = self._bulk_cancel = asyncio.Event()
        self.refresh_bindings()

        def progress(done: int, total: int) -> None:
            share = 100 * done // total if total else 100
            jobs.show_progress(
                tr(BULK_KEYS[verb]["progress"], exception=selection.exception_class,
                   done=format_count(done), total=format_count(total), share=share)
            )

        try:
            if verb == "retry":
                outcome: BulkOutcome = await self.job_actions.retry_failed_class(
                    selection, progress, cancel
                )
            else:
                outcome = await self.job_actions.discard_failed_class(selection, progress, cancel)
        finally:
            self._bulk_cancel = None
            self.refresh_bindings()
        jobs.show_action_result(outcome.ok, outcome.message, partial=not outcome.complete)
        self.notify(outcome.message, severity=outcome.severity, timeout=15, markup=False)
        self.post_message(self.ActionDone(outcome.message, outcome.ok))
        self.session.refresh_now()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_bulk":
            return self._bulk_cancel is not None and not self._bulk_cancel.is_set()
        if action in ("acknowledge_alert", "silence_alert"):
            # In the footer only while there is an alert to decide about: the
            # healthy dashboard's footer keeps its room (? still lists them).
            return self._alerts_open and not self.read_only
        return True

    # -- decisions about the open alerts ----------------------------------------------------

    def _pick_alert(self, question: str, then: Callable[[str], None]) -> None:
        from screens.alert_picker import AlertPickerScreen

        state = self.session.latest
        if state is None or not state.alerts:
            self.notify(tr("screen.dashboard.no_alert"), markup=False)
            return

        def picked(alert_key: str | None) -> None:
            if alert_key is not None:
                then(alert_key)

        self.app.push_screen(
            AlertPickerScreen(question, state.alerts, state.decisions, state.updated_at), picked
        )

    def action_acknowledge_alert(self) -> None:
        """``a``: the console's author is on the alert picked."""
        if self.read_only:
            return

        def acknowledge(alert_key: str) -> None:
            self.run_worker(self._decide(self.session.acknowledge_alert(alert_key)),
                            name=tr("screen.dashboard.worker.acknowledge"),
                            group="alert-decisions", exit_on_error=False)

        self._pick_alert(tr("screen.dashboard.pick.acknowledge"), acknowledge)

    def action_silence_alert(self) -> None:
        """``S``: the alert picked is silenced for the span chosen, for the reason typed."""
        from screens.silence_prompt import SilenceRequest, SilenceScreen

        if self.read_only:
            return

        def ask(alert_key: str) -> None:
            alert = self.session.open_alert(alert_key)
            title = alert.title_text() if alert is not None else alert_key

            def answered(request: SilenceRequest | None) -> None:
                if request is not None:
                    self.run_worker(
                        self._decide(self.session.silence_alert(alert_key, request.span,
                                                                request.reason)),
                        name=tr("screen.dashboard.worker.silence"),
                        group="alert-decisions", exit_on_error=False,
                    )

            self.app.push_screen(SilenceScreen(title), answered)

        self._pick_alert(tr("screen.dashboard.pick.silence"), ask)

    async def _decide(self, deciding: Awaitable[object]) -> None:
        """The decision taken (the app says it on every view), or why not."""
        from rainbow_tui.session import AlertNotOpen

        try:
            await deciding
        except AlertNotOpen:
            self.notify(tr("screen.dashboard.alert_gone"), severity="warning", markup=False)
        except OSError as error:
            self.notify(tr("screen.dashboard.decision_not_recorded", error=error),
                        severity="error", timeout=15, markup=False)

    def action_cancel_bulk(self) -> None:
        if self._bulk_cancel is not None and not self._bulk_cancel.is_set():
            self._bulk_cancel.set()
            self.refresh_bindings()
            self.notify(tr("screen.dashboard.bulk.cancelling"), timeout=5, markup=False)

    def compose(self) -> ComposeResult:
        # The width's class set before the panes mount, so they are styled once for
        # the layout they show; the first resize event then finds it in place.
        self.add_class(breakpoint_class(self.app.size.width, self.HORIZONTAL_BREAKPOINTS))
        yield StateHeader(tr("screen.dashboard.starting"), id="state-header")
        yield AlertsBar("", id="alerts-bar")
        # The routines due or overdue (毎日・週次…) are mounted here once one is.
        yield Static(self._tabs(), id="pane-tabs")
        with Container(id="panes"):
            yield ComponentsPane(id="components", classes="pane -current")
            yield self.log_pane
            yield DatabasePane(id="database", classes="pane", read_only=self.read_only)
            yield JobsPane(id="jobs", classes="pane", read_only=self.read_only)
        # The filter's input line is mounted when / is first pressed (_filter_box).
        yield FittedFooter()

    def on_mount(self) -> None:
        self.set_timer(1.0, self.refresh_routines_due)
        self.set_interval(ROUTINES_DUE_EVERY_S, self.refresh_routines_due)
        if self._state_before_mount is not None:
            self.show_state(self._state_before_mount)
            self._state_before_mount = None

    @work(thread=True, exclusive=True, group="routines-due", exit_on_error=False)
    def refresh_routines_due(self) -> None:
        """The routines' last runs are files: read off the event loop, once the
        session runs (a dashboard of fixed states shows none)."""
        if not self.session.started:
            return
        due = [entry for entry in self.session.routines_due() if entry.state != "done"]
        code = current_language().code
        names = {routine.id: routine.short(code)
                 for routine in self.session.routine_catalog().routines.values()}
        self.app.call_from_thread(self._show_routines_due, due, names)

    def _show_routines_due(self, due: list[RoutineDue], names: dict[str, str]) -> None:
        lines = self.query("#routines-due")
        if not lines and not due:
            return
        if lines:
            line = lines.first(Static)
        else:
            line = Static(id="routines-due")
            self.mount(line, before=self.query_one("#pane-tabs"))
        line.set_class(not due, "-empty")
        line.update(Text(due_summary(due, names)))

    def show_state(self, state: MonitorState) -> None:
        """Every pane from one judged poll."""
        if not self.is_mounted:
            self._state_before_mount = state  # shown once the panes exist
            return
        self.query_one(StateHeader).show(self.service, state, self.read_only)
        self.query_one(AlertsBar).show(state.alerts, state.updated_at, state.decisions)
        if bool(state.alerts) != self._alerts_open:
            self._alerts_open = bool(state.alerts)
            self.refresh_bindings()  # a and S do something now, or no longer
        self.query_one(ComponentsPane).show(state)
        self.query_one(DatabasePane).show(state)
        self.query_one(JobsPane).show(state)

    def start_log_view(self) -> None:
        """The log tail is starting: the pane's view replaces its placeholder."""
        self.log_pane.attach()

    def show_stream_states(self, states: Iterable[StreamState], total: int) -> None:
        """Every log stream's latest state, of ``total`` streams, under the pane."""
        self.log_pane.show_stream_states(states, total)

    def _tabs(self) -> Text:
        tabs = Text()
        for index, title in enumerate(PANE_TITLES):
            if index:
                tabs.append("  ")
            tabs.append(f" {index + 1} {tr(title)} ",
                        "reverse" if index == self.current_pane else "")
        return tabs

    def _show_tabs(self) -> None:
        self.query_one("#pane-tabs", Static).update(self._tabs())

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

    async def action_filter(self) -> None:
        """Filter the focused table (or the current pane's first table)."""
        # Here, not at the top: the DataTable module comes with the first table.
        from widgets.keyed_rows import KeyedTable

        table = self.focused if isinstance(self.focused, KeyedTable) else None
        if table is None:
            pane = self.query_one(f"#{PANE_IDS[self.current_pane]}")
            tables = pane.query(KeyedTable)
            table = tables.first() if tables else None
        if table is None:
            self.notify(tr("screen.dashboard.no_table"), severity="warning", markup=False)
            return
        self._filter_target = table
        box = await self._filter_box()
        box.value = table.filter_text
        box.add_class("-open")
        box.focus()

    async def _filter_box(self) -> Input:
        """The filter's input line, mounted the first time it is wanted: hidden until
        then, it would only cost the first frame the styling of an Input."""
        boxes = self.query("#table-filter")
        if boxes:
            return boxes.first(Input)
        box = Input(placeholder=tr("screen.dashboard.filter_placeholder"), id="table-filter")
        await self.mount(box, before=self.query_one(FittedFooter))
        return box

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
        boxes = self.query("#table-filter")
        box = boxes.first(Input) if boxes else None
        if box is not None and box.has_class("-open"):
            box.value = ""
            self._close_filter()

