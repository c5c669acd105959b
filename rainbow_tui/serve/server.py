"""The SSH server: a responder's key in, a console on their terminal out.

A connection is let in only with a key of the authorized keys file (no passwords,
no keyboard-interactive); each session channel that asks for a PTY and a shell
becomes a :class:`ResponderTerminal` and is handed to the view opener, which runs a
whole console on it until the responder leaves.  Commands (``ssh host cmd``),
subsystems, forwarding and agents are refused: this server offers the console only.

Bytes both ways (``encoding=None``): the view decodes keys itself, so a multi-byte
character split between two packets is not a decoding error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncssh

from rainbow_tui.serve.responders import Responder, ResponderKeys
from rainbow_tui.text import tr

log = logging.getLogger(__name__)

# What a responder's terminal is when the client gives no size (ssh always does).
DEFAULT_SIZE = (80, 24)
# A connection that has not logged in by then is dropped.
LOGIN_TIMEOUT_S = 30.0
# Dead links found within a minute or so: the console of a closed laptop ends.
KEEPALIVE_S = 15.0

InputListener = Callable[[bytes], None]
ResizeListener = Callable[[int, int], None]
HangupListener = Callable[[], None]


class ResponderTerminal(asyncssh.SSHServerSession[bytes]):
    """One responder's terminal: its size, what they type, and the screen to write.

    The view calls :meth:`listen` once it can take input; until then (and after
    :meth:`stop_listening`) keys are dropped, as a terminal would before the program
    reads them.
    """

    def __init__(self, responder: Responder, address: str,
                 open_view: Callable[[ResponderTerminal], Awaitable[int]]) -> None:
        self.responder = responder
        self.address = address
        self._open_view = open_view
        self._channel: asyncssh.SSHServerChannel[bytes] | None = None
        self.size = DEFAULT_SIZE
        self.term_type = ""
        self._has_pty = False
        self._on_input: InputListener | None = None
        self._on_resize: ResizeListener | None = None
        self._on_hangup: HangupListener | None = None
        self._hung_up = False
        self.view: asyncio.Task[None] | None = None

    # -- asyncssh's side -------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._channel = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int],
                      term_modes: Any) -> bool:
        width, height = term_size[0], term_size[1]
        if width > 0 and height > 0:
            self.size = (width, height)
        self.term_type = term_type
        self._has_pty = True
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        channel = self._channel
        assert channel is not None
        if not self._has_pty:
            channel.write((tr("serve.needs_terminal") + "\r\n").encode())
            channel.exit(1)
            return
        self.view = asyncio.get_running_loop().create_task(
            self._run_view(channel), name=f"console of {self.responder.name}"
        )

    async def _run_view(self, channel: asyncssh.SSHServerChannel[bytes]) -> None:
        code = 1
        try:
            code = await self._open_view(self)
        except Exception:
            log.exception("the console of %s failed", self.responder.name)
        finally:
            if not self._hung_up:
                channel.exit(code)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._on_input is not None:
            self._on_input(data)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int,
                              pixheight: int) -> None:
        if width <= 0 or height <= 0:
            return
        self.size = (width, height)
        if self._on_resize is not None:
            self._on_resize(width, height)

    def eof_received(self) -> bool:
        self._hang_up()
        return False

    def break_received(self, msec: int) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._hang_up()

    def _hang_up(self) -> None:
        if self._hung_up:
            return
        self._hung_up = True
        if self._on_hangup is not None:
            self._on_hangup()

    # -- the view's side ---------------------------------------------------------------

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def listen(self, on_input: InputListener, on_resize: ResizeListener,
               on_hangup: HangupListener) -> None:
        self._on_input, self._on_resize, self._on_hangup = on_input, on_resize, on_hangup
        if self._hung_up:
            on_hangup()  # gone before the view was ready for it

    def stop_listening(self) -> None:
        self._on_input = self._on_resize = self._on_hangup = None

    def write(self, text: str) -> None:
        if self._channel is not None and not self._hung_up:
            self._channel.write(text.encode("utf-8", "replace"))

    def close(self) -> None:
        """Hang up on the responder (the server is stopping)."""
        if self._channel is not None:
            self._channel.close()


class _ResponderConnection(asyncssh.SSHServer):
    """One client connection: which responder's key, then their sessions."""

    def __init__(self, keys: ResponderKeys,
                 open_view: Callable[[ResponderTerminal], Awaitable[int]],
                 report: Callable[[str], None]) -> None:
        self._keys = keys
        self._open_view = open_view
        self._report = report
        self._address = ""
        self._host = ""
        self.responder: Responder | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self._address = str(peer[0]) if peer else ""
        self._host = self._address

    def begin_auth(self, username: str) -> bool:
        return True  # always ask for a key: nobody is let in without one

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        responder = self._keys.identify(key, self._host, self._address)
        if responder is None:
            self._report(tr("serve.refused", fingerprint=key.get_fingerprint(),
                            address=self._address))
            return False
        self.responder = responder
        return True

    def auth_completed(self) -> None:
        if self.responder is not None:
            self._report(tr("serve.logged_in", name=self.responder.name,
                            role=self.responder.role, address=self._address))

    def session_requested(self) -> ResponderTerminal | bool:
        if self.responder is None:
            return False
        return ResponderTerminal(self.responder, self._address, self._open_view)


async def start_server(
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    keys: ResponderKeys,
    open_view: Callable[[ResponderTerminal], Awaitable[int]],
    report: Callable[[str], None],
) -> asyncssh.SSHAcceptor:
    """Listen on ``host:port``; each responder's terminal goes to ``open_view``."""
    return await asyncssh.create_server(
        lambda: _ResponderConnection(keys, open_view, report),
        host,
        port,
        server_host_keys=[host_key],
        encoding=None,
        line_editor=False,
        login_timeout=LOGIN_TIMEOUT_S,
        keepalive_interval=KEEPALIVE_S,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
    )


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:2222`` for IPv6; port 0: any free one) → host and port;
    ValueError with the words to show otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(tr("serve.listen_invalid", value=text))
    return host, int(port)
