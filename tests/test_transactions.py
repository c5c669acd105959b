"""The one transaction helper (rainbow_tui.sources.transactions) against the demo's
real PostgreSQL, as the console's monitoring role on its read-only session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import READ, WRITE, TransactionMode, transact


@pytest_asyncio.fixture
async def queue_link(demo_stack: DemoProcess) -> AsyncIterator[PostgresLink]:
    """The console's session to Solid Queue's database: read-only by default, 2 s."""
    link = PostgresLink(demo_stack.endpoints.pg_queue_dsn, statement_timeout_ms=2000)
    try:
        yield link
    finally:
        await link.close()


async def admin_fetch(stack: DemoProcess, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(stack.endpoints.pg_admin_queue_dsn)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


def unused_queue_name() -> str:
    return f"rainbow-tui-test-{uuid.uuid4().hex[:12]}"


async def settings(connection: asyncpg.Connection) -> tuple[str, str, str]:
    row = await connection.fetchrow(
        "SELECT current_setting('transaction_read_only') AS ro,"
        " current_setting('transaction_isolation') AS isolation,"
        " current_setting('statement_timeout') AS timeout"
    )
    assert row is not None
    return row["ro"], row["isolation"], row["timeout"]


async def test_each_mode_opens_the_transaction_it_names(queue_link: PostgresLink) -> None:
    assert await transact(queue_link, settings, READ) == ("on", "read committed", "2s")
    assert await transact(queue_link, settings, WRITE) == ("off", "read committed", "2s")
    snapshot = TransactionMode(isolation="repeatable_read", statement_timeout_ms=750)
    assert await transact(queue_link, settings, snapshot) == ("on", "repeatable read", "750ms")
    # SET LOCAL ends with the transaction: the session keeps its own timeout.
    assert await transact(queue_link, settings, READ) == ("on", "read committed", "2s")


async def test_a_read_only_transaction_refuses_a_write(
    demo_stack: DemoProcess, queue_link: PostgresLink
) -> None:
    queue = unused_queue_name()

    async def pause(connection: asyncpg.Connection) -> str:
        return str(await connection.execute(
            "INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, now())", queue
        ))

    with pytest.raises(DatabaseUnavailable, match="read-only transaction") as refused:
        await transact(queue_link, pause, READ)
    assert getattr(refused.value.__cause__, "sqlstate", None) == "25006"
    assert not await admin_fetch(
        demo_stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", queue
    )

    assert await transact(queue_link, pause, WRITE) == "INSERT 0 1"
    try:
        assert await admin_fetch(
            demo_stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", queue
        )
    finally:
        await admin_fetch(demo_stack, "DELETE FROM solid_queue_pauses WHERE queue_name = $1", queue)


async def test_an_error_rolls_back_everything_the_transaction_did(
    demo_stack: DemoProcess, queue_link: PostgresLink
) -> None:
    queue = unused_queue_name()

    async def pause_then_fail(connection: asyncpg.Connection) -> None:
        await connection.execute(
            "INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, now())", queue
        )
        await connection.execute("SELECT 1 / 0")

    with pytest.raises(DatabaseUnavailable, match="division by zero"):
        await transact(queue_link, pause_then_fail, WRITE)
    assert not await admin_fetch(
        demo_stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", queue
    )
    # A plain SQL error leaves the session usable, outside any transaction.
    generation = queue_link.generation
    assert await transact(queue_link, settings, READ) == ("on", "read committed", "2s")
    assert queue_link.generation == generation


async def test_the_transactions_statement_timeout_cuts_a_statement_off(
    queue_link: PostgresLink,
) -> None:
    async def sleep(connection: asyncpg.Connection) -> object:
        return await connection.fetchval("SELECT pg_sleep(1.5)")

    # Within the session's 2 s it finishes; with the transaction's 200 ms it does not.
    assert await transact(queue_link, sleep, READ) is None  # pg_sleep returns void
    with pytest.raises(DatabaseUnavailable, match="statement timeout") as cut:
        await transact(queue_link, sleep, TransactionMode(statement_timeout_ms=200))
    assert getattr(cut.value.__cause__, "sqlstate", None) == "57014"
    # A limit past the client's own deadline would end the session, not the statement.
    with pytest.raises(ValueError, match="does not fit"):
        await transact(queue_link, sleep, TransactionMode(statement_timeout_ms=60_000))
    with pytest.raises(ValueError, match="must be positive"):
        TransactionMode(statement_timeout_ms=0)


async def test_a_transaction_cancelled_mid_statement_leaves_a_fresh_session_for_the_next(
    demo_stack: DemoProcess, queue_link: PostgresLink
) -> None:
    marker = unused_queue_name()

    async def long_write(connection: asyncpg.Connection) -> None:
        await connection.execute(
            "INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, now())", marker
        )
        await connection.execute(f"SELECT pg_sleep(1.9) /* {marker} */")

    await transact(queue_link, settings, READ)
    generation = queue_link.generation
    task = asyncio.create_task(transact(queue_link, long_write, WRITE))
    running = (
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1"
        " AND query NOT LIKE '%pg_stat_activity%'"
    )
    while not await admin_fetch(demo_stack, running, f"%{marker}%"):
        assert not task.done(), task
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await transact(queue_link, settings, READ) == ("on", "read committed", "2s")
    assert queue_link.generation == generation + 1
    assert not await admin_fetch(
        demo_stack, "SELECT 1 FROM solid_queue_pauses WHERE queue_name = $1", marker
    )
