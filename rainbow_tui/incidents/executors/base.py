"""What every command executor is: one per kind of runbook command, with one
interface (:class:`CommandExecutor`), and what they share: the context a command
runs in, a command resolved for running, an executor's result, and the field
rules several kinds have in common."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rainbow_tui.config import Config
    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.model import CommandOutcome
    from rainbow_tui.incidents.runbooks import Command, CommandKind, DatabaseName
    from rainbow_tui.sources.postgres_link import PostgresLink
    from rainbow_tui.sources.service_sources import ServiceSources
    from rainbow_tui.ssh import SshTarget

__all__ = [
    "CommandContext",
    "CommandExecutor",
    "CommandFieldError",
    "ExecutorResult",
    "ParameterError",
    "ResolvedCommand",
    "forbid_argv",
    "forbid_database",
    "forbid_host",
    "require_argv",
    "require_text",
    "substitute",
]

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ParameterError(ValueError):
    """A parameter value that is missing or does not fit its pattern, or a target
    the configuration does not know."""


class CommandFieldError(ValueError):
    """A runbook command whose fields do not fit its kind: ``field`` names the key."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class CommandContext:
    """What commands run against: the configuration and the service's sources."""

    config: Config
    sources: ServiceSources

    def link(self, database: DatabaseName) -> PostgresLink | None:
        """The monitor's link to ``database``; None when none is configured."""
        return self.sources.queue_link if database == "queue" else self.sources.link

    def why_no_database(self) -> str:
        return self.sources.database_missing or "no database configured"


@dataclass(frozen=True)
class ResolvedCommand:
    """A command with its parameters filled in, ready to run or to copy."""

    command: Command
    argv: tuple[str, ...] = ()  # kamal, local
    text: str = ""  # ssh, http (the URL), sql (with $1… for parameters)
    args: tuple[str, ...] = ()  # sql bind values
    target: SshTarget | None = None
    # What the operator is shown and could run by hand: ``[kamal] display`` in place
    # of the command that runs (the demo's wrapper and its paths stay out of records).
    preview: str = ""
    # (what runs, what the operator knows it as): replaced in every output line.
    shown_as: tuple[str, str] | None = None


@dataclass(frozen=True)
class ExecutorResult:
    """How a command ended: its exit code (None: it never ran, ``detail`` says why),
    and whether its output proved it failed although it exited 0."""

    exit_code: int | None
    detail: str = ""
    failed_by_output: bool = False

    @property
    def outcome(self) -> CommandOutcome:
        if self.exit_code is None:
            return "error"
        return "failed" if self.exit_code != 0 or self.failed_by_output else "ok"


class CommandExecutor(Protocol):
    """Runs one kind of runbook command."""

    @property
    def kind(self) -> CommandKind: ...

    def check_fields(self, command: Command) -> None:
        """Refuse, at load, fields this kind does not take or lacks: raises
        ``CommandFieldError`` naming the field."""

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        """Fill in the checked parameter ``values``; the preview is what the operator
        sees and could run by hand.  Raises ``ParameterError``."""

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        """Run it to its end, its output into ``output``.  The runner bounds it with
        the command's timeout and may cancel it; a TimeoutError raised here is said
        as the step's timeout."""


def substitute(text: str, values: Mapping[str, str], *, quote: bool) -> str:
    """``{name}`` replaced by its value, quoted for a shell when ``quote``."""
    return PLACEHOLDER.sub(lambda m: shlex.quote(values[m[1]]) if quote else values[m[1]], text)


# -- field rules kinds share -------------------------------------------------------------


def require_argv(command: Command) -> None:
    if not command.argv:
        raise CommandFieldError("argv", f"a {command.kind} command needs argv")
    if command.text:
        raise CommandFieldError("text", f"a {command.kind} command takes argv, not text")


def forbid_argv(command: Command) -> None:
    if command.argv:
        raise CommandFieldError("argv", f"a {command.kind} command takes text, not argv")


def require_text(command: Command) -> None:
    forbid_argv(command)
    if not command.text.strip():
        raise CommandFieldError("text", f"a {command.kind} command needs text")


def forbid_host(command: Command) -> None:
    if command.host:
        raise CommandFieldError("host", "only ssh commands run on a host")


def forbid_database(command: Command) -> None:
    if command.database != "primary":
        raise CommandFieldError("database", "only sql commands run in a database")
