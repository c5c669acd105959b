"""A rung's time passing on an open incident is announced and recorded once: the
session holds each incident against the ladder (by a clock the tests fix), every
view hears it, the banner and the palette say it on every screen, and with
``auto_escalate`` the console escalates by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.app import make_app
from rainbow_tui.config import Config, ConfigError, EscalationStep, parse_config
from rainbow_tui.incidents.model import Escalated, EscalationDue, Incident
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.incidents.timeline import describe_event
from rainbow_tui.session import EscalationDueNow, Session, SessionEvent
from rainbow_tui.text import language
from tests.helpers.console import until
from tests.helpers.incidents import POSTMORTEM_CONFIG
from widgets.escalation_banner import EscalationBanner

# A short ladder: one minute to L1, two to L2, three to L3.
LADDER = (
    EscalationStep(level=1, role="オンコール担当 / On-call", contact="PagerDuty",
                   within_minutes=1),
    EscalationStep(level=2, role="開発リード / Development lead",
                   contact="Slack #rainbow-dev", within_minutes=2),
    EscalationStep(level=3, role="プロジェクトマネージャー / Project manager", contact="",
                   within_minutes=3),
)


class FixedClock:
    """The ladder's time, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 3, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _config(state: Path, *, auto_escalate: bool = False) -> Config:
    return msgspec.structs.replace(
        POSTMORTEM_CONFIG,
        escalation=LADDER,
        incidents=msgspec.structs.replace(
            POSTMORTEM_CONFIG.incidents, state_dir=str(state), auto_escalate=auto_escalate
        ),
    )


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    opened = Session(_config(tmp_path / "incidents"), clock=FixedClock())
    yield opened
    await opened.close()


def _after(session: Session, incident_id: str, minutes: float) -> datetime:
    return session.wizard(incident_id).incident.opened_at + timedelta(minutes=minutes)


def _dues(incident: Incident) -> list[EscalationDue]:
    return [e for e in incident.events if isinstance(e, EscalationDue)]


async def _on_disk(session: Session, incident_id: str) -> Incident:
    await asyncio.get_running_loop().run_in_executor(None, session.store.flush, incident_id)
    return IncidentStore(Path(session.config.incidents.state_dir)).load(incident_id)


async def test_a_passed_rung_is_announced_once_and_recorded_once(session: Session) -> None:
    heard: list[SessionEvent] = []
    session.subscribe(heard.append)
    incident_id = session.start_incident()
    assert session.check_escalations(_after(session, incident_id, 0.5)) == []
    for minutes in (1.0, 1.2, 1.9):  # each second's look, and the next ones
        session.check_escalations(_after(session, incident_id, minutes))
    announced = [e for e in heard if isinstance(e, EscalationDueNow)]
    assert announced == [
        EscalationDueNow(incident_id, 1, "オンコール担当 / On-call", "PagerDuty")
    ]
    record = await _on_disk(session, incident_id)
    (due,) = _dues(record)
    assert due.level == 1 and due.due_at == record.opened_at + timedelta(minutes=1)
    # The timeline says it, in the record's words and in Japanese.
    assert describe_event(record, due, UTC, language("en")) == (
        f"escalation to L1 オンコール担当 / On-call due at {due.due_at:%H:%M:%S}, not escalated"
    )
    assert "エスカレーション期限" in describe_event(record, due, UTC, language("ja"))
    # Until someone escalates, every view is told L1 is due.
    assert session.escalations_pending(_after(session, incident_id, 1.9)) == announced


async def test_a_rung_already_reached_or_a_mitigated_incident_is_not_announced(
    session: Session,
) -> None:
    incident_id = session.start_incident()
    wizard = session.wizard(incident_id)
    await wizard.escalate("paged by hand")  # L1 before its time
    assert session.check_escalations(_after(session, incident_id, 1.5)) == []
    (second,) = session.check_escalations(_after(session, incident_id, 2.0))
    assert second.level == 2
    await wizard.advance("acknowledged")
    await wizard.advance("mitigated")
    # L3's time passes after the mitigation: nothing to announce, nothing pending.
    assert session.check_escalations(_after(session, incident_id, 10)) == []
    assert session.escalations_pending(_after(session, incident_id, 10)) == []
    assert [d.level for d in _dues(await _on_disk(session, incident_id))] == [2]


async def test_escalating_ends_the_announcement(session: Session) -> None:
    incident_id = session.start_incident()
    session.check_escalations(_after(session, incident_id, 1.0))
    saving = session.escalate(incident_id)
    assert saving is not None
    await saving
    assert session.escalations_pending(_after(session, incident_id, 1.5)) == []
    # The next rung comes due in its turn.
    (due,) = session.escalations_pending(_after(session, incident_id, 2.5))
    assert due.level == 2


async def test_auto_escalate_climbs_to_each_rung_as_it_comes_due(tmp_path: Path) -> None:
    session = Session(_config(tmp_path / "incidents", auto_escalate=True), clock=FixedClock())
    try:
        incident_id = session.start_incident()
        session.check_escalations(_after(session, incident_id, 1.0))
        record = await _on_disk(session, incident_id)
        escalated = [e for e in record.events if isinstance(e, Escalated)]
        assert [(e.level, e.note) for e in escalated] == [
            (1, "automatically, 1 min after detection")
        ]
        assert session.escalations_pending(_after(session, incident_id, 1.0)) == []
        # Started late: L2 and L3 both due at the next look, each paged in order.
        session.check_escalations(_after(session, incident_id, 3.5))
        record = await _on_disk(session, incident_id)
        assert [e.level for e in record.events if isinstance(e, Escalated)] == [1, 2, 3]
        assert [d.level for d in _dues(record)] == [1, 2, 3]
    finally:
        await session.close()


def test_auto_escalate_is_a_checked_switch() -> None:
    service = '[service]\nkamal_service = "s"\nhealth_url = "https://example.test/up"\n'
    assert not parse_config(service, "c.toml").incidents.auto_escalate
    on = parse_config(service + "[incidents]\nauto_escalate = true\n", "c.toml")
    assert on.incidents.auto_escalate
    with pytest.raises(ConfigError, match=r"incidents\.auto_escalate: expected bool"):
        parse_config(service + '[incidents]\nauto_escalate = "yes"\n', "c.toml")


async def test_the_banner_bell_and_palette_announce_a_due_rung_on_every_screen(
    tmp_path: Path,
) -> None:
    clock = FixedClock()
    session = Session(_config(tmp_path / "incidents"), clock=clock)
    app = make_app(session.config, autostart=False, session=session)
    bells: list[str] = []
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            app.bell = lambda: bells.append("ding")  # type: ignore[method-assign]
            incident_id = session.start_incident()
            await until(pilot, lambda: bool(app.dashboard.query(EscalationBanner)))
            banner = app.dashboard.query_one(EscalationBanner)
            clock.now = _after(session, incident_id, 0.5)
            session.check_escalations()
            await pilot.pause()
            assert not banner.display and bells == []

            clock.now = _after(session, incident_id, 1.0)
            session.check_escalations()
            await until(pilot, lambda: banner.display)
            assert str(banner.render()) == (
                "L1 — オンコール担当 / On-call is due: press e / escalate (PagerDuty)"
            )
            assert bells == ["ding"]

            # On the incident screen too, where `e` escalates.
            app.action_show_incident()
            await until(pilot, lambda: bool(app.screen.query(EscalationBanner)))
            on_incident = app.screen.query_one(EscalationBanner)
            await until(pilot, lambda: on_incident.display)
            assert "L1 — オンコール担当 / On-call is due" in str(on_incident.render())

            # The palette offers the escalation by its plain name; choosing it escalates.
            entries = {command.title: command for command in app.get_system_commands(app.screen)}
            entry = entries["escalate to L1 — オンコール担当 / On-call"]
            entry.callback()
            wizard = session.wizard(incident_id)
            await until(pilot, lambda: any(isinstance(e, Escalated) for e in wizard.incident.events))
            await until(pilot, lambda: not on_incident.display)
            assert bells == ["ding"]  # rung by rung, once each
    finally:
        await session.close()
