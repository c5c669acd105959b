"""Rolling request statistics from log lines: count, p95 duration, 5xx share, and
the connection-pool timeouts of the last minute.

Memory is bounded whatever the request rate: each second of the longest window
keeps one bucket with a count, a 5xx count and a sparse log-scale histogram of
durations, and a second with pool timeouts one count of them.  Bins grow by
:data:`BIN_GROWTH` (4 %), and a bin reports its geometric centre, so a percentile
is within about 2 % of the exact value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from rainbow_tui.logs.parse import LogKind

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rainbow_tui.logs.parse import LogLine

__all__ = [
    "BIN_GROWTH",
    "MAX_RELATIVE_ERROR",
    "POOL_TIMEOUT_EXCEPTION",
    "RequestStats",
    "RequestStatsSnapshot",
    "WindowStats",
    "request_sample",
]

BIN_GROWTH: Final = 1.04
# Worst case of reporting a bin's geometric centre for a value at its edge.
MAX_RELATIVE_ERROR: Final = math.sqrt(BIN_GROWTH) - 1.0
# Durations at or below this (in ms) share bin 0, reported as 0 ms: nothing a
# p95 threshold in the hundreds of milliseconds can tell apart.
_SMALLEST_BINNED_MS: Final = 0.001
# Above this (about 28 hours) every duration shares the top bin.
_LARGEST_BINNED_MS: Final = 1e8
_LOG_GROWTH: Final = math.log(BIN_GROWTH)
_TOP_BIN: Final = 1 + int(math.log(_LARGEST_BINNED_MS / _SMALLEST_BINNED_MS) / _LOG_GROWTH)
_PERCENTILE: Final = 95
# What Active Record raises when no pooled connection frees up within
# checkout_timeout (connection_pool/queue.rb): the pool is exhausted.
POOL_TIMEOUT_EXCEPTION: Final = "ActiveRecord::ConnectionTimeoutError"
_MINUTE: Final = 60


def _bin_of(duration_ms: float) -> int:
    if duration_ms <= _SMALLEST_BINNED_MS:
        return 0
    if duration_ms >= _LARGEST_BINNED_MS:
        return _TOP_BIN
    return 1 + int(math.log(duration_ms / _SMALLEST_BINNED_MS) / _LOG_GROWTH)


def _bin_value(index: int) -> float:
    """The duration a bin reports: the geometric centre of its range."""
    if index == 0:
        return 0.0
    return _SMALLEST_BINNED_MS * math.pow(BIN_GROWTH, index - 0.5)


@dataclass(slots=True)
class _SecondBucket:
    requests: int = 0
    server_errors: int = 0
    histogram: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Requests whose whole-second timestamp lies in the last ``seconds`` seconds.

    ``p95_ms`` and ``error_percent`` are ``None`` when there were no requests:
    "no data" must never look like "0 ms" or "0 % errors".
    """

    seconds: int
    request_count: int
    p95_ms: float | None
    error_percent: float | None


@dataclass(frozen=True, slots=True)
class RequestStatsSnapshot:
    """``pool_timeouts_last_minute``: lines naming an ``ActiveRecord::ConnectionTimeoutError``
    (a request's exception, a job's error) stamped in the last 60 seconds."""

    taken_at: float
    windows: tuple[WindowStats, ...]
    pool_timeouts_last_minute: int = 0

    def window(self, seconds: int) -> WindowStats:
        for stats in self.windows:
            if stats.seconds == seconds:
                return stats
        raise KeyError(f"no {seconds}s window; have {[w.seconds for w in self.windows]}")


class RequestStats:
    """Rolling per-window request count, p95 duration and 5xx share.

    A request at epoch time ``at`` counts in second ``floor(at)``; a window of
    ``w`` seconds at ``now`` covers the seconds ``floor(now) - w + 1`` to
    ``floor(now)``.  Requests may arrive out of order; those older than the
    longest window behind the newest request seen are dropped.
    """

    __slots__ = (
        "_buckets",
        "_longest_window",
        "_newest_second",
        "_newest_timeout_second",
        "_pool_timeouts",
        "_windows",
    )

    def __init__(self, windows: Iterable[int] = (60, 300)) -> None:
        window_list = tuple(windows)
        if not window_list:
            raise ValueError("at least one window is needed")
        for seconds in window_list:
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
                raise ValueError(f"a window is a positive number of seconds, got {seconds!r}")
        self._windows = window_list
        self._longest_window = max(window_list)
        self._buckets: dict[int, _SecondBucket] = {}
        self._newest_second: int | None = None
        # Pool timeouts per whole second, the last minute behind the newest kept.
        self._pool_timeouts: dict[int, int] = {}
        self._newest_timeout_second: int | None = None

    @property
    def windows(self) -> tuple[int, ...]:
        return self._windows

    @property
    def retained_seconds(self) -> int:
        """Per-second buckets held; never more than the longest window."""
        return len(self._buckets)

    def add(self, at: float, duration_ms: float, status: int) -> None:
        """Record one request; non-finite times or durations are ignored."""
        self.add_many(((at, duration_ms, status),))

    def add_many(self, requests: Iterable[tuple[float, float, int]]) -> None:
        """:meth:`add` each ``(at, duration_ms, status)``, in order."""
        isfinite, floor = math.isfinite, math.floor
        buckets = self._buckets
        longest = self._longest_window
        for at, duration_ms, status in requests:
            if not (isfinite(at) and isfinite(duration_ms)):
                continue
            second = floor(at)
            newest = self._newest_second
            if newest is None or second > newest:
                self._newest_second = second
                self._expire(second - longest)
            elif second <= newest - longest:
                continue
            bucket = buckets.get(second)
            if bucket is None:
                bucket = buckets[second] = _SecondBucket()
            bucket.requests += 1
            if 500 <= status <= 599:
                bucket.server_errors += 1
            index = _bin_of(duration_ms)
            histogram = bucket.histogram
            histogram[index] = histogram.get(index, 0) + 1

    def add_pool_timeouts(self, ats: Iterable[float]) -> None:
        """Record a connection-pool timeout at each epoch time of ``ats``."""
        isfinite, floor = math.isfinite, math.floor
        counts = self._pool_timeouts
        for at in ats:
            if not isfinite(at):
                continue
            second = floor(at)
            newest = self._newest_timeout_second
            if newest is None or second > newest:
                self._newest_timeout_second = newest = second
                for stale in [s for s in counts if s <= second - _MINUTE]:
                    del counts[stale]
            elif second <= newest - _MINUTE:
                continue
            counts[second] = counts.get(second, 0) + 1

    def _expire(self, oldest_dropped: int) -> None:
        # At most longest_window + 1 buckets live, so a scan per new second is cheap.
        stale = [second for second in self._buckets if second <= oldest_dropped]
        for second in stale:
            del self._buckets[second]

    def snapshot(self, now: float) -> RequestStatsSnapshot:
        current = math.floor(now) if math.isfinite(now) else None
        timeouts = 0
        if current is not None:
            first = current - _MINUTE + 1
            timeouts = sum(
                count for second, count in self._pool_timeouts.items() if first <= second <= current
            )
        return RequestStatsSnapshot(
            taken_at=now,
            windows=tuple(self._window_stats(seconds, current) for seconds in self._windows),
            pool_timeouts_last_minute=timeouts,
        )

    def _window_stats(self, seconds: int, current: int | None) -> WindowStats:
        requests = 0
        server_errors = 0
        histogram: dict[int, int] = {}
        if current is not None:
            first = current - seconds + 1
            for second, bucket in self._buckets.items():
                if first <= second <= current:
                    requests += bucket.requests
                    server_errors += bucket.server_errors
                    for index, count in bucket.histogram.items():
                        histogram[index] = histogram.get(index, 0) + count
        if requests == 0:
            return WindowStats(seconds, 0, None, None)
        return WindowStats(
            seconds=seconds,
            request_count=requests,
            p95_ms=_percentile(histogram, requests, _PERCENTILE),
            error_percent=100.0 * server_errors / requests,
        )


def _percentile(histogram: dict[int, int], total: int, percent: int) -> float:
    """Nearest-rank percentile: the smallest value with ``percent`` % of all at or below."""
    # Integer arithmetic: ceil(0.95 * n) in floats is off by one for some n.
    rank = max(1, -(-percent * total // 100))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return _bin_value(index)
    raise AssertionError("histogram counts do not add up to the request total")


def request_sample(
    line: LogLine, count_from: Literal["rails", "proxy"]
) -> tuple[float, int] | None:
    """``(duration_ms, status)`` of a finished request, or None for other lines.

    Count either Rails ``Completed`` lines or kamal-proxy request lines, never
    both, or every request would be counted twice.
    """
    if count_from == "rails":
        return line.rails_completed()
    if line.kind is not LogKind.PROXY_REQUEST or line.status is None or line.duration_ms is None:
        return None
    return line.duration_ms, line.status
