"""An incident's news in words, for PagerDuty and Slack.

What leaves the machine is built here and only here, and every value taken from
the record (title, alert detail, an escalation's note) is redacted first, then
escaped for Slack's mrkdwn.  The words are the catalogue's, in the language the
team's channels read (``[notify] language``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from rainbow_tui.config import Config
from rainbow_tui.incidents.model import (
    Escalated,
    EscalationDue,
    Event,
    Incident,
    IncidentStatus,
    StatusChanged,
)
from rainbow_tui.incidents.redact import redact
from rainbow_tui.incidents.timeline import status_word
from rainbow_tui.levels import severity_word
from rainbow_tui.notify.pagerduty import SEVERITY_FOR, EventAction, PagerDutyAlert
from rainbow_tui.notify.slack import SlackMessage, escape
from rainbow_tui.text import Language, language

__all__ = ["News", "alert_dedup_key", "dedup_key", "news_of", "pagerduty_alert",
           "slack_message", "timeline_link"]

# "due": a rung's time passed and nobody escalated to it (told to that rung).
NewsKind = Literal["declared", "escalated", "due", "status"]


@dataclass(frozen=True, slots=True)
class News:
    """One event of the timeline worth telling people about."""

    kind: NewsKind
    event_id: int
    level: int = 0
    role: str = ""
    note: str = ""
    status: IncidentStatus = "detected"


def news_of(event: Event) -> News | None:
    """The news in ``event``, or None for what only the record needs to know."""
    if isinstance(event, StatusChanged):
        if event.status == "detected":
            return News("declared", event.id)
        return News("status", event.id, status=event.status)
    if isinstance(event, Escalated):
        return News("escalated", event.id, level=event.level, role=event.role, note=event.note)
    if isinstance(event, EscalationDue):
        return News("due", event.id, level=event.level, role=event.role)
    return None


def dedup_key(incident_id: str) -> str:
    """One PagerDuty alert per incident: every trigger, acknowledge and resolve of it
    carries this key, whichever console sends it."""
    return f"rainbow-tui/{incident_id}"


def alert_dedup_key(alert_key: str, incident_id: str = "") -> str:
    """The PagerDuty alert a dashboard alert's decision acts on: its incident's page
    when it has one, else a key of its own."""
    return dedup_key(incident_id) if incident_id else f"rainbow-tui/alert/{alert_key}"


def timeline_link(config: Config, incident_id: str) -> str:
    template = config.notify.timeline_url
    return template.format(incident_id=incident_id) if template else ""


def _words(config: Config) -> Language:
    return language(config.notify.language)


def _headline(incident: Incident, news: News, words: Language) -> str:
    title = redact(incident.title)
    severity = severity_word(incident.severity, words)
    if news.kind == "declared":
        return words.tr("notify.headline.declared", severity=severity, title=title)
    if news.kind == "escalated":
        return words.tr("notify.headline.escalated", severity=severity, title=title,
                        level=news.level, role=redact(news.role))
    if news.kind == "due":
        return words.tr("notify.headline.due", severity=severity, title=title,
                        level=news.level, role=redact(news.role))
    return words.tr("notify.headline.status", severity=severity, title=title,
                    status=status_word(news.status, words))


def _alert_parts(incident: Incident) -> tuple[str, str]:
    """(component, class) from the alert's key: "host app-1:memory_percent"."""
    if incident.alert is None:
        return "", incident.runbook
    component, _, metric = incident.alert.key.partition(":")
    return component, metric or component


def _facts(
    config: Config, incident: Incident, news: News, words: Language
) -> list[tuple[str, str]]:
    """(label, value) lines shared by both services, values redacted."""
    facts = [
        (words.tr("notify.fact.incident"), incident.id),
        (words.tr("notify.fact.service"), config.service.name),
        (words.tr("notify.fact.severity"), severity_word(incident.severity, words)),
        (words.tr("notify.fact.status"), status_word(incident.status, words)),
        (words.tr("notify.fact.runbook"), incident.runbook),
        (words.tr("notify.fact.opened"), incident.opened_at.isoformat(timespec="seconds")),
    ]
    if incident.alert is not None:
        alert = incident.alert
        facts.append((words.tr("notify.fact.alert"), redact(alert.key)))
        if alert.detail:
            facts.append((words.tr("notify.fact.detail"), redact(alert.detail)))
    if news.note:
        facts.append((words.tr("notify.fact.note"), redact(news.note)))
    facts.append((words.tr("notify.fact.timeline"),
                  timeline_link(config, incident.id)
                  or f"rainbow-tui incidents show {incident.id}"))
    return facts


def _source(config: Config) -> str:
    """The affected system, as PagerDuty wants it: the service's host name."""
    try:
        return urlsplit(config.service.health_url).hostname or config.service.kamal_service
    except ValueError:
        return config.service.kamal_service


def pagerduty_alert(
    config: Config, incident: Incident, news: News, action: EventAction
) -> PagerDutyAlert:
    key = dedup_key(incident.id)
    if action != "trigger":
        return PagerDutyAlert(action=action, dedup_key=key)
    words = _words(config)
    component, class_ = _alert_parts(incident)
    links = []
    if link := timeline_link(config, incident.id):
        links.append((link, words.tr("notify.link.timeline", id=incident.id)))
    if config.service.health_url:  # empty until Kamal's proxy settings fill it in
        links.append((config.service.health_url, words.tr("notify.link.health")))
    return PagerDutyAlert(
        action="trigger",
        dedup_key=key,
        summary=_headline(incident, news, words),
        source=_source(config),
        severity=SEVERITY_FOR[incident.severity],
        timestamp=incident.opened_at,
        component=component,
        group=incident.runbook,
        class_=class_,
        custom_details=dict(_facts(config, incident, news, words)),
        links=tuple(links),
    )


def slack_message(config: Config, incident: Incident, news: News) -> SlackMessage:
    words = _words(config)
    lines = [f"*{escape(label)}*: {escape(value)}"
             for label, value in _facts(config, incident, news, words)]
    link = timeline_link(config, incident.id)
    context = (f"<{escape(link)}|{escape(words.tr('notify.link.timeline', id=incident.id))}>"
               if link else escape(words.tr("notify.sent_by")))
    return SlackMessage(headline=_headline(incident, news, words), body="\n".join(lines),
                        context=context)


def trial_texts(config: Config) -> tuple[str, str]:
    """The headline and body of ``notify test``'s message."""
    words = _words(config)
    return (words.tr("notify.test.headline", service=config.service.name),
            words.tr("notify.test.body"))

