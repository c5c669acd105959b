"""``rainbow-tui history [--week] [--json]``: what the history holds, and the
manual's weekly figures (週次) from it, for a person or a machine."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rainbow_tui.history import GrowthFigure, History, WeeklyFigures
from rainbow_tui.text import N_, tr

MIB = 1024 * 1024


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _growth_document(figure: GrowthFigure | None) -> dict[str, object] | None:
    if figure is None:
        return None
    return {"metric": figure.metric, "latest": figure.latest,
            "growth_per_week": figure.growth_per_week}


def weekly_document(figures: WeeklyFigures) -> dict[str, object]:
    return {
        "start": _when(figures.start),
        "end": _when(figures.end),
        "p95_ms": figures.p95_ms,
        "p95_worst_ms": figures.p95_worst_ms,
        "error_rate_percent": figures.error_rate_percent,
        "request_count": figures.request_count,
        "coverage_percent": figures.coverage_percent,
        "database_size": _growth_document(figures.database_size),
        "disks": [_growth_document(disk) for disk in figures.disks],
    }


def _number(value: float | None, key: str) -> str:
    return tr("finding.no_data") if value is None else tr(key, value=value)


def _growth_text(
    figure: GrowthFigure, size_key: str, growth_key: str, scale: float = 1.0
) -> str:
    latest = tr(size_key, value=figure.latest / scale)
    if figure.growth_per_week is None:
        return tr("history.growth.too_short", latest=latest)
    return tr("history.growth", latest=latest,
              growth=tr(growth_key, value=figure.growth_per_week / scale))


def print_weekly(figures: WeeklyFigures, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(weekly_document(figures)).decode() + "\n")
        return
    table = Table(
        title=tr("history.week.title", start=_when(figures.start), end=_when(figures.end)),
        title_justify="left",
    )
    table.add_column(tr("history.column.figure"))
    table.add_column(tr("history.column.value"), overflow="fold")
    rows = [
        (tr("history.week.p95"), _number(figures.p95_ms, N_("history.ms"))),
        (tr("history.week.p95_worst"), _number(figures.p95_worst_ms, N_("history.ms"))),
        (tr("history.week.error_rate"),
         _number(figures.error_rate_percent, N_("history.percent"))),
        (tr("history.week.requests"),
         tr("finding.no_data") if figures.request_count is None
         else tr("history.requests", count=figures.request_count,
                 coverage=figures.coverage_percent)),
        (tr("history.week.database_size"),
         tr("finding.no_data") if figures.database_size is None
         else _growth_text(figures.database_size, N_("history.mib"), N_("history.mib_signed"),
                           MIB)),
    ]
    for disk in figures.disks:
        # The metric names the host and mount as the findings do ("host app-1:disk:/").
        rows.append((tr("history.week.disk", metric=disk.metric),
                     _growth_text(disk, N_("history.percent"), N_("history.points_signed"))))
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    Console().print(table)


def print_overview(history: History, as_json: bool) -> None:
    rows, first, last = history.span()
    metrics = history.metrics()
    if as_json:
        document = {"path": str(history.path), "rows": rows, "first": _when(first),
                    "last": _when(last), "size_bytes": history.size_bytes(), "metrics": metrics}
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return
    print(tr("history.overview", path=str(history.path), rows=rows, metrics=len(metrics),
             first=_when(first), last=_when(last), size=history.size_bytes() / MIB))
