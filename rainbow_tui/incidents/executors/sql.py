"""``sql`` commands: a statement in the app's database or Solid Queue's, on a
session of its own opened for the run (``runbook_sql``), in a read-only
transaction unless the command is destructive.  Parameters are bound (``$1``…),
never pasted into the statement; the rows come out as psql prints them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.incidents.executors.base import (
    PLACEHOLDER,
    CommandContext,
    CommandFieldError,
    ExecutorResult,
    ResolvedCommand,
    forbid_host,
    require_text,
)
from rainbow_tui.incidents.runbook_sql import (
    psql_table,
    runbook_session,
    solid_queue_database_problem,
    statement_timed_out,
)
from rainbow_tui.sources.postgres_link import DatabaseUnavailable
from rainbow_tui.sources.transactions import TransactionMode, transact

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["SqlExecutor"]


class SqlExecutor:
    @property
    def kind(self) -> Literal["sql"]:
        return "sql"

    def check_fields(self, command: Command) -> None:
        require_text(command)
        forbid_host(command)
        problem = solid_queue_database_problem(command.text, command.database)
        if problem is not None:
            raise CommandFieldError("database", problem)

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        order: list[str] = []

        def bind(match: re.Match[str]) -> str:
            if match[1] not in order:
                order.append(match[1])
            return f"${order.index(match[1]) + 1}"

        sql = PLACEHOLDER.sub(bind, command.text).strip()
        args = tuple(values[name] for name in order)
        bound = "".join(f"\n-- ${i} = {value!r}" for i, value in enumerate(args, 1))
        return ResolvedCommand(command, text=sql, args=args, preview=sql + bound)

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        command = resolved.command
        monitored = context.link(command.database)
        if monitored is None:
            return ExecutorResult(None, context.why_no_database())
        link = runbook_session(
            monitored, command.timeout_s, context.config.database.connect_timeout_s
        )
        # The session is read-only by default; only a destructive command writes.  The
        # step's limit is the transaction's own too, so no session setting outlasts it.
        mode = TransactionMode(
            writes=command.destructive, statement_timeout_ms=link.statement_timeout_ms
        )

        async def statement(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await connection.fetch(resolved.text, *resolved.args)
            return rows

        try:
            rows = await transact(link, statement, mode)
        except DatabaseUnavailable as error:
            if statement_timed_out(error):
                raise TimeoutError from error  # the step's timeout: said as such by the runner
            output.text(f"ERROR: {error}")
            return ExecutorResult(1, str(error))
        finally:
            await link.close()
        for line in psql_table(rows):
            output.text(line)
        return ExecutorResult(0)
