"""The disaster-recovery drill done for real (四半期: 災害復旧訓練 — バックアップからの
リストアテスト), without touching production.

The latest full dump is copied from the DB host (``cat`` over the SSH connection,
read as bytes in large chunks, its size checked against the listing), restored
into a scratch PostgreSQL started for the drill in a temporary directory, and
verified: the tables the dump's table of contents names are there, the main
tables' rows are counted, Solid Queue's schema is complete when the dump holds
it.  Every step is timed; the scratch server and the copy are removed afterwards,
whatever happened.

The scratch server uses the PostgreSQL binaries the demo uses (the ``pgserver``
package, else ``postgres`` on PATH or Debian's): imported only when a drill runs,
so an install without them says what is missing instead of failing at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui.config import Config
from rainbow_tui.sources.backups import (
    BackupsSource,
    DumpFile,
    backups_host,
    latest_dump,
)
from rainbow_tui.ssh import SshTarget, connect, describe_ssh_error, shell_word
from rainbow_tui.text import N_, Phrase

if TYPE_CHECKING:
    from rainbow_tui.demo.postgres import PostgresServer

COPY_CHUNK = 1 << 20
COPY_TIMEOUT_S = 3600.0
RESTORE_TIMEOUT_S = 3600.0
SCRATCH_DATABASE = "dr_drill"
SCRATCH_USER = "postgres"
# Solid Queue 1.x's tables (db/queue_schema.rb): a queue dump lacking one is broken.
SOLID_QUEUE_TABLES = (
    "solid_queue_jobs",
    "solid_queue_ready_executions",
    "solid_queue_claimed_executions",
    "solid_queue_failed_executions",
    "solid_queue_scheduled_executions",
    "solid_queue_blocked_executions",
    "solid_queue_recurring_executions",
    "solid_queue_processes",
    "solid_queue_pauses",
    "solid_queue_semaphores",
    "solid_queue_recurring_tasks",
)


@dataclass(frozen=True, slots=True)
class DrillCheck:
    """One step of the drill: what it is, whether it passed, what it found, how long."""

    step: str  # "find", "copy", "scratch", "restore", "tables", "rows:<table>", ...
    ok: bool
    phrase: Phrase
    duration_s: float = 0.0
    value: float | None = None

    @property
    def detail(self) -> str:
        return self.phrase.text()


@dataclass(frozen=True, slots=True)
class DrillResult:
    host: str
    dump: DumpFile | None
    checks: tuple[DrillCheck, ...] = field(default_factory=tuple)
    duration_s: float = 0.0
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def exit_status(self) -> int:
        """As ``check``'s: 0 restorable and verified, 2 not (no backup to rely on)."""
        return 0 if self.ok else 2


class DrillToolsMissing(RuntimeError):
    """No PostgreSQL server binaries for the scratch server."""


def _timed(started: float) -> float:
    return time.monotonic() - started


async def run_dr_drill(
    config: Config,
    *,
    target: SshTarget | None = None,
    dump_name: str = "",
    expect_solid_queue: bool | None = None,
    main_tables: Sequence[str] | None = None,
) -> DrillResult:
    """The drill against the configured DB host; a result, never an exception.

    ``dump_name`` picks a dump of the listing (default: the newest full or manual
    one); ``expect_solid_queue`` True fails a dump without Solid Queue's schema,
    None checks it where the dump holds any of its tables."""
    started = time.monotonic()
    from rainbow_tui.sources.service_sources import ServiceSources

    sources = ServiceSources(config)
    try:
        host = target or backups_host(config, sources.targets)
    finally:
        await sources.close()
    checks: list[DrillCheck] = []
    if host is None:
        checks.append(DrillCheck("find", False, Phrase("drill.no_host")))
        return DrillResult("", None, tuple(checks), _timed(started))
    source = BackupsSource(host, config.backups)
    step = time.monotonic()
    try:
        snapshot = await source.poll()
    finally:
        await source.close()
    if snapshot.error is not None:
        checks.append(DrillCheck("find", False, Phrase("drill.unlisted", error=snapshot.error),
                                 _timed(step)))
        return DrillResult(host.name, None, tuple(checks), _timed(started))
    dump = (
        next((d for d in snapshot.dumps if d.name == dump_name), None)
        if dump_name
        else latest_dump(snapshot, config.backups)
    )
    if dump is None:
        checks.append(DrillCheck("find", False, Phrase(
            "drill.no_dump", name=dump_name or config.backups.full_pattern,
            directory=config.backups.directory, host=host.name), _timed(step)))
        return DrillResult(host.name, None, tuple(checks), _timed(started))
    checks.append(DrillCheck("find", True, Phrase(
        "drill.found", name=dump.name, hours=snapshot.age_s(dump) / 3600, size=dump.size),
        _timed(step)))
    work = Path(tempfile.mkdtemp(prefix="rainbow-tui-dr-"))
    counts: dict[str, int] = {}
    try:
        local = work / dump.name
        copy_check = await _copy(host, dump, local)
        checks.append(copy_check)
        if copy_check.ok:
            checks += await _restore_and_verify(
                local, work, counts, expect_solid_queue,
                main_tables if main_tables is not None else config.backups.verify_tables,
            )
    finally:
        step = time.monotonic()
        removed = await asyncio.to_thread(_remove_tree, work)
        gone = Phrase("drill.removed", path=str(work))
        left = Phrase("drill.not_removed", path=str(work))
        checks.append(DrillCheck("cleanup", removed, gone if removed else left, _timed(step)))
    return DrillResult(host.name, dump, tuple(checks), _timed(started), counts)


def _remove_tree(path: Path) -> bool:
    """Remove the drill's directory (the copy, the scratch server's data); gone?"""
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


async def _copy(host: SshTarget, dump: DumpFile, local: Path) -> DrillCheck:
    """The dump's bytes over SSH into ``local``; its size checked against the listing."""
    step = time.monotonic()
    try:
        async with asyncio.timeout(COPY_TIMEOUT_S):
            connection = await connect(host)
            try:
                copied = await _stream_file(connection, dump.path, local)
            finally:
                connection.close()
    except Exception as error:  # asyncssh's errors share no base; a drill reports them
        return DrillCheck("copy", False, Phrase(
            "drill.copy_failed", error=describe_ssh_error(error, host.name)), _timed(step))
    if copied != dump.size:
        return DrillCheck("copy", False, Phrase(
            "drill.copy_short", copied=copied, size=dump.size), _timed(step))
    return DrillCheck("copy", True, Phrase("drill.copied", size=copied, host=host.name),
                      _timed(step), float(copied))


async def _stream_file(connection: object, path: str, local: Path) -> int:
    import asyncssh

    assert isinstance(connection, asyncssh.SSHClientConnection)
    process = await connection.create_process(f"cat -- {shell_word(path)}", encoding=None)
    copied = 0
    handle = await asyncio.to_thread(local.open, "wb")
    try:
        while chunk := await process.stdout.read(COPY_CHUNK):
            await asyncio.to_thread(handle.write, chunk)
            copied += len(chunk)
    finally:
        await asyncio.to_thread(handle.close)
    completed = await process.wait()
    if completed.exit_status not in (0, None):
        error = completed.stderr
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error or "")
        raise RuntimeError(text.strip() or f"cat exited {completed.exit_status}")
    return copied


async def _restore_and_verify(
    dump: Path, work: Path, counts: dict[str, int], expect_solid_queue: bool | None,
    main_tables: Sequence[str],
) -> list[DrillCheck]:
    checks: list[DrillCheck] = []
    step = time.monotonic()
    try:
        server = await _scratch_server(work)
    except DrillToolsMissing as error:
        return [DrillCheck("scratch", False, Phrase("drill.tools_missing", error=str(error)),
                           _timed(step))]
    except Exception as error:  # initdb or the server failing is the drill's finding
        return [DrillCheck("scratch", False, Phrase("drill.scratch_failed", error=str(error)),
                           _timed(step))]
    checks.append(DrillCheck("scratch", True, Phrase("drill.scratch_up", version=
                             server.binaries.version), _timed(step)))
    try:
        step = time.monotonic()
        listed = await _tables_in_archive(server, dump)
        restored = await _pg_restore(server, dump)
        if restored is not None:
            checks.append(DrillCheck("restore", False, Phrase("drill.restore_failed",
                                                              error=restored), _timed(step)))
            return checks
        checks.append(DrillCheck("restore", True, Phrase("drill.restored"), _timed(step)))
        checks += await _verify(server, listed, counts, expect_solid_queue, main_tables)
    finally:
        await server.stop(grace_seconds=5.0)
    return checks


async def _scratch_server(work: Path) -> PostgresServer:
    try:
        from rainbow_tui.demo.postgres import (
            PostgresError,
            PostgresServer,
            chown_tree,
            find_postgres_binaries,
            free_tcp_port,
            postgres_account,
        )
    except ImportError as error:  # asyncpg or the demo package left out of the install
        raise DrillToolsMissing(str(error)) from error
    try:
        binaries = await asyncio.to_thread(find_postgres_binaries)
    except PostgresError as error:
        raise DrillToolsMissing(str(error)) from error
    account = await asyncio.to_thread(postgres_account)
    data_dir = work / "pg"
    data_dir.mkdir(mode=0o700)
    await asyncio.to_thread(chown_tree, work / "pg", account)
    if account.switches_user:
        assert account.uid is not None
        os.chown(work, account.uid, -1)
    initdb = await asyncio.create_subprocess_exec(
        str(binaries.tool("initdb")), "-D", str(data_dir), "-U", SCRATCH_USER, "--auth=trust",
        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        user=account.uid, group=account.gid,
        extra_groups=[] if account.switches_user else None,
    )
    output, _ = await initdb.communicate()
    if initdb.returncode != 0:
        raise RuntimeError("initdb: " + output.decode("utf-8", "replace").strip()[-500:])
    server = PostgresServer(binaries=binaries, data_dir=data_dir, socket_dir=work,
                            log_path=work / "postgres.log", port=free_tcp_port(),
                            account=account)
    await server.start()
    import asyncpg

    admin = await asyncpg.connect(server.dsn(SCRATCH_USER, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {SCRATCH_DATABASE}")
    finally:
        await admin.close()
    return server


async def _run(argv: Sequence[str], timeout_s: float) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PGCONNECT_TIMEOUT": "10"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return 124, f"timed out after {timeout_s:g} s"
    return process.returncode or 0, output.decode("utf-8", "replace")


async def _tables_in_archive(server: PostgresServer, dump: Path) -> list[str]:
    """The tables the archive's table of contents names (``pg_restore --list``)."""
    code, output = await _run([str(server.binaries.tool("pg_restore")), "--list", str(dump)],
                              60)
    if code != 0:
        return []
    tables: list[str] = []
    for line in output.splitlines():
        # "<id>; <catalog oid> <oid> <kind> <schema> <name> <owner>", e.g.
        # "218; 1259 16390 TABLE public rainbow_sightings rainbow"; comments start with ";".
        words = line.split()
        if len(words) >= 6 and words[0].endswith(";") and words[3:5] != ["TABLE", "DATA"] \
                and words[3] == "TABLE":
            tables.append(words[5])
    return tables


async def _pg_restore(server: PostgresServer, dump: Path) -> str | None:
    """Restore into the scratch database; None on success, else pg_restore's words."""
    code, output = await _run([
        str(server.binaries.tool("pg_restore")), "--no-owner", "--no-privileges",
        "--exit-on-error", "-h", "127.0.0.1", "-p", str(server.port), "-U", SCRATCH_USER,
        "-d", SCRATCH_DATABASE, str(dump),
    ], RESTORE_TIMEOUT_S)
    if code != 0:
        lines = [line for line in output.splitlines() if line.strip()]
        return "\n".join(lines[-3:]) or f"pg_restore exited {code}"
    return None


async def _verify(
    server: PostgresServer, listed: list[str], counts: dict[str, int],
    expect_solid_queue: bool | None, main_tables: Sequence[str],
) -> list[DrillCheck]:
    import asyncpg

    checks: list[DrillCheck] = []
    connection = await asyncpg.connect(server.dsn(SCRATCH_USER, SCRATCH_DATABASE))
    try:
        step = time.monotonic()
        present = {
            str(row["table_name"]) for row in await connection.fetch(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")
        }
        missing = sorted(set(listed) - present)
        checks.append(DrillCheck(
            "tables", not missing and bool(present),
            Phrase("drill.tables_missing", names=", ".join(missing)) if missing
            else Phrase.plural("drill.tables", len(present)) if present
            else Phrase("drill.no_tables"),
            _timed(step), float(len(present))))
        for table in (main_tables or sorted(present)):
            step = time.monotonic()
            if table not in present:
                checks.append(DrillCheck(f"rows:{table}", False,
                                         Phrase("drill.table_absent", table=table),
                                         _timed(step)))
                continue
            quoted = '"' + table.replace('"', '""') + '"'
            count = int(await connection.fetchval(f"SELECT count(*) FROM {quoted}"))
            counts[table] = count
            checks.append(DrillCheck(f"rows:{table}", True,
                                     Phrase.plural("drill.rows", count, table=table),
                                     _timed(step), float(count)))
        holds_queue = any(name.startswith("solid_queue_") for name in present | set(listed))
        if expect_solid_queue or (expect_solid_queue is None and holds_queue):
            step = time.monotonic()
            lacking = [name for name in SOLID_QUEUE_TABLES if name not in present]
            checks.append(DrillCheck(
                "solid_queue", not lacking,
                Phrase("drill.queue_missing", names=", ".join(lacking)) if lacking
                else Phrase("drill.queue_ok", count=len(SOLID_QUEUE_TABLES)),
                _timed(step)))
    finally:
        await connection.close()
    return checks


STEP_KEYS = {
    "find": N_("drill.step.find"),
    "copy": N_("drill.step.copy"),
    "scratch": N_("drill.step.scratch"),
    "restore": N_("drill.step.restore"),
    "tables": N_("drill.step.tables"),
    "rows": N_("drill.step.rows"),
    "solid_queue": N_("drill.step.solid_queue"),
    "cleanup": N_("drill.step.cleanup"),
}


def step_phrase(step: str) -> Phrase:
    """A step's name in words ("rows:rainbow_sightings" → 行数 rainbow_sightings)."""
    kind, _, table = step.partition(":")
    return Phrase(STEP_KEYS.get(kind, N_("text.verbatim")), table=table, text=step)
