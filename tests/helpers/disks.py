"""Full disks for the incident store, as real as this machine allows."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from rainbow_tui.incidents import store as store_module


class TinyDisk:
    """A 64 KiB tmpfs to fill up for real; without mount rights, a full disk is
    imitated at the store's one write boundary (``os.pwrite``)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.real = False
        self.full = False
        self._monkeypatch = monkeypatch
        self._filler = root / "filler"

    def mount(self) -> None:
        self.root.mkdir()
        if os.geteuid() == 0:
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(self.root)],
                capture_output=True, check=False,
            )
            self.real = result.returncode == 0
        if not self.real:
            real_pwrite = os.pwrite

            def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
                if self.full:
                    raise OSError(28, os.strerror(28))
                return real_pwrite(fd, data, offset)

            # The store's own ``os`` (the one module object, so every writer sees it).
            self._monkeypatch.setattr(f"{store_module.__name__}.os.pwrite", pwrite)

    def fill(self) -> None:
        self.full = True
        if self.real:
            fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                with contextlib.suppress(OSError):
                    while os.write(fd, b"x" * 512):
                        pass
            finally:
                os.close(fd)

    def free(self) -> None:
        self.full = False
        if self.real:
            self._filler.unlink()

    def unmount(self) -> None:
        if self.real:
            # Lazy: a store a failed test left open must not leave the mount behind.
            subprocess.run(["umount", "--lazy", str(self.root)], check=False)


class FullTmpfs:
    """A tmpfs of its own for the console's state directory, filled with a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def mount(self) -> None:
        self.root.mkdir()
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root; this test fills a real one")
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(self.root)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            pytest.skip(f"mounting a tmpfs is not permitted here: {result.stderr.strip()}")

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            with contextlib.suppress(OSError):
                while os.write(fd, b"x" * 4096):
                    pass
            with contextlib.suppress(OSError):  # the last bytes of a page
                while os.write(fd, b"x"):
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        # Lazy: should a failed test leave the store open, the mount still goes.
        subprocess.run(["umount", "--lazy", str(self.root)], check=False)
