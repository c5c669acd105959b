"""What is due: each routine against the time its last run finished.

A routine is due once its period has passed since its last finished run (daily
after 24 h, weekly after 7 days, monthly after 30, quarterly after 91) and
overdue once half a period more has passed; one never run is due.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rainbow_tui.text import N_, tr

__all__ = [
    "FREQUENCY_KEYS", "PERIODS", "DueState", "RoutineDue", "due_state", "due_summary",
    "routines_due",
]

PERIODS: dict[str, timedelta] = {
    "daily": timedelta(hours=24),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
    "quarterly": timedelta(days=91),
}
# Each frequency's word, for whoever says it (the CLI's list, a check's result).
FREQUENCY_KEYS = {
    "daily": N_("routine.frequency.daily"),
    "weekly": N_("routine.frequency.weekly"),
    "monthly": N_("routine.frequency.monthly"),
    "quarterly": N_("routine.frequency.quarterly"),
}
DueState = Literal["done", "due", "overdue"]


@dataclass(frozen=True, slots=True)
class RoutineDue:
    routine: str
    frequency: str
    state: DueState
    last_run: datetime | None
    # When it falls (fell) due; None for one never run.
    due_at: datetime | None


def due_state(frequency: str, last_run: datetime | None, now: datetime) -> DueState:
    if last_run is None:
        return "due"
    period = PERIODS[frequency]
    age = now - last_run
    if age >= period + period / 2:
        return "overdue"
    return "due" if age >= period else "done"


def routines_due(
    frequencies: Mapping[str, str], last_runs: Mapping[str, datetime], now: datetime
) -> list[RoutineDue]:
    """Each routine (id → frequency, in the order given) with its state."""
    found: list[RoutineDue] = []
    for routine, frequency in frequencies.items():
        last = last_runs.get(routine)
        found.append(RoutineDue(
            routine, frequency, due_state(frequency, last, now), last,
            last + PERIODS[frequency] if last is not None else None,
        ))
    return found


def due_summary(due: Sequence[RoutineDue], names: Mapping[str, str]) -> str:
    """One line for the dashboard: the overdue routines first, then those due, each
    by its short name (``names`` by routine id); all five fit 80 columns."""
    separator = tr("routine.due.list_separator")
    groups = []
    for state, key in (("overdue", N_("routine.due.overdue_list")),
                       ("due", N_("routine.due.due_list"))):
        named = [names.get(entry.routine, entry.routine) for entry in due if entry.state == state]
        if named:
            groups.append(tr(key, routines=separator.join(named)))
    return tr("routine.due.summary", groups=" · ".join(groups))
