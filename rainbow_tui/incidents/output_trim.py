"""Command output cut to what a reader of the postmortem needs: its first and last
lines and the lines that report an error; the whole of it goes to the appendix."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["HEAD_LINES", "TAIL_LINES", "Trimmed", "trim_output"]

HEAD_LINES = 3
TAIL_LINES = 3
# Error lines are kept wherever they stand (bounded, so a crash loop stays short).
MAX_ERROR_LINES = 8
# What names a failure: an exception's class, a fatal line, a traceback; only when
# none does, the plain words (error, failed…), since in an outage's log every
# request line may say "500 Internal Server Error".
_STRONG = re.compile(
    r"\b[A-Z]\w*(Error|Exception)\b(?! in \d)|\bFATAL\b|\bTraceback\b|\bpanic:|^[EF], \[|"
    r"\bERROR\b"
)
_WEAK = re.compile(
    r"\b(error|errors|exception|fatal|failed|failure|refused|denied|timeout|timed out|"
    r"killed|oom)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Trimmed:
    lines: tuple[str | None, ...]  # None where lines were left out
    left_out: int  # how many lines the appendix adds

    @property
    def trimmed(self) -> bool:
        return self.left_out > 0


def trim_output(text: str) -> Trimmed:
    """The first and last lines and the error lines between; a gap is ``None``."""
    lines = text.rstrip("\n").split("\n")
    if len(lines) <= HEAD_LINES + TAIL_LINES + 2:
        return Trimmed(tuple(lines), 0)
    middle = range(HEAD_LINES, len(lines) - TAIL_LINES)
    strong = [i for i in middle if _STRONG.search(lines[i])][:MAX_ERROR_LINES]
    errors = strong or [i for i in middle if _WEAK.search(lines[i])][:MAX_ERROR_LINES]
    kept = [*range(HEAD_LINES), *errors, *range(len(lines) - TAIL_LINES, len(lines))]
    shown: list[str | None] = []
    previous = -1
    for index in kept:
        if index != previous + 1:
            shown.append(None)
        shown.append(lines[index])
        previous = index
    return Trimmed(tuple(shown), len(lines) - len(kept))
