"""The notifier: follows the incidents this console records and tells people.

It reads the store's record (the one truth) whenever an incident changed and
finds the events it has not looked at yet: the incident declared goes to the
first rung's channels (and the infrastructure channel for a host's alert), an
escalation to level N to rung N's (and so does a rung come due that nobody
escalated to yet), and each later status change to every channel
told so far — PagerDuty acknowledges and resolves its alert under the incident's
one ``dedup_key``, Slack gets a message.

Sends run as tasks on the event loop, one queue per channel so a channel hears
the news in the order it happened; each is retried with backoff and then goes on
the timeline as a ``NotificationSent`` (delivered or not, with why), which the
notifier itself reads past without telling anyone.  After a restart, events up to
the last one a notification was recorded for are not sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rainbow_tui.config import Config, EscalationStep, target_service
from rainbow_tui.incidents import model
from rainbow_tui.incidents.model import (
    Escalated,
    Event,
    Incident,
    NotificationSent,
    NotifyAction,
)
from rainbow_tui.incidents.store import IncidentStore, StoreError
from rainbow_tui.notify.channels import Channels
from rainbow_tui.notify.delivery import Delivery, deliver
from rainbow_tui.notify.messages import News, news_of, pagerduty_alert, slack_message
from rainbow_tui.notify.pagerduty import PagerDutyAlert
from rainbow_tui.stopping import stop_tasks

__all__ = ["Notifier", "Recorder", "targets_told"]

log = logging.getLogger(__name__)

# Puts an event built from the incident's record on its timeline; False when this
# console no longer holds the incident.
Recorder = Callable[[str, Callable[[Incident], Event]], bool]


@dataclass(frozen=True, slots=True)
class _Send:
    incident: Incident  # as it was when the news was read
    news: News
    target: str
    action: NotifyAction


def _first_rung(config: Config) -> EscalationStep | None:
    return min(config.escalation, key=lambda step: step.level, default=None)


def _rung(config: Config, level: int) -> EscalationStep | None:
    return next((step for step in config.escalation if step.level == level), None)


def _from_host(incident: Incident) -> bool:
    """Opened from a host's alert ("host app-1:memory_percent"): a server problem."""
    return incident.alert is not None and incident.alert.key.startswith("host ")


def _news_targets(config: Config, incident: Incident, news: News) -> list[str]:
    """The channels a declaration or an escalation is sent to."""
    notify = config.notify
    if news.kind == "declared":
        rung = _first_rung(config)
        targets = list(notify.rung_targets(rung)) if rung is not None else []
        if _from_host(incident):
            targets += [t for t in notify.infrastructure_targets() if t not in targets]
        return targets
    if news.kind in ("escalated", "due"):
        rung = _rung(config, news.level)
        return list(notify.rung_targets(rung)) if rung is not None else []
    return []


def _escalated_to(incident: Incident, level: int) -> bool:
    return any(isinstance(e, Escalated) and e.level >= level for e in incident.events)


def targets_told(config: Config, incident: Incident, before: int) -> list[str]:
    """Every channel the incident's declaration and escalations before event
    ``before`` went to, in the order first told."""
    told: list[str] = []
    for event in incident.events:
        if event.id >= before:
            break
        news = news_of(event)
        if news is None:
            continue
        told += [t for t in _news_targets(config, incident, news) if t not in told]
    return told


def _status_action(target: str, news: News) -> NotifyAction | None:
    """What a status change asks of a channel: PagerDuty acts on its alert when
    acknowledged or resolved and hears nothing else; Slack hears every change."""
    if target_service(target) != "pagerduty":
        return "message"
    if news.status == "acknowledged":
        return "acknowledge"
    if news.status == "resolved":
        return "resolve"
    return None


def plan(config: Config, incident: Incident, news: News) -> list[tuple[str, NotifyAction]]:
    """(target, action) of each send the news calls for."""
    if news.kind == "status":
        told = targets_told(config, incident, news.event_id)
        planned = [(t, _status_action(t, news)) for t in told]
        return [(t, action) for t, action in planned if action is not None]
    if news.kind == "due" and _escalated_to(incident, news.level):
        # Escalated to that rung already (auto_escalate does at once): its page says it.
        return []
    return [
        (t, "trigger" if target_service(t) == "pagerduty" else "message")
        for t in _news_targets(config, incident, news)
    ]


def _already_told(incident: Incident) -> int:
    """Where to start reading an incident first seen: after the last event a
    notification was recorded for; a finished one never told of is left alone."""
    told = [e.about for e in incident.events if isinstance(e, NotificationSent)]
    if told:
        return max(told)
    if incident.status in ("resolved", "closed") and incident.last_event is not None:
        return incident.last_event.id
    return 0


class Notifier:
    def __init__(
        self,
        config: Config,
        store: IncidentStore,
        record: Recorder,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.record = record
        self.channels = Channels(config, environ)
        self._seen: dict[str, int] = {}
        self._queues: dict[str, asyncio.Queue[_Send]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False

    def incident_changed(self, incident_id: str) -> None:
        """Read what is new in the incident's record and send what it calls for."""
        if self._closed or not self.channels.any:
            return
        # The console that records an incident is the one that tells people of it.
        if self.store.access(incident_id) != "write":
            return
        try:
            incident = self.store.incident(incident_id)
        except StoreError:
            return
        seen = self._seen.get(incident_id)
        if seen is None:
            seen = _already_told(incident)
        for event in incident.events:
            if event.id <= seen:
                continue
            news = news_of(event)
            if news is None:
                continue
            for target, action in plan(self.config, incident, news):
                self._queue(target).put_nowait(_Send(incident, news, target, action))
        if incident.last_event is not None:
            self._seen[incident_id] = max(seen, incident.last_event.id)

    def _queue(self, target: str) -> asyncio.Queue[_Send]:
        queue = self._queues.get(target)
        if queue is None:
            queue = self._queues[target] = asyncio.Queue()
            worker = asyncio.get_running_loop().create_task(
                self._work(queue), name=f"notify {target}"
            )
            self._workers.append(worker)
        return queue

    async def _work(self, queue: asyncio.Queue[_Send]) -> None:
        while True:
            send = await queue.get()
            try:
                await self._send(send)
            except Exception:
                # One bad send must not silence the channel for the next news.
                log.exception("notifying %s failed", send.target)
            finally:
                queue.task_done()

    async def _attempt(self, send: _Send) -> Delivery:
        if target_service(send.target) == "pagerduty":
            assert send.action != "message"
            return await self.channels.page(
                pagerduty_alert(self.config, send.incident, send.news, send.action)
            )
        return await self.channels.post(
            send.target, slack_message(self.config, send.incident, send.news)
        )

    async def _send(self, send: _Send) -> None:
        notify = self.config.notify
        result, attempts = await deliver(
            lambda: self._attempt(send),
            first_s=notify.retry_first_s,
            max_s=notify.retry_max_s,
            attempts=notify.attempts,
        )
        channel = self.channels.name(send.target)
        detail = result.detail.text()
        if not self.record(
            send.incident.id,
            lambda incident: model.notification_sent(
                incident, channel, send.action, result.ok,
                about=send.news.event_id, attempts=attempts, detail=detail,
            ),
        ):
            log.warning("%s %s of %s: %s, not recorded (incident let go)", channel,
                        send.action, send.incident.id, detail)

    async def acknowledge(self, dedup_key: str) -> tuple[Delivery, int]:
        """PagerDuty acknowledges the alert under ``dedup_key`` (an alert decided on
        the dashboard), tried as every send is; the last answer and the tries."""
        notify = self.config.notify
        return await deliver(
            lambda: self.channels.page(PagerDutyAlert(action="acknowledge", dedup_key=dedup_key)),
            first_s=notify.retry_first_s,
            max_s=notify.retry_max_s,
            attempts=notify.attempts,
        )

    async def drain(self) -> None:
        """Until every send asked for so far has ended and been recorded."""
        await asyncio.gather(*(queue.join() for queue in self._queues.values()))

    async def close(self) -> None:
        """Stop: sends still waiting are dropped (unrecorded, so a restart sends them)."""
        self._closed = True
        await stop_tasks(self._workers)
        self._workers.clear()
