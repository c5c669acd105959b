"""What the record gained for the postmortem: notes marked as findings, declined
commands, action items added and removed on the timeline, and the findings of the
moment recorded at mitigated and resolved — each on disk once its write is awaited,
and a record written before these existed still loading."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from rainbow_tui.findings import Finding
from rainbow_tui.incidents.model import (
    ActionItemAdded,
    CommandDeclined,
    IncidentRuleError,
    MetricsRecorded,
    Note,
    new_incident,
    remove_action_item,
)
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.incidents.timeline import describe_event
from rainbow_tui.levels import Level
from rainbow_tui.text import Phrase, language
from rainbow_tui.wizard import IncidentWizard
from tests.helpers.incidents import POSTMORTEM_CONFIG, T0, make_alert

# The monitor's findings "now": errors still high, 1,234 requests in the window.
NOW_FINDINGS = [
    Finding("service", "error_rate_percent", "Error rate", "7.5 %", Level.CRITICAL, "critical",
            value=7.5),
    Finding("service", "response_time_p95_ms", "Response p95",
            Phrase("finding.p95.with_requests", ms=850.0, requests=1234), Level.WARNING,
            value=850.0),
]


def _wizard(tmp_path: Path, findings: list[Finding] | None = None) -> IncidentWizard:
    store = IncidentStore(tmp_path)
    runbook = pick_runbook("service:health")
    incident = store.create(
        new_incident(runbook=runbook, alert=make_alert(), at=T0 + timedelta(minutes=2),
                     author="a", findings=NOW_FINDINGS)
    )
    config = POSTMORTEM_CONFIG
    return IncidentWizard(config, store, CommandRunner(config), runbook, incident,
                          latest_findings=(lambda: findings or []))


def _on_disk(wizard: IncidentWizard, tmp_path: Path):  # type: ignore[no-untyped-def]
    return IncidentStore(tmp_path).read(wizard.incident_id).incident


async def test_a_note_typed_with_a_bang_is_a_finding(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    await wizard.add_note("! pool exhausted by the nightly report job")
    await wizard.add_note("paged the DB owner")
    notes = [e for e in _on_disk(wizard, tmp_path).events if isinstance(e, Note)]
    assert [(n.text, n.finding) for n in notes] == [
        ("pool exhausted by the nightly report job", True),
        ("paged the DB owner", False),
    ]
    english = language("en")
    assert describe_event(wizard.incident, notes[0], language=english) == (
        "finding: pool exhausted by the nightly report job"
    )
    assert describe_event(wizard.incident, notes[0], language=language("ja")).startswith("所見")


async def test_a_declined_command_is_recorded_on_its_step(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    step = wizard.step
    assert step is not None and step.commands
    command = step.commands[0]
    await wizard.record_declined(command, "bundle exec kamal app details")
    declined = _on_disk(wizard, tmp_path).events[-1]
    assert isinstance(declined, CommandDeclined)
    assert (declined.step, declined.command, declined.command_kind) == (
        wizard.step_index, "bundle exec kamal app details", command.kind,
    )
    assert describe_event(wizard.incident, declined, language=language("en")) == (
        f"declined {command.kind}: bundle exec kamal app details"
    )


async def test_action_items_are_added_and_removed_on_the_timeline(tmp_path: Path) -> None:
    wizard = _wizard(tmp_path)
    await wizard.add_action_item("suzuki", "prevent", "Request spec for #index", date(2026, 12, 5))
    await wizard.add_action_item("sato", "detect", "Alert on pool waits")
    first = next(e for e in wizard.incident.events if isinstance(e, ActionItemAdded))
    await wizard.remove_action_item(first.id)
    items = _on_disk(wizard, tmp_path).recorded_action_items()
    assert [(item.owner, item.type, item.text, item.due) for _, item in items] == [
        ("sato", "detect", "Alert on pool waits", None)
    ]
    with pytest.raises(IncidentRuleError):
        remove_action_item(wizard.incident, first.id)  # removed already
    with pytest.raises(IncidentRuleError):
        wizard.add_action_item("sato", "other", "  ")


async def test_the_findings_of_the_moment_are_recorded_at_mitigated_and_resolved(
    tmp_path: Path,
) -> None:
    recovered = [
        Finding("service", "error_rate_percent", "Error rate", "0.02 %", Level.NORMAL, value=0.02)
    ]
    wizard = _wizard(tmp_path, recovered)
    await wizard.advance("acknowledged")
    await wizard.advance("mitigated")
    await wizard.advance("resolved")
    record = _on_disk(wizard, tmp_path)
    recorded = [e for e in record.events if isinstance(e, MetricsRecorded)]
    assert [e.status for e in recorded] == ["mitigated", "resolved"]
    assert recorded[-1].readings[0].value == 0.02
    assert "0.02 %" in recorded[-1].content
    moments = [(status, e.values()) for status, e in record.metrics_snapshots()]
    assert moments == [
        ("detected", {"service:error_rate_percent": 7.5, "service:response_time_p95_ms": 850.0}),
        ("mitigated", {"service:error_rate_percent": 0.02}),
        ("resolved", {"service:error_rate_percent": 0.02}),
    ]
    # The requests the p95 finding counted are kept as a number.
    assert record.metrics_snapshots()[0][1].requests == 1234


def test_a_record_written_before_these_fields_still_loads(tmp_path: Path) -> None:
    """A plain note and an incident opened without findings write none of the new
    keys, so older records (which have none) read the same way."""
    store = IncidentStore(tmp_path)
    runbook = pick_runbook("service:health")
    incident = store.create(new_incident(runbook=runbook, alert=make_alert(), author="a"))
    config = POSTMORTEM_CONFIG
    wizard = IncidentWizard(config, store, CommandRunner(config), runbook, incident)
    wizard.add_note("plain note")  # no event loop: written at once
    (path,) = tmp_path.glob(f"{wizard.incident_id}*.toml")
    text = path.read_text(encoding="utf-8")
    assert "finding" not in text and "readings" not in text and "requests" not in text
    loaded = IncidentStore(tmp_path).read(wizard.incident_id).incident
    assert [(e.text, e.finding) for e in loaded.events if isinstance(e, Note)] == [
        ("plain note", False)
    ]
    assert loaded.metrics_snapshots() == []
