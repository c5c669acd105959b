"""What a routine's items run against: the configuration, the runbooks' command
runner, one shared round of ``check`` (several items read its findings), the
record store of earlier runs, and the two ways an item talks to whoever runs it:
a confirmation it asks for before changing anything, and progress lines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.text import Phrase

if TYPE_CHECKING:
    from rainbow_tui.check import CheckRound
    from rainbow_tui.incidents.runner import CommandRunner
    from rainbow_tui.upkeep.record import RoutineRecords

__all__ = ["Confirm", "Progress", "RoutineContext", "refuse", "say_nothing"]

# Asked before a change (VACUUM, deleting finished jobs): the question, True to go on.
Confirm = Callable[[Phrase], Awaitable[bool]]
Progress = Callable[[Phrase], None]


async def refuse(_question: Phrase) -> bool:
    return False


def say_nothing(_line: Phrase) -> None:
    return None


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RoutineContext:
    config: Config
    runner: CommandRunner
    records: RoutineRecords | None = None
    confirm: Confirm = refuse
    progress: Progress = say_nothing
    clock: Callable[[], datetime] = _now
    # The one check round the findings-based items share (taken on first need).
    _round: CheckRound | None = field(default=None, init=False)
    _round_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def check_round(self) -> CheckRound:
        """``check``'s round, taken once per run and kept in the history as check
        keeps it (the weekly figures read it)."""
        async with self._round_lock:
            if self._round is None:
                from rainbow_tui.check import check_round, record_round

                self._round = await check_round(self.config)
                await asyncio.to_thread(record_round, self.config, self._round)
            return self._round
