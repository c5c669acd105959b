"""Where a pane's tables go: a "waiting" line until the first answer, then the table.

Tables that have nothing to show yet are not mounted at start: each DataTable costs
styling time, and the first frame should not wait for empty ones.  Nor is the
DataTable module imported for it: this module names the tables only inside its
functions, so the panes load without it and the first table brings it in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Static

from rainbow_tui.text import tr

if TYPE_CHECKING:
    from textual.widget import Widget

    from widgets.finding_table import FindingTable
    from widgets.keyed_rows import KeyedTable


def waiting_line() -> Static:
    return Static(tr("widget.waiting"), classes="waiting placeholder")


def findings_in(pane: Widget, table_id: str) -> FindingTable:
    """The pane's findings table, put in place of its "waiting" line on first use."""
    from widgets.finding_table import FindingTable

    found = pane.query(f"#{table_id}")
    if found:
        return found.first(FindingTable)
    table = FindingTable(id=table_id)
    waiting = pane.query(".waiting")
    if waiting:
        pane.mount(table, after=waiting.first())
        waiting.first().remove()
    else:
        pane.mount(table)
    return table


def table_in(
    container: Widget,
    table_id: str,
    columns: tuple[str, ...],
    before: str,
    labels: dict[str, str] | None = None,
) -> KeyedTable:
    """The container's table ``table_id``, mounted (before ``before``) on first need."""
    from widgets.keyed_rows import KeyedTable

    found = container.query(f"#{table_id}")
    if found:
        return found.first(KeyedTable)
    table = KeyedTable(columns, id=table_id, labels=labels)
    container.mount(table, before=before)
    return table


def selected_key_in(container: Widget, selector: str) -> str | None:
    """The selected row's key in the container's table ``selector`` (None: no table
    yet, or no row)."""
    tables = container.query(selector)
    if not tables:
        return None
    from widgets.keyed_rows import KeyedTable

    return tables.first(KeyedTable).selected_key()
