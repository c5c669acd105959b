"""A real SSH server per stand-in host (asyncssh), answering exec requests and
SFTP of the host's own directories (``host_sftp``).

Each host listens on its own port of 127.0.0.1 with its own ed25519 host key.  The
state directory receives the client's private key and a ``known_hosts`` file that
lists every ``[127.0.0.1]:PORT`` with its key, so clients verify host keys exactly as
they would in production.  Only user ``deploy`` with the generated client key may
log in.  Listening can be stopped and restarted on the same ports, dropping every
connection, so reconnect logic can be tested against a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from rainbow_tui.demo.host_sftp import HostSftp
from rainbow_tui.demo.host_shell import HostShell

log = logging.getLogger("rainbow_tui.demo.sshd")

SSH_USER = "deploy"
KEEPALIVE_SECONDS = 15


@dataclass(frozen=True)
class SshKeyFiles:
    client_key: Path
    known_hosts: Path


def _write_private(path: Path, key: asyncssh.SSHKey) -> None:
    path.write_bytes(key.export_private_key())
    path.chmod(0o600)


def generate_keys(ssh_dir: Path, host_names: list[str]) -> tuple[
    asyncssh.SSHKey, dict[str, asyncssh.SSHKey], Path
]:
    """Fresh keys for this demo: one client key, one host key per host."""
    ssh_dir.mkdir(parents=True, exist_ok=True)
    ssh_dir.chmod(0o700)
    client_key = asyncssh.generate_private_key("ssh-ed25519", comment="rainbow-tui-demo-client")
    client_path = ssh_dir / "id_ed25519"
    _write_private(client_path, client_key)
    (ssh_dir / "id_ed25519.pub").write_bytes(client_key.export_public_key())
    host_keys: dict[str, asyncssh.SSHKey] = {}
    for name in host_names:
        key = asyncssh.generate_private_key("ssh-ed25519", comment=name)
        _write_private(ssh_dir / f"ssh_host_ed25519_key.{name}", key)
        host_keys[name] = key
    return client_key, host_keys, client_path


def write_known_hosts(path: Path, entries: list[tuple[int, asyncssh.SSHKey]]) -> None:
    lines = []
    for port, key in entries:
        public = key.export_public_key().decode("ascii").split()
        lines.append(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    temporary = path.with_suffix(".tmp")
    temporary.write_text("".join(lines), encoding="ascii")
    temporary.replace(path)


class _ChannelSink:
    """Writes command output to an SSH channel; notices when the client has gone."""

    def __init__(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        self._process = process
        self._broken = False

    def write(self, data: bytes) -> None:
        if self.is_closed():
            return
        try:
            self._process.stdout.write(data)
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            self._broken = True

    def write_err(self, data: bytes) -> None:
        if self.is_closed():
            return
        try:
            self._process.stderr.write(data)
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            self._broken = True

    async def drain(self) -> None:
        if self.is_closed():
            return
        try:
            await self._process.stdout.drain()
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            self._broken = True

    def is_closed(self) -> bool:
        return self._broken or self._process.is_closing()


class _HostServer(asyncssh.SSHServer):
    """Authentication and connection bookkeeping for one host's listener."""

    def __init__(self, fleet: SshFleet) -> None:
        self._fleet = fleet
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._fleet.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._fleet.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # authentication is always required

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        authorized = self._fleet.authorized.public_data
        return username == self._fleet.user and key.public_data == authorized


@dataclass
class SshFleet:
    """The listeners of every stand-in host."""

    shells: dict[str, HostShell]
    host_keys: dict[str, asyncssh.SSHKey]
    authorized: asyncssh.SSHKey
    user: str = SSH_USER
    ports: dict[str, int] = field(default_factory=dict)
    connections: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    _acceptors: dict[str, asyncssh.SSHAcceptor] = field(default_factory=dict)
    _sessions: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def listening(self) -> bool:
        return bool(self._acceptors)

    async def start(self) -> None:
        """Listen on every host's port (new ports the first time, the same ones after)."""
        for name in self.shells:
            if name in self._acceptors:
                continue
            acceptor = await asyncssh.create_server(
                lambda: _HostServer(self),
                "127.0.0.1",
                self.ports.get(name, 0),
                server_host_keys=[self.host_keys[name]],
                process_factory=self._session_handler(name),
                sftp_factory=self._sftp_factory(name),
                encoding=None,
                keepalive_interval=KEEPALIVE_SECONDS,
                login_timeout=30,
                allow_scp=False,
                agent_forwarding=False,
                x11_forwarding=False,
                line_editor=False,
            )
            self._acceptors[name] = acceptor
            self.ports[name] = acceptor.get_port()
        log.info("ssh listening: %s", ", ".join(f"{n}:{p}" for n, p in self.ports.items()))

    async def stop(self) -> None:
        """Stop listening and drop every connection (clients see the link go down)."""
        acceptors, self._acceptors = self._acceptors, {}
        for acceptor in acceptors.values():
            acceptor.close()
        for conn in list(self.connections):
            conn.close()
        for acceptor in acceptors.values():
            await acceptor.wait_closed()
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 2.0)
        self.connections.clear()
        log.info("ssh stopped listening")

    def _sftp_factory(self, host_name: str) -> Callable[
        [asyncssh.SSHServerChannel[bytes]], asyncssh.SFTPServer
    ]:
        """SFTP of the host's own directories (db-1's /backup), read-only."""
        files = self.shells[host_name].files

        def start(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
            return HostSftp(chan, files)

        return start

    def _session_handler(self, host_name: str) -> asyncssh.SSHServerProcessFactory[bytes]:
        async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._sessions.add(task)
            try:
                await self._run_session(host_name, process)
            finally:
                if task is not None:
                    self._sessions.discard(task)

        return handle

    async def _run_session(self, host_name: str, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command
        if command is None:
            process.stderr.write(b"This host only runs commands: ssh deploy@host COMMAND\n")
            process.exit(1)
            return
        sink = _ChannelSink(process)
        try:
            status = await self.shells[host_name].run(command, sink)
        except Exception:
            log.exception("command failed on %s: %r", host_name, command)
            sink.write_err(b"internal error\n")
            status = 1
        if not process.is_closing():
            with contextlib.suppress(BrokenPipeError, ConnectionError, asyncssh.Error):
                process.exit(status)
