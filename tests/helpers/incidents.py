"""Incidents to work on: the store tests' service-down alert and a fully worked
outage (the one the postmortem golden files are rendered from)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from rainbow_tui.config import Config, EscalationStep, ServiceConfig
from rainbow_tui.findings import Finding
from rainbow_tui.incidents.model import (
    ActionItem,
    Incident,
    add_action_item,
    assign_role,
    command_declined,
    command_finished,
    command_started,
    complete_step,
    edit_time,
    escalate,
    new_incident,
    note,
    pin_evidence,
    record_metrics,
    record_verification,
    skip_step,
    start_step,
    transition,
)
from rainbow_tui.incidents.runbooks import load_runbooks
from rainbow_tui.levels import Alert, Level
from rainbow_tui.text import Phrase

# When the store tests' service went down.
T0 = datetime(2026, 11, 28, 3, 12, tzinfo=UTC)


def make_alert() -> Alert:
    """The Critical service-down alert raised at T0, due in 15 minutes."""
    return Alert(
        key="service:health",
        title="service: /up HTTP 500",
        level=Level.CRITICAL,
        severity="critical",
        first_seen=T0,
        respond_by=T0 + timedelta(minutes=15),
        detail="service down: HTTP 500",
    )


# The full incident's clock: its alert at 03:12 JST on the 28th, written in JST.
POSTMORTEM_T0 = datetime(2026, 11, 27, 18, 12, tzinfo=UTC)
JST = timezone(timedelta(hours=9), "JST")
RUNBOOKS = load_runbooks()
# The service the postmortem tests render for.
POSTMORTEM_CONFIG = Config(
    service=ServiceConfig(
        kamal_service="shiojiri-rainbow-seeker", health_url="https://api.shiojiri-rainbow.app/up"
    )
)

LOG_WITH_BACKTICKS = (
    "2026-11-27T18:12:03Z [a1] NameError (undefined local variable `rainbow` for #<Api::V1>)\n"
    "```\n"
    "````not a fence end````\n"
    "| not | a | table |\n"
    "RAILS_MASTER_KEY=0123456789abcdef0123456789abcdef"
)


def at(minutes: float) -> datetime:
    """A moment of the full incident, in minutes after its alert."""
    return POSTMORTEM_T0 + timedelta(minutes=minutes)


def full_incident() -> Incident:
    """A Critical service outage worked through the runbook, with everything in it."""
    runbook = RUNBOOKS.runbooks["service-down"]
    alert = Alert(
        key="service:health",
        title="service: /up HTTP 500",
        level=Level.CRITICAL,
        severity="critical",
        first_seen=POSTMORTEM_T0,
        respond_by=POSTMORTEM_T0 + timedelta(minutes=15),
        detail="service down: HTTP 500",
    )
    findings = [
        Finding("service", "health", "/up", "HTTP 500", Level.CRITICAL, "critical"),
        Finding("database", "db_connections", "Connections", "42 / 100", Level.NORMAL, value=42),
        Finding("host app-1", "memory_percent", "Memory", "63.2 %", Level.NORMAL, value=63.2),
        Finding("service", "error_rate_percent", "5xx rate", "96.4 %", Level.CRITICAL, "critical",
                value=96.4),
        Finding("service", "response_time_p95_ms", "p95",
                Phrase("finding.p95.with_requests", ms=41.0, requests=1180), Level.NORMAL,
                value=41.0),
    ]
    recovered = [
        Finding("service", "health", "/up", "200 in 35 ms", Level.NORMAL),
        Finding("service", "error_rate_percent", "5xx rate", "0.04 %", Level.NORMAL, value=0.04),
    ]
    incident = new_incident(
        runbook=runbook, alert=alert, findings=findings, at=at(2), author="tanaka", tz=JST
    )

    # By step id: the runbook gains steps (the deploy lock before the boot).
    index = {step.id: number for number, step in enumerate(runbook.steps)}
    BOOT, ROLLBACK = index["boot"], index["rollback"]
    ROOT_CAUSE, POSTMORTEM = index["root-cause"], index["postmortem"]

    def add(event_builder: object) -> None:
        nonlocal incident
        incident = incident.with_event(event_builder)  # type: ignore[arg-type]

    add(transition(incident, "acknowledged", at=at(4), author="tanaka"))
    add(assign_role(incident, "commander", "tanaka", at=at(4.5), author="tanaka"))
    add(assign_role(incident, "scribe", "sato", at=at(4.6), author="tanaka"))
    add(start_step(incident, runbook, 0, at=at(5), author="tanaka"))
    add(command_started(incident, 0, "bundle exec kamal app details", "kamal", at=at(5.1), author="tanaka"))
    started = incident.events[-1]
    add(command_finished(
        incident, started, "ok", exit_code=0, duration_s=1.24, at=at(5.2), author="tanaka",  # type: ignore[arg-type]
        excerpt="App Host: app-1 (10.0.1.11)\nCONTAINER ID   IMAGE   STATUS\n0358451438b4   registry/app:f35e7c0   Up 2 hours",
    ))
    add(command_started(incident, 0, "bundle exec kamal app logs --since 5m", "kamal", at=at(5.3), author="tanaka"))
    started = incident.events[-1]
    add(command_finished(
        incident, started, "ok", exit_code=0, duration_s=2.5, at=at(5.5), author="tanaka",  # type: ignore[arg-type]
        excerpt=LOG_WITH_BACKTICKS + "\nDATABASE_URL=postgresql://rainbow:s3cr3t-dsn-pass@db:5432/app",
    ))
    add(command_declined(incident, 0, "bundle exec kamal app exec 'bin/rails tmp:cache:clear'", "kamal", at=at(5.6), author="tanaka"))
    add(command_started(incident, 0, "bundle exec kamal app logs --lines 40", "kamal", at=at(5.7), author="tanaka"))
    started = incident.events[-1]
    add(command_finished(
        incident, started, "ok", exit_code=0, duration_s=1.1, at=at(5.8), author="tanaka",  # type: ignore[arg-type]
        excerpt="\n".join(
            f"2026-11-27T18:12:{n:02d}Z [r{n}] Completed 500 Internal Server Error in 3ms" if n != 20
            else "2026-11-27T18:12:20Z [r20] NameError (undefined local variable `rainbow_id`)"
            for n in range(40)
        ),
    ))
    add(complete_step(incident, runbook, 0, at=at(6), author="tanaka"))
    add(escalate(incident, EscalationStep(level=2, role="開発リード / Development lead",
                                          contact="Slack #rainbow-dev", within_minutes=30),
                 "NameError after the 03:00 deploy", at=at(6.5), author="tanaka"))
    add(start_step(incident, runbook, BOOT, at=at(7), author="sato"))
    add(command_started(incident, BOOT, "bundle exec kamal app boot", "kamal", destructive=True, at=at(7.1), author="sato"))
    started = incident.events[-1]
    add(command_finished(
        incident, started, "ok", exit_code=0, duration_s=8.4, at=at(7.3), author="sato",  # type: ignore[arg-type]
        excerpt="  INFO [d3] Running docker login registry -u [REDACTED] -p [REDACTED] on 10.0.1.11\nStart container with version f35e7c0 (or reboot if already running)...\nFinished all in 8.4 seconds",
    ))
    add(record_verification(incident, BOOT, "http_ok", False, "GET https://api.shiojiri-rainbow.app/up: HTTP 500", at=at(8), author="sato"))
    add(note(incident, "Boot did not help: still 500. Sentry: NameError in RainbowsController#index | token=eyJhbGciOiJIUzI1NiJ9.payload.sig", at=at(8.5), author="sato"))
    add(complete_step(incident, runbook, BOOT, at=at(9), author="sato"))
    add(start_step(incident, runbook, ROLLBACK, at=at(9.5), author="sato"))
    add(command_started(incident, ROLLBACK, "bundle exec kamal rollback 0fe43001ee0e", "kamal", destructive=True, at=at(10), author="sato"))
    started = incident.events[-1]
    add(command_finished(
        incident, started, "ok", exit_code=0, duration_s=9.1, at=at(10.2), author="sato",  # type: ignore[arg-type]
        excerpt="Rolling back to version 0fe43001ee0e...\nFinished all in 9.1 seconds",
    ))
    add(record_verification(incident, ROLLBACK, "http_ok", True, "GET https://api.shiojiri-rainbow.app/up answered 200 in 35 ms", at=at(10.5), author="sato"))
    add(complete_step(incident, runbook, ROLLBACK, at=at(11), author="sato"))
    add(transition(incident, "mitigated", at=at(11), author="tanaka"))
    add(record_metrics(incident, "mitigated", recovered, at=at(11), author="tanaka"))
    add(pin_evidence(incident, "log_lines", "Web log around the first 500", LOG_WITH_BACKTICKS, at=at(12), author="sato"))
    add(pin_evidence(
        incident, "table", "Deploys that night",
        "version       deployed at (JST)  by\nf35e7c0b3425  03:00              ci | main\n0fe43001ee0e  2 days ago         ci",
        at=at(12.5), author="sato",
    ))
    add(start_step(incident, runbook, ROOT_CAUSE, at=at(13), author="tanaka"))
    add(note(incident, "!A renamed local in RainbowsController#index shipped without a test.\nAWS key in the env dump was AKIAIOSFODNN7EXAMPLE (rotated).", at=at(20), author="tanaka"))
    add(add_action_item(incident, "kobayashi", "mitigate", "Rollback runbook step first for deploy-time 500s", at=at(21), author="tanaka"))
    add(complete_step(incident, runbook, ROOT_CAUSE, at=at(25), author="tanaka"))
    add(skip_step(incident, runbook, POSTMORTEM, "Postmortem written here instead", at=at(26), author="tanaka"))
    acknowledged = next(e for e in incident.events if getattr(e, "status", "") == "acknowledged")
    add(edit_time(incident, acknowledged.id, at(3), "PagerDuty shows the ack at 03:15", at=at(27), author="sato"))
    add(transition(incident, "resolved", at=at(30), author="tanaka"))
    add(record_metrics(incident, "resolved", recovered, at=at(30), author="tanaka"))
    add(transition(incident, "closed", at=at(60 * 24), author="tanaka"))
    incident = incident.with_postmortem(
        summary="The API answered 500 for 9 minutes after the 03:00 deploy; a rollback fixed it.",
        impact="All API requests failed from 03:12 to 03:22 JST (about 1,200 requests).\nNo data was lost.",
        root_cause="A local variable renamed in `RainbowsController#index` without a test.\nThe CI secret password=Sup3rS3cret-pw appeared in the build log.",
        trigger="Deploy f35e7c0 at 03:00 JST.",
        resolution="Rolled back to 0fe43001ee0e with `kamal rollback`.",
        went_well="- The alert fired within a minute\n- Rollback took 9 s",
        went_wrong="- Restarting first cost 3 minutes",
        lucky="- It happened at night, with little traffic",
    )
    return incident.with_action_items([
        ActionItem(owner="suzuki", type="prevent", text="Request spec for RainbowsController#index | all params", due=date(2026, 12, 5)),
        ActionItem(owner="tanaka", type="detect", text="Alert on 5xx rate > 5 % for 1 min\nand page at once", due=date(2026, 12, 12), done=True),
        ActionItem(owner="sato", type="process", text="Rotate aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ])
