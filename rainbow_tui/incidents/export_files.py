"""Writing an exported postmortem: readable by its owner only, never half written.

An export holds an incident's timeline and notes (redacted, but still the team's
business), so it is created 0600 like the records.  It is written beside its final
name and renamed over it, so a full disk or a crash leaves the previous export whole
rather than a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_private_text"]


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (0600, replaced atomically); return the absolute path.
    Raises ``OSError`` if it cannot, leaving any earlier file as it was."""
    target = path.expanduser().absolute()
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).replace(target)  # mkstemp made it 0600
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
