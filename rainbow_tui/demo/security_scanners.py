"""bundler-audit and Brakeman inside the demo's app container: what
``kamal app exec "bundle exec bundler-audit …"`` and ``"… brakeman …"`` print.

The audit is computed, not canned: the demo app's Gemfile.lock (below, written
into the demo checkout too) against a small advisory list kept here as data,
transcribed from rubysec/ruby-advisory-db (``gems/rack/CVE-2025-27610.yml``,
``gems/rack/CVE-2025-46727.yml``, ``gems/nokogiri/CVE-2022-24836.yml``).  Normally
every gem is past its advisories' fixes; the ``vulnerable-gem`` drill deploys an
image whose lockfile pins rack 3.1.10, which both rack advisories (CVSS 7.5,
high) cover.

Output follows the upstream formats: bundler-audit's ``cli.rb`` (``check``, its
``--update`` messages and database stats, exit 1 on a finding) with
``cli/formats/json.rb`` (``JSON.generate`` of ``Report#to_h``, no newline, as
when stdout is not a terminal) or ``formats/text.rb``; Brakeman's
``report/report_json.rb`` (``JSON.pretty_generate``), exit 3 on a warning.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rainbow_tui.scans.gem_versions import satisfies

__all__ = [
    "ADVISORIES",
    "DEMO_GEMFILE_LOCK",
    "VULNERABLE_GEM_PINS",
    "locked_gems",
    "scanner_output",
    "write_gemfile_lock",
]

BUNDLER_AUDIT_VERSION = "0.9.2"
BRAKEMAN_VERSION = "7.0.2"
RAILS_VERSION = "8.0.1"
RUBY_VERSION = "3.3.6"
ADVISORY_DB_COMMIT = "8cfcc07caea7a1931af181e1c98553e164060da1"
ADVISORY_DB_SIZE = 1234
ADVISORY_DB_PATH = "/rails/.local/share/ruby-advisory-db"
# What the vulnerable-gem drill's image pins (rack before 3.1.12 and 3.1.14).
VULNERABLE_GEM_PINS: dict[str, str] = {"rack": "3.1.10"}

DEMO_GEMFILE_LOCK = """\
GEM
  remote: https://rubygems.org/
  specs:
    actioncable (8.0.1)
    actionpack (8.0.1)
      rack (>= 2.2.4)
      rack-session (>= 1.0.1)
    activejob (8.0.1)
    activerecord (8.0.1)
    activestorage (8.0.1)
    activesupport (8.0.1)
    aws-sdk-s3 (1.177.0)
    bootsnap (1.18.4)
    brakeman (7.0.2)
      racc
    bundler-audit (0.9.2)
      thor (~> 1.0)
    faraday (2.12.2)
    jbuilder (2.13.0)
    kamal (2.4.0)
    nokogiri (1.18.8-x86_64-linux-gnu)
      racc (~> 1.4)
    pg (1.5.9)
    puma (6.5.0)
    racc (1.8.1)
    rack (3.1.16)
    rack-cors (2.0.2)
    rack-session (2.1.0)
    rails (8.0.1)
    rgeo (3.0.1)
    solid_cache (1.0.6)
    solid_queue (1.1.2)
    thor (1.3.2)
    thruster (0.1.10)
    zeitwerk (2.7.1)

PLATFORMS
  x86_64-linux

DEPENDENCIES
  aws-sdk-s3
  bootsnap
  brakeman
  bundler-audit
  faraday
  jbuilder
  kamal
  pg (~> 1.5)
  puma (>= 5.0)
  rack-cors
  rails (~> 8.0.1)
  rgeo
  solid_cache
  solid_queue
  thruster

RUBY VERSION
   ruby 3.3.6p108

BUNDLED WITH
   2.6.2
"""

# ruby-advisory-db entries (their YAML keys), the description shortened.
ADVISORIES: tuple[dict[str, Any], ...] = (
    {
        "path": f"{ADVISORY_DB_PATH}/gems/rack/CVE-2025-27610.yml", "id": "CVE-2025-27610",
        "gem": "rack", "cve": "2025-27610", "ghsa": "7wqh-767x-r66v",
        "url": "https://github.com/rack/rack/security/advisories/GHSA-7wqh-767x-r66v",
        "title": "Local File Inclusion in Rack::Static", "date": "2025-03-10",
        "description": "`Rack::Static` can serve files under the specified `root:` even "
                       "if `urls:` are provided, which may expose other files under the "
                       "specified `root:` unexpectedly.",
        "cvss_v3": 7.5, "patched_versions": ["~> 2.2.13", "~> 3.0.14", ">= 3.1.12"],
    },
    {
        "path": f"{ADVISORY_DB_PATH}/gems/rack/CVE-2025-46727.yml", "id": "CVE-2025-46727",
        "gem": "rack", "cve": "2025-46727", "ghsa": "gjh7-p2fx-99vx",
        "url": "https://github.com/rack/rack/security/advisories/GHSA-gjh7-p2fx-99vx",
        "title": "Rack has an Unbounded-Parameter DoS in Rack::QueryParser",
        "date": "2025-05-08",
        "description": "Rack::QueryParser parses query strings and "
                       "application/x-www-form-urlencoded bodies without limiting the "
                       "number of parameters.",
        "cvss_v3": 7.5, "patched_versions": ["~> 2.2.14", "~> 3.0.16", ">= 3.1.14"],
    },
    {
        "path": f"{ADVISORY_DB_PATH}/gems/nokogiri/CVE-2022-24836.yml", "id": "CVE-2022-24836",
        "gem": "nokogiri", "cve": "2022-24836", "ghsa": "crjr-9rc5-ghw8",
        "url": "https://github.com/sparklemotion/nokogiri/security/advisories/"
               "GHSA-crjr-9rc5-ghw8",
        "title": "Inefficient Regular Expression Complexity in Nokogiri", "date": "2022-04-11",
        "description": "Nokogiri `< v1.13.4` contains an inefficient regular expression "
                       "that is susceptible to excessive backtracking when attempting to "
                       "detect encoding in HTML documents.",
        "cvss_v3": 7.5, "patched_versions": [">= 1.13.4"],
    },
)

# A spec line of the lockfile's GEM section: "    rack (3.1.16)", a platform after
# the version ("1.18.8-x86_64-linux-gnu").
_SPEC = re.compile(r"^    ([A-Za-z0-9_.\-]+) \(([0-9][0-9A-Za-z.]*)(?:-[^)]*)?\)$")


def locked_gems(lockfile: str) -> dict[str, str]:
    """Each locked gem's version (the specs, not their dependencies)."""
    return {m[1]: m[2] for line in lockfile.splitlines() if (m := _SPEC.match(line))}


def write_gemfile_lock(checkout: Path) -> None:
    """The demo app's Gemfile.lock in its checkout, for the operator to read."""
    (checkout / "Gemfile.lock").write_text(DEMO_GEMFILE_LOCK, encoding="utf-8")


def _criticality(advisory: Mapping[str, Any]) -> str | None:
    """advisory.rb#criticality from cvss_v4/v3 (or v2)."""
    score = advisory.get("cvss_v4") or advisory.get("cvss_v3")
    if score is not None:
        return ("none" if score == 0 else "low" if score < 4 else "medium" if score < 7
                else "high" if score < 9 else "critical")
    v2 = advisory.get("cvss_v2")
    if v2 is not None:
        return "low" if v2 < 4 else "medium" if v2 < 7 else "high"
    return None


def _vulnerable(version: str, advisory: Mapping[str, Any]) -> bool:
    """advisory.rb#vulnerable?: neither patched nor unaffected."""
    fixed = [*advisory.get("patched_versions", []), *advisory.get("unaffected_versions", [])]
    return not any(satisfies(version, requirement) for requirement in fixed)


def _results(gems: Mapping[str, str]) -> list[dict[str, Any]]:
    results = []
    for advisory in ADVISORIES:
        version = gems.get(advisory["gem"])
        if version is None or not _vulnerable(version, advisory):
            continue
        record = {key: advisory.get(key) for key in (
            "path", "id", "url", "title", "date", "description", "cvss_v2", "cvss_v3",
            "cvss_v4", "cve", "osvdb", "ghsa")}
        record["unaffected_versions"] = list(advisory.get("unaffected_versions", []))
        record["patched_versions"] = list(advisory["patched_versions"])
        record["criticality"] = _criticality(advisory)
        results.append({"type": "unpatched_gem", "gem": {"name": advisory["gem"],
                                                         "version": version},
                        "advisory": record})
    return results


def _ruby_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000")  # Time#to_s in UTC


def _text_report(results: Sequence[Mapping[str, Any]], quiet: bool) -> str:
    out: list[str] = []
    for result in results:
        advisory = result["advisory"]
        out += [f"Name: {result['gem']['name']}", f"Version: {result['gem']['version']}"]
        if advisory["cve"]:
            out.append(f"CVE: CVE-{advisory['cve']}")
        if advisory["ghsa"]:
            out.append(f"GHSA: GHSA-{advisory['ghsa']}")
        out += [f"Criticality: {(advisory['criticality'] or 'unknown').capitalize()}",
                f"URL: {advisory['url']}", f"Title: {advisory['title']}"]
        patched = ", ".join(f"'{v}'" for v in advisory["patched_versions"])
        out += [f"Solution: update to {patched}" if patched else
                "Solution: remove or disable this gem until a patch is available!", ""]
    if results:
        out.append("Vulnerabilities found!")
    elif not quiet:
        out.append("No vulnerabilities found")
    return "".join(f"{line}\n" for line in out)


def bundler_audit(args: Sequence[str], gems: Mapping[str, str],
                  now: datetime | None = None) -> tuple[int, str]:
    """``bundler-audit ARGS`` (cli.rb): ``check`` (the default task), ``update``,
    ``version``."""
    words = [a for a in args if not a.startswith("-")]
    task = words[0] if words else "check"
    quiet = "-q" in args or "--quiet" in args
    if task == "version" or "--version" in args:
        return 0, f"bundler-audit {BUNDLER_AUDIT_VERSION}\n"
    updating = task == "update" or "--update" in args or "-u" in args
    out = ""
    if updating and not quiet:
        out += ("Updating ruby-advisory-db ...\nAlready up to date.\nUpdated ruby-advisory-db\n"
                f"ruby-advisory-db:\n  advisories:\t{ADVISORY_DB_SIZE} advisories\n"
                "  last updated:\t2026-08-22 08:26:19 -0400\n"
                f"  commit:\t{ADVISORY_DB_COMMIT}\n")
    if task == "update":
        return 0, out
    if task != "check":
        return 1, f'Could not find command "{task}".\n'
    format_name = "text"
    for index, arg in enumerate(args):
        if arg in ("--format", "-F") and index + 1 < len(args):
            format_name = args[index + 1]
        elif arg.startswith("--format="):
            format_name = arg.split("=", 1)[1]
    results = _results(gems)
    if format_name == "json":
        report = {"version": BUNDLER_AUDIT_VERSION,
                  "created_at": _ruby_time(now or datetime.now(UTC)), "results": results}
        out += json.dumps(report, separators=(",", ":"), ensure_ascii=False)
    elif format_name == "text":
        out += _text_report(results, quiet)
    else:
        return 1, out + f"Unknown format: {format_name}\n"
    return (1 if results else 0), out


def brakeman(args: Sequence[str], now: datetime | None = None) -> tuple[int, str]:
    """``brakeman ARGS``: the demo app has nothing to warn about; one warning the
    team reviewed stays in config/brakeman.ignore."""
    if "-v" in args or "--version" in args:
        return 0, f"brakeman {BRAKEMAN_VERSION}\n"
    format_name = "text"
    for index, arg in enumerate(args):
        if arg in ("-f", "--format") and index + 1 < len(args):
            format_name = args[index + 1]
        elif arg.startswith("--format="):
            format_name = arg.split("=", 1)[1]
    moment = now or datetime.now(UTC)
    if format_name != "json":
        return 0, ("== Brakeman Report ==\n\nApplication Path: /rails\n"
                   f"Rails Version: {RAILS_VERSION}\nBrakeman Version: {BRAKEMAN_VERSION}\n\n"
                   "== Overview ==\n\nControllers: 9\nModels: 7\nTemplates: 4\n"
                   "Errors: 0\nSecurity Warnings: 0 (0)\n\n== Warnings ==\n\n"
                   "No warnings found\n\n")
    ignored = {
        "warning_type": "Cross-Site Scripting", "warning_code": 2,
        "fingerprint": "4f0e1a6c3f7d2b1a9e8c7d6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f",
        "check_name": "CrossSiteScripting",
        "message": "Unescaped model attribute", "file": "app/views/rainbows/show.html.erb",
        "line": 12, "link": "https://brakemanscanner.org/docs/warning_types/cross_site_scripting",
        "code": "RainbowSighting.find(params[:id]).caption_html", "render_path": None,
        "location": {"type": "template", "template": "rainbows/show"}, "user_input": None,
        "confidence": "Weak", "cwe_id": [79], "note": "caption_html is sanitized on save",
    }
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S +0000")
    report = {
        "scan_info": {
            "app_path": "/rails", "rails_version": RAILS_VERSION, "security_warnings": 0,
            "start_time": stamp, "end_time": stamp, "duration": 1.84,
            "checks_performed": ["BasicAuth", "CrossSiteScripting", "Execute",
                                 "FileAccess", "MassAssignment", "Redirect", "Render",
                                 "SQL", "Send", "SessionSettings"],
            "number_of_controllers": 9, "number_of_models": 7, "number_of_templates": 4,
            "ruby_version": RUBY_VERSION, "brakeman_version": BRAKEMAN_VERSION,
        },
        "warnings": [], "ignored_warnings": [ignored], "errors": [], "obsolete": [],
    }
    return 0, json.dumps(report, indent=2) + "\n"


def scanner_output(command: str, pins: Mapping[str, str]) -> tuple[int, str] | None:
    """What ``command`` prints in the app container (exit code, output), or None
    when it runs neither scanner.  ``pins``: versions the deployed image locks
    instead of the checkout's."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if argv[:1] in (["bundle"], ["bin/bundle"], ["./bin/bundle"]) and argv[1:2] == ["exec"]:
        argv = argv[2:]
    if argv[:1] in (["bin/brakeman"], ["./bin/brakeman"]):
        argv = ["brakeman", *argv[1:]]
    if not argv:
        return None
    if argv[0] == "bundler-audit":
        return bundler_audit(argv[1:], {**locked_gems(DEMO_GEMFILE_LOCK), **pins})
    if argv[0] == "brakeman":
        return brakeman(argv[1:])
    return None
