"""The app shell: wires the monitor to the dashboard.  The only core module that
imports Textual; everything it drives is plain asyncio code."""

from __future__ import annotations

import asyncio
import shlex
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from rainbow_tui.config import Config
from screens.dashboard import DashboardScreen
from screens.help import HelpScreen
from screens.logs import LogScreen
from widgets.log_pane import LogPane, stream_summary
from widgets.log_view import LogView

if TYPE_CHECKING:
    from rainbow_tui.incidents.model import Incident
    from rainbow_tui.incidents.runbooks import RunbookCatalog
    from rainbow_tui.incidents.store import IncidentStore
    from rainbow_tui.logs.streams import LogEntry, StreamState
    from rainbow_tui.logs.tail import LogTail
    from rainbow_tui.monitor import Monitor, MonitorState
    from rainbow_tui.sources.service_sources import ServiceSources
    from rainbow_tui.wizard import IncidentWizard
    from screens.incident import IncidentScreen


INCIDENT_SCREEN = "incident"


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
        config: Config,
        read_only: bool = False,
        sources: ServiceSources | None = None,
        autostart: bool = True,
        resume_incident: str | None = None,
    ) -> None:
        super().__init__()
        self.resume_incident = resume_incident
        self.incident_screen: IncidentScreen | None = None
        self.config = config
        # False: show only what is handed to the dashboard (snapshots of fixed states).
        self.autostart = autostart
        self.read_only = read_only
        self.sources = sources
        self.monitor: Monitor | None = None
        self.dashboard = DashboardScreen(config.service.name, read_only)
        self.log_screen = LogScreen(f"{config.service.name} — live logs", config.logs.buffer_lines)
        self.latest: MonitorState | None = None
        self._store: IncidentStore | None = None
        # The sources the monitor polls; the incident runner shares them.
        self.sources_in_use: ServiceSources | None = None
        self.log_tail: LogTail | None = None

    def on_mount(self) -> None:
        # A dropped SSH session sends SIGHUP, a service manager SIGTERM: leave the
        # way `q` does, so the terminal is restored and the demo stack stopped.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.exit)
        # Worker.StateChanged goes to the node that ran the worker and does not
        # bubble: every screen's messages are watched here, so one handler sees the
        # failures of every screen's workers, the screens needing nothing of their own.
        self.screen_change_signal.subscribe(self, self._watch_screen_workers)
        self.push_screen(self.dashboard)
        if self.autostart:
            # Started after the first frame is up: polling opens connections.
            self.call_after_refresh(self._start_monitor)

    def _start_monitor(self) -> None:
        # Imported here: the sources and the monitor are not needed for the first frame.
        from rainbow_tui.actions import DatabaseActions
        from rainbow_tui.job_actions import JobActions
        from rainbow_tui.logs.tail import LogTail
        from rainbow_tui.monitor import Monitor
        from rainbow_tui.sources.service_sources import ServiceSources

        sources = self.sources_in_use or self.sources or ServiceSources(self.config)
        self.sources_in_use = sources
        self.log_tail = LogTail(self.config, sources.targets, self._on_log_batch, self._on_stream)
        self.log_tail.start()
        self.dashboard.log_pane.attach()
        self.monitor = Monitor(
            self.config,
            sources,
            self._on_state,
            on_failure=self._on_failure,
            request_stats=self.log_tail.request_snapshot,
        )
        if sources.link is not None:
            self.dashboard.actions = DatabaseActions(sources.link)
        if sources.queue_link is not None:
            # Solid Queue's own database; the classes' limits_concurrency from config.
            self.dashboard.job_actions = JobActions(
                sources.queue_link, self.config.queue.concurrency
            )
        self.monitor.start()
        self._resume_open_incident()

    def _watch_screen_workers(self, screen: Screen[object]) -> None:
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

    def _on_state(self, state: MonitorState) -> None:
        self.latest = state
        self.dashboard.show_state(state)

    def _on_log_batch(self, batch: list[LogEntry]) -> None:
        self.dashboard.log_pane.log_view.add_entries(batch)
        self.log_screen.log_view.add_entries(batch)

    def _on_stream(self, state: StreamState) -> None:
        if self.log_tail is None:
            return
        summary = stream_summary(self.log_tail.states.values(), len(self.log_tail.streams))
        self.dashboard.log_pane.show_streams(summary)
        self.log_screen.tail_title = f"{self.config.service.name} — {summary}"

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

    def _incident_store(self) -> IncidentStore:
        from rainbow_tui.config import expand_path
        from rainbow_tui.incidents.store import IncidentStore

        if self._store is None:
            self._store = IncidentStore(expand_path(self.config.incidents.state_dir))
        return self._store

    def _catalog(self) -> RunbookCatalog:
        from rainbow_tui.config import expand_path
        from rainbow_tui.incidents.runbooks import load_runbooks

        team = self.config.incidents.runbooks_dir
        catalog = load_runbooks(expand_path(team) if team else None)
        for problem in catalog.problems:
            self.notify(
                f"Runbook not loaded: {problem}", severity="warning", timeout=10, markup=False
            )
        return catalog

    def _wizard_for(self, incident: Incident, catalog: RunbookCatalog) -> IncidentWizard:
        from rainbow_tui.incidents.runner import CommandRunner, findings_probe
        from rainbow_tui.wizard import IncidentWizard

        if self.sources_in_use is None:  # an incident started before the first poll
            from rainbow_tui.sources.service_sources import ServiceSources

            self.sources_in_use = self.sources or ServiceSources(self.config)
        sources = self.sources_in_use
        runner = CommandRunner(
            self.config,
            read_only=self.read_only,
            sources=sources,
            metric_probe=findings_probe(self.config, sources),
        )
        runbook = catalog.get(incident.runbook) or catalog.pick("")
        return IncidentWizard(self.config, self._incident_store(), runner, runbook, incident)

    def _open_incident(self, incident: Incident, catalog: RunbookCatalog) -> None:
        from screens.incident import IncidentScreen

        if self.is_screen_installed(INCIDENT_SCREEN):
            self.uninstall_screen(INCIDENT_SCREEN)
        self.incident_screen = IncidentScreen(
            self._wizard_for(incident, catalog), read_only=self.read_only
        )
        # Installed, so going back to the dashboard keeps it (and its output) alive.
        self.install_screen(self.incident_screen, INCIDENT_SCREEN)
        self.push_screen(INCIDENT_SCREEN)

    def _resume_open_incident(self) -> None:
        """Back to the incident in hand: the one asked for, or the newest still open."""
        from rainbow_tui.incidents.store import StoreError

        if self.incident_screen is not None:
            return  # one is in hand already (started before the first poll)
        store = self._incident_store()
        wanted = self.resume_incident
        try:
            if wanted is None:
                still_open = [s for s in store.list() if s.status != "closed"]
                if not still_open:
                    return
                wanted = max(still_open, key=lambda s: s.opened_at).id
            opened = store.open(wanted)
        except StoreError as error:
            self.notify(f"Could not resume {wanted}: {error}", severity="error", markup=False)
            return
        if not opened.writable:
            self.notify(
                f"{wanted} is being recorded by {opened.held_by}: shown read-only",
                severity="warning",
                markup=False,
            )
        self._open_incident(opened.incident, self._catalog())
        self.notify(
            f"Resumed incident {wanted} at step {opened.incident.current_step + 1}", markup=False
        )

    def action_start_incident(self, alert_key: str | None = None) -> None:
        """An incident from the most urgent alert (or the one named), else a general one."""
        from rainbow_tui.incidents.model import new_incident
        from rainbow_tui.incidents.store import StoreError

        if (
            self.incident_screen is not None
            and self.incident_screen.wizard.incident.status != "closed"
        ):
            self.action_show_incident()
            return
        state = self.latest
        alerts = state.alerts if state else ()
        alert = next((a for a in alerts if a.key == alert_key), alerts[0] if alerts else None)
        catalog = self._catalog()
        runbook = catalog.pick(alert.key if alert else "")
        store = self._incident_store()
        incident = new_incident(
            runbook=runbook,
            alert=alert,
            findings=state.findings if state else (),
            taken_ids=store.ids(),
        )
        try:
            incident = store.create(incident)
        except StoreError as error:
            self.notify(f"Could not record the incident: {error}", severity="error", markup=False)
            return
        self._open_incident(incident, catalog)

    def on_log_view_pin_requested(self, event: LogView.PinRequested) -> None:
        """`p` on a log line: it goes on the active incident's timeline as evidence."""
        from rainbow_tui.incidents.store import StoreError
        from rainbow_tui.logs.buffer import entry_text

        wizard = self.incident_screen.wizard if self.incident_screen else None
        if wizard is None or wizard.incident.status == "closed":
            self.notify("No incident in hand: press i to start one", severity="warning")
            return
        line = event.line
        title = f"Log line from {line.host}/{line.container}"
        try:
            wizard.pin("log_lines", title, entry_text(line))
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.notify(f"Pinned to {wizard.incident.id}", markup=False)

    def on_dashboard_screen_action_done(self, event: DashboardScreen.ActionDone) -> None:
        """What a dashboard action did goes on the open incident's timeline."""
        from rainbow_tui.incidents.store import StoreError

        wizard = self.incident_screen.wizard if self.incident_screen else None
        if wizard is None or wizard.incident.status == "closed":
            return
        try:
            wizard.add_note(f"Dashboard action: {event.text}")
        except StoreError as error:
            self.notify(
                f"Not recorded on {wizard.incident.id}: {error}", severity="error", markup=False
            )

    def action_show_incident(self) -> None:
        if self.incident_screen is not None and self.screen is not self.incident_screen:
            self.push_screen(INCIDENT_SCREEN)

    def _on_failure(self, source: str, error: Exception) -> None:
        self.log.error(f"polling {source} failed", error)
        self.notify(
            f"Polling {source} failed: {type(error).__name__}: {error}",
            severity="error",
            timeout=10,
            markup=False,
        )

    async def on_unmount(self) -> None:
        if self._store is not None:
            self._store.close()  # let the next console record into the incident
        if self.incident_screen is not None:
            await self.incident_screen.wizard.runner.close()
        if self.log_tail is not None:
            await self.log_tail.stop()
        if self.monitor is not None:
            await self.monitor.stop()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_refresh_now(self) -> None:
        if self.monitor is not None:
            self.monitor.refresh_now()
            self.notify("Refreshing every source", timeout=2)

    def action_toggle_pause(self) -> None:
        if self.monitor is not None:
            self.monitor.set_paused(not self.monitor.paused)
            self.notify("Polling paused" if self.monitor.paused else "Polling resumed", timeout=2)

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
        state = self.latest
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
        from rainbow_tui.incidents.appendix import APPENDIX, kamal_command_line
        from screens.confirm import ConfirmScreen

        entry = next((e for e in APPENDIX if e.id == command_id), None)
        if entry is None:
            return
        if entry.changes and self.read_only:
            self.notify(
                f"Not under --read-only: {entry.title_en}", severity="warning", markup=False
            )
            return
        shown = shlex.join(kamal_command_line(self.config.kamal, entry.argv, shown=True))
        if not entry.changes:
            self._run_appendix(command_id)
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._run_appendix(command_id)

        self.push_screen(ConfirmScreen(f"Run {entry.title_en}?", shown), answered)

    def _run_appendix(self, command_id: str) -> None:
        from textual.app import SuspendNotSupported

        from rainbow_tui.config import expand_path
        from rainbow_tui.incidents import model
        from rainbow_tui.incidents.appendix import (
            APPENDIX,
            kamal_command_line,
            record_finished,
            record_started,
            run_on_terminal,
        )
        from rainbow_tui.incidents.store import StoreError

        entry = next(e for e in APPENDIX if e.id == command_id)
        kamal = self.config.kamal
        argv = kamal_command_line(kamal, entry.argv)
        shown = shlex.join(kamal_command_line(kamal, entry.argv, shown=True))
        wizard = self.incident_screen.wizard if self.incident_screen else None
        if wizard is not None and wizard.incident.status == "closed":
            wizard = None
        started = None
        try:
            if wizard is not None:
                step = min(wizard.step_index, len(wizard.runbook.steps) - 1)
                started = record_started(wizard.incident, step, shown, entry.changes)
                wizard.record(started)
            with self.suspend():
                result = run_on_terminal(argv, shown, str(expand_path(kamal.workdir)),
                                         wait_for_enter=not entry.interactive)
        except SuspendNotSupported:
            if wizard is not None and started is not None:
                wizard.record(model.command_finished(
                    wizard.incident, started, "not_run",
                    excerpt="not run: this terminal could not be handed over"))
            self.notify(f"This terminal cannot be handed over: run {shown} yourself",
                        severity="warning", markup=False)
            return
        except StoreError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        finally:
            self.refresh()
        if wizard is not None and started is not None:
            try:
                wizard.record(record_finished(wizard.incident, started, result,
                                              entry.interactive))
            except StoreError as error:
                self.notify(str(error), severity="error", markup=False)
        self.notify(f"{shown} exited {result.exit_code}", markup=False)


def make_app(
    config: Config,
    read_only: bool = False,
    sources: ServiceSources | None = None,
    autostart: bool = True,
    resume_incident: str | None = None,
) -> RainbowApp:
    """The one factory the CLI and the tests share."""
    return RainbowApp(
        config,
        read_only=read_only,
        sources=sources,
        autostart=autostart,
        resume_incident=resume_incident,
    )
