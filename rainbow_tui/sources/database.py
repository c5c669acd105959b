"""PostgreSQL activity: connections, long queries, blocking, size, version.

Everything comes from one statement per refresh that returns one JSON document,
so a refresh costs one round trip and little server time even with hundreds of
sessions open.  Our own sessions (application_name ``rainbow-tui``) are counted
but never listed.  The database size, a walk over its files, is measured once a
minute (``size_measured_at`` says when).

A role without ``pg_read_all_stats`` (which ``pg_monitor`` includes) sees other
roles' sessions with every column but pid and user NULL, ``backend_type``
included: filtering on it would count them as nothing, a healthy-looking zero.
They are counted as ``hidden`` instead, and the statement says what the role may
do, so the findings can call the numbers unknown and name the GRANT.  The same
statement carries that check: a GRANT takes effect at the next refresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rainbow_tui.sources.postgres_link import APPLICATION_NAME, DatabaseUnavailable, PostgresLink

# pg_database_size() walks the database's files (a few hundred on a small app, a
# millisecond or more): measured on the first refresh and then once a minute.
SIZE_MAX_AGE_S = 60.0


def activity_sql(with_size: bool) -> str:
    size = "pg_database_size(current_database())" if with_size else "NULL::bigint"
    return f"""
WITH sessions AS (
    -- The function under pg_stat_activity, without the view's joins: user names
    -- are looked up only for the few sessions listed.  Referenced several times,
    -- so materialised once; its states are counted once into ``states``.
    SELECT pid, usesysid, client_addr, application_name, state, wait_event_type, wait_event,
           query, query_start, backend_type IS NULL AS hidden,
           -- pg_blocking_pids takes the lock manager's locks: ask only for waiters.
           CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocked_by
    FROM pg_stat_get_activity(NULL)
    -- A hidden row with a user is another role's session (background processes
    -- have none, but for the logical replication launcher: one too many at most).
    WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL))
      AND pid <> pg_backend_pid()
), states AS (
    SELECT CASE WHEN hidden THEN 'hidden' ELSE coalesce(state, 'unknown') END AS state,
           count(*) AS n,
           count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting
    FROM sessions GROUP BY 1
), blockers AS (
    -- Whoever holds up a waiter, waiting or not: the roots of the lock tree.
    SELECT DISTINCT unnest(blocked_by) AS pid FROM sessions WHERE cardinality(blocked_by) > 0
)
SELECT json_build_object(
    'max_connections', current_setting('max_connections')::int,
    -- Slots only superusers (and, from PostgreSQL 16, pg_use_reserved_connections)
    -- may take: the app's role runs out before max_connections.
    'reserved_connections', current_setting('superuser_reserved_connections')::int
        + coalesce(current_setting('reserved_connections', true)::int, 0),
    'role', current_user,
    'read_all_stats', pg_has_role('pg_read_all_stats', 'USAGE'),
    'signal_backend', pg_has_role('pg_signal_backend', 'USAGE'),
    'hidden', (SELECT coalesce(sum(n), 0) FROM states WHERE state = 'hidden'),
    'connections', (SELECT coalesce(sum(n), 0) FROM states),
    'by_state', (SELECT coalesce(json_object_agg(state, n), '{{}}') FROM states),
    'waiting', (SELECT coalesce(sum(waiting), 0) FROM states),
    'longest', (SELECT coalesce(json_agg(q), '[]') FROM (
        SELECT pid, pg_get_userbyid(usesysid) AS user, client_addr::text AS client,
               application_name AS application,
               state, concat_ws(':', wait_event_type, wait_event) AS wait,
               left(query, 4000) AS query,
               extract(epoch FROM clock_timestamp() - query_start) * 1000 AS duration_ms
        FROM sessions
        WHERE state NOT IN ('idle') AND query_start IS NOT NULL
          AND application_name <> '{APPLICATION_NAME}'
        ORDER BY query_start LIMIT 10) q),
    'blocked', (SELECT coalesce(json_agg(b), '[]') FROM (
        SELECT pid, blocked_by, pg_get_userbyid(usesysid) AS user,
               application_name AS application,
               left(query, 4000) AS query,
               extract(epoch FROM clock_timestamp() - query_start) * 1000 AS duration_ms
        FROM sessions WHERE cardinality(blocked_by) > 0
          AND application_name <> '{APPLICATION_NAME}'
        ORDER BY query_start LIMIT 20) b),
    'blockers', (SELECT coalesce(json_agg(b), '[]') FROM (
        SELECT s.pid, s.blocked_by, pg_get_userbyid(s.usesysid) AS user,
               s.application_name AS application, s.state,
               concat_ws(':', s.wait_event_type, s.wait_event) AS wait,
               left(s.query, 4000) AS query,
               extract(epoch FROM clock_timestamp() - s.query_start) * 1000 AS duration_ms
        FROM sessions AS s JOIN blockers USING (pid)
        ORDER BY s.query_start LIMIT 20) b),
    'size_bytes', {size},
    'database', current_database(),
    'version', current_setting('server_version'),
    'uptime_s', extract(epoch FROM now() - pg_postmaster_start_time()),
    'postgis', (SELECT extversion FROM pg_extension WHERE extname = 'postgis')
)
"""


ACTIVITY_SQL = activity_sql(with_size=False)
ACTIVITY_WITH_SIZE_SQL = activity_sql(with_size=True)


@dataclass(frozen=True, slots=True)
class QueryActivity:
    pid: int
    user: str
    client: str
    application: str
    state: str
    wait: str
    query: str
    duration_ms: float
    blocked_by: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class DatabaseSnapshot:
    taken_at: datetime
    error: str | None = None
    connections: int | None = None
    max_connections: int | None = None
    by_state: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    longest: tuple[QueryActivity, ...] = ()
    blocked: tuple[QueryActivity, ...] = ()
    # Whoever the blocked sessions wait for (themselves waiting or not).
    blockers: tuple[QueryActivity, ...] = ()
    size_bytes: int | None = None
    # When ``size_bytes`` was measured: it is refreshed less often than the rest.
    size_measured_at: datetime | None = None
    database: str = ""
    version: str = ""
    uptime_s: float | None = None
    postgis: str | None = None
    reserved_connections: int = 0
    # What the console's role may see and do (see the module's docstring).
    role: str = ""
    read_all_stats: bool = True
    signal_backend: bool = True
    # Other roles' sessions whose state and query the role may not see.
    hidden: int = 0

    @property
    def usable_connections(self) -> int | None:
        """Slots the app's (non-superuser) roles can take."""
        if self.max_connections is None:
            return None
        return self.max_connections - self.reserved_connections

    def lock_tree(self) -> list[tuple[int, QueryActivity]]:
        """Blocked sessions under whoever blocks them, depth first, as (depth, session).

        Roots are blockers that wait for nobody listed; a cycle (a deadlock the
        server has yet to break) is shown once, from its first member.
        """
        nodes = {q.pid: q for q in (*self.blockers, *self.blocked)}
        children: dict[int, list[QueryActivity]] = {}
        for query in nodes.values():
            for parent in query.blocked_by:
                if parent in nodes:
                    children.setdefault(parent, []).append(query)
        roots = [q for q in nodes.values() if not any(p in nodes for p in q.blocked_by)]
        shown: list[tuple[int, QueryActivity]] = []
        seen: set[int] = set()

        def visit(query: QueryActivity, depth: int) -> None:
            if query.pid in seen:
                return
            seen.add(query.pid)
            shown.append((depth, query))
            for child in sorted(children.get(query.pid, ()), key=lambda q: -q.duration_ms):
                visit(child, depth + 1)

        for root in sorted(roots, key=lambda q: -q.duration_ms):
            visit(root, 0)
        for query in sorted(nodes.values(), key=lambda q: -q.duration_ms):
            visit(query, 0)  # members of a cycle, which has no root
        return shown

    @property
    def longest_query_ms(self) -> float | None:
        """Duration of the longest running statement; 0 when none runs."""
        if self.error is not None:
            return None
        return max(
            (query.duration_ms for query in self.longest if query.state == "active"), default=0.0
        )


def _activity(row: dict[str, Any]) -> QueryActivity:
    return QueryActivity(
        pid=int(row["pid"]),
        user=str(row.get("user") or ""),
        client=str(row.get("client") or "local"),
        application=str(row.get("application") or ""),
        state=str(row.get("state") or ""),
        wait=str(row.get("wait") or ""),
        query=str(row.get("query") or ""),
        duration_ms=float(row.get("duration_ms") or 0.0),
        blocked_by=tuple(int(pid) for pid in row.get("blocked_by") or ()),
    )


class DatabaseSource:
    def __init__(
        self,
        link: PostgresLink,
        size_max_age_s: float = SIZE_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.size_max_age_s = size_max_age_s
        self.monotonic = monotonic
        # The last size: bytes, when (wall clock), when (monotonic).
        self._size: tuple[int, datetime, float] | None = None

    async def poll(self) -> DatabaseSnapshot:
        taken_at = datetime.now(UTC)
        now = self.monotonic()
        measure_size = self._size is None or now - self._size[2] >= self.size_max_age_s
        try:
            data = await self.link.fetch_json(
                ACTIVITY_WITH_SIZE_SQL if measure_size else ACTIVITY_SQL
            )
        except DatabaseUnavailable as error:
            return DatabaseSnapshot(taken_at, error=str(error))
        if measure_size:
            self._size = (int(data["size_bytes"]), taken_at, now)
        assert self._size is not None
        size_bytes, size_measured_at, _ = self._size
        return DatabaseSnapshot(
            taken_at,
            connections=int(data["connections"]),
            max_connections=int(data["max_connections"]),
            by_state={str(k): int(v) for k, v in data["by_state"].items()},
            waiting=int(data["waiting"]),
            longest=tuple(_activity(row) for row in data["longest"]),
            blocked=tuple(_activity(row) for row in data["blocked"]),
            blockers=tuple(_activity(row) for row in data["blockers"]),
            size_bytes=size_bytes,
            size_measured_at=size_measured_at,
            database=str(data["database"]),
            version=str(data["version"]),
            uptime_s=float(data["uptime_s"]),
            postgis=data.get("postgis"),
            reserved_connections=int(data["reserved_connections"]),
            role=str(data["role"]),
            read_all_stats=bool(data["read_all_stats"]),
            signal_backend=bool(data["signal_backend"]),
            hidden=int(data["hidden"]),
        )
