"""The incident record: a header and a timeline of events, immutable.

The header says what the incident is (id, title, severity, runbook, the alert and
its evidence at the start) and holds the postmortem text the responders write
later.  Everything that *happens* is an event appended to the timeline: status
changes, notes, steps, commands and their results, verifications, escalations,
pinned evidence, role assignments and corrections of times.  Status, roles and the
current step are read from the timeline, so recording almost anything is an
append (see ``store``), and a record reloaded after a crash is exactly where it was.

The functions here are pure: each returns a new event for an incident (or a new
incident for header edits) and checks the rules (the status order, a reason for a
skipped step or an edited time); ``Incident.with_event`` adds a checked event.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Literal

import msgspec

from rainbow_tui.levels import Severity
from rainbow_tui.text import N_, cell_columns, tr

if TYPE_CHECKING:
    from rainbow_tui.config import EscalationStep
    from rainbow_tui.findings import Finding
    from rainbow_tui.incidents.runbooks import Runbook
    from rainbow_tui.levels import Alert

__all__ = [
    "FORMAT",
    "STATUSES",
    "ActionItem",
    "ActionItemAdded",
    "ActionItemRemoved",
    "ActionItemType",
    "AlertEvidence",
    "CommandDeclined",
    "CommandFinished",
    "CommandOutcome",
    "CommandStarted",
    "Escalated",
    "EscalationDue",
    "Event",
    "Evidence",
    "EvidenceKind",
    "EvidencePinned",
    "Incident",
    "IncidentRuleError",
    "IncidentStatus",
    "MetricsRecorded",
    "Note",
    "NotificationSent",
    "NotifyAction",
    "PostmortemText",
    "Reading",
    "Role",
    "RoleAssigned",
    "RunbookSwitched",
    "StatusChanged",
    "StepCompleted",
    "StepSkipped",
    "StepStarted",
    "TimeEdited",
    "VerificationRecorded",
    "add_action_item",
    "assign_role",
    "command_declined",
    "command_finished",
    "command_started",
    "complete_step",
    "current_author",
    "edit_time",
    "escalate",
    "escalation_due",
    "evidence_of_alert",
    "findings_table",
    "make_incident_id",
    "new_incident",
    "note",
    "notification_sent",
    "pin_evidence",
    "readings_of",
    "record_as",
    "record_metrics",
    "record_verification",
    "remove_action_item",
    "skip_step",
    "start_step",
    "switch_runbook",
    "transition",
]

FORMAT = 1
IncidentStatus = Literal["detected", "acknowledged", "mitigated", "resolved", "closed"]
STATUSES: tuple[IncidentStatus, ...] = (
    "detected",
    "acknowledged",
    "mitigated",
    "resolved",
    "closed",
)
Role = Literal["commander", "scribe"]
EvidenceKind = Literal["alert", "metrics", "log_lines", "table"]
CommandOutcome = Literal["ok", "failed", "timeout", "cancelled", "not_run", "error"]
ActionItemType = Literal["prevent", "mitigate", "detect", "repair", "process", "other"]
# What a notification asked of its service: PagerDuty's event actions, or a message.
NotifyAction = Literal["trigger", "acknowledge", "resolve", "message"]


class IncidentRuleError(ValueError):
    """An event or edit the incident's rules do not allow; ``str()`` says why."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# The responder a view records for: ``rainbow-tui serve`` runs each SSH responder's
# console in a context of its own and names them here (from their key), so every
# entry made from that console carries their name; unset, the login name below.
_RESPONDER: ContextVar[str] = ContextVar("rainbow_tui_responder", default="")


def record_as(name: str) -> None:
    """Entries made in this context from now on (and in the tasks it starts) are
    ``name``'s."""
    _RESPONDER.set(name)


def current_author(environ: Mapping[str, str] | None = None) -> str:
    """Who is at the keyboard: the responder a served console names, else the
    person behind sudo, else the login name.

    On a shared bastion everyone may log in as ``deploy``; ``RAINBOW_TUI_AUTHOR``
    names the person, and an SSH session adds the address it came from.
    """
    if environ is None and (responder := _RESPONDER.get()):
        return responder
    env = os.environ if environ is None else environ
    name = env.get("RAINBOW_TUI_AUTHOR") or env.get("SUDO_USER")
    if not name:
        name = env.get("USER") or env.get("LOGNAME")
        if not name:
            try:
                name = getpass.getuser()
            except (KeyError, OSError):
                name = "unknown"
        ssh_from = env.get("SSH_CONNECTION", "").split(" ", 1)[0]
        if ssh_from:
            name = f"{name}@{ssh_from}"
    return name


class _Record(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """Base of the stored tables: immutable, unknown keys are errors, defaults not written."""


class AlertEvidence(_Record, frozen=True, kw_only=True):
    """The alert an incident was opened from, as it was then."""

    key: str
    title: str
    level: str
    severity: Severity
    first_seen: datetime
    respond_by: datetime
    detail: str = ""


class Reading(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One finding's number as it stood: what the postmortem's impact is computed
    from (the table beside it is for people).  Stored as a pair, ``["service:
    error_rate_percent", 7.5]``: an inline array, which an appended event can hold
    where a nested table could not."""

    key: str  # the finding's "component:metric"
    value: float


class Evidence(_Record, frozen=True, kw_only=True):
    kind: EvidenceKind
    title: str
    content: str
    at: datetime
    readings: tuple[Reading, ...] = ()
    requests: int | None = None  # requests seen in the findings' window, where counted

    def values(self) -> dict[str, float]:
        """The readings by finding key ("service:error_rate_percent")."""
        return {reading.key: reading.value for reading in self.readings}


class PostmortemText(_Record, frozen=True, kw_only=True):
    """What the responders write afterwards; every section is free Markdown text."""

    summary: str = ""
    impact: str = ""
    root_cause: str = ""
    trigger: str = ""
    resolution: str = ""
    went_well: str = ""
    went_wrong: str = ""
    lucky: str = ""


class ActionItem(_Record, frozen=True, kw_only=True):
    owner: str
    type: ActionItemType
    text: str
    due: date | None = None
    done: bool = False


# -- events --------------------------------------------------------------------------


class _Event(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    tag_field="kind",
):
    id: int  # 1, 2, 3… in the order recorded
    at: datetime
    author: str


class StatusChanged(_Event, frozen=True, kw_only=True, tag="status"):
    status: IncidentStatus
    previous: str = ""


class Note(_Event, frozen=True, kw_only=True, tag="note"):
    text: str
    # A finding: what the responder learnt about the cause (the postmortem's
    # trigger and root cause are drafted from these).
    finding: bool = False


class StepStarted(_Event, frozen=True, kw_only=True, tag="step_started"):
    step: int
    step_id: str
    title: str


class CommandStarted(_Event, frozen=True, kw_only=True, tag="command_started"):
    step: int
    command: str  # as shown to the responder, parameters filled in
    command_kind: str
    destructive: bool = False


class CommandFinished(_Event, frozen=True, kw_only=True, tag="command_finished"):
    step: int
    started: int  # id of the CommandStarted event
    command: str
    outcome: CommandOutcome
    exit_code: int | None = None
    duration_s: float = 0.0
    excerpt: str = ""


class StepCompleted(_Event, frozen=True, kw_only=True, tag="step_completed"):
    step: int
    step_id: str


class StepSkipped(_Event, frozen=True, kw_only=True, tag="step_skipped"):
    step: int
    step_id: str
    reason: str


class VerificationRecorded(_Event, frozen=True, kw_only=True, tag="verification"):
    step: int
    check: str  # http_ok, metric_below, sql_scalar_below, none
    passed: bool
    detail: str = ""


class CommandDeclined(_Event, frozen=True, kw_only=True, tag="command_declined"):
    """A proposed command the responder answered No to: a decision worth recording."""

    step: int
    command: str  # the preview the responder was shown
    command_kind: str


class ActionItemAdded(_Event, frozen=True, kw_only=True, tag="action_item_added"):
    owner: str
    type: ActionItemType
    text: str
    due: date | None = None


class ActionItemRemoved(_Event, frozen=True, kw_only=True, tag="action_item_removed"):
    target: int  # id of the ActionItemAdded event


class MetricsRecorded(_Event, frozen=True, kw_only=True, tag="metrics_recorded"):
    """The findings as the incident reached ``status`` (mitigated, resolved)."""

    status: IncidentStatus
    title: str
    content: str  # the findings' table, as at the start
    readings: tuple[Reading, ...] = ()
    requests: int | None = None


class Escalated(_Event, frozen=True, kw_only=True, tag="escalated"):
    level: int
    role: str
    contact: str
    note: str = ""


class NotificationSent(_Event, frozen=True, kw_only=True, tag="notification"):
    """A send to PagerDuty or Slack about event ``about``, ended: delivered or given up."""

    channel: str  # "pagerduty", "slack #rainbow-dev"
    action: NotifyAction
    ok: bool
    about: int = 0
    attempts: int = 1
    detail: str = ""  # why it failed, or what the service answered


class EscalationDue(_Event, frozen=True, kw_only=True, tag="escalation_due"):
    """A rung's time passed with the incident still open and not escalated to it:
    recorded once, when the console first saw it (``due_at`` is when it came due)."""

    level: int
    role: str
    contact: str
    due_at: datetime


class EvidencePinned(_Event, frozen=True, kw_only=True, tag="evidence_pinned"):
    evidence_kind: EvidenceKind
    title: str
    content: str


class TimeEdited(_Event, frozen=True, kw_only=True, tag="time_edited"):
    target: int  # id of the event whose time is corrected
    previous: datetime
    value: datetime
    reason: str


class RoleAssigned(_Event, frozen=True, kw_only=True, tag="role_assigned"):
    role: Role
    person: str


class RunbookSwitched(_Event, frozen=True, kw_only=True, tag="runbook_switched"):
    """The incident follows another runbook from here on.  Step numbers of the events
    before it are the ``previous`` runbook's; those after it are ``runbook``'s."""

    runbook: str
    previous: str
    # Where the new runbook is taken up: its first step not done before.
    resume_at: int
    # Steps of the new runbook counted done: a step of that id was done already.
    carried: tuple[int, ...] = ()


Event = (
    StatusChanged
    | Note
    | StepStarted
    | CommandStarted
    | CommandFinished
    | StepCompleted
    | StepSkipped
    | VerificationRecorded
    | Escalated
    | EscalationDue
    | EvidencePinned
    | TimeEdited
    | RoleAssigned
    | NotificationSent
    | CommandDeclined
    | ActionItemAdded
    | ActionItemRemoved
    | MetricsRecorded
    | RunbookSwitched
)


class Incident(_Record, frozen=True, kw_only=True):
    format: int = FORMAT
    id: str
    title: str
    severity: Severity
    runbook: str
    opened_at: datetime
    opened_by: str
    # Made on the embedded demo stack (a rehearsal), kept beside real records.
    demo: bool = False
    alert: AlertEvidence | None = None
    # Open alerts of the same cause when it was opened (the 5xx beside the DB pool).
    related_alerts: tuple[AlertEvidence, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    postmortem: PostmortemText = PostmortemText()
    action_items: tuple[ActionItem, ...] = ()
    events: tuple[Event, ...] = ()

    # -- reading the timeline ---------------------------------------------------------

    @property
    def next_event_id(self) -> int:
        return self.events[-1].id + 1 if self.events else 1

    @property
    def status(self) -> IncidentStatus:
        for event in reversed(self.events):
            if isinstance(event, StatusChanged):
                return event.status
        return "detected"

    def event(self, event_id: int) -> Event | None:
        # Ids are dense from 1, so the position is the id; fall back to a search
        # should a record ever have been written otherwise.
        if 0 < event_id <= len(self.events) and self.events[event_id - 1].id == event_id:
            return self.events[event_id - 1]
        return next((e for e in self.events if e.id == event_id), None)

    def effective_times(self) -> dict[int, datetime]:
        """Event id → time, after the corrections recorded by ``time_edited``."""
        times = {event.id: event.at for event in self.events}
        for event in self.events:
            if isinstance(event, TimeEdited):
                times[event.target] = event.value
        return times

    def time_of(self, event: Event) -> datetime:
        return self.effective_times().get(event.id, event.at)

    def status_times(self) -> dict[IncidentStatus, datetime]:
        """When each status was reached (corrected times where edited)."""
        times = self.effective_times()
        return {
            event.status: times[event.id]
            for event in self.events
            if isinstance(event, StatusChanged)
        }

    def roles(self) -> dict[Role, str]:
        found: dict[Role, str] = {}
        for event in self.events:
            if isinstance(event, RoleAssigned):
                found[event.role] = event.person
        return found

    def authors(self) -> list[str]:
        """Everyone who recorded something, in order of first appearance."""
        seen: list[str] = [self.opened_by] if self.opened_by else []
        for event in self.events:
            if event.author and event.author not in seen:
                seen.append(event.author)
        return seen

    @property
    def current_runbook(self) -> str:
        """The runbook followed now: the last one switched to, else the first."""
        for event in reversed(self.events):
            if isinstance(event, RunbookSwitched):
                return event.runbook
        return self.runbook

    def events_of_current_runbook(self) -> tuple[Event, ...]:
        """The events since the last runbook switch (all of them without one)."""
        for position in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[position], RunbookSwitched):
                return self.events[position + 1:]
        return self.events

    @property
    def current_step(self) -> int:
        """The step in progress, or the next one to do (``len(steps)`` when all done)."""
        for event in reversed(self.events):
            if isinstance(event, StepStarted):
                return event.step
            if isinstance(event, StepCompleted | StepSkipped):
                return event.step + 1
            if isinstance(event, RunbookSwitched):
                return event.resume_at
        return 0

    def step_state(self, index: int) -> Literal["pending", "in_progress", "done", "skipped"]:
        """A step of the current runbook: what happened to it since it was taken up."""
        state: Literal["pending", "in_progress", "done", "skipped"] = "pending"
        for event in self.events:
            if isinstance(event, RunbookSwitched):
                state = "done" if index in event.carried else "pending"
                continue
            if getattr(event, "step", None) != index:
                continue
            if isinstance(event, StepStarted):
                state = "in_progress"
            elif isinstance(event, StepCompleted):
                state = "done"
            elif isinstance(event, StepSkipped):
                state = "skipped"
        return state

    def pinned_evidence(self) -> list[Evidence]:
        """The evidence at the start, then everything pinned since."""
        pinned = [
            Evidence(kind=e.evidence_kind, title=e.title, content=e.content, at=e.at)
            for e in self.events
            if isinstance(e, EvidencePinned)
        ]
        return [*self.evidence, *pinned]

    def recorded_action_items(self) -> list[tuple[int | None, ActionItem]]:
        """The action items: the header's (no event id), then those added on the
        timeline and not removed since, each with its event's id."""
        removed = {e.target for e in self.events if isinstance(e, ActionItemRemoved)}
        items: list[tuple[int | None, ActionItem]] = [(None, item) for item in self.action_items]
        items += [
            (e.id, ActionItem(owner=e.owner, type=e.type, text=e.text, due=e.due))
            for e in self.events
            if isinstance(e, ActionItemAdded) and e.id not in removed
        ]
        return items

    def findings_notes(self) -> list[Note]:
        return [e for e in self.events if isinstance(e, Note) and e.finding]

    def metrics_snapshots(self) -> list[tuple[IncidentStatus, Evidence]]:
        """The findings recorded at each moment: at the start (detected), then at
        mitigated and resolved."""
        found: list[tuple[IncidentStatus, Evidence]] = [
            ("detected", e) for e in self.evidence if e.kind == "metrics"
        ]
        found += [
            (e.status, Evidence(kind="metrics", title=e.title, content=e.content, at=e.at,
                                readings=e.readings, requests=e.requests))
            for e in self.events
            if isinstance(e, MetricsRecorded)
        ]
        return found

    @property
    def last_event(self) -> Event | None:
        return self.events[-1] if self.events else None

    # -- changing it --------------------------------------------------------------------

    def with_event(self, event: Event) -> Incident:
        """This incident with ``event`` appended; raises ``IncidentRuleError`` if not allowed."""
        check_event(self, event)
        return msgspec.structs.replace(self, events=(*self.events, event))

    def with_postmortem(self, **sections: str) -> Incident:
        unknown = set(sections) - set(PostmortemText.__struct_fields__)
        if unknown:
            raise IncidentRuleError(f"no postmortem section {sorted(unknown)[0]!r}")
        return msgspec.structs.replace(
            self, postmortem=msgspec.structs.replace(self.postmortem, **sections)
        )

    def with_action_items(self, items: Sequence[ActionItem]) -> Incident:
        for item in items:
            if not item.text.strip():
                raise IncidentRuleError("an action item needs text")
        return msgspec.structs.replace(self, action_items=tuple(items))

    def with_header(
        self, *, title: str | None = None, severity: Severity | None = None
    ) -> Incident:
        return msgspec.structs.replace(
            self,
            title=self.title if title is None else title,
            severity=self.severity if severity is None else severity,
        )


def check_event(incident: Incident, event: Event) -> None:
    """The rules an event must follow to join ``incident``'s timeline."""
    if event.id != incident.next_event_id:
        raise IncidentRuleError(
            f"event id {event.id} is not the next one ({incident.next_event_id})"
        )
    if isinstance(event, StatusChanged):
        _check_transition(incident.status if incident.events else None, event.status)
    elif isinstance(event, StepSkipped):
        if not event.reason.strip():
            raise IncidentRuleError("skipping a step needs a reason")
    elif isinstance(event, TimeEdited):
        _check_time_edit(incident, event)
    elif isinstance(event, CommandFinished):
        started = incident.event(event.started)
        if not isinstance(started, CommandStarted):
            raise IncidentRuleError(f"event {event.started} is not a started command")
    elif (
        isinstance(event, StepStarted | StepCompleted | VerificationRecorded | CommandDeclined)
        and event.step < 0
    ):
        raise IncidentRuleError("step index must not be negative")
    elif isinstance(event, RunbookSwitched):
        if event.resume_at < 0 or event.runbook == incident.current_runbook:
            raise IncidentRuleError(f"the incident follows {event.runbook} already")
    elif isinstance(event, ActionItemAdded):
        if not event.text.strip():
            raise IncidentRuleError("an action item needs text")
    elif isinstance(event, ActionItemRemoved):
        target = incident.event(event.target)
        if not isinstance(target, ActionItemAdded):
            raise IncidentRuleError(f"event {event.target} is not an action item")
        if any(isinstance(e, ActionItemRemoved) and e.target == event.target
               for e in incident.events):
            raise IncidentRuleError(f"action item {event.target} is removed already")


def _check_transition(current: IncidentStatus | None, to: IncidentStatus) -> None:
    if current is None:
        if to != "detected":
            raise IncidentRuleError("an incident starts as detected")
        return
    position = STATUSES.index(current)
    if position + 1 >= len(STATUSES):
        raise IncidentRuleError(f"the incident is {current}; nothing follows")
    expected = STATUSES[position + 1]
    if to != expected:
        raise IncidentRuleError(f"the incident is {current}; next comes {expected}, not {to}")


def _check_time_edit(incident: Incident, event: TimeEdited) -> None:
    if not event.reason.strip():
        raise IncidentRuleError("editing a time needs a reason")
    target = incident.event(event.target)
    if target is None:
        raise IncidentRuleError(f"no event {event.target} to edit")
    if isinstance(target, TimeEdited):
        raise IncidentRuleError("a correction's own time cannot be edited")
    if isinstance(target, StatusChanged):
        times = incident.status_times()
        times[target.status] = event.value
        ordered = [times[s] for s in STATUSES if s in times]
        if ordered != sorted(ordered):
            raise IncidentRuleError(
                f"{target.status} at {event.value.isoformat()} would break the status order"
            )


def check_history(incident: Incident) -> None:
    """Every event of a loaded record follows the rules; raises ``IncidentRuleError``."""
    replayed = msgspec.structs.replace(incident, events=())
    for event in incident.events:
        replayed = replayed.with_event(event)


# -- building events -----------------------------------------------------------------


def _stamp(
    incident: Incident, at: datetime | None, author: str | None
) -> tuple[int, datetime, str]:
    when = at if at is not None else utc_now()
    if when.tzinfo is None:
        raise IncidentRuleError("times must carry a time zone")
    return incident.next_event_id, when, author if author is not None else current_author()


def transition(
    incident: Incident, to: IncidentStatus, *, at: datetime | None = None, author: str | None = None
) -> StatusChanged:
    """The next status (detected → acknowledged → mitigated → resolved → closed)."""
    _check_transition(incident.status, to)
    event_id, when, who = _stamp(incident, at, author)
    return StatusChanged(id=event_id, at=when, author=who, status=to, previous=incident.status)


FINDING_MARK = "!"


def note(
    incident: Incident,
    text: str,
    *,
    finding: bool | None = None,
    at: datetime | None = None,
    author: str | None = None,
) -> Note:
    """A note; a finding when ``finding`` says so or, left None, when the text
    starts with ``!`` (typed in the note prompt: "!pool exhausted by the report job"),
    the mark itself not kept."""
    if finding is None:
        stripped = text.lstrip()
        finding = stripped.startswith(FINDING_MARK)
        if finding:
            text = stripped[len(FINDING_MARK):].lstrip()
    if not text.strip():
        raise IncidentRuleError("a note needs text")
    event_id, when, who = _stamp(incident, at, author)
    return Note(id=event_id, at=when, author=who, text=text, finding=finding)


def command_declined(
    incident: Incident,
    step: int,
    command: str,
    command_kind: str,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> CommandDeclined:
    event_id, when, who = _stamp(incident, at, author)
    return CommandDeclined(
        id=event_id, at=when, author=who, step=step, command=command, command_kind=command_kind
    )


def add_action_item(
    incident: Incident,
    owner: str,
    item_type: ActionItemType,
    text: str,
    due: date | None = None,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> ActionItemAdded:
    if not text.strip():
        raise IncidentRuleError("an action item needs text")
    event_id, when, who = _stamp(incident, at, author)
    return ActionItemAdded(
        id=event_id, at=when, author=who, owner=owner.strip(), type=item_type,
        text=text.strip(), due=due,
    )


def remove_action_item(
    incident: Incident, target: int, *, at: datetime | None = None, author: str | None = None
) -> ActionItemRemoved:
    event_id, when, who = _stamp(incident, at, author)
    event = ActionItemRemoved(id=event_id, at=when, author=who, target=target)
    check_event(incident, event)
    return event


def record_metrics(
    incident: Incident,
    status: IncidentStatus,
    findings: Sequence[Finding],
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> MetricsRecorded | None:
    """The findings as the incident reaches ``status``; None without findings."""
    if not findings:
        return None
    title_keys = {
        "mitigated": N_("incident.findings_at_mitigated"),
        "resolved": N_("incident.findings_at_resolved"),
    }
    event_id, when, who = _stamp(incident, at, author)
    return MetricsRecorded(
        id=event_id,
        at=when,
        author=who,
        status=status,
        title=tr(title_keys.get(status, N_("incident.findings_at_resolved"))),
        content=findings_table(findings),
        readings=readings_of(findings),
        requests=requests_of(findings),
    )


def switch_runbook(
    incident: Incident,
    runbook: Runbook,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> RunbookSwitched:
    """Follow ``runbook`` from now on.  Its steps whose ids were done before (under
    any runbook: a DB restart done is done) count as done; it is taken up at its
    first step not done."""
    if incident.status == "closed":
        raise IncidentRuleError("the incident is closed")
    if runbook.id == incident.current_runbook:
        raise IncidentRuleError(f"the incident follows {runbook.id} already")
    done = {e.step_id for e in incident.events if isinstance(e, StepCompleted)}
    carried = tuple(index for index, step in enumerate(runbook.steps) if step.id in done)
    resume_at = next(
        (index for index in range(len(runbook.steps)) if index not in carried),
        len(runbook.steps),
    )
    event_id, when, who = _stamp(incident, at, author)
    return RunbookSwitched(
        id=event_id,
        at=when,
        author=who,
        runbook=runbook.id,
        previous=incident.current_runbook,
        resume_at=resume_at,
        carried=carried,
    )


def start_step(
    incident: Incident,
    runbook: Runbook,
    index: int,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> StepStarted:
    step = runbook.step(index)
    if step is None:
        raise IncidentRuleError(f"{runbook.id} has no step {index + 1}")
    event_id, when, who = _stamp(incident, at, author)
    return StepStarted(
        id=event_id,
        at=when,
        author=who,
        step=index,
        step_id=step.id,
        title=f"{step.title_ja} / {step.title_en}",
    )


def complete_step(
    incident: Incident,
    runbook: Runbook,
    index: int,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> StepCompleted:
    step = runbook.step(index)
    if step is None:
        raise IncidentRuleError(f"{runbook.id} has no step {index + 1}")
    event_id, when, who = _stamp(incident, at, author)
    return StepCompleted(id=event_id, at=when, author=who, step=index, step_id=step.id)


def skip_step(
    incident: Incident,
    runbook: Runbook,
    index: int,
    reason: str,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> StepSkipped:
    step = runbook.step(index)
    if step is None:
        raise IncidentRuleError(f"{runbook.id} has no step {index + 1}")
    if not reason.strip():
        raise IncidentRuleError("skipping a step needs a reason")
    event_id, when, who = _stamp(incident, at, author)
    return StepSkipped(id=event_id, at=when, author=who, step=index, step_id=step.id, reason=reason)


def command_started(
    incident: Incident,
    step: int,
    command: str,
    command_kind: str,
    *,
    destructive: bool = False,
    at: datetime | None = None,
    author: str | None = None,
) -> CommandStarted:
    event_id, when, who = _stamp(incident, at, author)
    return CommandStarted(
        id=event_id,
        at=when,
        author=who,
        step=step,
        command=command,
        command_kind=command_kind,
        destructive=destructive,
    )


def command_finished(
    incident: Incident,
    started: CommandStarted,
    outcome: CommandOutcome,
    *,
    exit_code: int | None = None,
    duration_s: float = 0.0,
    excerpt: str = "",
    at: datetime | None = None,
    author: str | None = None,
) -> CommandFinished:
    event_id, when, who = _stamp(incident, at, author)
    return CommandFinished(
        id=event_id,
        at=when,
        author=who,
        step=started.step,
        started=started.id,
        command=started.command,
        outcome=outcome,
        exit_code=exit_code,
        duration_s=round(duration_s, 3),
        excerpt=excerpt,
    )


def record_verification(
    incident: Incident,
    step: int,
    check: str,
    passed: bool,
    detail: str = "",
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> VerificationRecorded:
    event_id, when, who = _stamp(incident, at, author)
    return VerificationRecorded(
        id=event_id, at=when, author=who, step=step, check=check, passed=passed, detail=detail
    )


def escalate(
    incident: Incident,
    step: EscalationStep,
    note_text: str = "",
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> Escalated:
    event_id, when, who = _stamp(incident, at, author)
    return Escalated(
        id=event_id,
        at=when,
        author=who,
        level=step.level,
        role=step.role,
        contact=step.contact,
        note=note_text,
    )


def notification_sent(
    incident: Incident,
    channel: str,
    action: NotifyAction,
    ok: bool,
    *,
    about: int = 0,
    attempts: int = 1,
    detail: str = "",
    at: datetime | None = None,
    author: str | None = None,
) -> NotificationSent:
    event_id, when, who = _stamp(incident, at, author)
    return NotificationSent(
        id=event_id, at=when, author=who, channel=channel, action=action, ok=ok,
        about=about, attempts=attempts, detail=detail,
    )


def escalation_due(
    incident: Incident,
    step: EscalationStep,
    due_at: datetime,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> EscalationDue:
    event_id, when, who = _stamp(incident, at, author)
    return EscalationDue(
        id=event_id,
        at=when,
        author=who,
        level=step.level,
        role=step.role,
        contact=step.contact,
        due_at=due_at,
    )


def pin_evidence(
    incident: Incident,
    kind: EvidenceKind,
    title: str,
    content: str,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> EvidencePinned:
    if not content.strip():
        raise IncidentRuleError("pinned evidence needs content")
    event_id, when, who = _stamp(incident, at, author)
    return EvidencePinned(
        id=event_id, at=when, author=who, evidence_kind=kind, title=title, content=content
    )


def edit_time(
    incident: Incident,
    target: int,
    value: datetime,
    reason: str,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> TimeEdited:
    """Correct when event ``target`` happened (e.g. detected earlier than recorded)."""
    original = incident.event(target)
    if original is None:
        raise IncidentRuleError(f"no event {target} to edit")
    if value.tzinfo is None:
        raise IncidentRuleError("times must carry a time zone")
    event_id, when, who = _stamp(incident, at, author)
    event = TimeEdited(
        id=event_id,
        at=when,
        author=who,
        target=target,
        previous=incident.time_of(original),
        value=value,
        reason=reason,
    )
    _check_time_edit(incident, event)
    return event


def assign_role(
    incident: Incident,
    role: Role,
    person: str,
    *,
    at: datetime | None = None,
    author: str | None = None,
) -> RoleAssigned:
    if not person.strip():
        raise IncidentRuleError("a role needs a person")
    event_id, when, who = _stamp(incident, at, author)
    return RoleAssigned(id=event_id, at=when, author=who, role=role, person=person)


# -- opening an incident -------------------------------------------------------------

_SLUG = re.compile(r"[^a-z0-9]+")


def make_incident_id(
    at: datetime, slug: str, taken: Iterable[str] = (), tz: tzinfo | None = None
) -> str:
    """``2026-11-28-0314-service-down``: when it was opened (in ``tz``, local time by
    default) and what it is about."""
    local = at.astimezone(tz)
    base = f"{local:%Y-%m-%d-%H%M}-{_SLUG.sub('-', slug.lower()).strip('-') or 'incident'}"
    used = set(taken)
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def findings_table(findings: Sequence[Finding]) -> str:
    """A plain-text table of findings, for a metrics snapshot, in the current
    language as its cells are (the level stays its code, as the alert's does)."""
    headers = (
        tr("incident.findings.component"),
        tr("incident.findings.metric"),
        tr("incident.findings.value"),
        tr("incident.findings.level"),
    )
    rows = [headers] + [
        (f.component_name(), f.label, f.display, f.level.value) for f in findings
    ]
    return "\n".join(cell_columns(rows))


def readings_of(findings: Sequence[Finding]) -> tuple[Reading, ...]:
    """The findings' numbers (those that have one), kept beside their table."""
    return tuple(Reading(f.key, float(f.value)) for f in findings if f.value is not None)


def requests_of(findings: Sequence[Finding]) -> int | None:
    """The requests a finding counted in its window (the response time's says)."""
    counts = [
        count
        for f in findings
        for name, count in f.display_phrase.values
        if name == "requests" and isinstance(count, int)
    ]
    return max(counts) if counts else None


def evidence_of_alert(alert: Alert) -> AlertEvidence:
    """An alert as the record keeps it."""
    return AlertEvidence(
        key=alert.key,
        title=alert.title,
        level=alert.level.value,
        severity=alert.severity,
        first_seen=alert.first_seen,
        respond_by=alert.respond_by,
        detail=alert.detail,
    )


def new_incident(
    *,
    runbook: Runbook,
    alert: Alert | None = None,
    related: Sequence[Alert] = (),
    title: str | None = None,
    severity: Severity | None = None,
    findings: Sequence[Finding] = (),
    at: datetime | None = None,
    author: str | None = None,
    taken_ids: Iterable[str] = (),
    tz: tzinfo | None = None,
    demo: bool = False,
) -> Incident:
    """A new incident, its alert and the findings at the start pre-filled as evidence.

    The first event is ``detected``, at the alert's first sighting when there is one.
    The findings' table is in the language of the console that opened it, headers
    and title with its cells (whose labels and values already are).
    """
    opened = at if at is not None else utc_now()
    who = author if author is not None else current_author()
    alert_evidence: AlertEvidence | None = None
    evidence: list[Evidence] = []
    if alert is not None:
        alert_evidence = evidence_of_alert(alert)
        evidence.append(
            Evidence(
                kind="alert",
                title=alert.title,
                at=opened,
                content="\n".join(
                    line
                    for line in (
                        f"key: {alert.key}",
                        f"level: {alert.level.value}",
                        f"severity: {alert.severity}",
                        f"first seen: {alert.first_seen.isoformat()}",
                        f"respond by: {alert.respond_by.isoformat()}",
                        f"detail: {alert.detail}" if alert.detail else "",
                    )
                    if line
                ),
            )
        )
    if findings:
        evidence.append(
            Evidence(
                kind="metrics",
                title=tr("incident.findings_at_start"),
                content=findings_table(findings),
                at=opened,
                readings=readings_of(findings),
                requests=requests_of(findings),
            )
        )
    detected_at = alert.first_seen if alert is not None else opened
    incident = Incident(
        id=make_incident_id(opened, runbook.id, taken_ids, tz),
        title=title
        # Without an alert the title is the runbook's in both languages: the record is
        # shared by responders of either, as its step titles are.
        or (alert.title if alert is not None else f"{runbook.title_ja} / {runbook.title_en}"),
        severity=severity or (alert.severity if alert is not None else runbook.severity),
        runbook=runbook.id,
        opened_at=opened,
        opened_by=who,
        demo=demo,
        alert=alert_evidence,
        related_alerts=tuple(evidence_of_alert(other) for other in related),
        evidence=tuple(evidence),
    )
    first = StatusChanged(id=1, at=detected_at, author=who, status="detected")
    return incident.with_event(first)
