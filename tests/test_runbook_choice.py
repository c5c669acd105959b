"""The right runbook for the fault: alerts grouped by cause, ``i`` proposing the
cause's runbook beside every other one, an incident switching runbook with its done
steps kept, and several incidents open at once, each on its own screen.

The alerts are the db-connections drill's, made as the monitor makes them: the
findings the drill's readings give (the pool's sessions past the warning line, pool
timeouts in the web log, 5xx and p95 from the same requests), judged by the
monitor's own AlertBook."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.alert_causes import (
    AlertGroup,
    db_hosts_of,
    group_alerts,
    group_of,
    proposed_runbook,
    runbook_choices,
)
from rainbow_tui.app import RainbowApp, incident_screen_name, make_app
from rainbow_tui.config import (
    Config,
    DatabaseConfig,
    HostConfig,
    IncidentsConfig,
    ServiceConfig,
)
from rainbow_tui.findings import Finding, overall
from rainbow_tui.incidents.model import (
    RunbookSwitched,
    StepCompleted,
    new_incident,
    switch_runbook,
)
from rainbow_tui.incidents.runbooks import load_runbooks
from rainbow_tui.incidents.store import IncidentStore, decode_incident, encode_incident
from rainbow_tui.incidents.timeline import describe_event
from rainbow_tui.levels import Alert, Level
from rainbow_tui.monitor import AlertBook, MonitorState
from rainbow_tui.session import Session
from rainbow_tui.sources.service_sources import Readings
from rainbow_tui.text import language
from screens.incident import IncidentScreen
from screens.incident_picker import IncidentPickerScreen
from screens.runbook_picker import RunbookPickerScreen
from tests.helpers.console import until

NOW = datetime(2026, 11, 28, 3, 14, tzinfo=UTC)
RUNBOOKS = load_runbooks()
SERVICE = ServiceConfig(
    kamal_service="shiojiri-rainbow-seeker", health_url="https://api.shiojiri-rainbow.app/up"
)
# The demo's layout: two app hosts, the database on db-1 (the db accessory's host).
HOSTS = (
    HostConfig(name="app-1", address="10.0.0.11", roles=("web", "job")),
    HostConfig(name="app-2", address="10.0.0.12", roles=("web",)),
    HostConfig(name="db-1", address="10.0.0.21", accessories=("db",)),
)


def _config(state_dir: Path | None = None) -> Config:
    config = Config(service=SERVICE, hosts=HOSTS, database=DatabaseConfig(host="db-1"))
    if state_dir is None:
        return config
    return msgspec.structs.replace(config, incidents=IncidentsConfig(state_dir=str(state_dir)))


def _finding(key: str, level: Level, severity: str | None, value: float) -> Finding:
    component, metric = key.rsplit(":", 1) if key.count(":") == 1 else key.split(":", 1)
    return Finding(component, metric, metric, f"{value:g}", level, severity,  # type: ignore[arg-type]
                   value)


def _alerts(*findings: Finding) -> tuple[Alert, ...]:
    return AlertBook(_config()).update(list(findings), NOW)


# What the db-connections drill shows: 93 sessions of 97 usable, ConnectionTimeoutError
# in the web log, and the requests that waited for the pool failing and slow.
DB_DRILL = (
    _finding("service:health", Level.NORMAL, None, 1.0),
    _finding("service:response_time_p95_ms", Level.WARNING, "medium", 5200.0),
    _finding("service:error_rate_percent", Level.CRITICAL, "critical", 38.0),
    _finding("database:reachable", Level.NORMAL, None, 1.0),
    _finding("database:db_connections", Level.CRITICAL, "high", 93.0),
    _finding("database:pool_timeouts", Level.CRITICAL, "high", 12.0),
)


def _keys(alerts: tuple[Alert, ...]) -> set[str]:
    return {alert.key for alert in alerts}


# -- the grouping table --------------------------------------------------------------


def test_the_db_pool_is_the_cause_the_5xx_and_p95_ride_along() -> None:
    alerts = _alerts(*DB_DRILL)
    # The monitor ranks the 5xx first: the most urgent alert is a symptom.
    assert alerts[0].key == "service:error_rate_percent"
    groups = group_alerts(alerts)
    assert len(groups) == 1
    group = groups[0]
    assert group.cause.key in {"database:db_connections", "database:pool_timeouts"}
    assert _keys(group.related) >= {"service:error_rate_percent", "service:response_time_p95_ms"}
    assert proposed_runbook(group, RUNBOOKS).id == "db-connections"
    # The 5xx alert, looked up by itself, leads to the same cause.
    assert group_of(groups, "service:error_rate_percent") is group


@pytest.mark.parametrize(
    ("keys", "cause", "related", "runbook"),
    [
        # A web container down explains /up failing and the 5xx.
        (("service:health", "service:error_rate_percent", "host app-1:container:web"),
         "host app-1:container:web", {"service:health", "service:error_rate_percent"},
         "service-down"),
        # /up alone is its own cause, with its request symptoms.
        (("service:health", "service:response_time_p95_ms"), "service:health",
         {"service:response_time_p95_ms"}, "service-down"),
        # A container's memory names the process; its host's memory follows it.
        (("host app-1:memory_percent", "host app-1:container_memory:web"),
         "host app-1:container_memory:web", {"host app-1:memory_percent"}, "memory-growth"),
        (("host db-1:container_memory:db",), "host db-1:container_memory:db", set(),
         "db-memory-growth"),
        # Host-level memory of the database's host is the database's runbook, not the app's.
        (("host db-1:memory_percent",), "host db-1:memory_percent", set(), "db-memory-growth"),
        (("host app-2:memory_percent",), "host app-2:memory_percent", set(), "memory-growth"),
        # Workers gone: the backlog is what it leaves behind.
        (("queue:waiting_jobs", "queue:processes"), "queue:processes", {"queue:waiting_jobs"},
         "job-backlog"),
        (("queue:failed_backlog", "queue:failed_jobs"), "queue:failed_jobs",
         {"queue:failed_backlog"}, "failed-jobs"),
        # An unreachable host: what it would have said rides along.
        (("host app-2:reachable", "host app-2:memory_percent"), "host app-2:reachable",
         {"host app-2:memory_percent"}, "general"),
    ],
)
def test_the_table_groups_each_kind_of_fault(
    keys: tuple[str, ...], cause: str, related: set[str], runbook: str
) -> None:
    alerts = _alerts(*(_finding(key, Level.CRITICAL, "high", 1.0) for key in keys))
    groups = group_alerts(alerts)
    assert len(groups) == 1, groups
    assert groups[0].cause.key == cause and _keys(groups[0].related) == related
    assert proposed_runbook(groups[0], RUNBOOKS, db_hosts_of(_config())).id == runbook


def test_causes_on_different_hosts_stay_apart_and_the_most_urgent_group_leads() -> None:
    alerts = _alerts(
        _finding("host app-1:container_memory:web", Level.WARNING, "medium", 85.0),
        _finding("host app-2:memory_percent", Level.WARNING, "medium", 82.0),
        _finding("service:tls_days_left", Level.CRITICAL, "critical", 3.0),
    )
    groups = group_alerts(alerts)
    assert [g.cause.key for g in groups] == [
        "service:tls_days_left",  # critical, answered by no rule: a cause of its own
        "host app-1:container_memory:web",
        "host app-2:memory_percent",
    ]
    assert all(not g.related for g in groups)
    assert proposed_runbook(groups[0], RUNBOOKS).id == "general"


def test_db_hosts_come_from_the_roles_and_the_accessory() -> None:
    config = Config(service=SERVICE, hosts=(
        HostConfig(name="app-1", address="10.0.0.11", roles=("web",)),
        HostConfig(name="pg-9", address="10.0.0.29", roles=("db",)),
    ))
    assert db_hosts_of(config) == {"pg-9"}
    assert db_hosts_of(_config()) == {"db-1"}


def test_the_picker_lists_the_cause_first_then_every_runbook_once() -> None:
    choices = runbook_choices(group_alerts(_alerts(*DB_DRILL)), RUNBOOKS)
    assert choices[0].kind == "proposed" and choices[0].runbook.id == "db-connections"
    assert choices[0].cause is not None and choices[0].related
    matching = [c.runbook.id for c in choices if c.kind == "matching"]
    assert "slow-queries" in matching  # it answers the p95 alert
    ids = [c.runbook.id for c in choices]
    assert sorted(ids) == sorted(RUNBOOKS.runbooks) and len(ids) == len(set(ids))
    others = [c for c in choices if c.kind == "other"]
    assert {"restore-backup", "security-incident", "general"} <= {c.runbook.id for c in others}
    assert all(c.cause is None for c in others)
    assert [c.kind for c in choices] == sorted(
        (c.kind for c in choices), key=["proposed", "matching", "other"].index
    )


def test_no_alert_proposes_the_general_runbook() -> None:
    choices = runbook_choices((), RUNBOOKS)
    assert choices[0].kind == "proposed" and choices[0].runbook.id == "general"
    assert len(choices) == len(RUNBOOKS.runbooks)


# -- the record -----------------------------------------------------------------------


def test_switching_keeps_the_done_steps_and_takes_up_the_first_not_done() -> None:
    general = RUNBOOKS.runbooks["general"]
    service_down = RUNBOOKS.runbooks["service-down"]
    group = AlertGroup(*_single(group_alerts(_alerts(*DB_DRILL))))
    incident = new_incident(runbook=general, alert=group.cause, related=group.related, at=NOW,
                            author="oncall")
    assert {a.key for a in incident.related_alerts} == _keys(group.related)
    from rainbow_tui.incidents.model import complete_step, start_step

    incident = incident.with_event(start_step(incident, general, 0, at=NOW, author="oncall"))
    incident = incident.with_event(complete_step(incident, general, 0, at=NOW, author="oncall"))
    assert incident.current_step == 1
    switched = switch_runbook(incident, service_down, at=NOW, author="oncall")
    incident = incident.with_event(switched)
    # Both runbooks start with the situation check ("status"): done is done.
    assert switched.carried == (0,) and switched.resume_at == 1
    assert incident.current_runbook == "service-down" and incident.runbook == "general"
    assert incident.current_step == 1
    assert incident.step_state(0) == "done" and incident.step_state(1) == "pending"
    assert any(isinstance(e, StepCompleted) and e.step_id == "status" for e in incident.events)
    words = describe_event(incident, switched, language=language("en"))
    assert "general → service-down" in words and "step 2" in words
    assert "ランブック変更" in describe_event(incident, switched, language=language("ja"))
    # The record reads back as written, the switch and the related alerts with it.
    loaded = decode_incident(encode_incident(incident), Path("x.toml")).incident
    assert loaded == incident
    with pytest.raises(ValueError, match="already"):
        switch_runbook(incident, service_down, at=NOW, author="oncall")


def _single(groups: tuple[AlertGroup, ...]) -> tuple[Alert, tuple[Alert, ...]]:
    assert len(groups) == 1
    return groups[0].cause, groups[0].related


def test_a_record_without_related_alerts_loads_as_before() -> None:
    incident = new_incident(runbook=RUNBOOKS.runbooks["general"], at=NOW, author="oncall")
    data = encode_incident(incident)
    assert b"related_alerts" not in data  # not written while empty: old files are alike
    assert decode_incident(data, Path("x.toml")).incident.related_alerts == ()


# -- the console ----------------------------------------------------------------------


def _show_drill(app: RainbowApp) -> None:
    """The monitor's judgement of the db-connections drill, as the session hears it."""
    findings = list(DB_DRILL)
    state = MonitorState(Readings(), tuple(findings), _alerts(*DB_DRILL), overall(findings),
                         updated_at=NOW)
    app.session._on_state(state)  # the monitor's listener


def _toasts(app: RainbowApp) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def _picker(app: RainbowApp) -> RunbookPickerScreen:
    screen = app.screen
    assert isinstance(screen, RunbookPickerScreen), type(screen)
    return screen


def _incident_screen(app: RainbowApp) -> IncidentScreen:
    screen = app.screen
    assert isinstance(screen, IncidentScreen), type(screen)
    return screen


async def test_i_then_enter_opens_the_db_runbook_and_the_5xx_rides_along(
    tmp_path: Path,
) -> None:
    app = make_app(_config(tmp_path / "incidents"), autostart=False)
    async with app.run_test(size=(120, 35), notifications=True) as pilot:
        _show_drill(app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
        picker = _picker(app)
        assert picker.choices[0].runbook.id == "db-connections"
        listed = str(picker.query_one("#picker-list").render_line(0).text)
        assert "Proposed" in listed
        await pilot.press("enter")  # two keystrokes: i, Enter
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=10)
        wizard = _incident_screen(app).wizard
        assert wizard.runbook.id == "db-connections"
        incident = wizard.incident
        assert incident.alert is not None and incident.alert.key.startswith("database:")
        assert {a.key for a in incident.related_alerts} >= {
            "service:error_rate_percent", "service:response_time_p95_ms"
        }
        # The palette's 5xx alert now leads to the same incident, and says so.
        await pilot.press("escape")
        app.action_start_incident("service:error_rate_percent")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=10)
        assert _incident_screen(app).incident_id == incident.id
        assert app.session.open_incident_ids == (incident.id,)
        await until(pilot, lambda: any("open for this cause already" in text
                                       for text in _toasts(app)), within=10)
    on_disk = IncidentStore(tmp_path / "incidents").load(incident.id)
    assert on_disk.runbook == "db-connections" and len(on_disk.related_alerts) >= 2


async def test_restore_is_reachable_and_two_incidents_have_a_screen_each(
    tmp_path: Path,
) -> None:
    app = make_app(_config(tmp_path / "incidents"), autostart=False)
    async with app.run_test(size=(120, 35)) as pilot:
        _show_drill(app)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=10)
        db_incident = _incident_screen(app).incident_id
        await pilot.press("escape")
        # i again: the DB cause shows its open incident; restore is further down.
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
        picker = _picker(app)
        assert picker.choices[0].open_incident == db_incident
        restore = next(n for n, c in enumerate(picker.choices) if c.runbook.id == "restore-backup")
        for _ in range(restore):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen)
                    and app.screen.incident_id != db_incident, within=10)
        restore_screen = _incident_screen(app)
        assert restore_screen.wizard.runbook.id == "restore-backup"
        assert restore_screen.wizard.incident.alert is None
        session = app.session
        assert set(session.open_incident_ids) == {db_incident, restore_screen.incident_id}
        for incident_id in session.open_incident_ids:
            assert app.is_screen_installed(incident_screen_name(incident_id))
        db_screen = app.get_screen(incident_screen_name(db_incident))
        assert isinstance(db_screen, IncidentScreen) and db_screen is not restore_screen
        # A note goes to the incident in front.
        assert session.open_incident_id == restore_screen.incident_id
        # I from the dashboard: a choice, the one in hand first.
        await pilot.press("escape")
        await pilot.press("I")
        await until(pilot, lambda: isinstance(app.screen, IncidentPickerScreen), within=10)
        chooser = app.screen
        assert isinstance(chooser, IncidentPickerScreen)
        assert [line.incident_id for line in chooser.lines] == [
            restore_screen.incident_id, db_incident
        ]
        await pilot.press("2")
        await until(pilot, lambda: app.screen is db_screen, within=10)
        assert session.open_incident_id == db_incident


async def test_switching_runbook_from_the_incident_screen(tmp_path: Path) -> None:
    config = _config(tmp_path / "incidents")
    app = make_app(config, autostart=False)
    async with app.run_test(size=(120, 35)) as pilot:
        await pilot.press("i")  # no alert: the general runbook, proposed
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), within=10)
        screen = _incident_screen(app)
        wizard = screen.wizard
        assert wizard.runbook.id == "general"
        await wizard.complete_step()  # the situation checked
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), within=10)
        picker = _picker(app)
        assert picker.current == "general"
        number = next(n for n, c in enumerate(picker.choices, 1) if c.runbook.id == "service-down")
        if number <= 9:
            await pilot.press(str(number))  # its digit takes it at once
        else:
            for _ in range(number - 1):  # below the ninth: the arrows, then Enter
                await pilot.press("down")
            await pilot.press("enter")
        await until(pilot, lambda: wizard.runbook.id == "service-down" and app.screen is screen,
                    within=10)
        await until(pilot, lambda: not wizard.unsaved, within=10)
        incident = wizard.incident
        switch = incident.events[-1]
        assert isinstance(switch, RunbookSwitched) and switch.previous == "general"
        # "status" was done under general: the wizard takes up service-down after it.
        assert wizard.step_index == 1 and incident.step_state(0) == "done"
        assert wizard.step is not None and wizard.step.id == "deploy-lock"
        await until(pilot, lambda: "Runbook switched" in str(
            screen.query_one("#incident-timeline").render()), within=10)
        incident_id = incident.id
    # A console started afterwards follows the runbook switched to.
    session = Session(config)
    try:
        session._resume_open_incident()
        assert session.open_incident_ids == (incident_id,)
        resumed = session.wizard(incident_id)
        assert resumed.runbook.id == "service-down" and resumed.step_index == 1
    finally:
        await session.close()


async def test_every_open_incident_comes_back(tmp_path: Path) -> None:
    config = _config(tmp_path / "incidents")
    first = Session(config)
    try:
        general = first.start_incident()
        restore = first.start_incident(runbook_id="restore-backup", with_alert=False)
        assert general != restore and first.open_incident_ids == (general, restore)
        # Asked again for either: the same incident, not a third.
        assert first.start_incident() == general
        assert first.incident_for(runbook_id="restore-backup", with_alert=False) == restore
    finally:
        await first.close()
    again = Session(config)
    try:
        again._resume_open_incident()
        assert set(again.open_incident_ids) == {general, restore}
        assert again.open_incident_id == restore  # the newest in hand
    finally:
        await again.close()
