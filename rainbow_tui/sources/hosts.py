"""The hosts over SSH: memory, CPU, disk, load, and the Kamal containers with their
state (restarting, RestartCount, OOMKilled, exit code) and memory / CPU use.

All hosts are polled concurrently; each keeps one SSH connection open between polls
(``rainbow_tui.ssh.connect``: keepalive on, host keys always verified against
known_hosts) and runs its commands in one channel on it, every interpolated value
quoted.  CPU use needs two readings of ``/proc/stat``: the
first poll of a host reports it as unknown, later polls use the delta.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rainbow_tui.sources.host_parsing import (
    INSPECT_FORMAT,
    ContainerInfo,
    ContainerStats,
    CpuTimes,
    DiskUsage,
    HostParseError,
    LoadAvg,
    cpu_percent,
    parse_df,
    parse_docker_images_json,
    parse_docker_inspect,
    parse_docker_stats_json,
    parse_loadavg,
    parse_meminfo,
    parse_proc_stat,
)
from rainbow_tui.sources.kamal_containers import HostPath, KamalLayout, data_disk
from rainbow_tui.ssh import SshTarget, connect, describe_ssh_error, run_command, shell_word

__all__ = [
    "COMMAND_TIMEOUT_S",
    "SECTION_MARK",
    "HostProbe",
    "HostSnapshot",
    "HostsSource",
    "SshTarget",
    "describe_ssh_error",
    "split_sections",
]

if TYPE_CHECKING:
    import asyncssh

COMMAND_TIMEOUT_S = 10.0
SECTION_MARK = "@@rainbow-tui:"


def split_sections(output: str) -> dict[str, str]:
    """The outputs of a marked command sequence, by section name."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines(keepends=True):
        if line.startswith(SECTION_MARK):
            current = sections.setdefault(line[len(SECTION_MARK) :].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "".join(lines) for name, lines in sections.items() if lines}


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    taken_at: datetime
    name: str
    roles: tuple[str, ...]
    error: str | None = None
    memory_percent: float | None = None
    cpu_percent: float | None = None
    load: LoadAvg | None = None
    disks: tuple[DiskUsage, ...] = ()
    containers: tuple[ContainerInfo, ...] = ()
    # Commands that answered but could not be understood, with why.
    problems: tuple[str, ...] = field(default_factory=tuple)
    # ``docker stats`` rows by short container ID.
    stats: Mapping[str, ContainerStats] = field(default_factory=dict)
    # Short IDs of the images tagged ``latest[-destination]`` (Kamal's current image).
    latest_image_ids: tuple[str, ...] = ()
    # The mount point of the filesystem holding the database's data, if this host has it.
    data_mount: str | None = None
    # What the probe looked for (service, destination, accessories).
    layout: KamalLayout | None = None

    def disk_percent(self, mount: str) -> float | None:
        return next((disk.use_percent for disk in self.disks if disk.mount == mount), None)

    def stats_of(self, container: ContainerInfo) -> ContainerStats | None:
        return self.stats.get(container.short_id)


class HostProbe:
    """One host: its connection, and the last CPU counters for the delta.

    ``data_path`` is where the database keeps its data on this host (the db
    accessory's directory, or ``[database] data_volume``); the disk holding it is
    the DB data disk.
    """

    def __init__(
        self,
        target: SshTarget,
        layout: KamalLayout | str,
        data_volume: str = "",
        data_path: HostPath | None = None,
    ) -> None:
        self.target = target
        self.layout = layout if isinstance(layout, KamalLayout) else KamalLayout(layout)
        self.service = self.layout.service
        self.data_path = data_path or (HostPath(data_volume) if data_volume else None)
        self._connection: asyncssh.SSHClientConnection | None = None
        self._last_cpu: CpuTimes | None = None

    async def poll(self) -> HostSnapshot:
        taken_at = datetime.now(UTC)
        target = self.target
        try:
            if self._connection is None:
                self._connection = await connect(target)
            result = await run_command(
                self._connection, self._command(), COMMAND_TIMEOUT_S, host=target.name
            )
        except Exception as error:  # a failed poll is data (asyncssh's errors share no base)
            await self.close()
            # The host's own row names the host: the reason without it.
            reason = describe_ssh_error(error, target.name, seen_from=target.name)
            return HostSnapshot(taken_at, target.name, target.roles, error=reason)
        sections = split_sections(str(result.stdout or ""))
        # A section may rightly be empty (no container of this service on a DB
        # host); each parser says whether empty is a problem.
        outputs: list[str | BaseException] = [
            sections.get(name, "") for name, _ in self._commands()
        ]
        return self._snapshot(taken_at, outputs)

    def _commands(self) -> list[tuple[str, str]]:
        # df of the data path itself: df names the filesystem holding it, whatever
        # the mount point (the longest prefix is picked from the rows).
        mounts = " ".join(["/", *([self.data_path.shell_word()] if self.data_path else [])])
        service = shell_word(f"label=service={self.service}")
        return [
            ("meminfo", "cat /proc/meminfo"),
            ("stat", "cat /proc/stat"),
            ("loadavg", "cat /proc/loadavg"),
            ("df", f"df -P {mounts}"),
            ("pwd", 'echo "$PWD"'),
            # Every active container (restarting ones included, as docker ps lists
            # them): app roles of any destination, accessories, the proxy.  Which are
            # ours is decided here, with Kamal's own filters.
            (
                "docker",
                "docker ps --quiet | xargs -r docker inspect --format "
                + shell_word(INSPECT_FORMAT),
            ),
            ("images", f"docker image ls --filter {service} --format '{{{{json .}}}}'"),
            ("stats", "docker stats --no-stream --format '{{json .}}'"),
        ]

    def _command(self) -> str:
        # One channel per poll, each output introduced by a marker line: five
        # channels cost five times the SSH packet work for the same bytes.
        return "; ".join(
            f"echo {SECTION_MARK}{name}; {command}" for name, command in self._commands()
        )

    def _snapshot(self, taken_at: datetime, outputs: Sequence[str | BaseException]) -> HostSnapshot:
        meminfo, stat, loadavg, df, pwd, docker, images, stats_text = outputs
        problems: list[str] = []
        memory: float | None = None
        cpu: float | None = None
        load: LoadAvg | None = None
        disks: tuple[DiskUsage, ...] = ()
        containers: tuple[ContainerInfo, ...] = ()
        try:
            memory = parse_meminfo(_text(meminfo)).used_percent
        except HostParseError as error:
            problems.append(f"memory: {error}")
        try:
            current = parse_proc_stat(_text(stat))
            if self._last_cpu is not None:
                cpu = cpu_percent(self._last_cpu, current)
            self._last_cpu = current
        except HostParseError as error:
            problems.append(f"cpu: {error}")
        try:
            load = parse_loadavg(_text(loadavg))
        except HostParseError as error:
            problems.append(f"load: {error}")
        try:
            # df lists a filesystem once per path asked about: keep one row of each.
            unique: dict[str, DiskUsage] = {}
            for disk in parse_df(_text(df)):
                unique.setdefault(disk.mount, disk)
            disks = tuple(unique.values())
        except HostParseError as error:
            problems.append(f"disk: {error}")
        try:
            containers = tuple(parse_docker_inspect(_text(docker)))
        except HostParseError as error:
            problems.append(f"containers: {error}")
        stats: dict[str, ContainerStats] = {}
        try:
            stats = {row.id[:12]: row for row in parse_docker_stats_json(_text(stats_text))}
        except HostParseError as error:
            problems.append(f"container stats: {error}")
        latest = tuple(
            image.id for image in parse_docker_images_json(_text(images))
            if image.tag == self.layout.latest_tag
        )
        data_mount: str | None = None
        if self.data_path is not None:
            found = data_disk(disks, self.data_path.absolute(_text(pwd).strip()))
            data_mount = found.mount if found is not None else None
        return HostSnapshot(
            taken_at,
            self.target.name,
            self.target.roles,
            memory_percent=memory,
            cpu_percent=cpu,
            load=load,
            disks=disks,
            containers=containers,
            problems=tuple(problems),
            stats=stats,
            latest_image_ids=latest,
            data_mount=data_mount,
            layout=self.layout,
        )

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(connection.wait_closed(), 2)


def _text(output: str | BaseException) -> str:
    if isinstance(output, BaseException):
        raise output if isinstance(output, HostParseError) else HostParseError(str(output))
    return output


class HostsSource:
    """Every configured host, polled concurrently."""

    def __init__(self, probes: list[HostProbe]) -> None:
        self.probes = probes

    async def poll(self) -> tuple[HostSnapshot, ...]:
        return tuple(await asyncio.gather(*(probe.poll() for probe in self.probes)))

    async def close(self) -> None:
        await asyncio.gather(*(probe.close() for probe in self.probes))
