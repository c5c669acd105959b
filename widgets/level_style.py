"""How a level looks: always a word, and a colour where the terminal has one.

Colour is never the only signal (NO_COLOR, monochrome and 256-colour terminals),
so every level is also spelled out.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text

from rainbow_tui.levels import Level, level_word
from rainbow_tui.text import tr

if TYPE_CHECKING:
    from textual.widget import Widget

# Each level's look is a component class of the widget that shows it, coloured by
# the theme (level_css): a theme change or NO_COLOR reaches every badge.
LEVEL_COMPONENTS = {
    Level.NORMAL: "level--normal",
    Level.ELEVATED: "level--elevated",
    Level.WARNING: "level--warning",
    Level.CRITICAL: "level--critical",
    Level.UNKNOWN: "level--unknown",
}
LEVEL_COMPONENT_CLASSES = set(LEVEL_COMPONENTS.values())


def level_css(widget_type: str) -> str:
    """The levels' theme colours, for the ``DEFAULT_CSS`` of ``widget_type``."""
    return f"""
    {widget_type} > .level--normal {{ color: $text-success; }}
    {widget_type} > .level--elevated {{ color: $text-warning; }}
    {widget_type} > .level--warning {{ color: $text; background: $warning; text-style: bold; }}
    {widget_type} > .level--critical {{ color: $text; background: $error; text-style: bold; }}
    {widget_type} > .level--unknown {{ color: $text-muted; }}
    """


def level_style(level: Level, widget: Widget | None) -> Style | str:
    """How ``widget``'s theme shows ``level`` ("" without a widget: the word alone).

    ``widget`` declares :data:`LEVEL_COMPONENT_CLASSES` and styles them with
    :func:`level_css`.
    """
    if widget is None:
        return ""
    return component_style(widget, LEVEL_COMPONENTS[level])


def component_style(widget: Widget, name: str) -> Style:
    """The style of ``widget``'s component class ``name``, for a span of ``Text``.

    The rule's own attributes (bold, a background where it sets one), with the
    colours resolved against what lies behind: ``$text`` and ``$text-muted`` are
    relative, and a span without a background of its own keeps the row's (a table's
    cursor, say).
    """
    own = widget.get_component_rich_style(name, partial=True)
    resolved = widget.get_component_rich_style(name)
    return own + Style.from_color(resolved.color, resolved.bgcolor if own.bgcolor else None)


def level_badge(level: Level, widget: Widget | None = None) -> Text:
    """The level's word, in the colours ``widget``'s theme gives it."""
    return Text(f" {level_word(level)} ", style=level_style(level, widget))


def inert(text: str, *, keep_newlines: bool = False) -> Text:
    """Remote text as plain, inert ``Text``: no markup, no terminal control.

    With ``keep_newlines`` the text stays on its lines; otherwise a newline shows
    as a visible mark, so one table cell never spills into the next row.
    """
    from rainbow_tui.logs.lines import make_inert

    if keep_newlines:
        return Text("\n".join(make_inert(line) for line in text.split("\n")))
    return Text(make_inert(text))


def stale_note(taken_at: datetime) -> Text:
    """The prefix of data shown after its source stopped answering."""
    return Text(tr("widget.stale_note", at=f"{taken_at.astimezone():%H:%M:%S}"), style="bold")
