"""The app shell: one view of a :class:`~rainbow_tui.session.Session`.

It subscribes to the session and hands each event to the screen that shows it,
through one public method of that screen; it keeps no state of the service or of
an incident (the session has them), so several apps can share one session.  The
only core module that imports Textual; everything it drives is plain asyncio code."""

from __future__ import annotations

import asyncio
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
from rainbow_tui.session import (
    IncidentOpened,
    PollFailed,
    ResumeFailed,
    RunbooksNotLoaded,
    Session,
    SessionEvent,
    SnapshotPublished,
    StreamsChanged,
)
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.logs import LogScreen
from widgets.log_pane import LogPane
from widgets.log_view import LogView

if TYPE_CHECKING:
    from rainbow_tui.sources.service_sources import ServiceSources
    from rainbow_tui.wizard import Saving


INCIDENT_SCREEN = "incident"


# -- the app's own sentences, in one place ---------------------------------------------


def no_incident_text() -> str:
    return "No incident in hand: press i to start one"


def pinned_text(incident_id: str) -> str:
    return f"Pinned to {incident_id}"


def not_recorded_text(incident_id: str, error: Exception) -> str:
    return f"Not recorded on {incident_id}: {error}"


def poll_failed_text(source: str, error: Exception) -> str:
    return f"Polling {source} failed: {type(error).__name__}: {error}"


def runbook_problem_text(problem: str) -> str:
    return f"Runbook not loaded: {problem}"


def resume_failed_text(incident_id: str, error: str) -> str:
    return f"Could not resume {incident_id}: {error}"


def resumed_text(incident_id: str, step: int) -> str:
    return f"Resumed incident {incident_id} at step {step + 1}"


def read_only_incident_text(incident_id: str, held_by: str) -> str:
    return f"{incident_id} is being recorded by {held_by}: shown read-only"


def incident_not_recorded_text(error: Exception) -> str:
    return f"Could not record the incident: {error}"


def opened_elsewhere_text(incident_id: str) -> str:
    return f"Incident {incident_id} was opened: I shows it"


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
    return name or "a background task"


def worker_failure_text(action: str, error: BaseException | None) -> str:
    """The one line shown when a worker fails: the action, the error's class and words."""
    if error is None:
        return f"{action} failed"
    return f"{action} failed: {type(error).__name__}: {error}"


def _route_core_logging_to_textual() -> None:
    """The core's log records go to the running app's log, not to stderr: stderr is
    the terminal the app draws on, where a traceback would tear the screen."""
    import logging

    from textual.logging import TextualHandler

    core = logging.getLogger("rainbow_tui")
    if not any(isinstance(handler, TextualHandler) for handler in core.handlers):
        core.addHandler(TextualHandler(stderr=False))
        core.propagate = False


class RainbowApp(App[int]):
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "rainbow-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("L", "logs", "Logs full screen", show=False),
        Binding("i", "start_incident", "Incident"),
        Binding("I", "show_incident", "Back to incident", show=False),
        Binding("K", "command_palette", "Kamal commands", show=False),
    ]

    def __init__(
        self,
        session: Session,
        *,
        autostart: bool = True,
        owns_session: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        # False: show only what is handed to the dashboard (snapshots of fixed states).
        self.autostart = autostart
        # An app that made its session stops it when it leaves; a shared one is left
        # to whoever made it (serve mode: the last client out is not the owner).
        self.owns_session = owns_session
        config = session.config
        self.dashboard = DashboardScreen(session)
        self.log_screen = LogScreen(f"{config.service.name} — live logs", session.log_buffer)
        # Which incident the installed incident screen shows (None: none installed).
        self._incident_shown: str | None = None

    def get_default_screen(self) -> Screen[None]:
        # The dashboard is the first screen itself: pushing it over Textual's empty
        # default one would compose, lay out and paint a screen nobody sees.
        return self.dashboard

    @property
    def config(self) -> Config:
        return self.session.config

    @property
    def read_only(self) -> bool:
        return self.session.read_only

    def on_mount(self) -> None:
        _route_core_logging_to_textual()
        # A dropped SSH session sends SIGHUP, a service manager SIGTERM: leave the
        # way `q` does, so the terminal is restored and the demo stack stopped.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.exit)
        # Worker.StateChanged goes to the node that ran the worker and does not
        # bubble: every screen's messages are watched here, so one handler sees the
        # failures of every screen's workers, the screens needing nothing of their own.
        self.screen_change_signal.subscribe(self, self._watch_screen_workers)
        # The dashboard was the first screen, before anything could be watched.
        self._watch_screen_workers(self.dashboard)
        self.session.subscribe(self._on_session_event)
        self._catch_up()
        if self.autostart:
            # Started after the first frame is up: polling opens connections.
            self.call_after_refresh(self._start_session)

    def _start_session(self) -> None:
        self.dashboard.start_log_view()
        self.session.start()

    def _catch_up(self) -> None:
        """A session already running (another view started it): show what it has."""
        session = self.session
        if session.latest is not None:
            self.dashboard.show_state(session.latest)
        if session.current_incident_id is not None:
            self._install_incident(session.current_incident_id)

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

    def _incident_opened(self, event: IncidentOpened) -> None:
        self._install_incident(event.incident_id)
        if event.resumed:
            if event.held_by:
                self.notify(
                    read_only_incident_text(event.incident_id, event.held_by),
                    severity="warning",
                    markup=False,
                )
            self.push_screen(INCIDENT_SCREEN)
            self.notify(resumed_text(event.incident_id, event.step), markup=False)

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
        it (and its output) alive; another incident's screen makes way."""
        from screens.incident import IncidentScreen

        if self._incident_shown == incident_id:
            return
        if self.is_screen_installed(INCIDENT_SCREEN):
            self.uninstall_screen(INCIDENT_SCREEN)
        self.install_screen(IncidentScreen(self.session, incident_id), INCIDENT_SCREEN)
        self._incident_shown = incident_id

    def action_start_incident(self, alert_key: str | None = None) -> None:
        """An incident from the most urgent alert (or the one named), else a general one."""
        from rainbow_tui.incidents.store import StoreError

        if self.session.open_incident_id is not None:
            self.action_show_incident()
            return
        try:
            incident_id = self.session.start_incident(alert_key)
        except StoreError as error:
            self.notify(incident_not_recorded_text(error), severity="error", markup=False)
            return
        self._install_incident(incident_id)
        self.push_screen(INCIDENT_SCREEN)

    def action_show_incident(self) -> None:
        if self._incident_shown is None:
            return
        if not self.is_screen_installed(INCIDENT_SCREEN):
            return
        if self.screen is not self.get_screen(INCIDENT_SCREEN):
            self.push_screen(INCIDENT_SCREEN)

    def on_log_view_pin_requested(self, event: LogView.PinRequested) -> None:
        """`p` on a log line: it goes on the open incident's timeline as evidence."""
        from rainbow_tui.incidents.store import StoreError
        from rainbow_tui.logs.buffer import entry_text
        from rainbow_tui.session import NoIncidentInHand

        line = event.line
        title = f"Log line from {line.host}/{line.container}"
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
            name="Pin the log line",
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
                name="Record the dashboard action",
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
        self.session.unsubscribe(self._on_session_event)
        if self.owns_session:
            await self.session.close()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh_now(self) -> None:
        if self.session.refresh_now():
            self.notify("Refreshing every source", timeout=2)

    def action_toggle_pause(self) -> None:
        if self.session.set_paused(not self.session.paused):
            self.notify(
                "Polling paused" if self.session.paused else "Polling resumed", timeout=2
            )

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Refresh now", "Poll every source immediately", self.action_refresh_now)
        yield SystemCommand(
            "Pause / resume polling", "Stop or restart polling", self.action_toggle_pause
        )
        yield SystemCommand("Keyboard help", "Every key the console answers to", self.action_help)
        for index, name in enumerate(("Components", "Logs", "Database", "Jobs")):
            yield SystemCommand(
                f"Show {name} pane",
                f"Key {index + 1}",
                lambda index=index: self.dashboard.action_pane(index),
            )
        state = self.session.latest
        for alert in state.alerts if state else ():
            yield SystemCommand(
                palette_text(f"Start incident: {alert.title}"),
                f"{alert.severity} — runs the matching runbook",
                lambda key=alert.key: self.action_start_incident(key),
            )
        yield SystemCommand("Start incident (general)", "Key i", self.action_start_incident)
        from rainbow_tui.incidents.appendix import APPENDIX

        for entry in APPENDIX:
            if entry.changes and self.read_only:
                continue
            yield SystemCommand(
                f"Kamal: {entry.title_en} ({entry.title_ja})",
                f"{entry.manual} — "
                + ("takes the terminal; " if entry.interactive else "")
                + "recorded on the open incident",
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
                f"Not under --read-only: {entry.title_en}", severity="warning", markup=False
            )
            return
        if not entry.changes:
            self._run_appendix(command_id)
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._run_appendix(command_id)

        shown = self.session.appendix_preview(entry)
        self.push_screen(ConfirmScreen(f"Run {entry.title_en}?", shown), answered)

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
                self.session.appendix_not_run(run, "this terminal could not be handed over")
            except StoreError as error:
                self.notify(str(error), severity="error", markup=False)
            self.notify(
                f"This terminal cannot be handed over: run {run.shown} yourself",
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
        self.notify(f"{run.shown} exited {result.exit_code}", markup=False)


def make_app(
    config: Config,
    read_only: bool = False,
    sources: ServiceSources | None = None,
    autostart: bool = True,
    resume_incident: str | None = None,
    *,
    session: Session | None = None,
) -> RainbowApp:
    """The one factory the CLI and the tests share: an app on a session of its own,
    or a view of ``session`` (shared; whoever made it closes it)."""
    if session is not None:
        return RainbowApp(session, autostart=autostart, owns_session=False)
    own = Session(
        config, read_only=read_only, sources=sources, resume_incident=resume_incident
    )
    return RainbowApp(own, autostart=autostart, owns_session=True)
