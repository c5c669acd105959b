"""The 3 a.m. walkthrough: keystrokes from the alert to the exported postmortem.

An expert path through the real console (``make_app(demo_config(...))`` on a demo
stack with the drill's fault, driven by Textual's Pilot at 80×24) as a responder who
knows the keys walks it: open the incident from the alert, run each step's commands,
type the action a destructive command asks for, mark steps done (each verified),
mitigated, resolved, then the postmortem and its export.  Every key pressed is
counted; text the responder chooses to write (a reason, a note) is not, the words a
confirmation asks for are.

The baseline, counted in the same run, is the number of decisions the record holds
(each command run, each step done, each status change, the export): one key per
decision is the floor no console can go below, so the ratio is the overhead of
finding and confirming.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.report import Row

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from rainbow_tui.app import RainbowApp



@dataclass(frozen=True)
class Drill:
    name: str
    alert_key: str  # the alert the fault raises
    runbook_id: str  # the runbook its cause calls for
    # Which commands of each step an expert runs (by number); a step not named is
    # marked done as read, and the walk ends with the first step whose remedy passes.
    plan: dict[str, tuple[int, ...]]
    goal: int


DRILLS = (
    Drill("service-down", "service:health", "service-down",
          {"status": (1, 2), "deploy-lock": (1,), "boot": (1,)}, goal=30),
    Drill("db-connections", "database:db_connections", "db-connections",
          {"db-status": (1,), "connections": (1, 2), "db-reboot": (1,)}, goal=40),
)
READY_TIMEOUT_S = 90.0
STEP_TIMEOUT_S = 240.0


@dataclass
class KeyCounter:
    """Presses keys through the pilot and counts them; free text is counted apart."""

    pilot: Pilot[int]
    keys: list[str] = field(default_factory=list)
    free_text: int = 0

    async def press(self, *keys: str) -> None:
        self.keys.extend(keys)
        await self.pilot.press(*keys)

    async def write(self, text: str) -> None:
        """Text the responder chooses (a reason, a note): typed, not counted."""
        self.free_text += len(text)
        await self.pilot.press(*text)


async def _until(pilot: Pilot[int], condition: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the console did not get there in time")
        await pilot.pause(0.05)


async def _walk(app: RainbowApp, counter: KeyCounter, drill: Drill) -> Path:
    from textual.screen import ModalScreen

    from rainbow_tui.incidents.model import CommandStarted
    from screens.incident import IncidentScreen
    from screens.postmortem import PostmortemScreen
    from screens.prompt import PromptScreen

    pilot = counter.pilot

    def alert_open() -> bool:
        latest = app.session.latest
        return latest is not None and any(a.key == drill.alert_key for a in latest.alerts)

    await _until(pilot, alert_open, READY_TIMEOUT_S)
    await counter.press("i")
    await _until(pilot, lambda: isinstance(app.screen, IncidentScreen | ModalScreen), 10)
    if not isinstance(app.screen, IncidentScreen):
        await counter.press("enter")  # the runbook proposed for the cause
    await _until(pilot, lambda: isinstance(app.screen, IncidentScreen), 10)
    screen = app.screen
    assert isinstance(screen, IncidentScreen)
    wizard = screen.wizard
    if wizard.runbook.id != drill.runbook_id:
        raise RuntimeError(f"{drill.runbook_id} was not proposed: {wizard.runbook.id} opened")
    while wizard.step is not None:
        step = wizard.step
        index = wizard.step_index
        for number in drill.plan.get(step.id, ()):

            shown = wizard.preview(step.commands[number - 1])

            def started(at: int = index, shown: str = shown) -> bool:
                return any(
                    isinstance(e, CommandStarted) and e.step == at and e.command == shown
                    for e in wizard.incident.events
                )

            await _until(pilot, lambda: app.screen is screen and not wizard.command_in_progress,
                         STEP_TIMEOUT_S)
            await counter.press(str(number))
            await _until(pilot, lambda: isinstance(app.screen, PromptScreen) or started(), 10)
            prompt = app.screen
            if isinstance(prompt, PromptScreen) and prompt.must_equal:
                await counter.press(*prompt.must_equal, "enter")
            await _until(pilot, started, 10)
        await _until(pilot, lambda: not wizard.command_in_progress, STEP_TIMEOUT_S)
        verifies = step.verify is not None and step.verify.kind != "none"
        await counter.press("d")
        await _until(pilot, lambda at=index: wizard.step_index > at or app.screen is not screen,
                     STEP_TIMEOUT_S)
        if app.screen is not screen:
            raise RuntimeError(f"step {step.id} did not pass its verification")
        if verifies:
            break  # the remedy passed: mitigated from here
    await counter.press("m", "R", "P")
    await _until(pilot, lambda: isinstance(app.screen, PostmortemScreen), 10)
    exported = set(Path.cwd().glob("*.md"))

    def written() -> bool:
        return bool(set(Path.cwd().glob("*.md")) - exported)

    await counter.press("ctrl+o")
    await _until(pilot, lambda: isinstance(app.screen, PromptScreen) or written(), 10)
    if isinstance(app.screen, PromptScreen):
        await counter.press("enter")  # the file name proposed
    await _until(pilot, written, 30)
    return next(iter(set(Path.cwd().glob("*.md")) - exported))


def _decisions(app: RainbowApp, incident_id: str) -> int:
    from rainbow_tui.incidents.model import CommandStarted, StatusChanged, StepCompleted

    incident = app.session.store.incident(incident_id)
    kinds = (CommandStarted, StepCompleted, StatusChanged)
    # The first status (detected) stands for opening the incident; the export is one more.
    return sum(1 for e in incident.events if isinstance(e, kinds)) + 1


async def _one(drill: Drill, work: Path) -> tuple[KeyCounter, int]:
    from rainbow_tui.app import make_app
    from rainbow_tui.demo.launcher import start_demo_stack
    from rainbow_tui.demo.profile import demo_config, demo_dsn_variables, export_demo_dsn

    stack = await asyncio.to_thread(start_demo_stack, work / "stack", (drill.name,), None, 2)
    saved = {name: os.environ.get(name) for name in demo_dsn_variables(stack.endpoints)}
    cwd = Path.cwd()
    try:
        export_demo_dsn(stack.endpoints)
        os.chdir(work)  # where the postmortem is exported
        config = demo_config(stack.endpoints, poll_s=1.0, incidents_dir=work / "incidents")
        app = make_app(config)
        async with app.run_test(size=(80, 24)) as pilot:
            counter = KeyCounter(pilot)
            await _walk(app, counter, drill)
            incident_id = app.session.current_incident_id
            assert incident_id is not None
            decisions = _decisions(app, incident_id)
            app.exit()
    finally:
        os.chdir(cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        await asyncio.to_thread(stack.stop)
    return counter, decisions


def bench_walkthrough() -> list[Row]:
    rows: list[Row] = []
    for drill in DRILLS:
        with tempfile.TemporaryDirectory(prefix="rainbow-bench-walk-") as work:
            counter, decisions = asyncio.run(_one(drill, Path(work)))
        rows.append(
            Row(f"{drill.name}: keys, alert → exported postmortem", len(counter.keys),
                decisions, " k", goal=f"≤ {drill.goal}; baseline: decisions recorded")
        )
        print(f"  {drill.name} keys: {' '.join(counter.keys)}", flush=True)
    return rows
