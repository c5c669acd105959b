"""What PostgreSQL says while ``VACUUM (VERBOSE, ANALYZE)`` runs, read into facts.

From PostgreSQL's ``src/backend/access/heap/vacuumlazy.c`` (``heap_vacuum_rel``,
15 onwards): for each table vacuumed, one INFO whose first line is
``finished vacuuming "DB.SCHEMA.TABLE": index scans: N`` and whose later lines
include ``tuples: R removed, L remain, D are dead but not yet removable``.  From
``src/backend/commands/vacuum.c`` (``vacuum_is_permitted_for_relation``): a WARNING
for each table the role may not vacuum, 16's ``permission denied to vacuum "x",
skipping it`` and 15's ``skipping "x" --- only table or database owner can vacuum
it``.

The server words these in its ``lc_messages`` language: one that speaks another
matches nothing here, and the caller says the tables could not be counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["TableVacuumed", "VacuumTally", "skipped_table", "table_vacuumed"]

_FINISHED = re.compile(
    r'\Afinished vacuuming "(?P<name>[^"]*)": .*?^tuples: (?P<removed>\d+) removed',
    re.DOTALL | re.MULTILINE)
_SKIPPED = re.compile(r'(?:permission denied to vacuum|skipping) "([^"]+)"')


@dataclass(frozen=True)
class TableVacuumed:
    """One table's VACUUM, as its INFO message tells it."""

    schema: str
    table: str
    removed: int

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"


def table_vacuumed(message: str, database: str) -> TableVacuumed | None:
    """The table a ``finished vacuuming`` INFO names and the dead tuples it removed.

    The name is ``database.schema.table`` unquoted, so the database's own name
    (which may hold dots) is taken off the front before the rest is split."""
    match = _FINISHED.match(message)
    if match is None:
        return None
    name = match["name"]
    prefix = f"{database}."
    rest = name.removeprefix(prefix) if name.startswith(prefix) else name.partition(".")[2]
    schema, _, table = rest.partition(".")
    return TableVacuumed(schema, table, int(match["removed"]))


def skipped_table(message: str) -> str | None:
    """The table a WARNING says the role may not vacuum (its bare name), if it is one."""
    match = _SKIPPED.search(message)
    return match[1] if match is not None else None


@dataclass
class VacuumTally:
    """One database's VACUUM messages, told apart: the app's tables vacuumed, the
    app's tables skipped (the server's words) and the catalogs skipped.

    ``qualified`` (``schema.table``) and ``bare`` are the app's tables, as
    ``pg_stat_user_tables`` lists them: a skipped WARNING names a table bare."""

    database: str
    qualified: frozenset[str]
    bare: frozenset[str]
    vacuumed: list[TableVacuumed] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    catalogs_skipped: int = 0
    # Whether any message was one read here (none is, from a server in another language).
    understood: bool = False

    def hear(self, message: str) -> TableVacuumed | None:
        """Take one message; an app table that has just finished is returned."""
        finished = table_vacuumed(message, self.database)
        skipped = None if finished is not None else skipped_table(message)
        self.understood |= finished is not None or skipped is not None
        if finished is not None and finished.qualified in self.qualified:
            self.vacuumed.append(finished)
            return finished
        if skipped is not None and skipped in self.bare:
            self.skipped.append(message)
        elif skipped is not None:
            self.catalogs_skipped += 1
        return None
