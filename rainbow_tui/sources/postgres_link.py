"""One monitoring connection to PostgreSQL, shared by the database and queue sources.

The session is read-only, named ``rainbow-tui`` (so our own queries can be left out
of what we show) and has a statement timeout below the poll interval, so a slow
server cannot pile polls up.  Its TimeZone is UTC, as every Rails session's is
(the PostgreSQL adapter sets it): Rails writes UTC wall-clock times into
``timestamp without time zone`` columns, so ``now()`` compared with them, and times
we write into them, are right only in UTC, whatever the server's own TimeZone.  A
lost connection is reopened on the next poll.

The server's statement_timeout fires only while the server runs: a frozen server
(stopped, swapped out, cut off by the network) would hold a poll for ever.  So
every wait has a deadline on our side too: connecting (``connect_timeout_s``, the
whole start-up: TCP, authentication, settings), each statement (asyncpg's
``command_timeout``, a second above statement_timeout so that the server's own
cancellation, which names the statement, wins when the server runs), and a
source's poll as a whole (``fetch_json``: waiting for the connection, connecting
and the statement).  A timeout says which of these waits ran out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

if TYPE_CHECKING:
    import asyncpg

APPLICATION_NAME = "rainbow-tui"
# How long a polite goodbye (Terminate message) may take before we hang up.
CLOSE_TIMEOUT_S = 2.0
T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """The database could not be asked; ``str()`` says why in words."""


def describe_database_error(error: BaseException) -> str:
    name = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else name
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is PostgreSQL running?)"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError):
        return f"unreachable: {error.strerror or text}"
    if name == "QueryCanceledError":
        return f"query cancelled by statement_timeout: {text}"
    if name in ("ConnectionDoesNotExistError", "InterfaceError", "CannotConnectNowError"):
        return f"connection lost: {text}"
    if name == "AdminShutdownError":
        return "server is shutting down"
    return f"{name}: {text}"


class _Wait:
    """Which wait a call is in, and since when: a timeout names it."""

    def __init__(self) -> None:
        self.phase = "waiting"
        self.started = time.monotonic()

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.started = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def describe_database_timeout(phase: str, waited_s: float, statement_timeout_ms: int) -> str:
    """Why a call to the database timed out, in words (one place for the sentences)."""
    if phase == "connecting":
        return (
            f"timed out after {waited_s:.1f} s connecting: "
            "the server accepted no session (frozen, overloaded or cut off?)"
        )
    if phase == "statement":
        return (
            f"timed out after {waited_s:.1f} s: the server did not answer the statement, "
            f"and its statement_timeout ({statement_timeout_ms} ms) did not fire "
            "(frozen or cut off?)"
        )
    return f"timed out after {waited_s:.1f} s waiting for the connection: another statement held it"


def _connection_is_suspect(error: BaseException) -> bool:
    """Whether the connection must be reopened after ``error``.

    A plain SQL error (a missing table, a cancelled statement) leaves the session
    usable; connection exceptions (SQLSTATE 08) and operator intervention (57, e.g.
    the server restarting) do not.
    """
    sqlstate = getattr(error, "sqlstate", None)
    if not isinstance(sqlstate, str):
        return True
    return sqlstate.startswith(("08", "57")) and sqlstate != "57014"  # 57014: cancelled


class PostgresLink:
    def __init__(
        self,
        dsn: str,
        statement_timeout_ms: int = 2000,
        connect_timeout_s: float = 5.0,
        read_only: bool = True,
    ) -> None:
        self.dsn = dsn
        self.statement_timeout_ms = statement_timeout_ms
        self.connect_timeout_s = connect_timeout_s
        self.read_only = read_only
        # Our deadline for one statement: asyncpg's command_timeout.
        self.statement_deadline_s = statement_timeout_ms / 1000 + 1
        self._connection: asyncpg.Connection | None = None
        # Counts the connections opened: a check made once per session (what the
        # role may do) knows from it that a new session began.
        self.generation = 0
        # One asyncpg connection runs one statement at a time.
        self._lock = asyncio.Lock()

    async def _connect(self) -> asyncpg.Connection:
        import asyncpg  # imported on first use: it is not needed for the first frame

        settings = {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(self.statement_timeout_ms),
            "default_transaction_read_only": "on" if self.read_only else "off",
            "timezone": "UTC",
        }
        # asyncpg's own timeout covers the whole start-up too; ours is there so a
        # start-up that never ends is a TimeoutError whatever asyncpg's version does.
        async with asyncio.timeout(self.connect_timeout_s):
            connection: asyncpg.Connection = await asyncpg.connect(
                self.dsn,
                timeout=self.connect_timeout_s,
                # The server enforces statement_timeout only while it runs; a hung
                # or frozen server needs a deadline on our side too.
                command_timeout=self.statement_deadline_s,
                server_settings=settings,
            )
        return connection

    @property
    def poll_deadline_s(self) -> float:
        """The longest a source's poll (``fetch_json``) may take: connecting and one
        statement, the wait for the connection included."""
        return self.connect_timeout_s + self.statement_deadline_s

    async def with_connection(
        self,
        work: Callable[[asyncpg.Connection], Awaitable[T]],
        deadline_s: float | None = None,
    ) -> T:
        """Run ``work`` on the (re)opened connection, one caller at a time, within
        ``deadline_s`` overall when given (each statement and the connect are
        bounded anyway).

        Any failure comes out as ``DatabaseUnavailable`` with the reason in words.
        """
        wait = _Wait()
        try:
            async with asyncio.timeout(deadline_s), self._lock:
                return await self._run(work, wait)
        except TimeoutError as error:
            raise DatabaseUnavailable(
                describe_database_timeout(wait.phase, wait.elapsed_s(), self.statement_timeout_ms)
            ) from error

    async def _run(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], wait: _Wait
    ) -> T:
        try:
            if self._connection is None or self._connection.is_closed():
                wait.enter("connecting")
                self._connection = await self._connect()
                self.generation += 1
            wait.enter("statement")
            return await work(self._connection)
        except (TimeoutError, asyncio.CancelledError):
            # Cut off mid-wait: the session may still be running the statement, or
            # be half-opened; it is ended and the next caller opens a new one.
            await self._drop()
            raise
        except Exception as error:
            if _connection_is_suspect(error):
                await self._drop()
            raise DatabaseUnavailable(describe_database_error(error)) from error

    async def fetch_json(self, sql: str, *args: Any) -> Any:
        """Run a statement returning one JSON value and decode it, within
        ``poll_deadline_s``."""

        async def fetch(connection: asyncpg.Connection) -> Any:
            return await connection.fetchval(sql, *args)

        value = await self.with_connection(fetch, deadline_s=self.poll_deadline_s)
        return msgspec.json.decode(value) if isinstance(value, str | bytes) else value

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            connection.terminate()

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None and not connection.is_closed():
                try:
                    await connection.close(timeout=CLOSE_TIMEOUT_S)
                except (TimeoutError, OSError):
                    # A frozen server never acknowledges the goodbye: just hang up.
                    connection.terminate()
