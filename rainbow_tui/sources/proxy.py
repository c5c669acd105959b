"""kamal-proxy as Kamal reports it: ``kamal proxy details`` run in the app's checkout.

Transcribed from basecamp/kamal: ``lib/kamal/cli/proxy.rb#details`` runs, on every
proxy host, ``KAMAL.proxy(host).info`` — ``docker ps --filter 'name=^kamal-proxy$'``
(``lib/kamal/commands/proxy.rb``; the container name is
``lib/kamal/configuration/proxy/boot.rb#container_name``, ``kamal-proxy``) — and
prints each host's answer with ``puts_by_host`` (``lib/kamal/sshkit_with_ext.rb``):
a ``Proxy Host: <host>`` line, then docker's table.  A host whose table has no
kamal-proxy row has no proxy running (``docker ps`` lists running containers).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from rainbow_tui.config import Config, expand_path

PROXY_CONTAINER = "kamal-proxy"
PROXY_DETAILS = ("proxy", "details")
# Kept of Kamal's output: the proxy's table is a few lines per host.
MAX_OUTPUT_BYTES = 256 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_HOST_LINE = re.compile(r"^Proxy Host: (?P<host>.+?)\s*$")
_COLUMNS = re.compile(r"\S+(?: \S+)*")


@dataclass(frozen=True, slots=True)
class ProxyOnHost:
    """kamal-proxy's row of one host's ``docker ps``; empty ``status``: not running."""

    host: str  # as Kamal printed it (an address, or the demo's "app-1 (127.0.0.1:…)")
    status: str = ""  # docker's STATUS: "Up 12 days", "Restarting (1) 3 seconds ago"
    image: str = ""
    container_id: str = ""

    @property
    def running(self) -> bool:
        return self.status.startswith("Up")


@dataclass(frozen=True, slots=True)
class ProxySnapshot:
    taken_at: datetime
    hosts: tuple[ProxyOnHost, ...] = ()
    exit_code: int | None = None
    # Why there is no table: Kamal did not start, failed, or ran out of time.
    error: str = ""


def _table_rows(lines: list[str]) -> list[dict[str, str]]:
    """docker ps's table (columns at the header's offsets) as rows by header."""
    header_at = next((i for i, line in enumerate(lines) if line.startswith("CONTAINER ID")), None)
    if header_at is None:
        return []
    header = lines[header_at]
    columns = [(match.start(), match.group()) for match in _COLUMNS.finditer(header)]
    rows: list[dict[str, str]] = []
    for line in lines[header_at + 1:]:
        if not line.strip():
            break
        row: dict[str, str] = {}
        for index, (start, name) in enumerate(columns):
            end = columns[index + 1][0] if index + 1 < len(columns) else len(line)
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def parse_proxy_details(output: str) -> tuple[ProxyOnHost, ...]:
    """Each ``Proxy Host:`` block of ``kamal proxy details`` with its proxy row."""
    text = _ANSI.sub("", output)
    blocks: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        found = _HOST_LINE.match(line)
        if found:
            blocks.append((found["host"], []))
        elif blocks:
            blocks[-1][1].append(line.rstrip())
    hosts: list[ProxyOnHost] = []
    for host, lines in blocks:
        proxy = next(
            (row for row in _table_rows(lines) if row.get("NAMES", "") == PROXY_CONTAINER), None
        )
        if proxy is None:
            hosts.append(ProxyOnHost(host))
        else:
            hosts.append(ProxyOnHost(host, proxy.get("STATUS", ""), proxy.get("IMAGE", ""),
                                     proxy.get("CONTAINER ID", "")))
    return tuple(hosts)


class ProxyDetailsSource:
    """Runs ``kamal proxy details`` (the configured Kamal command, its destination)."""

    def __init__(self, config: Config) -> None:
        kamal = config.kamal
        destination = ("-d", kamal.destination) if kamal.destination else ()
        self.argv = (*kamal.command, *PROXY_DETAILS, *destination)
        self.shown = " ".join((*kamal.shown_command, *PROXY_DETAILS, *destination))
        self.workdir = str(expand_path(kamal.workdir))
        self.timeout_s = config.proxy.timeout_s

    async def poll(self) -> ProxySnapshot:
        taken_at = datetime.now(UTC)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.workdir, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )
        except OSError as error:
            return ProxySnapshot(taken_at, error=f"{self.shown}: {error.strerror or error}")
        try:
            async with asyncio.timeout(self.timeout_s):
                assert process.stdout is not None
                output = bytearray()
                # Read to the end (so Kamal never blocks on a full pipe), keep the head.
                while chunk := await process.stdout.read(65536):
                    output += chunk[: max(0, MAX_OUTPUT_BYTES - len(output))]
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return ProxySnapshot(taken_at, error=f"{self.shown}: no answer within "
                                                 f"{self.timeout_s:g} s")
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        text = bytes(output).decode("utf-8", "replace")
        if process.returncode != 0:
            last = next((line for line in reversed(text.splitlines()) if line.strip()), "")
            return ProxySnapshot(taken_at, exit_code=process.returncode,
                                 error=f"{self.shown} exited {process.returncode}: "
                                       f"{_ANSI.sub('', last)[:300]}")
        return ProxySnapshot(taken_at, parse_proxy_details(text), exit_code=0)

    async def close(self) -> None:
        return None
