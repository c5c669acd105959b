"""月次メンテナンス 不要データ削除 (古いセッションデータ, 期限切れトークン): each
``[[cleanup]]`` entry counted, confirmed with its count, deleted in batches and
counted again, as ``finished_jobs`` does for Solid Queue.

Each batch is its own transaction on a writable session of its own, under the
entry's statement timeout, so a long cleanup holds no lock for long and a batch cut
off by the timeout rolls back only itself.  Never more rows are deleted than the
person confirmed: each batch asks for at most what is left of that count, so rows
that grow old while it runs wait for the next run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainbow_tui.sources.postgres_link import DatabaseUnavailable, PostgresLink
from rainbow_tui.sources.transactions import READ, WRITE, transact
from rainbow_tui.text import N_, Language, Phrase, current_language
from rainbow_tui.upkeep.cleanup_config import CleanupEntry
from rainbow_tui.upkeep.database_sessions import maintenance_session
from rainbow_tui.upkeep.results import (
    ItemResult,
    JoinedPhrase,
    Outcome,
    not_available,
    worst_outcome,
)

if TYPE_CHECKING:
    import asyncpg

    from rainbow_tui.upkeep.context import RoutineContext

__all__ = ["EntryTitle", "cleanup_old_data"]


class EntryTitle(Phrase):
    """An entry's title in the language it is said in (its config gives both)."""

    __slots__ = ("entry",)

    def __init__(self, entry: CleanupEntry) -> None:
        super().__init__(N_("text.verbatim"), text=entry.name)
        self.entry = entry

    def text(self, language: Language | None = None) -> str:
        return self.entry.title((language or current_language()).code)


async def _count(session: PostgresLink, entry: CleanupEntry) -> int:
    async def count(connection: asyncpg.Connection) -> int:
        return int(await connection.fetchval(entry.count) or 0)

    return await transact(session, count, READ)


async def _delete_batch(session: PostgresLink, entry: CleanupEntry, limit: int) -> int:
    async def batch(connection: asyncpg.Connection) -> int:
        status: str = await connection.execute(entry.delete, limit)
        return int(status.rsplit(" ", 1)[-1])

    return await transact(session, batch, WRITE)


async def _clean(context: RoutineContext, entry: CleanupEntry,
                 figures: dict[str, float]) -> tuple[Outcome, Phrase]:
    """One entry: its outcome and what it says; its numbers go into ``figures``."""
    title = EntryTitle(entry)
    session = maintenance_session(context, entry.database, entry.timeout_s, writes=True)
    if session is None:
        return "unknown", Phrase(N_("routine.cleanup.no_database"), title=title,
                                 database=entry.database)
    try:
        before = await _count(session, entry)
        figures[f"{entry.name}:before"] = float(before)
        if before == 0:
            figures[f"{entry.name}:after"] = 0.0
            return "ok", Phrase(N_("routine.cleanup.nothing"), title=title)
        if context.runner.read_only:
            return "unknown", Phrase.plural("routine.cleanup.read_only", before,
                                             title=title)
        question = Phrase.plural("routine.cleanup.confirm", before, title=title,
                                 database=entry.database)
        if not await context.confirm(question):
            return "unknown", Phrase.plural("routine.cleanup.declined", before,
                                             title=title)
        deleted = batches = 0
        while deleted < before:
            removed = await _delete_batch(session, entry, min(entry.batch_size, before - deleted))
            batches += 1
            if removed == 0:
                break
            deleted += removed
            context.progress(Phrase(N_("routine.cleanup.progress"), title=title,
                                    deleted=deleted, count=before))
        after = await _count(session, entry)
    except DatabaseUnavailable as error:
        return "warning", Phrase(N_("routine.cleanup.failed"), title=title, error=str(error))
    finally:
        await session.close()
    figures |= {f"{entry.name}:deleted": float(deleted), f"{entry.name}:batches": float(batches),
                f"{entry.name}:after": float(after)}
    # Fewer deleted than counted: the delete statement does not choose what the
    # count counts (or another hand deleted some first); worth a look.
    outcome: Outcome = "ok" if deleted >= before else "warning"
    return outcome, Phrase(N_("routine.cleanup.done"), title=title, deleted=deleted,
                           batches=batches, before=before, after=after)


async def cleanup_old_data(context: RoutineContext) -> ItemResult:
    entries = context.config.cleanup
    if not entries:
        return not_available(Phrase(N_("routine.why.no_cleanup")))
    figures: dict[str, float] = {}
    outcomes: list[Outcome] = []
    said: list[Phrase] = []
    for entry in entries:
        outcome, phrase = await _clean(context, entry, figures)
        outcomes.append(outcome)
        said.append(phrase)
    return ItemResult(worst_outcome(outcomes), JoinedPhrase(said), figures)
