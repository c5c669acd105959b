"""A DataTable of keyed rows, brought up to date in place, with a text filter.

Rows are never cleared and refilled: a changed value updates its cell, so the
selection and scroll position stay where the reader left them, and nothing
flickers.  The filter (``/``) hides rows whose text does not contain it; ``!text``
hides those that do.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from rainbow_tui.text import tr


def row_matches(cells: tuple[Text, ...], filter_text: str) -> bool:
    if not filter_text:
        return True
    inverse = filter_text.startswith("!")
    needle = filter_text[1:] if inverse else filter_text
    found = needle.casefold() in " ".join(cell.plain for cell in cells).casefold()
    return found != inverse


class KeyedTable(DataTable[Text]):
    def __init__(
        self,
        columns: tuple[str, ...],
        *,
        id: str | None = None,
        widths: dict[str, int] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row")
        self.columns_in_order = columns
        self.filter_text = ""
        self._rows: dict[str, tuple[Text, ...]] = {}
        # Columns exist from the start, so rows can be synced before mounting ends.
        # A column's key stays put; its label is in the chosen language.
        for name in columns:
            self.add_column((labels or {}).get(name, name), key=name,
                            width=(widths or {}).get(name))

    def sync(self, rows: dict[str, tuple[Text, ...]]) -> None:
        self._rows = rows
        wanted = {key: cells for key, cells in rows.items() if row_matches(cells, self.filter_text)}
        for key in [str(row.value) for row in self.rows]:
            if key not in wanted:
                self.remove_row(key)
        for key, cells in wanted.items():
            if key in self.rows:
                for column, cell in zip(self.columns_in_order, cells, strict=True):
                    if self.get_cell(key, column) != cell:
                        self.update_cell(key, column, cell, update_width=True)
            else:
                self.add_row(*cells, key=key)

    def set_filter(self, filter_text: str) -> None:
        self.filter_text = filter_text
        self.sync(self._rows)
        # Text, not a string: a border subtitle string is parsed as markup, and a
        # filter such as "[/]" would raise.
        self.border_subtitle = (
            Text(tr("widget.filter", filter=filter_text)) if filter_text else None
        )

    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(value) if value is not None else None
