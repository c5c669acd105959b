"""Levels, severities and alerts: how a measured value is judged.

The operations manual (監視項目) gives, per metric, a normal line, a warning line and a
critical line.  Between "normal" and "warning" lies a third state, *elevated*: worth
showing, not worth waking anyone for.  A value that could not be measured is
*unknown*, never zero.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")


class Level(enum.Enum):
    NORMAL = "normal"
    ELEVATED = "elevated"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Badness, for picking the worst of several levels.

        Unknown ranks above elevated: not knowing is worse than a value that is
        merely above normal, yet it is not proof of a fault.
        """
        return _RANK[self]

    @property
    def alerting(self) -> bool:
        return self in (Level.WARNING, Level.CRITICAL)


_RANK = {
    Level.NORMAL: 0,
    Level.ELEVATED: 1,
    Level.UNKNOWN: 2,
    Level.WARNING: 3,
    Level.CRITICAL: 4,
}


def worst(levels: list[Level] | tuple[Level, ...]) -> Level:
    """The worst of several levels; normal when there are none."""
    return max(levels, key=lambda level: level.rank, default=Level.NORMAL)


def judge(value: float | None, normal: float, warn: float, critical: float) -> Level:
    """Judge one value against the manual's three lines.

    ``normal`` is exclusive (normal means *below* it), ``warn`` and ``critical`` are
    exceeded when the value is strictly above them, as the manual writes them
    ("< 200ms", "> 500ms", "> 1000ms").
    """
    if value is None:
        return Level.UNKNOWN
    if value > critical:
        return Level.CRITICAL
    if value > warn:
        return Level.WARNING
    if value < normal:
        return Level.NORMAL
    return Level.ELEVATED


@dataclass(frozen=True, slots=True)
class Alert:
    """A condition someone must respond to, with the clock that severity sets."""

    key: str  # stable identity, e.g. "metric:memory_percent:app-1"
    title: str
    level: Level
    severity: Severity
    first_seen: datetime
    respond_by: datetime
    detail: str = ""

    def time_left(self, now: datetime) -> timedelta:
        return self.respond_by - now


def format_span(span: timedelta) -> str:
    """A clock reading such as ``14m50s`` or ``7h59m``; negative spans get a minus."""
    seconds = int(abs(span.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
    return f"-{text}" if span.total_seconds() < 0 else text
