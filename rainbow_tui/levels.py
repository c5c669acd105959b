"""Levels, severities and alerts: how a measured value is judged.

The operations manual (監視項目) gives, per metric, a normal line, a warning line and a
critical line.  Between "normal" and "warning" lies a third state, *elevated*: worth
showing, not worth waking anyone for.  A value that could not be measured is
*unknown*, never zero.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from rainbow_tui.text import N_, Language, Phrase, current_language

Severity = Literal["critical", "high", "medium", "low"]
# Which way a windowed value goes: its last minute against its whole window.
Trend = Literal["falling", "steady", "rising"]
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


# The words of each level and severity, as the operations manual names them
# (正常 / 警告 / 緊急; Critical / High / Medium / Low).
_LEVEL_KEYS = {
    Level.NORMAL: N_("level.normal"),
    Level.ELEVATED: N_("level.elevated"),
    Level.WARNING: N_("level.warning"),
    Level.CRITICAL: N_("level.critical"),
    Level.UNKNOWN: N_("level.unknown"),
}
_SEVERITY_KEYS: dict[Severity, str] = {
    "critical": N_("severity.critical"),
    "high": N_("severity.high"),
    "medium": N_("severity.medium"),
    "low": N_("severity.low"),
}


def level_word(level: Level, language: Language | None = None) -> str:
    """The level as a badge says it: "WARNING" (警告)."""
    return (language or current_language()).tr(_LEVEL_KEYS[level])


def severity_word(severity: Severity, language: Language | None = None) -> str:
    """The severity as the manual's alert levels say it: "CRITICAL"."""
    return (language or current_language()).tr(_SEVERITY_KEYS[severity])


class Alert(msgspec.Struct, frozen=True):
    """A condition someone must respond to, with the clock that severity sets.

    ``title`` and ``detail`` are words already; ``title_phrase`` and
    ``detail_phrase``, when given, say them again in the language of the view
    (``title_text()``, ``detail_text()``)."""

    key: str  # stable identity, e.g. "metric:memory_percent:app-1"
    title: str
    level: Level
    severity: Severity
    first_seen: datetime
    respond_by: datetime
    detail: str = ""
    title_phrase: Phrase | None = None
    detail_phrase: Phrase | None = None
    # For an alert judged over a window of recent requests: which way it goes, and
    # whether it is on its way back (falling, or a remedy passed since).  The level
    # stays what the window says until the window clears it.
    trend: Trend | None = None
    recovering: bool = False

    def time_left(self, now: datetime) -> timedelta:
        return self.respond_by - now

    def title_text(self, language: Language | None = None) -> str:
        return self.title_phrase.text(language) if self.title_phrase else self.title

    def detail_text(self, language: Language | None = None) -> str:
        return self.detail_phrase.text(language) if self.detail_phrase else self.detail


def format_span(span: timedelta, language: Language | None = None) -> str:
    """A clock reading such as ``14m50s`` or ``7h59m`` (14分50秒, 7時間59分);
    negative spans get a minus."""
    seconds = int(abs(span.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    speaker = language or current_language()
    text = (
        speaker.tr("span.clock.hours", hours=hours, minutes=minutes)
        if hours
        else speaker.tr("span.clock.minutes", minutes=minutes, seconds=seconds)
    )
    return f"-{text}" if span.total_seconds() < 0 else text
