"""bundler-audit and Brakeman as the routines run them on the demo stack: through
the demo's Kamal (``kamal app exec --primary --reuse``, the stand-in answering in
the upstream formats from its Gemfile.lock), with and without the
``vulnerable-gem`` drill."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from rainbow_tui.cli import main
from rainbow_tui.demo.launcher import DemoProcess
from rainbow_tui.demo.profile import demo_config, demo_dsn_variables
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.text import language
from rainbow_tui.upkeep.catalog import load_routines
from rainbow_tui.upkeep.checks import run_check
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.security_scans import brakeman_scan, bundler_audit_scan


def _context(stack: DemoProcess, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> tuple[RoutineContext, list[str]]:
    for name, value in demo_dsn_variables(stack.endpoints).items():
        monkeypatch.setenv(name, value)
    config = demo_config(stack.endpoints, incidents_dir=tmp_path / "state")
    progress: list[str] = []
    return RoutineContext(config, CommandRunner(config),
                          progress=lambda line: progress.append(line.text())), progress


def _drill(stack: DemoProcess, method: str) -> None:
    response = httpx.request(method, f"{stack.endpoints.control_url}/drill/vulnerable-gem",
                             timeout=30, trust_env=False)
    response.raise_for_status()


async def test_the_demo_audit_is_clean_until_the_drill_pins_rack(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rubysec/bundler-audit lib/bundler/audit/cli.rb (exit 1 on a finding, which
    kamal's SSHKit turns into its own failure: basecamp/kamal lib/kamal/cli/app.rb
    #exec, capture_with_info) and cli/formats/json.rb; the advisories are
    rubysec/ruby-advisory-db gems/rack/CVE-2025-27610.yml and CVE-2025-46727.yml."""
    context, progress = _context(demo_stack, tmp_path, monkeypatch)
    clean = await bundler_audit_scan(context)
    assert clean.outcome == "ok", clean
    assert clean.figures["advisories"] == 0.0
    assert progress == ["running bundle exec kamal app exec --primary --reuse "
                        "'bundle exec bundler-audit check --update --format json'"]
    _drill(demo_stack, "POST")
    try:
        found = await bundler_audit_scan(context)
    finally:
        _drill(demo_stack, "DELETE")
    assert found.outcome == "critical", found
    assert found.figures["advisories"] == 2.0 and found.figures["critical"] == 2.0
    en = found.phrase.text(language("en"))
    assert "rack 3.1.10: CVE-2025-27610 (criticality: high), upgrade to >= 3.1.12" in en
    assert "rack 3.1.10: CVE-2025-46727 (criticality: high), upgrade to >= 3.1.14" in en
    assert "CVE-2025-27610" in found.phrase.text(language("ja"))
    assert any("GHSA-7wqh-767x-r66v" in line and "https://github.com/rack/rack" in line
               for line in found.lines)
    # Ended: the next audit is clean again.
    assert (await bundler_audit_scan(context)).outcome == "ok"


async def test_the_demo_brakeman_reports_no_warnings(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """presidentbeef/brakeman lib/brakeman/report/report_json.rb through kamal's
    ``App Host:`` framing (sshkit_with_ext.rb#puts_by_host)."""
    context, _ = _context(demo_stack, tmp_path, monkeypatch)
    result = await brakeman_scan(context)
    assert result.outcome == "ok", result
    assert result.figures == {"warnings": 0.0, "critical": 0.0, "ignored": 1.0, "errors": 0.0}
    assert result.phrase.text(language("en")).startswith("Brakeman 7.0.2: 0 warnings")


@pytest.mark.slow
def test_weekly_routine_with_the_vulnerable_gem_drill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path: ``rainbow-tui routine weekly --demo --drill vulnerable-gem
    --json`` starts a stack with the drill, runs bundler-audit through the demo's
    Kamal and exits with the critical it found."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[service]\nkamal_service = "x"\n[incidents]\n'
                           f'state_dir = "{tmp_path / "state"}"\n')
    monkeypatch.setenv("RAINBOW_TUI_CONFIG", str(config_file))
    status = main(["--lang", "en", "routine", "weekly", "--demo", "--drill", "vulnerable-gem",
                   "--json"])
    document = json.loads(capsys.readouterr().out)
    audit = next(item for item in document["items"] if item["item"] == "bundler-audit")
    assert audit["outcome"] == "critical", audit
    assert "CVE-2025-27610" in audit["said"] and "upgrade to >= 3.1.12" in audit["said"]
    assert audit["figures"]["advisories"] == 2.0
    assert status == document["exit_status"] == 2


async def test_the_vulnerable_gem_drill_opens_dependabot_alerts_for_the_weekly_item(
    demo_stack: DemoProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dependabot reads the same Gemfile.lock as bundler-audit: while the drill pins
    rack 3.1.10 the GitHub stand-in has an open alert per advisory (the shape of
    github/rest-api-description descriptions/api.github.com/api.github.com.yaml,
    ``dependabot/list-alerts-for-repo``; the advisories rubysec/ruby-advisory-db
    gems/rack/CVE-2025-27610.yml and CVE-2025-46727.yml), and the weekly routine's
    ``dependabot`` item lists them; once the drill ends they are gone again."""
    context, _ = _context(demo_stack, tmp_path, monkeypatch)
    item = load_routines().routines["weekly"].item("dependabot")
    assert item is not None and item.check == "dependabot_alerts"

    def rack_lines(lines: tuple[str, ...]) -> list[str]:
        return [line for line in lines if " rubygems rack < " in line]

    quiet = await run_check(context, item)
    assert quiet.figures["open_alerts"] == 2.0, quiet  # the baseline's rexml and rack-session
    assert rack_lines(quiet.lines) == []
    _drill(demo_stack, "POST")
    try:
        drilled = await run_check(context, item)
    finally:
        _drill(demo_stack, "DELETE")
    assert drilled.figures["open_alerts"] == 4.0, drilled
    assert drilled.figures["high_alerts"] == 2.0
    # High is at or above warn_severity (medium), below critical_severity (critical).
    assert drilled.outcome == "warning"
    rack = rack_lines(drilled.lines)
    assert len(rack) == 2, drilled.lines
    assert any("CVE-2025-27610" in line and "3.1.12" in line for line in rack), rack
    assert any("CVE-2025-46727" in line and "3.1.14" in line for line in rack), rack
    ended = await run_check(context, item)
    assert ended.figures["open_alerts"] == 2.0, ended
    assert rack_lines(ended.lines) == []
