"""The app shell: one view of a :class:`~rainbow_tui.session.Session`.

It subscribes to the session and hands each event to the screen that shows it,
through one public method of that screen; it keeps no state of the service or of
an incident (the session has them), so several apps can share one session.  The
only core module that imports Textual; everything it drives is plain asyncio code."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from rainbow_tui.config import Config
from rainbow_tui.levels import severity_word
from rainbow_tui.session import (
    AlertDecided,
    EscalationDueNow,
    HistoryUnavailable,
    IncidentChanged,
    IncidentOpened,
    PollFailed,
    ResumeFailed,
    RunbooksNotLoaded,
    Session,
    SessionEvent,
    SnapshotPublished,
    StreamsChanged,
)
from rainbow_tui.text import N_, current_language, tr
from screens.dashboard import PANE_TITLES, DashboardScreen
from widgets.escalation_banner import EscalationBanner
from widgets.log_pane import LogPane

if TYPE_CHECKING:
    from textual.command import Provider
    from textual.driver import Driver

    from rainbow_tui.alert_causes import RunbookChoice
    from rainbow_tui.command_line import CommandRequest
    from rainbow_tui.incidents.appendix import AppendixCommand
    from rainbow_tui.sources.service_sources import ServiceSources
    from rainbow_tui.wizard import Saving
    from screens.incident_picker import IncidentLine
    from screens.logs import LogScreen
    from widgets.log_view import LogView


INCIDENT_SCREEN = "incident"


def incident_screen_name(incident_id: str) -> str:
    """Each open incident has a screen of its own, installed by this name."""
    return f"{INCIDENT_SCREEN}:{incident_id}"


# -- the app's own sentences, in one place ---------------------------------------------


def no_incident_text() -> str:
    return tr("app.no_incident")


def pinned_text(incident_id: str) -> str:
    return tr("app.pinned", incident=incident_id)


def not_recorded_text(incident_id: str, error: Exception) -> str:
    return tr("app.not_recorded", incident=incident_id, error=error)


def poll_failed_text(source: str, error: Exception) -> str:
    return tr("app.poll_failed", source=source, kind=type(error).__name__, error=error)


def runbook_problem_text(problem: str) -> str:
    return tr("app.runbook_problem", problem=problem)


def resume_failed_text(incident_id: str, error: str) -> str:
    return tr("app.resume_failed", incident=incident_id, error=error)


def resumed_text(incident_id: str, step: int) -> str:
    return tr("app.resumed", incident=incident_id, step=step + 1)


def read_only_incident_text(incident_id: str, held_by: str) -> str:
    return tr("app.read_only_incident", incident=incident_id, holder=held_by)


def incident_not_recorded_text(error: Exception) -> str:
    return tr("app.incident_not_recorded", error=error)


def opened_elsewhere_text(incident_id: str) -> str:
    return tr("app.opened_elsewhere", incident=incident_id)


def pinned_line_title(host: str, container: str) -> str:
    return tr("app.pinned_line_title", host=host, container=container)


def log_screen_title(service: str) -> str:
    return tr("app.log_screen_title", service=service)


def appendix_title(entry: AppendixCommand) -> str:
    """An appendix command's name as the manual has it, in the chosen language."""
    return entry.title_ja if current_language().code == "ja" else entry.title_en


def palette_text(text: str) -> str:
    """Remote text for a command palette entry, shown literally.

    The palette takes only strings and parses them as markup; every "[" escaped
    (Textual's own escape() leaves some, e.g. after "[31m"), control characters
    made visible.
    """
    from rainbow_tui.logs.lines import make_inert

    return make_inert(text).replace("[", "\\[")


def worker_action(worker: Worker[object]) -> str:
    """What a worker was doing, in words: its name as given ("Retry failed job 42"),
    or a method's name made readable ("_run_command" → "run command")."""
    name = worker.name
    if name.isidentifier():
        name = name.strip("_").replace("_", " ")
    return name or tr("app.worker.unnamed")


def worker_failure_text(action: str, error: BaseException | None) -> str:
    """The one line shown when a worker fails: the action, the error's class and words."""
    if error is None:
        return tr("app.worker.failed", action=action)
    return tr("app.worker.failed_because", action=action, kind=type(error).__name__, error=error)


def _route_core_logging_to_textual() -> None:
    """The core's log records go to the running app's log, not to stderr: stderr is
    the terminal the app draws on, where a traceback would tear the screen."""
    import logging

    from textual.logging import TextualHandler

    core = logging.getLogger("rainbow_tui")
    if not any(isinstance(handler, TextualHandler) for handler in core.handlers):
        core.addHandler(TextualHandler(stderr=False))
        core.propagate = False


def _key_commands() -> type[Provider]:
    """The palette's keys by name, loaded when the palette first opens (no part of
    the first frame)."""
    from screens.key_commands import KeyCommands

    return KeyCommands


class RainbowApp(App[int]):
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "rainbow-tui"
    # Textual's entries (get_system_commands) and every key of the screen by name.
    COMMANDS = App.COMMANDS | {_key_commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", tr("app.key.quit")),
        # Textual's ctrl+c only tells how to quit; here it quits as q does, asking
        # first when work would be left (a text field's own ctrl+c still copies).
        Binding("ctrl+c", "quit", tr("app.key.quit"), show=False),
        Binding("question_mark", "help", tr("app.key.help"), key_display="?"),
        Binding("colon", "command_line", tr("app.key.command_line"), key_display=":",
                show=False, tooltip=tr("app.key.command_line_tooltip")),
        Binding("L", "logs", tr("app.key.logs"), show=False),
        Binding("i", "start_incident", tr("app.key.incident")),
        Binding("I", "show_incident", tr("app.key.back_to_incident"), show=False),
        Binding("K", "command_palette", tr("app.key.kamal"), show=False),
        # Given here so the footer's palette key speaks the chosen language too.
        Binding("ctrl+p", "command_palette", tr("app.key.palette"), show=False,
                priority=True, tooltip=tr("app.key.palette_tooltip")),
    ]

    def __init__(
        self,
        session: Session,
        *,
        autostart: bool = True,
        owns_session: bool = True,
        read_only: bool = False,
        driver_class: type[Driver] | None = None,
    ) -> None:
        # What exists by now (modules, classes, the configuration) lives as long as
        # the process: frozen once, out of the collector's reach, so the collections
        # of start-up and exit no longer walk it (a tenth of a second of CPU).
        if not gc.get_freeze_count():
            gc.freeze()
        super().__init__(driver_class=driver_class)
        self.session = session
        # A view may only read where its session could change things (serve's viewers).
        self._read_only = read_only or session.read_only
        # Its own terminal, not one of serve's channels: the process's signals are its.
        self.owns_terminal = driver_class is None
        # False: show only what is handed to the dashboard (snapshots of fixed states).
        self.autostart = autostart
        # An app that made its session stops it when it leaves; a shared one is left
        # to whoever made it (serve mode: the last client out is not the owner).
        self.owns_session = owns_session
        self.dashboard = DashboardScreen(session)
        self.dashboard.read_only = self._read_only
        self._log_screen: LogScreen | None = None
        # The incidents whose screens are installed (one screen per incident).
        self._incident_screens: set[str] = set()
        # A quit is being asked about: q again does not ask twice.
        self._asking_to_quit = False

    def get_default_screen(self) -> Screen[None]:
        # The dashboard is the first screen itself: pushing it over Textual's empty
        # default one would compose, lay out and paint a screen nobody sees.
        return self.dashboard

    @property
    def log_screen(self) -> LogScreen:
        """The full-screen log view, made when first asked for: no part of the first
        frame, it is neither imported nor built before it."""
        if self._log_screen is None:
            from screens.logs import LogScreen

            config = self.session.config
            self._log_screen = LogScreen(
                log_screen_title(config.service.name), self.session.log_buffer,
                frames_per_s=config.display.log_frames_per_s,
            )
        return self._log_screen

    @property
    def config(self) -> Config:
        return self.session.config

    @property
    def read_only(self) -> bool:
        return self._read_only

    def on_mount(self) -> None:
        _route_core_logging_to_textual()
        # A dropped SSH session sends SIGHUP, a service manager SIGTERM: leave the
        # way `q` does, so the terminal is restored and the demo stack stopped.
        if self.owns_terminal:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(signum, self.exit)
        # Worker.StateChanged goes to the node that ran the worker and does not
        # bubble: every screen's messages are watched here, so one handler sees the
        # failures of every screen's workers, the screens needing nothing of their own.
        self.screen_change_signal.subscribe(self, self._watch_screen_workers)
        # The dashboard was the first screen, before anything could be watched.
        self._watch_screen_workers(self.dashboard)
        self.screen_change_signal.subscribe(self, self._place_escalation_banner)
        self._place_escalation_banner(self.dashboard)
        # The ladder's rungs come due by the clock, not by an event alone.
        self.set_interval(1.0, self._show_escalations)
        self.session.subscribe(self._on_session_event)
        self._catch_up()
        self.call_after_refresh(self._after_first_frame)

    def on_load(self) -> None:
        # Until the first frame is up the collector waits: what start-up builds (the
        # screens, their styles) lives on, and collecting it cost ~10 ms of the start.
        gc.disable()

    def _after_first_frame(self) -> None:
        # What start-up built lives on: frozen like the modules before it, so turning
        # the collector back on does not walk it all at once (~2 ms).
        gc.freeze()
        gc.enable()
        if self.autostart:
            # Started after the first frame is up: polling opens connections.
            self._start_session()

    def _start_session(self) -> None:
        self.dashboard.start_log_view()
        self.session.start()

    def _catch_up(self) -> None:
        """A session already running (another view started it): show what it has."""
        session = self.session
        if session.latest is not None:
            self.dashboard.show_state(session.latest)
        for incident_id in session.incident_ids:
            self._install_incident(incident_id)

    def _watch_screen_workers(self, screen: Screen[Any]) -> None:
        signal = screen.message_signal
        signal.unsubscribe(self)  # a screen shown again is watched once, not twice
        signal.subscribe(self, self._on_screen_message, immediate=True)

    def _on_screen_message(self, message: Message) -> None:
        if isinstance(message, Worker.StateChanged):
            self._report_worker(message)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers."""
        self._report_worker(event)

    def _report_worker(self, event: Worker.StateChanged) -> None:
        """An unexpected error in a worker: shown, logged, and the console goes on."""
        if event.state is not WorkerState.ERROR:
            return
        worker = event.worker
        text = worker_failure_text(worker_action(worker), worker.error)
        self.log.error(text, worker.error)
        self.notify(text, severity="error", timeout=15, markup=False)

    # -- the session's news ------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if not self.dashboard.is_mounted:
            # Leaving: the screens are gone before the app's own unmount unsubscribes.
            return
        if isinstance(event, SnapshotPublished):
            self.dashboard.show_state(event.state)
        elif isinstance(event, StreamsChanged):
            # The lines themselves need nothing here: both log views read the
            # session's buffer and follow it.
            self.dashboard.show_stream_states(event.states, event.total)
            self.log_screen.show_stream_states(event.states, event.total)
        elif isinstance(event, PollFailed):
            self.log.error(f"polling {event.source} failed", event.error)
            self.notify(
                poll_failed_text(event.source, event.error),
                severity="error",
                timeout=10,
                markup=False,
            )
        elif isinstance(event, HistoryUnavailable):
            # The file's path and SQLite's words: shown as they are, without markup.
            self.notify(event.message, severity="warning", timeout=10, markup=False)
        elif isinstance(event, RunbooksNotLoaded):
            for problem in event.problems:
                self.notify(
                    runbook_problem_text(str(problem)),
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
        elif isinstance(event, ResumeFailed):
            self.notify(
                resume_failed_text(event.incident_id, event.error), severity="error", markup=False
            )
        elif isinstance(event, IncidentOpened):
            self._incident_opened(event)
            self._show_escalations()
        elif isinstance(event, EscalationDueNow):
            self.bell()
            self._show_escalations()
        elif isinstance(event, IncidentChanged):
            self._show_escalations()  # escalated, or mitigated: the banner may go
        elif isinstance(event, AlertDecided):
            self._alert_decided(event)

    def _alert_decided(self, event: AlertDecided) -> None:
        """Every view hears a decision about an alert; a silence broken by a worse
        alert rings, as a new alert would."""
        from rainbow_tui.alert_decisions import decision_news

        said = decision_news(event.decision)
        if said is None:
            return
        text, severity = said
        if event.decision.ended == "worsened":
            self.bell()
        self.notify(text, severity=severity, timeout=10, markup=False)

    def _incident_opened(self, event: IncidentOpened) -> None:
        self._install_incident(event.incident_id)
        if event.resumed:
            if event.held_by:
                self.notify(
                    read_only_incident_text(event.incident_id, event.held_by),
                    severity="warning",
                    markup=False,
                )
            self.show_incident(event.incident_id)
            self.notify(resumed_text(event.incident_id, event.step), markup=False)

    # -- the escalation ladder -------------------------------------------------------------

    def _place_escalation_banner(self, screen: Screen[Any]) -> None:
        """Every full screen gets the app's banner on top (dialogs and the palette
        stay as they are), showing what is due now."""
        if screen.is_modal:
            return
        if not screen.is_mounted:
            # Pushed a moment ago: its widgets are composed on its first turn.
            screen.call_after_refresh(self._place_escalation_banner, screen)
            return
        if not screen.is_attached:
            # Taken down before its turn came (a quit in the first frame).
            return
        if screen.query(EscalationBanner):
            self._show_escalations()
            return
        banner = EscalationBanner(classes="escalation-banner")
        if screen.children:
            screen.mount(banner, before=0)
        else:
            screen.mount(banner)
        # Its theme's styles are there once it is mounted.
        banner.call_after_refresh(banner.show, self.session.escalations_pending())

    def _show_escalations(self) -> None:
        pending = self.session.escalations_pending()
        for screen in self.screen_stack:
            for banner in screen.query(EscalationBanner):
                banner.show(pending)

    def action_escalate_due(self, incident_id: str, level: int) -> None:
        """The palette's "escalate to L2 — Development lead": that incident, one rung up
        to the rung named (unless someone got there first)."""
        from rainbow_tui.incidents.store import StoreError

        due = next((d for d in self.session.escalations_pending()
                    if d.incident_id == incident_id and d.level == level), None)
        if due is None:
            self.notify(tr("app.escalate.not_due", level=level), markup=False)
            return
        try:
            saving = self.session.escalate(incident_id)
        except StoreError as error:
            self.notify(not_recorded_text(incident_id, error), severity="error", markup=False)
            return
        if saving is not None:
            self.run_worker(
                self._say_once_saved(
                    saving, tr("app.escalate.done", level=due.level, role=due.role), incident_id
                ),
                name=tr("app.worker.escalate"),
                group="incident-save",
                exit_on_error=False,
            )
        self._show_escalations()

    def on_log_pane_open_full(self, event: LogPane.OpenFull) -> None:
        self.push_screen(self.log_screen)
        if event.prompt in ("filter", "search", "save"):
            self.log_screen.call_after_refresh(
                self.log_screen.open_prompt, event.prompt, event.current
            )

    def action_logs(self) -> None:
        if self.screen is not self.log_screen:
            self.push_screen(self.log_screen)

    # -- incidents -----------------------------------------------------------------------

    def _install_incident(self, incident_id: str) -> None:
        """The incident's screen, installed so that going back to the dashboard keeps
        it (and its output) alive; the screens of incidents the session let go (closed,
        then retired) make way once nothing shows them."""
        from screens.incident import IncidentScreen

        held = set(self.session.incident_ids)
        for gone in sorted(self._incident_screens - held):
            name = incident_screen_name(gone)
            if self.is_screen_installed(name) and self.get_screen(name) not in self.screen_stack:
                self.uninstall_screen(name)
                self._incident_screens.discard(gone)
        if incident_id in self._incident_screens:
            return
        self.install_screen(IncidentScreen(self.session, incident_id, read_only=self.read_only),
                            incident_screen_name(incident_id))
        self._incident_screens.add(incident_id)

    def show_incident(self, incident_id: str) -> None:
        """The incident's own screen in front, and the incident in hand: over the
        dashboard, or in place of another incident's screen."""
        from screens.incident import IncidentScreen

        self._install_incident(incident_id)
        self.session.focus_incident(incident_id)
        wanted = self.get_screen(incident_screen_name(incident_id))
        if self.screen is wanted:
            return
        if wanted in self.screen_stack:
            while self.screen is not wanted:
                self.pop_screen()
        elif isinstance(self.screen, IncidentScreen):
            self.switch_screen(wanted)
        else:
            self.push_screen(wanted)

    def action_start_incident(
        self, alert_key: str | None = None, runbook_id: str | None = None
    ) -> None:
        """``i``: the runbook picker, proposing the runbook for the most urgent cause.
        With an alert or a runbook named (the palette's alerts, the command line): an
        incident for that alert's cause, or on that runbook, at once."""
        if alert_key is None and runbook_id is None:
            self.action_choose_runbook()
            return
        self._open_incident(alert_key, runbook_id=runbook_id)

    def action_choose_runbook(self, alert_key: str | None = None) -> None:
        from screens.runbook_picker import RunbookPickerScreen

        choices = self.session.runbook_choices(alert_key)

        def chosen(choice: RunbookChoice | None) -> None:
            if choice is not None:
                self._open_incident(
                    choice.cause.key if choice.cause is not None else None,
                    runbook_id=choice.runbook.id,
                    with_alert=choice.cause is not None,
                )

        self.push_screen(RunbookPickerScreen(tr("app.picker.start"), choices), chosen)

    def _open_incident(
        self, alert_key: str | None, *, runbook_id: str | None = None, with_alert: bool = True
    ) -> None:
        """An incident for the cause (a new one, or the one open for it already, said
        so) in front."""
        from rainbow_tui.incidents.store import StoreError

        session = self.session
        already = session.incident_for(alert_key, runbook_id=runbook_id, with_alert=with_alert)
        try:
            incident_id = session.start_incident(
                alert_key, runbook_id=runbook_id, with_alert=with_alert
            )
        except StoreError as error:
            self.notify(incident_not_recorded_text(error), severity="error", markup=False)
            return
        if already is not None:
            self.notify(tr("app.incident_already_open", incident=incident_id), markup=False)
        self.show_incident(incident_id)

    def action_show_incident(self, incident_id: str | None = None) -> None:
        """``I``: back to the incident; a choice when several are open."""
        from screens.incident import IncidentScreen
        from screens.incident_picker import IncidentPickerScreen

        if incident_id is not None:
            self.show_incident(incident_id)
            return
        session = self.session
        in_front = self.screen.incident_id if isinstance(self.screen, IncidentScreen) else None
        candidates = list(session.open_incident_ids)
        if not candidates and session.current_incident_id is not None:
            candidates = [session.current_incident_id]  # closed, still there to look at
        if in_front is not None and in_front in candidates:
            candidates.remove(in_front)
        if not candidates:
            return
        if len(candidates) == 1:
            self.show_incident(candidates[0])
            return
        # The one in hand first: I then Enter goes back to it.
        current = session.current_incident_id
        candidates.sort(key=lambda one: one != current)

        def chosen(picked: str | None) -> None:
            if picked is not None:
                self.show_incident(picked)

        self.push_screen(IncidentPickerScreen(self._incident_lines(candidates)), chosen)

    def _incident_lines(self, incident_ids: list[str]) -> list[IncidentLine]:
        from rainbow_tui.incidents.timeline import status_word
        from screens.incident_picker import IncidentLine

        lines = []
        for incident_id in incident_ids:
            wizard = self.session.wizard(incident_id)
            incident = wizard.incident
            runbook = wizard.runbook
            title = runbook.title_ja if current_language().code == "ja" else runbook.title_en
            lines.append(IncidentLine(incident_id, incident.title,
                                      status_word(incident.status, current_language()), title))
        return lines

    def on_log_view_pin_requested(self, event: LogView.PinRequested) -> None:
        """`p` on a log line: it goes on the open incident's timeline as evidence."""
        from rainbow_tui.incidents.store import StoreError
        from rainbow_tui.logs.buffer import entry_text
        from rainbow_tui.session import NoIncidentInHand

        line = event.line
        title = pinned_line_title(line.host, line.container)
        try:
            incident_id, saving = self.session.pin("log_lines", title, entry_text(line))
        except NoIncidentInHand:
            self.notify(no_incident_text(), severity="warning", markup=False)
            return
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.run_worker(
            self._say_once_saved(saving, pinned_text(incident_id), incident_id),
            name=tr("app.worker.pin"),
            group="incident-save",
            exit_on_error=False,
        )

    def on_dashboard_screen_action_done(self, event: DashboardScreen.ActionDone) -> None:
        """What a dashboard action did goes on the open incident's timeline."""
        from rainbow_tui.incidents.store import StoreError

        try:
            recorded = self.session.record_dashboard_action(event.text)
        except StoreError as error:
            incident_id = self.session.open_incident_id or ""
            self.notify(not_recorded_text(incident_id, error), severity="error", markup=False)
            return
        if recorded is not None:
            incident_id, saving = recorded
            self.run_worker(
                self._say_once_saved(saving, "", incident_id),
                name=tr("app.worker.record_action"),
                group="incident-save",
                exit_on_error=False,
            )

    async def _say_once_saved(self, saving: Saving, said: str, incident_id: str) -> None:
        """``said`` once the change is on disk; the write's failure otherwise."""
        from rainbow_tui.incidents.store import StoreWriteError

        try:
            await saving
        except StoreWriteError as error:
            self.notify(not_recorded_text(incident_id, error), severity="error", markup=False)
            return
        if said:
            self.notify(said, markup=False)

    async def on_unmount(self) -> None:
        gc.enable()  # left before its first frame was up
        self.session.unsubscribe(self._on_session_event)
        if self.owns_session:
            await self.session.close()

    def action_help(self) -> None:
        """The keys of the screen in front (and of every screen), from its bindings."""
        from screens.help import HelpScreen
        from screens.key_guide import key_groups

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_groups(self.screen)))

    # -- leaving -------------------------------------------------------------------------

    def _reasons_to_stay(self) -> list[str]:
        """What quitting now would leave behind, in words; none: quit at once."""
        from rainbow_tui.incidents.timeline import status_word
        from screens.unsaved_text import unsaved_text_in

        reasons: list[str] = []
        # A view of a shared session (serve's) leaves its incidents with the session.
        for incident_id in self.session.open_incident_ids if self.owns_session else ():
            status = self.session.wizard(incident_id).incident.status
            reasons.append(tr("app.quit.incident_open", incident=incident_id,
                              status=status_word(status, current_language())))
        if unsaved_text_in(self.screen_stack):
            reasons.append(tr("app.quit.unsaved_text"))
        return reasons

    async def action_quit(self) -> None:
        """q, ctrl+c, ctrl+q and the palette's Quit: at once when nothing would be left
        behind, else once the operator says so."""
        from screens.confirm import ConfirmScreen

        if self._asking_to_quit:
            return
        reasons = self._reasons_to_stay()
        if not reasons:
            self.exit()
            return

        def answered(quit_anyway: bool | None) -> None:
            self._asking_to_quit = False
            if quit_anyway:
                self.exit()

        self._asking_to_quit = True
        await self.push_screen(
            ConfirmScreen(tr("app.quit.confirm"), "\n".join(reasons)), answered
        )

    # -- the command line ----------------------------------------------------------------

    def action_command_line(self) -> None:
        """`:` — one line at the bottom (`:incident db-connections`, `:resolve`)."""
        from screens.command_line import CommandLineScreen

        if isinstance(self.screen, CommandLineScreen):
            return
        state = self.session.latest
        alerts = [alert.key for alert in state.alerts] if state else []
        runbooks = list(self.session.catalog.runbooks)
        self.push_screen(CommandLineScreen(runbooks, alerts), self._run_command_line)

    async def _run_command_line(self, request: CommandRequest | None) -> None:
        """What a command line asks for, run as the key that does it would run it."""
        if request is None:
            return
        command, argument = request.command, request.argument
        on_incident = {
            "acknowledge": "anytime('status', 'acknowledged')",
            "mitigate": "anytime('status', 'mitigated')",
            "resolve": "anytime('status', 'resolved')",
            "close": "anytime('status', 'closed')",
            "postmortem": "anytime('postmortem')",
            "escalate": "escalate",
        }
        if command == "incident":
            self._incident_for(argument)
        elif command == "runbook":
            self._incident_on_runbook(argument)
        elif command in on_incident:
            await self._on_incident_screen(on_incident[command])
        elif command == "routine":
            self.action_routine(argument)
        elif command == "logs":
            self.action_logs()
        elif command == "help":
            self.action_help()
        elif command == "quit":
            await self.action_quit()

    def action_routine(self, routine_id: str = "") -> None:
        """`R`, `:routine NAME`, the palette: the Routine screen of ``routine_id``, or of
        the routine most overdue (daily when none is)."""
        from screens.routine import RoutineScreen

        catalog = self.session.routine_catalog()
        if not routine_id:
            due = [entry for entry in self.session.routines_due() if entry.state != "done"]
            due.sort(key=lambda entry: entry.state != "overdue")
            routine_id = due[0].routine if due else next(iter(catalog.ids()), "")
        if catalog.get(routine_id) is None:
            self.notify(tr("app.routine.unknown", name=routine_id,
                           routines=", ".join(catalog.ids())), severity="warning", markup=False)
            return
        self.push_screen(RoutineScreen(self.session, routine_id))

    def _incident_for(self, name: str) -> None:
        """`:incident NAME`: the open alert NAME, or the runbook NAME for the open
        alert it answers best (none: on no alert); no name is the `i` key."""
        state = self.session.latest
        alerts = state.alerts if state else ()
        if not name or any(alert.key == name for alert in alerts):
            self.action_start_incident(name or None)
            return
        self._incident_on_runbook(name)

    def _incident_on_runbook(self, runbook_id: str) -> None:
        runbook = self.session.catalog.get(runbook_id)
        state = self.session.latest
        answered = [
            alert for alert in (state.alerts if state else ())
            if runbook is not None and runbook.match_rank(alert.key) > 0
        ]
        # One open incident per cause: the one open already is shown (and said so).
        self._open_incident(answered[0].key if answered else None, runbook_id=runbook_id,
                            with_alert=bool(answered))

    async def _on_incident_screen(self, action: str) -> None:
        """An incident's action from the command line: on the incident in front, else on
        the open one, brought to the front."""
        from screens.incident import IncidentScreen

        if not isinstance(self.screen, IncidentScreen):
            in_hand = self.session.current_incident_id
            if in_hand is None:
                self.notify(no_incident_text(), severity="warning", markup=False)
                return
            self.show_incident(in_hand)
        screen = self.screen
        if not isinstance(screen, IncidentScreen):
            return
        if screen.is_mounted:
            await screen.run_action(action)
        else:
            # Shown for the first time: the action once its widgets are there.
            screen.call_after_refresh(screen.run_action, action)

    def action_refresh_now(self) -> None:
        if self.session.refresh_now():
            self.notify(tr("app.refreshing"), timeout=2, markup=False)

    def action_toggle_pause(self) -> None:
        if self.session.set_paused(not self.session.paused):
            self.notify(
                tr("app.paused") if self.session.paused else tr("app.resumed_polling"), timeout=2,
                markup=False,
            )

    def action_command_palette(self) -> None:
        """Textual's palette, its search field's hint in the chosen language."""
        from textual.command import CommandPalette

        # CommandPalette.is_open's test, which is typed for App[object] only.
        if self.use_command_palette and not self.screen.has_class("--textual-command-palette"):
            self.push_screen(
                CommandPalette(placeholder=tr("app.palette.placeholder"), id="--command-palette")
            )

    def search_themes(self) -> None:
        """Textual's theme picker, its search field's hint in the chosen language."""
        from textual.command import CommandPalette
        from textual.theme import ThemeProvider

        self.push_screen(
            CommandPalette(providers=[ThemeProvider], placeholder=tr("app.palette.theme_search"))
        )

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # Textual's own entries (theme, quit, keys panel, maximise, screenshot), said
        # again here so that they too speak the chosen language.
        yield SystemCommand(
            tr("app.palette.theme"), tr("app.palette.theme_help"), self.action_change_theme
        )
        yield SystemCommand(tr("app.palette.quit"), tr("app.palette.quit_help"), self.action_quit)
        if screen.query("HelpPanel"):
            yield SystemCommand(tr("app.palette.keys"), tr("app.palette.keys_hide_help"),
                                self.action_hide_help_panel)
        else:
            yield SystemCommand(tr("app.palette.keys"), tr("app.palette.keys_show_help"),
                                self.action_show_help_panel)
        if screen.maximized is not None:
            yield SystemCommand(tr("app.palette.minimize"), tr("app.palette.minimize_help"),
                                screen.action_minimize)
        elif screen.focused is not None and screen.focused.allow_maximize:
            yield SystemCommand(tr("app.palette.maximize"), tr("app.palette.maximize_help"),
                                screen.action_maximize)
        yield SystemCommand(
            tr("app.palette.screenshot"),
            tr("app.palette.screenshot_help"),
            lambda: self.set_timer(0.1, self.deliver_screenshot),
        )
        yield SystemCommand(
            tr("app.palette.refresh"), tr("app.palette.refresh_help"), self.action_refresh_now
        )
        yield SystemCommand(
            tr("app.palette.pause"), tr("app.palette.pause_help"), self.action_toggle_pause
        )
        yield SystemCommand(
            tr("app.palette.help"), tr("app.palette.help_help"), self.action_help
        )
        for index, pane in enumerate(PANE_TITLES):
            yield SystemCommand(
                tr("app.palette.pane", pane=tr(pane)),
                tr("app.palette.pane_help", key=index + 1),
                lambda index=index: self.dashboard.action_pane(index),
            )
        state = self.session.latest
        for alert in state.alerts if state else ():
            yield SystemCommand(
                palette_text(tr("app.palette.alert", title=alert.title_text())),
                tr("app.palette.alert_help", severity=severity_word(alert.severity)),
                lambda key=alert.key: self.action_start_incident(key),
            )
        for due in self.session.escalations_pending():
            yield SystemCommand(
                palette_text(tr("app.palette.escalate", level=due.level, role=due.role)),
                palette_text(tr("app.palette.escalate_help", incident=due.incident_id,
                                contact=due.contact or "—")),
                lambda due=due: self.action_escalate_due(due.incident_id, due.level),
            )
        yield SystemCommand(
            tr("app.palette.incident"), tr("app.palette.incident_help"), self.action_start_incident
        )
        yield SystemCommand(
            tr("app.palette.routine"), tr("app.palette.routine_help"), self.action_routine
        )
        from rainbow_tui.incidents.appendix import APPENDIX

        for entry in APPENDIX:
            if entry.changes and self.read_only:
                continue
            yield SystemCommand(
                tr("app.palette.kamal", title_en=entry.title_en, title_ja=entry.title_ja),
                tr(N_("app.palette.kamal_interactive_help") if entry.interactive
                   else N_("app.palette.kamal_help"), manual=entry.manual),
                lambda command_id=entry.id: self.action_kamal_appendix(command_id),
            )

    def action_kamal_appendix(self, command_id: str) -> None:
        """One of the manual's appendix commands, on the real terminal (付録)."""
        from screens.confirm import ConfirmScreen

        entry = self.session.appendix_command(command_id)
        if entry is None:
            return
        if entry.changes and self.read_only:
            self.notify(
                tr("app.kamal.read_only", title=appendix_title(entry)),
                severity="warning",
                markup=False,
            )
            return
        if not entry.changes:
            self._run_appendix(command_id)
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._run_appendix(command_id)

        shown = self.session.appendix_preview(entry)
        question = tr("app.kamal.confirm", title=appendix_title(entry))
        self.push_screen(ConfirmScreen(question, shown), answered)

    def _run_appendix(self, command_id: str) -> None:
        from textual.app import SuspendNotSupported

        from rainbow_tui.incidents.appendix import run_on_terminal
        from rainbow_tui.incidents.store import StoreError

        entry = self.session.appendix_command(command_id)
        assert entry is not None
        try:
            run = self.session.appendix_started(entry)
            with self.suspend():
                result = run_on_terminal(
                    run.argv, run.shown, run.cwd, wait_for_enter=not entry.interactive
                )
        except SuspendNotSupported:
            try:
                self.session.appendix_not_run(run, tr("app.kamal.not_handed_over"))
            except StoreError as error:
                self.notify(str(error), severity="error", markup=False)
            self.notify(
                tr("app.kamal.run_yourself", command=run.shown),
                severity="warning",
                markup=False,
            )
            return
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        finally:
            self.refresh()
        try:
            self.session.appendix_finished(run, result)
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
        self.notify(tr("app.kamal.exited", command=run.shown, code=result.exit_code), markup=False)


def make_app(
    config: Config,
    read_only: bool = False,
    sources: ServiceSources | None = None,
    autostart: bool = True,
    resume_incident: str | None = None,
    *,
    session: Session | None = None,
    driver_class: type[Driver] | None = None,
) -> RainbowApp:
    """The one factory the CLI and the tests share: an app on a session of its own,
    or a view of ``session`` (shared; whoever made it closes it; ``read_only``: this
    view changes nothing), drawn by ``driver_class`` (None: this process's terminal)."""
    if session is not None:
        return RainbowApp(session, autostart=autostart, owns_session=False,
                          read_only=read_only, driver_class=driver_class)
    own = Session(
        config, read_only=read_only, sources=sources, resume_incident=resume_incident
    )
    return RainbowApp(own, autostart=autostart, owns_session=True)
