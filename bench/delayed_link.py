"""A network delay inside a server's own process: every chunk read from a client
reaches the server's protocol ``delay`` later, every chunk it writes leaves ``delay``
later, in order, both directions.

For benches on one machine without ``netem``: a delaying proxy in front of the
servers costs a second loopback hop (a ``recv`` and a ``send`` per chunk each way,
and a process of its own) on the same CPU as the servers, which a real network
does not; here the delay costs a queue entry per chunk.  The TCP handshake itself
is not delayed (only an unmeasured connect sees it).

``DelayingListener`` is what asyncssh calls a tunnel: ``asyncssh.create_server(…,
tunnel=DelayingListener(0.025))`` has it open the listening socket, through
``create_server(session_factory, host, port)`` as on an SSH client connection
(asyncssh/connection.py, ``_listen``).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any

# What a delay line carries: data, or a step (EOF, close) to take after the data before it.
_Item = bytes | Callable[[], object]


class DelayLine:
    """Hands each item on ``delay`` after it was put, in order.

    One queue and at most one timer, set for the head's due time; when it fires,
    every item that is due goes: runs of data joined into one ``deliver``.  Due
    times follow the loop's monotonic clock, so order holds and nothing is early.
    """

    def __init__(self, delay: float, deliver: Callable[[bytes], object]) -> None:
        self.delay = delay
        self._deliver = deliver
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[tuple[float, _Item]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    def put(self, item: _Item) -> None:
        due = self._loop.time() + self.delay
        self._queue.append((due, item))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._hand_on)

    def cancel(self) -> None:
        """Drop what is still queued (the link is gone)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()

    def _hand_on(self) -> None:
        self._timer = None
        queue = self._queue
        # The timer was set for the head; the loop may run it up to its clock
        # resolution early, so the head goes regardless and the rest by the clock.
        now = self._loop.time()
        data: list[bytes] = []
        first = True
        while queue and (first or queue[0][0] <= now):
            first = False
            item = queue.popleft()[1]
            if isinstance(item, bytes):
                data.append(item)
                continue
            if data:
                self._deliver(b"".join(data))
                data = []
            item()
        if data:
            self._deliver(b"".join(data))
        if queue and self._timer is None:
            self._timer = self._loop.call_at(max(queue[0][0], now), self._hand_on)


class _DelayedTransport(asyncio.Transport):
    """The server protocol's side of the socket: writes, EOF and close go out late."""

    def __init__(self, transport: asyncio.Transport, delay: float) -> None:
        super().__init__()
        self._transport = transport
        self._out = DelayLine(delay, self._send)
        self._closing = False

    def _send(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if data and not self._closing:
            self._out.put(bytes(data))

    def write_eof(self) -> None:
        self._out.put(self._transport.write_eof)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._out.put(self._transport.close)

    def abort(self) -> None:
        self._closing = True
        self._out.cancel()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise NotImplementedError("a delayed link keeps its protocol")

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class _DelayedProtocol(asyncio.Protocol):
    """The socket's side: what the client sent reaches the server protocol late."""

    def __init__(self, inner: asyncio.Protocol, delay: float) -> None:
        self._inner = inner
        self._delay = delay
        self._in = DelayLine(delay, inner.data_received)
        self._transport: _DelayedTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = _DelayedTransport(transport, self._delay)
        self._inner.connection_made(self._transport)

    def data_received(self, data: bytes) -> None:
        self._in.put(data)

    def eof_received(self) -> bool:
        self._in.put(self._eof)
        return True  # the server protocol decides, once the EOF has reached it

    def _eof(self) -> None:
        if not self._inner.eof_received() and self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._in.put(lambda: self._inner.connection_lost(exc))

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class DelayingListener:
    """Listens where asyncssh asks, each accepted connection ``delay`` away each way."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def create_server(
        self, session_factory: Callable[[str, int], asyncio.Protocol], listen_host: str,
        listen_port: int,
    ) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: _DelayedProtocol(session_factory("", 0), self.delay),
            listen_host, listen_port,
        )
