"""bundler-audit's and Brakeman's reports read and judged, the gem requirements
their fixes are written in, ``[security]`` and the commands it builds, and the
checkout path run for real (a local process in ``[kamal] workdir``)."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from rainbow_tui.config import ConfigError, parse_config
from rainbow_tui.incidents.runner import CommandRunner
from rainbow_tui.scans.brakeman import parse_brakeman
from rainbow_tui.scans.bundler_audit import parse_bundler_audit
from rainbow_tui.scans.commands import scan_command
from rainbow_tui.scans.gem_versions import GemVersion, fix_for, satisfies
from rainbow_tui.scans.output_json import report_object
from rainbow_tui.text import language
from rainbow_tui.upkeep.context import RoutineContext
from rainbow_tui.upkeep.security_scans import (
    brakeman_scan,
    bundler_audit_scan,
    judge_audit,
    judge_brakeman,
)

# One result of each kind, as cli/formats/json.rb writes Report#to_h (JSON.generate:
# one line, no newline after it), after --update's messages and the database stats.
AUDIT_JSON_RESULTS: list[Any] = [
    {"type": "insecure_source", "source": "git://github.com/rails/jquery-ujs.git"},
    {"type": "unpatched_gem", "gem": {"name": "rack", "version": "2.2.3"},
     "advisory": {
         "path": "/root/.local/share/ruby-advisory-db/gems/rack/CVE-2022-30123.yml",
         "id": "CVE-2022-30123", "url": "https://groups.google.com/g/ruby-security-ann/c/LWB10kWzag8",
         "title": "Possible shell escape sequence injection vulnerability in Rack",
         "date": "2022-06-27", "description": "There is a possible shell escape …",
         "cvss_v2": None, "cvss_v3": 10.0, "cvss_v4": None, "cve": "2022-30123",
         "osvdb": None, "ghsa": "wq4h-7r42-5hrr", "unaffected_versions": [],
         "patched_versions": ["~> 2.0.9, >= 2.0.9.1", "~> 2.1.4, >= 2.1.4.1", ">= 2.2.3.1"],
         "criticality": "critical"}},
    {"type": "unpatched_gem", "gem": {"name": "puma", "version": "6.4.0"},
     "advisory": {
         "path": "/root/.local/share/ruby-advisory-db/gems/puma/GHSA-xxxx-yyyy-zzzz.yml",
         "id": "GHSA-xxxx-yyyy-zzzz", "url": "https://github.com/puma/puma/security",
         "title": "An advisory without a CVSS score", "date": "2024-01-08",
         "description": "…", "cvss_v2": None, "cvss_v3": None, "cvss_v4": None,
         "cve": None, "osvdb": None, "ghsa": "xxxx-yyyy-zzzz",
         "unaffected_versions": [], "patched_versions": [], "criticality": None}},
]
UPDATE_MESSAGES = (
    "Updating ruby-advisory-db ...\nAlready up to date.\nUpdated ruby-advisory-db\n"
    "ruby-advisory-db:\n  advisories:\t1234 advisories\n"
    "  last updated:\t2026-08-22 08:26:19 -0400\n  commit:\t8cfcc07c\n"
)


def _audit_json(results: list[Any]) -> str:
    return json.dumps({"version": "0.9.2", "created_at": "2026-09-01 09:00:00 +0000",
                       "results": results}, separators=(",", ":"))


# What text.rb prints for the same (no --verbose), colours as a terminal shows
# them once made inert (ESC visible).
AUDIT_TEXT = """\
Insecure Source URI found: git://github.com/rails/jquery-ujs.git
\u241b[31mName: \u241b[0mrack
Version: 2.2.3
CVE: CVE-2022-30123
GHSA: GHSA-wq4h-7r42-5hrr
Criticality: Critical
URL: https://groups.google.com/g/ruby-security-ann/c/LWB10kWzag8
Title: Possible shell escape sequence injection vulnerability in Rack
Solution: update to '~> 2.0.9, >= 2.0.9.1', '~> 2.1.4, >= 2.1.4.1', '>= 2.2.3.1'

Name: puma
Version: 6.4.0
GHSA: GHSA-xxxx-yyyy-zzzz
Criticality: Unknown
URL: https://github.com/puma/puma/security
Title: An advisory without a CVSS score
Solution: remove or disable this gem until a patch is available!

Vulnerabilities found!
"""


def test_bundler_audit_json_after_the_update_messages() -> None:
    """rubysec/bundler-audit lib/bundler/audit/cli/formats/json.rb, report.rb#to_h,
    results/unpatched_gem.rb#to_h, results/insecure_source.rb#to_h, advisory.rb#to_h
    (cve and ghsa without their prefixes; criticality null without a CVSS score)."""
    report = parse_bundler_audit(UPDATE_MESSAGES + _audit_json(AUDIT_JSON_RESULTS))
    assert report is not None and report.format == "json" and report.complete
    assert report.version == "0.9.2"
    assert report.insecure_sources == ("git://github.com/rails/jquery-ujs.git",)
    rack, puma = report.advisories
    assert (rack.gem, rack.version, rack.id, rack.cve, rack.ghsa, rack.criticality) == (
        "rack", "2.2.3", "CVE-2022-30123", "CVE-2022-30123", "GHSA-wq4h-7r42-5hrr", "critical")
    assert rack.patched_versions[-1] == ">= 2.2.3.1"
    assert (puma.criticality, puma.cve, puma.patched_versions) == ("unknown", "", ())


def test_bundler_audit_json_inside_sshkits_error() -> None:
    """kamal app exec: a command exiting 1 raises SSHKit::Command::Failed, whose
    message holds the command's stdout (sshkit lib/sshkit/command.rb#exit_status=)."""
    output = ("Get current version of running container...\n"
              "  ERROR (SSHKit::Command::Failed): Exception while executing on host 10.0.0.1: "
              "docker exit status: 1\ndocker stdout: " + UPDATE_MESSAGES
              + _audit_json(AUDIT_JSON_RESULTS[1:2]) + "\ndocker stderr: Nothing written\n")
    report = parse_bundler_audit(output)
    assert report is not None and [a.id for a in report.advisories] == ["CVE-2022-30123"]


def test_bundler_audit_text_format_reads_as_the_json() -> None:
    """rubysec/bundler-audit lib/bundler/audit/cli/formats/text.rb."""
    text = parse_bundler_audit(AUDIT_TEXT)
    json_report = parse_bundler_audit(_audit_json(AUDIT_JSON_RESULTS))
    assert text is not None and json_report is not None
    assert text.format == "text" and text.complete
    assert text.insecure_sources == json_report.insecure_sources
    for read, expected in zip(text.advisories, json_report.advisories, strict=True):
        assert (read.gem, read.version, read.id, read.criticality, read.patched_versions) == (
            expected.gem, expected.version, expected.id, expected.criticality,
            expected.patched_versions)


def test_bundler_audit_text_verbose_and_clean() -> None:
    """text.rb with --verbose prints Description: and an indented text instead of
    Title:; a clean check says "No vulnerabilities found"."""
    verbose = AUDIT_TEXT.replace(
        "Title: Possible shell escape sequence injection vulnerability in Rack\n",
        "Description:\n\n  There is a possible shell escape sequence injection.\n"
        "  Name: not a field\n\n")
    report = parse_bundler_audit(verbose)
    assert report is not None and [a.gem for a in report.advisories] == ["rack", "puma"]
    clean = parse_bundler_audit("No vulnerabilities found\n")
    assert clean is not None and not clean.vulnerable and clean.complete


@pytest.mark.parametrize("output", [
    "",
    "Could not find gem 'bundler-audit' in locally installed gems.\n",
    "Could not find \"Gemfile.lock\"\n",
    "docker stdout: Nothing written\n",
    '{"version": "0.9.2"}',  # no results: not a report
    "{{{{[[[[" * 1000,
])
def test_no_report_is_none(output: str) -> None:
    assert parse_bundler_audit(output) is None
    assert parse_brakeman(output) is None


def test_hostile_and_cut_bundler_audit_output() -> None:
    full = _audit_json(AUDIT_JSON_RESULTS)
    # Cut inside the last result (the line cap of a command's output): the results
    # that came whole are read, and the report says it is not complete.
    cut = parse_bundler_audit(full[: full.index('"puma"') + 10] + " … [cut 5000 bytes]")
    assert cut is not None and not cut.complete
    assert [a.gem for a in cut.advisories] == ["rack"]
    # Values that are not what the format says: kept as inert strings, nothing breaks.
    odd = json.loads(full)
    odd["results"][1]["advisory"]["title"] = "[bold red]x[/]\x1b[2J" * 200
    odd["results"][1]["advisory"]["patched_versions"] = [None, {"x": 1}, ">= 9"]
    odd["results"][1]["advisory"]["criticality"] = "apocalyptic"
    odd["results"].append({"type": "something_new"})
    odd["results"].append("not an object")
    report = parse_bundler_audit(json.dumps(odd))
    assert report is not None and not report.complete  # unknown kinds: may miss some
    rack = report.advisories[0]
    assert rack.criticality == "unknown" and rack.patched_versions == (">= 9",)
    assert len(rack.title) <= 500 and rack.title.startswith("[bold red]")
    # Text that says "none found" yet lists an advisory is garbled.
    garbled = parse_bundler_audit("Name: rack\nVersion: 2.2.3\nNo vulnerabilities found\n")
    assert garbled is not None and not garbled.complete


# Brakeman's report_json.rb: JSON.pretty_generate of scan_info, warnings,
# ignored_warnings, errors, obsolete; each warning warning.rb#to_hash.
BRAKEMAN_REPORT = {
    "scan_info": {"app_path": "/rails", "rails_version": "8.0.1", "security_warnings": 2,
                  "start_time": "2026-09-01 09:00:00 +0000",
                  "end_time": "2026-09-01 09:00:03 +0000", "duration": 2.9,
                  "checks_performed": ["SQL", "Execute", "Render"],
                  "number_of_controllers": 9, "number_of_models": 7,
                  "number_of_templates": 4, "ruby_version": "3.3.6",
                  "brakeman_version": "7.0.2"},
    "warnings": [
        {"warning_type": "Remote Code Execution", "warning_code": 24,
         "fingerprint": "ab" * 32, "check_name": "Execute",
         "message": "Possible command injection", "file": "app/models/export.rb",
         "line": 41, "link": "https://brakemanscanner.org/docs/warning_types/command_injection/",
         "code": "`tar -czf #{params[:name]}`", "render_path": None,
         "location": {"type": "method", "class": "Export", "method": "archive"},
         "user_input": "params[:name]", "confidence": "Medium", "cwe_id": [77]},
        {"warning_type": "SQL Injection", "warning_code": 0, "fingerprint": "cd" * 32,
         "check_name": "SQL", "message": "Possible SQL injection",
         "file": "app/controllers/rainbows_controller.rb", "line": 18,
         "link": "https://brakemanscanner.org/docs/warning_types/sql_injection/",
         "code": "RainbowSighting.where(\"name = '#{params[:q]}'\")", "render_path": None,
         "location": {"type": "method", "class": "RainbowsController", "method": "index"},
         "user_input": "params[:q]", "confidence": "High", "cwe_id": [89]},
    ],
    "ignored_warnings": [{"warning_type": "Cross-Site Scripting", "confidence": "Weak"}],
    "errors": [{"error": "Could not parse app/views/x.html.erb", "location": "erb"}],
    "obsolete": [],
}


def test_brakeman_json_report() -> None:
    """presidentbeef/brakeman lib/brakeman/report/report_json.rb and
    lib/brakeman/warning.rb#to_hash; exit 3 (warnings) and 7 (errors) still write it."""
    output = "[Notice] Brakeman is scanning…\n" + json.dumps(BRAKEMAN_REPORT, indent=2)
    report = parse_brakeman(output)
    assert report is not None and report.complete
    assert (report.brakeman_version, report.rails_version, report.checks) == ("7.0.2", "8.0.1", 3)
    assert report.ignored == 1 and report.errors == ("Could not parse app/views/x.html.erb",)
    sql = next(w for w in report.warnings if w.check_name == "SQL")
    assert (sql.confidence, sql.where, sql.warning_code) == (
        "High", "app/controllers/rainbows_controller.rb:18", 0)


def test_brakeman_hostile_values() -> None:
    odd = json.loads(json.dumps(BRAKEMAN_REPORT))
    odd["warnings"][0]["line"] = "41; rm -rf /"
    odd["warnings"][0]["confidence"] = "Low"  # older Brakemans' word for Weak
    odd["warnings"].append({"message": "no type"})
    odd["scan_info"] = "garbled"
    report = parse_brakeman(json.dumps(odd))
    assert report is not None and not report.complete
    assert report.warnings[0].line is None and report.warnings[0].confidence == "Weak"
    assert report.brakeman_version == ""


def test_a_report_object_among_others() -> None:
    text = 'App Host: app-1\n{"not": "it"}\n{"scan_info": {}, "warnings": []}\n'
    assert report_object(text, ("scan_info", "warnings")) == {"scan_info": {}, "warnings": []}


def test_gem_requirements_as_rubygems_reads_them() -> None:
    """rubygems lib/rubygems/version.rb (segments, prereleases, trailing zeros) and
    lib/rubygems/requirement.rb (~> bumps the next-to-last segment)."""
    assert GemVersion("1.0") == GemVersion("1") and GemVersion("1.0.0.a") < GemVersion("1.0")
    assert GemVersion("1.13.10") > GemVersion("1.13.4")
    assert satisfies("3.0.15", "~> 3.0.14") and not satisfies("3.1.0", "~> 3.0.14")
    assert satisfies("2.0.9.1", "~> 2.0.9, >= 2.0.9.1") and not satisfies("2.0.9", "~> 2.0.9, >= 2.0.9.1")
    assert satisfies("3.1", "~> 3.0") and not satisfies("4.0", "~> 3.0")
    assert not satisfies("1.0", "garbage") and satisfies("1.2", "1.2")
    assert fix_for("3.1.10", ["~> 2.2.13", "~> 3.0.14", ">= 3.1.12"]) == ">= 3.1.12"
    assert fix_for("2.2.3", ["~> 2.0.9, >= 2.0.9.1", "~> 2.1.4, >= 2.1.4.1",
                             ">= 2.2.3.1"]) == ">= 2.2.3.1"
    assert fix_for("9.0", [">= 1.0"]) is None


def test_the_audit_rule() -> None:
    """High or critical: critical; anything else found: warning; none: ok; a cut
    report with nothing read: unknown, never ok."""
    report = parse_bundler_audit(_audit_json(AUDIT_JSON_RESULTS))
    assert report is not None
    judged = judge_audit(report)
    assert judged.outcome == "critical"
    assert judged.figures == {"advisories": 2.0, "gems": 2.0, "critical": 1.0,
                              "insecure_sources": 1.0}
    en, ja = judged.phrase.text(language("en")), judged.phrase.text(language("ja"))
    assert "rack 2.2.3: CVE-2022-30123 (criticality: critical), upgrade to >= 2.2.3.1" in en
    assert "remove or disable the gem" in en and "git://github.com/rails/jquery-ujs.git" in en
    assert "CVE-2022-30123" in ja and "に上げる" in ja
    assert judged.lines[0].startswith("rack 2.2.3 · CVE-2022-30123 GHSA-wq4h-7r42-5hrr · critical")
    # Raising the line to critical: a high advisory is a warning.
    high = json.loads(_audit_json(AUDIT_JSON_RESULTS[1:2]))
    high["results"][0]["advisory"]["criticality"] = "high"
    high_report = parse_bundler_audit(json.dumps(high))
    assert high_report is not None
    assert judge_audit(high_report).outcome == "critical"
    assert judge_audit(high_report, "critical").outcome == "warning"
    no_score = parse_bundler_audit(_audit_json(AUDIT_JSON_RESULTS[2:]))
    assert no_score is not None and judge_audit(no_score).outcome == "warning"
    clean = parse_bundler_audit(_audit_json([]))
    assert clean is not None and judge_audit(clean).outcome == "ok"
    cut = parse_bundler_audit('{"type":"unknown_kind"}')
    assert cut is None
    garbled = parse_bundler_audit(_audit_json([{"type": "unpatched_gem", "gem": "x"}]))
    assert garbled is not None and judge_audit(garbled).outcome == "unknown"


def test_the_brakeman_rule() -> None:
    report = parse_brakeman(json.dumps(BRAKEMAN_REPORT))
    assert report is not None
    judged = judge_brakeman(report)
    assert judged.outcome == "critical" and judged.figures["critical"] == 1.0
    en = judged.phrase.text(language("en"))
    assert en.startswith("Brakeman 7.0.2: 2 warnings, 1 of them critical")
    assert "SQL Injection (high confidence) at app/controllers/rainbows_controller.rb:18" in en
    assert "could not parse 1 file (not scanned)" in en
    assert judged.lines[0].startswith("High · SQL Injection")
    only_medium = json.loads(json.dumps(BRAKEMAN_REPORT))
    only_medium["warnings"] = only_medium["warnings"][:1]
    only_medium["errors"] = []
    parsed = parse_brakeman(json.dumps(only_medium))
    assert parsed is not None
    assert judge_brakeman(parsed).outcome == "warning"
    assert judge_brakeman(parsed, "Medium").outcome == "critical"
    only_medium["warnings"] = []
    clean = parse_brakeman(json.dumps(only_medium))
    assert clean is not None and judge_brakeman(clean).outcome == "ok"


BASE = '[service]\nkamal_service = "api"\nhealth_url = "https://api.example.com/up"\n'


@pytest.mark.parametrize(("section", "key"), [
    ('[security]\nbundler_audit = "container"\n', "security.bundler_audit"),
    ('[security]\nbrakeman_command = "bundle exec \'brakeman"\n', "security.brakeman_command"),
    ('[security]\nbundler_audit_command = "  "\n', "security.bundler_audit_command"),
    ('[security]\ntimeout_s = 0\n', "security.timeout_s"),
    ('[security]\ncritical_criticality = "severe"\n', "security.critical_criticality"),
    ('[security]\ncritical_confidence = "Low"\n', "security.critical_confidence"),
    ('[security]\nscanner = "x"\n', "security"),
])
def test_security_config_is_validated(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + section, "config.toml")
    assert raised.value.key.startswith(key), raised.value


def test_the_commands_where_they_run() -> None:
    """basecamp/kamal lib/kamal/cli/app.rb#exec: --reuse (docker exec in the running
    container), --primary (class option, lib/kamal/cli/base.rb); -d as for every
    kamal command."""
    config = parse_config(BASE + '[kamal]\ndestination = "staging"\n'
                          '[security]\nbundler_audit = "kamal"\n', "config.toml")
    runner = CommandRunner(config)
    audit = scan_command(config.security, "bundler_audit")
    assert audit.kind == "kamal" and not audit.destructive
    assert runner.preview(audit) == (
        "bundle exec kamal app exec --primary --reuse "
        "'bundle exec bundler-audit check --update --format json' -d staging")
    brakeman = scan_command(config.security, "brakeman")
    assert brakeman.kind == "local"
    assert brakeman.argv == ("bundle", "exec", "brakeman", "-f", "json", "--no-pager", "-q")


def _checkout(tmp_path: Path, script: str) -> Path:
    """An app checkout whose ``bundle`` is the demo's stand-in of the scanners."""
    checkout = tmp_path / "app"
    (checkout / "bin").mkdir(parents=True)
    bundle = checkout / "bin" / "bundle"
    bundle.write_text(f"#!{sys.executable}\n{script}")
    bundle.chmod(bundle.stat().st_mode | stat.S_IXUSR)
    return checkout


STAND_IN = """\
import shlex, sys
from rainbow_tui.demo.security_scanners import VULNERABLE_GEM_PINS, scanner_output
code, text = scanner_output(shlex.join(["bundle", *sys.argv[1:]]), VULNERABLE_GEM_PINS)
sys.stdout.write(text)
sys.exit(code)
"""


def _context(tmp_path: Path, checkout: Path) -> RoutineContext:
    config = parse_config(
        BASE + f'[kamal]\nworkdir = "{checkout}"\n[security]\n'
        'bundler_audit_command = "bin/bundle exec bundler-audit check --update --format json"\n'
        'brakeman_command = "bin/bundle exec brakeman -f json --no-pager -q"\n'
        'timeout_s = 60\n', "config.toml")
    return RoutineContext(config, CommandRunner(config))


def test_checkout_scan_exits_1_with_a_finding(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """bundler-audit lib/bundler/audit/cli.rb: ``exit(1) if report.vulnerable?`` —
    the report decides, not the exit code."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    context = _context(tmp_path, _checkout(tmp_path, STAND_IN))
    result = asyncio.run(bundler_audit_scan(context))
    assert result.outcome == "critical", result
    assert result.figures["advisories"] == 2.0
    said = result.phrase.text(language("en"))
    assert "rack 3.1.10: CVE-2025-27610 (criticality: high), upgrade to >= 3.1.12" in said
    brakeman = asyncio.run(brakeman_scan(context))
    assert brakeman.outcome == "ok" and brakeman.figures["ignored"] == 1.0


def test_a_scanner_that_is_missing_is_unknown(tmp_path: Path) -> None:
    broken = _checkout(tmp_path, "import sys\nprint(\"bundler: command not found: "
                                 "bundler-audit\\nInstall missing gem executables with "
                                 "`bundle install`\")\nsys.exit(127)\n")
    result = asyncio.run(bundler_audit_scan(_context(tmp_path, broken)))
    assert result.outcome == "unknown"
    said = result.phrase.text(language("en"))
    assert "bundler-audit gave no report (exit 127)" in said
    assert "command not found: bundler-audit" in said
    (broken / "bin" / "bundle").unlink()
    missing = asyncio.run(brakeman_scan(_context(tmp_path, broken)))
    assert missing.outcome == "unknown" and "Brakeman gave no report" in missing.phrase.text(
        language("en"))
