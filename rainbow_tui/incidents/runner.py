"""Runs a runbook step's commands for real, and checks that a step worked.

Each kind of command (``kamal``, ``ssh``, ``sql``, ``http``, ``local``, ``copy``)
has its executor in one table (``rainbow_tui.incidents.executors``): the runner checks the
responder's parameters, resolves and previews a command through its kind's
executor, and runs it there with what every kind shares: the command's timeout, a
cancellation, ``read_only``, and its output streamed line by line to a callback as
it comes, made safe (``CommandOutput``: invalid UTF-8 replaced, secrets redacted,
control characters inert).  The result carries the exit code, the duration and an
excerpt (the first and last lines) for the record.

Under ``read_only`` a destructive command is not run: its result says so, and its
preview (the exact command line) can still be copied and run by hand.

Parameters (``{version}``) come from the responder, checked against the parameter's
pattern; a parameter with ``choices_from = "kamal app containers"`` is offered the
versions that command lists.  A step's verification is checked (``step_checks``)
again and again until it passes or its time runs out.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.incidents.appendix import kamal_command_line
from rainbow_tui.incidents.command_output import CommandOutput, Excerpt, LineCallback
from rainbow_tui.incidents.executors import (
    CommandContext,
    ParameterError,
    ResolvedCommand,
    executor_for,
)
from rainbow_tui.incidents.executors.ssh import find_target
from rainbow_tui.incidents.kamal_output import AppVersion, parse_app_containers, rollback_choices
from rainbow_tui.incidents.model import CommandOutcome
from rainbow_tui.incidents.runbooks import (
    CHOICES_FROM_APP_CONTAINERS,
    Command,
    Parameter,
    Verification,
)
from rainbow_tui.incidents.step_checks import MetricProbe, StepChecks, findings_probe
from rainbow_tui.ssh import SshTarget

if TYPE_CHECKING:
    from rainbow_tui.sources.service_sources import ServiceSources

__all__ = [
    "Choice",
    "CommandResult",
    "CommandRunner",
    "Excerpt",
    "LineCallback",
    "MetricProbe",
    "ParameterError",
    "ResolvedCommand",
    "RunningCommand",
    "VerificationResult",
    "findings_probe",
]

@dataclass(frozen=True)
class CommandResult:
    outcome: CommandOutcome
    exit_code: int | None
    duration_s: float
    excerpt: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class VerificationResult:
    check: str
    passed: bool
    detail: str
    attempts: int


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


class RunningCommand:
    """A command under way: wait for its result, or cancel it."""

    def __init__(self, task: asyncio.Task[CommandResult]) -> None:
        self._task = task

    @property
    def done(self) -> bool:
        return self._task.done()

    def cancel(self) -> None:
        self._task.cancel()

    async def wait(self) -> CommandResult:
        try:
            return await self._task
        except asyncio.CancelledError:
            waiter = asyncio.current_task()
            if self._task.cancelled() and (waiter is None or not waiter.cancelling()):
                # Cancelled before it began: nothing ran.
                return CommandResult("cancelled", None, 0.0, "", "cancelled before it started")
            raise


def _check_parameters(command: Command, given: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for parameter in command.parameters:
        value = given.get(parameter.name, parameter.default).strip()
        if not value:
            raise ParameterError(f"{parameter.prompt_en} ({parameter.name}) is needed")
        if not re.fullmatch(parameter.pattern, value):
            raise ParameterError(
                f"{parameter.name} = {value!r} does not match {parameter.pattern!r}"
            )
        values[parameter.name] = value
    return values


class CommandRunner:
    """Runs runbook commands and verifications against one configured service."""

    def __init__(
        self,
        config: Config,
        *,
        read_only: bool = False,
        sources: ServiceSources | None = None,
        metric_probe: MetricProbe | None = None,
    ) -> None:
        self.config = config
        self.read_only = read_only
        self.metric_probe = metric_probe
        self._own_sources = sources is None
        if sources is None:
            from rainbow_tui.sources.service_sources import ServiceSources

            sources = ServiceSources(config)
        self.sources = sources
        self.context = CommandContext(config, sources)

    async def close(self) -> None:
        if self._own_sources:
            await self.sources.close()

    # -- resolving ---------------------------------------------------------------------

    def kamal_argv(self, argv: Sequence[str], *, shown: bool = False) -> tuple[str, ...]:
        """The kamal command line that runs, or (``shown``) the one the operator knows."""
        return kamal_command_line(self.config.kamal, tuple(argv), shown=shown)

    def target(self, host: str) -> SshTarget:
        """A host by name, or ``role:ROLE`` for the first host with that role."""
        return find_target(self.sources.targets, host)

    def resolve(self, command: Command, params: Mapping[str, str] | None = None) -> ResolvedCommand:
        """Fill in the parameters; raises ``ParameterError`` if one is missing or wrong."""
        values = _check_parameters(command, params or {})
        return executor_for(command.kind).resolve(command, values, self.context)

    def preview(self, command: Command, params: Mapping[str, str] | None = None) -> str:
        """The exact command line, to show before running or to copy under read-only."""
        return self.resolve(command, params).preview

    # -- running -----------------------------------------------------------------------

    def start(
        self,
        command: Command,
        params: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> RunningCommand:
        """Start ``command``; parameter problems raise ``ParameterError`` at once."""
        resolved = self.resolve(command, params)
        return RunningCommand(asyncio.create_task(self._run(resolved, on_line)))

    async def run(
        self,
        command: Command,
        params: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
    ) -> CommandResult:
        return await self.start(command, params, on_line).wait()

    async def _run(self, resolved: ResolvedCommand, on_line: LineCallback | None) -> CommandResult:
        command = resolved.command
        if self.read_only and command.destructive:
            return CommandResult(
                "not_run", None, 0.0, "", f"not run: read-only (to run by hand: {resolved.preview})"
            )
        executor = executor_for(command.kind)
        output = CommandOutput(on_line, resolved.shown_as, context=resolved.preview)
        started = time.monotonic()
        outcome: CommandOutcome
        exit_code: int | None = None
        detail = ""
        try:
            async with asyncio.timeout(command.timeout_s):
                ran = await executor.run(resolved, self.context, output)
            outcome, exit_code, detail = ran.outcome, ran.exit_code, ran.detail
        except TimeoutError:
            outcome, detail = "timeout", f"timed out after {command.timeout_s:g} s"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            outcome, detail = "cancelled", "cancelled by the responder"
        output.close()
        if detail and outcome != "ok":
            output.text(f"[{detail}]")
        return CommandResult(
            outcome, exit_code, time.monotonic() - started, output.excerpt.text(), detail
        )

    # -- choices ----------------------------------------------------------------------

    async def app_versions(self) -> list[AppVersion]:
        """The versions ``kamal app containers`` lists (read-only, always allowed)."""
        containers = Command(kind="kamal", argv=("app", "containers"), timeout_s=120)
        lines: list[str] = []
        result = await self.run(containers, on_line=lines.append)
        if not result.ok:
            raise ParameterError(f"kamal app containers failed: {result.detail or result.excerpt}")
        return parse_app_containers("\n".join(lines))

    async def choices(self, parameter: Parameter) -> list[Choice]:
        """The values to offer for ``parameter`` (none when it has no source of choices)."""
        if parameter.choices_from != CHOICES_FROM_APP_CONTAINERS:
            return []
        return [
            Choice(
                version.version,
                f"{version.version[:12]}  {version.created}"
                + ("  (running now)" if version.running else ""),
            )
            for version in rollback_choices(await self.app_versions())
        ]

    # -- verifying ---------------------------------------------------------------------

    async def verify(self, verification: Verification) -> VerificationResult:
        """Check until it passes or ``timeout_s`` runs out (at least once)."""
        deadline = time.monotonic() + verification.timeout_s
        checks = StepChecks(self.context, self.metric_probe)
        attempts = 0
        while True:
            attempts += 1
            passed, detail = await checks.check(verification)
            if passed or time.monotonic() + verification.interval_s > deadline:
                return VerificationResult(verification.kind, passed, detail, attempts)
            await asyncio.sleep(verification.interval_s)
