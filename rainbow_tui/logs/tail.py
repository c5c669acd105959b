"""The log tail: every configured stream merged, counted into request statistics.

Lines reach the console through one sink, tagged with host and container; the
finished requests among them (Rails ``Completed`` or kamal-proxy lines, as
configured) feed the rolling p95 and 5xx share that the monitor judges, and the
lines naming an ``ActiveRecord::ConnectionTimeoutError`` the pool-timeout count.
Each stream reads the leading tags of a Rails line as ``[logs] tags`` says.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from rainbow_tui.config import Config
from rainbow_tui.logs.parse import LogKind, LogLine, exception_stamps, rails_completed_samples
from rainbow_tui.logs.request_stats import (
    POOL_TIMEOUT_EXCEPTION,
    RequestStats,
    RequestStatsSnapshot,
    request_sample,
)
from rainbow_tui.logs.streams import (
    CommandStream,
    FileStream,
    FollowedStream,
    LogEntry,
    Sink,
    SshContainerStream,
    StreamState,
)
from rainbow_tui.sources.kamal_containers import KamalLayout, layout_from_config
from rainbow_tui.ssh import SshTarget
from rainbow_tui.stopping import stop_tasks

# Kamal roles whose containers are followed unless the config says otherwise.
APP_ROLES = ("web", "job")


class LogTail:
    def __init__(
        self,
        config: Config,
        targets: dict[str, SshTarget],
        sink: Sink,
        on_state: Callable[[StreamState], None] | None = None,
        files: tuple[Path, ...] = (),
        layout: KamalLayout | None = None,
    ) -> None:
        self.config = config
        # Which containers are ours: this destination's, as Kamal picks them.
        self.layout = layout or layout_from_config(config)
        self.sink = sink
        self.stats = RequestStats(windows=(60, 300))
        self.states: dict[str, StreamState] = {}
        self._on_state = on_state
        self.streams: list[FollowedStream] = []
        logs = config.logs
        for host in config.hosts:
            target = targets.get(host.name)
            if target is None:
                continue
            # Any role name; with SOLID_QUEUE_IN_PUMA the jobs log in the web container.
            roles = [role for role in self.layout.app_roles(host.roles) if role in logs.roles]
            roles += [
                accessory.name for accessory in self.layout.accessories
                if accessory.name in logs.roles
                and (accessory.name in host.roles or host.name in accessory.hosts)
            ]
            if logs.include_proxy and "web" in host.roles:
                roles.append("proxy")
            for role in roles:
                self.streams.append(
                    SshContainerStream(
                        target,
                        self.layout,
                        role,
                        logs.tail_lines,
                        self._receive,
                        self._state,
                        log_tags=logs.tags,
                    )
                )
        for argv in logs.commands:
            self.streams.append(
                CommandStream(argv, self._receive, on_state=self._state, log_tags=logs.tags)
            )
        for path in files:
            self.streams.append(
                FileStream(path, self._receive, on_state=self._state, log_tags=logs.tags)
            )
        self._tasks: list[asyncio.Task[None]] = []

    def _state(self, state: StreamState) -> None:
        self.states[state.name] = state
        if self._on_state is not None:
            self._on_state(state)

    def _receive(self, batch: list[LogEntry]) -> None:
        count_requests(self.stats, batch, self.config.logs.count_requests_from)
        self.sink(batch)

    def request_snapshot(self) -> RequestStatsSnapshot:
        return self.stats.snapshot(time.time())

    def start(self) -> None:
        for stream in self.streams:
            self._tasks.append(asyncio.create_task(stream.run(), name=f"log-{stream.name}"))

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks.clear()


def count_requests(
    stats: RequestStats, batch: Sequence[object], count_from: Literal["rails", "proxy"]
) -> None:
    """The finished requests and the pool timeouts among ``batch``, into ``stats``: what
    the tail counts of every batch, and ``check`` of its window of logs."""
    if count_from == "rails":
        # A substring test first: only lines that can be Completed lines are
        # read here (the rest are parsed if and when they are shown).
        samples = rails_completed_samples(batch)
    else:
        samples = []
        for entry in batch:
            if isinstance(entry, LogLine) and entry.could_be(LogKind.PROXY_REQUEST):
                sample = request_sample(entry, "proxy")
                stamp_ns = None if sample is None else entry.stamp_ns
                if sample is not None and stamp_ns is not None:
                    samples.append((stamp_ns, *sample))
    if samples:
        # At microseconds, as a datetime's timestamp() gave them.
        stats.add_many(
            (stamp_ns // 1000 / 1_000_000, duration_ms, status)
            for stamp_ns, duration_ms, status in samples
        )
    # An exhausted connection pool: Active Record's checkout timeouts, counted
    # from the lines that name one (a substring test for the rest).
    timeouts = exception_stamps(batch, POOL_TIMEOUT_EXCEPTION)
    if timeouts:
        stats.add_pool_timeouts(stamp_ns // 1000 / 1_000_000 for stamp_ns in timeouts)
