"""The monthly access-log audit (セキュリティ 2. アクセスログ監査): failed
authentication by client and path, the busiest clients, and suspicious clients,
from the request lines as Rails and kamal-proxy write them.

The line shapes follow the upstream writers: Rails' ``Started GET "/x" for
1.2.3.4 at …`` (railties lib/rails/rack/logger.rb) and ``Completed 401
Unauthorized in 3ms`` (actionpack lib/action_controller/log_subscriber.rb), and
kamal-proxy's request line (basecamp/kamal-proxy
internal/server/logging_middleware.go: ``client_addr`` / ``remote_addr``, or
``client.ip`` in its ECS form).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from rainbow_tui.config import AccessAuditConfig, Config, HostConfig, ServiceConfig, SshConfig
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.loggen import SCANNER_PATHS, Scanner
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.logs.access_audit import AccessTally, client_of_proxy_line, client_of_started
from rainbow_tui.logs.parse import parse_lines
from rainbow_tui.sources.service_sources import ServiceSources
from rainbow_tui.text import set_language
from rainbow_tui.upkeep.access_audit import judge_audit, read_access_window
from rainbow_tui.upkeep.catalog import load_routines
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.record import RoutineRecords
from rainbow_tui.upkeep.run import RoutineRun

STAMP = "2026-03-02T10:15:30.123456789Z"
RULES = AccessAuditConfig(failed_auth_per_client=5, probes_per_client=3, not_found_per_client=8,
                          top=3)


def _rails_request(request_id: str, client: str, method: str, path: str, status: int,
                   text: str) -> list[str]:
    return [
        f'{STAMP} [{request_id}] Started {method} "{path}" for {client} at 2026-03-02 19:15:30 '
        "+0900",
        f"{STAMP} [{request_id}] Processing by Api::V1::SessionsController#create as JSON",
        f"{STAMP} [{request_id}] Completed {status} {text} in 3ms (ActiveRecord: 0.4ms)",
    ]


def _tally(texts: list[str], count_from: str = "rails") -> AccessTally:
    tally = AccessTally(RULES, count_from)  # type: ignore[arg-type]
    tally.take(parse_lines(texts, "app-1", "web" if count_from == "rails" else "proxy"))
    return tally


def test_failed_authentication_is_counted_by_client_and_path() -> None:
    texts: list[str] = []
    for n in range(6):
        texts += _rails_request(f"bad-{n}", "198.18.0.7", "POST", "/api/v1/session?x=1", 401,
                                "Unauthorized")
    texts += _rails_request("ok-1", "203.0.113.9", "GET", "/api/v1/rainbows", 200, "OK")
    texts += _rails_request("forbidden", "203.0.113.9", "GET", "/api/v1/admin", 403, "Forbidden")
    # Started lines of two requests interleave (Puma's threads): paired by request id.
    texts += [
        f'{STAMP} [a] Started GET "/api/v1/me" for 203.0.113.20 at 2026-03-02 19:15:30 +0900',
        f'{STAMP} [b] Started GET "/api/v1/rainbows" for 203.0.113.21 at 2026-03-02 19:15:30 +0900',
        f"{STAMP} [b] Completed 200 OK in 20ms",
        f"{STAMP} [a] Completed 401 Unauthorized in 2ms",
    ]
    report = _tally(texts).report()
    assert report.requests == 10 and report.failed_auth == 8
    rows = {(row.client, row.status, row.method, row.path): row.count
            for row in report.failed_by_client}
    assert rows[("198.18.0.7", 401, "POST", "/api/v1/session")] == 6
    assert rows[("203.0.113.9", 403, "GET", "/api/v1/admin")] == 1
    assert rows[("203.0.113.20", 401, "GET", "/api/v1/me")] == 1
    assert ("203.0.113.21", 401, "GET", "/api/v1/rainbows") not in rows
    [suspect] = report.suspects
    assert (suspect.client, suspect.reason, suspect.count) == ("198.18.0.7", "failed_auth", 6)
    assert report.top_clients[0].client == "198.18.0.7"


def test_probes_and_404_bursts_are_suspicious_and_ordinary_traffic_is_not() -> None:
    texts: list[str] = []
    for n, path in enumerate(("/wp-login.php", "/.env", "/phpMyAdmin/index.php")):
        texts += _rails_request(f"p{n}", "198.18.0.66", "GET", path, 404, "Not Found")
    for n in range(8):
        texts += _rails_request(f"nf{n}", "198.18.0.80", "GET", f"/x{n}", 404, "Not Found")
    for n in range(4):  # an app's own 401s, spread over clients: nothing suspicious
        texts += _rails_request(f"ok{n}", f"203.0.113.{n}", "GET", "/api/v1/me", 401,
                                "Unauthorized")
    report = _tally(texts).report()
    by_client = {(s.client, s.reason): s for s in report.suspects}
    assert set(by_client) == {("198.18.0.66", "probes"), ("198.18.0.80", "not_found")}
    assert "/wp-login.php" in by_client[("198.18.0.66", "probes")].paths
    assert report.probes == 3 and report.not_found == 11
    quiet = _tally([line for n in range(4) for line in _rails_request(
        f"q{n}", f"203.0.113.{n}", "GET", "/api/v1/me", 401, "Unauthorized")]).report()
    assert quiet.suspects == () and quiet.failed_auth == 4


def test_proxy_lines_name_their_client_in_either_form() -> None:
    ecs = json.dumps({"log.level": "info", "message": "Request", "http": {
        "request": {"id": "r1", "method": "POST"}, "response": {"status_code": 401}},
        "url": {"path": "/api/v1/session"}, "client": {"ip": "198.18.0.9", "port": 4000}})
    flat = json.dumps({"level": "INFO", "msg": "Request", "path": "/.env", "status": 404,
                       "method": "GET", "client_addr": "198.18.0.10",
                       "remote_addr": "10.0.0.2"})
    assert client_of_proxy_line(ecs) == "198.18.0.9"
    assert client_of_proxy_line(flat) == "198.18.0.10"
    report = _tally([f"{STAMP} {ecs}", f"{STAMP} {flat}"], "proxy").report()
    assert report.requests == 2 and report.failed_auth == 1 and report.probes == 1
    assert {c.client for c in report.top_clients} == {"198.18.0.9", "198.18.0.10"}
    # Counted from the proxy, Rails' own lines are not requests (never twice).
    assert _tally(_rails_request("r", "1.2.3.4", "GET", "/", 200, "OK"), "proxy").report(
        ).requests == 0


def test_started_lines_without_a_completed_one_still_count() -> None:
    assert client_of_started('Started GET "/x" for 203.0.113.5 at 2026-03-02') == "203.0.113.5"
    report = _tally([f'{STAMP} [z] Started GET "/.git/config" for 198.18.0.3 at 2026-03-02']
                    ).report()
    assert report.requests == 1 and report.probes == 1 and report.failed_auth == 0


def test_the_demo_scanner_runs_its_whole_list() -> None:
    import random

    scanner, rng = Scanner(), random.Random(7)
    probes = [probe for _ in range(20_000) if (probe := scanner.next_probe(rng)) is not None]
    assert probes and len(probes) % len(SCANNER_PATHS) == 0
    assert probes[:len(SCANNER_PATHS)] == list(SCANNER_PATHS)


def _inject(stack: DemoProcess, container: str, lines: list[str]) -> None:
    with httpx.Client(trust_env=False, timeout=30) as client:
        for line in lines:
            response = client.post(f"{stack.endpoints.control_url}/logs/inject", json={
                "host": "app-1", "container": container,
                "data_b64": base64.b64encode(f"{line}\n".encode()).decode()})
            response.raise_for_status()


def _web_container(stack: DemoProcess) -> str:
    with httpx.Client(trust_env=False, timeout=30) as client:
        state = client.get(f"{stack.endpoints.control_url}/state").json()
    host = next(host for host in state["hosts"] if host["name"] == "app-1")
    return str(next(c["name"] for c in host["containers"]
                    if c["kind"] == "web" and c["state"] == "running"))


def test_the_demo_audit_finds_a_password_guesser_over_ssh(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    guesser = "198.18.0.77"  # a range the demo's own traffic never uses
    lines: list[str] = []
    for n in range(25):
        request_id = f"9f0e{n:04d}-0000-4000-a000-000000000000"
        lines += [
            f'[{request_id}] Started POST "/api/v1/session" for {guesser} at 2026-03-02 '
            "19:15:30 +0900",
            f"[{request_id}] Completed 401 Unauthorized in 2ms (ActiveRecord: 0.3ms)",
        ]
    _inject(demo_stack, _web_container(demo_stack), lines)
    base = demo_config(demo_stack.endpoints)
    config = msgspec.structs.replace(
        base, access_audit=AccessAuditConfig(window_s=600, timeout_s=60),
        incidents=msgspec.structs.replace(base.incidents, state_dir=str(tmp_path / "state")))
    records = RoutineRecords(tmp_path / "state")
    context = RoutineContext(config, CommandRunner(config), records)
    run = RoutineRun.start(load_routines().routines["security"], context, records)
    result = asyncio.run(run.run_item("access-log-audit"))
    assert result.outcome == "warning"
    assert "suspicious" in result.said_en and "不審" in result.said_ja
    record = records.load(run.record.id).item("access-log-audit")
    assert record is not None
    detail = "\n".join(record.lines)
    assert guesser in detail and "/api/v1/session" in detail
    assert record.figures["failed_auth"] >= 25


@pytest.fixture
def closed_port() -> Iterator[int]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    yield port


def test_no_logs_read_is_unknown_never_ok(closed_port: int, tmp_path: Path) -> None:
    config = Config(
        service=ServiceConfig(kamal_service="shiojiri-rainbow-seeker"),
        ssh=SshConfig(known_hosts=str(tmp_path / "known_hosts"), connect_timeout_s=2.0),
        hosts=(HostConfig(name="app-1", address="127.0.0.1", port=closed_port,
                          roles=("web",)),),
    )

    async def audit() -> object:
        sources = ServiceSources(config)
        try:
            loop = asyncio.get_running_loop()
            return await read_access_window(config, sources.targets, loop.time() + 10)
        finally:
            await sources.close()

    window = asyncio.run(audit())
    result = judge_audit(window)  # type: ignore[arg-type]
    assert result.outcome == "unknown"
    said = result.phrase.text(set_language("en"))
    assert "could be read" in said and "app-1/web" in said
