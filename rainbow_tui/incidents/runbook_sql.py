"""The database side of runbook SQL and of the checks that verify a step: which
database a statement belongs in, the session it runs on, and its rows as text.

A runbook statement runs on a session of its own, opened for the run (the
monitor's link would cut it off at the poll's timeout, and queue it behind polls):
the monitor's DSN and session settings, with the step's timeout as the server's
statement_timeout and as the client's deadline.  Whatever a statement leaves
behind (cancelled mid-way, a failed transaction) ends with the session.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "psql_table",
    "runbook_session",
    "solid_queue_database_problem",
    "statement_timed_out",
]

_SOLID_QUEUE_TABLE = re.compile(r"\bsolid_queue_\w+", re.IGNORECASE)
# The server gives up a little before our own deadline, leaving a clean session.
SERVER_SHARE_OF_TIMEOUT = 0.9


def solid_queue_database_problem(sql: str, database: str) -> str | None:
    """Why ``sql`` cannot run in ``database``: SQL on Solid Queue's tables must say
    so, since on Rails 8 they are in another database and the primary one would
    answer "relation does not exist"."""
    if _SOLID_QUEUE_TABLE.search(sql) and database != "queue":
        return 'reads Solid Queue tables, so it needs database = "queue"'
    return None


def runbook_session(
    monitored: PostgresLink, statement_timeout_s: float, connect_timeout_s: float
) -> PostgresLink:
    """A session of the runner's own beside ``monitored``, bounded by
    ``statement_timeout_s`` on the server and on the client."""
    return PostgresLink(
        monitored.dsn,
        statement_timeout_ms=max(1, int(statement_timeout_s * 1000 * SERVER_SHARE_OF_TIMEOUT)),
        connect_timeout_s=connect_timeout_s,
    )


def statement_timed_out(error: DatabaseUnavailable) -> bool:
    """Whether the statement ran out of time: the server's statement_timeout or the
    client's deadline (not a cancel by someone else, which is a failure)."""
    cause = error.__cause__
    if isinstance(cause, TimeoutError):
        return True
    return type(cause).__name__ == "QueryCanceledError" and "statement timeout" in str(cause)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\n", " ")


def psql_table(rows: Sequence[asyncpg.Record]) -> list[str]:
    """Rows as aligned text, as psql prints them."""
    if not rows:
        return ["(0 rows)"]
    names = list(rows[0].keys())
    cells = [[_cell(value) for value in row.values()] for row in rows]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(names)]
    lines = [
        " | ".join(name.ljust(widths[i]) for i, name in enumerate(names)).rstrip(),
        "-+-".join("-" * width for width in widths),
    ]
    lines += [" | ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return lines
