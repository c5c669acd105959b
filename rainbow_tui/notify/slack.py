"""Slack: an incoming webhook, or the Web API's ``chat.postMessage`` with a bot token.

Both take ``{"text": …, "blocks": […]}`` (``text`` is the fallback notifications
show; the Web API also needs ``channel``).  A webhook answers 200 ``ok`` in plain
text, or an error code with its status (400 ``invalid_payload``, 403
``invalid_token``, 404 ``no_team`` / ``channel_not_found``, 410
``channel_is_archived``); ``chat.postMessage`` answers 200 ``{"ok": true, …}`` or
``{"ok": false, "error": "channel_not_found"}``, and 429 with ``Retry-After`` when
rate limited (api.slack.com/messaging/webhooks, /methods/chat.postMessage).

Text is Slack's mrkdwn, where ``&``, ``<`` and ``>`` are markup: :func:`escape`
every value that comes from the incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from rainbow_tui.notify.delivery import Delivery, http_failure, retry_after_s
from rainbow_tui.text import N_, Phrase

__all__ = ["SlackClient", "SlackMessage", "escape"]

# Errors of chat.postMessage that say "later", not "never".
_TRANSIENT = {"ratelimited", "service_unavailable", "internal_error", "fatal_error",
              "request_timeout"}
# Block Kit's limits: a header's plain text, a section's mrkdwn.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """``headline`` plain text (escaped here where it is sent as mrkdwn); ``body``
    and ``context`` mrkdwn, already escaped."""

    headline: str
    body: str
    context: str = ""

    def json(self) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header",
             "text": {"type": "plain_text", "text": _cut(self.headline, HEADER_LIMIT)}},
            {"type": "section",
             "text": {"type": "mrkdwn", "text": _cut(self.body, SECTION_LIMIT)}},
        ]
        if self.context:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": _cut(self.context, SECTION_LIMIT)}]})
        # The fallback text is mrkdwn as well; the header's plain text is not.
        return {"text": escape(self.headline), "blocks": blocks}


class SlackClient:
    """One way in: ``webhook_url`` (its own channel) or ``token`` + ``api_url``."""

    def __init__(
        self, *, webhook_url: str = "", token: str = "", api_url: str = "", timeout_s: float
    ) -> None:
        self.webhook_url = webhook_url
        self.token = token
        self.api_url = api_url
        self.timeout_s = timeout_s

    async def post(self, message: SlackMessage, channel: str) -> Delivery:
        body = message.json()
        headers: dict[str, str] = {}
        if self.webhook_url:
            url = self.webhook_url
        else:
            url = self.api_url
            body["channel"] = channel
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as error:
            return http_failure(error, self.timeout_s)
        if self.webhook_url:
            return read_webhook_answer(response)
        return read_api_answer(response)


def read_webhook_answer(response: httpx.Response) -> Delivery:
    status = response.status_code
    said = response.text.strip()[:200]
    if status == 200 and said == "ok":
        return Delivery.sent(Phrase(N_("notify.slack.posted")))
    if status == 429:
        return Delivery.try_again(Phrase(N_("notify.rate_limited"), status=status),
                                  retry_after_s(response))
    if status >= 500:
        return Delivery.try_again(Phrase(N_("notify.server_error"), status=status))
    return Delivery.refused(Phrase(N_("notify.refused"), status=status,
                                   reason=said or response.reason_phrase))


def read_api_answer(response: httpx.Response) -> Delivery:
    status = response.status_code
    if status == 429:
        return Delivery.try_again(Phrase(N_("notify.rate_limited"), status=status),
                                  retry_after_s(response))
    if status >= 500:
        return Delivery.try_again(Phrase(N_("notify.server_error"), status=status))
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return Delivery.refused(Phrase(N_("notify.refused"), status=status,
                                       reason=response.text.strip()[:200]))
    if answer.get("ok") is True:
        return Delivery.sent(Phrase(N_("notify.slack.posted_at"),
                                    channel=str(answer.get("channel", "")),
                                    ts=str(answer.get("ts", ""))))
    error = str(answer.get("error", "")) or response.reason_phrase
    if error in _TRANSIENT:
        return Delivery.try_again(Phrase(N_("notify.refused"), status=status, reason=error),
                                  retry_after_s(response))
    return Delivery.refused(Phrase(N_("notify.refused"), status=status, reason=error))
