"""The incident wizard's logic, without a screen: one incident, its runbook, its clock.

Every action goes through the store before it returns, so what the screen shows
after an ``await`` is already on disk: a killed console resumes exactly here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from rainbow_tui.config import Config, EscalationStep
from rainbow_tui.incidents import model
from rainbow_tui.incidents.model import CommandStarted, Escalated, Incident, IncidentStatus
from rainbow_tui.incidents.runbooks import Command, Runbook, Step
from rainbow_tui.incidents.runner import CommandResult, CommandRunner, RunningCommand
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.levels import format_span


@dataclass(frozen=True, slots=True)
class Clock:
    """Where the incident stands against its severity's deadline and the ladder."""

    elapsed: timedelta
    deadline: timedelta
    # The rung whose time has come, and the next one with the time left to it.
    due: EscalationStep | None
    next_rung: EscalationStep | None
    next_in: timedelta | None
    escalated_to: int  # highest level escalated to so far, 0 for none

    @property
    def overdue(self) -> bool:
        return self.elapsed > self.deadline


def describe_clock(clock: Clock) -> str:
    parts = [
        f"{format_span(clock.elapsed)} since detection / respond within "
        f"{format_span(clock.deadline)}"
    ]
    if clock.overdue:
        parts.append("OVERDUE")
    if clock.next_rung is not None and clock.next_in is not None:
        parts.append(
            f"L{clock.next_rung.level} {clock.next_rung.role} in {format_span(clock.next_in)}"
        )
    if clock.escalated_to:
        parts.append(f"escalated to L{clock.escalated_to}")
    return " · ".join(parts)


class IncidentWizard:
    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        runner: CommandRunner,
        runbook: Runbook,
        incident: Incident,
        on_change: Callable[[Incident], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        self.runbook = runbook
        self.incident = incident
        self.on_change = on_change
        self.running: RunningCommand | None = None

    # -- reading ---------------------------------------------------------------------

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
        detected = self.incident.status_times().get("detected", self.incident.opened_at)
        elapsed = now - detected
        deadline = self.config.alert_levels.for_severity(self.incident.severity).respond_within
        ladder = sorted(self.config.escalation, key=lambda step: step.level)
        due = None
        next_rung = None
        for rung in ladder:
            if elapsed >= timedelta(minutes=rung.within_minutes):
                due = rung
            elif next_rung is None:
                next_rung = rung
        next_in = (timedelta(minutes=next_rung.within_minutes) - elapsed) if next_rung else None
        escalated = max(
            (e.level for e in self.incident.events if isinstance(e, Escalated)), default=0
        )
        return Clock(elapsed, deadline, due, next_rung, next_in, escalated)

    def next_escalation(self) -> EscalationStep | None:
        """The rung above the highest one reached so far."""
        reached = max(
            (e.level for e in self.incident.events if isinstance(e, Escalated)), default=0
        )
        return next(
            (
                rung
                for rung in sorted(self.config.escalation, key=lambda r: r.level)
                if rung.level > reached
            ),
            None,
        )

    # -- recording ------------------------------------------------------------------

    def record(self, event: model.Event) -> Incident:
        """Record any event the model built (roles, corrected times …)."""
        return self._record(event)

    def _record(self, event: model.Event) -> Incident:
        self.incident = self.store.record(self.incident.id, event)
        if self.on_change is not None:
            self.on_change(self.incident)
        return self.incident

    def begin_step(self) -> None:
        """Mark the current step as in progress (once)."""
        if not self.finished and self.incident.step_state(self.step_index) == "pending":
            self._record(model.start_step(self.incident, self.runbook, self.step_index))

    def advance(self, to: IncidentStatus) -> None:
        self._record(model.transition(self.incident, to))

    def add_note(self, text: str) -> None:
        self._record(model.note(self.incident, text))

    def skip_step(self, reason: str) -> None:
        self.begin_step()
        self._record(model.skip_step(self.incident, self.runbook, self.step_index, reason))

    def complete_step(self) -> None:
        self.begin_step()
        self._record(model.complete_step(self.incident, self.runbook, self.step_index))

    def escalate(self, note_text: str = "") -> EscalationStep | None:
        rung = self.next_escalation()
        if rung is not None:
            self._record(model.escalate(self.incident, rung, note_text))
        return rung

    def pin(self, kind: model.EvidenceKind, title: str, content: str) -> None:
        self._record(model.pin_evidence(self.incident, kind, title, content))

    # -- running --------------------------------------------------------------------

    def preview(self, command: Command, params: Mapping[str, str] | None = None) -> str:
        return self.runner.preview(command, params)

    async def run_command(
        self,
        command: Command,
        params: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> CommandResult:
        """Run one command of the current step; start and result go on the timeline."""
        self.begin_step()
        preview = self.runner.preview(command, params)
        started = model.command_started(
            self.incident, self.step_index, preview, command.kind, destructive=command.destructive
        )
        self._record(started)
        self.running = self.runner.start(command, params, on_line)
        try:
            result = await self.running.wait()
        finally:
            self.running = None
        self._record_result(started, result)
        return result

    def _record_result(self, started: CommandStarted, result: CommandResult) -> None:
        excerpt = result.excerpt or result.detail
        self._record(
            model.command_finished(
                self.incident,
                started,
                result.outcome,
                exit_code=result.exit_code,
                duration_s=result.duration_s,
                excerpt=excerpt,
            )
        )

    def cancel(self) -> None:
        if self.running is not None:
            self.running.cancel()

    async def verify_step(self) -> bool | None:
        """Run the step's verification; None when the step has none."""
        step = self.step
        if step is None or step.verify is None:
            return None
        result = await self.runner.verify(step.verify)
        self._record(
            model.record_verification(
                self.incident, self.step_index, result.check, result.passed, result.detail
            )
        )
        return result.passed
