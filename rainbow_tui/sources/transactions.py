"""One way into a transaction for every statement the console sends on purpose:
dashboard actions (cancel or terminate a backend), Solid Queue job actions and
their counts, runbook SQL and the checks that verify a step.

A :class:`TransactionMode` says what the transaction may do: read only (checks,
counts, a runbook's reads) or read and write (actions, a destructive runbook
command), its isolation level, and optionally a statement timeout of its own
(``SET LOCAL statement_timeout``: it ends with the transaction, the session keeps
its own).  Every monitoring session is read-only by default
(``default_transaction_read_only``), so a write happens only where a mode says so.

The transaction is asyncpg's (``Connection.transaction``): committed when the work
returns, rolled back when it raises.  A rollback that fails too (the work was
cancelled mid-statement) leaves the session's state unknown, so the session is
ended; the link opens a new one for the next caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.sources.postgres_link import PostgresLink

__all__ = ["READ", "WRITE", "Isolation", "TransactionMode", "in_transaction", "transact"]

T = TypeVar("T")
# asyncpg's names for PostgreSQL's isolation levels.
Isolation = Literal["read_committed", "repeatable_read", "serializable"]


@dataclass(frozen=True, slots=True)
class TransactionMode:
    """What one transaction may do."""

    writes: bool = False
    isolation: Isolation = "read_committed"
    # The server's limit on each statement of this transaction; None: the session's.
    statement_timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if self.statement_timeout_ms is not None and self.statement_timeout_ms <= 0:
            # 0 would mean "no limit" to PostgreSQL: never what a caller means here.
            raise ValueError(f"statement_timeout_ms must be positive: {self.statement_timeout_ms}")

    def settings_sql(self) -> str:
        """What to set right after BEGIN (empty when nothing is)."""
        statements: list[str] = []
        if self.writes:
            # asyncpg's BEGIN never says READ WRITE, and the session's default is
            # read-only: the transaction is made writable before its first query.
            statements.append("SET TRANSACTION READ WRITE")
        if self.statement_timeout_ms is not None:
            statements.append(f"SET LOCAL statement_timeout = {int(self.statement_timeout_ms)}")
        return "; ".join(statements)


READ = TransactionMode()
WRITE = TransactionMode(writes=True)


async def in_transaction(
    connection: asyncpg.Connection,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    mode: TransactionMode = READ,
) -> T:
    """``work`` in one transaction of ``mode``: committed when it returns, rolled
    back when it raises (the session ended when even the rollback fails)."""
    transaction = connection.transaction(isolation=mode.isolation, readonly=not mode.writes)
    await transaction.start()
    try:
        settings = mode.settings_sql()
        if settings:
            await connection.execute(settings)
        result = await work(connection)
    except BaseException:
        try:
            await transaction.rollback()
        except BaseException:
            connection.terminate()
        raise
    await transaction.commit()
    return result


async def transact(
    link: PostgresLink,
    work: Callable[[asyncpg.Connection], Awaitable[T]],
    mode: TransactionMode = READ,
    *,
    deadline_s: float | None = None,
) -> T:
    """``work`` in one transaction of ``mode`` on ``link``'s session (opened if need
    be); failures come out as ``DatabaseUnavailable``, as ``with_connection``'s do."""
    if mode.statement_timeout_ms is not None and (
        mode.statement_timeout_ms / 1000 >= link.statement_deadline_s
    ):
        # The client would give up first, and a cut-off statement ends the session.
        raise ValueError(
            f"a statement timeout of {mode.statement_timeout_ms} ms does not fit within "
            f"the link's deadline of {link.statement_deadline_s:g} s"
        )

    async def run(connection: asyncpg.Connection) -> T:
        return await in_transaction(connection, work, mode)

    return await link.with_connection(run, deadline_s=deadline_s)
