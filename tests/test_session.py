"""One session, many views: the session polls and tails once, keeps the one log buffer
and the incidents, and tells every subscriber; two consoles on one session both show
what one monitor round and one log batch brought."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.config import Config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.model import EvidencePinned, Note
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.monitor import SOURCE_NAMES
from rainbow_tui.session import (
    IncidentChanged,
    IncidentOpened,
    LogBatchAppended,
    NoIncidentInHand,
    Session,
    SessionEvent,
    SnapshotPublished,
)
from tests.helpers.console import until

# Long enough that nothing polls again by itself while a test looks: every poll
# counted is the first round's.
ONE_ROUND_POLL_S = 3600.0


def _config(stack: DemoProcess, state_dir: Path, poll_s: float = ONE_ROUND_POLL_S) -> Config:
    config = demo_config(stack.endpoints, poll_s=poll_s)
    return msgspec.structs.replace(
        config, incidents=msgspec.structs.replace(config.incidents, state_dir=str(state_dir))
    )


def header_text(app: RainbowApp) -> str:
    return str(app.dashboard.query_one("#state-header").render())


async def test_two_consoles_on_one_session_share_one_round_and_one_log_batch(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    session = Session(_config(demo_stack, tmp_path / "incidents"))
    batches: list[LogBatchAppended] = []
    snapshots: list[SnapshotPublished] = []

    def watch(event: SessionEvent) -> None:
        if isinstance(event, LogBatchAppended):
            batches.append(event)
        elif isinstance(event, SnapshotPublished):
            snapshots.append(event)

    session.subscribe(watch)
    first = make_app(session.config, session=session)
    second = make_app(session.config, session=session)
    try:
        async with first.run_test(size=(160, 48)) as pilot, second.run_test(size=(160, 48)):
            def monitor_round_done() -> bool:
                state = session.latest
                return (
                    session.monitor is not None
                    and all(session.monitor.polls[name] >= 1 for name in SOURCE_NAMES)
                    and state is not None
                    and state.readings.health is not None
                    and state.readings.database is not None
                    and state.readings.queue is not None
                    and bool(state.readings.hosts)
                )

            await until(pilot, monitor_round_done, within=60)
            state = session.latest
            assert state is not None
            shown = f"updated {state.updated_at.astimezone():%H:%M:%S}"
            # Both consoles show the one state the round produced ...
            await until(pilot, lambda: shown in header_text(first) and shown in header_text(second))
            # ... and the session asked each source once, not once per console.
            assert session.monitor is not None
            assert {name: session.monitor.polls[name] for name in SOURCE_NAMES} == {
                name: 1 for name in SOURCE_NAMES
            }
            assert session.subscribers == 3  # the two consoles and this test

            # One log batch: into the one buffer once, read by both consoles' views.
            await until(pilot, lambda: bool(batches), within=60)
            batch = batches[0]
            assert batch.last_seq - batch.first_seq + 1 == len(batch.entries)
            for app in (first, second):
                for view in (app.dashboard.log_pane.log_view, app.log_screen.log_view):
                    assert view.buffer is session.log_buffer
            appended = sum(len(b.entries) for b in batches)
            assert len(session.log_buffer) + session.log_buffer.dropped == appended
            assert session.log_buffer.get(batch.first_seq) == batch.entries[0]
            panes = [app.dashboard.log_pane.log_view for app in (first, second)]
            await until(pilot, lambda: all(len(v.filtered) >= len(batch.entries) for v in panes))
        # A console that leaves a shared session leaves it running for the others.
        assert not first.owns_session and session.monitor is not None
        assert session.subscribers == 1
    finally:
        await session.close()


async def test_a_failing_subscriber_does_not_keep_the_news_from_the_others(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    session = Session(_config(demo_stack, tmp_path / "incidents"))
    heard: list[SessionEvent] = []

    def broken(event: SessionEvent) -> None:
        raise RuntimeError(f"this view cannot show {type(event).__name__}")

    session.subscribe(broken)
    unsubscribe = session.subscribe(heard.append)
    try:
        incident_id = session.start_incident()
        assert [type(e) for e in heard] == [IncidentOpened]
        assert heard[0] == IncidentOpened(incident_id)
        # Asked again while it is open: the same incident, not a second one.
        assert session.start_incident() == incident_id

        # The note is on disk once its write is awaited, and every view is told.
        noted_id, saving = session.add_note("the map does not load")
        await saving
        assert noted_id == incident_id
        on_disk = IncidentStore(tmp_path / "incidents").read(incident_id).incident
        assert any(isinstance(e, Note) and e.text == "the map does not load"
                   for e in on_disk.events)
        assert IncidentChanged(incident_id) in heard

        unsubscribe()
        told = len(heard)
        _, pinned = session.pin("log_lines", "a log line", "app-1/web Completed 500")
        await pinned
        assert len(heard) == told  # unsubscribed: told nothing more
        assert any(isinstance(e, EvidencePinned)
                   for e in session.wizard(incident_id).incident.events)
    finally:
        await session.close()


async def test_commands_for_the_open_incident_need_one(demo_stack: DemoProcess,
                                                       tmp_path: Path) -> None:
    session = Session(_config(demo_stack, tmp_path / "incidents"))
    try:
        with pytest.raises(NoIncidentInHand):
            session.pin("log_lines", "a log line", "text")
        assert session.record_dashboard_action("Retried 3 failed jobs") is None
        incident_id = session.start_incident()
        wizard = session.wizard(incident_id)
        for status in ("acknowledged", "mitigated", "resolved", "closed"):
            await wizard.advance(status)
        assert session.open_incident_id is None
        assert session.current_incident_id == incident_id  # still there to look at
        with pytest.raises(NoIncidentInHand):
            session.add_note("too late")
        # A closed incident makes way for a new one; its wizard goes with it.
        following = session.start_incident()
        assert following != incident_id and session.incident_ids == (following,)
    finally:
        await session.close()
