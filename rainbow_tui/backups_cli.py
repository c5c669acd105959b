"""``rainbow-tui backups list|verify``: the dumps on the DB host judged, or the DR
drill's restore of the latest one, printed for a person or as JSON, with
``check``'s exit statuses (0 fine, 1 warning, 2 critical or not restorable)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rainbow_tui.check import LEVEL_STYLE
from rainbow_tui.config import Config
from rainbow_tui.dr_drill import DrillResult, run_dr_drill, step_phrase
from rainbow_tui.findings import Finding, evaluate, exit_status
from rainbow_tui.levels import Level, level_word
from rainbow_tui.sources.backups import BackupsSnapshot, kind_of
from rainbow_tui.sources.service_sources import Readings, ServiceSources
from rainbow_tui.text import N_, tr

KIND_KEYS = {
    "full": N_("backups.kind.full"),
    "differential": N_("backups.kind.differential"),
    "manual": N_("backups.kind.manual"),
}


async def list_backups(config: Config) -> tuple[BackupsSnapshot | None, list[Finding]]:
    """The DB host's listing and its findings (None: no host holds the dumps)."""
    sources = ServiceSources(config)
    try:
        snapshot = await sources.poll_backups()
    finally:
        await sources.close()
    if snapshot is None:
        return None, []
    found = evaluate(config, Readings(backups=snapshot))
    return snapshot, [finding for finding in found if finding.component == "backups"]


def print_listing(config: Config, snapshot: BackupsSnapshot | None, findings: list[Finding],
                  as_json: bool) -> int:
    if snapshot is None:
        print(tr("backups.no_host"), file=sys.stderr)
        return 2
    status = exit_status(findings)
    dumps = sorted(snapshot.dumps, key=lambda dump: dump.mtime, reverse=True)
    if as_json:
        document = {
            "host": snapshot.host,
            "directory": snapshot.directory,
            "error": snapshot.error,
            "exit_status": status,
            "dumps": [
                {"name": d.name, "path": d.path, "kind": kind_of(d.name, config.backups),
                 "size": d.size, "age_s": round(snapshot.age_s(d), 3),
                 "mtime": datetime.fromtimestamp(d.mtime, UTC).isoformat()}
                for d in dumps
            ],
            "findings": [
                {"metric": f.metric, "code": f.code, "level": f.level.value,
                 "severity": f.severity, "display": f.display, "reason": f.reason}
                for f in findings
            ],
        }
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return status
    console = Console()
    table = Table(title=tr("backups.title", host=snapshot.host, directory=snapshot.directory),
                  title_justify="left")
    for column in (N_("backups.column.name"), N_("backups.column.kind"),
                   N_("backups.column.size"), N_("backups.column.age")):
        table.add_column(tr(column), overflow="fold")
    for dump in dumps:
        kind = kind_of(dump.name, config.backups) or ""
        # File names come from the host: plain Text, never markup.
        table.add_row(Text(dump.name), Text(tr(KIND_KEYS[kind]) if kind else ""),
                      Text(f"{dump.size:,}"),
                      Text(tr("backups.age", hours=snapshot.age_s(dump) / 3600)))
    console.print(table)
    for finding in findings:
        console.print(Text.assemble(
            (level_word(finding.level), LEVEL_STYLE[finding.level]), " ",
            f"{finding.label}: {finding.display}",
            f" — {finding.reason}" if finding.reason else ""))
    return status


def print_drill(result: DrillResult, as_json: bool) -> int:
    if as_json:
        document = {
            "host": result.host,
            "dump": result.dump.name if result.dump else None,
            "ok": result.ok,
            "exit_status": result.exit_status,
            "duration_s": round(result.duration_s, 3),
            "row_counts": result.row_counts,
            "checks": [
                {"step": c.step, "ok": c.ok, "code": c.phrase.key, "detail": c.detail,
                 "duration_s": round(c.duration_s, 3), "value": c.value}
                for c in result.checks
            ],
        }
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return result.exit_status
    console = Console()
    table = Table(title=tr("drill.title", host=result.host or "-",
                           dump=result.dump.name if result.dump else "-",
                           seconds=result.duration_s), title_justify="left")
    for column in (N_("drill.column.step"), N_("drill.column.result"),
                   N_("drill.column.detail"), N_("drill.column.time")):
        table.add_column(tr(column), overflow="fold")
    for check in result.checks:
        table.add_row(
            Text(step_phrase(check.step).text()),
            Text(tr("drill.ok") if check.ok else tr("drill.failed"),
                 style=LEVEL_STYLE[Level.NORMAL if check.ok else Level.CRITICAL]),
            Text(check.detail),
            Text(tr("drill.seconds", seconds=check.duration_s)),
        )
    console.print(table)
    console.print(Text(tr("drill.verdict.ok") if result.ok else tr("drill.verdict.failed"),
                       style=LEVEL_STYLE[Level.NORMAL if result.ok else Level.CRITICAL]))
    return result.exit_status


async def verify_latest(config: Config) -> DrillResult:
    return await run_dr_drill(config)
