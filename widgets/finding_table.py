"""A table of findings whose rows are keyed and updated in place.

Rows are never cleared and refilled: a changed value updates its cell, so the
selection and scroll position stay where the reader left them, and nothing flickers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from rainbow_tui.findings import Finding
from widgets.level_style import inert, level_badge

COLUMNS = ("check", "value", "level", "why")


class FindingTable(DataTable[Text]):
    DEFAULT_CSS = """
    FindingTable { height: auto; max-height: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._shown: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, findings: Iterable[Finding], label_prefix: str = "") -> None:
        wanted: dict[str, tuple[Text, ...]] = {}
        for finding in findings:
            label = f"{label_prefix}{finding.label}" if label_prefix else finding.label
            wanted[finding.key] = (
                Text(label),
                inert(finding.display),
                level_badge(finding.level),
                inert(finding.reason),
            )
        for key in list(self._shown):
            if key not in wanted:
                self.remove_row(key)
                del self._shown[key]
        for key, cells in wanted.items():
            before = self._shown.get(key)
            if before is None:
                self.add_row(*cells, key=key)
            else:
                for column, old, new in zip(COLUMNS, before, cells, strict=True):
                    if old != new:
                        with contextlib.suppress(CellDoesNotExist):
                            self.update_cell(key, column, new)
            self._shown[key] = cells
