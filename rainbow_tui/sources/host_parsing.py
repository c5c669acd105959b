"""Parsers for the output of host commands run over SSH.

``/proc/meminfo``, ``free -m``, ``/proc/stat``, ``/proc/loadavg``, ``df``,
``docker ps --format '{{json .}}'``, ``docker inspect --format INSPECT_FORMAT``,
``docker image ls --format '{{json .}}'`` and ``docker stats --no-stream --format
'{{json .}}'``.  The text comes from a remote host and is
untrusted: every parser either returns a typed value or raises
:class:`HostParseError` with a message saying what it could not understand,
never any other exception.  Commands are expected to run with ``LC_ALL=C``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "INSPECT_FORMAT",
    "ContainerInfo",
    "ContainerList",
    "ContainerStats",
    "CpuTimes",
    "DiskUsage",
    "HostParseError",
    "ImageInfo",
    "LoadAvg",
    "MemInfo",
    "cpu_percent",
    "parse_byte_size",
    "parse_df",
    "parse_docker_images_json",
    "parse_docker_inspect",
    "parse_docker_ps_json",
    "parse_docker_stats_json",
    "parse_free_m",
    "parse_labels",
    "parse_loadavg",
    "parse_meminfo",
    "parse_proc_stat",
]

# Shown in error messages; remote text can be huge, the operator needs a hint.
_EXCERPT_CHARS: Final = 80


class HostParseError(ValueError):
    """Host command output that a parser cannot understand."""


def _excerpt(text: str) -> str:
    shown = text.strip()
    if len(shown) > _EXCERPT_CHARS:
        shown = shown[:_EXCERPT_CHARS] + "…"
    return repr(shown)


# Far above any real counter (2**64 has 20 digits), far below int()'s 4300-digit
# limit, whose ValueError would otherwise escape as something else.
_MAX_DIGITS: Final = 30


def _parse_int(token: str, what: str) -> int:
    # int() also accepts "1_000", " 5" and non-ASCII digits; remote counters are
    # plain ASCII digits, anything else means we misread the output.
    if not token.isascii() or not token.isdigit() or len(token) > _MAX_DIGITS:
        raise HostParseError(f"{what}: expected a non-negative integer, got {_excerpt(token)}")
    return int(token)


# -- memory -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MemInfo:
    total_kb: int
    available_kb: int
    used_percent: float


def _mem_info(total_kb: int, available_kb: int, source: str) -> MemInfo:
    if total_kb <= 0:
        raise HostParseError(f"{source}: total memory is {total_kb}")
    if available_kb > total_kb:
        raise HostParseError(
            f"{source}: available memory {available_kb} kB exceeds total {total_kb} kB"
        )
    used_percent = 100.0 * (total_kb - available_kb) / total_kb
    return MemInfo(total_kb=total_kb, available_kb=available_kb, used_percent=used_percent)


_MEMINFO_LINE = re.compile(r"([A-Za-z0-9_()]+):\s*(\d{1,30})(?:\s+kB)?\s*", re.ASCII)


def parse_meminfo(text: str) -> MemInfo:
    """``/proc/meminfo``; available memory is ``MemAvailable`` (kernel ≥ 3.14),
    else ``MemFree + Buffers + Cached``."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = _MEMINFO_LINE.fullmatch(line)
        if match is not None:
            values[match.group(1)] = int(match.group(2))
    if "MemTotal" not in values:
        raise HostParseError(f"/proc/meminfo: no MemTotal line in {_excerpt(text)}")
    if "MemAvailable" in values:
        available = values["MemAvailable"]
    elif "MemFree" in values:
        available = values["MemFree"] + values.get("Buffers", 0) + values.get("Cached", 0)
    else:
        raise HostParseError("/proc/meminfo: neither MemAvailable nor MemFree present")
    return _mem_info(values["MemTotal"], available, "/proc/meminfo")


_KB_PER_MB: Final = 1024


def parse_free_m(text: str) -> MemInfo:
    """``free -m`` (procps ≥ 3.3.10 with an ``available`` column, or older
    ones with ``buffers``/``cached``; ``-w`` wide output too)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header: list[str] | None = None
    for line in lines:
        tokens = line.split()
        if tokens[0] == "total":
            header = tokens
            continue
        if tokens[0] == "Mem:":
            if header is None:
                raise HostParseError(f"free -m: 'Mem:' row before the header in {_excerpt(text)}")
            values = tokens[1:]
            if len(values) != len(header):
                raise HostParseError(
                    f"free -m: 'Mem:' row has {len(values)} values for {len(header)} columns"
                )
            columns = {
                name: _parse_int(value, f"free -m column {name!r}")
                for name, value in zip(header, values, strict=True)
            }
            return _mem_info_from_free_columns(columns)
    raise HostParseError(f"free -m: no 'Mem:' row in {_excerpt(text)}")


def _mem_info_from_free_columns(columns: dict[str, int]) -> MemInfo:
    if "total" not in columns:
        raise HostParseError("free -m: no 'total' column")
    if "available" in columns:
        available_mb = columns["available"]
    elif "free" in columns:
        cache = columns.get("buff/cache", columns.get("buffers", 0) + columns.get("cached", 0))
        available_mb = columns["free"] + cache
    else:
        raise HostParseError("free -m: neither an 'available' nor a 'free' column")
    return _mem_info(columns["total"] * _KB_PER_MB, available_mb * _KB_PER_MB, "free -m")


# -- CPU --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Cumulative CPU time since boot, in clock ticks (USER_HZ)."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int = 0
    irq: int = 0
    softirq: int = 0
    steal: int = 0

    @property
    def total(self) -> int:
        # guest time is already included in user and nice, so it is not added.
        return (
            self.user + self.nice + self.system + self.idle
            + self.iowait + self.irq + self.softirq + self.steal
        )

    @property
    def idle_total(self) -> int:
        return self.idle + self.iowait


_CPU_FIELDS: Final = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def parse_proc_stat(text: str) -> CpuTimes:
    """The aggregate ``cpu`` line of ``/proc/stat`` (at least four counters)."""
    for line in text.splitlines():
        tokens = line.split()
        if tokens and tokens[0] == "cpu":
            counters = tokens[1 : 1 + len(_CPU_FIELDS)]
            if len(counters) < 4:
                raise HostParseError(
                    f"/proc/stat: 'cpu' line has {len(counters)} counters, need 4: "
                    f"{_excerpt(line)}"
                )
            values = [_parse_int(token, "/proc/stat cpu counter") for token in counters]
            return CpuTimes(*values)
    raise HostParseError(f"/proc/stat: no aggregate 'cpu' line in {_excerpt(text)}")


def cpu_percent(prev: CpuTimes, cur: CpuTimes) -> float | None:
    """Busy share of the CPU between two samples, or None when it is unknowable:
    no time passed, or a counter went backwards (the host rebooted)."""
    for name in _CPU_FIELDS:
        if getattr(cur, name) < getattr(prev, name):
            return None
    elapsed = cur.total - prev.total
    if elapsed <= 0:
        return None
    idle = cur.idle_total - prev.idle_total
    return 100.0 * (elapsed - idle) / elapsed


# -- load average -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadAvg:
    one: float
    five: float
    fifteen: float
    runnable: int | None = None
    total_tasks: int | None = None


_LOADAVG = re.compile(
    r"\s*(\d{1,9}(?:\.\d{1,9})?)\s+(\d{1,9}(?:\.\d{1,9})?)\s+(\d{1,9}(?:\.\d{1,9})?)"
    r"(?:\s+(\d{1,20})/(\d{1,20}))?(?:\s+\d{1,20})?\s*",
    re.ASCII,
)


def parse_loadavg(text: str) -> LoadAvg:
    """``/proc/loadavg``: ``0.52 0.58 0.59 1/389 12345``."""
    match = _LOADAVG.fullmatch(text)
    if match is None:
        raise HostParseError(f"/proc/loadavg: cannot read {_excerpt(text)}")
    one, five, fifteen, runnable, total = match.groups()
    return LoadAvg(
        one=float(one),
        five=float(five),
        fifteen=float(fifteen),
        runnable=None if runnable is None else int(runnable),
        total_tasks=None if total is None else int(total),
    )


# -- df -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """One ``df`` row; sizes keep df's own text (``20G`` or 1K-block counts)."""

    filesystem: str
    size: str
    used: str
    available: str
    use_percent: float
    mount: str


_DF_HEADER = re.compile(r"\s*(Filesystem|ファイルシス)")
_DF_SIZE = re.compile(r"\d+(?:[.,]\d+)?[KMGTPEZYkB]?(?:i?B)?|-", re.ASCII)
_DF_PERCENT = re.compile(r"(\d{1,3})%|-", re.ASCII)
_TOKEN = re.compile(r"\S+", re.ASCII)


def parse_df(text: str) -> list[DiskUsage]:
    """``df -h``, ``df -P`` or ``df -k`` output.

    A filesystem name too long for its column is wrapped onto its own line by
    non-POSIX df; mount points may contain spaces.  Rows whose use is ``-``
    (pseudo filesystems without capacity) are left out, and ``df: …`` warnings
    mixed in from stderr are skipped.
    """
    lines = text.splitlines()
    position = 0
    while position < len(lines) and not lines[position].strip():
        position += 1
    if position == len(lines):
        raise HostParseError("df: empty output")
    if _DF_HEADER.match(lines[position]) is None:
        raise HostParseError(f"df: no 'Filesystem' header in {_excerpt(lines[position])}")

    usages: list[DiskUsage] = []
    wrapped_filesystem: str | None = None
    for number, line in enumerate(lines[position + 1 :], start=position + 2):
        if not line.strip() or line.startswith("df: "):
            continue
        tokens = list(_TOKEN.finditer(line))
        if wrapped_filesystem is None and len(tokens) == 1 and not line[0].isspace():
            wrapped_filesystem = tokens[0].group()
            continue
        row = _parse_df_row(line, tokens, wrapped_filesystem)
        if row is None:
            raise HostParseError(f"df: cannot read line {number}: {_excerpt(line)}")
        wrapped_filesystem = None
        if row.use_percent is not None:
            usages.append(
                DiskUsage(
                    filesystem=row.filesystem,
                    size=row.size,
                    used=row.used,
                    available=row.available,
                    use_percent=row.use_percent,
                    mount=row.mount,
                )
            )
    if wrapped_filesystem is not None:
        raise HostParseError(f"df: filesystem {_excerpt(wrapped_filesystem)} has no sizes")
    return usages


@dataclass(frozen=True, slots=True)
class _DfRow:
    filesystem: str
    size: str
    used: str
    available: str
    use_percent: float | None  # None for "-": no capacity to measure
    mount: str


def _parse_df_row(
    line: str, tokens: list[re.Match[str]], wrapped_filesystem: str | None
) -> _DfRow | None:
    """One data row (its name possibly on the line before), None if unreadable."""
    # Without a wrapped name the filesystem takes at least the first token.
    first_size = 0 if wrapped_filesystem is not None else 1
    for percent_at in range(first_size + 3, len(tokens) - 1):
        percent = _DF_PERCENT.fullmatch(tokens[percent_at].group())
        sizes = tokens[percent_at - 3 : percent_at]
        if percent is None or not all(_DF_SIZE.fullmatch(size.group()) for size in sizes):
            continue
        if wrapped_filesystem is not None:
            if percent_at != 3:
                return None
            filesystem = wrapped_filesystem
        else:
            # Keep inner spaces of a filesystem name ("map auto_home").
            filesystem = line[: sizes[0].start()].strip()
        use = percent.group(1)
        return _DfRow(
            filesystem=filesystem,
            size=sizes[0].group(),
            used=sizes[1].group(),
            available=sizes[2].group(),
            use_percent=None if use is None else float(use),
            # Everything after the use column, inner spaces included.
            mount=line[tokens[percent_at + 1].start() :].rstrip(),
        )
    return None


# -- docker ps ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """One container from ``docker ps --format '{{json .}}'``.

    ``service``, ``role`` and ``destination`` come from Kamal's labels;
    ``version`` from the Kamal container name
    ``<service>-<role>[-<destination>]-<version>``, else from the image tag.
    """

    id: str
    image: str
    names: str
    state: str
    status: str
    labels: Mapping[str, str]
    service: str | None
    role: str | None
    destination: str | None
    version: str | None
    # From ``docker inspect`` (empty / None from ``docker ps``).
    image_id: str = ""  # "sha256:<64 hex>"
    created: str = ""  # RFC 3339, UTC: sorts as text
    restart_count: int | None = None
    oom_killed: bool = False
    exit_code: int | None = None
    started_at: str = ""
    finished_at: str = ""
    memory_limit: int | None = None  # bytes; None or 0: no limit

    @property
    def name(self) -> str:
        """The first name (``Names`` lists several for linked containers)."""
        return self.names.split(",", 1)[0]

    @property
    def short_id(self) -> str:
        return self.id[:12]


class ContainerList(list[ContainerInfo]):
    """The parsed containers, plus how many lines could not be read."""

    __slots__ = ("skipped_lines",)

    def __init__(self, containers: list[ContainerInfo], skipped_lines: int) -> None:
        super().__init__(containers)
        self.skipped_lines = skipped_lines


def parse_labels(text: str) -> dict[str, str]:
    """Docker's ``k=v,k=v`` label list.

    Values may contain ``=``; docker does not escape ``,`` either, so a piece
    without ``=`` is taken to continue the previous value.
    """
    labels: dict[str, str] = {}
    last_key: str | None = None
    for piece in text.split(","):
        key, equals, value = piece.partition("=")
        if equals and key:
            labels[key] = value
            last_key = key
        elif last_key is not None:
            labels[last_key] += "," + piece
    return labels


def _image_tag(image: str) -> str | None:
    image = image.split("@", 1)[0]
    repository, colon, tag = image.rpartition(":")
    if not colon or not repository or not tag or "/" in tag:
        return None
    return tag


def _kamal_version(
    name: str, service: str | None, role: str | None, destination: str | None
) -> str | None:
    if not service or not role:
        return None
    prefix = f"{service}-{role}-"
    if destination:
        prefix += f"{destination}-"
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    return name[len(prefix) :]


def _json_object(line: str) -> dict[str, object] | None:
    """One line of docker's ``{{json .}}`` output as an object; None for anything else
    (remote text: not JSON, too deeply nested, or not an object)."""
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _container_from_json(line: str) -> ContainerInfo | None:
    document = _json_object(line)
    if document is None:
        return None
    texts: dict[str, str] = {}
    for key in ("ID", "Image", "Names", "State", "Status", "Labels"):
        value = document.get(key, "")
        if not isinstance(value, str):
            return None
        texts[key] = value
    if not texts["ID"] or not texts["Names"]:
        return None
    labels = parse_labels(texts["Labels"])
    service = labels.get("service") or None
    role = labels.get("role") or None
    destination = labels.get("destination") or None
    name = texts["Names"].split(",", 1)[0]
    version = _kamal_version(name, service, role, destination) or _image_tag(texts["Image"])
    return ContainerInfo(
        id=texts["ID"],
        image=texts["Image"],
        names=texts["Names"],
        state=texts["State"],
        status=texts["Status"],
        labels=MappingProxyType(labels),
        service=service,
        role=role,
        destination=destination,
        version=version,
    )


def parse_docker_ps_json(text: str) -> ContainerList:
    """``docker ps --format '{{json .}}'``: one JSON object per line.

    A line that is not a container object is skipped and counted in
    ``skipped_lines``; only output with no readable line at all (a docker
    error message, say) raises :class:`HostParseError`.
    """
    return _parse_lines(text, _container_from_json, "docker ps")


# -- docker inspect -----------------------------------------------------------------------

# One compact object per container instead of the whole inspect document (~10 kB):
# what the dashboard needs, crash-loop evidence included.  ``.State`` holds Status,
# Restarting, OOMKilled, ExitCode, StartedAt and FinishedAt (moby's container.State).
INSPECT_FORMAT = (
    '{"Id":{{json .Id}},"Name":{{json .Name}},"Created":{{json .Created}},'
    '"Image":{{json .Image}},"ConfigImage":{{json .Config.Image}},'
    '"Labels":{{json .Config.Labels}},"State":{{json .State}},'
    '"RestartCount":{{json .RestartCount}},"Memory":{{json .HostConfig.Memory}}}'
)


def _text_field(document: dict[str, object], key: str) -> str | None:
    value = document.get(key, "")
    if value is None:
        return ""
    return value if isinstance(value, str) else None


def _int_field(document: dict[str, object], key: str) -> int | None:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _container_from_inspect(line: str) -> ContainerInfo | None:
    document = _json_object(line)
    if document is None:
        return None
    texts: dict[str, str] = {}
    for key in ("Id", "Name", "Created", "Image", "ConfigImage"):
        value = _text_field(document, key)
        if value is None:
            return None
        texts[key] = value
    raw_labels = document.get("Labels") or {}
    state = document.get("State") or {}
    if not isinstance(raw_labels, dict) or not isinstance(state, dict):
        return None
    labels = {str(k): v for k, v in raw_labels.items() if isinstance(v, str)}
    status = _text_field(state, "Status") or ""
    name = texts["Name"].removeprefix("/")
    if not texts["Id"] or not name:
        return None
    service = labels.get("service") or None
    role = labels.get("role") or None
    destination = labels.get("destination") or None
    version = _kamal_version(name, service, role, destination) or _image_tag(texts["ConfigImage"])
    exit_code = _int_field(state, "ExitCode")
    restart_count = _int_field(document, "RestartCount")
    memory = _int_field(document, "Memory")
    return ContainerInfo(
        id=texts["Id"],
        image=texts["ConfigImage"],
        names=name,
        state=status,
        status=status,
        labels=MappingProxyType(labels),
        service=service,
        role=role,
        destination=destination,
        version=version,
        image_id=texts["Image"],
        created=texts["Created"],
        restart_count=restart_count if restart_count is None or restart_count >= 0 else None,
        oom_killed=state.get("OOMKilled") is True,
        exit_code=exit_code,
        started_at=_text_field(state, "StartedAt") or "",
        finished_at=_text_field(state, "FinishedAt") or "",
        memory_limit=memory if memory and memory > 0 else None,
    )


def parse_docker_inspect(text: str) -> ContainerList:
    """``docker inspect --format INSPECT_FORMAT``: one object per line; unreadable
    lines are skipped and counted, only output without any container raises."""
    return _parse_lines(text, _container_from_inspect, "docker inspect")


def _parse_lines(text: str, read: Callable[[str], ContainerInfo | None], what: str
                 ) -> ContainerList:
    containers: list[ContainerInfo] = []
    skipped = 0
    first_bad: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        container = read(line)
        if container is None:
            skipped += 1
            first_bad = first_bad if first_bad is not None else line
        else:
            containers.append(container)
    if first_bad is not None and not containers:
        raise HostParseError(f"{what}: no container in the output; {_excerpt(first_bad)}")
    return ContainerList(containers, skipped)


# -- docker image ls ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageInfo:
    id: str  # short ID, as ``docker image ls`` prints it
    repository: str
    tag: str


def parse_docker_images_json(text: str) -> list[ImageInfo]:
    """``docker image ls --format '{{json .}}'``; lines that are not images are skipped."""
    images: list[ImageInfo] = []
    for line in text.splitlines():
        document = _json_object(line)
        if document is None:
            continue
        fields = [document.get(key) for key in ("ID", "Repository", "Tag")]
        if all(isinstance(value, str) for value in fields) and fields[0]:
            image_id, repository, tag = (str(value) for value in fields)
            images.append(ImageInfo(image_id, repository, tag))
    return images


# -- docker stats ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """One row of ``docker stats --no-stream --format '{{json .}}'``; ``None`` where
    docker prints ``--`` (a container that is not running, e.g. restarting)."""

    id: str
    name: str
    cpu_percent: float | None
    memory_percent: float | None
    memory_used: int | None  # bytes
    memory_limit: int | None  # bytes: the container's limit, else the host's memory
    pids: int | None


# docker's units.BytesSize (binary, "%.4g") for memory; HumanSize (decimal) elsewhere.
_SIZE_UNITS: Final = {
    "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5,
    "EiB": 1024**6, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
    "PB": 1000**5, "EB": 1000**6,
}
_SIZE: Final = re.compile(r"(\d{1,20}(?:\.\d{1,20})?(?:e[+-]?\d{1,3})?)\s?([KMGTPE]i?B|kB|B)",
                          re.ASCII)
_PERCENT: Final = re.compile(r"(\d{1,20}(?:\.\d{1,20})?)%", re.ASCII)


def parse_byte_size(text: str) -> int:
    """``3.312MiB``, ``7.667GiB``, ``0B``, ``1.5kB`` as bytes."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise HostParseError(f"docker stats: not a size: {_excerpt(text)}")
    return round(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def _percent(text: object) -> float | None:
    if not isinstance(text, str):
        raise HostParseError(f"docker stats: not a percentage: {_excerpt(str(text))}")
    if text.strip() == "--":
        return None
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        raise HostParseError(f"docker stats: not a percentage: {_excerpt(text)}")
    return float(match.group(1))


def _stats_from_json(line: str) -> ContainerStats | None:
    document = _json_object(line)
    if document is None:
        return None
    identifier = document.get("ID")
    name = document.get("Name", "")
    usage = document.get("MemUsage", "")
    pids = document.get("PIDs", "--")
    if not isinstance(identifier, str) or not identifier or not isinstance(name, str) \
            or not isinstance(usage, str) or not isinstance(pids, str):
        return None
    try:
        cpu = _percent(document.get("CPUPerc", "--"))
        memory = _percent(document.get("MemPerc", "--"))
        used_text, slash, limit_text = usage.partition("/")
        used = limit = None
        if slash and used_text.strip() != "--":
            used, limit = parse_byte_size(used_text), parse_byte_size(limit_text)
        elif usage.strip() not in ("", "--", "-- / --"):
            return None
        pid_count = None if pids.strip() == "--" else _parse_int(pids.strip(), "docker stats PIDs")
    except HostParseError:
        return None
    return ContainerStats(identifier, name, cpu, memory, used, limit, pid_count)


def parse_docker_stats_json(text: str) -> list[ContainerStats]:
    """``docker stats --no-stream --format '{{json .}}'``.  Unreadable lines are
    skipped; only output with none readable at all raises."""
    rows: list[ContainerStats] = []
    first_bad: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        row = _stats_from_json(line)
        if row is None:
            first_bad = first_bad if first_bad is not None else line
        else:
            rows.append(row)
    if first_bad is not None and not rows:
        raise HostParseError(f"docker stats: no container in the output; {_excerpt(first_bad)}")
    return rows
