"""``kamal`` commands: the configured Kamal command line, run in the app's checkout.

The record shows what the operator knows (``[kamal] display``, e.g. ``bundle exec
kamal``), never the command that runs (the demo's wrapper and its paths).  Kamal
exits 0 from some commands that did nothing (a rollback to a missing version), so
its result is judged by what it printed too.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from rainbow_tui.config import expand_path
from rainbow_tui.incidents import kamal_verbs
from rainbow_tui.incidents.appendix import kamal_command_line
from rainbow_tui.incidents.executors.base import (
    CommandContext,
    CommandFieldError,
    ExecutorResult,
    ResolvedCommand,
    forbid_database,
    forbid_host,
    require_argv,
    substitute,
)
from rainbow_tui.incidents.kamal_output import NOTABLE, judge_kamal_output
from rainbow_tui.incidents.local_process import run_process

if TYPE_CHECKING:
    from rainbow_tui.config import KamalConfig
    from rainbow_tui.incidents.command_output import CommandOutput
    from rainbow_tui.incidents.runbooks import Command

__all__ = ["KamalExecutor"]

# Lines that tell what a kamal command did, kept for the verdict (a bounded few).
NOTABLE_LINES_KEPT = 64


def _shown_as(kamal: KamalConfig) -> tuple[str, str] | None:
    if not kamal.display or kamal.display == kamal.command:
        return None
    return shlex.join(kamal.command), shlex.join(kamal.display)


class KamalExecutor:
    @property
    def kind(self) -> Literal["kamal"]:
        return "kamal"

    def check_fields(self, command: Command) -> None:
        require_argv(command)
        forbid_host(command)
        forbid_database(command)
        # A command that is not destructive runs on Enter without a question.
        if not command.destructive and kamal_verbs.effect(command.argv) == "changes":
            raise CommandFieldError(
                "destructive",
                f"kamal {' '.join(command.argv)} changes the deployment: "
                "it must be destructive = true",
            )

    def resolve(
        self, command: Command, values: Mapping[str, str], context: CommandContext
    ) -> ResolvedCommand:
        argv = tuple(substitute(part, values, quote=False) for part in command.argv)
        kamal = context.config.kamal
        return ResolvedCommand(
            command,
            argv=kamal_command_line(kamal, argv),
            preview=shlex.join(kamal_command_line(kamal, argv, shown=True)),
            shown_as=_shown_as(kamal),
        )

    async def run(
        self, resolved: ResolvedCommand, context: CommandContext, output: CommandOutput
    ) -> ExecutorResult:
        kamal = context.config.kamal
        notable: list[str] = []

        def keep_notable(line: str) -> None:
            if len(notable) < NOTABLE_LINES_KEPT and NOTABLE.search(line):
                notable.append(line)

        output.add_listener(keep_notable)
        exit_code, detail = await run_process(
            resolved.argv, str(expand_path(kamal.workdir)), output
        )
        if exit_code is None:
            return ExecutorResult(None, detail.replace(resolved.argv[0], kamal.shown_command[0]))
        # Judged by what it did: Kamal exits 0 from a rollback that did nothing.
        verdict = judge_kamal_output(notable)
        if verdict.failed:
            return ExecutorResult(exit_code, verdict.detail, failed_by_output=True)
        return ExecutorResult(exit_code, detail)
