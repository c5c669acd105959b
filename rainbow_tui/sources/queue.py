"""Solid Queue, read straight from its tables (DESIGN.md §2).

Counts come from the ``*_executions`` tables (finished jobs are kept in
``solid_queue_jobs``) and stop at a cap: past what the thresholds need, "2000+"
says as much as 100 000 and costs a fraction of a full count.  Failures are grouped
by exception class over the latest ones only, for the same reason, and the class of
a failure already seen is remembered rather than cut out of its error again.  One
statement per refresh.

Every age is measured from ``now() AT TIME ZONE 'UTC'``: Rails writes UTC wall-clock
into ``timestamp without time zone`` columns, and ``now() - created_at`` would cast
``created_at`` with the session's TimeZone (on an Asia/Tokyo server, every job 9 h
old, every process dead).  The console's sessions are UTC as well; the statement
does not rely on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink

# Solid Queue's defaults (lib/solid_queue.rb): heartbeats every 60 s, a process
# silent for process_alive_threshold (5 minutes) is dead.  [queue] overrides both
# windows below.
DEFAULT_PROCESS_ALIVE_THRESHOLD_S = 300.0
DEFAULT_NEW_FAILURES_WINDOW_S = 3600.0
DEFAULT_COUNT_CAP = 1000
FAILED_SAMPLE = 300
FAILURE_CLASSES = 20
# Ready rows read, in job_id order, for the oldest one: a job retried from failed
# or a scheduled one come due keeps its older id but enters ready later, so the
# first row by id need not be the oldest; the minimum over a few is.  Per queue and
# priority band fewer: there may be dozens of bands, each costing that many rows.
OLDEST_READY_SCAN = 100
OLDEST_READY_BAND_SCAN = 20

# The UTC wall-clock Rails writes, whatever the session's TimeZone.
NOW_UTC = "(now() AT TIME ZONE 'UTC')"


# Solid Queue writes the error as compact JSON, the class first
# ({"exception_class":"X","message":...), so plain string functions find the class:
# a prefix test, which reads only the value's first bytes, then the fourth
# quote-delimited field.  They cost a fraction of a regex or a JSON parse per row;
# anything written otherwise falls back to the regex (same answer, slower).
def exception_class_sql(column: str) -> str:
    return (
        f'coalesce(CASE WHEN starts_with({column}, \'{{"exception_class":"\')'
        f" THEN nullif(split_part({column}, '\"', 4), '') END,"
        f' substring({column} FROM \'"exception_class"\\s*:\\s*"([^"]*)"\'), \'?\')'
    )


# The message of the newest failure of each class (at most FAILURE_CLASSES rows).
# Solid Queue writes ``"message":"…","backtrace":``, and a JSON string cannot hold
# ``,"`` (its quotes are escaped), so two splits cut the message out; it is taken
# when it holds no ``,"`` and sits exactly between those two keys.  Any other
# layout, and a null message, goes to the regex (ten times dearer per row).
_MESSAGE_SQL = """CASE WHEN strpos(m.fast, ',"') = 0
                 AND strpos(e.error, '","message":"' || m.fast || '","backtrace":') > 0
            THEN m.fast
            ELSE substring(e.error FROM '"message"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"') END"""


def queue_sql(
    count_cap: int,
    failed_sample: int,
    new_failures_window_s: float = DEFAULT_NEW_FAILURES_WINDOW_S,
) -> str:
    """The one statement of a refresh.  ``$1``/``$2``: ids and exception classes of
    failed executions already classified (see ``QueueSource``).

    The cap, the sample and the window are written in, not passed: a statement
    whose parameters feed a LIMIT is planned afresh at every bind (a custom plan,
    about a millisecond here); this one is planned once per connection.
    """
    limit = int(count_cap) + 1  # one row more than the cap: "exactly cap" and "more" differ
    sample = int(failed_sample)
    window = float(new_failures_window_s)

    def capped(table: str) -> str:
        return f"(SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT {limit}) AS capped)"

    return f"""
WITH bands AS (
    -- One pass over at most cap + 1 ready rows gives the count, its split by queue
    -- and the (queue, priority) bands the per-queue latency looks into.
    SELECT queue_name, priority, count(*) AS n
    FROM (SELECT queue_name, priority FROM solid_queue_ready_executions LIMIT {limit}) AS r
    GROUP BY queue_name, priority
), ready AS (
    SELECT queue_name, sum(n) AS n FROM bands GROUP BY queue_name
), recent AS (
    -- The latest failures.  A failed execution never changes, so the class of one
    -- seen before comes from $1/$2 and only new rows have their error read: it is
    -- kilobytes of TOASTed backtrace, decompressed per row.
    SELECT f.id, f.job_id, f.created_at, k.exception_class AS known,
           CASE WHEN k.exception_class IS NULL
                THEN {exception_class_sql("f.error")} END AS found
    FROM (SELECT id, job_id, created_at, error FROM solid_queue_failed_executions
          ORDER BY id DESC LIMIT {sample}) AS f
    LEFT JOIN unnest($1::bigint[], $2::text[]) AS k(id, exception_class) ON k.id = f.id
), groups AS (
    SELECT coalesce(known, found) AS exception_class, count(*) AS count,
           max(created_at) AS latest_at, max(id) AS latest_id
    FROM recent GROUP BY 1 ORDER BY count(*) DESC, max(id) DESC LIMIT {FAILURE_CLASSES}
)
SELECT json_build_object(
    'ready', (SELECT coalesce(sum(n), 0) FROM ready),
    'scheduled', {capped("solid_queue_scheduled_executions")},
    'claimed', {capped("solid_queue_claimed_executions")},
    'blocked', {capped("solid_queue_blocked_executions")},
    'failed', {capped("solid_queue_failed_executions")},
    -- Failures of the last window, counted over the latest failures already read
    -- for the classes (ids grow with created_at, so the window's rows are the
    -- newest): no further rows read, and all {sample} inside it means "more".
    'new_failures', (SELECT count(*) FROM recent
                     WHERE created_at > {NOW_UTC} - make_interval(secs => {window!r})),
    'ready_by_queue', (SELECT coalesce(json_object_agg(queue_name, n), '{{}}') FROM ready),
    -- job ids grow with time, so the oldest ready rows sit at the start of the
    -- job_id index; a retried job keeps its old id, hence min() over a few.
    'oldest_ready_s', (SELECT extract(epoch FROM {NOW_UTC} - min(created_at)) FROM (
        SELECT created_at FROM solid_queue_ready_executions
        ORDER BY job_id LIMIT {OLDEST_READY_SCAN}) AS o),
    -- Per queue, the same few oldest ids of each priority band, read from the
    -- (queue_name, priority, job_id) index: a band of low priority waits longest.
    -- The row comparison is what only that index serves, in its order: with
    -- equalities the planner, which cannot know a band's size, may walk the job_id
    -- index instead and filter, through every row, for a queue that is rare.  The
    -- rows past the band's end (a band of fewer than a few) are left out after.
    'latency_by_queue', (SELECT coalesce(json_object_agg(queue_name, latency_s), '{{}}') FROM (
        SELECT b.queue_name, extract(epoch FROM {NOW_UTC} - min(o.oldest)) AS latency_s
        FROM bands AS b
        CROSS JOIN LATERAL (
            SELECT min(few.created_at) AS oldest FROM (
                SELECT r.queue_name, r.priority, r.created_at
                FROM solid_queue_ready_executions AS r
                WHERE (r.queue_name, r.priority) >= (b.queue_name, b.priority)
                ORDER BY r.queue_name, r.priority, r.job_id
                LIMIT {OLDEST_READY_BAND_SCAN}) AS few
            WHERE few.queue_name = b.queue_name AND few.priority = b.priority) AS o
        GROUP BY b.queue_name) AS l),
    'longest_claimed', (SELECT coalesce(json_agg(c), '[]') FROM (
        SELECT c.job_id, j.class_name, j.queue_name, c.process_id,
               extract(epoch FROM {NOW_UTC} - c.created_at) AS running_s
        FROM solid_queue_claimed_executions AS c
        JOIN solid_queue_jobs AS j ON j.id = c.job_id
        ORDER BY c.created_at LIMIT 10) AS c),
    'failed_by_class', (SELECT coalesce(json_agg(f ORDER BY f.count DESC, f.latest_id DESC), '[]')
        FROM (
            SELECT g.exception_class, g.count, g.latest_at, g.latest_id,
                   e.job_id AS latest_job_id, {_MESSAGE_SQL} AS latest_message
            FROM groups AS g
            JOIN solid_queue_failed_executions AS e ON e.id = g.latest_id
            CROSS JOIN LATERAL (
                SELECT split_part(split_part(e.error, '","message":"', 2), '","backtrace":', 1)
                    AS fast OFFSET 0) AS m) AS f),
    'new_classes', (SELECT coalesce(json_object_agg(id, found), '{{}}')
                    FROM recent WHERE known IS NULL),
    'recent_from', (SELECT min(id) FROM recent),
    'paused', (SELECT coalesce(json_agg(queue_name ORDER BY queue_name), '[]')
               FROM solid_queue_pauses),
    'processes', (SELECT coalesce(json_agg(p), '[]') FROM (
        SELECT id, kind, hostname, pid, name,
               extract(epoch FROM {NOW_UTC} - last_heartbeat_at) AS heartbeat_age_s
        FROM solid_queue_processes ORDER BY kind, hostname, pid) AS p)
)
"""


QUEUE_SQL = queue_sql(DEFAULT_COUNT_CAP, FAILED_SAMPLE)


@dataclass(frozen=True, slots=True)
class CappedCount:
    """A count that stopped one past ``cap``: then ``value`` is cap + 1, which is
    what thresholds judge ("more than the cap"), and it reads "cap+"."""

    value: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.value - 1:,}+" if self.capped else f"{self.value:,}"


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: int
    class_name: str
    queue_name: str
    process_id: int | None
    running_s: float


@dataclass(frozen=True, slots=True)
class FailureGroup:
    exception_class: str
    count: int
    latest_at: str
    latest_message: str
    latest_job_id: int


@dataclass(frozen=True, slots=True)
class QueueProcess:
    id: int
    kind: str
    hostname: str
    pid: int
    name: str
    heartbeat_age_s: float
    alive_threshold_s: float = DEFAULT_PROCESS_ALIVE_THRESHOLD_S

    @property
    def dead(self) -> bool:
        # As Solid Queue prunes (app/models/solid_queue/process/prunable.rb):
        # ``last_heartbeat_at <= process_alive_threshold.ago``, the boundary included.
        return self.heartbeat_age_s >= self.alive_threshold_s


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    taken_at: datetime
    error: str | None = None
    ready: CappedCount | None = None
    scheduled: CappedCount | None = None
    claimed: CappedCount | None = None
    blocked: CappedCount | None = None
    failed: CappedCount | None = None
    # Failed executions newer than ``new_failures_window_s`` (capped at the sample
    # of latest failures read for the classes).
    new_failures: CappedCount | None = None
    new_failures_window_s: float = DEFAULT_NEW_FAILURES_WINDOW_S
    ready_by_queue: dict[str, int] = field(default_factory=dict)
    oldest_ready_s: float | None = None
    # now − oldest ready created_at, for each queue with ready jobs.
    latency_by_queue: dict[str, float] = field(default_factory=dict)
    longest_claimed: tuple[ClaimedJob, ...] = ()
    failed_by_class: tuple[FailureGroup, ...] = ()
    paused: tuple[str, ...] = ()
    processes: tuple[QueueProcess, ...] = ()

    @property
    def longest_running_s(self) -> float | None:
        if self.error is not None:
            return None
        return max((job.running_s for job in self.longest_claimed), default=0.0)


def _unescape_json_string(text: str | None) -> str:
    """The message was cut out of JSON text by a regex; undo its escapes."""
    if not text:
        return ""
    import msgspec

    try:
        decoded = msgspec.json.decode(f'"{text}"'.encode())
    except msgspec.DecodeError:
        return text
    return decoded if isinstance(decoded, str) else text


def _count(data: dict[str, Any], key: str, cap: int) -> CappedCount:
    value = int(data[key])
    return CappedCount(value, capped=value > cap)


class QueueSource:
    def __init__(
        self,
        link: PostgresLink,
        count_cap: int = DEFAULT_COUNT_CAP,
        *,
        process_alive_threshold_s: float = DEFAULT_PROCESS_ALIVE_THRESHOLD_S,
        new_failures_window_s: float = DEFAULT_NEW_FAILURES_WINDOW_S,
    ) -> None:
        self.link = link
        self.count_cap = count_cap
        self.process_alive_threshold_s = process_alive_threshold_s
        self.new_failures_window_s = new_failures_window_s
        self._sql = queue_sql(count_cap, FAILED_SAMPLE, new_failures_window_s)
        # Exception class of the recent failed executions, by id.  Such a row never
        # changes, so its (large, compressed) error is read once, not every refresh.
        self._classes: dict[int, str] = {}

    async def poll(self) -> QueueSnapshot:
        taken_at = datetime.now(UTC)
        try:
            data = await self.link.fetch_json(
                self._sql, list(self._classes), list(self._classes.values())
            )
        except DatabaseUnavailable as error:
            # Whatever answers after a reconnect is asked afresh.
            self._classes.clear()
            problem = str(error)
            if "UndefinedTableError" in problem:
                problem = await self._tables_missing(problem)
            return QueueSnapshot(taken_at, error=problem)
        self._remember_classes(data["new_classes"], data["recent_from"])
        cap = self.count_cap
        new_failures = int(data["new_failures"])
        return QueueSnapshot(
            taken_at,
            ready=_count(data, "ready", cap),
            scheduled=_count(data, "scheduled", cap),
            claimed=_count(data, "claimed", cap),
            blocked=_count(data, "blocked", cap),
            failed=_count(data, "failed", cap),
            # Counted over the latest FAILED_SAMPLE failures: all of them inside the
            # window reads "more than FAILED_SAMPLE - 1".
            new_failures=CappedCount(new_failures, capped=new_failures >= FAILED_SAMPLE),
            new_failures_window_s=self.new_failures_window_s,
            ready_by_queue={str(k): int(v) for k, v in data["ready_by_queue"].items()},
            oldest_ready_s=(
                float(data["oldest_ready_s"]) if data["oldest_ready_s"] is not None else None
            ),
            latency_by_queue={
                str(k): float(v) for k, v in data["latency_by_queue"].items() if v is not None
            },
            longest_claimed=tuple(
                ClaimedJob(
                    int(row["job_id"]),
                    str(row["class_name"]),
                    str(row["queue_name"]),
                    row["process_id"],
                    float(row["running_s"]),
                )
                for row in data["longest_claimed"]
            ),
            failed_by_class=tuple(
                FailureGroup(
                    str(row["exception_class"]),
                    int(row["count"]),
                    str(row["latest_at"]),
                    _unescape_json_string(row["latest_message"]),
                    int(row["latest_job_id"]),
                )
                for row in data["failed_by_class"]
            ),
            paused=tuple(str(name) for name in data["paused"]),
            processes=tuple(
                QueueProcess(
                    int(row["id"]),
                    str(row["kind"]),
                    str(row["hostname"] or ""),
                    int(row["pid"]),
                    str(row["name"] or ""),
                    float(row["heartbeat_age_s"]),
                    self.process_alive_threshold_s,
                )
                for row in data["processes"]
            ),
        )

    async def _tables_missing(self, problem: str) -> str:
        """Name the database looked in (one more tiny query, on this path only) and
        where Rails 8 keeps Solid Queue."""
        try:
            database = await self.link.fetch_json("SELECT to_json(current_database())")
        except DatabaseUnavailable:
            database = None
        where = f"database {database}" if isinstance(database, str) else "this database"
        return (
            f"Solid Queue tables not found in {where}; Rails 8 keeps them in "
            "<app>_production_queue (config/database.yml `queue:`) — set [queue] dsn_env"
            f" ({problem})"
        )

    def _remember_classes(self, new: dict[str, str], recent_from: int | None) -> None:
        """Add the newly classified failures; forget those older than the sample."""
        classes = self._classes
        for key, exception_class in new.items():
            classes[int(key)] = exception_class
        if recent_from is None:
            classes.clear()
        elif len(classes) > FAILED_SAMPLE:
            for failure_id in [i for i in classes if i < recent_from]:
                del classes[failure_id]
            if len(classes) > 4 * FAILED_SAMPLE:
                # Ids deleted inside the window (retried, discarded) linger until the
                # window passes them; after mass deletions start over instead.
                classes.clear()
