"""``copy`` commands: the newest file matching ``text`` (a glob in an absolute
path's last part) copied from ``host`` into the local directory ``to`` (default
``[backups] copy_to``), over SFTP on the console's own SSH connection (host key
verified, the jump host), as ``incidents.remote_copy`` does it."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.config import expand_path
from rainbow_tui.incidents.executors.base import (
    CommandContext,
    CommandFieldError,
    ExecutorResult,
    ResolvedCommand,
    forbid_database,
    require_text,
    substitute,
)
from rainbow_tui.incidents.executors.ssh import CLOSE_WAIT_S, find_target
from rainbow_tui.incidents.remote_copy import CopyError, copy_newest, glob_problem
from rainbow_tui.ssh import SshError, SshTarget, connect, describe_ssh_error
from rainbow_tui.text import tr

if TYPE_CHECKING:
    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["CopyExecutor", "copy_preview"]


def copy_preview(target: SshTarget, pattern: str, directory: str) -> str:
    """The sftp command line that fetches the same into the same directory by hand
    (sftp fetches every match; the console takes the newest)."""
    jump = (["-J", f"{target.jump_user}@{target.jump_host}:{target.jump_port}"]
            if target.jump_host else [])
    return shlex.join(["sftp", *jump, "-P", str(target.port),
                       f"{target.user}@{target.address}:{pattern}", directory.rstrip("/") + "/"])


class CopyExecutor:
    @property
    def kind(self) -> Literal["copy"]:
        return "copy"

    def check_fields(self, command: Command) -> None:
        require_text(command)
        if not command.host:
            raise CommandFieldError("host", "a copy command needs a host (a name or role:ROLE)")
        forbid_database(command)
        if (problem := glob_problem(command.text)) is not None:
            raise CommandFieldError("text", problem)

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        target = find_target(context.sources.targets, command.host)
        pattern = substitute(command.text, values, quote=False)
        directory = command.to or context.config.backups.copy_to
        # ``argv`` carries the local directory: what the command writes into.
        return ResolvedCommand(command, text=pattern, argv=(directory,), target=target,
                               preview=copy_preview(target, pattern, directory))

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        import asyncssh

        target = resolved.target
        assert target is not None
        directory = expand_path(resolved.argv[0])
        try:
            connection = await connect(target)
        except (OSError, asyncssh.Error, SshError) as error:
            return ExecutorResult(None, describe_ssh_error(error, target.name))
        try:
            copied = await copy_newest(connection, resolved.text, directory, output.text)
        except CopyError as error:
            return ExecutorResult(1, str(error))
        except asyncssh.Error as error:
            return ExecutorResult(1, describe_ssh_error(error, target.name))
        finally:
            connection.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.wait_closed(), CLOSE_WAIT_S)
        checked = (tr("copy.sha256_same", sha256=copied.sha256) if copied.sha256_checked
                   else tr("copy.sha256_unavailable", sha256=copied.sha256))
        output.text(tr("copy.done", remote=copied.remote, local=str(copied.local),
                       size=copied.size, checked=checked))
        return ExecutorResult(0)
