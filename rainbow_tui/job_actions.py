"""Retry, discard and pause in Solid Queue's tables, as Solid Queue 1.x does them.

Transcribed from rails/solid_queue v1.5.0 (unchanged in these respects since 1.0,
except where noted):

- ``FailedExecution#retry`` (app/models/solid_queue/failed_execution.rb): with the
  failed execution locked, ``job.reset_execution_counters`` (job/retryable.rb: the
  ``arguments`` JSON gets ``"executions" => 0`` and ``"exception_executions" => {}``,
  the keys Active Job's ``serialize`` writes), then ``job.prepare_for_execution``
  (job/executable.rb: scheduled when not ``due?``, else ``dispatch``), then the
  failed execution is destroyed.
- ``Job#dispatch``: a job with a concurrency key takes a slot of its semaphore
  (semaphore.rb, ``Proxy#wait``): an existing row (locked) gives one when
  ``value > 0`` (decrement, ``expires_at = now + duration``); without a row, one is
  created with ``value = limit - 1``.  A slot taken: ready.  None: ``on_conflict``
  (1.2+) ``block`` puts it in blocked executions (``expires_at = now + duration``),
  ``discard`` destroys the job.  No key: ready.
- ``Execution#discard`` (execution.rb): the job is destroyed; its executions go with
  it (the schema's foreign keys cascade), a failed job holds no semaphore slot.
- ``Queue#pause`` / ``#resume`` (queue.rb): a row in ``solid_queue_pauses``, or none.

A job's ``limits_concurrency`` lives in Ruby, so its limit and duration come from
``[queue] concurrency``.  Every time written is UTC wall clock, as Rails writes it.

The console selects failures by exception class, which Solid Queue itself does not:
the selection is the queue pane's grouping, counted in full first (in chunks, each
well inside the session's statement timeout), then worked in batches of failure
ids, each batch one transaction, with progress reported and a cancellation honoured
between batches.  What could not be done is said, not hidden.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

import msgspec

from rainbow_tui.actions import ActionResult
from rainbow_tui.config import DEFAULT_CONCURRENCY, ConcurrencyLimit
from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.queue import exception_class_sql
from rainbow_tui.sources.transactions import READ, WRITE, in_transaction, transact
from rainbow_tui.text import N_, tr

if TYPE_CHECKING:
    import asyncpg

NOW_UTC = "(now() AT TIME ZONE 'UTC')"
# Failures per transaction: each statement of a batch stays far below a 2 s timeout.
BATCH_SIZE = 1000
# Failed executions read per counting statement (their errors are decompressed).
SCAN_CHUNK = 5000
MIN_SCAN_CHUNK = 250

T = TypeVar("T")
BulkVerb = Literal["retry", "discard"]
_BulkEnding = Literal["done", "cancelled", "stopped"]
ProgressCallback = Callable[[int, int], None]
_BatchRunner = Callable[["asyncpg.Connection", str, list[int], bool], Awaitable["_Tally"]]


def format_count(n: int) -> str:
    """61 234: the thousands apart, as the confirmation reads."""
    return f"{n:,}".replace(",", " ")


# -- what a retry does to one job ----------------------------------------------------------


class _Unretriable(Exception):
    """Solid Queue's own retry would raise on this job (e.g. no arguments hash)."""


_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ZERO = msgspec.Raw(b"0")
_EMPTY = msgspec.Raw(b"{}")


def reset_execution_counters(arguments: str | None) -> str:
    """``Job#reset_execution_counters`` on the ``arguments`` text.

    Only the two top-level values change; every other value keeps its bytes, and
    the keys their order (a key not there yet goes last, as ``Hash#[]=`` puts it).
    """
    if arguments is None:
        raise _Unretriable(tr("action.job.arguments_empty"))
    try:
        data = _RAW_OBJECT.decode(arguments)
    except msgspec.DecodeError as error:
        raise _Unretriable(tr("action.job.arguments_not_object", error=error)) from None
    data["executions"] = _ZERO
    data["exception_executions"] = _EMPTY
    return msgspec.json.encode(data).decode("utf-8")


@dataclass(slots=True)
class _Semaphore:
    """One semaphore row as the batch sees it, locked, and what it did to it."""

    value: int
    exists: bool
    taken: int = 0  # slots taken from a row that existed
    created: bool = False
    duration_s: float = 0.0  # of the job that last set expires_at


def _wait(semaphore: _Semaphore, limit: ConcurrencyLimit) -> bool:
    """``Semaphore::Proxy#wait`` against the locked row (or its absence)."""
    if semaphore.exists:
        if semaphore.value > 0:  # attempt_decrement
            semaphore.value -= 1
            semaphore.taken += 1
            semaphore.duration_s = limit.duration_s
            return True
        return False
    # attempt_creation: the insert is made afterwards; a race lost there redoes
    # the whole batch, which then finds the row and locks it.
    semaphore.exists = True
    semaphore.created = True
    semaphore.value = limit.to - 1
    semaphore.duration_s = limit.duration_s
    return True


class _RacedOnSemaphore(Exception):
    """Another session created a semaphore this batch meant to create."""


# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailedSelection:
    """Every failure of one exception class, counted in full: the confirmation's
    number, and exactly the failures the action then works on."""

    exception_class: str
    failure_ids: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.failure_ids)


@dataclass(slots=True)
class _Tally:
    done: int = 0
    ready: int = 0
    scheduled: int = 0
    blocked: int = 0
    discarded: int = 0  # on_conflict: discard
    gone: int = 0  # no longer failed when reached: handled elsewhere
    busy: int = 0  # locked by another session: left failed
    unretriable: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: _Tally) -> None:
        for name in (
            "done", "ready", "scheduled", "blocked", "discarded", "gone", "busy", "unretriable"
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for problem in other.problems:
            if problem not in self.problems and len(self.problems) < 3:
                self.problems.append(problem)


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What a bulk action did, in numbers and in words; partial is not failure."""

    verb: BulkVerb
    exception_class: str
    total: int
    done: int
    left: int  # still failed: not reached (cancelled, error), locked or unretriable
    gone: int = 0
    ready: int = 0
    scheduled: int = 0
    blocked: int = 0
    discarded: int = 0
    batches: int = 0
    cancelled: bool = False
    error: str | None = None
    elapsed_s: float = 0.0
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.left == 0 and self.error is None and not self.cancelled

    @property
    def ok(self) -> bool:
        return self.done > 0 or self.complete

    @property
    def severity(self) -> Literal["information", "warning", "error"]:
        if self.complete:
            return "information"
        return "warning" if self.done > 0 else "error"

    @property
    def message(self) -> str:
        """The outcome in the current language (said when shown, not when done)."""
        n = format_count
        ending: _BulkEnding = (
            "cancelled" if self.cancelled else "stopped" if self.error is not None else "done"
        )
        text = tr(_BULK_HEADS[self.verb, ending], done=n(self.done), total=n(self.total),
                  exception_class=self.exception_class)
        parts: list[str] = []
        if self.verb == "retry" and self.done:
            split = [
                tr(key, count=n(count))
                for count, key in (
                    (self.ready, N_("action.bulk.ready")),
                    (self.blocked, N_("action.bulk.blocked")),
                    (self.scheduled, N_("action.bulk.scheduled")),
                    (self.discarded, N_("action.bulk.discarded_on_conflict")),
                )
                if count
            ]
            parts.append(tr("action.bulk.list_separator").join(split))
        if self.left:
            parts.append(tr("action.bulk.left_failed", count=n(self.left)))
        if self.gone:
            parts.append(tr("action.bulk.handled_elsewhere", count=n(self.gone)))
        separator = tr("action.bulk.part_separator")
        if parts:
            text = tr("action.bulk.with_parts", outcome=text, parts=separator.join(parts))
        if self.error is not None:
            text = tr("action.bulk.with_error", outcome=text, error=self.error)
        if self.problems:
            text = tr("action.bulk.with_problems", outcome=text,
                      problems=separator.join(self.problems))
        return text


# The first words of a bulk outcome: what was done, and how the run ended.
_BULK_HEADS: dict[tuple[BulkVerb, _BulkEnding], str] = {
    ("retry", "done"): N_("action.bulk.retried"),
    ("retry", "cancelled"): N_("action.bulk.retried_cancelled"),
    ("retry", "stopped"): N_("action.bulk.retried_stopped"),
    ("discard", "done"): N_("action.bulk.discarded"),
    ("discard", "cancelled"): N_("action.bulk.discarded_cancelled"),
    ("discard", "stopped"): N_("action.bulk.discarded_stopped"),
}


# -- the actions ---------------------------------------------------------------------------


class JobActions:
    def __init__(
        self,
        link: PostgresLink,
        concurrency: Mapping[str, ConcurrencyLimit] | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        scan_chunk: int = SCAN_CHUNK,
    ) -> None:
        self.link = link
        self.concurrency = dict(concurrency or {})
        self.batch_size = batch_size
        self.scan_chunk = scan_chunk

    def limit_of(self, class_name: str) -> ConcurrencyLimit:
        return self.concurrency.get(class_name) or DEFAULT_CONCURRENCY

    # -- one transaction ---------------------------------------------------------------

    async def _write(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """``work`` in one read-write transaction (the session is read-only by default).

        A semaphore race lost at creation redoes the transaction, as Solid Queue's
        ``attempt_creation`` falls back to the row another session made (on the same
        session: the link would take the race for a broken connection).
        """

        async def run(connection: asyncpg.Connection) -> T:
            for attempt in range(3):
                try:
                    return await in_transaction(connection, work, WRITE)
                except _RacedOnSemaphore:
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        return await self.link.with_connection(run)

    # -- retry ---------------------------------------------------------------------------

    async def _retry_batch(
        self, connection: asyncpg.Connection, where: str, ids: list[int], skip_locked: bool
    ) -> _Tally:
        """Retry the failures ``where`` picks out of ``ids`` (failure or job ids)."""
        tally = _Tally()
        rows = await connection.fetch(
            _LOCK_FOR_RETRY.format(where=where, skip=" SKIP LOCKED" if skip_locked else ""), ids
        )
        if skip_locked:
            tally.busy = await _still_failed_elsewhere(connection, ids, rows)
            tally.gone = len(ids) - len(rows) - tally.busy

        keys = sorted({r["concurrency_key"] for r in rows if r["due"] and r["concurrency_key"]})
        semaphores: dict[str, _Semaphore] = {k: _Semaphore(0, exists=False) for k in keys}
        if keys:
            for row in await connection.fetch(_LOCK_SEMAPHORES, keys):
                semaphores[row["key"]] = _Semaphore(int(row["value"]), exists=True)

        reset_ids: list[int] = []
        reset_arguments: list[str] = []
        retried: list[int] = []
        ready: list[int] = []
        scheduled: list[int] = []
        blocked: list[int] = []
        blocked_for: list[float] = []
        discarded: list[int] = []
        for row in rows:  # in job id order, as Solid Queue's one-by-one dispatch goes
            job_id = int(row["job_id"])
            try:
                arguments = reset_execution_counters(row["arguments"])
            except _Unretriable as problem:
                tally.unretriable += 1
                tally.problems.append(tr("action.job.not_retried", job=job_id, problem=problem))
                continue
            if arguments != row["arguments"]:  # save! writes only a change
                reset_ids.append(job_id)
                reset_arguments.append(arguments)
            retried.append(int(row["failure_id"]))
            key_name = row["concurrency_key"]
            if not row["due"]:
                scheduled.append(job_id)
            elif not key_name:
                ready.append(job_id)
            else:
                limit = self.limit_of(str(row["class_name"]))
                if _wait(semaphores[key_name], limit):
                    ready.append(job_id)
                elif limit.on_conflict == "discard":
                    discarded.append(job_id)
                else:
                    blocked.append(job_id)
                    blocked_for.append(limit.duration_s)

        created = [(k, s) for k, s in semaphores.items() if s.created]
        if created:
            inserted = await connection.fetch(
                _CREATE_SEMAPHORES,
                [k for k, _ in created],
                [s.value for _, s in created],
                [s.duration_s for _, s in created],
            )
            if len(inserted) != len(created):
                raise _RacedOnSemaphore
        taken = [(k, s) for k, s in semaphores.items() if s.taken and not s.created]
        if taken:
            await connection.execute(
                _TAKE_SEMAPHORES,
                [k for k, _ in taken],
                [s.taken for _, s in taken],
                [s.duration_s for _, s in taken],
            )
        if reset_ids:
            await connection.execute(_RESET_COUNTERS, reset_ids, reset_arguments)
        if ready:
            await connection.execute(_TO_READY, ready)
        if scheduled:
            await connection.execute(_TO_SCHEDULED, scheduled)
        if blocked:
            await connection.execute(_TO_BLOCKED, blocked, blocked_for)
        if discarded:
            await connection.execute(_DELETE_JOBS, discarded)
        if retried:
            await connection.execute(_FORGET_FAILURES, retried)
        tally.done = len(retried)
        tally.ready, tally.scheduled = len(ready), len(scheduled)
        tally.blocked, tally.discarded = len(blocked), len(discarded)
        return tally

    async def retry_failed_job(self, job_id: int) -> ActionResult:
        """``FailedExecution#retry`` of the job's failure."""
        try:
            tally = await self._write(
                lambda c: self._retry_batch(c, _BY_JOB, [job_id], skip_locked=False)
            )
        except DatabaseUnavailable as error:
            return ActionResult(False, tr("action.job.retry_failed", job=job_id, error=error))
        if tally.unretriable:
            return ActionResult(False, tally.problems[0])
        if not tally.done:
            return ActionResult(False, tr("action.job.nothing_to_retry", job=job_id))
        key = (
            N_("action.job.retried_ready") if tally.ready
            else N_("action.job.retried_blocked") if tally.blocked
            else N_("action.job.retried_scheduled") if tally.scheduled
            else N_("action.job.retried_discarded")
        )
        return ActionResult(True, tr(key, job=job_id))

    # -- discard -------------------------------------------------------------------------

    @staticmethod
    async def _discard_batch(
        connection: asyncpg.Connection, where: str, ids: list[int], skip_locked: bool
    ) -> _Tally:
        tally = _Tally()
        rows = await connection.fetch(
            _LOCK_FOR_DISCARD.format(where=where, skip=" SKIP LOCKED" if skip_locked else ""),
            ids,
        )
        if skip_locked:
            tally.busy = await _still_failed_elsewhere(connection, ids, rows)
            tally.gone = len(ids) - len(rows) - tally.busy
        if rows:
            # The failed execution goes with its job (ON DELETE CASCADE).
            await connection.execute(_DELETE_JOBS, [int(r["job_id"]) for r in rows])
        tally.done = len(rows)
        return tally

    async def discard_failed_job(self, job_id: int) -> ActionResult:
        """``Execution#discard`` of the job's failure: the job is destroyed."""
        try:
            tally = await self._write(
                lambda c: self._discard_batch(c, _BY_JOB, [job_id], skip_locked=False)
            )
        except DatabaseUnavailable as error:
            return ActionResult(False, tr("action.job.discard_failed", job=job_id, error=error))
        if not tally.done:
            return ActionResult(False, tr("action.job.nothing_to_discard", job=job_id))
        return ActionResult(True, tr("action.job.discarded", job=job_id))

    # -- by exception class ----------------------------------------------------------------

    async def select_failed_class(self, exception_class: str) -> FailedSelection:
        """Every failure of the class, as the queue pane groups them; a true count.

        Read in chunks of failed-execution ids (each its own short statement,
        halved when one still meets the statement timeout), up to the newest id
        at the start: failures arriving meanwhile are not in what was confirmed.
        Raises ``DatabaseUnavailable``.
        """

        async def newest_id(connection: asyncpg.Connection) -> int | None:
            value = await connection.fetchval("SELECT max(id) FROM solid_queue_failed_executions")
            return None if value is None else int(value)

        # Counting only reads: each statement its own read-only transaction.
        newest = await transact(self.link, newest_id, READ)
        found: list[int] = []
        after = 0
        chunk = self.scan_chunk
        while newest is not None and after < newest:
            sql = _SCAN_CLASS.format(chunk=int(chunk), exception_class=_CLASS_OF_ERROR)

            async def scan(
                connection: asyncpg.Connection, sql: str = sql, after: int = after
            ) -> asyncpg.Record | None:
                row: asyncpg.Record | None = await connection.fetchrow(
                    sql, after, newest, exception_class
                )
                return row

            try:
                row = await transact(self.link, scan, READ)
            except DatabaseUnavailable as error:
                if _timed_out(error) and chunk > MIN_SCAN_CHUNK:
                    chunk //= 2
                    continue
                raise
            if row is None or row["last_id"] is None:
                break
            found.extend(row["ids"])
            after = int(row["last_id"])
        return FailedSelection(exception_class, tuple(found))

    async def retry_failed_class(
        self,
        selection: FailedSelection,
        on_progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BulkOutcome:
        return await self._bulk("retry", selection, on_progress, cancel)

    async def discard_failed_class(
        self,
        selection: FailedSelection,
        on_progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BulkOutcome:
        return await self._bulk("discard", selection, on_progress, cancel)

    async def _bulk(
        self,
        verb: BulkVerb,
        selection: FailedSelection,
        on_progress: ProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> BulkOutcome:
        """Batches of failure ids, each its own transaction; ``cancel`` is looked at
        between batches, so a batch is either wholly done or not at all."""
        started = time.monotonic()
        ids = selection.failure_ids
        total = len(ids)
        tally = _Tally()
        batches = 0
        error: str | None = None
        cancelled = False
        if on_progress is not None:
            on_progress(0, total)
        for start in range(0, total, self.batch_size):
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            batch = list(ids[start : start + self.batch_size])
            run_batch = self._retry_batch if verb == "retry" else self._discard_batch

            async def one_batch(
                connection: asyncpg.Connection,
                run_batch: _BatchRunner = run_batch,
                batch: list[int] = batch,
            ) -> _Tally:
                return await run_batch(connection, _BY_FAILURE, batch, True)

            try:
                part = await self._write(one_batch)
            except DatabaseUnavailable as problem:
                error = str(problem)
                break
            tally.add(part)
            batches += 1
            if on_progress is not None:
                on_progress(start + len(batch), total)
        return BulkOutcome(
            verb=verb,
            exception_class=selection.exception_class,
            total=total,
            done=tally.done,
            left=total - tally.done - tally.gone,
            gone=tally.gone,
            ready=tally.ready,
            scheduled=tally.scheduled,
            blocked=tally.blocked,
            discarded=tally.discarded,
            batches=batches,
            cancelled=cancelled,
            error=error,
            elapsed_s=time.monotonic() - started,
            problems=tuple(tally.problems),
        )

    # -- queues ----------------------------------------------------------------------------

    async def pause_queue(self, queue: str) -> ActionResult:
        """``Queue#pause``: ``Pause.create_or_find_by!(queue_name:)``."""
        sql = (
            f"INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ($1, {NOW_UTC})"
            " ON CONFLICT (queue_name) DO NOTHING RETURNING queue_name"
        )
        try:
            rows = await self._write(lambda c: c.fetch(sql, queue))
        except DatabaseUnavailable as error:
            return ActionResult(False, tr("action.queue.pause_failed", queue=queue, error=error))
        if not rows:
            return ActionResult(False, tr("action.queue.already_paused", queue=queue))
        return ActionResult(True, tr("action.queue.paused", queue=queue))

    async def resume_queue(self, queue: str) -> ActionResult:
        """``Queue#resume``: ``Pause.where(queue_name:).delete_all``."""
        sql = "DELETE FROM solid_queue_pauses WHERE queue_name = $1 RETURNING queue_name"
        try:
            rows = await self._write(lambda c: c.fetch(sql, queue))
        except DatabaseUnavailable as error:
            return ActionResult(False, tr("action.queue.resume_failed", queue=queue, error=error))
        if not rows:
            return ActionResult(False, tr("action.queue.not_paused", queue=queue))
        return ActionResult(True, tr("action.queue.resumed", queue=queue))


def _timed_out(error: DatabaseUnavailable) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == "57014"


async def _still_failed_elsewhere(
    connection: asyncpg.Connection, ids: list[int], locked: Sequence[asyncpg.Record]
) -> int:
    """Of the failures asked for, those still there but locked by another session."""
    count = await connection.fetchval(
        _STILL_FAILED, ids, [int(r["failure_id"]) for r in locked]
    )
    return int(count or 0)


# -- statements ------------------------------------------------------------------------------

_BY_JOB = "f.job_id = ANY($1::bigint[])"
_BY_FAILURE = "f.id = ANY($1::bigint[])"
# The expression the queue pane groups by, so a class acts on what it showed.
_CLASS_OF_ERROR = exception_class_sql("chunk.error")

_SCAN_CLASS = """
SELECT max(chunk.id) AS last_id,
       coalesce(array_agg(chunk.id ORDER BY chunk.id)
                FILTER (WHERE {exception_class} = $3), '{{}}') AS ids
FROM (SELECT id, error FROM solid_queue_failed_executions
      WHERE id > $1 AND id <= $2 ORDER BY id LIMIT {chunk}) AS chunk
"""

# FailedExecution#retry's with_lock; a bulk skips rows another session holds.
_LOCK_FOR_RETRY = f"""
SELECT f.id AS failure_id, j.id AS job_id, j.class_name, j.arguments, j.concurrency_key,
       (j.scheduled_at IS NULL OR j.scheduled_at <= {NOW_UTC}) AS due
FROM solid_queue_failed_executions AS f
JOIN solid_queue_jobs AS j ON j.id = f.job_id
WHERE {{where}}
ORDER BY f.job_id
FOR UPDATE OF f{{skip}}
"""

_LOCK_FOR_DISCARD = """
SELECT f.id AS failure_id, f.job_id FROM solid_queue_failed_executions AS f
WHERE {where}
ORDER BY f.job_id
FOR UPDATE OF f{skip}
"""

_STILL_FAILED = """
SELECT count(*) FROM solid_queue_failed_executions
WHERE id = ANY($1::bigint[]) AND id <> ALL($2::bigint[])
"""

# Semaphore.lock.find_by(key:), for every key of the batch at once, in key order.
_LOCK_SEMAPHORES = """
SELECT key, value FROM solid_queue_semaphores
WHERE key = ANY($1::varchar[]) ORDER BY key FOR UPDATE
"""

# Semaphore.create_unique_by: insert ... unique_by: :key (timestamps by insert_all).
_CREATE_SEMAPHORES = f"""
INSERT INTO solid_queue_semaphores (key, value, expires_at, created_at, updated_at)
SELECT u.key, u.value, {NOW_UTC} + make_interval(secs => u.duration), {NOW_UTC}, {NOW_UTC}
FROM unnest($1::varchar[], $2::integer[], $3::float8[]) AS u(key, value, duration)
ON CONFLICT (key) DO NOTHING
RETURNING key
"""

# attempt_decrement: update_all("value = value - 1, expires_at = ?"), once per slot
# taken (update_all leaves updated_at alone).
_TAKE_SEMAPHORES = f"""
UPDATE solid_queue_semaphores AS s
SET value = s.value - u.taken, expires_at = {NOW_UTC} + make_interval(secs => u.duration)
FROM unnest($1::varchar[], $2::integer[], $3::float8[]) AS u(key, taken, duration)
WHERE s.key = u.key
"""

_RESET_COUNTERS = f"""
UPDATE solid_queue_jobs AS j SET arguments = u.arguments, updated_at = {NOW_UTC}
FROM unnest($1::bigint[], $2::text[]) AS u(id, arguments)
WHERE j.id = u.id
"""

# ReadyExecution.create_or_find_by!(job_id:), queue_name and priority from the job.
_TO_READY = f"""
INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT j.id, j.queue_name, j.priority, {NOW_UTC}
FROM solid_queue_jobs AS j WHERE j.id = ANY($1::bigint[])
ORDER BY j.id
ON CONFLICT (job_id) DO NOTHING
"""

_TO_SCHEDULED = f"""
INSERT INTO solid_queue_scheduled_executions
    (job_id, queue_name, priority, scheduled_at, created_at)
SELECT j.id, j.queue_name, j.priority, j.scheduled_at, {NOW_UTC}
FROM solid_queue_jobs AS j WHERE j.id = ANY($1::bigint[])
ORDER BY j.id
ON CONFLICT (job_id) DO NOTHING
"""

# BlockedExecution: concurrency_key from the job, expires_at = duration.from_now.
_TO_BLOCKED = f"""
INSERT INTO solid_queue_blocked_executions
    (job_id, queue_name, priority, concurrency_key, expires_at, created_at)
SELECT j.id, j.queue_name, j.priority, j.concurrency_key,
       {NOW_UTC} + make_interval(secs => u.duration), {NOW_UTC}
FROM unnest($1::bigint[], $2::float8[]) AS u(id, duration)
JOIN solid_queue_jobs AS j ON j.id = u.id
ORDER BY j.id
ON CONFLICT (job_id) DO NOTHING
"""

_DELETE_JOBS = "DELETE FROM solid_queue_jobs WHERE id = ANY($1::bigint[])"
_FORGET_FAILURES = "DELETE FROM solid_queue_failed_executions WHERE id = ANY($1::bigint[])"
