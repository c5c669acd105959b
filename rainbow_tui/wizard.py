"""The incident wizard's logic, without a screen: one incident, its runbook, its clock.

The store's in-memory record is the one truth: ``IncidentWizard.incident`` reads it
every time and keeps no copy, so a failed write can never leave the wizard behind
the store.  Every event is built here from that record and staged in the store at
once (so ids and order are settled on the event loop); the write runs in a worker
thread and the returned :class:`Saving` is awaited to know it is on disk.
``on_change`` fires once a write has ended, so what a screen shows then is on
disk, or is marked by ``unsaved`` as not yet.  A failed write (a full disk) stays
pending in the store; it goes out with the next change, and a retry with backoff
keeps trying meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rainbow_tui.config import Config, EscalationStep
from rainbow_tui.incidents import model
from rainbow_tui.incidents.appendix import TerminalResult, record_finished, record_started
from rainbow_tui.incidents.model import (
    CommandStarted,
    Escalated,
    EscalationDue,
    Event,
    Incident,
    IncidentStatus,
    PostmortemText,
    Role,
)
from rainbow_tui.incidents.runbooks import Command, Runbook, Step
from rainbow_tui.incidents.runner import CommandResult, CommandRunner, RunningCommand
from rainbow_tui.incidents.store import IncidentStore, StoreError, StoreWriteError, Unsaved
from rainbow_tui.levels import format_span
from rainbow_tui.text import tr, trn

if TYPE_CHECKING:
    from rainbow_tui.findings import Finding


@dataclass(frozen=True, slots=True)
class Clock:
    """Where the incident stands against its severity's deadline and the ladder.

    The clock runs from detection and stops once the incident is mitigated: what
    counts from then on is how long it took (``to_mitigate``, then ``to_resolve``),
    not how long ago it began, so a resolved incident is never overdue.
    """

    elapsed: timedelta  # detection to now, or to mitigation once mitigated
    deadline: timedelta
    # The rung whose time has come, and the next one with the time left to it.
    due: EscalationStep | None
    next_rung: EscalationStep | None
    next_in: timedelta | None
    escalated_to: int  # highest level escalated to so far, 0 for none
    to_mitigate: timedelta | None = None
    to_resolve: timedelta | None = None

    @property
    def stopped(self) -> bool:
        return self.to_mitigate is not None or self.to_resolve is not None

    @property
    def overdue(self) -> bool:
        return not self.stopped and self.elapsed > self.deadline


# The statuses at which the clock stops: the service is back (mitigated) or fixed.
STOPPED_STATUSES = frozenset({"mitigated", "resolved", "closed"})


def ladder_of(config: Config) -> list[EscalationStep]:
    return sorted(config.escalation, key=lambda step: step.level)


def escalated_level(incident: Incident) -> int:
    """The highest rung escalated to so far, 0 for none."""
    return max((e.level for e in incident.events if isinstance(e, Escalated)), default=0)


def incident_clock(incident: Incident, config: Config, now: datetime) -> Clock:
    """The clock of ``incident`` at ``now``, by its effective (corrected) times."""
    times = incident.status_times()
    detected = times.get("detected", incident.opened_at)
    mitigated = times.get("mitigated")
    resolved = times.get("resolved")
    to_mitigate = mitigated - detected if mitigated is not None else None
    to_resolve = resolved - detected if resolved is not None else None
    stopped_at = mitigated if mitigated is not None else resolved
    elapsed = (stopped_at if stopped_at is not None else now) - detected
    deadline = config.alert_levels.for_severity(incident.severity).respond_within
    due = None
    next_rung = None
    for rung in ladder_of(config):
        if elapsed >= timedelta(minutes=rung.within_minutes):
            due = rung
        elif next_rung is None:
            next_rung = rung
    if stopped_at is not None:
        # No next rung once mitigated: the ladder exists to bring help to a service
        # still hurting; paging the development lead at 30 minutes for an outage
        # mitigated at 10 would wake someone for work that can wait for the day.
        next_rung = None
    next_in = (timedelta(minutes=next_rung.within_minutes) - elapsed) if next_rung else None
    return Clock(elapsed, deadline, due, next_rung, next_in, escalated_level(incident),
                 to_mitigate, to_resolve)


def rungs_come_due(incident: Incident, config: Config, now: datetime) -> list[EscalationStep]:
    """The rungs whose time has passed on a still-open incident that was neither
    escalated to them nor recorded as due for them yet, lowest first."""
    if incident.status in STOPPED_STATUSES:
        return []
    elapsed = incident_clock(incident, config, now).elapsed
    reached = escalated_level(incident)
    recorded = {e.level for e in incident.events if isinstance(e, EscalationDue)}
    return [
        rung
        for rung in ladder_of(config)
        if elapsed >= timedelta(minutes=rung.within_minutes)
        and rung.level > reached
        and rung.level not in recorded
    ]


def pending_escalation(incident: Incident, config: Config, now: datetime) -> EscalationStep | None:
    """The next rung up (what ``escalate`` reaches) when its time has passed on a
    still-open incident: the one to announce until someone escalates."""
    if incident.status in STOPPED_STATUSES:
        return None
    elapsed = incident_clock(incident, config, now).elapsed
    reached = escalated_level(incident)
    rung = next((r for r in ladder_of(config) if r.level > reached), None)
    if rung is None or elapsed < timedelta(minutes=rung.within_minutes):
        return None
    return rung


def describe_clock(clock: Clock) -> str:
    if clock.stopped:
        parts = []
        if clock.to_mitigate is not None:
            parts.append(tr("wizard.clock.to_mitigate", span=format_span(clock.to_mitigate)))
        if clock.to_resolve is not None:
            parts.append(tr("wizard.clock.to_resolve", span=format_span(clock.to_resolve)))
    else:
        parts = [tr("wizard.clock", elapsed=format_span(clock.elapsed),
                    deadline=format_span(clock.deadline))]
    if clock.overdue:
        parts.append(tr("wizard.clock.overdue"))
    if clock.next_rung is not None and clock.next_in is not None:
        parts.append(tr("wizard.clock.next_rung", level=clock.next_rung.level,
                        role=clock.next_rung.role, span=format_span(clock.next_in)))
    if clock.escalated_to:
        parts.append(tr("wizard.clock.escalated", level=clock.escalated_to))
    return " · ".join(parts)


def not_on_disk_mark() -> str:
    """Beside each timeline event the store holds in memory only."""
    return tr("wizard.not_on_disk")


def describe_unsaved(unsaved: Unsaved, problem: str) -> str:
    """The one line that says what is kept in memory only, and why."""
    if unsaved.events and unsaved.header:
        line = trn("wizard.unsaved.events_and_header", unsaved.events)
    elif unsaved.events:
        line = trn("wizard.unsaved.events", unsaved.events)
    else:
        line = tr("wizard.unsaved.header")
    return tr("wizard.unsaved.because", line=line, problem=problem) if problem else line


# Backoff of the retries after a failed write: cheap (a full disk fails at once),
# and the next change tries again without waiting anyway.
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0

BuildEvent = Callable[[Incident], Event | None]
# The statuses at which the findings of the moment are recorded as metrics evidence
# (those at the start come with the incident's creation).
METRICS_AT: frozenset[IncidentStatus] = frozenset({"mitigated", "resolved"})


class CommandInProgress(Exception):
    """A command was asked for while another one of the incident still runs."""


class Saving:
    """Changes staged in memory on their way to disk: await it to know they are there.

    Raises ``StoreWriteError`` when awaited if the write failed (the changes stay
    pending and are retried).  Not awaiting it is fine: the write goes on, and a
    failure is reported through the wizard's ``on_change`` and ``write_problem``.
    """

    def __init__(
        self,
        future: asyncio.Future[int] | None = None,
        error: BaseException | None = None,
    ) -> None:
        self._future = future
        self._error = error

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        if self._future is not None:
            # Shielded: a cancelled caller must not cancel the write under it.
            await asyncio.shield(self._future)
        elif self._error is not None:
            raise self._error


class IncidentWizard:
    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        runner: CommandRunner,
        runbook: Runbook,
        incident: Incident,
        on_change: Callable[[Incident], None] | None = None,
        *,
        retry_first_s: float = RETRY_FIRST_S,
        retry_max_s: float = RETRY_MAX_S,
        latest_findings: Callable[[], Sequence[Finding]] | None = None,
    ) -> None:
        self.config = config
        # The monitor's findings of the moment (the session's latest snapshot).
        self.latest_findings = latest_findings
        self.store = store
        self.runner = runner
        self.runbook = runbook
        # Only the id: the record itself is always the store's.
        self.incident_id = incident.id
        self.on_change = on_change
        self._listeners: list[Callable[[Incident], None]] = []
        self.running: RunningCommand | None = None
        # True from the moment a run is asked for until its result is recorded, so a
        # second run is refused even while the first one's start is being written.
        self.command_in_progress = False
        # Why the last write failed ("No space left on device"); "" once all is on disk.
        self.write_problem = ""
        self.retry_first_s = retry_first_s
        self.retry_max_s = retry_max_s
        self._retrying: asyncio.Task[None] | None = None

    # -- reading ---------------------------------------------------------------------

    @property
    def incident(self) -> Incident:
        """The store's record of the incident, with what is not on disk yet."""
        return self.store.incident(self.incident_id)

    @property
    def unsaved(self) -> Unsaved:
        return self.store.unsaved(self.incident_id)

    def describe_unsaved(self) -> str:
        """The notice for the screen, or "" when everything is on disk."""
        unsaved = self.unsaved
        return describe_unsaved(unsaved, self.write_problem) if unsaved else ""

    @property
    def step_index(self) -> int:
        return self.incident.current_step

    @property
    def step(self) -> Step | None:
        return self.runbook.step(self.step_index)

    @property
    def finished(self) -> bool:
        return self.step_index >= len(self.runbook.steps)

    def clock(self, now: datetime) -> Clock:
        return incident_clock(self.incident, self.config, now)

    def next_escalation(self) -> EscalationStep | None:
        """The rung above the highest one reached so far."""
        reached = escalated_level(self.incident)
        return next((rung for rung in ladder_of(self.config) if rung.level > reached), None)

    def rungs_come_due(self, now: datetime) -> list[EscalationStep]:
        """The rungs come due and not yet recorded (see :func:`rungs_come_due`)."""
        return rungs_come_due(self.incident, self.config, now)

    def pending_escalation(self, now: datetime) -> EscalationStep | None:
        """The next rung up when its time has passed and the incident is still open."""
        return pending_escalation(self.incident, self.config, now)

    def commands_started(self) -> int:
        """How many commands of the current step have been started."""
        index = self.step_index
        # Only since the last runbook switch: the step numbers before it are another's.
        return sum(
            1
            for e in self.incident.events_of_current_runbook()
            if isinstance(e, CommandStarted) and e.step == index
        )

    # -- recording ------------------------------------------------------------------

    def _record(self, *builders: BuildEvent) -> Saving:
        """Build each event from the store's record as it is then, stage it, write all.

        A builder returning None adds nothing; one that raises (a rule broken) stops
        there, and what was staged before it is still written.
        """
        staged = 0
        try:
            for build in builders:
                event = build(self.incident)
                if event is not None:
                    self.store.stage(self.incident_id, event)
                    staged += 1
        except BaseException:
            if staged:
                self._write()
            raise
        return self._write()

    def _write(self) -> Saving:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (a script): write here and now.
            try:
                self.store.flush(self.incident_id)
            except StoreWriteError as error:
                self._write_failed(error)
                return Saving(error=error)
            self._written()
            return Saving()
        # Submitted to the thread at once (not at the loop's next turn), so the write
        # goes on even while the app hands the terminal over and blocks the loop.
        future: asyncio.Future[int] = loop.run_in_executor(
            None, self.store.flush, self.incident_id
        )
        future.add_done_callback(self._write_ended)
        return Saving(future)

    def _write_ended(self, future: asyncio.Future[int]) -> None:
        if future.cancelled():
            return
        error = future.exception()  # retrieved here, whether anyone awaits or not
        if error is None:
            self._written()
        elif isinstance(error, StoreWriteError):
            self._write_failed(error)
        elif not isinstance(error, StoreError):
            # A bug, not a disk: let the loop's handler report it.
            future.get_loop().call_exception_handler(
                {"message": "writing the incident failed", "exception": error}
            )

    def _written(self) -> None:
        if not self.unsaved:
            self.write_problem = ""
        self._changed()

    def _write_failed(self, error: StoreWriteError) -> None:
        self.write_problem = error.reason
        self._schedule_retry()
        self._changed()

    def subscribe(self, listener: Callable[[Incident], None]) -> Callable[[], None]:
        """Call ``listener`` after every write has ended; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self) -> None:
        if self.store.access(self.incident_id) is None:
            return  # closed (the console is leaving): nothing left to show
        incident = self.incident
        if self.on_change is not None:
            self.on_change(incident)
        for listener in list(self._listeners):
            listener(incident)

    def _schedule_retry(self) -> None:
        if self._retrying is not None and not self._retrying.done():
            return
        try:
            self._retrying = asyncio.get_running_loop().create_task(self._retry_until_saved())
        except RuntimeError:
            self._retrying = None  # no loop: the next change writes it

    async def _retry_until_saved(self) -> None:
        delay = self.retry_first_s
        loop = asyncio.get_running_loop()
        while self.unsaved:
            await asyncio.sleep(delay)
            try:
                await loop.run_in_executor(None, self.store.flush, self.incident_id)
            except StoreWriteError as error:
                self.write_problem = error.reason
                self._changed()
                delay = min(delay * 2, self.retry_max_s)
                continue
            except StoreError:
                return  # the incident was closed: the store tried once more then
            self._written()

    def stop_retrying(self) -> None:
        """End the retry task (the console is leaving; the store's close tries once more)."""
        if self._retrying is not None:
            self._retrying.cancel()
            self._retrying = None

    # -- the changes a responder makes -------------------------------------------------

    def _start_step(self, incident: Incident) -> Event | None:
        """The current step's start, the first time something happens in it."""
        index = incident.current_step
        if index < len(self.runbook.steps) and incident.step_state(index) == "pending":
            return model.start_step(incident, self.runbook, index)
        return None

    def begin_step(self) -> Saving:
        """Mark the current step as in progress (once)."""
        return self._record(self._start_step)

    def switch_runbook(self, runbook: Runbook) -> Saving:
        """Follow ``runbook`` from its first step not done yet; the switch is recorded
        and what was done before stays on the timeline.  Refused while a command runs
        (its result belongs to the step it was started in)."""
        if self.command_in_progress:
            raise model.IncidentRuleError("a command is running — x cancels it")

        def follow(_incident: Incident) -> None:
            # Once the switch is staged, before its write ends and the views look.
            self.runbook = runbook

        return self._record(lambda incident: model.switch_runbook(incident, runbook), follow)

    def advance(self, to: IncidentStatus) -> Saving:
        """The next status; at mitigated and resolved the findings of the moment
        are recorded with it, for the postmortem's impact."""
        findings = (
            tuple(self.latest_findings())
            if to in METRICS_AT and self.latest_findings is not None
            else ()
        )
        return self._record(
            lambda incident: model.transition(incident, to),
            lambda incident: model.record_metrics(incident, to, findings),
        )

    def add_note(self, text: str, *, finding: bool | None = None) -> Saving:
        """A note; a finding when ``finding`` says so, or (None) when the text
        starts with ``!``."""
        return self._record(lambda incident: model.note(incident, text, finding=finding))

    def record_declined(self, command: Command, preview: str) -> Saving:
        """The responder answered No (or Esc) to ``command``, shown as ``preview``."""
        index = min(self.step_index, len(self.runbook.steps) - 1)
        return self._record(
            lambda incident: model.command_declined(incident, index, preview, command.kind)
        )

    def add_action_item(
        self, owner: str, item_type: model.ActionItemType, text: str, due: date | None = None
    ) -> Saving:
        return self._record(
            lambda incident: model.add_action_item(incident, owner, item_type, text, due)
        )

    def remove_action_item(self, event_id: int) -> Saving:
        """Remove the action item added by event ``event_id``."""
        return self._record(lambda incident: model.remove_action_item(incident, event_id))

    def skip_step(self, reason: str) -> Saving:
        index = self.step_index
        return self._record(
            self._start_step,
            lambda incident: model.skip_step(incident, self.runbook, index, reason),
        )

    def complete_step(self) -> Saving:
        index = self.step_index
        return self._record(
            self._start_step,
            lambda incident: model.complete_step(incident, self.runbook, index),
        )

    def record_notification(self, build: BuildEvent) -> Saving:
        """A page or a message sent about this incident, on its timeline like any other
        event (the notifier builds it from the record as it then is)."""
        return self._record(build)

    def escalate(self, note_text: str = "") -> Saving | None:
        """Escalate to the next rung; None when already at the top."""
        rung = self.next_escalation()
        if rung is None:
            return None
        return self._record(lambda incident: model.escalate(incident, rung, note_text))

    def record_escalations_due(self, now: datetime) -> tuple[list[EscalationStep], Saving | None]:
        """Each rung come due since the last look, recorded once; the rungs and the
        write (None when no rung came due)."""
        rungs = rungs_come_due(self.incident, self.config, now)
        if not rungs:
            return [], None
        detected = self.incident.status_times().get("detected", self.incident.opened_at)
        saving = self._record(*(
            lambda incident, rung=rung: model.escalation_due(
                incident, rung, detected + timedelta(minutes=rung.within_minutes), at=now
            )
            for rung in rungs
        ))
        return rungs, saving

    def pin(self, kind: model.EvidenceKind, title: str, content: str) -> Saving:
        return self._record(lambda incident: model.pin_evidence(incident, kind, title, content))

    def assign_role(self, role: Role, person: str) -> Saving:
        return self._record(lambda incident: model.assign_role(incident, role, person))

    def correct_time(self, event_id: int, value: datetime, reason: str) -> Saving:
        """Correct when event ``event_id`` happened, with the reason."""
        return self._record(lambda incident: model.edit_time(incident, event_id, value, reason))

    def save_postmortem(self, section: str, text: str) -> Saving:
        """One free-text section of the postmortem (a header change: a full rewrite)."""
        if section not in PostmortemText.__struct_fields__:
            raise model.IncidentRuleError(f"no postmortem section {section!r}")
        self.store.stage_update(
            self.incident_id, lambda incident: incident.with_postmortem(**{section: text})
        )
        return self._write()

    # -- the manual's appendix commands, run on the operator's terminal ---------------

    def appendix_started(self, shown: str, changes: bool) -> tuple[CommandStarted, Saving]:
        """An appendix command about to take the terminal, on the current step (the
        last one once every step is done): the start event and its write."""
        step = min(self.step_index, len(self.runbook.steps) - 1)
        saving = self._record(lambda incident: record_started(incident, step, shown, changes))
        started = self.incident.events[-1]
        assert isinstance(started, CommandStarted)
        return started, saving

    def appendix_finished(
        self, started: CommandStarted, result: TerminalResult, interactive: bool
    ) -> Saving:
        return self._record(
            lambda incident: record_finished(incident, started, result, interactive)
        )

    def appendix_not_run(self, started: CommandStarted, why: str) -> Saving:
        """The command never ran (the terminal could not be handed over)."""
        return self._record(
            lambda incident: model.command_finished(
                incident, started, "not_run", excerpt=tr("wizard.not_run", why=why)
            )
        )

    # -- running --------------------------------------------------------------------

    def preview(self, command: Command, params: Mapping[str, str] | None = None) -> str:
        return self.runner.preview(command, params)

    async def run_command(
        self,
        command: Command,
        params: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> CommandResult:
        """Run one command of the current step; start and result go on the timeline.

        The start is on disk before the command runs, unless the disk refuses it: then
        it stays pending (shown so) and the command runs all the same, since a full
        disk on this machine must not stop the remedy on the servers.
        """
        if self.command_in_progress:
            raise CommandInProgress("a command is running — x cancels it")
        index = self.step_index
        preview = self.runner.preview(command, params)
        self.command_in_progress = True
        try:
            return await self._run_command(command, params, on_line, index, preview)
        finally:
            self.command_in_progress = False

    async def _run_command(
        self,
        command: Command,
        params: Mapping[str, str] | None,
        on_line: Callable[[str], None] | None,
        index: int,
        preview: str,
    ) -> CommandResult:
        saving = self._record(
            self._start_step,
            lambda incident: model.command_started(
                incident, index, preview, command.kind, destructive=command.destructive
            ),
        )
        started = self.incident.events[-1]
        assert isinstance(started, CommandStarted)
        with contextlib.suppress(StoreWriteError):
            await saving
        self.running = self.runner.start(command, params, on_line)
        try:
            result = await self.running.wait()
        finally:
            self.running = None
        excerpt = result.excerpt or result.detail
        finished = self._record(
            lambda incident: model.command_finished(
                incident,
                started,
                result.outcome,
                exit_code=result.exit_code,
                duration_s=result.duration_s,
                excerpt=excerpt,
            )
        )
        with contextlib.suppress(StoreWriteError):
            await finished
        return result

    def cancel(self) -> None:
        if self.running is not None:
            self.running.cancel()

    async def verify_step(self) -> bool | None:
        """Run the step's verification; None when the step has none.

        The verification's record may stay pending on a full disk (shown so); the
        answer is returned all the same.
        """
        step = self.step
        if step is None or step.verify is None:
            return None
        index = self.step_index
        result = await self.runner.verify(step.verify)
        saving = self._record(
            lambda incident: model.record_verification(
                incident, index, result.check, result.passed, result.detail
            )
        )
        with contextlib.suppress(StoreWriteError):
            await saving
        return result.passed
