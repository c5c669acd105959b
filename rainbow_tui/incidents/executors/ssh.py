"""``ssh`` commands: a shell command line on a configured host, through
``rainbow_tui.ssh`` as the dashboard goes in (host key verified against
known_hosts, the jump host, the connect deadline); every parameter is quoted for
the remote shell."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.incidents.executors.base import (
    CommandContext,
    CommandFieldError,
    ExecutorResult,
    ParameterError,
    ResolvedCommand,
    forbid_database,
    require_text,
    substitute,
)
from rainbow_tui.incidents.local_process import READ_CHUNK
from rainbow_tui.ssh import SshError, SshTarget, connect, describe_ssh_error

if TYPE_CHECKING:
    import asyncssh

    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["SshExecutor", "find_target"]

# How long a closing connection may take to say goodbye.
CLOSE_WAIT_S = 2.0


def find_target(targets: Mapping[str, SshTarget], host: str) -> SshTarget:
    """A host by name, or ``role:ROLE`` for the first host with that role."""
    if host.startswith("role:"):
        role = host.removeprefix("role:")
        for target in targets.values():
            if role in target.roles:
                return target
        raise ParameterError(f"no configured host has the role {role!r}")
    if host not in targets:
        raise ParameterError(f"no configured host named {host!r}")
    return targets[host]


def ssh_preview(target: SshTarget, remote_command: str) -> str:
    """The ssh command line an operator could run by hand, the remote one as one word."""
    jump = (["-J", f"{target.jump_user}@{target.jump_host}:{target.jump_port}"]
            if target.jump_host else [])
    return shlex.join(
        ["ssh", *jump, "-p", str(target.port), f"{target.user}@{target.address}", remote_command]
    )


class SshExecutor:
    @property
    def kind(self) -> Literal["ssh"]:
        return "ssh"

    def check_fields(self, command: Command) -> None:
        require_text(command)
        if not command.host:
            raise CommandFieldError("host", "an ssh command needs a host (a name or role:ROLE)")
        forbid_database(command)

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        target = find_target(context.sources.targets, command.host)
        text = substitute(command.text, values, quote=True)
        return ResolvedCommand(command, text=text, target=target,
                               preview=ssh_preview(target, text))

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        import asyncssh

        target = resolved.target
        assert target is not None
        try:
            # The step's timeout bounds the rest; connect has its own deadline.
            connection = await connect(target)
        except (OSError, asyncssh.Error, SshError) as error:
            return ExecutorResult(None, describe_ssh_error(error, target.name))
        try:
            process: asyncssh.SSHClientProcess[bytes] = await connection.create_process(
                resolved.text, encoding=None, stderr=asyncssh.STDOUT
            )
            while chunk := await process.stdout.read(READ_CHUNK):
                output.feed(chunk)
            await process.wait()
            return ExecutorResult(process.exit_status)
        except (OSError, asyncssh.Error) as error:
            return ExecutorResult(None, describe_ssh_error(error, target.name))
        finally:
            connection.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.wait_closed(), CLOSE_WAIT_S)
