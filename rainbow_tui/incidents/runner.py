"""Runs a runbook step's commands for real, and checks that a step worked.

Five kinds of command: ``kamal`` (the configured Kamal command line, in its working
directory), ``ssh`` (to a configured host through ``rainbow_tui.ssh``: host key
verified against known_hosts, jump host, connect deadline; parameters quoted for the
remote shell), ``sql`` (on a session of its own to the step's database, opened for
the run, with the step's ``timeout_s`` as its statement timeout on the server and as
the client's deadline; in a ``READ WRITE`` transaction only when the command is
destructive), ``http`` (a GET) and ``local`` (a program on this machine).

Output streams to a callback line by line as it comes: bytes are split with
``LineSplitter`` (invalid UTF-8 replaced), secrets redacted, control characters made
inert.  Each run has a timeout and can be cancelled; the result carries the exit
code, the duration and an excerpt (the first and last lines) for the record.

Under ``read_only`` a destructive command is not run: its result says so, and its
preview (the exact command line) can still be copied and run by hand.

Parameters (``{version}``) come from the responder, checked against the parameter's
pattern; a parameter with ``choices_from = "kamal app containers"`` is offered the
versions that command lists.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import shlex
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rainbow_tui.config import Config, expand_path
from rainbow_tui.incidents.appendix import kamal_command_line
from rainbow_tui.incidents.kamal_output import (
    NOTABLE,
    AppVersion,
    judge_kamal_output,
    parse_app_containers,
    rollback_choices,
)
from rainbow_tui.incidents.model import CommandOutcome
from rainbow_tui.incidents.redact import LineRedactor
from rainbow_tui.incidents.runbooks import (
    CHOICES_FROM_APP_CONTAINERS,
    Command,
    DatabaseName,
    Parameter,
    Verification,
)
from rainbow_tui.logs.lines import LineSplitter, make_inert
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import READ, WRITE, transact
from rainbow_tui.ssh import SshError, SshTarget, connect, describe_ssh_error

if TYPE_CHECKING:
    import asyncpg
    import asyncssh

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

LineCallback = Callable[[str], None]
# The current value of every finding, by key ("database:db_connections" → 7.0).
MetricProbe = Callable[[], Awaitable[Mapping[str, float | None]]]

EXCERPT_HEAD = 30
EXCERPT_TAIL = 30
EXCERPT_LINE_CHARS = 400
KILL_GRACE_S = 3.0
READ_CHUNK = 65536
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ParameterError(ValueError):
    """A parameter value that is missing or does not fit its pattern."""


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


class Excerpt:
    """The first and last lines of an output, with how many were left out between."""

    def __init__(self, head: int = EXCERPT_HEAD, tail: int = EXCERPT_TAIL) -> None:
        self._head_size = head
        self._tail_size = tail
        self.head: list[str] = []
        self.tail: list[str] = []
        self.total = 0

    def add(self, line: str) -> None:
        if len(line) > EXCERPT_LINE_CHARS:
            line = line[:EXCERPT_LINE_CHARS] + " …"
        self.total += 1
        if len(self.head) < self._head_size:
            self.head.append(line)
            return
        self.tail.append(line)
        if len(self.tail) > self._tail_size:
            del self.tail[0]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        middle = [f"… {omitted} lines omitted …"] if omitted > 0 else []
        return "\n".join([*self.head, *middle, *self.tail])


class _Output:
    """Bytes in, safe lines out: to the callback and into the excerpt."""

    def __init__(
        self, on_line: LineCallback | None, shown_as: tuple[str, str] | None = None
    ) -> None:
        self._splitter = LineSplitter()
        self._redactor = LineRedactor()
        self._on_line = on_line
        # (what runs, what the operator knows it as): replaced in every line.
        self._shown_as = shown_as
        self.excerpt = Excerpt()
        self.notable: list[str] = []  # lines that tell what a kamal command did

    def _emit(self, lines: Sequence[str]) -> None:
        for raw in lines:
            if self._shown_as is not None:
                raw = raw.replace(*self._shown_as)
            line = make_inert(self._redactor.line(raw))
            self.excerpt.add(line)
            if len(self.notable) < 64 and NOTABLE.search(line):
                self.notable.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def feed(self, chunk: bytes) -> None:
        self._emit(self._splitter.feed(chunk))

    def text(self, text: str) -> None:
        self.feed(text.encode("utf-8", "replace") + (b"" if text.endswith("\n") else b"\n"))

    def close(self) -> None:
        self._emit(self._splitter.flush())


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


def _substitute(text: str, values: Mapping[str, str], quote: bool) -> str:
    return _PLACEHOLDER.sub(lambda m: shlex.quote(values[m[1]]) if quote else values[m[1]], text)


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


def _describe_http_error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


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

    def link(self, database: DatabaseName) -> PostgresLink | None:
        return self.sources.queue_link if database == "queue" else self.sources.link

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

    def _shown_as(self) -> tuple[str, str] | None:
        kamal = self.config.kamal
        if not kamal.display or kamal.display == kamal.command:
            return None
        return shlex.join(kamal.command), shlex.join(kamal.display)

    def target(self, host: str) -> SshTarget:
        """A host by name, or ``role:ROLE`` for the first host with that role."""
        targets = self.sources.targets
        if host.startswith("role:"):
            role = host.removeprefix("role:")
            for target in targets.values():
                if role in target.roles:
                    return target
            raise ParameterError(f"no configured host has the role {role!r}")
        if host not in targets:
            raise ParameterError(f"no configured host named {host!r}")
        return targets[host]

    def resolve(self, command: Command, params: Mapping[str, str] | None = None) -> ResolvedCommand:
        """Fill in the parameters; raises ``ParameterError`` if one is missing or wrong."""
        values = _check_parameters(command, params or {})
        if command.kind in ("kamal", "local"):
            argv = tuple(_substitute(part, values, quote=False) for part in command.argv)
            if command.kind == "kamal":
                return ResolvedCommand(command, argv=self.kamal_argv(argv),
                                       preview=shlex.join(self.kamal_argv(argv, shown=True)))
            return ResolvedCommand(command, argv=argv, preview=shlex.join(argv))
        if command.kind == "ssh":
            target = self.target(command.host)
            text = _substitute(command.text, values, quote=True)
            jump = (["-J", f"{target.jump_user}@{target.jump_host}:{target.jump_port}"]
                    if target.jump_host else [])
            preview = shlex.join(
                ["ssh", *jump, "-p", str(target.port), f"{target.user}@{target.address}", text]
            )
            return ResolvedCommand(command, text=text, target=target, preview=preview)
        if command.kind == "http":
            url = _substitute(command.text, values, quote=False) or self.config.service.health_url
            return ResolvedCommand(command, text=url, preview=f"GET {url}")
        # sql: parameters are bound, never pasted into the statement.
        order: list[str] = []

        def bind(match: re.Match[str]) -> str:
            if match[1] not in order:
                order.append(match[1])
            return f"${order.index(match[1]) + 1}"

        sql = _PLACEHOLDER.sub(bind, command.text).strip()
        args = tuple(values[name] for name in order)
        bound = "".join(f"\n-- ${i} = {value!r}" for i, value in enumerate(args, 1))
        return ResolvedCommand(command, text=sql, args=args, preview=sql + bound)

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
        kamal = command.kind == "kamal"
        output = _Output(on_line, self._shown_as() if kamal else None)
        started = time.monotonic()
        outcome: CommandOutcome
        exit_code: int | None = None
        detail = ""
        try:
            async with asyncio.timeout(command.timeout_s):
                exit_code, detail = await self._dispatch(resolved, output)
            outcome = "ok" if exit_code == 0 else ("failed" if exit_code is not None else "error")
            if kamal and outcome in ("ok", "failed"):
                # Judged by what it did: Kamal exits 0 from a rollback that did nothing.
                verdict = judge_kamal_output(output.notable)
                if verdict.failed:
                    outcome, detail = "failed", verdict.detail
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

    async def _dispatch(self, resolved: ResolvedCommand, output: _Output) -> tuple[int | None, str]:
        kind = resolved.command.kind
        if kind in ("kamal", "local"):
            # Local commands run beside Kamal's: in the application's checkout.
            workdir = str(expand_path(self.config.kamal.workdir))
            exit_code, detail = await self._process(resolved.argv, workdir, output)
            if detail and kind == "kamal":
                detail = detail.replace(resolved.argv[0], self.config.kamal.shown_command[0])
            return exit_code, detail
        if kind == "ssh":
            return await self._ssh(resolved, output)
        if kind == "http":
            return await self._http(resolved, output)
        return await self._sql(resolved, output)

    async def _process(
        self, argv: Sequence[str], cwd: str, output: _Output
    ) -> tuple[int | None, str]:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own group: a timeout ends its children too
            )
        except OSError as error:
            return None, f"could not start {argv[0]}: {error.strerror or error}"
        assert process.stdout is not None
        try:
            while chunk := await process.stdout.read(READ_CHUNK):
                output.feed(chunk)
            return await process.wait(), ""
        except BaseException:
            await _stop_group(process)
            raise

    async def _ssh(self, resolved: ResolvedCommand, output: _Output) -> tuple[int | None, str]:
        import asyncssh

        target = resolved.target
        assert target is not None
        try:
            # The dashboard's way in: known_hosts verified, through the jump host,
            # within the connect deadline (the step's timeout bounds the rest).
            connection = await connect(target)
        except (OSError, asyncssh.Error, SshError) as error:
            return None, describe_ssh_error(error, target.name)
        try:
            process: asyncssh.SSHClientProcess[bytes] = await connection.create_process(
                resolved.text, encoding=None, stderr=asyncssh.STDOUT
            )
            while chunk := await process.stdout.read(READ_CHUNK):
                output.feed(chunk)
            await process.wait()
            return process.exit_status if process.exit_status is not None else None, ""
        except (OSError, asyncssh.Error) as error:
            return None, describe_ssh_error(error, target.name)
        finally:
            connection.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.wait_closed(), 2)

    async def _http(self, resolved: ResolvedCommand, output: _Output) -> tuple[int | None, str]:
        import httpx

        timeout = resolved.command.timeout_s
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                response = await client.get(resolved.text)
        except httpx.HTTPError as error:
            return None, _describe_http_error(error)
        output.text(f"HTTP {response.status_code} {response.reason_phrase}")
        output.feed(response.content[:16384])
        return (0 if 200 <= response.status_code < 300 else 1), ""

    def _own_link(self, database: DatabaseName, statement_timeout_s: float) -> PostgresLink | None:
        """A session of the runner's own to ``database`` (the monitor's link would
        cut a statement off at the poll's timeout, and queue it behind polls): the
        monitor's DSN and session settings, ``statement_timeout_s`` on both sides."""
        monitored = self.link(database)
        if monitored is None:
            return None
        return PostgresLink(
            monitored.dsn,
            # The server gives up a little before our own deadline, leaving a clean session.
            statement_timeout_ms=max(1, int(statement_timeout_s * 900)),
            connect_timeout_s=self.config.database.connect_timeout_s,
        )

    async def _sql(self, resolved: ResolvedCommand, output: _Output) -> tuple[int | None, str]:
        command = resolved.command
        # Opened per run: each step has its own timeout, and whatever a statement
        # leaves behind (cancelled mid-way, a failed transaction) ends with it.
        link = self._own_link(command.database, command.timeout_s)
        if link is None:
            return None, self.sources.database_missing or "no database configured"

        async def statement(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await connection.fetch(resolved.text, *resolved.args)
            return rows

        try:
            # The session is read-only by default; only a destructive command writes.
            rows = await transact(link, statement, WRITE if command.destructive else READ)
        except DatabaseUnavailable as error:
            if _timed_out(error):
                raise TimeoutError from error  # the step's timeout: said as such by _run
            output.text(f"ERROR: {error}")
            return 1, str(error)
        finally:
            await link.close()
        for line in _table(rows):
            output.text(line)
        return 0, ""

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
        kind = verification.kind
        if kind == "none":
            return True, "nothing to check automatically"
        if kind == "http_ok":
            snapshot = await self.health.poll()
            if snapshot.up:
                latency = f" in {snapshot.latency_ms:.0f} ms" if snapshot.latency_ms else ""
                return True, f"GET {snapshot.url} answered 200{latency}"
            return False, f"GET {snapshot.url}: {snapshot.error}"
        if kind == "metric_below":
            return await self._metric_below(verification)
        return await self._sql_scalar_below(verification)

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
        # A check is as quick as a poll: the monitor's statement timeout, own session.
        link = self._own_link(
            verification.database, self.config.database.statement_timeout_ms / 1000
        )
        if link is None:
            return False, self.sources.database_missing or "no database configured"
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


def _timed_out(error: DatabaseUnavailable) -> bool:
    """Whether the statement ran out of time: the server's statement_timeout or the
    client's deadline (not a cancel by someone else, which is a failure)."""
    cause = error.__cause__
    if isinstance(cause, TimeoutError):
        return True
    return type(cause).__name__ == "QueryCanceledError" and "statement timeout" in str(cause)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\n", " ")


def _table(rows: Sequence[asyncpg.Record]) -> list[str]:
    """Rows as aligned text, as psql prints them."""
    if not rows:
        return ["(0 rows)"]
    names = list(rows[0].keys())
    cells = [[_cell(value) for value in row.values()] for row in rows]
    widths = [max(len(name), *(len(row[i]) for row in cells)) for i, name in enumerate(names)]
    lines = [
        " | ".join(name.ljust(widths[i]) for i, name in enumerate(names)).rstrip(),
        "-+-".join("-" * width for width in widths),
    ]
    lines += [" | ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return lines


async def _stop_group(process: asyncio.subprocess.Process) -> None:
    """End a command and whatever it started: TERM, a grace period, then KILL."""
    if process.returncode is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), KILL_GRACE_S)
            return
        except TimeoutError:
            continue


def findings_probe(config: Config, sources: ServiceSources) -> MetricProbe:
    """A probe that polls every source once and judges the readings, as the monitor does."""
    from rainbow_tui.findings import evaluate

    async def probe() -> Mapping[str, float | None]:
        readings = await sources.poll_all()
        return {finding.key: finding.value for finding in evaluate(config, readings)}

    return probe
