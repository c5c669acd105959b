"""SSH in one place: how the console reaches a host, and what it says when it cannot.

Every SSH link the console opens (host polls, log streams, runbook commands) comes
from :func:`connect`: host keys verified against ``known_hosts`` (never skipped),
keepalive on, AES-GCM preferred, through Kamal's ``ssh.proxy`` jump host when
there is one, and one deadline over the whole of it (TCP, handshake and login,
the jump host's included).  A remote command gets a deadline of its own
(:func:`run_command`).  Every value put into a remote command line goes through
:func:`shell_words` / :func:`shell_word`.

Why a connection failed is told by :func:`describe_ssh_error`, in one line.  An
unknown host key and a *changed* one are told apart: a changed key may be a
man-in-the-middle, so its message shouts, names the host and gives both
fingerprints (the one known_hosts holds and the one the server offered).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rainbow_tui.config import PLACEHOLDER
from rainbow_tui.ssh_proxy_command import expand_proxy_command
from rainbow_tui.text import N_, tr

if TYPE_CHECKING:
    import asyncssh

# AES-GCM first: hardware-accelerated on both ends, it costs a fraction of
# chacha20-poly1305's CPU per packet, which adds up over dozens of hosts.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)
DEFAULT_SSH_PORT = 22

# Every sentence this module says: by code, its key in the text catalogue (ja/en).
# The host a sentence is about comes before it ("app-1: connection refused"), left
# out where the reader already sees it (a host's own row names the host).
MESSAGES: Mapping[str, str] = {
    "placeholder": N_("ssh.placeholder"),
    "known_hosts_missing": N_("ssh.known_hosts_missing"),
    "connect_timeout": N_("ssh.connect_timeout"),
    "refused": N_("ssh.refused"),
    "unresolved": N_("ssh.unresolved"),
    "unreachable": N_("ssh.unreachable"),
    "auth": N_("ssh.auth"),
    "unknown_key": N_("ssh.unknown_key"),
    "changed_key": N_("ssh.changed_key"),
    "key_not_verifiable": N_("ssh.key_not_verifiable"),
    "lost": N_("ssh.lost"),
    "ssh_error": N_("ssh.ssh_error"),
    "command_timeout": N_("ssh.command_timeout"),
    "timed_out": N_("ssh.timed_out"),
}
# Sentences that name their host themselves: no prefix.
_NAMES_ITS_HOST = frozenset({"changed_key", "known_hosts_missing"})


def message(code: str, host: str = "", **values: object) -> str:
    text = tr(MESSAGES[code], name=host, **values)
    return f"{host}: {text}" if host and code not in _NAMES_ITS_HOST else text


@dataclass(frozen=True, slots=True)
class SshTarget:
    """How to reach one host; built from config so this module needs none."""

    name: str
    address: str
    port: int
    user: str
    roles: tuple[str, ...]
    known_hosts: str
    client_keys: tuple[str, ...] = ()
    connect_timeout_s: float = 10.0
    keepalive_interval_s: float = 15.0
    # Kamal's ``ssh.proxy``: the jump host every connection to this host goes through.
    jump_host: str = ""
    jump_port: int = DEFAULT_SSH_PORT
    jump_user: str = ""
    # Kamal's ``ssh.proxy_command``: the transport is this command's stdin/stdout.
    proxy_command: str = ""

    @property
    def jump_label(self) -> str:
        return f"jump host {self.jump_user}@{self.jump_host}:{self.jump_port}"


class SshError(Exception):
    """An SSH failure already put into words: ``str()`` is the one-line description
    naming the host, ``code``, ``host`` and ``values`` what a catalogue needs to say
    it in another language."""

    def __init__(self, code: str, host: str = "", **values: object) -> None:
        self.code = code
        self.host = host
        self.values = values
        super().__init__(message(code, host, **values))

    def describe(self, seen_from: str = "") -> str:
        """The description, without the host's name where ``seen_from`` is that host."""
        return message(self.code, "" if self.host == seen_from else self.host, **self.values)


class SshConnectError(SshError):
    """Reaching ``host`` failed (the target or its jump host)."""


class SshCommandTimeout(SshError, TimeoutError):
    """A remote command ran past its deadline."""


@dataclass(frozen=True, slots=True)
class HostKeySeen:
    """A host key the server offered that known_hosts does not list for it."""

    host: str
    address: str
    port: int
    offered: str  # fingerprint, SHA256:…
    known: tuple[str, ...] = field(default=())  # fingerprints known_hosts has for it


def _home_relative(path: str) -> str:
    """``~/.ssh/known_hosts`` rather than ``/home/ops/.ssh/known_hosts``."""
    home = str(Path.home())
    if path == home or path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


def _is_file(path: str) -> bool:
    # One stat of a local file: not worth a thread.
    return Path(path).is_file()


def _endpoint(host: str, port: int) -> str:
    """The host as known_hosts writes it: ``host``, or ``[host]:port`` off port 22."""
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


def shell_word(value: str | int) -> str:
    """One value for a remote shell (POSIX sh on the hosts), quoted."""
    return shlex.quote(str(value))


def shell_words(argv: Iterable[str | int]) -> str:
    """A remote command line from its words, each quoted."""
    return " ".join(shell_word(word) for word in argv)


class _HostKeyObserver:
    """Remembers the key a server offered when known_hosts does not trust it.

    asyncssh asks the client object about a key only when known_hosts has no match
    for it; we say no (verification stays asyncssh's) and keep the key, to tell
    "unknown" from "changed" afterwards.
    """

    def __init__(self) -> None:
        self.seen: tuple[str, str, int, asyncssh.SSHKey] | None = None

    def factory(self) -> asyncssh.SSHClient:
        import asyncssh

        observer = self

        class Client(asyncssh.SSHClient):
            def validate_host_public_key(
                self, host: str, addr: str, port: int, key: asyncssh.SSHKey
            ) -> bool:
                observer.seen = (host, addr, port, key)
                return False

        return Client()

    def host_key(self, known_hosts: str) -> HostKeySeen | None:
        if self.seen is None:
            return None
        import asyncssh

        host, address, port, key = self.seen
        try:
            known = asyncssh.match_known_hosts(
                known_hosts, host, address, port if port != DEFAULT_SSH_PORT else None
            )[0]
        except (OSError, ValueError):
            known = []
        return HostKeySeen(
            host, address, port, key.get_fingerprint(),
            tuple(dict.fromkeys(k.get_fingerprint() for k in known)),
        )


def _connect_error(
    error: BaseException, label: str, user: str, known_hosts: str, seen: HostKeySeen | None
) -> SshConnectError:
    """The words for a failed connect to ``label``."""
    name = type(error).__name__
    path = _home_relative(known_hosts)
    if name == "HostKeyNotVerifiable":
        if seen is not None and seen.known:
            return SshConnectError(
                "changed_key", host=label, endpoint=_endpoint(seen.host, seen.port),
                path=path, known=", ".join(seen.known), offered=seen.offered,
            )
        if seen is not None:
            return SshConnectError(
                "unknown_key", host=label, endpoint=_endpoint(seen.host, seen.port),
                path=path, offered=seen.offered,
            )
        return SshConnectError("key_not_verifiable", host=label, path=path, detail=error)
    if name == "PermissionDenied":
        return SshConnectError("auth", host=label, user=user or "(default)")
    if isinstance(error, ConnectionRefusedError):
        return SshConnectError("refused", host=label)
    if isinstance(error, socket.gaierror):
        return SshConnectError("unresolved", host=label, detail=error.strerror or error)
    if isinstance(error, FileNotFoundError) and error.filename == known_hosts:
        return SshConnectError("known_hosts_missing", path=path)
    if isinstance(error, OSError):
        return SshConnectError("unreachable", host=label, detail=error.strerror or error)
    if name in ("ConnectionLost", "DisconnectError"):
        return SshConnectError("lost", host=label, detail=error)
    return SshConnectError("ssh_error", host=label, detail=f"{name}: {error}")


async def connect(
    target: SshTarget, *, deadline_s: float | None = None
) -> asyncssh.SSHClientConnection:
    """An SSH connection to ``target``, or :class:`SshConnectError` saying why not.

    ``deadline_s`` (default: the target's connect timeout) bounds everything:
    the jump host's connection, TCP, handshake and login.
    """
    if PLACEHOLDER in target.address or PLACEHOLDER in target.jump_host:
        raise SshConnectError("placeholder", host=target.name)
    known_hosts = target.known_hosts
    # Checked first: asyncssh reads the file only once TCP is up, and then says
    # "No such file or directory", naming no file.
    if not _is_file(known_hosts):
        raise SshConnectError("known_hosts_missing", path=_home_relative(known_hosts))
    deadline = deadline_s if deadline_s is not None else target.connect_timeout_s
    common: dict[str, object] = dict(
        known_hosts=known_hosts,
        connect_timeout=deadline,
        keepalive_interval=target.keepalive_interval_s,
        encryption_algs=list(PREFERRED_CIPHERS),
    )
    if target.client_keys:
        common["client_keys"] = list(target.client_keys)
    jump: asyncssh.SSHClientConnection | None = None
    label = target.jump_label if target.jump_host else target.name
    try:
        async with asyncio.timeout(deadline):
            if target.jump_host:
                jump = await _connect_one(
                    label, target.jump_host, target.jump_port, target.jump_user, common, None
                )
                label = target.name
            via: dict[str, object] = dict(common)
            if target.proxy_command:
                via["proxy_command"] = expand_proxy_command(
                    target.proxy_command, target.address, target.port, target.user
                )
            connection = await _connect_one(
                label, target.address, target.port, target.user, via, jump
            )
    except TimeoutError:
        if jump is not None:
            jump.close()
        raise SshConnectError("connect_timeout", host=label, seconds=deadline) from None
    except BaseException:
        if jump is not None:
            jump.close()
        raise
    if jump is not None:
        connection.set_tunnel(jump)  # closed with the connection it carries
    return connection


async def _connect_one(
    label: str,
    address: str,
    port: int,
    user: str,
    common: Mapping[str, object],
    tunnel: asyncssh.SSHClientConnection | None,
) -> asyncssh.SSHClientConnection:
    import asyncssh

    observer = _HostKeyObserver()
    known_hosts = str(common["known_hosts"])
    try:
        connection: asyncssh.SSHClientConnection = await asyncssh.connect(
            address,
            port=port,
            client_factory=observer.factory,
            **({"username": user} if user else {}),
            **({"tunnel": tunnel} if tunnel is not None else {}),
            **common,
        )
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise  # the caller knows the deadline
    except (OSError, asyncssh.Error) as error:
        raise _connect_error(
            error, label, user, known_hosts, observer.host_key(known_hosts)
        ) from error
    return connection


async def run_command(
    connection: asyncssh.SSHClientConnection,
    command: str,
    timeout_s: float,
    *,
    host: str = "",
    check: bool = False,
) -> asyncssh.SSHCompletedProcess:
    """``command`` on ``connection`` with a deadline on the whole of it (channel
    open, run, output); past it, :class:`SshCommandTimeout` naming the command."""
    try:
        async with asyncio.timeout(timeout_s):
            return await connection.run(command, check=check)
    except TimeoutError:
        shown = command if len(command) <= 60 else command[:57] + "…"
        raise SshCommandTimeout(
            "command_timeout", host=host, command=shown, seconds=timeout_s
        ) from None


def describe_ssh_error(error: BaseException, host: str = "", seen_from: str = "") -> str:
    """Why an SSH connection or command on ``host`` failed, in one line; the host's
    name left out where ``seen_from`` is that host (its own row already says it)."""
    if isinstance(error, SshError):
        return error.describe(seen_from)
    name = type(error).__name__
    label = "" if host == seen_from else host
    if isinstance(error, TimeoutError):
        return message("timed_out", label)
    if isinstance(error, ConnectionRefusedError):
        return message("refused", label)
    if isinstance(error, OSError):
        return message("unreachable", label, detail=error.strerror or error)
    if name in ("ConnectionLost", "DisconnectError", "ChannelOpenError"):
        return message("lost", label, detail=error)
    return message("ssh_error", label, detail=f"{name}: {error}" if str(error) else name)
