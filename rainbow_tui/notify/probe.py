"""``rainbow-tui notify test``: one message through every configured channel.

PagerDuty gets an ``info`` alert under a key of its own, resolved at once, so the
test shows on the service without paging anyone for long; each Slack channel the
configuration names gets a message.  One try each: the answer is the diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from rainbow_tui.config import Config, target_service
from rainbow_tui.notify.channels import Channels
from rainbow_tui.notify.messages import trial_texts
from rainbow_tui.notify.pagerduty import PagerDutyAlert
from rainbow_tui.notify.slack import SlackMessage, escape
from rainbow_tui.text import Phrase

__all__ = ["ProbeResult", "probe_channels"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    channel: str
    ok: bool
    detail: Phrase


async def probe_channels(
    config: Config, environ: Mapping[str, str] | None = None
) -> list[ProbeResult]:
    channels = Channels(config, environ)
    headline, body = trial_texts(config)
    now = datetime.now(UTC)
    results: list[ProbeResult] = []
    for target in channels.every_target():
        if target_service(target) == "pagerduty":
            key = f"rainbow-tui/test/{now:%Y%m%dT%H%M%S%f}"
            answer = await channels.page(PagerDutyAlert(
                action="trigger", dedup_key=key, summary=headline,
                source=config.service.kamal_service, severity="info", timestamp=now,
                group="rainbow-tui", class_="notify-test",
                custom_details={"test": body},
            ))
            if answer.ok:
                resolved = await channels.page(PagerDutyAlert(action="resolve", dedup_key=key))
                answer = answer if resolved.ok else resolved
        else:
            answer = await channels.post(
                target, SlackMessage(headline=headline, body=escape(body))
            )
        results.append(ProbeResult(channels.name(target), answer.ok, answer.detail))
    return results
