"""What a stand-in host answers to an SSH exec request.

A small ``sh``: it unwraps ``sh -c '…'``, runs ``;``/``&&``/``||`` sequences and
``|`` pipelines (``docker ps … | head -1 | xargs docker logs …`` is how Kamal tails
logs), ignores ``2>&1``-style redirections, and knows the commands an on-call
console runs: ``docker ps``/``logs``/``inspect``/``stats``/``image ls``, ``free``, ``df``,
``cat`` of a few ``/proc`` files (and ``find``, ``ls``, ``sha256sum`` of its real
directories), ``uptime``, ``hostname``, ``nproc``, ``pwd`` and some
text filters (``$PWD`` and ``$HOME`` are the login's home).  Anything else gets
dash's ``sh: 1: X: not found`` and status 127.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

from rainbow_tui.demo.backups import DumpMaker, PgDumpError
from rainbow_tui.demo.containers import (
    IMAGE_REPOSITORY,
    SERVICE,
    STAGING,
    Container,
    Deployment,
)
from rainbow_tui.demo.host_files import FileToolError, HostFiles, date_output
from rainbow_tui.demo.hosts_sim import SimHost
from rainbow_tui.demo.loggen import LogHub, LogStream, docker_timestamp

FOLLOW_POLL_SECONDS = 0.5


class OutputSink(Protocol):
    def write(self, data: bytes) -> None: ...
    def write_err(self, data: bytes) -> None: ...
    async def drain(self) -> None: ...
    def is_closed(self) -> bool: ...


@dataclass
class BufferSink:
    """Collects output in memory: for pipeline stages and one-shot callers."""

    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)

    def write(self, data: bytes) -> None:
        self.stdout += data

    def write_err(self, data: bytes) -> None:
        self.stderr += data

    async def drain(self) -> None:
        return None

    def is_closed(self) -> bool:
        return False


class ShellSyntaxError(ValueError):
    pass


Pipeline = list[list[str]]
_CONNECTORS = {";", "&&", "||", "&"}
_REDIRECTIONS = {">", ">>", ">&", "<", "&>", "<&"}
_OPERATOR_CHARS = frozenset("();<>|&")
# ``> FILE`` / ``>> FILE`` of standard output, kept as a last word of its command
# (a NUL cannot be in a word of a real command line).
REDIRECT_MARK = "\0>"


def parse_command_line(command: str) -> list[tuple[str, Pipeline]]:
    """Split a command line into ``(connector, pipeline)`` steps.

    The connector says when the step runs: ``;`` always, ``&&`` after success,
    ``||`` after failure.  Redirections are dropped: everything goes to the
    channel, as ``2>&1`` would arrange anyway.
    """
    # A console sends the same few command lines every poll, and shlex is slow
    # (about a millisecond for a host poll's line): parsed once, copied per run.
    return [(connector, [list(argv) for argv in pipeline])
            for connector, pipeline in _parse_command_line(command)]


@functools.lru_cache(maxsize=256)
def _parse_command_line(command: str) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    return tuple((connector, tuple(tuple(argv) for argv in pipeline))
                 for connector, pipeline in _parse_uncached(command))


def _parse_uncached(command: str) -> list[tuple[str, Pipeline]]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise ShellSyntaxError(str(exc)) from exc
    steps: list[tuple[str, Pipeline]] = []
    connector = ";"
    pipeline: Pipeline = []
    argv: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in _REDIRECTIONS:
            # "2>&1" lexes as "2", ">&", "1": drop the fd number before the operator too.
            descriptor = argv.pop() if argv and argv[-1] in ("0", "1", "2") else "1"
            target = tokens[index + 1] if index + 1 < len(tokens) else ""
            if token in (">", ">>") and descriptor == "1" and target:
                argv.append(f"{REDIRECT_MARK}{'a' if token == '>>' else 'w'}{target}")
            index += 2
            continue
        if token == "|":
            if not argv:
                raise ShellSyntaxError('"|" unexpected')
            pipeline.append(argv)
            argv = []
        elif token in _CONNECTORS:
            if argv:
                pipeline.append(argv)
            if pipeline:
                steps.append((connector, pipeline))
            elif token != ";":
                raise ShellSyntaxError(f'"{token}" unexpected')
            connector = ";" if token == "&" else token
            pipeline, argv = [], []
        elif token and all(ch in _OPERATOR_CHARS for ch in token):
            # shlex returns operators as runs of these characters; quoted words that
            # merely contain one ("a | b" in quotes) are mixed with other characters.
            raise ShellSyntaxError(f'"{token}" unexpected')
        else:
            argv.append(token)
        index += 1
    if argv:
        pipeline.append(argv)
    if pipeline:
        steps.append((connector, pipeline))
    return steps


def _matching_parenthesis(text: str, open_index: int) -> int:
    depth = 0
    quote = ""
    for index in range(open_index, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ShellSyntaxError('"$(" without its ")"')


_VARIABLE = re.compile(r"\$(?:\{(?:PWD|HOME)\}|(?:PWD|HOME)\b)")
_SUBSTITUTION_START = re.compile(r"['$]")


def image_id(image: str) -> str:
    """A stable image ID (docker's short form) for an image reference."""
    return hashlib.sha256(image.encode()).hexdigest()[:12]


def _unwrap_shell(argv: list[str]) -> str | None:
    """``sh -c 'cmd'`` (also bash, /bin/sh, ``/usr/bin/env sh``): the inner command."""
    words = argv[1:] if argv and argv[0] in ("/usr/bin/env", "env") else argv
    if len(words) >= 3 and words[0].rsplit("/", 1)[-1] in ("sh", "bash", "dash") \
            and words[1] == "-c":
        return words[2]
    return None


# -- docker --since/--until -------------------------------------------------------------

_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h))+$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_docker_time(value: str, now_ns: int | None = None) -> tuple[int, bool]:
    """Docker's ``--since``/``--until`` value as UTC nanoseconds.

    Accepts Go durations ("5m", "1h30m": that long ago), Unix timestamps with an
    optional fraction, and RFC 3339 date-times (a missing zone means UTC, the hosts'
    zone).  The flag says whether sub-second digits were given, in which case
    ``--since`` is exclusive: a reader resuming from the last stamp it saw gets only
    newer lines.
    """
    now_ns = time.time_ns() if now_ns is None else now_ns
    text = value.strip()
    if _GO_DURATION.match(text):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _GO_DURATION_PART.findall(text))
        return now_ns - int(seconds * 1e9), False
    if re.fullmatch(r"\d+(?:\.\d{1,9})?", text):
        whole, _, fraction = text.partition(".")
        return int(whole) * 1_000_000_000 + int(fraction.ljust(9, "0") or 0), bool(fraction)
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"invalid time value {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                      int(second or 0), tzinfo=tz)
    nanos = int((fraction or "").ljust(9, "0") or 0)
    return int(moment.timestamp()) * 1_000_000_000 + nanos, fraction is not None


# -- docker ps formatting -----------------------------------------------------------------

_TABLE_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
    "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}
DEFAULT_PS_FORMAT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
_TEMPLATE_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _go_json(value: object) -> str:
    """JSON as Go's encoder writes it: compact, with <, > and & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_template(template: str, fields: dict[str, str], labels: dict[str, str]) -> str:
    def action(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "json .":
            return _go_json(fields)
        label = re.fullmatch(r'\.Label\s+"([^"]*)"', expression)
        if label:
            return labels.get(label.group(1), "")
        as_json = expression.startswith("json ")
        name = expression.removeprefix("json ").strip().removeprefix(".")
        if name not in fields:
            raise ValueError(f"can't evaluate field {name}")
        return _go_json(fields[name]) if as_json else fields[name]

    return _TEMPLATE_ACTION.sub(action, template)


def tabwriter(rows: list[list[str]]) -> str:
    """Docker's table layout: Go tabwriter, min width 10, padding 3, last column free."""
    if not rows:
        return ""
    columns = max(len(r) for r in rows)
    widths = [
        max(10, *(len(r[c]) + 3 for r in rows if c < len(r) - 1)) if c < columns - 1 else 0
        for c in range(columns)
    ]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[c]) if c < len(row) - 1 else cell for c, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def write_formatted(
    sink: OutputSink,
    template: str,
    rows: list[tuple[dict[str, str], dict[str, str]]],
    headers: dict[str, str],
) -> int:
    """``--format`` as docker renders it: each row's (fields, labels) through the Go
    template, or under ``table`` a header line of column names and tabwriter's layout."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    is_table = template.startswith("table")
    body = template.removeprefix("table").strip() if is_table else template
    try:
        rendered = [render_template(body, fields, labels) for fields, labels in rows]
    except ValueError as exc:
        sink.write_err(f'template: :1: executing "" at <.>: {exc}\n'.encode())
        return 1
    if not is_table:
        sink.write("".join(line + "\n" for line in rendered).encode())
        return 0
    header = _TEMPLATE_ACTION.sub(
        lambda m: headers.get(m.group(1).removeprefix("."), m.group(1).upper()), body
    )
    sink.write(tabwriter([header.split("\t"), *(r.split("\t") for r in rendered)]).encode())
    return 0


def _matches_filters(container: Container, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "label":
            # Label filters are all required (docker ANDs them).
            for wanted in values:
                name, has_value, expected = wanted.partition("=")
                if name not in container.labels:
                    return False
                if has_value and container.labels[name] != expected:
                    return False
            continue
        # Every other key matches if any of its values does (docker ORs them).
        if key == "status":
            ok = container.state in values
        elif key == "name":
            ok = any(re.search(v, container.name) for v in values)
        elif key == "id":
            ok = any(container.id.startswith(v) for v in values)
        elif key == "ancestor":
            ok = any(
                container.image == v or container.image.split(":")[0] == v
                or (v and image_id(container.image).startswith(v))
                for v in values
            )
        else:
            raise ValueError(f"invalid filter '{key}'")
        if not ok:
            return False
    return True


class UsageError(Exception):
    pass


def _option_value(argv: list[str], index: int, name: str) -> tuple[str, int]:
    """The value of ``--name value``/``--name=value``/``-n value``; returns next index."""
    token = argv[index]
    if "=" in token and token.startswith("--"):
        return token.split("=", 1)[1], index + 1
    if index + 1 >= len(argv):
        raise UsageError(f"flag needs an argument: {name}")
    return argv[index + 1], index + 2


# -- the shell ------------------------------------------------------------------------------

CommandHandler = Callable[[list[str], bytes, OutputSink], Awaitable[int]]


class HostShell:
    """Runs commands on one stand-in host."""

    def __init__(self, host: SimHost, deployment: Deployment, hub: LogHub,
                 ssh_user: str = "deploy") -> None:
        self.host = host
        self.deployment = deployment
        self.hub = hub
        self.ssh_user = ssh_user
        self.home = f"/home/{ssh_user}"
        # The host's real directories (db-1's /backup) and the database dump tool
        # behind ``docker exec <db> pg_dump``: set by the stack where the host has them.
        self.files = HostFiles()
        self.dump_maker: DumpMaker | None = None
        self._commands: dict[str, CommandHandler] = {
            "docker": self._docker,
            "head": self._head,
            "tail": self._tail,
            "xargs": self._xargs,
            "grep": self._grep,
            "wc": self._wc,
            "free": self._free,
            "df": self._df,
            "cat": self._cat,
            "uptime": self._uptime,
            "hostname": self._simple(lambda: self.host.name + "\n"),
            "nproc": self._simple(lambda: f"{self.host.cpus}\n"),
            "whoami": self._simple(lambda: self.ssh_user + "\n"),
            "pwd": self._simple(lambda: self.home + "\n"),
            "echo": self._echo,
            "find": self._file_tool(self.files_find),
            "ls": self._file_tool(self.files_ls),
            "sha256sum": self._file_tool(lambda args: self.files.sha256sum(args)),
            "date": self._file_tool(lambda args: date_output(args)),
            "true": self._status(0),
            "false": self._status(1),
        }

    async def run(self, command: str, sink: OutputSink, stdin: bytes = b"") -> int:
        try:
            command = await self._substitute_commands(command, sink)
            steps = parse_command_line(command)
        except ShellSyntaxError as exc:
            sink.write_err(f"sh: 1: Syntax error: {exc}\n".encode())
            return 2
        status = 0
        for connector, pipeline in steps:
            if (connector == "&&" and status != 0) or (connector == "||" and status == 0):
                continue
            status = await self._run_pipeline(pipeline, sink, stdin)
        return status

    async def _substitute_commands(self, command: str, sink: OutputSink) -> str:
        """Expand ``$(…)`` outside single quotes with the inner command's output.

        Kamal's log pipeline picks the container of the ``latest`` image with
        ``--filter ancestor=$(docker image ls … --format '{{.ID}}')``.  Inside single
        quotes the text stays as it is: the ``sh -c`` it belongs to expands it later.
        """
        result: list[str] = []
        index = 0
        quoted = False
        # From one quote or dollar sign to the next: nothing else changes the text.
        while (special := _SUBSTITUTION_START.search(command, index)) is not None:
            position = special.start()
            result.append(command[index:position])
            variable = _VARIABLE.match(command, position) if not quoted else None
            if command[position] == "'":
                quoted = not quoted
            elif variable is not None:
                # $PWD and $HOME: an SSH exec starts in the login's home directory.
                result.append(self.home)
                index = variable.end()
                continue
            elif not quoted and command.startswith("$(", position):
                end = _matching_parenthesis(command, position + 1)
                inner = BufferSink()
                await self.run(command[position + 2:end], inner)
                if inner.stderr:
                    sink.write_err(bytes(inner.stderr))
                result.append(bytes(inner.stdout).decode("utf-8", "replace").strip())
                index = end + 1
                continue
            result.append(command[position])
            index = position + 1
        result.append(command[index:])
        return "".join(result)

    async def _run_pipeline(self, pipeline: Pipeline, sink: OutputSink, stdin: bytes) -> int:
        data = stdin
        status = 0
        for position, argv in enumerate(pipeline):
            last = position == len(pipeline) - 1
            stage_sink: OutputSink = sink if last else BufferSink()
            status = await self.run_argv(argv, data, stage_sink)
            if not last:
                assert isinstance(stage_sink, BufferSink)
                data = bytes(stage_sink.stdout)
                if stage_sink.stderr:
                    sink.write_err(bytes(stage_sink.stderr))
        return status

    async def run_argv(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        redirect = next((word for word in argv if word.startswith(REDIRECT_MARK)), None)
        if redirect is not None:
            return await self._run_into_file(
                [word for word in argv if not word.startswith(REDIRECT_MARK)], stdin, sink,
                redirect[len(REDIRECT_MARK) + 1:], append=redirect[len(REDIRECT_MARK)] == "a")
        while argv and argv[0] == "sudo":
            argv = argv[1:]
        if not argv:
            return 0
        inner = _unwrap_shell(argv)
        if inner is not None:
            return await self.run(inner, sink, stdin)
        name = argv[0].rsplit("/", 1)[-1] if argv[0].startswith("/") else argv[0]
        handler = self._commands.get(name)
        if handler is None:
            sink.write_err(f"sh: 1: {argv[0]}: not found\n".encode())
            return 127
        try:
            return await handler(argv, stdin, sink)
        except UsageError as exc:
            sink.write_err(f"{name}: {exc}\n".encode())
            return 1

    async def _run_into_file(self, argv: list[str], stdin: bytes, sink: OutputSink,
                             path: str, append: bool) -> int:
        """``COMMAND > PATH``: the shell opens the file first (a failure runs nothing)."""
        if path == "/dev/null":
            return await self.run_argv(argv, stdin, BufferSink())
        try:
            self.files.write(path, b"", append=True)
        except FileToolError as error:
            sink.write_err(f"{error}\n".encode())
            return error.status
        captured = BufferSink()
        status = await self.run_argv(argv, stdin, captured)
        if captured.stderr:
            sink.write_err(bytes(captured.stderr))
        self.files.write(path, bytes(captured.stdout), append=append)
        return status

    def files_find(self, args: list[str]) -> bytes:
        return self.files.find(args)

    def files_ls(self, args: list[str]) -> bytes:
        return self.files.ls(args)

    @staticmethod
    def _file_tool(produce: Callable[[list[str]], bytes]) -> CommandHandler:
        async def handler(argv: list[str], stdin: bytes, sink: OutputSink) -> int:
            try:
                sink.write(produce(argv[1:]))
            except FileToolError as error:
                sink.write_err(f"{error}\n".encode())
                return error.status
            return 0

        return handler

    # -- trivial commands ---------------------------------------------------------------

    @staticmethod
    def _simple(produce: Callable[[], str]) -> CommandHandler:
        async def handler(argv: list[str], stdin: bytes, sink: OutputSink) -> int:
            sink.write(produce().encode())
            return 0

        return handler

    @staticmethod
    def _status(code: int) -> CommandHandler:
        async def handler(argv: list[str], stdin: bytes, sink: OutputSink) -> int:
            return code

        return handler

    async def _echo(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        words = argv[1:]
        newline = True
        if words and words[0] == "-n":
            newline, words = False, words[1:]
        sink.write((" ".join(words) + ("\n" if newline else "")).encode())
        return 0

    # -- text filters -------------------------------------------------------------------

    @staticmethod
    def _line_count(argv: list[str], default: int) -> tuple[int, list[str]]:
        count = default
        rest: list[str] = []
        index = 1
        while index < len(argv):
            token = argv[index]
            if token == "-n" or token.startswith("--lines"):
                value, index = _option_value(argv, index, "n")
                count = int(value)
                continue
            if re.fullmatch(r"-n?\d+", token):
                count = int(token.lstrip("-n"))
            else:
                rest.append(token)
            index += 1
        return count, rest

    async def _head(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        count, _ = self._line_count(argv, 10)
        sink.write(b"".join(stdin.splitlines(keepends=True)[:count]))
        return 0

    async def _tail(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        count, _ = self._line_count(argv, 10)
        lines = stdin.splitlines(keepends=True)
        sink.write(b"".join(lines[-count:] if count else []))
        return 0

    async def _wc(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        lines = stdin.count(b"\n")
        summary = f"{lines}\n" if "-l" in argv else f"{lines} {len(stdin.split())} {len(stdin)}\n"
        sink.write(summary.encode())
        return 0

    async def _grep(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        flags = {a for a in argv[1:] if a.startswith("-")}
        patterns = [a for a in argv[1:] if not a.startswith("-")]
        if not patterns:
            raise UsageError("usage: grep [-ivcEF] PATTERN")
        pattern = patterns[0]
        ignore_case = any("i" in f for f in flags)
        regex = re.compile(
            re.escape(pattern) if any("F" in f for f in flags) else pattern,
            re.IGNORECASE if ignore_case else 0,
        )
        invert = any("v" in f for f in flags)
        selected = [
            line for line in stdin.splitlines(keepends=True)
            if bool(regex.search(line.decode("utf-8", "replace"))) != invert
        ]
        if any("c" in f for f in flags):
            sink.write(f"{len(selected)}\n".encode())
        else:
            sink.write(b"".join(selected))
        return 0 if selected else 1

    async def _xargs(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        words = argv[1:]
        skip_if_empty = False
        while words and words[0].startswith("-"):
            skip_if_empty |= words[0] in ("-r", "--no-run-if-empty")
            words = words[1:]
        extra = stdin.decode("utf-8", "replace").split()
        if not extra and skip_if_empty:
            return 0
        status = await self.run_argv((words or ["echo"]) + extra, b"", sink)
        if status == 127:
            return 127
        return 123 if 0 < status <= 125 else status

    # -- system tools ---------------------------------------------------------------------

    async def _free(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        unit = "k"
        for token in argv[1:]:
            mapping = {"-b": "b", "--bytes": "b", "-k": "k", "--kibi": "k", "-m": "m",
                       "--mebi": "m", "-g": "g", "--gibi": "g", "-h": "h", "--human": "h"}
            if token not in mapping and token not in ("-w", "--wide"):
                sink.write_err(f"free: invalid option -- '{token.lstrip('-')}'\n".encode())
                return 1
            unit = mapping.get(token, unit)
        sink.write(self.host.free(unit).encode())
        return 0

    async def _df(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        human = False
        paths: list[str] = []
        for token in argv[1:]:
            if token.startswith("--"):
                human |= token == "--human-readable"
            elif token.startswith("-"):
                human |= "h" in token
            else:
                paths.append(token if token.startswith("/") else f"/home/{self.ssh_user}/{token}")
        sink.write(self.host.df(paths, human).encode())
        return 0

    async def _cat(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        files = [a for a in argv[1:] if not a.startswith("-")]
        if not files:
            sink.write(stdin)
            return 0
        readers: dict[str, Callable[[], str]] = {
            "/proc/loadavg": self.host.proc_loadavg,
            "/proc/stat": self.host.proc_stat,
            "/proc/meminfo": self.host.proc_meminfo,
            "/proc/uptime": self.host.proc_uptime,
            "/etc/hostname": lambda: self.host.name + "\n",
            "/etc/os-release": lambda: _OS_RELEASE,
        }
        status = 0
        for path in files:
            reader = readers.get(path)
            if reader is None:
                data = self.files.read(path)
                if data is not None:
                    sink.write(data)
                    await sink.drain()
                    continue
                sink.write_err(f"cat: {path}: No such file or directory\n".encode())
                status = 1
                continue
            sink.write(reader().encode())
        return status

    async def _uptime(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        sink.write(self.host.uptime().encode())
        return 0

    # -- docker ---------------------------------------------------------------------------

    async def _docker(self, argv: list[str], stdin: bytes, sink: OutputSink) -> int:
        args = argv[1:]
        if args[:1] == ["container"]:
            args = args[1:]
            if args[:1] in (["ls"], ["list"]):
                args = ["ps", *args[1:]]
        if args[:2] == ["image", "inspect"]:
            sink.write_err(b"Error: image inspect is not available here\n")
            return 1
        if not args:
            sink.write_err(b"Usage:  docker [OPTIONS] COMMAND\n")
            return 1
        if args[:2] in (["image", "ls"], ["image", "list"]):
            args = ["images", *args[2:]]
        subcommand, rest = args[0], args[1:]
        if subcommand == "images":
            return self._docker_images(rest, sink)
        if subcommand == "ps":
            return self._docker_ps(rest, sink)
        if subcommand == "logs":
            return await self._docker_logs(rest, sink)
        if subcommand == "inspect":
            return self._docker_inspect(rest, sink)
        if subcommand == "stats":
            return self._docker_stats(rest, sink)
        if subcommand == "exec":
            return await self._docker_exec(rest, sink)
        sink.write_err(f"docker: '{subcommand}' is not a docker command.\n"
                       "See 'docker --help'\n".encode())
        return 1

    async def _docker_exec(self, args: list[str], sink: OutputSink) -> int:
        """``docker exec [-i] [-u USER] CONTAINER pg_dump …`` in the db accessory: the
        demo server's own pg_dump; other programs are not in the image."""
        index = 0
        while index < len(args) and args[index].startswith("-"):
            index += 2 if args[index] in ("-u", "--user", "-e", "--env", "-w", "--workdir") else 1
        if index >= len(args) - 1:
            sink.write_err(b'"docker exec" requires at least 2 arguments.\n')
            return 1
        name, program, program_args = args[index], args[index + 1], args[index + 2:]
        container = self.deployment.find(self.host.name, name)
        if container is None or not container.running:
            sink.write_err(f"Error response from daemon: No such container: {name}\n".encode())
            return 1
        if program != "pg_dump" or self.dump_maker is None:
            sink.write_err(f"OCI runtime exec failed: exec: \"{program}\": executable file "
                           "not found in $PATH: unknown\n".encode())
            return 126
        try:
            sink.write(await self.dump_maker.run_as_client(program_args))
        except PgDumpError as error:
            sink.write_err(f"{error}\n".encode())
            return 1
        return 0

    def _docker_ps(self, args: list[str], sink: OutputSink) -> int:
        show_all = quiet = latest = no_trunc = False
        last: int | None = None
        template = DEFAULT_PS_FORMAT
        filters: dict[str, list[str]] = {}
        index = 0
        try:
            while index < len(args):
                token = args[index]
                if token in ("-f", "--filter") or token.startswith("--filter="):
                    value, index = _option_value(args, index, "filter")
                    key, _, rest = value.partition("=")
                    filters.setdefault(key, []).append(rest)
                    continue
                if token == "--format" or token.startswith("--format="):
                    template, index = _option_value(args, index, "format")
                    continue
                if token in ("-n", "--last") or token.startswith("--last="):
                    value, index = _option_value(args, index, "last")
                    last = int(value)
                    continue
                if token.startswith("--"):
                    flag = token[2:]
                    if flag == "all":
                        show_all = True
                    elif flag == "quiet":
                        quiet = True
                    elif flag == "latest":
                        latest = True
                    elif flag == "no-trunc":
                        no_trunc = True
                    elif flag != "size":
                        raise UsageError(f"unknown flag: {token}")
                elif token.startswith("-"):
                    for letter in token[1:]:
                        if letter == "a":
                            show_all = True
                        elif letter == "q":
                            quiet = True
                        elif letter == "l":
                            latest = True
                        elif letter != "s":
                            raise UsageError(f"unknown shorthand flag: '{letter}' in {token}")
                else:
                    raise UsageError(f'"docker ps" accepts no arguments, got "{token}"')
                index += 1
        except (UsageError, ValueError) as exc:
            sink.write_err(f"{exc}\nSee 'docker ps --help'.\n".encode())
            return 1
        containers = sorted(self.deployment.containers.get(self.host.name, []),
                            key=lambda c: c.created_at, reverse=True)
        try:
            selected = [c for c in containers if _matches_filters(c, filters)]
        except (ValueError, re.error) as exc:
            sink.write_err(f"Error response from daemon: {exc}\n".encode())
            return 1
        # --latest/--last and a status filter include stopped containers, as docker does.
        if not (show_all or latest or last is not None or "status" in filters):
            # Restarting containers count as running (moby's State.SetRestarting).
            selected = [c for c in selected if c.active]
        if latest:
            selected = selected[:1]
        elif last is not None:
            selected = selected[:last]
        now = time.time()
        if quiet:
            sink.write("".join(
                (c.id if no_trunc else c.short_id) + "\n" for c in selected
            ).encode())
            return 0
        rows = [(c.ps_fields(now, truncate=not no_trunc), c.labels) for c in selected]
        return write_formatted(sink, template, rows, _TABLE_HEADERS)

    def _images(self) -> dict[str, str]:
        """Image reference → ID on this host; Kamal tags the booted version ``latest``."""
        references: dict[str, str] = {}
        for container in self.deployment.containers.get(self.host.name, []):
            references[container.image] = image_id(container.image)
        current = f"{self.deployment.current_version}"
        staging = self.deployment.staging_version
        for reference in list(references):
            repository, _, tag = reference.rpartition(":")
            if tag == current:
                references[f"{repository}:latest"] = references[reference]
            if staging and tag == staging:
                references[f"{repository}:latest-{STAGING}"] = references[reference]
        return references

    def _docker_images(self, args: list[str], sink: OutputSink) -> int:
        quiet = False
        template = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        references: list[str] = []
        labels: list[str] = []
        index = 0
        try:
            while index < len(args):
                token = args[index]
                if token in ("-f", "--filter") or token.startswith("--filter="):
                    value, index = _option_value(args, index, "filter")
                    key, _, wanted = value.partition("=")
                    if key == "label":
                        labels.append(wanted)
                    elif key != "reference":
                        raise UsageError(f"invalid filter '{key}'")
                    else:
                        references.append(wanted)
                    continue
                if token == "--format" or token.startswith("--format="):
                    template, index = _option_value(args, index, "format")
                    continue
                if token in ("-q", "--quiet"):
                    quiet = True
                elif token not in ("-a", "--all", "--no-trunc"):
                    references.append(token)
                index += 1
        except UsageError as exc:
            sink.write_err(f"{exc}\nSee 'docker images --help'.\n".encode())
            return 1
        rows = []
        for reference, identifier in self._images().items():
            repository, _, tag = reference.rpartition(":")
            if references and not any(
                reference == wanted or repository == wanted for wanted in references
            ):
                continue
            # Kamal builds the app's images with ``--label service=<service>``.
            image_labels = {"service": SERVICE} if repository == IMAGE_REPOSITORY else {}
            if not all(_label_matches(image_labels, wanted) for wanted in labels):
                continue
            rows.append({"Repository": repository, "Tag": tag, "ID": identifier,
                         "CreatedSince": "3 days ago", "Size": "612MB",
                         "CreatedAt": "2026-11-25 09:12:44 +0000 UTC", "Digest": "<none>"})
        if quiet:
            sink.write("".join(row["ID"] + "\n" for row in rows).encode())
            return 0
        headers = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID",
                   "CreatedSince": "CREATED", "Size": "SIZE"}
        return write_formatted(sink, template, [(row, {}) for row in rows], headers)

    def _inspect_document(self, container: Container) -> dict[str, object]:
        """What ``docker inspect`` holds of a container (the parts worth asking for)."""
        short = self._images().get(container.image, image_id(container.image))
        full = short + hashlib.sha256(short.encode()).hexdigest()[: 64 - len(short)]
        state: dict[str, object] = {
            "Status": container.state,
            "Running": container.active,
            "Paused": False,
            "Restarting": container.restarting,
            "OOMKilled": container.oom_killed,
            "Dead": False,
            "Pid": (int(container.id[:4], 16) % 30000 + 1000) if container.running else 0,
            "ExitCode": container.exit_code,
            "Error": "",
            "StartedAt": _rfc3339(container.started_at),
            "FinishedAt": _rfc3339(container.finished_at),
        }
        return {
            "Id": container.id,
            "Created": _rfc3339(container.created_at),
            "Path": container.command.split()[0],
            "State": state,
            "Image": f"sha256:{full}",
            "Name": f"/{container.name}",
            "RestartCount": container.restart_count,
            "HostConfig": {
                "Memory": container.memory_limit,
                "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
            },
            "Config": {
                "Hostname": container.short_id,
                "Image": container.image,
                "Labels": dict(container.labels) or None,
            },
        }

    def _docker_inspect(self, args: list[str], sink: OutputSink) -> int:
        template: str | None = None
        names: list[str] = []
        index = 0
        try:
            while index < len(args):
                token = args[index]
                if token in ("-f", "--format") or token.startswith("--format="):
                    template, index = _option_value(args, index, "format")
                    continue
                if token in ("--type",) or token.startswith("--type="):
                    _, index = _option_value(args, index, "type")
                    continue
                if token.startswith("-"):
                    raise UsageError(f"unknown flag: {token}")
                names.append(token)
                index += 1
        except UsageError as exc:
            sink.write_err(f"{exc}\nSee 'docker inspect --help'.\n".encode())
            return 1
        if not names:
            sink.write_err(b'"docker inspect" requires at least 1 argument.\n'
                           b"See 'docker inspect --help'.\n")
            return 1
        documents: list[dict[str, object]] = []
        status = 0
        for name in names:
            container = self.deployment.find(self.host.name, name)
            if container is None:
                sink.write_err(f"Error: No such object: {name}\n".encode())
                status = 1
                continue
            documents.append(self._inspect_document(container))
        if template is None:
            sink.write((json.dumps(documents, indent=4) + "\n").encode())
            return status
        try:
            sink.write("".join(
                render_document(template, document) + "\n" for document in documents
            ).encode())
        except ValueError as exc:
            sink.write_err(f'template: :1: executing "" at <.>: {exc}\n'.encode())
            return 1
        return status

    def _docker_stats(self, args: list[str], sink: OutputSink) -> int:
        """``docker stats --no-stream``: memory and CPU of the active containers,
        ``--`` for one that is not running (restarting), as the docker CLI prints."""
        template = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
                    "\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}")
        streaming = True
        names: list[str] = []
        index = 0
        try:
            while index < len(args):
                token = args[index]
                if token == "--format" or token.startswith("--format="):
                    template, index = _option_value(args, index, "format")
                    continue
                if token == "--no-stream":
                    streaming = False
                elif token in ("-a", "--all", "--no-trunc"):
                    pass
                elif token.startswith("-"):
                    raise UsageError(f"unknown flag: {token}")
                else:
                    names.append(token)
                index += 1
        except UsageError as exc:
            sink.write_err(f"{exc}\nSee 'docker stats --help'.\n".encode())
            return 1
        if streaming:
            sink.write_err(b"docker stats: only --no-stream is available here\n")
            return 1
        containers = [c for c in self.deployment.containers.get(self.host.name, []) if c.active]
        if names:
            containers = [c for c in containers if c.name in names or c.id.startswith(
                tuple(names))]
        rows = [self._stats_row(container) for container in containers]
        headers = {"ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
                   "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
                   "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
        return write_formatted(sink, template, [(row, {}) for row in rows], headers)

    def _stats_row(self, container: Container) -> dict[str, str]:
        base = {"ID": container.short_id, "Name": container.name, "Container": container.short_id}
        if not container.running:
            return {**base, "CPUPerc": "--", "MemUsage": "-- / --", "MemPerc": "--",
                    "NetIO": "-- / --", "BlockIO": "-- / --", "PIDs": "--"}
        share = _MEMORY_SHARES.get(container.kind, 0.02)
        if container.destination:
            share /= 4  # staging takes little traffic
        host_total = self.host.mem_total_kib * 1024
        used = host_total * self.host.memory_percent() / 100 * share
        limit = container.memory_limit or host_total
        used = min(used, limit * 0.995)
        cpu = self.host.cpu_percent() * self.host.cpus * share
        age = max(1.0, time.time() - (container.started_at or container.created_at))
        return {
            **base,
            "CPUPerc": f"{cpu:.2f}%",
            "MemUsage": f"{_bytes_size(used)} / {_bytes_size(limit)}",
            "MemPerc": f"{used / limit * 100:.2f}%",
            "NetIO": f"{_human_size(age * 2100)} / {_human_size(age * 9800)}",
            "BlockIO": f"{_human_size(age * 300)} / {_human_size(age * 40)}",
            "PIDs": str(_PIDS.get(container.kind, 4)),
        }

    async def _docker_logs(self, args: list[str], sink: OutputSink) -> int:
        timestamps = follow = False
        tail: int | None = None
        since: tuple[int, bool] | None = None
        until: int | None = None
        names: list[str] = []
        index = 0
        try:
            while index < len(args):
                token = args[index]
                if token in ("-n", "--tail") or token.startswith("--tail="):
                    value, index = _option_value(args, index, "tail")
                    tail = None if value == "all" else int(value)
                    continue
                if token == "--since" or token.startswith("--since="):
                    value, index = _option_value(args, index, "since")
                    since = parse_docker_time(value)
                    continue
                if token == "--until" or token.startswith("--until="):
                    value, index = _option_value(args, index, "until")
                    until = parse_docker_time(value)[0]
                    continue
                if token in ("-t", "--timestamps"):
                    timestamps = True
                elif token in ("-f", "--follow"):
                    follow = True
                elif token in ("-tf", "-ft"):
                    timestamps = follow = True
                elif token == "--details":
                    pass
                elif token.startswith("-"):
                    raise UsageError(f"unknown flag: {token}")
                else:
                    names.append(token)
                index += 1
        except (UsageError, ValueError) as exc:
            sink.write_err(f"{exc}\nSee 'docker logs --help'.\n".encode())
            return 1
        if len(names) != 1:
            sink.write_err(b'"docker logs" requires exactly 1 argument.\n'
                           b"See 'docker logs --help'.\n")
            return 1
        container = self.deployment.find(self.host.name, names[0])
        if container is None:
            sink.write_err(f"Error response from daemon: No such container: {names[0]}\n".encode())
            return 1
        stream = self.hub.stream_for(container.id)
        if stream is None:
            return 0  # created before the demo started: no log kept
        entries, next_seq = stream.select(
            tail=tail,
            since_ns=since[0] if since else None,
            since_inclusive=not since[1] if since else True,
            until_ns=until,
        )
        self._write_entries(entries, timestamps, sink)
        await sink.drain()
        # docker follows only a running container; one that is restarting (between
        # two crashes) prints what it has and ends.
        if follow and until is None and container.running:
            await self._follow(stream, next_seq, timestamps, sink)
        return 0

    @staticmethod
    def _write_entries(entries: list[tuple[int, bytes]], timestamps: bool,
                       sink: OutputSink) -> None:
        if not entries:
            return
        if timestamps:
            sink.write(b"".join(
                docker_timestamp(ts).encode() + b" " + data for ts, data in entries
            ))
        else:
            sink.write(b"".join(data for _, data in entries))

    async def _follow(self, stream: LogStream, seq: int, timestamps: bool,
                      sink: OutputSink) -> None:
        while not sink.is_closed():
            entries, seq = stream.read_from(seq)
            if entries:
                self._write_entries(entries, timestamps, sink)
                await sink.drain()
                continue
            if stream.closed:
                return  # the container stopped: docker ends the follow too
            await stream.wait_beyond(seq, FOLLOW_POLL_SECONDS)


# Share of the host's used memory each kind of container holds (the rest is the OS).
_MEMORY_SHARES = {"web": 0.22, "job": 0.12, "proxy": 0.01, "db": 0.55}
_PIDS = {"web": 14, "job": 9, "proxy": 9, "db": 12}


def _rfc3339(moment: float | None) -> str:
    """Docker's stamps: UTC, nanoseconds; the zero time when never set."""
    if moment is None:
        return "0001-01-01T00:00:00Z"
    whole = int(moment)
    nanos = round((moment - whole) * 1e9) % 1_000_000_000
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _bytes_size(value: float) -> str:
    """docker's units.BytesSize: powers of 1024, ``%.4g``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.4g}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _human_size(value: float) -> str:
    """docker's units.HumanSizeWithPrecision(…, 3): powers of 1000."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if value < 1000 or unit == "PB":
            return f"{value:.3g}{unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _label_matches(labels: dict[str, str], wanted: str) -> bool:
    name, has_value, expected = wanted.partition("=")
    return name in labels and (not has_value or labels[name] == expected)


def _lookup(document: object, path: str) -> object:
    value = document
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict) or part not in value:
            raise ValueError(f"map has no entry for key \"{part}\"")
        value = value[part]
    return value


def _go_text(value: object) -> str:
    """How a Go template prints a value: maps as map[k:v], nil as <no value>."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def render_document(template: str, document: dict[str, object]) -> str:
    """A ``docker inspect --format`` template: ``{{json .A.B}}`` and ``{{.A.B}}``."""
    def action(match: re.Match[str]) -> str:
        expression = match.group(1)
        as_json = expression.startswith("json ")
        path = expression.removeprefix("json ").strip()
        if not path.startswith("."):
            raise ValueError(f"function {path.split()[0]!r} not defined")
        value = _lookup(document, path[1:])
        if as_json:
            # Go's encoder sorts map keys; nil maps are null.
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
            return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return _go_text(value)

    return _TEMPLATE_ACTION.sub(action, template)


_OS_RELEASE = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
"""
