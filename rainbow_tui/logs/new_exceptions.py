"""Which exception classes of check's window of logs are new: not seen in the
windows the history kept over the last 7 days.

The history keeps each round's classes by hour (``History.record_exceptions``);
a round asks before its own classes go in.  When the history holds no window at
all for those days (a new console, a history that cannot be read) nothing is
called new: there is nothing to compare with, and "all new" would be noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rainbow_tui.config import Config
    from rainbow_tui.history import History
    from rainbow_tui.logs.window import LogWindow

__all__ = ["NEW_AFTER_DAYS", "new_classes", "new_in_history", "record_window", "window_counts"]

NEW_AFTER_DAYS = 7
DAY_S = 86400


def window_counts(window: LogWindow) -> dict[str, int]:
    return {entry.exception_class: entry.count for entry in window.exceptions}


def new_classes(window: LogWindow, seen: set[str] | None) -> tuple[str, ...] | None:
    """The window's classes not in ``seen``, most frequent first; None when there
    is no history to compare with (``seen`` None) or the window was not read."""
    if seen is None or window.requests is None:
        return None
    return tuple(entry.exception_class for entry in window.exceptions
                 if entry.exception_class not in seen)


def new_in_history(config: Config, window: LogWindow, now: float) -> tuple[str, ...] | None:
    """:func:`new_classes` against the history's last ``NEW_AFTER_DAYS`` days (None
    when the history cannot be read: the round goes on without it)."""
    from rainbow_tui.history import HistoryError, open_history

    if window.requests is None:
        return None
    try:
        with open_history(config) as history:
            seen = history.exception_classes_seen(now - NEW_AFTER_DAYS * DAY_S, now)
    except HistoryError:
        return None
    return new_classes(window, seen)


def record_window(history: History, window: LogWindow, at: float | None = None) -> None:
    """A read window's classes into the history (a window not read says nothing)."""
    if window.requests is not None:
        history.record_exceptions(window_counts(window), at)
