"""Events in words: one line per event for the timeline, the CLI and the postmortem."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rainbow_tui.incidents.model import (
    CommandFinished,
    CommandStarted,
    Escalated,
    Event,
    EvidencePinned,
    Incident,
    Note,
    RoleAssigned,
    StatusChanged,
    StepCompleted,
    StepSkipped,
    StepStarted,
    TimeEdited,
    VerificationRecorded,
)

__all__ = ["EVIDENCE_LABELS", "STATUS_LABELS", "describe_event", "format_time", "outcome_words"]

STATUS_LABELS = {
    "detected": "検知 / detected",
    "acknowledged": "確認 / acknowledged",
    "mitigated": "緩和 / mitigated",
    "resolved": "解決 / resolved",
    "closed": "完了 / closed",
}
EVIDENCE_LABELS = {
    "alert": "alert",
    "metrics": "metrics snapshot",
    "log_lines": "log lines",
    "table": "table",
}


def format_time(at: datetime, tz: tzinfo | None = None, with_date: bool = True) -> str:
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S %z" if with_date else "%H:%M:%S")


def outcome_words(event: CommandFinished) -> str:
    code = f"exit {event.exit_code}" if event.exit_code is not None else "no exit code"
    if event.outcome == "not_run":
        return "not run (read-only)"
    if event.outcome in ("ok", "failed"):
        return f"{code}, {event.duration_s:.1f} s"
    return f"{event.outcome}, {code}, {event.duration_s:.1f} s"


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def describe_event(incident: Incident, event: Event, tz: tzinfo | None = None) -> str:
    """What ``event`` says, in one line."""
    if isinstance(event, StatusChanged):
        return f"status → {STATUS_LABELS[event.status]}"
    if isinstance(event, Note):
        return f"note: {_one_line(event.text)}"
    if isinstance(event, StepStarted):
        return f"step {event.step + 1} started: {event.title}"
    if isinstance(event, StepCompleted):
        return f"step {event.step + 1} done"
    if isinstance(event, StepSkipped):
        return f"step {event.step + 1} skipped: {_one_line(event.reason)}"
    if isinstance(event, CommandStarted):
        flag = " (destructive)" if event.destructive else ""
        return f"ran {event.command_kind}{flag}: {_one_line(event.command)}"
    if isinstance(event, CommandFinished):
        return f"{event.outcome}: {_one_line(event.command, 120)} ({outcome_words(event)})"
    if isinstance(event, VerificationRecorded):
        verdict = "passed" if event.passed else "FAILED"
        detail = f": {_one_line(event.detail)}" if event.detail else ""
        return f"verification {event.check} {verdict}{detail}"
    if isinstance(event, Escalated):
        contact = f" ({event.contact})" if event.contact else ""
        extra = f": {_one_line(event.note)}" if event.note else ""
        return f"escalated to L{event.level} {event.role}{contact}{extra}"
    if isinstance(event, EvidencePinned):
        return f"pinned {EVIDENCE_LABELS[event.evidence_kind]}: {_one_line(event.title)}"
    if isinstance(event, TimeEdited):
        target = incident.event(event.target)
        what = f"event {event.target}"
        if isinstance(target, StatusChanged):
            what += f" ({target.status})"
        return (
            f"time of {what} corrected {format_time(event.previous, tz)} → "
            f"{format_time(event.value, tz)}: {_one_line(event.reason)}"
        )
    if isinstance(event, RoleAssigned):
        return f"{event.role}: {event.person}"
    raise AssertionError(f"unknown event {event!r}")
