"""How a level looks: always a word, and a colour where the terminal has one.

Colour is never the only signal (NO_COLOR, monochrome and 256-colour terminals),
so every level is also spelled out.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from rainbow_tui.levels import Level, level_word
from rainbow_tui.text import tr

LEVEL_STYLE = {
    Level.NORMAL: "green",
    Level.ELEVATED: "yellow",
    Level.WARNING: "bold black on yellow",
    Level.CRITICAL: "bold white on red",
    Level.UNKNOWN: "dim",
}


def level_badge(level: Level) -> Text:
    return Text(f" {level_word(level)} ", style=LEVEL_STYLE[level])


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
