"""SFTP on a stand-in host: its real directories (db-1's ``/backup``), read-only,
as OpenSSH's sftp-server serves them to ``deploy`` (who may read the dumps, not
change them).

Paths are the host's (``/backup/manual_….dump``), mapped through the host's
:class:`HostFiles`; anything outside them does not exist, and every change
(write, remove, rename, mkdir…) is refused with "permission denied".
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import asyncssh

from rainbow_tui.demo.host_files import HostFiles

__all__ = ["HostSftp"]


_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC
_WRITE_ACCESS = asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA


def _denied() -> asyncssh.SFTPPermissionDenied:
    return asyncssh.SFTPPermissionDenied("Permission denied")


class HostSftp(asyncssh.SFTPServer):
    """One SFTP session on one host's directories."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], files: HostFiles) -> None:
        super().__init__(chan)
        self._files = files

    def map_path(self, path: bytes) -> bytes:
        host_path = posixpath.normpath(posixpath.join("/", os.fsdecode(path)))
        local = self._files.local(host_path)
        if local is None:
            raise asyncssh.SFTPNoSuchFile("No such file or directory")
        return os.fsencode(local)

    def reverse_map_path(self, path: bytes) -> bytes:
        local = os.fsdecode(path)
        for mount, directory in self._files.mounts.items():
            root = str(directory)
            if local == root:
                return os.fsencode(mount)
            if local.startswith(root + "/"):
                return os.fsencode(mount + local[len(root):])
        raise asyncssh.SFTPNoSuchFile("No such file or directory")

    def listdir(self, path: bytes) -> list[bytes]:
        """A directory's entries without ``.`` and ``..``: the parent of a mapped
        directory (``/`` for ``/backup``) is not on this host (asyncssh's ``scandir``
        takes this hook in place of its own)."""
        directory = Path(os.fsdecode(self.map_path(path)))
        return sorted(os.fsencode(entry.name) for entry in directory.iterdir())

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & _WRITE_FLAGS:
            raise _denied()
        return super().open(path, pflags, attrs)

    def open56(self, path: bytes, desired_access: int, flags: int,
               attrs: asyncssh.SFTPAttrs) -> object:
        if desired_access & _WRITE_ACCESS:
            raise _denied()
        return super().open56(path, desired_access, flags, attrs)

    # Nothing on the host changes through SFTP.
    def remove(self, path: bytes) -> None:
        raise _denied()

    def rmdir(self, path: bytes) -> None:
        raise _denied()

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise _denied()

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise _denied()

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        raise _denied()

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise _denied()

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise _denied()

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise _denied()

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise _denied()

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        raise _denied()
