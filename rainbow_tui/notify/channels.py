"""The configured ways out, with their secrets from the environment.

A target is what the configuration names: ``"pagerduty"``, ``"slack"`` (the
channel of ``[notify.slack]``) or ``"slack:#rainbow-infra"``.  A service whose
variable is unset stays a channel: each send to it fails, by the variable's name,
on the timeline and in ``notify test`` — never silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rainbow_tui.config import Config, target_channel, target_service
from rainbow_tui.incidents.redact import register_known_secrets
from rainbow_tui.notify.delivery import Delivery
from rainbow_tui.notify.pagerduty import PagerDutyAlert, PagerDutyClient
from rainbow_tui.notify.slack import SlackClient, SlackMessage
from rainbow_tui.text import N_, Phrase

__all__ = ["Channels"]


def _unset(variable: str) -> Delivery:
    return Delivery.refused(Phrase(N_("notify.secret_unset"), variable=variable))


class Channels:
    def __init__(self, config: Config, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        notify = config.notify
        self.config = config
        self.pagerduty: PagerDutyClient | None = None
        self.slack: SlackClient | None = None
        # The variable each configured service still waits for ("" when it is set).
        self.missing: dict[str, str] = {}
        secrets: list[str] = []
        if (pd := notify.pagerduty) is not None:
            if key := env.get(pd.routing_key_env, ""):
                self.pagerduty = PagerDutyClient(key, pd.events_url, pd.timeout_s)
                secrets.append(key)
            else:
                self.missing["pagerduty"] = pd.routing_key_env
        if (slack := notify.slack) is not None:
            variable = slack.webhook_env or slack.token_env
            if secret := env.get(variable, ""):
                self.slack = (
                    SlackClient(webhook_url=secret, timeout_s=slack.timeout_s)
                    if slack.through_webhook
                    else SlackClient(token=secret, api_url=slack.api_url,
                                     timeout_s=slack.timeout_s)
                )
                secrets.append(secret)
            else:
                self.missing["slack"] = variable
        # Whatever an error message or a record might echo, redaction hides.
        register_known_secrets(secrets)

    @property
    def any(self) -> bool:
        notify = self.config.notify
        return notify.pagerduty is not None or notify.slack is not None

    def usable(self, target: str) -> bool:
        """The target's service is configured (its secret may still be unset)."""
        return self.config.notify.configured(target_service(target))

    def slack_channel(self, target: str) -> str:
        slack = self.config.notify.slack
        return target_channel(target) or (slack.channel if slack is not None else "")

    def name(self, target: str) -> str:
        """How a record and ``notify test`` name the channel: "pagerduty",
        "slack #rainbow-dev", "slack webhook"."""
        if target_service(target) == "pagerduty":
            return "pagerduty"
        slack = self.config.notify.slack
        if slack is not None and slack.through_webhook:
            return "slack webhook"
        return f"slack {self.slack_channel(target)}"

    def every_target(self) -> list[str]:
        """Each distinct way out the configuration uses, for ``notify test``."""
        notify = self.config.notify
        found = [s for s in ("pagerduty", "slack") if notify.configured(s)]
        named = [t for step in self.config.escalation for t in notify.rung_targets(step)]
        named += notify.infrastructure_targets()
        for target in named:
            if target_channel(target) and target not in found and self.usable(target):
                found.append(target)
        return found

    async def page(self, alert: PagerDutyAlert) -> Delivery:
        if self.pagerduty is None:
            return _unset(self.missing.get("pagerduty", "pagerduty"))
        return await self.pagerduty.send(alert)

    async def post(self, target: str, message: SlackMessage) -> Delivery:
        if self.slack is None:
            return _unset(self.missing.get("slack", "slack"))
        return await self.slack.post(message, self.slack_channel(target))
