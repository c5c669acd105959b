"""Colours come from the theme: no colour names or hex codes in the views' code.

Every string literal in widgets/, screens/ and rainbow_tui/app.py (docstrings
aside: they describe, they do not style), and every ``.tcss`` rule, is scanned for
rich's colour names (``rich.color.ANSI_COLOR_NAMES``, also as Textual's ``ansi_…``)
and ``#rgb``/``#rrggbb`` codes; a ``Style(color=…)`` or ``Color.parse(…)`` call is a
hard-coded colour too.  Levels, badges and log colours take theme variables
(``$error``, ``$warning``, ``$success`` …) through component classes or CSS.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.color import ANSI_COLOR_NAMES
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color

from rainbow_tui.levels import Level, level_word
from widgets.alerts_bar import AlertsBar
from widgets.level_style import level_badge, level_style
from widgets.state_header import StateHeader

ROOT = Path(__file__).resolve().parent.parent
VIEW_FILES = sorted(
    [*(ROOT / "widgets").rglob("*.py"), *(ROOT / "screens").rglob("*.py"), ROOT / "rainbow_tui" / "app.py"]
)
STYLESHEETS = sorted((ROOT / "rainbow_tui" / "styles").glob("*.tcss"))

HEX_CODE = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def colours_in(text: str) -> list[str]:
    """The colour names and hex codes in ``text``, as written."""
    found = HEX_CODE.findall(text)
    for word in WORD.findall(text):
        name = word.lower().removeprefix("ansi_")
        if name in ANSI_COLOR_NAMES:
            found.append(word)
    return found


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _hard_coded_colours(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    where = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            for colour in colours_in(node.value):
                yield f"{where}:{node.lineno}: {colour!r} in {node.value[:60]!r}"
        elif isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            keywords = {keyword.arg for keyword in node.keywords}
            if callee.endswith("Style") and keywords & {"color", "bgcolor"}:
                yield f"{where}:{node.lineno}: {callee}({', '.join(sorted(keywords - {None}))}=…)"
            if callee.endswith("Color.parse") or callee.endswith("Color.from_rgb"):
                yield f"{where}:{node.lineno}: {callee}(…)"


def test_the_scan_finds_what_it_looks_for() -> None:
    # The scanner itself: names (bare, bright_, ansi_), hex codes, in style strings.
    assert colours_in("bold white on red") == ["white", "red"]
    assert colours_in("background: #1e1e2e; color: #fff") == ["#1e1e2e", "#fff"]
    assert colours_in("ansi_bright_green grey50 dim") == ["ansi_bright_green", "grey50"]
    assert colours_in("bold reverse $error $text-muted") == []
    assert colours_in("see #12 for details") == []  # an issue number, not a colour


def test_views_name_no_colour_of_their_own() -> None:
    assert VIEW_FILES
    offenders = [line for path in VIEW_FILES for line in _hard_coded_colours(path)]
    assert not offenders, "hard-coded colours (use theme variables):\n" + "\n".join(offenders)


def test_stylesheets_use_theme_variables_only() -> None:
    assert STYLESHEETS
    offenders = []
    for path in STYLESHEETS:
        text = path.read_text()
        # Comments blanked, line breaks kept, so a line number stays right.
        text = re.sub(r"/\*.*?\*/", lambda comment: re.sub(r"[^\n]", " ", comment[0]), text, flags=re.S)
        for number, line in enumerate(text.splitlines(), start=1):
            for colour in colours_in(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {colour!r} in {line.strip()!r}")
    assert not offenders, "hard-coded colours (use theme variables):\n" + "\n".join(offenders)


class _LevelViews(App[None]):
    def compose(self) -> ComposeResult:
        yield StateHeader("")
        yield AlertsBar("")


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord"])
async def test_level_badges_wear_the_themes_colours(theme: str) -> None:
    app = _LevelViews()
    app.theme = theme
    async with app.run_test():
        variables = app.theme_variables
        for view in (app.query_one(StateHeader), app.query_one(AlertsBar)):
            critical = level_style(Level.CRITICAL, view)
            normal = level_style(Level.NORMAL, view)
            assert isinstance(critical, Style) and isinstance(normal, Style)
            assert critical.bgcolor is not None and normal.color is not None
            assert Color.parse(critical.bgcolor.name) == Color.parse(variables["error"])
            assert Color.parse(normal.color.name) == Color.parse(variables["text-success"])
            # A badge with a background of its own reads on it: text of contrast.
            assert critical.color is not None and critical.color != critical.bgcolor
            assert normal.bgcolor is None  # a table row's cursor shows through


def test_a_badge_is_its_word_first() -> None:
    # Colour is never the only signal (NO_COLOR, monochrome): the word is there
    # with no widget (no theme) at all.
    for level in Level:
        badge = level_badge(level)
        assert badge.plain.strip() == level_word(level)
        assert not badge.style
