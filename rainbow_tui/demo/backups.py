"""The demo's backup job on db-1: real ``pg_dump -Fc`` files in ``/backup``.

db-1's ``/backup`` is a real directory under the stack's state directory (the host
shell serves it to ``find``, ``ls``, ``cat`` and ``>``).  The job follows the
manual's policy (バックアップ戦略):

* a **full** dump (``full_YYYYmmdd_HHMMSS.dump``: ``pg_dump -Fc`` of the app's
  database) when the stack starts and every 24 hours, kept 30 days;
* a **differential** every 6 hours (``diff_…``), kept 7 days.  PostgreSQL has no
  differential ``pg_dump``; the demo's is a ``pg_dump -Fc --data-only`` of the tables
  written since the previous dump (``pg_stat_user_tables``' insert, update and delete
  counters moved) — restorable on top of the full, as a team's table-level
  differential would be.

So that the listing looks like a server's that has been running a while, the start
also lays down the two previous days' fulls and differentials: real dumps made at
start, named and stamped (mtime) at the times the schedule would have made them.

The ``backup-stale`` drill holds the next full and moves the latest one 30 hours
into the past (its name and mtime), as when the nightly job has silently stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rainbow_tui.demo.process_guard import child_dies_with_parent

log = logging.getLogger("rainbow_tui.demo.backups")

BACKUP_DIRECTORY = "/backup"  # on db-1, as the manual has it
FULL_EVERY_S = 24 * 3600.0
DIFFERENTIAL_EVERY_S = 6 * 3600.0
FULL_KEEP_S = 30 * 86400.0
DIFFERENTIAL_KEEP_S = 7 * 86400.0
BACKFILL_DAYS = 2
DUMP_TIMEOUT_S = 120.0
STAMP_FORMAT = "%Y%m%d_%H%M%S"


def dump_name(kind: str, moment: float) -> str:
    """``full_20261128_030000.dump``: the kind and the host's local time."""
    return f"{kind}_{time.strftime(STAMP_FORMAT, time.localtime(moment))}.dump"


class PgDumpError(RuntimeError):
    pass


class DumpMaker:
    """Runs the demo server's own ``pg_dump`` against one database."""

    def __init__(self, pg_dump: Path, dsn: str) -> None:
        self.pg_dump = pg_dump
        self.dsn = dsn

    async def run(self, arguments: Sequence[str], output: Path | None = None) -> bytes:
        """``pg_dump ARGUMENTS DSN`` into ``output`` (or its standard output, returned)."""
        argv = [str(self.pg_dump), *arguments, *(["-f", str(output)] if output else []),
                "-d", self.dsn]
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PGCONNECT_TIMEOUT": "5", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            preexec_fn=child_dies_with_parent(signal.SIGTERM),
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), DUMP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise PgDumpError("pg_dump: timed out") from None
        if process.returncode != 0:
            raise PgDumpError(err.decode("utf-8", "replace").strip() or "pg_dump failed")
        return out

    async def run_as_client(self, arguments: Sequence[str]) -> bytes:
        """``pg_dump`` as an operator types it in the db container: its database by
        name, its connection options (user, host, port) those of the demo server."""
        passed: list[str] = []
        database = ""
        index = 0
        while index < len(arguments):
            token = arguments[index]
            following = arguments[index + 1] if index + 1 < len(arguments) else ""
            if token in ("-U", "--username", "-h", "--host", "-p", "--port"):
                index += 2
                continue
            if token in ("-d", "--dbname"):
                database, index = following, index + 2
                continue
            if token in ("-f", "--file"):
                raise PgDumpError("pg_dump: error: the demo's pg_dump writes to standard "
                                  "output only (use > FILE)")
            if token in ("-F", "--format", "-t", "--table", "-n", "--schema", "-Z",
                         "--compress", "-T", "--exclude-table"):
                passed += [token, following]
                index += 2
                continue
            if token.startswith("-"):
                passed.append(token)
            else:
                database = token
            index += 1
        return await self.with_database(database).run(passed) if database else \
            await self.run(passed)

    def with_database(self, database: str) -> DumpMaker:
        """The same server, another database (the DSN's path)."""
        base, _, _ = self.dsn.rpartition("/")
        return DumpMaker(self.pg_dump, f"{base}/{database}")

    async def changed_tables(self, since: dict[str, int]) -> tuple[list[str], dict[str, int]]:
        """Tables whose write counters moved since ``since``, and the counters now."""
        import asyncpg

        connection = await asyncpg.connect(self.dsn, timeout=5)
        try:
            rows = await connection.fetch(
                "SELECT schemaname || '.' || relname AS name, "
                "n_tup_ins + n_tup_upd + n_tup_del AS writes FROM pg_stat_user_tables"
            )
        finally:
            await connection.close()
        now = {str(row["name"]): int(row["writes"]) for row in rows}
        changed = sorted(name for name, writes in now.items() if writes != since.get(name, -1))
        return changed, now


class BackupScheduler:
    """Makes, stamps and prunes the dumps of one directory on the demo's clock."""

    def __init__(self, directory: Path, maker: DumpMaker,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.maker = maker
        self.clock = clock
        self.next_full_at = 0.0
        self.next_differential_at = 0.0
        # The backup-stale drill: the nightly job has stopped making fulls.
        self.full_held = False
        self.made: list[Path] = []
        self._counters: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first full now, the backfilled history, then the schedule."""
        self.directory.mkdir(parents=True, exist_ok=True)
        now = self.clock()
        await self.make_full(now)
        await self._backfill(now)
        self._task = asyncio.create_task(self._run(), name="demo-backups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def make_full(self, at: float | None = None) -> Path:
        moment = self.clock() if at is None else at
        path = self.directory / dump_name("full", moment)
        await self._dump(["-Fc"], path, moment)
        _, self._counters = await self.maker.changed_tables({})
        self.next_full_at = moment + FULL_EVERY_S
        self.next_differential_at = moment + DIFFERENTIAL_EVERY_S
        return path

    async def make_differential(self, at: float | None = None) -> Path:
        moment = self.clock() if at is None else at
        changed, counters = await self.maker.changed_tables(self._counters)
        # Nothing written: the differential still proves the job ran (schema only).
        arguments = ["-Fc", "--data-only", *(f"--table={t}" for t in changed)] if changed \
            else ["-Fc", "--schema-only"]
        path = self.directory / dump_name("diff", moment)
        await self._dump(arguments, path, moment)
        self._counters = counters
        self.next_differential_at = moment + DIFFERENTIAL_EVERY_S
        return path

    def hold_full(self) -> None:
        self.full_held = True

    def release_full(self) -> None:
        self.full_held = False

    def age_latest_full(self, hours: float) -> Path | None:
        """Move the newest full ``hours`` into the past, name and mtime."""
        fulls = sorted(self.directory.glob("full_*.dump"), key=lambda p: p.stat().st_mtime)
        if not fulls:
            return None
        latest = fulls[-1]
        moment = self.clock() - hours * 3600
        target = latest.with_name(dump_name("full", moment))
        latest.rename(target)
        os.utime(target, (moment, moment))
        # Nothing was made since: no later differential, no later (backfilled) full.
        for later in [*self.directory.glob("diff_*.dump"), *self.directory.glob("full_*.dump")]:
            if later != target and later.stat().st_mtime > moment:
                later.unlink()
        return target

    async def _backfill(self, now: float) -> None:
        """Earlier days' dumps, as the schedule would have left them."""
        latest_full = sorted(self.directory.glob("full_*.dump"))[-1]
        for day in range(1, BACKFILL_DAYS + 1):
            full_at = now - day * FULL_EVERY_S
            self._copy_as(latest_full, dump_name("full", full_at), full_at)
            for step in (1, 2, 3):
                await self.make_differential(full_at + step * DIFFERENTIAL_EVERY_S)
        # The schedule continues from the full made at start.
        self.next_differential_at = now + DIFFERENTIAL_EVERY_S
        self.next_full_at = now + FULL_EVERY_S

    def _copy_as(self, source: Path, name: str, moment: float) -> None:
        target = self.directory / name
        shutil.copyfile(source, target)
        os.utime(target, (moment, moment))

    async def _dump(self, arguments: Sequence[str], path: Path, moment: float) -> None:
        partial = path.with_name(f".{path.name}.partial")
        try:
            await self.maker.run(arguments, partial)
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
        os.utime(path, (moment, moment))
        self.made.append(path)
        log.info("backup %s made", path.name)

    def prune(self) -> None:
        now = self.clock()
        for pattern, keep in (("full_*.dump", FULL_KEEP_S), ("diff_*.dump", DIFFERENTIAL_KEEP_S)):
            for path in self.directory.glob(pattern):
                if now - path.stat().st_mtime > keep:
                    path.unlink(missing_ok=True)

    async def _run(self) -> None:
        while True:
            now = self.clock()
            due = min(self.next_differential_at,
                      self.next_full_at if not self.full_held else float("inf"))
            await asyncio.sleep(max(1.0, min(due - now, 60.0)))
            now = self.clock()
            try:
                if not self.full_held and now >= self.next_full_at:
                    await self.make_full()
                elif now >= self.next_differential_at:
                    await self.make_differential()
                self.prune()
            except (PgDumpError, OSError) as error:
                log.warning("backup failed: %s", error)
