"""Brakeman's JSON report read into warnings.

Transcribed from presidentbeef/brakeman:

- ``lib/brakeman/report/report_json.rb``: ``JSON.pretty_generate`` of
  ``{"scan_info", "warnings", "ignored_warnings", "errors", "obsolete"}``;
  ``scan_info`` has ``app_path``, ``rails_version``, ``security_warnings``,
  ``checks_performed``, ``brakeman_version`` …; each error ``{"error", "location"}``.
- ``lib/brakeman/warning.rb#to_hash``: each warning's ``warning_type``,
  ``warning_code``, ``fingerprint``, ``check_name``, ``message``, ``file``
  (relative), ``line``, ``link``, ``code``, ``location``, ``user_input``,
  ``confidence`` (``TEXT_CONFIDENCE``: High, Medium, Weak) and ``cwe_id``.
- ``lib/brakeman.rb`` and ``commandline.rb``: exit 3 when there are warnings
  (``--exit-on-warn``, the default), 7 when files could not be parsed
  (``--exit-on-error``), 4 when there is no Rails app; the report is written all
  the same for 3 and 7.

Whatever the command printed is remote text: every value is kept as a plain
string, never interpreted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rainbow_tui.scans.output_json import field_text, report_object

__all__ = ["BrakemanReport", "BrakemanWarning", "Confidence", "parse_brakeman"]

Confidence = Literal["High", "Medium", "Weak", "unknown"]
_CONFIDENCES: dict[str, Confidence] = {"high": "High", "medium": "Medium", "weak": "Weak",
                                       # Older Brakemans said Low for Weak.
                                       "low": "Weak"}
MAX_TEXT_CHARS = 8_000_000


@dataclass(frozen=True)
class BrakemanWarning:
    warning_type: str  # "SQL Injection"
    confidence: Confidence
    message: str
    file: str = ""
    line: int | None = None
    link: str = ""
    check_name: str = ""
    warning_code: int | None = None
    fingerprint: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True)
class BrakemanReport:
    warnings: tuple[BrakemanWarning, ...]
    ignored: int  # warnings the team marked as reviewed (config/brakeman.ignore)
    errors: tuple[str, ...]  # files Brakeman could not parse: the scan missed them
    brakeman_version: str = ""
    rails_version: str = ""
    checks: int = 0
    # False when a warning could not be read: there may be more than shown.
    complete: bool = True


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _warning(item: Mapping[str, Any]) -> BrakemanWarning | None:
    kind = field_text(item.get("warning_type"))
    if not kind:
        return None
    return BrakemanWarning(
        warning_type=kind,
        confidence=_CONFIDENCES.get(field_text(item.get("confidence")).lower(), "unknown"),
        message=field_text(item.get("message")),
        file=field_text(item.get("file")),
        line=_number(item.get("line")),
        link=field_text(item.get("link")),
        check_name=field_text(item.get("check_name")),
        warning_code=_number(item.get("warning_code")),
        fingerprint=field_text(item.get("fingerprint")),
    )


def parse_brakeman(output: str) -> BrakemanReport | None:
    """The report in what ``brakeman -f json`` printed (with whatever came around
    it), or None when there is none: Brakeman did not get to its report."""
    report = report_object(output[:MAX_TEXT_CHARS], ("scan_info", "warnings"))
    if report is None or not isinstance(report["warnings"], list):
        return None
    warnings: list[BrakemanWarning] = []
    complete = True
    for item in report["warnings"]:
        warning = _warning(item) if isinstance(item, dict) else None
        if warning is None:
            complete = False
        else:
            warnings.append(warning)
    info = report["scan_info"] if isinstance(report["scan_info"], dict) else {}
    ignored = report.get("ignored_warnings")
    errors = report.get("errors")
    checks = info.get("checks_performed")
    return BrakemanReport(
        warnings=tuple(warnings),
        ignored=len(ignored) if isinstance(ignored, list) else 0,
        errors=tuple(
            field_text(error.get("error")) if isinstance(error, dict) else field_text(error)
            for error in (errors if isinstance(errors, list) else [])
        ),
        brakeman_version=field_text(info.get("brakeman_version")),
        rails_version=field_text(info.get("rails_version")),
        checks=len(checks) if isinstance(checks, list) else 0,
        complete=complete,
    )
