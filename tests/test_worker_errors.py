"""One worker-error handler for the console: an unexpected error in a screen's or
the app's worker is shown (markup-free, naming the action), and the console goes on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from textual import work
from textual.app import ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import WorkerFailed

from rainbow_tui.app import RainbowApp, make_app
from screens.help import HelpScreen
from tests.helpers.console import until
from tests.helpers.snapshots import CONFIG

ROOT = Path(__file__).resolve().parent.parent
# Where the console's Textual code lives.
UI_FILES = sorted([*(ROOT / "screens").glob("*.py"), *(ROOT / "widgets").glob("*.py"),
                   ROOT / "rainbow_tui" / "app.py"])


class ReportScreen(Screen[None]):
    """A screen whose worker reads a file that is not there: a real error."""

    def __init__(self, report: Path) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        yield Static("report")

    @work(exit_on_error=False)
    async def read_report(self) -> str:
        return self.report.read_text()


def toasts(app: RainbowApp) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


async def shown_toast(app: RainbowApp, pilot: Pilot[int], start: str) -> str:
    await until(pilot, lambda: any(text.startswith(start) for text in toasts(app)), within=10)
    return next(text for text in toasts(app) if text.startswith(start))


async def test_a_failing_screen_worker_is_reported_and_the_console_goes_on(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-report.txt"
    app = make_app(CONFIG, autostart=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        screen = ReportScreen(missing)
        await app.push_screen(screen)
        worker = screen.read_report()
        with pytest.raises(WorkerFailed):  # it really failed
            await app.workers.wait_for_complete([worker])
        # The error's own words hold brackets ("[Errno 2]"): shown as they are.
        text = await shown_toast(app, pilot, "read report failed")
        assert text == f"read report failed: FileNotFoundError: [Errno 2] " \
                       f"No such file or directory: '{missing}'"
        assert app.is_running
        await pilot.press("question_mark")  # the console still answers its keys
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), within=5)


async def test_a_failing_app_worker_named_by_its_action_is_reported(tmp_path: Path) -> None:
    app = make_app(CONFIG, autostart=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:

        async def load_runbooks() -> str:
            return (tmp_path / "runbooks" / "[/]team.toml").read_text()

        worker = app.run_worker(load_runbooks(), name="Load the team's runbooks",
                                exit_on_error=False)
        with pytest.raises(WorkerFailed):
            await app.workers.wait_for_complete([worker])
        text = await shown_toast(app, pilot, "Load the team's runbooks failed")
        assert "FileNotFoundError" in text and "[/]team.toml" in text
        assert app.is_running and app.screen is app.dashboard


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) == name or getattr(node.func, "id", None) == name)
    ]


def _keyword(call: ast.Call, name: str) -> object:
    value = next((k.value for k in call.keywords if k.arg == name), None)
    return value.value if isinstance(value, ast.Constant) else value


def test_every_worker_leaves_its_errors_to_the_app_handler() -> None:
    """exit_on_error=True would end the console before any handler saw the error."""
    offenders = [
        f"{path.relative_to(ROOT)}:{call.lineno}"
        for path in UI_FILES
        for name in ("work", "run_worker")
        for call in _calls(ast.parse(path.read_text()), name)
        if _keyword(call, "exit_on_error") is not False
    ]
    assert not offenders, offenders
    # A bare @work (no call) defaults to exit_on_error=True as well.
    bare = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in UI_FILES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Name) and decorator.id == "work"
    ]
    assert not bare, bare


def _fixed_text(node: ast.expr | None) -> bool:
    """A literal with no bracket, or a choice between such literals."""
    if isinstance(node, ast.IfExp):
        return _fixed_text(node.body) and _fixed_text(node.orelse)
    return isinstance(node, ast.Constant) and "[" not in str(node.value)


def test_every_notification_of_variable_text_is_markup_free() -> None:
    """A toast parses markup unless told not to: any message that is not a fixed
    bracket-free literal passes markup=False."""
    offenders = []
    for path in UI_FILES:
        for call in _calls(ast.parse(path.read_text()), "notify"):
            message = call.args[0] if call.args else None
            if not _fixed_text(message) and _keyword(call, "markup") is not False:
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not offenders, offenders
