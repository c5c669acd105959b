"""A keyed table of findings: check, value, level (a word and a colour), why."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from rainbow_tui.findings import Finding
from widgets.keyed_rows import KeyedTable
from widgets.level_style import inert, level_badge

COLUMNS = ("check", "value", "level", "why")


class FindingTable(KeyedTable):
    DEFAULT_CSS = """
    FindingTable { height: auto; max-height: 100%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)

    def show(self, findings: Iterable[Finding]) -> None:
        rows: dict[str, tuple[Text, ...]] = {}
        for finding in findings:
            label = finding.label
            if finding.component.startswith("host "):
                label = f"{finding.component.removeprefix('host ')} {label}"
            rows[finding.key] = (
                Text(label),
                inert(finding.display),
                level_badge(finding.level),
                inert(finding.reason),
            )
        self.sync(rows)
