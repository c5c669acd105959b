"""A step's verification in words a responder reads ("HTTP check: /up answers 200"),
never its internal name, and a recorded check's detail with numbers and units
("Memory 56.0 % (warn 80 %)") instead of ``host app-1:memory_percent = 55.9701 ≤
warn 80``."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from rainbow_tui.incidents.runbooks import Verification
from rainbow_tui.text import N_, Language, current_language

__all__ = ["check_words", "detail_words", "metric_label", "verification_words"]

CHECK_KEYS: dict[str, str] = {
    "http_ok": N_("verify.check.http_ok"),
    "metric_below": N_("verify.check.metric_below"),
    "sql_scalar_below": N_("verify.check.sql_scalar_below"),
    "none": N_("verify.check.none"),
}
THRESHOLD_KEYS: dict[str, str] = {
    "normal": N_("verify.threshold.normal"),
    "warn": N_("verify.threshold.warn"),
    "critical": N_("verify.threshold.critical"),
}
# A metric's words and unit, by the finding's metric key.
METRICS: dict[str, tuple[str, str]] = {
    "memory_percent": (N_("finding.label.memory"), "%"),
    "cpu_percent": (N_("finding.label.cpu"), "%"),
    "error_rate_percent": (N_("finding.label.error_rate"), "%"),
    "response_time_p95_ms": (N_("finding.label.p95"), "ms"),
    "db_connections": (N_("finding.label.connections"), ""),
    "db_query_time_ms": (N_("finding.label.longest_query"), "ms"),
    "waiting_jobs": (N_("finding.label.waiting"), ""),
    "failed_jobs": (N_("finding.label.failed_backlog"), ""),
    "job_processing_time_s": (N_("finding.label.longest_job"), "s"),
}
_METRIC_VERDICT = re.compile(
    r"(?P<key>[^;=]+?:(?P<metric>[a-z0-9_]+)) = (?P<value>-?[0-9.e+-]+) "
    r"(?P<relation>≤|>) (?P<threshold>normal|warn|critical) (?P<line>-?[0-9.e+-]+)"
)


def _speaker(language: Language | None) -> Language:
    return language or current_language()


def metric_label(metric: str, language: Language | None = None) -> tuple[str, str]:
    """A metric key's words and unit ("Memory", "%"); an unknown one as it is named."""
    known = METRICS.get(metric)
    if known is None:
        return metric.replace("_", " "), ""
    key, unit = known
    return _speaker(language).tr(key), unit


def _number(value: float, unit: str, *, line: bool = False) -> str:
    """A reading with its unit ("56.0 %"); a threshold line as configured ("80 %")."""
    shown = f"{value:,g}" if line else f"{value:,.1f}" if unit in ("%", "s") else f"{value:,.0f}"
    return f"{shown} {unit}".rstrip()


def check_words(check: str, language: Language | None = None) -> str:
    """The kind of check in words ("HTTP check")."""
    key = CHECK_KEYS.get(check)
    return _speaker(language).tr(key) if key is not None else check


def verification_words(
    verify: Verification, health_url: str, language: Language | None = None
) -> str:
    """What the step's verification checks, in a line."""
    speaker = _speaker(language)
    kind = check_words(verify.kind, speaker)
    if verify.kind == "http_ok":
        path = urlsplit(health_url).path or "/"
        return speaker.tr("verify.what.http_ok", check=kind, path=path)
    if verify.kind == "metric_below":
        metric = verify.key.split(":", 1)[-1]
        label, _unit = metric_label(metric, speaker)
        where = verify.key.split(":", 1)[0] if ":" in verify.key else ""
        line = speaker.tr(THRESHOLD_KEYS[verify.threshold])
        return speaker.tr("verify.what.metric_below", check=kind, metric=label,
                          where=where.replace("*", "").strip() or "—", line=line)
    if verify.kind == "sql_scalar_below":
        below = f"{verify.below:g}" if verify.below is not None else "—"
        return speaker.tr("verify.what.sql_scalar_below", check=kind, below=below)
    return speaker.tr("verify.what.none")


def detail_words(detail: str, language: Language | None = None) -> str:
    """A recorded detail with its metric verdicts in words and units; other details
    (an HTTP answer, a query's number) as recorded."""
    speaker = _speaker(language)

    def verdict(match: re.Match[str]) -> str:
        label, unit = metric_label(match.group("metric"), speaker)
        component = match.group("key").rsplit(":", 1)[0]
        try:
            value = _number(float(match.group("value")), unit)
            line = _number(float(match.group("line")), unit, line=True)
        except ValueError:
            return match.group(0)
        threshold = speaker.tr(THRESHOLD_KEYS[match.group("threshold")])
        key = N_("verify.detail.below") if match.group("relation") == "≤" else N_(
            "verify.detail.above")
        return speaker.tr(key, component=component, metric=label, value=value,
                          threshold=threshold, line=line)

    return _METRIC_VERDICT.sub(verdict, detail)
