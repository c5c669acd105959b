"""What one send answered, and trying again with backoff when it is worth it.

A failed send is data, not an exception: ``Delivery`` says whether it went out,
why not (a ``Phrase``, said in the reader's language), and whether another try
may succeed (a rate limit, a server error, the network) and after how long the
service asked to wait (``Retry-After``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from rainbow_tui.text import N_, Phrase

__all__ = ["Delivery", "deliver", "http_failure", "retry_after_s"]


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    detail: Phrase
    retry: bool = False
    retry_after_s: float | None = None

    @classmethod
    def sent(cls, detail: Phrase) -> Delivery:
        return cls(True, detail)

    @classmethod
    def refused(cls, detail: Phrase) -> Delivery:
        """The service said no for good (a bad key, an archived channel)."""
        return cls(False, detail)

    @classmethod
    def try_again(cls, detail: Phrase, after_s: float | None = None) -> Delivery:
        return cls(False, detail, retry=True, retry_after_s=after_s)


def retry_after_s(response: httpx.Response) -> float | None:
    """The seconds ``Retry-After`` asks for (the delta form both services send)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


def http_failure(error: httpx.HTTPError, timeout_s: float) -> Delivery:
    """The request never got an answer: worth another try."""
    if isinstance(error, httpx.TimeoutException):
        return Delivery.try_again(Phrase(N_("notify.timed_out"), seconds=f"{timeout_s:g}"))
    reason = str(error) or type(error).__name__
    return Delivery.try_again(Phrase(N_("notify.unreachable"), reason=reason))


Sleep = Callable[[float], Awaitable[None]]


async def deliver(
    send: Callable[[], Awaitable[Delivery]],
    *,
    first_s: float,
    max_s: float,
    attempts: int,
    sleep: Sleep = asyncio.sleep,
) -> tuple[Delivery, int]:
    """``send`` until it goes out, is refused for good or ``attempts`` are used:
    ``first_s`` between the first two tries, doubling up to ``max_s``; a service's
    ``Retry-After`` is waited out when it asks for longer.  Returns the last answer
    and how many tries it took."""
    delay = first_s
    attempt = 1
    while True:
        result = await send()
        if result.ok or not result.retry or attempt >= attempts:
            return result, attempt
        await sleep(max(delay, result.retry_after_s or 0.0))
        delay = min(delay * 2, max_s)
        attempt += 1
