"""What the console's role may do in Solid Queue's database.

The Jobs pane needs SELECT on the tables it reads; retry, discard and pause need
INSERT, UPDATE and DELETE on the execution tables and USAGE on their sequences.
A role that lacks them gets "permission denied" at the worst moment, so the grants
are checked when a session opens and once a minute after (a GRANT may come while
the console runs), in one small statement that never fails on a missing table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink

RECHECK_S = 60.0

# Read by the Jobs pane's refresh (rainbow_tui/sources/queue.py).
READ_TABLES = (
    "solid_queue_jobs",
    "solid_queue_ready_executions",
    "solid_queue_scheduled_executions",
    "solid_queue_claimed_executions",
    "solid_queue_blocked_executions",
    "solid_queue_failed_executions",
    "solid_queue_pauses",
    "solid_queue_processes",
)
# Written by the job actions: (table, privilege), as FailedExecution#retry,
# Job#discard and Queue#pause / #resume write them.
WRITES = (
    ("solid_queue_jobs", "UPDATE"),
    ("solid_queue_jobs", "DELETE"),
    ("solid_queue_ready_executions", "INSERT"),
    ("solid_queue_scheduled_executions", "INSERT"),
    ("solid_queue_blocked_executions", "INSERT"),
    ("solid_queue_semaphores", "INSERT"),
    ("solid_queue_semaphores", "UPDATE"),
    ("solid_queue_failed_executions", "DELETE"),
    ("solid_queue_pauses", "INSERT"),
    ("solid_queue_pauses", "DELETE"),
)

PRIVILEGES_SQL = """
SELECT json_build_object(
    'role', current_user,
    'database', current_database(),
    'checks', (SELECT json_agg(json_build_array(t.name, t.privilege,
        CASE WHEN to_regclass(t.name) IS NULL THEN NULL
             ELSE has_table_privilege(t.name, t.privilege) END))
        FROM unnest($1::text[], $2::text[]) AS t(name, privilege))
)
"""


@dataclass(frozen=True, slots=True)
class QueuePrivileges:
    checked_at: datetime
    role: str = ""
    database: str = ""
    # Tables the refresh reads that the role may not SELECT.
    unreadable: tuple[str, ...] = ()
    # (table, privilege) the actions need and the role lacks.
    unwritable: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    def grants(self) -> list[str]:
        """The statements that give the role what it lacks."""
        role = self.role or "the monitoring role"
        statements: list[str] = []
        if self.unreadable:
            statements.append(f"GRANT SELECT ON {', '.join(self.unreadable)} TO {role};")
        if self.unwritable:
            by_table: dict[str, list[str]] = {}
            for table, privilege in self.unwritable:
                by_table.setdefault(table, []).append(privilege)
            for table, privileges in by_table.items():
                statements.append(f"GRANT {', '.join(privileges)} ON {table} TO {role};")
            statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};")
        return statements


class QueuePrivilegeCheck:
    def __init__(
        self, link: PostgresLink, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.link = link
        self.monotonic = monotonic
        self.latest: QueuePrivileges | None = None
        self._checked: tuple[int, float] | None = None  # (link generation, when)

    def due(self) -> bool:
        if self._checked is None:
            return True
        generation, when = self._checked
        return generation != self.link.generation or self.monotonic() - when >= RECHECK_S

    async def poll(self) -> QueuePrivileges | None:
        """Check again when a new session opened or a minute has passed."""
        if not self.due():
            return self.latest
        checks = [(table, "SELECT") for table in READ_TABLES] + list(WRITES)
        checked_at = datetime.now(UTC)
        try:
            data = await self.link.fetch_json(
                PRIVILEGES_SQL, [t for t, _ in checks], [p for _, p in checks]
            )
        except DatabaseUnavailable as error:
            # The queue's own poll reports the outage; check again next time.
            self._checked = None
            self.latest = QueuePrivileges(checked_at, error=str(error))
            return self.latest
        self._checked = (self.link.generation, self.monotonic())
        # A missing table (None) is the queue source's finding, not a privilege.
        results = [(str(t), str(p), allowed) for t, p, allowed in data["checks"]]
        self.latest = QueuePrivileges(
            checked_at,
            role=str(data["role"]),
            database=str(data["database"]),
            unreadable=tuple(t for t, p, ok in results if p == "SELECT" and ok is False),
            unwritable=tuple((t, p) for t, p, ok in results if p != "SELECT" and ok is False),
        )
        return self.latest
