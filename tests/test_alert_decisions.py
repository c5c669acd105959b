"""Alerts handled on the dashboard: acknowledged (who, when) and silenced (for how
long, why), shown on the alerts bar, on the alert's incident's timeline, in a small
log that outlives a restart, marked in ``check --json``, sent to PagerDuty; a
silenced alert that gets worse breaks through.

A real session and store; the polls are scripted (tests/helpers/alerts.py) so the
test says what the service answered, and the real judgement raises the alerts."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from rainbow_tui.alert_decisions import (
    AlertDecision,
    DecisionLog,
    decision_log_path,
    silencing,
)
from rainbow_tui.app import make_app
from rainbow_tui.check import print_findings
from rainbow_tui.findings import evaluate
from rainbow_tui.incidents.model import Note, NotificationSent
from rainbow_tui.levels import Level
from rainbow_tui.monitor import AlertBook
from rainbow_tui.session import AlertDecided, AlertNotOpen, Session, SessionEvent
from screens.alert_picker import AlertPickerScreen
from screens.silence_prompt import SilenceScreen
from tests.helpers.alerts import (
    ERRORS,
    P95,
    T0,
    ScriptedMonitor,
    paging_config,
    service_readings,
    started_without_polling,
)
from tests.helpers.console import until
from tests.helpers.saas import ROUTING_KEY, StandIn, pagerduty_errors, serving
from widgets.alerts_bar import AlertsBar, render_alerts


class FixedClock:
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


@pytest.fixture
def pagerduty() -> Iterator[StandIn]:
    with serving(StandIn("pagerduty"), "/v2/enqueue") as stand_in:
        yield stand_in


@pytest.fixture
async def sessions() -> AsyncIterator[list[Session]]:
    opened: list[Session] = []
    yield opened
    for session in opened:
        await session.close()


async def _session(tmp_path: Path, opened: list[Session], pagerduty: StandIn | None = None,
                   clock: FixedClock | None = None) -> Session:
    session = Session(paging_config(tmp_path, pagerduty), clock=clock or FixedClock())
    opened.append(session)
    return await started_without_polling(session)


def _decisions(session: Session) -> list[AlertDecision]:
    return DecisionLog(decision_log_path(session.config)).read()


def _shown(session: Session) -> str:
    state = session.latest
    assert state is not None
    return str(render_alerts(state.alerts, state.updated_at, decisions=state.decisions))


# -- kept, shown, across a restart --------------------------------------------------------


async def test_acknowledged_and_silenced_alerts_are_kept_across_a_restart(
    tmp_path: Path, sessions: list[Session]
) -> None:
    first = await _session(tmp_path, sessions)
    monitor = ScriptedMonitor(first)
    state = monitor.errors(T0, every=50, p95_ms=700)  # 2 % 5xx and a slow p95
    assert {a.key for a in state.alerts} == {ERRORS, P95}

    await first.acknowledge_alert(ERRORS)
    secret = "postgresql://app:s3cr3t-pass@db/app"
    await first.silence_alert(P95, timedelta(hours=1), f"deploy window, {secret}")
    shown = _shown(first)
    local = (T0 + timedelta(hours=1)).astimezone()
    assert f"acked by tanaka {T0.astimezone():%H:%M}" in shown
    assert f"silenced until {local:%H:%M}: deploy window" in shown
    # The silenced alert goes after the one someone must still answer.
    assert shown.index("5xx") < shown.index("p95")

    # On disk before the views said it: 0600 in 0700, the secret not in it.
    path = decision_log_path(first.config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "s3cr3t-pass" not in path.read_text()
    assert [(d.kind, d.alert, d.author) for d in _decisions(first)] == [
        ("acknowledged", ERRORS, "tanaka"), ("silenced", P95, "tanaka"),
    ]
    await first.close()

    second = await _session(tmp_path, sessions)
    ScriptedMonitor(second).errors(T0 + timedelta(minutes=5), every=50, p95_ms=700)
    shown = _shown(second)
    assert f"acked by tanaka {T0.astimezone():%H:%M}" in shown
    assert f"silenced until {local:%H:%M}: deploy window" in shown
    standing = second.alert_decisions.standing(P95)
    assert standing is not None and standing.silenced_by == "tanaka"


async def test_a_decision_about_an_alert_no_longer_open_is_refused(
    tmp_path: Path, sessions: list[Session]
) -> None:
    session = await _session(tmp_path, sessions)
    ScriptedMonitor(session).errors(T0, every=None)
    with pytest.raises(AlertNotOpen):
        await session.acknowledge_alert(ERRORS)
    ScriptedMonitor(session).errors(T0, every=50)
    with pytest.raises(ValueError, match="reason"):
        await session.silence_alert(ERRORS, None, "  ")
    assert _decisions(session) == []


# -- breaking through, ending, resolving ------------------------------------------------------


async def test_a_silenced_alert_that_worsens_breaks_through_on_screen_and_on_record(
    tmp_path: Path, sessions: list[Session]
) -> None:
    session = await _session(tmp_path, sessions)
    heard: list[SessionEvent] = []
    session.subscribe(heard.append)
    monitor = ScriptedMonitor(session)
    monitor.errors(T0, every=50)  # WARNING, High
    incident_id = session.start_incident(ERRORS)
    await session.silence_alert(ERRORS, None, "known: the nightly import")
    assert "silenced until resolved: known: the nightly import" in _shown(session)

    # Still High a minute later: still quiet.
    monitor.errors(T0 + timedelta(minutes=1), every=50)
    assert session.alert_decisions.standing(ERRORS).silenced  # type: ignore[union-attr]

    state = monitor.errors(T0 + timedelta(minutes=2), every=10)  # 10 %: CRITICAL
    (alert,) = state.alerts
    assert (alert.level, alert.severity) == (Level.CRITICAL, "critical")
    broke = [e.decision for e in heard
             if isinstance(e, AlertDecided) and e.decision.kind == "silence_ended"]
    assert [(d.ended, d.severity, d.incident) for d in broke] == [
        ("worsened", "critical", incident_id)
    ]
    shown = _shown(session)
    assert "silence broken: worse than when silenced" in shown and "silenced until" not in shown
    await until_written(session)
    assert [(d.kind, d.ended) for d in _decisions(session)][-1] == ("silence_ended", "worsened")
    notes = [e.text for e in session.store.incident(incident_id).events if isinstance(e, Note)]
    assert notes[-1] == (
        "silence ended, the alert got worse: service: 5xx rate 10.00 % (now CRITICAL)"
    )
    assert any(n.startswith("alert silenced until it resolves: service: 5xx rate 2.00 %")
               for n in notes)


async def until_written(session: Session) -> None:
    """The log's writer has taken every decision so far (it writes in order)."""
    await session._write_decisions([])


async def test_a_silence_ends_on_time_and_a_resolved_alert_is_news_again(
    tmp_path: Path, sessions: list[Session]
) -> None:
    session = await _session(tmp_path, sessions)
    monitor = ScriptedMonitor(session)
    monitor.errors(T0, every=50)
    await session.silence_alert(ERRORS, timedelta(minutes=15), "deploy window")
    await session.acknowledge_alert(ERRORS)
    monitor.errors(T0 + timedelta(minutes=14), every=50)
    assert "silenced until" in _shown(session)
    monitor.errors(T0 + timedelta(minutes=15), every=50)
    shown = _shown(session)
    assert "silenced until" not in shown and "acked by tanaka" in shown

    # Resolved: its acknowledgement goes with it; firing again, it is news.
    monitor.errors(T0 + timedelta(minutes=20), every=None)
    monitor.errors(T0 + timedelta(minutes=30), every=50)
    assert "acked" not in _shown(session)
    await until_written(session)
    assert [(d.kind, d.ended) for d in _decisions(session)] == [
        ("silenced", None), ("acknowledged", None), ("silence_ended", "expired"),
        ("cleared", None),
    ]


def test_a_source_not_yet_read_after_a_restart_keeps_the_decisions() -> None:
    """The first poll after a restart may not have judged every source: an alert
    whose finding is unknown or absent is not taken as resolved."""
    from rainbow_tui.alert_decisions import AlertDecisions
    from tests.helpers.incidents import POSTMORTEM_CONFIG

    findings = evaluate(POSTMORTEM_CONFIG, service_readings(T0, error_every=50))
    (alert,) = AlertBook(POSTMORTEM_CONFIG).update(findings, T0)
    book = AlertDecisions([silencing(alert, "tanaka", T0, None, "import")])
    assert book.review((), [f for f in findings if f.key != ERRORS], T0) == []
    assert book.standing(ERRORS) is not None


# -- check --json ---------------------------------------------------------------------------


def test_check_json_counts_a_silenced_alert_and_marks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = paging_config(tmp_path)
    findings = evaluate(config, service_readings(T0, error_every=50))
    (alert,) = AlertBook(config).update(findings, T0)
    status_before = print_findings(config, findings, as_json=True)
    capsys.readouterr()
    when = alert.first_seen
    DecisionLog(decision_log_path(config)).append(
        [silencing(alert, "tanaka", when, timedelta(days=365), "deploy window")]
    )
    status = print_findings(config, findings, as_json=True)
    document = json.loads(capsys.readouterr().out)
    assert status == status_before != 0, "a silenced alert is never an all-clear"
    assert document["overall"] == "warning"
    errors = next(f for f in document["findings"] if f"{f['component']}:{f['metric']}" == ERRORS)
    assert errors["level"] == "warning"
    assert errors["silenced"]["by"] == "tanaka"
    assert errors["silenced"]["reason"] == "deploy window"
    # The worse finding breaks through there too: no longer marked.
    worse = evaluate(config, service_readings(T0, error_every=10))
    print_findings(config, worse, as_json=True)
    document = json.loads(capsys.readouterr().out)
    errors = next(f for f in document["findings"] if f"{f['component']}:{f['metric']}" == ERRORS)
    assert errors["level"] == "critical" and "silenced" not in errors


# -- PagerDuty ---------------------------------------------------------------------------------


async def test_acknowledging_an_incidents_alert_acknowledges_its_page(
    tmp_path: Path, pagerduty: StandIn, sessions: list[Session]
) -> None:
    session = await _session(tmp_path, sessions, pagerduty)
    ScriptedMonitor(session).errors(T0, every=50)
    incident_id = session.start_incident(ERRORS)
    assert session.notifier is not None
    await session.notifier.drain()
    await session.acknowledge_alert(ERRORS)
    await session.settle_alert_sends()
    bodies = pagerduty.bodies()
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge"]
    assert bodies[1] == {"routing_key": ROUTING_KEY, "event_action": "acknowledge",
                         "dedup_key": f"rainbow-tui/{incident_id}"}
    assert pagerduty_errors(bodies[1]) == []
    events = session.store.incident(incident_id).events
    note = next(e for e in events if isinstance(e, Note) and e.text.startswith("alert ack"))
    assert (note.text, note.author) == ("alert acknowledged: service: 5xx rate 2.00 %", "tanaka")
    sent = [e for e in events if isinstance(e, NotificationSent) and e.action == "acknowledge"]
    assert [(s.channel, s.ok, s.about) for s in sent] == [("pagerduty", True, note.id)]


async def test_silencing_an_alert_without_incident_acknowledges_its_own_key(
    tmp_path: Path, pagerduty: StandIn, sessions: list[Session]
) -> None:
    pagerduty.queue(500, "")  # tried again, as every send is
    session = await _session(tmp_path, sessions, pagerduty)
    ScriptedMonitor(session).errors(T0, every=50)
    await session.silence_alert(ERRORS, timedelta(minutes=15), "deploy window")
    await session.settle_alert_sends()
    assert [b["dedup_key"] for b in pagerduty.bodies()] == [f"rainbow-tui/alert/{ERRORS}"] * 2
    assert all(b["event_action"] == "acknowledge" for b in pagerduty.bodies())
    await until_written(session)
    notified = [d for d in _decisions(session) if d.kind == "notified"]
    assert [(d.channel, d.ok) for d in notified] == [("pagerduty", True)]
    assert "Event processed" in notified[0].detail


# -- the dashboard's keys ------------------------------------------------------------------


async def test_a_acknowledges_and_S_silences_from_the_dashboard(
    tmp_path: Path, sessions: list[Session]
) -> None:
    clock = FixedClock()
    session = Session(paging_config(tmp_path), clock=clock)
    sessions.append(session)
    app = make_app(session.config, autostart=False, session=session)
    async with app.run_test(size=(120, 36)) as pilot:
        monitor = ScriptedMonitor(session)
        monitor.errors(T0, every=None)
        await pilot.pause()
        bar = app.dashboard.query_one(AlertsBar)

        monitor.errors(T0, every=50, p95_ms=700)
        await until(pilot, lambda: "5xx" in str(bar.render()))
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AlertPickerScreen))
        await pilot.press("1")  # the first alert: the 5xx rate
        await until(pilot, lambda: "acked by tanaka" in str(bar.render()))
        assert bar.has_class("-alerting"), "acknowledged is not resolved: still red"

        await pilot.press("S")
        await until(pilot, lambda: isinstance(app.screen, AlertPickerScreen))
        await pilot.press("2")  # the p95
        await until(pilot, lambda: isinstance(app.screen, SilenceScreen))
        await pilot.press("down", "enter")  # 1 h
        await pilot.press("enter")  # no reason typed: asked for one
        assert isinstance(app.screen, SilenceScreen)
        for key in "deploy window":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        until_at = (T0 + timedelta(hours=1)).astimezone()
        await until(pilot, lambda: f"silenced until {until_at:%H:%M}: deploy window"
                    in str(bar.render()))
        standing = session.alert_decisions.standing(P95)
        assert standing is not None and standing.silenced_until == T0 + timedelta(hours=1)

        # Every alert silenced: not the all-clear's colour, not red either.
        await session.silence_alert(ERRORS, None, "known")
        await until(pilot, lambda: bar.has_class("-silenced"))
        assert not bar.has_class("-alerting")

