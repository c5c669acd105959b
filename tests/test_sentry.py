"""Sentry as a judged component: the source against the stand-in over real HTTP on
127.0.0.1, shaped as Sentry's published API (docs.sentry.io, "List a Project's
Issues": Bearer token, ``Link`` pagination, ``count`` as a string, ``stats``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from rainbow_tui.config import Config, ConfigError, SentryConfig, ServiceConfig, parse_config
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.sentry_standin import SentryStandIn
from rainbow_tui.findings import Finding, evaluate, exit_status
from rainbow_tui.levels import Level
from rainbow_tui.sources.sentry import SentrySource, next_page
from rainbow_tui.sources.service_sources import Readings

TOKEN_ENV = "RAINBOW_TUI_TEST_SENTRY_TOKEN"
TOKEN = "sntrys_test_token"
HOUR = 3600.0


@pytest.fixture
def stand_in() -> Iterator[SentryStandIn]:
    # Two issues a page, so that a handful of issues takes several pages.
    sentry = SentryStandIn("shiojiri", "api", token=TOKEN, page_size=2)
    sentry.start()
    try:
        yield sentry
    finally:
        sentry.stop()


def _config(sentry: SentryStandIn, **overrides: object) -> Config:
    settings = SentryConfig(organization="shiojiri", project="api", token_env=TOKEN_ENV,
                            base_url=sentry.base_url(), timeout_s=5.0)
    return Config(
        service=ServiceConfig(kamal_service="api", health_url="http://127.0.0.1:1/up"),
        sentry=SentryConfig(**{**{f: getattr(settings, f) for f in settings.__struct_fields__},
                               **overrides}),
    )


@pytest.fixture
async def source_of(stand_in: SentryStandIn) -> AsyncIterator[list[SentrySource]]:
    made: list[SentrySource] = []
    yield made
    for source in made:
        await source.close()


async def _findings(config: Config, made: list[SentrySource]) -> dict[str, Finding]:
    assert config.sentry is not None
    source = SentrySource(config.sentry)
    made.append(source)
    snapshot = await source.poll()
    return {f.key: f for f in evaluate(config, Readings(sentry=snapshot))}


def _history(sentry: SentryStandIn, now: float) -> None:
    """Three issues first seen today, one of last month regressed today, one of
    last week still going on quietly."""
    for index, culprit in enumerate(("RainbowsController#index", "SightingsController#create",
                                     "ForecastsController#show")):
        sentry.capture("NoMethodError", f"undefined method 'hue' #{index}", culprit,
                       at=now - (index + 1) * HOUR, user=f"u{index}")
    sentry.capture("PG::UniqueViolation", "duplicate key", "SightingJob", at=now - 30 * 24 * HOUR)
    sentry.resolve("PG::UniqueViolation", "SightingJob")
    sentry.capture("PG::UniqueViolation", "duplicate key", "SightingJob", at=now - 2 * HOUR)
    for hours in (150, 100, 3):
        sentry.capture("ActiveRecord::RecordNotFound", "Couldn't find Rainbow", "show",
                       at=now - hours * HOUR)


async def test_new_and_regressed_issues_through_every_page(
    stand_in: SentryStandIn, source_of: list[SentrySource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    _history(stand_in, time.time())
    found = await _findings(_config(stand_in), source_of)

    # Five unresolved issues seen today, two a page: three pages, each asked with
    # the token as Sentry's API wants it.
    assert len(stand_in.requests) == 3
    assert all(headers["authorization"] == f"Bearer {TOKEN}" for headers in stand_in.requests)
    summary = found["sentry:issues"]
    assert summary.display == "3 new, 1 regressed in 24 h"
    issues = [f for f in found.values() if f.metric.startswith("issue:")]
    assert len(issues) == 4  # the quiet ongoing one is no finding
    new = [f for f in issues if f.display.startswith("new")]
    regressed = [f for f in issues if f.display.startswith("regressed")]
    assert len(new) == 3 and all(f.level is Level.WARNING and f.severity == "medium"
                                 for f in new)
    assert len(regressed) == 1
    assert regressed[0].level is Level.WARNING and regressed[0].severity == "high"
    assert "PG::UniqueViolation: duplicate key" in regressed[0].label
    # Each issue links to itself in Sentry and says when it was seen.
    link = regressed[0].values["link"]
    assert isinstance(link, str) and link.startswith(stand_in.base_url() + "/organizations/")
    assert "first seen" in regressed[0].reason and "SightingJob" in regressed[0].reason
    assert exit_status(list(found.values())) == 1


async def test_an_issue_past_the_event_lines_is_critical(
    stand_in: SentryStandIn, source_of: list[SentrySource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    now = time.time()
    # Known for weeks, so not new: judged by its events of the day alone.
    stand_in.capture("Net::ReadTimeout", "timeout", "WeatherFetchJob", at=now - 20 * 24 * HOUR)
    for second in range(1200):
        stand_in.capture("Net::ReadTimeout", "timeout", "WeatherFetchJob", at=now - second)
    found = await _findings(_config(stand_in), source_of)
    storm = next(f for f in found.values() if f.metric.startswith("issue:"))
    assert storm.level is Level.CRITICAL and storm.severity == "high"
    assert storm.value == 1200.0  # the day's events from stats["24h"], not the life's 1201
    assert storm.display.startswith("ongoing · 1200 events")


async def test_unset_token_is_not_configured_not_all_clear(
    stand_in: SentryStandIn, source_of: list[SentrySource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    found = await _findings(_config(stand_in), source_of)
    finding = found["sentry:issues"]
    assert finding.level is Level.UNKNOWN
    assert finding.display == "not configured"
    assert f"${TOKEN_ENV}" in finding.reason
    assert stand_in.requests == []  # nothing is sent without a token


@pytest.mark.parametrize(
    ("token", "status"), [("sntrys_revoked", 401), ("sntrys_other_org", 403)]
)
async def test_a_refused_token_is_a_warning(
    stand_in: SentryStandIn, source_of: list[SentrySource], monkeypatch: pytest.MonkeyPatch,
    token: str, status: int,
) -> None:
    stand_in.unscoped_tokens.add("sntrys_other_org")
    monkeypatch.setenv(TOKEN_ENV, token)
    found = await _findings(_config(stand_in), source_of)
    finding = found["sentry:issues"]
    assert finding.level is Level.WARNING
    assert finding.display == f"token refused (HTTP {status})"
    assert TOKEN_ENV in finding.reason and "shiojiri/api" in finding.reason


async def test_rate_limit_and_timeout_say_why_there_is_no_list(
    stand_in: SentryStandIn, source_of: list[SentrySource], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    stand_in.rate_limited = True
    limited = (await _findings(_config(stand_in), source_of))["sentry:issues"]
    assert limited.level is Level.UNKNOWN
    assert "rate limit (HTTP 429)" in limited.reason and "1 s" in limited.reason

    # A server that takes the connection and never answers.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = _config(stand_in, base_url=f"http://127.0.0.1:{port}", timeout_s=0.5)
        hung = (await _findings(config, source_of))["sentry:issues"]
    finally:
        server.close()
    assert hung.level is Level.UNKNOWN
    assert hung.reason == "Sentry did not answer: no answer within 0.5 s"


def test_link_header_as_sentry_sends_it() -> None:
    header = (
        '<https://sentry.io/api/0/projects/o/p/issues/?cursor=0:0:1>; rel="previous"; '
        'results="false"; cursor="0:0:1", '
        '<https://sentry.io/api/0/projects/o/p/issues/?cursor=0:100:0>; rel="next"; '
        'results="true"; cursor="0:100:0"'
    )
    assert next_page(header) == "https://sentry.io/api/0/projects/o/p/issues/?cursor=0:100:0"
    assert next_page(header.replace('results="true"', 'results="false"')) is None


BASE = """
[service]
kamal_service = "api"
health_url = "https://api.example.com/up"
"""


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[sentry]\norganization = "o"\nproject = "p"\ntoken = "x"\n', "sentry.token"),
        ('[sentry]\norganization = "Shiojiri Rainbow"\nproject = "p"\n', "sentry.organization"),
        ('[sentry]\norganization = "o"\nproject = "p"\nbase_url = "sentry.io"\n',
         "sentry.base_url"),
        ('[sentry]\norganization = "o"\nproject = "p"\n'
         '[sentry.events]\nunit = "events"\nnormal = 5\nwarn = 500\ncritical = 50\n',
         "sentry.events"),
    ],
)
def test_sentry_config_is_validated(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + section, "config.toml")
    assert raised.value.key == key


@pytest.mark.slow
def test_check_demo_with_the_new_errors_drill() -> None:
    """The whole path a user takes: the demo's app raises, the stand-in groups it,
    ``check`` reads it through the API and fails with a warning."""
    result = subprocess.run(
        [sys.executable, "-m", "rainbow_tui", "check", "--demo", "--drill",
         "sentry-new-errors", "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    document = json.loads(result.stdout)
    sentry = [f for f in document["findings"] if f["component"] == "sentry"]
    issue = next(f for f in sentry if f["metric"].startswith("issue:"))
    assert issue["level"] == "warning"
    assert "Faraday::TimeoutError" in issue["label"]
    assert issue["values"]["culprit"] == "Api::V1::ForecastsController#show"
    assert result.returncode >= 1 and document["exit_status"] >= 1


async def test_check_on_the_demo_judges_sentry_s3_and_the_proxy(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rainbow_tui.check import run_check
    from rainbow_tui.demo.profile import demo_config, demo_dsn_variables

    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    findings = {f.key: f for f in await run_check(demo_config(demo_stack.endpoints))}
    assert findings["sentry:issues"].level in (Level.NORMAL, Level.ELEVATED)
    assert findings["s3:bucket"].level is Level.NORMAL
    assert findings["s3:bucket"].display.startswith("reachable")
    assert findings["proxy:details:app-1"].level is Level.NORMAL
    assert findings["proxy:details:app-1"].display.startswith("Up ")
    assert findings["host app-2:container:kamal-proxy"].level is Level.NORMAL
