"""A local stand-in of Sentry's web API, fed by the demo app's own exceptions.

Sentry is SaaS: it cannot run here, so this serves the one endpoint the console
reads, shaped as Sentry publishes it (docs.sentry.io, "List a Project's Issues"):

* ``GET /api/0/projects/{organization_slug}/{project_slug}/issues/`` with
  ``Authorization: Bearer <token>`` (401 without or with a wrong one, 403 for a
  token without the project's scope, 404 for another project);
* ``query``: ``is:unresolved|resolved|ignored``, ``is:new|ongoing|regressed``
  (Sentry's substatus: new and regressed for 7 days), ``firstSeen:`` /
  ``lastSeen:`` with ``-24h`` or ``>`` / ``<`` an ISO time; anything else is a 400
  as Sentry answers an invalid search;
* ``statsPeriod=24h|14d|""``: each issue's events per hour (per day) as
  ``stats[period] = [[unix_time, count], …]``;
* ``sort=date|new|freq``; 100 issues a page, more by ``cursor`` with a ``Link``
  header (``rel="previous"`` and ``rel="next"``, each with ``results`` and
  ``cursor``).

The app reports as sentry-ruby does: one event per exception, grouped into an
issue by exception class and culprit (the controller action or job).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from rainbow_tui.demo.local_http import (
    LocalHTTPServer,
    QuietHandler,
    reply_json,
    request_parts,
)

ORGANIZATION = "shiojiri-rainbow"
PROJECT = "rainbow-seeker-api"
PROJECT_ID = "4508123456789012"
DEMO_TOKEN = "sntrys_demo_rainbow_seeker_read_only"  # a stand-in's token, not a secret
PAGE_SIZE = 100
# Sentry keeps an issue "new" (and "regressed") for seven days.
SUBSTATUS_DAYS = 7
EVENTS_KEPT = 20_000
_DAY_S = 86400.0
_RELATIVE = re.compile(r"^-(?P<n>\d+)(?P<unit>[smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ISSUES_PATH = re.compile(r"^/api/0/projects/(?P<org>[^/]+)/(?P<project>[^/]+)/issues/?$")


class SearchError(Exception):
    """A search Sentry would refuse (400)."""


@dataclass
class StandInIssue:
    id: int
    short_id: str
    exception_class: str
    message: str
    culprit: str
    level: str
    first_seen: float
    last_seen: float
    count: int = 0
    users: set[str] = field(default_factory=set)
    status: str = "unresolved"
    regressed_at: float | None = None
    events: deque[float] = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))

    @property
    def title(self) -> str:
        # Sentry titles an error "<type>: <value>", the value cut to one line.
        first_line = self.message.split("\n", 1)[0]
        return f"{self.exception_class}: {first_line}"[:200]

    def substatus(self, now: float) -> str:
        if self.status != "unresolved":
            return "archived_until_escalating" if self.status == "ignored" else ""
        window = SUBSTATUS_DAYS * _DAY_S
        if self.regressed_at is not None and now - self.regressed_at < window:
            return "regressed"
        if now - self.first_seen < window:
            return "new"
        return "ongoing"

    def stats(self, period: str, now: float) -> list[list[int]]:
        step, buckets = (3600, 24) if period == "24h" else (86400, 14)
        end = int(now // step) * step
        start = end - (buckets - 1) * step
        counts = [0] * buckets
        for moment in self.events:
            index = int((moment - start) // step)
            if 0 <= index < buckets:
                counts[index] += 1
        return [[start + i * step, counts[i]] for i in range(buckets)]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def _moment(text: str, now: float) -> float:
    relative = _RELATIVE.match(text)
    if relative:
        return now - int(relative["n"]) * _UNITS[relative["unit"]]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"Invalid date value: {text}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _matcher(query: str, now: float) -> Any:
    """A predicate for Sentry's search words the console uses (else SearchError)."""
    tests: list[Any] = []
    for word in query.split():
        key, colon, value = word.partition(":")
        if not colon:
            raise SearchError(f"Free text search is not supported here: {word}")
        if key == "is" and value in ("unresolved", "resolved", "ignored"):
            tests.append(lambda issue, v=value: issue.status == v)
        elif key == "is" and value in ("new", "ongoing", "regressed"):
            tests.append(lambda issue, v=value: issue.substatus(now) == v)
        elif key in ("firstSeen", "lastSeen"):
            field_name = "first_seen" if key == "firstSeen" else "last_seen"
            if value.startswith((">", "<")):
                op, moment = value[0], _moment(value[1:].lstrip("="), now)
            else:
                op, moment = ">", _moment(value, now)  # "-24h": within the last day
            if op == ">":
                tests.append(lambda issue, f=field_name, m=moment: getattr(issue, f) >= m)
            else:
                tests.append(lambda issue, f=field_name, m=moment: getattr(issue, f) < m)
        else:
            raise SearchError(f"Invalid search query: {word}")
    return lambda issue: all(test(issue) for test in tests)


class SentryStandIn:
    """The project's issues (thread-safe: the app reports from the event loop,
    the HTTP server reads from its threads)."""

    def __init__(self, organization: str = ORGANIZATION, project: str = PROJECT,
                 token: str = DEMO_TOKEN, page_size: int = PAGE_SIZE) -> None:
        self.organization = organization
        self.project = project
        self.tokens = {token}
        # Tokens Sentry knows but that may not read this project (403).
        self.unscoped_tokens: set[str] = set()
        self.page_size = page_size
        self.rate_limited = False
        self.requests: list[dict[str, str]] = []  # each request's headers, for tests
        # Told of each new issue, on the reporting thread (the stack's event loop).
        self.new_issue_listeners: list[Callable[[StandInIssue], None]] = []
        self._issues: dict[tuple[str, str], StandInIssue] = {}
        self._lock = threading.Lock()
        self._http: LocalHTTPServer | None = None

    # -- what the app reports ---------------------------------------------------------

    def capture(self, exception_class: str, message: str, culprit: str, *,
                level: str = "error", at: float | None = None, user: str = "") -> StandInIssue:
        """One event, as sentry-ruby sends an exception (grouped by class and culprit)."""
        moment = time.time() if at is None else at
        with self._lock:
            key = (exception_class, culprit)
            issue = self._issues.get(key)
            if issue is None:
                number = len(self._issues) + 1
                issue = StandInIssue(
                    id=4_600_000_000 + number,
                    short_id=f"{self.project.upper()}-{_base32(number)}",
                    exception_class=exception_class, message=message, culprit=culprit,
                    level=level, first_seen=moment, last_seen=moment,
                )
                self._issues[key] = issue
                for listener in self.new_issue_listeners:
                    listener(issue)
            elif issue.status == "resolved":
                # An event of a resolved issue reopens it as a regression.
                issue.status, issue.regressed_at = "unresolved", moment
            issue.count += 1
            issue.last_seen = max(issue.last_seen, moment)
            issue.first_seen = min(issue.first_seen, moment)
            issue.events.append(moment)
            if user:
                issue.users.add(user)
            return issue

    def resolve(self, exception_class: str, culprit: str) -> None:
        with self._lock:
            self._issues[(exception_class, culprit)].status = "resolved"

    def seen(self, exception_class: str) -> bool:
        with self._lock:
            return any(key[0] == exception_class for key in self._issues)

    def issues(self) -> list[StandInIssue]:
        with self._lock:
            return list(self._issues.values())

    # -- the API ----------------------------------------------------------------------

    def base_url(self) -> str:
        assert self._http is not None
        return self._http.base_url()

    def _permalink(self, issue: StandInIssue) -> str:
        return f"{self.base_url()}/organizations/{self.organization}/issues/{issue.id}/"

    def _as_json(self, issue: StandInIssue, period: str, now: float) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": str(issue.id),
            "shortId": issue.short_id,
            "title": issue.title,
            "culprit": issue.culprit,
            "permalink": self._permalink(issue),
            "logger": None,
            "level": issue.level,
            "status": issue.status,
            "substatus": issue.substatus(now),
            "isRegression": issue.regressed_at is not None and issue.status == "unresolved",
            "isUnhandled": True,
            "platform": "ruby",
            "type": "error",
            "metadata": {"type": issue.exception_class, "value": issue.message[:200]},
            "project": {"id": PROJECT_ID, "name": self.project, "slug": self.project},
            "count": str(issue.count),
            "userCount": len(issue.users),
            "firstSeen": _iso(issue.first_seen),
            "lastSeen": _iso(issue.last_seen),
            "numComments": 0,
            "assignedTo": None,
        }
        if period:
            item["stats"] = {period: issue.stats(period, now)}
        return item

    def answer(self, path: str, query: dict[str, list[str]], headers: dict[str, str],
               url: str) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, extra headers) of one GET."""
        with self._lock:
            self.requests.append(headers)
        match = _ISSUES_PATH.match(path)
        if match is None:
            return 404, {"detail": "The requested resource does not exist"}, {}
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return 401, {"detail": "Authentication credentials were not provided."}, {}
        if token in self.unscoped_tokens:
            return 403, {"detail": "You do not have permission to perform this action."}, {}
        if token not in self.tokens:
            return 401, {"detail": "Invalid token"}, {}
        if self.rate_limited:
            return 429, {"detail": "You are attempting to use this endpoint too frequently. "
                                   "Limit is 40 requests in 1 seconds"}, {"Retry-After": "1"}
        if (match["org"], match["project"]) != (self.organization, self.project):
            return 404, {"detail": "The requested resource does not exist"}, {}
        now = time.time()
        period = (query.get("statsPeriod") or ["24h"])[0]
        if period not in ("24h", "14d", ""):
            return 400, {"detail": "Invalid stats_period. Valid choices are '', '24h', and "
                                   "'14d'"}, {}
        try:
            wanted = _matcher((query.get("query") or ["is:unresolved"])[0], now)
        except SearchError as error:
            return 400, {"detail": str(error)}, {}
        sort = (query.get("sort") or ["date"])[0]
        order = {"date": lambda i: -i.last_seen, "new": lambda i: -i.first_seen,
                 "freq": lambda i: -i.count}.get(sort)
        if order is None:
            return 400, {"detail": f"Invalid sort: {sort}"}, {}
        with self._lock:
            found = sorted((i for i in self._issues.values() if wanted(i)), key=order)
            cursor = (query.get("cursor") or ["0:0:0"])[0]
            try:
                offset = int(cursor.split(":")[1])
            except (IndexError, ValueError):
                return 400, {"detail": "Invalid cursor parameter."}, {}
            page = found[offset:offset + self.page_size]
            body = [self._as_json(issue, period, now) for issue in page]
        link = self._link(url, query, offset, more=offset + self.page_size < len(found))
        return 200, body, {"Link": link}

    def _link(self, url: str, query: dict[str, list[str]], offset: int, more: bool) -> str:
        def page(cursor: str) -> str:
            params = {name: values[0] for name, values in query.items() if name != "cursor"}
            params["cursor"] = cursor
            return f"{url}?{urlencode(params)}"

        previous = f"0:{max(0, offset - self.page_size)}:1"
        following = f"0:{offset + self.page_size}:0"
        return (
            f'<{page(previous)}>; rel="previous"; results="{str(offset > 0).lower()}"; '
            f'cursor="{previous}", '
            f'<{page(following)}>; rel="next"; results="{str(more).lower()}"; '
            f'cursor="{following}"'
        )

    # -- the server -------------------------------------------------------------------

    def start(self) -> str:
        stand_in = self

        class Handler(QuietHandler):
            server_version = "nginx"
            log = logging.getLogger(__name__)

            def do_GET(self) -> None:
                status, body, extra = stand_in.answer(*request_parts(self))
                reply_json(self, status, body, extra)

        self._http = LocalHTTPServer(Handler, "demo-sentry")
        return self._http.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()


def _base32(number: int) -> str:
    """Sentry's short ids count in an alphabet without look-alikes (1A, 2F, …)."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    digits = ""
    while True:
        number, rest = divmod(number, len(alphabet))
        digits = alphabet[rest] + digits
        if number == 0:
            return digits


def seed_history(stand_in: SentryStandIn, now: float) -> None:
    """The project's past, before the demo started: one ongoing issue the team
    lives with, one resolved long ago."""
    for hours_ago in (200, 150, 90, 40, 20, 6, 2):
        stand_in.capture(
            "ActiveRecord::RecordNotFound", "Couldn't find RainbowSighting with 'id'=0",
            "Api::V1::RainbowsController#show", level="warning", at=now - hours_ago * 3600,
            user=f"device-{hours_ago}",
        )
    for hours_ago in (600, 590):
        stand_in.capture("Redis::CannotConnectError",
                         "Error connecting to Redis on redis:6379 (Errno::ECONNREFUSED)",
                         "WeatherFetchJob", at=now - hours_ago * 3600)
    stand_in.resolve("Redis::CannotConnectError", "WeatherFetchJob")
