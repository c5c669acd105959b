"""The escalation banner: a rung of the ladder whose time has passed, on every screen.

One line per open incident whose next rung is due, hidden while none is.  The app
puts one on each full screen it shows (as Textual puts its toasts), so the news is
in front of the responder whatever they are looking at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widgets import Static

from rainbow_tui.text import tr
from widgets.level_style import component_style, inert
from widgets.steady_static import SteadyStatic

if TYPE_CHECKING:
    from rainbow_tui.session import EscalationDueNow

DUE_COMPONENT = "escalation-banner--due"


def render_due(pending: Sequence[EscalationDueNow], widget: Static | None = None) -> Text:
    """Each rung due, one a line: "L2 — Development lead is due: press e / escalate";
    the incident named when several are open."""
    style = component_style(widget, DUE_COMPONENT) if widget is not None else ""
    lines = Text()
    for index, due in enumerate(pending):
        if index:
            lines.append("\n")
        if len(pending) > 1:
            lines.append_text(inert(due.incident_id))
            lines.append(": ")
        # The role comes from the team's config: shown as text, never as markup.
        lines.append(tr("widget.escalation_banner.due", level=due.level, role=due.role),
                     style=style)
        if due.contact:
            lines.append(tr("widget.escalation_banner.contact", contact=due.contact))
    return lines


class EscalationBanner(SteadyStatic):
    COMPONENT_CLASSES: ClassVar[set[str]] = {DUE_COMPONENT}

    def show(self, pending: Sequence[EscalationDueNow]) -> None:
        self.update(render_due(pending, self))
        self.set_class(bool(pending), "-due")
