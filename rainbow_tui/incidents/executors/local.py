"""``local`` commands: a program on this machine, run beside Kamal's commands in
the app's checkout, in a process group of its own."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.config import expand_path
from rainbow_tui.incidents.executors.base import (
    CommandContext,
    ExecutorResult,
    ResolvedCommand,
    forbid_database,
    forbid_host,
    require_argv,
    substitute,
)
from rainbow_tui.incidents.local_process import run_process

if TYPE_CHECKING:
    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["LocalExecutor"]


class LocalExecutor:
    @property
    def kind(self) -> Literal["local"]:
        return "local"

    def check_fields(self, command: Command) -> None:
        require_argv(command)
        forbid_host(command)
        forbid_database(command)

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        # A list of words, never a shell line: a value stays one argument.
        argv = tuple(substitute(part, values, quote=False) for part in command.argv)
        return ResolvedCommand(command, argv=argv, preview=shlex.join(argv))

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        workdir = str(expand_path(context.config.kamal.workdir))
        exit_code, detail = await run_process(resolved.argv, workdir, output)
        return ExecutorResult(exit_code, detail)
