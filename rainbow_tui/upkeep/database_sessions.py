"""The sessions routine maintenance opens beside the monitor's: a writable one
for VACUUM and for deleting finished jobs (the monitor's sessions are read-only),
a read-only one to watch progress, each with the routine's own time limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainbow_tui.incidents.runbooks import DatabaseName
from rainbow_tui.sources.postgres_link import PostgresLink

if TYPE_CHECKING:
    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["maintenance_session", "monitored_link"]


def monitored_link(context: RoutineContext, database: DatabaseName) -> PostgresLink | None:
    return context.runner.context.link(database)


def maintenance_session(
    context: RoutineContext, database: DatabaseName, timeout_s: float, *, writes: bool,
    dsn: str = "",
) -> PostgresLink | None:
    """A session of its own on ``database`` (None when none is configured), as the
    console's role or, given ``dsn``, as that DSN's."""
    monitored = monitored_link(context, database)
    if monitored is None:
        return None
    return PostgresLink(
        dsn or monitored.dsn,
        statement_timeout_ms=max(1, int(timeout_s * 1000)),
        connect_timeout_s=context.config.database.connect_timeout_s,
        read_only=not writes,
    )
