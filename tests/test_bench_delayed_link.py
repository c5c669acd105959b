"""The fleet bench's network delay (bench/delayed_link.py): order kept, nothing early,
both directions, behind a real asyncssh server.

asyncssh opens a listener through any ``tunnel`` object's
``create_server(session_factory, host, port)`` (asyncssh/connection.py, ``_listen``,
the branch for a tunnel that is not a string); the end-to-end test runs a real exec
through it with the host key verified.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncssh

from bench.delayed_link import DelayingListener, DelayLine

DELAY_S = 0.02
# How early asyncio may run a timer (its loops use this clock's resolution).
RESOLUTION_S = time.get_clock_info("monotonic").resolution


async def test_items_go_in_order_data_runs_joined_and_none_before_its_due_time() -> None:
    loop = asyncio.get_running_loop()
    handed: list[tuple[str, object, float]] = []
    put_at: dict[object, float] = {}
    line = DelayLine(DELAY_S, lambda data: handed.append(("data", data, loop.time())))

    def put(item: bytes | str) -> None:
        put_at[item] = loop.time()
        if isinstance(item, bytes):
            line.put(item)
        else:
            line.put(lambda: handed.append(("step", item, loop.time())))

    put(b"a")
    put(b"b")
    put("eof")
    await asyncio.sleep(0)
    put(b"c")
    assert handed == []  # nothing before the delay
    # A timer due later than every item's: the loop runs theirs first.
    await asyncio.sleep(DELAY_S * 3)
    assert [(kind, what) for kind, what, _ in handed] == [
        ("data", b"ab"), ("step", "eof"), ("data", b"c"),
    ]
    for kind, what, at in handed:
        first = b"a" if what == b"ab" else what
        assert at >= put_at[first] + DELAY_S - RESOLUTION_S, (kind, what)


async def test_an_ssh_exec_through_the_delaying_listener(tmp_path: Path) -> None:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = tmp_path / "id_ed25519"
    client_key.write_private_key(client_key_path)

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return key.public_data == client_key.public_data

    async def answer(process: asyncssh.SSHServerProcess[str]) -> None:
        process.stdout.write(f"ran {process.command}\n")
        process.exit(3)

    acceptor = await asyncssh.create_server(
        Server, "127.0.0.1", 0, server_host_keys=[host_key], process_factory=answer,
        tunnel=DelayingListener(DELAY_S),
    )
    port = acceptor.get_port()
    known_hosts = tmp_path / "known_hosts"
    kind, blob = host_key.export_public_key().decode("ascii").split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {kind} {blob}\n", encoding="ascii")
    loop = asyncio.get_running_loop()
    try:
        async with asyncssh.connect(
            "127.0.0.1", port, username="deploy", known_hosts=str(known_hosts),
            client_keys=[str(client_key_path)],
        ) as connection:
            started = loop.time()
            result = await connection.run("uptime")
            took = loop.time() - started
    finally:
        acceptor.close()
        await acceptor.wait_closed()
    assert result.stdout == "ran uptime\n"
    assert result.exit_status == 3
    # Channel open, then exec: two round trips, each the delay there and back.
    assert took >= 4 * DELAY_S - 4 * RESOLUTION_S
