"""``[[cleanup]]``: the app's old data the monthly routine deletes (不要データ削除:
古いセッションデータ, 期限切れトークン), each entry a table's own pair of statements.

The app knows which rows are old (``sessions.updated_at`` older than 30 days as
activerecord-session_store's ``db:sessions:trim`` trims them, tokens past
``expires_at``); the console only counts, asks, deletes in batches and counts again.
So the statements are the team's, and what is checked here is their form, the rule
that keeps a batch a batch:

- ``count`` is one ``SELECT`` (or ``WITH … SELECT``) without parameters; it runs in
  a read-only transaction, so it cannot change anything whatever it says.
- ``delete`` is one ``DELETE FROM … WHERE …`` statement whose only parameter is
  ``$1``, the batch size, used in a ``LIMIT $1`` (PostgreSQL's DELETE has no LIMIT
  of its own: the rows are chosen by a sub-select, ``WHERE id IN (SELECT id … LIMIT
  $1)``).  A statement that could delete a whole table in one go, or that takes a
  value the console does not give, is refused before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import msgspec

from rainbow_tui.text import tr

__all__ = ["CleanupEntry", "cleanup_problem"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PARAMETER = re.compile(r"\$(\d+)")
_COUNT_START = re.compile(r"(?is)\s*(select|with)\b")
_DELETE_START = re.compile(r"(?is)\s*delete\s+from\s")
_WHERE = re.compile(r"(?i)\bwhere\b")
_LIMIT_BATCH = re.compile(r"(?i)\blimit\s+\$1\b")


class CleanupEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One kind of old data: its name, how it is called, where it is, how it is
    counted and deleted."""

    name: str
    # A title in each language, or one label said in both.
    label: str = ""
    title_ja: str = ""
    title_en: str = ""
    database: Literal["primary", "queue"] = "primary"
    count: str
    delete: str
    batch_size: int = 1000
    # Each statement's limit (the session's statement_timeout), in seconds.
    timeout_s: float = 60.0

    def title(self, language: str) -> str:
        chosen = self.title_ja if language == "ja" else self.title_en
        return chosen or self.label or self.name


def _one_statement(sql: str) -> bool:
    """No second statement after a ``;`` (a trailing one is allowed)."""
    return ";" not in sql.strip().rstrip(";")


def _count_problem(sql: str) -> str | None:
    if not _one_statement(sql) or not _COUNT_START.match(sql) or _PARAMETER.search(sql):
        return tr("config.cleanup.count_sql")
    return None


def _delete_problem(sql: str) -> str | None:
    parameters = {int(number) for number in _PARAMETER.findall(sql)}
    if (
        not _one_statement(sql)
        or not _DELETE_START.match(sql)
        or not _WHERE.search(sql)
        or not _LIMIT_BATCH.search(sql)
        or parameters != {1}
    ):
        return tr("config.cleanup.delete_sql")
    return None


def cleanup_problem(entries: Iterable[CleanupEntry]) -> tuple[str, str] | None:
    """The first (key, problem) of the ``[[cleanup]]`` entries, or None."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"cleanup[{index}]"
        if not _NAME.fullmatch(entry.name):
            return f"{where}.name", tr("config.cleanup.name", value=entry.name)
        if entry.name in seen:
            return f"{where}.name", tr("config.cleanup.duplicate", value=entry.name)
        seen.add(entry.name)
        if bool(entry.title_ja.strip()) != bool(entry.title_en.strip()):
            missing = "title_en" if entry.title_ja.strip() else "title_ja"
            return f"{where}.{missing}", tr("config.cleanup.both_titles")
        if not entry.label.strip() and not entry.title_ja.strip():
            return where, tr("config.cleanup.no_title")
        if (problem := _count_problem(entry.count)) is not None:
            return f"{where}.count", problem
        if (problem := _delete_problem(entry.delete)) is not None:
            return f"{where}.delete", problem
    return None
