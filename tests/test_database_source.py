"""The database source against the demo's real PostgreSQL: who blocks whom, what the
role may see, and connections judged against the slots the app can really take."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg

from rainbow_tui.config import Config, ServiceConfig
from rainbow_tui.findings import evaluate
from rainbow_tui.levels import Level
from rainbow_tui.sources.database import DatabaseSnapshot, DatabaseSource, QueryActivity
from rainbow_tui.sources.postgres_link import PostgresLink
from rainbow_tui.sources.service_sources import Readings

CONFIG = Config(service=ServiceConfig(kamal_service="app", health_url="http://127.0.0.1/up"))


async def test_a_blocked_update_shows_under_its_blocker_with_query_and_age(
    demo_stack: Any,
) -> None:
    endpoints = demo_stack.endpoints
    blocker = await asyncpg.connect(endpoints.pg_admin_dsn, server_settings={
        "application_name": "puma"})
    waiter = await asyncpg.connect(endpoints.pg_admin_dsn, server_settings={
        "application_name": "solid_queue-worker"})
    link = PostgresLink(endpoints.pg_dsn)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("UPDATE rainbow_sightings SET intensity = intensity WHERE id = 1")
        # Idle in transaction, holding the row lock: the usual culprit.
        waiting = asyncio.create_task(
            waiter.execute("UPDATE rainbow_sightings SET intensity = 5 WHERE id = 1")
        )
        source = DatabaseSource(link)
        for _ in range(100):
            snapshot = await source.poll()
            if snapshot.blocked:
                break
            await asyncio.sleep(0.05)
        assert snapshot.error is None and snapshot.read_all_stats
        tree = snapshot.lock_tree()
        assert [(depth, query.pid) for depth, query in tree] == [
            (0, blocker.get_server_pid()), (1, waiter.get_server_pid())
        ]
        root = tree[0][1]
        assert root.state == "idle in transaction" and root.application == "puma"
        assert "UPDATE rainbow_sightings SET intensity = intensity" in root.query
        assert root.duration_ms > 0
        assert tree[1][1].blocked_by == (blocker.get_server_pid(),)
        await blocker.execute("ROLLBACK")
        await asyncio.wait_for(waiting, 10)
    finally:
        await link.close()
        await blocker.close()
        await waiter.close()


def _query(pid: int, blocked_by: tuple[int, ...] = (), duration_ms: float = 1.0) -> QueryActivity:
    return QueryActivity(pid, "app", "local", "puma", "active", "Lock:tuple", "UPDATE …",
                         duration_ms, blocked_by)


def test_lock_tree_shows_each_session_once_even_in_a_cycle() -> None:
    snapshot = DatabaseSnapshot(
        datetime.now(UTC),
        blockers=(_query(1, duration_ms=9.0), _query(7, (8,)), _query(8, (7,))),
        blocked=(_query(2, (1,)), _query(3, (2,)), _query(7, (8,)), _query(8, (7,))),
    )
    shown = [(depth, query.pid) for depth, query in snapshot.lock_tree()]
    assert shown[:3] == [(0, 1), (1, 2), (2, 3)]
    assert sorted(pid for _, pid in shown) == [1, 2, 3, 7, 8]


def _database(connections: int, max_connections: int = 100, reserved: int = 3,
              read_all_stats: bool = True, hidden: int = 0) -> DatabaseSnapshot:
    return DatabaseSnapshot(
        datetime.now(UTC), connections=connections, max_connections=max_connections,
        reserved_connections=reserved, version="16.2", role="rainbow_monitor",
        read_all_stats=read_all_stats, hidden=hidden,
    )


def _finding(database: DatabaseSnapshot, metric: str) -> Any:
    findings = evaluate(CONFIG, Readings(database=database))
    return next(f for f in findings if f.metric == metric)


def test_connections_are_judged_against_usable_slots_as_well() -> None:
    # Below the manual's 80 but past 80 % of the 97 slots the app can take.
    finding = _finding(_database(79), "db_connections")
    assert finding.level is Level.WARNING
    assert finding.display == "79 / 97 usable (81 %)"
    assert "97 usable slots (100 max, 3 reserved)" in finding.reason
    # A small server: 40 connections are normal by the manual, critical by share.
    small = _finding(_database(40, max_connections=43), "db_connections")
    assert small.level is Level.CRITICAL
    # Where the manual's number is the worse, it decides and no share reason is given.
    assert _finding(_database(85, max_connections=500), "db_connections").level is Level.WARNING
    assert _finding(_database(85, max_connections=500), "db_connections").reason == ""


def test_a_blind_role_never_reads_as_healthy() -> None:
    database = _database(12, read_all_stats=False, hidden=11)
    privileges = _finding(database, "privileges")
    assert privileges.level is Level.WARNING
    assert "GRANT pg_monitor TO rainbow_monitor;" in privileges.reason
    assert _finding(database, "db_query_time_ms").level is Level.UNKNOWN
    assert "11 hidden" in _finding(database, "db_connections").display


def test_an_exhausted_connection_pool_raises_the_db_connection_runbook() -> None:
    import time

    from rainbow_tui.incidents.runbooks import pick_runbook
    from rainbow_tui.logs.request_stats import RequestStats

    stats = RequestStats()
    now = time.time()
    quiet = Readings(database=_database(6), requests=stats.snapshot(now))
    assert _metric(quiet, "pool_timeouts").level is Level.NORMAL
    stats.add_pool_timeouts([now - 50, now - 20, now - 5, now - 1])
    exhausted = Readings(database=_database(6), requests=stats.snapshot(now))
    finding = _metric(exhausted, "pool_timeouts")
    # The database itself looks fine; the app's pool does not (manual: High).
    assert _metric(exhausted, "db_connections").level is Level.NORMAL
    assert (finding.level, finding.severity, finding.display) == (Level.WARNING, "high", "4 / min")
    assert "ConnectionTimeoutError" in finding.reason
    assert pick_runbook(finding.key).id == "db-connections"


def _metric(readings: Readings, metric: str) -> Any:
    return next(f for f in evaluate(CONFIG, readings) if f.metric == metric)
