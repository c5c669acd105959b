"""A keyed table of findings: check, value, level (a word and a colour), why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from rainbow_tui.text import N_, tr
from widgets.keyed_rows import KeyedTable
from widgets.level_style import LEVEL_COMPONENT_CLASSES, inert, level_badge, level_css

if TYPE_CHECKING:
    from rainbow_tui.findings import Finding

# The level first: it is what the eye looks for, and it must survive 80 columns.
COLUMNS = ("level", "check", "value", "why")
COLUMN_KEYS = {
    "level": N_("widget.column.level"),
    "check": N_("widget.column.check"),
    "value": N_("widget.column.value"),
    "why": N_("widget.column.why"),
}


class FindingTable(KeyedTable):
    COMPONENT_CLASSES = LEVEL_COMPONENT_CLASSES
    DEFAULT_CSS = """
    FindingTable { height: auto; max-height: 100%; }
    """ + level_css("FindingTable")

    def __init__(self, *, id: str | None = None) -> None:
        # Fixed widths for the first three, so a long label never pushes the value
        # off a narrow pane; "why" takes what is left.
        super().__init__(
            COLUMNS,
            id=id,
            widths={"level": 10, "check": 20, "value": 24},
            labels={name: tr(key) for name, key in COLUMN_KEYS.items()},
        )

    def show(self, findings: Iterable[Finding]) -> None:
        rows: dict[str, tuple[Text, ...]] = {}
        for finding in findings:
            label = finding.label
            if finding.component.startswith("host "):
                label = tr("widget.host_check", host=finding.component.removeprefix("host "),
                           check=label)
            rows[finding.key] = (
                level_badge(finding.level, self),
                # Host names come from the deployment's configuration: remote text too.
                inert(label),
                inert(finding.display),
                inert(finding.reason),
            )
        self.sync(rows)
