"""PagerDuty's Events API v2: trigger, acknowledge and resolve one alert per incident.

The shapes are PagerDuty's published ones (developer.pagerduty.com, "Send an Alert
Event"): ``POST /v2/enqueue`` with ``routing_key``, ``event_action`` and
``dedup_key``; a trigger carries ``payload`` (``summary`` of at most 1024
characters, ``source``, ``severity`` one of critical/error/warning/info,
``timestamp``, ``component``, ``group``, ``class``, ``custom_details``) and
``links``.  The answer is 202 ``{"status": "success", "message": "Event
processed", "dedup_key": …}``, 400 ``{"status": "invalid event", "errors": […]}``,
429 when the integration is rate limited, 5xx when PagerDuty itself failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from rainbow_tui.levels import Severity
from rainbow_tui.notify.delivery import Delivery, http_failure, retry_after_s
from rainbow_tui.text import N_, Phrase

__all__ = [
    "SEVERITY_FOR",
    "SUMMARY_LIMIT",
    "PagerDutyAlert",
    "PagerDutyClient",
    "PagerDutySeverity",
    "event_body",
]

EventAction = Literal["trigger", "acknowledge", "resolve"]
PagerDutySeverity = Literal["critical", "error", "warning", "info"]
SUMMARY_LIMIT = 1024

# The manual's alert levels (Critical 即時対応 … Low 計画対応) in PagerDuty's words:
# a critical incident pages at once, a low one is information.
SEVERITY_FOR: dict[Severity, PagerDutySeverity] = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
}


@dataclass(frozen=True, slots=True)
class PagerDutyAlert:
    """One event about the incident's alert; ``dedup_key`` ties them together."""

    action: EventAction
    dedup_key: str
    summary: str = ""
    source: str = ""
    severity: PagerDutySeverity = "error"
    timestamp: datetime | None = None
    component: str = ""
    group: str = ""
    class_: str = ""
    custom_details: dict[str, str] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (href, text)


def event_body(routing_key: str, alert: PagerDutyAlert) -> dict[str, Any]:
    """The JSON of one event.  Acknowledge and resolve need only the key of the
    alert they act on; a trigger describes it."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": alert.action,
        "dedup_key": alert.dedup_key,
    }
    if alert.action != "trigger":
        return body
    summary = alert.summary if len(alert.summary) <= SUMMARY_LIMIT else (
        alert.summary[: SUMMARY_LIMIT - 1] + "…"
    )
    payload: dict[str, Any] = {
        "summary": summary,
        "source": alert.source,
        "severity": alert.severity,
    }
    if alert.timestamp is not None:
        payload["timestamp"] = alert.timestamp.isoformat()
    for name, value in (("component", alert.component), ("group", alert.group),
                        ("class", alert.class_)):
        if value:
            payload[name] = value
    if alert.custom_details:
        payload["custom_details"] = dict(alert.custom_details)
    body["payload"] = payload
    body["client"] = "rainbow-tui"
    if alert.links:
        body["links"] = [{"href": href, "text": text} for href, text in alert.links]
    return body


class PagerDutyClient:
    def __init__(self, routing_key: str, events_url: str, timeout_s: float) -> None:
        self.routing_key = routing_key
        self.events_url = events_url
        self.timeout_s = timeout_s

    async def send(self, alert: PagerDutyAlert) -> Delivery:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(
                    self.events_url, json=event_body(self.routing_key, alert)
                )
        except httpx.HTTPError as error:
            return http_failure(error, self.timeout_s)
        return read_answer(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def read_answer(response: httpx.Response) -> Delivery:
    answer = _json(response)
    status = response.status_code
    if status == 202:
        return Delivery.sent(Phrase(N_("notify.pagerduty.accepted"),
                                    message=str(answer.get("message", "")),
                                    dedup_key=str(answer.get("dedup_key", ""))))
    if status == 429:
        return Delivery.try_again(Phrase(N_("notify.rate_limited"), status=status),
                                  retry_after_s(response))
    if status >= 500:
        return Delivery.try_again(Phrase(N_("notify.server_error"), status=status))
    errors = answer.get("errors")
    reason = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
    said = str(answer.get("status") or answer.get("message") or response.reason_phrase)
    return Delivery.refused(Phrase(N_("notify.refused"), status=status,
                                   reason=f"{said}: {reason}" if reason else said))
