"""The app repository's open Dependabot alerts, read through GitHub's REST API.

``GET /repos/{owner}/{repo}/dependabot/alerts?state=open&per_page=100`` with
``Accept: application/vnd.github+json``, ``Authorization: Bearer <token>`` and
``X-GitHub-Api-Version: 2022-11-28`` (docs.github.com, REST API, "List Dependabot
alerts for a repository"); later pages by the ``Link`` header's ``rel="next"``
URL, which carries GitHub's cursor (this endpoint pages by ``after``, not by a
page number).

A poll never raises: no token, a refused token (401), a repository where
Dependabot alerts are off or the token may not read them (403), GitHub's rate
limit (403 or 429 with ``X-RateLimit-Remaining: 0``, or ``Retry-After``), no such
repository (404), an answer that is not a list of alerts, a timeout: each is the
snapshot's ``problem``, with GitHub's own message beside it, and never "no alerts".
The token is read from the environment for each poll and is never put in a
snapshot; an error text that would carry it has it replaced.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from rainbow_tui.config import ADVISORY_SEVERITIES, GithubConfig
from rainbow_tui.logs.lines import make_inert

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_VERSION",
    "DependabotAlert",
    "DependabotProblem",
    "DependabotSnapshot",
    "DependabotSource",
    "next_page",
    "parse_alert",
]

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
PER_PAGE = 100
REDACTED = "[REDACTED]"

# "auth": 401, the token is wrong or expired; "forbidden": 403, Dependabot alerts
# are off for the repository or the token may not read them; "rate_limited": the
# primary or secondary rate limit; "not_found": 404, no such repository (or one the
# token cannot see: GitHub says 404 then too); "http": another status; "invalid":
# an answer that is not GitHub's list of alerts; "timeout"; "unreachable".
DependabotProblem = Literal[
    "auth", "forbidden", "rate_limited", "not_found", "http", "invalid", "timeout",
    "unreachable",
]

# One entry of a Link header: <url>; rel="next"
_LINK_ENTRY = re.compile(r"<(?P<url>[^>]*)>(?P<params>(?:\s*;\s*[a-zA-Z]+=\"[^\"]*\")*)")
_LINK_PARAM = re.compile(r"([a-zA-Z]+)=\"([^\"]*)\"")


@dataclass(frozen=True, slots=True)
class DependabotAlert:
    """One alert as the list endpoint returns it (the fields the console shows).
    Every text came from GitHub and has been made inert."""

    number: int
    state: str
    ecosystem: str
    package: str
    manifest_path: str
    ghsa_id: str
    cve_id: str  # "" when the advisory has none
    summary: str
    severity: str  # the advisory's: low, medium, high or critical
    vulnerable_version_range: str
    first_patched_version: str  # "" when no fixed version exists yet
    html_url: str
    created_at: datetime

    @property
    def rank(self) -> int:
        """The severity's place, low 0 … critical 3 (an unknown word counts as low)."""
        return ADVISORY_SEVERITIES.index(self.severity) if self.severity in (
            ADVISORY_SEVERITIES) else 0


@dataclass(frozen=True, slots=True)
class DependabotSnapshot:
    taken_at: datetime
    repository: str  # "owner/name"
    alerts: tuple[DependabotAlert, ...] = ()
    # Why there is no list: the variable to set (not configured) …
    missing_token_env: str = ""
    # … or what GitHub answered instead, in its own words (``message``).
    problem: DependabotProblem | None = None
    error: str = ""
    status: int | None = None
    # When the rate limit lifts (X-RateLimit-Reset), or how long to wait (Retry-After).
    rate_limit_reset: datetime | None = None
    retry_after_s: float | None = None
    pages: int = 0
    # More pages than ``max_pages``: the list is cut.
    truncated: bool = False

    @property
    def listed(self) -> bool:
        """True when GitHub's list was read (an empty one included)."""
        return not self.missing_token_env and self.problem is None

    def most_severe_first(self) -> tuple[DependabotAlert, ...]:
        return tuple(sorted(self.alerts, key=lambda alert: (-alert.rank, alert.number)))


def next_page(link_header: str) -> str | None:
    """The ``rel="next"`` URL of a Link header (GitHub's pagination), or None."""
    for entry in _LINK_ENTRY.finditer(link_header):
        params = dict(_LINK_PARAM.findall(entry["params"]))
        if params.get("rel") == "next":
            return entry["url"]
    return None


def parse_time(text: object) -> datetime:
    """GitHub's ISO 8601 stamps ("2025-01-14T10:02:11Z")."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a timestamp: {text!r}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def _text(value: object) -> str:
    return make_inert(value) if isinstance(value, str) else ""


def parse_alert(item: Any) -> DependabotAlert:
    """One alert of the list; raises ValueError (or KeyError) on a foreign shape."""
    alert = _object(item, "an alert")
    dependency = _object(alert["dependency"], "dependency")
    package = _object(dependency["package"], "dependency.package")
    advisory = _object(alert["security_advisory"], "security_advisory")
    vulnerability = _object(alert["security_vulnerability"], "security_vulnerability")
    # null when no version fixes it yet.
    patched = vulnerability.get("first_patched_version")
    number = alert["number"]
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValueError(f"an alert's number is not a number: {number!r}")
    return DependabotAlert(
        number=number,
        state=_text(alert.get("state")),
        ecosystem=_text(package.get("ecosystem")),
        package=_text(package.get("name")),
        manifest_path=_text(dependency.get("manifest_path")),
        ghsa_id=_text(advisory.get("ghsa_id")),
        cve_id=_text(advisory.get("cve_id")),
        summary=_text(advisory.get("summary")),
        severity=_text(advisory.get("severity")).lower(),
        vulnerable_version_range=_text(vulnerability.get("vulnerable_version_range")),
        first_patched_version=_text(patched.get("identifier")) if isinstance(patched, dict)
        else "",
        html_url=_text(alert.get("html_url")),
        created_at=parse_time(alert.get("created_at")),
    )


class DependabotSource:
    """Reads one repository's open alerts; ``timeout_s`` bounds the whole read,
    every page included."""

    def __init__(self, config: GithubConfig) -> None:
        self.config = config
        self.repository = config.repository

    @property
    def url(self) -> str:
        owner, _, name = self.repository.partition("/")
        return (f"{self.config.api_url.rstrip('/')}/repos/{quote(owner, safe='')}/"
                f"{quote(name, safe='')}/dependabot/alerts")

    def _snapshot(self, taken_at: datetime, **values: Any) -> DependabotSnapshot:
        return DependabotSnapshot(taken_at, self.repository, **values)

    async def poll(self) -> DependabotSnapshot:
        taken_at = datetime.now(UTC)
        config = self.config
        token = os.environ.get(config.token_env, "")
        if not token:
            return self._snapshot(taken_at, missing_token_env=config.token_env)
        import httpx  # on first use: not needed for the first frame

        try:
            async with (asyncio.timeout(config.timeout_s),
                        httpx.AsyncClient(timeout=config.timeout_s,
                                          follow_redirects=False) as client):
                return await self._walk(client, taken_at, token)
        except (TimeoutError, httpx.TimeoutException):
            return self._snapshot(taken_at, problem="timeout",
                                  error=f"no answer within {config.timeout_s:g} s")
        except httpx.HTTPError as error:
            return self._snapshot(taken_at, problem="unreachable",
                                  error=_without(_describe(error), token))

    async def _walk(self, client: httpx.AsyncClient, taken_at: datetime,
                    token: str) -> DependabotSnapshot:
        headers = {"Accept": MEDIA_TYPE, "Authorization": f"Bearer {token}",
                   "X-GitHub-Api-Version": API_VERSION}
        alerts: list[DependabotAlert] = []
        url: str | None = self.url
        params: dict[str, str] | None = {"state": "open", "per_page": str(PER_PAGE)}
        pages = 0
        while url is not None and pages < self.config.max_pages:
            response = await client.get(url, params=params, headers=headers)
            pages += 1
            if response.status_code != 200:
                return self._refused(taken_at, response, token, pages)
            try:
                body = response.json()
                if not isinstance(body, list):
                    raise ValueError("the answer is not a list of alerts")
                alerts += [parse_alert(item) for item in body]
            except (ValueError, KeyError, TypeError) as error:
                return self._snapshot(taken_at, problem="invalid", pages=pages,
                                      error=_without(make_inert(str(error)), token))
            # The next page's URL carries the query and GitHub's cursor already.
            url, params = next_page(response.headers.get("link", "")), None
        return self._snapshot(taken_at, alerts=tuple(alerts), pages=pages,
                              truncated=url is not None)

    def _refused(self, taken_at: datetime, response: httpx.Response, token: str,
                 pages: int) -> DependabotSnapshot:
        status = response.status_code
        message = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                message = _without(make_inert(body["message"]), token)[:300]
        except ValueError:
            pass
        headers = response.headers
        reset = _reset_time(headers.get("x-ratelimit-reset", ""))
        retry_after = _seconds(headers.get("retry-after", ""))
        # GitHub's rate limits answer 403 or 429: the primary with no requests left,
        # the secondary with Retry-After (docs: "Rate limits for the REST API").
        limited = status in (403, 429) and (
            headers.get("x-ratelimit-remaining") == "0" or retry_after is not None
            or status == 429
        )
        problem: DependabotProblem
        if limited:
            problem = "rate_limited"
        elif status == 401:
            problem = "auth"
        elif status == 403:
            problem = "forbidden"
        elif status == 404:
            problem = "not_found"
        else:
            problem = "http"
        return self._snapshot(
            taken_at, problem=problem, status=status, pages=pages,
            error=f"HTTP {status}" + (f": {message}" if message else ""),
            rate_limit_reset=reset if limited else None,
            retry_after_s=retry_after if limited else None,
        )


def _reset_time(text: str) -> datetime | None:
    """X-RateLimit-Reset: the end of the window, in UTC epoch seconds."""
    try:
        return datetime.fromtimestamp(int(text), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _seconds(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def _without(text: str, token: str) -> str:
    """``text`` with the token replaced, should an error ever quote it."""
    return text.replace(token, REDACTED) if token else text


def _describe(error: httpx.HTTPError) -> str:
    link: BaseException | None = error
    while link is not None:
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
        link = link.__cause__ or link.__context__
    return f"{type(error).__name__}: {error}"
