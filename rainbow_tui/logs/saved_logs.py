"""Where the log view's ``s`` writes, and how: redacted, 0600, never over a file.

A bare file name (what the prompt offers: ``rainbow-tui-logs-<time>.log``) goes to
the console's state directory, beside the incidents (``~/.local/state/rainbow-tui``
on Linux, per platformdirs), in ``logs/`` made 0700, not into whatever directory the
console was started from.  A name with a directory part (``./x.log``, ``~/x.log``,
``/tmp/x.log``) is the operator's choice and is used as given.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["resolve_save_path", "saved_logs_dir", "write_redacted_lines"]

APP_NAME = "rainbow-tui"


def saved_logs_dir() -> Path:
    """``<user state dir>/rainbow-tui/logs`` (``$XDG_STATE_HOME`` honoured)."""
    from platformdirs import user_state_dir

    return Path(user_state_dir(APP_NAME)) / "logs"


def resolve_save_path(text: str, logs_dir: Path | None = None) -> Path:
    """The absolute path a save prompt's ``text`` means; creates the logs directory
    (0700) when ``text`` is a bare file name.  Raises ``OSError`` if it cannot."""
    path = Path(text).expanduser()
    if path.name == text and text not in (".", ".."):
        directory = logs_dir if logs_dir is not None else saved_logs_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return directory / text
    return path.absolute()


def write_redacted_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` to a new file ``path`` (0600), each redacted and ended by a
    newline; return how many.  Refuses to overwrite (``FileExistsError``)."""
    # Imported here: the rule set takes a moment to load, and the log view is on
    # the console's first frame.
    from rainbow_tui.incidents.redact import LineRedactor

    redactor = LineRedactor()  # a key block spread over lines is hidden whole
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    count = 0
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
        for line in lines:
            file.write(redactor.line(line) + "\n")
            count += 1
    return count
