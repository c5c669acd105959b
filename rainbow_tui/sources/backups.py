"""The database dumps on the DB host, listed over SSH and weighed against the
manual's backup policy (バックアップ戦略: full daily kept 30 days, differential every
6 hours kept 7 days).

One SSH command lists the backup directory: the host's own clock first (``date
+%s``), so ages are measured on the clock that stamped the files, then ``find``
printing each dump as ``<mtime> <size> <path>`` ended by a NUL (a file name may hold
any byte but NUL and ``/``).  A host that cannot be reached or a directory that
cannot be read is a snapshot with an ``error``: never an empty, healthy listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import math
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from rainbow_tui.config import BackupsConfig, Config
from rainbow_tui.levels import Level, Severity
from rainbow_tui.ssh import SshTarget, connect, describe_ssh_error, run_command, shell_word

if TYPE_CHECKING:
    import asyncssh

LIST_TIMEOUT_S = 20.0
CLOCK_MARK = "@@rainbow-tui:clock"
LISTING_MARK = "@@rainbow-tui:listing"
# GNU find's -printf: mtime with its fraction, size in bytes, path, then a NUL.
LISTING_FORMAT = "%T@ %s %p\\0"
# A full dump smaller than the one before it by more than this share has lost data
# (or pg_dump stopped halfway): a database grows, or shrinks a little after cleanup.
SHRINK_TOLERANCE = 0.10
# Late by twice the policy's age is no longer "late": the backups have stopped.
STOPPED_FACTOR = 2.0
HOUR_S = 3600.0
DAY_S = 86400.0

DumpKind = Literal["full", "differential", "manual"]
KINDS: tuple[DumpKind, ...] = ("full", "differential", "manual")


class BackupListingError(ValueError):
    """A listing that cannot be read as ``find -printf '%T@ %s %p\\0'`` prints it."""


@dataclass(frozen=True, slots=True)
class DumpFile:
    path: str
    size: int  # bytes
    mtime: float  # seconds since the epoch, as the host's clock stamped it

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def format_listing_entry(dump: DumpFile) -> str:
    """One entry as GNU find's ``-printf '%T@ %s %p\\0'`` writes it."""
    return f"{dump.mtime:.10f} {dump.size} {dump.path}\0"


def parse_listing(text: str) -> list[DumpFile]:
    """The entries of a ``find … -printf '%T@ %s %p\\0'`` listing, in its order.

    Raises :class:`BackupListingError` naming the first entry that is not
    ``<seconds> <bytes> <path>``.
    """
    found: list[DumpFile] = []
    entries = text.split("\0")
    if entries and entries[-1].strip() == "":
        entries.pop()  # the NUL after the last entry (and a stray newline)
    for entry in entries:
        # A newline may stand between entries when something else printed a line.
        entry = entry.lstrip("\n")
        stamp, _, rest = entry.partition(" ")
        size_text, _, path = rest.partition(" ")
        try:
            mtime = float(stamp)
            size = int(size_text)
        except ValueError:
            raise BackupListingError(f"not <mtime> <size> <path>: {entry[:80]!r}") from None
        if not math.isfinite(mtime) or size < 0 or not path:
            raise BackupListingError(f"not <mtime> <size> <path>: {entry[:80]!r}")
        found.append(DumpFile(path, size, mtime))
    return found


def parse_clock(text: str) -> float:
    """``date +%s`` (seconds, perhaps with a fraction) as a float."""
    try:
        value = float(text.strip())
    except ValueError:
        raise BackupListingError(f"not a clock reading: {text.strip()[:40]!r}") from None
    if not math.isfinite(value):
        raise BackupListingError(f"not a clock reading: {text.strip()[:40]!r}")
    return value


def kind_of(name: str, config: BackupsConfig) -> DumpKind | None:
    """Which of the policy's kinds a file name is, by the configured globs."""
    for kind, pattern in (
        ("full", config.full_pattern),
        ("differential", config.differential_pattern),
        ("manual", config.manual_pattern),
    ):
        if pattern and fnmatch.fnmatchcase(name, pattern):
            return kind  # type: ignore[return-value]
    return None


@dataclass(frozen=True, slots=True)
class BackupsSnapshot:
    taken_at: datetime
    host: str
    directory: str
    # The host's clock when it listed the directory (seconds since the epoch).
    host_clock: float | None = None
    dumps: tuple[DumpFile, ...] = ()
    # Why there is no listing: the host unreachable, the directory missing.
    error: str | None = None
    # The error is the directory (missing, unreadable), not the link to the host.
    directory_problem: bool = False

    def of_kind(self, kind: DumpKind, config: BackupsConfig) -> list[DumpFile]:
        """The dumps of one kind, newest first."""
        chosen = [dump for dump in self.dumps if kind_of(dump.name, config) == kind]
        return sorted(chosen, key=lambda dump: dump.mtime, reverse=True)

    def age_s(self, dump: DumpFile) -> float:
        now = self.host_clock if self.host_clock is not None else self.taken_at.timestamp()
        return max(0.0, now - dump.mtime)


def listing_command(config: BackupsConfig) -> str:
    """The one remote command: the host's clock, then the dumps of every kind.

    One ``-type f -name GLOB -printf …`` branch per kind, joined by ``-o``: the
    same as a parenthesised ``-name`` group, without parentheses for the remote
    shell to mind."""
    names = [p for p in (config.full_pattern, config.differential_pattern,
                         config.manual_pattern) if p]
    branches = " -o ".join(
        f"-type f -name {shell_word(pattern)} -printf {shell_word(LISTING_FORMAT)}"
        for pattern in names
    )
    return (
        f"echo {CLOCK_MARK}; date +%s; echo {LISTING_MARK}; "
        f"find {shell_word(config.directory)} -maxdepth 1 {branches}"
    )


def split_output(output: str) -> tuple[str, str]:
    """The clock section and the listing section of the command's output."""
    clock_part, _, listing = output.partition(LISTING_MARK + "\n")
    return clock_part.replace(CLOCK_MARK + "\n", "", 1), listing


def backups_host(config: Config, targets: dict[str, SshTarget]) -> SshTarget | None:
    """The host holding the dumps: ``[backups] host``, else the one with the db
    accessory or role (the deployment's), else none."""
    wanted = config.backups.host
    if wanted:
        return targets.get(wanted)
    return next((target for target in targets.values() if "db" in target.roles), None)


class BackupsSource:
    """Lists the backup directory of one host, keeping its SSH connection."""

    def __init__(self, target: SshTarget | None, config: BackupsConfig) -> None:
        self.target = target
        self.config = config
        self._connection: asyncssh.SSHClientConnection | None = None

    async def poll(self) -> BackupsSnapshot:
        taken_at = datetime.now(UTC)
        config = self.config
        target = self.target
        if target is None:
            return BackupsSnapshot(taken_at, "", config.directory,
                                   error="no DB host: no host has the db accessory or role")
        try:
            if self._connection is None:
                self._connection = await connect(target)
            result = await run_command(
                self._connection, listing_command(config), LIST_TIMEOUT_S, host=target.name
            )
        except Exception as error:  # a failed poll is data (asyncssh's errors share no base)
            await self.close()
            return BackupsSnapshot(taken_at, target.name, config.directory,
                                   error=describe_ssh_error(error, target.name))
        clock_text, listing = split_output(str(result.stdout or ""))
        stderr = str(result.stderr or "").strip()
        if result.exit_status not in (0, None) and not listing.strip("\0\n "):
            # find says why: "No such file or directory", "Permission denied".
            why = stderr.splitlines()[-1] if stderr else f"exit status {result.exit_status}"
            return BackupsSnapshot(taken_at, target.name, config.directory,
                                   error=why, directory_problem=True)
        try:
            clock = parse_clock(clock_text)
            dumps = parse_listing(listing)
        except BackupListingError as error:
            return BackupsSnapshot(taken_at, target.name, config.directory,
                                   error=str(error), directory_problem=True)
        return BackupsSnapshot(taken_at, target.name, config.directory, clock, tuple(dumps))

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(connection.wait_closed(), 2)


# -- the policy ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindVerdict:
    """One kind of dump weighed against the policy; the words come later."""

    kind: DumpKind
    level: Level
    severity: Severity | None
    # What was found wrong, as a code: "none", "late", "stopped", "empty", "shrunk",
    # "covered" (no differential, but the full is recent enough), "" when all is well.
    problem: str
    latest: DumpFile | None
    age_s: float | None
    count: int
    # Dumps past the kind's retention still on the disk (pruning not running).
    expired: int = 0
    previous_size: int | None = None


def _judged(kind: DumpKind, level: Level, severity: Severity | None, problem: str,
            snapshot: BackupsSnapshot, dumps: list[DumpFile], expired: int) -> KindVerdict:
    latest = dumps[0] if dumps else None
    return KindVerdict(
        kind, level, severity, problem, latest,
        snapshot.age_s(latest) if latest is not None else None,
        len(dumps), expired,
        dumps[1].size if len(dumps) > 1 else None,
    )


def _expired(snapshot: BackupsSnapshot, dumps: list[DumpFile], keep_days: int) -> int:
    return sum(1 for dump in dumps if snapshot.age_s(dump) > keep_days * DAY_S)


def _full_dumps(snapshot: BackupsSnapshot, config: BackupsConfig) -> list[DumpFile]:
    """The full dumps, newest first: the nightly ones and the manual ones (a manual
    backup is a whole ``pg_dump -Fc`` as well, and a restore may take it)."""
    dumps = snapshot.of_kind("full", config) + snapshot.of_kind("manual", config)
    return sorted(dumps, key=lambda dump: dump.mtime, reverse=True)


def _verdict_full(snapshot: BackupsSnapshot, config: BackupsConfig) -> KindVerdict:
    dumps = _full_dumps(snapshot, config)
    expired = _expired(snapshot, dumps, config.full_keep_days)

    def judged(level: Level, severity: Severity | None, problem: str) -> KindVerdict:
        return _judged("full", level, severity, problem, snapshot, dumps, expired)

    if not dumps:
        return judged(Level.CRITICAL, "high", "none")
    latest = dumps[0]
    age = snapshot.age_s(latest)
    limit = config.full_max_age_h * HOUR_S
    if age > limit * STOPPED_FACTOR:
        return judged(Level.CRITICAL, "high", "stopped")
    if age > limit:
        return judged(Level.WARNING, "medium", "late")
    if latest.size == 0:
        return judged(Level.WARNING, "medium", "empty")
    if len(dumps) > 1 and latest.size < dumps[1].size * (1 - SHRINK_TOLERANCE):
        return judged(Level.WARNING, "medium", "shrunk")
    if expired:
        return judged(Level.ELEVATED, None, "expired")
    return judged(Level.NORMAL, None, "")


def _verdict_differential(snapshot: BackupsSnapshot, config: BackupsConfig) -> KindVerdict:
    dumps = snapshot.of_kind("differential", config)
    expired = _expired(snapshot, dumps, config.differential_keep_days)

    def judged(level: Level, severity: Severity | None, problem: str) -> KindVerdict:
        return _judged("differential", level, severity, problem, snapshot, dumps, expired)

    limit = config.differential_max_age_h * HOUR_S
    fulls = _full_dumps(snapshot, config)
    # A full dump holds everything a differential would: the newest of either counts.
    ages = [snapshot.age_s(found[0]) for found in (dumps, fulls) if found]
    newest = min(ages, default=None)
    if not dumps:
        if newest is not None and newest <= limit:
            return judged(Level.NORMAL, None, "covered")  # nothing to differ from yet
        return judged(Level.WARNING, "medium", "none")
    assert newest is not None
    if newest > limit * STOPPED_FACTOR:
        return judged(Level.WARNING, "medium", "stopped")
    if newest > limit:
        return judged(Level.WARNING, "medium", "late")
    if dumps[0].size == 0:
        return judged(Level.WARNING, "medium", "empty")
    if expired:
        return judged(Level.ELEVATED, None, "expired")
    return judged(Level.NORMAL, None, "")


def assess(snapshot: BackupsSnapshot, config: BackupsConfig) -> list[KindVerdict]:
    """The full and the differential dumps judged (a listing without error)."""
    return [_verdict_full(snapshot, config), _verdict_differential(snapshot, config)]


def latest_dump(snapshot: BackupsSnapshot, config: BackupsConfig,
                kinds: Sequence[DumpKind] = ("full", "manual")) -> DumpFile | None:
    """The newest dump of the given kinds (the one a restore would take)."""
    chosen = [d for kind in kinds for d in snapshot.of_kind(kind, config)]
    return max(chosen, key=lambda dump: dump.mtime, default=None)
