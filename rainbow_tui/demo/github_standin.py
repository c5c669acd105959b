"""A local stand-in of GitHub's REST API for the app repository's Dependabot alerts.

GitHub is SaaS: it cannot run here, so this serves the one endpoint the console
reads, shaped as GitHub publishes it (docs.github.com, REST API, "List Dependabot
alerts for a repository", API version 2022-11-28):

* ``GET /repos/{owner}/{repo}/dependabot/alerts`` with ``Authorization: Bearer
  <token>`` (401 ``Bad credentials`` without or with a wrong one; 403 for a token
  that may not read the alerts, or when Dependabot alerts are disabled; 404 for
  another repository);
* ``state`` (a comma-separated list of auto_dismissed, dismissed, fixed, open),
  ``severity``, ``per_page`` (at most 100, default 30) and the cursor ``after``;
  later pages by a ``Link`` header with ``rel="next"`` (and ``rel="prev"``);
* the rate limit's headers on every answer (``X-RateLimit-Limit``,
  ``-Remaining``, ``-Used``, ``-Reset``, ``-Resource: dependabot``); with
  ``rate_limited`` set, a 403 with ``X-RateLimit-Remaining: 0`` as GitHub's
  primary rate limit answers.

The repository's alerts are :func:`baseline_alerts` plus whatever the functions
in ``alert_sources`` return at the time of each request: a drill adds a source
(e.g. a vulnerable gem of its own) and removes it when it stops.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from rainbow_tui.demo.local_http import (
    LocalHTTPServer,
    QuietHandler,
    reply_json,
    request_parts,
)

REPOSITORY = "shiojiri-rainbow/rainbow-seeker-api"
DEMO_TOKEN = "github_pat_demo_rainbow_seeker_read_only"  # a stand-in's token, not a secret
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
RATE_LIMIT = 5000
STATES = ("auto_dismissed", "dismissed", "fixed", "open")
SEVERITIES = ("low", "medium", "high", "critical")
_DAY_S = 86400.0


@dataclass(frozen=True)
class StandInAlert:
    """One Dependabot alert of the stand-in repository."""

    number: int
    ecosystem: str
    package: str
    manifest_path: str
    ghsa_id: str
    cve_id: str | None
    summary: str
    severity: str
    vulnerable_version_range: str
    first_patched_version: str | None
    created_at: float
    state: str = "open"
    scope: str = "runtime"


AlertSource = Callable[[], Iterable[StandInAlert]]


def baseline_alerts(now: float) -> list[StandInAlert]:
    """What the repository has open on a quiet week: one medium advisory of a
    development gem, one low of a runtime gem; and one fixed long ago."""
    return [
        StandInAlert(
            number=41, ecosystem="rubygems", package="rexml", manifest_path="Gemfile.lock",
            ghsa_id="GHSA-vmwr-mc7x-5vc3", cve_id="CVE-2024-49761",
            summary="REXML ReDoS vulnerability", severity="medium",
            vulnerable_version_range="< 3.3.9", first_patched_version="3.3.9",
            created_at=now - 9 * _DAY_S, scope="development",
        ),
        StandInAlert(
            number=44, ecosystem="rubygems", package="rack-session",
            manifest_path="Gemfile.lock", ghsa_id="GHSA-9j94-67jr-4cqj", cve_id=None,
            summary="Rack session cookie may be reused after sign-out",
            severity="low", vulnerable_version_range=">= 2.0.0, < 2.1.1",
            first_patched_version="2.1.1", created_at=now - 3 * _DAY_S,
        ),
        StandInAlert(
            number=37, ecosystem="rubygems", package="nokogiri", manifest_path="Gemfile.lock",
            ghsa_id="GHSA-vvfq-8hwr-qm4m", cve_id="CVE-2025-24928",
            summary="Nokogiri updates packaged libxml2 to v2.13.6",
            severity="high", vulnerable_version_range="< 1.18.3",
            first_patched_version="1.18.3", created_at=now - 40 * _DAY_S, state="fixed",
        ),
    ]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(number: int) -> str:
    # GitHub's cursors are opaque base64; this one hides the last alert's number.
    return base64.urlsafe_b64encode(f"alert:{number}".encode()).decode().rstrip("=")


def _after(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "alert" and number.isdigit() else None


class GithubStandIn:
    """The repository's alerts and the API that lists them (thread-safe: drills
    change the sources from the event loop, the server reads from its threads)."""

    def __init__(self, repository: str = REPOSITORY, token: str = DEMO_TOKEN) -> None:
        self.repository = repository
        self.tokens = {token}
        # Tokens GitHub knows but that may not read the alerts (403).
        self.unscoped_tokens: set[str] = set()
        self.alerts_disabled = False
        self.rate_limited = False
        # Answered instead of the list, for tests of a broken answer.
        self.broken_body: bytes | None = None
        self.requests: list[dict[str, str]] = []  # each request's headers, for tests
        self.created = time.time()
        self.alert_sources: list[AlertSource] = [lambda: baseline_alerts(self.created)]
        self._lock = threading.Lock()
        self._http: LocalHTTPServer | None = None

    # -- the repository -----------------------------------------------------------------

    def add_source(self, source: AlertSource) -> None:
        with self._lock:
            self.alert_sources.append(source)

    def remove_source(self, source: AlertSource) -> None:
        with self._lock:
            if source in self.alert_sources:
                self.alert_sources.remove(source)

    def alerts(self) -> list[StandInAlert]:
        """Every alert, newest (highest number) first, as GitHub sorts by created."""
        with self._lock:
            sources = list(self.alert_sources)
        found = {alert.number: alert for source in sources for alert in source()}
        return sorted(found.values(), key=lambda alert: -alert.number)

    # -- the API ----------------------------------------------------------------------

    def base_url(self) -> str:
        assert self._http is not None
        return self._http.base_url()

    def _html_url(self, alert: StandInAlert) -> str:
        return f"{self.base_url()}/{self.repository}/security/dependabot/{alert.number}"

    def _as_json(self, alert: StandInAlert) -> dict[str, Any]:
        package = {"ecosystem": alert.ecosystem, "name": alert.package}
        patched = ({"identifier": alert.first_patched_version}
                   if alert.first_patched_version else None)
        identifiers = [{"type": "GHSA", "value": alert.ghsa_id}]
        if alert.cve_id:
            identifiers.append({"type": "CVE", "value": alert.cve_id})
        vulnerability = {
            "package": package, "severity": alert.severity,
            "vulnerable_version_range": alert.vulnerable_version_range,
            "first_patched_version": patched,
        }
        created = _iso(alert.created_at)
        return {
            "number": alert.number,
            "state": alert.state,
            "dependency": {"package": package, "manifest_path": alert.manifest_path,
                           "scope": alert.scope, "relationship": "transitive"},
            "security_advisory": {
                "ghsa_id": alert.ghsa_id, "cve_id": alert.cve_id, "summary": alert.summary,
                "description": alert.summary, "vulnerabilities": [vulnerability],
                "severity": alert.severity, "identifiers": identifiers, "references": [],
                "published_at": created, "updated_at": created, "withdrawn_at": None,
            },
            "security_vulnerability": vulnerability,
            "url": f"{self.base_url()}/repos/{self.repository}/dependabot/alerts/{alert.number}",
            "html_url": self._html_url(alert),
            "created_at": created,
            "updated_at": created,
            "dismissed_at": None, "dismissed_by": None, "dismissed_reason": None,
            "dismissed_comment": None,
            "fixed_at": created if alert.state == "fixed" else None,
            "auto_dismissed_at": None,
        }

    def _rate_headers(self, remaining: int) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(RATE_LIMIT - remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "dependabot",
        }

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str],
               url: str) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, extra headers) of one GET."""
        with self._lock:
            self.requests.append(headers)
        docs = "https://docs.github.com/rest/dependabot/alerts"
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token not in self.tokens | (
            self.unscoped_tokens
        ):
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                         "status": "401"}, {}
        if self.rate_limited:
            return 403, {"message": "API rate limit exceeded for user ID 1.",
                         "documentation_url": "https://docs.github.com/rest/overview/"
                                              "rate-limits-for-the-rest-api",
                         "status": "403"}, self._rate_headers(0)
        rate = self._rate_headers(RATE_LIMIT - len(self.requests))
        if path.rstrip("/") != f"/repos/{self.repository}/dependabot/alerts":
            return 404, {"message": "Not Found", "documentation_url": docs,
                         "status": "404"}, rate
        if token in self.unscoped_tokens:
            return 403, {"message": "Resource not accessible by personal access token",
                         "documentation_url": docs, "status": "403"}, rate
        if self.alerts_disabled:
            return 403, {"message": "Dependabot alerts are disabled for this repository.",
                         "documentation_url": docs, "status": "403"}, rate
        try:
            per_page = int((query.get("per_page") or [str(DEFAULT_PER_PAGE)])[0])
        except ValueError:
            per_page = 0
        if not 1 <= per_page <= MAX_PER_PAGE:
            return 422, {"message": "Validation Failed", "documentation_url": docs,
                         "status": "422"}, rate
        states = _words(query.get("state"), STATES)
        severities = _words(query.get("severity"), SEVERITIES)
        if states is None or severities is None:
            return 422, {"message": "Validation Failed", "documentation_url": docs,
                         "status": "422"}, rate
        if "page" in query:
            # This endpoint pages by cursor; GitHub refuses a page number here.
            return 400, {"message": "Pagination using the `page` parameter is not "
                                    "supported. Use `before` or `after` instead.",
                         "documentation_url": docs, "status": "400"}, rate
        after: int | None = None
        if query.get("after"):
            after = _after(query["after"][0])
            if after is None:
                return 400, {"message": "Invalid cursor", "documentation_url": docs,
                             "status": "400"}, rate
        found = [alert for alert in self.alerts()
                 if (not states or alert.state in states)
                 and (not severities or alert.severity in severities)]
        if after is not None:
            found = [alert for alert in found if alert.number < after]
        page = found[:per_page]
        if self.broken_body is not None:
            return 200, None, rate
        body = [self._as_json(alert) for alert in page]
        links = []
        if len(found) > per_page:
            links.append(f'<{self._page_url(url, query, after=_cursor(page[-1].number))}>; '
                         f'rel="next"')
        if after is not None and page:
            links.append(f'<{self._page_url(url, query, before=_cursor(page[0].number))}>; '
                         f'rel="prev"')
        extra = dict(rate)
        if links:
            extra["Link"] = ", ".join(links)
        return 200, body, extra

    def _page_url(self, url: str, query: dict[str, list[str]], **cursor: str) -> str:
        params = {name: values[0] for name, values in query.items()
                  if name not in ("after", "before")}
        params.update(cursor)
        return f"{url}?{urlencode(params)}"

    # -- the server -------------------------------------------------------------------

    def start(self) -> str:
        stand_in = self

        class Handler(QuietHandler):
            server_version = "GitHub.com"
            log = logging.getLogger(__name__)

            def do_GET(self) -> None:
                status, body, extra = stand_in.answer(*request_parts(self))
                broken = stand_in.broken_body
                reply_json(self, status,
                           broken if status == 200 and broken is not None else body,
                           {"X-GitHub-Api-Version-Selected": "2022-11-28", **extra},
                           content_type="application/json; charset=utf-8")

        self._http = LocalHTTPServer(Handler, "demo-github")
        return self._http.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()


def _words(values: list[str] | None, allowed: tuple[str, ...]) -> set[str] | None:
    """A comma-separated filter; None when it names a word GitHub does not know."""
    if not values or not values[0]:
        return set()
    words = {word.strip() for word in values[0].split(",")}
    return words if words <= set(allowed) else None
