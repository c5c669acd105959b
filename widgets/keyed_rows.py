"""Keyed DataTable rows brought up to date in place."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable


def sync_rows(
    table: DataTable[Text], columns: tuple[str, ...], rows: dict[str, tuple[Text, ...]]
) -> None:
    """Bring a keyed table to ``rows`` in place: no clear, so the cursor stays put."""
    for key in [str(row.value) for row in table.rows]:
        if key not in rows:
            table.remove_row(key)
    for key, cells in rows.items():
        if key in table.rows:
            for column, cell in zip(columns, cells, strict=True):
                table.update_cell(key, column, cell)
        else:
            table.add_row(*cells, key=key)
