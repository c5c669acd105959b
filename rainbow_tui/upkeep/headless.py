"""``rainbow-tui routine``: a routine run headless (every item in order, each
result printed as it comes, the run recorded), what is due, and a run's report."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from rainbow_tui.config import Config, expand_path
from rainbow_tui.incidents.store import StoreError
from rainbow_tui.text import N_, LanguageCode, Phrase, cell_columns, current_language, tr
from rainbow_tui.upkeep.catalog import RoutineCatalog, configured_routines
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.due import FREQUENCY_KEYS, RoutineDue, routines_due
from rainbow_tui.upkeep.record import RoutineRecord, RoutineRecords
from rainbow_tui.upkeep.report import print_item, print_run, render_routine_report
from rainbow_tui.upkeep.run import RoutineRun

__all__ = [
    "DUE_KEYS",
    "due_now",
    "export_run",
    "print_due",
    "routine_catalog",
    "routine_records",
    "run_routine",
]

DUE_KEYS = {
    "done": N_("routine.due.done"),
    "due": N_("routine.due.due"),
    "overdue": N_("routine.due.overdue"),
}


def routine_catalog(config: Config) -> RoutineCatalog:
    return configured_routines(config.routines.dir, dict(config.routines.frequency))


def routine_records(config: Config) -> RoutineRecords:
    return RoutineRecords(expand_path(config.incidents.state_dir))


def due_now(config: Config, now: datetime | None = None) -> list[RoutineDue]:
    catalog = routine_catalog(config)
    frequencies = {routine.id: routine.frequency for routine in catalog.routines.values()}
    return routines_due(frequencies, routine_records(config).last_runs(),
                        now or datetime.now(UTC))


def _progress(line: Phrase) -> None:
    print(f"  … {line.text()}", file=sys.stderr)


async def run_routine(config: Config, routine_id: str, *, yes: bool, quiet: bool) -> int:
    """Run every item of ``routine_id``; the run's record printed; check's exit rules."""
    from rainbow_tui.incidents.runner import CommandRunner

    catalog = routine_catalog(config)
    for problem in catalog.problems:
        print(tr("routine.problem", problem=problem), file=sys.stderr)
    routine = catalog.get(routine_id)
    if routine is None:
        print(tr("routine.unknown", name=routine_id, routines=", ".join(catalog.ids())),
              file=sys.stderr)
        return 2

    async def confirm(question: Phrase) -> bool:
        key = N_("routine.confirm.headless_yes") if yes else N_("routine.confirm.headless_no")
        said = tr(key, question=question.text())
        print(said, file=sys.stderr)
        return yes

    records = routine_records(config)
    runner = CommandRunner(config)
    try:
        context = RoutineContext(config, runner, records, confirm, _progress)
        run = RoutineRun.start(routine, context, records)
        record = await run.run_all(None if quiet else lambda _item, done: print_item(done))
    finally:
        await runner.close()
    print(tr("routine.recorded", id=record.id, path=records.path(record.id)), file=sys.stderr)
    return print_run(record, quiet)


def print_due(config: Config, now: datetime | None = None) -> int:
    """Each routine: due, overdue or done, and when it last ran."""
    code = current_language().code
    catalog = routine_catalog(config)
    rows = [("ID", tr("routine.list.routine"), tr("routine.list.every"),
             tr("routine.list.state"), tr("routine.list.last"))]
    for due in due_now(config, now):
        routine = catalog.routines[due.routine]
        rows.append((
            due.routine,
            routine.title(code),
            tr(FREQUENCY_KEYS[due.frequency]),
            tr(DUE_KEYS[due.state]),
            due.last_run.astimezone().strftime("%Y-%m-%d %H:%M") if due.last_run
            else tr("routine.list.never"),
        ))
    for line in cell_columns(rows):
        print(line)
    return 0


def export_run(config: Config, run_id: str, output: Path | None,
               languages: tuple[LanguageCode, ...]) -> int:
    records = routine_records(config)
    try:
        record: RoutineRecord = records.load(run_id)
    except StoreError as error:
        print(tr("routine.export.failed", error=error), file=sys.stderr)
        return 1
    markdown = render_routine_report(record, languages)
    if output is None:
        sys.stdout.write(markdown)
        return 0
    from rainbow_tui.incidents.export_files import write_private_text

    write_private_text(output, markdown)
    print(tr("routine.export.written", id=record.id, path=output), file=sys.stderr)
    return 0
