"""The incident record's rules, read from its timeline, and the kamal output parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rainbow_tui.config import DEFAULT_ESCALATION
from rainbow_tui.incidents.kamal_output import parse_app_containers, rollback_choices
from rainbow_tui.incidents.model import (
    IncidentRuleError,
    assign_role,
    command_finished,
    command_started,
    complete_step,
    current_author,
    escalate,
    make_incident_id,
    new_incident,
    note,
    pin_evidence,
    start_step,
    transition,
)
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.levels import Alert, Level

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 11, 27, 18, 14, tzinfo=UTC)


def test_author_is_the_person_behind_sudo_or_the_ssh_login() -> None:
    assert current_author({"SUDO_USER": "tanaka", "USER": "root"}) == "tanaka"
    assert current_author({"USER": "deploy", "SSH_CONNECTION": "203.0.113.5 50022 10.0.0.1 22"}) == (
        "deploy@203.0.113.5"
    )
    assert current_author({"RAINBOW_TUI_AUTHOR": "sato", "SUDO_USER": "tanaka"}) == "sato"
    assert current_author({"LOGNAME": "kobayashi"}) == "kobayashi"


def test_ids_read_like_the_time_and_the_runbook() -> None:
    assert make_incident_id(T0, "service-down", tz=JST) == "2026-11-28-0314-service-down"
    taken = ["2026-11-28-0314-service-down", "2026-11-28-0314-service-down-2"]
    assert make_incident_id(T0, "Service Down!", taken, tz=JST) == "2026-11-28-0314-service-down-3"


def test_an_alert_opens_an_incident_with_its_evidence() -> None:
    alert = Alert("host app-1:memory_percent", "host app-1: Memory 91.0 %", Level.CRITICAL,
                  "medium", T0 - timedelta(minutes=3), T0 + timedelta(hours=8), "")
    incident = new_incident(runbook=pick_runbook(alert.key), alert=alert, at=T0, author="a", tz=JST)
    assert incident.runbook == "memory-growth" and incident.severity == "medium"
    assert incident.status == "detected"
    assert incident.status_times()["detected"] == alert.first_seen
    assert incident.evidence[0].kind == "alert" and "host app-1:memory_percent" in incident.evidence[0].content
    assert incident.current_step == 0


def test_lifecycle_steps_roles_and_escalation_are_read_from_the_timeline() -> None:
    runbook = pick_runbook("service:health")
    incident = new_incident(runbook=runbook, at=T0, author="a")
    for status in ("acknowledged", "mitigated", "resolved", "closed"):
        with pytest.raises(IncidentRuleError):
            incident.with_event(transition(incident, "detected"))
        incident = incident.with_event(transition(incident, status, author="a"))  # type: ignore[arg-type]
    assert incident.status == "closed"
    with pytest.raises(IncidentRuleError, match="nothing follows"):
        transition(incident, "closed")

    incident = new_incident(runbook=runbook, at=T0, author="a")
    incident = incident.with_event(assign_role(incident, "commander", "tanaka", author="a"))
    incident = incident.with_event(assign_role(incident, "commander", "sato", author="a"))
    assert incident.roles() == {"commander": "sato"}
    incident = incident.with_event(start_step(incident, runbook, 0, author="a"))
    started = command_started(incident, 0, "kamal app details", "kamal", author="a")
    incident = incident.with_event(started)
    incident = incident.with_event(command_finished(incident, started, "ok", exit_code=0, author="a"))
    assert incident.current_step == 0 and incident.step_state(0) == "in_progress"
    incident = incident.with_event(complete_step(incident, runbook, 0, author="b"))
    assert incident.current_step == 1 and incident.step_state(0) == "done"
    incident = incident.with_event(escalate(incident, DEFAULT_ESCALATION[1], author="b"))
    assert incident.authors() == ["a", "b"]
    with pytest.raises(IncidentRuleError, match="not the next one"):
        incident.with_event(note(incident, "x", author="a")).with_event(note(incident, "y"))
    with pytest.raises(IncidentRuleError):
        start_step(incident, runbook, len(runbook.steps))
    with pytest.raises(IncidentRuleError):
        pin_evidence(incident, "log_lines", "empty", "  ")
    with pytest.raises(IncidentRuleError, match="time zone"):
        note(incident, "naive", at=datetime(2026, 11, 28, 3, 0))


# -- kamal app containers, read back -------------------------------------------------------

versions = st.lists(st.text("0123456789abcdef", min_size=7, max_size=40), min_size=1, max_size=6, unique=True)


def _docker_table(rows: list[list[str]]) -> list[str]:
    """Columns as docker aligns them: each as wide as its widest cell, three spaces apart."""
    heading = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    table = [heading, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(heading))]
    return ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table]


@given(versions, st.integers(0, 5), st.sampled_from(["web", "job"]))
def test_docker_tables_round_trip(tags: list[str], running_index: int, role: str) -> None:
    running = running_index % len(tags)
    rows = [
        [
            f"{index:012x}",
            f"registry.example/shiojiri-rainbow-seeker:{tag}",
            '"/rails/bin/docker-e…"',
            f"{index + 1} days ago",
            "Up 2 hours" if index == running else "Exited (0) 2 hours ago",
            "80/tcp" if index == running else "",
            f"shiojiri-rainbow-seeker-{role}-{tag}",
        ]
        for index, tag in enumerate(tags)
    ]
    output = "\n".join([
        "  INFO [1] Running docker container ls --all on 10.0.0.1",
        "App Host: app-1 (10.0.0.1:22)",
        *_docker_table(rows),
        "  INFO [1] Finished in 0.1 seconds with exit status 0 (successful).",
    ])
    parsed = parse_app_containers(output)
    assert [v.version for v in parsed] == tags
    assert [v.running for v in parsed] == [i == running for i in range(len(tags))]
    assert [v.created for v in parsed] == [f"{i + 1} days ago" for i in range(len(tags))]
    assert all(v.hosts == ("app-1",) for v in parsed)
    assert rollback_choices(parsed)[-1].version == tags[running]


@given(st.text())
def test_any_text_parses_without_error(text: str) -> None:
    for version in parse_app_containers(text):
        assert version.version
