"""The shape DESIGN.md §3 asks for, checked rather than hoped for."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The shell's modules, the only ones of rainbow_tui/ that may import Textual (serve's
# driver draws an app on an SSH channel).
APP_SHELL = {"app.py", "cli.py", "__main__.py", "serve_console.py"}
UI_PACKAGES = ("textual", "screens", "widgets")
SESSION = "rainbow_tui.session"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_core_imports_no_textual() -> None:
    offenders = [
        f"{path.relative_to(REPO)} imports {sorted(_imports(path) & set(UI_PACKAGES))}"
        for path in (REPO / "rainbow_tui").rglob("*.py")
        if path.name not in APP_SHELL or path.parent.name != "rainbow_tui"
        if _imports(path) & set(UI_PACKAGES)
    ]
    assert offenders == []


def test_widgets_never_import_screens() -> None:
    offenders = [p.name for p in (REPO / "widgets").glob("*.py") if "screens" in _imports(p)]
    assert offenders == []


def test_one_screen_per_module() -> None:
    for path in (REPO / "screens").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        screens = [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef)
            and any("Screen" in ast.unparse(base) for base in node.bases)
        ]
        assert len(screens) <= 1, f"{path.name} defines {screens}"


# What the first dashboard frame shows without: the clients of the operated system,
# the notifiers, the incident machinery, Markdown, and the screens and widgets that
# come later (the log views are mounted once the tail starts, after the first frame).
NOT_IN_FIRST_FRAME = (
    "asyncssh", "asyncpg", "httpx", "botocore", "boto3", "sqlite3", "markdown_it",
    "rainbow_tui.notify", "rainbow_tui.monitor", "rainbow_tui.sources",
    "rainbow_tui.incidents", "rainbow_tui.wizard", "rainbow_tui.history",
    "textual.widgets._data_table", "textual.widgets._markdown", "textual.widgets._text_area",
    "screens.logs", "screens.confirm", "screens.help", "screens.key_commands",
    "screens.incident", "widgets.log_view",
)

# The console painted to its first frame, as bench/startup.py does: the CLI's
# modules loaded, the session built and not started (that comes after the frame).
FIRST_FRAME_CHILD = """
import json, sys
from pathlib import Path
import rainbow_tui.cli
from rainbow_tui.app import RainbowApp
from rainbow_tui.config import load_config
from rainbow_tui.session import Session

class FirstFrame(RainbowApp):
    def _start_session(self):
        self.loaded = sorted(sys.modules)
        self.exit()

app = FirstFrame(Session(load_config(Path(sys.argv[1]))))
app.run(headless=True, size=(120, 40))
print(json.dumps(app.loaded))
"""


def test_first_frame_imports_nothing_it_does_not_show(tmp_path: Path) -> None:
    """The dashboard's first frame is up before any client, notifier, incident
    module or later screen is imported: they load on first use, after it."""
    result = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME_CHILD, str(REPO / "config.toml")],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path)},
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    early = sorted(
        name for name in loaded
        if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_IN_FIRST_FRAME)
    )
    assert "screens.dashboard" in loaded  # the frame was the dashboard's
    assert early == []


def test_import_contract_names_every_core_module() -> None:
    """A module added to the core must join the floors in pyproject.toml, or the
    import contract would not see it."""
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["importlinter"]["contracts"]
    floors = next(c for c in contracts if c["type"] == "layers")["layers"]
    core_floor = {name.strip() for name in floors[-1].split(":")}
    no_textual = next(c for c in contracts if c["type"] == "forbidden")
    below_textual = {
        f"rainbow_tui.{path.stem if path.is_file() else path.name}"
        for path in (REPO / "rainbow_tui").iterdir()
        if (path.suffix == ".py" and path.name not in APP_SHELL | {"__init__.py"})
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    # The session has a floor of its own, between the widgets and the core.
    assert floors[-2] == SESSION
    assert core_floor == below_textual - {SESSION}
    assert set(no_textual["source_modules"]) == below_textual


def test_the_session_loads_without_textual() -> None:
    """Headless users of the session (check, serve's accounting) pay no Textual import."""
    code = "import sys, rainbow_tui.session\nprint('textual' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/helpers and fixtures in tests/conftest.py: a test
    module imported by another would run its tests' imports (and tie their fates)."""
    offenders = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in (REPO / "tests").rglob("*.py")
        for name in sorted(_imported_modules(path))
        if name.startswith("tests.test_")
    ]
    assert offenders == []


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module an ``import`` or ``from ... import`` names, in full."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import from tests/ (``from .test_x import``) names tests.test_x.
            module = node.module or ""
            if node.level:
                module = ".".join(filter(None, ["tests", module]))
            found.add(module)
            if module == "tests":  # from tests import test_x
                found.update(f"tests.{alias.name}" for alias in node.names)
    return found
