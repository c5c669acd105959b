"""Whether leaving now would lose text typed and not yet saved.

A screen that knows (the postmortem editor saves its draft as it is typed) answers
through ``has_unsaved_text()``; for any other, text waiting in a dialog's field (an
answer not yet sent) or in a text area counts.  A full screen's one-line field is a
filter or a search, not work, and does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from textual.screen import Screen
from textual.widgets import Input, TextArea


@runtime_checkable
class KnowsUnsavedText(Protocol):
    def has_unsaved_text(self) -> bool: ...


def screen_has_unsaved_text(screen: Screen[Any]) -> bool:
    if isinstance(screen, KnowsUnsavedText):
        return screen.has_unsaved_text()
    if any(area.text.strip() for area in screen.query(TextArea)):
        return True
    return screen.is_modal and any(box.value.strip() for box in screen.query(Input))


def unsaved_text_in(screens: Iterable[Screen[Any]]) -> bool:
    return any(screen_has_unsaved_text(screen) for screen in screens)
