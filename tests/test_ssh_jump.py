"""Kamal's ``ssh.proxy`` against the demo: every connection to a host goes through
the jump host, whose key is verified against known_hosts like the host's own.

The jump host is an asyncssh server of this test that allows direct-tcpip (what
``ssh -J`` asks of a jump host, and what Net::SSH::Proxy::Jump does for Kamal:
basecamp/kamal v2.12.0 lib/kamal/configuration/ssh.rb#proxy).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import msgspec
import pytest

from rainbow_tui.demo.profile import demo_config
from rainbow_tui.sources.service_sources import ServiceSources

JUMP_USER = "ops"


@dataclass
class JumpHost:
    port: int
    key: asyncssh.SSHKey
    forwarded: list[tuple[str, int]] = field(default_factory=list)


def _jump_server_class(jump: JumpHost, client_key: asyncssh.SSHKey) -> type[asyncssh.SSHServer]:
    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == JUMP_USER and key.public_data == client_key.public_data

        def connection_requested(self, dest_host: str, dest_port: int, orig_host: str,
                                 orig_port: int) -> bool:
            jump.forwarded.append((dest_host, dest_port))
            return True  # asyncssh forwards the channel to dest_host:dest_port

    return Server


@pytest.fixture
async def jump_host(demo_stack: object, tmp_path: Path) -> AsyncIterator[JumpHost]:
    endpoints = demo_stack.endpoints  # type: ignore[attr-defined]
    client_key = asyncssh.read_private_key(str(endpoints.client_key))
    key = asyncssh.generate_private_key("ssh-ed25519")
    jump = JumpHost(0, key)
    server = await asyncssh.create_server(
        _jump_server_class(jump, client_key), "127.0.0.1", 0, server_host_keys=[key],
    )
    jump.port = server.sockets[0].getsockname()[1]
    try:
        yield jump
    finally:
        server.close()
        await server.wait_closed()


def _known_hosts(tmp_path: Path, demo_known_hosts: Path, jump: JumpHost | None) -> Path:
    path = tmp_path / "known_hosts"
    lines = demo_known_hosts.read_text(encoding="ascii")
    if jump is not None:
        public = jump.key.export_public_key().decode("ascii").split()
        lines += f"[127.0.0.1]:{jump.port} {public[0]} {public[1]}\n"
    path.write_text(lines, encoding="ascii")
    return path


async def test_every_host_is_reached_through_the_jump_host(
    demo_stack: object, jump_host: JumpHost, tmp_path: Path
) -> None:
    endpoints = demo_stack.endpoints  # type: ignore[attr-defined]
    config = demo_config(endpoints)
    jumped = tuple(
        msgspec.structs.replace(host, jump_host=f"{JUMP_USER}@127.0.0.1:{jump_host.port}")
        for host in config.hosts
    )
    known = _known_hosts(tmp_path, endpoints.known_hosts, jump_host)
    config = msgspec.structs.replace(
        config, hosts=jumped, ssh=msgspec.structs.replace(config.ssh, known_hosts=str(known))
    )
    sources = ServiceSources(config)
    try:
        snapshots = await sources.hosts.poll()
    finally:
        await sources.close()
    assert [(s.name, s.error) for s in snapshots] == [(h.name, None) for h in config.hosts]
    assert all(s.memory_percent is not None for s in snapshots)
    ports = {host.port for host in config.hosts}
    assert {port for _, port in jump_host.forwarded} == ports


async def test_a_jump_host_with_an_unknown_key_is_refused(
    demo_stack: object, jump_host: JumpHost, tmp_path: Path
) -> None:
    endpoints = demo_stack.endpoints  # type: ignore[attr-defined]
    config = demo_config(endpoints)
    host = config.hosts[0]
    jumped = msgspec.structs.replace(host, jump_host=f"{JUMP_USER}@127.0.0.1:{jump_host.port}")
    known = _known_hosts(tmp_path, endpoints.known_hosts, None)  # the jump host's key absent
    config = msgspec.structs.replace(
        config, hosts=(jumped,), ssh=msgspec.structs.replace(config.ssh, known_hosts=str(known))
    )
    sources = ServiceSources(config)
    try:
        (snapshot,) = await sources.hosts.poll()
    finally:
        await sources.close()
    # The jump host is named (the host's own row names only the host), with its key.
    assert snapshot.error == (
        f"jump host {JUMP_USER}@127.0.0.1:{jump_host.port}: unknown host key "
        f"{jump_host.key.get_fingerprint()}: [127.0.0.1]:{jump_host.port} is not in "
        f"known_hosts file {known} (check the fingerprint, then add it)"
    )
    assert jump_host.forwarded == []


def test_demo_hosts_come_from_its_deploy_yml(demo_stack: object) -> None:
    """The demo profile has no [[hosts]]: its checkout's deploy.yml and ssh config."""
    endpoints = demo_stack.endpoints  # type: ignore[attr-defined]
    config = demo_config(endpoints)
    assert (endpoints.state_dir / "config" / "deploy.yml").is_file()
    assert [(h.name, h.address, h.port, h.roles, h.accessories) for h in config.hosts] == [
        (h.name, h.address, h.port, tuple(sorted(r for r in h.roles if r != "db")),
         ("db",) if "db" in h.roles else ())
        for h in endpoints.hosts
    ]
    assert config.database.host == "db-1"
    assert [a.container for a in config.kamal.accessories] == [f"{endpoints.service}-db"]



async def test_every_host_is_reached_through_a_proxy_command(
    demo_stack: object, jump_host: JumpHost, tmp_path: Path
) -> None:
    """Kamal's ``ssh.proxy_command`` (Net::SSH::Proxy::Command, as
    lib/kamal/configuration/ssh.rb#proxy makes it): here the usual one, the real
    OpenSSH client's ``ssh -W %h:%p`` through the jump host."""
    endpoints = demo_stack.endpoints  # type: ignore[attr-defined]
    known = _known_hosts(tmp_path, endpoints.known_hosts, jump_host)
    command = (
        f"ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes "
        f"-i {endpoints.client_key} -p {jump_host.port} -W %h:%p {JUMP_USER}@127.0.0.1"
    )
    config = demo_config(endpoints)
    config = msgspec.structs.replace(
        config,
        hosts=tuple(msgspec.structs.replace(h, proxy_command=command) for h in config.hosts),
        ssh=msgspec.structs.replace(config.ssh, known_hosts=str(known)),
    )
    sources = ServiceSources(config)
    try:
        snapshots = await sources.hosts.poll()
    finally:
        await sources.close()
    assert [(s.name, s.error) for s in snapshots] == [(h.name, None) for h in config.hosts]
    assert {port for _, port in jump_host.forwarded} == {host.port for host in config.hosts}


def test_proxy_command_read_from_deploy_yml_as_net_ssh_fills_it(tmp_path: Path) -> None:
    """net-ssh lib/net/ssh/proxy/command.rb#open: %h, %p, %r and %%, nothing else;
    ssh.rb#proxy: a jump host (ssh.proxy) wins when both are given."""
    from rainbow_tui.config import ConfigError
    from rainbow_tui.kamal_config import read_kamal_config
    from rainbow_tui.ssh_proxy_command import expand_proxy_command

    (tmp_path / "config").mkdir()
    deploy = tmp_path / "config" / "deploy.yml"
    base = "service: app\nimage: dhh/app\nservers:\n  - 10.0.0.11\nssh:\n  user: app\n"
    deploy.write_text(base + '  proxy_command: "nc -X 5 -x socks:1080 %h %p # %r 100%%"\n',
                      encoding="utf-8")
    kamal = read_kamal_config(tmp_path)
    assert kamal.ssh.proxy_command == "nc -X 5 -x socks:1080 %h %p # %r 100%%"
    assert expand_proxy_command(kamal.ssh.proxy_command, "10.0.0.11", 22, "app") == [
        "/bin/sh", "-c", "nc -X 5 -x socks:1080 10.0.0.11 22 # app 100%"
    ]
    # A value that is not a plain word stays one word for the shell.
    assert expand_proxy_command("nc %h %p", "a b;rm", 22, "u")[2] == "nc 'a b;rm' 22"
    deploy.write_text(base + '  proxy_command: "nc %h %q"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        read_kamal_config(tmp_path)
    assert raised.value.key == "ssh.proxy_command" and "%q" in raised.value.problem
    deploy.write_text(base + '  proxy: bastion\n  proxy_command: "nc %h %p"\n', encoding="utf-8")
    both = read_kamal_config(tmp_path).ssh
    assert both.proxy is not None and both.proxy_command == ""
