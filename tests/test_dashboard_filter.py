"""The dashboard's table filter (``/``): its input line exists from the first ``/`` on
(the first frame does without it), filters the focused table, and Esc clears it."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from rainbow_tui.demo.launcher import DemoProcess
from tests.helpers.console import console, until
from widgets.keyed_rows import KeyedTable


def _shown(table: KeyedTable) -> list[str]:
    return [" ".join(cell.plain for cell in table.get_row(row.key)) for row in table.ordered_rows]


async def test_slash_opens_the_filter_on_the_focused_table_and_esc_clears_it(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with console(demo_stack, monkeypatch) as (app, pilot):
        dashboard = app.dashboard
        assert not dashboard.query("#table-filter")  # not part of the first frame
        await until(pilot, lambda: bool(dashboard.query("#components-table")))
        table = dashboard.query_one("#components-table", KeyedTable)
        await until(pilot, lambda: any("Memory" in row for row in _shown(table)))
        everything = len(_shown(table))
        table.focus()
        await pilot.press("slash")
        box = dashboard.query_one("#table-filter", Input)
        assert box.has_class("-open") and box.has_focus

        await pilot.press(*"Memory")
        # Each key filters again (case aside): wait for the whole word's rows.
        await until(pilot, lambda: all("memory" in row.casefold() for row in _shown(table)))
        assert 0 < len(_shown(table)) < everything

        await pilot.press("escape")
        await until(pilot, lambda: len(_shown(table)) >= everything)
        assert not box.has_class("-open") and box.value == ""
        assert table.has_focus

        await pilot.press("slash")  # the same line again, not a second one
        assert len(dashboard.query("#table-filter")) == 1
        assert dashboard.query_one("#table-filter", Input).has_class("-open")
