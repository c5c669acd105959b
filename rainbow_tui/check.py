"""``rainbow-tui check``: one headless round of every health check."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rainbow_tui.config import Config
from rainbow_tui.findings import Finding, evaluate, exit_status, overall
from rainbow_tui.levels import Level
from rainbow_tui.sources.service_sources import ServiceSources

# CPU use is a difference of two /proc/stat readings; this is the gap between them.
CPU_SAMPLE_S = 1.0

LEVEL_STYLE = {
    Level.NORMAL: "green",
    Level.ELEVATED: "yellow",
    Level.WARNING: "bold yellow",
    Level.CRITICAL: "bold red",
    Level.UNKNOWN: "dim",
}


async def run_check(config: Config) -> list[Finding]:
    sources = ServiceSources(config)
    try:
        readings = await sources.poll_all()
        if any(host.error is None for host in readings.hosts):
            await asyncio.sleep(CPU_SAMPLE_S)
            hosts = await sources.hosts.poll()
            readings = replace(readings, hosts=hosts)
        return evaluate(config, readings)
    finally:
        await sources.close()


def print_findings(config: Config, findings: list[Finding], as_json: bool) -> int:
    status = exit_status(findings)
    if as_json:
        document = {
            "service": config.service.name,
            "source": config.source,
            "overall": overall(findings).value,
            "exit_status": status,
            "findings": [
                {
                    "component": f.component,
                    "metric": f.metric,
                    "label": f.label,
                    "value": f.value,
                    "display": f.display,
                    "level": f.level.value,
                    "severity": f.severity,
                    "reason": f.reason,
                }
                for f in findings
            ],
        }
        sys.stdout.write(msgspec.json.encode(document).decode() + "\n")
        return status
    table = Table(
        title=f"{config.service.name} — {overall(findings).value.upper()}", title_justify="left"
    )
    for column in ("component", "check", "value", "level", "severity", "reason"):
        table.add_column(column, overflow="fold")
    for f in findings:
        style = LEVEL_STYLE[f.level]
        # Remote text (errors, versions) goes in as plain Text: never parsed as markup.
        table.add_row(
            Text(f.component),
            Text(f.label),
            Text(f.display),
            Text(f.level.value.upper(), style=style),
            Text(f.severity or ""),
            Text(f.reason),
        )
    Console().print(table)
    return status
