"""Runs a runbook step's commands for real, and checks that a step worked.

Each kind of command (``kamal``, ``ssh``, ``sql``, ``http``, ``local``) has its
executor in one table (``rainbow_tui.incidents.executors``): the runner checks the
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
versions that command lists.
"""

from __future__ import annotations

import asyncio
import fnmatch
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from rainbow_tui.incidents.runbook_sql import runbook_session
from rainbow_tui.incidents.runbooks import (
    CHOICES_FROM_APP_CONTAINERS,
    Command,
    DatabaseName,
    Parameter,
    Verification,
)
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import READ, transact
from rainbow_tui.ssh import SshTarget

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.sources.health import HealthSource
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

# The current value of every finding, by key ("database:db_connections" → 7.0).
MetricProbe = Callable[[], Awaitable[Mapping[str, float | None]]]


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

    def link(self, database: DatabaseName) -> PostgresLink | None:
        return self.context.link(database)

    @property
    def health(self) -> HealthSource:
        return self.sources.health

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
        output = CommandOutput(on_line, resolved.shown_as)
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
        attempts = 0
        while True:
            attempts += 1
            passed, detail = await self._check(verification)
            if passed or time.monotonic() + verification.interval_s > deadline:
                return VerificationResult(verification.kind, passed, detail, attempts)
            await asyncio.sleep(verification.interval_s)

    async def _check(self, verification: Verification) -> tuple[bool, str]:
        checks: dict[str, Callable[[Verification], Awaitable[tuple[bool, str]]]] = {
            "none": self._nothing_to_check,
            "http_ok": self._http_ok,
            "metric_below": self._metric_below,
            "sql_scalar_below": self._sql_scalar_below,
        }
        return await checks[verification.kind](verification)

    async def _nothing_to_check(self, verification: Verification) -> tuple[bool, str]:
        return True, "nothing to check automatically"

    async def _http_ok(self, verification: Verification) -> tuple[bool, str]:
        snapshot = await self.health.poll()
        if snapshot.up:
            latency = f" in {snapshot.latency_ms:.0f} ms" if snapshot.latency_ms else ""
            return True, f"GET {snapshot.url} answered 200{latency}"
        return False, f"GET {snapshot.url}: {snapshot.error}"

    async def _metric_below(self, verification: Verification) -> tuple[bool, str]:
        if self.metric_probe is None:
            return False, "no metric source to check against"
        values = await self.metric_probe()
        matching = {k: v for k, v in values.items() if fnmatch.fnmatchcase(k, verification.key)}
        if not matching:
            return False, f"no finding matches {verification.key}"
        verdicts: list[str] = []
        passed = True
        for key, value in sorted(matching.items()):
            metric = key.split(":", 1)[1]
            threshold = getattr(self.config.thresholds, metric, None)
            if threshold is None:
                return False, f"{key}: no threshold for {metric}"
            line = {
                "normal": threshold.normal,
                "warn": threshold.warn,
                "critical": threshold.critical,
            }[verification.threshold]
            if value is None:
                passed = False
                verdicts.append(f"{key} has no data")
                continue
            # "Below warn" means not warning any more: warn is crossed when exceeded,
            # normal is a strict upper bound (levels.judge).
            ok = value < line if verification.threshold == "normal" else value <= line
            passed = passed and ok
            relation = "≤" if ok else ">"
            verdicts.append(f"{key} = {value:g} {relation} {verification.threshold} {line:g}")
        return passed, "; ".join(verdicts)

    async def _sql_scalar_below(self, verification: Verification) -> tuple[bool, str]:
        monitored = self.link(verification.database)
        if monitored is None:
            return False, self.context.why_no_database()
        # A check is as quick as a poll: the monitor's statement timeout, own session.
        link = runbook_session(
            monitored,
            self.config.database.statement_timeout_ms / 1000,
            self.config.database.connect_timeout_s,
        )
        below = verification.below if verification.below is not None else 0.0

        async def fetch(connection: asyncpg.Connection) -> object:
            return await connection.fetchval(verification.sql)

        try:
            value = await transact(link, fetch, READ)
        except DatabaseUnavailable as error:
            return False, str(error)
        finally:
            await link.close()
        if value is None:
            return False, "the query returned no value"
        try:
            number = float(str(value))
        except ValueError:
            return False, f"the query returned {value!r}, not a number"
        if number < below:
            return True, f"{number:g} < {below:g}"
        return False, f"{number:g} is not below {below:g}"


def findings_probe(config: Config, sources: ServiceSources) -> MetricProbe:
    """A probe that polls every source once and judges the readings, as the monitor does."""
    from rainbow_tui.findings import evaluate

    async def probe() -> Mapping[str, float | None]:
        readings = await sources.poll_all()
        return {finding.key: finding.value for finding in evaluate(config, readings)}

    return probe
