"""The demo's real PostgreSQL server, run as a child process of the supervisor.

``initdb`` plus creating roles, database and schema takes a couple of seconds, so it
is done once into a cached *template* data directory (keyed by the server version
and the schema fingerprint) and each stack copies that template into its own state
directory.  The server is started directly (not daemonized by ``pg_ctl``) so that it
is our child: we see it exit, and the kernel stops it if we die (see
:mod:`rainbow_tui.demo.process_guard`).

PostgreSQL refuses to run as root; when we are root it runs as ``nobody``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rainbow_tui.demo.process_guard import child_dies_with_parent
from rainbow_tui.demo.schema import (
    APP_DATABASE,
    APP_ROLE,
    APP_TABLES_SQL,
    MONITOR_APP_GRANTS_SQL,
    MONITOR_GRANTS_SQL,
    MONITOR_QUEUE_GRANTS_SQL,
    QUEUE_DATABASE,
    QUEUE_SEED_SQL,
    ROLES_AND_DATABASE_SQL,
    SEED_TIMES_TO_NOW_SQL,
    SOLID_QUEUE_SQL,
    SUPERUSER,
    schema_fingerprint,
)

log = logging.getLogger("rainbow_tui.demo.postgres")

TEMPLATE_MARKER = "rainbow-tui-template.json"
# Bumped whenever initdb's options change, so an older cached template is not reused.
TEMPLATE_LAYOUT_VERSION = 3
UNPRIVILEGED_USER = "nobody"
# Unix socket paths are limited to 107 bytes; ".s.PGSQL.65535" needs room.
_MAX_SOCKET_DIR_LEN = 90

PG_HBA = """\
# Demo stack: the server listens on 127.0.0.1 only, so loopback trust is enough.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
"""


class PostgresError(RuntimeError):
    pass


@dataclass(frozen=True)
class PostgresBinaries:
    bin_dir: Path
    version: str  # e.g. "16.2"

    def tool(self, name: str) -> Path:
        return self.bin_dir / name


def _candidate_bin_dirs() -> list[Path]:
    candidates: list[Path] = []
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    # Debian/Ubuntu install every major version side by side; prefer the newest.
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    return candidates


def find_postgres_binaries() -> PostgresBinaries:
    """pgserver's bundled binaries first, then ``postgres`` on PATH, then Debian's."""
    for bin_dir in _candidate_bin_dirs():
        postgres = bin_dir / "postgres"
        if postgres.is_file() and os.access(postgres, os.X_OK) and (bin_dir / "initdb").is_file():
            output = subprocess.run(
                [str(postgres), "--version"], capture_output=True, text=True, check=False
            ).stdout
            match = re.search(r"(\d+(?:\.\d+)?)", output)
            if match:
                return PostgresBinaries(bin_dir=bin_dir, version=match.group(1))
    raise PostgresError(
        "no PostgreSQL binaries found (looked in pgserver's pginstall/bin, PATH and "
        "/usr/lib/postgresql/*/bin)"
    )


@dataclass(frozen=True)
class RunAs:
    """The account PostgreSQL runs under; ``None`` fields mean "stay as we are"."""

    uid: int | None
    gid: int | None

    @property
    def switches_user(self) -> bool:
        return self.uid is not None


def postgres_account() -> RunAs:
    if os.geteuid() != 0:
        return RunAs(uid=None, gid=None)
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             UNPRIVILEGED_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def grant_traverse(path: Path, account: RunAs) -> None:
    """Let the unprivileged account reach ``path``: add the search bit where missing.

    Only ``o+x`` is added (no listing, no reading), and only to directories the
    account does not own; pytest's 0700 ``/tmp/pytest-of-root`` is the usual case.
    """
    if not account.switches_user:
        return
    for directory in [path, *path.parents]:
        info = directory.stat()
        if info.st_uid == account.uid or info.st_mode & stat.S_IXOTH:
            continue
        log.info("adding o+x to %s so PostgreSQL (uid %s) can reach its files", directory,
                 account.uid)
        directory.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)


def chown_tree(root: Path, account: RunAs) -> None:
    if not account.switches_user:
        return
    assert account.uid is not None and account.gid is not None
    os.chown(root, account.uid, account.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.chown(Path(dirpath) / name, account.uid, account.gid, follow_symlinks=False)


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rainbow-tui"


def template_path(binaries: PostgresBinaries) -> Path:
    return cache_root() / (
        f"pg-template-{binaries.version}-{schema_fingerprint()}-v{TEMPLATE_LAYOUT_VERSION}"
    )


def _template_is_complete(path: Path) -> bool:
    return (path / TEMPLATE_MARKER).is_file() and (path / "PG_VERSION").is_file()


@dataclass
class PostgresServer:
    """One postmaster on 127.0.0.1, a child of this process, restartable in place."""

    binaries: PostgresBinaries
    data_dir: Path
    socket_dir: Path
    log_path: Path
    port: int
    account: RunAs
    log_min_duration_statement_ms: int = -1
    process: asyncio.subprocess.Process | None = field(default=None, init=False)
    restarts: int = field(default=0, init=False)

    def dsn(self, user: str = APP_ROLE, database: str = APP_DATABASE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def _argv(self) -> list[str]:
        settings = {
            "max_connections": "100",
            "log_min_duration_statement": str(self.log_min_duration_statement_ms),
            # The docker image's defaults, so the db container's log lines look real.
            "log_line_prefix": "%m [%p] ",
            "log_timezone": "UTC",
            # The team's servers run in Japan time.  Rails sets UTC on its own
            # sessions and so must every client of these tables: a demo server in
            # UTC would hide a client that forgets.
            "timezone": "Asia/Tokyo",
            # A disposable demo database: durability buys nothing and costs start-up
            # and workload time on shared 2-core machines.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        argv = [
            str(self.binaries.tool("postgres")),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-h", "127.0.0.1",
            "-k", str(self.socket_dir),
        ]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        return argv

    async def start(self, ready_within: float = 30.0) -> None:
        if self.running:
            return
        grant_traverse(self.binaries.bin_dir, self.account)
        grant_traverse(self.data_dir, self.account)
        grant_traverse(self.socket_dir, self.account)
        # Appending keeps the history of restarts in one file (the db container's log).
        log_file = self.log_path.open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self._argv(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                user=self.account.uid,
                group=self.account.gid,
                extra_groups=[] if self.account.switches_user else None,
                preexec_fn=child_dies_with_parent(signal.SIGINT),
            )
        finally:
            log_file.close()
        log.info("postgres pid %s starting on port %s", self.process.pid, self.port)
        await self.wait_ready(ready_within)

    async def wait_ready(self, ready_within: float) -> None:
        import asyncpg

        deadline = time.monotonic() + ready_within
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise PostgresError(
                    f"postgres exited during start-up; log tail:\n{self.log_tail()}"
                )
            try:
                conn = await asyncpg.connect(self.dsn(SUPERUSER, "postgres"), timeout=2)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                last_error = exc
                await asyncio.sleep(0.05)
                continue
            await conn.close()
            return
        raise PostgresError(f"postgres not ready after {ready_within}s: {last_error!r}")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Fast shutdown (SIGINT: end sessions, checkpoint, exit); SIGKILL if it hangs."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), grace_seconds)
        except TimeoutError:
            log.warning("postgres pid %s ignored fast shutdown; killing it", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.info("postgres pid %s stopped (exit %s)", process.pid, process.returncode)

    async def restart(self) -> None:
        """What ``kamal accessory reboot db`` does: stop, then start on the same port."""
        await self.stop()
        self.restarts += 1
        await self.start()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


async def _run_checked(argv: list[str], account: RunAs) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        user=account.uid,
        group=account.gid,
        extra_groups=[] if account.switches_user else None,
        preexec_fn=child_dies_with_parent(signal.SIGTERM),
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise PostgresError(
            f"{Path(argv[0]).name} failed ({process.returncode}): "
            f"{output.decode(errors='replace')}"
        )


async def _build_template_into(
    binaries: PostgresBinaries, staging: Path, account: RunAs
) -> Path:
    import asyncpg

    data_dir = staging / "data"
    await _run_checked(
        [
            str(binaries.tool("initdb")),
            "-D", str(data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            # 1 MB WAL segments instead of 16: each stack copies the template, and the
            # preallocated segment was a third of it.
            "--wal-segsize=1",
        ],
        account,
    )
    (data_dir / "pg_hba.conf").write_text(PG_HBA, encoding="utf-8")
    server = PostgresServer(
        binaries=binaries,
        data_dir=data_dir,
        socket_dir=staging,
        log_path=staging / "template-build.log",
        port=free_tcp_port(),
        account=account,
    )
    await server.start()
    try:
        admin = await asyncpg.connect(server.dsn(SUPERUSER, "postgres"))
        try:
            for statement in ROLES_AND_DATABASE_SQL:
                await admin.execute(statement)
        finally:
            await admin.close()
        # Tables are created by the app role, as Rails migrations would, so it owns
        # them: the app's in the primary database, Solid Queue's in its own.
        for database, statements in (
            (APP_DATABASE, (APP_TABLES_SQL,)),
            (QUEUE_DATABASE, (SOLID_QUEUE_SQL, QUEUE_SEED_SQL)),
        ):
            app = await asyncpg.connect(
                server.dsn(APP_ROLE, database), server_settings={"timezone": "UTC"}
            )
            try:
                for statement in statements:
                    await app.execute(statement)
            finally:
                await app.close()
    finally:
        await server.stop()
    for leftover in ("postmaster.pid", "postmaster.opts"):
        (data_dir / leftover).unlink(missing_ok=True)
    return data_dir


async def grant_monitor(server: PostgresServer, with_role_grants: bool = True) -> None:
    """Give the console's role what README's "Database privileges" lists; without
    ``with_role_grants`` it keeps only its table rights, and sees what an
    ungranted monitoring role sees of other sessions (nothing)."""
    import asyncpg

    queue = await asyncpg.connect(server.dsn(SUPERUSER, QUEUE_DATABASE))
    try:
        for statement in (*MONITOR_GRANTS_SQL, *MONITOR_QUEUE_GRANTS_SQL):
            if with_role_grants or statement not in MONITOR_GRANTS_SQL:
                await queue.execute(statement)
    finally:
        await queue.close()
    app = await asyncpg.connect(server.dsn(SUPERUSER, APP_DATABASE))
    try:
        for statement in MONITOR_APP_GRANTS_SQL:
            await app.execute(statement)
    finally:
        await app.close()


async def bring_seed_times_to_now(server: PostgresServer) -> None:
    """Move the app's seeded rows to today (the cached template keeps its own day)."""
    import asyncpg

    app = await asyncpg.connect(server.dsn(SUPERUSER, APP_DATABASE))
    try:
        for statement in SEED_TIMES_TO_NOW_SQL:
            await app.execute(statement)
    finally:
        await app.close()


def _lock_file(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


async def ensure_template(binaries: PostgresBinaries, account: RunAs) -> Path:
    """Return the cached template data directory, building it once if needed.

    Concurrent supervisors serialize on a lock file; the template appears under its
    final name only complete (built elsewhere, copied to a temporary name, renamed).
    """
    final = template_path(binaries)
    if _template_is_complete(final):
        return final
    lock_fd = await asyncio.to_thread(_lock_file, final.parent / "pg-template.lock")
    try:
        if _template_is_complete(final):
            return final
        started = time.monotonic()
        # initdb runs as the unprivileged account, which cannot enter a 0700 home,
        # so it builds under /tmp and the result is copied into the cache.
        staging = Path(tempfile.mkdtemp(prefix="rainbow-tui-initdb-"))
        try:
            if account.switches_user:
                assert account.uid is not None and account.gid is not None
                os.chown(staging, account.uid, account.gid)
            grant_traverse(staging, account)
            built = await _build_template_into(binaries, staging, account)
            (built / TEMPLATE_MARKER).write_text(
                json.dumps({"postgres": binaries.version, "schema": schema_fingerprint()}),
                encoding="utf-8",
            )
            partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
            shutil.rmtree(partial, ignore_errors=True)
            await asyncio.to_thread(shutil.copytree, built, partial, symlinks=True)
            if final.exists():
                shutil.rmtree(final)
            partial.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("built PostgreSQL template %s in %.1fs", final, time.monotonic() - started)
        return final
    finally:
        os.close(lock_fd)


def socket_dir_for(state_pg_dir: Path) -> tuple[Path, bool]:
    """Where the Unix socket goes; the bool says it is a temporary dir to remove."""
    preferred = state_pg_dir / "run"
    if len(str(preferred)) <= _MAX_SOCKET_DIR_LEN:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred, False
    return Path(tempfile.mkdtemp(prefix="rtui-pg-")), True


async def prepare_server(
    state_dir: Path, log_min_duration_statement_ms: int = -1
) -> tuple[PostgresServer, Path | None]:
    """Copy the template into ``state_dir/pg`` and describe (not start) the server.

    Returns the server and a temporary socket directory to delete at the end, if
    the state directory's path was too long for a Unix socket.
    """
    binaries = find_postgres_binaries()
    account = postgres_account()
    template = await ensure_template(binaries, account)
    pg_dir = state_dir / "pg"
    data_dir = pg_dir / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    pg_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(shutil.copytree, template, data_dir, symlinks=True)
    (data_dir / TEMPLATE_MARKER).unlink(missing_ok=True)
    data_dir.chmod(0o700)
    chown_tree(data_dir, account)
    socket_dir, socket_is_temporary = socket_dir_for(pg_dir)
    chown_tree(socket_dir, account)
    log_path = pg_dir / "postgres.log"
    log_path.touch()
    server = PostgresServer(
        binaries=binaries,
        data_dir=data_dir,
        socket_dir=socket_dir,
        log_path=log_path,
        port=free_tcp_port(),
        account=account,
        log_min_duration_statement_ms=log_min_duration_statement_ms,
    )
    return server, socket_dir if socket_is_temporary else None
