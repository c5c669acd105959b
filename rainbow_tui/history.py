"""The console's measurements over weeks, in a small SQLite file under the state
directory, so that trends survive a restart and the weekly figures have data.

Bounded three ways: one row per metric per minute (each holds the minute's sum,
maximum, last value and sample count, so a minute's mean is exact whatever the
poll rate), rows older than ``retention_days`` deleted, and a size ceiling past
which the oldest minutes go first.  :class:`History` is synchronous and keeps one
connection; :class:`HistoryWriter` runs it on one thread of its own so the event
loop never waits on the disk.  A file that is corrupt, locked or unwritable is a
:class:`HistoryError` with a clear message; the console goes on without history.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rainbow_tui.text import tr

if TYPE_CHECKING:
    from rainbow_tui.config import Config
    from rainbow_tui.findings import Finding
    from rainbow_tui.sources.service_sources import Readings

log = logging.getLogger(__name__)
T = TypeVar("T")

MINUTE_S = 60
DAY_S = 86400
WEEK_S = 7 * DAY_S
SCHEMA_VERSION = 1
# A write waits this long for another console holding the file, then gives up
# (the next poll writes again).
BUSY_TIMEOUT_MS = 250
# Retention and the size ceiling are enforced at open and then this often.
PRUNE_EVERY_S = 3600.0
# What the history records beside the findings' values: requests per minute (the
# judged window's count over its minutes) and the database's size.
REQUESTS_PER_MINUTE = "service:requests_per_minute"
DATABASE_SIZE = "database:size_bytes"
P95 = "service:response_time_p95_ms"
ERROR_RATE = "service:error_rate_percent"
DISK_PREFIX = "disk:"
# Metrics of the history that are no finding's value (no sparkline draws them).
DERIVED_METRICS = frozenset({REQUESTS_PER_MINUTE, DATABASE_SIZE})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS minutes (
    metric TEXT NOT NULL,
    minute INTEGER NOT NULL,
    total REAL NOT NULL,
    maximum REAL NOT NULL,
    last REAL NOT NULL,
    samples INTEGER NOT NULL,
    PRIMARY KEY (metric, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minutes_by_minute ON minutes (minute);
"""
_UPSERT = """
INSERT INTO minutes (metric, minute, total, maximum, last, samples) VALUES (?, ?, ?, ?, ?, 1)
ON CONFLICT (metric, minute) DO UPDATE SET
    total = total + excluded.total,
    maximum = max(maximum, excluded.maximum),
    last = excluded.last,
    samples = samples + 1
"""


# The exception classes seen in check's windows of logs, by hour, so that a class
# can be told new ("not seen in the last 7 days").  A table of its own, created
# on any schema version (older consoles leave it alone); the empty class marks an
# hour whose window was read, so "seen nothing" and "never looked" differ.
_EXCEPTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS exception_hours (
    class TEXT NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (class, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS exception_hours_by_hour ON exception_hours (hour);
"""
# Windows overlap from one round to the next: an hour keeps the largest count seen.
_EXCEPTIONS_UPSERT = """
INSERT INTO exception_hours (class, hour, count) VALUES (?, ?, ?)
ON CONFLICT (class, hour) DO UPDATE SET count = max(count, excluded.count)
"""
HOUR_S = 3600
LOOKED_MARKER = ""
# Bounds of what one round writes: its most frequent classes, names cut short.
MAX_CLASSES_PER_ROUND = 100
MAX_CLASS_LENGTH = 200


class HistoryError(Exception):
    """The history file cannot be used; ``str()`` says which file and why."""


@dataclass(frozen=True, slots=True)
class MinuteRow:
    """One metric's minute: ``minute`` is epoch seconds // 60."""

    metric: str
    minute: int
    mean: float
    maximum: float
    last: float
    samples: int


def history_path(config: Config) -> Path:
    """``[history] path``, or beside the incidents directory when it is empty."""
    from rainbow_tui.config import expand_path

    if config.history.path:
        return expand_path(config.history.path)
    return expand_path(config.incidents.state_dir).parent / "history.sqlite3"


def points_of(findings: Iterable[Finding], readings: Readings | None = None) -> dict[str, float]:
    """What one judged poll adds to the history: every finding's value by its key,
    requests per minute and the database's size from the readings."""
    points = {
        finding.key: float(finding.value)
        for finding in findings
        if finding.value is not None and math.isfinite(finding.value)
    }
    if readings is not None:
        requests = readings.requests
        if requests is not None and requests.windows:
            window = max(requests.windows, key=lambda stats: stats.seconds)
            points[REQUESTS_PER_MINUTE] = window.request_count * MINUTE_S / window.seconds
        database = readings.database
        if database is not None and database.error is None and database.size_bytes is not None:
            points[DATABASE_SIZE] = float(database.size_bytes)
    return points


def _problem(path: Path, error: BaseException) -> HistoryError:
    text = str(error)
    if isinstance(error, sqlite3.OperationalError) and "locked" in text:
        return HistoryError(tr("history.error.locked", path=str(path)))
    # SQLite's "file is not a database" and "disk image is malformed" are this very
    # class; its subclasses are other troubles (a closed connection, a constraint).
    if type(error) is sqlite3.DatabaseError:
        return HistoryError(tr("history.error.corrupt", path=str(path), error=text))
    return HistoryError(tr("history.error.unusable", path=str(path), error=text))


class History:
    """The history file, open; use it from one thread at a time."""

    def __init__(
        self,
        path: Path,
        retention_days: float = 35,
        max_bytes: int = 128 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.retention_s = retention_days * DAY_S
        self.max_bytes = max_bytes
        self.clock = clock
        self._pruned_at = -math.inf
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                # Created 0600 before SQLite writes anything into it.
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error) as error:
            raise _problem(path, error) from error
        try:
            self._open()
        except sqlite3.Error as error:
            self._db.close()
            raise _problem(path, error) from error

    def _open(self) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema {version} is newer than this console's")
        if version == 0:
            # Incremental vacuum: pruning gives the space back without a full VACUUM.
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.executescript(_EXCEPTIONS_SCHEMA)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # Reads the table: a file that is not a database (or a damaged one) says so now.
        db.execute("SELECT count(*) FROM minutes WHERE minute < 0").fetchone()
        self.prune()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _guarded(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except sqlite3.Error as error:
            raise _problem(self.path, error) from error

    # -- writing ------------------------------------------------------------------------

    def record(self, points: Mapping[str, float], at: float | None = None) -> None:
        """Each point into its metric's minute of ``at`` (epoch seconds; now by default)."""
        when = self.clock() if at is None else at
        minute = int(when // MINUTE_S)
        rows = [
            (metric, minute, value, value, value)
            for metric, value in points.items()
            if math.isfinite(value)
        ]

        def write() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(_UPSERT, rows)

        if rows:
            self._guarded(write)
        if when - self._pruned_at >= PRUNE_EVERY_S:
            self.prune(when)

    def record_exceptions(self, counts: Mapping[str, int], at: float | None = None) -> None:
        """The exception classes of a window read at ``at`` (with the hour marked as
        looked at, whatever it held)."""
        when = self.clock() if at is None else at
        hour = int(when // HOUR_S)
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_CLASSES_PER_ROUND]
        rows = [(LOOKED_MARKER, hour, 0)] + [
            (name[:MAX_CLASS_LENGTH], hour, int(count)) for name, count in top if name]

        def write() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(_EXCEPTIONS_UPSERT, rows)

        self._guarded(write)

    def exception_classes_seen(self, since: float, until: float) -> set[str] | None:
        """The classes seen in the hours from that of ``since`` to that of ``until``
        (both held); None when no window was read in those hours at all (nothing to
        compare with)."""
        first, end = int(since // HOUR_S), int(until // HOUR_S) + 1

        def read() -> set[str] | None:
            names = {
                name for (name,) in self._db.execute(
                    "SELECT DISTINCT class FROM exception_hours WHERE hour >= ? AND hour < ?",
                    (first, end),
                )
            }
            if LOOKED_MARKER not in names:
                return None
            return names - {LOOKED_MARKER}

        return self._guarded(read)

    def prune(self, now: float | None = None) -> int:
        """Rows past the retention deleted, then the oldest minutes while the file is
        above its ceiling; returns the rows deleted."""
        when = self.clock() if now is None else now
        self._pruned_at = when
        oldest_kept = int((when - self.retention_s) // MINUTE_S)

        def prune() -> int:
            db = self._db
            deleted = db.execute("DELETE FROM minutes WHERE minute < ?", (oldest_kept,)).rowcount
            deleted += db.execute("DELETE FROM exception_hours WHERE hour < ?",
                                  (int((when - self.retention_s) // HOUR_S),)).rowcount
            while self.size_bytes() > self.max_bytes:
                span = db.execute("SELECT min(minute), max(minute) FROM minutes").fetchone()
                if span[0] is None or span[0] == span[1]:
                    break
                # A tenth of what is held at a time, oldest first.
                cut = span[0] + max(1, (span[1] - span[0]) // 10)
                deleted += db.execute("DELETE FROM minutes WHERE minute < ?", (cut,)).rowcount
                db.execute("PRAGMA incremental_vacuum")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if deleted:
                db.execute("PRAGMA incremental_vacuum")
            return deleted

        return self._guarded(prune)

    def size_bytes(self) -> int:
        """The database's pages in use (the write-ahead log aside)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    # -- reading ------------------------------------------------------------------------

    def rows(self, metric: str, since: float, until: float) -> list[MinuteRow]:
        """``metric``'s minutes from ``since`` to before ``until`` (epoch seconds), oldest first."""
        first, end = int(since // MINUTE_S), int(until // MINUTE_S)
        return self._guarded(
            lambda: [
                MinuteRow(metric, minute, total / samples, maximum, last, samples)
                for minute, total, maximum, last, samples in self._db.execute(
                    "SELECT minute, total, maximum, last, samples FROM minutes"
                    " WHERE metric = ? AND minute >= ? AND minute < ? ORDER BY minute",
                    (metric, first, end),
                )
            ]
        )

    def metrics(self, prefix: str = "") -> list[str]:
        """Every metric held whose name starts with ``prefix``."""
        return self._guarded(
            lambda: [
                name for (name,) in self._db.execute(
                    "SELECT DISTINCT metric FROM minutes WHERE substr(metric, 1, ?) = ?"
                    " ORDER BY metric", (len(prefix), prefix),
                )
            ]
        )

    def recent(
        self, metrics: Iterable[str] | None, points: int
    ) -> dict[str, tuple[float, ...]]:
        """The last ``points`` minute means of each metric (every one held: None),
        oldest first: what a sparkline starts from."""

        def read() -> dict[str, tuple[float, ...]]:
            found: dict[str, tuple[float, ...]] = {}
            for metric in self.metrics() if metrics is None else metrics:
                means = [
                    total / samples
                    for total, samples in self._db.execute(
                        "SELECT total, samples FROM minutes WHERE metric = ?"
                        " ORDER BY minute DESC LIMIT ?", (metric, points),
                    )
                ]
                if means:
                    found[metric] = tuple(reversed(means))
            return found

        return self._guarded(read)

    def span(self) -> tuple[int, int | None, int | None]:
        """Rows held, and the first and last minute (epoch seconds) they cover."""
        count, first, last = self._guarded(
            lambda: self._db.execute(
                "SELECT count(*), min(minute), max(minute) FROM minutes"
            ).fetchone()
        )
        return (
            int(count),
            None if first is None else int(first) * MINUTE_S,
            None if last is None else int(last) * MINUTE_S,
        )


class HistoryWriter:
    """A :class:`History` on a thread of its own, for the event loop.

    ``submit`` never waits: points arriving while a write runs are merged (the
    latest value of a metric wins) and written as one when it ends.  The first
    failure is logged with its message and ends the history for this run; the
    console keeps working without it.
    """

    def __init__(self, open_history: Callable[[], History]) -> None:
        self._open_history = open_history
        self._history: History | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._pending: dict[str, float] = {}
        self._pending_at = 0.0
        self._writing: asyncio.Future[None] | None = None
        self.failure: str | None = None
        # Whether the views were told of the failure (the session tells them once).
        self.failure_told = False
        self.writes = 0

    def _held(self) -> History:
        if self._history is None:
            self._history = self._open_history()
        return self._history

    def _fail(self, error: HistoryError) -> None:
        if self.failure is None:
            self.failure = str(error)
            log.warning("history off for this run: %s", error)

    async def _run(self, work: Callable[[History], T]) -> T | None:
        if self.failure is not None:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: work(self._held()))
        except HistoryError as error:
            self._fail(error)
            return None

    async def recent(
        self, metrics: Iterable[str] | None, points: int
    ) -> dict[str, tuple[float, ...]]:
        """:meth:`History.recent` off the loop; empty when there is no history."""
        wanted = None if metrics is None else tuple(metrics)
        found = await self._run(lambda history: history.recent(wanted, points))
        return found or {}

    def submit(self, points: Mapping[str, float], at: float | None = None) -> None:
        if self.failure is not None or not points:
            return
        self._pending.update(points)
        self._pending_at = time.time() if at is None else at
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._pending and self.failure is None:
            await self._run(self._take_pending())
            self.writes += 1

    def _take_pending(self) -> Callable[[History], None]:
        points, at = self._pending, self._pending_at
        self._pending = {}
        return lambda history: history.record(points, at)

    async def close(self) -> None:
        if self._writing is not None:
            await self._writing
        history = self._history
        if history is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, history.close)
        self._executor.shutdown(wait=False)


# -- the weekly figures ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrowthFigure:
    """A size over the week: its latest value and its growth per week (a
    least-squares line through the week's minutes; None with under an hour of them)."""

    metric: str
    latest: float
    growth_per_week: float | None


@dataclass(frozen=True, slots=True)
class WeeklyFigures:
    """The manual's weekly look (週次): the week up to ``end`` (epoch seconds).

    ``p95_ms`` is the mean of each minute's p95 weighted by its requests (the
    worst minute beside it); ``error_rate_percent`` all errors over all requests;
    ``request_count`` the requests per minute seen, over the whole week (an
    estimate when the console did not run all week: ``coverage_percent`` says how
    much of it it saw).  None where the history holds nothing.
    """

    start: float
    end: float
    p95_ms: float | None
    p95_worst_ms: float | None
    error_rate_percent: float | None
    request_count: int | None
    coverage_percent: float
    database_size: GrowthFigure | None
    disks: tuple[GrowthFigure, ...]


def _weighted_mean(values: dict[int, float], weights: dict[int, float]) -> float | None:
    shared = [minute for minute in values if weights.get(minute, 0) > 0]
    if shared:
        total = sum(weights[minute] for minute in shared)
        return sum(values[minute] * weights[minute] for minute in shared) / total
    return sum(values.values()) / len(values) if values else None


def _growth(metric: str, rows: list[MinuteRow]) -> GrowthFigure | None:
    if not rows:
        return None
    latest = rows[-1].last
    if rows[-1].minute - rows[0].minute < 60:
        return GrowthFigure(metric, latest, None)
    xs = [row.minute * MINUTE_S for row in rows]
    ys = [row.mean for row in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return GrowthFigure(metric, latest, slope * WEEK_S)


def weekly_figures(history: History, now: float) -> WeeklyFigures:
    """The week before ``now`` (epoch seconds), from the history."""
    start = now - WEEK_S
    p95 = {row.minute: row.mean for row in history.rows(P95, start, now)}
    p95_worst = max((row.maximum for row in history.rows(P95, start, now)), default=None)
    errors = {row.minute: row.mean for row in history.rows(ERROR_RATE, start, now)}
    rates = {row.minute: row.mean for row in history.rows(REQUESTS_PER_MINUTE, start, now)}
    week_minutes = WEEK_S // MINUTE_S
    request_count = (
        round(sum(rates.values()) / len(rates) * week_minutes) if rates else None
    )
    disks = tuple(
        figure
        for metric in history.metrics()
        if DISK_PREFIX in metric
        if (figure := _growth(metric, history.rows(metric, start, now))) is not None
    )
    return WeeklyFigures(
        start=start,
        end=now,
        p95_ms=_weighted_mean(p95, rates),
        p95_worst_ms=p95_worst,
        error_rate_percent=_weighted_mean(errors, rates),
        request_count=request_count,
        coverage_percent=100.0 * len(rates) / week_minutes,
        database_size=_growth(DATABASE_SIZE, history.rows(DATABASE_SIZE, start, now)),
        disks=disks,
    )


def open_history(config: Config) -> History:
    """The configured history file, open (``HistoryError`` when it cannot be)."""
    settings = config.history
    return History(
        history_path(config),
        retention_days=settings.retention_days,
        max_bytes=int(settings.max_mb * 1024 * 1024),
    )
