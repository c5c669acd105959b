"""PostgreSQL activity: connections, long queries, blocking, size, version.

Everything comes from one statement per refresh that returns one JSON document,
so a refresh costs one round trip and little server time even with hundreds of
sessions open.  Our own sessions (application_name ``rainbow-tui``) are counted
but never listed.  The database size, a walk over its files, is measured once a
minute (``size_measured_at`` says when).
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
           query, query_start,
           -- pg_blocking_pids takes the lock manager's locks: ask only for waiters.
           CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocked_by
    FROM pg_stat_get_activity(NULL)
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
), states AS (
    SELECT coalesce(state, 'unknown') AS state, count(*) AS n,
           count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting
    FROM sessions GROUP BY 1
)
SELECT json_build_object(
    'max_connections', current_setting('max_connections')::int,
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
    size_bytes: int | None = None
    # When ``size_bytes`` was measured: it is refreshed less often than the rest.
    size_measured_at: datetime | None = None
    database: str = ""
    version: str = ""
    uptime_s: float | None = None
    postgis: str | None = None

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
            size_bytes=size_bytes,
            size_measured_at=size_measured_at,
            database=str(data["database"]),
            version=str(data["version"]),
            uptime_s=float(data["uptime_s"]),
            postgis=data.get("postgis"),
        )
