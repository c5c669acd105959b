"""Actions on the database server itself: cancel a query, terminate a backend.

Each action is one short read-write transaction (``rainbow_tui.sources.transactions``)
on the monitoring session (which is read-only by default, so nothing else can write
by accident), and returns an ``ActionResult`` saying in words what happened.  The
console asks for a confirmation naming the target before calling any of these, and
offers none of them under ``--read-only``.  Failed jobs and queues are Solid Queue's, in its
own database: ``rainbow_tui.job_actions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import WRITE, transact
from rainbow_tui.text import N_, tr

if TYPE_CHECKING:
    import asyncpg


@dataclass(frozen=True, slots=True)
class ActionResult:
    """Whether the action did its work, and what happened, in the current language
    (the view that asked shows it at once)."""

    ok: bool
    message: str


class DatabaseActions:
    def __init__(self, link: PostgresLink) -> None:
        self.link = link

    async def _write(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Run one statement in its own read-write transaction."""

        async def fetch(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
            return rows

        return await transact(self.link, fetch, WRITE)

    async def cancel_backend(self, pid: int) -> ActionResult:
        return await self._signal_backend(
            "pg_cancel_backend", N_("action.backend.cancelled"), pid
        )

    async def terminate_backend(self, pid: int) -> ActionResult:
        return await self._signal_backend(
            "pg_terminate_backend", N_("action.backend.terminated"), pid
        )

    async def _signal_backend(self, function: str, done_key: str, pid: int) -> ActionResult:
        try:
            rows = await self._write(f"SELECT {function}($1) AS ok", pid)
        except DatabaseUnavailable as error:
            return ActionResult(False, tr("action.backend.failed", pid=pid, error=error))
        ok = bool(rows and rows[0]["ok"])
        if ok:
            return ActionResult(True, tr(done_key, pid=pid))
        return ActionResult(False, tr("action.backend.not_signalled", pid=pid))
