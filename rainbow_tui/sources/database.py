"""PostgreSQL activity: connections, long queries, blocking, size, version.

Everything comes from one statement per refresh that returns one JSON document,
so a refresh costs one round trip and little server time even with hundreds of
sessions open.  Our own sessions (application_name ``rainbow-tui``) are counted
but never listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rainbow_tui.sources.postgres_link import APPLICATION_NAME, DatabaseUnavailable, PostgresLink

ACTIVITY_SQL = f"""
WITH sessions AS (
    SELECT pid, usename, client_addr, application_name, state, wait_event_type, wait_event,
           query, query_start,
           -- pg_blocking_pids takes the lock manager's locks: ask only for waiters.
           CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocked_by
    FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
)
SELECT json_build_object(
    'max_connections', current_setting('max_connections')::int,
    'connections', (SELECT count(*) FROM sessions),
    'by_state', (SELECT coalesce(json_object_agg(state, n), '{{}}') FROM (
        SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM sessions GROUP BY 1) s),
    'waiting', (SELECT count(*) FROM sessions WHERE wait_event_type = 'Lock'),
    'longest', (SELECT coalesce(json_agg(q), '[]') FROM (
        SELECT pid, usename AS user, client_addr::text AS client, application_name AS application,
               state, concat_ws(':', wait_event_type, wait_event) AS wait,
               left(query, 4000) AS query,
               extract(epoch FROM clock_timestamp() - query_start) * 1000 AS duration_ms
        FROM sessions
        WHERE state NOT IN ('idle') AND query_start IS NOT NULL
          AND application_name <> '{APPLICATION_NAME}'
        ORDER BY query_start LIMIT 10) q),
    'blocked', (SELECT coalesce(json_agg(b), '[]') FROM (
        SELECT pid, blocked_by, usename AS user, application_name AS application,
               left(query, 4000) AS query,
               extract(epoch FROM clock_timestamp() - query_start) * 1000 AS duration_ms
        FROM sessions WHERE cardinality(blocked_by) > 0
          AND application_name <> '{APPLICATION_NAME}'
        ORDER BY query_start LIMIT 20) b),
    'size_bytes', pg_database_size(current_database()),
    'database', current_database(),
    'version', current_setting('server_version'),
    'uptime_s', extract(epoch FROM now() - pg_postmaster_start_time()),
    'postgis', (SELECT extversion FROM pg_extension WHERE extname = 'postgis')
)
"""


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
    def __init__(self, link: PostgresLink) -> None:
        self.link = link

    async def poll(self) -> DatabaseSnapshot:
        taken_at = datetime.now(UTC)
        try:
            data = await self.link.fetch_json(ACTIVITY_SQL)
        except DatabaseUnavailable as error:
            return DatabaseSnapshot(taken_at, error=str(error))
        return DatabaseSnapshot(
            taken_at,
            connections=int(data["connections"]),
            max_connections=int(data["max_connections"]),
            by_state={str(k): int(v) for k, v in data["by_state"].items()},
            waiting=int(data["waiting"]),
            longest=tuple(_activity(row) for row in data["longest"]),
            blocked=tuple(_activity(row) for row in data["blocked"]),
            size_bytes=int(data["size_bytes"]),
            database=str(data["database"]),
            version=str(data["version"]),
            uptime_s=float(data["uptime_s"]),
            postgis=data.get("postgis"),
        )
