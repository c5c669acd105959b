"""Events in words: one line per event for the timeline, the CLI and the postmortem.

``describe_event`` speaks the language it is given (the screen's and the CLI's);
without one it gives the record's own wording, the one the shared postmortem has
always carried: English with the statuses in both languages ("検知 / detected")."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rainbow_tui.incidents.model import (
    ActionItemAdded,
    ActionItemRemoved,
    CommandDeclined,
    CommandFinished,
    CommandOutcome,
    CommandStarted,
    Escalated,
    EscalationDue,
    Event,
    EvidenceKind,
    EvidencePinned,
    Incident,
    IncidentStatus,
    MetricsRecorded,
    Note,
    NotificationSent,
    NotifyAction,
    Role,
    RoleAssigned,
    RunbookSwitched,
    StatusChanged,
    StepCompleted,
    StepSkipped,
    StepStarted,
    TimeEdited,
    VerificationRecorded,
)
from rainbow_tui.text import N_, Language
from rainbow_tui.text import language as catalogue_language

__all__ = [
    "EVIDENCE_KEYS",
    "EVIDENCE_LABELS",
    "OUTCOME_KEYS",
    "ROLE_KEYS",
    "STATUS_KEYS",
    "STATUS_LABELS",
    "describe_event",
    "evidence_word",
    "format_time",
    "outcome_words",
    "status_word",
]

STATUS_KEYS: dict[IncidentStatus, str] = {
    "detected": N_("incident.status.detected"),
    "acknowledged": N_("incident.status.acknowledged"),
    "mitigated": N_("incident.status.mitigated"),
    "resolved": N_("incident.status.resolved"),
    "closed": N_("incident.status.closed"),
}
# The record's wording of a status: both languages, as the shared postmortem shows it.
STATUS_LABELS: dict[IncidentStatus, str] = {
    "detected": "検知 / detected",
    "acknowledged": "確認 / acknowledged",
    "mitigated": "緩和 / mitigated",
    "resolved": "解決 / resolved",
    "closed": "完了 / closed",
}
EVIDENCE_KEYS: dict[EvidenceKind, str] = {
    "alert": N_("timeline.evidence.alert"),
    "metrics": N_("timeline.evidence.metrics"),
    "log_lines": N_("timeline.evidence.log_lines"),
    "table": N_("timeline.evidence.table"),
}
# The record's wording of a kind of evidence (the postmortem's headings).
EVIDENCE_LABELS: dict[EvidenceKind, str] = {
    "alert": "alert",
    "metrics": "metrics snapshot",
    "log_lines": "log lines",
    "table": "table",
}
OUTCOME_KEYS: dict[CommandOutcome, str] = {
    "ok": N_("timeline.outcome.ok"),
    "failed": N_("timeline.outcome.failed"),
    "timeout": N_("timeline.outcome.timeout"),
    "cancelled": N_("timeline.outcome.cancelled"),
    "not_run": N_("timeline.outcome.not_run"),
    "error": N_("timeline.outcome.error"),
}
NOTIFY_ACTION_KEYS: dict[NotifyAction, str] = {
    "trigger": N_("timeline.notify.trigger"),
    "acknowledge": N_("timeline.notify.acknowledge"),
    "resolve": N_("timeline.notify.resolve"),
    "message": N_("timeline.notify.message"),
}
ROLE_KEYS: dict[Role, str] = {
    "commander": N_("incident.role.commander"),
    "scribe": N_("incident.role.scribe"),
}


def _record_or(language: Language | None) -> Language:
    """The words to use: the record's are the English catalogue's, but for statuses."""
    return language or catalogue_language("en")


def status_word(status: IncidentStatus, language: Language | None = None) -> str:
    """A status in ``language``'s words; without one, in the record's (both languages)."""
    if language is None:
        return STATUS_LABELS[status]
    return language.tr(STATUS_KEYS[status])


def evidence_word(kind: EvidenceKind, language: Language | None = None) -> str:
    if language is None:
        return EVIDENCE_LABELS[kind]
    return language.tr(EVIDENCE_KEYS[kind])


def format_time(at: datetime, tz: tzinfo | None = None, with_date: bool = True) -> str:
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S %z" if with_date else "%H:%M:%S")


def _outcome(event: CommandFinished, language: Language | None) -> str:
    # The record keeps the outcome's own name ("not_run"); a language may say it.
    return event.outcome if language is None else language.tr(OUTCOME_KEYS[event.outcome])


def outcome_words(event: CommandFinished, language: Language | None = None) -> str:
    """How a command ended: its exit code and duration (``exit 0, 1.2 s``)."""
    words = _record_or(language)
    if event.exit_code is not None:
        code = words.tr("timeline.exit_code", code=event.exit_code)
    else:
        code = words.tr("timeline.no_exit_code")
    if event.outcome == "not_run":
        return words.tr("timeline.not_run")
    if event.outcome in ("ok", "failed"):
        return words.tr("timeline.result", code=code, seconds=event.duration_s)
    return words.tr("timeline.result_outcome", outcome=_outcome(event, language), code=code,
                    seconds=event.duration_s)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _with_detail(words: Language, what: str, detail: str) -> str:
    return words.tr("timeline.with_detail", what=what, detail=_one_line(detail)) if detail else what


def describe_event(
    incident: Incident, event: Event, tz: tzinfo | None = None, language: Language | None = None
) -> str:
    """What ``event`` says, in one line, in ``language``'s words (the record's without)."""
    words = _record_or(language)
    if isinstance(event, StatusChanged):
        return words.tr("timeline.status", status=status_word(event.status, language))
    if isinstance(event, Note):
        key = N_("timeline.note_finding") if event.finding else N_("timeline.note")
        return words.tr(key, text=_one_line(event.text))
    if isinstance(event, CommandDeclined):
        return words.tr("timeline.declined", kind=event.command_kind,
                        command=_one_line(event.command))
    if isinstance(event, ActionItemAdded):
        return words.tr("timeline.action_item", owner=event.owner or "—",
                        text=_one_line(event.text))
    if isinstance(event, ActionItemRemoved):
        return words.tr("timeline.action_item_removed", event=event.target)
    if isinstance(event, MetricsRecorded):
        return words.tr("timeline.metrics", status=status_word(event.status, language))
    if isinstance(event, StepStarted):
        return words.tr("timeline.step_started", step=event.step + 1, title=event.title)
    if isinstance(event, StepCompleted):
        return words.tr("timeline.step_done", step=event.step + 1)
    if isinstance(event, StepSkipped):
        return words.tr("timeline.step_skipped", step=event.step + 1,
                        reason=_one_line(event.reason))
    if isinstance(event, CommandStarted):
        key = (N_("timeline.ran_destructive") if event.destructive
               else N_("timeline.ran"))
        return words.tr(key, kind=event.command_kind, command=_one_line(event.command))
    if isinstance(event, CommandFinished):
        return words.tr("timeline.finished", outcome=_outcome(event, language),
                        command=_one_line(event.command, 120),
                        result=outcome_words(event, language))
    if isinstance(event, VerificationRecorded):
        key = N_("timeline.verified") if event.passed else N_("timeline.verify_failed")
        return _with_detail(words, words.tr(key, check=event.check), event.detail)
    if isinstance(event, Escalated):
        if event.contact:
            escalated = words.tr("timeline.escalated_contact", level=event.level,
                                 role=event.role, contact=event.contact)
        else:
            escalated = words.tr("timeline.escalated", level=event.level, role=event.role)
        return _with_detail(words, escalated, event.note)
    if isinstance(event, EscalationDue):
        return words.tr("timeline.escalation_due", level=event.level, role=event.role,
                        at=format_time(event.due_at, tz, with_date=False))
    if isinstance(event, EvidencePinned):
        return words.tr("timeline.pinned", kind=evidence_word(event.evidence_kind, language),
                        title=_one_line(event.title))
    if isinstance(event, TimeEdited):
        target = incident.event(event.target)
        if isinstance(target, StatusChanged):
            # The record names the status as stored; a language says it in its words.
            status = target.status if language is None else status_word(target.status, language)
            what = words.tr("timeline.event_status", event=event.target, status=status)
        else:
            what = words.tr("timeline.event", event=event.target)
        return words.tr("timeline.time_edited", what=what,
                        previous=format_time(event.previous, tz),
                        value=format_time(event.value, tz), reason=_one_line(event.reason))
    if isinstance(event, RoleAssigned):
        role = event.role if language is None else language.tr(ROLE_KEYS[event.role])
        return words.tr("timeline.role", role=role, person=event.person)
    if isinstance(event, RunbookSwitched):
        return words.tr("timeline.runbook_switched", previous=event.previous,
                        runbook=event.runbook, step=event.resume_at + 1,
                        carried=len(event.carried))
    if isinstance(event, NotificationSent):
        action = words.tr(NOTIFY_ACTION_KEYS[event.action])
        key = N_("timeline.notify.sent") if event.ok else N_("timeline.notify.failed")
        sent = words.tr(key, channel=event.channel, action=action, attempts=event.attempts)
        return _with_detail(words, sent, event.detail)
    raise AssertionError(f"unknown event {event!r}")
