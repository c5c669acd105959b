"""Sentry's new and regressed issues, read through its web API.

``GET /api/0/projects/{organization_slug}/{project_slug}/issues/`` with
``Authorization: Bearer <token>``, the search ``is:unresolved lastSeen:-24h`` and
``statsPeriod=24h`` (each issue then carries its hourly event counts of the day,
``stats["24h"]``), pages followed by the ``Link`` header's
``rel="next"; results="true"; cursor="…"`` as Sentry's pagination documents it.

A poll never raises: an unset token, a refused token (401/403), Sentry's rate limit
(429) or a timeout is the snapshot's ``problem``, said by the findings.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from rainbow_tui.config import SentryConfig

if TYPE_CHECKING:
    import httpx

# What went wrong, for the findings to put in words: "auth" (401/403: the token),
# "rate_limited" (429), "timeout", "unreachable", "http" (another status),
# "invalid" (an answer that is not Sentry's list of issues).
SentryProblem = Literal["auth", "rate_limited", "timeout", "unreachable", "http", "invalid"]
IssueKind = Literal["new", "regressed", "ongoing"]

# One entry of a Link header: <url>; rel="next"; results="true"; cursor="0:100:0".
_LINK_ENTRY = re.compile(r"<(?P<url>[^>]*)>(?P<params>(?:\s*;\s*[a-zA-Z]+=\"[^\"]*\")*)")
_LINK_PARAM = re.compile(r"([a-zA-Z]+)=\"([^\"]*)\"")


@dataclass(frozen=True, slots=True)
class SentryIssue:
    """One issue as the list endpoint returns it (the fields the console shows)."""

    id: str
    short_id: str
    title: str
    culprit: str
    permalink: str
    level: str
    status: str
    substatus: str
    count: int  # events in the issue's life (Sentry sends it as a string)
    user_count: int
    first_seen: datetime
    last_seen: datetime
    is_regression: bool = False
    # Events in the last statsPeriod, from the hourly stats; None when not sent.
    recent_events: int | None = None

    def kind(self, since: datetime) -> IssueKind:
        """New when first seen after ``since``; regressed as Sentry marks it."""
        if self.substatus == "regressed" or self.is_regression:
            return "regressed"
        if self.first_seen >= since:
            return "new"
        return "ongoing"

    @property
    def events(self) -> int:
        """Events to judge: the window's when Sentry sent them, else the life's."""
        return self.recent_events if self.recent_events is not None else self.count


@dataclass(frozen=True, slots=True)
class SentrySnapshot:
    taken_at: datetime
    project: str  # "organization/project"
    window_h: int
    issues: tuple[SentryIssue, ...] = ()
    # Why there is no list: the variable to set (not configured) …
    missing_token_env: str = ""
    # … or what Sentry answered instead.
    problem: SentryProblem | None = None
    error: str = ""
    status: int | None = None
    retry_after_s: float | None = None
    pages: int = 0
    # More pages than ``max_pages``: the list is cut.
    truncated: bool = False

    @property
    def since(self) -> datetime:
        return self.taken_at - timedelta(hours=self.window_h)

    def of_kind(self, kind: IssueKind) -> tuple[SentryIssue, ...]:
        since = self.since
        return tuple(issue for issue in self.issues if issue.kind(since) == kind)


def next_page(link_header: str) -> str | None:
    """The next page's URL from a Link header, when Sentry says it has results."""
    for entry in _LINK_ENTRY.finditer(link_header):
        params = dict(_LINK_PARAM.findall(entry["params"]))
        if params.get("rel") == "next" and params.get("results") == "true":
            return entry["url"]
    return None


def parse_time(text: object) -> datetime:
    """Sentry's ISO 8601 stamps ("2025-01-14T10:02:11.123456Z")."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a timestamp: {text!r}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _recent_events(stats: object, period: str) -> int | None:
    """The sum of ``stats[period]``: ``[[unix_time, events], …]``."""
    if not isinstance(stats, dict):
        return None
    buckets = stats.get(period)
    if not isinstance(buckets, list):
        return None
    total = 0
    for bucket in buckets:
        if isinstance(bucket, list) and len(bucket) == 2 and isinstance(bucket[1], int | float):
            total += int(bucket[1])
    return total


def parse_issue(item: Any, period: str) -> SentryIssue:
    """One issue of the list; raises ValueError (or KeyError) on a foreign shape."""
    if not isinstance(item, dict):
        raise ValueError("an issue is not an object")
    return SentryIssue(
        id=str(item["id"]),
        short_id=str(item.get("shortId") or item["id"]),
        title=str(item.get("title") or ""),
        culprit=str(item.get("culprit") or ""),
        permalink=str(item.get("permalink") or ""),
        level=str(item.get("level") or "error"),
        status=str(item.get("status") or ""),
        substatus=str(item.get("substatus") or ""),
        count=int(item.get("count") or 0),
        user_count=int(item.get("userCount") or 0),
        first_seen=parse_time(item.get("firstSeen")),
        last_seen=parse_time(item.get("lastSeen")),
        is_regression=bool(item.get("isRegression", False)),
        recent_events=_recent_events(item.get("stats"), period),
    )


def stats_period(window_h: int) -> str:
    """The list endpoint's statsPeriod that covers the window: "24h" or "14d"."""
    return "24h" if window_h <= 24 else "14d"


class SentrySource:
    """Polls one project's unresolved issues seen in the window; the HTTP client is
    kept between polls.  ``timeout_s`` bounds the whole poll, every page included."""

    def __init__(self, config: SentryConfig) -> None:
        self.config = config
        self.project = f"{config.organization}/{config.project}"
        self._client: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        config = self.config
        return (
            f"{config.base_url.rstrip('/')}/api/0/projects/"
            f"{quote(config.organization, safe='')}/{quote(config.project, safe='')}/issues/"
        )

    def params(self) -> dict[str, str]:
        window = self.config.window_h
        return {
            "query": f"is:unresolved lastSeen:-{window}h",
            "statsPeriod": stats_period(window),
            "sort": "date",
        }

    async def poll(self) -> SentrySnapshot:
        taken_at = datetime.now(UTC)
        config = self.config
        token = os.environ.get(config.token_env, "")
        if not token:
            return SentrySnapshot(taken_at, self.project, config.window_h,
                                  missing_token_env=config.token_env)
        import httpx  # on first use: not needed for the first frame

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=config.timeout_s, follow_redirects=False)
        try:
            async with asyncio.timeout(config.timeout_s):
                return await self._walk(taken_at, token)
        except (TimeoutError, httpx.TimeoutException):
            return SentrySnapshot(taken_at, self.project, config.window_h, problem="timeout",
                                  error=f"no answer within {config.timeout_s:g} s")
        except httpx.HTTPError as error:
            return SentrySnapshot(taken_at, self.project, config.window_h,
                                  problem="unreachable", error=_describe(error))

    async def _walk(self, taken_at: datetime, token: str) -> SentrySnapshot:
        assert self._client is not None
        config = self.config
        period = stats_period(config.window_h)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        issues: list[SentryIssue] = []
        url: str | None = self.url
        params: dict[str, str] | None = self.params()
        pages = 0
        while url is not None and pages < config.max_pages:
            response = await self._client.get(url, params=params, headers=headers)
            pages += 1
            if response.status_code != 200:
                return self._refused(taken_at, response)
            try:
                body = response.json()
                if not isinstance(body, list):
                    raise ValueError("the answer is not a list of issues")
                issues += [parse_issue(item, period) for item in body]
            except (ValueError, KeyError, TypeError) as error:
                return SentrySnapshot(taken_at, self.project, config.window_h,
                                      problem="invalid", error=str(error), pages=pages)
            # The next page's URL carries the query and the cursor already.
            url, params = next_page(response.headers.get("link", "")), None
        return SentrySnapshot(taken_at, self.project, config.window_h, tuple(issues),
                              pages=pages, truncated=url is not None)

    def _refused(self, taken_at: datetime, response: httpx.Response) -> SentrySnapshot:
        status = response.status_code
        detail = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("detail"), str):
                detail = body["detail"]
        except ValueError:
            pass
        problem: SentryProblem = (
            "auth" if status in (401, 403) else "rate_limited" if status == 429 else "http"
        )
        retry_after: float | None = None
        if status == 429:
            try:
                retry_after = float(response.headers.get("retry-after", ""))
            except ValueError:
                retry_after = None
        return SentrySnapshot(
            taken_at, self.project, self.config.window_h, problem=problem,
            error=f"HTTP {status}" + (f": {detail}" if detail else ""), status=status,
            retry_after_s=retry_after,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _describe(error: httpx.HTTPError) -> str:
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
        link = link.__cause__ or link.__context__
    return f"{type(error).__name__}: {error}"
