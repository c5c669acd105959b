"""The newest file matching a glob copied off a host over SFTP, as the manual's
``scp deploy@server:/backup/manual_*.dump ./backups/`` does, with what a hand copy
leaves to the person made sure of:

- the newest match only (by modification time, then by name), a regular file;
- an existing local file is never overwritten: the bytes go to a hidden temporary
  name in the same directory, which becomes the file's name by a hard link that
  fails if the name is taken (then the temporary goes);
- the copy's size must be the host's, and so must its SHA-256 when the host has
  ``sha256sum`` (GNU coreutils); a mismatch leaves no file behind;
- progress said every tenth of the file.

Words go through the text layer; every remote name is put out through the
command output, which makes it inert.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import os
import posixpath
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui.ssh import shell_word
from rainbow_tui.text import tr

if TYPE_CHECKING:
    import asyncssh

__all__ = ["CHUNK_BYTES", "Copied", "CopyError", "copy_newest", "glob_problem"]

CHUNK_BYTES = 256 * 1024
SHA256_TIMEOUT_S = 600.0
_GLOB_CHARACTERS = "*?["
# ``sha256sum``'s line: 64 hex digits, then the name.
_HEX = frozenset("0123456789abcdef")


class CopyError(Exception):
    """Why nothing was copied (or the copy was removed), in words."""


@dataclass(frozen=True, slots=True)
class Copied:
    remote: str
    local: Path
    size: int
    sha256: str
    # False when the host has no sha256sum: the size alone was compared.
    sha256_checked: bool


def glob_problem(pattern: str) -> str | None:
    """What is wrong with a copy's glob: an absolute path, the glob in its last part."""
    directory, name = posixpath.split(pattern)
    if not pattern.startswith("/") or not name:
        return tr("copy.glob_absolute")
    if any(character in directory for character in _GLOB_CHARACTERS):
        return tr("copy.glob_in_directory")
    return None


async def _newest(sftp: asyncssh.SFTPClient, pattern: str) -> tuple[str, int]:
    """(path, size) of the newest regular file matching ``pattern``."""
    directory, name_glob = posixpath.split(pattern)
    matches: list[tuple[float, str, int]] = []
    async for entry in sftp.scandir(directory):
        name = str(entry.filename)
        attrs = entry.attrs
        if not fnmatch.fnmatchcase(name, name_glob) or attrs.permissions is None:
            continue
        if stat.S_ISREG(attrs.permissions):
            matches.append((float(attrs.mtime or 0), name, int(attrs.size or 0)))
    if not matches:
        raise CopyError(tr("copy.no_match", pattern=pattern))
    _, name, size = max(matches)
    return posixpath.join(directory, name), size


async def _remote_sha256(connection: asyncssh.SSHClientConnection, path: str) -> str | None:
    """The host's ``sha256sum`` of ``path``; None when the host has no such tool."""
    result = await asyncio.wait_for(
        connection.run(f"sha256sum -- {shell_word(path)}", check=False), SHA256_TIMEOUT_S)
    out = result.stdout if isinstance(result.stdout, str) else ""
    digest = out.split(" ", 1)[0].strip().lower()
    if result.exit_status == 0 and len(digest) == 64 and set(digest) <= _HEX:
        return digest
    if result.exit_status == 127:  # the shell's "command not found"
        return None
    error = result.stderr if isinstance(result.stderr, str) else ""
    raise CopyError(tr("copy.sha256_failed", error=(error or out).strip()[:200]))


def _publish(temporary: Path, final: Path) -> None:
    """``temporary`` under the name ``final``, never replacing a file of that name."""
    try:
        os.link(temporary, final)
    except FileExistsError:
        raise CopyError(tr("copy.exists", path=str(final))) from None
    temporary.unlink()


async def copy_newest(
    connection: asyncssh.SSHClientConnection,
    pattern: str,
    directory: Path,
    say: Callable[[str], None],
) -> Copied:
    """Copy the newest match of ``pattern`` into ``directory`` (made if missing);
    ``say`` receives each line of progress.  Raises ``CopyError``."""
    import asyncssh

    try:
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    except OSError as error:
        raise CopyError(tr("copy.local_failed", error=str(error))) from None
    try:
        async with connection.start_sftp_client() as sftp:
            remote, size = await _newest(sftp, pattern)
            final = directory / posixpath.basename(remote)
            if final.exists():
                raise CopyError(tr("copy.exists", path=str(final)))
            say(tr("copy.starting", remote=remote, size=size, local=str(final)))
            temporary = directory / f".{final.name}.{secrets.token_hex(4)}.part"
            digest = hashlib.sha256()
            copied = 0
            try:
                # O_EXCL: a temporary name taken by anything else is not written over.
                handle = await asyncio.to_thread(
                    os.fdopen, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                    "wb")
                try:
                    async with sftp.open(remote, "rb") as source:
                        said = 0
                        while chunk := await source.read(CHUNK_BYTES):
                            assert isinstance(chunk, bytes)  # opened "rb"
                            await asyncio.to_thread(handle.write, chunk)
                            digest.update(chunk)
                            copied += len(chunk)
                            tenth = copied * 10 // size if size else 10
                            if tenth > said and copied < size:
                                said = tenth
                                say(tr("copy.progress", copied=copied, size=size,
                                       percent=100 * copied / size))
                finally:
                    await asyncio.to_thread(handle.close)
                if copied != size:
                    raise CopyError(tr("copy.size_differs", copied=copied, size=size))
                local_sha = digest.hexdigest()
                remote_sha = await _remote_sha256(connection, remote)
                if remote_sha is not None and remote_sha != local_sha:
                    raise CopyError(tr("copy.sha256_differs", local=local_sha, remote=remote_sha))
                await asyncio.to_thread(_publish, temporary, final)
            finally:
                with contextlib.suppress(OSError):
                    temporary.unlink()
    except asyncssh.SFTPError as error:
        raise CopyError(tr("copy.sftp_failed", error=error.reason)) from None
    except OSError as error:
        raise CopyError(tr("copy.local_failed", error=str(error))) from None
    return Copied(remote, final, copied, local_sha, remote_sha is not None)
