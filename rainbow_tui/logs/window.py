"""One look at the last minutes of logs, for ``check``: no tail, no Textual.

Each app container (the roles ``[logs] roles`` names, as Kamal picks their
containers) is read once over SSH with ``docker logs --since <window>s
--timestamps``; the lines go through the same parser and the same request
statistics as the console's tail, and the exceptions among them are counted by
class.  Everything ends by the caller's deadline: a host or container whose logs
did not come in full by then is listed as unread with why, and its lines are not
counted, so a figure never looks complete when it is not.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.logs.lines import LineSplitter
from rainbow_tui.logs.parse import (
    LogKind,
    LogLevel,
    LogLine,
    docker_stamp_heads,
    log_tags_key,
    parse_lines,
)
from rainbow_tui.logs.request_stats import RequestStats, RequestStatsSnapshot
from rainbow_tui.logs.streams import READ_CHUNK, describe_stream_error, find_container
from rainbow_tui.logs.tail import count_requests
from rainbow_tui.sources.kamal_containers import KamalLayout, layout_from_config
from rainbow_tui.ssh import SshTarget, connect, shell_words
from rainbow_tui.text import tr

if TYPE_CHECKING:
    import asyncssh

# The kinds whose exception class is an exception raised and not rescued: a
# request's (Rails logs it at FATAL) and a job's (Active Job's "Error performing").
_EXCEPTION_KINDS = frozenset({LogKind.RAILS_EXCEPTION, LogKind.JOB_ERROR})
# How many classes the finding names; the rest are counted together.
TOP_EXCEPTIONS = 5
# The recent part of the window, for the trend of p95 and errors (as the tail's).
RECENT_WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class ExceptionCount:
    exception_class: str
    count: int


@dataclass(frozen=True, slots=True)
class UnreadLog:
    """A container whose logs were not read: ``source`` is "host/role"."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class LogWindow:
    """What the last ``seconds`` of logs said.

    ``requests`` is None when no container's logs were read at all: no data, not
    zero requests.  ``exceptions`` are most frequent first.
    """

    seconds: int
    requests: RequestStatsSnapshot | None
    exceptions: tuple[ExceptionCount, ...]
    read: tuple[str, ...]
    unread: tuple[UnreadLog, ...]
    lines: int = 0


def docker_logs_window_command(container: str, window_s: int) -> str:
    """``docker logs`` of the last ``window_s`` seconds, stamped, not followed."""
    return shell_words(["docker", "logs", "--timestamps", "--since", f"{window_s}s", container])


def window_roles(config: Config, layout: KamalLayout, host_roles: Sequence[str]) -> list[str]:
    """The containers of a host whose logs carry requests and exceptions: its app
    roles that ``[logs] roles`` names, and kamal-proxy when requests are counted
    from the proxy's lines."""
    logs = config.logs
    roles = [role for role in layout.app_roles(host_roles) if role in logs.roles]
    if logs.count_requests_from == "proxy" and "web" in host_roles:
        roles.append("proxy")
    return roles


def exception_classes(lines: Sequence[LogLine]) -> Counter[str]:
    """The classes of the exceptions logged among ``lines``: a request's or a job's
    error, or any ERROR/FATAL line naming one.  Lines that cannot be an error cost a
    few substring tests (``could_reach``), not a parse."""
    found: Counter[str] = Counter()
    for line in lines:
        if not line.could_reach(LogLevel.ERROR):
            continue
        name = line.exception_class
        if name is None:
            continue
        if line.kind in _EXCEPTION_KINDS or line.level.severity >= LogLevel.ERROR.severity:
            found[name] += 1
    return found


class ContainerRead:
    """The window of one container's logs, read in full or not at all (the lines
    kept; a reader of its own may count them instead, see ``new_read``)."""

    def __init__(self, host: str, role: str, tags_key: str | None) -> None:
        self.host = host
        self.role = role
        self.tags_key = tags_key
        self.lines: list[LogLine] = []

    @property
    def source(self) -> str:
        return f"{self.host}/{self.role}"

    def take(self, texts: list[str]) -> None:
        if texts:
            self.lines += parse_lines(
                texts, self.host, self.role, stamped=docker_stamp_heads(texts) is not None,
                inert=True, tags_key=self.tags_key,
            )


class LogWindowReader:
    """Reads the window of every app container of ``config``'s hosts once."""

    def __init__(self, config: Config, targets: dict[str, SshTarget], window_s: int) -> None:
        self.config = config
        self.targets = targets
        self.window_s = window_s
        self.layout = layout_from_config(config)
        self.tags_key = log_tags_key(config.logs.tags)

    async def read(self, deadline: float) -> LogWindow:
        """Every container's window by the loop time ``deadline``."""
        return self._tally(await self.read_containers(deadline))

    def roles_of(self, host_roles: Sequence[str]) -> list[str]:
        """The containers of a host to read (check's: see ``window_roles``)."""
        return window_roles(self.config, self.layout, host_roles)

    def new_read(self, host: str, role: str) -> ContainerRead:
        """Where one container's lines go as they come."""
        return ContainerRead(host, role, self.tags_key)

    async def read_containers(self, deadline: float) -> list[ContainerRead | UnreadLog]:
        """Each container's read, or why it was not, by the loop time ``deadline``."""
        jobs = []
        for host in self.config.hosts:
            target = self.targets.get(host.name)
            roles = self.roles_of(host.roles)
            if target is not None and roles:
                jobs.append(self._host(target, roles, deadline))
        return [result for found in await asyncio.gather(*jobs) for result in found]

    async def _host(
        self, target: SshTarget, roles: list[str], deadline: float
    ) -> list[ContainerRead | UnreadLog]:
        reads = [self.new_read(target.name, role) for role in roles]
        try:
            async with asyncio.timeout_at(deadline):
                connection = await connect(target)
        except TimeoutError:
            return [UnreadLog(read.source, self._late()) for read in reads]
        except Exception as error:  # asyncssh's errors share no base with OSError
            reason = describe_stream_error(error)
            return [UnreadLog(read.source, reason) for read in reads]
        try:
            # One link per host, one channel per container, side by side.
            return list(
                await asyncio.gather(*(self._container(connection, read, deadline)
                                       for read in reads))
            )
        finally:
            connection.close()

    async def _container(
        self, connection: asyncssh.SSHClientConnection, read: ContainerRead, deadline: float
    ) -> ContainerRead | UnreadLog:
        import asyncssh

        try:
            async with asyncio.timeout_at(deadline):
                name = await find_container(connection, self.layout, read.role, read.host)
                process = await connection.create_process(
                    docker_logs_window_command(name, self.window_s),
                    encoding=None, stderr=asyncssh.STDOUT,
                )
                splitter = LineSplitter(inert=True)
                try:
                    while chunk := await process.stdout.read(READ_CHUNK):
                        read.take(splitter.feed(chunk))
                    read.take(splitter.flush())
                    await process.wait_closed()
                finally:
                    process.close()
        except TimeoutError:
            return UnreadLog(read.source, self._late())
        except Exception as error:
            return UnreadLog(read.source, describe_stream_error(error))
        if process.exit_status:
            return UnreadLog(read.source, f"docker logs exited with status {process.exit_status}")
        return read

    def _late(self) -> str:
        return tr("logs.window.late")

    def _tally(self, results: list[ContainerRead | UnreadLog]) -> LogWindow:
        read = [result for result in results if isinstance(result, ContainerRead)]
        unread = tuple(result for result in results if isinstance(result, UnreadLog))
        windows = sorted({min(RECENT_WINDOW_S, self.window_s), self.window_s})
        stats = RequestStats(windows=windows)
        classes: Counter[str] = Counter()
        lines = 0
        for container in read:
            count_requests(stats, container.lines, self.config.logs.count_requests_from)
            classes += exception_classes(container.lines)
            lines += len(container.lines)
        return LogWindow(
            seconds=self.window_s,
            requests=stats.snapshot(time.time()) if read else None,
            exceptions=tuple(
                ExceptionCount(name, count)
                for name, count in sorted(classes.items(), key=lambda item: (-item[1], item[0]))
            ),
            read=tuple(container.source for container in read),
            unread=unread,
            lines=lines,
        )


async def read_log_window(
    config: Config, targets: dict[str, SshTarget], deadline: float
) -> LogWindow:
    """The last ``[logs] check_window_s`` seconds of every app container's logs, by
    the loop time ``deadline``."""
    return await LogWindowReader(config, targets, config.logs.check_window_s).read(deadline)
