"""月次メンテナンス 不要データ削除 (古いジョブログ): Solid Queue's finished jobs
cleared as ``SolidQueue::Job.clear_finished_in_batches`` does, with the counts
before and after and a confirmation that names the count.

Transcribed from rails/solid_queue ``app/models/solid_queue/job/clearable.rb``:
the ``clearable`` scope is ``where.not(finished_at: nil).where(finished_at:
...finished_before)`` (finished before the cut-off, exclusive), the cut-off
``SolidQueue.clear_finished_jobs_after.ago`` (``lib/solid_queue.rb``: 1 day) taken
once per call, and ``clear_finished_in_batches`` deletes ``limit(batch_size)``
(500) of them per statement until a batch deletes none.  Each batch is its own
transaction, as each ``delete_all`` is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import READ, WRITE, transact
from rainbow_tui.text import N_, Phrase
from rainbow_tui.upkeep.database_sessions import maintenance_session
from rainbow_tui.upkeep.results import ItemResult, not_available

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["CLEARABLE_COUNT_SQL", "CLEAR_BATCH_SQL", "clear_finished_jobs"]

# finished_at is timestamp(6) without time zone, in UTC as Rails writes it.
CLEARABLE_COUNT_SQL = (
    "SELECT count(*) FROM solid_queue_jobs "
    "WHERE finished_at IS NOT NULL AND finished_at < $1"
)
FINISHED_COUNT_SQL = "SELECT count(*) FROM solid_queue_jobs WHERE finished_at IS NOT NULL"
# ActiveRecord's delete_all on a limited relation: DELETE … WHERE id IN (SELECT … LIMIT n).
CLEAR_BATCH_SQL = (
    "DELETE FROM solid_queue_jobs WHERE id IN ("
    "SELECT id FROM solid_queue_jobs "
    "WHERE finished_at IS NOT NULL AND finished_at < $1 LIMIT $2)"
)
BATCH_TIMEOUT_S = 60.0


def cutoff(now: datetime, after_s: float) -> datetime:
    """``clear_finished_jobs_after.ago`` as the naive UTC time the column holds."""
    return (now - timedelta(seconds=after_s)).replace(tzinfo=None)


async def _counts(link: PostgresLink, before: datetime) -> tuple[int, int]:
    """(clearable, finished) jobs: those older than the cut-off, and all finished."""

    async def count(connection: asyncpg.Connection) -> tuple[int, int]:
        clearable = int(await connection.fetchval(CLEARABLE_COUNT_SQL, before))
        finished = int(await connection.fetchval(FINISHED_COUNT_SQL))
        return clearable, finished

    return await transact(link, count, READ)


async def clear_finished_jobs(context: RoutineContext) -> ItemResult:
    settings = context.config.routines
    session = maintenance_session(context, "queue", BATCH_TIMEOUT_S, writes=True)
    if session is None:
        return not_available(Phrase.verbatim(context.runner.context.why_no_database()))
    finished_before = cutoff(context.clock(), settings.clear_finished_jobs_after_s)
    hours = settings.clear_finished_jobs_after_s / 3600
    try:
        clearable, finished = await _counts(session, finished_before)
        figures = {"clearable_before": float(clearable), "finished_before": float(finished)}
        if clearable == 0:
            return ItemResult("ok", Phrase(N_("routine.clear.nothing"), hours=hours,
                                           finished=finished), figures)
        if context.runner.read_only:
            return ItemResult("unknown", Phrase(N_("routine.read_only"),
                                                command="SolidQueue::Job.clear_finished_in_batches"),
                              figures)
        question = Phrase.plural("routine.clear.confirm", clearable, hours=hours)
        if not await context.confirm(question):
            return ItemResult("unknown", Phrase.plural("routine.clear.declined", clearable),
                              figures)
        deleted = batches = 0
        while True:
            async def batch(connection: asyncpg.Connection) -> int:
                status: str = await connection.execute(
                    CLEAR_BATCH_SQL, finished_before, settings.clear_batch_size)
                return int(status.rsplit(" ", 1)[-1])

            removed = await transact(session, batch, WRITE)
            batches += 1
            if removed == 0:
                break
            deleted += removed
            context.progress(Phrase(N_("routine.clear.progress"), deleted=deleted,
                                    count=clearable))
        left, finished_after = await _counts(session, finished_before)
    except DatabaseUnavailable as error:
        return ItemResult("warning", Phrase(N_("routine.clear.failed"), error=str(error)))
    finally:
        await session.close()
    figures |= {"deleted": float(deleted), "batches": float(batches),
                "clearable_after": float(left), "finished_after": float(finished_after)}
    return ItemResult(
        "ok" if left == 0 else "warning",
        Phrase(N_("routine.clear.done"), deleted=deleted, batches=batches, before=finished,
               after=finished_after, hours=hours),
        figures,
    )
