"""A full disk in the middle of an incident: nothing recorded drifts, nothing is lost.

The wizard reads the store's record (no copy that a failed write leaves behind),
keeps what the disk refused pending in order, says so on screen, and writes it
all with the right ids once there is room again: first the wizard alone on a
really full tmpfs (or, without mount rights, a disk that refuses ``pwrite``), then
the whole console on a tmpfs filled to the last byte.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from textual.widgets import Static

from rainbow_tui.app import make_app
from rainbow_tui.config import Config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.model import (
    CommandFinished,
    CommandStarted,
    EvidencePinned,
    Incident,
    Note,
    RoleAssigned,
    StatusChanged,
    StepCompleted,
    StepStarted,
    new_incident,
)
from rainbow_tui.incidents.runbooks import pick_runbook
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.incidents.store import IncidentStore, StoreWriteError
from rainbow_tui.wizard import IncidentWizard
from screens.incident import IncidentScreen
from screens.prompt import PromptScreen
from tests.helpers.console import POLL_S, start_incident, until
from tests.helpers.disks import FullTmpfs, TinyDisk
from tests.helpers.incidents import T0, make_alert

# Larger than a page: it cannot slip into the file's last, already allocated page.
BIG_NOTE = "ディスク満杯 disk full " * 300


def _wizard(store: IncidentStore, config: Config, *, retry_s: float = 0.05) -> IncidentWizard:
    """A wizard on a new service-down incident; quick retries by default (the tests
    wait for them to succeed, never for a set time)."""
    runbook = pick_runbook("service:health")
    incident = store.create(
        new_incident(runbook=runbook, alert=make_alert(), at=T0 + timedelta(minutes=2), author="a")
    )
    return IncidentWizard(
        config, store, CommandRunner(config), runbook, incident,
        retry_first_s=retry_s, retry_max_s=retry_s * 4,
    )


def _dense(incident: Incident) -> bool:
    return [e.id for e in incident.events] == list(range(1, len(incident.events) + 1))


async def _saved(wizard: IncidentWizard, within: float = 30.0) -> None:
    """Wait until the wizard says a write ended with nothing left in memory only."""
    everything_on_disk = asyncio.Event()

    def changed(_incident: Incident) -> None:
        if not wizard.unsaved:
            everything_on_disk.set()

    unsubscribe = wizard.subscribe(changed)
    try:
        if wizard.unsaved:
            await asyncio.wait_for(everything_on_disk.wait(), within)
    finally:
        unsubscribe()


async def test_a_failed_write_stays_pending_in_order_and_lands_once_there_is_room(
    tiny_disk: TinyDisk, demo_stack: DemoProcess
) -> None:
    store = IncidentStore(tiny_disk.root)
    wizard = _wizard(store, demo_config(demo_stack.endpoints))
    changes: list[Incident] = []
    wizard.subscribe(changes.append)
    await wizard.add_note("before the disk filled up")
    on_disk_before = store.load(wizard.incident_id)
    assert on_disk_before == wizard.incident and not wizard.unsaved

    tiny_disk.fill()
    with pytest.raises(StoreWriteError) as failure:
        await wizard.add_note(BIG_NOTE)
    assert failure.value.disk_full
    # The next changes build on the store's record (pending events included): no
    # "event id 3 is not the next one (4)", whatever failed before.
    for saving in (
        wizard.advance("acknowledged"),
        wizard.complete_step(),
        wizard.assign_role("commander", "alice"),
    ):
        with pytest.raises(StoreWriteError):
            await saving
    assert wizard.incident is store.incident(wizard.incident_id)  # the store's, not a copy
    assert _dense(wizard.incident)
    assert wizard.unsaved.events == 5  # note, status, step started + done, role
    assert wizard.describe_unsaved().startswith("5 events not yet on disk — retrying (")
    assert "No space left on device" in wizard.describe_unsaved()
    assert store.load(wizard.incident_id) == on_disk_before  # the file is as it was
    assert changes and changes[-1] == wizard.incident  # told of each failed write

    tiny_disk.free()
    await _saved(wizard)  # the retry writes it, nobody had to make another change
    saved = store.load(wizard.incident_id)
    assert saved == wizard.incident and _dense(saved)
    assert wizard.describe_unsaved() == "" and wizard.write_problem == ""
    kinds = [type(e) for e in saved.events[len(on_disk_before.events):]]
    assert kinds == [Note, StatusChanged, StepStarted, StepCompleted, RoleAssigned]
    assert saved.status == "acknowledged" and saved.roles() == {"commander": "alice"}
    wizard.stop_retrying()
    store.close()


async def test_the_next_change_writes_what_is_pending_and_a_header_change_too(
    tiny_disk: TinyDisk, demo_stack: DemoProcess
) -> None:
    store = IncidentStore(tiny_disk.root)
    # Retries too slow to happen during the test: the next change must do it.
    wizard = _wizard(store, demo_config(demo_stack.endpoints), retry_s=3600)
    tiny_disk.fill()
    with pytest.raises(StoreWriteError):
        await wizard.pin("log_lines", "the log line", BIG_NOTE)
    with pytest.raises(StoreWriteError):
        await wizard.save_postmortem("summary", "the disk filled up")
    assert wizard.unsaved.events == 1 and wizard.unsaved.header
    assert "1 event and the postmortem and header not yet on disk" in wizard.describe_unsaved()

    tiny_disk.free()
    await wizard.add_note("space is back")
    assert not wizard.unsaved
    saved = store.load(wizard.incident_id)
    assert saved == wizard.incident and _dense(saved)
    assert [type(e) for e in saved.events[-2:]] == [EvidencePinned, Note]
    assert saved.postmortem.summary == "the disk filled up"
    wizard.stop_retrying()
    store.close()


async def test_changes_made_faster_than_the_disk_reach_it_in_order(
    tmp_path: Path, demo_stack: DemoProcess
) -> None:
    """Writes run in worker threads; however they interleave, the file keeps the order."""
    store = IncidentStore(tmp_path)
    wizard = _wizard(store, demo_config(demo_stack.endpoints))
    # None awaited before the next is made, some larger than a page (a rewrite).
    savings = [
        wizard.add_note(f"note {n} " + ("x" * 5000 if n % 9 == 0 else "")) for n in range(60)
    ]
    header = wizard.save_postmortem("summary", "written among the notes")
    await asyncio.gather(*savings, header)
    saved = store.load(wizard.incident_id)
    assert saved == wizard.incident and _dense(saved)
    notes = [e.text.split(" ")[1] for e in saved.events if isinstance(e, Note)]
    assert notes == [str(n) for n in range(60)]
    assert saved.postmortem.summary == "written among the notes"
    store.close()


# -- the console itself on a tmpfs filled to the last byte --------------------------------


@pytest.mark.slow
async def test_the_console_on_a_full_disk_says_what_is_not_on_disk_then_writes_it_all(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    disk = FullTmpfs(tmp_path / "state")
    disk.mount()
    try:
        config = demo_config(demo_stack.endpoints, poll_s=POLL_S)
        config = msgspec.structs.replace(
            config, incidents=msgspec.structs.replace(config.incidents, state_dir=str(disk.root))
        )
        app = make_app(config)
        async with app.run_test(size=(160, 48)) as pilot:
            await start_incident(app, pilot)  # no alert: the general runbook
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
            screen = app.screen
            assert isinstance(screen, IncidentScreen)
            wizard = screen.wizard
            incident_id = wizard.incident_id
            notice = screen.query_one("#incident-unsaved", Static)
            assert not notice.display
            on_disk_before = IncidentStore(disk.root).read(incident_id).incident

            disk.fill()
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen))
            app.screen.query_one("#prompt-input").value = BIG_NOTE  # type: ignore[attr-defined]
            await pilot.press("enter")
            await until(pilot, lambda: wizard.unsaved.events == 1)
            await pilot.press("a")  # acknowledged
            # A command still runs on a full disk: its record waits in memory.
            await pilot.press("enter")  # it changes nothing: no question
            await until(
                pilot,
                lambda: any(isinstance(e, CommandFinished) for e in wizard.incident.events),
                within=60,
            )
            await pilot.press("d")  # the step done
            await until(pilot, lambda: wizard.step_index == 1)
            # note, acknowledged, step started, command started + finished, step done
            await until(pilot, lambda: wizard.unsaved.events == 6 and notice.display)
            shown = str(notice.render())
            assert "6 events not yet on disk — retrying" in shown
            assert "No space left on device" in shown
            timeline = str(screen.query_one("#incident-timeline", Static).render())
            assert timeline.count("(not yet on disk)") == 6
            assert IncidentStore(disk.root).read(incident_id).incident == on_disk_before

            disk.free()
            await until(pilot, lambda: not wizard.unsaved and not notice.display, within=30)
            in_memory = wizard.incident
            assert "(not yet on disk)" not in str(
                screen.query_one("#incident-timeline", Static).render()
            )
        # Read back through a store of its own, as the next console would.
        saved = IncidentStore(disk.root).read(incident_id)
        assert saved.recovered == ""
        assert saved.incident == in_memory and _dense(saved.incident)
        kinds = [type(e) for e in saved.incident.events[len(on_disk_before.events):]]
        assert kinds == [
            Note, StatusChanged, StepStarted, CommandStarted, CommandFinished, StepCompleted,
        ]
        note_event = saved.incident.events[len(on_disk_before.events)]
        assert isinstance(note_event, Note) and note_event.text == BIG_NOTE.strip()
        assert saved.incident.status == "acknowledged" and saved.incident.current_step == 1
    finally:
        disk.unmount()
