"""Dependabot alerts through GitHub's REST API, against the stand-in server on
127.0.0.1 (rainbow_tui/demo/github_standin.py).

Modelled on GitHub's published REST description (github/rest-api-description,
descriptions/api.github.com/api.github.com.yaml: ``dependabot/list-alerts-for-repo``
and the ``dependabot-alert`` schema; docs.github.com "List Dependabot alerts for a
repository", "Using pagination in the REST API", "Rate limits for the REST API").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from rainbow_tui.config import Config, ConfigError, GithubConfig, ServiceConfig, parse_config
from rainbow_tui.demo.github_standin import DEMO_TOKEN, REPOSITORY, GithubStandIn, StandInAlert
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.sources.dependabot import DependabotSource, next_page, parse_alert
from rainbow_tui.text import set_language
from rainbow_tui.upkeep.catalog import load_routines
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.dependabot_alerts import judge_snapshot
from rainbow_tui.upkeep.record import RoutineRecords
from rainbow_tui.upkeep.run import RoutineRun

TOKEN_ENV = "RAINBOW_TUI_TEST_GITHUB_TOKEN"


@pytest.fixture
def github() -> Iterator[GithubStandIn]:
    stand_in = GithubStandIn()
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def _settings(stand_in: GithubStandIn, **values: object) -> GithubConfig:
    base = {"repository": REPOSITORY, "token_env": TOKEN_ENV, "api_url": stand_in.base_url(),
            "timeout_s": 5.0}
    return GithubConfig(**{**base, **values})  # type: ignore[arg-type]


def _alert(number: int, severity: str = "medium", **values: object) -> StandInAlert:
    base: dict[str, object] = {
        "number": number, "ecosystem": "rubygems", "package": f"gem-{number}",
        "manifest_path": "Gemfile.lock", "ghsa_id": f"GHSA-test-{number:04d}-xxxx",
        "cve_id": None, "summary": f"advisory {number}", "severity": severity,
        "vulnerable_version_range": "< 2.0.1", "first_patched_version": "2.0.1",
        "created_at": 1_760_000_000.0,
    }
    return StandInAlert(**{**base, **values})  # type: ignore[arg-type]


def test_open_alerts_are_read_with_githubs_headers(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    snapshot = asyncio.run(DependabotSource(_settings(github)).poll())
    assert snapshot.listed and snapshot.problem is None
    # The baseline: a medium and a low alert open; the fixed one is not listed.
    assert sorted(alert.package for alert in snapshot.alerts) == ["rack-session", "rexml"]
    rexml = next(alert for alert in snapshot.alerts if alert.package == "rexml")
    assert (rexml.number, rexml.state, rexml.ecosystem, rexml.severity) == (
        41, "open", "rubygems", "medium")
    assert (rexml.vulnerable_version_range, rexml.first_patched_version) == ("< 3.3.9", "3.3.9")
    assert (rexml.ghsa_id, rexml.cve_id, rexml.manifest_path) == (
        "GHSA-vmwr-mc7x-5vc3", "CVE-2024-49761", "Gemfile.lock")
    assert rexml.html_url.endswith(f"/{REPOSITORY}/security/dependabot/41")
    assert rexml.created_at.tzinfo is not None
    headers = github.requests[-1]
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["authorization"] == f"Bearer {DEMO_TOKEN}"
    assert headers["x-github-api-version"] == "2022-11-28"
    # The token is used, never kept.
    assert DEMO_TOKEN not in repr(snapshot)


def test_every_page_is_followed_by_the_link_header(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    many = [_alert(number) for number in range(100, 350)]
    github.add_source(lambda: many)
    snapshot = asyncio.run(DependabotSource(_settings(github)).poll())
    # 250 + the 2 open of the baseline: three pages of 100 by GitHub's cursor.
    assert snapshot.pages == 3 and not snapshot.truncated
    assert len(snapshot.alerts) == 252
    assert len({alert.number for alert in snapshot.alerts}) == 252
    cut = asyncio.run(DependabotSource(_settings(github, max_pages=2)).poll())
    assert cut.truncated and cut.pages == 2 and len(cut.alerts) == 200


def test_next_page_reads_githubs_link_header() -> None:
    header = ('<https://api.github.com/repositories/1/dependabot/alerts?per_page=100&after=Y3'
              'Vyc29y>; rel="next", <https://api.github.com/repositories/1/dependabot/alerts?'
              'per_page=100&before=YQ>; rel="prev"')
    assert next_page(header) == ("https://api.github.com/repositories/1/dependabot/alerts?"
                                 "per_page=100&after=Y3Vyc29y")
    assert next_page('<https://x/a?before=YQ>; rel="prev"') is None
    assert next_page("") is None


@pytest.mark.parametrize(
    ("arrange", "token", "problem", "status"),
    [
        ("nothing", "github_pat_wrong", "auth", 401),
        ("rate_limited", DEMO_TOKEN, "rate_limited", 403),
        ("alerts_disabled", DEMO_TOKEN, "forbidden", 403),
        ("unscoped", "github_pat_unscoped", "forbidden", 403),
    ],
)
def test_refusals_are_unknown_with_githubs_reason(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch, arrange: str, token: str,
    problem: str, status: int,
) -> None:
    if arrange == "rate_limited":
        github.rate_limited = True
    elif arrange == "alerts_disabled":
        github.alerts_disabled = True
    elif arrange == "unscoped":
        github.unscoped_tokens.add(token)
    monkeypatch.setenv(TOKEN_ENV, token)
    settings = _settings(github)
    snapshot = asyncio.run(DependabotSource(settings).poll())
    assert (snapshot.problem, snapshot.status) == (problem, status)
    assert snapshot.alerts == () and not snapshot.listed
    result = judge_snapshot(settings, snapshot)
    assert result.outcome == "unknown"
    assert token not in result.phrase.text() and token not in snapshot.error
    if problem == "rate_limited":
        assert snapshot.rate_limit_reset is not None
        assert snapshot.rate_limit_reset > datetime.now(UTC)
        assert "rate limit" in result.phrase.text(set_language("en"))
    if arrange == "alerts_disabled":
        assert "Dependabot alerts are disabled" in snapshot.error


def test_another_repository_is_not_found(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    settings = _settings(github, repository="shiojiri-rainbow/elsewhere")
    snapshot = asyncio.run(DependabotSource(settings).poll())
    assert (snapshot.problem, snapshot.status) == ("not_found", 404)
    said = judge_snapshot(settings, snapshot).phrase.text(set_language("en"))
    assert "shiojiri-rainbow/elsewhere" in said and "Not Found" in said


def test_an_answer_that_is_not_json_is_invalid_never_no_alerts(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    github.broken_body = b"<html>502 Bad Gateway</html>"
    settings = _settings(github)
    snapshot = asyncio.run(DependabotSource(settings).poll())
    assert snapshot.problem == "invalid" and snapshot.alerts == ()
    assert judge_snapshot(settings, snapshot).outcome == "unknown"
    github.broken_body = b'{"message": "not a list"}'
    assert asyncio.run(DependabotSource(settings).poll()).problem == "invalid"


def test_no_token_is_not_available(github: GithubStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    settings = _settings(github)
    snapshot = asyncio.run(DependabotSource(settings).poll())
    assert snapshot.missing_token_env == TOKEN_ENV and github.requests == []
    result = judge_snapshot(settings, snapshot)
    assert result.outcome == "unknown"
    assert result.phrase.text(set_language("en")).startswith("not available:")
    assert TOKEN_ENV in result.phrase.text(set_language("ja"))


@pytest.mark.parametrize(
    ("severities", "outcome"),
    [((), "ok"), (("low",), "ok"), (("low", "medium"), "warning"), (("high",), "warning"),
     (("medium", "critical"), "critical")],
)
def test_judged_by_the_worst_advisory(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch, severities: tuple[str, ...],
    outcome: str,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    github.alert_sources.clear()
    alerts = [_alert(number, severity) for number, severity in enumerate(severities, 1)]
    github.add_source(lambda: alerts)
    settings = _settings(github)
    result = judge_snapshot(settings, asyncio.run(DependabotSource(settings).poll()))
    assert result.outcome == outcome
    assert result.figures["open_alerts"] == len(severities)
    # One line per alert, the most severe first: package, severity, range, fix, link.
    assert len(result.lines) == len(severities)
    if severities:
        worst = max(alerts, key=lambda a: ("low", "medium", "high", "critical").index(a.severity))
        first = result.lines[0]
        for part in (worst.package, worst.severity, "< 2.0.1", "2.0.1",
                     f"/security/dependabot/{worst.number}"):
            assert part in first


def test_a_high_alert_is_critical_when_the_team_says_so(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    github.alert_sources.clear()
    github.add_source(lambda: [_alert(7, "high", first_patched_version=None)])
    settings = _settings(github, critical_severity="high")
    result = judge_snapshot(settings, asyncio.run(DependabotSource(settings).poll()))
    assert result.outcome == "critical"
    set_language("en")
    assert "fix none yet" in judge_snapshot(
        settings, asyncio.run(DependabotSource(settings).poll())).lines[0]


def test_remote_text_is_made_inert() -> None:
    item = {
        "number": 3, "state": "open", "html_url": "https://github.com/o/r/security/dependabot/3",
        "created_at": "2025-01-14T10:02:11Z",
        "dependency": {"package": {"ecosystem": "rubygems", "name": "evil\x1b[31m"},
                       "manifest_path": "Gemfile.lock"},
        "security_advisory": {"ghsa_id": "GHSA-x", "cve_id": None, "summary": "[bold]x\x07",
                              "severity": "HIGH"},
        "security_vulnerability": {"vulnerable_version_range": "< 1",
                                   "first_patched_version": None},
    }
    alert = parse_alert(item)
    assert "\x1b" not in alert.package and "\x07" not in alert.summary
    assert alert.severity == "high" and alert.first_patched_version == "" and alert.cve_id == ""
    with pytest.raises(KeyError):
        parse_alert({k: v for k, v in item.items() if k != "dependency"})


def _config_text(section: str) -> str:
    return f'[service]\nkamal_service = "s"\n\n{section}'


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[github]\nrepository = "no-slash"\n', "github.repository"),
        ('[github]\nrepository = "o/r"\ntoken_env = "ghp_123 secret"\n', "github.token_env"),
        ('[github]\nrepository = "o/r"\napi_url = "ftp://github.example"\n', "github.api_url"),
        ('[github]\nrepository = "o/r"\nwarn_severity = "critical"\ncritical_severity = "high"\n',
         "github.warn_severity"),
        ('[github]\nrepository = "o/r"\nwarn_severity = "severe"\n', "github.warn_severity"),
        ('[github]\nrepository = "o/r"\nmax_pages = 0\n', "github.max_pages"),
        ('[access_audit]\nprobe_paths = ["wp-login.php"]\n', "access_audit.probe_paths[0]"),
        ('[access_audit]\nfailed_auth_per_client = 0\n', "access_audit.failed_auth_per_client"),
    ],
)
def test_bad_github_and_audit_settings_name_file_key_and_problem(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(_config_text(section), "config.toml")
    assert raised.value.path == "config.toml"
    assert raised.value.key == key or key in str(raised.value)
    assert raised.value.problem


def test_good_github_settings_load() -> None:
    config = parse_config(_config_text(
        '[github]\nrepository = "shiojiri-rainbow/rainbow-seeker-api"\n'
        'api_url = "https://github.example.com/api/v3"\n'), "config.toml")
    assert config.github is not None and config.github.token_env == "GITHUB_TOKEN"
    assert config.github.api_url == "https://github.example.com/api/v3"


def test_the_weekly_item_lists_the_alerts(
    github: GithubStandIn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    base = Config(service=ServiceConfig(kamal_service="shiojiri-rainbow-seeker"))
    config = msgspec.structs.replace(
        base, github=_settings(github),
        incidents=msgspec.structs.replace(base.incidents, state_dir=str(tmp_path / "state")))
    records = RoutineRecords(tmp_path / "state")
    context = RoutineContext(config, CommandRunner(config), records)
    run = RoutineRun.start(load_routines().routines["weekly"], context, records)
    result = asyncio.run(run.run_item("dependabot"))
    assert result.outcome == "warning"  # the baseline's medium alert
    assert "2 open Dependabot alerts" in result.said_en
    assert "未対応の Dependabot アラート 2 件" in result.said_ja
    written = records.path(run.record.id).read_text()
    assert "rexml" in written and DEMO_TOKEN not in written


def test_the_demo_points_at_its_stand_in(
    demo_stack: DemoProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in demo_dsn_variables(demo_stack.endpoints).items():
        monkeypatch.setenv(name, value)
    base = demo_config(demo_stack.endpoints)
    assert base.github is not None and base.github.api_url.startswith("http://127.0.0.1:")
    config = msgspec.structs.replace(
        base, incidents=msgspec.structs.replace(base.incidents, state_dir=str(tmp_path / "s")))
    records = RoutineRecords(tmp_path / "s")
    context = RoutineContext(config, CommandRunner(config), records)
    run = RoutineRun.start(load_routines().routines["weekly"], context, records)
    result = asyncio.run(run.run_item("dependabot"))
    assert result.outcome == "warning", result.said_en
    record = records.load(run.record.id).item("dependabot")
    assert record is not None and any("rexml" in line for line in record.lines)
