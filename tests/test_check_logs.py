"""``check`` reads the last minutes of each app container's logs: p95, error rate and
request count are real numbers headless, the exception classes are listed with
their counts, and a host whose logs do not come is said to, never taken as quiet."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.check import check_round
from rainbow_tui.cli import main
from rainbow_tui.config import Config, HostConfig, LogsConfig, ServiceConfig, SshConfig
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.findings import Finding, log_window_findings
from rainbow_tui.history import P95, REQUESTS_PER_MINUTE, History, history_path
from rainbow_tui.levels import Level
from rainbow_tui.logs.parse import parse_lines
from rainbow_tui.logs.window import LogWindowReader, exception_classes
from rainbow_tui.sources.service_sources import ServiceSources
from tests.conftest import DemoStackFactory

STAMP = "2026-03-02T10:15:30.123456789Z"


def _finding(findings: list[Finding], key: str) -> Finding:
    return next(f for f in findings if f.key == key)


def test_check_demo_json_has_real_request_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["check", "--demo", "--json"])
    document = json.loads(capsys.readouterr().out)
    by_key = {f"{f['component']}:{f['metric']}": f for f in document["findings"]}
    for key in ("service:response_time_p95_ms", "service:error_rate_percent",
                "service:request_count"):
        assert isinstance(by_key[key]["value"], int | float), key
    # The healthy demo: p95 around 120 ms, next to no 5xx, every app container read.
    assert 0 < by_key["service:response_time_p95_ms"]["value"] < 500
    assert by_key["service:error_rate_percent"]["value"] < 1
    assert by_key["service:request_count"]["value"] > 0
    logs = document["logs"]
    assert logs["window_s"] == 300
    assert {"app-1/web", "app-2/web"} <= set(logs["read"])
    assert logs["unread"] == []
    assert logs["request_count"] == by_key["service:request_count"]["value"]


async def test_a_drill_that_raises_5xx_shows_in_errors_and_exceptions(
    demo_stack_factory: DemoStackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = demo_stack_factory(drills=["db-connections"])
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints)

    async def errors_logged() -> tuple[float, list[str]]:
        found = await check_round(config)
        errors = _finding(found.findings, "service:error_rate_percent").value or 0.0
        return errors, [entry.exception_class for entry in found.logs.exceptions]

    # The pool runs dry within seconds of the drill; give the logs a few rounds.
    for _ in range(10):
        errors, classes = await errors_logged()
        if errors > 0 and "ActiveRecord::ConnectionTimeoutError" in classes:
            break
        await asyncio.sleep(2)
    assert errors > 0
    assert "ActiveRecord::ConnectionTimeoutError" in classes
    found = await check_round(config)
    exceptions = _finding(found.findings, "logs:exceptions")
    assert exceptions.level is Level.ELEVATED
    assert "ActiveRecord::ConnectionTimeoutError ×" in exceptions.display


def test_exception_classes_of_requests_and_jobs_are_counted() -> None:
    texts = [
        f"{STAMP} [req-1] Completed 500 Internal Server Error in 5003ms",
        f"{STAMP} [req-1] ActiveRecord::ConnectionTimeoutError (could not obtain a connection "
        "from the pool within 5.000 seconds):",
        f"{STAMP} [req-2] ActiveRecord::ConnectionTimeoutError (could not obtain a connection):",
        f"{STAMP} [ActiveJob] [SightingDigestJob] [6f1c] Error performing SightingDigestJob "
        "(Job ID: 6f1c) from SolidQueue(default) in 12.3ms: Net::ReadTimeout (Net::ReadTimeout)",
        # Words that only look like one: no exception was raised.
        f"{STAMP} [req-3] Started GET \"/errors/ActiveRecord::ConnectionTimeoutError\"",
        f"{STAMP} [req-3] Completed 200 OK in 12ms",
    ]
    counted = exception_classes(parse_lines(texts, "app-1", "web"))
    assert counted == {"ActiveRecord::ConnectionTimeoutError": 2, "Net::ReadTimeout": 1}


@pytest.fixture
def silent_ssh_port() -> Iterator[int]:
    """A TCP port that accepts and then says nothing: a hung sshd."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


async def test_a_host_that_does_not_answer_is_reported_unread_not_quiet(
    silent_ssh_port: int, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    config = Config(
        service=ServiceConfig(name="Shiojiri Rainbow Seeker", kamal_service="rainbow",
                              health_url="http://127.0.0.1:9/up"),
        ssh=SshConfig(known_hosts=str(known_hosts), connect_timeout_s=30.0),
        hosts=(HostConfig(name="app-9", address="127.0.0.1", port=silent_ssh_port,
                          roles=("web",)),),
        logs=LogsConfig(check_window_s=300),
    )
    targets = ServiceSources(config).targets
    loop = asyncio.get_running_loop()
    window = await LogWindowReader(config, targets, 300).read(loop.time() + 1.0)
    assert window.requests is None  # no data, not "zero requests"
    assert [entry.source for entry in window.unread] == ["app-9/web"]
    findings = log_window_findings(window)
    unread = _finding(findings, "logs:read:app-9/web")
    assert unread.level is Level.WARNING
    assert "deadline" in unread.reason
    assert _finding(findings, "service:request_count").level is Level.UNKNOWN


async def test_check_keeps_its_figures_in_the_history(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from rainbow_tui.check import record_round

    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(demo_stack.endpoints)
    config = msgspec.structs.replace(
        config,
        incidents=msgspec.structs.replace(config.incidents, state_dir=str(tmp_path / "incidents")),
    )
    found = await check_round(config)
    assert record_round(config, found) is None
    with History(history_path(config)) as history:
        kept = history.recent([P95, REQUESTS_PER_MINUTE], 5)
    p95 = _finding(found.findings, "service:response_time_p95_ms").value
    assert kept[P95] == (p95,)
    assert kept[REQUESTS_PER_MINUTE][0] > 0
