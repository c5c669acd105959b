"""kamal-proxy as a judged component.

Transcribed from upstream:

* basecamp/kamal ``lib/kamal/commands/proxy.rb`` (``info``: ``docker ps --filter
  'name=^kamal-proxy$'``), ``lib/kamal/configuration/proxy/boot.rb``
  (``container_name`` is ``kamal-proxy``), ``lib/kamal/cli/proxy.rb#details`` and
  ``lib/kamal/sshkit_with_ext.rb#puts_by_host`` (``Proxy Host: <host>`` and the
  output, then a blank line);
* basecamp/kamal-proxy ``internal/server/load_balancer.go`` (no healthy target:
  503), ``internal/server/target.go`` (a target's error: 502, its timeout: 504),
  ``internal/server/health_check.go`` (the app's ``/up``, 2xx is healthy).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

from rainbow_tui.config import parse_config
from rainbow_tui.findings import evaluate, exit_status
from rainbow_tui.levels import Level
from rainbow_tui.sources.health import HealthSnapshot
from rainbow_tui.sources.host_parsing import ContainerInfo
from rainbow_tui.sources.hosts import HostSnapshot
from rainbow_tui.sources.proxy import ProxyDetailsSource, parse_proxy_details
from rainbow_tui.sources.service_sources import Readings

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
COLUMNS = ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
PROXY_ROW = ("0c3d1a5b7e2f", "basecamp/kamal-proxy:v0.8.7", '"kamal-proxy run"', "12 days ago",
             "Up 12 days",
             "0.0.0.0:80->80/tcp, [::]:80->80/tcp, 0.0.0.0:443->443/tcp, [::]:443->443/tcp",
             "kamal-proxy")


def _table(*rows: tuple[str, ...]) -> list[str]:
    """docker ps's table: Go's tabwriter, each column as wide as its widest cell
    plus three spaces of padding."""
    widths = [max(len(row[i]) for row in (COLUMNS, *rows)) + 3 for i in range(len(COLUMNS))]
    return ["".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in (COLUMNS, *rows)]


HEADER, ROW = _table(PROXY_ROW)
# What `kamal proxy details` prints: SSHKit's INFO lines, then each host's table.
DETAILS = "\n".join([
    "  INFO [a1b2c3d4] Running docker ps --filter 'name=^kamal-proxy$' on 10.0.1.11",
    "  INFO [a1b2c3d4] Finished in 0.412 seconds with exit status 0 (successful).",
    "Proxy Host: 10.0.1.11",
    HEADER,
    ROW,
    "",
    "",
    "  INFO [e5f6a7b8] Running docker ps --filter 'name=^kamal-proxy$' on 10.0.1.12",
    "Proxy Host: 10.0.1.12",
    HEADER,
    "",
    "",
])
CONFIG = parse_config(
    '[service]\nkamal_service = "rainbow"\nhealth_url = "http://127.0.0.1/up"\n'
    '[[hosts]]\nname = "app-1"\naddress = "10.0.1.11"\nroles = ["web"]\n'
    '[[hosts]]\nname = "app-2"\naddress = "10.0.1.12"\nroles = ["web"]\n',
    "test.toml",
)


def _container(name: str, role: str | None = None) -> ContainerInfo:
    labels = {"service": "rainbow", "role": role, "destination": ""} if role else {}
    return ContainerInfo(
        id="f" * 64, image="basecamp/kamal-proxy:v0.8.7" if not role else "rainbow:abc",
        names=name, state="running", status="Up 12 days",
        labels=MappingProxyType({k: v for k, v in labels.items() if v is not None}),
        service="rainbow" if role else None, role=role, destination="" if role else None,
        version="abc" if role else None, restart_count=0,
    )


def test_details_as_kamal_prints_them() -> None:
    hosts = parse_proxy_details(DETAILS)
    assert [(h.host, h.running, h.status) for h in hosts] == [
        ("10.0.1.11", True, "Up 12 days"),
        ("10.0.1.12", False, ""),
    ]
    assert hosts[0].image == "basecamp/kamal-proxy:v0.8.7"


async def test_a_host_without_its_proxy_is_critical(tmp_path: Path) -> None:
    # The Kamal command is a real process printing Kamal's transcript.
    kamal = tmp_path / "kamal.py"
    kamal.write_text(f"import sys\nassert sys.argv[1:] == ['proxy', 'details']\n"
                     f"sys.stdout.write({DETAILS!r})\n")
    config = parse_config(
        '[service]\nkamal_service = "rainbow"\nhealth_url = "http://127.0.0.1/up"\n'
        f'[kamal]\ncommand = ["{sys.executable}", "{kamal}"]\nworkdir = "{tmp_path}"\n'
        '[[hosts]]\nname = "app-1"\naddress = "10.0.1.11"\nroles = ["web"]\n'
        '[[hosts]]\nname = "app-2"\naddress = "10.0.1.12"\nroles = ["web"]\n',
        "test.toml",
    )
    snapshot = await ProxyDetailsSource(config).poll()
    found = {f.key: f for f in evaluate(config, Readings(proxy=snapshot))}
    assert found["proxy:details:app-1"].level is Level.NORMAL
    assert found["proxy:details:app-1"].display == "Up 12 days"
    down = found["proxy:details:app-2"]
    assert down.level is Level.CRITICAL and down.severity == "critical"
    assert "10.0.1.12" in down.reason
    assert exit_status(list(found.values())) == 2


async def test_kamal_failing_is_said_not_judged(tmp_path: Path) -> None:
    kamal = tmp_path / "kamal.py"
    kamal.write_text("import sys\nprint('ERROR (SSHKit::Runner::ExecuteError): "
                     "Exception while executing on host 10.0.1.11: Net::SSH::AuthenticationFailed')\n"
                     "sys.exit(1)\n")
    config = parse_config(
        '[service]\nkamal_service = "rainbow"\nhealth_url = "http://127.0.0.1/up"\n'
        f'[kamal]\ncommand = ["{sys.executable}", "{kamal}"]\nworkdir = "{tmp_path}"\n'
        '[[hosts]]\nname = "app-1"\naddress = "10.0.1.11"\nroles = ["web"]\n',
        "test.toml",
    )
    snapshot = await ProxyDetailsSource(config).poll()
    details = next(f for f in evaluate(config, Readings(proxy=snapshot))
                   if f.key == "proxy:details")
    assert details.level is Level.UNKNOWN
    assert "exited 1" in details.reason and "AuthenticationFailed" in details.reason


def test_the_proxy_container_down_on_a_web_host_is_critical() -> None:
    running = HostSnapshot(NOW, "app-1", ("web",), memory_percent=40.0, cpu_percent=5.0,
                           containers=(_container("kamal-proxy"), _container("rainbow-web-abc",
                                                                             "web")))
    # docker ps lists running containers only: a stopped proxy is simply absent.
    stopped = HostSnapshot(NOW, "app-2", ("web",), memory_percent=40.0, cpu_percent=5.0,
                           containers=(_container("rainbow-web-abc", "web"),))
    found = {f.key: f for f in evaluate(CONFIG, Readings(hosts=(running, stopped)))}
    assert found["host app-1:container:kamal-proxy"].level is Level.NORMAL
    down = found["host app-2:container:kamal-proxy"]
    assert down.level is Level.CRITICAL and down.severity == "critical"
    assert down.display == "not running"


def test_what_the_proxy_answers_for_the_app() -> None:
    behind = HealthSnapshot(NOW, "https://api.example.com/up", status=503, error="HTTP 503")
    found = {f.key: f for f in evaluate(CONFIG, Readings(health=behind, hosts=()))}
    # The service's /up alerts; the proxy's finding says why, without a second alert.
    assert found["service:health"].level is Level.CRITICAL
    proxy = found["proxy:app_health"]
    assert proxy.level is Level.ELEVATED and proxy.severity is None
    assert "no healthy target" in proxy.reason
