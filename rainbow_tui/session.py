"""The console's session: one per process, shared by every view of it.

A :class:`Session` owns what the console knows and does — the configuration, the
service sources, the monitor, the log tail with its one :class:`LogBuffer`, the
incident store, the runbook catalogue and the incident wizards — and tells any
number of subscribers what changed through typed events.  Views (one Textual app
per terminal today; one per SSH client in a coming ``serve`` mode) subscribe,
render, and send commands as typed calls; the session polls once however many
views there are.

Subscribers are called on the event loop, in the order they subscribed; one that
raises is logged and the others are still called.  The session imports no Textual.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import shlex
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from rainbow_tui.config import Config, expand_path
from rainbow_tui.logs.buffer import LogBuffer
from rainbow_tui.serve.presence import Presence
from rainbow_tui.text import tr

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from rainbow_tui.actions import DatabaseActions
    from rainbow_tui.alert_causes import AlertGroup, RunbookChoice
    from rainbow_tui.alert_decisions import AlertDecision, AlertDecisions, DecisionLog
    from rainbow_tui.history import HistoryWriter
    from rainbow_tui.incidents.appendix import AppendixCommand, TerminalResult
    from rainbow_tui.incidents.model import CommandStarted, Event, EvidenceKind, Incident
    from rainbow_tui.incidents.runbooks import Command, RunbookCatalog, RunbookProblem
    from rainbow_tui.incidents.runner import CommandResult
    from rainbow_tui.incidents.store import IncidentStore
    from rainbow_tui.job_actions import JobActions
    from rainbow_tui.levels import Alert
    from rainbow_tui.logs.streams import LogEntry, StreamState
    from rainbow_tui.logs.tail import LogTail
    from rainbow_tui.monitor import Monitor, MonitorState
    from rainbow_tui.notify.notifier import Notifier
    from rainbow_tui.sources.service_sources import ServiceSources
    from rainbow_tui.upkeep.catalog import RoutineCatalog
    from rainbow_tui.upkeep.context import Confirm, Progress
    from rainbow_tui.upkeep.due import RoutineDue
    from rainbow_tui.upkeep.run import RoutineRun
    from rainbow_tui.wizard import IncidentWizard, Saving

log = logging.getLogger(__name__)

# How often the open incidents are held against the ladder: a rung is minutes long,
# and a look is a few comparisons per incident.
LADDER_CHECK_S = 1.0


def utc_now() -> datetime:
    return datetime.now(UTC)



# -- events -------------------------------------------------------------------------------
# Frozen msgspec structs, not dataclasses: the same typed, immutable values, made in
# C when the module loads (sixteen frozen dataclasses took ~10 ms of every start).


class SnapshotPublished(msgspec.Struct, frozen=True):
    """The monitor judged a poll: the whole state, for every pane."""

    state: MonitorState


class AlertsChanged(msgspec.Struct, frozen=True):
    """The set of open alerts (keys or severities) differs from the last snapshot's."""

    alerts: tuple[Alert, ...]


class LogBatchAppended(msgspec.Struct, frozen=True):
    """A batch of log entries went into the session's buffer, once, as ``seqs``."""

    entries: tuple[LogEntry, ...]
    first_seq: int
    last_seq: int


class StreamsChanged(msgspec.Struct, frozen=True):
    """A log stream changed state; ``states`` are every stream's latest."""

    states: tuple[StreamState, ...]
    total: int


class PollFailed(msgspec.Struct, frozen=True):
    """A source's poll raised (a bug: sources report failures as data)."""

    source: str
    error: Exception


class RunbooksNotLoaded(msgspec.Struct, frozen=True):
    """Runbook files that could not be used, each with why."""

    problems: tuple[RunbookProblem, ...]


class IncidentOpened(msgspec.Struct, frozen=True):
    """An incident is in hand: started here, or resumed after a restart."""

    incident_id: str
    resumed: bool = False
    # Who records it when this console only reads it ("" when this one writes).
    held_by: str = ""
    step: int = 0


class ResumeFailed(msgspec.Struct, frozen=True):
    incident_id: str
    error: str


class IncidentChanged(msgspec.Struct, frozen=True):
    """A write of the incident ended: what the store holds now is worth showing."""

    incident_id: str


class CommandRunStarted(msgspec.Struct, frozen=True):
    """A command of a step started: the step is claimed by ``by`` until it ends."""

    incident_id: str
    step: int
    preview: str
    by: str = ""


class CommandOutput(msgspec.Struct, frozen=True):
    """One line of a running command's output (already inert and redacted)."""

    incident_id: str
    step: int
    line: str


class CommandRunEnded(msgspec.Struct, frozen=True):
    incident_id: str
    step: int
    result: CommandResult


class EscalationDueNow(msgspec.Struct, frozen=True):
    """A rung of the ladder came due on an open incident not escalated to it: every
    view says so until someone escalates (the record has it once, as EscalationDue)."""

    incident_id: str
    level: int
    role: str
    contact: str


class AlertDecided(msgspec.Struct, frozen=True):
    """An alert was acknowledged or silenced, or a silence ended (its time up, the
    alert worse than when silenced, or resolved): on disk in the log of decisions."""

    decision: AlertDecision


class PresenceChanged(msgspec.Struct, frozen=True):
    """A view opened, closed, or brought another incident to the front: who is
    looking at what is in ``session.presence``."""


class HistoryUnavailable(msgspec.Struct, frozen=True):
    """The history file cannot be used (corrupt, locked, unwritable): trends start
    empty and nothing is kept this run; ``message`` says which file and why."""

    message: str


SessionEvent = (
    SnapshotPublished
    | AlertsChanged
    | LogBatchAppended
    | StreamsChanged
    | PollFailed
    | RunbooksNotLoaded
    | IncidentOpened
    | ResumeFailed
    | IncidentChanged
    | CommandRunStarted
    | CommandOutput
    | CommandRunEnded
    | EscalationDueNow
    | AlertDecided
    | HistoryUnavailable
    | PresenceChanged
)
Subscriber = Callable[[SessionEvent], None]


class NoIncidentInHand(Exception):
    """A command for the open incident while none is open."""


class AlertNotOpen(KeyError):
    """A decision about an alert that is not open (any more)."""


class AppendixRun(msgspec.Struct, frozen=True):
    """An appendix command about to take the terminal, and its record (if any)."""

    entry: AppendixCommand
    argv: tuple[str, ...]
    shown: str
    cwd: str
    incident_id: str | None = None
    started: CommandStarted | None = None


def _log_close_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("closing a finished incident's runner failed", exc_info=task.exception())


def _log_decision_failure(writing: asyncio.Future[None]) -> None:
    if not writing.cancelled() and writing.exception() is not None:
        log.error("writing alert decisions failed", exc_info=writing.exception())


def _alert_identity(alerts: tuple[Alert, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((alert.key, alert.severity) for alert in alerts)


class Session:
    def __init__(
        self,
        config: Config,
        *,
        read_only: bool = False,
        sources: ServiceSources | None = None,
        resume_incident: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        # What time it is for the ladder (a test gives a fixed one).
        self.clock = clock
        self.read_only = read_only
        self.resume_incident = resume_incident
        self._given_sources = sources
        self._sources: ServiceSources | None = None
        # Each with the context it subscribed from, which it is called in: a view's
        # (Textual's active app, a served responder's name) whoever publishes.
        self._subscribers: list[tuple[Subscriber, contextvars.Context]] = []
        # The one buffer of log lines: each batch goes in once, every view reads it.
        self.log_buffer = LogBuffer(config.logs.buffer_lines)
        self.monitor: Monitor | None = None
        self.log_tail: LogTail | None = None
        # The measurements kept across restarts (off the event loop); None until start.
        self.history: HistoryWriter | None = None
        self.latest: MonitorState | None = None
        self.database_actions: DatabaseActions | None = None
        self.job_actions: JobActions | None = None
        # Tells PagerDuty and Slack; None while [notify] configures neither.
        self.notifier: Notifier | None = None
        self._store: IncidentStore | None = None
        self._catalog: RunbookCatalog | None = None
        # Incident id → its wizard, several open side by side; ``_current`` is the
        # one in hand (last started or shown).
        self._wizards: dict[str, IncidentWizard] = {}
        self._current: str | None = None
        self._started = False
        self._closed = False
        self._ladder_watch: asyncio.Task[None] | None = None
        # (incident, level) announced by this session: once each, even for an
        # incident another console records (this one cannot record it then).
        self._announced: set[tuple[str, int]] = set()
        # Who looks at which incident, over every view of this session.
        self.presence = Presence(lambda: self._publish(PresenceChanged()))
        # Incident id → the command running on it and who started it.
        self._claims: dict[str, CommandRunStarted] = {}
        # Acknowledged and silenced alerts, from their log (loaded at start); the
        # log's writes go one after the other on a thread of their own.
        self._alert_decisions: AlertDecisions | None = None
        self._decision_log: DecisionLog | None = None
        self._decision_writer: ThreadPoolExecutor | None = None
        # Sends to PagerDuty about alert decisions, until they end.
        self._alert_sends: set[asyncio.Task[None]] = set()

    # -- subscribing ----------------------------------------------------------------

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every event from now on; returns the unsubscribe."""
        self._subscribers.append((subscriber, contextvars.copy_context()))
        return lambda: self.unsubscribe(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        for entry in self._subscribers:
            if entry[0] == subscriber:
                self._subscribers.remove(entry)
                return

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _publish(self, event: SessionEvent) -> None:
        for subscriber, context in tuple(self._subscribers):
            try:
                # A copy: a subscriber that publishes in turn enters a context of its own.
                context.copy().run(subscriber, event)
            except Exception:
                # One broken view must not leave the others without the news.
                log.exception("a session subscriber failed on %s", type(event).__name__)

    # -- running --------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._started

    @property
    def sources(self) -> ServiceSources:
        """The sources the monitor polls; the incident runner shares them."""
        if self._sources is None:
            from rainbow_tui.sources.service_sources import ServiceSources

            self._sources = self._given_sources or ServiceSources(self.config)
        return self._sources

    def start(self) -> None:
        """Start polling and tailing (once, however many views ask), then resume the
        incident asked for or the newest still open."""
        if self._started or self._closed:
            return
        self._started = True
        # Imported here: nothing of this is needed for a view's first frame.
        from rainbow_tui.actions import DatabaseActions
        from rainbow_tui.job_actions import JobActions
        from rainbow_tui.logs.tail import LogTail
        from rainbow_tui.monitor import Monitor

        sources = self.sources
        self.log_tail = LogTail(self.config, sources.targets, self._on_log_batch, self._on_stream)
        self.log_tail.start()
        self.monitor = Monitor(
            self.config,
            sources,
            self._on_state,
            on_failure=self._on_poll_failure,
            request_stats=self.log_tail.request_snapshot,
            remedy_verified=self.remedy_verified_at,
        )
        if sources.link is not None:
            self.database_actions = DatabaseActions(sources.link)
        if sources.queue_link is not None:
            # Solid Queue's own database; the classes' limits_concurrency from config.
            self.job_actions = JobActions(sources.queue_link, self.config.queue.concurrency)
        self._start_history()
        self._load_alert_decisions()
        self.monitor.start()
        self._start_notifier()
        self._resume_open_incident()
        self._ladder_watch = asyncio.get_running_loop().create_task(
            self._watch_ladder(), name="ladder-watch"
        )

    async def close(self) -> None:
        """Stop everything; pending incident writes are tried once more."""
        if self._closed:
            return
        self._closed = True
        for send in tuple(self._alert_sends):
            send.cancel()
        if self.notifier is not None:
            await self.notifier.close()
        if self._decision_writer is not None:
            # The decisions already taken reach the disk before the console goes.
            await asyncio.get_running_loop().run_in_executor(None, self._decision_writer.shutdown)
        if self._ladder_watch is not None:
            self._ladder_watch.cancel()
        for wizard in self._wizards.values():
            wizard.stop_retrying()
        if self._store is not None:
            self._store.close()  # let the next console record into the incident
        for wizard in self._wizards.values():
            await wizard.runner.close()
        if self.log_tail is not None:
            await self.log_tail.stop()
        if self.monitor is not None:
            await self.monitor.stop()
        if self.history is not None:
            await self.history.close()

    def _on_state(self, state: MonitorState) -> None:
        state = self._review_alert_decisions(state)
        previous = self.latest
        self.latest = state
        if self.history is not None:
            self._keep_history(state)
        self._publish(SnapshotPublished(state))
        if previous is None or _alert_identity(previous.alerts) != _alert_identity(state.alerts):
            self._publish(AlertsChanged(state.alerts))

    # -- history ------------------------------------------------------------------------

    def _start_history(self) -> None:
        """Open the history on its thread and seed the trends from it: its first job,
        so it reads before this run writes anything."""
        from rainbow_tui.history import HistoryWriter, open_history

        config = self.config
        self.history = HistoryWriter(lambda: open_history(config))
        asyncio.get_running_loop().create_task(self._seed_trends(), name="history-seed")

    async def _seed_trends(self) -> None:
        from rainbow_tui.history import DERIVED_METRICS
        from rainbow_tui.monitor import HISTORY_POINTS

        history, monitor = self.history, self.monitor
        if history is None or monitor is None:
            return
        seeded = await history.recent(None, HISTORY_POINTS)
        for key, values in seeded.items():
            if key in DERIVED_METRICS:
                continue
            # The minutes before this run, then whatever this run measured already.
            live = monitor.history.get(key, ())
            monitor.history[key] = deque((*values, *live), maxlen=HISTORY_POINTS)
        if seeded and self.latest is not None:
            # The views draw the seeded trends now, not at the next poll (minutes away
            # for a slow source).
            trends = {key: tuple(values) for key, values in monitor.history.items()}
            self.latest = replace(self.latest, history=trends)
            self._publish(SnapshotPublished(self.latest))
        self._history_failed()

    def _keep_history(self, state: MonitorState) -> None:
        from rainbow_tui.history import points_of

        assert self.history is not None
        self.history.submit(points_of(state.findings, state.readings))
        self._history_failed()

    def _history_failed(self) -> None:
        """Say once that the history is off, when it failed."""
        history = self.history
        if history is not None and history.failure is not None and not history.failure_told:
            history.failure_told = True
            self._publish(HistoryUnavailable(history.failure))

    def _on_log_batch(self, batch: list[LogEntry]) -> None:
        seqs = self.log_buffer.append_many(batch)
        if not seqs:
            return
        self._publish(LogBatchAppended(tuple(batch), seqs.start, seqs.stop - 1))

    def _on_stream(self, _state: StreamState) -> None:
        if self.log_tail is not None:
            states = tuple(self.log_tail.states.values())
            self._publish(StreamsChanged(states, len(self.log_tail.streams)))

    def _on_poll_failure(self, source: str, error: Exception) -> None:
        log.error("polling %s failed", source, exc_info=error)
        self._publish(PollFailed(source, error))

    # -- the escalation ladder ----------------------------------------------------------

    async def _watch_ladder(self) -> None:
        while True:
            await asyncio.sleep(LADDER_CHECK_S)
            try:
                self.check_escalations()
            except Exception:
                # A failed look must not end the watch: the next second looks again.
                log.exception("checking the escalation ladder failed")

    def check_escalations(self, now: datetime | None = None) -> list[EscalationDueNow]:
        """Hold every open incident against the ladder at ``now``: each rung come due
        is recorded once (where this console records the incident), announced once,
        and escalated to when ``[incidents] auto_escalate`` says so.  Returns what
        was announced."""
        from rainbow_tui.incidents.model import IncidentRuleError
        from rainbow_tui.incidents.store import StoreError

        at = now if now is not None else self.clock()
        announced: list[EscalationDueNow] = []
        for incident_id, wizard in tuple(self._wizards.items()):
            writable = self.store.access(incident_id) == "write"
            try:
                if writable:
                    rungs, _saving = wizard.record_escalations_due(at)
                else:
                    rungs = wizard.rungs_come_due(at)
                for rung in rungs:
                    if (incident_id, rung.level) in self._announced:
                        continue
                    self._announced.add((incident_id, rung.level))
                    due = EscalationDueNow(incident_id, rung.level, rung.role, rung.contact)
                    announced.append(due)
                    self._publish(due)
                # Paged by itself only while nobody has acknowledged the incident.
                if (writable and rungs and self.config.incidents.auto_escalate
                        and wizard.incident.status == "detected"):
                    self._escalate_due(wizard, at)
            except (StoreError, IncidentRuleError):
                # Kept in memory and retried by the wizard, or refused: the next look
                # sees the rung again if it was not recorded.
                log.exception("recording a due escalation of %s failed", incident_id)
        return announced

    def _escalate_due(self, wizard: IncidentWizard, at: datetime) -> None:
        """Up the ladder rung by rung to the last one come due, each an escalation of
        its own (each is paged)."""
        while (rung := wizard.pending_escalation(at)) is not None:
            wizard.escalate(tr("session.escalation.automatic", minutes=rung.within_minutes))

    def escalations_pending(self, now: datetime | None = None) -> list[EscalationDueNow]:
        """For each open incident, the next rung up when its time has passed: what the
        views announce until someone escalates."""
        at = now if now is not None else self.clock()
        pending: list[EscalationDueNow] = []
        for incident_id, wizard in self._wizards.items():
            rung = wizard.pending_escalation(at)
            if rung is not None:
                pending.append(EscalationDueNow(incident_id, rung.level, rung.role, rung.contact))
        return pending

    def escalate(self, incident_id: str, note_text: str = "") -> Saving | None:
        """Escalate the incident to its next rung; None at the top of the ladder.
        Raises ``KeyError`` for an incident not held, ``StoreError`` when it cannot
        be recorded."""
        return self._wizards[incident_id].escalate(note_text)

    def remedy_verified_at(self) -> datetime | None:
        """When a remedy last passed its verification on an incident still open: after
        it, a windowed alert still above its line is recovering."""
        from rainbow_tui.incidents.model import VerificationRecorded

        latest: datetime | None = None
        for wizard in self._wizards.values():
            incident = wizard.incident
            if incident.status == "closed":
                continue
            times = incident.effective_times()
            for event in incident.events:
                if isinstance(event, VerificationRecorded) and event.passed:
                    at = times.get(event.id, event.at)
                    latest = at if latest is None or at > latest else latest
        return latest

    # -- alert decisions: acknowledged, silenced ------------------------------------------

    def _load_alert_decisions(self) -> None:
        """The decisions of earlier runs, from their log (a file of a few kB)."""
        from concurrent.futures import ThreadPoolExecutor

        from rainbow_tui.alert_decisions import AlertDecisions, DecisionLog, decision_log_path

        self._decision_log = DecisionLog(decision_log_path(self.config))
        self._decision_writer = ThreadPoolExecutor(1, thread_name_prefix="alert-decisions")
        try:
            self._alert_decisions = self._decision_log.load()
        except OSError:
            log.exception("reading %s failed; no decision is in force", self._decision_log.path)
            self._alert_decisions = AlertDecisions()

    @property
    def alert_decisions(self) -> AlertDecisions:
        if self._alert_decisions is None:
            self._load_alert_decisions()
        assert self._alert_decisions is not None
        return self._alert_decisions

    def _write_decisions(self, decisions: list[AlertDecision]) -> asyncio.Future[None]:
        """On disk in the order taken (one writer thread); the future says when."""
        if self._decision_writer is None or self._decision_log is None:
            self._load_alert_decisions()
        assert self._decision_writer is not None and self._decision_log is not None
        return asyncio.get_running_loop().run_in_executor(
            self._decision_writer, self._decision_log.append, decisions
        )

    def _review_alert_decisions(self, state: MonitorState) -> MonitorState:
        """Silences past their time or broken through by a worse alert end, resolved
        alerts are cleared (each on disk, a break-through on its incident too); the
        state carries what is in force for the views."""
        import msgspec

        book = self.alert_decisions
        taken = [
            # A break-through is said on the alert's incident too.
            msgspec.structs.replace(d, incident=self.incident_of_alert(d.alert) or "")
            if d.ended == "worsened" else d
            for d in book.review(state.alerts, state.findings, state.updated_at,
                                 author="rainbow-tui")
        ]
        if taken:
            writing = self._write_decisions(taken)
            writing.add_done_callback(_log_decision_failure)
            for decision in taken:
                if decision.kind == "silence_ended" and decision.ended == "worsened":
                    self._note_alert_decision(decision)  # written by the wizard
                self._publish(AlertDecided(decision))
        return replace(state, decisions=book.shown(state.alerts))

    def open_alert(self, alert_key: str) -> Alert | None:
        state = self.latest
        return next((a for a in state.alerts if a.key == alert_key), None) if state else None

    def incident_of_alert(self, alert_key: str) -> str | None:
        """The open incident this console records that was opened for the alert or
        holds it as related: where decisions about it also go."""
        for incident_id in self.open_incident_ids:
            incident = self._wizards[incident_id].incident
            keys = {a.key for a in (incident.alert, *incident.related_alerts) if a is not None}
            if alert_key in keys and self.store.access(incident_id) == "write":
                return incident_id
        return None

    async def acknowledge_alert(self, alert_key: str) -> AlertDecision:
        """The console's author is on the alert: on disk, on its incident's timeline
        (if any), shown by every view and sent to PagerDuty where configured.  Raises
        ``AlertNotOpen``, or ``OSError`` when the log cannot be written."""
        from rainbow_tui.alert_decisions import acknowledgement
        from rainbow_tui.incidents.model import current_author

        alert = self.open_alert(alert_key)
        if alert is None:
            raise AlertNotOpen(alert_key)
        decision = acknowledgement(alert, current_author(), self.clock(),
                                   self.incident_of_alert(alert_key) or "")
        await self._take(decision)
        return decision

    async def silence_alert(
        self, alert_key: str, span: timedelta | None, reason: str
    ) -> AlertDecision:
        """Silenced for ``span`` (None: until it resolves) for ``reason``; otherwise as
        :meth:`acknowledge_alert`."""
        from rainbow_tui.alert_decisions import silencing
        from rainbow_tui.incidents.model import current_author

        alert = self.open_alert(alert_key)
        if alert is None:
            raise AlertNotOpen(alert_key)
        if not reason.strip():
            raise ValueError("a silence needs a reason")
        decision = silencing(alert, current_author(), self.clock(), span, reason,
                             self.incident_of_alert(alert_key) or "")
        await self._take(decision)
        return decision

    async def _take(self, decision: AlertDecision) -> None:
        await self._write_decisions([decision])
        self.alert_decisions.apply(decision)
        noted, note_id = self._note_alert_decision(decision)
        if noted is not None:
            try:
                await noted
            except Exception:
                # Kept pending and retried by the wizard; the log has the decision.
                log.exception("noting %s on %s failed", decision.kind, decision.incident)
        if self.latest is not None:
            self.latest = replace(
                self.latest, decisions=self.alert_decisions.shown(self.latest.alerts)
            )
            self._publish(SnapshotPublished(self.latest))
        self._publish(AlertDecided(decision))
        self._send_alert_acknowledge(decision, note_id)

    def _note_alert_decision(self, decision: AlertDecision) -> tuple[Saving | None, int]:
        """The decision as a note on its incident's timeline: the write and the note's
        id (None and 0: it has no incident)."""
        from rainbow_tui.alert_decisions import decision_note
        from rainbow_tui.incidents.store import StoreError

        wizard = self._wizards.get(decision.incident) if decision.incident else None
        if wizard is None:
            return None, 0
        try:
            saving = wizard.add_note(decision_note(decision))
        except StoreError:
            log.exception("noting %s on %s failed", decision.kind, decision.incident)
            return None, 0
        last = wizard.incident.last_event
        return saving, last.id if last is not None else 0

    def _send_alert_acknowledge(self, decision: AlertDecision, note_id: int) -> None:
        """PagerDuty acknowledges the alert's page (its incident's, else its own key)."""
        notifier = self.notifier
        if notifier is None or self.config.notify.pagerduty is None:
            return
        send = asyncio.get_running_loop().create_task(
            self._acknowledge_on_pagerduty(notifier, decision, note_id),
            name=f"pagerduty acknowledge {decision.alert}",
        )
        self._alert_sends.add(send)
        send.add_done_callback(self._alert_sends.discard)

    async def _acknowledge_on_pagerduty(
        self, notifier: Notifier, decision: AlertDecision, note_id: int
    ) -> None:
        from rainbow_tui.alert_decisions import AlertDecision
        from rainbow_tui.incidents import model
        from rainbow_tui.notify.messages import alert_dedup_key

        result, attempts = await notifier.acknowledge(
            alert_dedup_key(decision.alert, decision.incident)
        )
        detail = result.detail.text()
        if decision.incident and self._record_notification(
            decision.incident,
            lambda incident: model.notification_sent(
                incident, "pagerduty", "acknowledge", result.ok, about=note_id,
                attempts=attempts, detail=detail,
            ),
        ):
            return
        sent = AlertDecision(
            kind="notified", alert=decision.alert, at=self.clock(), author=decision.author,
            channel="pagerduty", ok=result.ok, detail=detail,
        )
        try:
            await self._write_decisions([sent])
        except OSError:
            log.exception("recording the PagerDuty acknowledge of %s failed", decision.alert)
        self._publish(AlertDecided(sent))

    async def settle_alert_sends(self) -> None:
        """Until every send about an alert decision asked for so far has ended."""
        while self._alert_sends:
            await asyncio.gather(*tuple(self._alert_sends), return_exceptions=True)

    # -- commands: polling ------------------------------------------------------------

    def refresh_now(self) -> bool:
        """Poll every source now; False when nothing polls (not started)."""
        if self.monitor is None:
            return False
        self.monitor.refresh_now()
        return True

    @property
    def paused(self) -> bool:
        return self.monitor is not None and self.monitor.paused

    def set_paused(self, paused: bool) -> bool:
        """Pause or resume polling; False when nothing polls (not started)."""
        if self.monitor is None:
            return False
        self.monitor.set_paused(paused)
        return True

    # -- routines (毎日・週次・月次・四半期・セキュリティ) -------------------------------------

    def routine_catalog(self) -> RoutineCatalog:
        """The routines, read again each time (a team file may have changed)."""
        from rainbow_tui.upkeep.headless import routine_catalog

        return routine_catalog(self.config)

    def routines_due(self, now: datetime | None = None) -> list[RoutineDue]:
        """Each routine against the time its last run finished (files read: call it
        off the event loop when it matters)."""
        from rainbow_tui.upkeep.headless import due_now

        return due_now(self.config, now or self.clock())

    def start_routine(self, routine_id: str, confirm: Confirm, progress: Progress) -> RoutineRun:
        """A new run of ``routine_id``, recorded, on this session's sources; raises
        ``KeyError`` for an unknown routine, ``StoreError`` when it cannot be written."""
        from rainbow_tui.incidents.runner import CommandRunner
        from rainbow_tui.upkeep.context import RoutineContext
        from rainbow_tui.upkeep.headless import routine_records
        from rainbow_tui.upkeep.run import RoutineRun

        routine = self.routine_catalog().get(routine_id)
        if routine is None:
            raise KeyError(routine_id)
        runner = CommandRunner(self.config, read_only=self.read_only, sources=self.sources)
        records = routine_records(self.config)
        context = RoutineContext(self.config, runner, records, confirm, progress, self.clock)
        return RoutineRun.start(routine, context, records)

    # -- incidents --------------------------------------------------------------------

    @property
    def store(self) -> IncidentStore:
        if self._store is None:
            from rainbow_tui.incidents.store import IncidentStore

            self._store = IncidentStore(expand_path(self.config.incidents.state_dir))
        return self._store

    @property
    def catalog(self) -> RunbookCatalog:
        """The shipped runbooks with the team's, loaded once."""
        if self._catalog is None:
            from rainbow_tui.incidents.runbooks import load_runbooks

            team = self.config.incidents.runbooks_dir
            self._catalog = load_runbooks(expand_path(team) if team else None)
            if self._catalog.problems:
                self._publish(RunbooksNotLoaded(tuple(self._catalog.problems)))
        return self._catalog

    @property
    def incident_ids(self) -> tuple[str, ...]:
        """The incidents this session has a wizard for, oldest first."""
        return tuple(self._wizards)

    @property
    def current_incident_id(self) -> str | None:
        """The incident in hand, closed or not (a closed one can still be looked at)."""
        return self._current

    @property
    def open_incident_id(self) -> str | None:
        """The incident in hand (the one last started or shown) while it is not closed:
        where pins, notes and dashboard actions go."""
        if self._current is None:
            return None
        if self._wizards[self._current].incident.status == "closed":
            return None
        return self._current

    @property
    def open_incident_ids(self) -> tuple[str, ...]:
        """Every incident this session holds that is not closed, oldest first."""
        return tuple(
            incident_id
            for incident_id, wizard in self._wizards.items()
            if wizard.incident.status != "closed"
        )

    def focus_incident(self, incident_id: str) -> None:
        """The incident a view brings to the front becomes the one in hand."""
        if incident_id in self._wizards:
            self._current = incident_id

    def wizard(self, incident_id: str) -> IncidentWizard:
        """The wizard of an incident this session holds (KeyError otherwise)."""
        return self._wizards[incident_id]

    def alert_groups(self) -> tuple[AlertGroup, ...]:
        """The open alerts grouped by cause, the most urgent group first."""
        from rainbow_tui.alert_causes import group_alerts

        return group_alerts(self.latest.alerts if self.latest is not None else ())

    def _cause_group(self, alert_key: str | None) -> AlertGroup | None:
        """The group of the alert named (as cause or symptom), else the most urgent."""
        from rainbow_tui.alert_causes import group_of

        groups = self.alert_groups()
        named = group_of(groups, alert_key) if alert_key else None
        return named or (groups[0] if groups else None)

    def runbook_choices(self, alert_key: str | None = None) -> list[RunbookChoice]:
        """What the runbook picker offers: the runbook for the cause (of the alert
        named, else of the most urgent), those answering other open alerts, then all
        the others; each with the open incident it would go back to, if any."""
        from dataclasses import replace

        from rainbow_tui.alert_causes import db_hosts_of, runbook_choices

        choices = runbook_choices(
            self.alert_groups(), self.catalog, db_hosts=db_hosts_of(self.config),
            alert_key=alert_key,
        )
        return [
            replace(
                choice,
                open_incident=self.incident_for(
                    choice.cause.key if choice.cause else None,
                    runbook_id=choice.runbook.id,
                    with_alert=choice.cause is not None,
                )
                or "",
            )
            for choice in choices
        ]

    def incident_for(
        self, alert_key: str | None = None, *, runbook_id: str | None = None,
        with_alert: bool = True,
    ) -> str | None:
        """The open incident :meth:`start_incident` would answer with: one opened for
        an alert of the same cause, or (without an alert) one on the same runbook
        without an alert."""
        group = self._cause_group(alert_key) if with_alert else None
        if group is not None:
            keys = set(group.keys)
            for incident_id in self.open_incident_ids:
                alert = self._wizards[incident_id].incident.alert
                if alert is not None and alert.key in keys:
                    return incident_id
            return None
        wanted = runbook_id or self.catalog.pick("").id
        for incident_id in self.open_incident_ids:
            incident = self._wizards[incident_id].incident
            if incident.alert is None and wanted in (incident.runbook, incident.current_runbook):
                return incident_id
        return None

    def start_incident(
        self, alert_key: str | None = None, *, runbook_id: str | None = None,
        with_alert: bool = True,
    ) -> str:
        """An incident for the cause of the alert named (else of the most urgent one,
        else for none; ``with_alert=False``: for none), its symptoms as related alerts,
        on the runbook named (else the cause's); returns its id.  A cause that has an
        open incident already is answered with that one's id (:meth:`incident_for`
        says so beforehand).  Raises ``StoreError`` when it cannot be recorded."""
        from rainbow_tui.alert_causes import db_hosts_of, proposed_runbook
        from rainbow_tui.incidents.model import new_incident

        existing = self.incident_for(alert_key, runbook_id=runbook_id, with_alert=with_alert)
        if existing is not None:
            self._current = existing
            return existing
        state = self.latest
        group = self._cause_group(alert_key) if with_alert else None
        catalog = self.catalog
        runbook = (catalog.get(runbook_id) if runbook_id else None) or (
            proposed_runbook(group, catalog, db_hosts_of(self.config))
            if group is not None
            else catalog.pick("")
        )
        store = self.store
        incident = store.create(
            new_incident(
                runbook=runbook,
                alert=group.cause if group is not None else None,
                related=group.related if group is not None else (),
                findings=state.findings if state else (),
                taken_ids=store.ids(),
                demo=self.config.incidents.demo,
            )
        )
        self._hold(incident.id, incident.runbook)
        self._publish(IncidentOpened(incident.id))
        return incident.id

    def _resume_open_incident(self) -> None:
        """Back to the incident asked for, or to every one still open, oldest first
        (so the newest is in hand); one another console records comes back read-only."""
        from rainbow_tui.incidents.store import StoreError

        store = self.store
        if self.resume_incident is not None:
            wanted = [self.resume_incident]
        else:
            still_open = [s for s in store.list() if s.status != "closed"]
            wanted = [s.id for s in sorted(still_open, key=lambda s: s.opened_at)]
        for incident_id in wanted:
            if incident_id in self._wizards:
                continue  # in hand already (started before the first poll)
            try:
                opened = store.open(incident_id)
            except StoreError as error:
                self._publish(ResumeFailed(incident_id, str(error)))
                continue
            self._hold(opened.incident.id, opened.incident.current_runbook)
            self._publish(
                IncidentOpened(
                    opened.incident.id,
                    resumed=True,
                    held_by="" if opened.writable else opened.held_by,
                    step=opened.incident.current_step,
                )
            )

    def switch_runbook(self, incident_id: str, runbook_id: str) -> Saving:
        """The incident follows another runbook from its first step not done (see
        :meth:`IncidentWizard.switch_runbook`).  Raises ``IncidentRuleError`` for an
        unknown runbook or the one it follows, ``StoreError`` when not recorded."""
        from rainbow_tui.incidents.model import IncidentRuleError

        runbook = self.catalog.get(runbook_id)
        if runbook is None:
            raise IncidentRuleError(f"no runbook {runbook_id!r}")
        return self._wizards[incident_id].switch_runbook(runbook)

    def _hold(self, incident_id: str, runbook_id: str) -> None:
        from rainbow_tui.incidents.runner import CommandRunner, findings_probe
        from rainbow_tui.wizard import IncidentWizard

        # Closed incidents make way: several open ones are held side by side.
        for closed in [
            other
            for other, wizard in self._wizards.items()
            if other != incident_id and wizard.incident.status == "closed"
        ]:
            self._retire(closed)
        sources = self.sources
        runner = CommandRunner(
            self.config,
            read_only=self.read_only,
            sources=sources,
            metric_probe=findings_probe(self.config, sources),
        )
        catalog = self.catalog
        runbook = catalog.get(runbook_id) or catalog.pick("")
        incident = self.store.incident(incident_id)
        self._wizards[incident_id] = IncidentWizard(
            self.config,
            self.store,
            runner,
            runbook,
            incident,
            on_change=lambda _incident: self._publish(IncidentChanged(incident_id)),
            latest_findings=lambda: self.latest.findings if self.latest is not None else (),
        )
        self._current = incident_id

    def _start_notifier(self) -> None:
        """Follow the incidents this session records, when [notify] names a service."""
        if self.config.notify.pagerduty is None and self.config.notify.slack is None:
            return
        from rainbow_tui.notify.notifier import Notifier

        notifier = self.notifier = Notifier(self.config, self.store, self._record_notification)

        def tell(event: SessionEvent) -> None:
            if isinstance(event, IncidentOpened | IncidentChanged):
                notifier.incident_changed(event.incident_id)

        self.subscribe(tell)

    def _record_notification(self, incident_id: str, build: Callable[[Incident], Event]) -> bool:
        wizard = self._wizards.get(incident_id)
        if wizard is None:
            return False
        wizard.record_notification(build)
        return True

    def _retire(self, incident_id: str) -> None:
        """A closed incident makes way for a new one: its writes end, its file is let go."""
        wizard = self._wizards.pop(incident_id)
        wizard.stop_retrying()
        self.store.close(incident_id)
        closing = asyncio.get_running_loop().create_task(wizard.runner.close())
        closing.add_done_callback(_log_close_failure)

    def _open_wizard(self) -> IncidentWizard:
        incident_id = self.open_incident_id
        if incident_id is None:
            raise NoIncidentInHand("no incident in hand")
        return self._wizards[incident_id]

    def pin(self, kind: EvidenceKind, title: str, content: str) -> tuple[str, Saving]:
        """Evidence on the open incident's timeline: its id and the write to await.
        Raises ``NoIncidentInHand`` or ``StoreError``."""
        wizard = self._open_wizard()
        return wizard.incident_id, wizard.pin(kind, title, content)

    def add_note(self, text: str) -> tuple[str, Saving]:
        """A note on the open incident's timeline (see :meth:`pin`)."""
        wizard = self._open_wizard()
        return wizard.incident_id, wizard.add_note(text)

    def record_dashboard_action(self, text: str) -> tuple[str, Saving] | None:
        """What a dashboard action did, on the open incident's timeline (None: none open)."""
        if self.open_incident_id is None:
            return None
        return self.add_note(tr("session.dashboard_action", text=text))

    async def run_command(
        self,
        incident_id: str,
        command: Command,
        params: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """Run a command of the incident's current step; every view hears its start,
        each line of output and its end."""
        from rainbow_tui.incidents.model import current_author
        from rainbow_tui.wizard import CommandInProgress

        wizard = self._wizards[incident_id]
        step = wizard.step_index
        preview = wizard.preview(command, params)
        if wizard.command_in_progress:
            raise CommandInProgress("a command is running — x cancels it")

        def line(text: str) -> None:
            self._publish(CommandOutput(incident_id, step, text))

        started = self._claims[incident_id] = CommandRunStarted(
            incident_id, step, preview, current_author()
        )
        self._publish(started)
        try:
            result = await wizard.run_command(command, params, on_line=line)
        finally:
            self._claims.pop(incident_id, None)
        self._publish(CommandRunEnded(incident_id, step, result))
        return result

    def command_claim(self, incident_id: str) -> CommandRunStarted | None:
        """The command running on the incident now (its step claimed), if any."""
        return self._claims.get(incident_id)

    # -- the manual's appendix --------------------------------------------------------

    def appendix_command(self, command_id: str) -> AppendixCommand | None:
        from rainbow_tui.incidents.appendix import APPENDIX

        return next((entry for entry in APPENDIX if entry.id == command_id), None)

    def appendix_preview(self, entry: AppendixCommand) -> str:
        """The command line as the operator knows it (``bundle exec kamal …``)."""
        from rainbow_tui.incidents.appendix import kamal_command_line

        return shlex.join(kamal_command_line(self.config.kamal, entry.argv, shown=True))

    def appendix_started(self, entry: AppendixCommand) -> AppendixRun:
        """About to hand the terminal to ``entry``: its start goes on the open incident
        (if any).  Raises ``StoreError`` when the start cannot be staged."""
        from rainbow_tui.incidents.appendix import kamal_command_line

        kamal = self.config.kamal
        run = AppendixRun(
            entry,
            tuple(kamal_command_line(kamal, entry.argv)),
            self.appendix_preview(entry),
            str(expand_path(kamal.workdir)),
        )
        incident_id = self.open_incident_id
        if incident_id is None:
            return run
        started, _saving = self._wizards[incident_id].appendix_started(run.shown, entry.changes)
        return AppendixRun(run.entry, run.argv, run.shown, run.cwd, incident_id, started)

    def appendix_finished(self, run: AppendixRun, result: TerminalResult) -> Saving | None:
        if run.incident_id is None or run.started is None:
            return None
        wizard = self._wizards[run.incident_id]
        return wizard.appendix_finished(run.started, result, run.entry.interactive)

    def appendix_not_run(self, run: AppendixRun, why: str) -> Saving | None:
        if run.incident_id is None or run.started is None:
            return None
        return self._wizards[run.incident_id].appendix_not_run(run.started, why)
