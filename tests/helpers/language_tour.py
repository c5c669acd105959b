"""The console in one language on a running demo stack, screen by screen: what each
screen shows at 80×24, as text.

Run in a process of its own (``python -m tests.helpers.language_tour LANG STACK_DIR
INCIDENTS_DIR``), as the command line runs the console: the language is chosen
before the app is imported, since key bindings take their words when their class is
made.  Prints one JSON object: screen name → its visible lines; what remote hosts
wrote (log lines) is blanked out, being no word of the console's.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from textual.strip import Strip

if TYPE_CHECKING:
    from textual.pilot import Pilot
    from textual.screen import Screen
    from textual.widget import Widget

    from rainbow_tui.app import RainbowApp

SIZE = (80, 24)
WAIT_S = 60.0


def visible_text(screen: Screen[object], remote: tuple[type[Widget], ...] = ()) -> str:
    """The screen's lines as drawn, with the cells of ``remote`` widgets blanked."""
    compositor = screen._compositor
    strips = compositor.render_strips()
    hidden = [
        region
        for widget, (region, _clip) in compositor.visible_widgets.items()
        if isinstance(widget, remote)
    ]
    lines: list[str] = []
    for line in strips:
        width = line.cell_length
        for region in hidden:
            if region.y <= len(lines) < region.bottom:
                left, right = region.x, min(region.right, width)
                line = Strip.join(
                    [line.crop(0, left), Strip.blank(right - left), line.crop(right, width)]
                )
        lines.append(line.text.rstrip())
    return "\n".join(lines)


async def until(pilot: Pilot[int], condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not seen in time: {what}")
        await pilot.pause(0.1)


async def tour(code: str, stack_dir: Path, incidents_dir: Path) -> dict[str, str]:
    from rainbow_tui.text import LANGUAGES, set_language

    language = next(c for c in LANGUAGES if c == code)
    set_language(language)
    # Only now: the bindings' words are read when their classes are made.
    from textual.command import CommandPalette
    from textual.widgets import Markdown

    from rainbow_tui.app import make_app
    from rainbow_tui.demo.endpoints import DemoEndpoints
    from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
    from screens.help import HelpScreen
    from screens.incident import IncidentScreen
    from screens.logs import LogScreen
    from screens.postmortem import PostmortemScreen
    from screens.runbook_picker import RunbookPickerScreen
    from widgets.log_view import LogView

    endpoints = DemoEndpoints.load(stack_dir)
    os.environ.update(demo_dsn_variables(endpoints))
    config = demo_config(endpoints, poll_s=1.0)
    config = msgspec.structs.replace(
        config, incidents=msgspec.structs.replace(config.incidents, state_dir=str(incidents_dir))
    )
    app: RainbowApp = make_app(config)
    shown: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        session = app.session

        def read(screen: Screen[object] | None = None) -> str:
            return visible_text(screen or app.screen, remote=(LogView,))

        # Every source read, every stream streaming, lines in the pane.
        await until(pilot, lambda: session.latest is not None
                    and not session.latest.stale and len(session.latest.findings) > 10,
                    "the first full reading")
        # Lines in the buffer: at 80 columns the pane is behind the Components tab and
        # takes them in when it is shown.
        await until(pilot, lambda: len(session.log_buffer) > 0, "log lines")
        await until(pilot, lambda: "3/3" in str(app.dashboard.log_pane.border_subtitle),
                    "every log stream")
        await pilot.pause()
        shown["dashboard"] = read()
        for key, pane in (("2", "logs"), ("3", "database"), ("4", "jobs")):
            await pilot.press(key)
            selector = f"#{pane}.-current"

            def pane_shown(selector: str = selector) -> bool:
                return bool(app.dashboard.query(selector))

            await until(pilot, pane_shown, f"the {pane} pane")
            if pane == "logs":
                await until(pilot, lambda: len(app.dashboard.log_pane.log_view.filtered) > 0,
                            "log lines in the pane")
            await pilot.pause()
            shown[f"dashboard {pane}"] = read()
        await pilot.press("1")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.pause()
        shown["help"] = read()
        await pilot.press("escape")
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, LogScreen), "the log screen")
        await until(pilot, lambda: len(app.log_screen.log_view.filtered) > 0, "log lines")
        await pilot.pause()
        shown["logs"] = read()
        await pilot.press("slash")
        await until(pilot, lambda: app.log_screen.prompt_purpose == "filter", "the filter prompt")
        await pilot.pause()
        shown["logs filter prompt"] = read()
        await pilot.press("escape", "escape")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.pause(0.5)  # the palette's list fills in
        shown["command palette"] = read()
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard, "the dashboard again")
        app.action_change_theme()
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the theme picker")
        await pilot.pause(0.5)
        shown["theme picker"] = read()
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard, "the dashboard again")
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, RunbookPickerScreen), "the picker")
        await pilot.pause()
        shown["runbook picker"] = read()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, IncidentScreen), "the incident")
        await pilot.pause()
        shown["incident"] = read()
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, PostmortemScreen), "the postmortem")
        await pilot.pause()
        # The preview is the postmortem's Markdown (rainbow_tui/incidents/postmortem.py),
        # read apart from the screen's own words.
        shown["postmortem"] = visible_text(app.screen, remote=(Markdown,))
        shown["postmortem preview"] = app.screen.query_one(Markdown).source
        await pilot.press("escape", "escape")
    return shown


def main(argv: list[str]) -> int:
    code, stack_dir, incidents_dir = argv
    shown = asyncio.run(tour(code, Path(stack_dir), Path(incidents_dir)))
    print(json.dumps(shown, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
