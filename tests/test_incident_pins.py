"""A log line pinned from the dashboard is said to be pinned only once it is on disk;
on a full disk the console says it is not recorded, and the retry writes it later."""

from __future__ import annotations

from pathlib import Path

import msgspec
from textual.color import Color
from textual.widgets import Static

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config
from rainbow_tui.incidents.model import EvidencePinned
from rainbow_tui.incidents.store import IncidentStore
from rainbow_tui.logs.parse import parse_line
from screens.incident import IncidentScreen
from tests.helpers.console import start_incident, until
from tests.helpers.disks import FullTmpfs
from widgets.log_view import LogView


def toasts(app: RainbowApp) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


def pinned_on_disk(state: Path, incident_id: str) -> int:
    incident = IncidentStore(state).read(incident_id).incident
    return sum(isinstance(e, EvidencePinned) for e in incident.events)


async def test_a_pin_is_confirmed_once_on_disk_and_a_failed_one_is_said(
    demo_stack: DemoProcess, tmp_path: Path
) -> None:
    disk = FullTmpfs(tmp_path / "state")
    disk.mount()
    try:
        config = demo_config(demo_stack.endpoints)
        config = msgspec.structs.replace(
            config, incidents=msgspec.structs.replace(config.incidents, state_dir=str(disk.root))
        )
        app = make_app(config, autostart=False)
        # Long enough to need room the file has not kept spare.
        line = parse_line(
            "2026-11-28T03:14:11.003000000Z [e5f6a7b8] Completed 500 Internal Server Error "
            + "ディスク満杯 disk full " * 300,
            "app-1",
            "web",
        )
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            # Nothing polls here (autostart off): the pane's view is shown all the same.
            app.dashboard.start_log_view()
            await until(pilot, lambda: app.dashboard.log_pane.log_view.is_mounted, within=10)
            # No incident yet: nothing to pin to, and it says how to start one.
            app.dashboard.log_pane.log_view.post_message(LogView.PinRequested(line))
            await until(
                pilot, lambda: "No incident in hand: press i to start one" in toasts(app),
                within=10,
            )
            await start_incident(app, pilot)
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
            incident_id = app.session.open_incident_id
            assert incident_id is not None
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.dashboard)

            disk.fill()
            app.dashboard.log_pane.log_view.post_message(LogView.PinRequested(line))
            await until(
                pilot,
                lambda: any(t.startswith(f"Not recorded on {incident_id}: ") for t in toasts(app)),
                within=10,
            )
            assert f"Pinned to {incident_id}" not in toasts(app)
            assert any("No space left on device" in t for t in toasts(app))
            assert pinned_on_disk(disk.root, incident_id) == 0
            # The incident says what is in memory only, in the theme's warning colours.
            await pilot.press("I")
            await until(pilot, lambda: isinstance(app.screen, IncidentScreen))
            notice = app.screen.query_one("#incident-unsaved", Static)
            await until(pilot, lambda: bool(notice.display))
            assert "1 event not yet on disk — retrying" in str(notice.render())
            warning = Color.parse(app.get_css_variables()["warning"])
            assert notice.styles.background == warning
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is app.dashboard)

            disk.free()
            app.clear_notifications()
            app.dashboard.log_pane.log_view.post_message(LogView.PinRequested(line))
            await until(pilot, lambda: f"Pinned to {incident_id}" in toasts(app), within=10)
            # Said once on disk: this pin and the one kept in memory, both there.
            assert pinned_on_disk(disk.root, incident_id) == 2
    finally:
        disk.unmount()
