"""A routine run in words: the Markdown report (one section per language asked
for, each item's result, numbers, details, output and note) and what the
headless ``rainbow-tui routine`` prints (a table, or JSON for a machine)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rainbow_tui.check import LEVEL_STYLE
from rainbow_tui.incidents.markdown_text import code_fence, code_span, escape_text, table
from rainbow_tui.incidents.timeline import format_time
from rainbow_tui.levels import Level
from rainbow_tui.text import N_, Language, LanguageCode, current_language, language, tr
from rainbow_tui.upkeep.record import ItemRecord, RoutineRecord
from rainbow_tui.upkeep.results import OUTCOME_KEYS, exit_status

__all__ = ["outcome_word", "print_run", "render_routine_report", "run_document"]

# Outcomes styled as check prints the levels they stand for.
OUTCOME_STYLE = {
    "ok": LEVEL_STYLE[Level.NORMAL],
    "warning": LEVEL_STYLE[Level.WARNING],
    "critical": LEVEL_STYLE[Level.CRITICAL],
    "unknown": LEVEL_STYLE[Level.UNKNOWN],
    "skipped": LEVEL_STYLE[Level.UNKNOWN],
    "pending": LEVEL_STYLE[Level.UNKNOWN],
}


def outcome_word(outcome: str, code: LanguageCode | None = None) -> str:
    speaker = language(code) if code is not None else current_language()
    return speaker.tr(OUTCOME_KEYS[outcome])


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _line(speaker: Language, key: str, value: str) -> str:
    """A list line: its label in the section's language, then its value."""
    return f"- {speaker.tr(key)}: {value}"


def _item_section(item: ItemRecord, code: LanguageCode) -> list[str]:
    speaker = language(code)
    said = f" — {escape_text(item.said(code))}" if item.said(code) else ""
    parts = [f"### {escape_text(item.title(code))}", "",
             _line(speaker, N_("routine.report.result"),
                   f"**{outcome_word(item.outcome, code)}**{said}"),
             _line(speaker, N_("routine.report.what"), code_span(item.shown))]
    if item.at is not None:
        parts.append(_line(speaker, N_("routine.report.at"),
                           f"{format_time(item.at)} ({item.duration_s:.1f} s)"))
    if item.done:
        parts.append("- " + speaker.tr(N_("routine.report.done")))
    parts.append("")
    if item.figures:
        headings = [speaker.tr(N_("routine.report.figure")),
                    speaker.tr(N_("routine.report.value"))]
        rows = [[name, _figure(value)] for name, value in item.figures.items()]
        parts += [table(headings, rows), ""]
    if item.lines:
        parts += [code_fence("\n".join(item.lines)), ""]
    if item.excerpt:
        parts += [speaker.tr(N_("routine.report.output")) + ":", "",
                  code_fence(item.excerpt), ""]
    if item.note:
        parts += [speaker.tr(N_("routine.report.note")) + ": " + escape_text(item.note), ""]
    return parts


def _section(record: RoutineRecord, code: LanguageCode) -> list[str]:
    speaker = language(code)
    finished = (format_time(record.finished_at) if record.finished_at is not None
                else speaker.tr(N_("routine.report.unfinished")))
    demo = " " + speaker.tr(N_("routine.report.demo")) if record.demo else ""
    headings = [speaker.tr(N_("routine.report.item")), speaker.tr(N_("routine.report.result")),
                speaker.tr(N_("routine.report.said"))]
    rows = [[item.title(code), outcome_word(item.outcome, code), item.said(code)]
            for item in record.items]
    parts = [
        f"## {escape_text(record.title(code))}{demo}", "",
        _line(speaker, N_("routine.report.service"), escape_text(record.service)),
        _line(speaker, N_("routine.report.run"), code_span(record.id)),
        _line(speaker, N_("routine.report.by"), escape_text(record.author)),
        _line(speaker, N_("routine.report.started"), format_time(record.started_at)),
        _line(speaker, N_("routine.report.finished"), finished),
        _line(speaker, N_("routine.report.overall"),
              f"**{outcome_word(_overall(record), code)}**"),
        "",
        table(headings, rows),
        "",
    ]
    for item in record.items:
        parts += _item_section(item, code)
    return parts


def _overall(record: RoutineRecord) -> str:
    status = exit_status(record.outcomes)
    if status == 2:
        return "critical"
    if status == 1:
        return "warning"
    return "ok" if all(outcome in ("ok", "skipped") for outcome in record.outcomes) else "unknown"


def render_routine_report(record: RoutineRecord, languages: Sequence[LanguageCode]) -> str:
    """The run as Markdown, a section per language (Japanese first when both)."""
    title = " / ".join(record.title(code) for code in languages)
    parts = [f"# {escape_text(title)}", ""]
    for code in languages:
        parts += _section(record, code)
    return "\n".join(parts).rstrip() + "\n"


def run_document(record: RoutineRecord) -> dict[str, object]:
    """The run for a machine: each item's outcome, its words in the chosen language,
    its numbers; the exit status check's rules give."""
    code = current_language().code
    return {
        "id": record.id,
        "routine": record.routine,
        "service": record.service,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "demo": record.demo,
        "overall": _overall(record),
        "exit_status": exit_status(record.outcomes),
        "items": [
            {"item": item.item, "title": item.title(code), "what": item.shown,
             "outcome": item.outcome, "said": item.said(code), "figures": item.figures,
             "lines": list(item.lines), "note": item.note}
            for item in record.items
        ],
    }


def print_item(item: ItemRecord) -> None:
    """One item's result as it comes (headless, not --json): to stderr, so stdout
    holds the table alone."""
    code = current_language().code
    line = Text(f"{outcome_word(item.outcome)}  ", style=OUTCOME_STYLE[item.outcome])
    line.append(f"{item.title(code)}: {item.said(code)}")
    Console(stderr=True).print(line)


def print_run(record: RoutineRecord, as_json: bool) -> int:
    status = exit_status(record.outcomes)
    if as_json:
        sys.stdout.write(msgspec.json.encode(run_document(record)).decode() + "\n")
        return status
    code = current_language().code
    result = Table(title=tr("routine.print.title", routine=record.title(code), id=record.id,
                            outcome=outcome_word(_overall(record))), title_justify="left")
    for heading in (tr("routine.report.item"), tr("routine.report.result"),
                    tr("routine.report.said")):
        result.add_column(heading, overflow="fold")
    for item in record.items:
        # Words from remote systems (issue titles, errors) as plain Text, never markup.
        said = Text(item.said(code))
        for detail in item.lines[:10]:
            said.append("\n  " + detail)
        result.add_row(Text(item.title(code)),
                       Text(outcome_word(item.outcome), style=OUTCOME_STYLE[item.outcome]), said)
    Console().print(result)
    return status
