"""The backup runbook's copy off the db host: the ``copy`` command kind, over SFTP
on the console's own SSH connection, against the demo's real SSH server (its db
host serves /backup read-only) and asyncssh's own SFTP server.

As the manual's ``scp deploy@server:/backup/manual_*.dump ./backups/`` would, but
the newest match only, never over an existing file, checked by size and by GNU
coreutils' ``sha256sum`` (``DIGEST  NAME`` lines, src/digest.c) where the host has
it; asyncssh's client and server are ``asyncssh/sftp.py``."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import msgspec
import pytest

from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.remote_copy import CopyError, copy_newest
from rainbow_tui.incidents.runbooks import Command, load_runbooks, parse_runbook
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.ssh import connect
from rainbow_tui.text import set_language
from tests.conftest import DemoStackFactory, StackDriver
from tests.ssh_servers import shell_server, write_script


def _backup_step(step_id: str) -> Command:
    runbook = load_runbooks().runbooks["backup"]
    return next(step for step in runbook.steps if step.id == step_id).commands[0]


def _backup_dir(stack: DemoProcess) -> Path:
    return stack.endpoints.state_dir / "hosts" / "db-1" / "backup"


async def test_the_backup_runbook_copies_the_newest_manual_dump_off_the_db_host(
    demo_stack_factory: DemoStackFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_language("en")
    stack = demo_stack_factory()
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, incidents_dir=tmp_path / "state")
    copies = tmp_path / "backups"
    config = msgspec.structs.replace(
        config, backups=msgspec.structs.replace(config.backups, copy_to=str(copies)))
    host_dir = _backup_dir(stack)
    older = host_dir / "manual_20000101_000000.dump"
    older.write_bytes(b"PGDMP old")
    os.utime(older, (time.time() - 86400, time.time() - 86400))
    runner = CommandRunner(config)
    try:
        # The runbook's own dump step makes the newest manual dump (pg_dump, for real).
        dumped = await runner.run(_backup_step("dump"))
        assert dumped.ok, dumped
        (newest,) = [p for p in host_dir.glob("manual_*.dump") if p != older]
        copy = _backup_step("copy")
        assert "sftp" in runner.preview(copy) and str(copies) in runner.preview(copy)
        lines: list[str] = []
        result = await runner.run(copy, on_line=lines.append)
        assert result.ok, result
        local = copies / newest.name
        assert local.read_bytes() == newest.read_bytes()
        assert sorted(p.name for p in copies.iterdir()) == [newest.name]  # no temporaries
        digest = hashlib.sha256(newest.read_bytes()).hexdigest()
        assert f"SHA-256 matches the host's ({digest})" in lines[-1]
        assert "copied" in result.excerpt  # what the record keeps

        # A second copy of the same file: refused, the first one left as it was.
        before = local.stat()
        again = await runner.run(copy, on_line=lines.append)
        assert again.outcome == "failed" and "already exists: not overwritten" in again.detail
        assert local.stat().st_mtime_ns == before.st_mtime_ns
        assert local.read_bytes() == newest.read_bytes()

        # A larger dump, newer still: progress every tenth of it.
        large = host_dir / "manual_29990101_000000.dump"
        large.write_bytes(os.urandom(3 * 1024 * 1024))
        progress: list[str] = []
        result = await runner.run(copy, on_line=progress.append)
        assert result.ok, result
        assert (copies / large.name).read_bytes() == large.read_bytes()
        tenths = [line for line in progress if line.endswith("%)")]
        assert 5 <= len(tenths) <= 9 and all(" of 3,145,728 bytes (" in t for t in tenths)
        percents = [int(t.rsplit("(", 1)[1].rstrip("%)")) for t in tenths]
        assert percents == sorted(set(percents)) and percents[-1] < 100
    finally:
        await runner.close()


async def test_the_demo_db_host_serves_backup_over_sftp_read_only(
    demo_stack: DemoProcess, drive: Callable[[DemoProcess], StackDriver],
) -> None:
    target = drive(demo_stack).host("db-1")
    async with asyncssh.connect(
        target.address, target.port, username=demo_stack.endpoints.ssh_user,
        client_keys=[str(demo_stack.endpoints.client_key)],
        known_hosts=str(demo_stack.endpoints.known_hosts),
    ) as connection, connection.start_sftp_client() as sftp:
        names = [name for name in await sftp.listdir("/backup") if name.startswith("full_")]
        assert names
        first = f"/backup/{sorted(names)[0]}"
        async with sftp.open(first, "rb") as handle:
            assert (await handle.read(5)) == b"PGDMP"
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.open("/backup/planted.dump", "wb")
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.remove(first)
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await sftp.stat("/etc/passwd")
    assert not (_backup_dir(demo_stack) / "planted.dump").exists()


# -- against asyncssh's own SFTP server and a real /bin/sh ----------------------------------


def _host_backups(root: Path) -> Path:
    backup = root / "backup"
    backup.mkdir(parents=True)
    (backup / "manual_20260101_000000.dump").write_bytes(b"PGDMP one")
    return backup


async def test_a_digest_that_differs_leaves_no_copy(tmp_path: Path) -> None:
    """The host's sha256sum says another digest (the file changed under the copy):
    the copy is removed and the reason given."""
    set_language("en")
    root = tmp_path / "host"
    _host_backups(root)
    async with shell_server(tmp_path, sftp_root=root) as server:
        write_script(server.bin_dir / "sha256sum", f"#!/bin/sh\necho '{'0' * 64}  $2'\n")
        connection = await connect(server.target())
        try:
            with pytest.raises(CopyError, match="SHA-256 differs"):
                await copy_newest(connection, "/backup/manual_*.dump", tmp_path / "copies",
                                  lambda _line: None)
        finally:
            connection.close()
    assert list((tmp_path / "copies").iterdir()) == []


async def test_without_sha256sum_the_size_alone_is_compared(tmp_path: Path) -> None:
    root = tmp_path / "host"
    _host_backups(root)
    async with shell_server(tmp_path, sftp_root=root) as server:
        # As dash answers a command it cannot find.
        write_script(server.bin_dir / "sha256sum", "#!/bin/sh\necho 'sh: 1: sha256sum: not found' >&2\nexit 127\n")
        connection = await connect(server.target())
        try:
            copied = await copy_newest(connection, "/backup/manual_*.dump", tmp_path / "copies",
                                       lambda _line: None)
        finally:
            connection.close()
    assert not copied.sha256_checked and copied.size == len(b"PGDMP one")
    assert (tmp_path / "copies" / "manual_20260101_000000.dump").read_bytes() == b"PGDMP one"


async def test_the_real_sha256sum_agrees_and_nothing_matching_is_said(tmp_path: Path) -> None:
    set_language("en")
    root = tmp_path / "host"
    _host_backups(root)
    async with shell_server(tmp_path, sftp_root=root) as server:
        # The real coreutils sha256sum, reading the same file through the chroot's path.
        write_script(server.bin_dir / "sha256sum",
                     f"#!/bin/sh\nshift\nexec /usr/bin/sha256sum -- {root}\"$1\"\n")
        connection = await connect(server.target())
        try:
            copied = await copy_newest(connection, "/backup/manual_*.dump", tmp_path / "copies",
                                       lambda _line: None)
            with pytest.raises(CopyError, match=r"no file matches /backup/full_\*\.dump"):
                await copy_newest(connection, "/backup/full_*.dump", tmp_path / "copies",
                                  lambda _line: None)
        finally:
            connection.close()
    assert copied.sha256_checked
    assert copied.sha256 == hashlib.sha256(b"PGDMP one").hexdigest()


RUNBOOK = """id = "copy-test"
title_ja = "t"
title_en = "t"
severity = "low"
[[steps]]
id = "copy"
phase = "recover"
title_ja = "t"
title_en = "t"
[[steps.commands]]
"""


@pytest.mark.parametrize(("command", "expected"), [
    ('kind = "copy"\nhost = "role:db"\ntext = "backup/manual_*.dump"',
     "steps[0].commands[0].text: must be an absolute path"),
    ('kind = "copy"\nhost = "role:db"\ntext = "/backup/*/manual.dump"',
     "steps[0].commands[0].text: the glob may only be in the file name"),
    ('kind = "copy"\ntext = "/backup/manual_*.dump"', "steps[0].commands[0].host"),
    ('kind = "ssh"\nhost = "role:db"\ntext = "ls"\nto = "./backups"',
     "steps[0].commands[0].to: only copy commands copy into a directory"),
])
def test_a_copy_command_s_fields_are_checked_at_load(command: str, expected: str) -> None:
    set_language("en")
    from rainbow_tui.incidents.runbooks import RunbookError

    with pytest.raises(RunbookError) as raised:
        parse_runbook(RUNBOOK + command + "\n", "copy-test.toml")
    assert expected in str(raised.value)
