"""The few real directories a stand-in host has (db-1's ``/backup``), and the file
tools an operator uses on them: ``find`` (with ``-printf``), ``ls -l``, ``cat``,
``sha256sum``, ``date``, and ``>`` into a file.

A host path maps to a directory under the stack's state directory; anything else
on the host does not exist (``No such file or directory``), and writing outside
the mapped directories fails as on a read-only root.  Output imitates GNU
findutils 4.9 and coreutils 9 (Ubuntu 24.04).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

_PRINTF_ESCAPES = {"\\0": "\0", "\\n": "\n", "\\t": "\t", "\\\\": "\\"}


class FileToolError(Exception):
    """What the tool prints on standard error, and its exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HostFiles:
    """Host directories (absolute paths) backed by real local directories."""

    mounts: dict[str, Path] = field(default_factory=dict)

    def local(self, host_path: str) -> Path | None:
        """The local path behind ``host_path``, or None where the host has nothing."""
        normal = posixpath.normpath(host_path)
        for mount, directory in self.mounts.items():
            if normal == mount:
                return directory
            if normal.startswith(mount + "/"):
                return directory / normal[len(mount) + 1:]
        return None

    # -- find -----------------------------------------------------------------------

    def find(self, args: list[str]) -> bytes:
        """``find DIR [-maxdepth N] [-type f] [-name GLOB] [-printf FMT] [-o …]``:
        the branches ``-o`` separates, each with its own tests and action."""
        if not args or args[0].startswith("-"):
            raise FileToolError("find: a starting directory is required here")
        start, expression = args[0], args[1:]
        directory = self.local(start)
        if directory is None or not directory.is_dir():
            raise FileToolError(f"find: '{start}': No such file or directory")
        branches: list[list[str]] = [[]]
        for token in expression:
            if token == "-o":
                branches.append([])
            else:
                branches[-1].append(token)
        out: list[str] = []
        for entry in sorted(directory.iterdir()):
            host_path = posixpath.join(start.rstrip("/") or "/", entry.name)
            for branch in branches:
                printed = _find_branch(branch, entry, host_path)
                if printed is not None:
                    out.append(printed)
                    break
        return "".join(out).encode("utf-8", "surrogateescape")

    # -- ls -------------------------------------------------------------------------

    def ls(self, args: list[str]) -> bytes:
        long = any(a.startswith("-") and "l" in a for a in args)
        human = any(a.startswith("-") and "h" in a for a in args)
        by_time = any(a.startswith("-") and "t" in a for a in args)
        paths = [a for a in args if not a.startswith("-")] or ["."]
        rows: list[tuple[Path, str]] = []
        for path in paths:
            rows += self._expand(path)
        if by_time:
            rows.sort(key=lambda row: row[0].stat().st_mtime, reverse=True)
        if not long:
            return "".join(posixpath.basename(name) + "\n" for _, name in rows).encode()
        lines = [f"total {sum(p.stat().st_blocks for p, _ in rows) // 2}\n"] if len(paths) == 1 \
            and self._is_directory(paths[0]) else []
        for local, name in rows:
            info = local.stat()
            size = _human(info.st_size) if human else str(info.st_size)
            when = time.strftime("%b %e %H:%M", time.localtime(info.st_mtime))
            lines.append(f"{stat.filemode(info.st_mode)} 1 deploy deploy {size:>5} {when} "
                         f"{name}\n")
        return "".join(lines).encode()

    def _is_directory(self, host_path: str) -> bool:
        local = self.local(host_path)
        return local is not None and local.is_dir()

    def _expand(self, host_path: str) -> list[tuple[Path, str]]:
        """The files ``host_path`` names: a directory's entries, a glob's matches."""
        parent, pattern = posixpath.split(host_path)
        if any(ch in pattern for ch in "*?["):
            directory = self.local(parent)
            found = sorted(p for p in directory.iterdir() if fnmatch.fnmatchcase(p.name, pattern)) \
                if directory is not None and directory.is_dir() else []
            if not found:
                raise FileToolError(
                    f"ls: cannot access '{host_path}': No such file or directory", 2)
            return [(p, posixpath.join(parent, p.name)) for p in found]
        local = self.local(host_path)
        if local is None or not local.exists():
            raise FileToolError(f"ls: cannot access '{host_path}': No such file or directory", 2)
        if local.is_dir():
            return [(p, p.name) for p in sorted(local.iterdir()) if not p.name.startswith(".")]
        return [(local, host_path)]

    # -- cat and > ---------------------------------------------------------------------

    def read(self, host_path: str) -> bytes | None:
        """A mapped file's bytes; None where the host has no such file."""
        local = self.local(host_path)
        if local is None or not local.is_file():
            return None
        return local.read_bytes()

    def sha256sum(self, args: list[str]) -> bytes:
        """``sha256sum [--] FILE…``: GNU coreutils' ``DIGEST  NAME`` lines."""
        names = [a for a in args if a != "--"]
        if not names:
            raise FileToolError("sha256sum: reading standard input is not supported here")
        out: list[str] = []
        for name in names:
            data = self.read(name)
            if data is None:
                raise FileToolError(f"sha256sum: {name}: No such file or directory")
            out.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        return "".join(out).encode("utf-8", "surrogateescape")

    def write(self, host_path: str, data: bytes, append: bool = False) -> None:
        local = self.local(host_path)
        if local is None or not local.parent.is_dir():
            raise FileToolError(f"sh: 1: cannot create {host_path}: Read-only file system", 2)
        with local.open("ab" if append else "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def date_output(args: list[str], now: float | None = None) -> bytes:
    """``date`` and ``date +FORMAT`` (``%s`` and the strftime fields)."""
    moment = time.time() if now is None else now
    formats = [a[1:] for a in args if a.startswith("+")]
    if not formats:
        return time.strftime("%a %b %e %H:%M:%S %Z %Y\n", time.localtime(moment)).encode()
    text = formats[0].replace("%s", str(int(moment))).replace("%N", f"{moment % 1:.9f}"[2:])
    return (time.strftime(text, time.localtime(moment)) + "\n").encode()


def _find_branch(branch: list[str], entry: Path, host_path: str) -> str | None:
    """What one ``-o`` branch prints for ``entry`` (None: its tests fail)."""
    info = entry.lstat()
    printed = ""
    printing = False
    index = 0
    while index < len(branch):
        token = branch[index]
        value = branch[index + 1] if index + 1 < len(branch) else ""
        if token == "-maxdepth":
            index += 2
            continue
        if token == "-type":
            wanted = {"f": stat.S_ISREG, "d": stat.S_ISDIR}.get(value)
            if wanted is None or not wanted(info.st_mode):
                return None
        elif token == "-name":
            if not fnmatch.fnmatchcase(entry.name, value):
                return None
        elif token == "-printf":
            printing = True
            printed += _printf(value, info, host_path)
        elif token == "-print":
            printing = True
            printed += host_path + "\n"
            index += 1
            continue
        else:
            raise FileToolError(f"find: unknown predicate `{token}'")
        index += 2
    return printed if printing else host_path + "\n"


def _printf(template: str, info: os.stat_result, host_path: str) -> str:
    for escape, char in _PRINTF_ESCAPES.items():
        template = template.replace(escape, char)
    fields = {
        "%T@": f"{info.st_mtime_ns / 1e9:.10f}",
        "%s": str(info.st_size),
        "%p": host_path,
        "%f": posixpath.basename(host_path),
        "%%": "%",
    }
    out = ""
    index = 0
    while index < len(template):
        for name, value in fields.items():
            if template.startswith(name, index):
                out += value
                index += len(name)
                break
        else:
            out += template[index]
            index += 1
    return out


def _human(size: int) -> str:
    """``ls -h``: one decimal below 10, powers of 1024, rounded up."""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            if not unit:
                return str(size)
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
        value /= 1024
    return str(size)
