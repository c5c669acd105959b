"""One run of a routine: its items run one by one (a check through the
registry, a command through the runbooks' runner), each result recorded as it
comes, with a person's notes, skips and "done" marks in between.

The console drives a run item by item; ``run_all`` runs every item in order for
the headless ``rainbow-tui routine NAME``.  Every change is on disk before the
call that made it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import msgspec

from rainbow_tui.incidents.command_output import LineCallback
from rainbow_tui.incidents.model import current_author
from rainbow_tui.incidents.runner import CommandResult, ParameterError
from rainbow_tui.text import N_, Phrase, language
from rainbow_tui.upkeep.catalog import Routine, RoutineItem
from rainbow_tui.upkeep.checks import run_check
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.record import ItemRecord, RoutineRecord, RoutineRecords
from rainbow_tui.upkeep.results import ItemResult, Outcome

__all__ = ["RoutineRun", "command_result", "new_record"]

ResultCallback = Callable[[RoutineItem, ItemRecord], None]


def _shown(item: RoutineItem, context: RoutineContext) -> str:
    if item.command is None:
        return item.check
    try:
        return context.runner.preview(item.command)
    except ParameterError as error:
        return f"({error})"


def new_record(routine: Routine, context: RoutineContext, started: datetime) -> RoutineRecord:
    return RoutineRecord(
        id=f"{started:%Y-%m-%d-%H%M}-{routine.id}",
        routine=routine.id,
        title_ja=routine.title_ja,
        title_en=routine.title_en,
        frequency=routine.frequency,
        service=context.config.service.name,
        author=current_author(),
        started_at=started,
        demo=context.config.incidents.demo,
        items=tuple(
            ItemRecord(item=item.id, title_ja=item.title_ja, title_en=item.title_en,
                       shown=_shown(item, context))
            for item in routine.items
        ),
    )


def command_result(item: RoutineItem, result: CommandResult, preview: str) -> ItemResult:
    """A command's end as a routine result: exit 0 is ok, a failure is as bad as the
    item says (``fails_as``), one that never ran is unknown with why."""
    outcome: Outcome
    if result.outcome == "ok":
        outcome, phrase = "ok", Phrase(N_("routine.command.ok"), seconds=result.duration_s)
    elif result.outcome in ("failed", "timeout"):
        outcome = item.fails_as
        phrase = Phrase(N_("routine.command.failed"), code=result.exit_code
                        if result.exit_code is not None else "—", detail=result.detail)
    else:
        outcome = "unknown"
        phrase = Phrase(N_("routine.command.not_run"), detail=result.detail or result.outcome,
                        command=preview)
    figures = {"exit_code": float(result.exit_code)} if result.exit_code is not None else {}
    return ItemResult(outcome, phrase, figures, excerpt=result.excerpt,
                      duration_s=result.duration_s)


class RoutineRun:
    """A run of ``routine`` recorded in ``records``."""

    def __init__(self, routine: Routine, context: RoutineContext, records: RoutineRecords,
                 record: RoutineRecord) -> None:
        self.routine = routine
        self.context = context
        self.records = records
        self.record = record

    @classmethod
    def start(cls, routine: Routine, context: RoutineContext,
              records: RoutineRecords) -> RoutineRun:
        """A new run, on disk (raises ``StoreError`` when it cannot be written)."""
        record = records.create(new_record(routine, context, context.clock()))
        return cls(routine, context, records, record)

    def item_record(self, item_id: str) -> ItemRecord:
        found = self.record.item(item_id)
        if found is None:
            raise KeyError(f"routine {self.routine.id} has no item {item_id!r}")
        return found

    def _save(self, changed: ItemRecord) -> ItemRecord:
        self.record = self.records.save(self.record.with_item(changed))
        return self.item_record(changed.item)

    async def _save_async(self, changed: ItemRecord) -> ItemRecord:
        record = self.record.with_item(changed)
        self.record = await asyncio.to_thread(self.records.save, record)
        return self.item_record(changed.item)

    # -- running -------------------------------------------------------------------------

    async def _result(self, item: RoutineItem, on_line: LineCallback | None) -> ItemResult:
        if item.command is None:
            return await run_check(self.context, item)
        runner = self.context.runner
        command = item.command
        preview = runner.preview(command)
        if command.destructive and not runner.read_only:
            asked = Phrase(N_("routine.confirm.command"), command=preview)
            if not await self.context.confirm(asked):
                return ItemResult("unknown", Phrase(N_("routine.command.declined"),
                                                    command=preview))
        return command_result(item, await runner.run(command, on_line=on_line), preview)

    async def run_item(self, item_id: str, on_line: LineCallback | None = None) -> ItemRecord:
        """Run one item and record what it found; a check that breaks is recorded as
        unknown with its error, never as ok."""
        item = self.routine.item(item_id)
        if item is None:
            raise KeyError(f"routine {self.routine.id} has no item {item_id!r}")
        started = time.monotonic()
        try:
            result = await self._result(item, on_line)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as error:
            result = ItemResult("unknown", Phrase(N_("routine.check.broke"),
                                                  error=f"{type(error).__name__}: {error}"))
        duration = result.duration_s or (time.monotonic() - started)
        current = self.item_record(item_id)
        changed = msgspec.structs.replace(
            current,
            outcome=result.outcome,
            said_ja=result.phrase.text(language("ja")),
            said_en=result.phrase.text(language("en")),
            figures={name: float(value) for name, value in result.figures.items()},
            lines=tuple(result.lines),
            excerpt=result.excerpt,
            at=self.context.clock(),
            duration_s=duration,
        )
        return await self._save_async(changed)

    async def run_all(self, on_result: ResultCallback | None = None) -> RoutineRecord:
        """Every item in order, then the run marked finished."""
        for item in self.routine.items:
            done = await self.run_item(item.id)
            if on_result is not None:
                on_result(item, done)
        return self.finish()

    # -- a person's marks ----------------------------------------------------------------

    def note(self, item_id: str, text: str) -> ItemRecord:
        current = self.item_record(item_id)
        joined = f"{current.note}\n{text}".strip() if current.note else text.strip()
        return self._save(msgspec.structs.replace(current, note=joined))

    def skip(self, item_id: str) -> ItemRecord:
        current = self.item_record(item_id)
        phrase = Phrase(N_("routine.skipped_by"), author=current_author())
        return self._save(msgspec.structs.replace(
            current, outcome="skipped", said_ja=phrase.text(language("ja")),
            said_en=phrase.text(language("en")), at=self.context.clock()))

    def mark_done(self, item_id: str) -> ItemRecord:
        """A person says the item is done (what no check can tell: a password rotated)."""
        current = self.item_record(item_id)
        changes: dict[str, object] = {"done": True, "at": self.context.clock()}
        if current.outcome in ("pending", "unknown"):
            phrase = Phrase(N_("routine.done_by"), author=current_author())
            changes |= {"outcome": "ok", "said_ja": phrase.text(language("ja")),
                        "said_en": phrase.text(language("en"))}
        return self._save(msgspec.structs.replace(current, **changes))

    def finish(self) -> RoutineRecord:
        self.record = self.records.save(
            msgspec.structs.replace(self.record, finished_at=self.context.clock()))
        return self.record

    @property
    def finished(self) -> bool:
        return self.record.finished_at is not None


