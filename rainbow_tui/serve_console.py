"""``rainbow-tui serve``'s Textual side: one whole console per SSH responder.

:class:`ChannelDriver` is a Textual driver whose terminal is a responder's SSH
channel (:class:`~rainbow_tui.serve.server.ResponderTerminal`) rather than this
process's stdin and stdout: it writes the app's output to the channel, feeds the
bytes the responder types to Textual's xterm parser, and turns the client's
window-change requests into resizes.  :class:`ConsoleServer` runs every responder's
app on the one event loop and the one :class:`~rainbow_tui.session.Session` (one
monitor, one log tail, one incident store), each app recording as its responder.
"""

from __future__ import annotations

import asyncio
import sys
from codecs import getincrementaldecoder
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from weakref import WeakKeyDictionary

from textual import constants, events
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.geometry import Size
from textual.screen import Screen

from rainbow_tui.app import RainbowApp, make_app
from rainbow_tui.config import Config
from rainbow_tui.incidents.model import record_as
from rainbow_tui.session import Session
from rainbow_tui.text import N_, tr, trn

if TYPE_CHECKING:
    import asyncssh
    from textual.app import App

    from rainbow_tui.serve.responders import ResponderKeys
    from rainbow_tui.serve.server import ResponderTerminal

# The terminal modes a console wants, each set on start and undone on leaving, in
# the order a terminal expects them undone (the reverse).
_MODES: tuple[tuple[str, str], ...] = (
    ("\x1b[?1049h", "\x1b[?1049l"),  # the alternate screen: the shell's screen comes back
    ("\x1b[?25l", "\x1b[?25h"),  # no cursor
    ("\x1b[?1000h\x1b[?1003h\x1b[?1015h\x1b[?1006h",  # the mouse, SGR coordinates
     "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"),
    ("\x1b[?1004h", "\x1b[?1004l"),  # focus in and out
    ("\x1b[?2004h", "\x1b[?2004l"),  # bracketed paste
    ("\x1b[?7l", "\x1b[?7h"),  # no line wrap: the last column is drawn, not wrapped
)
# Asks whether the terminal has synchronised output (tmux, most terminals do):
# Textual then sends each frame whole.
_ASK_SYNC_OUTPUT = "\x1b[?2026$p"


class ChannelDriver(Driver):
    """Textual's screen on one responder's SSH channel."""

    # The terminal each app is to be drawn on, until its driver is made (Textual
    # makes the driver itself, from the class, when the app starts).
    _waiting: ClassVar[WeakKeyDictionary[App[Any], ResponderTerminal]] = WeakKeyDictionary()

    @classmethod
    def draw(cls, app: App[Any], terminal: ResponderTerminal) -> None:
        """``app``, once run, is drawn on ``terminal`` (its driver class is this)."""
        cls._waiting[app] = terminal

    def __init__(self, app: App[Any], *, debug: bool = False, mouse: bool = True,
                 size: tuple[int, int] | None = None) -> None:
        super().__init__(app, debug=debug, mouse=mouse, size=size)
        self._terminal = self._waiting.pop(app)
        # Debug would make the parser log every key to ./keys.log.
        self._parser = XTermParser(debug=False)
        self._decode = getincrementaldecoder("utf-8")(errors="replace").decode
        self._escape_timer: asyncio.TimerHandle | None = None
        self._modes = _MODES if mouse else tuple(m for m in _MODES if "1000h" not in m[0])

    def write(self, data: str) -> None:
        self._terminal.write(data)

    def start_application_mode(self) -> None:
        self.write("".join(start for start, _stop in self._modes))
        self.write(_ASK_SYNC_OUTPUT)
        width, height = self._size or self._terminal.size
        self._resized(width, height)
        self._terminal.listen(self._typed, self._resized, self._hung_up)

    def disable_input(self) -> None:
        self._terminal.stop_listening()
        if self._escape_timer is not None:
            self._escape_timer.cancel()
            self._escape_timer = None

    def stop_application_mode(self) -> None:
        self.disable_input()
        self.write("".join(stop for _start, stop in reversed(self._modes)))

    # -- from the responder --------------------------------------------------------------

    def _typed(self, data: bytes) -> None:
        for message in self._parser.feed(self._decode(data)):
            self.process_message(message)
        # A lone Esc is a key only once no sequence follows it within the delay.
        if self._escape_timer is not None:
            self._escape_timer.cancel()
        self._escape_timer = self._loop.call_later(constants.ESCAPE_DELAY + 0.01,
                                                   self._escape_waited)

    def _escape_waited(self) -> None:
        self._escape_timer = None
        for message in self._parser.tick():
            self.process_message(message)

    def _resized(self, width: int, height: int) -> None:
        size = Size(width, height)
        self.send_message(events.Resize(size, size))

    def _hung_up(self) -> None:
        # The responder closed ssh or the link died: this console ends, no other.
        self._app.exit()


def incident_in_front(app: App[Any]) -> str | None:
    """The incident whose screen is in front (under any dialog over it), else None."""
    from screens.incident import IncidentScreen

    for screen in reversed(app.screen_stack):
        if screen.is_modal:
            continue
        return screen.incident_id if isinstance(screen, IncidentScreen) else None
    return None


class ConsoleServer:
    """Every responder's console on one session, on this event loop."""

    def __init__(self, session: Session, *, mouse: bool = True) -> None:
        self.session = session
        self.mouse = mouse
        self.apps: set[RainbowApp] = set()
        self._running: set[asyncio.Task[Any]] = set()

    async def open_console(self, terminal: ResponderTerminal) -> int:
        """The responder's console on their terminal, until they leave; returns its
        exit status.  Runs in a task of its own (one per channel): what the console
        records is the responder's."""
        responder = terminal.responder
        record_as(responder.name)
        session = self.session
        app = make_app(session.config, read_only=responder.read_only, session=session,
                       driver_class=ChannelDriver)
        ChannelDriver.draw(app, terminal)
        presence = session.presence
        # Back where they were when they dropped off: the same incident, if still held.
        returning_to = presence.last_place(responder.name)
        view = presence.join(responder.name, responder.role)

        def screen_changed(_screen: Screen[Any]) -> None:
            presence.look_at(view, incident_in_front(app))

        def mounted() -> None:
            app.screen_change_signal.subscribe(app, screen_changed)
            if returning_to is not None and returning_to in session.incident_ids:
                app.show_incident(returning_to)
            screen_changed(app.screen)

        self.apps.add(app)
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            app.call_later(mounted)
            await app.run_async(size=terminal.size, mouse=self.mouse)
        finally:
            self.apps.discard(app)
            if task is not None:
                self._running.discard(task)
            presence.leave(view)
        return app.return_code or 0

    async def close_consoles(self) -> None:
        """Ask every console to leave, and wait until each has."""
        for app in tuple(self.apps):
            app.exit()
        await asyncio.gather(*self._running, return_exceptions=True)


def tell(text: str) -> None:
    """A line for whoever started the server: on its own stderr, never on a
    responder's screen (each app redirects ``sys.stderr`` while it runs)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"{text}\n")
        stream.flush()


async def serve(
    session: Session,
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    keys: ResponderKeys,
    *,
    ready: Callable[[int], None],
    stop: asyncio.Event,
) -> int:
    """Serve the consoles until ``stop`` is set; ``ready`` gets the port listened on."""
    from rainbow_tui.serve.server import start_server

    # Started here, in the server's own context: what it records by itself (the
    # ladder's rungs, the notifications) is the console's, not a responder's.
    session.start()
    consoles = ConsoleServer(session)
    acceptor = await start_server(host, port, host_key, keys, consoles.open_console, tell)
    try:
        ready(acceptor.get_port())
        await stop.wait()
    finally:
        acceptor.close()
        await consoles.close_consoles()
        await acceptor.wait_closed()
        await session.close()
    return 0


def serve_from_command_line(config: Config, listen: str | None, authorized_keys: Path | None,
                            host_key_path: Path | None) -> int:
    """``rainbow-tui serve``: the keys and host key read, the fingerprint told, then the
    consoles served until SIGINT or SIGTERM.  2 when something given cannot be used."""
    import signal

    from rainbow_tui.config import expand_path
    from rainbow_tui.serve.host_key import HOST_KEY_NAME, fingerprint, load_or_create_host_key
    from rainbow_tui.serve.responders import ResponderKeysError, load_responder_keys
    from rainbow_tui.serve.server import parse_listen

    settings = config.serve
    keys_file = authorized_keys or (
        expand_path(settings.authorized_keys) if settings.authorized_keys else None
    )
    if keys_file is None:
        tell(tr("serve.no_keys_file"))
        return 2
    try:
        host, port = parse_listen(listen or settings.listen)
        keys = load_responder_keys(keys_file, settings.responders)
    except (ValueError, ResponderKeysError) as error:
        tell(str(error))
        return 2
    key_path = host_key_path or (
        expand_path(settings.host_key) if settings.host_key
        else expand_path(config.incidents.state_dir).parent / HOST_KEY_NAME
    )
    try:
        host_key, made = load_or_create_host_key(key_path)
    except (OSError, ValueError) as error:
        tell(tr("serve.host_key_unusable", path=key_path, error=error))
        return 2
    tell(tr(N_("serve.host_key_made") if made else N_("serve.host_key"), path=key_path,
            fingerprint=fingerprint(host_key)))
    names = ", ".join(f"{r.name} ({r.role})" for r in keys.responders)
    tell(trn("serve.responders", len(keys.responders), names=names))

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        session = Session(config)

        def ready(bound: int) -> None:
            tell(tr("serve.listening", host=host, port=bound))

        return await serve(session, host, port, host_key, keys, ready=ready, stop=stop)

    return asyncio.run(run())
