"""What an item of a routine found: ok, warning, critical or unknown, in words
(a phrase, said in either language) with its numbers and any lines of detail."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rainbow_tui.levels import Level
from rainbow_tui.text import N_, Language, Phrase

__all__ = [
    "OUTCOMES",
    "ItemResult",
    "JoinedPhrase",
    "Outcome",
    "exit_status",
    "not_available",
    "outcome_of_level",
    "worst_outcome",
]

Outcome = Literal["ok", "warning", "critical", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "warning", "critical", "unknown")
_RANK: dict[Outcome, int] = {"ok": 0, "unknown": 1, "warning": 2, "critical": 3}
OUTCOME_KEYS: dict[str, str] = {
    "ok": N_("routine.outcome.ok"),
    "warning": N_("routine.outcome.warning"),
    "critical": N_("routine.outcome.critical"),
    "unknown": N_("routine.outcome.unknown"),
    "skipped": N_("routine.outcome.skipped"),
    "pending": N_("routine.outcome.pending"),
}


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's result: ``phrase`` says it, ``figures`` hold its numbers by name
    (dead tuples before/after, days left…), ``lines`` detail verbatim (issue
    titles, top queries), ``excerpt`` a command's output."""

    outcome: Outcome
    phrase: Phrase
    figures: Mapping[str, float] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    excerpt: str = ""
    duration_s: float = 0.0


class JoinedPhrase(Phrase):
    """Several phrases as one, each said in the language of the whole."""

    __slots__ = ("parts", "separator")

    def __init__(self, parts: Iterable[Phrase], separator: str = "; ") -> None:
        super().__init__(N_("text.verbatim"))
        self.parts = tuple(parts)
        self.separator = separator

    def text(self, language: Language | None = None) -> str:
        return self.separator.join(part.text(language) for part in self.parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JoinedPhrase) and (self.parts, self.separator) == (
            other.parts, other.separator)

    def __hash__(self) -> int:
        return hash((self.parts, self.separator))


def not_available(why: Phrase) -> ItemResult:
    """A check whose component is missing or not configured: unknown, never ok."""
    return ItemResult("unknown", Phrase(N_("routine.not_available"), why=why))


def outcome_of_level(level: Level) -> Outcome:
    if level is Level.CRITICAL:
        return "critical"
    if level is Level.WARNING:
        return "warning"
    if level is Level.UNKNOWN:
        return "unknown"
    return "ok"


def worst_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=lambda outcome: _RANK[outcome], default="ok")


def exit_status(outcomes: Iterable[str]) -> int:
    """As ``check``'s: 2 on any critical, 1 on any warning, else 0 (unknown is
    shown but is no evidence of a fault)."""
    seen = set(outcomes)
    if "critical" in seen:
        return 2
    if "warning" in seen:
        return 1
    return 0
