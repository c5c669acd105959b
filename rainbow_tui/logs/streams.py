"""Log streams: followed container logs over SSH, a local command, a saved file.

Every stream reads bytes in large chunks (``encoding=None``), splits and decodes them
itself (``LineSplitter``), makes each chunk's lines into ``LogLine`` objects at once
(``parse_lines``: the fields of each format are parsed only when read), and hands
batches to a sink, letting the event loop run between chunks.  A stream
that drops (SSH link lost, command exited) reconnects with exponential backoff and
jitter, resumes with ``--since`` the last timestamp it saw, drops the lines it
already delivered, and puts a gap marker with the outage time in between.

The backoff is reset only by a run that stayed up ``STEADY_STREAM_S``: a command
that keeps exiting at once (a crash-looping container, a broken ``kamal app logs``)
is retried ever more slowly, and its status says how often it exited and when the
next try is.  An SSH stream keeps its link while only the command ends: it opens a
new connection only when the link itself dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui.logs.buffer import GapMarker
from rainbow_tui.logs.lines import LineSplitter
from rainbow_tui.logs.parse import (
    DEFAULT_LOG_TAGS,
    LogLine,
    docker_stamp_heads,
    log_tags_key,
    parse_lines,
)
from rainbow_tui.sources.host_parsing import (
    INSPECT_FORMAT,
    ContainerInfo,
    parse_docker_images_json,
    parse_docker_inspect,
)
from rainbow_tui.sources.hosts import SECTION_MARK, split_sections
from rainbow_tui.sources.kamal_containers import KamalLayout, pick
from rainbow_tui.ssh import (
    SshCommandTimeout,
    SshTarget,
    connect,
    describe_ssh_error,
    run_command,
    shell_word,
    shell_words,
)

if TYPE_CHECKING:
    import asyncssh

READ_CHUNK = 65536
# A run that stayed up this long was healthy, and the backoff starts again from its
# first step.  Uptime, not lines: a quiet healthy container (a job worker at night)
# may print nothing for minutes.  30 s is past what a crash-looping Rails container
# lasts (boot, fail, exit) and past docker's first restart delays, so a crash loop
# never resets it.
STEADY_STREAM_S = 30.0
LOOKUP_TIMEOUT_S = 15.0
LogEntry = LogLine | GapMarker
Sink = Callable[[list[LogEntry]], None]


class ResumePoint:
    """Where a stream got to, so a resumed stream neither repeats nor skips lines.

    ``docker logs --since`` may return lines stamped exactly at the resume time
    again; we remember how many lines carried the newest stamp and skip that many.
    Stamps are compared in nanoseconds (``LogLine.stamp_ns``, worked out once):
    microseconds are not enough to tell apart lines docker stamped in the same
    microsecond.
    """

    def __init__(self) -> None:
        self.last_ns: int | None = None
        self.last_text = ""
        self.seen_at_last = 0
        self._skip_at_last = 0
        # True from a reconnect until the first line newer than the resume point.
        self._replaying = False

    def resuming(self) -> None:
        self._skip_at_last = self.seen_at_last
        self._replaying = True

    def accept(self, line: LogLine) -> bool:
        ns = line.stamp_ns
        if ns is None:
            return True  # unstamped lines cannot be placed; keep them
        if self.last_ns is not None and ns < self.last_ns:
            # Older than the newest seen: during a resume, docker sending it again;
            # while streaming, stdout and stderr interleaving, and new: keep it.
            return not self._replaying
        if ns == self.last_ns:
            if self._skip_at_last > 0:
                self._skip_at_last -= 1
                return False
            self.seen_at_last += 1
            return True
        self.last_ns, self.last_text = ns, line.timestamp_text
        self.seen_at_last = 1
        self._skip_at_last = 0
        self._replaying = False
        return True

    def accept_many(self, lines: list[LogLine], heads: list[str] | None = None) -> list[LogLine]:
        """The ``lines`` that :meth:`accept` keeps, in order.

        ``heads`` is what ``docker_stamp_heads`` returned for the lines' text, if it
        was asked: every line then carries a docker stamp and none is older than the
        one before, so when the first is newer than anything seen (the usual case,
        unless just resumed) all are kept, with no look at each line.
        """
        if heads is not None and lines and not self._skip_at_last and not self._replaying:
            first_ns = lines[0].stamp_ns
            if first_ns is not None and (self.last_ns is None or first_ns > self.last_ns):
                newest = heads[-1]
                index = len(heads) - 2
                while index >= 0 and heads[index] == newest:
                    index -= 1
                self.last_ns, self.last_text = lines[-1].stamp_ns, lines[-1].timestamp_text
                self.seen_at_last = len(heads) - 1 - index
                self._replaying = False
                return lines
        return [line for line in lines if self.accept(line)]


@dataclass(frozen=True, slots=True)
class StreamState:
    name: str
    state: str  # "connecting", "streaming", "reconnecting", "ended"
    detail: str = ""
    lines: int = 0
    # Ends in a row since the last steady run, and the wait before the next try.
    exits: int = 0
    retry_in_s: float | None = None


def retry_detail(reason: str, exits: int, retry_in_s: float, started: bool = True) -> str:
    """The status line of a stream waiting to start again (one place for the words):
    ``started`` says whether the last try ran at all or failed to open."""
    times = "once" if exits == 1 else f"{exits} times"
    verb = "exited" if started else "failed"
    return f"{reason}; {verb} {times}, retrying in {retry_in_s:.1f}s"


class Backoff:
    """Exponential backoff with jitter, one per stream, so streams do not retry in
    step; reset only by a run that stayed up ``steady_s``."""

    def __init__(
        self,
        first_s: float = 1.0,
        longest_s: float = 60.0,
        steady_s: float = STEADY_STREAM_S,
        rng: random.Random | None = None,
    ) -> None:
        self.first_s = first_s
        self.longest_s = longest_s
        self.steady_s = steady_s
        self._rng = rng or random.Random()
        self.exits = 0  # ends in a row since the last steady run

    def ended(self, uptime_s: float | None) -> None:
        """A run ended after ``uptime_s`` (None: it never started)."""
        if uptime_s is not None and uptime_s >= self.steady_s:
            self.exits = 0
        self.exits += 1

    def ceiling(self) -> float:
        """The longest the next wait may be: doubling from ``first_s``, capped."""
        return float(min(self.first_s * 2 ** max(self.exits - 1, 0), self.longest_s))

    def next_delay(self) -> float:
        # Half to all of the ceiling: spread out, yet still growing.
        return self.ceiling() * self._rng.uniform(0.5, 1.0)


class FollowedStream:
    """Common loop: open, read chunks, parse, deliver; on loss wait and reopen."""

    def __init__(
        self,
        name: str,
        host: str,
        container: str,
        sink: Sink,
        on_state: Callable[[StreamState], None] | None = None,
        reconnect: bool = True,
        log_tags: Sequence[str] = DEFAULT_LOG_TAGS,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        # The app's config.log_tags, for reading each line's leading tags.
        self.tags_key = log_tags_key(log_tags)
        self.host = host
        self.container = container
        self.sink = sink
        self.on_state = on_state
        self.reconnect = reconnect
        self.resume = ResumePoint()
        self.backoff = backoff or Backoff()
        self.lines = 0

    def _state(
        self, state: str, detail: str = "", retry_in_s: float | None = None
    ) -> None:
        if self.on_state is not None:
            self.on_state(
                StreamState(
                    self.name, state, detail, self.lines, self.backoff.exits, retry_in_s
                )
            )

    async def open_reader(self, since: str | None) -> Reader:
        raise NotImplementedError

    async def close(self) -> None:
        """Let go of what outlives one reader (an SSH link); the stream has stopped."""
        return None

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self.close()  # stopping the tail must not leave SSH links open

    async def _run(self) -> None:
        lost_at: datetime | None = None
        first = True
        while True:
            self._state("connecting" if first else "reconnecting")
            since = self.resume.last_text or None
            uptime: float | None = None
            try:
                reader = await self.open_reader(since)
            except (TimeoutError, OSError, ConnectionError) as error:
                reason = describe_stream_error(error)
            except Exception as error:  # asyncssh's errors share no base with OSError
                reason = describe_stream_error(error)
            else:
                if lost_at is not None:
                    self.resume.resuming()
                    self._deliver_gap(lost_at)
                    lost_at = None
                self._state("streaming")
                opened = time.monotonic()
                reason = await self._pump(reader)
                uptime = time.monotonic() - opened
            first = False
            if not self.reconnect:
                self._state("ended", reason)
                return
            if lost_at is None:
                lost_at = datetime.now(UTC)
            self.backoff.ended(uptime)
            delay = self.backoff.next_delay()
            self._state(
                "reconnecting",
                retry_detail(reason, self.backoff.exits, delay, started=uptime is not None),
                delay,
            )
            await asyncio.sleep(delay)

    def _deliver_gap(self, lost_at: datetime) -> None:
        self.sink([GapMarker(self.host, self.container, lost_at, datetime.now(UTC))])

    async def _pump(self, reader: Reader) -> str:
        splitter = LineSplitter(inert=True)
        try:
            while True:
                chunk = await reader.read(READ_CHUNK)
                if not chunk:
                    self._emit(splitter.flush())
                    return await reader.finish()
                self._emit(splitter.feed(chunk))
                # A read of data already buffered does not suspend: let the rest of
                # the console run between chunks of a backlog.
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            await reader.close()  # stopping the tail must not leave SSH links open
            raise
        except Exception as error:
            self._emit(splitter.flush())
            await reader.close()
            return describe_stream_error(error)

    def _emit(self, texts: list[str]) -> None:
        if not texts:
            return
        heads = docker_stamp_heads(texts)
        lines = parse_lines(
            texts,
            self.host,
            self.container,
            stamped=heads is not None,
            inert=True,
            tags_key=self.tags_key,
        )
        batch: list[LogEntry] = list(self.resume.accept_many(lines, heads))
        if batch:
            self.lines += len(batch)
            self.sink(batch)


class Reader:
    """What a stream reads from: bytes until EOF, then why it ended."""

    async def read(self, size: int) -> bytes:
        raise NotImplementedError

    async def finish(self) -> str:
        return "stream ended"

    async def close(self) -> None:
        return None


def describe_stream_error(error: BaseException) -> str:
    name = type(error).__name__
    text = str(error).strip()
    if isinstance(error, LookupError):
        return text
    if not isinstance(error, OSError | TimeoutError) or name == "SshCommandTimeout":
        return describe_ssh_error(error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{name}: {text}" if text else name


class SshReader(Reader):
    """``docker logs`` on a link the stream keeps: ending the process leaves the link."""

    def __init__(
        self, connection: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess[bytes]
    ) -> None:
        self.connection = connection
        self.process = process

    async def read(self, size: int) -> bytes:
        data: bytes = await self.process.stdout.read(size)
        return data

    async def finish(self) -> str:
        await self.close()
        if self.connection.is_closed():
            return "SSH link lost"
        status = self.process.exit_status
        return f"docker logs exited with status {status}" if status else "docker logs ended"

    async def close(self) -> None:
        self.process.close()


def docker_logs_command(container: str, tail: int, since: str | None) -> str:
    # On a resume, --since says where to start; --tail all keeps docker from
    # cutting what came in between.  Every value quoted: the name comes from the host.
    window = ["--tail", "all", "--since", since] if since else ["--tail", str(tail)]
    return shell_words(["docker", "logs", "--timestamps", "--follow", *window, container])


def pick_container(
    containers: Sequence[ContainerInfo],
    service: str | KamalLayout,
    role: str,
    latest_image_ids: Sequence[str] = (),
) -> str | None:
    """The container ``kamal app logs`` would follow for ``role`` (running or
    restarting, this destination, the ``latest`` image first), the proxy, or an
    accessory by its container name."""
    layout = service if isinstance(service, KamalLayout) else KamalLayout(service)
    chosen = pick(containers, layout, role, latest_image_ids)
    return chosen.name if chosen is not None else None


def container_lookup_command(layout: KamalLayout, role: str) -> str:
    """One exec: the candidate containers (Kamal's filters for an app role), and the
    service's images, to know which is tagged ``latest[-destination]``."""
    if role == "proxy" or layout.accessory(role) is not None:
        listing = "docker ps --quiet"
    else:
        listing = f"docker ps --quiet {layout.filter_args(role)}"
    service = shell_word(f"label=service={layout.service}")
    return (
        f"echo {SECTION_MARK}docker; {listing} | xargs -r docker inspect --format "
        f"{shell_word(INSPECT_FORMAT)}; echo {SECTION_MARK}images; "
        f"docker image ls --filter {service} --format '{{{{json .}}}}'"
    )


async def find_container(
    connection: asyncssh.SSHClientConnection, layout: KamalLayout, role: str, host: str
) -> str:
    """The name of the container playing ``role`` on the host of ``connection``, as
    ``kamal app logs`` picks it; ``LookupError`` when there is none."""
    listing = await run_command(
        connection, container_lookup_command(layout, role), LOOKUP_TIMEOUT_S, host=host
    )
    if listing.exit_status:
        raise LookupError(f"container lookup exited with status {listing.exit_status}")
    sections = split_sections(str(listing.stdout or ""))
    latest = [
        image.id for image in parse_docker_images_json(sections.get("images", ""))
        if image.tag == layout.latest_tag
    ]
    containers = parse_docker_inspect(sections.get("docker", ""))
    name = pick_container(containers, layout, role, latest)
    if name is None:
        raise LookupError(f"no running or restarting {role} container")
    return name


class SshContainerStream(FollowedStream):
    """``docker logs --follow`` of the container playing one role on one host, over
    its own SSH link.  The container is looked up at every (re)connect, as
    ``kamal app logs`` does, so a deploy's new container is followed too."""

    def __init__(
        self,
        target: SshTarget,
        service: str | KamalLayout,
        role: str,
        tail: int,
        sink: Sink,
        on_state: Callable[[StreamState], None] | None = None,
        log_tags: Sequence[str] = DEFAULT_LOG_TAGS,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            f"{target.name}/{role}", target.name, role, sink, on_state, log_tags=log_tags,
            backoff=backoff,
        )
        self.target = target
        self.layout = service if isinstance(service, KamalLayout) else KamalLayout(service)
        self.service = self.layout.service
        self.role = role
        self.tail = tail
        self.container_name = ""
        self._connection: asyncssh.SSHClientConnection | None = None
        self.connections_opened = 0

    async def _link(self) -> asyncssh.SSHClientConnection:
        """The stream's SSH link: kept while only the command ends, new once it dropped."""
        if self._connection is None or self._connection.is_closed():
            self._connection = await connect(self.target)
            self.connections_opened += 1
        return self._connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    async def open_reader(self, since: str | None) -> Reader:
        import asyncssh

        connection = await self._link()
        try:
            name = await find_container(connection, self.layout, self.role, self.target.name)
            # Lines keep the role as their container label ("app-1/web"): the
            # versioned container name changes with every deploy.
            self.container_name = name
            process = await connection.create_process(
                docker_logs_command(name, self.tail, since), encoding=None, stderr=asyncssh.STDOUT
            )
        except (LookupError, asyncssh.ProcessError):
            raise  # the host answered: the link is fine
        except SshCommandTimeout:
            await self.close()  # a link that does not answer in time is not trusted again
            raise
        except BaseException:
            if connection.is_closed():
                await self.close()
            raise
        return SshReader(connection, process)


class CommandReader(Reader):
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def read(self, size: int) -> bytes:
        assert self.process.stdout is not None
        return await self.process.stdout.read(size)

    async def finish(self) -> str:
        status = await self.process.wait()
        return f"command exited with status {status}"

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


class CommandStream(FollowedStream):
    """Any local command's output, e.g. ``bundle exec kamal app logs -f``."""

    def __init__(
        self,
        argv: Sequence[str],
        sink: Sink,
        name: str = "",
        on_state: Callable[[StreamState], None] | None = None,
        log_tags: Sequence[str] = DEFAULT_LOG_TAGS,
        backoff: Backoff | None = None,
    ) -> None:
        label = name or Path(argv[0]).name
        super().__init__(
            label, "local", label, sink, on_state, log_tags=log_tags, backoff=backoff
        )
        self.argv = list(argv)

    async def open_reader(self, since: str | None) -> Reader:
        process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return CommandReader(process)


class FileReader(Reader):
    def __init__(self, path: Path) -> None:
        self.handle = path.open("rb")

    async def read(self, size: int) -> bytes:
        return await asyncio.to_thread(self.handle.read, size)

    async def finish(self) -> str:
        await self.close()
        return "end of file"

    async def close(self) -> None:
        self.handle.close()


class FileStream(FollowedStream):
    """A saved log, replayed once (for post-incident reading and for tests)."""

    def __init__(
        self,
        path: Path,
        sink: Sink,
        host: str = "file",
        on_state: Callable[[StreamState], None] | None = None,
        log_tags: Sequence[str] = DEFAULT_LOG_TAGS,
    ) -> None:
        super().__init__(
            path.name, host, path.name, sink, on_state, reconnect=False, log_tags=log_tags
        )
        self.path = path

    async def open_reader(self, since: str | None) -> Reader:
        return FileReader(self.path)
