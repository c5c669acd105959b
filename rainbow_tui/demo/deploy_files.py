"""The demo checkout's Kamal configuration: ``config/deploy.yml``, a ``staging``
destination on the same servers, and the OpenSSH config that names the hosts.

The stand-in hosts all listen on 127.0.0.1, a port each, while Kamal has one
``ssh.port`` for every host.  So deploy.yml names the hosts (app-1, app-2, db-1) and
``ssh.config`` points at ``ssh/config``, where each name has its ``HostName`` and
``Port``, as an operator's ``~/.ssh/config`` would.  The console reads these files
like any app's (rainbow_tui/kamal_config.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rainbow_tui.demo.endpoints import DemoHost

SSH_CONFIG = Path("ssh") / "config"
STAGING = "staging"


def _deploy_yml(service: str, hosts: Sequence[DemoHost], ssh_user: str) -> str:
    def with_role(role: str) -> list[str]:
        return [host.name for host in hosts if role in host.roles]

    def listed(names: list[str], indent: str) -> str:
        return "".join(f"{indent}- {name}\n" for name in names)

    db = with_role("db")
    db_lines = (
        "accessories:\n"
        "  db:\n"
        "    image: postgis/postgis:16-3.4\n"
        f"    host: {db[0]}\n"
        "    port: \"127.0.0.1:5432:5432\"\n"
        "    env:\n"
        "      secret:\n"
        "        - POSTGRES_PASSWORD\n"
        "    directories:\n"
        "      - data:/var/lib/postgresql/data\n"
    ) if db else ""
    return (
        "# Kamal 2 configuration of the demo (written at stack start).\n"
        f"service: {service}\n"
        f"image: shiojiri/{service}\n"
        "\n"
        "servers:\n"
        "  web:\n"
        f"{listed(with_role('web'), '    ')}"
        "  job:\n"
        "    hosts:\n"
        f"{listed(with_role('job'), '      ')}"
        "    cmd: bin/jobs\n"
        "\n"
        "proxy:\n"
        "  ssl: true\n"
        "  host: api.shiojiri-rainbow.app\n"
        "  healthcheck:\n"
        "    path: /up\n"
        "\n"
        "registry:\n"
        "  username: shiojiri\n"
        "  password:\n"
        "    - KAMAL_REGISTRY_PASSWORD\n"
        "\n"
        "env:\n"
        "  secret:\n"
        "    - RAILS_MASTER_KEY\n"
        "\n"
        "ssh:\n"
        f"  user: {ssh_user}\n"
        f"  config: {SSH_CONFIG}\n"
        "\n"
        "builder:\n"
        "  arch: amd64\n"
        "\n"
        f"{db_lines}"
    )


def _staging_yml() -> str:
    # Same servers and accessories: only the containers' destination differs.
    return (
        "# kamal deploy -d staging: the same servers, containers labelled destination=staging.\n"
        "env:\n"
        "  clear:\n"
        "    RAILS_ENV: staging\n"
    )


def _ssh_config(hosts: Sequence[DemoHost]) -> str:
    return "".join(
        f"Host {host.name}\n  HostName {host.address}\n  Port {host.port}\n\n" for host in hosts
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)


def write_deploy_files(
    checkout: Path, service: str, hosts: Sequence[DemoHost], ssh_user: str
) -> None:
    """config/deploy.yml, config/deploy.staging.yml and ssh/config in ``checkout``."""
    _write(checkout / "config" / "deploy.yml", _deploy_yml(service, hosts, ssh_user))
    _write(checkout / "config" / f"deploy.{STAGING}.yml", _staging_yml())
    _write(checkout / SSH_CONFIG, _ssh_config(hosts))
