"""Escalation that moves, end to end, on a short ladder (a minute a rung) and the
PagerDuty and Slack stand-ins (tests/helpers/saas.py): when a rung's time passes on
an open incident it is announced, told to that rung's channels, and paged — by
itself with ``[incidents] auto_escalate`` while nobody acknowledged the incident,
or with one key (``e`` on the incident screen, the banner's palette entry on any
screen).  The record has the due rung, the escalation and every send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rainbow_tui.app import make_app
from rainbow_tui.incidents.model import Escalated, EscalationDue, Incident, NotificationSent
from rainbow_tui.session import EscalationDueNow, Session, SessionEvent
from screens.confirm import ConfirmScreen
from screens.incident import IncidentScreen
from tests.helpers.alerts import (
    ERRORS,
    SLACK_CHANNELS,
    SLACK_TOKEN,
    T0,
    ScriptedMonitor,
    paging_config,
    started_without_polling,
)
from tests.helpers.console import until
from tests.helpers.saas import ROUTING_KEY, StandIn, pagerduty_errors, serving
from widgets.escalation_banner import EscalationBanner


class FixedClock:
    """The ladder's time, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAINBOW_TUI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("RAINBOW_TUI_AUTHOR", "tanaka")
    monkeypatch.setenv("TEST_PD_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("TEST_SLACK_TOKEN", SLACK_TOKEN)


@pytest.fixture
def pagerduty() -> Iterator[StandIn]:
    with serving(StandIn("pagerduty"), "/v2/enqueue") as stand_in:
        yield stand_in


@pytest.fixture
def slack() -> Iterator[StandIn]:
    with serving(StandIn("slack-api", token=SLACK_TOKEN, channels=SLACK_CHANNELS),
                 "/api/chat.postMessage") as stand_in:
        yield stand_in


@pytest.fixture
async def sessions() -> AsyncIterator[list[Session]]:
    opened: list[Session] = []
    yield opened
    for session in opened:
        await session.close()


def _minutes(session: Session, incident_id: str, minutes: float) -> datetime:
    """``minutes`` after detection (the alert's first sighting, where there is one)."""
    incident = session.store.incident(incident_id)
    return incident.status_times()["detected"] + timedelta(minutes=minutes)


async def _settled(session: Session, sends: int) -> Incident:
    """Once ``sends`` notifications are on the record (each write ends before the
    notifier reads it, so the test waits on the record, with a deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        incident = session.store.incident(session.incident_ids[-1])
        if sum(isinstance(e, NotificationSent) for e in incident.events) >= sends:
            return incident
        assert loop.time() < deadline, "notifications not recorded in time"
        await asyncio.sleep(0.02)


def _record(incident: Incident) -> list[tuple[str, int | str]]:
    """The ladder's entries and the sends, in order: ("due", 1), ("escalated", 1),
    ("sent", "pagerduty trigger")."""
    entries: list[tuple[str, int | str]] = []
    for event in incident.events:
        if isinstance(event, EscalationDue):
            entries.append(("due", event.level))
        elif isinstance(event, Escalated):
            entries.append(("escalated", event.level))
        elif isinstance(event, NotificationSent):
            assert event.ok, event.detail
            entries.append(("sent", f"{event.channel} {event.action}"))
    return entries


async def test_auto_escalate_pages_each_rung_as_its_time_passes(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, sessions: list[Session]
) -> None:
    clock = FixedClock()
    session = Session(paging_config(tmp_path, pagerduty, slack, auto_escalate=True), clock=clock)
    sessions.append(session)
    await started_without_polling(session)
    heard: list[SessionEvent] = []
    session.subscribe(heard.append)
    ScriptedMonitor(session).errors(T0, every=10)  # 10 % 5xx: Critical
    incident_id = session.start_incident(ERRORS)
    await _settled(session, 1)
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger"]  # declared

    clock.now = _minutes(session, incident_id, 0.9)
    session.check_escalations()
    clock.now = _minutes(session, incident_id, 1.0)
    session.check_escalations()
    await _settled(session, 2)
    # L1's time: paged once (its due-announcement folded into the escalation's page).
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger", "trigger"]
    page = pagerduty.bodies()[1]
    assert pagerduty_errors(page) == []
    assert page["payload"]["summary"].startswith("[CRITICAL] Escalated to L1 オンコール担当")
    assert page["payload"]["custom_details"]["Note"] == "automatically, 1 min after detection"
    assert slack.received == []

    clock.now = _minutes(session, incident_id, 2.0)
    session.check_escalations()
    record = await _settled(session, 3)
    (posted,) = slack.bodies()
    assert posted["channel"] == "#rainbow-dev"
    assert posted["text"].startswith("[CRITICAL] Escalated to L2 開発リード / Development lead")
    assert len(pagerduty.received) == 2, "L2 is Slack's: PagerDuty is not paged again"
    assert [e.level for e in heard if isinstance(e, EscalationDueNow)] == [1, 2]
    assert _record(record) == [
        ("sent", "pagerduty trigger"),
        ("due", 1), ("escalated", 1), ("sent", "pagerduty trigger"),
        ("due", 2), ("escalated", 2), ("sent", "slack #rainbow-dev message"),
    ]


async def test_an_acknowledged_incident_is_announced_and_told_but_not_paged_by_itself(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, sessions: list[Session]
) -> None:
    clock = FixedClock()
    session = Session(paging_config(tmp_path, pagerduty, slack, auto_escalate=True), clock=clock)
    sessions.append(session)
    await started_without_polling(session)
    incident_id = session.start_incident()
    await session.wizard(incident_id).advance("acknowledged")
    await _settled(session, 2)
    clock.now = _minutes(session, incident_id, 1.0)
    (due,) = session.check_escalations()
    record = await _settled(session, 3)
    assert due.level == 1
    assert not any(isinstance(e, Escalated) for e in record.events)
    # L1's channel hears that its rung is due, in the incident's one PagerDuty alert.
    actions = [(b["event_action"], b.get("payload", {}).get("summary", "")) for b in
               pagerduty.bodies()]
    assert [a for a, _ in actions] == ["trigger", "acknowledge", "trigger"]
    assert actions[2][1].startswith("[MEDIUM] Escalation to L1 オンコール担当 / On-call is due")
    assert {b["dedup_key"] for b in pagerduty.bodies()} == {f"rainbow-tui/{incident_id}"}
    assert session.escalations_pending() == [due], "the banner stays until someone escalates"


async def test_e_and_the_palette_page_the_rung_that_is_due(
    tmp_path: Path, pagerduty: StandIn, slack: StandIn, sessions: list[Session]
) -> None:
    clock = FixedClock()
    session = Session(paging_config(tmp_path, pagerduty, slack), clock=clock)
    sessions.append(session)
    await started_without_polling(session)
    app = make_app(session.config, autostart=False, session=session)
    async with app.run_test(size=(120, 36)) as pilot:
        ScriptedMonitor(session).errors(T0, every=10)
        incident_id = session.start_incident(ERRORS)
        app.show_incident(incident_id)
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
        await _settled(session, 1)

        clock.now = _minutes(session, incident_id, 1.0)
        session.check_escalations()
        # Every full screen gets the banner once it is up.
        await until(pilot, lambda: bool(app.screen.query(EscalationBanner)))
        banner = app.screen.query_one(EscalationBanner)
        await until(pilot, lambda: banner.display)
        assert "L1 — オンコール担当 / On-call is due" in str(banner.render())
        await _settled(session, 2)
        due_page = pagerduty.bodies()[-1]["payload"]["summary"]
        assert due_page.startswith("[CRITICAL] Escalation to L1 オンコール担当 / On-call is due")

        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        wizard = session.wizard(incident_id)
        await until(pilot, lambda: any(isinstance(e, Escalated) for e in wizard.incident.events))
        await until(pilot, lambda: not banner.display)
        await _settled(session, 3)
        assert pagerduty.bodies()[-1]["payload"]["summary"].startswith(
            "[CRITICAL] Escalated to L1")

        # L2 from any screen: the dashboard's palette entry.
        app.pop_screen()
        clock.now = _minutes(session, incident_id, 2.0)
        session.check_escalations()
        await _settled(session, 4)
        assert slack.bodies()[-1]["text"].startswith(
            "[CRITICAL] Escalation to L2 開発リード / Development lead is due")
        entries = {command.title: command for command in app.get_system_commands(app.screen)}
        entries["escalate to L2 — 開発リード / Development lead"].callback()
        await until(pilot, lambda: [e.level for e in wizard.incident.events
                                    if isinstance(e, Escalated)] == [1, 2])
        record = await _settled(session, 5)
        assert slack.bodies()[-1]["text"].startswith("[CRITICAL] Escalated to L2")
        assert _record(record) == [
            ("sent", "pagerduty trigger"),
            ("due", 1), ("sent", "pagerduty trigger"),
            ("escalated", 1), ("sent", "pagerduty trigger"),
            ("due", 2), ("sent", "slack #rainbow-dev message"),
            ("escalated", 2), ("sent", "slack #rainbow-dev message"),
        ]

