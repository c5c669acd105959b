"""bundler-audit's report read into advisories: its JSON format, and the text
format an older bundler-audit (or one run without ``--format``) prints.

Transcribed from rubysec/bundler-audit:

- ``lib/bundler/audit/cli/formats/json.rb`` writes ``Report#to_h``
  (``lib/bundler/audit/report.rb``): ``{"version", "created_at", "results": […]}``,
  each result ``{"type": "unpatched_gem", "gem": {"name", "version"}, "advisory":
  {…}}`` (``results/unpatched_gem.rb``) or ``{"type": "insecure_source", "source"}``
  (``results/insecure_source.rb``).  The advisory is ``Advisory#to_h``
  (``advisory.rb``): ``id`` (the file's name, e.g. ``CVE-2025-27610``), ``cve`` and
  ``ghsa`` without their prefixes, ``url``, ``title``, ``patched_versions`` (each a
  requirement such as ``"~> 3.0.14"``), ``criticality`` (none/low/medium/high/
  critical from the CVSS score, null without one).
- ``lib/bundler/audit/cli/formats/text.rb`` prints per advisory ``Name:``,
  ``Version:``, ``CVE:``/``GHSA:`` (when known), ``Criticality:``, ``URL:``,
  ``Title:`` (or ``Description:`` and an indented text with ``--verbose``) and
  ``Solution: update to '…', '…'`` or ``Solution: remove or disable this gem until
  a patch is available!``; ``Insecure Source URI found: URI``; then ``Vulnerabilities
  found!`` or ``No vulnerabilities found``.  Thor colours them on a terminal.
- ``lib/bundler/audit/cli.rb``: ``check`` exits 1 when it found something, and also
  when it could not run (no Gemfile.lock, the database update failed); only the
  report tells the two apart.

Whatever the command printed is remote text: every value is kept as a plain
string, never interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rainbow_tui.scans.output_json import MAX_FIELD_CHARS, field_text, json_objects, report_object

__all__ = ["AuditReport", "Criticality", "GemAdvisory", "parse_bundler_audit"]

Criticality = Literal["none", "low", "medium", "high", "critical", "unknown"]
_CRITICALITIES: frozenset[str] = frozenset({"none", "low", "medium", "high", "critical"})
# What is read of a command's output at most: a report is kilobytes, not megabytes.
MAX_TEXT_CHARS = 4_000_000
# Thor's colours as the console's inert text shows them (ESC made visible) or raw.
_COLOUR = re.compile(r"(?:\x1b|\u241b)\[[0-9;]*m")
_FIELD = re.compile(r"^(Name|Version|CVE|GHSA|Criticality|URL|Title|Solution|Description):"
                    r"\s?(.*)$")
_QUOTED = re.compile(r"'([^']*)'")
_INSECURE = re.compile(r"^Insecure Source URI found: (\S+)")
FOUND = "Vulnerabilities found!"
NOT_FOUND = "No vulnerabilities found"


@dataclass(frozen=True)
class GemAdvisory:
    """One advisory against one gem of the Gemfile.lock."""

    gem: str
    version: str
    # The advisory's own id (its file in ruby-advisory-db): a CVE or a GHSA id.
    id: str
    criticality: Criticality
    title: str = ""
    url: str = ""
    cve: str = ""  # "CVE-2025-27610"
    ghsa: str = ""  # "GHSA-7wqh-767x-r66v"
    # The versions that fix it (``~> 3.0.14``, ``>= 3.1.12``); none: no fix yet.
    patched_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditReport:
    advisories: tuple[GemAdvisory, ...]
    insecure_sources: tuple[str, ...]
    format: Literal["json", "text"]
    # False when the output was cut or garbled: what was read is all there is to
    # go on, and there may be more.
    complete: bool = True
    version: str = ""  # bundler-audit's own (JSON only)

    @property
    def vulnerable(self) -> bool:
        return bool(self.advisories or self.insecure_sources)


def _prefixed(prefix: str, value: object) -> str:
    text = field_text(value)
    if not text:
        return ""
    return text if text.upper().startswith(prefix) else f"{prefix}{text}"


def _criticality(value: object) -> Criticality:
    text = field_text(value).strip().lower()
    if text in _CRITICALITIES:
        return text  # type: ignore[return-value]
    return "unknown"


def _versions(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(field_text(item) for item in value if field_text(item))


def _advisory(result: Mapping[str, Any]) -> GemAdvisory | None:
    gem, advisory = result.get("gem"), result.get("advisory")
    if not isinstance(gem, dict) or not isinstance(advisory, dict):
        return None
    name = field_text(gem.get("name"))
    identifier = field_text(advisory.get("id"))
    if not name or not identifier:
        return None
    return GemAdvisory(
        gem=name,
        version=field_text(gem.get("version")),
        id=identifier,
        criticality=_criticality(advisory.get("criticality")),
        title=field_text(advisory.get("title")),
        url=field_text(advisory.get("url")),
        cve=_prefixed("CVE-", advisory.get("cve")),
        ghsa=_prefixed("GHSA-", advisory.get("ghsa")),
        patched_versions=_versions(advisory.get("patched_versions")),
    )


def _from_results(results: Iterable[object]) -> tuple[list[GemAdvisory], list[str], bool]:
    advisories: list[GemAdvisory] = []
    sources: list[str] = []
    readable = True
    for result in results:
        kind = result.get("type") if isinstance(result, dict) else None
        if kind == "unpatched_gem" and isinstance(result, dict):
            advisory = _advisory(result)
            if advisory is None:
                readable = False
            else:
                advisories.append(advisory)
        elif kind == "insecure_source" and isinstance(result, dict):
            sources.append(field_text(result.get("source")) or "?")
        else:
            readable = False  # a kind this console does not know: say it may miss one
    return advisories, sources, readable


def _from_json(text: str) -> AuditReport | None:
    report = report_object(text, ("version", "results"))
    if report is not None and isinstance(report["results"], list):
        advisories, sources, readable = _from_results(report["results"])
        return AuditReport(tuple(advisories), tuple(sources), "json", readable,
                           field_text(report["version"]))
    # The report cut short (a line past the output's limit): its results that
    # arrived whole are still advisories.
    salvaged = [value for _start, value in json_objects(text)
                if value.get("type") in ("unpatched_gem", "insecure_source")]
    if not salvaged:
        return None
    advisories, sources, _readable = _from_results(salvaged)
    return AuditReport(tuple(advisories), tuple(sources), "json", complete=False)


def _solution(value: str) -> tuple[str, ...]:
    if not value.startswith("update to"):
        return ()  # "remove or disable this gem until a patch is available!"
    return tuple(part.strip() for part in _QUOTED.findall(value) if part.strip())


def _from_text(text: str) -> AuditReport | None:
    advisories: list[GemAdvisory] = []
    sources: list[str] = []
    fields: dict[str, str] = {}
    verdict = ""
    in_description = False

    def flush() -> None:
        name, identifier = fields.get("Name", ""), fields.get("CVE") or fields.get("GHSA", "")
        if name:
            advisories.append(GemAdvisory(
                gem=name, version=fields.get("Version", ""),
                id=identifier or fields.get("URL", "") or "?",
                criticality=_criticality(fields.get("Criticality")),
                title=fields.get("Title", ""), url=fields.get("URL", ""),
                cve=fields.get("CVE", ""), ghsa=fields.get("GHSA", ""),
                patched_versions=_solution(fields.get("Solution", ""))))
        fields.clear()

    for raw in text.splitlines():
        line = _COLOUR.sub("", raw).rstrip()
        if in_description and (line.startswith("  ") or not line):
            continue
        in_description = False
        if line.startswith((FOUND, NOT_FOUND)):
            verdict = line
            continue
        if insecure := _INSECURE.match(line):
            sources.append(insecure[1][:MAX_FIELD_CHARS])
            continue
        match = _FIELD.match(line)
        if match is None:
            continue
        key, value = match[1], match[2].strip()[:MAX_FIELD_CHARS]
        if key == "Name":
            flush()
        if key == "Description":
            in_description = True
            continue
        fields[key] = value
    flush()
    if not verdict and not advisories and not sources:
        return None
    # A report ends with its verdict; one that found something but says nothing
    # was cut, and one that says "none" but lists advisories is garbled.
    complete = (verdict.startswith(FOUND) and bool(advisories or sources)) or (
        verdict.startswith(NOT_FOUND) and not advisories and not sources)
    return AuditReport(tuple(advisories), tuple(sources), "text", complete)


def parse_bundler_audit(output: str) -> AuditReport | None:
    """The report in what ``bundler-audit check`` printed (with whatever came
    around it), or None when there is none: the command did not run as a check."""
    text = output[:MAX_TEXT_CHARS]
    return _from_json(text) or _from_text(text)
