"""Throwaway SSH servers on 127.0.0.1 for tests (asyncssh's own server).

Each server has a fresh host key, admits one client key, and runs every exec
request through ``/bin/sh -c`` in a working directory of the test, recording the
exact command line it received.  ``PATH`` starts with a directory of the test, so a
test can put a stand-in ``docker`` script there; a shell that honours quoting runs
nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from rainbow_tui.ssh import SshTarget

USER = "deploy"


@dataclass
class ShellServer:
    port: int
    host_key: asyncssh.SSHKey
    client_key_path: Path
    known_hosts: Path
    workdir: Path
    bin_dir: Path
    commands: list[str] = field(default_factory=list)
    # SSH connections accepted so far (one per connection, however many channels).
    connections: list[int] = field(default_factory=lambda: [0])

    @property
    def connection_count(self) -> int:
        return self.connections[0]

    def target(self, name: str = "app-1", **changes: object) -> SshTarget:
        values: dict[str, object] = dict(
            name=name, address="127.0.0.1", port=self.port, user=USER, roles=("web",),
            known_hosts=str(self.known_hosts), client_keys=(str(self.client_key_path),),
            connect_timeout_s=10.0,
        )
        values.update(changes)
        return SshTarget(**values)  # type: ignore[arg-type]


def known_hosts_line(port: int, key: asyncssh.SSHKey) -> str:
    algorithm, data = key.export_public_key().decode("ascii").split()[:2]
    return f"[127.0.0.1]:{port} {algorithm} {data}\n"


@asynccontextmanager
async def shell_server(tmp_path: Path, sftp_root: Path | None = None,
                       ) -> AsyncIterator[ShellServer]:
    """With ``sftp_root``, SFTP too: asyncssh's own server, chrooted there."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = tmp_path / "id_ed25519"
    client_key_path.write_bytes(client_key.export_private_key())
    client_key_path.chmod(0o600)
    workdir = tmp_path / "remote"
    bin_dir = tmp_path / "remote-bin"
    workdir.mkdir()
    bin_dir.mkdir()
    received: list[str] = []
    connections = [0]

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            connections[0] += 1

        def begin_auth(self, username: str) -> bool:
            return True

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == USER and key.public_data == client_key.public_data

    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        received.append(command)
        shell = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", command, cwd=workdir,
            env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            # A group of its own: sh may fork the command, and a surviving child keeps
            # the pipe open, so waiting for the shell would wait for the child too.
            start_new_session=True,
        )
        assert shell.stdout is not None
        try:
            while chunk := await shell.stdout.read(65536):
                process.stdout.write(chunk)
            process.exit(await shell.wait())
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            pass
        finally:
            if shell.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(shell.pid, signal.SIGKILL)
                await shell.wait()

    def sftp(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=os.fsencode(sftp_root or tmp_path))

    server = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[host_key], process_factory=handle,
        encoding=None, sftp_factory=sftp if sftp_root is not None else None,
    )
    port = server.sockets[0].getsockname()[1]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(port, host_key), encoding="ascii")
    try:
        yield ShellServer(port, host_key, client_key_path, known_hosts, workdir, bin_dir,
                          received, connections)
    finally:
        server.close()
        await server.wait_closed()


def write_script(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path
