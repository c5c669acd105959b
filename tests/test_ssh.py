"""rainbow_tui.ssh against real servers on 127.0.0.1: each way a connection can fail
is told in its own words, a changed host key loudest of all, and every deadline holds
against a server that never answers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from rainbow_tui.ssh import (
    SshCommandTimeout,
    SshConnectError,
    connect,
    describe_ssh_error,
    run_command,
)
from tests.ssh_servers import ShellServer, known_hosts_line, shell_server, write_script


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ShellServer]:
    async with shell_server(tmp_path) as running:
        yield running


async def _failure(target: object, deadline_s: float | None = None) -> SshConnectError:
    with pytest.raises(SshConnectError) as caught:
        connection = await connect(target, deadline_s=deadline_s)  # type: ignore[arg-type]
        connection.close()
    return caught.value


async def test_a_known_host_connects_and_runs_a_command(server: ShellServer) -> None:
    connection = await connect(server.target())
    try:
        result = await run_command(connection, "echo hello", 10, host="app-1")
    finally:
        connection.close()
    assert (result.exit_status, result.stdout) == (0, "hello\n")


async def test_unknown_host_key_names_the_offered_fingerprint(
    server: ShellServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("# nothing known yet\n")
    error = await _failure(server.target(known_hosts=str(empty)))
    offered = server.host_key.get_fingerprint()
    assert error.code == "unknown_key"
    assert str(error).startswith("app-1: unknown host key " + offered)
    assert f"[127.0.0.1]:{server.port}" in str(error)
    assert "CHANGED" not in str(error)
    assert server.commands == []


async def test_changed_host_key_is_a_loud_warning_with_both_fingerprints(
    server: ShellServer, tmp_path: Path
) -> None:
    old_key = asyncssh.generate_private_key("ssh-ed25519")
    stale = tmp_path / "stale_known_hosts"
    stale.write_text(known_hosts_line(server.port, old_key))
    error = await _failure(server.target(known_hosts=str(stale)))
    text = describe_ssh_error(error)
    assert error.code == "changed_key"
    assert text.startswith("WARNING: HOST KEY CHANGED for app-1")
    assert old_key.get_fingerprint() in text  # what known_hosts holds
    assert server.host_key.get_fingerprint() in text  # what the server offered
    assert old_key.get_fingerprint() != server.host_key.get_fingerprint()
    assert "\n" not in text
    assert server.commands == []


async def test_a_missing_known_hosts_file_is_named(
    server: ShellServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    missing = tmp_path / ".ssh" / "known_hosts"
    error = await _failure(server.target(known_hosts=str(missing)))
    assert str(error) == "known_hosts file ~/.ssh/known_hosts does not exist"


async def test_a_key_the_server_refuses_is_an_auth_failure(
    server: ShellServer, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger_key"
    stranger.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    stranger.chmod(0o600)
    error = await _failure(server.target(client_keys=(str(stranger),)))
    assert str(error) == "app-1: permission denied (SSH key not accepted for user deploy)"


async def test_a_closed_port_is_refused(tmp_path: Path, server: ShellServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    error = await _failure(server.target(port=closed_port))
    assert str(error) == "app-1: connection refused"


async def test_the_connect_deadline_holds_against_a_server_that_never_speaks(
    server: ShellServer,
) -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # says nothing, until the client gives up
        writer.close()

    mute = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = mute.sockets[0].getsockname()[1]
    try:
        error = await _failure(server.target(port=port), deadline_s=0.5)
    finally:
        mute.close()
    assert accepted.is_set()  # TCP was up: the handshake is what never came
    assert error.code == "connect_timeout"
    assert str(error) == (
        "app-1: connection timed out after 0.5 s (TCP, SSH handshake and login)"
    )


async def test_a_placeholder_address_is_not_dialled(server: ShellServer) -> None:
    error = await _failure(server.target(address="FILL-IN.example"))
    assert error.code == "placeholder"
    assert "not filled in" in str(error)


async def test_a_remote_command_past_its_deadline_names_it(server: ShellServer) -> None:
    write_script(server.bin_dir / "hang", "#!/bin/sh\nexec sleep 600\n")
    connection = await connect(server.target())
    try:
        with pytest.raises(SshCommandTimeout) as caught:
            await run_command(connection, "hang forever", 0.5, host="app-1")
    finally:
        connection.close()
    assert str(caught.value) == "app-1: 'hang forever' did not finish within 0.5 s"
    assert isinstance(caught.value, TimeoutError)
